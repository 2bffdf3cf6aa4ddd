"""CampaignBlockedOrSpamRate at the template's batch size (500), at its real minimum (100 final
states), across a release upgrade, and without a phone number in any metric or log line
(issue 14: "blocked / spam-filtered rates per campaign ... are metrics with alarms and
dashboard widgets"; ARCHITECTURE: "t#final (its SMS in a final state, the buckets' sum)")."""

from __future__ import annotations

import json
import logging
import random
from typing import Any
from unittest import mock

import pytest

from stopsms.cli import main
from stopsms.dal import receipts
from stopsms.rules import receipts as rules
from tests.rate_promises.conftest import (
    assert_final_is_the_buckets_sum,
    bucket_sum,
    emf_documents,
    rate_lines,
    stored_final,
    true_rate,
)
from tests.receipt_promises.conftest import (
    CAMPAIGN,
    PHONES,
    Sender,
    T,
    deliver,
    event,
    handle,
    load_function,
    records,
)

MANY = [f"+336300{n:05d}" for n in range(120)]
BATCH_SIZE = 500  # template.yaml: the receipts function's BatchSize


def fates(sent: dict[str, str], campaign_id: str) -> list[dict[str, Any]]:
    """Each number's events: a pending, then every 10th blocked, every 25th spam, every 40th
    carrier_blocked (some of those delivered after all), the rest delivered; each twice."""
    bodies = []
    for n, phone in enumerate(MANY):
        mid = sent[phone]
        bodies.append(event(mid, phone, "PENDING", T, campaign=campaign_id))
        status = (
            "BLOCKED"
            if n % 10 == 0
            else "SPAM"
            if n % 25 == 0
            else "CARRIER_BLOCKED"
            if n % 40 == 0
            else "DELIVERED"
        )
        bodies.append(event(mid, phone, status, T + n, campaign=campaign_id))
        if n % 30 == 0:  # delivered after all
            bodies.append(event(mid, phone, "DELIVERED", T + 10_000, campaign=campaign_id))
    return bodies * 2


