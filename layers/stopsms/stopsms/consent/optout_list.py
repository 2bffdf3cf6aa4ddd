"""Copies of our opt-outs to the End User Messaging opt-out list (``MirrorOptOuts``).

StopSMS's own suppression list is what decides; the copy makes AWS refuse, too, any SMS a
system outside StopSMS would send to the number. That list is one per account (or per
origination identity), not per brand, so only what applies to every brand goes there: an
opt-out for every brand (STOPALL, a STOP nobody could attribute) is added, and any opt-in
the person sends later takes the number off again (else AWS would refuse every SMS to them,
and StopSMS would learn from that refusal a new opt-out for every brand). A brand's own
opt-out stays in StopSMS only: on the shared list it would stop every other brand too.

A copy is made after the reply is recorded and confirmed, so its failure never fails the
reply: it is parked in ``DeferredIndex`` (kind ``mirror``) and tried again by the scheduler,
with a growing delay, for as long as it is still what the number's state asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from stopsms import clock
from stopsms.aws import clients
from stopsms.dal import contacts, deferred
from stopsms.dal.tables import GLOBAL_SCOPE
from stopsms.rules.phones import mask
from stopsms.settings import Settings

__all__ = ["ADD", "REMOVE", "RETRY", "Action", "mirror", "retry_due"]

logger = Logger(child=True)
metrics = Metrics()

Action = Literal["add", "remove"]
ADD: Action = "add"
REMOVE: Action = "remove"
RETRY = timedelta(minutes=15)  # doubled after each failure, up to 16 times this
_MAX_BACKOFF = 16
_NOT_ON_THE_LIST = "ResourceNotFoundException"  # removing a number the list does not hold


def mirror(settings: Settings, phone: str, action: Action = ADD, attempts: int = 0) -> bool:
    """Add ``phone`` to the opt-out list, or remove it; on failure park the change for later.
    Never raises."""
    log: dict[str, Any] = {"phone": mask(phone), "action": action, "attempt": attempts + 1}
    try:
        if action == ADD:
            clients.sms().put_opted_out_number(
                OptOutListName=settings.opt_out_list, OptedOutNumber=phone
            )
        else:
            clients.sms().delete_opted_out_number(
                OptOutListName=settings.opt_out_list, OptedOutNumber=phone
            )
    except Exception as error:  # the reply is recorded in StopSMS: retry the copy later
        code = clients.error_code(error)
        if action == REMOVE and code == _NOT_ON_THE_LIST:
            return True  # nothing to take off
        until = clock.now() + RETRY * min(2**attempts, _MAX_BACKOFF)
        logger.warning(
            "Opt-out list not updated yet: the scheduler tries again",
            **log,
            error=code,
            retry_at=until.isoformat(),
        )
        deferred.park_mirror(phone, until, attempts + 1, action)
        metrics.add_metric(name="MirrorsDeferred", unit=MetricUnit.Count, value=1)
        return False
    logger.info("End User Messaging opt-out list updated", **log)
    return True


def retry_due(settings: Settings, at: datetime, time_left: Callable[[], bool]) -> int:
    """Try again every parked change whose time has come and that the number's state still
    asks for; returns how many were made."""
    done = 0
    for key, resume in deferred.due(deferred.MIRROR, at):
        if not time_left():
            break
        item = deferred.take(key, deferred.MIRROR, resume)
        if item is None:
            continue  # another sweep took it
        phone = str(item.request["phone"])
        attempts = int(item.request.get("attempts", 1))
        action: Action = REMOVE if item.request.get("action") == REMOVE else ADD
        if _still_wanted(phone, action):
            if not mirror(settings, phone, action, attempts):
                continue  # parked again, under the same key
            done += 1
        deferred.drop(key)
    return done


def _still_wanted(phone: str, action: Action) -> bool:
    """Add: the number is still opted out of every brand. Remove: its latest decision, for
    any scope, is an opt-in."""
    states = contacts.state_of(phone)
    if action == ADD:
        return any(s.scope == GLOBAL_SCOPE and s.status == contacts.OPTED_OUT for s in states)
    latest = max(states, key=lambda s: s.status_at, default=None)
    return latest is not None and latest.status == contacts.OPTED_IN
