"""Adversarial pass on delivery receipts (issue 14) (contract §6 `delivery`/`cost`, §7): real events
through the real receipts handler against moto, after a campaign really sent."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from typing import Any
from unittest import mock

import pytest

from stopsms.cli import main
from stopsms.dal import deliveries, receipts
from stopsms.dal.tables import Delivery
from stopsms.reporting import report
from stopsms.rules.receipts import bucket
from tests.handlers.conftest import load_function
from tests.receipt_promises.conftest import (
    CAMPAIGN,
    OTHER,
    PHONES,
    Sender,
    T,
    deliver,
    event,
    handle,
    records,
)


def claims(campaign: str = CAMPAIGN) -> dict[str, Delivery]:
    return {
        item.recipient.removeprefix("p#"): item
        for item in Delivery.query(campaign)
        if item.recipient.startswith("p#")
    }


def assert_consistent(campaign: str = CAMPAIGN) -> dict[str, int]:
    """The running totals agree with the messages' states, and the report with the totals."""
    items = claims(campaign).values()
    by_message = Counter(bucket(receipts.standing(i)) for i in items)
    by_message.pop("awaiting", None)
    totals = receipts.totals(campaign)
    cost = totals.cost_micros
    assert totals.buckets == dict(by_message)
    assert cost == sum(cost_of(i) for i in items)
    shown = report(campaign)
    assert shown["delivery"]["delivered"] == by_message.get("delivered", 0)
    undelivered = sum(v for k, v in by_message.items() if k != "delivered")
    assert shown["delivery"]["awaiting"] == shown["sent"] - sum(by_message.values())
    assert sum(shown["delivery"]["undelivered"].values()) == undelivered
    assert shown["cost"]["total"] == round(cost / 1_000_000, 6)
    return {**totals.buckets, "cost": cost}


def cost_of(item: Delivery) -> int:
    return int(item.price_micros or 0) + int(item.fee_micros or 0)


# --------------------------------------------------------------------------------------
# Breaks
# --------------------------------------------------------------------------------------


def test_an_infinite_price_is_refused_alone_not_the_whole_batch(
    sent: dict[str, str], receipts_fn: Any
) -> None:
    # Given a batch with one good event and one whose price is Infinity (Python's json and
    # pydantic both read `Infinity`; it passes `ge=0`)
    a, b = PHONES[:2]
    good = event(sent[b], b, "DELIVERED", T, price=0.07)
    bad = json.dumps(event(sent[a], a, "DELIVERED", T)).replace(
        '"totalMessagePrice": 0.0', '"totalMessagePrice": Infinity'
    )
    batch = records([good, bad])
    # When it arrives, then only the bad record is a batch item failure (contract §7: refused,
    # then the DLQ), and the good one is applied
    assert handle(receipts_fn, batch) == [batch[1]["messageId"]]
    assert claims()[b].receipt_status == "DELIVERED"


@pytest.mark.parametrize(
    "absurd",
    [
        {"totalMessagePrice": 1e300},
        {"eventTimestamp": 123456789012345678901234567890123456789012},
    ],
    ids=["price-1e300", "timestamp-42-digits"],
)
def test_an_absurd_number_is_refused_alone_and_never_breaks_the_report(
    sent: dict[str, str], receipts_fn: Any, absurd: dict[str, Any]
) -> None:
    # Given an event whose price or timestamp no DynamoDB number can hold (38 digits, 1e125)
    a, b = PHONES[:2]
    good = event(sent[b], b, "DELIVERED", T, price=0.07)
    bad = {**event(sent[a], a, "DELIVERED", T + 1), **absurd}
    batch = records([good, bad])
    failed = handle(receipts_fn, batch)
    # Then the campaign's report still reads (moto stores the number; DynamoDB would refuse
    # the whole transaction, failing the whole batch instead)
    assert report(CAMPAIGN)["delivery"]["delivered"] == 1
    # And the event is refused alone (§7), the good one applied
    assert failed == [batch[1]["messageId"]]
    assert claims()[b].receipt_status == "DELIVERED"


def test_an_event_arriving_before_the_sender_recorded_the_message_id_is_not_lost(
    aws: Any, sender: Sender, receipts_fn: Any
) -> None:
    # Given AWS delivers the first SMS of a page, and its event is handled while the sender
    # still sends the rest of its page (outcomes are written by pages of 25, or at the end)
    real_finish = deliveries.finish
    early: list[dict[str, Any]] = []
    failed: list[str] = []

    def events_first(items: Any) -> None:
        items = list(items)
        bodies = [
            event(i.message_id, i.recipient.removeprefix("p#"), "DELIVERED", T, price=0.07)
            for i in items
            if i.message_id
        ]
        if bodies:
            batch = records(bodies)
            early.extend(batch)
            failed.extend(handle(receipts_fn, batch))
        real_finish(items)

    with mock.patch.object(deliveries, "finish", side_effect=events_first):
        sender.send(CAMPAIGN, PHONES)
    assert len(early) == len(PHONES)
    # When SQS delivers again whatever the handler did not acknowledge
    retried = [r for r in early if r["messageId"] in failed]
    if retried:
        assert handle(receipts_fn, retried) == []
    # Then every SMS StopSMS sent ends delivered, its cost counted: none was dropped as foreign
    assert {p: c.receipt_status for p, c in claims().items()} == dict.fromkeys(PHONES, "DELIVERED")
    assert report(CAMPAIGN)["delivery"]["delivered"] == len(PHONES)


