"""Third adversarial pass on delivery receipts (contract §6, §7; ARCHITECTURE "The fate of
an SMS"): adoption of unconfirmed SMS, destinations that keep failing, chunked transactions,
races, erasure. Each test states the promise a user relies on. Fixtures: conftest.py."""

from __future__ import annotations

import json
import logging
from typing import Any
from unittest import mock

import pytest

from stopsms import clock
from stopsms.cli import main
from stopsms.dal import receipts
from stopsms.dal.tables import Delivery, FailingDestination
from stopsms.reporting import report
from tests.handlers.sms import FakeSms, client_error
from tests.handlers.test_receipts import emitted
from tests.receipt_promises.conftest import (
    MONDAY_10H_PARIS,
    Sender,
    T,
    deliver,
    event,
    handle,
    load_function,
    records,
)

A = "+33612345678"
B = "+33698765432"
C = "+33611223344"
MANY = [f"+336200{n:05d}" for n in range(60)]


def failing_of(phone: str) -> FailingDestination | None:
    try:
        return FailingDestination.get(f"failing#p#{phone}", "campaigns", consistent_read=True)
    except FailingDestination.DoesNotExist:
        return None


def claim(campaign_id: str, phone: str) -> Delivery:
    return Delivery.get(campaign_id, f"p#{phone}", consistent_read=True)


def cost(item: Delivery) -> int:
    return int(item.price_micros or 0) + int(item.fee_micros or 0)


def send_with_lost_answer(
    sender: Sender, fake: FakeSms, campaign_id: str, phones: list[str], lost: set[str]
) -> dict[str, str]:
    """The campaign sent; the SMS to ``lost`` leave but their answer is lost. number -> id of
    every SMS that left."""
    fake.answer_lost = lambda p: (
        p["Context"]["campaign_id"] == campaign_id and p["DestinationPhoneNumber"] in lost
    )
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        sender.pipe.publish(campaign_id=campaign_id, category="transactional", recipients=phones)
    fake.answer_lost = lambda _p: False
    return {
        m["DestinationPhoneNumber"]: m["MessageId"]
        for m in fake.sent
        if m["Context"]["campaign_id"] == campaign_id
    }


# --- destinations that keep failing -------------------------------------------------------


