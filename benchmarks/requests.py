"""AWS requests per 1,000 recipients, StopSMS vs the naive design, and what they cost.

Both designs run through the same local stack (``stopsms.emulator``): an S3 audience, consents
already stored, one campaign request published, every function fed as Lambda would. Every
AWS call of the process is counted at botocore's ``_make_api_call`` (PynamoDB included), so
what the functions and Lambda's SQS pollers do is all there. Not counted: ``SendTextMessage``
(the SMS itself, the same in both designs), the emulator's own bookkeeping (its idle checks),
pollers' empty receives (Lambda long-polls an idle queue whatever the campaign size) and the
scheduler (it runs every 5 minutes whatever the campaigns).

The floor is what the same items would cost if every batch request were full: 10 messages per
``SendMessageBatch`` / ``ReceiveMessage`` / ``DeleteMessageBatch``, 100 keys per
``BatchGetItem`` and items per ``TransactWriteItems``; calls that carry one item count as
themselves.

Cost per 1,000,000 recipients is derived from these counts (see ``PRICES``); Lambda GB-s are
the functions' wall time in this run, an upper bound since the emulator answers more slowly
than AWS does (the ratio between the designs is what to read).
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.client import BaseClient

from benchmarks import naive
from benchmarks.figures import Figure, print_table
from stopsms.dal import contacts
from stopsms.dal.tables import bind
from stopsms.emulator.stack import EmulatedStack
from stopsms.rules.eligibility import OPTED_IN, OPTED_OUT
from stopsms.settings import get_settings

SECTION = "AWS requests per 1,000 recipients (SendTextMessage excluded)"
COST_SECTION = "Infrastructure cost per 1,000,000 recipients (USD, us-east-1 list prices)"
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
BATCH_LIMITS = {
    "SendMessageBatch": 10,
    "ReceiveMessage": 10,
    "DeleteMessageBatch": 10,
    "BatchGetItem": 100,
    "TransactWriteItems": 100,
    "BatchWriteItem": 25,
}
EXCLUDED = {"SendTextMessage"}
WINDOW = "Mon-Sun 00:00-23:59 no-holidays"  # the benchmark runs at any hour


@dataclass
class Traffic:
    """Requests and the items they carried, per (service, operation)."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    items: Counter[tuple[str, str]] = field(default_factory=Counter)
    idle_receives: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    paused: bool = True

    def record(self, service: str, operation: str, params: dict[str, Any], result: Any) -> None:
        if self.paused or operation in EXCLUDED:
            return
        items = _items(operation, params, result)
        if operation == "ReceiveMessage" and items == 0:
            self.idle_receives += 1
            return
        self.calls[service, operation] += 1
        self.items[service, operation] += items
        self._capacity(operation, params, items)

    def _capacity(self, operation: str, params: dict[str, Any], items: int) -> None:
        # Items here are far below 1 KB / 4 KB: one unit each; transactions cost twice.
        if operation in ("GetItem", "Query"):
            self.read_units += items if params.get("ConsistentRead") else items / 2
        elif operation == "BatchGetItem":
            self.read_units += items
        elif operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"):
            self.write_units += items
        elif operation == "TransactWriteItems":
            self.write_units += 2 * items

    def total(self) -> int:
        return sum(self.calls.values())

    def floor(self) -> int:
        return sum(
            math.ceil(self.items[key] / BATCH_LIMITS[key[1]]) if key[1] in BATCH_LIMITS else n
            for key, n in self.calls.items()
        )


def _items(operation: str, params: dict[str, Any], result: Any) -> int:
    if operation in ("SendMessageBatch", "DeleteMessageBatch", "ChangeMessageVisibilityBatch"):
        return len(params.get("Entries", []))
    if operation == "ReceiveMessage":
        return len(result.get("Messages", []))
    if operation == "BatchGetItem":
        return sum(len(spec["Keys"]) for spec in params["RequestItems"].values())
    if operation == "BatchWriteItem":
        return sum(len(requests) for requests in params["RequestItems"].values())
    if operation == "TransactWriteItems":
        return len(params["TransactItems"])
    if operation == "Query":
        return max(1, len(result.get("Items", [])))
    return 1


@contextmanager
def counting(traffic: Traffic) -> Iterator[None]:
    """Count every botocore call of this process into ``traffic`` (when not paused)."""
    original = BaseClient._make_api_call

    def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        result = original(client, operation, params)
        traffic.record(client.meta.service_model.service_name, operation, params, result)
        return result

    BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


@dataclass
class Run:
    variant: str
    recipients: int
    traffic: Traffic
    sms: int
    invocations: int
    lambda_seconds: float
    memory_mb: int


def _audience(recipients: int) -> tuple[str, list[str]]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["phone", "first_name"])
    phones = [f"+3361{n:07d}" for n in range(recipients)]
    for n, phone in enumerate(phones):
        writer.writerow([phone if n % 2 else f"0{phone[3:]}", "Léa"])
    return out.getvalue(), phones


def _timed(handler: Callable[..., Any], spent: list[float]) -> Callable[..., Any]:
    def run(event: dict[str, Any], context: Any) -> Any:
        started = time.perf_counter()
        try:
            return handler(event, context)
        finally:
            spent.append(time.perf_counter() - started)

    return run


