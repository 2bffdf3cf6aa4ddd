"""No traceback for a user's mistake: every command, run as a real process the way an operator
types it, with settings missing, wrong arguments, a dead local stack, answers one line that says
what to do, and a documented exit code (``stopsms.exits``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stopsms import exits

ROOT = Path(__file__).resolve().parents[2]

# Every command that acts on a stack, with arguments that are otherwise right.
STACK_COMMANDS = [
    ["report", "soldes-hiver"],
    ["report", "soldes-hiver", "--json"],
    ["report", "soldes-hiver", "--html", "out.html"],
    ["cancel", "soldes-hiver"],
    ["pause", "soldes-hiver"],
    ["resume", "soldes-hiver"],
    ["estimate", "campaign.json", "--timeout", "1"],
    ["status", "06 12 34 56 78"],
    ["status", "06 12 34 56 78", "--html", "out.html"],
    ["optouts", "export"],
    ["optouts", "import", "stop-list.csv", "--source", "previous-provider"],
    ["replies"],
    ["replies", "--apply", "+33612345678 2026-11-30T10:00:00.000000Z#m-1"],
    ["failing"],
    ["erase", "06 12 34 56 78", "--yes"],
]

CAMPAIGN = {
    "campaign_id": "soldes-hiver",
    "category": "marketing",
    "brand": "acme",
    "body": "-20 % ce week-end",
    "recipients": ["+33612345678"],
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An operator's directory: the files the commands name, no AWS configuration anywhere."""
    path = tmp_path_factory.mktemp("operator")
    (path / "campaign.json").write_text(json.dumps(CAMPAIGN), encoding="utf-8")
    (path / "stop-list.csv").write_text("phone\n+33612345678\n", encoding="utf-8")
    (path / ".aws").mkdir()
    return path


def run(workdir: Path, argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STOPSMS_"))}
    clean.update(
        HOME=str(workdir),  # no ~/.aws of this machine
        AWS_CONFIG_FILE=str(workdir / ".aws" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(workdir / ".aws" / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",  # no instance to ask for credentials
        **env,
    )
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "stopsms", *argv],
        cwd=workdir,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_all(workdir: Path, cases: list[list[str]], **env: str) -> list[tuple[list[str], object]]:
    with ThreadPoolExecutor(max_workers=4) as pool:  # a process each: a second or two apiece
        return list(
            zip(cases, pool.map(lambda argv: run(workdir, argv, **env), cases), strict=False)
        )


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    where = f"{result.args[3:]}: {result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout, where
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, where
    assert lines[0].startswith("error: "), where
    assert result.returncode == code, where
    if words and result.args[3] == "erase":  # its key is a setting, checked first
        words = ("--stack-name",)
    for word in words:
        assert word in lines[0], where


def test_no_region(workdir: Path) -> None:
    for argv, result in run_all(workdir, STACK_COMMANDS):
        assert isinstance(result, subprocess.CompletedProcess), argv
        assert_one_line(result, exits.USAGE, "--region")


def test_no_credentials(workdir: Path) -> None:
    for argv, result in run_all(workdir, STACK_COMMANDS, AWS_DEFAULT_REGION="eu-west-3"):
        assert isinstance(result, subprocess.CompletedProcess), argv
        assert_one_line(result, exits.USAGE, "credentials")


def test_named_stack_without_credentials(workdir: Path) -> None:
    """--stack-name reads the stack first: the same one line, before and after the command."""
    cases = [["--stack-name", "stopsms-dev", *argv] for argv in STACK_COMMANDS[:3]]
    cases += [
        [*argv, "--stack-name", "stopsms-dev", "--region", "eu-west-3"]
        for argv in STACK_COMMANDS[3:6]
    ]
    for argv, result in run_all(workdir, cases):
        assert isinstance(result, subprocess.CompletedProcess), argv
        code = exits.USAGE
        assert_one_line(result, code)


def test_dead_local_stack(workdir: Path, tmp_path: Path) -> None:
    """A killed `local up` leaves its state file behind: the next command says so."""
    state = tmp_path / ".stopsms-local.json"
    state.write_text(
        json.dumps(
            {
                "pid": 2**22 + 1,  # above Linux's pid_max: never a live process
                "environment": {
                    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                    "AWS_DEFAULT_REGION": "eu-west-3",
                    "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing",
                },
                "queues": {},
                "topics": {},
                "buckets": {},
                "outbox": "http://127.0.0.1:9/outbox",
            }
        )
    )
    (tmp_path / "campaign.json").write_text(json.dumps(CAMPAIGN), encoding="utf-8")
    (tmp_path / ".aws").mkdir()
    cases = [["--local", "report", "soldes-hiver"], ["replies", "--local"]]
    cases += [["local", "outbox"], ["local", "publish", "campaign.json"]]
    for argv in cases:
        result = run(tmp_path, argv)
        assert "Traceback" not in result.stderr, (argv, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, (argv, result.stderr)
        assert "local up" in result.stderr, (argv, result.stderr)
        assert result.returncode in (exits.USAGE, exits.AWS), (argv, result.stderr)


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["report", "not an id!"], exits.USAGE, "is not a campaign id"),
        (["estimate", "absent.json"], exits.USAGE, "absent.json"),
        (["estimate", "."], exits.USAGE, "directory"),
        (["--local", "--stack-name", "s", "report", "x"], exits.USAGE, "choose one"),
        (["doctor", "--region", "eu-west-3"], exits.USAGE, "--stack-name"),
        (["erase", "06 12 34 56 78"], exits.USAGE, "--yes"),
    ],
)
def test_wrong_input(workdir: Path, argv: list[str], code: int, says: str) -> None:
    result = run(workdir, argv)
    assert "Traceback" not in result.stderr
    assert result.returncode == code, result.stderr
    assert says in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["report"],
        ["optouts"],
        ["optouts", "import", "f.csv"],
        ["nonsense"],
        ["check"],
        ["report", "x", "--bogus"],
        ["doctor", "--planned", "many"],
    ],
)
def test_wrong_arguments_print_usage(workdir: Path, argv: list[str]) -> None:
    result = run(workdir, argv)
    assert "Traceback" not in result.stderr
    assert result.returncode == exits.USAGE
    assert result.stderr.startswith("usage: python -m stopsms"), result.stderr
