"""The operator commands in-process (``stopsms.cli.main``) against an emulated account (the
``aws`` fixture) and CloudFormation stacks that are not what `--stack-name` expects: outputs
missing, a failed deployment, refusals and throttling, odd arguments, Ctrl-C.

Each was a break found by an adversarial pass (a strict xfail until it was fixed), or a promise
that held; all now guard what the CLI promises.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from stopsms import deployed, exits, ops
from stopsms.cli import build_parser, main
from stopsms.emulator import template as cfn
from stopsms.settings import get_settings

PERSON = "+33612345678"
DIGITS = "612345678"  # how a person's number shows in any spelling of it


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


def create_stack(name: str, outputs: dict[str, str], parameters: dict[str, str]) -> None:
    """A moto CloudFormation stack with these outputs and parameters (moto cannot deploy the
    SAM template itself)."""
    body = {
        "Parameters": {k: {"Type": "String", "Default": v} for k, v in parameters.items()},
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(body))


@pytest.fixture
def nothing_exported(aws: cfn.Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[cfn.Stack]:
    """The emulated account, with no STOPSMS_* resource setting exported by hand: what the
    commands know comes from --stack-name."""
    for name in deployed.OUTPUT_SETTINGS.values():
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield aws
    get_settings.cache_clear()


def stubbed_cloudformation(
    monkeypatch: pytest.MonkeyPatch, answer: dict[str, Any] | tuple[str, str, int]
) -> None:
    """`deployed.describe` gets a CloudFormation client whose DescribeStacks answers
    ``answer`` (a response, or an error code, message and HTTP status), validated against
    the service model by Stubber."""
    real: Any = boto3.client

    def client(service: str, *args: Any, **kwargs: Any) -> Any:
        made = real(service, *args, **kwargs)
        if service != "cloudformation":
            return made
        stubber = Stubber(made)
        if isinstance(answer, tuple):
            code, message, status = answer
            stubber.add_client_error("describe_stacks", code, message, http_status_code=status)
        else:
            stubber.add_response("describe_stacks", answer)
        stubber.activate()
        return made

    monkeypatch.setattr(boto3, "client", client)


# --------------------------------------------------------------------------- the stack named


@pytest.mark.usefixtures("nothing_exported")
def test_cli_attack_stack_without_its_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    create_stack("partial", {"CampaignQueueUrl": "https://sqs.example/q"}, {"StopNumber": "1"})
    code = main(["optouts", "export", "--stack-name", "partial"])
    err = capsys.readouterr().err
    assert code == exits.USAGE, err
    line = one_line(err)
    assert "partial" in line
    assert "ContactStateTableName" in line or "output" in line, line


@pytest.mark.usefixtures("nothing_exported")
def test_cli_attack_stack_rolled_back(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = {
        "StackName": "stopsms-prod",
        "StackId": "arn:aws:cloudformation:eu-west-3:123456789012:stack/stopsms-prod/1",
        "CreationTime": "2026-12-01T09:00:00Z",
        "StackStatus": "ROLLBACK_COMPLETE",
        "Parameters": [],
    }
    stubbed_cloudformation(monkeypatch, {"Stacks": [stack]})
    code = main(["report", "c1", "--stack-name", "stopsms-prod"])
    line = one_line(capsys.readouterr().err)
    assert "ROLLBACK_COMPLETE" in line, line
    assert code == exits.USAGE, line


@pytest.mark.parametrize(
    ("code", "message", "status", "says"),
    [
        (
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: "
            "cloudformation:DescribeStacks",
            403,
            "OperatorPolicyArn",
        ),
        ("Throttling", "Rate exceeded", 400, "Rate exceeded"),
        ("ExpiredToken", "The security token included in the request is expired", 403, "renew"),
        ("ValidationError", "Stack with id stopsms-typo does not exist", 400, "no stack"),
    ],
)
def test_cli_attack_cloudformation_refusals_hold(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: str,
    message: str,
    status: int,
    says: str,
) -> None:
    stubbed_cloudformation(monkeypatch, (code, message, status))
    exit_code = main(["failing", "--stack-name", "stopsms-typo"])
    line = one_line(capsys.readouterr().err)
    assert says in line, line
    assert exit_code == (exits.USAGE if code == "ValidationError" else exits.AWS), line


def test_cli_attack_stack_name_not_a_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refusal = (
        "1 validation error detected: Value 'stopsms prod' at 'stackName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*"
    )
    stubbed_cloudformation(monkeypatch, ("ValidationError", refusal, 400))
    exit_code = main(["report", "c1", "--stack-name", "stopsms prod"])
    line = one_line(capsys.readouterr().err)
    assert exit_code == exits.USAGE, line


@pytest.mark.usefixtures("nothing_exported")
def test_cli_attack_stack_with_malformed_parameters_is_one_line(
    capsys: pytest.CaptureFixture[str], aws: cfn.Stack
) -> None:
    env = aws.environment(cfn.load())
    outputs = {k: env[s] for k, s in deployed.OUTPUT_SETTINGS.items() if s in env}
    create_stack("odd", outputs, {"SendingWindow": "garbage", "SendRatePerSecond": "0"})
    assert main(["report", "c1", "--stack-name", "odd"]) == exits.USAGE
    line = one_line(capsys.readouterr().err)
    assert "SENDING_WINDOW" in line, line
    assert "SEND_RATE" in line, line


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "argv",
    [
        ["--stack-name", "a", "report", "c1", "--stack-name", "b"],
        ["--stack-name", "a", "--stack-name", "b", "report", "c1"],
        ["report", "--stack-name=b", "c1"],
    ],
)
def test_cli_attack_stack_name_twice_the_last_wins(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).stack_name == "b"


def test_cli_attack_options_between_nested_commands() -> None:
    args = build_parser().parse_args(["optouts", "--region", "eu-west-1", "export", "-o", "f"])
    assert (args.region, args.output) == ("eu-west-1", "f")
    args = build_parser().parse_args(["optouts", "--local", "import", "f.csv", "--source", "x"])
    assert args.local
    assert args.file == "f.csv"


@pytest.mark.parametrize(
    "campaign_id",
    ["é" * 300, "🚀", "soldes\nhiver", "x" * 10_000, "", "a b"],
    ids=["accents", "emoji", "newline", "very-long", "empty", "space"],
)
def test_cli_attack_odd_campaign_ids_are_one_line(
    capsys: pytest.CaptureFixture[str], campaign_id: str
) -> None:
    """Checked before any AWS call (no settings here): one line, exit 2."""
    for command in ("report", "cancel", "pause", "resume"):
        code: int | str | None
        try:
            code = main([command, "--", campaign_id])
        except SystemExit as exited:  # argparse's usage line
            code = exited.code
        err = capsys.readouterr().err
        assert code == exits.USAGE, (command, err)
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) <= 2, err  # argparse: usage + its error


@pytest.mark.usefixtures("aws")
def test_cli_attack_estimate_timeout_nan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    request = Path(__file__).resolve().parents[2] / "examples" / "campaign.json"
    naps: list[float] = []

    def nap(seconds: float) -> None:  # no pipeline runs here: the dry run never ends
        naps.append(seconds)
        if len(naps) > 20:
            raise RuntimeError("still waiting after 20 reads")

    monkeypatch.setattr(time, "sleep", nap)
    with pytest.raises(SystemExit) as exited:  # a usage error, as argparse reports them
        main(["estimate", str(request), "--timeout", "nan", "--every", "0"])
    assert exited.value.code == exits.USAGE
    assert "--timeout" in capsys.readouterr().err
    assert not naps


# --------------------------------------------------------------------------- Ctrl-C, files


@pytest.mark.usefixtures("aws")
def test_cli_attack_ctrl_c_inside_a_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(ops, "failing_destinations", interrupted)
    assert main(["failing"]) == 130
    assert one_line(capsys.readouterr().err) == "error: interrupted"


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("command", [["optouts", "export", "-o"], ["status", PERSON, "--html"]])
def test_cli_attack_output_files_that_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """A directory, or a file in a directory that does not exist: one line, exit 2, and the
    person's number is not in it."""
    if "--html" in command:  # another piece of issue 16 writes the pages
        pages = pytest.importorskip("stopsms.pages")
        if not hasattr(pages, "person_page"):
            pytest.skip("stopsms.pages has no person_page yet")
    for target in (tmp_path, tmp_path / "no-such-dir" / "out.html"):
        code = main([*command, str(target)])
        line = one_line(capsys.readouterr().err)
        assert code == exits.USAGE, (command, line)
        assert DIGITS not in line, (command, line)


