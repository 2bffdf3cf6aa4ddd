"""Delivery receipts: DynamoDB requests per 1,000 delivery events, and what a report reads.

Two campaigns of ``MESSAGES`` SMS each are recorded as sent (their claims, with message ids)
in the template's tables in moto, in process. Their delivery events are what End User
Messaging publishes: a ``PENDING`` and a final event per SMS (90 % delivered, the rest
unreachable, blocked or spam), 10 % of the events twice, all shuffled, plus 1 % of events for
message ids that are not ours. They go through the receipts path (``ReceiptBatch``) in
batches of the template's ``BatchSize``, and again in batches of 100 (the baseline, in the
same run: the size before). Every AWS call is counted at botocore's ``_make_api_call``.

The floor is computed from the batches themselves, by the bench's own model of the events:
each of our messages in a batch must be read, and written when one of its events changes it
(its first event, its first final one); a destination whose SMS failed for good must be read
and written (it may be the third campaign it fails in); so must each campaign total a batch
moves (its cost, a bucket per final status), and a campaign whose final states moved has its
count of them read and written (its blocked-or-spam rate). 100 keys a ``BatchGetItem``, 100 items a
``TransactWriteItems``: ``ceil(read / 100) + ceil(written / 100)`` a batch. SQS requests are
Lambda's poller's, derived from its limits (``ReceiveMessage`` and ``DeleteMessageBatch``
carry 10 messages each): 200 per 1,000 events, whatever the function does.

The report of a campaign reads its delivery totals in one ``Query`` of a handful of items,
whatever the audience; the outcome counts (sent, suppressed…) still read every recipient's
record (pages of 1 MB), measured here on ``REPORT_RECIPIENTS`` and scaled to a million.
"""

from __future__ import annotations

import json
import math
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from benchmarks.figures import Figure
from benchmarks.imports import tables
from benchmarks.meter import Meter, metering
from stopsms.dal import deliveries, receipts
from stopsms.dal.batch import batch_write
from stopsms.dal.tables import Campaign, Delivery
from stopsms.emulator import template
from stopsms.receipts.service import ReceiptBatch

SECTION = "Delivery receipts"
MESSAGES = 500  # per campaign; two campaigns (moto's transactions are slow: ~30 events/s)
QUICK_MESSAGES = 100
BASELINE_BATCH = 100  # the template's BatchSize before 2026-12-01
PER_REQUEST = 100  # keys a BatchGetItem, items a TransactWriteItems
REPORT_RECIPIENTS = 5_000
QUICK_REPORT_RECIPIENTS = 500
T = 1_796_115_705_000
FATES = ["DELIVERED"] * 90 + ["CARRIER_UNREACHABLE"] * 5 + ["BLOCKED"] * 3 + ["SPAM"] * 2


def _claims(campaign_id: str, count: int) -> list[tuple[str, str]]:
    """``count`` SMS of a campaign recorded as sent; their (phone, message id)."""
    sent = [(f"+336{n:08d}", str(uuid.uuid4())) for n in range(count)]
    now = datetime.now(UTC)
    batch_write(
        [
            Delivery(
                campaign_id,
                deliveries.claim_key(phone),
                seq=n,
                status="sent",
                message_id=message_id,
                segments=1,
                updated_at=now,
            )
            for n, (phone, message_id) in enumerate(sent)
        ]
    )
    return sent


def _event(campaign_id: str, phone: str, message_id: str, status: str, at: int) -> dict[str, Any]:
    return {
        "eventType": f"TEXT_{status}",
        "eventVersion": "1.0",
        "eventTimestamp": at,
        "isFinal": status != "PENDING",
        "destinationPhoneNumber": phone,
        "messageId": message_id,
        "messageStatus": status,
        "messageStatusDescription": status.lower(),
        "context": {"campaign_id": campaign_id},
        "totalMessageParts": 1,
        "totalMessagePrice": 0.0736,
        "totalCarrierFee": 0.003,
    }


