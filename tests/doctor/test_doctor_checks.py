"""``stopsms.doctor``: each check passing and failing against botocore's Stubber on a real
``pinpoint-sms-voice-v2`` client (every request and response is validated against the service
model), and every fix it prints checked against the same model."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore import xform_name
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from stopsms import doctor
from stopsms.doctor import Check, diagnose, exit_code, render
from stopsms.rules import keywords

REGION = "eu-west-3"
ACCOUNT = "123456789012"
ARN = f"arn:aws:sms-voice:{REGION}:{ACCOUNT}"
INBOUND = f"arn:aws:sns:{REGION}:{ACCOUNT}:prod-InboundTopic-ABC"
EVENTS = f"arn:aws:sns:{REGION}:{ACCOUNT}:prod-DeliveryEventsTopic-DEF"
NUMBER = "+33700000001"
PHONE_ID = "phone-0123456789abcdef0123456789abcdef"
OTHER = "+33700000002"
OTHER_ID = "phone-fedcba9876543210fedcba9876543210"
POOL_ID = "pool-00112233445566778899aabbccddeeff"
REGISTRATION = "registration-0123456789abcdef0123456789abcdef"
CONFIG_SET = "prod-stopsms"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def make_stack(**overrides: str) -> dict[str, Any]:
    given = {
        "OriginationIdentity": NUMBER,
        "StopNumber": NUMBER,
        "InboundBrands": "",
        "ConfigurationSetName": "",
        "MirrorOptOuts": "true",
        "OptOutListName": "stopsms",
        "HolidaysCountry": "FR",
        "PriceTable": "",
    }
    given.update(overrides)
    return {
        "StackName": "prod",
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()],
        "Outputs": [
            {"OutputKey": "InboundTopicArn", "OutputValue": INBOUND},
            {"OutputKey": "DeliveryEventsTopicArn", "OutputValue": EVENTS},
        ],
    }


def phone(
    number: str = NUMBER, ident: str = PHONE_ID, *, registration: str | None = None, **fields: Any
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "PhoneNumberArn": f"{ARN}:phone-number/{ident}",
        "PhoneNumberId": ident,
        "PhoneNumber": number,
        "Status": "ACTIVE",
        "IsoCountryCode": "FR",
        "MessageType": "PROMOTIONAL",
        "NumberCapabilities": ["SMS"],
        "NumberType": "LONG_CODE",
        "MonthlyLeasingPrice": "2.00",
        "TwoWayEnabled": True,
        "TwoWayChannelArn": INBOUND,
        "SelfManagedOptOutsEnabled": True,
        "OptOutListName": "stopsms",
        "DeletionProtectionEnabled": True,
        "CreatedTimestamp": T0,
    }
    if registration:
        info["RegistrationId"] = registration
    info.update(fields)
    return info


def pool(**fields: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "PoolArn": f"{ARN}:pool/{POOL_ID}",
        "PoolId": POOL_ID,
        "Status": "ACTIVE",
        "MessageType": "PROMOTIONAL",
        "TwoWayEnabled": True,
        "TwoWayChannelArn": INBOUND,
        "SelfManagedOptOutsEnabled": True,
        "OptOutListName": "stopsms",
        "SharedRoutesEnabled": False,
        "DeletionProtectionEnabled": False,
        "CreatedTimestamp": T0,
    }
    info.update(fields)
    return info


def keyword_list(
    skip: frozenset[str] = frozenset(), actions: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    wanted = dict.fromkeys(doctor.OPT_OUT_KEYWORDS, "OPT_OUT") | {"HELP": "AUTOMATIC_RESPONSE"}
    wanted |= actions or {}
    return [
        {"Keyword": k, "KeywordMessage": "message", "KeywordAction": a}
        for k, a in wanted.items()
        if k not in skip
    ]


def destination(
    topic: str = EVENTS, *, enabled: bool = True, types: tuple[str, ...] = ("TEXT_ALL",)
) -> dict[str, Any]:
    return {
        "EventDestinationName": "stopsms-receipts",
        "Enabled": enabled,
        "MatchingEventTypes": list(types),
        "SnsDestination": {"TopicArn": topic},
    }


class Account:
    """The stubbed account: responses queued in the order doctor asks for them."""

    def __init__(self) -> None:
        self.client = boto3.client("pinpoint-sms-voice-v2", region_name=REGION)
        self.stubber = Stubber(self.client)

    def respond(self, operation: str, response: dict[str, Any], params: Any = None) -> None:
        self.stubber.add_response(operation, response, params)

    def refuse(self, operation: str, code: str, params: Any = None, status: int = 400) -> None:
        self.stubber.add_client_error(
            operation,
            service_error_code=code,
            service_message=f"{code} for this\nrequest",
            http_status_code=status,
            expected_params=params,
        )

    def all_phones(self, *infos: dict[str, Any]) -> None:
        self.respond("describe_phone_numbers", {"PhoneNumbers": list(infos)}, {})

    def registration(self, status: str, ident: str = REGISTRATION) -> None:
        self.respond(
            "describe_registrations",
            {
                "Registrations": [
                    {
                        "RegistrationArn": f"{ARN}:registration/{ident}",
                        "RegistrationId": ident,
                        "RegistrationType": "FR_LONG_CODE_REGISTRATION",
                        "RegistrationStatus": status,
                        "CurrentVersionNumber": 1,
                        "CreatedTimestamp": T0,
                    }
                ]
            },
            {"RegistrationIds": [ident]},
        )

    def keywords(self, ident: str = PHONE_ID, items: list[dict[str, Any]] | None = None) -> None:
        self.respond(
            "describe_keywords",
            {"OriginationIdentity": ident, "Keywords": keyword_list() if items is None else items},
            {"OriginationIdentity": ident},
        )

    def configuration_set(self, *destinations: dict[str, Any], name: str = CONFIG_SET) -> None:
        self.respond(
            "describe_configuration_sets",
            {
                "ConfigurationSets": [
                    {
                        "ConfigurationSetArn": f"{ARN}:configuration-set/{name}",
                        "ConfigurationSetName": name,
                        "EventDestinations": list(destinations),
                        "CreatedTimestamp": T0,
                    }
                ]
            },
            {"ConfigurationSetNames": [name]},
        )

    def spend_limit(
        self, enforced: int = 100, maximum: int = 1000, overridden: bool = True
    ) -> None:
        limits = [
            {
                "Name": "VOICE_MESSAGE_MONTHLY_SPEND_LIMIT",
                "EnforcedLimit": 1,
                "MaxLimit": 1,
                "Overridden": False,
            },
            {
                "Name": "TEXT_MESSAGE_MONTHLY_SPEND_LIMIT",
                "EnforcedLimit": enforced,
                "MaxLimit": maximum,
                "Overridden": overridden,
            },
        ]
        self.respond("describe_spend_limits", {"SpendLimits": limits}, {})

    def opt_out_list(self, name: str = "stopsms") -> None:
        self.respond(
            "describe_opt_out_lists",
            {
                "OptOutLists": [
                    {
                        "OptOutListArn": f"{ARN}:opt-out-list/{name}",
                        "OptOutListName": name,
                        "CreatedTimestamp": T0,
                    }
                ]
            },
            {"OptOutListNames": [name]},
        )

    def tail(self) -> None:
        """The account-wide checks of a healthy account."""
        self.configuration_set(destination())
        self.spend_limit()
        self.opt_out_list()

    def run(self, stack: dict[str, Any] | None = None, planned: int | None = None) -> list[Check]:
        with self.stubber:
            checks = diagnose(stack or make_stack(), self.client, planned_per_month=planned)
            self.stubber.assert_no_pending_responses()
        return checks


@pytest.fixture
def account() -> Account:
    return Account()


def by_name(checks: list[Check]) -> dict[str, Check]:
    names = [check.name for check in checks]
    assert len(names) == len(set(names)), names
    return {check.name: check for check in checks}


def failed(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks if not check.ok}


def cli(*words: str) -> str:
    return shlex.join(["aws", "pinpoint-sms-voice-v2", *words, "--region", REGION])


# ---------------------------------------------------------------- a healthy account


def test_healthy_account_passes_every_check(account: Account) -> None:
    account.all_phones(phone(registration=REGISTRATION), phone(OTHER, OTHER_ID))
    account.registration("COMPLETE")
    account.keywords()
    account.tail()

    checks = account.run()

    assert [check.name for check in checks] == [
        f"identity {NUMBER}",
        f"registration {NUMBER}",
        f"two-way SMS {NUMBER}",
        f"self-managed opt-outs {NUMBER}",
        f"keywords {NUMBER}",
        f"configuration set {CONFIG_SET}",
        "spend limit",
        "opt-out list stopsms",
    ]
    assert all(check.ok and not check.fix for check in checks), failed(checks)
    assert f"ACTIVE phone number {PHONE_ID}" in checks[0].detail
    assert "OriginationIdentity, StopNumber" in checks[0].detail  # one number, both uses
    assert exit_code(checks) == 0
    assert render(checks).splitlines()[-1] == "all 8 passed"
    assert "--planned N" in by_name(checks)["spend limit"].detail


def test_render_prints_each_check_and_its_fix_indented() -> None:
    checks = [
        Check("two-way SMS +33700000001", True, "replies go to the topic"),
        Check("spend limit", False, "$1 a month", "aws pinpoint-sms-voice-v2 x"),
    ]
    assert render(checks) == (
        "PASS  two-way SMS +33700000001: replies go to the topic\n"
        "FAIL  spend limit: $1 a month\n"
        "      fix: aws pinpoint-sms-voice-v2 x\n"
        "2 checks, 1 failed"
    )
    assert exit_code(checks) == 1
    assert exit_code([]) == 0


# ---------------------------------------------------------------- 1. identities


def test_a_number_found_on_the_second_page_of_the_account(account: Account) -> None:
    account.respond(
        "describe_phone_numbers", {"PhoneNumbers": [phone(OTHER, OTHER_ID)], "NextToken": "t2"}, {}
    )
    account.respond("describe_phone_numbers", {"PhoneNumbers": [phone()]}, {"NextToken": "t2"})
    account.keywords()
    account.tail()

    checks = by_name(account.run())

    assert checks[f"identity {NUMBER}"].ok
    assert PHONE_ID in checks[f"identity {NUMBER}"].detail


@pytest.mark.parametrize(
    ("spec", "use"), [(NUMBER, "StopNumber"), ("0700000009", "StopNumber"), ("36111", "StopNumber")]
)
def test_a_reply_number_not_in_the_account_fails(account: Account, spec: str, use: str) -> None:
    account.all_phones(phone(OTHER, OTHER_ID))
    account.tail()

    checks = account.run(make_stack(OriginationIdentity="", StopNumber=spec))

    check = failed(checks)[f"identity {spec}"]
    assert "never reach the stack" in check.detail
    assert use in check.detail
    assert "StopNumber" in check.fix
    assert exit_code(checks) == 1


def test_a_short_code_matches_however_the_account_spells_it(account: Account) -> None:
    account.all_phones(phone("+36111", PHONE_ID, NumberType="SHORT_CODE"))
    account.keywords()
    account.tail()

    checks = account.run(make_stack(OriginationIdentity="", StopNumber="36 111"))

    assert by_name(checks)["identity +36111"].ok
    assert exit_code(checks) == 0


def test_inbound_brands_numbers_are_checked_too(account: Account) -> None:
    account.all_phones(phone(), phone(OTHER, OTHER_ID, TwoWayEnabled=False))
    account.keywords()
    account.keywords(OTHER_ID)
    account.tail()

    checks = account.run(make_stack(InboundBrands=f"{OTHER}=globex,{NUMBER}=acme"))

    assert "InboundBrands" in by_name(checks)[f"identity {OTHER}"].detail
    assert set(failed(checks)) == {f"two-way SMS {OTHER}"}


def test_unreadable_inbound_brands_fail_alone(account: Account) -> None:
    account.all_phones(phone())
    account.keywords()
    account.tail()

    checks = account.run(make_stack(InboundBrands="36111=*acme"))

    assert list(failed(checks)) == ["InboundBrands"]
    assert "36111=*acme" in failed(checks)["InboundBrands"].detail


def test_phone_number_id_and_arn_are_looked_up_by_id(account: Account) -> None:
    arn = f"{ARN}:phone-number/{PHONE_ID}"
    account.respond(
        "describe_phone_numbers", {"PhoneNumbers": [phone()]}, {"PhoneNumberIds": [arn]}
    )
    account.all_phones(phone())
    account.keywords()
    account.tail()

    checks = account.run(make_stack(OriginationIdentity=arn))

    assert "OriginationIdentity, StopNumber" in by_name(checks)[f"identity {NUMBER}"].detail


def test_an_unknown_phone_number_id_fails(account: Account) -> None:
    account.refuse(
        "describe_phone_numbers", "ResourceNotFoundException", {"PhoneNumberIds": [PHONE_ID]}, 404
    )
    account.all_phones(phone(OTHER, OTHER_ID))
    account.tail()

    checks = failed(account.run(make_stack(OriginationIdentity=PHONE_ID)))

    assert "no phone number, pool or sender ID" in checks[f"identity {PHONE_ID}"].detail
    assert f"identity {NUMBER}" in checks  # the StopNumber is not in the account either


@pytest.mark.parametrize(("status", "waits"), [("PENDING", True), ("DELETED", False)])
def test_a_number_that_is_not_active_fails(account: Account, status: str, waits: bool) -> None:
    account.all_phones(phone(Status=status))
    account.keywords()
    account.tail()

    check = failed(account.run())[f"identity {NUMBER}"]

    assert f"is {status}, not ACTIVE" in check.detail
    assert check.fix.startswith("wait") is waits


@pytest.mark.parametrize(
    ("status", "fix"),
    [
        ("REQUIRES_UPDATES", "update and resubmit it"),
        ("REVIEWING", "wait for AWS's review"),
        ("CREATED", "submit it"),
        ("REQUIRES_AUTHENTICATION", "e-mail authentication"),
        ("CLOSED", "create a new registration"),
    ],
)
def test_an_incomplete_registration_fails(account: Account, status: str, fix: str) -> None:
    account.all_phones(phone(registration=REGISTRATION))
    account.registration(status)
    account.keywords()
    account.tail()

    check = failed(account.run())[f"registration {NUMBER}"]

    assert f"{REGISTRATION} is {status}" in check.detail
    assert REGISTRATION in check.fix
    assert fix in check.fix


def test_access_denied_names_the_missing_permission(account: Account) -> None:
    account.refuse("describe_phone_numbers", "AccessDeniedException", {}, 403)
    account.tail()

    checks = account.run()

    check = failed(checks)[f"identity {NUMBER}"]
    assert "AWS refused sms-voice:DescribePhoneNumbers" in check.detail
    assert "\n" not in check.detail  # AWS's message on one line
    assert "sms-voice:DescribePhoneNumbers" in check.fix
    assert "OperatorPolicyArn" in check.fix
    # The number could not be found: its other checks are not made; the account's are.
    assert [c.name for c in checks[1:]] == [
        f"configuration set {CONFIG_SET}",
        "spend limit",
        "opt-out list stopsms",
    ]


def test_other_refusals_and_unreachable_aws_are_one_line_fails(account: Account) -> None:
    account.all_phones(phone())
    account.refuse("describe_keywords", "ThrottlingException", {"OriginationIdentity": PHONE_ID})
    account.configuration_set(destination())
    account.refuse("describe_spend_limits", "InternalServerException", {}, 500)
    account.opt_out_list()

    checks = failed(account.run())

    assert checks[f"keywords {NUMBER}"].detail.startswith(
        "sms-voice:DescribeKeywords failed: ThrottlingException"
    )
    assert "InternalServerException" in checks["spend limit"].detail

    offline = Account()
    error = EndpointConnectionError(endpoint_url="https://sms-voice.eu-west-3.amazonaws.com")
    with mock.patch.object(offline.client, "get_paginator", side_effect=error):
        checks = diagnose(make_stack(MirrorOptOuts="false"), offline.client)
    assert [c.ok for c in checks] == [False, False, False, True]
    assert "could not run: Could not connect" in checks[0].detail


@pytest.mark.parametrize(
    ("spec", "operation", "params"),
    [
        (POOL_ID, "describe_pools", {"PoolIds": [POOL_ID]}),
        (f"{ARN}:pool/{POOL_ID}", "describe_pools", {"PoolIds": [f"{ARN}:pool/{POOL_ID}"]}),
        (
            f"{ARN}:sender-id/ACME/FR",
            "describe_sender_ids",
            {"SenderIds": [{"SenderId": "ACME", "IsoCountryCode": "FR"}]},
        ),
        (f"{ARN}:opt-out-list/stopsms", None, None),  # not an origination identity at all
    ],
)
def test_an_identity_the_account_does_not_have_fails(
    account: Account, spec: str, operation: str | None, params: dict[str, Any] | None
) -> None:
    if operation:
        account.refuse(operation, "ResourceNotFoundException", params, 404)
    account.all_phones(phone())
    account.keywords()
    account.tail()

    checks = account.run(make_stack(OriginationIdentity=spec))

    assert list(failed(checks)) == [f"identity {spec}"]
    assert "no phone number, pool or sender ID" in failed(checks)[f"identity {spec}"].detail


def test_a_registration_that_is_gone_fails(account: Account) -> None:
    account.all_phones(phone(registration=REGISTRATION))
    account.refuse(
        "describe_registrations",
        "ResourceNotFoundException",
        {"RegistrationIds": [REGISTRATION]},
        404,
    )
    account.keywords()
    account.tail()

    check = failed(account.run())[f"registration {NUMBER}"]

    assert "is not in this account" in check.detail
    assert REGISTRATION in check.fix


def test_each_refusal_fails_only_its_own_check(account: Account) -> None:
    account.respond("describe_pools", {"Pools": [pool()]}, {"PoolIds": [POOL_ID]})
    account.refuse("list_pool_origination_identities", "AccessDeniedException", {"PoolId": POOL_ID})
    account.all_phones(phone(registration=REGISTRATION))
    account.keywords(POOL_ID)
    account.refuse(
        "describe_registrations", "AccessDeniedException", {"RegistrationIds": [REGISTRATION]}
    )
    account.keywords()
    account.refuse(
        "describe_configuration_sets",
        "AccessDeniedException",
        {"ConfigurationSetNames": [CONFIG_SET]},
    )
    account.spend_limit()
    account.refuse(
        "describe_opt_out_lists", "AccessDeniedException", {"OptOutListNames": ["stopsms"]}
    )

    checks = failed(account.run(make_stack(OriginationIdentity=POOL_ID)))

    assert {name: check.detail.split(" to this role")[0] for name, check in checks.items()} == {
        f"pool {POOL_ID} members": "AWS refused sms-voice:ListPoolOriginationIdentities",
        f"registration {NUMBER}": "AWS refused sms-voice:DescribeRegistrations",
        f"configuration set {CONFIG_SET}": "AWS refused sms-voice:DescribeConfigurationSets",
        "opt-out list stopsms": "AWS refused sms-voice:DescribeOptOutLists",
    }


def test_a_stack_without_the_topic_outputs_fails(account: Account) -> None:
    stack = make_stack()
    stack["Outputs"] = []
    account.all_phones(phone())
    account.keywords()
    account.configuration_set(destination())
    account.spend_limit()
    account.opt_out_list()

    checks = failed(account.run(stack))

    assert "no InboundTopicArn output" in checks[f"two-way SMS {NUMBER}"].detail
    assert "INBOUND_TOPIC_ARN" in checks[f"two-way SMS {NUMBER}"].fix
    assert "DeliveryEventsTopic ?" in checks[f"configuration set {CONFIG_SET}"].detail


# ---------------------------------------------------------------- pools and sender IDs


def pool_members(*arns: str) -> dict[str, Any]:
    return {
        "PoolArn": f"{ARN}:pool/{POOL_ID}",
        "PoolId": POOL_ID,
        "OriginationIdentities": [
            {
                "OriginationIdentityArn": arn,
                "OriginationIdentity": arn.rsplit("/", 1)[-1],
                "IsoCountryCode": "FR",
                "NumberCapabilities": ["SMS"],
            }
            for arn in arns
        ],
    }


def test_a_pool_is_checked_with_its_numbers(account: Account) -> None:
    member = f"{ARN}:phone-number/{PHONE_ID}"
    account.respond(
        "describe_pools", {"Pools": [pool(TwoWayEnabled=False)]}, {"PoolIds": [POOL_ID]}
    )
    account.respond("list_pool_origination_identities", pool_members(member), {"PoolId": POOL_ID})
    account.respond(
        "describe_phone_numbers", {"PhoneNumbers": [phone()]}, {"PhoneNumberIds": [member]}
    )
    account.all_phones(phone())
    account.keywords(POOL_ID)
    account.tail()

    checks = account.run(make_stack(OriginationIdentity=POOL_ID))

    names = [c.name for c in checks]
    assert names[:5] == [
        f"identity {POOL_ID}",
        f"two-way SMS {POOL_ID}",
        f"self-managed opt-outs {POOL_ID}",
        f"keywords {POOL_ID}",
        f"identity {NUMBER}",
    ]
    assert f"two-way SMS {NUMBER}" not in names  # the pool's settings are its numbers'
    assert f"{POOL_ID} member, StopNumber" in by_name(checks)[f"identity {NUMBER}"].detail
    assert failed(checks)[f"two-way SMS {POOL_ID}"].fix == cli(
        "update-pool", "--pool-id", POOL_ID, "--two-way-enabled", "--two-way-channel-arn", INBOUND
    )


def test_an_empty_pool_fails(account: Account) -> None:
    account.respond("describe_pools", {"Pools": [pool()]}, {"PoolIds": [POOL_ID]})
    account.respond("list_pool_origination_identities", pool_members(), {"PoolId": POOL_ID})
    account.all_phones(phone())
    account.keywords(POOL_ID)
    account.keywords()
    account.tail()

    check = failed(account.run(make_stack(OriginationIdentity=POOL_ID)))[f"pool {POOL_ID} members"]

    assert "can send nothing" in check.detail
    assert "associate-origination-identity --pool-id " + POOL_ID in check.fix


def sender(**fields: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "SenderIdArn": f"{ARN}:sender-id/ACME/FR",
        "SenderId": "ACME",
        "IsoCountryCode": "FR",
        "MessageTypes": ["PROMOTIONAL"],
        "MonthlyLeasingPrice": "0.00",
        "DeletionProtectionEnabled": False,
        "Registered": True,
    }
    info.update(fields)
    return info


@pytest.mark.parametrize(
    ("spec", "params"),
    [
        ("ACME", {"Filters": [{"Name": "sender-id", "Values": ["ACME"]}]}),
        (f"{ARN}:sender-id/ACME/FR", {"SenderIds": [{"SenderId": "ACME", "IsoCountryCode": "FR"}]}),
    ],
)
def test_a_sender_id_is_checked_but_receives_nothing(
    account: Account, spec: str, params: dict[str, Any]
) -> None:
    account.respond(
        "describe_sender_ids", {"SenderIds": [sender(RegistrationId=REGISTRATION)]}, params
    )
    account.all_phones(phone())
    account.registration("COMPLETE")
    account.keywords()
    account.tail()

    checks = account.run(make_stack(OriginationIdentity=spec))

    assert "sender ID ACME, registered" in by_name(checks)["identity ACME (FR)"].detail
    assert by_name(checks)["registration ACME (FR)"].ok
    assert "two-way SMS ACME (FR)" not in by_name(checks)
    assert exit_code(checks) == 0


def test_an_unknown_sender_id_fails(account: Account) -> None:
    account.respond(
        "describe_sender_ids",
        {"SenderIds": []},
        {"Filters": [{"Name": "sender-id", "Values": ["ACME"]}]},
    )
    account.all_phones(phone())
    account.keywords()
    account.tail()

    check = failed(account.run(make_stack(OriginationIdentity="ACME")))["identity ACME"]

    assert "OriginationIdentity" in check.detail
    assert "OriginationIdentity" in check.fix


# ---------------------------------------------------------------- 2, 3. two-way, self-managed


@pytest.mark.parametrize(
    ("fields", "found"),
    [
        ({"TwoWayEnabled": False}, "two-way SMS is off"),
        ({"TwoWayChannelArn": f"{INBOUND}-old"}, f"replies go to {INBOUND}-old"),
        ({"TwoWayChannelArn": None}, "replies go to no channel"),
    ],
)
def test_two_way_must_point_at_the_stacks_topic(
    account: Account, fields: dict[str, Any], found: str
) -> None:
    info = {k: v for k, v in phone(**fields).items() if v is not None}
    account.all_phones(info)
    account.keywords()
    account.tail()

    checks = failed(account.run())

    assert set(checks) == {f"two-way SMS {NUMBER}"}
    assert found in checks[f"two-way SMS {NUMBER}"].detail
    assert checks[f"two-way SMS {NUMBER}"].fix == cli(
        "update-phone-number",
        "--phone-number-id",
        PHONE_ID,
        "--two-way-enabled",
        "--two-way-channel-arn",
        INBOUND,
    )


@pytest.mark.parametrize("two_way", [True, False])
def test_self_managed_opt_outs_off_fails_with_why(account: Account, two_way: bool) -> None:
    account.all_phones(phone(SelfManagedOptOutsEnabled=False, TwoWayEnabled=two_way))
    account.keywords()
    account.tail()

    check = failed(account.run())[f"self-managed opt-outs {NUMBER}"]

    assert "answers STOP itself" in check.detail
    assert "blocking the exempt transactional messages" in check.detail
    flags = () if two_way else ("--two-way-enabled", "--two-way-channel-arn", INBOUND)
    assert check.fix == cli(
        "update-phone-number",
        "--phone-number-id",
        PHONE_ID,
        *flags,
        "--self-managed-opt-outs-enabled",
    )


# ---------------------------------------------------------------- 6. keywords


def test_missing_keywords_and_wrong_actions_fail(account: Account) -> None:
    account.all_phones(phone())
    account.respond(
        "describe_keywords",
        {
            "Keywords": keyword_list(frozenset({"STOPPER"}), {"ARRET": "AUTOMATIC_RESPONSE"})[:10],
            "NextToken": "k2",
        },
        {"OriginationIdentity": PHONE_ID},
    )
    account.respond(
        "describe_keywords",
        {"Keywords": keyword_list(frozenset({"STOPPER"}), {"ARRET": "AUTOMATIC_RESPONSE"})[10:]},
        {"OriginationIdentity": PHONE_ID, "NextToken": "k2"},
    )
    account.tail()

    check = failed(account.run())[f"keywords {NUMBER}"]

    assert check.detail == "missing STOPPER; another action on ARRET (AUTOMATIC_RESPONSE)"
    commands = check.fix.split(" && ")
    assert len(commands) == 2
    assert commands[0].startswith(
        cli("put-keyword", "--origination-identity", PHONE_ID, "--keyword", "ARRET")[
            : -len(" --region eu-west-3")
        ]
    )
    assert "--keyword-action OPT_OUT" in commands[0]
    assert "--keyword STOPPER" in commands[1]


def test_keywords_are_compared_as_people_type_them(account: Account) -> None:
    items = keyword_list(frozenset({"ARRET", "DESABONNEZ-MOI"}))
    items += [
        {"Keyword": "Arrêt", "KeywordMessage": "m", "KeywordAction": "OPT_OUT"},
        {"Keyword": "désabonnez-moi", "KeywordMessage": "m", "KeywordAction": "OPT_OUT"},
    ]
    account.all_phones(phone())
    account.keywords(items=items)
    account.tail()

    assert exit_code(account.run()) == 0


def test_the_keywords_required_are_those_the_rules_read_as_such() -> None:
    for keyword in doctor.OPT_OUT_KEYWORDS:
        assert keywords.classify(keyword).intent is keywords.Intent.OPT_OUT, keyword
        assert keywords.classify(keyword).keyword == keyword.replace(".", "")
    assert keywords.classify(doctor.HELP_KEYWORD).intent is keywords.Intent.HELP


# ---------------------------------------------------------------- 4. configuration set


def test_a_missing_configuration_set_fails(account: Account) -> None:
    account.all_phones(phone())
    account.keywords()
    account.refuse(
        "describe_configuration_sets",
        "ResourceNotFoundException",
        {"ConfigurationSetNames": ["mine"]},
        404,
    )
    account.spend_limit()
    account.opt_out_list()

    check = failed(account.run(make_stack(ConfigurationSetName="mine")))["configuration set mine"]

    create, destination_command = check.fix.split(" && ")
    assert create == cli("create-configuration-set", "--configuration-set-name", "mine")
    assert destination_command == cli(
        "create-event-destination",
        "--configuration-set-name",
        "mine",
        "--event-destination-name",
        "stopsms-receipts",
        "--matching-event-types",
        "TEXT_ALL",
        "--sns-destination",
        f"TopicArn={EVENTS}",
    )


@pytest.mark.parametrize(
    ("item", "found", "command"),
    [
        (
            destination(f"{EVENTS}-other"),
            "no event destination publishes",
            "create-event-destination",
        ),
        (destination(enabled=False), "is disabled", "update-event-destination"),
        (
            destination(types=("TEXT_DELIVERED", "TEXT_SENT")),
            "is without TEXT_BLOCKED",
            "update-event-destination",
        ),
    ],
)
def test_the_event_destination_must_send_receipts_to_the_stack(
    account: Account, item: dict[str, Any], found: str, command: str
) -> None:
    account.all_phones(phone())
    account.keywords()
    account.configuration_set(item)
    account.spend_limit()
    account.opt_out_list()

    check = failed(account.run())[f"configuration set {CONFIG_SET}"]

    assert found in check.detail
    assert check.fix.startswith(cli(command)[: -len(" --region eu-west-3")])
    assert f"--configuration-set-name {CONFIG_SET}" in check.fix


def test_every_final_event_type_is_enough(account: Account) -> None:
    account.all_phones(phone())
    account.keywords()
    account.configuration_set(destination(types=tuple(sorted(doctor.RECEIPT_EVENTS))))
    account.spend_limit()
    account.opt_out_list()

    assert exit_code(account.run()) == 0


# ---------------------------------------------------------------- 5. spend limit


@pytest.mark.parametrize(
    ("planned", "limit", "maximum", "overridden", "ok", "fix"),
    [
        (1000, 100, 1000, True, True, ""),  # $71.90 under the $100 enforced
        (2000, 100, 1000, True, False, "set-text-message-spend-limit-override --monthly-limit 144"),
        (2000, 1, 100, False, False, "AWS Support console"),  # $143.80 over the maximum
        (1390, 1, 100, False, True, ""),  # not overridden: the $100 maximum applies
    ],
)
def test_planned_volume_against_the_spend_limit(
    account: Account,
    planned: int,
    limit: int,
    maximum: int,
    overridden: bool,
    ok: bool,
    fix: str,
) -> None:
    account.all_phones(phone())
    account.keywords()
    account.configuration_set(destination())
    account.spend_limit(limit, maximum, overridden)
    account.opt_out_list()

    checks = account.run(planned=planned)

    check = by_name(checks)["spend limit"]
    assert check.ok is ok
    assert f"{planned} SMS a month" in check.detail
    assert f"${planned * 0.0719:.2f}" in check.detail
    assert fix in check.fix
    assert bool(check.fix) is not ok
    assert exit_code(checks) == (0 if ok else 1)


def test_the_stacks_price_table_and_country_are_used(account: Account) -> None:
    account.all_phones(phone())
    account.keywords()
    account.configuration_set(destination())
    account.spend_limit(10, 10, True)
    account.opt_out_list()
    stack = make_stack(HolidaysCountry="BE", PriceTable='{"per_part": {"BE": 0.01}}')

    check = by_name(account.run(stack, planned=1000))["spend limit"]

    assert check.ok
    assert "to BE at $0.01 cost $10.00" in check.detail


def test_a_country_without_a_price_fails(account: Account) -> None:
    account.all_phones(phone())
    account.keywords()
    account.configuration_set(destination())
    account.spend_limit()
    account.opt_out_list()

    check = failed(account.run(make_stack(HolidaysCountry="JP"), planned=10))["spend limit"]

    assert "no price for JP" in check.detail
    assert "PriceTable" in check.fix


def test_no_text_spend_limit_or_a_bad_price_table_fails(account: Account) -> None:
    account.all_phones(phone())
    account.keywords()
    account.configuration_set(destination())
    account.respond("describe_spend_limits", {"SpendLimits": []}, {})
    account.opt_out_list()

    assert "AWS reports no TEXT_MESSAGE" in failed(account.run())["spend limit"].detail

    again = Account()
    again.all_phones(phone())
    again.keywords()
    again.configuration_set(destination())
    again.spend_limit()
    again.opt_out_list()

    check = failed(again.run(make_stack(PriceTable="{not json"), planned=1))["spend limit"]
    assert check.detail.startswith("the stack's PriceTable: PriceTable: not JSON")


# ---------------------------------------------------------------- 7. the mirrored opt-out list


def test_the_mirrored_list_must_exist(account: Account) -> None:
    account.all_phones(phone())
    account.keywords()
    account.configuration_set(destination())
    account.spend_limit()
    account.refuse(
        "describe_opt_out_lists", "ResourceNotFoundException", {"OptOutListNames": ["stopsms"]}, 404
    )

    check = failed(account.run())["opt-out list stopsms"]

    assert check.fix == cli("create-opt-out-list", "--opt-out-list-name", "stopsms")


def test_numbers_on_another_list_are_not_blocked_by_the_copies(account: Account) -> None:
    account.all_phones(phone(OptOutListName="Default"))
    account.keywords()
    account.tail()

    check = failed(account.run())["opt-out list stopsms"]

    assert f"{NUMBER} uses Default" in check.detail
    assert check.fix == cli(
        "update-phone-number", "--phone-number-id", PHONE_ID, "--opt-out-list-name", "stopsms"
    )


def test_no_list_is_needed_without_mirroring(account: Account) -> None:
    account.all_phones(phone(OptOutListName="Default"))
    account.keywords()
    account.configuration_set(destination())
    account.spend_limit()

    check = by_name(account.run(make_stack(MirrorOptOuts="false")))["opt-out list stopsms"]

    assert check.ok
    assert "MirrorOptOuts is false" in check.detail


# ---------------------------------------------------------------- every fix is a real command


def test_every_fix_printed_is_a_valid_command_of_the_service(account: Account) -> None:
    """Each ``aws pinpoint-sms-voice-v2`` fix names a real operation, only its parameters
    (as the AWS CLI spells them) and all the required ones."""
    account.all_phones(
        phone(
            registration=REGISTRATION,
            TwoWayEnabled=False,
            SelfManagedOptOutsEnabled=False,
            OptOutListName="Default",
        )
    )
    account.registration("REQUIRES_UPDATES")
    account.keywords(items=[])
    account.refuse(
        "describe_configuration_sets",
        "ResourceNotFoundException",
        {"ConfigurationSetNames": [CONFIG_SET]},
        404,
    )
    account.spend_limit(1, 1000, True)
    account.opt_out_list()

    checks = account.run(planned=5000)

    model = account.client.meta.service_model
    operations = {xform_name(name, "-"): name for name in model.operation_names}
    commands = [
        command
        for check in checks
        for command in check.fix.split(" && ")
        if command.startswith("aws pinpoint-sms-voice-v2 ")
    ]
    assert len(commands) >= 6 + len(doctor.OPT_OUT_KEYWORDS)
    for command in commands:
        words = shlex.split(command)
        operation = model.operation_model(operations[words[2]])
        members = {xform_name(m, "-"): m for m in operation.input_shape.members}
        flags = {w[2:] for w in words[3:] if w.startswith("--")} - {"region"}
        assert flags <= set(members), command
        assert {xform_name(m, "-") for m in operation.input_shape.required_members} <= flags
