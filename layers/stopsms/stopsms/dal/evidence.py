"""Append-only evidence of consent, opt-outs and replies: what an audit or an access request
needs. Nothing here is ever overwritten; a repeated event is recognised by its key."""

from __future__ import annotations

from datetime import UTC, datetime

from stopsms.dal.conditions import save_if
from stopsms.dal.tables import Evidence
from stopsms.errors import AlreadyExists


def event_key(captured_at: datetime, event_id: str) -> str:
    """Sort key: chronological within a phone, unique per event."""
    return f"{captured_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{event_id}"


def append(record: Evidence) -> None:
    """Store a new event; ``AlreadyExists`` when this very event was stored before."""
    if not save_if(record, Evidence.phone.does_not_exist()):
        raise AlreadyExists(f"evidence {record.event_key} is already recorded")


def history(phone: str) -> list[Evidence]:
    """Every event of a phone, oldest first."""
    return list(Evidence.query(phone, scan_index_forward=True))
