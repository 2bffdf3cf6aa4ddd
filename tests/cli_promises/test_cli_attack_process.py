"""The operator command line run as real processes, the way a hurried operator meets it: a
clean environment (no AWS_* variables, HOME an empty directory, no instance metadata), broken
AWS configuration, a closed standard output, stale state of `local up`, odd files.

Each promise (README "Operator commands"): one line on stderr starting ``error: `` with the fix,
and a documented exit code; never a traceback. The breaks an adversarial pass found here
(malformed AWS config, AWS_REGION alone, a closed pipe, a stale state file of a live pid,
usage errors without ``error:``) are fixed; these tests keep them fixed.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from stopsms import exits

ROOT = Path(__file__).resolve().parents[2]
PYTHONPATH = os.pathsep.join(str(ROOT / part) for part in ("layers/stopsms", "tooling", "."))


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """What a new operator's shell has: no AWS or StopSMS variable, no ~/.aws of this machine."""
    # PYTHON* too: this machine sets PYTHONUNBUFFERED, which an operator's shell does not (and
    # which hides what a buffered stdout does when its reader is gone).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STOPSMS_", "PYTHON"))}
    env.update(HOME=str(home), AWS_EC2_METADATA_DISABLED="true", PYTHONPATH=PYTHONPATH)
    env.update(extra)
    return env


def run(
    cwd: Path, argv: list[str], *, stdout: Any = subprocess.PIPE, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "stopsms", *argv],
        cwd=cwd,
        env=clean_env(cwd, **extra),
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=90,
        check=False,
    )


def in_parallel(jobs: list[Callable[[], Any]]) -> list[Any]:
    """A process takes a second or two to start: run the cases side by side."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda job: job(), jobs))


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``error: `` line of ``result`` (fails the test otherwise)."""
    where = f"{result.args[3:]} -> rc {result.returncode}: {result.stderr!r}"
    assert "Traceback" not in result.stderr, where
    assert "Exception ignored" not in result.stderr, where
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, where
    assert lines[0].startswith("error: "), where
    return lines[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / ".aws").mkdir()
    return tmp_path


# --------------------------------------------------------------------------- AWS settings


def test_cli_attack_malformed_aws_config(home: Path) -> None:
    (home / ".aws" / "config").write_text("[default\nregion = eu-west-3\n", encoding="utf-8")
    result = run(home, ["report", "soldes-hiver"])
    line = one_error_line(result)
    assert result.returncode == exits.USAGE, line
    assert "config" in line, line


def test_cli_attack_aws_region_as_the_error_says(home: Path) -> None:
    """The error says to set AWS_REGION; done so, the next error must be another one."""
    told = one_error_line(run(home, ["report", "soldes-hiver"]))
    assert "AWS_REGION" in told
    line = one_error_line(run(home, ["report", "soldes-hiver"], AWS_REGION="eu-west-3"))
    assert "region" not in line, line
    assert "credentials" in line, line


def test_cli_attack_aws_settings_that_hold(home: Path) -> None:
    """Missing profile, a region with no endpoint, an empty --region or --stack-name: one line,
    the documented code."""
    fake = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI"}
    cases: list[tuple[list[str], dict[str, str], int, str]] = [
        (["report", "c1"], {"AWS_PROFILE": "no-such-profile"}, exits.USAGE, "AWS_PROFILE"),
        (["report", "c1", "--stack-name="], {}, exits.USAGE, "--region"),
        (["--region", "", "report", "c1"], {}, exits.USAGE, "--region"),
        (["failing", "--region", "eu-west-3"], {}, exits.USAGE, "credentials"),
        (
            ["report", "c1"],
            {"AWS_DEFAULT_REGION": "xx-nowhere-1", "AWS_MAX_ATTEMPTS": "1", **fake},
            exits.AWS,
            "cannot reach AWS",
        ),
        (
            ["--stack-name", "s", "report", "c1", "--region", "bad region!"],
            {},
            exits.USAGE,
            "region",
        ),
    ]
    results = in_parallel([functools.partial(run, home, argv, **env) for argv, env, _, _ in cases])
    for (argv, _, code, says), result in zip(cases, results, strict=True):
        line = one_error_line(result)
        assert result.returncode == code, (argv, line)
        assert says in line, (argv, line)


