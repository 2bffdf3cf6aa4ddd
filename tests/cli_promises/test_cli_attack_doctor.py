"""`doctor` and the deploy guide, attacked: odd stacks and odd (model-valid) answers of End User
Messaging through botocore's Stubber on a real ``pinpoint-sms-voice-v2`` client, a negative
--planned, and every `python -m stopsms` and `make` command docs/DEPLOY.md and the README show.

Each was a break found by an adversarial pass (a strict xfail until it was fixed), or a promise
that held; all now guard what the CLI promises.
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from stopsms.cli import _subcommands, build_parser
from stopsms.doctor import Check, diagnose

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-3"
ARN = f"arn:aws:sms-voice:{REGION}:123456789012"
EVENTS = f"arn:aws:sns:{REGION}:123456789012:prod-DeliveryEventsTopic-DEF"
INBOUND = f"arn:aws:sns:{REGION}:123456789012:prod-InboundTopic-ABC"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
SPEND = {
    "SpendLimits": [
        {
            "Name": "TEXT_MESSAGE_MONTHLY_SPEND_LIMIT",
            "EnforcedLimit": 100,
            "MaxLimit": 100,
            "Overridden": False,
        }
    ]
}


def configuration_set(name: str) -> dict[str, Any]:
    return {
        "ConfigurationSets": [
            {
                "ConfigurationSetArn": f"{ARN}:configuration-set/{name}",
                "ConfigurationSetName": name,
                "CreatedTimestamp": T0,
                "EventDestinations": [
                    {
                        "EventDestinationName": "stopsms-receipts",
                        "Enabled": True,
                        "MatchingEventTypes": ["TEXT_ALL"],
                        "SnsDestination": {"TopicArn": EVENTS},
                    }
                ],
            }
        ]
    }


def client(answers: list[tuple[str, Any]]) -> Any:
    """A client that answers ``answers`` in order (a response, or an error code and message),
    each checked against the service model; any other call fails as AWS would not answer."""
    sms = boto3.client(
        "pinpoint-sms-voice-v2",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stubber = Stubber(sms)
    for operation, answer in answers:
        if isinstance(answer, tuple):
            stubber.add_client_error(operation, *answer)
        else:
            stubber.add_response(operation, answer)
    stubber.activate()
    return sms


def stack(parameters: dict[str, str], outputs: dict[str, str] | None = None) -> dict[str, Any]:
    found = (
        outputs
        if outputs is not None
        else {
            "InboundTopicArn": INBOUND,
            "DeliveryEventsTopicArn": EVENTS,
        }
    )
    return {
        "StackName": "prod",
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in found.items()],
    }


def assert_each_check_is_one_line(checks: list[Check]) -> None:
    for check in checks:
        assert "\n" not in check.detail, check
        assert "\n" not in check.fix, check
        assert check.ok or check.fix, f"FAIL without a fix: {check}"


def test_cli_attack_doctor_stack_without_parameters() -> None:
    sms = client(
        [
            ("describe_configuration_sets", configuration_set("prod-stopsms")),
            ("describe_spend_limits", SPEND),
        ]
    )
    checks = diagnose(stack({}), sms)
    assert_each_check_is_one_line(checks)
    assert not all(check.ok for check in checks), [c.name for c in checks]


def test_cli_attack_doctor_negative_planned(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["doctor", "--planned", "-5"])
    assert exited.value.code == 2
    assert "--planned" in capsys.readouterr().err


ODD_REFUSALS = [
    ("ThrottlingException", "Rate exceeded"),
    ("ValidationException", "line one\nline two\n\ttabbed"),
    ("InternalServerException", ""),
    ("SomethingNewException", "a code doctor has never seen"),
]


@pytest.mark.parametrize(("code", "message"), ODD_REFUSALS, ids=[c for c, _ in ODD_REFUSALS])
def test_cli_attack_doctor_odd_refusals_are_fails(code: str, message: str) -> None:
    """Whatever error AWS answers, each check is a FAIL of one line with a fix."""
    number = "+33700000001"
    sms = client(
        [
            ("describe_phone_numbers", (code, message)),
            ("describe_configuration_sets", (code, message)),
            ("describe_spend_limits", (code, message)),
            ("describe_opt_out_lists", (code, message)),
        ]
    )
    checks = diagnose(
        stack({"OriginationIdentity": number, "MirrorOptOuts": "true"}), sms, planned_per_month=10
    )
    assert_each_check_is_one_line(checks)
    assert [c.ok for c in checks] == [False] * 4, checks


def test_cli_attack_doctor_minimal_answers() -> None:
    """Answers with only the model's required fields (no PhoneNumberId, no TwoWayChannelArn,
    no SnsDestination, no keywords): FAILs with fixes, no KeyError."""
    number = "+33700000001"
    phone = {
        "PhoneNumberArn": f"{ARN}:phone-number/phone-1",
        "PhoneNumber": number,
        "Status": "DELETED",
        "IsoCountryCode": "FR",
        "MessageType": "PROMOTIONAL",
        "NumberCapabilities": ["SMS"],
        "NumberType": "LONG_CODE",
        "MonthlyLeasingPrice": "2.00",
        "TwoWayEnabled": True,
        "SelfManagedOptOutsEnabled": False,
        "OptOutListName": "Default",
        "DeletionProtectionEnabled": False,
        "CreatedTimestamp": T0,
    }
    odd_set = configuration_set("prod-stopsms")
    del odd_set["ConfigurationSets"][0]["EventDestinations"][0]["SnsDestination"]
    sms = client(
        [
            ("describe_phone_numbers", {"PhoneNumbers": [phone]}),
            ("describe_keywords", {}),
            ("describe_configuration_sets", odd_set),
            ("describe_spend_limits", {}),
            ("describe_opt_out_lists", {}),
        ]
    )
    checks = diagnose(
        stack({"OriginationIdentity": number, "MirrorOptOuts": "TRUE"}), sms, planned_per_month=0
    )
    assert_each_check_is_one_line(checks)
    failed = {check.name.split(" ")[0] for check in checks if not check.ok}
    assert {"identity", "self-managed", "keywords", "configuration", "spend"} <= failed, checks


@pytest.mark.parametrize(
    "identity",
    ["arn:", "arn:aws:sms-voice:eu-west-3:1:phone-number/", "pool-", "phone-", "🚀", "x" * 300],
)
def test_cli_attack_doctor_odd_identities(identity: str) -> None:
    """Names no account has: a FAIL naming it, never an exception (AWS answers not found)."""
    not_found = ("ResourceNotFoundException", "not found")
    sms = client(
        [(op, not_found) for op in ("describe_phone_numbers", "describe_pools")]
        + [("describe_sender_ids", {"SenderIds": []})]
        + [("describe_configuration_sets", configuration_set("prod-stopsms"))]
        + [("describe_spend_limits", SPEND)]
    )
    checks = diagnose(stack({"OriginationIdentity": identity}), sms)
    assert_each_check_is_one_line(checks)
    assert not checks[0].ok, checks
    assert checks[0].name.startswith("identity"), checks


# --------------------------------------------------------------------------- the guides

DOCS = ("docs/DEPLOY.md", "README.md")


def documented_commands() -> list[tuple[str, list[str]]]:
    """Every `python -m stopsms ...` the guides show, in a code span or a code block, as argv
    (a number placeholder N stands for 5)."""
    found = []
    for doc in DOCS:
        text = (ROOT / doc).read_text(encoding="utf-8")
        blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S)
        lines = [line for block in blocks for line in block.splitlines()]
        lines += re.findall(r"`(python -m stopsms[^`]*)`", text)
        for line in lines:
            if not line.strip().startswith("python -m stopsms"):
                continue
            words = shlex.split(line.strip().removesuffix("\\"), comments=True)[3:]
            found.append((doc, ["5" if word == "N" else word for word in words]))
    return found


def test_cli_attack_every_documented_command_parses() -> None:
    """A new user types what the guides show: each one is a command with those options
    (placeholders in capitals stand for a value)."""
    commands = documented_commands()
    assert len(commands) >= 10, commands
    parser = build_parser()
    names = {name for sub in _subcommands(parser) for name in [sub.prog.split()[-1]]}
    wrong = []
    for doc, argv in commands:
        if "[" in " ".join(argv) or not set(argv) & names:
            continue  # a syntax summary (`[--json]`, `COMMAND`) or an option named in prose
        try:
            parser.parse_args(argv)
        except SystemExit as exited:
            if exited.code != 0:
                wrong.append((doc, argv))
    assert not wrong, wrong


def test_cli_attack_every_documented_make_target_exists() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))
    for doc in DOCS:
        for target in re.findall(r"`make ([a-z-]+)", (ROOT / doc).read_text()):
            assert target in targets, (doc, target)
    for path in re.findall(
        r"(?:examples|events)/[\w.-]+\.(?:json|csv)", (ROOT / DOCS[0]).read_text()
    ):
        assert (ROOT / path).is_file(), path
