"""Deferred campaigns: recorded whole by the fan-out, released once by the scheduler."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import pytest

from stopsms import clock
from stopsms.aws import clients
from stopsms.dal import campaigns, deferred
from stopsms.dal.tables import Campaign
from stopsms.emulator.template import Stack
from stopsms.reporting import report
from tests.handlers.conftest import LambdaContext, load_function, sqs_event
from tests.handlers.test_campaign import as_record, handle, jobs, receive_all, request

SUNDAY_NOON_PARIS = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
MONDAY_OPENING = "2026-11-30T07:00:00+00:00"  # Monday 08:00 in Paris
MONDAY_0705 = datetime(2026, 11, 30, 7, 5, tzinfo=UTC)
MONDAY_10H_PARIS = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
EVENT = json.loads((Path(__file__).resolve().parents[2] / "events" / "scheduler.json").read_text())


@pytest.fixture
def campaign_fn(aws: Stack) -> ModuleType:
    return load_function("campaign")


@pytest.fixture
def scheduler(aws: Stack) -> ModuleType:
    return load_function("scheduler")


def at(instant: datetime) -> Any:
    return mock.patch.object(clock, "now", return_value=instant)


def sweep(scheduler: ModuleType, instant: datetime, context: LambdaContext) -> dict[str, int]:
    with at(instant):
        result: dict[str, int] = scheduler.lambda_handler(EVENT, context)
    return result


def submit(fn: ModuleType, body: dict[str, Any], instant: datetime, context: LambdaContext) -> None:
    with at(instant):
        assert handle(fn, sqs_event([body], queue="CampaignQueue")["Records"], context) == []


def deliver(
    fn: ModuleType, messages: list[dict[str, Any]], instant: datetime, context: LambdaContext
) -> None:
    with at(instant):
        assert handle(fn, [as_record(m) for m in messages], context) == []


def stored(campaign_id: str = "soldes-hiver-2026") -> Campaign:
    item = campaigns.get(campaign_id)
    assert item is not None
    return item


THREE = ["0612345601", "0612345602", "0612345603"]


def test_marketing_outside_the_window_is_deferred_whole_with_nothing_queued(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    # When a marketing campaign is requested on a Sunday
    submit(campaign_fn, request(THREE), SUNDAY_NOON_PARIS, context)
    # Then it is recorded deferred to Monday's opening, in the sparse index, its audience
    # counted as pending
    item = stored()
    assert (item.status, item.deferred, item.resume_at) == ("deferred", "campaign", MONDAY_OPENING)
    shown = report("soldes-hiver-2026")
    assert (shown["status"], shown["resume_at"], shown["audience"], shown["pending"]) == (
        "deferred",
        MONDAY_OPENING,
        3,
        3,
    )
    # And nobody is queued
    assert jobs(aws) == []
    assert receive_all(aws.queues["CampaignQueue"]) == []


def test_the_scheduler_releases_it_once_the_window_opens_and_never_twice(
    campaign_fn: ModuleType, scheduler: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    # Given a campaign deferred on Sunday
    submit(campaign_fn, request(THREE), SUNDAY_NOON_PARIS, context)
    # When the scheduler sweeps before the opening, nothing is released
    assert sweep(scheduler, SUNDAY_NOON_PARIS, context) == {"campaigns": 0, "jobs": 0, "mirrors": 0}
    assert receive_all(aws.queues["CampaignQueue"]) == []
    # When it sweeps after the opening, twice
    assert sweep(scheduler, MONDAY_0705, context) == {"campaigns": 1, "jobs": 0, "mirrors": 0}
    assert sweep(scheduler, MONDAY_0705, context) == {"campaigns": 0, "jobs": 0, "mirrors": 0}
    # Then one release message was sent, and the campaign left the index
    (release,) = receive_all(aws.queues["CampaignQueue"])
    assert json.loads(release["Body"]) == {"release": {"campaign_id": "soldes-hiver-2026"}}
    assert list(Campaign.deferred_index.query("campaign")) == []
    # And the fan-out sends it out like a fresh request
    deliver(campaign_fn, [release], MONDAY_0705, context)
    assert [(j["seq"], j["phone"]) for j in jobs(aws)] == list(enumerate(THREE))
    assert (stored().status, stored().audience) == ("queued", 3)
    # And a second delivery of the release queues nobody again
    deliver(campaign_fn, [release], MONDAY_0705, context)
    assert jobs(aws) == []


def test_overlapping_sweeps_release_a_campaign_once(
    campaign_fn: ModuleType, scheduler: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    # Given a deferred campaign that two sweeps both saw in the (eventually consistent) index
    submit(campaign_fn, request(THREE), SUNDAY_NOON_PARIS, context)
    seen = [("soldes-hiver-2026", MONDAY_OPENING)]
    assert sweep(scheduler, MONDAY_0705, context)["campaigns"] == 1
    # When the second sweep acts on what it read
    with mock.patch.object(
        deferred,
        "due",
        side_effect=lambda kind, _: iter(seen if kind == "campaign" else []),
    ):
        second = sweep(scheduler, MONDAY_0705, context)
    # Then it releases nothing: only one release message exists
    assert second["campaigns"] == 0
    assert len(receive_all(aws.queues["CampaignQueue"])) == 1


def test_a_release_that_cannot_be_handed_over_is_put_back_for_the_next_sweep(
    campaign_fn: ModuleType, scheduler: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    submit(campaign_fn, request(THREE), SUNDAY_NOON_PARIS, context)
    real = clients.sqs()
    broken = mock.Mock(wraps=real)
    broken.send_message.side_effect = RuntimeError("SQS unavailable")
    with mock.patch.object(clients, "sqs", return_value=broken), pytest.raises(RuntimeError):
        sweep(scheduler, MONDAY_0705, context)
    assert stored().deferred == "campaign"
    assert sweep(scheduler, MONDAY_0705, context)["campaigns"] == 1


def test_a_release_while_the_window_is_still_closed_defers_again(
    campaign_fn: ModuleType, scheduler: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    # Given a campaign released (its time came) but whose release arrives on a closed window
    submit(campaign_fn, request(THREE), SUNDAY_NOON_PARIS, context)
    sweep(scheduler, MONDAY_0705, context)
    (release,) = receive_all(aws.queues["CampaignQueue"])
    deliver(campaign_fn, [release], SUNDAY_NOON_PARIS, context)  # a clock behind
    # Then it waits again in the index, nobody queued
    item = stored()
    assert (item.status, item.deferred, item.resume_at) == ("deferred", "campaign", MONDAY_OPENING)
    assert jobs(aws) == []


def test_send_at_in_the_future_defers_a_transactional_campaign_until_then(
    campaign_fn: ModuleType, scheduler: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    # Given a transactional campaign to be sent at noon, requested at 10:00
    body = request(THREE, category="transactional", send_at="2026-11-30T13:00:00+01:00")
    submit(campaign_fn, body, MONDAY_10H_PARIS, context)
    # Then it is deferred to send_at exactly (no window for transactional)
    item = stored()
    assert (item.status, item.resume_at) == ("deferred", "2026-11-30T12:00:00+00:00")
    assert jobs(aws) == []
    # And released at that time, not before
    assert sweep(scheduler, datetime(2026, 11, 30, 11, 55, tzinfo=UTC), context)["campaigns"] == 0
    noon = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert sweep(scheduler, noon, context)["campaigns"] == 1
    deliver(campaign_fn, receive_all(aws.queues["CampaignQueue"]), noon, context)
    assert [j["seq"] for j in jobs(aws)] == [0, 1, 2]


def test_marketing_send_at_on_a_closed_day_waits_for_the_next_opening(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    # Saturday 21:00 in Paris: the window is closed until Monday 08:00 (Sunday is closed)
    body = request(THREE, send_at="2026-11-28T21:00:00+01:00")
    submit(campaign_fn, body, datetime(2026, 11, 27, 9, 0, tzinfo=UTC), context)
    assert stored().resume_at == MONDAY_OPENING


def test_a_past_send_at_inside_the_window_is_sent_at_once(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    body = request(THREE, send_at="2026-11-01T10:00:00+01:00")
    submit(campaign_fn, body, MONDAY_10H_PARIS, context)
    assert stored().status == "queued"
    assert len(jobs(aws)) == 3


def test_a_redelivered_deferred_request_is_deferred_once(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    submit(campaign_fn, request(THREE), SUNDAY_NOON_PARIS, context)
    submit(campaign_fn, request(THREE), SUNDAY_NOON_PARIS, context)
    assert [i.campaign_id for i in Campaign.deferred_index.query("campaign")] == [
        "soldes-hiver-2026"
    ]
    assert jobs(aws) == []


def test_the_scheduler_sends_parked_jobs_back_to_the_send_queue(
    scheduler: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    # Given jobs the sender parked until their recipient's window opens
    until = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    parked = [{"campaign_id": "c", "seq": seq, "phone": "+262692000000"} for seq in range(12)]
    for job in parked:
        deferred.park_job("c", int(job["seq"]), job, until)
    # When the scheduler sweeps after that time, twice
    assert sweep(scheduler, MONDAY_0705, context) == {"campaigns": 0, "jobs": 12, "mirrors": 0}
    assert sweep(scheduler, MONDAY_0705, context) == {"campaigns": 0, "jobs": 0, "mirrors": 0}
    # Then each job is back on the send queue once, and no longer parked
    assert jobs(aws) == parked
    assert list(Campaign.scan()) == []


def test_nothing_due_sweeps_quickly(scheduler: ModuleType, context: LambdaContext) -> None:
    assert sweep(scheduler, MONDAY_0705, context) == {"campaigns": 0, "jobs": 0, "mirrors": 0}


def test_a_sweep_short_of_time_leaves_the_rest_for_the_next(
    campaign_fn: ModuleType, scheduler: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    context.remaining_ms = 1_000
    submit(campaign_fn, request(THREE), SUNDAY_NOON_PARIS, context)
    assert sweep(scheduler, MONDAY_0705, context) == {"campaigns": 0, "jobs": 0, "mirrors": 0}
    assert stored().deferred == "campaign"
