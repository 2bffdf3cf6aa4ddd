"""Copies of our opt-outs to the End User Messaging opt-out list (``MirrorOptOuts``).

StopSMS's own suppression list is what decides; the copy makes AWS refuse, too, any SMS a
system outside StopSMS would send to the number. A copy is made after the opt-out is
recorded and confirmed, so its failure must never fail the reply: it is parked in
``DeferredIndex`` (kind ``mirror``) and tried again by the scheduler, with a growing delay,
for as long as the number is still opted out somewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from stopsms import clients
from stopsms.dal import campaigns, contacts
from stopsms.dal.campaigns import DEFERRED_MIRROR
from stopsms.phones import mask
from stopsms.settings import Settings

__all__ = ["RETRY", "mirror", "retry_due"]

logger = Logger(child=True)
metrics = Metrics()

RETRY = timedelta(minutes=15)  # doubled after each failure, up to 16 times this
_MAX_BACKOFF = 16


def mirror(settings: Settings, phone: str, attempts: int = 0) -> bool:
    """Add ``phone`` to the opt-out list; on failure park it for later. Never raises."""
    log = {"phone": mask(phone), "attempt": attempts + 1}
    try:
        clients.sms().put_opted_out_number(
            OptOutListName=settings.opt_out_list, OptedOutNumber=phone
        )
    except Exception as error:  # the opt-out is in force in StopSMS: retry the copy later
        until = datetime.now(UTC) + RETRY * min(2**attempts, _MAX_BACKOFF)
        logger.warning(
            "Opt-out not mirrored yet: the scheduler tries again",
            extra={**log, "error": clients.error_code(error), "retry_at": until.isoformat()},
        )
        campaigns.park_mirror(phone, until, attempts + 1)
        metrics.add_metric(name="MirrorsDeferred", unit=MetricUnit.Count, value=1)
        return False
    logger.info("Mirrored to the End User Messaging opt-out list", extra=log)
    return True


def retry_due(settings: Settings, at: datetime, time_left: Callable[[], bool]) -> int:
    """Try again every parked copy whose time has come; returns how many were made."""
    done = 0
    for key, resume in campaigns.due(DEFERRED_MIRROR, at):
        if not time_left():
            break
        item = campaigns.take_deferred(key, DEFERRED_MIRROR, resume)
        if item is None:
            continue  # another sweep took it
        phone = str(item.request["phone"])
        attempts = int(item.request.get("attempts", 1))
        if any(state.status == contacts.OPTED_OUT for state in contacts.state_of(phone)):
            if not mirror(settings, phone, attempts):
                continue  # parked again, under the same key
            done += 1
        campaigns.drop(key)
    return done
