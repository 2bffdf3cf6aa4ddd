"""Per-recipient delivery records of a campaign: exactly-once claims and outcomes.

Two kinds of item share the campaign's partition:

- ``p#<e164>``, the *claim*: the first recipient of the campaign to reach a phone owns it
  (``seq``); it goes ``sending`` -> ``sent`` | ``failed``, or is written ``suppressed``
  directly. A conditional put makes the claim exclusive: a second SMS to the same phone for
  the same campaign is impossible, whatever SQS redelivers.
- ``r#<seq>``, the *outcome* of a recipient that never claimed a phone: invalid number,
  duplicate of an earlier recipient, missing template variable.
- ``d#<run>#…``, a dry run's records: the same two kinds under the run's name, the claim
  keyed by the number's stand-in (no number is written), a sendable recipient recorded
  ``would_send``. Apart from the real claims, a dry run never blocks the real send of its
  campaign, and two dry runs never see each other's.

A claim is a conditional ``PutItem`` (one write unit; a transaction would cost two, and
``BatchWriteItem`` takes no condition), the claims of a batch sent concurrently; a claim is
read only when its write is refused (a duplicate, or a job delivered again). Outcomes are
written with ``BatchWriteItem`` (unconditional, 25 per call, one write unit each). A
campaign cancelled or paused is checked after its claims are written (``held_since``): see
docs/PERFORMANCE.md, "DynamoDB units per recipient".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pynamodb.exceptions import PutError, PynamoDBException

from stopsms import clock
from stopsms.dal.batch import batch_get, batch_write
from stopsms.dal.campaigns import NOT_HELD
from stopsms.dal.conditions import delete_if, put_guarded, save_if, unchanged_since
from stopsms.dal.tables import Campaign, Delivery, copy_with_key

CLAIM = "p#"
OUTCOME = "r#"
TOTALS = "t#"  # the campaign's delivery totals (``dal.receipts``)
DRY = "d#"  # a dry run's records
DRY_RUN_DAYS = 30  # how long a dry run's records are kept


class DeliveryStatus(StrEnum):
    """A recipient's ``status`` as stored: ``sending`` while claimed, then one of ``FINAL``."""

    SENDING = "sending"
    SENT = "sent"
    SUPPRESSED = "suppressed"
    FAILED = "failed"
    CANCELLED = "cancelled"  # its campaign was cancelled before it was claimed
    WOULD_SEND = "would_send"  # a dry run's sendable recipient: nothing was sent


FINAL = frozenset(
    {
        DeliveryStatus.SENT,
        DeliveryStatus.SUPPRESSED,
        DeliveryStatus.FAILED,
        DeliveryStatus.CANCELLED,
        DeliveryStatus.WOULD_SEND,
    }
)


def claim_key(e164: str) -> str:
    return f"{CLAIM}{e164}"


def outcome_key(seq: int) -> str:
    return f"{OUTCOME}{seq:010d}"


def dry_key(run: str, recipient: str) -> str:
    """``recipient`` (a claim or outcome key) in the dry run ``run``."""
    return f"{DRY}{run}#{recipient}"


def campaign_for_message(message_id: str) -> str | None:
    """The campaign whose outbound SMS had this ``MessageId`` (attributes a reply to it)."""
    for item in Delivery.message_id_index.query(message_id, limit=1):
        return str(item.campaign_id)
    return None


