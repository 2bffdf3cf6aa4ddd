"""Campaign records: the validated request, fan-out progress, the STOP replies attributed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from stopsms import clock
from stopsms.dal import deferred
from stopsms.dal.conditions import save_if, update_if
from stopsms.dal.tables import Campaign
from stopsms.errors import AlreadyExists


def create(
    campaign_id: str,
    request: dict[str, Any],
    status: str,
    *,
    replacing: Campaign | None = None,
    **fields: Any,
) -> Campaign:
    """Record a new campaign; ``AlreadyExists`` if this campaign id was recorded before.

    With ``replacing`` the campaign id must instead hold that campaign as read, refused or a dry
    run, which the new record replaces: neither sent anything, so a fixed request, or the real
    send of a dry run, may start afresh under its id (contract §2). A pause it was under holds
    the new record too (its operator has not lifted it)."""
    if replacing is not None:
        fields |= {"paused_at": replacing.paused_at, "control_sent": replacing.control_sent}
    item = Campaign(campaign_id, request=request, status=status, created_at=clock.now(), **fields)
    condition = (
        REPLACEABLE & _pause_as_read(replacing)
        if replacing is not None
        else Campaign.campaign_id.does_not_exist()
    )
    if not save_if(item, condition):
        raise AlreadyExists(f"campaign {campaign_id} is already recorded")
    return item


def _pause_as_read(item: Campaign) -> Any:
    """The campaign is paused, or not, as it was read (no pause or resume came between)."""
    if item.control_sent is None:
        return Campaign.control_sent.does_not_exist()
    return Campaign.control_sent == item.control_sent


def refuse_request(
    campaign_id: str,
    request: dict[str, Any],
    reason: str,
    *,
    replacing: Campaign | None,
    **fields: Any,
) -> bool:
    """Record a request refused before it was recorded (a dry run's: its ``report`` then says
    why); False when another campaign holds the id meanwhile."""
    try:
        create(
            campaign_id,
            request,
            CampaignStatus.REFUSED,
            replacing=replacing,
            reason=reason[:MAX_REASON_CHARS],
            **fields,
        )
    except AlreadyExists:
        return False
    return True


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


# --- fan-out progress and deferral (campaign fan-out, scheduler) ----------------------------


class CampaignStatus(StrEnum):
    """A campaign's ``status`` as stored (and printed by ``report``)."""

    CHECKING = "checking"  # an S3 audience is read once, whole, before anyone is queued
    DEFERRED = "deferred"
    FANNING_OUT = "fanning_out"
    QUEUED = "queued"
    REFUSED = "refused"  # nothing was queued: the id may be published again
    CANCELLED = deferred.CANCELLED  # no SMS leaves after it (the sender's claims check it)


class WaitingFor(StrEnum):
    """What a deferred campaign waits for (its ``waiting_for``)."""

    SEND_AT = "send_at"
    WINDOW = "window"


# What every claim of the sender checks of its campaign (a job without a campaign record
# comes from a test or a hand-made message: nothing to cancel or pause it).
NOT_CANCELLED = Campaign.status.does_not_exist() | (Campaign.status != CampaignStatus.CANCELLED)
NOT_HELD = NOT_CANCELLED & Campaign.paused_at.does_not_exist()
# What a new request under a recorded id may replace: what sent nothing and never will.
REPLACEABLE = (Campaign.status == CampaignStatus.REFUSED) | (
    Campaign.dry_run.exists() & (Campaign.status != CampaignStatus.CANCELLED)
)

# A campaign the scheduler released: still deferred, out of DeferredIndex.
_RELEASED = (Campaign.status == CampaignStatus.DEFERRED) & Campaign.deferred.does_not_exist()


