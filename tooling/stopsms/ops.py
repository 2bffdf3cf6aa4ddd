"""What an operator asks of the tables: a number's status and history, the stop list out
(a CNIL audit, another platform) and in (migrating from a previous provider)."""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

from botocore.exceptions import ClientError

from stopsms import clock
from stopsms.aws import clients
from stopsms.consent import decisions, erasure
from stopsms.consent.erasure import erased_key
from stopsms.dal import contacts, deliveries, evidence, receipts
from stopsms.dal.batch import batch_get
from stopsms.dal.number_items import NUMBER_ITEM
from stopsms.dal.stoplist import ROWS_PER_TRANSACTION, OptOut, Refusal
from stopsms.dal.tables import GLOBAL_SCOPE, ContactState, Evidence, NumberItem
from stopsms.errors import InvalidPhoneNumber
from stopsms.models import plausible
from stopsms.rules.brands import canonical_brand, refuse_unsafe
from stopsms.rules.csvrecords import Record, records
from stopsms.rules.eligibility import OPTED_OUT
from stopsms.rules.phones import normalize, redact
from stopsms.rules.receipts import KEEPS_FAILING
from stopsms.rules.scope_states import ScopeState
from stopsms.settings import Settings

EXPORT_COLUMNS = ("phone", "scope", "opted_out_at", "source", "evidence_key", "recorded_at")


def status(raw_phone: str, settings: Settings) -> dict[str, Any]:
    """Current state per brand and the full evidence history of one number (access request),
    with when each proof expires and how long each opt-in is relied on; for an erased number,
    what StopSMS keeps under its keyed hash."""
    phone = normalize(raw_phone).e164
    return {
        "phone": phone,
        "state": [_state(item, settings) for item in contacts.state_of(phone)],
        "history": [_event(item) for item in evidence.history(phone)],
        "erased": _erased(phone, settings),
        "delivery_failures": _failures(phone),
    }


def failing_destinations() -> list[dict[str, Any]]:
    """The numbers that keep failing, the longest-failing first (an erased number's failures
    are kept under its stand-in, without the number: not listed)."""
    now = clock.now()
    listed = []
    for item in receipts.keeps_failing_list():
        phone = receipts.recipient_of(item).removeprefix(deliveries.CLAIM)
        campaigns = receipts.failing_campaigns(item, now)
        # Its window has passed (DynamoDB deletes expired items within days), or it is erased.
        if len(campaigns) < KEEPS_FAILING or phone.startswith(erasure.PREFIX):
            continue
        listed.append(
            {
                "phone": phone,
                "since": item.failing_since,
                "campaigns": sorted(campaigns),
                "last_status": item.last_status,
            }
        )
    return listed


def _failures(phone: str) -> dict[str, Any] | None:
    """The campaigns whose SMS to the number failed lately (``rules.receipts.KEEPS_FAILING``)."""
    now = clock.now()
    item = receipts.failing_of(phone)
    campaigns = receipts.failing_campaigns(item, now)
    if item is None or not campaigns:
        return None
    return {
        "campaigns": sorted(campaigns),
        "last_status": item.last_status,
        "keeps_failing": len(campaigns) >= KEEPS_FAILING,
        "counted_until": item.expires_at.isoformat() if item.expires_at else None,
    }


def _state(item: ScopeState, settings: Settings) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "scope": "every brand" if item.scope == GLOBAL_SCOPE else item.scope,
        "status": item.status,
        "since": item.status_at.isoformat(),
        "source": item.source,
    }
    if item.status == contacts.OPTED_IN:
        # The consent lapses when its proof expires (stopsms.rules.retention), at the latest when
        # the proof written then does (RetentionDays raised since).
        until = item.status_at + timedelta(days=settings.retention_days)
        if item.proof_expires_at is not None:
            until = min(until, item.proof_expires_at)
        shown["relied_on_until"] = until.isoformat()
    return shown


