"""The IAM enforcement the other tests rely on refuses what the template does not grant.

It would prove nothing if it let everything through: these tests take a permission away and
watch the call fail, from moto (signature, action, SQS and S3 resources) and from
``Enforcement.authorise`` (per-item transaction actions, table resources, KMS, sms-voice).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from stopsms.dal import campaigns
from stopsms.emulator import iam
from stopsms.emulator.template import Stack
from tests.handlers.conftest import LambdaContext, load_function, sqs_event

REGION = "eu-west-3"
JOB = {
    "campaign_id": "iam-1",
    "seq": 0,
    "category": "transactional",
    "phone": "+33612345678",
    "body": "Votre code : 123456",
}


def enforcement() -> iam.Enforcement:
    found = iam.current()
    assert found is not None
    return found


def without(principal: str, action: str) -> None:
    """Take ``action`` out of every statement of ``principal`` (for this test only; what moto
    itself enforces is unchanged, so the refusal comes from ``Enforcement.authorise``)."""
    granted = enforcement().principals[principal]
    statements = []
    for statement in granted.statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        statements.append(
            {**statement, "Action": [a for a in actions if a != action] or ["none:Nothing"]}
        )
    enforcement().principals[principal] = dataclasses.replace(granted, statements=statements)


def take_refusals() -> list[str]:
    """The refusals so far, forgotten (the fixture fails a test that leaves any)."""
    found = [str(r) for r in enforcement().refusals]
    enforcement().refusals.clear()
    return found


def test_the_sender_as_first_deployed_could_not_write_its_outcomes(
    aws: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the sender's role without dynamodb:BatchWriteItem on DeliveriesTable, as it was
    from stopsms.aws import clients
    from tests.handlers.sms import FakeSms

    fake = FakeSms()
    monkeypatch.setattr(clients, "sms", lambda: fake)
    without("SenderFunction", "dynamodb:BatchWriteItem")
    sender = load_function("sender")

    # When a job is sent, then the SMS leaves but its outcome cannot be written: the whole
    # batch fails (SQS would deliver it again, the claim would age into failed/unconfirmed)
    with pytest.raises(ClientError):
        sender.lambda_handler(sqs_event([JOB], "SendQueue"), LambdaContext())
    assert len(fake.sent) == 1
    assert take_refusals() == [
        "SenderFunction: BatchWriteItem refused (dynamodb:BatchWriteItem on "
        "arn:aws:dynamodb:eu-west-3:123456789012:table/DeliveriesTable)"
    ]


def test_a_transaction_needs_each_items_own_action(aws: Stack) -> None:
    without("SenderFunction", "dynamodb:ConditionCheckItem")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    with enforcement().acting_as("SenderFunction"), pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "DeliveriesTable", "Item": _delivery("a")}},
                {
                    "ConditionCheck": {
                        "TableName": "DeliveriesTable",
                        "Key": {"campaign_id": {"S": "c"}, "recipient": {"S": "b"}},
                        "ConditionExpression": "attribute_not_exists(campaign_id)",
                    }
                },
            ]
        )
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert take_refusals() == [
        "SenderFunction: TransactWriteItems refused (dynamodb:ConditionCheckItem on "
        "arn:aws:dynamodb:eu-west-3:123456789012:table/DeliveriesTable)"
    ]


def test_a_table_the_role_does_not_name_is_refused(aws: Stack) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    with enforcement().acting_as("ConsentFunction"), pytest.raises(ClientError):
        dynamodb.put_item(TableName="DeliveriesTable", Item=_delivery("a"))
    assert take_refusals() == [
        "ConsentFunction: PutItem refused (dynamodb:PutItem on "
        "arn:aws:dynamodb:eu-west-3:123456789012:table/DeliveriesTable)"
    ]


def test_the_key_is_needed_to_publish_to_an_encrypted_queue(aws: Stack) -> None:
    without("PublisherPolicy", "kms:GenerateDataKey")
    sqs = boto3.client("sqs", region_name=REGION)
    with enforcement().acting_as("PublisherPolicy"), pytest.raises(ClientError):
        sqs.send_message(QueueUrl=aws.queues["CampaignQueue"], MessageBody="{}")
    [refusal] = take_refusals()
    assert "kms:GenerateDataKey on arn:aws:kms:eu-west-3:123456789012:key/DataKey" in refusal


def test_moto_itself_refuses_a_queue_the_policy_does_not_name(
    aws: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With our own check out of the way, the emulator still refuses: it is really enforcing.
    monkeypatch.setattr(iam.Enforcement, "authorise", lambda *_args: None)
    sqs = boto3.client("sqs", region_name=REGION)
    with enforcement().acting_as("PublisherPolicy"), pytest.raises(ClientError) as refused:
        sqs.send_message(QueueUrl=aws.queues["SendQueue"], MessageBody="{}")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    [refusal] = take_refusals()
    assert refusal.startswith("PublisherPolicy: SendMessage refused (emulator: ")


def test_moto_refuses_an_action_the_policy_does_not_grant(
    aws: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(iam.Enforcement, "authorise", lambda *_args: None)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    with enforcement().acting_as("PublisherPolicy"), pytest.raises(ClientError) as refused:
        dynamodb.scan(TableName="ContactStateTable")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    [refusal] = take_refusals()
    assert refusal.startswith("PublisherPolicy: Scan refused (emulator: ")


def test_a_refusal_looks_like_the_services_own(aws: Stack) -> None:
    # An audience in a bucket the campaign role cannot read: S3 answers 403 AccessDenied, and
    # the campaign is refused at once as in AWS (not retried as a transient failure).
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(
        Bucket="publishers-own-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    s3.put_object(Bucket="publishers-own-bucket", Key="a.csv", Body=b"phone\n+33612345678\n")
    request = {
        "campaign_id": "elsewhere",
        "category": "transactional",
        "brand": "acme",
        "body": "Votre colis arrive",
        "audience": {"s3_uri": "s3://publishers-own-bucket/a.csv"},
    }
    load_function("campaign").lambda_handler(sqs_event([request], "CampaignQueue"), LambdaContext())
    stored = campaigns.get("elsewhere")
    assert stored is not None
    assert stored.status == "refused"
    assert "access denied" in str(stored.reason)
    [refusal] = take_refusals()
    assert refusal == (
        "CampaignFunction: GetObject refused "
        "(s3:GetObject on arn:aws:s3:::publishers-own-bucket/a.csv)"
    )


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        (
            "dynamodb",
            "TransactWriteItems",
            {
                "TransactItems": [
                    {"Put": {"TableName": "A"}},
                    {"Update": {"TableName": "B"}},
                    {"Delete": {"TableName": "A"}},
                    {"ConditionCheck": {"TableName": "A"}},
                ]
            },
            [
                "dynamodb:PutItem table/A",
                "dynamodb:UpdateItem table/B",
                "dynamodb:DeleteItem table/A",
                "dynamodb:ConditionCheckItem table/A",
            ],
        ),
        (
            "dynamodb",
            "Query",
            {"TableName": "DeliveriesTable", "IndexName": "MessageIdIndex"},
            [
                "dynamodb:Query table/DeliveriesTable/index/MessageIdIndex",
                "kms:Decrypt key/DataKey",
            ],
        ),
        (
            "sqs",
            "SendMessageBatch",
            {"QueueUrl": "https://sqs.eu-west-3.amazonaws.com/123456789012/SendQueue"},
            [
                "sqs:SendMessage SendQueue",
                "kms:GenerateDataKey key/DataKey",
                "kms:Decrypt key/DataKey",
            ],
        ),
        (
            "s3",
            "HeadObject",
            {"Bucket": "audiencebucket", "Key": "a.csv"},
            ["s3:GetObject audiencebucket/a.csv"],
        ),
        (
            "s3",
            "GetObject",
            {"Bucket": "audiencebucket", "Key": "a.csv"},
            ["s3:GetObject audiencebucket/a.csv", "kms:Decrypt key/DataKey"],
        ),
        (
            "s3",
            "GetObject",
            {"Bucket": "audiencebucket", "Key": "a.csv", "VersionId": "v1"},
            ["s3:GetObjectVersion audiencebucket/a.csv", "kms:Decrypt key/DataKey"],
        ),
        (
            "s3",
            "PutObject",
            {"Bucket": "audiencebucket", "Key": "a.csv", "Tagging": "team=crm"},
            [
                "s3:PutObject audiencebucket/a.csv",
                "s3:PutObjectTagging audiencebucket/a.csv",
                "kms:GenerateDataKey key/DataKey",
            ],
        ),
        (
            "sms-voice",
            "SendTextMessage",
            {"OriginationIdentity": "phone-1234", "ConfigurationSetName": "stopsms"},
            [
                "sms-voice:SendTextMessage phone-number/phone-1234",
                "sms-voice:SendTextMessage configuration-set/stopsms",
            ],
        ),
        (
            "sms-voice",
            "SendTextMessage",
            {"OriginationIdentity": "pool-9"},
            ["sms-voice:SendTextMessage pool/pool-9"],
        ),
        (
            "sms-voice",
            "PutOptedOutNumber",
            {"OptOutListName": "Default", "OptedOutNumber": "+33612345678"},
            ["sms-voice:PutOptedOutNumber opt-out-list/Default"],
        ),
    ],
)
def test_what_a_request_needs(
    aws: Stack, service: str, operation: str, params: dict[str, Any], expected: list[str]
) -> None:
    found = iam.needs(enforcement().arns, service, operation, params)
    assert [f"{n.action} {_tail(n.resource)}" for n in found] == expected


def _tail(arn: str) -> str:
    for marker in (
        ":table/",
        ":key/",
        ":opt-out-list/",
        ":phone-number/",
        ":configuration-set/",
        ":pool/",
        ":::",
    ):
        if marker in arn:
            return (
                arn.split(marker, 1)[1] if marker == ":::" else marker[1:] + arn.split(marker, 1)[1]
            )
    return arn.rsplit(":", 1)[-1]


def _delivery(recipient: str) -> dict[str, Any]:
    return {"campaign_id": {"S": "c"}, "recipient": {"S": recipient}, "body": {"S": json.dumps({})}}


def test_a_secret_named_by_its_name_is_checked_on_its_full_arn(aws: Stack) -> None:
    arns = enforcement().arns
    full = aws.secrets["ErasureKey"]
    for secret_id in ("ErasureKey", full, full.rsplit("-", 1)[0]):
        [need, _kms] = iam.needs(arns, "secretsmanager", "GetSecretValue", {"SecretId": secret_id})
        assert need == iam.Need("secretsmanager:GetSecretValue", full)


def test_publish_batch_is_authorised_as_publish(aws: Stack) -> None:
    topic = aws.topics["InboundTopic"]
    found = iam.needs(enforcement().arns, "sns", "PublishBatch", {"TopicArn": topic})
    assert [n.action for n in found] == ["sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"]


def test_a_policy_with_an_intrinsic_it_cannot_resolve_is_refused(aws: Stack) -> None:
    with pytest.raises(ValueError, match="Fn::Join"):
        enforcement().arns.resolve({"Fn::Join": ["", ["arn:", "x"]]})
