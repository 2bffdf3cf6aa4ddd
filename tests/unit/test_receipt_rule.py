"""The delivery-receipt rule (contract §7): the state a message ends in, and the totals its
campaign keeps, whatever the order and repetition of its events."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopsms.rules.receipts import (
    AWAITING,
    DELIVERED,
    RATE_MIN_FINAL,
    Receipt,
    Standing,
    blocked_or_spam_rate,
    bucket,
    receive,
    to_micros,
)

T = 1_796_115_705_000


def final(status: str) -> bool:
    return status not in ("PENDING", "QUEUED")


def event(status: str, at: int, cost: int = 0) -> Receipt:
    return Receipt("m-1", status, final(status), at, cost)


def was(status: str, at: int, cost: int = 0) -> Standing:
    return Standing(status, final(status), at, cost)


# (standing before, event, standing after or None when nothing changes, moves, cost added)
TABLE: list[tuple[Standing | None, Receipt, Standing | None, dict[str, int], int]] = [
    # the first event of a message
    (None, event("PENDING", T), was("PENDING", T), {}, 0),
    (None, event("DELIVERED", T), was("DELIVERED", T), {DELIVERED: 1}, 0),
    (None, event("BLOCKED", T, 70_000), was("BLOCKED", T, 70_000), {"blocked": 1}, 70_000),
    # a later final event decides
    (was("PENDING", T), event("DELIVERED", T + 5), was("DELIVERED", T + 5), {DELIVERED: 1}, 0),
    (
        was("QUEUED", T),
        event("CARRIER_UNREACHABLE", T + 5),
        was("CARRIER_UNREACHABLE", T + 5),
        {"carrier_unreachable": 1},
        0,
    ),
    # a late pending after the final changes nothing, even with a later timestamp
    (was("DELIVERED", T), event("PENDING", T - 5), None, {}, 0),
    (was("DELIVERED", T), event("PENDING", T + 5), None, {}, 0),
    # an earlier final event never replaces a later one
    (was("BLOCKED", T), event("DELIVERED", T - 1), None, {}, 0),
    # a later final event moves the message between buckets
    (was("DELIVERED", T), event("SPAM", T + 1), was("SPAM", T + 1), {DELIVERED: -1, "spam": 1}, 0),
    # successful then delivered: another status, the same bucket
    (was("SUCCESSFUL", T), event("DELIVERED", T + 1), was("DELIVERED", T + 1), {}, 0),
    # a duplicate changes nothing
    (was("DELIVERED", T, 73_000), event("DELIVERED", T, 73_000), None, {}, 0),
    # a price reported by an event that does not decide is still counted once
    (was("DELIVERED", T), event("PENDING", T - 5, 73_000), was("DELIVERED", T, 73_000), {}, 73_000),
    (
        was("PENDING", T, 73_000),
        event("DELIVERED", T + 5, 73_000),
        was("DELIVERED", T + 5, 73_000),
        {DELIVERED: 1},
        0,
    ),
    # two finals at the same instant: the status name decides, whatever came first
    (was("DELIVERED", T), event("BLOCKED", T), None, {}, 0),
    (
        was("BLOCKED", T),
        event("DELIVERED", T),
        was("DELIVERED", T),
        {"blocked": -1, DELIVERED: 1},
        0,
    ),
]


@pytest.mark.parametrize(("before", "receipt", "after", "moves", "cost"), TABLE)
def test_a_receipt_changes_what_it_outranks(
    before: Standing | None,
    receipt: Receipt,
    after: Standing | None,
    moves: dict[str, int],
    cost: int,
) -> None:
    change = receive(before, receipt)
    if after is None:
        assert change is None
        return
    assert change is not None
    assert (change.standing, dict(change.moves), change.cost_micros) == (after, moves, cost)


@pytest.mark.parametrize(
    ("standing", "expected"),
    [
        (None, AWAITING),
        (Standing("PENDING", False, T), AWAITING),
        (Standing("DELIVERED", True, T), DELIVERED),
        (Standing("SUCCESSFUL", True, T), DELIVERED),
        (Standing("TTL_EXPIRED", True, T), "ttl_expired"),
        (Standing("UNKNOWN", True, T), "unknown"),
    ],
)
def test_where_a_message_counts(standing: Standing | None, expected: str) -> None:
    assert bucket(standing) == expected


def test_a_price_and_a_fee_on_different_events_are_both_counted_once() -> None:
    pending = Receipt("m-1", "PENDING", False, T, fee_micros=3_000)
    delivered = Receipt("m-1", "DELIVERED", True, T + 1, price_micros=70_000)
    for order in ([pending, delivered], [delivered, pending, delivered, pending]):
        standing, _, cost = replay(order)
        assert standing is not None
        assert (standing.cost_micros, cost) == (73_000, 73_000)


def test_dollars_become_exact_millionths() -> None:
    assert to_micros(0.07, 0.003) == 73_000
    assert to_micros(0.09582, None) == 95_820
    assert sum(to_micros(0.1) for _ in range(10)) == 1_000_000  # 10 x 0.1 is 1.0 exactly


STATUSES = ["PENDING", "QUEUED", "SUCCESSFUL", "DELIVERED", "BLOCKED", "SPAM", "UNREACHABLE"]
receipts = st.builds(
    lambda status, at, cost: event(status, T + at, cost),
    st.sampled_from(STATUSES),
    st.integers(0, 5),
    st.sampled_from([0, 70_000, 73_000]),
)


def replay(events: list[Receipt]) -> tuple[Standing | None, Counter[str], int]:
    standing: Standing | None = None
    totals: Counter[str] = Counter()
    cost = 0
    for receipt in events:
        change = receive(standing, receipt)
        if change is not None:
            standing = change.standing
            totals.update(change.moves)
            cost += change.cost_micros
    return standing, +totals, cost


@given(st.lists(receipts, min_size=1, max_size=6), st.randoms())
def test_any_order_and_any_repetition_end_the_same(events: list[Receipt], random: object) -> None:
    # Given a message's events, then the same events reordered and partly repeated
    shuffled = list(events) + events[: len(events) // 2]
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    # Then both replays end in the same state, totals and cost
    first, second = replay(events), replay(shuffled)
    assert first == second
    standing, totals, cost = first
    # And the totals are the message's own bucket, its cost the highest price reported
    assert totals == (Counter() if bucket(standing) == AWAITING else Counter([bucket(standing)]))
    assert cost == max(r.price_micros for r in events) + max(r.fee_micros for r in events)


def test_every_order_of_a_typical_life_ends_delivered() -> None:
    life = [event("PENDING", T), event("QUEUED", T + 1), event("DELIVERED", T + 2, 73_000)]
    for order in itertools.permutations(life):
        standing, totals, cost = replay(list(order))
        assert standing == was("DELIVERED", T + 2, 73_000)
        assert (totals, cost) == (Counter({DELIVERED: 1}), 73_000)


@pytest.mark.parametrize(
    ("before", "receipt"),
    [
        (None, event("DELIVERED", 900, 70_000)),
        (was("PENDING", 100, 70_000), event("BLOCKED", 900, 80_000)),
        (was("DELIVERED", 900, 70_000), event("DELIVERED", 900, 90_000)),
    ],
)
def test_an_sms_not_counted_as_sent_is_billed_but_moves_no_bucket(
    before: Standing | None, receipt: Receipt
) -> None:
    change = receive(before, receipt)
    assert change is not None
    billed = change.billed_only()
    assert (billed.standing, billed.cost_micros) == (change.standing, change.cost_micros)
    assert billed.moves == Counter()


@pytest.mark.parametrize(
    ("buckets", "final", "rate"),
    [
        ({}, 0, None),  # nothing final yet
        ({"blocked": 3}, 3, None),  # 3 of 3: too few to say anything
        ({"blocked": 1, "delivered": 98}, 99, None),  # one short of the minimum
        ({"delivered": 100}, 100, 0.0),
        ({"blocked": 1, "carrier_blocked": 1, "spam": 1, "delivered": 97}, 100, 3.0),
        ({"carrier_unreachable": 50, "delivered": 150}, 200, 0.0),  # unreachable is no reputation
        ({"spam": 2, "ttl_expired": 98}, 100, 2.0),
        ({"spam": 400}, 400, 100.0),
    ],
)
def test_a_campaigns_blocked_or_spam_rate_counts_from_its_minimum_of_final_states(
    buckets: dict[str, int], final: int, rate: float | None
) -> None:
    assert RATE_MIN_FINAL == 100
    assert blocked_or_spam_rate(buckets, final) == rate
