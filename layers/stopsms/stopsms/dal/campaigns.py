"""Campaign records: the validated request, fan-out progress, the STOP replies attributed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from stopsms.dal.conditions import save_if, update_if
from stopsms.dal.tables import Campaign
from stopsms.errors import AlreadyExists


def create(campaign_id: str, request: dict[str, Any], status: str, **fields: Any) -> Campaign:
    """Record a new campaign; ``AlreadyExists`` if this campaign id was recorded before."""
    item = Campaign(
        campaign_id, request=request, status=status, created_at=datetime.now(UTC), **fields
    )
    if not save_if(item, Campaign.campaign_id.does_not_exist()):
        raise AlreadyExists(f"campaign {campaign_id} is already recorded")
    return item


def get(campaign_id: str) -> Campaign | None:
    try:
        return Campaign.get(campaign_id, consistent_read=True)
    except DoesNotExist:
        return None


def add_opt_out(campaign_id: str) -> None:
    """Count one STOP reply attributed to the campaign (contract §6 ``opt_outs``)."""
    # Refused when the outbound message outlived its campaign record (TTL or manual purge):
    # nothing to count then.
    update_if(Campaign(campaign_id), [Campaign.opt_outs.add(1)], Campaign.campaign_id.exists())


DEFERRED_JOB = "job"  # DeferredIndex hash key of single recipients waiting for their window


def defer_job(campaign_id: str, seq: int, job: dict[str, Any], until: datetime) -> None:
    """Park one send job until its recipient's window opens (another time zone than the
    campaign's). One write per deferred recipient, released once by the scheduler."""
    Campaign(
        f"{DEFERRED_JOB}#{campaign_id}#{seq:010d}",
        request=job,
        status="deferred",
        deferred=DEFERRED_JOB,
        resume_at=until.astimezone(UTC).isoformat(),
        created_at=datetime.now(UTC),
    ).save()


# --- fan-out progress and deferral (campaign fan-out, scheduler) ----------------------------

DEFERRED_CAMPAIGN = "campaign"  # DeferredIndex hash key of whole campaigns waiting
DEFERRED = "deferred"
FANNING_OUT = "fanning_out"
QUEUED = "queued"
REFUSED = "refused"
# A campaign the scheduler released: still deferred, out of DeferredIndex.
_RELEASED = (Campaign.status == DEFERRED) & Campaign.deferred.does_not_exist()


def advance(
    campaign_id: str,
    *,
    expected: int,
    cursor: int,
    queued: int,
    advanced_by: str,
    finished: bool,
    header: list[str] | None = None,
    source_etag: str | None = None,
) -> bool:
    """Move the fan-out cursor from ``expected`` to ``cursor`` (``queued`` recipients so far),
    recording the SQS message that moved it; ``finished`` also sets the audience and the
    ``queued`` status. False when the cursor was not at ``expected`` any more (another
    delivery of the slice moved it first)."""
    actions: list[Action] = [
        Campaign.cursor.set(cursor),
        Campaign.queued.set(queued),
        Campaign.advanced_by.set(advanced_by),
    ]
    if header is not None:
        actions.append(Campaign.header.set(header))
    if source_etag is not None:
        actions.append(Campaign.source_etag.set(source_etag))
    if finished:
        actions += [Campaign.audience.set(queued), Campaign.status.set(QUEUED)]
    return update_if(
        Campaign(campaign_id),
        actions,
        (Campaign.cursor == expected) & (Campaign.status == FANNING_OUT),
    )


def refuse(campaign_id: str, reason: str) -> None:
    """A recorded campaign cannot go on (its audience file is unreadable): say why."""
    Campaign(campaign_id).update(
        actions=[Campaign.status.set(REFUSED), Campaign.reason.set(reason[:1000])],
        condition=Campaign.campaign_id.exists(),
    )


def due(kind: str, until: datetime) -> Iterator[tuple[str, str]]:
    """(key, resume_at) of the items of DeferredIndex ``kind`` whose time has come, oldest
    first, page by page; the index is sparse, so this costs what is waiting, not what was
    ever sent."""
    for item in Campaign.deferred_index.query(
        kind, Campaign.resume_at <= until.astimezone(UTC).isoformat()
    ):
        yield item.campaign_id, str(item.resume_at)


def take_deferred(key: str, kind: str, resume_at: str) -> Campaign | None:
    """Take an item out of DeferredIndex (conditional: two sweeps never both take it).

    Returns the item as it is now, or None when another sweep took it (or it moved)."""
    item = Campaign(key)
    taken = update_if(
        item,
        [Campaign.deferred.remove()],
        (Campaign.deferred == kind) & (Campaign.resume_at == resume_at),
    )
    return item if taken else None


def put_back(key: str, kind: str, resume_at: str) -> None:
    """Undo :func:`take_deferred` when the release could not be handed over."""
    Campaign(key).update(
        actions=[Campaign.deferred.set(kind), Campaign.resume_at.set(resume_at)],
        condition=Campaign.campaign_id.exists() & Campaign.deferred.does_not_exist(),
    )


def drop(key: str) -> None:
    """Delete a released parked job."""
    Campaign(key).delete()


def defer_again(campaign_id: str, resume_at: datetime) -> bool:
    """A released campaign found its window still closed: park it again."""
    return update_if(
        Campaign(campaign_id),
        [
            Campaign.deferred.set(DEFERRED_CAMPAIGN),
            Campaign.resume_at.set(resume_at.astimezone(UTC).isoformat()),
        ],
        _RELEASED,
    )


def start(campaign_id: str) -> bool:
    """A released campaign starts its fan-out (once: conditional on its released state)."""
    return update_if(
        Campaign(campaign_id),
        [
            Campaign.status.set(FANNING_OUT),
            Campaign.cursor.set(0),
            Campaign.queued.set(0),
            Campaign.advanced_by.remove(),
        ],
        _RELEASED,
    )
