"""The HTML pages in a real browser. Campaigns run through the local stack (the template's
queues and functions; End User Messaging and the carriers emulated), the CLI writes
`report ID --json --html FILE` and `status PHONE --html FILE`, headless Chromium renders each
page: the numbers of the rendered DOM are those of the JSON, the charts are drawn, the console
is silent, and a screenshot is kept in test-artifacts/.

Chromium: scripts/ensure-chromium.sh installs it. Without one the tests skip, unless
STOPSMS_REQUIRE_BROWSER=1 (CI): then they fail.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stopsms import cli
from stopsms.emulator.stack import EmulatedStack
from stopsms.reporting import report
from tests.e2e.conftest import _local_environment, publish, stack  # noqa: F401 - fixtures
from tests.pages.pages_chromium import browser, needs_browser
from tests.pages.pages_dom import as_number, numeric_leaves, read

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
pytestmark = [pytest.mark.e2e, needs_browser]

CONSENTED = [f"+3361200000{n}" for n in range(6)]
NEVER_ASKED = "+33622000001"
OPTED_OUT = "+33622000002"
WINDOW = (1200, 2400)


def render(page: Path, screenshot: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM Chromium built from ``page``, and what its console said; a screenshot too."""
    common = [
        browser(),
        "--headless",
        "--no-sandbox",  # the tests may run as root (a CI container)
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",  # no shared profile lock between parallel workers
        "--enable-logging=stderr",
        "--v=0",
    ]
    dom = subprocess.run(  # noqa: S603 - our own arguments
        [*common, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    size = f"--window-size={WINDOW[0]},{WINDOW[1]}"
    shot = subprocess.run(  # noqa: S603 - our own arguments
        [*common, f"--screenshot={screenshot}", size, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # Chromium logs every console message (a blocked resource, a CSP violation) as CONSOLE.
    console = [
        line for line in (dom.stderr + shot.stderr).splitlines() if ":CONSOLE" in line.upper()
    ]
    return dom.stdout, console


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def keep(screenshot: Path, name: str) -> Path:
    """The screenshot as a test artifact (test-artifacts/ at the repository's root)."""
    ARTIFACTS.mkdir(exist_ok=True)
    kept = ARTIFACTS / name
    shutil.copyfile(screenshot, kept)
    return kept


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    code = cli.main(list(argv))
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def assert_numbers_match(dom: str, data: dict[str, Any]) -> None:
    shown = read(dom)
    expected = numeric_leaves(data)
    for path, value in expected.items():
        assert set(shown.fields.get(path, [])) == {json.dumps(value)}, path
    for path, texts in shown.texts.items():
        for text in texts:
            assert as_number(text) == pytest.approx(expected[path], abs=0.005), path
    audience = data["audience"]
    assert shown.derived["eligible"] == [json.dumps(audience - sum(data["suppressed"].values()))]


def test_the_console_capture_sees_a_blocked_resource(tmp_path: Path) -> None:
    # The control of the tests below: a page that loads something is heard (so their silent
    # console means something).
    page = tmp_path / "loads.html"
    page.write_text(
        '<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="default-src '
        '\'none\'"><img src="https://example.invalid/x.png"><p>x</p>',
        encoding="utf-8",
    )
    _, console = render(page, tmp_path / "loads.png", tmp_path / "profile")
    assert any("Content Security Policy" in line for line in console), console


def test_campaign_report_page_in_a_browser(
    stack: EmulatedStack,  # noqa: F811 - the fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    captured = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    # Given six opt-ins for acme, one number opted out of every brand
    publish(
        stack,
        "ConsentQueue",
        *[
            {
                "action": "opt_in",
                "phone": phone,
                "brand": "acme",
                "source": "web-form",
                "captured_at": captured,
                "proof": {"ip": "203.0.113.7"},
            }
            for phone in [*CONSENTED, OPTED_OUT]
        ],
        {"action": "opt_out", "phone": OPTED_OUT, "source": "crm", "captured_at": captured},
    )
    stack.pump()
    # When a campaign goes to them and to a duplicate, a stranger, the opted-out and "12"
    publish(
        stack,
        "CampaignQueue",
        {
            "campaign_id": "pages-1",
            "category": "marketing",
            "brand": "acme",
            "body": "Soldes d'hiver chez Acme : -20% ce week-end !",
            "stop_number": "36111",
            "max_segments": 2,
            "recipients": [*CONSENTED, "06 12 00 00 00", NEVER_ASKED, OPTED_OUT, "12"],
        },
    )
    stack.pump()
    # And two people reply STOP, once every receipt is in
    stack.reply(CONSENTED[0], "Stop merci")
    stack.reply(CONSENTED[1], "STOP")
    stack.pump()
    page = tmp_path / "report.html"
    data = run_cli(capsys, "report", "pages-1", "--json", "--html", str(page))
    # Then the JSON is the report, and says what happened
    assert data == report("pages-1")
    assert (data["status"], data["audience"], data["sent"], data["opt_outs"]) == (
        "done",
        10,
        6,
        2,
    )
    assert data["suppressed"] == {
        "opted_out": 1,
        "no_consent": 1,
        "invalid_number": 1,
        "duplicate": 1,
    }
    delivery = data["delivery"]
    assert delivery["delivered"] + sum(delivery["undelivered"].values()) + delivery["awaiting"] == (
        6
    )
    assert data["compliance"]["mention"] == "STOP au 36111"
    # And the page Chromium renders shows those very numbers, charts drawn, console silent
    screenshot = tmp_path / "report.png"
    dom, console = render(page, screenshot, tmp_path / "profile")
    assert console == []
    assert_numbers_match(dom, data)
    assert dom.count("<svg") >= 4
    assert 'data-field="sent" data-value="6"' in dom
    assert "STOP au 36111" in dom
    assert all(phone not in dom for phone in [*CONSENTED, NEVER_ASKED, OPTED_OUT])
    assert png_size(screenshot) == WINDOW
    assert screenshot.stat().st_size > 50_000  # a blank page compresses to a few kB
    keep(screenshot, "report.png")

    # A dry run of the same people: its estimate, rendered the same way
    publish(
        stack,
        "CampaignQueue",
        {
            "campaign_id": "pages-dry",
            "category": "marketing",
            "brand": "acme",
            "body": "Dernier jour, {first_name} : -30% sur tout le magasin !",
            "dry_run": True,
            "recipients": [{"phone": phone, "vars": {"first_name": "Léa"}} for phone in CONSENTED],
        },
    )
    stack.pump()
    dry_page = tmp_path / "dry.html"
    dry = run_cli(capsys, "report", "pages-dry", "--json", "--html", str(dry_page))
    assert dry["status"] == "dry_run"
    # The two who replied STOP are now suppressed; the four others would be sent.
    assert (dry["estimate"]["would_send"], dry["suppressed"]["opted_out"]) == (4, 2)
    dom, console = render(dry_page, tmp_path / "dry.png", tmp_path / "profile")
    assert console == []
    assert_numbers_match(dom, dry)
    assert "Dry run: nothing was sent." in dom
    assert "Dernier jour, Léa : -30% sur tout le magasin ! STOP au 36111" in dom
    keep(tmp_path / "dry.png", "report-dry-run.png")


def test_person_page_in_a_browser(
    stack: EmulatedStack,  # noqa: F811 - the fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a person who opted in, got a campaign's SMS and answered STOP (on its own: the
    # tests of this module may run on different workers)
    person = "+33612000099"
    captured = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    publish(
        stack,
        "ConsentQueue",
        {
            "action": "opt_in",
            "phone": person,
            "brand": "acme",
            "source": "web-form https://acme.example/sms",
            "captured_at": captured,
            "proof": {"ip": "203.0.113.9", "checkbox_text": "J'accepte les SMS d'Acme"},
        },
    )
    stack.pump()
    publish(
        stack,
        "CampaignQueue",
        {
            "campaign_id": "pages-person",
            "category": "marketing",
            "brand": "acme",
            "body": "Ventes privées chez Acme !",
            "recipients": [person],
        },
    )
    stack.pump()
    stack.reply(person, "Stop, merci de ne plus m'écrire au " + person)
    stack.pump()
    page = tmp_path / "status.html"
    data = run_cli(capsys, "status", person, "--html", str(page))
    assert [event["kind"] for event in data["history"]] == ["opt_in", "opt_out"]
    screenshot = tmp_path / "status.png"
    dom, console = render(page, screenshot, tmp_path / "profile")
    assert console == []
    # Then every event and state is a row, the number shown once, dates local to it
    assert dom.count("<tr data-event=") == len(data["history"]) == 2
    assert dom.count("<tr data-state=") == len(data["state"]) == 1
    assert dom.count(person) == 1  # in the heading; masked where the reply quotes it
    assert "+33*******99" in dom
    assert "Dates in Europe/Paris" in dom
    assert "pages-person" in dom  # the campaign the STOP answered
    assert "203.0.113.9" in dom  # the proof, whole
    assert png_size(screenshot) == WINDOW
    keep(screenshot, "status.png")