MISTYPED_NUMBERS = [
    "+33 6 12 34 56 78 99 99",  # too long
    "06 12 34 56 78\n",
    "+33612345678\u202e",  # a bidi override
    "0612345678abc" * 50,
]


@pytest.mark.usefixtures("aws")
def test_cli_attack_no_phone_in_error_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """Error text may be logged by wrappers: a person's number (even a mistyped one) stays
    out of it."""
    for phone in MISTYPED_NUMBERS:
        for argv in (["status", phone], ["erase", phone, "--yes"]):
            code = main(argv)
            out = capsys.readouterr()
            if code == exits.DONE:  # read as a number: nothing to report
                continue
            line = one_line(out.err)
            assert code == exits.USAGE, (argv, line)
            assert DIGITS not in line, (argv, line)
            assert "12 34 56" not in line, (argv, line)


# --------------------------------------------------------------------------- stop lists

STOP_LISTS = {
    "utf16.csv": ("phone\n+33612345678\n".encode("utf-16"), exits.USAGE, "UTF-8"),
    "empty.csv": (b"", exits.USAGE, "header"),
    "binary.csv": (bytes(range(10)) * 40, exits.USAGE, "phone"),
    "no-phone-column.csv": (b"tel\n0612345678\n", exits.USAGE, "phone"),
}


