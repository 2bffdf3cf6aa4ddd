"""Dry run, then the real send of the same campaign id (contract §2 "Dry run", §6): the real
send sends exactly the recipients the estimate said it would, each once, whatever the dry
run left behind on the queues; the dry run's records never leak into the real report."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stopsms.dal import contacts
from stopsms.dal.tables import GLOBAL_SCOPE
from stopsms.reporting import report
from tests.control_promises.conftest import (
    PHONES,
    Ctl,
    consent,
    parked,
    reconciles,
    records,
    request,
)
from tests.handlers.test_stop_scope import MONDAY_10H_PARIS


def test_stale_dry_run_jobs_processed_after_the_real_send_started_send_nothing(
    ctl: Ctl,
) -> None:
    # Given a dry run whose jobs are still queued when the real send is published
    assert ctl.message({**request("stale-1"), "dry_run": True}) == []
    ctl.campaigns_drain()
    dry_jobs = ctl.jobs()
    assert len(dry_jobs) == 15
    assert ctl.message(request("stale-1")) == []
    ctl.campaigns_drain()
    real_jobs = ctl.jobs()
    # When the sender gets half the real jobs, then every stale dry job, then the rest
    assert ctl.feed(real_jobs[:7]) == []
    assert ctl.feed(dry_jobs) == []
    assert ctl.feed(dry_jobs) == []  # redelivered
    assert ctl.feed(real_jobs[7:]) == []
    # Then each recipient got exactly one SMS, and the real report knows nothing of the dry run
    assert sorted(ctl.sent_to("stale-1")) == sorted(PHONES)
    shown = report("stale-1")
    assert (shown["status"], shown["sent"], shown["pending"], shown["estimate"]) == (
        "done",
        15,
        0,
        None,
    )
    assert shown["suppressed"]["duplicate"] == 0
    assert reconciles(shown)


# Broke before this pass (fixed): pause/resume loses real jobs: a dry-run job still queued when
# the real send is paused is parked under the same key job#<campaign>#<seq> as the real job
# (deferred.park_paused / job_key), overwriting it; resume releases the dry job, the real
# recipient never gets the SMS
def test_stale_dry_run_jobs_parked_while_the_real_send_is_paused_lose_no_real_job(
    ctl: Ctl,
) -> None:
    # Promise: pause/resume loses nothing; a real send after a dry run sends the would_send
    # recipients, each once. The dry run's jobs are still queued when the real send starts.
    assert ctl.message({**request("stale-2"), "dry_run": True}) == []
    ctl.campaigns_drain()
    dry_jobs = ctl.jobs()
    assert ctl.message(request("stale-2")) == []
    ctl.campaigns_drain()
    real_jobs = ctl.jobs()
    # When the real campaign is paused: its jobs are parked, then the stale dry jobs arrive
    assert ctl.control("pause", "stale-2") == []
    assert ctl.feed(real_jobs) == []
    assert len(parked("stale-2")) == 15
    assert ctl.feed(dry_jobs) == []
    # And it is resumed
    assert ctl.control("resume", "stale-2") == []
    ctl.run_all()
    # Then the 15 real recipients receive their SMS, once each
    assert sorted(ctl.sent_to("stale-2")) == sorted(PHONES)
    shown = report("stale-2")
    assert (shown["status"], shown["sent"], shown["pending"]) == ("done", 15, 0)


# Broke before this pass (fixed): nothing lost / real send sends the would_send recipients: a
# stale dry-run job parked while the real campaign is paused overwrites the real job parked for
# its recipient's window (same key job#<campaign>#<seq>)
def test_stale_dry_run_job_arriving_while_paused_does_not_replace_a_real_job_waiting_for_its_window(
    ctl: Ctl, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real marketing job for Tahiti waits (parked) for its own window; a stale dry-run job of
    # the same position arrives while the campaign is paused.
    monkeypatch.setenv("STOPSMS_CONSENT_POLICY", "record")
    from stopsms.settings import get_settings

    get_settings.cache_clear()
    tahiti = "+68987123456"
    body = request("stale-3", category="marketing", body="Promo", recipients=[tahiti])
    assert ctl.message({**body, "dry_run": True}) == []
    dry_jobs = ctl.jobs()
    assert ctl.message(body) == []
    assert ctl.feed(ctl.jobs()) == []  # parked for Tahiti's window
    assert ctl.sent_to("stale-3") == []
    assert ctl.control("pause", "stale-3") == []
    assert ctl.feed(dry_jobs) == []
    assert ctl.control("resume", "stale-3") == []
    ctl.run_all()
    later = MONDAY_10H_PARIS + timedelta(hours=12)  # Monday 10:00 in Tahiti
    from unittest import mock

    from stopsms import clock

    with mock.patch.object(clock, "now", return_value=later):
        ctl.sweep()
        ctl.run_all()
    assert ctl.sent_to("stale-3") == [tahiti]


def test_an_opt_out_between_the_dry_run_and_the_real_send_is_honoured(ctl: Ctl) -> None:
    a, b, c = PHONES[:3]
    consent("acme", a, b, c)
    body = request(
        "optout-1", category="marketing", brand="acme", body="Promo", recipients=[a, b, c]
    )
    assert ctl.message({**body, "dry_run": True}) == []
    ctl.run_all()
    assert report("optout-1")["estimate"]["would_send"] == 3
    contacts.apply(
        b, GLOBAL_SCOPE, "opted_out", MONDAY_10H_PARIS - timedelta(minutes=1), source="reply"
    )
    assert ctl.message(body) == []
    ctl.run_all()
    assert sorted(ctl.sent_to("optout-1")) == sorted([a, c])
    shown = report("optout-1")
    assert (shown["sent"], shown["suppressed"]["opted_out"]) == (2, 1)
    assert reconciles(shown)


def test_the_real_send_sends_exactly_what_the_estimate_said_with_duplicates_across_batches(
    ctl: Ctl,
) -> None:
    # The same person at positions 0, 11 and 14 (other batches, other formats); an invalid row
    a = PHONES[0]
    rows = [*PHONES[:11], a.replace("+33", "0"), "06 12", PHONES[11], "0033" + a[3:]]
    body = request("dups-1", recipients=rows)
    assert ctl.message({**body, "dry_run": True}) == []
    ctl.run_all()
    shown = report("dups-1")
    assert shown["suppressed"]["duplicate"] == 2
    assert shown["suppressed"]["invalid_number"] == 1
    assert shown["estimate"]["would_send"] == 12
    assert shown["estimate"]["complete"]
    assert reconciles(shown)
    assert ctl.sms.sent == []
    assert ctl.message(body) == []
    ctl.run_all()
    sent = ctl.sent_to("dups-1")
    assert len(sent) == 12 == len(set(sent))
    real = report("dups-1")
    assert real["suppressed"] == shown["suppressed"]
    assert real["sent"] == shown["estimate"]["would_send"]
    assert reconciles(real)
    # No dry-run record is counted by the real report; the dry ones are still there apart
    assert records("dups-1", "d#")


def test_the_real_send_replacing_an_s3_dry_run_midway_drops_the_dry_runs_slices(
    ctl: Ctl, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stopsms.settings import get_settings
    from tests.handlers.test_campaign import upload

    monkeypatch.setenv("STOPSMS_FANOUT_SLICE_ROWS", "3")
    get_settings.cache_clear()
    uri = upload("attack/mid.csv", ("\n".join(["phone", *PHONES]) + "\n").encode())
    body = request("s3-mid", audience={"s3_uri": uri})
    del body["recipients"]
    assert ctl.message({**body, "dry_run": True}) == []
    # The dry run checked, one or two slices queued, its continuation waiting
    for _ in range(2):
        for message in ctl.take("CampaignQueue")[:1]:
            assert ctl.message(message) == []
    stale = ctl.take("CampaignQueue")
    dry_jobs = ctl.jobs()
    assert ctl.message(body) == []
    for message in stale + stale:
        assert ctl.message(message) == []  # the dry run's continuations: dropped
    ctl.run_all(rounds=40)
    assert ctl.feed(dry_jobs) == []
    assert sorted(ctl.sent_to("s3-mid")) == sorted(PHONES)
    shown = report("s3-mid")
    assert (shown["status"], shown["sent"], shown["audience"]) == ("done", 15, 15)
    assert reconciles(shown)
