"""Faults between the claims and the send (docs/ARCHITECTURE.md "Exactly once, at the sender":
the one window left is a crash between the claim and the answer; contract §6: `unconfirmed`
means the SMS may have left). The claims of a batch are now separate conditional puts, no
longer one transaction: a failed write must not strand the others."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import PutError

from stopsms import clock
from stopsms.dal import contacts, deliveries
from stopsms.reporting import report
from stopsms.sending import service as sending
from tests.claim_promises.conftest import A, Attack, B, C, by_key, publish, reconciles
from tests.handlers.sms import client_error
from tests.handlers.test_stop_scope import MONDAY_10H_PARIS

LATER = MONDAY_10H_PARIS + timedelta(minutes=20)  # any claim of the first attempt is stale


def _throttled_put(key: str) -> Any:
    """DynamoDB throttles the claim put of ``key`` beyond the SDK's retries."""
    real = deliveries.save_if

    def save_if(item: Any, condition: Any) -> bool:
        if str(item.recipient) == key:
            cause = ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "PutItem",
            )
            raise PutError("Error putting item", cause=cause)
        return real(item, condition)

    return mock.patch.object(deliveries, "save_if", side_effect=save_if)


def test_claim_attack_one_claim_write_throttled(attack: Attack) -> None:
    # Promise 1 (exactly once, not "at most once by losing recipients"): DynamoDB throttling
    # one claim's put beyond the SDK's retries fails that job alone; the others are sent, and
    # SQS brings it back: every recipient gets one SMS, none is recorded `unconfirmed`.
    jobs = publish(attack, "fault-1", [A, B, C])
    with _throttled_put(f"p#{C}"):
        failed = attack.feed(jobs)
    assert len(failed) == 1
    assert sorted(attack.sent_to("fault-1")) == [A, B]
    assert f"p#{C}" not in by_key("fault-1")  # released: nothing stands in its way
    for at in (MONDAY_10H_PARIS + timedelta(minutes=1), LATER):
        with mock.patch.object(clock, "now", return_value=at):
            attack.feed(jobs)
    assert sorted(attack.sent_to("fault-1")) == [A, B, C]
    shown = report("fault-1")
    assert (shown["sent"], shown["failed"], shown["pending"]) == (3, 0, 0)
    assert reconciles(shown)


def test_claim_attack_a_claim_written_though_its_put_failed_is_released(attack: Attack) -> None:
    # Promise 1: the put reached DynamoDB but its answer was lost (a timeout): the claim is
    # released all the same, so the job SQS brings back claims and sends (not `unconfirmed`).
    jobs = publish(attack, "fault-1b", [A])
    real = deliveries.save_if

    def written_then_lost(item: Any, condition: Any) -> bool:
        real(item, condition)
        cause = ClientError({"Error": {"Code": "RequestTimeout", "Message": "lost"}}, "PutItem")
        raise PutError("Error putting item", cause=cause)

    with mock.patch.object(deliveries, "save_if", side_effect=written_then_lost):
        assert len(attack.feed(jobs)) == 1
    assert attack.sent_to("fault-1b") == []
    assert f"p#{A}" not in by_key("fault-1b")
    assert attack.feed(jobs) == []
    assert attack.sent_to("fault-1b") == [A]


def test_claim_attack_answer_lost_then_redelivered_concurrently(attack: Attack) -> None:
    # Promise 1: the SMS left, its answer was lost; SQS redelivers the job (twice in one
    # batch, then again after the claim is stale): never a second SMS, one outcome.
    jobs = publish(attack, "fault-2", [A, B])
    attack.sms.answer_lost = lambda p: p["DestinationPhoneNumber"] == A
    attack.feed(jobs)
    attack.sms.answer_lost = lambda _p: False
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS + timedelta(minutes=3)):
        attack.feed(jobs + jobs)
    with mock.patch.object(clock, "now", return_value=LATER):
        assert attack.feed(jobs + list(reversed(jobs))) == []
    assert sorted(attack.sent_to("fault-2")) == [A, B]
    shown = report("fault-2")
    assert (shown["audience"], shown["sent"] + shown["failed"], shown["pending"]) == (2, 2, 0)
    assert reconciles(shown)


