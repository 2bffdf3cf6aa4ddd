"""The dry run's prices (contract §2: the default table, overridden per country by the
``PriceTable`` parameter, inline JSON or an ``s3://`` object; a broken table leaves the
default in use and the report says why) and the ``estimate`` command (a bad file: one line,
exit 2, no traceback, nothing published)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from stopsms.aws import prices
from stopsms.cli import main
from stopsms.reporting import report
from stopsms.rules.prices import default
from stopsms.settings import get_settings
from tests.control_promises.conftest import PHONES, Ctl, reconciles
from tests.handlers.test_campaign import upload

FR = default().per_part["FR"]
CH = default().per_part["CH"]


def estimate_cost(ctl: Ctl, campaign_id: str) -> dict[str, Any]:
    body = {
        "campaign_id": campaign_id,
        "category": "transactional",
        "body": "Votre colis arrive demain.",
        "recipients": [PHONES[0], PHONES[1], "+41791234567", "+8613800138000"],
        "dry_run": True,
    }
    assert ctl.message(body) == []
    ctl.run_all()
    shown = report(campaign_id)
    assert reconciles(shown)
    assert shown["estimate"]["complete"]
    assert ctl.sms.sent == []
    return dict(shown["estimate"]["cost"])


def use_table(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    prices.forget()
    monkeypatch.setenv("STOPSMS_PRICE_TABLE", value)
    get_settings.cache_clear()


def test_lowercase_and_mixed_case_codes_override_the_default(
    ctl: Ctl, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_table(monkeypatch, json.dumps({"per_part": {"fr": 0.01, "Ch": 0.02, "cN": 0.03}}))
    cost = estimate_cost(ctl, "prix-lower")
    assert cost["total"] == pytest.approx(0.01 * 2 + 0.02 + 0.03)
    assert cost["unpriced"] == 0


@pytest.mark.parametrize(
    ("table", "why"),
    [
        ('{"per_part": {"FR": -0.05}}', "the price of FR"),
        ('{"per_part": {"FR": 50}}', "the price of FR"),
        ('{"per_part": {"FR": NaN}}', "the price of FR"),
        ('{"per_part": {"FR": Infinity}}', "the price of FR"),
        ('{"per_part": {"FR": true}}', "the price of FR"),
        ('{"per_part": {"FR": null}}', "the price of FR"),
        ('{"per_part": {"FRA": 0.05}}', "not an ISO 3166"),
        ('{"per_part": {"FR": 0.05}, "currency": "EUR"}', "currency"),
        ('{"per_part": [0.05]}', "expected"),
        ("[1, 2]", "expected"),
        ("FR=0.05", "not JSON"),
        ("", None),
    ],
)
def test_a_broken_price_table_leaves_the_default_and_says_why(
    ctl: Ctl, monkeypatch: pytest.MonkeyPatch, table: str, why: str | None
) -> None:
    use_table(monkeypatch, table)
    cost = estimate_cost(ctl, "prix-broken")
    assert cost["total"] == pytest.approx((2 * FR + CH) / 1_000_000)
    assert cost["unpriced"] == 1  # China
    if why is None:
        assert cost["prices"] == [default().source]
    else:
        [source] = cost["prices"]
        assert "PriceTable not used" in source
        assert why in source


def test_a_huge_or_non_utf8_price_object_in_s3_leaves_the_default_and_says_why(
    fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stopsms import clock
    from tests.conftest import emulated_account
    from tests.handlers.test_stop_scope import MONDAY_10H_PARIS

    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    uri = "s3://audiencebucket/tarifs/prices.json"
    prices.forget()
    with (
        emulated_account(PriceTableObject=uri) as stack,
        mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS),
    ):
        ctl = Ctl(stack, fake)
        padding = " " * 1_200_000
        upload("tarifs/prices.json", ('{"per_part": {"FR": 0.01}' + padding + "}").encode())
        cost = estimate_cost(ctl, "prix-huge")
        assert cost["total"] == pytest.approx((2 * FR + CH) / 1_000_000)
        assert "PriceTable not used" in cost["prices"][0]
        prices.forget()
        upload("tarifs/prices.json", b'{"per_part": {"FR": 0.01}, "source": "tarif \xe9t\xe9"}')
        cost = estimate_cost(ctl, "prix-latin1")
        assert "PriceTable not used" in cost["prices"][0]
        assert "UTF-8" in cost["prices"][0]
    prices.forget()


# --- the estimate command ----------------------------------------------------------------


def printed_report(out: str) -> dict[str, Any]:
    """The command's JSON report among what the handlers printed meanwhile (logs, metrics)."""
    [line] = [line for line in out.splitlines() if line.startswith('{"campaign_id"')]
    return dict(json.loads(line))


