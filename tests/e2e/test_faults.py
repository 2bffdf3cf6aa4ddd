"""Fault injection through the local stack: what StopSMS promises still holds when AWS fails.

Each run sends one marketing campaign from an S3 audience (several fan-out slices, several
sender batches) with faults injected at the AWS edge, then checks the same invariants:

- every recipient has exactly one outcome and the report reconciles (nothing pending);
- zero SMS to a number opted out before its send, zero double sends;
- every STOP reply is stored (state and evidence), no dead letter.
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stopsms import clock
from stopsms.dal import contacts, evidence, receipts
from stopsms.dal.tables import Delivery
from stopsms.emulator.faults import aws_errors
from stopsms.emulator.stack import EmulatedStack
from stopsms.reporting import report
from stopsms.rules.eligibility import OPTED_IN, OPTED_OUT
from stopsms.rules.receipts import AWAITING, DELIVERED, bucket
from stopsms.sending import service as sending
from tests.e2e.conftest import publish

pytestmark = pytest.mark.e2e

STACK_OVERRIDES = {"FANOUT_SLICE_ROWS": "60"}  # a few slices per campaign
ROWS = 150
STOP_WORDS = ["STOP", "stop merci", "Arrêt", "STOP 36111", "désabonner"]


class Campaign:
    """One campaign's audience: 90 % consented, 5 % opted out before it starts."""

    def __init__(self, stack: EmulatedStack, campaign_id: str, prefix: int) -> None:
        self.stack = stack
        self.id = campaign_id
        self.phones = [f"+336{prefix:02d}{n:06d}" for n in range(ROWS)]
        self.opted_out = {p for n, p in enumerate(self.phones) if n % 20 == 5}
        self.stoppers: dict[str, int] = {}  # phone -> outbox size when its STOP was stored
        before = datetime.now(UTC) - timedelta(days=1)
        for n, phone in enumerate(self.phones):
            if n % 10 != 3:
                contacts.apply(phone, "acme", OPTED_IN, before, source="test")
            if phone in self.opted_out:
                contacts.apply(phone, "acme", OPTED_OUT, before + timedelta(hours=1), source="t")

    def publish(self) -> None:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["phone", "first_name"])
        for n, phone in enumerate(self.phones):
            writer.writerow([phone if n % 2 else f"0{phone[3:]}", "Léa"])
        bucket = self.stack.stack.buckets["AudienceBucket"]
        key = f"{self.id}.csv"
        self.stack.client("s3").put_object(Bucket=bucket, Key=key, Body=out.getvalue().encode())
        publish(
            self.stack,
            "CampaignQueue",
            {
                "campaign_id": self.id,
                "category": "marketing",
                "brand": "acme",
                "body": "Bonjour {first_name}, -20 % ce week-end chez Acme !",
                "audience": {"s3_uri": f"s3://{bucket}/{key}"},
            },
        )

    def reply_stop(self, phones: list[str]) -> None:
        for n, phone in enumerate(phones):
            self.stack.reply(phone, STOP_WORDS[n % len(STOP_WORDS)])
            self.stoppers[phone] = -1

    def stoppers_reached(self) -> int:
        """STOP repliers who had an SMS of this campaign: their STOP is counted for it."""
        return len(set(self.stoppers) & {m["DestinationPhoneNumber"] for m in self.sent()})

    def sent(self) -> list[dict[str, Any]]:
        return [
            m for m in self.stack.sms.outbox if m.get("Context", {}).get("campaign_id") == self.id
        ]

    def check(self) -> dict[str, Any]:
        """Assert every invariant; returns the report."""
        data = report(self.id)
        assert data["audience"] == ROWS
        assert data["pending"] == 0, data
        assert data["sent"] + data["failed"] + sum(data["suppressed"].values()) == ROWS
        items = [i for i in Delivery.query(self.id) if not i.recipient.startswith("t#")]
        outcomes = Counter(int(item.seq) for item in items)
        assert set(outcomes) == set(range(ROWS)), "a recipient has no outcome"
        assert max(outcomes.values()) == 1, "a recipient has two outcomes"

        sent = self.sent()
        per_phone = Counter(m["DestinationPhoneNumber"] for m in sent)
        assert max(per_phone.values()) == 1, "double send"
        assert not self.opted_out & set(per_phone), "SMS to an opted-out number"
        unconfirmed = sum(1 for item in items if item.reason == "unconfirmed")
        assert len(sent) == data["sent"] + unconfirmed  # every SMS sent is accounted for

        for phone in self.stoppers:  # no STOP lost, and nothing sent after it
            state = contacts.lookup([phone], "acme")[phone][0]
            assert state is not None
            assert state.status == OPTED_OUT
            opt_outs = [e.recorded_at for e in evidence.history(phone) if e.kind == "opt_out"]
            assert opt_outs, "a STOP reply left no evidence"
            stored_at = max(opt_outs)
            late = [
                m
                for m in sent
                if m["DestinationPhoneNumber"] == phone
                and datetime.fromisoformat(m["At"]) > stored_at
            ]
            assert not late, "SMS after a STOP"
        # Delivery receipts: every SMS recorded sent had its events folded in, and the
        # campaign's totals agree with its messages (each cost counted once), however the
        # events were duplicated, reordered or retried.
        reported = [i for i in items if i.message_id]
        assert all(i.receipt_status is not None for i in reported), "an SMS without its events"
        # An unconfirmed SMS that left adopted its id: billed, never in a delivery bucket.
        counted = [i for i in reported if i.status == "sent"]
        by_message = Counter(bucket(receipts.standing(i)) for i in counted)
        totals = receipts.totals(self.id)
        assert totals.buckets == {k: v for k, v in by_message.items() if k != AWAITING}
        assert totals.cost_micros == sum(
            int(i.price_micros or 0) + int(i.fee_micros or 0) for i in reported
        )
        delivery = data["delivery"]
        assert delivery["delivered"] == by_message.get(DELIVERED, 0)
        assert (
            delivery["delivered"] + sum(delivery["undelivered"].values()) + delivery["awaiting"]
            == data["sent"]
        )
        assert self.stack.dead_letters() == dict.fromkeys(self.stack.dead_letters(), 0)
        assert not self.stack.errors or all("injected" in e for e in self.stack.errors)
        return data


