"""A cancel or a pause landing while the sender claims (contract §2 "Cancellation" and "Pause
and resume": no SMS of the campaign leaves after it is recorded; jobs still queued end
``cancelled`` / are parked; §6: a cancelled campaign's report reconciles, each recipient
counted once). The claims are no longer conditional on the campaign: the campaign is read
again after them, and one held meanwhile must release them."""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

import pytest

from stopsms.dal import campaigns, contacts, deliveries
from stopsms.dal.tables import GLOBAL_SCOPE
from stopsms.reporting import report
from stopsms.sending import service as sending
from tests.cancel_promises.conftest import as_operator
from tests.claim_promises.conftest import (
    A,
    Attack,
    B,
    C,
    by_key,
    operator_cancel,
    publish,
    reconciles,
)
from tests.handlers.sms import client_error
from tests.handlers.test_stop_scope import MONDAY_10H_PARIS


def _after_claims(action: Any) -> Any:
    """``deliveries.claim`` that runs ``action`` once its writes are done (before the sender
    reads the campaigns again)."""
    real = deliveries.claim

    def claim(items: Any) -> Any:
        refused = real(items)
        action()
        return refused

    return mock.patch.object(deliveries, "claim", side_effect=claim)


def _during_claims(action: Any) -> Any:
    """The claims' conditional puts, ``action`` run right after the first one is written."""
    real = deliveries.save_if
    done: list[bool] = []

    def save_if(item: Any, condition: Any) -> bool:
        ok = real(item, condition)
        if not done:
            done.append(True)
            action()
        return ok

    return mock.patch.object(deliveries, "save_if", side_effect=save_if)


def test_claim_attack_cancel_after_the_claims_before_the_send(attack: Attack) -> None:
    # Promise 2: the cancel is recorded after the claims were written but before any SMS:
    # nothing leaves, every claim is released, each job recorded cancelled once.
    jobs = publish(attack, "held-1", [A, B, C])
    with _after_claims(lambda: operator_cancel("held-1")):
        assert attack.feed(jobs) == []
    assert attack.sent_to("held-1") == []
    assert {k: v[0] for k, v in by_key("held-1").items()} == {
        "r#0000000000": "cancelled",
        "r#0000000001": "cancelled",
        "r#0000000002": "cancelled",
    }
    assert attack.feed(jobs) == []  # delivered again: nothing more
    assert attack.sent_to("held-1") == []
    shown = report("held-1")
    assert (shown["audience"], shown["cancelled"], shown["pending"], shown["sent"]) == (3, 3, 0, 0)
    assert reconciles(shown)


def test_claim_attack_cancel_between_two_claim_writes(attack: Attack) -> None:
    # Promise 2: the cancel lands after the first claim's put, before the others: no SMS at
    # all (the ones claimed after the cancel must not go; the first one is released too).
    jobs = publish(attack, "held-2", [A, B, C])
    with _during_claims(lambda: operator_cancel("held-2")):
        assert attack.feed(jobs) == []
    assert attack.sent_to("held-2") == []
    assert not any(key.startswith("p#") for key in by_key("held-2"))
    shown = report("held-2")
    assert (shown["cancelled"], shown["pending"]) == (3, 0)
    assert reconciles(shown)


def test_claim_attack_cancel_after_claims_with_suppressed_and_duplicates(attack: Attack) -> None:
    # Promise 2/3: a batch with an opted-out recipient (its decision written as its phone's
    # claim), a duplicate and sendable ones, cancelled between claims and send: no SMS, and
    # the report counts each of the 4 recipients once.
    contacts.apply(A, GLOBAL_SCOPE, "opted_out", MONDAY_10H_PARIS, source="reply")
    contacts.apply(B, "acme", "opted_in", MONDAY_10H_PARIS, source="web-form")
    contacts.apply(C, "acme", "opted_in", MONDAY_10H_PARIS, source="web-form")
    fields = {"category": "marketing", "brand": "acme", "stop_number": "36111"}
    jobs = publish(attack, "held-3", [A, B, C, B], **fields)
    with _after_claims(lambda: operator_cancel("held-3")):
        assert attack.feed(jobs) == []
    assert attack.feed(list(reversed(jobs))) == []  # and all delivered again
    assert attack.sent_to("held-3") == []
    shown = report("held-3")
    assert shown["audience"] == 4
    assert (shown["suppressed"]["opted_out"], shown["pending"], shown["sent"]) == (1, 0, 0)
    assert shown["cancelled"] + shown["suppressed"]["duplicate"] == 3
    assert reconciles(shown)