def run_estimate(ctl: Ctl, *args: str) -> int:
    def pipeline_runs(_seconds: float) -> None:  # while the command waits, Lambda works
        ctl.run_all()

    with mock.patch("time.sleep", pipeline_runs):
        return main(["estimate", *args, "--every", "0"])


TRANSACTIONAL = {
    "campaign_id": "x",
    "category": "transactional",
    "body": "b",
    "recipients": ["+33612345678"],
}


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xef\xbb\xbf{}",
        b'{"campaign_id": "x"',
        b"\xff\xfe{\x00}\x00",
        b"[]",
        b'"texte"',
        b'{"campaign_id": "x", "category": "marketing", "body": "b"}',
        json.dumps({**TRANSACTIONAL, "campaign_id": "x y"}).encode(),
        json.dumps({**TRANSACTIONAL, "body": "a\u202eb"}).encode(),
        json.dumps({**TRANSACTIONAL, "recipients": [33612345678]}).encode(),
    ],
)
def test_estimate_with_a_bad_file_is_one_line_exit_2_nothing_published(
    ctl: Ctl, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    file = tmp_path / "campagne.json"
    file.write_bytes(content)
    assert main(["estimate", str(file)]) == 2
    out = capsys.readouterr()
    assert out.err.startswith("error: ")
    assert out.err.count("\n") == 1
    assert "Traceback" not in out.err
    assert "612345678" not in out.err
    assert ctl.take("CampaignQueue") == []


def test_estimate_of_a_missing_file_or_a_directory(
    ctl: Ctl, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["estimate", str(tmp_path / "absent.json")]) == 2
    assert main(["estimate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2
    assert "Traceback" not in err
    assert ctl.take("CampaignQueue") == []


# Broke before this pass (fixed): estimate of a changed request re-estimates afresh: the estimate
# command reads the report before its own request is handled and prints the previous, complete dry
# run's estimate (cli._estimate polls before the new run is recorded)
def test_estimate_prints_the_new_estimate_after_the_request_was_changed(
    ctl: Ctl, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "campagne.json"
    body = {
        "campaign_id": "fichier-2",
        "category": "transactional",
        "body": "Premier texte",
        "recipients": PHONES[:4],
    }
    file.write_text(json.dumps(body))
    assert run_estimate(ctl, str(file), "--json") == 0
    first = printed_report(capsys.readouterr().out)
    assert first["estimate"]["samples"][0]["text"] == "Premier texte"
    # The text fixed on disk, estimated again
    file.write_text(json.dumps({**body, "body": "Second texte", "recipients": PHONES[:6]}))
    assert run_estimate(ctl, str(file), "--json") == 0
    second = printed_report(capsys.readouterr().out)
    assert second["estimate"]["samples"][0]["text"] == "Second texte"
    assert second["estimate"]["would_send"] == 6
    assert ctl.sms.sent == []


# Broke before this pass (fixed): estimate with a bad request should fail clearly: a request
# refused by the campaign function (e.g. foreign stop_number) leaves no record; the command waits
# --timeout (600 s by default) and then says the dry run 'is still going', exit 1
def test_estimate_of_a_request_the_campaign_function_refuses_says_so(
    ctl: Ctl, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Valid as JSON and as a model, refused by the pipeline (its STOP number does not reach
    # this stack): nothing is sent, and the command must not claim the dry run is "going"
    file = tmp_path / "campagne.json"
    body = {
        "campaign_id": "fichier-3",
        "category": "marketing",
        "body": "Promo",
        "stop_number": "38383",
        "recipients": PHONES[:2],
    }
    file.write_text(json.dumps(body))
    code = run_estimate(ctl, str(file), "--timeout", "1")
    err = capsys.readouterr().err
    assert ctl.sms.sent == []
    assert "still going" not in err
    assert code == 2