def test_batches_of_one_and_of_five_hundred_give_the_same_base_and_rate(
    sender: Sender, receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same 120 SMS fates for two campaigns: one campaign's events one by one, the other's
    # shuffled in one batch of 500 (several transactions of at most 100 items)
    one = sender.send("un-par-un", MANY)
    all_at_once = sender.send("tout-ensemble", MANY)
    first = fates(one, "un-par-un")
    second = fates(all_at_once, "tout-ensemble")
    random.Random(500).shuffle(second)
    assert len(second) <= BATCH_SIZE
    capsys.readouterr()
    assert deliver(receipts_fn, first, size=1) == []
    capsys.readouterr()
    assert deliver(receipts_fn, second, size=BATCH_SIZE) == []
    emitted = rate_lines(capsys.readouterr().out)
    # Then both campaigns end with the same totals, base and rate, the truth from the claims
    assert receipts.totals("un-par-un").buckets == receipts.totals("tout-ensemble").buckets
    assert stored_final("un-par-un") == stored_final("tout-ensemble") == 120
    assert_final_is_the_buckets_sum("un-par-un", "tout-ensemble")
    final, rate = true_rate("tout-ensemble")
    assert (final, rate) == true_rate("un-par-un")
    assert emitted == [("tout-ensemble", pytest.approx(rate))]


def test_the_real_minimum_no_rate_at_99_final_states_one_at_100(
    sender: Sender, receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # RATE_MIN_FINAL as deployed (100): 99 SMS blocked-heavy reach a final state, then the
    # 100th; the 99 pending-only ones never count
    assert rules.RATE_MIN_FINAL == 100
    sent = sender.send("minimum", MANY)
    ninety_nine = [
        event(sent[p], p, "BLOCKED" if n < 9 else "DELIVERED", T, campaign="minimum")
        for n, p in enumerate(MANY[:99])
    ]
    pending = [event(sent[p], p, "PENDING", T, campaign="minimum") for p in MANY[99:]]
    capsys.readouterr()
    assert deliver(receipts_fn, ninety_nine + pending, size=BATCH_SIZE) == []
    assert rate_lines(capsys.readouterr().out) == []
    assert stored_final("minimum") == 99
    hundredth = [event(sent[MANY[99]], MANY[99], "SPAM", T + 1, campaign="minimum")]
    assert deliver(receipts_fn, hundredth) == []
    assert rate_lines(capsys.readouterr().out) == [("minimum", 10.0)]  # 9 blocked + 1 spam
    assert_final_is_the_buckets_sum("minimum")


def previous_release_moves(real_moves: Any) -> Any:
    """``dal.receipts._moves`` as the committed release (HEAD) wrote it: the bucket totals and
    the cost, no ``t#final`` (it did not exist)."""

    def moves(chunk: Any) -> Any:
        written = real_moves(chunk)
        for key in [k for k in written if k[1] == receipts.FINAL]:
            del written[key]
        return written

    return moves


@pytest.mark.xfail(
    strict=True,
    reason=(
        "t#final is new in this change and nothing backfills it: dal/receipts.py:103 reads a "
        "missing t#final as 0 while the t#status# buckets the previous release wrote are read "
        "in full (dal/receipts.py:104), and _moves (dal/receipts.py:284) only ever adds to it; "
        "a campaign in flight at deployment (events come up to 72 h late) gets "
        "t#final != sum(buckets) forever and rates above 100 % (3 blocked of '2' final: 150 %)"
    ),
)
def test_a_campaign_in_flight_across_the_upgrade_keeps_final_the_buckets_sum(
    sent: dict[str, str], receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c, d, e = PHONES
    with mock.patch.object(rules, "RATE_MIN_FINAL", 2):
        # Given three SMS blocked, recorded by the previous release (no t#final)
        with mock.patch.object(receipts, "_moves", previous_release_moves(receipts._moves)):
            assert deliver(receipts_fn, [event(sent[p], p, "BLOCKED", T) for p in (a, b, c)]) == []
        assert bucket_sum(CAMPAIGN) == 3
        # When this release receives the two other SMS's deliveries
        capsys.readouterr()
        assert deliver(receipts_fn, [event(sent[p], p, "DELIVERED", T) for p in (d, e)]) == []
        emitted = rate_lines(capsys.readouterr().out)
    # Then the rate is 3 of 5 and the counter the buckets' sum
    assert true_rate(CAMPAIGN) == (5, 60.0)
    assert all(0 <= value <= 100 for _, value in emitted), emitted
    assert emitted == [(CAMPAIGN, 60.0)]
    assert_final_is_the_buckets_sum(CAMPAIGN)


def test_no_phone_number_in_any_metric_or_log_line(
    sent: dict[str, str],
    receipts_fn: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every path of a batch at once: good events, duplicates, an erased number's late event,
    # an event without context, one naming another campaign, one refused for its contract
    # (its number in the body), a foreign message id, then a batch whose write keeps being
    # refused (every record retried)
    a, b, c, d, e = PHONES
    assert main(["erase", e, "--yes"]) == 0
    capsys.readouterr()
    caplog.clear()
    caplog.set_level(logging.INFO)
    bad = event(sent[a], a, "blocked", T)  # messageStatus must be upper case: refused
    bad["destinationPhoneNumber"] = a * 5  # too long: refused, naming the field only
    bodies = [
        event(sent[a], a, "BLOCKED", T),
        event(sent[b], b, "SPAM", T),
        event(sent[c], c, "DELIVERED", T, campaign=None),
        event(sent[d], d, "CARRIER_BLOCKED", T, campaign="another-one"),
        event(sent[e], e, "SPAM", T + 3600_000),
        event("not-ours", "+33600000001", "BLOCKED", T),
        bad,
    ] * 2
    with mock.patch.object(rules, "RATE_MIN_FINAL", 1):
        failed = handle(receipts_fn, records(bodies))
        assert len(failed) == 2  # the two refused copies
        # A batch whose transaction is refused every time: SQS retries it, logged
        with (
            mock.patch.object(receipts, "write", side_effect=lambda updates: list(updates)),
            mock.patch("stopsms.receipts.service.backoff"),
        ):
            again = [event(sent[b], b, "DELIVERED", T + 5)]
            assert len(handle(load_function("receipts"), records(again))) == 1
    out, err = capsys.readouterr()
    logged = "\n".join(
        f"{r.getMessage()} {json.dumps(r.__dict__, default=str)}" for r in caplog.records
    )
    everything = out + err + logged
    for phone in [*PHONES, "+33600000001"]:
        assert phone not in everything, phone
        assert phone[1:] not in everything, phone
    # And the metric's dimensions are campaign ids, none of them a number
    dimensions = {
        document["campaign"]
        for document in emf_documents(out)
        if "CampaignBlockedOrSpamRate" in document
    }
    assert dimensions == {CAMPAIGN}
    assert_final_is_the_buckets_sum(CAMPAIGN)
