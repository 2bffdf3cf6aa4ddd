"""Helpers of the cancellation attack tests: the real campaign, sender and scheduler handlers
(``tests.handlers.test_cancel.Campaigns``), with finer control over what reaches each one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest

from stopsms import clock
from stopsms.dal import campaigns
from stopsms.dal.tables import Delivery
from stopsms.emulator import iam
from stopsms.emulator.template import Stack
from stopsms.settings import get_settings
from tests.handlers.conftest import LambdaContext, failed_ids, load_function, sqs_record
from tests.handlers.sms import FakeSms
from tests.handlers.test_cancel import PHONES, Campaigns
from tests.handlers.test_stop_scope import MONDAY_10H_PARIS

__all__ = ["PHONES", "Attack", "as_operator", "operator_cancel", "reconciles", "records"]


@contextmanager
def as_operator() -> Iterator[None]:
    """Act as the operator (the ``cancel`` command) from inside a handler."""
    enforcement = iam.current()
    if enforcement is None:
        yield
        return
    with enforcement.acting_as("OperatorPolicy"):
        yield


def operator_cancel(campaign_id: str) -> None:
    with as_operator():
        campaigns.cancel(campaign_id)


def reconciles(shown: dict[str, Any]) -> bool:
    """Contract §6: audience = sent + failed + pending + cancelled + sum(suppressed)."""
    parts = shown["sent"] + shown["failed"] + shown["pending"] + shown["cancelled"]
    return bool(shown["audience"] == parts + sum(shown["suppressed"].values()))


def records(campaign_id: str) -> dict[str, int]:
    """How many delivery records of each status (claims and outcomes, not totals)."""
    counts: dict[str, int] = {}
    for item in Delivery.query(campaign_id, Delivery.recipient < "t#"):
        counts[str(item.status)] = counts.get(str(item.status), 0) + 1
    return counts


class Attack(Campaigns):
    """The pipeline, with each queue's messages handed over one at a time when asked."""

    def campaign_message(self, body: dict[str, Any] | str) -> list[str]:
        """One message to the campaign function, without draining what it queues next."""
        record = sqs_record(body, "CampaignQueue")
        return failed_ids(self.campaign_fn.lambda_handler({"Records": [record]}, LambdaContext()))

    def drain_campaigns(self) -> None:
        self._drain("CampaignQueue", self.campaign_fn)

    def waiting(self, queue: str) -> list[dict[str, Any]]:
        """Take every message off ``queue`` (their bodies, parsed)."""
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
        return sorted(self.waiting("SendQueue"), key=lambda job: int(job["seq"]))

    def feed(self, jobs: list[dict[str, Any]], receive_count: int = 1) -> list[str]:
        """Hand these send jobs to the sender as one batch; the failed message ids."""
        batch = [sqs_record(job, "SendQueue", receive_count=receive_count) for job in jobs]
        return failed_ids(self.sender_fn.lambda_handler({"Records": batch}, LambdaContext()))

    def sweep(self) -> dict[str, int]:
        return dict(load_function("scheduler").lambda_handler({}, LambdaContext()))


@pytest.fixture
def attack(aws: Stack, fake: FakeSms, monkeypatch: pytest.MonkeyPatch) -> Iterator[Attack]:
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        yield Attack(aws, fake)
