"""The scheduler's sweep (every 5 minutes): deferred campaigns and parked send jobs whose time
has come are released, each once, and failed copies to the AWS opt-out list tried again."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from stopsms import clock
from stopsms.aws import clients, sqs
from stopsms.consent import optout_list
from stopsms.dal import deferred
from stopsms.dal.tables import bind
from stopsms.fanout.messages import release_body
from stopsms.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["Released", "release_due", "release_jobs"]

SAFETY_MS: Final = 10_000  # stop sweeping when less is left: the rest waits 5 minutes


@dataclass
class Released:
    campaigns: int = 0
    jobs: int = 0
    mirrors: int = 0  # opt-outs copied to the AWS opt-out list at last

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def release_due(settings: Settings, context: LambdaContext, logger: Logger) -> Released:
    """Release every deferred campaign and parked job whose time has come, each once.

    A campaign goes back to ``CampaignQueue`` as a release message, a parked job (a recipient
    outside its own window) back to ``SendQueue``. Taking an item out of the index is a
    conditional write, so two overlapping sweeps never release the same item twice; if the
    hand-over fails, the item is put back for the next sweep.
    """
    bind(settings)
    at = clock.now()
    released = Released()

    def time_left() -> bool:
        return context.get_remaining_time_in_millis() > SAFETY_MS

    for key, resume in deferred.due(deferred.CAMPAIGN, at):
        if not time_left():
            return released
        if deferred.take(key, deferred.CAMPAIGN, resume) is None:
            continue  # another sweep took it
        _hand_over(
            [(key, resume)],
            deferred.CAMPAIGN,
            partial(
                clients.sqs().send_message,
                QueueUrl=settings.campaign_queue_url,
                MessageBody=release_body(key),
            ),
        )
        released.campaigns += 1
        logger.info("campaign released", campaign_id=key, resume_at=resume)
    taken: list[tuple[str, str, dict[str, Any]]] = []
    for key, resume in deferred.due(deferred.JOB, at):
        if not time_left():
            break
        item = deferred.take(key, deferred.JOB, resume)
        if item is not None:
            taken.append((key, resume, dict(item.request)))
        if len(taken) == sqs.BATCH_ENTRIES:
            released.jobs += release_jobs(settings, taken)
            taken = []
    released.jobs += release_jobs(settings, taken)
    released.mirrors = optout_list.retry_due(settings, at, time_left)
    return released


def release_jobs(settings: Settings, taken: list[tuple[str, str, dict[str, Any]]]) -> int:
    """Hand parked send jobs ``(key, resume_at, job)``, taken out of the index, back to
    ``SendQueue`` (put back in the index if that fails); how many."""
    if not taken:
        return 0
    jobs = [job for _, _, job in taken]
    entries = [{"Id": str(i), "MessageBody": json.dumps(job)} for i, job in enumerate(jobs)]
    keys = [(key, resume) for key, resume, _ in taken]
    _hand_over(keys, deferred.JOB, lambda: sqs.send_batch(settings.send_queue_url, entries))
    for key, _ in keys:
        deferred.drop(key)
    return len(taken)


def _hand_over(keys: list[tuple[str, str]], kind: str, send: Callable[[], object]) -> None:
    try:
        send()
    except Exception:
        for key, resume in keys:
            deferred.put_back(key, kind, resume)
        raise
