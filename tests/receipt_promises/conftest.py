"""Fixtures of the adversarial receipts tests: a campaign really sent through the campaign and
sender handlers (FakeSms), then delivery events fed to the real receipts handler."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest

from stopsms import clock
from stopsms.emulator.template import Stack
from stopsms.settings import get_settings
from tests.handlers.conftest import (
    LambdaContext,
    failed_ids,
    load_function,
    sqs_record,
)
from tests.handlers.sms import FakeSms
from tests.handlers.test_stop_scope import Pipeline

MONDAY_10H_PARIS = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
T = 1_796_115_705_000
PHONES = ["+33612345678", "+33698765432", "+33611223344", "+33655667788", "+33644556677"]
CAMPAIGN = "adv-1"
OTHER = "adv-2"


class Sender:
    def __init__(self, aws: Stack, fake: FakeSms) -> None:
        self.pipe = Pipeline(aws, fake)
        self.fake = fake

    def send(self, campaign_id: str, phones: list[str]) -> dict[str, str]:
        """The campaign sent to ``phones``: number -> MessageId."""
        with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
            failed = self.pipe.publish(
                campaign_id=campaign_id, category="transactional", recipients=phones
            )
        assert failed == []
        return {
            m["DestinationPhoneNumber"]: m["MessageId"]
            for m in self.fake.sent
            if m["Context"]["campaign_id"] == campaign_id
        }


@pytest.fixture
def sender(aws: Stack, fake: FakeSms, monkeypatch: pytest.MonkeyPatch) -> Sender:
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    return Sender(aws, fake)


@pytest.fixture
def sent(sender: Sender) -> dict[str, str]:
    return sender.send(CAMPAIGN, PHONES)


@pytest.fixture
def receipts_fn() -> Any:
    return load_function("receipts")


def event(
    message_id: str,
    phone: str | None,
    status: str,
    at: int,
    *,
    price: Any = 0.0,
    fee: Any = 0.0,
    campaign: str | None = CAMPAIGN,
    final: Any = None,
    **overrides: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "eventType": f"TEXT_{status}",
        "eventVersion": "1.0",
        "eventTimestamp": at,
        "isFinal": status not in ("PENDING", "QUEUED") if final is None else final,
        "originationPhoneNumber": "+33700000000",
        "destinationPhoneNumber": phone,
        "isoCountryCode": "FR",
        "mcc": "208",
        "mnc": "01",
        "carrierName": "Orange France",
        "messageId": message_id,
        "messageRequestTimestamp": T - 1000,
        "messageEncoding": "GSM",
        "messageType": "TRANSACTIONAL",
        "messageStatus": status,
        "messageStatusDescription": f"status {status.lower()}",
        "context": {} if campaign is None else {"campaign_id": campaign},
        "totalMessageParts": 1,
        "totalMessagePrice": price,
        "totalCarrierFee": fee,
    }
    if phone is None:
        del body["destinationPhoneNumber"]
    if price is None:
        del body["totalMessagePrice"]
    if fee is None:
        del body["totalCarrierFee"]
    body.update(overrides)
    return body


def records(bodies: list[Any]) -> list[dict[str, Any]]:
    return [sqs_record(b, "DeliveryEventsQueue") for b in bodies]


def handle(receipts_fn: Any, recs: list[dict[str, Any]]) -> list[str]:
    return failed_ids(receipts_fn.lambda_handler({"Records": recs}, LambdaContext()))


def deliver(receipts_fn: Any, bodies: list[Any], size: int = 10) -> list[str]:
    failed: list[str] = []
    for start in range(0, len(bodies), size):
        failed += handle(receipts_fn, records(bodies[start : start + size]))
    return failed
