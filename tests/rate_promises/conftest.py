"""Fixtures of the blocked-or-spam rate attacks: the receipt_promises fixtures (a campaign
really sent through the campaign and sender handlers, the real receipts handler), imported,
not copied, plus helpers that read what the handler emitted and stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stopsms.dal import receipts
from stopsms.dal.tables import Delivery, DeliveryTotal
from stopsms.rules.receipts import REPUTATION, bucket
from tests.handlers.test_receipts import rates as alarm_rates  # checks the alarm's schema too
from tests.receipt_promises.conftest import receipts_fn, sender, sent  # noqa: F401 (fixtures)


def stored_final(campaign_id: str) -> int | None:
    """The campaign's ``t#final`` counter, as stored (None: never written)."""
    try:
        return int(DeliveryTotal.get(campaign_id, "t#final", consistent_read=True).value)
    except DeliveryTotal.DoesNotExist:
        return None


def bucket_sum(campaign_id: str) -> int:
    return sum(receipts.totals(campaign_id).buckets.values())


def true_rate(campaign_id: str) -> tuple[int, float | None]:
    """The campaign's blocked-or-spam rate recomputed from its claims, one by one (only SMS
    counted as sent are in the buckets): (final states, rate or None when none)."""
    final = 0
    bad = 0
    for item in Delivery.query(campaign_id):
        if str(item.recipient).startswith(("t#", "r#")):  # totals, outcomes: no claim
            continue
        if item.status != "sent":
            continue
        name = bucket(receipts.standing(item))
        if name == "awaiting":
            continue
        final += 1
        bad += name in REPUTATION
    return final, (100 * bad / final if final else None)


def assert_final_is_the_buckets_sum(*campaign_ids: str) -> None:
    for campaign_id in campaign_ids:
        assert (stored_final(campaign_id) or 0) == bucket_sum(campaign_id), campaign_id


def emf_documents(output: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in output.splitlines()
        if line.startswith("{") and '"_aws"' in line
    ]


def rate_lines(output: str) -> list[tuple[str, float]]:
    """Every CampaignBlockedOrSpamRate the handler printed, as (campaign, value), checked
    against the alarm's query (namespace, dimensions, unit)."""
    return alarm_rates(output)


@pytest.fixture
def fresh_receipts_fn() -> Any:
    """A second receipts function instance (another Lambda running at the same time)."""
    from tests.handlers.conftest import load_function

    return load_function("receipts")
