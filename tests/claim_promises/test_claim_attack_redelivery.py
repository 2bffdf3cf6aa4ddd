"""Redeliveries against the exactly-once claims (contract §2: one recipient gets at most one
SMS per campaign id; §6: every recipient ends with exactly one outcome, the report reconciles).
SQS standard queues deliver again and in any order: a job worked before can arrive in a batch
after another job of the same phone."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

from stopsms import clock
from stopsms.consent import erasure
from stopsms.dal import contacts
from stopsms.dal.tables import GLOBAL_SCOPE
from stopsms.reporting import report
from stopsms.settings import get_settings
from tests.claim_promises.conftest import A, Attack, B, by_key, publish, reconciles
from tests.handlers.test_stop_scope import MONDAY_10H_PARIS

CONSENTED_AT = MONDAY_10H_PARIS - timedelta(days=30)


def test_claim_attack_sent_job_redelivered_after_a_later_seq_of_its_phone(
    attack: Attack,
) -> None:
    # Promise 1 and 2: the phone gets one SMS and seq 0 is counted once, whatever the order
    # SQS hands the jobs over in.
    jobs = publish(attack, "re-1", [A, B, A])  # seq 0 and seq 2 are the same phone
    assert attack.feed(jobs[:2]) == []  # seq 0 sent, seq 1 sent
    assert attack.feed([jobs[2], jobs[0]]) == []  # seq 2, then seq 0 delivered again
    assert sorted(attack.sent_to("re-1")) == [A, B]  # sent concurrently: any order
    records = by_key("re-1")
    assert records[f"p#{A}"][0::2] == ("sent", 0)
    assert records["r#0000000002"][:2] == ("suppressed", "duplicate")
    assert "r#0000000000" not in records  # seq 0 is the sent claim, nothing else
    shown = report("re-1")
    assert (shown["audience"], shown["sent"], shown["suppressed"]["duplicate"]) == (3, 2, 1)
    assert reconciles(shown)


def test_claim_attack_suppressed_job_redelivered_after_a_later_seq_of_its_phone(
    attack: Attack,
) -> None:
    # Promise 2 and 3: an opted-out recipient is suppressed once, counted once.
    contacts.apply(A, GLOBAL_SCOPE, "opted_out", CONSENTED_AT, source="reply")
    contacts.apply(B, "acme", "opted_in", CONSENTED_AT, source="web-form")
    fields = {"category": "marketing", "brand": "acme", "stop_number": "36111"}
    jobs = publish(attack, "re-2", [A, B, A], **fields)
    assert attack.feed(jobs[:2]) == []
    assert attack.feed([jobs[2], jobs[0]]) == []
    assert attack.sent_to("re-2") == [B]
    records = by_key("re-2")
    assert records[f"p#{A}"] == ("suppressed", "opted_out", 0)
    assert "r#0000000000" not in records
    shown = report("re-2")
    assert shown["audience"] == 3
    assert shown["suppressed"]["opted_out"] == 1
    assert reconciles(shown)


def test_claim_attack_sent_then_opted_out_then_redelivered(attack: Attack) -> None:
    # Promise 2: a job sent, delivered again after the person opted out, stays `sent` only
    # (its suppressed decision is refused by its own claim; never counted twice).
    contacts.apply(A, "acme", "opted_in", CONSENTED_AT, source="web-form")
    fields = {"category": "marketing", "brand": "acme", "stop_number": "36111"}
    jobs = publish(attack, "re-3", [A], **fields)
    assert attack.feed(jobs) == []
    contacts.apply(A, "acme", "opted_out", MONDAY_10H_PARIS, source="reply")
    later = MONDAY_10H_PARIS + timedelta(minutes=1)
    with mock.patch.object(clock, "now", return_value=later):
        assert attack.feed(jobs + jobs) == []  # twice in one batch, too
    assert attack.sent_to("re-3") == [A]
    assert by_key("re-3") == {f"p#{A}": ("sent", None, 0)}
    shown = report("re-3")
    assert (shown["sent"], sum(shown["suppressed"].values()), shown["pending"]) == (1, 0, 0)


def test_claim_attack_same_job_twice_in_a_batch_and_again_later(attack: Attack) -> None:
    # Promise 1: one SMS per phone whatever SQS duplicates: the same job twice in one batch,
    # two seqs of one phone in one batch, and all of it delivered again.
    jobs = publish(attack, "re-4", [A, B, A, B])
    batch = [jobs[3], jobs[0], jobs[0], jobs[1], jobs[3]]
    assert attack.feed(batch) == []
    assert attack.feed(list(reversed(jobs))) == []
    assert sorted(attack.sent_to("re-4")) == [A, B]
    shown = report("re-4")
    assert (shown["audience"], shown["sent"], shown["pending"]) == (4, 2, 0)
    assert shown["suppressed"]["duplicate"] == 2
    assert reconciles(shown)


def test_claim_attack_redelivered_while_being_sent_then_stale(attack: Attack) -> None:
    # Promise 1: a crash between claim and answer (the SMS left, its answer was lost): a
    # redelivery while the claim is fresh waits, a later one records `unconfirmed`, never twice.
    jobs = publish(attack, "re-5", [A])
    attack.sms.answer_lost = lambda _params: True
    attack.feed(jobs)  # whatever the sender does with the lost answer
    attack.sms.answer_lost = lambda _params: False
    soon = MONDAY_10H_PARIS + timedelta(minutes=2)
    with mock.patch.object(clock, "now", return_value=soon):
        attack.feed(jobs)
    stale = MONDAY_10H_PARIS + timedelta(minutes=20)
    with mock.patch.object(clock, "now", return_value=stale):
        assert attack.feed(jobs) == []
        assert attack.feed(jobs) == []
    assert attack.sent_to("re-5") == [A]
    shown = report("re-5")
    assert (shown["audience"], shown["sent"] + shown["failed"], shown["pending"]) == (1, 1, 0)
    assert reconciles(shown)


def test_claim_attack_redelivered_after_the_number_was_erased(attack: Attack) -> None:
    # Promise 1: a transactional job sent, the person's number erased (its claims move under
    # the number's stand-in), then SQS delivers the job again: no second SMS.
    jobs = publish(attack, "re-6", [A, B])
    assert attack.feed(jobs) == []
    erasure.erase(A, get_settings())
    assert attack.feed(jobs) == []
    assert sorted(attack.sent_to("re-6")) == [A, B]