def _event(item: Evidence) -> dict[str, Any]:
    return {
        "at": item.captured_at.isoformat(),
        "kind": item.kind,
        "brand": item.brand,
        "source": item.source,
        "text": item.text,
        "campaign_id": item.campaign_id,
        "inbound_message_id": item.inbound_message_id,
        "proof": item.proof,
        # None: kept as long as the opt-out it proves (opt-outs never expire).
        "expires_at": item.expires_at.isoformat() if item.expires_at else None,
        "review": item.review_reason if item.review else None,
    }


def _erased(phone: str, settings: Settings) -> dict[str, Any] | None:
    """What an erasure of this number left (None when it was never erased)."""
    if not settings.erasure_key_secret:
        return None  # no key configured: erasure is not possible here, so nothing was erased
    try:
        stand_in = erased_key(phone, settings)
    except ClientError as error:
        if clients.error_code(error) not in ("AccessDenied", "AccessDeniedException"):
            raise
        # An auditor may not hold the key: with it, hashing every number would undo erasures.
        return {"unknown": "this role may not read the erasure key: ask an operator"}
    states = contacts.state_of(stand_in)
    if not states:
        return None
    return {
        "kept_as": "a keyed hash of the number (HMAC-SHA256, the stack's ErasureKey)",
        "state": [_state(item, settings) for item in states],
        "history": [_event(item) for item in evidence.history(stand_in)],
    }


# --- replies waiting for a human ---------------------------------------------------------


def replies_to_review() -> list[dict[str, Any]]:
    """Replies that contain an opt-out word but changed nothing, oldest first."""
    return [
        {
            "id": f"{item.phone} {item.event_key}",
            "at": item.captured_at.isoformat(),
            "phone": item.phone,
            "kind": item.kind,
            "brand": item.brand,
            "text": item.text,
            "reason": item.review_reason,
        }
        for item in evidence.to_review()
    ]


def resolve_review(review_id: str, *, opt_out: bool) -> str:
    """Close a reply's review: ``opt_out`` applies it as the opt-out it was (for the brands it
    concerned, at the instant the person wrote), otherwise it is dismissed. Says what it did."""
    phone, _, key = review_id.strip().partition(" ")
    item = evidence.get(phone, key) if phone and key else None  # an empty key is no key
    if item is None:
        shown = redact(review_id)[:120]  # a review id starts with the person's number
        raise ValueError(f"no reply {shown!r}: copy the id printed by `replies`")
    if item.review is None:
        return "already reviewed: nothing to do"
    if not opt_out:
        evidence.close_review(phone, key, "dismissed by an operator")
        return "dismissed: the reply stays in the history, nothing else changes"
    scopes = list((item.proof or {}).get("scopes") or [item.brand])
    applied = []
    for scope in scopes:
        proof_key = evidence.event_key(
            item.captured_at, f"{item.inbound_message_id}#review#{scope}"
        )
        proof = Evidence(
            phone,
            proof_key,
            kind="opt_out",
            brand=scope,
            source=REVIEW_SOURCE,
            captured_at=item.captured_at,
            recorded_at=clock.now(),
            proof={"reply": key, "review_reason": item.review_reason},
            campaign_id=item.campaign_id,
        )
        if not decisions.record(proof, OPTED_OUT).applied:
            continue  # the person decided again after writing this reply
        applied.append("every brand" if scope == GLOBAL_SCOPE else scope)
    evidence.close_review(phone, key, "applied as an opt-out by an operator")
    if not applied:
        return "not applied: the person decided again after this reply (kept in the history)"
    done = f"opted out of {', '.join(applied)} as of {item.captured_at.isoformat()}"
    if GLOBAL_SCOPE in scopes and (kept := _later_opt_ins(phone, item.captured_at)):
        # An opt-out for every brand does not outrank a brand's own later opt-in.
        done += f"; {', '.join(kept)} still send: the person opted in to them afterwards"
    return done


def _later_opt_ins(phone: str, after: datetime) -> list[str]:
    """The brands whose own opt-in is later than ``after``."""
    return sorted(
        state.scope
        for state in contacts.state_of(phone)
        if state.scope != GLOBAL_SCOPE
        and state.status == contacts.OPTED_IN
        and state.status_at > after
    )