def test_cli_attack_bad_setting_is_one_line(home: Path) -> None:
    """Settings exported by hand and wrong: one line naming each, exit 2 (pydantic's report
    is several lines long)."""
    result = run(
        home,
        ["report", "c1"],
        AWS_DEFAULT_REGION="eu-west-3",
        STOPSMS_SENDING_WINDOW="garbage",
        STOPSMS_SEND_RATE="0",
    )
    line = one_error_line(result)
    assert result.returncode == exits.USAGE
    assert "STOPSMS_SENDING_WINDOW" in line
    assert "STOPSMS_SEND_RATE" in line


# --------------------------------------------------------------------------- closed stdout


def test_cli_attack_stdout_closed_early(home: Path) -> None:
    reader, writer = os.pipe()
    os.close(reader)  # the reader went away before the command wrote anything
    try:
        results = [
            run(home, argv, stdout=writer)
            for argv in (["classify", "STOP"], ["--help"], ["report", "--help"], ["--version"])
        ]
    finally:
        os.close(writer)
    for result in results:
        assert result.stderr == "", (result.args[3:], result.returncode, result.stderr)
        assert result.returncode == exits.DONE, (result.args[3:], result.stderr)


# --------------------------------------------------------------------------- `local up` state

DEAD_ENDPOINT = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "eu-west-3"}


@pytest.mark.parametrize(
    "state",
    ["", "{not json", "null", "[]", '{"pid": "12"}', json.dumps({"environment": DEAD_ENDPOINT})],
    ids=["empty", "garbage", "null", "list", "pid-text", "no-pid"],
)
def test_cli_attack_stale_local_state_holds(home: Path, state: str) -> None:
    (home / ".stopsms-local.json").write_text(state, encoding="utf-8")
    result = run(home, ["report", "c1", "--local"])
    line = one_error_line(result)
    assert result.returncode == exits.USAGE, line
    assert "local up" in line, line
    assert not (home / ".stopsms-local.json").exists(), "the stale file is left behind"


@pytest.mark.parametrize(
    "environment",
    ["x", {"AWS_ENDPOINT_URL": "http://[::1"}],
    ids=["environment-text", "bad-endpoint"],
)
def test_cli_attack_stale_local_state_of_a_live_pid(home: Path, environment: object) -> None:
    # pid 1 is always alive: the checks go on to the recorded endpoint.
    state = {"pid": 1, "environment": environment}
    (home / ".stopsms-local.json").write_text(json.dumps(state), encoding="utf-8")
    result = run(home, ["--local", "report", "c1"])
    line = one_error_line(result)
    assert result.returncode == exits.USAGE, line
    assert "local up" in line, line
    assert not (home / ".stopsms-local.json").exists()


# --------------------------------------------------------------------------- odd files

ODD_FILES: dict[str, bytes | None] = {
    "empty.json": b"",
    "binary.json": bytes(range(256)),
    "utf16.json": '{"campaign_id": "x"}'.encode("utf-16"),
    "bom.json": b'\xef\xbb\xbf{"campaign_id": "x"}',
    "list.json": b"[1, 2]",
    "adir.json": None,  # a directory
    "absent.json": None,
}


def test_cli_attack_odd_files_are_one_line(home: Path) -> None:
    """Files checked before any AWS call: `estimate` and `local publish` say what is wrong with
    the file (exit 2); `optouts import` needs the stack first, so it only must not crash
    (its odd files are read in-process: test_cli_attack_stack.py)."""
    for name, content in ODD_FILES.items():
        if name == "adir.json":
            (home / name).mkdir()
        elif content is not None:
            (home / name).write_bytes(content)
    cases = [["estimate", name] for name in ODD_FILES]
    cases += [["local", "publish", name] for name in ("adir.json", "binary.json", "bom.json")]
    cases += [["optouts", "import", "adir.json", "--source", "x"]]
    results = in_parallel([functools.partial(run, home, argv) for argv in cases])
    for argv, result in zip(cases, results, strict=True):
        line = one_error_line(result)
        assert result.returncode in (exits.USAGE, exits.AWS), (argv, line)
        if argv[0] != "optouts":
            assert result.returncode == exits.USAGE, (argv, line)
            assert argv[-1] in line, (argv, line)


