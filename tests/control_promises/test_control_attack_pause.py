"""Pause and resume (contract §2 "Pause and resume", §6 status ``paused``) attacked with
reordered and duplicated controls, races with the fan-out's slices and the sender's batches,
and redelivered jobs: after a pause is recorded no SMS leaves; nothing is lost; each
recipient gets at most one SMS; cancel wins; the report reconciles at every step."""

from __future__ import annotations

from unittest import mock

import pytest

from stopsms.dal import campaigns
from stopsms.reporting import report
from stopsms.settings import get_settings
from tests.control_promises.conftest import PHONES, Ctl, as_operator, parked, reconciles, request
from tests.handlers.conftest import sqs_record
from tests.handlers.test_campaign import upload


def slices(monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    monkeypatch.setenv("STOPSMS_FANOUT_SLICE_ROWS", str(rows))
    get_settings.cache_clear()


def status(campaign_id: str) -> str:
    shown = report(campaign_id)
    assert reconciles(shown), shown
    return str(shown["status"])


def test_resume_before_pause_changes_nothing_and_the_later_pause_holds(ctl: Ctl) -> None:
    # Reordered controls: the resume arrives first (a no-op), then the pause
    assert ctl.message(request("order-1")) == []
    jobs = ctl.jobs()
    assert ctl.control("resume", "order-1") == []
    assert status("order-1") == "sending"
    assert ctl.control("pause", "order-1") == []
    assert ctl.feed(jobs) == []
    assert ctl.sent_to("order-1") == []
    assert len(parked("order-1")) == 15
    assert status("order-1") == "paused"
    assert report("order-1")["pending"] == 15
    # The next resume releases everything, once
    assert ctl.control("resume", "order-1") == []
    ctl.run_all()
    assert sorted(ctl.sent_to("order-1")) == sorted(PHONES)
    assert status("order-1") == "done"


def test_pause_cancel_resume_sends_nothing_and_counts_everyone_cancelled(ctl: Ctl) -> None:
    assert ctl.message(request("pcr-1")) == []
    jobs = ctl.jobs()
    assert ctl.feed(jobs[:10]) == []  # 10 sent
    assert ctl.control("pause", "pcr-1") == []
    assert ctl.feed(jobs[10:]) == []  # 5 parked
    assert ctl.control("cancel", "pcr-1") == []
    assert ctl.control("resume", "pcr-1") == []
    assert ctl.control("resume", "pcr-1") == []
    ctl.run_all()
    # Parked jobs redelivered late (SQS) change nothing either
    assert ctl.feed(jobs[10:]) == []
    assert len(ctl.sent_to("pcr-1")) == 10
    assert parked("pcr-1") == []
    shown = report("pcr-1")
    assert (shown["status"], shown["sent"], shown["cancelled"], shown["pending"]) == (
        "cancelled",
        10,
        5,
        0,
    )
    assert reconciles(shown)
    # A cancelled campaign cannot be paused
    assert len(ctl.control("pause", "pcr-1")) == 1


def test_cancel_then_pause_then_resume_never_sends(ctl: Ctl) -> None:
    assert ctl.message(request("cpr-1")) == []
    jobs = ctl.jobs()
    assert ctl.control("cancel", "cpr-1") == []
    assert len(ctl.control("pause", "cpr-1")) == 1  # refused (CampaignDLQ)
    assert ctl.control("resume", "cpr-1") == []
    ctl.run_all()
    assert ctl.feed(jobs) == []
    assert ctl.sent_to("cpr-1") == []
    shown = report("cpr-1")
    assert (shown["status"], shown["cancelled"]) == ("cancelled", 15)
    assert reconciles(shown)


def test_pause_resume_pause_with_jobs_in_flight_sends_nothing_while_paused_and_each_once(
    ctl: Ctl,
) -> None:
    assert ctl.message(request("flap-1")) == []
    jobs = ctl.jobs()
    assert ctl.control("pause", "flap-1") == []
    assert ctl.feed(jobs) == []
    assert len(parked("flap-1")) == 15
    # Resume: the parked jobs go back to SendQueue; paused again before the sender gets them
    assert ctl.control("resume", "flap-1") == []
    released = ctl.jobs()
    assert len(released) == 15
    assert ctl.control("pause", "flap-1") == []
    assert ctl.feed(released[:10]) == []
    # The fan-out's delayed second sweep arrives while paused: it must not let SMS out
    assert ctl.message({"unpark": {"campaign_id": "flap-1", "sweep": 1}}) == []
    ctl.run_all()
    assert ctl.feed(released[10:]) == []
    assert ctl.sent_to("flap-1") == []
    assert len(parked("flap-1")) == 15
    assert status("flap-1") == "paused"
    # Then resumed: the 15 once each, even with the first release's copies redelivered
    assert ctl.control("resume", "flap-1") == []
    ctl.run_all()
    assert ctl.feed(released) == []
    assert ctl.feed(jobs) == []
    assert sorted(ctl.sent_to("flap-1")) == sorted(PHONES)
    assert status("flap-1") == "done"


def test_a_paused_batch_redelivered_is_parked_once_and_sent_once(ctl: Ctl) -> None:
    assert ctl.message(request("redeliver-1")) == []
    jobs = ctl.jobs()
    assert ctl.control("pause", "redeliver-1") == []
    for _ in range(3):
        assert ctl.feed(jobs, receive_count=4) == []
    assert len(parked("redeliver-1")) == 15
    assert ctl.take("SendDLQ") == []
    assert report("redeliver-1")["pending"] == 15
    assert ctl.control("resume", "redeliver-1") == []
    ctl.run_all()
    assert ctl.feed(jobs) == []
    assert sorted(ctl.sent_to("redeliver-1")) == sorted(PHONES)
    assert status("redeliver-1") == "done"


def test_pause_racing_one_row_slices_of_an_s3_audience_reconciles_at_every_step(
    ctl: Ctl, monkeypatch: pytest.MonkeyPatch
) -> None:
    slices(monkeypatch, 1)
    lines = ["phone", *PHONES]
    uri = upload("attack/pause.csv", ("\n".join(lines) + "\n").encode())
    body = request("s3-race", audience={"s3_uri": uri})
    del body["recipients"]
    assert ctl.message(body) == []
    sent_before_pause: list[str] = []
    # Let the fan-out and the sender run a few slices, pausing in the middle of it
    for step in range(40):
        for message in ctl.take("CampaignQueue"):
            assert ctl.message(message) == []
            if step == 6 and not campaigns.get("s3-race").paused_at:  # type: ignore[union-attr]
                assert ctl.control("pause", "s3-race") == []
                sent_before_pause = list(ctl.sent_to("s3-race"))
            status("s3-race")
        jobs = ctl.jobs()
        if jobs:
            assert ctl.feed(jobs) == []
        status("s3-race")
    assert sent_before_pause is not None
    assert ctl.sent_to("s3-race") == sent_before_pause  # nothing after the pause
    assert status("s3-race") == "paused"
    keys = parked("s3-race")
    assert sum(key.startswith("continuation#") for key in keys) == 1
    assert ctl.control("resume", "s3-race") == []
    ctl.run_all(rounds=40)
    assert sorted(ctl.sent_to("s3-race")) == sorted(PHONES)
    assert status("s3-race") == "done"


def test_a_cancel_while_an_s3_fan_out_is_parked_stops_it_for_good(
    ctl: Ctl, monkeypatch: pytest.MonkeyPatch
) -> None:
    slices(monkeypatch, 4)
    uri = upload("attack/cancel.csv", ("\n".join(["phone", *PHONES]) + "\n").encode())
    body = request("s3-cancel", audience={"s3_uri": uri})
    del body["recipients"]
    assert ctl.message(body) == []
    while len(ctl.sent_to("s3-cancel")) < 4:
        for message in ctl.take("CampaignQueue")[:1]:
            assert ctl.message(message) == []
        ctl.feed(ctl.jobs())
    assert ctl.control("pause", "s3-cancel") == []
    ctl.run_all()
    sent = list(ctl.sent_to("s3-cancel"))
    assert any(key.startswith("continuation#") for key in parked("s3-cancel"))
    assert ctl.control("cancel", "s3-cancel") == []
    assert ctl.control("resume", "s3-cancel") == []
    ctl.run_all()
    assert ctl.sent_to("s3-cancel") == sent
    assert parked("s3-cancel") == []
    shown = report("s3-cancel")
    assert shown["status"] == "cancelled"
    assert (shown["sent"], shown["cancelled"], shown["pending"]) == (len(sent), 15 - len(sent), 0)
    assert reconciles(shown)


def test_a_pause_of_a_finished_campaign_keeps_it_done(ctl: Ctl) -> None:
    assert ctl.message(request("done-1")) == []
    ctl.run_all()
    assert ctl.control("pause", "done-1") == []
    assert status("done-1") == "done"
    assert ctl.control("resume", "done-1") == []
    ctl.run_all()
    assert len(ctl.sent_to("done-1")) == 15


def test_a_scheduled_campaign_paused_and_resumed_before_its_time_goes_at_its_time(
    ctl: Ctl,
) -> None:
    from datetime import timedelta

    from stopsms import clock
    from tests.handlers.test_stop_scope import MONDAY_10H_PARIS

    at = MONDAY_10H_PARIS + timedelta(hours=2)
    assert ctl.message(request("sched-1", send_at=at.isoformat())) == []
    assert status("sched-1") == "scheduled"
    assert ctl.control("pause", "sched-1") == []
    assert status("sched-1") == "paused"
    assert ctl.control("resume", "sched-1") == []
    ctl.run_all()
    assert ctl.sent_to("sched-1") == []
    assert status("sched-1") == "scheduled"
    with mock.patch.object(clock, "now", return_value=at + timedelta(minutes=1)):
        ctl.sweep()
        ctl.run_all()
    assert sorted(ctl.sent_to("sched-1")) == sorted(PHONES)


# Broke before this pass (fixed): after a pause is recorded no SMS leaves: a pause of a refused
# campaign is accepted, then the fixed request under the same id replaces the record whole
# (campaigns.create(replacing=True)) dropping paused_at, and it sends
def test_a_pause_recorded_on_a_refused_campaign_holds_its_fixed_request(ctl: Ctl) -> None:
    # "after a pause is recorded no SMS of that campaign leaves": the pause of a refused
    # campaign is accepted (only cancelled or unknown ones are refused)...
    uri = upload("attack/refused.csv", b"numero\n+33612340000\n")  # no phone column
    bad = {**request("refused-1"), "audience": {"s3_uri": uri}}
    del bad["recipients"]
    ctl.message(bad)
    ctl.campaigns_drain()
    assert report("refused-1")["status"] == "refused"
    assert ctl.control("pause", "refused-1") == []
    # ...then the fixed request is published under the same id
    assert ctl.message(request("refused-1")) == []
    ctl.run_all()
    assert ctl.sent_to("refused-1") == []


# Broke before this pass (fixed): after a pause is recorded no SMS leaves: the real send of a
# paused dry run replaces the record (campaigns.create(replacing=True), REPLACEABLE ignores
# paused_at), the pause is lost and all 15 SMS leave
def test_a_paused_dry_run_then_sent_for_real_stays_paused(ctl: Ctl) -> None:
    assert ctl.message({**request("dry-paused"), "dry_run": True}) == []
    assert ctl.control("pause", "dry-paused") == []
    ctl.run_all()
    assert ctl.message(request("dry-paused")) == []
    ctl.run_all()
    assert ctl.sent_to("dry-paused") == []


def test_the_control_messages_are_refused_when_malformed(ctl: Ctl) -> None:
    for body in (
        {"action": "Pause", "campaign_id": "x"},
        {"action": "pause"},
        {"action": "pause", "campaign_id": "a#b"},
        {"action": "resume", "campaign_id": ""},
        {"action": "pause", "campaign_id": "inconnue"},
        {"action": "resume", "campaign_id": "inconnue"},
    ):
        assert len(ctl.message(body)) == 1, body
    assert campaigns.get("inconnue") is None


def test_pause_and_resume_commands_as_operator(
    ctl: Ctl, capsys: pytest.CaptureFixture[str]
) -> None:
    from stopsms.cli import main

    assert ctl.message(request("cli-1")) == []
    with as_operator():
        assert main(["pause", "cli-1"]) == 0
        assert main(["pause", "cli-1"]) == 0
    ctl.run_all()
    assert ctl.sent_to("cli-1") == []
    assert status("cli-1") == "paused"
    with as_operator():
        assert main(["cancel", "cli-1"]) == 0
        assert main(["pause", "cli-1"]) == 2
        assert main(["resume", "cli-1"]) == 0
    ctl.run_all()
    assert ctl.sent_to("cli-1") == []
    shown = report("cli-1")
    assert (shown["status"], shown["cancelled"]) == ("cancelled", 15)
    err = capsys.readouterr().err
    assert "Traceback" not in err


# Broke before this pass (fixed): after a pause is recorded no SMS leaves: CLI pause is recorded
# at once but CLI resume goes through CampaignQueue; a resume then pause lands as pause then
# resume (campaigns.resume removes paused_at unconditionally) and 15 SMS leave after the CLI said
# paused
def test_an_operator_who_resumes_then_pauses_at_once_stays_paused(ctl: Ctl) -> None:
    # The operator resumes, changes their mind and pauses again a second later: the pause is
    # recorded at once, the resume goes through CampaignQueue and is handled after it
    from stopsms.cli import main

    assert ctl.message(request("cli-flip")) == []
    jobs = ctl.jobs()
    with as_operator():
        assert main(["pause", "cli-flip"]) == 0
    assert ctl.feed(jobs) == []
    assert len(parked("cli-flip")) == 15
    with as_operator():
        assert main(["resume", "cli-flip"]) == 0
        assert main(["pause", "cli-flip"]) == 0  # the last word: paused
    ctl.run_all()
    assert ctl.sent_to("cli-flip") == []
    assert status("cli-flip") == "paused"


# Broke before this pass (fixed): repeating a pause changes nothing / nothing lost: SQS
# redelivering a pause after the resume pauses the campaign again, silently, its jobs parked until
# someone notices (campaigns.pause has no notion of which control is newer)
def test_a_pause_redelivered_by_sqs_after_the_resume_changes_nothing(ctl: Ctl) -> None:
    # "repeating either changes nothing": SQS delivers the pause again (at least once) after
    # the resume was handled
    assert ctl.message(request("dup-pause")) == []
    jobs = ctl.jobs()
    pause = sqs_record({"action": "pause", "campaign_id": "dup-pause"}, "CampaignQueue")
    assert ctl.deliver(pause) == []
    assert ctl.feed(jobs) == []
    assert ctl.control("resume", "dup-pause") == []
    assert ctl.deliver(pause) == []  # the same message, delivered again
    ctl.run_all()
    assert sorted(ctl.sent_to("dup-pause")) == sorted(PHONES)
    assert status("dup-pause") == "done"
