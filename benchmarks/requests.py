"""AWS requests and DynamoDB units per recipient, StopSMS vs the naive design, and their cost.

Both designs run through the same local stack (``stopsms.emulator``): an S3 audience, consents
already stored, one campaign request published, every function fed as Lambda would. Every
AWS call of the process is counted at botocore's ``_make_api_call`` (PynamoDB included) and
attributed to whoever made it: a function (its Lambda poller's receives and deletes
included), or End User Messaging publishing the delivery events of the SMS sent. The send
path (the campaign and sender functions) is what a recipient costs; the receipts function
is measured per 1,000 delivery events, since AWS publishes two or three of them per SMS. Not
counted: ``SendTextMessage`` (the SMS itself, the same in both designs), the emulator's own
bookkeeping (its idle checks), pollers' empty receives (Lambda long-polls an idle queue
whatever the campaign size) and the scheduler (it runs every 5 minutes whatever the
campaigns).

DynamoDB units are priced by ``benchmarks.capacity`` (strongly or eventually consistent
reads, transactions at twice the price, global secondary index writes). The floor is what the
same items would cost if every batch request were full (``benchmarks.meter.BATCH_LIMITS``);
calls that carry one item count as themselves.

Cost per 1,000,000 recipients is derived from these counts (see ``PRICES``); Lambda GB-s are
the functions' wall time in this run, an upper bound since the emulator answers more slowly
than AWS does (the ratio between the designs is what to read).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks import naive
from benchmarks.capacity import Units
from benchmarks.figures import Figure, print_table
from benchmarks.meter import Meter, for_tables, metering
from stopsms.dal import contacts
from stopsms.dal.tables import bind
from stopsms.emulator.stack import EmulatedStack
from stopsms.rules.eligibility import OPTED_IN, OPTED_OUT
from stopsms.settings import get_settings

SECTION = "AWS requests per 1,000 recipients, send path (SendTextMessage excluded)"
COST_SECTION = "Infrastructure cost per 1,000,000 recipients (USD, us-east-1 list prices)"
RECEIPTS_SECTION = "Receipts path, per 1,000 delivery events (the same run)"
# us-east-1 list prices, as published in 2025 (DynamoDB on-demand after its November 2024
# reduction). Check https://aws.amazon.com/pricing before relying on them.
PRICES = {
    "sqs_request": 0.40 / 1e6,  # standard queue, per request (each 64 KB chunk)
    "dynamodb_wru": 0.625 / 1e6,  # on-demand write request unit (1 KB)
    "dynamodb_rru": 0.125 / 1e6,  # on-demand read request unit (4 KB, strongly consistent)
    "lambda_gb_s": 0.0000133334,  # arm64
    "lambda_request": 0.20 / 1e6,
}
PRICES_DATE = "2025 (us-east-1)"
EXCLUDED = frozenset({"SendTextMessage"})
WINDOW = "Mon-Sun 00:00-23:59 no-holidays"  # the benchmark runs at any hour
SEND_PATH = ("CampaignFunction", "SenderFunction")
RECEIPTS = ("ReceiptsFunction",)
END_USER_MESSAGING = "End User Messaging (delivery events)"
# The goal of issue 17, per recipient of a marketing send with every check.
MAX_READ_UNITS = 1.5
MAX_WRITE_UNITS = 2.0
MAX_FLOOR_RATIO = 1.1


@dataclass
class Run:
    variant: str
    recipients: int
    meter: Meter
    sms: int
    events: int  # delivery events End User Messaging published
    invocations: Counter[str]  # by function
    seconds: Counter[str]  # Lambda wall time, by function
    memory_mb: int

    def units(self, who: tuple[str, ...]) -> Units:
        return self.meter.units_of(who)


def _audience(recipients: int) -> tuple[str, list[str]]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["phone", "first_name"])
    phones = [f"+3361{n:07d}" for n in range(recipients)]
    for n, phone in enumerate(phones):
        writer.writerow([phone if n % 2 else f"0{phone[3:]}", "Léa"])
    return out.getvalue(), phones


def _timed(name: str, handler: Callable[..., Any], run: Run) -> Callable[..., Any]:
    def timed(event: dict[str, Any], context: Any) -> Any:
        started = time.perf_counter()
        try:
            return handler(event, context)
        finally:
            run.seconds[name] += time.perf_counter() - started
            run.invocations[name] += 1

    return timed


def _as(meter: Meter, who: str, call: Callable[..., Any]) -> Callable[..., Any]:
    """``call``, its AWS requests attributed to ``who``."""

    def attributed(*args: Any) -> Any:
        was, meter.who = meter.who, who
        try:
            return call(*args)
        finally:
            meter.who = was

    return attributed


def run_variant(variant: str, recipients: int) -> Run:
    """One campaign to ``recipients`` people (90 % consented, 5 % opted out) in a fresh stack."""
    # A send rate the emulator never reaches: Lambda time is then work, not the rate limiter.
    overrides = {"SENDING_WINDOW": WINDOW, "INBOUND_BRANDS": "36111=acme", "SEND_RATE": "1000"}
    # The naive handlers were never given a least-privilege role of their own: they run
    # unchecked; StopSMS runs with only its template roles, as deployed.
    enforce = variant != "naive"
    with EmulatedStack(overrides=overrides, quiet=True, enforce_iam=enforce) as stack:
        meter = for_tables(stack.stack.tables, paused=True, excluded=EXCLUDED)
        memory = int(stack.template["Globals"]["Function"].get("MemorySize", 128))
        run = Run(variant, recipients, meter, 0, 0, Counter(), Counter(), memory)
        with metering(meter):
            _campaign(stack, run)
        run.sms = len(stack.sms.outbox)
        return run


def _campaign(stack: EmulatedStack, run: Run) -> None:
    meter = run.meter
    bind(get_settings())
    for source in stack.sources:
        name = source.function.name
        if run.variant == "naive" and name == "CampaignFunction":
            source.function.handler = naive.campaign_handler
        if run.variant == "naive" and name == "SenderFunction":
            source.function.handler = naive.sender_handler
        source.function.handler = _timed(name, source.function.handler, run)
    poll = stack._poll
    stack._poll = lambda sqs, source: _as(meter, source.function.name, poll)(sqs, source)  # type: ignore[method-assign]
    publish = stack._publish_delivery_events

    def published(events: list[dict[str, Any]]) -> None:
        run.events += len(events)
        _as(meter, END_USER_MESSAGING, publish)(events)

    stack._publish_delivery_events = published  # type: ignore[method-assign]
    for schedule in stack.schedules:  # periodic (every 5 min on AWS), not per recipient
        handler = schedule.function.handler
        schedule.function.handler = lambda e, c, h=handler: _paused(meter, lambda: h(e, c))
    idle = stack._idle
    stack._idle = lambda sqs: _paused(meter, lambda: idle(sqs))  # type: ignore[method-assign]

    body, phones = _audience(run.recipients)
    bucket = stack.stack.buckets["AudienceBucket"]
    stack.client("s3").put_object(Bucket=bucket, Key="audience.csv", Body=body.encode())
    at = datetime.now(UTC) - timedelta(days=1)
    for n, phone in enumerate(phones):
        if n % 10 != 3:
            contacts.apply(phone, "acme", OPTED_IN, at, source="benchmark")
        if n % 20 == 5:
            contacts.apply(phone, "acme", OPTED_OUT, at + timedelta(hours=1), source="bench")

    meter.paused = False
    stack.client("sqs").send_message(
        QueueUrl=stack.queue("CampaignQueue"),
        MessageBody=json.dumps(
            {
                "campaign_id": f"bench-{run.variant}",
                "category": "marketing",
                "brand": "acme",
                "body": "Bonjour {first_name}, -20 % sur tout le magasin ce week-end !",
                "audience": {"s3_uri": f"s3://{bucket}/audience.csv"},
            }
        ),
    )
    stack.pump(timeout_s=1800)
    meter.paused = True
    if stack.errors:
        raise RuntimeError(f"{run.variant}: a function failed:\n{stack.errors[0]}")


def _paused(meter: Meter, call: Callable[[], Any]) -> Any:
    was, meter.paused = meter.paused, True
    try:
        return call()
    finally:
        meter.paused = was


def cost_per_million(run: Run, who: tuple[str, ...] = SEND_PATH) -> dict[str, float]:
    """What ``who`` costs per million recipients: SQS, DynamoDB (index writes included)."""
    scale = 1e6 / run.recipients
    sqs = sum(n for (service, _), n in run.meter.by_operation(who).items() if service == "sqs")
    units = run.units(who)
    return {
        "SQS": sqs * scale * PRICES["sqs_request"],
        "DynamoDB": scale
        * (
            units.read * PRICES["dynamodb_rru"]
            + (units.write + units.index) * PRICES["dynamodb_wru"]
        ),
        "Lambda": scale
        * sum(
            run.seconds[name] * run.memory_mb / 1024 * PRICES["lambda_gb_s"]
            + run.invocations[name] * PRICES["lambda_request"]
            for name in who
        ),
    }


def figures(stopsms: Run, baseline: Run) -> list[Figure]:
    per_k = 1000 / stopsms.recipients
    ours_ops, theirs_ops = (
        stopsms.meter.by_operation(SEND_PATH),
        baseline.meter.by_operation(SEND_PATH),
    )
    out: list[Figure] = []
    for key in sorted(set(ours_ops) | set(theirs_ops)):
        theirs = theirs_ops[key] * per_k
        out.append(
            Figure(
                SECTION, f"{key[0]} {key[1]} (naive: {theirs:,.1f})", ours_ops[key] * per_k, "req"
            )
        )
    total = stopsms.meter.requests(SEND_PATH) * per_k
    naive_total = baseline.meter.requests(SEND_PATH) * per_k
    floor = stopsms.meter.floor(SEND_PATH) * per_k
    ratio = total / floor
    out += [
        Figure(SECTION, "StopSMS total", total, "req", key="requests_per_1k"),
        Figure(SECTION, "naive total (baseline)", naive_total, "req"),
        Figure(SECTION, "batch-API floor", floor, "req", key="floor_per_1k"),
        Figure(
            SECTION,
            "StopSMS / floor",
            ratio,
            "×",
            f"≤ {MAX_FLOOR_RATIO} ×",
            ratio <= MAX_FLOOR_RATIO,
        ),
        Figure(SECTION, "naive / StopSMS", naive_total / total, "×"),
        Figure(
            SECTION,
            f"SMS sent to {stopsms.recipients:,} recipients, each design",
            stopsms.sms,
            "SMS",
        ),
    ]
    ours, theirs = stopsms.units(SEND_PATH), baseline.units(SEND_PATH)
    n, m = stopsms.recipients, baseline.recipients
    out += [
        Figure(
            COST_SECTION,
            f"DynamoDB read units/recipient (naive: {theirs.read / m:.2f})",
            ours.read / n,
            "units",
            f"≤ {MAX_READ_UNITS}",
            ours.read / n <= MAX_READ_UNITS,
            key="rru_per_recipient",
        ),
        Figure(
            COST_SECTION,
            f"DynamoDB write units/recipient, tables (naive: {theirs.write / m:.2f})",
            ours.write / n,
            "units",
            f"≤ {MAX_WRITE_UNITS}",
            ours.write / n <= MAX_WRITE_UNITS,
            key="wru_per_recipient",
        ),
        Figure(
            COST_SECTION,
            f"DynamoDB write units/recipient, indexes (naive: {theirs.index / m:.2f})",
            ours.index / n,
            "units",
        ),
    ]
    ours_cost, naive_cost = cost_per_million(stopsms), cost_per_million(baseline)
    for service in ours_cost:
        out.append(
            Figure(
                COST_SECTION,
                f"{service} (naive: ${naive_cost[service]:,.2f})",
                ours_cost[service],
                "$",
            )
        )
    ours_total, naive_cost_total = sum(ours_cost.values()), sum(naive_cost.values())
    out += [
        Figure(
            COST_SECTION,
            f"StopSMS total (naive: ${naive_cost_total:,.2f})",
            ours_total,
            "$",
            "< naive",
            ours_total < naive_cost_total,
            key="usd_per_million",
        ),
        Figure(COST_SECTION, "naive total", naive_cost_total, "$", key="naive_usd_per_million"),
        Figure(COST_SECTION, "naive / StopSMS", naive_cost_total / ours_total, "×"),
    ]
    return out + _receipts_figures(stopsms)


def _receipts_figures(run: Run) -> list[Figure]:
    """The receipts function's share of the run, per 1,000 delivery events (both designs run
    the same one), and End User Messaging's publishes."""
    per_k = 1000 / run.events
    units = run.units(RECEIPTS)
    requests, floor = run.meter.requests(RECEIPTS) * per_k, run.meter.floor(RECEIPTS) * per_k
    publishes = run.meter.requests((END_USER_MESSAGING,))
    return [
        Figure(RECEIPTS_SECTION, f"delivery events ({run.sms:,} SMS)", run.events, "events"),
        Figure(RECEIPTS_SECTION, "requests (its poller's included)", requests, "req"),
        Figure(RECEIPTS_SECTION, "batch-API floor", floor, "req"),
        Figure(RECEIPTS_SECTION, "read units", units.read * per_k, "units"),
        Figure(RECEIPTS_SECTION, "write units, tables", units.write * per_k, "units"),
        Figure(RECEIPTS_SECTION, "write units, indexes", units.index * per_k, "units"),
        Figure(
            RECEIPTS_SECTION,
            "SNS publishes by End User Messaging (not StopSMS's requests)",
            publishes * per_k,
            "req",
        ),
    ]


def measure(quick: bool = False) -> list[Figure]:
    recipients = 200 if quick else 1000  # the naive fan-out makes moto's SQS quadratic
    stopsms = run_variant("stopsms", recipients)
    baseline = run_variant("naive", recipients)
    if stopsms.sms != baseline.sms:
        raise AssertionError(f"designs disagree: {stopsms.sms} vs {baseline.sms} SMS")
    return figures(stopsms, baseline)


if __name__ == "__main__":
    print_table(measure())