# --------------------------------------------------------------------------- Ctrl-C


def test_cli_attack_ctrl_c_while_waiting_for_aws(home: Path) -> None:
    """Ctrl-C while a command waits for an answer: exit 130 and one line, no traceback. The
    "local stack" here accepts connections and never answers (pid 1 is always alive)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
        state = {
            "pid": 1,
            "environment": {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_DEFAULT_REGION": "eu-west-3",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            },
        }
        (home / ".stopsms-local.json").write_text(json.dumps(state), encoding="utf-8")
        command = subprocess.Popen(
            [sys.executable, "-m", "stopsms", "--local", "report", "soldes-hiver"],
            cwd=home,
            env=clean_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        server.settimeout(60)
        try:
            while True:  # the first connection only probes that the stack is up
                connection, _ = server.accept()
                with connection:
                    connection.settimeout(10)
                    if connection.recv(1024):  # a request: the command now waits for AWS
                        command.send_signal(signal.SIGINT)
                        _, err = command.communicate(timeout=60)
                        break
        finally:
            command.kill()
            command.wait()
    assert command.returncode == 130, err
    assert err == "error: interrupted\n", err


# --------------------------------------------------------------------------- error lines

CONSENT = {
    "phone": "+33 6 12 34 56 78 99",
    "brand": "acme",
    "action": "opt_out",
    "source": "crm",
    "occurred_at": "2026-11-30T10:00:00Z",
}
CAMPAIGN = {
    "campaign_id": "soldes-hiver",
    "category": "marketing",
    "brand": "acme",
    "body": "-20 % ce week-end",
    "recipients": ["+33 6 12 34 56 78 99", {"phone": 612345677}],
}
BAD_USAGE = [
    ["erase", "06 12 34 56 78"],
    ["phone", "0612345678", "--at", "2026-12-01T19:30"],
    ["local", "publish", "consent.json"],
    ["local", "publish", "campaign.json"],
]


@pytest.mark.parametrize("argv", BAD_USAGE, ids=["erase-no-yes", "naive-at", "consent", "campaign"])
def test_cli_attack_usage_errors_start_with_error(home: Path, argv: list[str]) -> None:
    (home / "consent.json").write_text(json.dumps(CONSENT), encoding="utf-8")
    (home / "campaign.json").write_text(json.dumps(CAMPAIGN), encoding="utf-8")
    result = run(home, argv)
    one_error_line(result)
    assert result.returncode == exits.USAGE


def test_cli_attack_invalid_files_keep_numbers_out_of_errors(home: Path) -> None:
    """A file's invalid phone numbers are named by field and reason, never by their digits."""
    (home / "consent.json").write_text(json.dumps(CONSENT), encoding="utf-8")
    (home / "campaign.json").write_text(json.dumps(CAMPAIGN), encoding="utf-8")
    cases = [["local", "publish", "consent.json"], ["estimate", "campaign.json"]]
    cases += [["local", "publish", "campaign.json"], ["status", "+33 6 12 34 56 78 99"]]
    results = in_parallel([functools.partial(run, home, argv) for argv in cases])
    for argv, result in zip(cases, results, strict=True):
        assert "Traceback" not in result.stderr, (argv, result.stderr)
        assert result.returncode in (exits.PROBLEM, exits.USAGE), (argv, result.stderr)
        assert "612345678" not in result.stderr, (argv, result.stderr)
        assert "12 34 56" not in result.stderr, (argv, result.stderr)


def test_cli_attack_local_over_an_exported_stack_name(home: Path) -> None:
    result = run(home, ["--local", "report", "soldes-hiver"], STOPSMS_STACK_NAME="stopsms-prod")
    line = one_error_line(result)
    assert "local up" in line, line  # no local stack runs here: that is what it must say