def advance(
    campaign_id: str,
    *,
    expected: int,
    cursor: int,
    queued: int,
    advanced_by: str,
    finished: bool,
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
    if finished:
        actions += [Campaign.audience.set(queued), Campaign.status.set(CampaignStatus.QUEUED)]
    return update_if(
        Campaign(campaign_id),
        actions,
        (Campaign.cursor == expected) & (Campaign.status == CampaignStatus.FANNING_OUT),
    )


MAX_REASON_CHARS = 2000


def refuse(campaign_id: str, reason: str) -> bool:
    """A campaign being checked cannot go on (its audience file is unusable): say why.

    Only a campaign that queued no one may be refused; False when it is past checking."""
    return update_if(
        Campaign(campaign_id),
        [
            Campaign.status.set(CampaignStatus.REFUSED),
            Campaign.reason.set(reason[:MAX_REASON_CHARS]),
        ],
        Campaign.status == CampaignStatus.CHECKING,
    )


def check_progress(
    campaign_id: str,
    *,
    expected: int,
    cursor: int,
    line: int,
    rows: int,
    advanced_by: str,
    header: list[str] | None,
    problems: list[str],
    source_etag: str | None,
) -> bool:
    """Move the check's cursor from ``expected`` (rows and problems found so far); False when
    another delivery of the slice moved it first."""
    actions: list[Action] = [
        Campaign.cursor.set(cursor),
        Campaign.lines.set(line),
        Campaign.queued.set(rows),
        Campaign.advanced_by.set(advanced_by),
        Campaign.problems.set(problems),
    ]
    if header is not None:
        actions.append(Campaign.header.set(header))
    if source_etag is not None:
        actions.append(Campaign.source_etag.set(source_etag))
    return update_if(
        Campaign(campaign_id),
        actions,
        (Campaign.cursor == expected) & (Campaign.status == CampaignStatus.CHECKING),
    )


def checked(
    campaign_id: str,
    *,
    expected: int,
    audience: int,
    advanced_by: str,
    resume_at: datetime | None,
    waiting_for: str | None,
    header: list[str],
    source_etag: str | None,
) -> bool:
    """The file was read whole without a problem: wait for ``resume_at``, or start the
    fan-out from the top; the fan-out will read the version ``source_etag`` only. False when
    another delivery did it first."""
    actions: list[Action] = [
        Campaign.audience.set(audience),
        Campaign.header.set(header),
        Campaign.cursor.set(0),
        Campaign.queued.set(0),
        Campaign.advanced_by.set(advanced_by),
        Campaign.problems.remove(),
        Campaign.lines.remove(),
    ]
    if source_etag is not None:
        actions.append(Campaign.source_etag.set(source_etag))
    if resume_at is None:
        actions.append(Campaign.status.set(CampaignStatus.FANNING_OUT))
    else:
        actions += [
            Campaign.status.set(CampaignStatus.DEFERRED),
            Campaign.deferred.set(deferred.CAMPAIGN),
            Campaign.resume_at.set(resume_at.astimezone(UTC).isoformat()),
            Campaign.waiting_for.set(waiting_for or WaitingFor.WINDOW),
        ]
    return update_if(
        Campaign(campaign_id),
        actions,
        (Campaign.cursor == expected) & (Campaign.status == CampaignStatus.CHECKING),
    )


def halt(campaign_id: str, reason: str, unsent: int) -> bool:
    """The fan-out cannot read the rest of the audience (the file was replaced or deleted):
    the campaign ends with the recipients queued so far, ``unsent`` are never queued."""
    return update_if(
        Campaign(campaign_id),
        [
            Campaign.status.set(CampaignStatus.QUEUED),
            Campaign.reason.set(reason[:MAX_REASON_CHARS]),
            Campaign.unsent.set(unsent),
        ],
        Campaign.status == CampaignStatus.FANNING_OUT,
    )


def defer_again(campaign_id: str, resume_at: datetime, waiting_for: str) -> bool:
    """A released campaign found its window still closed: park it again."""
    return update_if(
        Campaign(campaign_id),
        [
            Campaign.deferred.set(deferred.CAMPAIGN),
            Campaign.resume_at.set(resume_at.astimezone(UTC).isoformat()),
            Campaign.waiting_for.set(waiting_for),
        ],
        _RELEASED,
    )


def start(campaign_id: str) -> bool:
    """A released campaign starts its fan-out (once: conditional on its released state)."""
    return update_if(
        Campaign(campaign_id),
        [
            Campaign.status.set(CampaignStatus.FANNING_OUT),
            Campaign.cursor.set(0),
            Campaign.queued.set(0),
            Campaign.advanced_by.remove(),
        ],
        _RELEASED,
    )


# --- cancellation -------------------------------------------------------------------------------


def cancel(campaign_id: str) -> Campaign:
    """Record a cancellation, and the campaign as it is now. Every claim the sender writes is
    conditional on its campaign not being cancelled, so no SMS is claimed (let alone sent)
    after this write; the fan-out stops at its next slice; a scheduled or deferred campaign
    leaves ``DeferredIndex``, never to be released; a campaign not recorded yet is recorded
    cancelled, and stays so when its request arrives (contract §2). Repeating it changes
    nothing (the first time is kept)."""
    now = clock.now()
    item = Campaign(campaign_id)
    item.update(
        actions=[
            Campaign.status.set(CampaignStatus.CANCELLED),
            Campaign.cancelled_at.set(Campaign.cancelled_at | now),
            Campaign.created_at.set(Campaign.created_at | now),
            Campaign.deferred.remove(),
        ]
    )
    return item


class Control(StrEnum):
    """What became of a pause or a resume."""

    APPLIED = "applied"
    STALE = "stale"  # sent before the pause or resume last applied: changes nothing
    UNKNOWN = "unknown"  # no campaign under this id (or, for a pause, it is cancelled)


def pause(campaign_id: str, sent: int) -> Control:
    """Record a pause sent at ``sent`` (ms since the epoch): every claim the sender writes is
    conditional on its campaign not being paused, so no SMS leaves after this write; its jobs
    are parked, its fan-out stops at its next slice. Repeating it changes nothing (the first
    time is kept), nor does a pause sent before the last resume (SQS delivering it late)."""
    return _control(
        campaign_id,
        sent,
        Campaign.paused_at.set(Campaign.paused_at | clock.now()),
        Campaign.status != CampaignStatus.CANCELLED,
    )


def resume(campaign_id: str, sent: int) -> Control:
    """Lift a pause sent before ``sent`` (the fan-out then releases what was parked)."""
    return _control(campaign_id, sent, Campaign.paused_at.remove(), None)


def _control(campaign_id: str, sent: int, action: Action, allowed: Any) -> Control:
    newer = Campaign.control_sent.does_not_exist() | (Campaign.control_sent <= sent)
    condition = Campaign.status.exists() & newer
    if allowed is not None:
        condition &= allowed
    if update_if(Campaign(campaign_id), [action, Campaign.control_sent.set(sent)], condition):
        return Control.APPLIED
    item = get(campaign_id)
    if item is None or (allowed is not None and item.status == CampaignStatus.CANCELLED):
        return Control.UNKNOWN
    return Control.STALE


def arrived_cancelled(campaign_id: str, request: dict[str, Any], audience: int | None) -> bool:
    """A request whose campaign was cancelled before it arrived: kept on the cancelled record
    (the report shows what was not sent). False when a request is kept there already."""
    actions: list[Action] = [Campaign.request.set(request)]
    if audience is not None:
        actions.append(Campaign.audience.set(audience))
    return update_if(
        Campaign(campaign_id),
        actions,
        (Campaign.status == CampaignStatus.CANCELLED) & Campaign.request.does_not_exist(),
    )


# --- erasure ------------------------------------------------------------------------------------


def with_requests() -> Iterable[Campaign]:
    """Every item that keeps a request (campaigns, parked jobs): a scan, for erasure only."""
    return Campaign.scan(Campaign.request.exists())


def add_erased(item: Campaign, stand_in: str) -> None:
    """An S3 campaign still to fan out is told to queue ``stand_in``'s row as erased."""
    item.update(actions=[Campaign.erased.add({stand_in})])


def replace_request(item: Campaign, request: dict[str, Any]) -> None:
    """Keep ``request`` instead (erasure: a number replaced by ``ERASED_RECIPIENT``)."""
    item.update(actions=[Campaign.request.set(request)])
