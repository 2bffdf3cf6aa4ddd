"""A batch of delivery events (``DeliveryEventsQueue``, fed by ``DeliveryEventsTopic``).

The batch is worked at once, so that AWS is called per batch, not per event: parse every
record; find each message's claim (100 keys a read, from the event's ``context.campaign_id``
and destination number; ``MessageIdIndex`` only when those do not lead to it); fold each
message's events into its standing (``rules.receipts``); write the changed messages with the
totals they move, 100 items a transaction. A message another batch changed in between is read
again and folded again. Events of messages that are not ours are counted and dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json, ValidationError

from stopsms.aws.retry import backoff
from stopsms.dal import deliveries, receipts
from stopsms.dal.receipts import Key, Update
from stopsms.dal.tables import Delivery
from stopsms.errors import Transient
from stopsms.models import DeliveryEvent, describe
from stopsms.rules.receipts import DELIVERED, Receipt, fold, to_micros

__all__ = ["DeliveryEventMessage", "ReceiptBatch", "ReceiptCounters"]

WRITE_ATTEMPTS = 5  # a message changed by another batch meanwhile: read and fold again


class DeliveryEventMessage(SqsRecordModel):
    """A ``DeliveryEventsQueue`` record: Powertools' SQS record whose body is the event (the
    topic's subscription delivers it raw)."""

    body: Json[DeliveryEvent]


@dataclass
class ReceiptCounters:
    """What happened in this batch, for metrics."""

    receipts: int = 0
    receipts_applied: int = 0  # events that changed a message's state or cost
    receipts_unchanged: int = 0  # duplicates, earlier events, late pendings
    receipts_foreign: int = 0  # messages StopSMS did not send
    receipts_invalid: int = 0
    undelivered: dict[str, int] = field(default_factory=dict)  # final failures, by status


@dataclass
class _Message:
    """One message of the batch, its events, and the SQS records they came in."""

    message_id: str
    receipts: list[Receipt]
    records: list[str]
    key: Key | None = None


class ReceiptBatch:
    def __init__(self, logger: Logger) -> None:
        self.logger = logger
        self.counters = ReceiptCounters()
        self.failed: dict[str, Exception] = {}  # SQS message id -> why it is retried

    def run(self, raw_records: Sequence[Mapping[str, Any]]) -> ReceiptBatch:
        messages: dict[str, _Message] = {}
        for raw in raw_records:
            event = self._parse(raw)
            if event is None:
                continue
            message = messages.setdefault(
                event.message_id, _Message(event.message_id, [], [], _key_of(event))
            )
            message.receipts.append(_receipt(event))
            message.records.append(str(raw["messageId"]))
        self.counters.receipts = sum(len(m.receipts) for m in messages.values())
        try:
            self._apply(list(messages.values()))
        except Transient as error:  # every record not yet written is retried by SQS
            self.logger.warning("receipts not written, SQS will deliver them again")
            for message in messages.values():
                for record in message.records:
                    self.failed.setdefault(record, error)
        return self

    def result(self, raw: Mapping[str, Any]) -> str:
        """Raise the record's error (Powertools reports it as a batch item failure)."""
        if (error := self.failed.get(str(raw["messageId"]))) is not None:
            raise error
        return "done"

    def _parse(self, raw: Mapping[str, Any]) -> DeliveryEvent | None:
        try:
            return DeliveryEventMessage.model_validate(raw).body
        except ValidationError as error:
            reason = describe(error, inside="body")
            self.logger.error("delivery event refused", reason=reason)
            self.counters.receipts_invalid += 1
            self.failed[str(raw.get("messageId"))] = ValueError(f"invalid delivery event: {reason}")
            return None

    def _apply(self, messages: list[_Message]) -> None:
        pending = messages
        for attempt in range(WRITE_ATTEMPTS):
            updates = self._fold(pending)
            refused = {u.message_id for u in receipts.write(updates)}
            if not refused:
                return
            pending = [m for m in pending if m.message_id in refused]
            backoff(attempt)
        raise Transient(f"{len(pending)} messages kept changing under other batches")

    def _fold(self, messages: list[_Message]) -> list[Update]:
        """Each message's events over its claim as stored now: the updates to write."""
        claims = receipts.claims(m.key for m in messages if m.key is not None)
        updates: list[Update] = []
        for message in messages:
            claim = self._claim(message, claims)
            if claim is None:
                self.counters.receipts_foreign += len(message.receipts)
                continue
            folded = fold(receipts.standing(claim), message.receipts)
            self.counters.receipts_applied += folded.applied
            self.counters.receipts_unchanged += len(message.receipts) - folded.applied
            if folded.change is None:
                continue
            changes = int(claim.receipt_changes or 0)
            key = (str(claim.campaign_id), str(claim.recipient))
            updates.append(
                Update(key, message.message_id, changes, folded.change, folded.decided_by)
            )
            for name, step in folded.change.moves.items():
                if step > 0 and name != DELIVERED:
                    self.counters.undelivered[name] = self.counters.undelivered.get(name, 0) + 1
        return updates

    def _claim(self, message: _Message, claims: Mapping[Key, Delivery]) -> Delivery | None:
        """The message's claim, if the message is ours."""
        claim = claims.get(message.key) if message.key is not None else None
        if claim is not None and claim.message_id == message.message_id:
            return claim
        # No context, or an erased number (its claim moved under a stand-in): by message id.
        key = receipts.claim_of_message(message.message_id)
        if key is None:
            return None
        message.key = key
        found = receipts.claims([key]).get(key)
        return found if found is not None and found.message_id == message.message_id else None


def _key_of(event: DeliveryEvent) -> Key | None:
    campaign_id = event.context.get("campaign_id")
    number = event.destination_phone_number
    if not campaign_id or not number:
        return None
    return campaign_id, deliveries.claim_key(number)


def _receipt(event: DeliveryEvent) -> Receipt:
    carrier = " ".join(
        part
        for part in (f"{event.mcc or ''}-{event.mnc or ''}".strip("-"), event.carrier_name)
        if part
    )
    return Receipt(
        message_id=event.message_id,
        status=event.message_status.upper(),
        final=event.is_final,
        at=event.event_timestamp,
        cost_micros=to_micros(event.total_message_price, event.total_carrier_fee),
        description=event.message_status_description,
        carrier=carrier or None,
        country=event.iso_country_code,
        parts=event.total_message_parts,
    )
