"""Per-recipient delivery records of a campaign: exactly-once claims and outcomes."""

from __future__ import annotations

from stopsms.dal.tables import Delivery

CLAIM = "p#"  # p#<e164>: the phone is claimed by one recipient of the campaign
OUTCOME = "r#"  # r#<seq>: outcome of a recipient that never claimed a phone


def claim_key(e164: str) -> str:
    return f"{CLAIM}{e164}"


def outcome_key(seq: int) -> str:
    return f"{OUTCOME}{seq:010d}"


def campaign_for_message(message_id: str) -> str | None:
    """The campaign whose outbound SMS had this ``MessageId`` (attributes a reply to it)."""
    for item in Delivery.message_id_index.query(message_id, limit=1):
        return str(item.campaign_id)
    return None