REVIEW_SOURCE = "operator-review"


def _refuse_unless_migrated() -> None:
    """The stop list is read and written one item per number: an older table must be
    migrated first (its per-scope items would be missed or written beside)."""
    if not contacts.migrated():
        raise ValueError(
            "this stack's contact table still holds the previous version's items: run "
            "'python -m stopsms migrate' first"
        )


def export_optouts(out: IO[str]) -> int:
    """Every opt-out in force as CSV (``EXPORT_COLUMNS``), erased numbers' keyed hashes
    included: what :func:`import_optouts` reads back into the same state."""
    _refuse_unless_migrated()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for phone, item in contacts.opted_out():
        writer.writerow(
            [
                phone,
                item.scope,
                item.status_at.isoformat(),
                item.source,
                item.evidence_key or "",
                (item.recorded_at or item.updated_at).isoformat(),
            ]
        )
        count += 1
    return count


# --- the stop-list import -------------------------------------------------------------------

PROGRESS_EVERY = 1000  # lines between two progress reports
ROWS_PER_READ = 100  # BatchGetItem's limit: one read decides two transactions of 50 rows
_ERASED = re.compile(r"^erased#[0-9a-f]{64}$")  # an erased number's stand-in (consent.erasure)
_EVENT_KEY = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z#\S{1,200}$")
_MAX_ATTEMPTS = 5  # rounds of a chunk whose rows were changed under it


@dataclass
class ImportResult:
    """What became of every line of a stop list."""

    lines: int = 0  # data lines read (blank lines aside)
    imported: int = 0
    in_force: int = 0  # already opted out for that scope: nothing to do
    superseded: int = 0  # the person decided again later (a START): proof kept, state stands
    refused: list[str] = field(default_factory=list)  # "line N: reason"
    ignored_columns: tuple[str, ...] = ()
    interrupted: str | None = None  # where and why the import stopped before the end
    cause: BaseException | None = field(default=None, repr=False)  # what stopped it

    def summary(self) -> str:
        text = (
            f"{self.lines} line(s): imported {self.imported}, already in force {self.in_force}, "
            f"superseded by a later opt-in {self.superseded}, refused {len(self.refused)}"
        )
        if self.interrupted:
            text += (
                f"\ninterrupted at {self.interrupted}: run the same command again, it "
                "completes what is missing (rows imported are recognised)"
            )
        return text


@dataclass
class _Row:
    line: int
    opt_out: OptOut

    @property
    def key(self) -> tuple[str, str]:
        """The item its state goes to (one write per item in a transaction)."""
        return self.opt_out.item_key


