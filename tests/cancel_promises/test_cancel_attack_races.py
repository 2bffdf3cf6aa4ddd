"""Races between a cancellation and the fan-out or the sender (contract §2 "Cancellation":
no SMS of the campaign leaves after the cancel is recorded; jobs already queued end
``cancelled``; §6: the report shows ``cancelled`` and reconciles)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest

from stopsms import clock
from stopsms.dal import campaigns, deliveries
from stopsms.dal.deliveries import DeliveryStatus
from stopsms.reporting import report
from stopsms.sending import service as sending
from stopsms.settings import get_settings
from tests.cancel_promises.conftest import (
    PHONES,
    Attack,
    operator_cancel,
    reconciles,
    records,
)
from tests.handlers.sms import client_error


def _request(campaign_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "category": "transactional",
        "body": "Votre colis arrive demain.",
        "recipients": PHONES,
        **fields,
    }


def _slices_of(monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    monkeypatch.setenv("STOPSMS_FANOUT_SLICE_ROWS", str(rows))
    get_settings.cache_clear()


# --- the fan-out -------------------------------------------------------------------------------


def test_cancel_between_a_slices_jobs_and_its_cursor_advance(
    attack: Attack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Promise: "the fan-out stops at its next slice" and "jobs already queued end cancelled",
    # even when the cancel lands after a slice queued its jobs but before it moved the cursor.
    _slices_of(monkeypatch, 5)
    real_advance = campaigns.advance

    def cancelled_first(campaign_id: str, **kwargs: Any) -> bool:
        operator_cancel(campaign_id)
        return real_advance(campaign_id, **kwargs)

    with mock.patch.object(campaigns, "advance", side_effect=cancelled_first):
        assert attack.campaign_message(_request("race-1")) == []
    attack.drain_campaigns()  # whatever the slice left behind
    queued = attack.jobs()
    assert len(queued) == 5  # only the first slice's jobs
    assert attack.feed(queued) == []
    assert attack.sent_to("race-1") == []
    assert records("race-1") == {"cancelled": 5}
    shown = report("race-1")
    assert (shown["status"], shown["audience"], shown["cancelled"], shown["pending"]) == (
        "cancelled",
        15,
        15,
        0,
    )
    assert reconciles(shown)


def test_a_continuation_arriving_after_the_cancel_queues_nothing(
    attack: Attack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Promise: the fan-out stops at its next slice; a continuation delivered after the cancel
    # (twice: SQS delivers at least once), or a forged one, queues no job.
    _slices_of(monkeypatch, 5)
    assert attack.campaign_message(_request("race-2")) == []
    [continuation] = attack.waiting("CampaignQueue")
    assert continuation == {"continuation": {"campaign_id": "race-2", "offset": 5, "seq": 5}}
    assert attack.campaign_message({"action": "cancel", "campaign_id": "race-2"}) == []
    assert attack.campaign_message(continuation) == []
    assert attack.campaign_message(continuation) == []
    forged = {"continuation": {"campaign_id": "race-2", "offset": 10, "seq": 10}}
    assert attack.campaign_message(forged) == []
    assert attack.campaign_message({"release": {"campaign_id": "race-2"}}) == []
    attack.drain_campaigns()
    queued = attack.jobs()
    assert [job["seq"] for job in queued] == list(range(5))
    assert attack.feed(queued) == []
    assert attack.sent_to("race-2") == []
    shown = report("race-2")
    assert (shown["status"], shown["cancelled"], shown["pending"]) == ("cancelled", 15, 0)
    assert reconciles(shown)


def test_cancel_while_a_request_is_being_recorded(attack: Attack) -> None:
    # Promise: a cancellation that arrives before its campaign (here: between the fan-out's
    # read of the id and its record) makes the campaign cancelled; nothing is queued.
    real_create = campaigns.create

    def cancelled_first(campaign_id: str, *args: Any, **kwargs: Any) -> Any:
        operator_cancel(campaign_id)
        return real_create(campaign_id, *args, **kwargs)

    with mock.patch.object(campaigns, "create", side_effect=cancelled_first):
        assert attack.campaign_message(_request("race-3")) == []
    attack.drain_campaigns()
    assert attack.jobs() == []
    shown = report("race-3")
    assert (shown["status"], shown["audience"], shown["cancelled"]) == ("cancelled", 15, 15)
    assert reconciles(shown)


# --- the sender --------------------------------------------------------------------------------


def test_cancel_during_the_sends_of_a_batch(
    attack: Attack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Promise: an SMS claimed before the cancellation is already leaving; nothing claimed
    # after it leaves; the report counts what was claimed as sent, the rest cancelled.
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1")  # one worker: sends one after the other
    get_settings.cache_clear()
    assert attack.campaign_message(_request("race-4")) == []
    queued = attack.jobs()
    done: list[bool] = []

    def cancel_on_first_send(_params: dict[str, Any]) -> None:
        if not done:
            done.append(True)
            operator_cancel("race-4")

    attack.sms.fail = cancel_on_first_send  # type: ignore[assignment]
    with mock.patch.object(sending.RateLimiter, "wait", return_value=None):
        assert attack.feed(queued[:10]) == []
        assert attack.feed(queued[10:]) == []
    assert len(attack.sent_to("race-4")) == 10  # claimed before the cancel: they left
    assert records("race-4") == {"sent": 10, "cancelled": 5}
    shown = report("race-4")
    assert (shown["status"], shown["sent"], shown["cancelled"], shown["pending"]) == (
        "cancelled",
        10,
        5,
        0,
    )
    assert reconciles(shown)


def test_a_batch_of_two_campaigns_one_cancelled_before_its_claims(attack: Attack) -> None:
    # Promise: the cancel stops its own campaign only: in one batch, the other campaign's
    # jobs are sent, the cancelled one's are recorded cancelled.
    assert attack.campaign_message(_request("race-5a", recipients=PHONES[:5])) == []
    assert attack.campaign_message(_request("race-5b", recipients=PHONES[5:10])) == []
    queued = attack.jobs()
    real_claim = deliveries.claim

    def cancelled_meanwhile(items: Any) -> Any:
        operator_cancel("race-5a")
        return real_claim(items)

    with mock.patch.object(deliveries, "claim", side_effect=cancelled_meanwhile):
        assert attack.feed(queued) == []
    assert attack.sent_to("race-5a") == []
    assert sorted(attack.sent_to("race-5b")) == PHONES[5:10]
    assert records("race-5a") == {"cancelled": 5}
    assert reconciles(report("race-5a"))
    assert report("race-5b")["status"] == "done"


def test_a_job_redriven_from_the_dlq_after_a_throttle_is_not_sent_once_cancelled(
    attack: Attack,
) -> None:
    # Promise: no SMS leaves after the cancel, even for a job whose last delivery failed
    # with ThrottlingException (claim ``failed`` / ThrottlingException, left in the DLQ) and
    # that an operator redrives after the cancellation. The report still reconciles.
    assert attack.campaign_message(_request("race-6")) == []
    queued = attack.jobs()
    attack.sms.fail = lambda params: (  # type: ignore[assignment]
        client_error("ThrottlingException")
        if params["DestinationPhoneNumber"] == PHONES[0]
        else None
    )
    max_receives = get_settings().send_max_receives
    with mock.patch.object(sending, "backoff", return_value=0):
        assert len(attack.feed(queued[:1], receive_count=max_receives)) == 1  # to the DLQ
    [claim] = list(deliveries.of_campaign("race-6"))
    assert (claim.status, claim.reason) == ("failed", "ThrottlingException")
    assert attack.campaign_message({"action": "cancel", "campaign_id": "race-6"}) == []
    attack.sms.fail = lambda params: None  # type: ignore[assignment]
    # The redrive: the same job, received afresh
    assert attack.feed(queued[:1]) == []
    assert attack.feed(queued[1:]) == []
    assert attack.sent_to("race-6") == []
    shown = report("race-6")
    assert shown["status"] == "cancelled"
    assert shown["failed"] + shown["cancelled"] == 15
    assert shown["pending"] == 0
    assert reconciles(shown)


def test_a_throttled_job_released_then_cancelled_is_recorded_cancelled(attack: Attack) -> None:
    # Promise: a job throttled before its last delivery gave its claim back (not sent); when
    # SQS redelivers it after the cancel it ends cancelled, counted once.
    assert attack.campaign_message(_request("race-7")) == []
    queued = attack.jobs()
    attack.sms.fail = lambda params: client_error("ThrottlingException")  # type: ignore[assignment]
    with mock.patch.object(sending, "backoff", return_value=0):
        assert len(attack.feed(queued[:3], receive_count=1)) == 3
    assert records("race-7") == {}  # claims given back
    operator_cancel("race-7")
    attack.sms.fail = lambda params: None  # type: ignore[assignment]
    assert attack.feed(queued, receive_count=2) == []
    assert attack.sent_to("race-7") == []
    assert records("race-7") == {"cancelled": 15}
    shown = report("race-7")
    assert (shown["cancelled"], shown["pending"], shown["audience"]) == (15, 0, 15)
    assert reconciles(shown)


def test_a_stale_sending_claim_redelivered_after_the_cancel_is_not_sent(attack: Attack) -> None:
    # Promise: no SMS after the cancel; an SMS being sent at the cancel (its claim
    # ``sending``) stays pending until its outcome is recorded; a stale claim (its sender
    # crashed) ends failed/unconfirmed, never sent again and never counted twice.
    assert attack.campaign_message(_request("race-8")) == []
    queued = attack.jobs()
    now = clock.now()
    deliveries.new(
        "race-8",
        deliveries.claim_key(PHONES[0]),
        0,
        DeliveryStatus.SENDING,
        now=now - timedelta(minutes=20),
    ).save()
    deliveries.new(
        "race-8",
        deliveries.claim_key(PHONES[1]),
        1,
        DeliveryStatus.SENDING,
        now=now - timedelta(minutes=1),
    ).save()
    assert attack.campaign_message({"action": "cancel", "campaign_id": "race-8"}) == []
    shown = report("race-8")
    assert (shown["pending"], shown["cancelled"]) == (2, 13)
    assert reconciles(shown)
    failed = attack.feed(queued)
    assert len(failed) == 1  # the fresh claim: SQS will come back
    assert attack.sent_to("race-8") == []
    assert records("race-8") == {"failed": 1, "sending": 1, "cancelled": 13}
    shown = report("race-8")
    assert (shown["failed"], shown["pending"], shown["cancelled"]) == (1, 1, 13)
    assert shown["failures"] == {"unconfirmed": 1}
    assert reconciles(shown)
