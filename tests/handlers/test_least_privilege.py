"""Least privilege: a tour of every path, then what the template grants that nobody used.

One emulated account, one ``Enforcement``: publishers send campaigns and consent records,
the functions run as their roles (campaign, sender, inbound, consent, scheduler), the
operator runs the CLI with ``OperatorPolicy``. Every request is authorised and counted; at the
end each permission of each principal must have been used, or have a reason in ``REASONS``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError

from stopsms import clock
from stopsms.aws import clients
from stopsms.cli import main
from stopsms.consent import erasure
from stopsms.dal import campaigns, contacts, evidence
from stopsms.dal.tables import GLOBAL_SCOPE, Campaign
from stopsms.emulator import iam
from stopsms.emulator.template import Stack
from stopsms.inbound import replies
from stopsms.inbound.answers import confirmation_text, help_text
from stopsms.reporting import report
from stopsms.settings import get_settings
from tests.handlers.conftest import (
    LambdaContext,
    failed_ids,
    load_function,
    sns_event,
    sqs_record,
)
from tests.handlers.sms import FakeSms, client_error

# principal -> {"<action> on <resource>" (a line of ``Enforcement.unused``): why it is granted}
# Outputs of the stack are read with DescribeStacks (README, "Permissions").
_OUTPUTS = (
    "the README has them read the stack's outputs (queue URLs, table names, the secret); the"
    " emulated resources belong to no CloudFormation stack, so no test describes one"
)
_ANY_IDENTITY = (
    "the origination identity (phone number, pool or sender ID) is chosen per message; the"
    " account and region bound it"
)
_DOCTOR = (
    "`doctor` reads the End User Messaging account (tests/doctor drives each call against the"
    " service model with Stubber; the emulated endpoint has no account to describe)"
)
_UNMIGRATED = (
    "the previous version's items of a number, read until the contact table is migrated"
    " (tests/migration drives it; the tour runs on a new, migrated stack)"
)
_MARKER = "the migration's marker, written by python -m stopsms migrate (tests/migration)"

REASONS: dict[str, dict[str, str]] = {
    "CampaignFunction": {
        "s3:ListBucket on AudienceBucket": "without it S3 answers a missing audience file 403,"
        " not 404 NoSuchKey, and the campaign is refused for the wrong reason (moto answers 404"
        " either way, so no test can show it)",
        "s3:GetObject on AudienceBucket/*": "any audience file a campaign names (publishers"
        " choose the keys)",
    },
    "InboundFunction": {
        "dynamodb:GetItem on IdempotencyTable": "Powertools Idempotency reads the record when a"
        " conditional put is refused without returning the item (DynamoDB returns it, so the"
        " tour's duplicated reply never needs the read)",
        "sms-voice:SendTextMessage on arn:aws:sms-voice:<region>:<account>:*": _ANY_IDENTITY,
        "dynamodb:Query on ContactStateTable": _UNMIGRATED,
    },
    "SchedulerFunction": {"dynamodb:Query on ContactStateTable": _UNMIGRATED},
    "ConsentFunction": {"dynamodb:Query on ContactStateTable": _UNMIGRATED},
    "SenderFunction": {
        "sms-voice:SendTextMessage on arn:aws:sms-voice:<region>:<account>:*": _ANY_IDENTITY,
        "dynamodb:Query on ContactStateTable": _UNMIGRATED,
    },
    "PublisherPolicy": {
        "s3:PutObject on AudienceBucket/*": "publishers choose the keys of their audience files",
        "cloudformation:DescribeStacks on AWS::StackId": _OUTPUTS,
    },
    "OperatorPolicy": {
        "cloudformation:DescribeStacks on AWS::StackId": _OUTPUTS,
        "dynamodb:PutItem on ContactStateTable": _MARKER,
        **{
            f"sms-voice:{action} on arn:aws:sms-voice:<region>:<account>:*": _DOCTOR
            for action in (
                "DescribePhoneNumbers",
                "DescribePools",
                "ListPoolOriginationIdentities",
                "DescribeSenderIds",
                "DescribeRegistrations",
                "DescribeKeywords",
                "DescribeConfigurationSets",
                "DescribeOptOutLists",
            )
        },
        "sms-voice:DescribeSpendLimits on *": _DOCTOR + "; the account's limits name no resource",
    },
    "AuditorPolicy": {
        "cloudformation:DescribeStacks on AWS::StackId": _OUTPUTS,
        "dynamodb:Query on ContactStateTable": _UNMIGRATED,
    },
}

PUBLISHER = "PublisherPolicy"
OPERATOR = "OperatorPolicy"
AUDITOR = "AuditorPolicy"
REGION = "eu-west-3"
EVENTS = Path(__file__).resolve().parents[2] / "events"
SCHEDULED = json.loads((EVENTS / "scheduler.json").read_text(encoding="utf-8"))

CONSENTED_AT = datetime(2026, 10, 1, tzinfo=UTC)
SUNDAY_NOON_PARIS = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
MONDAY_0705 = datetime(2026, 11, 30, 7, 5, tzinfo=UTC)  # just after Monday 08:00 in Paris
MONDAY_10H_PARIS = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MONDAY_19H_PARIS = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)  # 22:00 in La Réunion: closed
TUESDAY_0405 = datetime(2026, 12, 1, 4, 5, tzinfo=UTC)  # 08:05 in La Réunion: open

A = "+33612345601"  # inline campaign, then HELP, STOP, STOPALL (mirror fails), START
B = "+33612345602"  # S3 audience, then STOPALL and START (mirrored at once)
T = "+33612345603"  # throttled once
LISTED = "+33612345604"  # on the AWS opt-out list: the sender learns it
D = "+33612345605"  # a campaign deferred on Sunday
R = "+262692000001"  # La Réunion: its job parked by the sender until its own window opens
E = "+33612345606"  # erased by the operator, then in a campaign
X = "+33612345607"  # an opt-out record from the publisher
V = "+33612345608"  # a reply kept for review
Y = "+33612345609"  # in a previous provider's stop list
P = "+33612345610"  # throttled through every retry of an invocation: left to SQS
Z = "+33612345611"  # in an S3 audience deferred on Sunday, erased before it is released
W = "+33612345612"  # a STOP whose processing crashes until Lambda gives up, then SNS retries


class AuthorisedSms(FakeSms):
    """The fake End User Messaging endpoint (each call authorised as the acting principal);
    ``failing`` lists operations to answer once with an error, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: list[str] = []

    def _call(self, operation: str, params: dict[str, Any]) -> None:
        super()._call(operation, params)
        if operation in self.failing:
            self.failing.remove(operation)
            raise client_error("InternalServerException", operation=operation)


