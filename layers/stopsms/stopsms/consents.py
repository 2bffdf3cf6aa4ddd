"""Consent intake (contract §3): opt-in / opt-out records from upstream systems.

Each ``ConsentQueue`` message body is a :class:`stopsms.models.ConsentRecord`. A record that
is not JSON or breaks the contract is refused with a logged reason naming the field; the batch
reports it as an item failure and the queue's redrive ends it in the DLQ, without blocking
the other records of the batch.

A valid record is first kept as evidence (who, when, how, proof), then applied to the contact
state of its brand:

* the evidence key is ``captured_at`` + a stable hash of the record's content, so a redelivered
  record is recognised (``AlreadyExists``) and never stored twice, while two different records
  are both kept: a later record never erases an earlier one;
* the state follows ``captured_at``, not the arrival order: a record older than the state
  already stored is refused by the data layer (``StaleEvent``), logged, and stays in the
  history as evidence only. Applying the same record twice is harmless (same instant: an
  opt-out is re-written identically, an opt-in is refused as stale).

Evidence first, then state: a crash between the two is completed by the redelivery.

Retention: opt-in evidence expires (DynamoDB TTL) ``retention_days`` after ``captured_at``;
opt-out evidence has no expiry, it proves an opt-out that stays in force.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from stopsms.dal import contacts, evidence, tables
from stopsms.dal.tables import Evidence
from stopsms.eligibility import OPTED_IN, OPTED_OUT, Status
from stopsms.errors import AlreadyExists, StaleEvent, StopSmsError
from stopsms.models import ConsentRecord, describe
from stopsms.phones import mask
from stopsms.settings import Settings, get_settings

__all__ = [
    "InvalidConsentRecord",
    "apply",
    "event_id",
    "evidence_expiry",
    "handle_record",
    "parse",
]

logger = Logger(child=True)
metrics = Metrics()


class InvalidConsentRecord(StopSmsError):
    """A consent message is not JSON or breaks contract §3; the message names the field."""


def handle_record(record: SQSRecord) -> dict[str, Any]:
    """Record handler of the consent batch: parse, keep as evidence, apply."""
    try:
        consent = parse(record.body)
    except InvalidConsentRecord as error:
        logger.error(
            "Refused a consent record",
            extra={"sqs_message_id": record.message_id, "reason": str(error)},
        )
        metrics.add_metric(name="InvalidConsentRecords", unit=MetricUnit.Count, value=1)
        raise
    settings = get_settings()
    tables.bind(settings)
    return apply(consent, settings)


def parse(body: str) -> ConsentRecord:
    try:
        return ConsentRecord.model_validate_json(body)
    except ValidationError as error:
        raise InvalidConsentRecord(describe(error)) from None


def event_id(consent: ConsentRecord) -> str:
    """Stable id of a record's content: the same record redelivered gets the same id."""
    canonical = json.dumps(
        consent.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def evidence_expiry(kind: str, captured_at: datetime, settings: Settings) -> datetime | None:
    """TTL of an evidence event (module docstring, Retention): none for an opt-out."""
    return None if kind == "opt_out" else captured_at + timedelta(days=settings.retention_days)


def apply(consent: ConsentRecord, settings: Settings) -> dict[str, Any]:
    """Keep the record as evidence, then update the brand's state if the record is the latest."""
    key = evidence.event_key(consent.captured_at, event_id(consent))
    log = {
        "phone": mask(consent.phone),
        "brand": consent.brand,
        "action": consent.action,
        "event_key": key,
    }
    record = Evidence(
        consent.phone,
        key,
        kind=consent.action,
        brand=consent.brand,
        source=consent.source,
        captured_at=consent.captured_at,
        recorded_at=datetime.now(UTC),
        proof=consent.proof,
        expires_at=evidence_expiry(consent.action, consent.captured_at, settings),
    )
    new = True
    try:
        evidence.append(record)
    except AlreadyExists:
        new = False
        logger.info("Consent record redelivered: evidence already kept", extra=log)
    status: Status = OPTED_OUT if consent.action == "opt_out" else OPTED_IN
    try:
        contacts.apply(
            consent.phone,
            consent.brand,
            status,
            consent.captured_at,
            source=consent.source,
            evidence_key=key,
        )
    except StaleEvent:
        logger.info("Consent record older than the stored state: kept as evidence only", extra=log)
        return {"event_key": key, "new": new, "applied": False}
    logger.info("Consent record applied", extra=log)
    if new:
        metrics.add_metric(name=f"Consent.{consent.action}", unit=MetricUnit.Count, value=1)
    return {"event_key": key, "new": new, "applied": True}
