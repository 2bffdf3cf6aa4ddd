"""Delivery receipts (contract §7) through the real receipts handler: a campaign is sent by
the real campaign and sender functions, then its delivery events arrive duplicated, out of
order, late, mixed with events of messages that are not ours, and the messages' states, the
campaign's totals and its report must all agree."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest

from stopsms import clock
from stopsms.cli import main
from stopsms.dal import receipts
from stopsms.dal.tables import Delivery, DeliveryTotal, FailingDestination
from stopsms.emulator import template as cfn
from stopsms.emulator.template import Stack
from stopsms.reporting import report
from stopsms.rules import receipts as rules
from stopsms.rules.receipts import FAILING_WINDOW, bucket
from stopsms.settings import get_settings
from tests.handlers.conftest import LambdaContext, failed_ids, load_function, sqs_record
from tests.handlers.sms import FakeSms, client_error
from tests.handlers.test_stop_scope import Pipeline

MONDAY_10H_PARIS = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
T = 1_796_115_705_000
PHONES = ["+33612345678", "+33698765432", "+33611223344", "+33655667788", "+33644556677"]
CAMPAIGN = "livraison-1"


@pytest.fixture
def sent(aws: Stack, fake: FakeSms, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A transactional campaign to five numbers, sent: number -> MessageId."""
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        pipe = Pipeline(aws, fake)
        assert pipe.publish(campaign_id=CAMPAIGN, category="transactional", recipients=PHONES) == []
    return {m["DestinationPhoneNumber"]: m["MessageId"] for m in fake.sent}


@pytest.fixture
def receipts_fn() -> Any:
    return load_function("receipts")


