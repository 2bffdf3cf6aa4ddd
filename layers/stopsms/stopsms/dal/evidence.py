"""Append-only evidence of consent, opt-outs and replies: what an audit or an access request
needs. No event is ever overwritten; a repeated event is recognised by its key. The one thing
that changes on an event is the triage of a reply flagged for human review."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from stopsms.dal.conditions import save_if, update_if
from stopsms.dal.tables import Evidence, copy_with_key
from stopsms.errors import AlreadyExists


def event_key(captured_at: datetime, event_id: str) -> str:
    """Sort key: chronological within a phone, unique per event."""
    return f"{captured_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{event_id}"


def append(record: Evidence) -> None:
    """Store a new event; ``AlreadyExists`` when this very event was stored before."""
    if not save_if(record, Evidence.phone.does_not_exist()):
        raise AlreadyExists(f"evidence {record.event_key} is already recorded")


def get(phone: str, event_key: str) -> Evidence | None:
    """One stored event, read consistently; None when there is none."""
    try:
        return Evidence.get(phone, event_key, consistent_read=True)
    except Evidence.DoesNotExist:
        return None


def history(phone: str) -> list[Evidence]:
    """Every event of a phone, oldest first."""
    return list(Evidence.query(phone, scan_index_forward=True))


OPEN = "open"


def flag_for_review(phone: str, event_key: str, reason: str) -> None:
    """Ask a human to look at a stored reply (``python -m stopsms replies``)."""
    update_if(
        Evidence(phone, event_key),
        [Evidence.review.set(OPEN), Evidence.review_reason.set(reason)],
        Evidence.phone.exists(),
    )


def to_review() -> Iterator[Evidence]:
    """The replies waiting for a human decision, oldest first (a sparse index)."""
    return Evidence.review_index.query(OPEN, scan_index_forward=True)


def close_review(phone: str, event_key: str, decision: str) -> bool:
    """Record the human decision on a flagged reply; False when it was not waiting."""
    return update_if(
        Evidence(phone, event_key),
        [Evidence.review.remove(), Evidence.review_reason.set(decision)],
        Evidence.review == OPEN,
    )


def move(phone: str, new_phone: str, new_key: Callable[[str], str], **changes: Any) -> int:
    """Move every event of ``phone`` under ``new_phone`` (erasure: the stand-in), each under
    ``new_key(its key)`` with ``changes`` applied; how many moved. A copy, then the delete:
    interrupted, a run again finds what is left."""
    moved = 0
    for event in Evidence.query(phone):
        copy_with_key(event, new_phone, new_key(event.event_key), **changes).save()
        event.delete()
        moved += 1
    return moved
