"""Dry runs through the new claims (contract §2 "Dry run": sends nothing, no claim the real send
could trip on; its duplicates, suppressed recipients and estimate are counted as for real)."""

from __future__ import annotations

from datetime import timedelta

from stopsms.dal import contacts
from stopsms.dal.tables import GLOBAL_SCOPE
from stopsms.reporting import report
from tests.claim_promises.conftest import A, Attack, B, C, by_key, publish, reconciles
from tests.handlers.test_stop_scope import MONDAY_10H_PARIS

FIELDS = {"category": "marketing", "brand": "acme", "stop_number": "36111"}


def _people() -> None:
    at = MONDAY_10H_PARIS - timedelta(days=3)
    contacts.apply(A, "acme", "opted_in", at, source="web-form")
    contacts.apply(B, "acme", "opted_in", at, source="web-form")
    contacts.apply(C, GLOBAL_SCOPE, "opted_out", at, source="reply")


def test_claim_attack_dry_run_redelivered_then_real_send(attack: Attack) -> None:
    # Promise 3: a dry run (with an opted-out number and a duplicate), all delivered again,
    # sends nothing and writes no real claim; the real send then reaches A and B once each.
    _people()
    jobs = publish(attack, "dry-1", [A, B, C, B], dry_run=True, **FIELDS)
    assert attack.feed(jobs) == []
    assert attack.feed(jobs + jobs[:2]) == []
    assert attack.sms.sent == []
    assert not any(key.startswith(("p#", "r#")) for key in by_key("dry-1"))
    estimate = report("dry-1")["estimate"]
    assert estimate["would_send"] == 2
    real = publish(attack, "dry-1", [A, B, C, B], **FIELDS)
    assert attack.feed([*jobs, *real]) == []  # stale dry jobs in the same batch
    assert sorted(attack.sent_to("dry-1")) == [A, B]
    shown = report("dry-1")
    assert (shown["sent"], shown["pending"], shown["suppressed"]["opted_out"]) == (2, 0, 1)
    assert reconciles(shown)


def test_claim_attack_dry_run_redelivered_out_of_order(attack: Attack) -> None:
    # Promise 3/2: the estimate counts each recipient once whatever order SQS redelivers in.
    _people()
    jobs = publish(attack, "dry-2", [A, B, A], dry_run=True, **FIELDS)
    assert attack.feed(jobs[:2]) == []
    assert attack.feed([jobs[2], jobs[0]]) == []
    assert attack.sms.sent == []
    shown = report("dry-2")
    assert shown["estimate"]["would_send"] == 2
    assert (shown["audience"], shown["suppressed"]["duplicate"]) == (3, 1)
    assert reconciles(shown)
