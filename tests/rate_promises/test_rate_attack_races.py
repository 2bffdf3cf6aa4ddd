"""CampaignBlockedOrSpamRate when a batch's transaction is refused and retried because another
batch wrote one of its messages meanwhile (issue 14: "blocked / spam-filtered rates per
campaign ... are metrics with alarms and dashboard widgets"; a rate is a share of the
campaign's final states: never below 0 %, never above 100 %).

The race is the one tests/handlers/test_receipts.py stages: ``receipts.write`` is wrapped so
that, before the batch's first write, another receipts function handles another batch."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from stopsms.dal import receipts
from stopsms.rules import receipts as rules
from tests.rate_promises.conftest import (
    assert_final_is_the_buckets_sum,
    rate_lines,
    true_rate,
)
from tests.receipt_promises.conftest import CAMPAIGN, PHONES, T, deliver, event, load_function

A, B, C, D, E = PHONES


def other_batch_first(bodies: list[dict[str, Any]]) -> Any:
    """A ``receipts.write`` that lets another receipts function handle ``bodies`` before this
    batch's first write (so that write is refused and the batch reads its messages again)."""
    real_write = receipts.write
    raced: list[bool] = []

    def write(updates: Any) -> Any:
        if not raced:
            raced.append(True)
            assert deliver(load_function("receipts"), bodies) == []
        return real_write(updates)

    return mock.patch.object(receipts, "write", side_effect=write)


def test_a_retried_batch_never_emits_a_negative_rate(
    sent: dict[str, str], receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with mock.patch.object(rules, "RATE_MIN_FINAL", 4):
        # Given four SMS delivered: 0 % of 4 final states
        done = [event(sent[p], p, "DELIVERED", T) for p in (A, C, D, E)]
        assert deliver(receipts_fn, done) == []
        capsys.readouterr()
        # When B's SMS is delivered (T+9), while another batch records its earlier BLOCKED (T)
        # between this batch's read and its write
        with other_batch_first([event(sent[B], B, "BLOCKED", T)]):
            assert deliver(receipts_fn, [event(sent[B], B, "DELIVERED", T + 9)]) == []
        emitted = rate_lines(capsys.readouterr().out)
    # Then B ends delivered: the campaign is at 0 % of 5, the counter is the buckets' sum
    assert true_rate(CAMPAIGN) == (5, 0.0)
    assert_final_is_the_buckets_sum(CAMPAIGN)
    # And every rate the two batches emitted is a share: between 0 and 100 %
    assert emitted, "each batch moved the campaign's final states: each emits its rate"
    assert all(0 <= value <= 100 for _, value in emitted), emitted


def test_a_retried_batch_never_emits_a_rate_above_100_percent(
    sent: dict[str, str], receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with mock.patch.object(rules, "RATE_MIN_FINAL", 4):
        # Given four SMS blocked: 100 % of 4
        done = [event(sent[p], p, "BLOCKED", T) for p in (A, C, D, E)]
        assert deliver(receipts_fn, done) == []
        capsys.readouterr()
        # When B's SMS is blocked (T+9) while another batch records its earlier DELIVERED (T)
        with other_batch_first([event(sent[B], B, "DELIVERED", T)]):
            assert deliver(receipts_fn, [event(sent[B], B, "BLOCKED", T + 9)]) == []
        emitted = rate_lines(capsys.readouterr().out)
    assert true_rate(CAMPAIGN) == (5, 100.0)
    assert_final_is_the_buckets_sum(CAMPAIGN)
    assert emitted
    assert all(0 <= value <= 100 for _, value in emitted), emitted


def test_a_retried_batch_emits_the_rate_its_totals_say(
    sent: dict[str, str], receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # The rate the alarm reads after the batch must be the campaign's rate as stored once it
    # wrote: the other batch's write is seen (it made this batch's write fail and re-read).
    with mock.patch.object(rules, "RATE_MIN_FINAL", 4):
        done = [event(sent[p], p, "DELIVERED", T) for p in (A, C, D)]
        done.append(event(sent[E], E, "SPAM", T))
        assert deliver(receipts_fn, done) == []  # 1 spam of 4: 25 %
        capsys.readouterr()
        # When B's SMS is delivered (T+20) while another batch records its earlier BLOCKED
        # (T+9) between this batch's read and its write
        with other_batch_first([event(sent[B], B, "BLOCKED", T + 9)]):
            assert deliver(receipts_fn, [event(sent[B], B, "DELIVERED", T + 20)]) == []
        last = rate_lines(capsys.readouterr().out)[-1]  # this batch's (the other printed first)
    # Then the campaign stands at 1 spam of 5 final states, and this batch, which re-read B
    # after the other batch's write, says so
    assert true_rate(CAMPAIGN) == (5, 20.0)
    assert_final_is_the_buckets_sum(CAMPAIGN)
    assert last == (CAMPAIGN, 20.0)
