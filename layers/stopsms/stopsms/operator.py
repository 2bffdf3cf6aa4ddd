"""What an operator asks of the tables: a number's status and history, the stop list out
(a CNIL audit, another platform) and in (migrating from a previous provider)."""

from __future__ import annotations

import contextlib
import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from stopsms.dal import contacts, evidence
from stopsms.dal.tables import GLOBAL_SCOPE, ContactState, Evidence
from stopsms.errors import InvalidPhoneNumber, StaleEvent
from stopsms.phones import normalize

EXPORT_COLUMNS = ("phone", "scope", "opted_out_at", "source", "evidence_key", "recorded_at")


def status(raw_phone: str) -> dict[str, Any]:
    """Current state per brand and the full evidence history of one number (access request)."""
    phone = normalize(raw_phone).e164
    return {
        "phone": phone,
        "state": [
            {
                "scope": "every brand" if item.scope == GLOBAL_SCOPE else item.scope,
                "status": item.status,
                "since": item.status_at.isoformat(),
                "source": item.source,
            }
            for item in contacts.state_of(phone)
        ],
        "history": [
            {
                "at": item.captured_at.isoformat(),
                "kind": item.kind,
                "brand": item.brand,
                "source": item.source,
                "text": item.text,
                "campaign_id": item.campaign_id,
                "inbound_message_id": item.inbound_message_id,
                "proof": item.proof,
            }
            for item in evidence.history(phone)
        ],
    }


def opted_out() -> Iterator[ContactState]:
    """Every opt-out in force (a full scan: an export is rare and must be complete)."""
    return ContactState.scan(ContactState.status == contacts.OPTED_OUT)


def export_optouts(out: IO[str]) -> int:
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for item in opted_out():
        writer.writerow(
            [
                item.phone,
                item.scope,
                item.status_at.isoformat(),
                item.source,
                item.evidence_key or "",
                item.updated_at.isoformat(),
            ]
        )
        count += 1
    return count


@dataclass
class ImportResult:
    imported: int = 0
    already_known: int = 0
    refused: list[str] = field(default_factory=list)  # "line N: reason"


def import_optouts(rows: IO[str], source: str, brand: str | None = None) -> ImportResult:
    """Apply a previous provider's stop list: CSV with a ``phone`` column, optional ``brand``
    (default: every brand) and ``opted_out_at`` (ISO-8601; default: now). Each row becomes an
    opt-out with evidence naming ``source``; a line that cannot be read is reported, not fatal.
    """
    result = ImportResult()
    reader = csv.DictReader(rows)
    if reader.fieldnames is None or "phone" not in reader.fieldnames:
        raise ValueError("the CSV needs a header row with a 'phone' column")
    now = datetime.now(UTC)
    for line, row in enumerate(reader, start=2):
        try:
            phone = normalize(row["phone"]).e164
            at = _instant(row.get("opted_out_at"), now)
        except (InvalidPhoneNumber, ValueError) as error:
            result.refused.append(f"line {line}: {error}")
            continue
        scope = (row.get("brand") or brand or GLOBAL_SCOPE).strip()
        event_id = "import-" + hashlib.sha256(f"{source}|{phone}|{scope}".encode()).hexdigest()[:16]
        # Rows without a date get "now", so the event key differs between runs: look the
        # import up by its id to keep a second run of the same file harmless.
        if any(item.event_key.endswith(event_id) for item in evidence.history(phone)):
            result.already_known += 1
            continue
        key = evidence.event_key(at, event_id)
        evidence.append(
            Evidence(
                phone,
                key,
                kind="opt_out",
                brand=scope,
                source=f"import:{source}",
                captured_at=at,
                recorded_at=now,
                proof={"file_line": line},
            )
        )
        # A later decision of the person wins: the evidence is kept, the state stays.
        with contextlib.suppress(StaleEvent):
            contacts.apply(
                phone, scope, contacts.OPTED_OUT, at, source=f"import:{source}", evidence_key=key
            )
        result.imported += 1
    return result


def _instant(text: str | None, default: datetime) -> datetime:
    if not text:
        return default
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        raise ValueError(f"opted_out_at {text!r} needs an offset")
    if value > default:
        raise ValueError(f"opted_out_at {text!r} is in the future")
    return value
