"""Helpers of the dry-run / pause-resume attack tests: the real campaign, sender and
scheduler handlers (``tests.handlers.test_cancel.Campaigns``), with each queue's messages
handed over one at a time when asked, and operator calls made with the operator's role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest

from stopsms import clock
from stopsms.aws import prices
from stopsms.dal import contacts, deferred
from stopsms.dal.tables import Delivery
from stopsms.emulator import iam
from stopsms.emulator.template import Stack
from stopsms.settings import get_settings
from tests.handlers.conftest import LambdaContext, failed_ids, load_function, sqs_record
from tests.handlers.sms import FakeSms
from tests.handlers.test_cancel import PHONES, Campaigns
from tests.handlers.test_stop_scope import MONDAY_10H_PARIS

__all__ = ["PHONES", "Ctl", "as_operator", "consent", "parked", "reconciles", "records"]


@contextmanager
def as_operator() -> Iterator[None]:
    enforcement = iam.current()
    if enforcement is None:
        yield
        return
    with enforcement.acting_as("OperatorPolicy"):
        yield


def reconciles(shown: dict[str, Any]) -> bool:
    """Contract §6: audience = sent + failed + pending + cancelled + sum(suppressed)."""
    parts = shown["sent"] + shown["failed"] + shown["pending"] + shown["cancelled"]
    return bool(shown["audience"] == parts + sum(shown["suppressed"].values()))


def records(campaign_id: str, prefix: str = "") -> dict[str, int]:
    """How many delivery records of each status, keys starting with ``prefix``."""
    counts: dict[str, int] = {}
    for item in Delivery.query(campaign_id):
        if str(item.recipient).startswith("t#") or not str(item.recipient).startswith(prefix):
            continue
        counts[str(item.status)] = counts.get(str(item.status), 0) + 1
    return counts


def parked(campaign_id: str) -> list[str]:
    return [key for key, _ in deferred.due(deferred.paused_kind(campaign_id))]


def consent(brand: str, *phones: str) -> None:
    from datetime import UTC, datetime

    for phone in phones:
        contacts.apply(phone, brand, "opted_in", datetime(2026, 10, 1, tzinfo=UTC), source="web")


class Ctl(Campaigns):
    """The pipeline, one message at a time."""

    def message(self, body: dict[str, Any] | str) -> list[str]:
        """One message to the campaign function, without draining what it queues next."""
        return self.deliver(sqs_record(body, "CampaignQueue"))

    def deliver(self, record: dict[str, Any]) -> list[str]:
        """A CampaignQueue record handed to the campaign function (again: SQS redelivers a
        message with its id and its sent time)."""
        return failed_ids(self.campaign_fn.lambda_handler({"Records": [record]}, LambdaContext()))

    def control(self, action: str, campaign_id: str) -> list[str]:
        return self.message({"action": action, "campaign_id": campaign_id})

    def take(self, queue: str) -> list[dict[str, Any]]:
        """Take every (visible) message off ``queue``: their bodies, parsed."""
        url = self.aws.queues[queue]
        bodies: list[dict[str, Any]] = []
        while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bodies

    def jobs(self) -> list[dict[str, Any]]:
        return sorted(self.take("SendQueue"), key=lambda job: int(job["seq"]))

    def feed(self, jobs: list[dict[str, Any]], receive_count: int = 1) -> list[str]:
        """Hand these send jobs to the sender, 10 a batch; the jobs that failed (their bodies
        are put back on SendQueue, as SQS would redeliver them)."""
        failed_jobs: list[dict[str, Any]] = []
        for start in range(0, len(jobs), 10):
            chunk = jobs[start : start + 10]
            batch = [sqs_record(job, "SendQueue", receive_count=receive_count) for job in chunk]
            failed = set(
                failed_ids(self.sender_fn.lambda_handler({"Records": batch}, LambdaContext()))
            )
            for record, job in zip(batch, chunk, strict=True):
                if record["messageId"] in failed:
                    failed_jobs.append(job)
        url = self.aws.queues["SendQueue"]
        for job in failed_jobs:
            self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(job))
        return [json.dumps(job) for job in failed_jobs]

    def campaigns_drain(self) -> list[str]:
        """Every message on CampaignQueue handled (and those they queue), with the message id
        and sent time SQS gave it, as Lambda hands them over; the failed bodies."""
        failed_bodies: list[str] = []
        url = self.aws.queues["CampaignQueue"]
        while messages := self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages"):
            for message in messages:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                record = sqs_record(message["Body"], "CampaignQueue")
                record["messageId"] = message["MessageId"]
                record["attributes"]["SentTimestamp"] = message["Attributes"]["SentTimestamp"]
                handled = self.campaign_fn.lambda_handler({"Records": [record]}, LambdaContext())
                if failed_ids(handled):
                    failed_bodies.append(message["Body"])
        return failed_bodies

    def run_all(self, rounds: int = 20) -> None:
        """Campaign queue and send queue until both are empty (retries included)."""
        for _ in range(rounds):
            self.campaigns_drain()
            jobs = self.jobs()
            if not jobs:
                return
            self.feed(jobs)

    def sweep(self) -> dict[str, int]:
        return dict(load_function("scheduler").lambda_handler({}, LambdaContext()))


@pytest.fixture
def ctl(aws: Stack, fake: FakeSms, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ctl]:
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    prices.forget()
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        yield Ctl(aws, fake)
    prices.forget()


def request(campaign_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "category": "transactional",
        "body": "Votre colis arrive demain.",
        "recipients": PHONES,
        **fields,
    }
