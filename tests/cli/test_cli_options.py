"""The command line as documented: global options anywhere, --help on every command, --version,
and --stack-name reading a deployed stack's outputs and parameters instead of hand-exported
variables."""

from __future__ import annotations

import argparse
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from stopsms import deployed, exits
from stopsms.cli import _subcommands, build_parser, main
from stopsms.emulator import template as cfn
from stopsms.settings import get_settings
from stopsms.version import VERSION

ROOT = Path(__file__).resolve().parents[2]


def every_parser() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    parser = build_parser()
    yield parser.prog, parser
    for sub in _subcommands(parser):
        yield sub.prog, sub


def test_version_is_the_project_one(capsys: pytest.CaptureFixture[str]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert project == VERSION
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"stopsms {VERSION}"


@pytest.mark.parametrize(("prog", "parser"), list(every_parser()), ids=lambda v: str(v))
def test_every_command_explains_itself(prog: str, parser: argparse.ArgumentParser) -> None:
    shown = parser.format_help()
    assert parser.description, f"{prog} has no description"
    assert "``" not in shown, f"{prog}: reStructuredText in --help"
    if parser.get_default("reads_stack"):
        assert "--stack-name" in shown, f"{prog} does not take the global options"
    for action in parser._actions:
        if action.option_strings and action.help is None:
            pytest.fail(f"{prog} {action.option_strings[0]} has no help")


@pytest.mark.parametrize(
    "argv",
    [
        ["--stack-name", "s", "--region", "eu-west-1", "report", "c1"],
        ["report", "c1", "--stack-name", "s", "--region", "eu-west-1"],
        ["report", "--region", "eu-west-1", "c1", "--stack-name", "s"],
        ["--region", "eu-west-1", "report", "--stack-name", "s", "c1"],
    ],
)
def test_global_options_in_any_position(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.stack_name, args.region, args.campaign_id) == ("s", "eu-west-1", "c1")


def test_options_after_a_nested_command() -> None:
    args = build_parser().parse_args(["optouts", "export", "--local", "-o", "x.csv"])
    assert args.local
    assert args.output == "x.csv"


def test_phone_country_is_not_an_aws_region() -> None:
    """`phone` is offline: --country names the number's country; it takes no AWS option."""
    args = build_parser().parse_args(["phone", "0690123456", "--country", "GP"])
    assert args.country == "GP"
    assert args.region is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["phone", "0690123456", "--region", "eu-west-3"])


def test_stack_name_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOPSMS_STACK_NAME", "stopsms-prod")
    assert build_parser().parse_args(["report", "c1"]).stack_name == "stopsms-prod"


def globals_environment() -> dict[str, Any]:
    variables: dict[str, Any] = cfn.load()["Globals"]["Function"]["Environment"]["Variables"]
    return {name: value for name, value in variables.items() if name.startswith("STOPSMS_")}


def test_every_setting_of_the_functions_is_read_from_the_stack() -> None:
    """What the functions are given, the operator commands find in the stack: a parameter
    by its name, a resource by the output that names it."""
    template = cfn.load()
    outputs = template["Outputs"]
    for setting, value in globals_environment().items():
        ref = value.get("Ref") if isinstance(value, dict) else None
        if ref in template["Parameters"]:
            assert deployed.PARAMETER_SETTINGS.get(ref) == setting, setting
        elif ref in template["Resources"]:
            named = [key for key, out in outputs.items() if out["Value"] == {"Ref": ref}]
            assert any(deployed.OUTPUT_SETTINGS.get(key) == setting for key in named), setting
        else:  # a condition picks it (the configuration set): the sender's alone
            assert setting == "STOPSMS_CONFIGURATION_SET"
    for key in deployed.OUTPUT_SETTINGS:
        assert key in outputs, key
    for key in deployed.PARAMETER_SETTINGS:
        assert key in template["Parameters"], key


