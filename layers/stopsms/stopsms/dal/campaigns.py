"""Campaign records: the validated request, fan-out progress, the STOP replies attributed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from stopsms.dal.tables import Campaign
from stopsms.errors import AlreadyExists


def _conditional(error: PutError | UpdateError) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


def create(campaign_id: str, request: dict[str, Any], status: str, **fields: Any) -> Campaign:
    """Record a new campaign; ``AlreadyExists`` if this campaign id was recorded before."""
    item = Campaign(
        campaign_id, request=request, status=status, created_at=datetime.now(UTC), **fields
    )
    try:
        item.save(condition=Campaign.campaign_id.does_not_exist())
    except PutError as error:
        if _conditional(error):
            raise AlreadyExists(f"campaign {campaign_id} is already recorded") from None
        raise
    return item


def get(campaign_id: str) -> Campaign | None:
    try:
        return Campaign.get(campaign_id, consistent_read=True)
    except DoesNotExist:
        return None


def add_opt_out(campaign_id: str) -> None:
    """Count one STOP reply attributed to the campaign (contract §6 ``opt_outs``)."""
    try:
        Campaign(campaign_id).update(
            actions=[Campaign.opt_outs.add(1)], condition=Campaign.campaign_id.exists()
        )
    except UpdateError as error:
        if not _conditional(error):
            raise
        # The outbound message outlived its campaign record (TTL or manual purge): nothing to count.


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
