"""Second adversarial pass on delivery receipts (issue 14), end to end on the emulated stack:
a campaign published, pumped, its report's delivery and cost compared with the fake endpoint's
outbox and the carriers' fates (seeded by message id)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from stopsms.emulator.carriers import Mix
from stopsms.emulator.stack import EmulatedStack
from stopsms.reporting import report
from tests.e2e.conftest import publish

pytestmark = pytest.mark.e2e

PHONES = [f"+336120{n:05d}" for n in range(60)]


def _expected(stack: EmulatedStack, campaign_id: str) -> tuple[Counter[str], float, int]:
    """What the carriers told of the campaign's SMS: buckets, cost (USD), SMS count."""
    mix = stack.carriers.mix
    sent = [m for m in stack.sms.outbox if m.get("Context", {}).get("campaign_id") == campaign_id]
    buckets: Counter[str] = Counter()
    cost_micros = 0
    for m in sent:
        rng = random.Random(m["MessageId"])
        fate = rng.choices(list(mix.fates), weights=list(mix.fates.values()))[0]
        buckets["delivered" if fate == "DELIVERED" else fate.lower()] += 1
        parts = 1 + len(str(m["MessageBody"])) // 161
        cost_micros += round(round(mix.price_per_part * parts, 5) * 1e6)
        cost_micros += round(mix.carrier_fee * 1e6)
    return buckets, cost_micros / 1e6, len(sent)


def test_report_agrees_with_outbox_and_fates_under_duplicates(stack: EmulatedStack) -> None:
    # Given SQS/SNS duplicating 30% of messages, and carriers duplicating and reordering
    stack.duplicates = 0.3
    stack.carriers.mix = Mix(duplicates=0.5, reorder=0.5)
    publish(
        stack,
        "CampaignQueue",
        {
            "campaign_id": "adv14b-1",
            "category": "transactional",
            "body": "Votre colis arrive demain",
            "recipients": PHONES,
        },
    )
    stack.pump()
    stack.duplicates = 0.0
    buckets, cost, n = _expected(stack, "adv14b-1")
    assert n == len(PHONES)  # exactly once, whatever the duplicates
    data = report("adv14b-1")
    delivery = data["delivery"]
    assert data["sent"] == n
    assert delivery["delivered"] == buckets["delivered"]
    assert delivery["undelivered"] == {
        k: v for k, v in sorted(buckets.items()) if k not in ("delivered", "awaiting")
    }
    assert delivery["awaiting"] == buckets["awaiting"]
    assert data["cost"]["total"] == pytest.approx(cost, abs=1e-6)
    assert stack.dead_letters().get("DeliveryEventsDLQ", 0) == 0


def _campaign(stack: EmulatedStack, campaign_id: str, phones: list[str]) -> None:
    publish(
        stack,
        "CampaignQueue",
        {
            "campaign_id": campaign_id,
            "category": "transactional",
            "body": "Votre colis arrive demain",
            "recipients": phones,
        },
    )


def test_answers_name_the_configuration_set_and_their_events_count_nowhere(
    stack: EmulatedStack,
) -> None:
    # Given a campaign sent and its receipts settled
    stack.carriers.mix = Mix()
    phones = [f"+336130{n:05d}" for n in range(4)]
    _campaign(stack, "adv14b-answers", phones)
    stack.pump()
    before = report("adv14b-answers")
    # When the recipients reply HELP and STOP: the answers go out through the same set
    outbox = len(stack.sms.outbox)
    stack.reply(phones[0], "AIDE")
    stack.reply(phones[1], "STOP")
    stack.pump()
    answers = stack.sms.outbox[outbox:]
    assert answers, "no answer was sent"
    config_sets = set(stack.stack.configuration_sets.values())
    assert all(a.get("ConfigurationSetName") in config_sets for a in answers)
    assert all("campaign_id" not in a.get("Context", {}) for a in answers)
    # Then their events moved no campaign's totals, and none was refused
    after = report("adv14b-answers")
    assert (after["delivery"], after["cost"]) == (before["delivery"], before["cost"])
    assert stack.dead_letters().get("DeliveryEventsDLQ", 0) == 0