def test_an_erasure_racing_a_receipt_loses_neither_the_state_nor_the_totals(
    sent: dict[str, str], receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the erasure of A copies A's claim to its stand-in while A's DELIVERED is written
    a = PHONES[0]
    real_copy = deliveries.copy_with_key
    raced: list[bool] = []

    def receipt_meanwhile(item: Any, *args: Any, **kwargs: Any) -> Any:
        if not raced:
            raced.append(True)
            fn = load_function("receipts")
            assert deliver(fn, [event(sent[a], a, "DELIVERED", T, price=0.07)]) == []
        return real_copy(item, *args, **kwargs)

    with mock.patch.object(deliveries, "copy_with_key", side_effect=receipt_meanwhile):
        assert main(["erase", a, "--yes"]) == 0
    assert raced
    # When the event comes again (AWS sends duplicates)
    assert deliver(receipts_fn, [event(sent[a], a, "DELIVERED", T, price=0.07)]) == []
    # Then the erased message is delivered once, its cost once, and the totals agree with it
    [moved] = [c for p, c in claims().items() if p.startswith("erased#")]
    assert (moved.receipt_status, cost_of(moved)) == ("DELIVERED", 70_000)
    assert receipts.totals(CAMPAIGN) == receipts.Totals({"delivered": 1}, 70_000)


def test_a_price_and_a_fee_reported_on_different_events_are_both_counted(
    sent: dict[str, str], receipts_fn: Any
) -> None:
    # Given the price comes on one event of the SMS and the carrier fee on another (the other
    # field absent)
    a = PHONES[0]
    events = [
        event(sent[a], a, "PENDING", T, price=None, fee=0.003),
        event(sent[a], a, "DELIVERED", T + 500, price=0.07, fee=None),
    ]
    assert deliver(receipts_fn, events, size=1) == []
    # Then cost.total is its totalMessagePrice + its totalCarrierFee, once (§6)
    assert report(CAMPAIGN)["cost"]["total"] == 0.073


@pytest.mark.parametrize("variant", ["number-missing", "sibling-without-context"])
def test_an_event_of_our_sms_is_applied_without_a_number_or_beside_one_without_context(
    sent: dict[str, str], receipts_fn: Any, variant: str
) -> None:
    # Given our SMS's final event without destinationPhoneNumber (optional in §7), or in the
    # same batch as a duplicate pending of that SMS that lost its context
    a = PHONES[0]
    final = event(sent[a], a, "DELIVERED", T + 900, price=0.07)
    if variant == "number-missing":
        batch = [event(sent[a], None, "DELIVERED", T + 900, price=0.07)]
    else:
        batch = [event(sent[a], a, "PENDING", T, campaign=None), final]
    # When the batch arrives (no record fails: none is retried)
    assert deliver(receipts_fn, batch) == []
    # Then the SMS StopSMS sent is delivered: it is not counted as another sender's
    assert (claims()[a].receipt_status, cost_of(claims()[a])) == ("DELIVERED", 70_000)
    assert report(CAMPAIGN)["delivery"]["delivered"] == 1


def test_a_status_named_like_a_total_is_counted_as_a_status_not_as_money(
    sent: dict[str, str], receipts_fn: Any
) -> None:
    # Given a final failure whose messageStatus is `COST` (any name: the bucket is the status)
    a, b = PHONES[:2]
    events = [
        event(sent[a], a, "COST", T, price=0.07),
        event(sent[b], b, "DELIVERED", T, price=0.07),
    ]
    assert deliver(receipts_fn, events) == []
    # Then it is an undelivered status, and the money is the prices only
    shown = report(CAMPAIGN)
    assert shown["delivery"] == {"delivered": 1, "undelivered": {"cost": 1}, "awaiting": 3}
    assert shown["cost"]["total"] == 0.14


# --------------------------------------------------------------------------------------
# What held
# --------------------------------------------------------------------------------------


def test_report_before_any_event_json_and_text(
    sent: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["report", CAMPAIGN, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["delivery"] == {"delivered": 0, "undelivered": {}, "awaiting": 5}
    assert shown["cost"] == {"currency": "USD", "total": 0, "per_delivered": None}
    assert main(["report", CAMPAIGN]) == 0
    table = capsys.readouterr().out
    assert re.search(r"awaiting a receipt\s+5\b", table)
    assert re.search(r"cost \(USD\)\s+0\.0000\b", table)
    assert "per delivered" not in table


def _story(sent: dict[str, str], rng: random.Random, campaign: str) -> list[dict[str, Any]]:
    """Every number's events, duplicated, with same-timestamp statuses, late pendings after
    the final, prices on some events only (the same price wherever one is given)."""
    price = {p: (0.07, 0.003) if i % 2 else (0.1, 0.0) for i, p in enumerate(PHONES)}
    out: list[dict[str, Any]] = []
    for i, phone in enumerate(PHONES):
        mid = sent[phone]
        p, f = price[phone]

        def ev(
            status: str,
            at: int,
            priced: bool,
            *,
            ph: str | None = phone,
            mid: str = mid,
            p: float = p,
            f: float = f,
            **kw: Any,
        ) -> None:
            out.append(
                event(
                    mid,
                    ph,
                    status,
                    at,
                    price=p if priced else 0.0,
                    fee=f if priced else 0.0,
                    campaign=kw.pop("campaign", campaign),
                    **kw,
                )
            )

        ev("PENDING", T, False)
        ev("QUEUED", T, True)  # same timestamp, other non-final status
        if i == 0:
            ev("DELIVERED", T + 900, True)
            ev("PENDING", T + 5_000, False)  # a late pending after the final
        elif i == 1:
            ev("CARRIER_UNREACHABLE", T + 400, False, ph="06 98 76 54 32")  # national format
            ev("CARRIER_UNREACHABLE", T + 400, True, ph=" +33 6 98 76 54 32 ")
        elif i == 2:
            ev("BLOCKED", T + 300, True, campaign=OTHER if campaign == CAMPAIGN else CAMPAIGN)
        elif i == 3:
            ev("SUCCESSFUL", T + 200, True)
            ev("DELIVERED", T + 300, False)
            ev("PENDING", T + 10**7, True, final="false")  # a string boolean, 3 hours later
    out += out  # every event twice
    out.append(event("not-ours-1", PHONES[0], "DELIVERED", T, campaign=campaign))
    out.append(event("not-ours-2", "+33600000000", "BLOCKED", T, campaign=None))
    rng.shuffle(out)
    return out


def test_duplicated_shuffled_many_batches_and_variants_end_in_the_same_story(
    sender: Sender,
    receipts_fn: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given the same five numbers sent two campaigns
    first = sender.send(CAMPAIGN, PHONES)
    second = sender.send(OTHER, PHONES)
    capsys.readouterr()
    caplog.clear()
    # When each campaign's story arrives in another order and batching (both mixed together)
    rng = random.Random(14)
    one, two = _story(first, rng, CAMPAIGN), _story(second, rng, OTHER)
    mixed = [e for pair in zip(one, two, strict=True) for e in pair]
    assert deliver(receipts_fn, mixed[: len(mixed) // 2], size=3) == []
    # (E erases its number halfway: its claims move under a stand-in key)
    assert main(["erase", PHONES[4], "--yes"]) == 0
    assert deliver(receipts_fn, mixed[len(mixed) // 2 :], size=100) == []
    # Then each campaign ends with the states the contract says, whatever the order
    a, b, c, d, e = PHONES
    for campaign in (CAMPAIGN, OTHER):
        states = {p: (i.receipt_status, i.receipt_final) for p, i in claims(campaign).items()}
        [erased] = [k for k in states if k.startswith("erased#")]
        states[e] = states.pop(erased)
        assert states[a] == ("DELIVERED", True)
        assert states[b] == ("CARRIER_UNREACHABLE", True)
        assert states[c] == ("BLOCKED", True)
        assert states[d] == ("DELIVERED", True)
        assert states[e][1] is False
        totals = assert_consistent(campaign)
        assert totals == {
            "delivered": 2,
            "carrier_unreachable": 1,
            "blocked": 1,
            "cost": 3 * 100_000 + 2 * 73_000,
        }
    # And no number, in any format, is in any log line
    captured = capsys.readouterr()
    logged = captured.out + captured.err + "\n".join(str(r.__dict__) for r in caplog.records)
    # And the events of messages not ours were counted (ReceiptsForeign), once each
    emf = [json.loads(line) for line in captured.out.splitlines() if line.startswith('{"_aws"')]
    assert sum(sum(m.get("ReceiptsForeign", [0])) for m in emf) == 4
    for phone in [*PHONES, "+33600000000"]:
        assert phone[3:] not in logged.replace(" ", "")


def test_more_than_100_messages_of_two_campaigns_in_one_batch(
    sender: Sender, receipts_fn: Any
) -> None:
    # Given 70 numbers sent two campaigns: 140 messages, many statuses, float prices
    phones = [f"+336{n:08d}" for n in range(10_000_000, 10_000_070)]
    sent = {CAMPAIGN: sender.send(CAMPAIGN, phones), OTHER: sender.send(OTHER, phones)}
    statuses = [
        "DELIVERED",
        "SUCCESSFUL",
        "BLOCKED",
        "CARRIER_UNREACHABLE",
        "TTL_EXPIRED",
        "SPAM",
        "INVALID",
        "UNKNOWN",
        "PENDING",
    ]
    prices = [0.1, 0.07, 0.003, 0.00581, 0.0449, 0.2]
    events = [
        event(
            sent[c][p],
            p,
            statuses[i % len(statuses)],
            T + i,
            price=prices[i % len(prices)],
            fee=prices[(i + 1) % len(prices)],
            campaign=c,
        )
        for c in (CAMPAIGN, OTHER)
        for i, p in enumerate(phones)
    ]
    random.Random(3).shuffle(events)
    # When all 140 arrive in one batch (more than a transaction holds)
    assert deliver(receipts_fn, events, size=len(events)) == []
    # Then every message has its state and the totals agree, each price counted exactly
    for c in (CAMPAIGN, OTHER):
        totals = assert_consistent(c)
        expected = sum(
            round(prices[i % 6] * 1e6) + round(prices[(i + 1) % 6] * 1e6) for i in range(70)
        )
        assert totals["cost"] == expected
        assert sum(v for k, v in totals.items() if k != "cost") == sum(
            i % 9 != 8 for i in range(70)
        )
    # And the whole batch again changes nothing
    before = receipts.totals(CAMPAIGN), receipts.totals(OTHER)
    assert deliver(receipts_fn, events[::-1], size=len(events)) == []
    assert (receipts.totals(CAMPAIGN), receipts.totals(OTHER)) == before


def test_concurrent_batches_on_the_same_messages_count_once(
    sent: dict[str, str], receipts_fn: Any
) -> None:
    # Given every write of the first batch is raced by another batch on the same messages,
    # with other events (conflicting transactions, read again and folded again)
    real_write = receipts.write
    other = [event(sent[p], p, "BLOCKED", T + 100, price=0.05) for p in PHONES]
    rounds: list[int] = []

    def raced(updates: Any) -> Any:
        if len(rounds) < 3:
            rounds.append(1)
            fn = load_function("receipts")
            late = [{**e, "eventTimestamp": e["eventTimestamp"] + len(rounds)} for e in other]
            assert deliver(fn, late) == []
        return real_write(updates)

    mine = [event(sent[p], p, "DELIVERED", T + 50, price=0.07) for p in PHONES]
    with mock.patch.object(receipts, "write", side_effect=raced):
        assert deliver(receipts_fn, mine) == []
    # Then each message ends in its highest event (the last blocked), its highest price once
    assert {p: c.receipt_status for p, c in claims().items()} == dict.fromkeys(PHONES, "BLOCKED")
    assert {p: int(c.receipt_at) for p, c in claims().items()} == dict.fromkeys(PHONES, T + 103)
    assert assert_consistent() == {"blocked": 5, "cost": 5 * 70_000}


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "null",
        json.dumps({"messageId": "m"}),
        "NaN-price",
        "negative-timestamp",
        "float-timestamp",
        "status-missing",
        "final-yes-no",
    ],
)
def test_a_malformed_event_fails_alone_naming_its_field_and_no_number(
    sent: dict[str, str],
    receipts_fn: Any,
    body: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = PHONES[:2]
    base = event(sent[a], a, "DELIVERED", T + 1, price=0.07)
    bad: Any = {
        "NaN-price": json.dumps(base).replace(
            '"totalMessagePrice": 0.07', '"totalMessagePrice": NaN'
        ),
        "negative-timestamp": {**base, "eventTimestamp": -1},
        "float-timestamp": {**base, "eventTimestamp": T + 0.5},
        "status-missing": {k: v for k, v in base.items() if k != "messageStatus"},
        "final-yes-no": {**base, "isFinal": "perhaps"},
    }.get(body, body)
    capsys.readouterr()
    batch = records([event(sent[b], b, "DELIVERED", T, price=0.07), bad])
    assert handle(receipts_fn, batch) == [batch[1]["messageId"]]
    assert claims()[b].receipt_status == "DELIVERED"
    assert claims()[a].receipt_status is None
    logged = capsys.readouterr().out + "\n".join(str(r.__dict__) for r in caplog.records)
    assert "delivery event refused" in logged
    assert a[3:] not in logged
    assert b[3:] not in logged
