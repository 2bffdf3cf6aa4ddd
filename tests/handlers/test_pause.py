"""Pausing and resuming a campaign through the real campaign, sender and scheduler functions:
sending stops within one batch, the jobs wait parked (not lost, not retried into a DLQ), and a
resume sends each of them once, from where the campaign stopped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest

from stopsms import clock
from stopsms.cli import main
from stopsms.dal import campaigns, deferred, deliveries
from stopsms.emulator import iam
from stopsms.emulator.template import Stack
from stopsms.reporting import report
from stopsms.settings import get_settings
from tests.handlers.conftest import LambdaContext, failed_ids, load_function, sqs_record
from tests.handlers.sms import FakeSms
from tests.handlers.test_campaign import slice_rows, upload
from tests.handlers.test_cancel import PHONES, SUNDAY_10H_PARIS, Campaigns, reconciles
from tests.handlers.test_receipts import emitted
from tests.handlers.test_stop_scope import MONDAY_10H_PARIS


class Pausable(Campaigns):
    def control(self, action: str, campaign_id: str) -> list[str]:
        return self.to_campaign_queue({"action": action, "campaign_id": campaign_id})

    def send_once(self) -> list[str]:
        """One batch of up to 10 jobs; the jobs that failed go back on the queue (SQS's
        redelivery); their message ids."""
        url = self.aws.queues["SendQueue"]
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        records = []
        for message in messages:
            record = sqs_record(message["Body"], "SendQueue")
            record["messageId"] = message["MessageId"]
            records.append(record)
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        failed = failed_ids(self.sender_fn.lambda_handler({"Records": records}, LambdaContext()))
        for record in records:
            if record["messageId"] in failed:
                self.sqs.send_message(QueueUrl=url, MessageBody=record["body"])
        return failed

    def waiting(self, queue: str) -> int:
        url = self.aws.queues[queue]
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])


def parked(campaign_id: str) -> list[str]:
    return [key for key, _ in deferred.due(deferred.paused_kind(campaign_id))]


def as_operator(action: Any) -> Any:
    enforcement = iam.current()
    assert enforcement is not None
    with enforcement.acting_as("OperatorPolicy"):
        return action()


@pytest.fixture
def pipe(aws: Stack, fake: FakeSms, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pausable]:
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        yield Pausable(aws, fake)


def test_a_pause_parks_the_queued_jobs_and_a_resume_sends_each_once(
    pipe: Pausable, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a campaign whose first 10 SMS left
    assert pipe.request("colis-1") == []
    pipe.send(batches=1)
    assert len(pipe.sent_to("colis-1")) == 10
    # When it is paused (twice: a duplicated message), then the sender gets its last jobs
    capsys.readouterr()
    assert pipe.control("pause", "colis-1") == []
    assert pipe.control("pause", "colis-1") == []
    pipe.send()
    # Then nothing more left; the 5 wait parked, none in a DLQ; the report says paused
    assert len(pipe.sent_to("colis-1")) == 10
    assert len(parked("colis-1")) == 5
    assert pipe.waiting("SendDLQ") == 0
    shown = report("colis-1")
    assert (shown["status"], shown["sent"], shown["pending"]) == ("paused", 10, 5)
    assert shown["paused_at"] is not None
    assert reconciles(shown)
    out = capsys.readouterr().out
    assert (emitted(out, "CampaignsPaused"), emitted(out, "Paused")) == (2, 5)
    # When it is resumed (twice)
    assert pipe.control("resume", "colis-1") == []
    assert pipe.control("resume", "colis-1") == []
    pipe.send()
    # Then the 5 are sent, each once; nothing stays parked; the report is done
    assert sorted(pipe.sent_to("colis-1")) == sorted(PHONES)
    assert parked("colis-1") == []
    shown = report("colis-1")
    assert (shown["status"], shown["sent"], shown["pending"]) == ("done", 15, 0)
    assert "paused_at" not in shown
    out = capsys.readouterr().out
    assert emitted(out, "CampaignsResumed") == 2
    assert emitted(out, "JobsUnparked") == 5


def test_a_pause_midway_through_an_s3_fan_out_stops_it_and_resume_goes_on_from_there(
    pipe: Pausable, monkeypatch: pytest.MonkeyPatch
) -> None:
    slice_rows(monkeypatch, 4)
    lines = ["phone", *PHONES]
    uri = upload("pause/audience.csv", ("\n".join(lines) + "\n").encode())
    body = {
        "campaign_id": "s3-pause",
        "category": "transactional",
        "body": "Votre colis arrive demain.",
        "audience": {"s3_uri": uri},
    }
    # Given the file checked and its first slice queued, its continuation waiting
    record = sqs_record(body, "CampaignQueue")
    assert failed_ids(pipe.campaign_fn.lambda_handler({"Records": [record]}, LambdaContext())) == []
    while pipe.waiting("SendQueue") < 4:
        pipe.step()  # the check, then the first slice: 4 jobs, and the next slice's message
    assert pipe.waiting("SendQueue") == 4
    # When it is paused, then the fan-out and the sender go on with what is queued
    assert pipe.control("pause", "s3-pause") == []
    pipe._drain("CampaignQueue", pipe.campaign_fn)
    pipe.send()
    # Then no other slice was queued, nothing left, the next slice and 4 jobs wait parked
    assert pipe.sent_to("s3-pause") == []
    keys = parked("s3-pause")
    assert len(keys) == 5
    assert sum(key.startswith("continuation#") for key in keys) == 1
    assert report("s3-pause")["status"] == "paused"
    assert reconciles(report("s3-pause"))
    # When it is resumed
    assert pipe.control("resume", "s3-pause") == []
    pipe._drain("CampaignQueue", pipe.campaign_fn)
    pipe.send()
    # Then all 15 receive one SMS each
    assert sorted(pipe.sent_to("s3-pause")) == sorted(PHONES)
    shown = report("s3-pause")
    assert (shown["status"], shown["sent"], shown["audience"]) == ("done", 15, 15)


def test_a_pause_recorded_between_the_senders_read_and_its_claims_sends_nothing(
    pipe: Pausable,
) -> None:
    assert pipe.request("colis-2") == []
    real_claim = deliveries.claim

    def paused_meanwhile(items: Any) -> Any:
        as_operator(lambda: campaigns.pause("colis-2", int(time.time() * 1000)))
        return real_claim(items)

    with mock.patch.object(deliveries, "claim", side_effect=paused_meanwhile):
        # Seen by the read that follows the claims: released and parked at once (a job handed
        # back to SQS on its last receive would go to the DLQ instead)
        assert pipe.send_once() == []
    pipe.send()
    assert pipe.sent_to("colis-2") == []
    assert len(parked("colis-2")) == 15
    assert pipe.control("resume", "colis-2") == []
    pipe.send()
    assert sorted(pipe.sent_to("colis-2")) == sorted(PHONES)


def test_a_resume_between_the_senders_read_and_its_parking_parks_nothing_it_would_miss(
    pipe: Pausable,
) -> None:
    # Given a paused campaign whose jobs the sender has read
    assert pipe.request("colis-3") == []
    assert pipe.control("pause", "colis-3") == []
    real_park = deferred.park_paused

    def resumed_meanwhile(jobs: Any) -> Any:
        # The resume lands and releases what is parked (nothing yet) before this write
        assert pipe.control("resume", "colis-3") == []
        return real_park(jobs)

    # When the sender parks them after the resume
    with mock.patch.object(deferred, "park_paused", side_effect=resumed_meanwhile):
        assert len(pipe.send_once()) == 10
    pipe.send()
    # Then none was parked for good: all 15 are sent, once each
    assert parked("colis-3") == []
    assert sorted(pipe.sent_to("colis-3")) == sorted(PHONES)


def test_a_paused_campaign_cancelled_records_its_parked_jobs_cancelled(pipe: Pausable) -> None:
    assert pipe.request("colis-4") == []
    assert pipe.control("pause", "colis-4") == []
    pipe.send()
    assert len(parked("colis-4")) == 15
    assert pipe.control("cancel", "colis-4") == []
    pipe.send()
    assert parked("colis-4") == []
    assert pipe.sent_to("colis-4") == []
    shown = report("colis-4")
    assert (shown["status"], shown["cancelled"], shown["pending"]) == ("cancelled", 15, 0)
    # A cancelled campaign cannot be paused; an unknown one can be neither paused nor resumed
    assert len(pipe.control("pause", "colis-4")) == 1
    assert len(pipe.control("pause", "inconnue")) == 1
    assert len(pipe.control("resume", "inconnue")) == 1


def test_a_deferred_campaign_paused_is_released_on_monday_but_waits_for_its_resume(
    aws: Stack, fake: FakeSms, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    monkeypatch.setenv("STOPSMS_CONSENT_POLICY", "record")
    get_settings.cache_clear()
    with mock.patch.object(clock, "now", return_value=SUNDAY_10H_PARIS):
        pipe = Pausable(aws, fake)
        assert pipe.request("promo-1", category="marketing", body="Promo -20 %") == []
        assert pipe.control("pause", "promo-1") == []
        assert report("promo-1")["status"] == "paused"
    monday = MONDAY_10H_PARIS + timedelta(hours=1)
    with mock.patch.object(clock, "now", return_value=monday):
        load_function("scheduler").lambda_handler({}, LambdaContext())
        pipe._drain("CampaignQueue", pipe.campaign_fn)
        pipe.send()
        assert pipe.sent_to("promo-1") == []
        assert parked("promo-1") == ["continuation#promo-1"]
        assert pipe.control("resume", "promo-1") == []
        pipe.send()
    assert sorted(pipe.sent_to("promo-1")) == sorted(PHONES)


def test_a_job_parked_for_its_window_and_released_while_paused_is_parked_again(
    pipe: Pausable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOPSMS_CONSENT_POLICY", "record")
    get_settings.cache_clear()
    # A number in French Polynesia: Monday 10:00 in Paris is Sunday 22:00 there
    tahiti = "+68987123456"
    assert pipe.request("colis-5", recipients=[tahiti], category="marketing", body="Promo") == []
    pipe.send()
    assert pipe.sent_to("colis-5") == []
    assert pipe.control("pause", "colis-5") == []
    later = MONDAY_10H_PARIS + timedelta(hours=12)  # Monday 10:00 in Tahiti
    with mock.patch.object(clock, "now", return_value=later):
        load_function("scheduler").lambda_handler({}, LambdaContext())
        pipe.send()
        assert pipe.sent_to("colis-5") == []
        assert len(parked("colis-5")) == 1
        assert pipe.control("resume", "colis-5") == []
        pipe.send()
    assert pipe.sent_to("colis-5") == [tahiti]


def test_the_pause_and_resume_commands(pipe: Pausable, capsys: pytest.CaptureFixture[str]) -> None:
    assert pipe.request("colis-6") == []
    as_operator(lambda: main(["pause", "colis-6"]))
    out = capsys.readouterr().out
    assert "campaign colis-6 paused" in out
    assert "paused since" in out
    pipe.send()
    assert pipe.sent_to("colis-6") == []
    assert as_operator(lambda: main(["resume", "colis-6"])) == 0
    assert "campaign colis-6 resumes" in capsys.readouterr().out
    pipe._drain("CampaignQueue", pipe.campaign_fn)
    pipe.send()
    assert len(pipe.sent_to("colis-6")) == 15
    # Mistakes: one line each, the fix named, nothing changed
    assert as_operator(lambda: main(["pause", "inconnue"])) == 2
    assert "no campaign 'inconnue' to pause" in capsys.readouterr().err
    assert as_operator(lambda: main(["resume", "pas un id !"])) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert as_operator(lambda: main(["resume", "colis-6"])) == 0
    assert "was not paused" in capsys.readouterr().out


def test_a_job_delivered_twice_in_one_batch_of_a_paused_campaign_is_parked_once(
    pipe: Pausable,
) -> None:
    assert pipe.request("colis-7", recipients=PHONES[:3]) == []
    assert pipe.control("pause", "colis-7") == []
    url = pipe.aws.queues["SendQueue"]
    messages = pipe.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    records = []
    for message in messages + messages[:2]:  # SQS delivers at least once
        records.append(sqs_record(message["Body"], "SendQueue"))
        pipe.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    handled = pipe.sender_fn.lambda_handler({"Records": records}, LambdaContext())
    assert failed_ids(handled) == []
    assert len(parked("colis-7")) == 3
    assert pipe.control("resume", "colis-7") == []
    pipe.send()
    assert sorted(pipe.sent_to("colis-7")) == sorted(PHONES[:3])


def test_a_resume_whose_hand_over_fails_loses_nothing(
    pipe: Pausable, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an S3 campaign paused midway: its next slice and its jobs parked
    slice_rows(monkeypatch, 4)
    uri = upload("pause/retry.csv", ("\n".join(["phone", *PHONES]) + "\n").encode())
    body = {
        "campaign_id": "s3-retry",
        "category": "transactional",
        "body": "Votre colis arrive demain.",
        "audience": {"s3_uri": uri},
    }
    record = sqs_record(body, "CampaignQueue")
    assert failed_ids(pipe.campaign_fn.lambda_handler({"Records": [record]}, LambdaContext())) == []
    while pipe.waiting("SendQueue") < 4:
        pipe.step()
    assert pipe.control("pause", "s3-retry") == []
    pipe._drain("CampaignQueue", pipe.campaign_fn)
    pipe.send()
    assert len(parked("s3-retry")) == 5
    # When the resume's first hand-over to SQS fails (SQS redelivers the resume)
    from stopsms.fanout import service

    real = service.FanOut._continue_body
    calls = {"n": 0}

    def flaky(self: Any, campaign_id: str, body: str) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("SQS unavailable")
        real(self, campaign_id, body)

    resume = sqs_record({"action": "resume", "campaign_id": "s3-retry"}, "CampaignQueue")
    with mock.patch.object(service.FanOut, "_continue_body", flaky):
        handled = pipe.campaign_fn.lambda_handler({"Records": [resume]}, LambdaContext())
        assert failed_ids(handled) == [resume["messageId"]]
        handled = pipe.campaign_fn.lambda_handler({"Records": [resume]}, LambdaContext())
        assert failed_ids(handled) == []
    pipe._drain("CampaignQueue", pipe.campaign_fn)
    pipe.send()
    # Then every recipient is sent once
    assert sorted(pipe.sent_to("s3-retry")) == sorted(PHONES)