def test_report_while_events_arrive_never_counts_more_receipts_than_sent(
    stack: EmulatedStack,
) -> None:
    stack.carriers.mix = Mix(duplicates=0.5, reorder=0.5, delay_s=(0.0, 0.3))
    phones = [f"+336140{n:05d}" for n in range(30)]
    _campaign(stack, "adv14b-mid", phones)
    seen = []
    for _ in range(40):
        stack.pump(until_idle=False, max_invocations=1)
        data = report("adv14b-mid")
        d = data["delivery"]
        receipted = d["delivered"] + sum(d["undelivered"].values())
        seen.append((data["sent"], receipted, d["awaiting"]))
        assert receipted <= data["sent"]
        assert d["awaiting"] == data["sent"] - receipted
        assert data["cost"]["total"] >= 0
    stack.pump()
    buckets, cost, _n = _expected(stack, "adv14b-mid")
    final = report("adv14b-mid")
    assert final["delivery"]["delivered"] == buckets["delivered"]
    assert final["cost"]["total"] == pytest.approx(cost, abs=1e-6)


def test_totals_after_erasing_several_numbers_and_late_events(
    stack: EmulatedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stopsms.consent.erasure import erase
    from stopsms.settings import get_settings

    # Given a campaign whose events are all awaiting a receipt except the pending ones
    stack.carriers.mix = Mix(fates={"AWAITING": 1.0}, duplicates=0.0, reorder=0.0)
    published: list[dict] = []
    real = stack._publish_delivery_events

    def recording(events: list[dict]) -> None:
        published.extend(events)
        real(events)

    monkeypatch.setattr(stack, "_publish_delivery_events", recording)
    phones = [f"+336150{n:05d}" for n in range(6)]
    _campaign(stack, "adv14b-erase", phones)
    stack.pump()
    start = report("adv14b-erase")
    assert start["delivery"]["awaiting"] == 6
    # When three of the numbers are erased, then their finals arrive late, twice, with the
    # price reported again (and once higher)
    for phone in phones[:3]:
        erase(phone, get_settings())
    late = []
    for event in published:
        if event["destinationPhoneNumber"] in phones[:4]:
            final = {
                **event,
                "eventType": "TEXT_DELIVERED",
                "messageStatus": "DELIVERED",
                "isFinal": True,
                "eventTimestamp": event["eventTimestamp"] + 1000,
            }
            late += [final, final]
    late.append({**late[0], "totalMessagePrice": late[0]["totalMessagePrice"] + 0.01})
    real(late)
    stack.pump()
    data = report("adv14b-erase")
    # Then each counts once, under the stand-in as under the number
    assert data["sent"] == 6
    assert data["delivery"] == {"delivered": 4, "undelivered": {}, "awaiting": 2}
    assert data["cost"]["total"] == pytest.approx(start["cost"]["total"] + 0.01, abs=1e-6)
    assert stack.dead_letters().get("DeliveryEventsDLQ", 0) == 0


def test_unconfirmed_sms_that_went_out_is_billed_in_the_report(
    stack: EmulatedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The send went out (the endpoint has it, its events name the campaign) but its answer
    was lost: the claim ends failed/unconfirmed. AWS bills it; contract §6: cost.total is the
    sum of the campaign's SMS prices."""
    from stopsms.aws import sms

    stack.carriers.mix = Mix(fates={"DELIVERED": 1.0}, duplicates=0.0, reorder=0.0)
    real_send = sms.send_text
    lost = "+33616000001"

    def flaky(phone: str, *args: object, **kwargs: object) -> sms.SendResult:
        result = real_send(phone, *args, **kwargs)  # type: ignore[arg-type]
        if phone == lost:  # it left; the answer did not come back
            return sms.SendResult(error_code=sms.UNCONFIRMED, reason="ReadTimeoutError")
        return result

    monkeypatch.setattr(sms, "send_text", flaky)
    phones = [f"+3361600000{n}" for n in range(3)]
    _campaign(stack, "adv14b-unconfirmed", phones)
    stack.pump()
    _buckets, cost, n = _expected(stack, "adv14b-unconfirmed")
    data = report("adv14b-unconfirmed")
    assert n == 3  # three SMS went out, three were billed
    assert data["failures"] == {"unconfirmed": 1}
    assert data["delivery"]["awaiting"] == 0
    assert data["cost"]["total"] == pytest.approx(cost, abs=1e-6)
