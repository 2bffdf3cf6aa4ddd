"""The demo's long steps say how far they are (the demo itself runs whole in CI, `make demo`)."""

from __future__ import annotations

import contextlib
import io
import time

import pytest

from stopsms import demo


def test_a_long_step_speaks_while_a_function_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "PROGRESS_EVERY_S", 0.2)
    # A quiet stack swaps sys.stdout while a function runs: the lines still show.
    with (
        demo._Progress(lambda: "12 SMS sent"),
        contextlib.redirect_stdout(io.StringIO()) as swallowed,
    ):
        time.sleep(1.0)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 3, lines
    assert all(line.startswith("   ... ") and line.endswith("s: 12 SMS sent") for line in lines)
    assert swallowed.getvalue() == ""


def test_a_line_said_just_before_is_not_repeated(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "PROGRESS_EVERY_S", 0.3)
    progress = demo._Progress(lambda: "heartbeat")  # not entered: no heartbeat thread
    progress.tick("too early")  # the step began less than 0.3 s ago
    time.sleep(0.35)
    progress.tick("200 of 900 published")
    progress.tick("again")  # just said
    out = capsys.readouterr().out
    assert "too early" not in out
    assert "again" not in out
    assert "s: 200 of 900 published" in out


def test_queue_depths_read_as_a_line() -> None:
    line = demo._queues_line({"SendDLQ": 0, "CampaignDLQ": 1})
    assert line == "CampaignDLQ 1, SendDLQ 0"