def run_variant(variant: str, recipients: int) -> Run:
    """One campaign to ``recipients`` people (90 % consented, 5 % opted out) in a fresh stack."""
    traffic = Traffic()
    spent: list[float] = []
    # A send rate the emulator never reaches: Lambda time is then work, not the rate limiter.
    overrides = {"SENDING_WINDOW": WINDOW, "INBOUND_BRANDS": "36111=acme", "SEND_RATE": "1000"}
    # The naive handlers were never given a least-privilege role of their own: they run
    # unchecked; StopSMS runs with only its template roles, as deployed.
    enforce = variant != "naive"
    with (
        EmulatedStack(overrides=overrides, quiet=True, enforce_iam=enforce) as stack,
        counting(traffic),
    ):
        bind(get_settings())
        for source in stack.sources:
            if variant == "naive" and source.function.name == "CampaignFunction":
                source.function.handler = naive.campaign_handler
            if variant == "naive" and source.function.name == "SenderFunction":
                source.function.handler = naive.sender_handler
            source.function.handler = _timed(source.function.handler, spent)
        for schedule in stack.schedules:  # periodic (every 5 min on AWS), not per recipient
            handler = schedule.function.handler
            schedule.function.handler = lambda e, c, h=handler: _paused(traffic, lambda: h(e, c))
        idle = stack._idle
        stack._idle = lambda sqs: _paused(traffic, lambda: idle(sqs))  # type: ignore[method-assign]

        body, phones = _audience(recipients)
        bucket = stack.stack.buckets["AudienceBucket"]
        stack.client("s3").put_object(Bucket=bucket, Key="audience.csv", Body=body.encode())
        at = datetime.now(UTC) - timedelta(days=1)
        for n, phone in enumerate(phones):
            if n % 10 != 3:
                contacts.apply(phone, "acme", OPTED_IN, at, source="benchmark")
            if n % 20 == 5:
                contacts.apply(phone, "acme", OPTED_OUT, at + timedelta(hours=1), source="bench")

        traffic.paused = False
        stack.client("sqs").send_message(
            QueueUrl=stack.queue("CampaignQueue"),
            MessageBody=json.dumps(
                {
                    "campaign_id": f"bench-{variant}",
                    "category": "marketing",
                    "brand": "acme",
                    "body": "Bonjour {first_name}, -20 % sur tout le magasin ce week-end !",
                    "audience": {"s3_uri": f"s3://{bucket}/audience.csv"},
                }
            ),
        )
        invocations = stack.pump(timeout_s=1800)
        traffic.paused = True
        if stack.errors:
            raise RuntimeError(f"{variant}: a function failed:\n{stack.errors[0]}")
        memory = int(stack.template["Globals"]["Function"].get("MemorySize", 128))
        sms = len(stack.sms.outbox)
        return Run(variant, recipients, traffic, sms, invocations, sum(spent), memory)


def _paused(traffic: Traffic, call: Callable[[], Any]) -> Any:
    was, traffic.paused = traffic.paused, True
    try:
        return call()
    finally:
        traffic.paused = was


def cost_per_million(run: Run) -> dict[str, float]:
    scale = 1e6 / run.recipients
    sqs = sum(n for (service, _), n in run.traffic.calls.items() if service == "sqs")
    return {
        "SQS": sqs * scale * PRICES["sqs_request"],
        "DynamoDB": scale
        * (
            run.traffic.read_units * PRICES["dynamodb_rru"]
            + run.traffic.write_units * PRICES["dynamodb_wru"]
        ),
        "Lambda": scale
        * (
            run.lambda_seconds * run.memory_mb / 1024 * PRICES["lambda_gb_s"]
            + run.invocations * PRICES["lambda_request"]
        ),
    }


def figures(stopsms: Run, baseline: Run) -> list[Figure]:
    per_k = 1000 / stopsms.recipients
    out: list[Figure] = []
    operations = sorted(set(stopsms.traffic.calls) | set(baseline.traffic.calls))
    for key in operations:
        ours, theirs = stopsms.traffic.calls[key] * per_k, baseline.traffic.calls[key] * per_k
        out.append(Figure(SECTION, f"{key[0]} {key[1]} (naive: {theirs:,.1f})", ours, "req"))
    total, naive_total = stopsms.traffic.total() * per_k, baseline.traffic.total() * per_k
    floor = stopsms.traffic.floor() * per_k
    ratio = total / floor
    out += [
        Figure(SECTION, "StopSMS total", total, "req", key="requests_per_1k"),
        Figure(SECTION, "naive total (baseline)", naive_total, "req"),
        Figure(SECTION, "batch-API floor", floor, "req", key="floor_per_1k"),
        Figure(SECTION, "StopSMS / floor", ratio, "×", "≤ 1.2 ×", ratio <= 1.2),
        Figure(SECTION, "naive / StopSMS", naive_total / total, "×"),
        Figure(
            SECTION,
            f"SMS sent to {stopsms.recipients:,} recipients, each design",
            stopsms.sms,
            "SMS",
        ),
    ]
    for name, ours_units, naive_units, key in (
        ("read", stopsms.traffic.read_units, baseline.traffic.read_units, "rru_per_recipient"),
        ("write", stopsms.traffic.write_units, baseline.traffic.write_units, "wru_per_recipient"),
    ):
        out.append(
            Figure(
                COST_SECTION,
                f"DynamoDB {name} units/recipient (naive: {naive_units / baseline.recipients:.2f})",
                ours_units / stopsms.recipients,
                "units",
                key=key,
            )
        )
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
            key="usd_per_million",
        ),
        Figure(COST_SECTION, "naive total", naive_cost_total, "$", key="naive_usd_per_million"),
        Figure(COST_SECTION, "naive / StopSMS", naive_cost_total / ours_total, "×"),
    ]
    return out


def measure(quick: bool = False) -> list[Figure]:
    recipients = 200 if quick else 1000  # the naive fan-out makes moto's SQS quadratic
    stopsms = run_variant("stopsms", recipients)
    baseline = run_variant("naive", recipients)
    if stopsms.sms != baseline.sms:
        raise AssertionError(f"designs disagree: {stopsms.sms} vs {baseline.sms} SMS")
    return figures(stopsms, baseline)


if __name__ == "__main__":
    print_table(measure())