def _events(sent: dict[str, list[tuple[str, str]]], rng: random.Random) -> list[dict[str, Any]]:
    events = []
    for campaign_id, messages in sent.items():
        for phone, message_id in messages:
            events.append(_event(campaign_id, phone, message_id, "PENDING", T))
            final = rng.choice(FATES)
            events.append(_event(campaign_id, phone, message_id, final, T + rng.randint(1, 9_000)))
    events += [dict(e) for e in rng.sample(events, len(events) // 10)]  # duplicates
    # Another application's SMS on the same configuration set: its own context.
    foreign = [
        _event("", f"+336{n:08d}", str(uuid.uuid4()), "DELIVERED", T) | {"context": {"app": "x"}}
        for n in range(len(events) // 100)
    ]
    events += foreign
    rng.shuffle(events)
    return events


def _record(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "h",
        "body": json.dumps(event),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1796115707000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1796115707001",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-3:123456789012:DeliveryEventsQueue",
        "awsRegion": "eu-west-3",
    }


def batch_size() -> int:
    """The receipts function's ``BatchSize`` in ``template.yaml``."""
    events = template.load()["Resources"]["ReceiptsFunction"]["Properties"]["Events"]
    return int(events["DeliveryEvents"]["Properties"]["BatchSize"])


@dataclass(frozen=True)
class _Run:
    events: int
    requests: Counter[str]
    meter: Meter
    floor: int  # 2 x ceil(our messages / 100), summed over the batches
    seconds: float

    def per_1k(self, count: float) -> float:
        return count * 1_000 / self.events


def _run(messages: int, batch: int) -> _Run:
    """Two campaigns' events through the receipts path, ``batch`` records an invocation."""
    rng = random.Random(14)
    logger = Logger(service="bench", level="ERROR")
    with tables() as meter:
        sent = {cid: _claims(cid, messages) for cid in ("bench-a", "bench-b")}
        events = _events(sent, rng)
        floor = 0
        known: dict[str, bool] = {}  # message id -> its final event was seen
        started = time.perf_counter()
        with metering(meter):
            for start in range(0, len(events), batch):
                chunk = events[start : start + batch]
                ours = [e for e in chunk if e["context"].get("campaign_id")]
                floor += _floor(ours, known)
                result = ReceiptBatch(logger).run([_record(e) for e in chunk])
                assert not result.failed, result.failed
        seconds = time.perf_counter() - started
        # The totals agree with the messages (each cost once): the run did what it claims.
        for campaign_id in sent:
            totals = receipts.totals(campaign_id)
            assert totals.cost_micros == messages * 76_600, totals
            assert sum(totals.buckets.values()) == messages, totals
    requests = Counter({operation: n for (_, _, operation), n in meter.calls.items()})
    return _Run(len(events), requests, meter, floor, seconds)


def _floor(ours: list[dict[str, Any]], known: dict[str, bool]) -> int:
    """The fewest requests a batch of our events needs, from the bench's own model of them
    (each SMS has one pending and one final event; ``known``: whether each message's final
    event was seen in an earlier batch)."""
    changed = {e["messageId"] for e in ours if _changes(e, known)}
    failures = {
        e["destinationPhoneNumber"]
        for e in ours
        if _changes(e, known) and e["isFinal"] and e["messageStatus"] != "DELIVERED"
    }
    totals = {(e["context"]["campaign_id"], "cost") for e in ours if e["messageId"] in changed}
    totals |= {
        (e["context"]["campaign_id"], e["messageStatus"])
        for e in ours
        if e["isFinal"] and _changes(e, known)
    }
    # A campaign with a final state moved: its count of final states, read for its
    # blocked-or-spam rate and written (one item could hold both counts: one key each).
    rated = {c for c, status in totals if status != "cost"}
    totals |= {(c, "final") for c in rated}
    for event in ours:
        final = known.get(event["messageId"], False) or bool(event["isFinal"])
        known[event["messageId"]] = final
    read = len({e["messageId"] for e in ours}) + len(failures) + len(rated)
    written = len(changed) + len(failures) + len(totals)
    return math.ceil(read / PER_REQUEST) + math.ceil(written / PER_REQUEST)


def _changes(event: dict[str, Any], known: dict[str, bool]) -> bool:
    """Whether the event changes its message as the earlier batches left it."""
    if event["messageId"] not in known:
        return True
    return bool(event["isFinal"]) and not known[event["messageId"]]


def measure(quick: bool = False) -> list[Figure]:
    messages = QUICK_MESSAGES if quick else MESSAGES
    batch = batch_size()
    run, baseline = _run(messages, batch), _run(messages, BASELINE_BATCH)
    total = run.per_1k(sum(run.requests.values()))
    floor = run.per_1k(run.floor)
    before = baseline.per_1k(sum(baseline.requests.values()))
    units = run.meter.units_of()
    figures = [
        Figure(SECTION, f"delivery events processed ({2 * messages:,} SMS)", run.events, "events"),
        Figure(
            SECTION,
            f"events per second (moto, in process, {batch} a batch)",
            run.events / run.seconds,
            "/s",
        ),
    ]
    for size, measured in ((batch, run), (BASELINE_BATCH, baseline)):
        for operation, count in sorted(measured.requests.items()):
            name = f"{operation} per 1,000 events ({size} a batch)"
            figures.append(Figure(SECTION, name, measured.per_1k(count), "req"))
    with tables() as meter:
        report = _report_reads(QUICK_REPORT_RECIPIENTS if quick else REPORT_RECIPIENTS, meter)
    figures += [
        Figure(SECTION, f"floor: messages, destinations, totals ({batch} a batch)", floor, "req"),
        Figure(
            SECTION,
            f"DynamoDB requests per 1,000 events ({batch} a batch) / floor",
            total / floor,
            "×",
            "≤ 1.1",
            total / floor <= 1.1,
        ),
        Figure(
            SECTION,
            f"DynamoDB requests per 1,000 events ({batch} a batch)",
            total,
            "req",
            key="receipts_requests_per_1k",
        ),
        Figure(
            SECTION,
            f"DynamoDB requests per 1,000 events ({BASELINE_BATCH} a batch, baseline)",
            before,
            "req",
        ),
        Figure(SECTION, f"{batch} a batch / {BASELINE_BATCH} a batch", total / before, "×"),
        Figure(SECTION, "DynamoDB read units per 1,000 events", run.per_1k(units.read), "units"),
        Figure(
            SECTION,
            "DynamoDB write units per 1,000 events (indexes included)",
            run.per_1k(units.write + units.index),
            "units",
        ),
        Figure(SECTION, "SQS requests per 1,000 events (Lambda's poller)", 200, "req"),
        *report,
    ]
    return figures


def _report_reads(recipients: int, meter: Meter) -> list[Figure]:
    """What ``report`` reads for a campaign of ``recipients``, scaled to 1,000,000."""
    from stopsms.reporting import report  # the tooling: measured as the operator runs it

    queued = {"status": "queued", "audience": recipients, "queued": recipients}
    Campaign("bench-report", request={}, created_at=datetime.now(UTC), **queued).save()
    _claims("bench-report", recipients)
    with metering(meter):
        report("bench-report")
    queries = meter.by_operation()["dynamodb", "Query"]
    outcome_pages = queries - 1  # one Query reads the delivery totals
    per_million = math.ceil(outcome_pages * 1_000_000 / recipients)
    return [
        Figure(SECTION, "report: delivery and cost, requests (any audience)", 1, "req"),
        Figure(
            SECTION, f"report: outcome pages for {recipients:,} recipients", outcome_pages, "req"
        ),
        Figure(SECTION, "report: outcome pages scaled to 1,000,000 recipients", per_million, "req"),
    ]