@pytest.fixture
def campaign(stack: EmulatedStack, request: pytest.FixtureRequest) -> Iterator[Campaign]:
    prefix = 10 + sorted(
        item.name for item in request.session.items if item.module is request.module
    ).index(request.node.name)
    stack.errors.clear()
    yield Campaign(stack, f"faults-{request.node.name[5:40]}", prefix)
    stack.sms.fault = lambda operation, params: None
    stack.duplicates = 0.0


def _sometimes(rate: float, seed: int, answer: tuple[str, str | None]) -> Callable[..., Any]:
    rng = random.Random(seed)

    def fault(operation: str, params: dict[str, Any]) -> tuple[str, str | None] | None:
        return answer if operation == "SendTextMessage" and rng.random() < rate else None

    return fault


def test_sms_throttled_on_30_percent_of_calls(stack: EmulatedStack, campaign: Campaign) -> None:
    stack.sms.fault = _sometimes(0.3, seed=1, answer=("ThrottlingException", None))
    campaign.publish()
    stack.pump(timeout_s=300)
    data = campaign.check()
    assert data["failed"] == 0  # throttling is retried, never a failure
    assert data["sent"] == len(campaign.sent()) > 0


def test_dynamodb_errors_on_5_percent_of_requests(stack: EmulatedStack, campaign: Campaign) -> None:
    with aws_errors("DynamoDB_20120810", 0.05, seed=2) as injected:
        campaign.publish()
        stack.pump(timeout_s=300)
        campaign.reply_stop(campaign.phones[:5])
        stack.pump(timeout_s=300)
    assert injected.failed > 0  # the faults did happen (StopSMS makes few requests)
    data = campaign.check()
    assert data["failed"] == 0
    assert data["opt_outs"] == campaign.stoppers_reached() > 0


def test_crash_between_send_and_bookkeeping(
    stack: EmulatedStack, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The function dies after its sends, before writing their outcomes (timeout, OOM)."""
    later = {"skew": timedelta(0)}
    finish = sending.deliveries.finish
    crashed: list[int] = []

    def crash_once(items: Any) -> None:
        if not crashed:
            crashed.append(len(list(items)))
            later["skew"] = sending.STALE_CLAIM + timedelta(minutes=1)  # time passes
            raise RuntimeError("injected crash: Lambda timed out")
        finish(items)

    monkeypatch.setattr(sending.deliveries, "finish", crash_once)
    monkeypatch.setattr(clock, "now", lambda: datetime.now(UTC) + later["skew"])
    campaign.publish()
    stack.pump(timeout_s=300)
    data = campaign.check()
    # The crashed batch's sends cannot be confirmed: recorded failed, never sent twice.
    unconfirmed = [i for i in Delivery.query(campaign.id) if i.reason == "unconfirmed"]
    assert crashed
    assert 0 < len(unconfirmed) <= 100
    assert data["failed"] == len(unconfirmed)


def test_duplicated_sqs_and_sns_deliveries(stack: EmulatedStack, campaign: Campaign) -> None:
    stack.duplicates = 0.3
    campaign.publish()
    stack.pump(timeout_s=300)
    campaign.reply_stop(campaign.phones[:10])
    stack.pump(timeout_s=300)
    data = campaign.check()
    # each STOP counted once, however often delivered
    assert data["opt_outs"] == campaign.stoppers_reached() > 0


def test_reply_arriving_while_its_campaign_is_sending(
    stack: EmulatedStack, campaign: Campaign
) -> None:
    campaign.publish()
    for _ in range(20):  # the audience is checked, the fan-out starts, some batches go out
        stack.pump(max_invocations=1)
        if len(campaign.sent()) >= 3:
            break
    already = {m["DestinationPhoneNumber"] for m in campaign.sent()}
    waiting = [p for p in campaign.phones if p not in already and p not in campaign.opted_out]
    assert waiting, "the campaign finished too early for this test"
    campaign.reply_stop(waiting[-10:] + sorted(already)[:3])
    # The replies are handled before the sender's next batch (on AWS they take milliseconds;
    # here the pump's order would otherwise decide).
    everything = stack.sources
    stack.sources = [source for source in everything if source.sns]
    try:
        stack.pump()
    finally:
        stack.sources = everything
    stack.pump(timeout_s=300)
    data = campaign.check()
    # The last ten were not sent yet: their STOP, stored meanwhile, suppresses them.
    assert data["suppressed"]["opted_out"] == len(campaign.opted_out) + 10
    assert data["opt_outs"] == 3
