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

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from enum import StrEnum

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


def claim(items: Sequence[Delivery]) -> dict[str, Delivery | None]:
    """Write claims that must not exist yet, one conditional put each (concurrently). Returns
    the refused ones by recipient key, each with the claim found in its place, read once all
    writes are done (None: released since, the job is simply tried again)."""
    if not items:
        return {}
    not_yet = Delivery.recipient.does_not_exist()
    with ThreadPoolExecutor(max_workers=min(CLAIM_WORKERS, len(items))) as pool:
        written = list(pool.map(lambda item: save_if(item, not_yet), items))
    refused = [item for item, ok in zip(items, written, strict=True) if not ok]
    if not refused:
        return {}
    found = batch_get({Delivery: [(str(i.campaign_id), str(i.recipient)) for i in refused]})
    return {
        str(i.recipient): found[Delivery].get((str(i.campaign_id), str(i.recipient)))
        for i in refused
    }


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
    """Write final states (the claimant writes over its own claim: no condition needed)."""
    batch_write(list(items))


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
