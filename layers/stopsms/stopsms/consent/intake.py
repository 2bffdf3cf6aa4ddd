"""Consent intake (contract §3): opt-in / opt-out records from upstream systems.

Each ``ConsentQueue`` body is a ``models.ConsentRecord``; one that is not JSON or breaks the
contract is refused with a logged reason naming the field (a batch item failure, then the
DLQ), without blocking the others. A valid record is recorded by ``consent.decisions``: its
evidence key is ``captured_at`` + a hash of its content (a redelivery is recognised, two
records are both kept), and it counts at ``min(captured_at, SentTimestamp)`` so an upstream
clock running ahead of AWS's never outranks a STOP AWS received since.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json, ValidationError

from stopsms import clock
from stopsms.consent import decisions
from stopsms.dal import evidence
from stopsms.dal.tables import Evidence
from stopsms.errors import StopSmsError
from stopsms.models import ConsentRecord, describe
from stopsms.observability import metric_name
from stopsms.rules.eligibility import OPTED_IN, OPTED_OUT, Status
from stopsms.rules.phones import mask
from stopsms.rules.retention import evidence_expiry
from stopsms.settings import Settings, get_settings

__all__ = [
    "ConsentMessage",
    "InvalidConsentRecord",
    "apply",
    "event_id",
    "handle_record",
    "parse",
]

logger = Logger(child=True)
metrics = Metrics()


class InvalidConsentRecord(StopSmsError):
    """A consent message is not JSON or breaks contract §3; the message names the field."""


class ConsentMessage(SqsRecordModel):
    """A ``ConsentQueue`` record: Powertools' SQS record whose body is a consent record."""

    body: Json[ConsentRecord]


def handle_record(record: SQSRecord) -> dict[str, Any]:
    """Record handler of the consent batch: parse, keep as evidence, apply."""
    try:
        message = parse(record.raw_event)
    except InvalidConsentRecord as error:
        logger.error(
            "Refused a consent record", sqs_message_id=record.message_id, reason=str(error)
        )
        metrics.add_metric(name="InvalidConsentRecords", unit=MetricUnit.Count, value=1)
        raise
    # When SQS received it: AWS's clock, which an upstream clock running ahead never outranks.
    received_at = message.attributes.SentTimestamp.astimezone(UTC)
    return apply(message.body, get_settings(), received_at=received_at)


def parse(record: Mapping[str, Any]) -> ConsentMessage:
    try:
        return ConsentMessage.model_validate(record)
    except ValidationError as error:
        raise InvalidConsentRecord(describe(error, inside="body")) from None


def event_id(consent: ConsentRecord) -> str:
    """Stable id of a record's content: the same record redelivered gets the same id."""
    canonical = json.dumps(
        consent.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def apply(
    consent: ConsentRecord, settings: Settings, received_at: datetime | None = None
) -> dict[str, Any]:
    """Keep the record as evidence, then update the brand's state if the record is the latest."""
    key = evidence.event_key(consent.captured_at, event_id(consent))
    received = received_at or clock.now()
    proof = Evidence(
        consent.phone,
        key,
        kind=consent.action,
        brand=consent.scope,
        source=consent.source,
        captured_at=consent.captured_at,
        received_at=received,
        recorded_at=clock.now(),
        proof=consent.proof,
    )
    # The proof expires counting from the instant the decision is relied on (never later than
    # AWS received it): the one rule of consent.decisions.
    proof.expires_at = evidence_expiry(
        consent.action, decisions.instant(proof), settings.retention_days
    )
    log: dict[str, Any] = {
        "phone": mask(consent.phone),
        "brand": consent.scope,
        "action": consent.action,
        "event_key": key,
    }
    status: Status = OPTED_OUT if consent.action == "opt_out" else OPTED_IN
    recorded = decisions.record(proof, status)
    if not recorded.new:
        logger.info("Consent record redelivered: evidence already kept", **log)
    if not recorded.applied:
        logger.info("Consent record older than the stored state: kept as evidence only", **log)
        return {"event_key": key, "new": recorded.new, "applied": False}
    logger.info("Consent record applied", **log)
    if recorded.new:
        metrics.add_metric(
            name=metric_name("consent", consent.action), unit=MetricUnit.Count, value=1
        )
    return {"event_key": key, "new": recorded.new, "applied": True}