def test_claim_attack_sent_then_cancelled_then_redelivered(attack: Attack) -> None:
    # Promise 2: a job worked before the cancel keeps its record when delivered again after
    # it (not cancelled on top); the rest end cancelled; the report reconciles.
    jobs = publish(attack, "held-4", [A, B, C])
    assert attack.feed(jobs[:1]) == []
    operator_cancel("held-4")
    assert attack.feed([jobs[2], jobs[0], jobs[1], jobs[0]]) == []
    assert attack.sent_to("held-4") == [A]
    records = by_key("held-4")
    assert records[f"p#{A}"][0] == "sent"
    assert "r#0000000000" not in records
    shown = report("held-4")
    assert (shown["audience"], shown["sent"], shown["cancelled"], shown["pending"]) == (3, 1, 2, 0)
    assert reconciles(shown)


def test_claim_attack_cancelled_campaign_job_twice_in_one_batch(attack: Attack) -> None:
    # Promise 2: SQS hands the same job of a cancelled campaign twice in one batch: it is
    # recorded cancelled once and the batch goes through (another campaign's SMS sent in the
    # same batch keeps its `sent` record).
    jobs = publish(attack, "held-5", [A, B])
    other = publish(attack, "held-5b", [C])
    operator_cancel("held-5")
    assert attack.feed([jobs[0], jobs[0], jobs[1], *other]) == []
    assert attack.sent_to("held-5") == []
    assert attack.sent_to("held-5b") == [C]
    assert by_key("held-5b") == {f"p#{C}": ("sent", None, 0)}
    shown = report("held-5")
    assert (shown["audience"], shown["cancelled"], shown["pending"]) == (2, 2, 0)


def test_claim_attack_dlq_redrive_reclaimed_then_cancelled(
    attack: Attack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Promise 1/2: a job failed by throttling on its last delivery (left in the DLQ) is
    # redriven; the campaign is cancelled between its reclaim and the send: no SMS, and the
    # recipient ends with one record (not failed and cancelled both).
    monkeypatch.setattr(sending.time, "sleep", lambda _s: None)
    jobs = publish(attack, "held-6", [A])
    attack.sms.fail = lambda _p: client_error("ThrottlingException")
    with mock.patch.object(sending, "backoff", return_value=0):
        assert len(attack.feed(jobs, receive_count=5)) == 1  # failed, left in the DLQ
    attack.sms.fail = lambda _p: None
    assert by_key("held-6")[f"p#{A}"][:2] == ("failed", "ThrottlingException")
    real = deliveries.reclaim

    def reclaim(item: Any, status: str) -> bool:
        ok = real(item, status)
        operator_cancel("held-6")
        return ok

    with mock.patch.object(deliveries, "reclaim", side_effect=reclaim):
        assert attack.feed(jobs + jobs) == []  # redriven, twice
    assert attack.sent_to("held-6") == []
    shown = report("held-6")
    assert (shown["audience"], shown["pending"]) == (1, 0)
    assert shown["failed"] + shown["cancelled"] == 1
    assert reconciles(shown)


def test_claim_attack_pause_after_the_claims_then_resume(attack: Attack) -> None:
    # Promise 2 (pause): a pause recorded after the claims, before the send: no SMS, claims
    # released, the jobs parked at once; on resume each is sent exactly once.
    jobs = publish(attack, "held-7", [A, B])

    def pause() -> None:
        with as_operator():
            campaigns.pause("held-7", int(time.time() * 1000))

    with _after_claims(pause):
        assert attack.feed(jobs) == []  # parked, not handed back to SQS
    assert attack.sent_to("held-7") == []
    assert not any(key.startswith("p#") for key in by_key("held-7"))
    assert attack.feed(jobs) == []  # SQS's copies: parked again, under the same keys
    assert attack.sent_to("held-7") == []
    assert attack.to_campaign_queue({"action": "resume", "campaign_id": "held-7"}) == []
    released = attack.jobs()
    assert attack.feed(released + released) == []
    assert sorted(attack.sent_to("held-7")) == [A, B]
    shown = report("held-7")
    assert (shown["sent"], shown["pending"], shown["status"]) == (2, 0, "done")


def test_claim_attack_pause_after_the_claims_on_the_last_receive(attack: Attack) -> None:
    # Promise 2 (pause): "jobs reaching the sender are parked, not retried into a DLQ": a
    # job on its last receive (the SendQueue's maxReceiveCount) when the pause lands between
    # its claim and the send must not be handed back to SQS (it would go to the DLQ).
    jobs = publish(attack, "held-8", [A])

    def pause() -> None:
        with as_operator():
            campaigns.pause("held-8", int(time.time() * 1000))

    with _after_claims(pause):
        assert attack.feed(jobs, receive_count=5) == []
    assert attack.sent_to("held-8") == []
