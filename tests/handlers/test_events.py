"""Every sample event of ``events/`` (what ``sam local invoke -e`` takes) through its real handler.

Each file is mapped to the template function it is for; a file nobody maps, or a function of the
template without a sample, fails here. Each event must have the AWS shape of its function's
trigger, and its test asserts what the function did with it: what was sent, stored, queued.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SnsModel, SqsModel
from pydantic import BaseModel

from stopsms import clock
from stopsms.aws import clients
from stopsms.dal import campaigns, contacts, deferred, deliveries, evidence
from stopsms.dal.campaigns import CampaignStatus
from stopsms.dal.tables import Campaign, Delivery
from stopsms.emulator import template
from stopsms.emulator.template import Stack
from stopsms.inbound.answers import confirmation_text, help_text
from stopsms.rules.eligibility import Preference
from stopsms.settings import get_settings
from tests.handlers.conftest import LambdaContext, failed_ids, load_function
from tests.handlers.sms import FakeSms

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"

# Every sample event -> the template function (logical ID) it is for.
FUNCTION_OF = {
    "campaign_request.json": "CampaignFunction",
    "campaign_s3.json": "CampaignFunction",
    "consent_opt_in.json": "ConsentFunction",
    "consent_opt_out.json": "ConsentFunction",
    "delivery_events.json": "ReceiptsFunction",
    "inbound_help.json": "InboundFunction",
    "inbound_stop.json": "InboundFunction",
    "scheduler.json": "SchedulerFunction",
    "send_job.json": "SenderFunction",
}
# The AWS shape of each kind of trigger (Powertools' models of the real events).
SHAPES: dict[str, type[BaseModel]] = {
    "SQS": SqsModel,
    "SNS": SnsModel,
    "ScheduleV2": EventBridgeModel,
}

PHONE = "+33612345678"  # "06 12 34 56 78" of the samples
OTHER = "+33698765432"
MONDAY_10H_PARIS = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # sending window open
CONSENTED_AT = datetime(2026, 10, 1, tzinfo=UTC)


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def bodies(name: str) -> list[dict[str, Any]]:
    return [json.loads(record["body"]) for record in event(name)["Records"]]


def functions() -> dict[str, dict[str, Any]]:
    return template.resources_of(template.load(), "AWS::Serverless::Function")


def invoke(name: str, context: LambdaContext) -> Any:
    """Run the sample through the handler of its function, as Lambda would."""
    code_uri = functions()[FUNCTION_OF[name]]["CodeUri"]
    module = load_function(Path(code_uri).name)
    return module.lambda_handler(event(name), context)


def receive_all(url: str) -> list[dict[str, Any]]:
    """The bodies of every message of a (small) queue, deleted as read."""
    sqs = boto3.client("sqs", region_name="eu-west-3")
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        found += [json.loads(message["Body"]) for message in batch]
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def jobs(aws: Stack) -> list[dict[str, Any]]:
    return sorted(receive_all(aws.queues["SendQueue"]), key=lambda job: job["seq"])


def state(phone: str, brand: str = "acme") -> tuple[Preference | None, Preference | None]:
    return contacts.lookup([phone], brand)[phone]


@pytest.fixture
def sms(aws: Stack) -> Iterator[FakeSms]:
    fake = FakeSms()
    with mock.patch.object(clients, "sms", return_value=fake):
        yield fake


# --- every file, every function, the right shape ------------------------------------------------


def test_every_event_file_is_mapped_to_a_function() -> None:
    files = sorted(path.name for path in EVENTS.iterdir() if path.is_file())
    assert files == sorted(FUNCTION_OF), "map each events/ file in FUNCTION_OF and test it here"


def test_every_function_of_the_template_has_a_sample_event() -> None:
    assert sorted(set(FUNCTION_OF.values())) == sorted(functions())


@pytest.mark.parametrize("name", sorted(FUNCTION_OF))
def test_each_event_has_the_aws_shape_of_its_functions_trigger(name: str) -> None:
    # Given the trigger the template declares for the function
    [trigger] = functions()[FUNCTION_OF[name]]["Events"].values()
    sample = event(name)
    # Then the sample is what that trigger delivers
    SHAPES[trigger["Type"]].model_validate(sample)
    properties = trigger["Properties"]
    if trigger["Type"] == "SQS":
        queue = properties["Queue"]["Fn::GetAtt"][0]
        assert {r["eventSourceARN"].rsplit(":", 1)[1] for r in sample["Records"]} == {queue}
    elif trigger["Type"] == "SNS":
        topic = properties["Topic"]["Ref"]
        assert {r["Sns"]["TopicArn"].rsplit(":", 1)[1] for r in sample["Records"]} == {topic}
    else:
        assert (sample["source"], sample["detail-type"]) == ("aws.scheduler", "Scheduled Event")


# --- CampaignFunction ---------------------------------------------------------------------------


def test_campaign_request_queues_one_send_job_per_recipient(
    aws: Stack, context: LambdaContext
) -> None:
    # Given the sending window is open
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        # When the contract example is handled
        response = invoke("campaign_request.json", context)
    # Then it is recorded and each recipient is one job on SendQueue
    assert failed_ids(response) == []
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert (record.status, record.audience) == ("queued", 2)
    queued = jobs(aws)
    assert [(j["seq"], j["phone"], j["vars"]) for j in queued] == [
        (0, "06 12 34 56 78", {"first_name": "Léa"}),
        (1, "+33698765432", {}),
    ]
    # And the first job is exactly the marketing job of the sender's sample event
    assert queued[0] == bodies("send_job.json")[0]


def test_campaign_s3_streams_the_csv_audience(aws: Stack, context: LambdaContext) -> None:
    # Given the CSV the request names, in the stack's audience bucket
    boto3.client("s3", region_name="eu-west-3").put_object(
        Bucket=aws.buckets["AudienceBucket"],
        Key="audiences/rentree-2026.csv",
        Body="phone,first_name\n06 12 34 56 78,Léa\n+33698765432,Tom\n".encode(),
    )
    assert bodies("campaign_s3.json")[0]["audience"]["s3_uri"] == (
        f"s3://{aws.buckets['AudienceBucket']}/audiences/rentree-2026.csv"
    )
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        response = invoke("campaign_s3.json", context)
        # The file is checked whole first; its fan-out starts with the next message
        campaign_fn = load_function("campaign")
        for body in receive_all(aws.queues["CampaignQueue"]):
            record = {**event("campaign_s3.json")["Records"][0], "body": json.dumps(body)}
            assert failed_ids(campaign_fn.lambda_handler({"Records": [record]}, context)) == []
    # Then every row is a job, its other columns the recipient's vars
    assert failed_ids(response) == []
    assert [(j["campaign_id"], j["seq"], j["phone"], j["vars"]) for j in jobs(aws)] == [
        ("rentree-2026", 0, "06 12 34 56 78", {"first_name": "Léa"}),
        ("rentree-2026", 1, "+33698765432", {"first_name": "Tom"}),
    ]
    record = campaigns.get("rentree-2026")
    assert record is not None
    assert (record.status, record.audience) == ("queued", 2)


# --- SenderFunction -----------------------------------------------------------------------------


@pytest.fixture
def open_window(aws: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")  # no waiting for the rate limiter
    get_settings.cache_clear()
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        yield


@pytest.mark.usefixtures("open_window")
def test_send_job_sends_the_marketing_and_the_transactional_sms(
    sms: FakeSms, context: LambdaContext
) -> None:
    # Given the person of the marketing job opted in to acme
    contacts.apply(PHONE, "acme", "opted_in", CONSENTED_AT, source="web-form")
    # When the send jobs are handled
    response = invoke("send_job.json", context)
    # Then each gets exactly one SMS: marketing with its STOP mention, transactional without
    # (sent concurrently: the order they leave in is not a promise)
    assert failed_ids(response) == []
    assert sorted(
        (m["DestinationPhoneNumber"], m["MessageType"], m["MessageBody"]) for m in sms.sent
    ) == [
        (PHONE, "PROMOTIONAL", "Bonjour Léa, -20% ce week-end chez Acme ! STOP au 36111"),
        (
            OTHER,
            "TRANSACTIONAL",
            "Acme : votre commande 48213 est en route, livraison prévue le 2 décembre.",
        ),
    ]
    [marketing], [transactional] = sms.to(PHONE), sms.to(OTHER)
    assert marketing["OriginationIdentity"] == "36111"
    assert marketing["Context"] == {"campaign_id": "soldes-hiver-2026", "seq": "0"}
    assert "OriginationIdentity" not in transactional  # the template's default is empty
    # And each is stored as sent, with its outbound MessageId
    for campaign_id, phone, sent in [
        ("soldes-hiver-2026", PHONE, marketing),
        ("expedition-48213", OTHER, transactional),
    ]:
        item = Delivery.get(campaign_id, deliveries.claim_key(phone))
        assert (item.status, item.message_id) == ("sent", sent["MessageId"])


@pytest.mark.usefixtures("open_window")
def test_delivery_events_fold_into_the_sms_they_report(
    sms: FakeSms, context: LambdaContext
) -> None:
    # Given the send jobs sent (the marketing one to a person who opted in)
    contacts.apply(PHONE, "acme", "opted_in", CONSENTED_AT, source="web-form")
    invoke("send_job.json", context)
    [marketing] = sms.to(PHONE)
    claim = (
        "soldes-hiver-2026",
        deliveries.claim_key(PHONE),
    )
    # When the sample's events arrive as they are: their message ids are not ours
    assert failed_ids(invoke("delivery_events.json", context)) == []
    assert Delivery.get(*claim).receipt_status is None
    # And again, the first now for the SMS just sent
    sample = event("delivery_events.json")
    delivered = json.loads(sample["Records"][0]["body"]) | {"messageId": marketing["MessageId"]}
    sample["Records"][0]["body"] = json.dumps(delivered)
    receipts = load_function("receipts")
    assert failed_ids(receipts.lambda_handler(sample, context)) == []
    # Then that SMS is delivered, at its price, and the other event is still ignored
    item = Delivery.get(*claim)
    assert (item.receipt_status, item.price_micros, item.fee_micros, item.carrier) == (
        "DELIVERED",
        70_000,
        3_000,
        "208-01 Orange France",
    )
    assert Delivery.get("expedition-48213", deliveries.claim_key(OTHER)).receipt_status is None


@pytest.mark.usefixtures("open_window")
def test_send_job_without_consent_sends_only_the_transactional_sms(
    sms: FakeSms, context: LambdaContext
) -> None:
    # Given no opt-in is recorded (the template's ConsentPolicy is enforce)
    response = invoke("send_job.json", context)
    # Then the marketing recipient is suppressed, the transactional one still served
    assert failed_ids(response) == []
    assert [m["DestinationPhoneNumber"] for m in sms.sent] == [OTHER]
    item = Delivery.get("soldes-hiver-2026", deliveries.claim_key(PHONE))
    assert (item.status, item.reason) == ("suppressed", "no_consent")


# --- ConsentFunction ----------------------------------------------------------------------------


def test_consent_opt_in_is_kept_with_its_proof_and_applied(
    aws: Stack, context: LambdaContext
) -> None:
    response = invoke("consent_opt_in.json", context)
    assert failed_ids(response) == []
    [kept] = evidence.history(PHONE)
    assert (kept.kind, kept.brand, kept.source) == (
        "opt_in",
        "acme",
        "web-form https://acme.example/newsletter",
    )
    assert kept.proof == bodies("consent_opt_in.json")[0]["proof"]
    assert state(PHONE) == (Preference("opted_in", datetime(2026, 11, 20, 13, 3, tzinfo=UTC)), None)


def test_consent_opt_out_in_national_format_suppresses_the_number(
    aws: Stack, context: LambdaContext
) -> None:
    response = invoke("consent_opt_out.json", context)
    assert failed_ids(response) == []
    [kept] = evidence.history(PHONE)
    assert (kept.kind, kept.source) == ("opt_out", "customer-service call #48213")
    assert state(PHONE) == (
        Preference("opted_out", datetime(2026, 11, 25, 8, 30, tzinfo=UTC)),
        None,
    )


# --- InboundFunction ----------------------------------------------------------------------------


@pytest.fixture
def acme_number(aws: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # The README's InboundBrands example: replies to 36111 are acme's.
    monkeypatch.setenv("STOPSMS_INBOUND_BRANDS", "36111=acme,+33700000001=globex")
    get_settings.cache_clear()


REPLIED_AT = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)  # the samples' SNS Timestamp


@pytest.mark.usefixtures("acme_number")
def test_inbound_stop_opts_out_and_confirms_once(sms: FakeSms, context: LambdaContext) -> None:
    [outcome] = invoke("inbound_stop.json", context)
    # Then the number is suppressed for acme, with the reply as evidence
    assert (outcome["intent"], outcome["brand"], outcome["applied"]) == (
        "opt_out",
        "acme",
        ["acme"],
    )
    assert state(PHONE) == (Preference("opted_out", REPLIED_AT), None)
    [kept] = evidence.history(PHONE)
    assert (kept.kind, kept.text, kept.inbound_message_id) == (
        "opt_out",
        "Stop",
        "cae173d2-66b9-564c-8309-21f858e9fb84",
    )
    # And one confirmation goes back from the number replied to
    [answer] = sms.sent
    assert (answer["DestinationPhoneNumber"], answer["OriginationIdentity"]) == (PHONE, "36111")
    assert answer["MessageBody"] == confirmation_text("acme")
    assert answer["MessageType"] == "TRANSACTIONAL"
    # And the same notification delivered again changes and sends nothing more
    invoke("inbound_stop.json", context)
    assert len(sms.sent) == 1
    assert len(evidence.history(PHONE)) == 1


@pytest.mark.usefixtures("acme_number")
def test_inbound_help_is_answered_and_changes_no_state(
    sms: FakeSms, context: LambdaContext
) -> None:
    [outcome] = invoke("inbound_help.json", context)
    assert (outcome["intent"], outcome["answered"]) == ("help", True)
    [answer] = sms.sent
    assert answer["MessageBody"] == help_text("acme", "36111")
    assert answer["DestinationPhoneNumber"] == PHONE
    [kept] = evidence.history(PHONE)
    assert (kept.kind, kept.text) == ("help", "Aide ?")
    assert state(PHONE) == (None, None)


# --- SchedulerFunction --------------------------------------------------------------------------


def test_scheduler_releases_what_is_due_at_the_events_time(
    aws: Stack, context: LambdaContext
) -> None:
    sample = event("scheduler.json")
    at = datetime.fromisoformat(sample["time"])  # Monday 08:05 in Paris
    # Given a campaign deferred to Monday's opening, one deferred to Tuesday, and a parked job
    request = bodies("campaign_request.json")[0]
    campaigns.create(
        "soldes-hiver-2026",
        request,
        CampaignStatus.DEFERRED,
        deferred=deferred.CAMPAIGN,
        resume_at="2026-11-30T07:00:00+00:00",
    )
    campaigns.create(
        "later",
        {**request, "campaign_id": "later"},
        CampaignStatus.DEFERRED,
        deferred=deferred.CAMPAIGN,
        resume_at="2026-12-01T07:00:00+00:00",
    )
    parked = bodies("send_job.json")[0]
    deferred.park_job("soldes-hiver-2026", 0, parked, datetime(2026, 11, 30, 7, 0, tzinfo=UTC))
    # When the scheduler runs at the sample's time
    with mock.patch.object(clock, "now", return_value=at):
        released = invoke("scheduler.json", context)
    # Then what was due is released once: the campaign to CampaignQueue, the job to SendQueue
    assert released == {"campaigns": 1, "jobs": 1, "mirrors": 0}
    assert receive_all(aws.queues["CampaignQueue"]) == [
        {"release": {"campaign_id": "soldes-hiver-2026"}}
    ]
    assert receive_all(aws.queues["SendQueue"]) == [parked]
    # And only Tuesday's campaign still waits
    waiting = [key for key, _ in deferred.due(deferred.CAMPAIGN, datetime(2027, 1, 1, tzinfo=UTC))]
    assert waiting == ["later"]
    assert list(deferred.due(deferred.JOB, at)) == []
    assert Campaign.count() == 2  # the released job's parking item is gone