def test_claim_attack_dlq_redrive_after_throttling_twice(
    attack: Attack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Promise 1: throttled on every delivery, the job is recorded failed and left in the DLQ;
    # redriven (twice: two redrives, one batch each, and a copy in one batch) it is sent once.
    monkeypatch.setattr(sending, "backoff", lambda _attempt: 0)
    jobs = publish(attack, "fault-3", [A, B])
    attack.sms.fail = lambda p: (
        client_error("ThrottlingException") if p["DestinationPhoneNumber"] == A else None
    )
    for receive in range(1, 6):
        attack.feed(jobs[:1], receive_count=receive)
    attack.feed(jobs[1:])
    attack.sms.fail = lambda _p: None
    assert by_key("fault-3")[f"p#{A}"][:2] == ("failed", "ThrottlingException")
    assert attack.sent_to("fault-3") == [B]
    assert attack.feed(jobs + jobs[:1]) == []
    assert attack.feed(jobs[:1]) == []
    assert sorted(attack.sent_to("fault-3")) == [A, B]
    shown = report("fault-3")
    assert (shown["sent"], shown["failed"], shown["pending"]) == (2, 0, 0)


def _crash_before_outcomes() -> Any:
    """The invocation dies after its SMS left, before their outcomes are written (a Lambda
    timeout): the claims stay ``sending``."""

    def finish(_items: Any) -> None:
        raise RuntimeError("Task timed out")

    return mock.patch.object(deliveries, "finish", side_effect=finish)


def test_claim_attack_crash_after_send_then_stop_then_redelivered(attack: Attack) -> None:
    # Promise 1/2: the SMS left, the invocation died before recording it, the person answered
    # STOP, SQS delivers the job again (and again after 15 minutes): no second SMS, and the
    # recipient ends with one outcome (`unconfirmed`, contract §6), nothing left pending.
    start = MONDAY_10H_PARIS - timedelta(days=3)
    contacts.apply(A, "acme", "opted_in", start, source="web-form")
    fields = {"category": "marketing", "brand": "acme", "stop_number": "36111"}
    jobs = publish(attack, "fault-4", [A], **fields)
    with _crash_before_outcomes(), pytest.raises(RuntimeError):
        attack.feed(jobs)
    assert attack.sent_to("fault-4") == [A]
    assert by_key("fault-4")[f"p#{A}"][0] == "sending"
    contacts.apply(A, "acme", "opted_out", MONDAY_10H_PARIS, source="reply")
    for at in (MONDAY_10H_PARIS + timedelta(minutes=2), LATER, LATER + timedelta(hours=1)):
        with mock.patch.object(clock, "now", return_value=at):
            attack.feed(jobs)
    assert attack.sent_to("fault-4") == [A]
    assert by_key("fault-4")[f"p#{A}"][:2] == ("failed", "unconfirmed")
    shown = report("fault-4")
    assert (shown["audience"], shown["failed"], shown["pending"]) == (1, 1, 0)
    assert reconciles(shown)


def test_claim_attack_crash_after_send_then_redelivered(attack: Attack) -> None:
    # Promise 1: the same crash without an opt-out: the redelivery waits while the claim is
    # fresh, then records `unconfirmed`; never a second SMS.
    jobs = publish(attack, "fault-5", [A, B])
    with _crash_before_outcomes(), pytest.raises(RuntimeError):
        attack.feed(jobs)
    assert sorted(attack.sent_to("fault-5")) == [A, B]
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS + timedelta(minutes=2)):
        assert len(attack.feed(jobs)) == 2
    with mock.patch.object(clock, "now", return_value=LATER):
        assert attack.feed(list(reversed(jobs)) + jobs) == []
    assert sorted(attack.sent_to("fault-5")) == [A, B]
    shown = report("fault-5")
    assert (shown["failures"], shown["pending"]) == ({"unconfirmed": 2}, 0)
    assert reconciles(shown)


def test_claim_attack_dlq_redrive_after_an_opt_out(
    attack: Attack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Promise 3: a marketing job failed by throttling (left in the DLQ), the person opts out,
    # the DLQ is redriven: no SMS (its failed claim is not reclaimed past the opt-out).
    monkeypatch.setattr(sending, "backoff", lambda _attempt: 0)
    contacts.apply(A, "acme", "opted_in", MONDAY_10H_PARIS - timedelta(days=3), source="web")
    fields = {"category": "marketing", "brand": "acme", "stop_number": "36111"}
    jobs = publish(attack, "fault-6", [A], **fields)
    attack.sms.fail = lambda _p: client_error("ThrottlingException")
    attack.feed(jobs, receive_count=5)
    attack.sms.fail = lambda _p: None
    contacts.apply(A, "acme", "opted_out", MONDAY_10H_PARIS, source="reply")
    assert attack.feed(jobs + jobs) == []
    assert attack.sent_to("fault-6") == []
    shown = report("fault-6")
    assert (shown["audience"], shown["pending"]) == (1, 0)
    assert reconciles(shown)
