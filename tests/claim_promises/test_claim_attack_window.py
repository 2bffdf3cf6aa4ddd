"""A redelivery that now lands outside the sending window (contract §2: marketing only inside
the legal window; at most one SMS per phone per campaign id): the window is decided before the
job's own claim is read now, so a job already sent is parked; its release must send nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

from stopsms import clock
from stopsms.dal import contacts
from stopsms.reporting import report
from tests.claim_promises.conftest import A, Attack, B, by_key, publish, reconciles

MONDAY_19H59_PARIS = datetime(2026, 11, 30, 18, 59, 30, tzinfo=UTC)
MONDAY_20H01_PARIS = datetime(2026, 11, 30, 19, 1, tzinfo=UTC)
TUESDAY_08H05_PARIS = datetime(2026, 12, 1, 7, 5, tzinfo=UTC)


def test_claim_attack_sent_just_before_the_window_closes_then_redelivered(
    attack: Attack,
) -> None:
    # Promise 1: sent at 19:59, delivered again at 20:01 (parked for the window), released
    # the next morning: no second SMS, one record each, nothing left pending.
    consented = MONDAY_19H59_PARIS - timedelta(days=2)
    for phone in (A, B):
        contacts.apply(phone, "acme", "opted_in", consented, source="web-form")
    fields = {"category": "marketing", "brand": "acme", "stop_number": "36111"}
    jobs = publish(attack, "win-1", [A, B], **fields)
    with mock.patch.object(clock, "now", return_value=MONDAY_19H59_PARIS):
        assert attack.feed(jobs[:1]) == []
    with mock.patch.object(clock, "now", return_value=MONDAY_20H01_PARIS):
        assert attack.feed(jobs) == []  # seq 0 again, and seq 1 for the first time
    assert attack.sent_to("win-1") == [A]
    with mock.patch.object(clock, "now", return_value=TUESDAY_08H05_PARIS):
        assert attack.sweep()["jobs"] >= 1  # seq 1 at least (seq 0 too, parked again)
        attack.send()
        attack.sweep()
        attack.send()
    assert sorted(attack.sent_to("win-1")) == [A, B]  # sent concurrently: any order
    assert {k: v[0] for k, v in by_key("win-1").items()} == {f"p#{A}": "sent", f"p#{B}": "sent"}
    shown = report("win-1")
    assert (shown["audience"], shown["sent"], shown["pending"]) == (2, 2, 0)
    assert reconciles(shown)
