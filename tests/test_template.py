"""The template keeps the contract's entry points and the security promises."""

from __future__ import annotations

from typing import Any

import pytest

from stopsms.emulator.template import load, resources_of

TEMPLATE = load()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def test_contract_entry_points_exist() -> None:
    assert RESOURCES["CampaignQueue"]["Type"] == "AWS::SQS::Queue"
    assert RESOURCES["ConsentQueue"]["Type"] == "AWS::SQS::Queue"
    assert RESOURCES["InboundTopic"]["Type"] == "AWS::SNS::Topic"


@pytest.mark.parametrize("queue", ["CampaignQueue", "ConsentQueue", "SendQueue"])
def test_every_queue_has_a_dead_letter_queue(queue: str) -> None:
    redrive = RESOURCES[queue]["Properties"]["RedrivePolicy"]
    target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert RESOURCES[target]["Type"] == "AWS::SQS::Queue"
    assert redrive["maxReceiveCount"] >= 2


def test_inbound_topic_accepts_only_end_user_messaging_of_this_account() -> None:
    policy = RESOURCES["InboundTopicPolicy"]["Properties"]["PolicyDocument"]
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "sms-voice.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_data_at_rest_is_encrypted_with_the_stack_key() -> None:
    for name, properties in resources_of(TEMPLATE, "AWS::DynamoDB::Table").items():
        assert properties["SSESpecification"]["SSEEnabled"] is True, name
        assert properties["BillingMode"] == "PAY_PER_REQUEST", name
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], name
    for name, properties in resources_of(TEMPLATE, "AWS::SQS::Queue").items():
        assert properties["KmsMasterKeyId"] == {"Ref": "DataKey"}, name
    assert RESOURCES["InboundTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}
    key_policy = RESOURCES["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"] == {"Service": "sms-voice.amazonaws.com"} for s in key_policy)


def test_every_queue_and_table_is_an_output() -> None:
    outputs = {str(o["Value"]) for o in TEMPLATE["Outputs"].values()}
    for kind in ("AWS::SQS::Queue", "AWS::DynamoDB::Table"):
        for name in resources_of(TEMPLATE, kind):
            assert str({"Ref": name}) in outputs, name
