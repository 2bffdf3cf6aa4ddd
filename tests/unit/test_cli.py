"""The offline operator commands, driven as a user types them."""

from __future__ import annotations

import json

import pytest

from stopsms.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_reports_mention_and_segments(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "Soldes d’hiver : -20 % !", "--stop-number", "36180")
    result = json.loads(out)
    assert code == 0
    assert result["text"] == "Soldes d'hiver : -20 % ! STOP au 36180"
    assert result["encoding"] == "GSM-7"
    assert result["mention"] == "STOP au 36180"


def test_check_refuses_what_cannot_fit(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "x" * 160, "--max-segments", "1")
    assert code == 1
    assert "max_segments is 1" in err


def test_check_transactional_has_no_mention(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "Votre code : 123456", "--category", "transactional")
    assert code == 0
    assert json.loads(out)["mention"] is None


@pytest.mark.parametrize(
    ("text", "intent"), [("Arrêt svp", "opt_out"), ("weekend", None), ("START", "opt_in")]
)
def test_classify(capsys: pytest.CaptureFixture[str], text: str, intent: str | None) -> None:
    code, out, _ = run(capsys, "classify", text)
    assert code == 0
    assert json.loads(out)["intent"] == intent


def test_phone_shows_overseas_window(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "phone", "0690 12 34 56", "--at", "2026-11-30T11:00:00+00:00")
    result = json.loads(out)
    assert code == 0
    assert result["e164"] == "+590690123456"
    assert result["marketing_window_open"] is False  # 07:00 in Guadeloupe
    assert result["next_open"] == "2026-11-30T08:00:00-04:00"  # the recipient's clock
    assert result["next_open_utc"] == "2026-11-30T12:00:00+00:00"


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["phone", "12"], 1, "invalid number: too_short"),
        (["phone", "0612345678", "--at", "2026-11-30T11:00:00"], 2, "needs an offset"),
        (["phone", "0612345678", "--window", "Someday"], 2, "error:"),
    ],
)
def test_bad_input_gives_a_clear_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    got, _, err = run(capsys, *argv)
    assert got == code
    assert message in err


def test_demo_refuses_a_tiny_audience(capsys: pytest.CaptureFixture[str]) -> None:
    # The demo itself runs in CI as `make demo` (after `make test`) and fails on any broken
    # promise; here only its argument checking, which needs no local stack.
    assert main(["demo", "--audience", "5"]) == 2
    assert "--audience must be at least 100" in capsys.readouterr().err
