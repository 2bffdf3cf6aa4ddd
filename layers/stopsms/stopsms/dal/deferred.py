"""What waits in ``DeferredIndex`` for the scheduler: deferred campaigns (their own items,
``dal.campaigns``), parked send jobs and copies to the AWS opt-out list to try again (``Parked``
items). The index is sparse: a sweep costs what is waiting, not what was ever sent."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from stopsms import clock
from stopsms.dal.conditions import delete_if, put_guarded, update_if
from stopsms.dal.tables import Campaign, Parked

CAMPAIGN = "campaign"  # whole campaigns waiting for their window or their send_at
JOB = "job"  # single recipients waiting for their own window (another time zone)
CANCELLED = "cancelled"  # a campaign's status once cancelled (dal.campaigns imports this module)
MIRROR = "mirror"  # opt-outs to copy to (or remove from) the AWS opt-out list again
PAUSED = "paused"  # ``paused#<campaign>``: a paused campaign's jobs, until it is resumed
CONTINUATION = "continuation"  # a paused campaign's next fan-out slice (``continuation#<id>``)


def park_job(campaign_id: str, seq: int, job: dict[str, Any], until: datetime) -> None:
    """Park one send job until its recipient's window opens. One write per deferred
    recipient, released once by the scheduler."""
    _park(job_key(campaign_id, seq), JOB, job, until)


def paused_kind(campaign_id: str) -> str:
    return f"{PAUSED}#{campaign_id}"


def park_paused(jobs: Sequence[tuple[str, str, dict[str, Any]]]) -> set[str]:
    """Park the send jobs ``(key, campaign, job)`` of paused campaigns (``job_key``), each
    write conditional on its campaign still being paused (a resume releases what is parked:
    nothing may be parked after it). Returns the campaigns no longer paused: none of their
    jobs is parked."""
    return _park_while_paused(jobs)


def park_continuation(campaign_id: str, continuation: dict[str, Any]) -> bool:
    """Park a paused campaign's next fan-out slice (its continuation message) until it is
    resumed; False when it is not paused any more (nothing parked)."""
    key = f"{CONTINUATION}#{campaign_id}"
    return not _park_while_paused([(key, campaign_id, continuation)])


def _park_while_paused(items: Sequence[tuple[str, str, dict[str, Any]]]) -> set[str]:
    """Write ``(key, campaign, request)`` items into their campaign's ``paused#`` partition of
    the index, by transactions that check each campaign is still paused; the campaigns that
    were not (none of their items written)."""
    now = clock.now()
    parked = [
        Parked(
            key,
            request=request,
            deferred=paused_kind(campaign_id),
            resume_at=now.astimezone(UTC).isoformat(),
            created_at=now,
        )
        for key, campaign_id, request in items
    ]
    _, resumed = put_guarded(
        parked,
        guard=Campaign,
        guarded_key=_paused_campaign,
        check=Campaign.paused_at.exists() & (Campaign.status != CANCELLED),
    )
    return resumed


def _paused_campaign(item: Parked) -> str:
    return str(item.deferred).removeprefix(f"{PAUSED}#")


def job_key(campaign_id: str, seq: int, run: str | None = None) -> str:
    """Where a send job is parked: a dry run's apart from the real job of the same recipient."""
    return (
        f"{JOB}#{campaign_id}#{seq:010d}"
        if run is None
        else f"{JOB}#{campaign_id}#{run}#{seq:010d}"
    )


def park_mirror(phone: str, until: datetime, attempts: int, action: str) -> None:
    """Keep a change to the End User Messaging opt-out list that failed (``action``: add or
    remove the number), for the scheduler to try again at ``until``; the reply that asked for
    it has succeeded already. One per number: the latest change asked for wins."""
    request = {"phone": phone, "attempts": attempts, "action": action}
    _park(mirror_key(phone), MIRROR, request, until)


def mirror_key(phone: str) -> str:
    return f"{MIRROR}#{phone}"


def pending_mirror(phone: str) -> str | None:
    """The change to the AWS opt-out list still waiting for ``phone`` (add or remove), if any."""
    try:
        item = Parked.get(mirror_key(phone), consistent_read=True)
    except Parked.DoesNotExist:
        return None
    return str(item.request.get("action")) if item.deferred == MIRROR else None


def _park(key: str, kind: str, request: dict[str, Any], until: datetime) -> None:
    resume_at = until.astimezone(UTC).isoformat()
    Parked(key, request=request, deferred=kind, resume_at=resume_at, created_at=clock.now()).save()


def due(kind: str, until: datetime | None = None) -> Iterator[tuple[str, str]]:
    """(key, resume_at) of what waits as ``kind`` and whose time has come (all of it without
    ``until``), oldest first."""
    condition = None if until is None else Parked.resume_at <= until.astimezone(UTC).isoformat()
    for item in Parked.deferred_index.query(kind, condition):
        yield item.campaign_id, str(item.resume_at)


def take(key: str, kind: str, resume_at: str) -> Parked | None:
    """Take an item out of the index (conditional: two sweeps never both take it).

    Returns the item as it is now (a parked item's ``request``), or None when another sweep
    took it (or it moved)."""
    item = Parked(key)
    taken = update_if(
        item,
        [Parked.deferred.remove()],
        (Parked.deferred == kind) & (Parked.resume_at == resume_at),
    )
    return item if taken else None


def put_back(key: str, kind: str, resume_at: str) -> None:
    """Undo :func:`take` when the release could not be handed over; not for an item gone, put
    back already, or a campaign cancelled since (it must never be released)."""
    update_if(
        Parked(key),
        [Parked.deferred.set(kind), Parked.resume_at.set(resume_at)],
        Parked.campaign_id.exists()
        & Parked.deferred.does_not_exist()
        & (Parked.status.does_not_exist() | (Parked.status != CANCELLED)),
    )


def drop(key: str) -> None:
    """Delete a parked item once released, unless it was parked again since (a job released
    from a pause, paused again before this)."""
    delete_if(Parked(key), Parked.deferred.does_not_exist())
