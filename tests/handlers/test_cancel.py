"""Cancelling a campaign (contract §2) through the real campaign, sender and scheduler
functions: no SMS of it leaves once the cancellation is recorded, whatever was already queued,
deferred, or still to arrive; the report reconciles (``audience`` = sent + failed + pending +
cancelled + suppressed)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
import pytest

from stopsms import clock
from stopsms.cli import main
from stopsms.dal import campaigns, deliveries
from stopsms.dal.tables import Campaign, Delivery
from stopsms.emulator import iam
from stopsms.emulator.template import Stack
from stopsms.reporting import report
from stopsms.settings import get_settings
from tests.handlers.conftest import LambdaContext, failed_ids, load_function, sqs_record
from tests.handlers.sms import FakeSms
from tests.handlers.test_campaign import upload
from tests.handlers.test_receipts import emitted
from tests.handlers.test_stop_scope import MONDAY_10H_PARIS, Pipeline

PHONES = [f"+3361234{n:04d}" for n in range(15)]
SUNDAY_10H_PARIS = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


class Campaigns(Pipeline):
    """The pipeline, with the send jobs left on SendQueue until asked for."""

    def request(self, campaign_id: str, **fields: Any) -> list[str]:
        body = {
            "campaign_id": campaign_id,
            "category": "transactional",
            "body": "Votre colis arrive demain.",
            "recipients": PHONES,
            **fields,
        }
        return self.to_campaign_queue(body)

    def cancel(self, campaign_id: str) -> list[str]:
        return self.to_campaign_queue({"action": "cancel", "campaign_id": campaign_id})

    def to_campaign_queue(self, body: dict[str, Any]) -> list[str]:
        record = sqs_record(body, "CampaignQueue")
        failed = failed_ids(self.campaign_fn.lambda_handler({"Records": [record]}, LambdaContext()))
        self._drain("CampaignQueue", self.campaign_fn)
        return failed

    def step(self) -> None:
        """Handle the next message on CampaignQueue (a slice of a check or of a fan-out)."""
        url = self.aws.queues["CampaignQueue"]
        [message] = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        record = sqs_record(message["Body"], "CampaignQueue")
        assert (
            failed_ids(self.campaign_fn.lambda_handler({"Records": [record]}, LambdaContext()))
            == []
        )

    def send(self, batches: int | None = None) -> None:
        """Feed the sender ``batches`` batches of 10 jobs (all of them by default)."""
        if batches is None:
            self._drain("SendQueue", self.sender_fn)
            return
        url = self.aws.queues["SendQueue"]
        for _ in range(batches):
            messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
            records = []
            for message in messages:
                record = sqs_record(message["Body"], "SendQueue")
                record["messageId"] = message["MessageId"]
                records.append(record)
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            handled = self.sender_fn.lambda_handler({"Records": records}, LambdaContext())
            assert failed_ids(handled) == []

    def sent_to(self, campaign_id: str) -> list[str]:
        return [
            m["DestinationPhoneNumber"]
            for m in self.sms.sent
            if m["Context"]["campaign_id"] == campaign_id
        ]


@pytest.fixture
def pipe(aws: Stack, fake: FakeSms, monkeypatch: pytest.MonkeyPatch) -> Iterator[Campaigns]:
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        yield Campaigns(aws, fake)


def reconciles(shown: dict[str, Any]) -> bool:
    parts = shown["sent"] + shown["failed"] + shown["pending"] + shown["cancelled"]
    return bool(shown["audience"] == parts + sum(shown["suppressed"].values()))


def cancelled_records(campaign_id: str) -> int:
    return sum(1 for item in Delivery.query(campaign_id) if item.status == "cancelled")


def test_jobs_queued_before_the_cancel_send_nothing(
    pipe: Campaigns, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a campaign fanned out: its 15 jobs wait on SendQueue
    assert pipe.request("colis-1") == []
    assert report("colis-1")["pending"] == 15
    # When it is cancelled, then the sender gets its jobs
    capsys.readouterr()
    assert pipe.cancel("colis-1") == []
    shown = report("colis-1")
    assert (shown["status"], shown["cancelled"], shown["pending"]) == ("cancelled", 15, 0)
    pipe.send()
    # Then the dashboard counts one cancel and 15 jobs not sent
    out = capsys.readouterr().out
    assert (emitted(out, "CampaignsCancelled"), emitted(out, "Cancelled")) == (1, 15)
    # Then no SMS left, each job is recorded cancelled (no number written), the report agrees
    assert pipe.sent_to("colis-1") == []
    assert cancelled_records("colis-1") == 15
    assert all(item.recipient.startswith("r#") for item in Delivery.query("colis-1"))
    assert report("colis-1") == shown
    assert reconciles(shown)


def test_a_cancel_midway_stops_the_rest_and_counts_each_recipient_once(pipe: Campaigns) -> None:
    # Given a campaign whose first 10 SMS were sent
    assert pipe.request("colis-2") == []
    pipe.send(batches=1)
    assert len(pipe.sent_to("colis-2")) == 10
    # When it is cancelled (twice: a duplicated message), then its last jobs arrive
    assert pipe.cancel("colis-2") == []
    assert pipe.cancel("colis-2") == []
    pipe.send()
    # Then the 5 others were never sent
    assert len(pipe.sent_to("colis-2")) == 10
    shown = report("colis-2")
    assert (shown["sent"], shown["cancelled"], shown["pending"]) == (10, 5, 0)
    assert reconciles(shown)


def test_a_cancel_recorded_between_the_senders_read_and_its_claims_wins(pipe: Campaigns) -> None:
    # Given jobs the sender has read, their campaign still running
    assert pipe.request("colis-3") == []
    real_claim = deliveries.claim

    def cancelled_meanwhile(items: Any) -> Any:
        enforcement = iam.current()
        assert enforcement is not None
        with enforcement.acting_as("OperatorPolicy"):  # a millisecond before the claims
            campaigns.cancel("colis-3")
        return real_claim(items)

    # When the cancel is recorded before the claims are written
    with mock.patch.object(deliveries, "claim", side_effect=cancelled_meanwhile):
        pipe.send(batches=1)
    pipe.send()
    # Then none of them was sent: the claims' transaction checked the campaign
    assert pipe.sent_to("colis-3") == []
    assert cancelled_records("colis-3") == 15
    assert reconciles(report("colis-3"))


def test_a_cancel_before_its_campaign_arrives_wins_when_it_does(pipe: Campaigns) -> None:
    # Given a cancel for a campaign not published yet
    assert pipe.cancel("colis-4") == []
    # When its request arrives (twice: SQS delivers at least once), and is sent through
    assert pipe.request("colis-4") == []
    assert pipe.request("colis-4") == []
    pipe.send()
    # Then nothing was queued or sent; the report shows the audience, all cancelled
    assert pipe.sent_to("colis-4") == []
    shown = report("colis-4")
    assert (shown["status"], shown["audience"], shown["cancelled"]) == ("cancelled", 15, 15)
    assert reconciles(shown)
    # And another request under that id is refused, not sent
    assert len(pipe.request("colis-4", body="Autre chose")) == 1
    pipe.send()
    assert pipe.sent_to("colis-4") == []


def test_a_deferred_campaign_cancelled_is_never_released(
    aws: Stack, fake: FakeSms, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a marketing campaign published on a Sunday: deferred to Monday 08:00
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    monkeypatch.setenv("STOPSMS_CONSENT_POLICY", "record")
    get_settings.cache_clear()
    with mock.patch.object(clock, "now", return_value=SUNDAY_10H_PARIS):
        pipe = Campaigns(aws, fake)
        assert pipe.request("promo-1", category="marketing", body="Promo -20 %") == []
        assert report("promo-1")["status"] == "deferred"
        # When it is cancelled
        assert pipe.cancel("promo-1") == []
    # Then Monday's scheduler does not release it, and nothing is sent
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS + timedelta(hours=1)):
        load_function("scheduler").lambda_handler({}, LambdaContext())
        pipe._drain("CampaignQueue", pipe.campaign_fn)
        pipe.send()
    assert pipe.sent_to("promo-1") == []
    shown = report("promo-1")
    assert (shown["status"], shown["cancelled"], shown["resume_at"]) == ("cancelled", 15, None)
    assert Campaign.get("promo-1").deferred is None  # out of DeferredIndex
    assert reconciles(shown)


def test_the_cancel_command_records_at_once_and_explains(
    pipe: Campaigns, capsys: pytest.CaptureFixture[str]
) -> None:
    assert pipe.request("colis-5") == []
    capsys.readouterr()
    assert main(["cancel", "colis-5"]) == 0
    out = capsys.readouterr().out
    assert "colis-5 cancelled" in out
    assert "cancelled" in out.splitlines()[2]  # the report's status line
    pipe.send()
    assert pipe.sent_to("colis-5") == []
    # A campaign not published yet is recorded cancelled; a malformed id is refused
    assert main(["cancel", "colis-6"]) == 0
    assert "not recorded yet" in capsys.readouterr().out
    assert main(["cancel", "colis 6; rm"]) == 2
    assert "is not a campaign id" in capsys.readouterr().err


def test_a_malformed_cancel_message_is_refused_alone(pipe: Campaigns) -> None:
    sqs = boto3.client("sqs", region_name="eu-west-3")
    assert sqs is not None
    bad = {"action": "delete", "campaign_id": "colis-7"}
    good = {"action": "cancel", "campaign_id": "colis-8"}
    records = [sqs_record(bad, "CampaignQueue"), sqs_record(good, "CampaignQueue")]
    failed = failed_ids(pipe.campaign_fn.lambda_handler({"Records": records}, LambdaContext()))
    assert failed == [records[0]["messageId"]]
    assert campaigns.get("colis-7") is None
    cancelled = campaigns.get("colis-8")
    assert cancelled is not None
    assert cancelled.status == "cancelled"


def test_a_cancel_midway_through_an_s3_fan_out_queues_no_more_slices(
    pipe: Campaigns, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an S3 audience of 15 rows fanned out 5 rows a slice, one slice queued so far
    monkeypatch.setenv("STOPSMS_FANOUT_SLICE_ROWS", "5")
    get_settings.cache_clear()
    rows = "phone,name\n" + "".join(f"{p},Client {n}\n" for n, p in enumerate(PHONES))
    uri = upload("colis-9.csv", rows.encode())
    body = {
        "campaign_id": "colis-9",
        "category": "transactional",
        "body": "Bonjour {name}, votre colis arrive.",
        "audience": {"s3_uri": uri},
    }
    record = sqs_record(body, "CampaignQueue")
    assert failed_ids(pipe.campaign_fn.lambda_handler({"Records": [record]}, LambdaContext())) == []
    while (item := campaigns.get("colis-9")) is None or not (
        item.status == "fanning_out" and item.queued
    ):
        pipe.step()  # the check of the file, then the first slice
    assert item.queued == 5
    # When it is cancelled, then its continuation and its queued jobs are handled
    assert pipe.cancel("colis-9") == []
    pipe.send()
    # Then no other slice was queued, nothing was sent, and all 15 are reported cancelled
    assert pipe.sent_to("colis-9") == []
    assert campaigns.get("colis-9").queued == 5  # type: ignore[union-attr]
    assert cancelled_records("colis-9") == 5
    shown = report("colis-9")
    assert (shown["status"], shown["audience"], shown["cancelled"]) == ("cancelled", 15, 15)
    assert reconciles(shown)
