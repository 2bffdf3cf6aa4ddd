"""Attack: the local stack as a new user meets it. ``local up`` started twice, in one
directory and in two; ``local publish`` while the stack starts, of a file saved with a BOM, of
an array, of a file over SQS's 256 KiB; Ctrl-C at any moment; a dead stack. Every answer is
one line and the stack of a directory stays reachable."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from stopsms.cli import main
from stopsms.emulator import cli as local
from stopsms.emulator import template as cfn
from stopsms.emulator.stack import free_port

WINDOW = "Mon-Sun 00:00-23:59 no-holidays"  # the tests run at any hour
PHONE = "+33612000201"


def stopsms(directory: Path, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our interpreter, our module
        [sys.executable, "-m", "stopsms", *argv],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(directory: Path, terminal: str = "up") -> subprocess.Popen[str]:
    """``local up`` in its own process, as a user starts it; what its terminal shows in
    ``terminal``.out and .err (outside ``directory``'s files the stack writes)."""
    with (
        (directory / f"{terminal}.out").open("w") as out,
        (directory / f"{terminal}.err").open("w") as err,
    ):
        return subprocess.Popen(  # noqa: S603 - our interpreter, our module
            [sys.executable, "-m", "stopsms", "local", "up", "--window", WINDOW],
            cwd=directory,
            stdout=out,
            stderr=err,
            text=True,
        )


def stop(up: subprocess.Popen[str]) -> None:
    """Ctrl-C, as the user stops it; killed if it does not stop."""
    if up.poll() is None:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()


def wait_running(directory: Path, up: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while "Ctrl-C stops" not in (directory / "up.out").read_text():
        assert up.poll() is None, (directory / "up.err").read_text()
        assert time.monotonic() < deadline, "local up did not start"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One ``local up`` for the publishing attacks; its directory."""
    directory = tmp_path_factory.mktemp("stack")
    up = start(directory)
    try:
        wait_running(directory, up)
        yield directory
    finally:
        stop(up)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def transactional(campaign_id: str, phone: str = PHONE) -> dict[str, object]:
    return {
        "campaign_id": campaign_id,
        "category": "transactional",
        "body": "Votre commande est prête",
        "recipients": [phone],
    }


# -- publish -------------------------------------------------------------------------------


def test_a_file_saved_with_a_bom_is_published(running: Path) -> None:
    path = running / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(transactional("attack-bom")).encode())
    published = stopsms(running, "local", "publish", "bom.json")
    assert published.returncode == 0, published.stderr
    deadline = time.monotonic() + 30
    while (report := stopsms(running, "--local", "report", "attack-bom", "--json")).returncode:
        assert time.monotonic() < deadline, report.stderr
        time.sleep(1)
    assert json.loads(report.stdout)["audience"] == 1


def test_an_array_of_messages_is_refused_in_one_line(running: Path) -> None:
    path = running / "many.json"
    path.write_text(json.dumps([transactional("attack-a1"), transactional("attack-a2")]))
    refused = stopsms(running, "local", "publish", "many.json")
    assert refused.returncode == 2
    assert one_line(refused).startswith("error: many.json: a JSON object is expected")


def big_campaign(size: int) -> str:
    """A valid inline campaign of about ``size`` bytes (10,000 recipients at most), scheduled
    300 days ahead: recorded, it sends nothing during the tests."""
    per_recipient = len(json.dumps({"phone": "+33612000000", "vars": {"prenom": "x" * 20}})) + 2
    count = size // per_recipient
    assert count <= 10_000
    recipients = [
        {"phone": f"+336{n:08d}", "vars": {"prenom": "Marie-Charlotte-Léa"}} for n in range(count)
    ]
    body = {
        **transactional("attack-big"),
        "body": "Bonjour {prenom}",
        "recipients": recipients,
        "send_at": (datetime.now(UTC) + timedelta(days=300)).isoformat(),
    }
    return json.dumps(body, ensure_ascii=False)


@pytest.mark.parametrize("size", [300_000, 395_000])
def test_a_file_over_the_sqs_limit_is_refused_in_one_line(running: Path, size: int) -> None:
    text = big_campaign(size)
    assert len(text.encode()) > 256 * 1024
    (running / "big.json").write_text(text, encoding="utf-8")
    refused = stopsms(running, "local", "publish", "big.json")
    assert refused.returncode == 2
    assert "S3" in one_line(refused)


def test_ctrl_c_during_publish_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Ctrl-C while publish finds the stack (a signal's timing is the machine's: the
    # KeyboardInterrupt is raised there instead).
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.json").write_text(json.dumps(transactional("attack-int")))

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(local, "load_state", interrupted)
    assert main(["local", "publish", "c.json"]) == 130
    out, err = capsys.readouterr()
    assert (out, err) == ("", "error: interrupted\n")


def test_ctrl_c_as_the_command_starts_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps(transactional("attack-int")))
    # From 0.05 s: Python itself has started (a signal before that is its own to handle).
    for delay in (0.05, 0.07, 0.09, 0.11, 0.13, 0.15):
        command = subprocess.Popen(
            [sys.executable, "-m", "stopsms", "local", "publish", "c.json"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        command.send_signal(signal.SIGINT)
        _, err = command.communicate(timeout=60)
        assert "Traceback" not in err, f"after {delay} s:\n{err}"
        assert len(err.strip().splitlines()) <= 1, err


# -- up ------------------------------------------------------------------------------------


def test_two_local_up_in_one_directory_at_once_leave_one_stack(tmp_path: Path) -> None:
    ups = {name: start(tmp_path, name) for name in ("first", "second")}
    try:
        deadline = time.monotonic() + 120
        # Each has either started (its terminal says so) or ended (refused).
        while not all(
            up.poll() is not None or "Ctrl-C stops" in (tmp_path / f"{name}.out").read_text()
            for name, up in ups.items()
        ):
            assert time.monotonic() < deadline, "local up neither started nor ended"
            time.sleep(0.3)
        running = [name for name, up in ups.items() if up.poll() is None]
        assert len(running) == 1, f"running: {running}"
    finally:
        for up in ups.values():
            stop(up)


def locked(path: Path) -> bool:
    """Whether a process holds ``path``'s flock (as `local up` holds its directory's)."""
    import fcntl

    if not path.exists():
        return False
    with path.open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
    return False


def test_publishing_while_the_stack_starts_does_not_ask_to_start_it(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps(transactional("attack-early")))
    up = start(tmp_path)
    try:
        # Once `local up` runs (it locks the directory first), not before: a command typed
        # before the process exists cannot know of it.
        deadline = time.monotonic() + 60
        while not locked(tmp_path / ".stopsms-local.lock") and time.monotonic() < deadline:
            time.sleep(0.05)
        published = stopsms(tmp_path, "local", "publish", "c.json")  # the stack is starting
        assert not (tmp_path / "up.out").read_text(), "started before the attack: too late"
        assert len(published.stderr.strip().splitlines()) <= 1, published.stderr
        assert "start it with" not in published.stderr
        assert published.returncode == 0 or "starting" in published.stderr
    finally:
        stop(up)


def test_two_stacks_in_two_directories_each_keep_their_own(running: Path, tmp_path: Path) -> None:
    other = start(tmp_path)
    try:
        wait_running(tmp_path, other)
        for directory, phone in ((running, "+33612000211"), (tmp_path, "+33612000212")):
            (directory / "mine.json").write_text(json.dumps(transactional("attack-two", phone)))
            published = stopsms(directory, "local", "publish", "mine.json")
            assert published.returncode == 0, published.stderr
        for directory, mine, theirs in (
            (running, "+33*******11", "+33*******12"),
            (tmp_path, "+33*******12", "+33*******11"),
        ):
            deadline = time.monotonic() + 60
            while mine not in (outbox := stopsms(directory, "local", "outbox")).stdout:
                assert outbox.returncode == 0, outbox.stderr
                assert time.monotonic() < deadline, outbox.stdout
                time.sleep(1)
            assert theirs not in outbox.stdout
        # Quiet: the functions' logs went to each directory's log file, never a number whole.
        for directory in (running, tmp_path):
            log = (directory / local.LOG).read_text(encoding="utf-8")
            assert '"function_name"' in log
            assert "612000211" not in log
            assert "612000212" not in log
            assert '"function_name"' not in (directory / "up.out").read_text()
    finally:
        stop(other)


# -- the state file ------------------------------------------------------------------------


def test_the_state_file_survives_a_command_reading_it_while_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)  # the stack's emulator

    def accept() -> None:
        with contextlib.suppress(OSError):  # closed at the end of the test
            while True:
                listener.accept()[0].close()

    threading.Thread(target=accept, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")
    stack = SimpleNamespace(
        stack=cfn.Stack(queues={"CampaignQueue": "q"}, topics={"InboundTopic": "t"}),
        sms=SimpleNamespace(url="http://127.0.0.1:9"),
        credentials=lambda _name: {"AWS_ACCESS_KEY_ID": "x" * 4000},  # a file of some size
    )

    def read_state_until(writing: threading.Event, done: threading.Event) -> None:
        writing.wait()
        while not done.is_set():
            local._running_here()  # what every command does first

    lost = 0
    try:
        for _ in range(60):
            local.STATE.unlink(missing_ok=True)
            writing, done = threading.Event(), threading.Event()
            reader = threading.Thread(target=read_state_until, args=(writing, done))
            reader.start()
            writing.set()
            local._write_state(stack)  # what `local up` does once started
            time.sleep(0.002)
            done.set()
            reader.join()
            lost += not local.STATE.exists()
    finally:
        listener.close()
    assert lost == 0


def stale_state(directory: Path) -> Path:
    """The state file of a `local up` that was killed: its process and port are gone."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    endpoint = f"http://127.0.0.1:{free_port()}"
    state = directory / local.STATE
    state.write_text(
        json.dumps(
            {
                "pid": child.pid,
                "environment": {"AWS_ENDPOINT_URL": endpoint},
                "queues": {"CampaignQueue": f"{endpoint}/q"},
                "topics": {"InboundTopic": "arn:aws:sns:eu-west-3:123456789012:t"},
                "outbox": f"http://127.0.0.1:{free_port()}/outbox",
            }
        )
    )
    return state


@pytest.mark.parametrize(
    "argv", [["local", "outbox"], ["local", "publish", "c.json"], ["--local", "report", "x"]]
)
def test_a_dead_local_stack_exits_as_the_contract_says(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.json").write_text(json.dumps(transactional("attack-dead")))
    stale_state(tmp_path)
    code = main(argv)
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert code == 2  # not running: start it (the contract's "wrong setting" code)


def test_a_state_file_from_another_directory_of_a_dead_stack_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A project directory copied (or cloned with its untracked files) while a stack ran there.
    monkeypatch.chdir(tmp_path)
    state = stale_state(tmp_path)
    assert main(["local", "outbox"]) != 0
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "error: the local stack recorded in .stopsms-local.json is not running (killed?): "
        "start it with `python -m stopsms local up`"
    ]
    assert not state.exists()
    assert os.environ.get("AWS_ENDPOINT_URL") is None  # nothing pointed at the dead stack
