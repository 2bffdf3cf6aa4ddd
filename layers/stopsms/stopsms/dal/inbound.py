"""Evidence of inbound replies: find a reply already recorded, and record a STOP reply together
with the campaign counter it increments, in one transaction (so the counter grows exactly once
per recorded STOP, whatever crashes and retries happen around it)."""

from __future__ import annotations

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from stopsms.dal import evidence
from stopsms.dal.conditions import is_refused_item
from stopsms.dal.tables import Campaign, Evidence
from stopsms.errors import AlreadyExists


def find_reply(phone: str, inbound_message_id: str) -> Evidence | None:
    """The evidence already stored for this inbound message of this phone, if any."""
    query = Evidence.query(
        phone,
        filter_condition=Evidence.inbound_message_id == inbound_message_id,
        consistent_read=True,
    )
    for item in query:
        return item
    return None


def append_opt_out(record: Evidence, campaign_id: str | None) -> bool:
    """Store a STOP reply's evidence and count it on its campaign, atomically.

    Returns True when the campaign's ``opt_outs`` grew by one. ``AlreadyExists`` when this
    evidence was stored before (its campaign was counted then). A campaign record that no
    longer exists (TTL, purge) is simply not counted; the evidence is stored anyway.
    """
    if campaign_id is None:
        evidence.append(record)
        return False
    try:
        with TransactWrite(connection=Connection()) as transaction:
            transaction.save(record, condition=Evidence.phone.does_not_exist())
            transaction.update(
                Campaign(campaign_id),
                actions=[Campaign.opt_outs.add(1)],
                condition=Campaign.campaign_id.exists(),
            )
    except TransactWriteError as error:
        reasons = error.cancellation_reasons
        # Only refused conditions are answers; anything else (conflict, throttling) is raised.
        if not reasons or not all(r is None or is_refused_item(r) for r in reasons):
            raise
        if is_refused_item(reasons[0]):
            raise AlreadyExists(f"evidence {record.event_key} is already recorded") from None
        # Only the campaign is missing: keep the evidence without counting.
        evidence.append(record)
        return False
    return True