@pytest.mark.usefixtures("aws")
def test_cli_attack_stop_lists_that_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, (content, code, says) in STOP_LISTS.items():
        (tmp_path / name).write_bytes(content)
        assert main(["optouts", "import", str(tmp_path / name), "--source", "x"]) == code, name
        out = capsys.readouterr()
        line = one_line(out.err)
        assert says in line, (name, line)
        assert "nothing imported" in out.out, name


@pytest.mark.usefixtures("aws")
def test_cli_attack_refused_stop_list_lines_hide_the_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused lines are reported on stderr by line number and reason, never by number."""
    lines = ["phone", "+33 6 12 34 56 78 99", "0612345678", "06123456789abc", '"+33612345678']
    (tmp_path / "list.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["optouts", "import", str(tmp_path / "list.csv"), "--source", "x"]) == 1
    out = capsys.readouterr()
    assert "refused line 2" in out.err
    assert "Traceback" not in out.err
    assert DIGITS not in out.err, out.err


@pytest.mark.usefixtures("aws")
def test_cli_attack_stop_list_with_semicolons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "excel.csv").write_text("phone;nom\n0612345678;Helene\n", encoding="utf-8")
    code = main(["optouts", "import", str(tmp_path / "excel.csv"), "--source", "x"])
    out = capsys.readouterr()
    if code != exits.DONE:
        line = one_line(out.err)
        assert "';'" in line or "separat" in line or "comma" in line, line


# --------------------------------------------------------------------------- replies


@pytest.mark.usefixtures("aws")
def test_cli_attack_replies_mistyped_id(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--apply", "--dismiss"):
        code = main(["replies", flag, "nope"])
        line = one_line(capsys.readouterr().err)
        assert code == exits.USAGE, line
        assert "replies" in line, line


@pytest.mark.usefixtures("aws")
def test_cli_attack_replies_unknown_id_hides_the_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["replies", "--dismiss", f"{PERSON} 2026-11-30T10:00:00.000000Z#m-1"])
    line = one_line(capsys.readouterr().err)
    assert code == exits.USAGE, line
    assert DIGITS not in line, line
