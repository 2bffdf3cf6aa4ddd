"""Helpers of the exactly-once claim attack tests: the real campaign and sender handlers
(``tests.cancel_promises.conftest.Attack``) against moto with IAM enforced, send jobs handed to
the sender in the batches and orders the test chooses."""

from __future__ import annotations

from typing import Any

from stopsms.dal.tables import Delivery
from tests.cancel_promises.conftest import Attack, attack, operator_cancel, reconciles

__all__ = [
    "A",
    "Attack",
    "B",
    "C",
    "attack",
    "by_key",
    "operator_cancel",
    "publish",
    "reconciles",
]

A, B, C = (f"+3361299000{n}" for n in range(1, 4))


def publish(
    pipe: Attack, campaign_id: str, recipients: list[str], **fields: Any
) -> list[dict[str, Any]]:
    """Publish a transactional campaign to ``recipients`` and take its jobs off SendQueue,
    in ``seq`` order."""
    assert pipe.request(campaign_id, recipients=recipients, **fields) == []
    jobs = pipe.jobs()
    assert [int(job["seq"]) for job in jobs] == list(range(len(recipients)))
    return jobs


def by_key(campaign_id: str) -> dict[str, tuple[str, str | None, int]]:
    """Every delivery record of a campaign (claims p#, outcomes r#, dry runs d#), by key:
    (status, reason, seq)."""
    return {
        str(item.recipient): (str(item.status), item.reason, int(item.seq))
        for item in Delivery.query(campaign_id)
        if not str(item.recipient).startswith("t#")
    }