def event(
    sent: dict[str, str],
    phone: str,
    status: str,
    at: int,
    *,
    price: float = 0.0,
    fee: float = 0.0,
    context: dict[str, str] | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    final = status not in ("PENDING", "QUEUED")
    return {
        "eventType": f"TEXT_{status}",
        "eventVersion": "1.0",
        "eventTimestamp": at,
        "isFinal": final,
        "originationPhoneNumber": "+33700000000",
        "destinationPhoneNumber": phone,
        "isoCountryCode": "FR",
        "mcc": "208",
        "mnc": "01",
        "carrierName": "Orange France",
        "messageId": message_id or sent[phone],
        "messageRequestTimestamp": T - 1000,
        "messageEncoding": "GSM",
        "messageType": "TRANSACTIONAL",
        "messageStatus": status,
        "messageStatusDescription": f"status {status.lower()}",
        "context": {"campaign_id": CAMPAIGN} if context is None else context,
        "totalMessageParts": 1,
        "totalMessagePrice": price,
        "totalCarrierFee": fee,
    }


def deliver(receipts_fn: Any, events: list[dict[str, Any]], size: int = 10) -> list[str]:
    """The events through the handler in SQS batches of ``size``; the failed record ids."""
    failed: list[str] = []
    for start in range(0, len(events), size):
        records = [sqs_record(e, "DeliveryEventsQueue") for e in events[start : start + size]]
        failed += failed_ids(receipts_fn.lambda_handler({"Records": records}, LambdaContext()))
    return failed


def claims() -> dict[str, Delivery]:
    return {
        item.recipient.removeprefix("p#"): item
        for item in Delivery.query(CAMPAIGN)
        if item.recipient.startswith("p#")
    }


def cost(item: Delivery) -> int:
    return int(item.price_micros or 0) + int(item.fee_micros or 0)


def life(sent: dict[str, str]) -> list[dict[str, Any]]:
    """Each number's events: A delivered, B blocked, C unreachable then a late pending,
    D still pending, E successful then delivered."""
    a, b, c, d, e = PHONES
    return [
        event(sent, a, "PENDING", T),
        event(sent, a, "DELIVERED", T + 900, price=0.07, fee=0.003),
        event(sent, b, "QUEUED", T),
        event(sent, b, "BLOCKED", T + 500, price=0.07),
        event(sent, c, "CARRIER_UNREACHABLE", T + 400, price=0.07),
        event(sent, c, "PENDING", T + 10),  # late pending after the final
        event(sent, d, "PENDING", T, price=0.07, fee=0.003),
        event(sent, e, "SUCCESSFUL", T + 200, price=0.07, fee=0.003),
        event(sent, e, "DELIVERED", T + 300, price=0.07, fee=0.003),
    ]


def test_duplicated_reordered_late_and_foreign_events_end_in_one_story(
    sent: dict[str, str], receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the campaign's events, each repeated, shuffled, with foreign ones among them
    events = life(sent) * 2
    events += [
        event(sent, PHONES[0], "DELIVERED", T, message_id="not-ours-1"),
        event(sent, "+33600000000", "BLOCKED", T, message_id="not-ours-2", context={}),
    ]
    random.Random(7).shuffle(events)
    # When they arrive in batches of 4
    assert deliver(receipts_fn, events, size=4) == []
    # Then each message ends in the state of its deciding event
    a, b, c, d, e = PHONES
    states = {phone: (item.receipt_status, item.receipt_final) for phone, item in claims().items()}
    assert states == {
        a: ("DELIVERED", True),
        b: ("BLOCKED", True),
        c: ("CARRIER_UNREACHABLE", True),
        d: ("PENDING", False),
        e: ("DELIVERED", True),
    }
    assert claims()[a].carrier == "208-01 Orange France"
    assert claims()[c].receipt_description == "status carrier_unreachable"
    # And the totals agree with the messages, each message's cost counted once
    by_message = Counter(bucket(receipts.standing(item)) for item in claims().values())
    totals = receipts.totals(CAMPAIGN)
    assert totals.buckets == {k: v for k, v in by_message.items() if k != "awaiting"}
    assert totals.cost_micros == sum(cost(i) for i in claims().values())
    assert totals.cost_micros == 5 * 70_000 + 3 * 3_000
    # And the report says the same
    shown = report(CAMPAIGN)
    assert shown["sent"] == 5
    assert shown["delivery"] == {
        "delivered": 2,
        "undelivered": {"blocked": 1, "carrier_unreachable": 1},
        "awaiting": 1,
    }
    assert shown["cost"] == {"currency": "USD", "total": 0.359, "per_delivered": 0.1795}
    assert main(["report", CAMPAIGN]) == 0
    table = capsys.readouterr().out
    assert "undelivered: blocked" in table
    assert "cost (USD)" in table


def test_the_same_events_in_any_batches_give_the_same_totals(
    sent: dict[str, str], receipts_fn: Any
) -> None:
    # Given the events delivered once in order, one by one
    deliver(receipts_fn, life(sent), size=1)
    first = receipts.totals(CAMPAIGN)
    # When all of them come again, reversed, in one batch
    assert deliver(receipts_fn, life(sent)[::-1], size=10) == []
    # Then nothing moves
    assert receipts.totals(CAMPAIGN) == first


def test_an_event_that_breaks_the_contract_fails_alone(
    sent: dict[str, str], receipts_fn: Any, caplog: pytest.LogCaptureFixture
) -> None:
    good = event(sent, PHONES[0], "DELIVERED", T)
    bad = {k: v for k, v in good.items() if k != "messageStatus"}
    records = [sqs_record(good, "DeliveryEventsQueue"), sqs_record(bad, "DeliveryEventsQueue")]
    failed = failed_ids(receipts_fn.lambda_handler({"Records": records}, LambdaContext()))
    assert failed == [records[1]["messageId"]]
    assert claims()[PHONES[0]].receipt_status == "DELIVERED"
    reasons = [r.__dict__.get("reason") for r in caplog.records]
    assert "messageStatus: Field required" in reasons
    assert all(PHONES[0] not in str(r.__dict__) for r in caplog.records)  # no number in logs


def test_a_message_changed_by_another_batch_meanwhile_is_read_again(
    sent: dict[str, str], receipts_fn: Any
) -> None:
    # Given a batch whose first write is refused because another batch wrote that message
    a = PHONES[0]
    real_write = receipts.write
    raced: list[bool] = []

    def other_batch_first(updates: Any) -> Any:
        if not raced:
            raced.append(True)
            deliver(load_function("receipts"), [event(sent, a, "DELIVERED", T + 900)])
        return real_write(updates)

    with mock.patch.object(receipts, "write", side_effect=other_batch_first):
        assert deliver(receipts_fn, [event(sent, a, "PENDING", T, price=0.07)]) == []
    # Then the message keeps the later final state, its cost and totals counted once
    item = claims()[a]
    assert (item.receipt_status, cost(item)) == ("DELIVERED", 70_000)
    assert receipts.totals(CAMPAIGN) == receipts.Totals({"delivered": 1}, 70_000)


def rates(output: str) -> list[tuple[str, float]]:
    """The per-campaign blocked-or-spam rates the handler printed, checked against the query
    of the template's alarm (its metric, namespace and dimensions)."""
    query = ALARM_QUERY.fullmatch(
        cfn.load()["Resources"]["CampaignBlockedOrSpamAlarm"]["Properties"]["Metrics"][0][
            "Expression"
        ]
    )
    assert query is not None
    name, namespace, *dimensions = query.groups()
    found = []
    for line in output.splitlines():
        if line.startswith("{") and f'"{name}"' in line:
            document = json.loads(line)
            (directive,) = document["_aws"]["CloudWatchMetrics"]
            assert directive["Namespace"] == namespace
            assert directive["Dimensions"] == [dimensions]
            assert directive["Metrics"] == [{"Name": name, "Unit": "Percent"}]
            found += [(document["campaign"], value) for value in document[name]]
    return found


ALARM_QUERY = re.compile(r"SELECT MAX\((\w+)\) FROM SCHEMA\((\w+), (\w+), (\w+)\)")


def test_each_campaigns_blocked_or_spam_rate_is_a_metric_from_its_minimum_of_final_states(
    sent: dict[str, str], receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c, d, e = PHONES
    capsys.readouterr()
    with mock.patch.object(rules, "RATE_MIN_FINAL", 4):  # 100 in production: five SMS here
        # Given three final states, one blocked: fewer than the minimum, no rate yet
        first = [event(sent, p, s, T) for p, s in ((a, "DELIVERED"), (b, "BLOCKED"))]
        first += [event(sent, c, "CARRIER_UNREACHABLE", T), event(sent, d, "PENDING", T)]
        assert deliver(receipts_fn, first) == []
        assert rates(capsys.readouterr().out) == []
        # When a fourth SMS is flagged as spam: 2 of 4
        assert deliver(receipts_fn, [event(sent, e, "SPAM", T)]) == []
        assert rates(capsys.readouterr().out) == [(CAMPAIGN, 50.0)]
        # And events that move no final state come again: no rate is sent
        assert deliver(receipts_fn, [*first, event(sent, d, "PENDING", T + 5)]) == []
        assert rates(capsys.readouterr().out) == []
        # And B's SMS is delivered after all, D's too: 1 of 5
        later = [event(sent, b, "DELIVERED", T + 9), event(sent, d, "DELIVERED", T + 9)]
        assert deliver(receipts_fn, later) == []
        assert rates(capsys.readouterr().out) == [(CAMPAIGN, 20.0)]
        # And the report shows the same rate
        assert report(CAMPAIGN)["delivery"]["blocked_or_spam_rate"] == 20.0
        assert main(["report", CAMPAIGN]) == 0
        assert "20.00  (alarm above 2 %)" in capsys.readouterr().out
    assert "blocked_or_spam_rate" not in report(CAMPAIGN)["delivery"]  # 5 final states of 100
    # And the stored count of final states is the buckets' sum
    final = DeliveryTotal.get(CAMPAIGN, "t#final", consistent_read=True)
    assert int(final.value) == sum(receipts.totals(CAMPAIGN).buckets.values()) == 5


def test_every_sms_names_the_stacks_configuration_set(sent: dict[str, str], fake: FakeSms) -> None:
    named = {m.get("ConfigurationSetName") for m in fake.sent}
    assert named == {get_settings().configuration_set} != {""}


def test_an_erased_numbers_late_receipt_finds_its_moved_claim(
    sent: dict[str, str], receipts_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the first number erased after its SMS left (its claim moved under a stand-in)
    a = PHONES[0]
    assert main(["erase", a, "--yes"]) == 0
    capsys.readouterr()
    # When its delivery event arrives, naming the real number
    assert deliver(receipts_fn, [event(sent, a, "DELIVERED", T, price=0.07)]) == []
    # Then the moved claim has it, the totals count it, and the number is nowhere
    [moved] = [i for i in Delivery.query(CAMPAIGN) if i.message_id == sent[a]]
    assert a not in moved.recipient
    assert (moved.receipt_status, cost(moved)) == ("DELIVERED", 70_000)
    assert receipts.totals(CAMPAIGN) == receipts.Totals({"delivered": 1}, 70_000)


def test_events_of_sms_without_a_campaign_are_not_looked_up(
    sent: dict[str, str], receipts_fn: Any
) -> None:
    # Another application's SMS on the same configuration set, and an answer to a reply
    others = [
        event(sent, PHONES[0], "DELIVERED", T, message_id="other-app", context={"app": "x"}),
        event(sent, PHONES[1], "DELIVERED", T, message_id="answer", context={"purpose": "help"}),
    ]
    with mock.patch.object(receipts, "claim_of_message") as lookup:
        assert deliver(receipts_fn, others) == []
    lookup.assert_not_called()
    assert receipts.totals(CAMPAIGN) == receipts.Totals({}, 0)


def test_an_sms_whose_answer_was_lost_is_billed_but_stays_failed(
    aws: Stack, fake: FakeSms, receipts_fn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a campaign where one SMS left but AWS's answer was lost (a read timeout), and
    # another was refused outright (no SMS left)
    a, b, c = PHONES[:3]
    fake.answer_lost = lambda params: params["DestinationPhoneNumber"] == a
    fake.fail = lambda params: (
        client_error("ValidationException") if params["DestinationPhoneNumber"] == b else None
    )
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        Pipeline(aws, fake).publish(
            campaign_id=CAMPAIGN, category="transactional", recipients=[a, b, c]
        )
    went_out = {m["DestinationPhoneNumber"]: m["MessageId"] for m in fake.sent}
    assert set(went_out) == {a, c}
    assert (claims()[a].status, claims()[a].reason, claims()[a].message_id) == (
        "failed",
        "unconfirmed",
        None,
    )
    # When the lost SMS's events arrive (pending then delivered, twice), with a forged event
    # naming the refused number under another message id
    events = [
        event(went_out, a, "PENDING", T, price=0.07),
        event(went_out, a, "DELIVERED", T + 900, price=0.07, fee=0.003),
        event(went_out, c, "DELIVERED", T + 900, price=0.07),
        event(went_out, b, "DELIVERED", T, price=0.07, message_id="forged-or-other"),
    ]
    assert deliver(receipts_fn, events * 2, size=3) == []
    # Then the lost SMS's claim takes its message id and its fate, and stays failed
    item = claims()[a]
    assert (item.status, item.reason, item.message_id) == ("failed", "unconfirmed", went_out[a])
    assert (item.receipt_status, cost(item)) == ("DELIVERED", 73_000)
    # The refused one is untouched: a failed claim adopts only an answer that was lost
    assert (claims()[b].message_id, claims()[b].receipt_status) == (None, None)
    # And the report bills both SMS that left, counting delivery for the sent one only
    shown = report(CAMPAIGN)
    assert (shown["sent"], shown["failed"]) == (1, 2)
    assert shown["delivery"] == {"delivered": 1, "undelivered": {}, "awaiting": 0}
    assert shown["cost"]["total"] == pytest.approx(0.143)
    # And a later event of the adopted SMS (found by its id now) still moves no bucket
    late = event(went_out, a, "BLOCKED", T + 5000, price=0.08)
    assert deliver(receipts_fn, [late]) == []
    assert claims()[a].receipt_status == "BLOCKED"
    assert receipts.totals(CAMPAIGN) == receipts.Totals({"delivered": 1}, 153_000)


def emitted(output: str, name: str) -> float:
    """The sum of a metric over the EMF documents the handlers printed."""
    total = 0.0
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            value = json.loads(line).get(name, 0)
            total += sum(value) if isinstance(value, list) else value
    return total


def failing_of(phone: str) -> FailingDestination | None:
    try:
        return FailingDestination.get(f"failing#p#{phone}", "campaigns", consistent_read=True)
    except FailingDestination.DoesNotExist:
        return None


def test_a_destination_that_keeps_failing_is_counted_once_and_forgotten_on_erasure(
    aws: Stack,
    fake: FakeSms,
    receipts_fn: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given four campaigns to the same two numbers
    a, b = PHONES[:2]
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    ids = [f"relance-{n}" for n in range(1, 5)]
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        pipe = Pipeline(aws, fake)
        for campaign_id in ids:
            pipe.publish(campaign_id=campaign_id, category="transactional", recipients=[a, b])
    sent_ids = {
        (m["Context"]["campaign_id"], m["DestinationPhoneNumber"]): m["MessageId"]
        for m in fake.sent
    }

    def fate(campaign_id: str, phone: str, status: str, at: int) -> dict[str, Any]:
        return event(
            {phone: sent_ids[campaign_id, phone]},
            phone,
            status,
            at,
            context={"campaign_id": campaign_id},
        )

    capsys.readouterr()
    # When A's SMS of the first two campaigns are blocked (in one batch, twice), B's delivered
    first = [fate(c, a, "BLOCKED", T) for c in ids[:2]] + [fate(c, b, "DELIVERED", T) for c in ids]
    assert deliver(receipts_fn, first * 2, size=20) == []
    assert failing_of(a) is not None
    assert failing_of(a).campaigns == set(ids[:2])
    assert emitted(capsys.readouterr().out, "FailingDestinations") == 0
    # And then its third fails (unreachable, a pending before it), replayed in batches of one
    third = [fate(ids[2], a, "PENDING", T), fate(ids[2], a, "CARRIER_UNREACHABLE", T + 9)]
    assert deliver(receipts_fn, third * 2, size=1) == []
    # Then A keeps failing, counted once; the fourth failure does not count it again
    assert emitted(capsys.readouterr().out, "FailingDestinations") == 1
    assert deliver(receipts_fn, [fate(ids[3], a, "SPAM", T)]) == []
    assert emitted(capsys.readouterr().out, "FailingDestinations") == 0
    item = failing_of(a)
    assert item is not None
    assert (item.campaigns, item.last_status) == (set(ids), "SPAM")
    assert failing_of(b) is None  # delivered SMS write nothing there
    # And the totals of each campaign are unchanged by it
    assert receipts.totals(ids[2]) == receipts.Totals({"carrier_unreachable": 1, "delivered": 1}, 0)
    # And the operator sees it in the number's status, B has nothing there
    capsys.readouterr()
    assert main(["status", a]) == 0
    failures = json.loads(capsys.readouterr().out)["delivery_failures"]
    until = datetime.fromisoformat(failures.pop("counted_until"))
    assert failures == {"campaigns": ids, "last_status": "SPAM", "keeps_failing": True}
    assert until > clock.now() + FAILING_WINDOW - timedelta(minutes=5)  # the receipt's time
    assert main(["status", b]) == 0
    assert json.loads(capsys.readouterr().out)["delivery_failures"] is None
    # And in the list of numbers that keep failing, alone
    assert main(["failing", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["phone"], listed["campaigns"], listed["last_status"]) == (a, ids, "SPAM")
    assert main(["failing"]) == 0
    assert "1 number(s) keep failing" in capsys.readouterr().out
    # And erasing A forgets its failures, and its late events do not bring its number back
    assert main(["erase", a, "--yes"]) == 0
    assert failing_of(a) is None
    assert deliver(receipts_fn, [fate(ids[0], a, "BLOCKED", T + 5)]) == []
    assert failing_of(a) is None
    assert all(a not in str(i.campaign_id) for i in FailingDestination.scan())
    assert main(["failing"]) == 0
    assert "no number keeps failing" in capsys.readouterr().out


def test_failures_further_apart_than_the_window_do_not_add_up(
    aws: Stack, fake: FakeSms, receipts_fn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = PHONES[0]
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    ids = ["mois-1", "mois-2", "mois-3"]
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        pipe = Pipeline(aws, fake)
        for campaign_id in ids:
            pipe.publish(campaign_id=campaign_id, category="transactional", recipients=[a])
    by_campaign = {m["Context"]["campaign_id"]: m["MessageId"] for m in fake.sent}
    # Each failure arrives 31 days after the one before (DynamoDB has not deleted the item)
    for month, campaign_id in enumerate(ids):
        when = MONDAY_10H_PARIS + month * (FAILING_WINDOW + timedelta(days=1))
        fate = event(
            {a: by_campaign[campaign_id]}, a, "BLOCKED", T, context={"campaign_id": campaign_id}
        )
        with mock.patch.object(clock, "now", return_value=when):
            assert deliver(receipts_fn, [fate]) == []
        item = failing_of(a)
        assert item is not None
        assert item.campaigns == {campaign_id}
        assert item.failing_list is None  # never three within the window: not listed