class Tour:
    """The stack's functions wired as Lambda wires them; publishers and the operator act with
    their managed policies, the test itself as admin."""

    def __init__(
        self,
        aws: Stack,
        sms: AuthorisedSms,
        enforcement: iam.Enforcement,
        now: mock.Mock,
    ) -> None:
        self.aws, self.sms, self.enforcement = aws, sms, enforcement
        self.now = now
        self.campaign_fn = load_function("campaign")
        self.sender_fn = load_function("sender")
        self.inbound_fn = load_function("inbound")
        self.consent_fn = load_function("consent")
        self.scheduler_fn = load_function("scheduler")
        self.receipts_fn = load_function("receipts")
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.replies = 0
        self.last_reply: dict[str, Any] = {}

    def at(self, instant: datetime) -> None:
        self.now.return_value = instant

    # -- publishers ------------------------------------------------------------------------
    def publish(self, queue: str, body: dict[str, Any]) -> None:
        with self.enforcement.acting_as(PUBLISHER):
            self.sqs.send_message(QueueUrl=self.aws.queues[queue], MessageBody=json.dumps(body))

    def upload(self, key: str, data: bytes) -> str:
        bucket = self.aws.buckets["AudienceBucket"]
        with self.enforcement.acting_as(PUBLISHER):
            self.s3.put_object(Bucket=bucket, Key=key, Body=data)
        return f"s3://{bucket}/{key}"

    def campaign(self, campaign_id: str, **fields: Any) -> None:
        """A publisher's campaign request, fanned out and sent."""
        self.publish("CampaignQueue", campaign_request(campaign_id, **fields))
        self.drain("CampaignQueue", self.campaign_fn)
        self.drain("SendQueue", self.sender_fn)

    # -- Lambda's side -----------------------------------------------------------------------
    @staticmethod
    def invoke(function: ModuleType, event: dict[str, Any]) -> Any:
        """An invocation (in a process of its own: ``Enforcement.invocation``)."""
        return function.lambda_handler(event, LambdaContext())

    def receive(self, queue: str) -> list[dict[str, Any]]:
        """Every message of a queue as Lambda would deliver it, deleted as read."""
        url, records = self.aws.queues[queue], []
        while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for message in messages:
                record = sqs_record(message["Body"], queue)
                record["messageId"] = message["MessageId"]
                records.append(record)
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return records

    def drain(self, queue: str, function: ModuleType) -> None:
        """Feed a queue to its function until it stays empty (continuations included)."""
        while records := self.receive(queue):
            for start in range(0, len(records), 10):
                batch = {"Records": records[start : start + 10]}
                assert failed_ids(self.invoke(function, batch)) == []

    def send(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The sender invoked with these SendQueue records."""
        result: dict[str, Any] = self.invoke(self.sender_fn, {"Records": records})
        return result

    def reply(self, text: str, phone: str, *, previous: str | None = None) -> Any:
        """The person answers 36111; AWS publishes it on InboundTopic, a minute after the last."""
        self.replies += 1
        payload: dict[str, Any] = {
            "originationNumber": phone,
            "destinationNumber": "36111",
            "messageKeyword": "KEYWORD_123456789012",
            "messageBody": text,
            "inboundMessageId": f"in-{self.replies}",
        }
        if previous is not None:
            payload["previousPublishedMessageId"] = previous
        event = sns_event([payload])
        at = MONDAY_10H_PARIS + timedelta(minutes=self.replies)
        event["Records"][0]["Sns"]["Timestamp"] = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        self.last_reply = event
        [outcome] = self.invoke(self.inbound_fn, event)
        return outcome

    def deliver_last_reply_again(self) -> Any:
        """SNS delivers at least once: the same notification again."""
        [outcome] = self.invoke(self.inbound_fn, self.last_reply)
        return outcome

    def sweep(self, instant: datetime) -> dict[str, int]:
        self.now.return_value = instant
        result: dict[str, int] = self.invoke(self.scheduler_fn, SCHEDULED)
        return result

    # -- the operator ------------------------------------------------------------------------
    def operator(self, *argv: str, acting_as: str = OPERATOR) -> int:
        with self.enforcement.acting_as(acting_as):
            erasure.forget_key()  # the operator's own process
            return main(list(argv))

    # -- what the phones received ------------------------------------------------------------
    def received(self, phone: str, campaign_id: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.sms.to(phone)
            if m["MessageType"] == "PROMOTIONAL" and m["Context"]["campaign_id"] == campaign_id
        ]

    def delivery_events(self, *events: dict[str, Any]) -> None:
        """End User Messaging reports on SMS sent; the topic's raw subscription queues them."""
        url = self.aws.queues["DeliveryEventsQueue"]
        for event in events:
            self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
        self.drain("DeliveryEventsQueue", self.receipts_fn)

    def answers(self, phone: str) -> list[str]:
        return [m["MessageBody"] for m in self.sms.to(phone) if m["MessageType"] == "TRANSACTIONAL"]


def campaign_request(campaign_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "category": "marketing",
        "brand": "acme",
        "body": "Promo -20% ce week-end !",
        **fields,
    }


def deliveries_of(phone: str) -> list[dict[str, Any]]:
    """Delivery records keyed by this number (read as the test, not as a principal)."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    items = dynamodb.scan(TableName="DeliveriesTable")["Items"]
    return [item for item in items if item["recipient"]["S"] == f"p#{phone}"]


def opted_out(phone: str) -> set[str]:
    return {s.scope for s in contacts.state_of(phone) if s.status == "opted_out"}


@pytest.fixture
def enforcement(aws: Stack) -> iam.Enforcement:
    found = iam.current()
    assert found is not None, "the aws fixture enforces IAM"
    return found


@pytest.fixture
def tour(
    aws: Stack, enforcement: iam.Enforcement, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Tour]:
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")  # no waiting for the limiter
    get_settings.cache_clear()
    sms = AuthorisedSms()
    with (
        mock.patch.object(clients, "sms", return_value=sms),
        mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS) as now,
    ):
        yield Tour(aws, sms, enforcement, now)


def delivery_event(sms: dict[str, Any], status: str, context: dict[str, str]) -> dict[str, Any]:
    """A delivery event of contract §7 for an SMS the fake endpoint sent."""
    return {
        "eventType": f"TEXT_{status}",
        "eventVersion": "1.0",
        "eventTimestamp": 1_796_115_705_000 + (0 if status == "PENDING" else 1_000),
        "isFinal": status != "PENDING",
        "destinationPhoneNumber": sms["DestinationPhoneNumber"],
        "messageId": sms["MessageId"],
        "messageStatus": status,
        "messageStatusDescription": status.lower(),
        "context": context,
        "totalMessageParts": 1,
        "totalMessagePrice": 0.07,
        "totalCarrierFee": 0.0,
    }


def run_the_tour(
    tour: Tour, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sms = tour.sms

    # Consent intake: a publisher's opt-ins, and one opt-out, through ConsentQueue
    for phone in (A, B, T, LISTED, D, R, E, P, Z):
        tour.publish(
            "ConsentQueue",
            {
                "action": "opt_in",
                "phone": phone,
                "brand": "acme",
                "source": "web-form https://acme.example/newsletter",
                "captured_at": CONSENTED_AT.isoformat(),
                "proof": {"ip": "203.0.113.7"},
            },
        )
    opt_out = {
        "action": "opt_out",
        "phone": X,
        "brand": "acme",
        "source": "customer-service call",
        "captured_at": CONSENTED_AT.isoformat(),
    }
    tour.publish("ConsentQueue", opt_out)
    tour.drain("ConsentQueue", tour.consent_fn)
    # ... and the opt-out published again (SQS delivers at least once): kept once
    tour.publish("ConsentQueue", opt_out)
    tour.drain("ConsentQueue", tour.consent_fn)
    assert [e.kind for e in evidence.history(X)] == ["opt_out"]
    assert opted_out(X) == {"acme"}
    assert {s.status for s in contacts.state_of(A)} == {"opted_in"}

    # Fan-out of an inline campaign; the sender sends, retries a throttled SMS, learns an
    # opt-out from AWS's list
    sms.opted_out.add(LISTED)
    throttled: list[str] = []

    def throttle_once(params: dict[str, Any]) -> ClientError | None:
        if params["DestinationPhoneNumber"] == T and not throttled:
            throttled.append(T)
            return client_error("ThrottlingException")
        return None

    sms.fail = throttle_once
    tour.campaign("inline-1", recipients=[A, T, LISTED])
    sms.fail = lambda _: None
    assert throttled == [T]
    assert (len(tour.received(A, "inline-1")), len(tour.received(T, "inline-1"))) == (1, 1)
    assert tour.received(LISTED, "inline-1") == []
    assert opted_out(LISTED) == {GLOBAL_SCOPE}
    assert report("inline-1")["sent"] == 2
    # Their delivery events, found by their context and number
    [to_a], [to_t] = tour.received(A, "inline-1"), tour.received(T, "inline-1")
    tour.delivery_events(
        delivery_event(to_a, "PENDING", context=to_a["Context"]),
        delivery_event(to_t, "BLOCKED", context=to_t["Context"]),
    )
    assert report("inline-1")["delivery"] == {
        "delivered": 0,
        "undelivered": {"blocked": 1},
        "awaiting": 1,
    }
    # (delivered after all, at the same instant: its destination's failure is withdrawn)
    tour.delivery_events(delivery_event(to_t, "DELIVERED", context=to_t["Context"]))
    assert report("inline-1")["delivery"] == {"delivered": 1, "undelivered": {}, "awaiting": 1}
    # Throttling that outlasts an invocation's retries: handed back to SQS, then sent
    sms.fail = lambda p: (
        client_error("ThrottlingException") if p["DestinationPhoneNumber"] == P else None
    )
    tour.publish("CampaignQueue", campaign_request("throttled-1", recipients=[P]))
    tour.drain("CampaignQueue", tour.campaign_fn)
    [job] = tour.receive("SendQueue")
    assert failed_ids(tour.send([job])) == [job["messageId"]]
    assert report("throttled-1")["pending"] == 1
    sms.fail = lambda _: None
    redelivered = {**job, "attributes": {**job["attributes"], "ApproximateReceiveCount": "2"}}
    assert failed_ids(tour.send([redelivered])) == []
    assert len(tour.received(P, "throttled-1")) == 1

    # Fan-out of an S3 audience the publisher uploaded (checked, then sliced)
    uri = tour.upload("audiences/s3-1.csv", f"phone,first_name\n{B},Tom\n".encode())
    tour.campaign("s3-1", audience={"s3_uri": uri}, body="Bonjour {first_name}, -20% ce week-end !")
    [sent] = tour.received(B, "s3-1")
    assert sent["MessageBody"].startswith("Bonjour Tom")

    # A duplicated send job: in one batch, then redelivered; one SMS
    tour.publish("CampaignQueue", campaign_request("dup-1", recipients=[A], body="Encore -10% !"))
    tour.drain("CampaignQueue", tour.campaign_fn)
    [job] = tour.receive("SendQueue")
    twin = {**job, "messageId": str(uuid.uuid4())}
    assert failed_ids(tour.send([job, twin])) == []
    assert failed_ids(tour.send([twin])) == []
    assert len(tour.received(A, "dup-1")) == 1

    # Marketing outside the window: a campaign requested on Sunday is deferred whole (an S3
    # audience: a number erased while it waits is set aside when it is released)...
    tour.at(SUNDAY_NOON_PARIS)
    uri = tour.upload("audiences/sunday-1.csv", f"phone\n{D}\n{Z}\n".encode())
    tour.campaign("sunday-1", audience={"s3_uri": uri})
    stored = campaigns.get("sunday-1")
    assert stored is not None
    assert stored.status == "deferred"
    tour.at(MONDAY_10H_PARIS)
    assert tour.operator("erase", Z, "--yes") == 0
    # ... and a recipient whose own window is closed has their job parked by the sender
    tour.at(MONDAY_19H_PARIS)
    tour.campaign("dom-1", recipients=[R])
    assert tour.received(R, "dom-1") == []
    assert [item.deferred for item in Campaign.scan() if item.deferred == "job"] == ["job"]

    # The scheduler releases the deferred campaign at the opening, the parked job at its own
    tour.at(MONDAY_10H_PARIS)
    assert tour.sweep(MONDAY_0705) == {"campaigns": 1, "jobs": 0, "mirrors": 0}
    tour.at(MONDAY_0705)
    tour.drain("CampaignQueue", tour.campaign_fn)
    tour.drain("SendQueue", tour.sender_fn)
    assert len(tour.received(D, "sunday-1")) == 1
    assert tour.sms.to(Z) == []
    assert tour.sweep(TUESDAY_0405) == {"campaigns": 0, "jobs": 1, "mirrors": 0}
    tour.at(TUESDAY_0405)
    tour.drain("SendQueue", tour.sender_fn)
    assert len(tour.received(R, "dom-1")) == 1
    tour.at(MONDAY_10H_PARIS)

    # The operator erases a number; a campaign naming it later does not reach it
    assert tour.operator("erase", E, "--yes") == 0
    tour.campaign("after-erasure", recipients=[E, A])
    assert tour.received(E, "after-erasure") == []
    assert len(tour.received(A, "after-erasure")) == 1

    # Inbound replies, mirroring to the AWS opt-out list on
    monkeypatch.setenv("STOPSMS_MIRROR_OPT_OUTS", "true")
    get_settings.cache_clear()
    [first] = tour.received(A, "inline-1")
    tour.reply("HELP", A, previous=first["MessageId"])
    tour.reply("STOP", A, previous=first["MessageId"])
    tour.deliver_last_reply_again()  # answered once
    assert tour.answers(A) == [help_text("acme", "36111"), confirmation_text("acme")]
    assert opted_out(A) == {"acme"}
    assert sms.opted_out == {LISTED}  # a brand's STOP stays off the shared list
    # STOPALL and START mirrored at once
    [bs] = tour.received(B, "s3-1")
    tour.reply("STOPALL", B)
    assert GLOBAL_SCOPE in opted_out(B)
    assert B in sms.opted_out
    tour.reply("START", B, previous=bs["MessageId"])
    assert B not in sms.opted_out
    # STOPALL whose mirror fails, and fails again at the scheduler's first try: parked twice,
    # then made by the scheduler
    sms.failing += ["PutOptedOutNumber", "PutOptedOutNumber"]
    tour.reply("STOPALL", A)
    assert GLOBAL_SCOPE in opted_out(A)
    assert A not in sms.opted_out
    later = MONDAY_10H_PARIS + timedelta(hours=1)
    assert tour.sweep(later) == {"campaigns": 0, "jobs": 0, "mirrors": 0}
    assert tour.sweep(later + timedelta(hours=1)) == {"campaigns": 0, "jobs": 0, "mirrors": 1}
    assert A in sms.opted_out
    # START whose removal fails: parked, then made by the scheduler
    sms.failing.append("DeleteOptedOutNumber")
    tour.reply("START", A)
    assert A in sms.opted_out
    assert tour.sweep(later + timedelta(hours=2)) == {"campaigns": 0, "jobs": 0, "mirrors": 1}
    assert A not in sms.opted_out

    # The operator's commands
    capsys.readouterr()
    assert tour.operator("report", "inline-1") == 0
    assert tour.operator("report", "inline-1", "--json") == 0
    assert tour.operator("status", A) == 0
    assert tour.operator("failing", "--json") == 0
    assert tour.operator("cancel", "not-published-yet") == 0  # a cancel before its campaign
    # A dry run of a request on disk: decided by the fan-out and the sender, nothing sent
    estimated = tmp_path / "estimated.json"
    estimated.write_text(json.dumps(campaign_request("estimated", recipients=[D, T])))
    assert tour.operator("estimate", str(estimated), "--no-wait") == 0
    tour.drain("CampaignQueue", tour.campaign_fn)
    tour.drain("SendQueue", tour.sender_fn)
    assert report("estimated")["estimate"]["would_send"] == 2
    assert tour.received(D, "estimated") == []
    # An S3 campaign paused after its first slice: the sender parks that slice's job, the
    # fan-out parks its next slice; the resume releases both, and both are sent once
    monkeypatch.setenv("STOPSMS_FANOUT_SLICE_ROWS", "1")
    get_settings.cache_clear()
    uri = tour.upload("paused.csv", f"phone\n{D}\n{T}\n".encode())
    tour.publish("CampaignQueue", campaign_request("paused-1", audience={"s3_uri": uri}))
    for _step in range(2):  # the check, then the first slice
        assert (
            failed_ids(tour.invoke(tour.campaign_fn, {"Records": tour.receive("CampaignQueue")}))
            == []
        )
    assert tour.operator("pause", "paused-1") == 0
    tour.drain("CampaignQueue", tour.campaign_fn)
    tour.drain("SendQueue", tour.sender_fn)
    assert tour.received(D, "paused-1") == []
    assert tour.operator("resume", "paused-1") == 0
    tour.drain("CampaignQueue", tour.campaign_fn)
    tour.drain("SendQueue", tour.sender_fn)
    assert [len(tour.received(phone, "paused-1")) for phone in (D, T)] == [1, 1]
    monkeypatch.delenv("STOPSMS_FANOUT_SLICE_ROWS")
    get_settings.cache_clear()
    exported = tmp_path / "optouts.csv"
    assert tour.operator("optouts", "export", "-o", str(exported)) == 0
    assert LISTED in exported.read_text(encoding="utf-8")
    stop_list = tmp_path / "previous.csv"
    stop_list.write_text(f"phone,brand,opted_out_at\n{Y},acme,{CONSENTED_AT.isoformat()}\n")
    assert tour.operator("optouts", "import", str(stop_list), "--source", "old-provider") == 0
    assert opted_out(Y) == {"acme"}

    # A reply that may be an opt-out waits for the operator, who reviews it
    tour.reply("Don't stop me now", V)
    capsys.readouterr()
    assert tour.operator("replies", "--json") == 0
    [waiting] = json.loads(capsys.readouterr().out)
    assert waiting["phone"] == V
    assert tour.operator("replies", "--apply", waiting["id"]) == 0
    assert tour.operator("replies") == 0
    assert "no reply is waiting for review" in capsys.readouterr().out
    assert opted_out(V)

    # A reply whose processing crashes: Powertools forgets its record, Lambda's retries fail
    # too, and Lambda sends the event to the OnFailure queue; SNS's next delivery completes it
    crashes = [RuntimeError("Lambda ran out of time")] * 3

    def apply_then_crash(*args: Any, **kwargs: Any) -> Any:
        applied = original_apply(*args, **kwargs)
        if crashes:
            raise crashes.pop()
        return applied

    original_apply = replies.contacts.apply
    monkeypatch.setattr(replies.contacts, "apply", apply_then_crash)
    for _attempt in range(3):
        with pytest.raises(replies.RepliesFailed):
            tour.reply("STOP", W)
        tour.replies -= 1  # the same reply, retried
    tour.reply("STOP", W)
    assert opted_out(W)

    # The auditor answers an audit's questions, reading only
    assert tour.operator("report", "inline-1", acting_as=AUDITOR) == 0
    assert tour.operator("status", W, acting_as=AUDITOR) == 0
    # (an auditor may not read the erasure key: status says so, and that is the one refusal)
    assert [str(r) for r in tour.enforcement.refusals] == [
        f"{AUDITOR}: GetSecretValue refused (secretsmanager:GetSecretValue on "
        f"{tour.aws.secrets['ErasureKey']})"
    ]
    tour.enforcement.refusals.clear()
    assert tour.operator("optouts", "export", "-o", str(exported), acting_as=AUDITOR) == 0
    assert tour.operator("replies", acting_as=AUDITOR) == 0
    assert tour.operator("failing", acting_as=AUDITOR) == 0

    # Someone who received SMS asks to be forgotten: their delivery records are re-keyed
    assert tour.received(A, "inline-1")
    assert deliveries_of(A)
    assert tour.operator("erase", A, "--yes") == 0
    assert not deliveries_of(A)
    # A's SMS is delivered after the erasure: its claim, moved, is found by its message id
    tour.delivery_events(delivery_event(to_a, "DELIVERED", context=to_a["Context"]))
    assert report("inline-1")["delivery"]["delivered"] == 2  # and T's, earlier


def test_every_permission_is_used_by_some_path_or_has_a_reason(
    tour: Tour,
    enforcement: iam.Enforcement,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    principals = [name for name in enforcement.principals if name != iam.ADMIN]
    try:
        run_the_tour(tour, monkeypatch, tmp_path, capsys)
    finally:  # shown even when the tour stopped at a refusal (then it is incomplete)
        with capsys.disabled():
            print("\nafter the tour, granted but unused, or granted by a pattern:")
            for name in principals:
                lines = enforcement.unused(name) + enforcement.wildcards(name)
                print(f"{name}:" if lines else f"{name}: (none)")
                for line in lines:
                    print(f"  {line}  <- {REASONS.get(name, {}).get(line, 'NO REASON')}")
    assert [str(r) for r in enforcement.refusals] == []

    # Each unused grant, and each grant by a pattern (one use makes it "used" whatever else it
    # allows), has its reason; no reason is left for a grant that is gone or now used.
    to_explain = {
        name: enforcement.unused(name) + enforcement.wildcards(name) for name in principals
    }
    unexplained = {
        name: [line for line in lines if line not in REASONS.get(name, {})]
        for name, lines in to_explain.items()
    }
    stale = {
        name: [line for line in reasons if line not in to_explain.get(name, [])]
        for name, reasons in REASONS.items()
    }
    unexplained = {name: lines for name, lines in unexplained.items() if lines}
    assert not unexplained, "granted, unused or by a pattern, and no reason in REASONS:\n" + (
        json.dumps(unexplained, indent=4)
    )
    stale = {name: lines for name, lines in stale.items() if lines}
    assert not stale, "in REASONS, but used by the tour or no longer granted:\n" + (
        json.dumps(stale, indent=4)
    )


def test_no_permission_is_granted_twice(aws: Stack) -> None:
    enforcement = iam.current()
    assert enforcement is not None
    twice = {name: enforcement.duplicates(name) for name in enforcement.principals}
    assert {name: lines for name, lines in twice.items() if lines} == {}