def test_a_failure_in_a_later_chunk_is_not_lost_when_the_first_chunk_races(
    sender: Sender, receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fails in campaigns f-0 (earlier batch), f-1 and f-2 (one batch of 52 failures, so
    two transactions). Another batch changes an SMS of the first transaction meanwhile: A must
    still end with its three campaigns, counted once as a destination that keeps failing."""
    f0 = sender.send("f-0", [A])
    f1 = sender.send("f-1", [A, *MANY[:50]])
    f2 = sender.send("f-2", [A])
    assert deliver(receipts_fn, [event(f0[A], A, "BLOCKED", T, campaign="f-0")]) == []
    capsys.readouterr()
    batch = [event(f1[A], A, "BLOCKED", T, campaign="f-1")]
    batch += [event(f1[p], p, "BLOCKED", T, campaign="f-1") for p in MANY[:50]]
    batch += [event(f2[A], A, "BLOCKED", T, campaign="f-2")]
    real_write = receipts.write
    raced: list[bool] = []

    def other_batch_first(updates: Any) -> Any:
        if not raced:
            raced.append(True)
            # the same event of an SMS of the first transaction, delivered twice by SQS
            other = MANY[0]
            deliver(
                load_function("receipts"), [event(f1[other], other, "BLOCKED", T, campaign="f-1")]
            )
        return real_write(updates)

    with mock.patch.object(receipts, "write", side_effect=other_batch_first):
        assert deliver(receipts_fn, batch, size=len(batch)) == []
    item = failing_of(A)
    assert item is not None
    assert item.campaigns == {"f-0", "f-1", "f-2"}
    assert emitted(capsys.readouterr().out, "FailingDestinations") == 1


def test_a_destination_counts_the_same_whatever_the_batching(
    sender: Sender, receipts_fn: Any
) -> None:
    """The same two events (BLOCKED, then DELIVERED 100 ms later: the SMS was delivered) for
    two numbers: A's in one batch, B's in two. Their destinations must end the same."""
    sent = sender.send("b-1", [A, B])
    fate = {
        p: [
            event(sent[p], p, "BLOCKED", T, campaign="b-1"),
            event(sent[p], p, "DELIVERED", T + 100, campaign="b-1"),
        ]
        for p in (A, B)
    }
    assert deliver(receipts_fn, fate[A], size=2) == []
    assert deliver(receipts_fn, fate[B], size=1) == []
    assert claim("b-1", A).receipt_status == claim("b-1", B).receipt_status == "DELIVERED"
    assert (failing_of(A) is None) == (failing_of(B) is None)


def test_two_batches_racing_on_one_failing_destination_count_it_once(
    sender: Sender, receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed in h-0 and h-1. Two batches (h-2's failure, h-3's) race on A's failing item:
    the loser reads again. Four campaigns, FailingDestinations exactly once."""
    ids = {c: sender.send(c, [A])[A] for c in ("h-0", "h-1", "h-2", "h-3")}
    first = [event(ids[c], A, "BLOCKED", T, campaign=c) for c in ("h-0", "h-1")]
    assert deliver(receipts_fn, first, size=2) == []
    capsys.readouterr()
    real_write = receipts.write
    raced: list[bool] = []

    def other_batch_first(updates: Any) -> Any:
        if not raced:
            raced.append(True)
            other = [event(ids["h-3"], A, "CARRIER_UNREACHABLE", T, campaign="h-3")]
            assert deliver(load_function("receipts"), other) == []
        return real_write(updates)

    with mock.patch.object(receipts, "write", side_effect=other_batch_first):
        assert deliver(receipts_fn, [event(ids["h-2"], A, "BLOCKED", T, campaign="h-2")]) == []
    assert failing_of(A).campaigns == {"h-0", "h-1", "h-2", "h-3"}
    assert emitted(capsys.readouterr().out, "FailingDestinations") == 1


def test_two_campaigns_failing_in_one_batch_with_a_prior_one_count_once(
    sender: Sender, receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed in g-0; its g-1 and g-2 SMS fail in one batch (each event twice): 3 campaigns,
    FailingDestinations exactly once, even when the batch is delivered again."""
    ids = {c: sender.send(c, [A])[A] for c in ("g-0", "g-1", "g-2")}
    assert deliver(receipts_fn, [event(ids["g-0"], A, "SPAM", T, campaign="g-0")]) == []
    capsys.readouterr()
    batch = [event(ids[c], A, "BLOCKED", T + 5, campaign=c) for c in ("g-1", "g-2")] * 2
    assert deliver(receipts_fn, batch, size=4) == []
    assert deliver(receipts_fn, batch, size=4) == []
    assert failing_of(A).campaigns == {"g-0", "g-1", "g-2"}
    assert emitted(capsys.readouterr().out, "FailingDestinations") == 1


def test_an_expired_but_undeleted_item_restarts_the_count(
    sender: Sender, receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two failures, then 31 days of nothing (TTL has not deleted the item), then two more:
    only two campaigns count, no FailingDestinations; status shows the live two only."""
    from datetime import timedelta

    from stopsms.rules.receipts import FAILING_WINDOW

    ids = {c: sender.send(c, [A])[A] for c in ("e-0", "e-1", "e-2", "e-3")}
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        assert (
            deliver(
                receipts_fn, [event(ids[c], A, "BLOCKED", T, campaign=c) for c in ("e-0", "e-1")]
            )
            == []
        )
    later = MONDAY_10H_PARIS + FAILING_WINDOW + timedelta(days=1)
    capsys.readouterr()
    with mock.patch.object(clock, "now", return_value=later):
        assert (
            deliver(
                receipts_fn, [event(ids[c], A, "BLOCKED", T, campaign=c) for c in ("e-2", "e-3")]
            )
            == []
        )
        assert emitted(capsys.readouterr().out, "FailingDestinations") == 0
        assert failing_of(A).campaigns == {"e-2", "e-3"}
        assert main(["status", A]) == 0
        failures = json.loads(capsys.readouterr().out)["delivery_failures"]
    assert failures["campaigns"] == ["e-2", "e-3"]
    assert failures["keeps_failing"] is False


def test_an_adopted_sms_that_finally_fails_counts_for_its_destination(
    sender: Sender, fake: FakeSms, receipts_fn: Any
) -> None:
    """An SMS recorded unconfirmed whose events prove it left and was then BLOCKED is a final
    failure of an SMS to that number (ARCHITECTURE 5: "a final failure also adds its campaign")
    even though the campaign keeps it failed and out of its buckets."""
    went = send_with_lost_answer(sender, fake, "u-1", [A, B], lost={A})
    assert claim("u-1", A).reason == "unconfirmed"
    assert deliver(receipts_fn, [event(went[A], A, "BLOCKED", T, price=0.07, campaign="u-1")]) == []
    item = claim("u-1", A)
    assert (item.status, item.message_id, item.receipt_status) == ("failed", went[A], "BLOCKED")
    assert receipts.totals("u-1") == receipts.Totals({}, 70_000)
    failing = failing_of(A)
    assert failing is not None
    assert failing.campaigns == {"u-1"}


# --- adoption of an unconfirmed SMS ------------------------------------------------------


def test_a_forged_id_beside_the_real_one_in_one_batch_breaks_nothing(
    sender: Sender, fake: FakeSms, receipts_fn: Any
) -> None:
    """The lost SMS's real event and an event naming the same campaign and number under
    another id arrive in one batch with B's delivery. B's receipt must be applied, the lost SMS
    adopted once (one id, its cost once), and no record left to fail forever."""
    went = send_with_lost_answer(sender, fake, "d-1", [A, B], lost={A})
    batch = [
        event(went[A], A, "DELIVERED", T, price=0.07, campaign="d-1"),
        event("forged-or-other", A, "DELIVERED", T + 1, price=0.5, campaign="d-1"),
        event(went[B], B, "DELIVERED", T, price=0.07, campaign="d-1"),
    ]
    failed = deliver(receipts_fn, batch, size=3)
    assert claim("d-1", B).receipt_status == "DELIVERED"
    adopted = claim("d-1", A)
    assert adopted.message_id in (went[A], "forged-or-other")
    assert adopted.status == "failed"
    total = receipts.totals("d-1")
    assert total.buckets == {"delivered": 1}
    assert total.cost_micros == 70_000 + cost(adopted)
    assert len(failed) <= 1  # at most the loser, retried alone


def test_a_message_id_already_counted_elsewhere_is_not_adopted_again(
    sender: Sender, fake: FakeSms, receipts_fn: Any
) -> None:
    """A's SMS of campaign m-1 is recorded (id X). A's SMS of m-2 was recorded unconfirmed.
    An event of X naming m-2 in its context must not make m-2 adopt X: X would be billed in
    two campaigns (each message counted once)."""
    x = sender.send("m-1", [A])[A]
    send_with_lost_answer(sender, fake, "m-2", [A], lost={A})
    events = [
        event(x, A, "DELIVERED", T, price=0.07, campaign="m-1"),
        event(x, A, "DELIVERED", T, price=0.07, campaign="m-2"),
    ]
    assert deliver(receipts_fn, events, size=1) == []
    billed = receipts.totals("m-1").cost_micros + receipts.totals("m-2").cost_micros
    assert billed == 70_000
    assert [i.campaign_id for i in Delivery.message_id_index.query(x)] == ["m-1"]


def test_events_before_the_sender_records_unconfirmed_are_retried_then_adopted(
    sender: Sender, fake: FakeSms, receipts_fn: Any
) -> None:
    """While the claim still says ``sending`` the event is retried; once ``unconfirmed`` it is
    adopted and billed, the report counting it failed and out of ``delivery``."""
    went = send_with_lost_answer(sender, fake, "s-1", [A, B], lost={A})
    item = claim("s-1", A)
    real = (item.status, item.reason)
    # back in time: the sender has not recorded the lost answer yet
    item.update(actions=[Delivery.status.set("sending"), Delivery.reason.remove()])
    ev = [event(went[A], A, "DELIVERED", T, price=0.07, fee=0.003, campaign="s-1")]
    recs = records(ev)
    assert handle(receipts_fn, recs) == [recs[0]["messageId"]]
    assert claim("s-1", A).message_id is None
    claim("s-1", A).update(actions=[Delivery.status.set(real[0]), Delivery.reason.set(real[1])])
    assert handle(receipts_fn, recs) == []
    assert claim("s-1", A).message_id == went[A]
    shown = report("s-1")
    assert (shown["sent"], shown["failed"]) == (1, 1)
    assert shown["delivery"] == {"delivered": 0, "undelivered": {}, "awaiting": 1}
    assert shown["cost"]["total"] == pytest.approx(0.073)


def test_a_refused_send_adopts_nothing_even_with_a_matching_context(
    sender: Sender, fake: FakeSms, receipts_fn: Any
) -> None:
    fake.fail = lambda p: (
        client_error("ValidationException") if p["DestinationPhoneNumber"] == A else None
    )
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        sender.pipe.publish(campaign_id="r-1", category="transactional", recipients=[A, B])
    fake.fail = lambda _p: None
    assert claim("r-1", A).status == "failed"
    ev = [event("someone-else", A, "BLOCKED", T, price=0.07, campaign="r-1")]
    assert deliver(receipts_fn, ev) == []
    assert (claim("r-1", A).message_id, claim("r-1", A).receipt_status) == (None, None)
    assert receipts.totals("r-1") == receipts.Totals({}, 0)
    assert failing_of(A) is None


def test_an_unconfirmed_sms_erased_then_adopted_never_brings_the_number_back(
    sender: Sender, fake: FakeSms, receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    went = send_with_lost_answer(sender, fake, "x-1", [A, B], lost={A})
    assert deliver(receipts_fn, [event(went[A], A, "PENDING", T, price=0.07, campaign="x-1")]) == []
    assert main(["erase", A, "--yes"]) == 0
    capsys.readouterr()
    assert (
        deliver(receipts_fn, [event(went[A], A, "BLOCKED", T + 9, price=0.08, campaign="x-1")])
        == []
    )
    assert failing_of(A) is None
    for item in Delivery.scan():
        assert A not in json.dumps(item.attribute_values, default=str)
    [moved] = [i for i in Delivery.query("x-1") if i.message_id == went[A]]
    assert (moved.status, moved.receipt_status, cost(moved)) == ("failed", "BLOCKED", 80_000)
    assert receipts.totals("x-1") == receipts.Totals({}, 80_000)


@pytest.mark.xfail(
    strict=True,
    reason="open: the moved claim of an unconfirmed SMS has no message id, and the receipts "
    "function may not hold the erasure key that would find its stand-in (docs/CONTRACTS.md §6)",
)
def test_an_unconfirmed_sms_erased_before_its_events_is_still_billed(
    sender: Sender, fake: FakeSms, receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """§6: an unconfirmed SMS whose events prove it left is billed. Erasure of its number
    (before its events, which arrive up to 72 h late) must not make its cost vanish; and the
    number must not come back."""
    went = send_with_lost_answer(sender, fake, "y-1", [A, B], lost={A})
    assert main(["erase", A, "--yes"]) == 0
    capsys.readouterr()
    assert (
        deliver(receipts_fn, [event(went[A], A, "DELIVERED", T, price=0.07, campaign="y-1")]) == []
    )
    for item in Delivery.scan():
        assert A not in json.dumps(item.attribute_values, default=str)
    assert receipts.totals("y-1").cost_micros == 70_000


# --- clocks, prices ----------------------------------------------------------------------


def test_equal_timestamps_final_statuses_any_order_same_story(
    sender: Sender, receipts_fn: Any
) -> None:
    """Same eventTimestamp, DELIVERED vs BLOCKED: any order, any batching, one state, and the
    failing item agrees across numbers."""
    sent = sender.send("t-1", [A, B, C])
    pair = lambda p: [  # noqa: E731
        event(sent[p], p, "BLOCKED", T, price=0.07, campaign="t-1"),
        event(sent[p], p, "DELIVERED", T, price=0.07, campaign="t-1"),
    ]
    assert deliver(receipts_fn, pair(A), size=1) == []
    assert deliver(receipts_fn, pair(B)[::-1], size=1) == []
    assert deliver(receipts_fn, pair(C), size=2) == []
    states = {claim("t-1", p).receipt_status for p in (A, B, C)}
    assert len(states) == 1
    by_message: dict[str, int] = {}
    for p in (A, B, C):
        s = claim("t-1", p).receipt_status
        key = "delivered" if s == "DELIVERED" else s.lower()
        by_message[key] = by_message.get(key, 0) + 1
    assert receipts.totals("t-1") == receipts.Totals(by_message, 3 * 70_000)
    assert len({failing_of(p) is None for p in (A, B, C)}) == 1


def test_odd_prices_never_break_reconciliation(sender: Sender, receipts_fn: Any) -> None:
    sent = sender.send("p-1", [A, B, C])
    good = [
        event(sent[A], A, "DELIVERED", T, price=0, fee=0, campaign="p-1"),
        event(sent[B], B, "DELIVERED", T, price=None, fee=None, campaign="p-1"),
        event(sent[C], C, "DELIVERED", T, price=999.999999, fee=0.0000004, campaign="p-1"),
    ]
    bad = [
        event(sent[A], A, "DELIVERED", T + 1, price=-0.01, campaign="p-1"),
        event(sent[A], A, "DELIVERED", T + 1, price="NaN", campaign="p-1"),
        event(sent[A], A, "DELIVERED", T + 1, price=1e308, campaign="p-1"),
        event(sent[A], A, "DELIVERED", T + 1, fee="Infinity", campaign="p-1"),
        event(sent[A], A, "DELIVERED", 10**15, campaign="p-1"),
    ]
    recs = records(good + bad)
    failed = handle(receipts_fn, recs)
    assert set(failed) == {r["messageId"] for r in recs[3:]}
    total = receipts.totals("p-1")
    assert total.buckets == {"delivered": 3}
    assert total.cost_micros == sum(cost(claim("p-1", p)) for p in (A, B, C)) == 999_999_999


def test_no_phone_number_in_any_log_line(
    sender: Sender,
    fake: FakeSms,
    receipts_fn: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Lambda runs at INFO (Powertools' level); botocore's DEBUG wire dumps are not log lines
    caplog.set_level(logging.INFO)
    went = send_with_lost_answer(sender, fake, "l-1", [A, B, C], lost={A})
    capsys.readouterr()
    caplog.clear()
    batch = [
        event(went[A], A, "BLOCKED", T, campaign="l-1"),
        event(went[B], B, "SPAM", T, campaign="l-1"),
        event(went[C], C, "DELIVERED", T, campaign="l-1"),
        event(went[C], C, "DELIVERED", "soon", campaign="l-1"),  # invalid: refused alone
        event("nope", "+33600000001", "BLOCKED", T, campaign="l-1"),  # foreign
        event(went[B], "+33 6 98 76 54 32 x", "BLOCKED", T, campaign="l-1"),  # odd number
    ]
    deliver(receipts_fn, batch, size=len(batch))
    out = capsys.readouterr()
    logged = (
        out.out
        + out.err
        + "\n".join(
            f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.levelno >= logging.INFO
        )
    )
    for number in (A, B, C, "+33600000001", "33698765432", "612345678"):
        assert number not in logged