def test_environment_of_a_described_stack() -> None:
    stack = {
        "Outputs": [
            {"OutputKey": "CampaignsTableName", "OutputValue": "prod-CampaignsTable-1X"},
            {"OutputKey": "CampaignQueueUrl", "OutputValue": "https://sqs/q"},
            {"OutputKey": "DashboardName", "OutputValue": "ignored"},
        ],
        "Parameters": [
            {"ParameterKey": "StopNumber", "ParameterValue": "38111"},
            {"ParameterKey": "PriceTable", "ParameterValue": ""},
            {"ParameterKey": "PriceTableObject", "ParameterValue": "s3://b/prices.json"},
            {"ParameterKey": "SendingWindow", "ParameterValue": "x", "ResolvedValue": "y"},
        ],
    }
    assert deployed.environment(stack) == {
        "STOPSMS_CAMPAIGNS_TABLE": "prod-CampaignsTable-1X",
        "STOPSMS_CAMPAIGN_QUEUE_URL": "https://sqs/q",
        "STOPSMS_STOP_NUMBER": "38111",
        "STOPSMS_PRICE_TABLE": "s3://b/prices.json",
        "STOPSMS_SENDING_WINDOW": "y",
    }


def deploy_named(stack: cfn.Stack, name: str) -> None:
    """A CloudFormation stack ``name`` whose outputs and parameters are those of the emulated
    account (moto cannot deploy the SAM template itself)."""
    env = stack.environment(cfn.load())
    outputs = {
        key: {"Value": env[setting]}
        for key, setting in deployed.OUTPUT_SETTINGS.items()
        if setting in env
    }
    body = {
        "Parameters": {"StopNumber": {"Type": "String", "Default": "38111"}},
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
        "Outputs": outputs,
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(body))


@pytest.mark.usefixtures("aws")
def test_stack_name_points_the_commands_at_the_stack(
    aws: cfn.Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_named(aws, "stopsms-prod")
    for name in deployed.OUTPUT_SETTINGS.values():  # nothing exported by hand
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STOPSMS_CAMPAIGNS_TABLE", "not-this-one")
    get_settings.cache_clear()
    assert main(["failing", "--stack-name", "stopsms-prod"]) == 0
    assert get_settings().campaigns_table != "not-this-one"
    assert get_settings().stop_number == "38111"
    assert "no number keeps failing" in capsys.readouterr().out


@pytest.mark.usefixtures("aws")
def test_unknown_stack_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "c1", "--stack-name", "stopsms-typo"]) == exits.USAGE
    err = capsys.readouterr().err
    assert re.fullmatch(r"error: no stack 'stopsms-typo' in eu-west-3: .*\n", err), err


@pytest.mark.usefixtures("aws")
def test_unknown_campaign_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["report", "nope"], ["pause", "nope"], ["resume", "nope"]):
        assert main(argv) == exits.USAGE
        err = capsys.readouterr().err
        assert err.count("\n") == 1, (argv, err)
        assert "nope" in err, (argv, err)


@pytest.mark.usefixtures("aws")
def test_doctor_checks_the_named_stack(
    aws: cfn.Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command hands the described stack and End User Messaging's client to the checks
    (tests/doctor drives them against the service model) and exits as they say."""
    from stopsms import doctor

    deploy_named(aws, "stopsms-prod")
    seen: dict[str, Any] = {}

    def diagnose(stack: dict[str, Any], sms: Any, *, planned_per_month: int | None) -> list[Any]:
        seen.update(stack=stack["StackName"], service=sms.meta.service_model.service_name)
        seen["planned"] = planned_per_month
        return [doctor.Check("two-way SMS", ok=False, detail="off", fix="aws ... --two-way")]

    monkeypatch.setattr(doctor, "diagnose", diagnose)
    assert main(["doctor", "--stack-name", "stopsms-prod", "--planned", "50000"]) == 1
    assert seen == {"stack": "stopsms-prod", "service": "pinpoint-sms-voice-v2", "planned": 50000}
    out = capsys.readouterr().out
    assert "FAIL" in out
    assert "aws ... --two-way" in out
