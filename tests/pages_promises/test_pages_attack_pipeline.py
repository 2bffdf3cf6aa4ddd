"""Attack: real campaigns and replies through the local stack (the template's queues and
functions), then the CLI writes ``report ID --json --html FILE`` and ``status PHONE --html
FILE`` as an operator runs them: phone numbers where a publisher or a person puts them, hostile
vars, a careless ``--html`` path."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stopsms import cli
from stopsms.emulator.stack import EmulatedStack
from tests.e2e.conftest import _local_environment, publish, stack  # noqa: F401 - fixtures
from tests.pages.pages_dom import numeric_leaves, read

pytestmark = pytest.mark.e2e

CAPTURED = (datetime.now(UTC) - timedelta(days=1)).isoformat()


def opt_in(stack: EmulatedStack, *phones: str) -> None:  # noqa: F811 - the fixture's name
    records: list[dict[str, object]] = [
        {
            "action": "opt_in",
            "phone": phone,
            "brand": "acme",
            "source": "web-form",
            "captured_at": CAPTURED,
        }
        for phone in phones
    ]
    publish(stack, "ConsentQueue", *records)
    stack.pump()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def visible(page: str) -> str:
    """The text a reader sees: tags dropped, entities read."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_a_recipient_number_holding_the_stop_number_is_masked_in_the_samples(
    stack: EmulatedStack,  # noqa: F811 - the fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    person = "+33636111234"  # 06 36 11 12 34: a mobile that holds 36111
    opt_in(stack, person)
    publish(
        stack,
        "CampaignQueue",
        {
            "campaign_id": "attack-stop-inside",
            "category": "marketing",
            "brand": "acme",
            "body": "Votre numéro {tel} est inscrit au club Acme : -20% ce week-end",
            "stop_number": "36111",
            "dry_run": True,
            "recipients": [{"phone": person, "vars": {"tel": "0636111234"}}],
        },
    )
    stack.pump()
    page = tmp_path / "report.html"
    code, out, err = run_cli(capsys, "report", "attack-stop-inside", "--json", "--html", str(page))
    assert code == 0, err
    data = json.loads(out)
    assert data["estimate"]["would_send"] == 1  # the sample is there to be shown
    shown = visible(page.read_text(encoding="utf-8"))
    assert "STOP au 36111" in shown  # the sender's number, whole
    assert "0636111234" not in shown
    assert person not in shown


# A campaign id holding a number ("otp-0612000055") is shown as published: it is the publisher's
# key, which reports, logs and metrics must show whole; contract §2 says it carries no personal
# data.


def test_the_persons_number_next_to_other_digits_is_masked_in_their_page(
    stack: EmulatedStack,  # noqa: F811 - the fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    person = "+33612000077"
    opt_in(stack, person)
    stack.reply(person, "Arrêtez d'écrire au 06 12 00 00 77 - 2e fois que je le demande")
    stack.pump()
    page = tmp_path / "status.html"
    code, out, err = run_cli(capsys, "status", person, "--html", str(page))
    assert code == 0, err
    assert any("06 12 00 00 77" in str(e.get("text")) for e in json.loads(out)["history"])
    written = page.read_text(encoding="utf-8")
    assert written.count(person) == 1  # the heading
    assert "06 12 00 00 77" not in written


def test_numbers_in_other_formats_in_a_reply_are_masked_in_the_persons_page(
    stack: EmulatedStack,  # noqa: F811 - the fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    person = "+33612000088"
    formats = ["06 12 00 00 88", "+33 (0)6 12 00 00 88", "0033 6 12 00 00 88", "06.12.00.00.88"]
    opt_in(stack, person)
    for text in formats:
        stack.reply(person, f"Merci d'oublier le {text} svp")
    stack.pump()
    page = tmp_path / "status.html"
    code, _, err = run_cli(capsys, "status", person, "--html", str(page))
    assert code == 0, err
    written = page.read_text(encoding="utf-8")
    assert written.count(person) == 1
    for text in formats:
        assert text not in written
    assert visible(written).count("88 svp") == len(formats)  # masked to its last two digits


def test_hostile_vars_and_a_real_report_in_the_page_equal_the_json(
    stack: EmulatedStack,  # noqa: F811 - the fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    people = ["+33612000101", "+33612000102"]
    opt_in(stack, *people)
    hostile = '</style><script>alert(1)</script>"><img src=x onerror=alert(2)> 😀 \u200b'
    publish(
        stack,
        "CampaignQueue",
        {
            "campaign_id": "attack-vars",
            "category": "marketing",
            "brand": "acme",
            "body": "Bonjour {first_name}, -20% ce week-end 🎉",
            "stop_number": "36111",
            "dry_run": True,
            "recipients": [
                {"phone": people[0], "vars": {"first_name": hostile}},
                {"phone": people[1], "vars": {"first_name": "javascript:alert(3)"}},
                "06 12 00 01 01",  # again, in another format
                "+33 6 12",  # not a number
            ],
        },
    )
    stack.pump()
    page = tmp_path / "report.html"
    code, out, err = run_cli(capsys, "report", "attack-vars", "--json", "--html", str(page))
    assert code == 0, err
    data = json.loads(out)
    written = page.read_text(encoding="utf-8")
    shown = read(written)
    assert "script" not in shown.tags
    assert "img" not in shown.tags
    assert shown.references == []
    assert hostile in visible(written)  # shown as the text it is
    for path, value in numeric_leaves(data).items():
        assert set(shown.fields.get(path, [])) == {json.dumps(value)}, path
    assert (data["audience"], data["suppressed"]["invalid_number"]) == (4, 1)
    assert data["estimate"]["would_send"] == 2  # both hostile samples are in the page
    for phone in people:
        assert phone not in written


@pytest.mark.parametrize("where", ["missing/dir/report.html", "a-directory"])
@pytest.mark.parametrize("command", ["report", "status"])
def test_html_to_a_missing_directory_or_a_directory_is_one_line(
    stack: EmulatedStack,  # noqa: F811 - the fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    where: str,
    command: str,
) -> None:
    publish(
        stack,
        "CampaignQueue",
        {
            "campaign_id": "attack-path",
            "category": "transactional",
            "body": "Votre commande est prête",
            "recipients": ["+33612000111"],
        },
    )
    stack.pump()
    (tmp_path / "a-directory").mkdir()
    target = str(tmp_path / where)
    subject = "attack-path" if command == "report" else "+33612000111"
    code, out, err = run_cli(capsys, command, subject, "--html", target)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert target in lines[0]
    assert "Traceback" not in err
    assert "+33612000111" not in err


def test_a_person_never_seen_and_an_erased_person_get_a_page(
    stack: EmulatedStack,  # noqa: F811 - the fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stranger = tmp_path / "stranger.html"
    code, _, err = run_cli(capsys, "status", "06 99 00 00 01", "--html", str(stranger))
    assert code == 0, err
    page = stranger.read_text(encoding="utf-8")
    assert "No event recorded." in page
    assert "No decision recorded for any brand." in page
    assert page.count("+33699000001") == 1

    person = "+33612000133"
    opt_in(stack, person)
    code, _, err = run_cli(capsys, "erase", person, "--yes")
    assert code == 0, err
    erased = tmp_path / "erased.html"
    code, _, err = run_cli(capsys, "status", person, "--html", str(erased))
    assert code == 0, err
    page = erased.read_text(encoding="utf-8")
    assert "erasure" in page
    assert page.count(person) == 1
    history: dict[str, Any] = read(page).fields  # no number of the report on a person's page
    assert history == {}