def import_optouts(
    data: Iterable[bytes],
    source: str,
    brand: str | None = None,
    *,
    progress: Callable[[ImportResult], None] | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Apply a stop list (another provider's, or an ``optouts export``): a CSV with a header.

    Columns (any case, any order): ``phone`` (required: any common format, or an erased
    number's ``erased#…`` stand-in); ``scope`` or ``brand`` (a brand, ``*`` for every brand;
    empty: ``brand``, or every brand); ``opted_out_at`` (ISO-8601 with an offset; empty: now);
    ``source``, ``evidence_key`` and ``recorded_at`` as ``optouts export`` writes them (kept,
    so that an export imported elsewhere exports the same again). Other columns are ignored.

    Every data line ends imported, already in force (the number is opted out for that scope:
    judged by the suppression state, not by past imports), superseded (a later opt-in of the
    person stands: the proof is kept, and the opt-out is in force again if that opt-in
    lapses) or refused with its line number and reason. A line
    that cannot be read (not UTF-8, an unbalanced quote) is refused on its own. Rows are
    written 50 to a transaction (evidence and state together), so an interruption loses
    nothing: the result says where it stopped, and a second run completes the rest.
    Raises ``ValueError`` when the header cannot be used (nothing is written then).
    """
    _refuse_unless_migrated()
    now = now or clock.now()
    default_scope = canonical_brand(brand) if brand else GLOBAL_SCOPE
    result = ImportResult()
    stream = records(data)
    columns = _import_header(stream)
    result.ignored_columns = tuple(name for name in columns if name and name not in _IMPORT_COLUMNS)
    pending: list[_Row] = []
    try:
        for record in stream:
            if record.blank:
                continue
            result.lines += 1
            if progress is not None and result.lines % PROGRESS_EVERY == 0:
                progress(result)
            if record.problem is not None or record.cells is None:
                result.refused.append(f"line {record.line}: {record.problem}")
                continue
            try:
                row = _import_row(record.cells, columns, record.line, source, default_scope, now)
            except ValueError as error:
                result.refused.append(f"line {record.line}: {error}")
                continue
            if any(other.key == row.key for other in pending):
                _flush(pending, result)  # one transaction may not write an item twice
            pending.append(row)
            if len(pending) == ROWS_PER_READ:
                _flush(pending, result)
        _flush(pending, result)
    except (Exception, KeyboardInterrupt) as error:  # report what was done, even on Ctrl-C
        first = pending[0].line if pending else "the end"
        why = "Ctrl-C" if isinstance(error, KeyboardInterrupt) else clients.error_code(error)
        result.interrupted = f"line {first} ({why})"
        result.cause = error
    return result


_IMPORT_COLUMNS = frozenset(EXPORT_COLUMNS) | {"brand"}


def _import_header(stream: Iterator[Record]) -> dict[str, int]:
    for record in stream:
        if record.problem is not None:
            raise ValueError(f"line {record.line} {record.problem}")
        if record.cells is None or record.blank:
            continue
        columns = [cell.strip().lower() for cell in record.cells]
        if "phone" not in columns:
            shown = redact(", ".join(columns))[:200]
            for separator in (";", "\t"):  # a spreadsheet's export in another locale
                if len(columns) == 1 and separator in columns[0] and "phone" in columns[0]:
                    raise ValueError(
                        f"line {record.line} separates its columns with {separator!r}: the stop "
                        "list is CSV with commas (save it as 'CSV UTF-8, comma-delimited')"
                    )
            raise ValueError(
                f"line {record.line} must name the columns, one of them 'phone' (found: {shown})"
            )
        duplicates = sorted({name for name in columns if name and columns.count(name) > 1})
        if duplicates:
            shown = redact(", ".join(duplicates))[:200]
            raise ValueError(f"line {record.line} names columns twice: {shown}")
        if "scope" in columns and "brand" in columns:
            raise ValueError(f"line {record.line} names both 'scope' and 'brand': keep one")
        return {name: columns.index(name) for name in reversed(columns)}
    raise ValueError("the file is empty: it needs a header row with a 'phone' column")


def _import_row(
    cells: list[str],
    columns: dict[str, int],
    line: int,
    source: str,
    default_scope: str,
    now: datetime,
) -> _Row:
    def written(name: str) -> str:
        index = columns.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    def cell(name: str) -> str:
        return written(name).strip()

    raw = cell("phone")
    if _ERASED.match(raw):
        phone = raw
    else:
        try:
            phone = normalize(written("phone")).e164  # unstripped: controls are refused
        except InvalidPhoneNumber as error:
            raise ValueError(f"not a valid phone number ({error.reason})") from None
    refuse_unsafe(written("scope") + written("brand"))  # before stripping, as for campaigns
    scope_cell = cell("scope") or cell("brand")
    scope = GLOBAL_SCOPE if scope_cell == GLOBAL_SCOPE else default_scope
    if scope_cell and scope_cell != GLOBAL_SCOPE:
        scope = canonical_brand(scope_cell)
    at = _instant(cell("opted_out_at"), now, "opted_out_at") or now
    recorded = _instant(cell("recorded_at"), now, "recorded_at")
    given = cell("evidence_key")
    key = given
    if not _EVENT_KEY.match(key):
        digest = hashlib.sha256(f"{source}|{phone}|{scope}".encode()).hexdigest()[:16]
        key = evidence.event_key(at, f"import-{digest}")
    # An export says which evidence its state points to, none included: kept as it is, so
    # the import of an export exports the same again (the import's own evidence is stored).
    reference = (given or None) if "evidence_key" in columns else key
    # Free text, kept as written (an export imported elsewhere exports the same again).
    original = written("source")[:512] if cell("source") else ""
    proof: dict[str, Any] = {"file_line": line, "import": source}
    if original:
        proof["original_source"] = original
    state = ScopeState(
        scope=scope,
        status=contacts.OPTED_OUT,
        status_at=at,
        source=original or f"import:{source}",
        updated_at=now,
        evidence_key=reference,
        recorded_at=recorded,
        opted_out_at=at,
    )
    proof_of = Evidence(
        phone,
        key,
        kind="opt_out",
        brand=scope,
        source=f"import:{source}",
        captured_at=at,
        recorded_at=now,
        proof=proof,
    )
    return _Row(line, OptOut(proof_of, phone, state))


def _flush(rows: list[_Row], result: ImportResult) -> None:
    """Give every row of a chunk its outcome: one read of their states, then the rows to
    write in transactions of 50. A row is taken out of ``rows`` once it has its outcome, so
    after a failure ``rows`` holds exactly what is left to do."""
    for _ in range(_MAX_ATTEMPTS):
        if not rows:
            return
        states = _stored(rows)
        writable: list[_Row] = []
        for row in list(rows):
            state = states.get(id(row))
            if state is not None and state.status == contacts.OPTED_OUT:
                result.in_force += 1
                rows.remove(row)
            elif state is not None and state.status_at > row.opt_out.state.status_at:
                _superseded(row)
                result.superseded += 1
                rows.remove(row)
            else:
                writable.append(row)
        for start in range(0, len(writable), ROWS_PER_TRANSACTION):
            chunk = writable[start : start + ROWS_PER_TRANSACTION]
            refused = decisions.record_batch([row.opt_out for row in chunk])
            for index, row in enumerate(chunk):
                kind = refused.get(index)
                if kind is None:
                    result.imported += 1
                    rows.remove(row)
                elif kind is Refusal.EVIDENCE:  # its proof is stored already: state alone
                    row.opt_out.with_evidence = False
                # Refused rows stay in ``rows``: decided again on a fresh read.
    if rows:
        raise RuntimeError("rows kept changing under the import")


def _stored(rows: list[_Row]) -> dict[int, ScopeState | None]:
    """Each row's scope as stored, in one batch read; a row of a number without an item is
    told what its item must be written anew with (``contacts.erasure_left``)."""
    numbers = [row.key for row in rows if row.key[1] == NUMBER_ITEM]
    stand_ins = [row.key for row in rows if row.key[1] != NUMBER_ITEM]
    found = batch_get({NumberItem: numbers, ContactState: stand_ins})
    out: dict[int, ScopeState | None] = {}  # by id(row)
    absent = [
        row.opt_out.phone
        for row in rows
        if row.key[1] == NUMBER_ITEM and row.key not in found[NumberItem]
    ]
    left = contacts.erasures_left(absent)
    for row in rows:
        scope = row.opt_out.state.scope
        if row.key[1] != NUMBER_ITEM:
            legacy = found[ContactState].get(row.key)
            out[id(row)] = None if legacy is None else contacts.preference_state(legacy)
        elif (item := found[NumberItem].get(row.key)) is not None:
            row.opt_out.creates = None
            out[id(row)] = item.states.get(scope)
        else:
            row.opt_out.creates = left[row.opt_out.phone]
            out[id(row)] = None
    return out


def _superseded(row: _Row) -> None:
    """An opt-out a later opt-in replaced: its proof is kept, and it is the opt-out in force
    again once that opt-in lapses (``contacts.replaced_opt_out``). Rare: written one by one."""
    decisions.record(row.opt_out.evidence, OPTED_OUT)  # refused as stale: it dates the opt-out


def _instant(text: str, now: datetime, column: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{column} is not an ISO-8601 date-time") from None
    if value.tzinfo is None:
        raise ValueError(f"{column} needs an offset (e.g. +01:00 or Z)")
    try:
        return plausible(value, now)
    except ValueError as error:
        raise ValueError(f"{column} {error}") from None