def new(
    campaign_id: str,
    recipient: str,
    seq: int,
    status: str,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> Delivery:
    now = now or clock.now()
    return Delivery(
        campaign_id,
        recipient,
        seq=seq,
        status=status,
        reason=reason,
        claimed_at=now if status == DeliveryStatus.SENDING else None,
        updated_at=now,
        expires_at=now + timedelta(days=DRY_RUN_DAYS) if recipient.startswith(DRY) else None,
    )


CLAIM_WORKERS = 16  # concurrent claim writes: a batch of 100 claims in about 7 round trips


class Claimed(StrEnum):
    """What became of one claim's write."""

    WRITTEN = "written"
    REFUSED = "refused"  # the phone was claimed already: see the claim found
    FAILED = "failed"  # the write failed (throttled...): released, to be tried again


@dataclass(frozen=True)
class Answer:
    claimed: Claimed
    found: Delivery | None = None  # refused: the claim in its place (None: released since)


def claim(items: Sequence[Delivery]) -> list[Answer]:
    """Write claims that must not exist yet, one conditional put each (concurrently); an
    answer per item, in order. A write that fails does not stop the others: its claim is
    released (it may have been written). The claims found in place of the refused ones are
    read once all writes are done."""
    if not items:
        return []
    not_yet = Delivery.recipient.does_not_exist()

    def write(item: Delivery) -> Claimed:
        try:
            return Claimed.WRITTEN if save_if(item, not_yet) else Claimed.REFUSED
        except PutError:
            return Claimed.FAILED

    # One write per key at a time (the same phone at two positions of a batch): the first in
    # the batch's order writes first, the other then finds its claim.
    waves: list[list[Delivery]] = []
    seen: dict[tuple[str, str], int] = {}
    for item in items:
        wave = seen[_key(item)] = seen.get(_key(item), -1) + 1
        if wave == len(waves):
            waves.append([])
        waves[wave].append(item)
    claimed: dict[int, Claimed] = {}
    with ThreadPoolExecutor(max_workers=min(CLAIM_WORKERS, len(waves[0]))) as pool:
        for wave_items in waves:
            for item, answer in zip(wave_items, pool.map(write, wave_items), strict=True):
                claimed[id(item)] = answer
    for item in items:
        if claimed[id(item)] is Claimed.FAILED:
            _release_quietly(item)
    refused = [item for item in items if claimed[id(item)] is Claimed.REFUSED]
    found = batch_get({Delivery: [_key(item) for item in refused]})[Delivery] if refused else {}
    return [Answer(claimed[id(item)], found.get(_key(item))) for item in items]


def _key(item: Delivery) -> tuple[str, str]:
    return str(item.campaign_id), str(item.recipient)


def _release_quietly(item: Delivery) -> None:
    """Release a claim whose write failed, in case it was written all the same; if that fails
    too, a redelivery finds the claim ``sending`` and waits for it to go stale."""
    if item.status != DeliveryStatus.SENDING:
        return  # a decision written as the claim is final: a redelivery finds it and stops
    with contextlib.suppress(PynamoDBException):
        release(item)


def reclaim(item: Delivery, expected_status: str) -> bool:
    """Take a claim back from ``expected_status`` (a failed send redriven from the DLQ), unless
    its campaign was cancelled or paused since."""
    refused, held = put_guarded(
        [item],
        guard=Campaign,
        guarded_key=_campaign_of,
        check=NOT_HELD,
        condition=(Delivery.status == expected_status) & (Delivery.seq == item.seq),
    )
    return not refused and not held


def _campaign_of(item: Delivery) -> str:
    return str(item.campaign_id)


def finish(items: Iterable[Delivery]) -> None:
    """Write final states (the claimant writes over its own claim: no condition needed). One
    record per key, the last given: ``BatchWriteItem`` refuses a request naming a key twice."""
    batch_write(list({(str(i.campaign_id), str(i.recipient)): i for i in items}.values()))


def release(item: Delivery) -> None:
    """Give a claim up after a send that certainly did not happen (throttled), so that a
    redelivery may claim again. A claim that is no longer ours is left alone."""
    delete_if(item, (Delivery.status == DeliveryStatus.SENDING) & (Delivery.seq == item.seq))


def of_campaign(campaign_id: str) -> Iterable[Delivery]:
    """Every delivery record of a campaign (for the report), read page by page."""
    return Delivery.query(
        campaign_id,
        # Claims (p#) and outcomes (r#): not a dry run's (d#), nor the totals (t#).
        Delivery.recipient.between(CLAIM, TOTALS),
        attributes_to_get=["recipient", "status", "reason", "segments"],
    )


def of_dry_run(campaign_id: str, run: str) -> Iterable[Delivery]:
    """Every record of a campaign's dry run (for the report's estimate), page by page."""
    return Delivery.query(
        campaign_id,
        Delivery.recipient.startswith(dry_key(run, "")),
        attributes_to_get=[
            "recipient",
            "seq",
            "status",
            "reason",
            "segments",
            "country",
            "price_micros",
            "resume_at",
            "text",
            "masked",
        ],
    )


def move_claims(e164: str, stand_in: str) -> int:
    """Move every campaign's claim of ``e164`` under ``stand_in`` (erasure); how many moved.
    Claims are keyed by campaign: a scan, acceptable for a rare request. A delivery receipt
    written between the copy and the delete is not lost: the delete holds only if the claim is
    still as copied, else it is copied again."""
    moved = 0
    for found in Delivery.scan(Delivery.recipient == claim_key(e164)):
        item: Delivery | None = found
        while item is not None:
            copy_with_key(
                item, item.campaign_id, claim_key(stand_in), updated_at=clock.now()
            ).save()
            as_copied = unchanged_since(Delivery.receipt_changes, int(item.receipt_changes or 0))
            if delete_if(item, as_copied):
                break
            try:
                item = Delivery.get(item.campaign_id, item.recipient, consistent_read=True)
            except Delivery.DoesNotExist:
                item = None
        moved += 1
    return moved
