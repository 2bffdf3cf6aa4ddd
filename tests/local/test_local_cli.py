"""``python -m stopsms local …`` as a new user meets it: a dead stack answered in one line,
``publish`` recognising what it is given, ``up`` quiet on the terminal with its logs in a file,
the outbox masked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stopsms.cli import main
from stopsms.emulator import cli as local
from stopsms.emulator.stack import free_port

PHONE = "+33612345678"
MASKED = "+33*******78"
WINDOW = "Mon-Sun 00:00-23:59 no-holidays"  # the test runs at any hour
CONSENT = {
    "action": "opt_in",
    "phone": PHONE,
    "brand": "acme",
    "source": "web form",
    "captured_at": "2026-11-01T10:00:00+01:00",
}
CAMPAIGN = {
    "campaign_id": "local-test",
    "category": "marketing",
    "brand": "acme",
    "body": "Bonjour, -20 % ce week-end",
    "stop_number": "36111",
    "recipients": [PHONE, "+33612345679"],
}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The commands read and write their state file in the current directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _stale_state(directory: Path, pid: int) -> Path:
    """The state file a killed ``local up`` leaves: its port no longer listens."""
    state = directory / local.STATE
    endpoint = f"http://127.0.0.1:{free_port()}"
    state.write_text(
        json.dumps(
            {
                "pid": pid,
                "environment": {"AWS_ENDPOINT_URL": endpoint},
                "queues": {"CampaignQueue": f"{endpoint}/q", "ConsentQueue": f"{endpoint}/c"},
                "topics": {"InboundTopic": "arn:aws:sns:eu-west-3:123456789012:t"},
                "outbox": f"http://127.0.0.1:{free_port()}/outbox",
            }
        )
    )
    return state


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["local", "outbox"],
        ["local", "reply", PHONE, "STOP"],
        ["local", "publish", "consent.json"],
        ["--local", "report", "local-test"],
    ],
)
@pytest.mark.parametrize("pid", ["dead", "alive, port closed"])
def test_a_killed_stack_is_named_in_one_line_and_its_file_removed(
    here: Path, capsys: pytest.CaptureFixture[str], argv: list[str], pid: str
) -> None:
    (here / "consent.json").write_text(json.dumps(CONSENT))
    state = _stale_state(here, _dead_pid() if pid == "dead" else os.getpid())
    assert main(argv) == 2
    line = _one_line_error(capsys)
    assert line == (
        "error: the local stack recorded in .stopsms-local.json is not running (killed?): "
        "start it with `python -m stopsms local up`"
    )
    assert not state.exists()
    assert main(argv) == 2  # and then: no stack here at all, still one line
    assert "no local stack is running here" in _one_line_error(capsys)


def test_use_local_refuses_a_stale_or_broken_state_file(here: Path) -> None:
    state = here / local.STATE
    state.write_text("{not json")
    with pytest.raises(local.LocalStackError, match="not running"):
        local.use_local()
    assert not state.exists()
    with pytest.raises(local.LocalStackError, match="no local stack is running here"):
        local.use_local()


@pytest.mark.parametrize(
    ("body", "kind", "queue"),
    [
        (CAMPAIGN, "campaign request", "CampaignQueue"),
        ({**CAMPAIGN, "dry_run": True}, "dry run", "CampaignQueue"),
        ({"action": "cancel", "campaign_id": "x"}, "cancel control", "CampaignQueue"),
        ({"action": "pause", "campaign_id": "x"}, "pause control", "CampaignQueue"),
        ({"action": "resume", "campaign_id": "x"}, "resume control", "CampaignQueue"),
        (CONSENT, "consent record", "ConsentQueue"),
        ({**CONSENT, "action": "opt_out", "brand": None}, "consent record", "ConsentQueue"),
        ({"phone": PHONE, "source": "form"}, "consent record", "ConsentQueue"),  # no action
    ],
)
def test_publish_recognises_what_it_is_given(
    body: dict[str, object], kind: str, queue: str
) -> None:
    found = local.recognise(body)
    assert (found.kind, found.queue) == (kind, queue)


def test_the_queue_option_still_forces() -> None:
    assert local.recognise(CONSENT, "campaign").queue == "CampaignQueue"
    assert local.recognise(CAMPAIGN, "consent").kind == "consent record"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**CONSENT, "phone": "12"}, "read as a consent record: phone: Value error, not a valid"),
        ({**CAMPAIGN, "category": "spam"}, "read as a campaign request: category: Input should"),
        ({"action": "pause"}, "read as a pause control: campaign_id: Field required"),
        ({"phone": PHONE, "source": "form"}, "read as a consent record: action: Field required"),
    ],
)
def test_a_refusal_names_the_kind_it_was_taken_for(
    here: Path, capsys: pytest.CaptureFixture[str], body: dict[str, object], reason: str
) -> None:
    (here / "message.json").write_text(json.dumps(body))
    assert main(["local", "publish", "message.json"]) == 2  # a wrong file: a usage error
    assert reason in _one_line_error(capsys)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "error: missing.json: no such file"),
        ('{"campaign_id": ', "error: missing.json is not JSON (Expecting value"),
        ("[1, 2]", "error: missing.json: a JSON object is expected"),
        (b"\xff\xfe{", "error: missing.json: cannot be read"),
    ],
)
def test_a_file_that_is_no_message_gives_one_line(
    here: Path, capsys: pytest.CaptureFixture[str], content: str | bytes | None, reason: str
) -> None:
    path = here / "missing.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    assert main(["local", "publish", "missing.json"]) == 2
    assert _one_line_error(capsys).startswith(reason)


# -- a real stack --------------------------------------------------------------------------


def _stopsms(directory: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our interpreter, our module
        [sys.executable, "-m", "stopsms", *argv],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """``local up`` in its own process, as a user starts it; stopped with Ctrl-C."""
    up = subprocess.Popen(  # noqa: S603 - our interpreter, our module
        [sys.executable, "-m", "stopsms", "local", "up", "--window", WINDOW],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / local.STATE).exists():
            assert up.poll() is None, up.communicate()
            assert time.monotonic() < deadline, "local up did not start"
            time.sleep(0.5)
        yield tmp_path, up
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()


def test_up_publish_outbox_on_a_real_stack(
    running: tuple[Path, subprocess.Popen[str]],
) -> None:
    directory, up = running
    (directory / "consent.json").write_text(json.dumps(CONSENT))
    (directory / "campaign.json").write_text(json.dumps(CAMPAIGN))
    (directory / "pause.json").write_text(json.dumps({"action": "pause", "campaign_id": "x"}))

    again = _stopsms(directory, "local", "up")
    assert again.returncode == 2
    assert again.stderr.startswith("error: a local stack is already running here (pid ")

    published = _stopsms(directory, "local", "publish", "consent.json")
    assert published.returncode == 0, published.stderr
    assert published.stdout.startswith(
        f"published consent record opt_in of {MASKED} to ConsentQueue (message id "
    )
    time.sleep(3)  # the opt-in is recorded before the campaign asks for it
    published = _stopsms(directory, "local", "publish", "campaign.json")
    assert published.stdout.startswith(
        "published campaign request local-test to CampaignQueue (message id "
    ), published.stderr
    published = _stopsms(directory, "local", "publish", "pause.json")
    assert published.stdout.startswith("published pause of x to CampaignQueue"), published.stderr

    deadline = time.monotonic() + 60
    while True:
        outbox = _stopsms(directory, "local", "outbox")
        assert outbox.returncode == 0, outbox.stderr
        if "PROMOTIONAL" in outbox.stdout:
            break
        assert time.monotonic() < deadline, outbox.stdout
        time.sleep(1)
    assert MASKED in outbox.stdout
    assert PHONE not in outbox.stdout
    assert "+33612345679" not in outbox.stdout  # never consented: not sent

    time.sleep(3)  # `up` reads the campaign's report every two seconds
    up.send_signal(signal.SIGINT)
    terminal, errors = up.communicate(timeout=30)
    assert up.returncode == 0, errors
    assert not (directory / local.STATE).exists()
    log = (directory / local.LOG).read_text()
    assert '"_aws"' in log  # the metrics went to the log file...
    assert '"_aws"' not in terminal  # ...not to the terminal
    assert PHONE not in terminal + log
    assert f"sending window: '{WINDOW}' (--window); open now in France" in terminal
    assert f"consent record opt_in of {MASKED} (acme) received" in terminal
    assert "campaign request local-test received (marketing)" in terminal
    assert "campaign local-test: done: audience 2, sent 1, suppressed 1" in terminal
    assert "pause of campaign x received: refused or failed" in terminal
    assert "Traceback" not in terminal + errors


def test_up_refuses_a_bad_window_before_starting(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", "up", "--window", "Someday 25:00"]) == 2
    line = _one_line_error(capsys)
    assert line.startswith("error: ")
    assert "Someday" in line
    assert not (here / local.STATE).exists()
