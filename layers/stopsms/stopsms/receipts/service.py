"""A batch of delivery events (``DeliveryEventsQueue``, fed by ``DeliveryEventsTopic``).

The batch (500 events) is worked at once, so that AWS is called per batch, not per event:
parse every record; find each message's claim (100 keys a read, from the event's
``context.campaign_id`` and destination number; ``MessageIdIndex`` only when those do not
lead to it: an erased number; an event without a campaign in its context is not a campaign
SMS); fold each message's events into its standing (``rules.receipts``); write the changed
messages with the totals they move, 100 items a transaction. A message another batch changed
in between is read again and folded again. Events of messages that are not ours are counted
and dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json, ValidationError

from stopsms import clock
from stopsms.aws import sms
from stopsms.aws.retry import backoff
from stopsms.dal import deliveries, receipts
from stopsms.dal.deliveries import DeliveryStatus
from stopsms.dal.receipts import Failing, Key, Reputation, Update
from stopsms.dal.tables import Delivery, FailingDestination
from stopsms.errors import Transient
from stopsms.models import CAMPAIGN_ID, DeliveryEvent, describe
from stopsms.rules.receipts import (
    DELIVERED,
    FAILING_WINDOW,
    KEEPS_FAILING,
    REPUTATION,
    Change,
    Folded,
    Receipt,
    blocked_or_spam_rate,
    failed,
    failure_step,
    fold,
    keeps_failing,
    to_micros,
)

__all__ = ["DeliveryEventMessage", "ReceiptBatch", "ReceiptCounters"]

WRITE_ATTEMPTS = 5  # a message changed by another batch meanwhile: read and fold again
_CAMPAIGN_ID = re.compile(CAMPAIGN_ID)


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
    receipts_final: int = 0  # SMS that reached their final state (the rate alarms' base)
    delivered: int = 0
    undelivered: dict[str, int] = field(default_factory=dict)  # final failures, by status
    failing_destinations: int = 0  # destinations that just reached KEEPS_FAILING campaigns


@dataclass
class _Message:
    """One message of the batch, its events, and the SQS records they came in."""

    message_id: str
    receipts: list[Receipt] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    campaign_id: str | None = None  # from any of its events' context
    key: Key | None = None  # its claim, from a context and a number

    def add(self, event: DeliveryEvent, record: str) -> None:
        self.receipts.append(_receipt(event))
        self.records.append(record)
        campaign_id = event.context.get("campaign_id")
        if self.campaign_id is None and campaign_id and _CAMPAIGN_ID.match(campaign_id):
            self.campaign_id = campaign_id
        number = event.destination_phone_number
        if self.key is None and self.campaign_id is not None and number:
            self.key = (self.campaign_id, deliveries.claim_key(number))


@dataclass
class _Plan:
    """What one message's events come to, against its claim as read."""

    message: _Message
    claim: Delivery | None = None  # None: not ours
    later: bool = False  # ours, but its send is not recorded yet: SQS delivers it again
    folded: Folded | None = None
    moved: Change | None = None  # what its events did, before an unsent SMS's billing-only
    update: Update | None = None
    failing: Failing | None = None  # its destination's failing campaigns, with its failure
    keeps_failing: bool = False  # its failure makes its destination one that keeps failing


class ReceiptBatch:
    def __init__(self, logger: Logger) -> None:
        self.logger = logger
        self.counters = ReceiptCounters()
        self.failed: dict[str, Exception] = {}  # SQS message id -> why it is retried
        self._settled: set[str] = set()  # message ids whose events are written (or not ours)
        self._counted: set[str] = set()  # destinations counted as keeping failing
        # Each campaign's standing with the carriers as last read, and the final states this
        # batch moved since that read: its blocked-or-spam rate once written.
        self._reputations: dict[str, Reputation] = {}
        self._moved: dict[str, Counter[str]] = {}

    def run(self, raw_records: Sequence[Mapping[str, Any]]) -> ReceiptBatch:
        messages: dict[str, _Message] = {}
        for raw in raw_records:
            event = self._parse(raw)
            if event is None:
                continue
            message = messages.setdefault(event.message_id, _Message(event.message_id))
            message.add(event, str(raw["messageId"]))
        self.counters.receipts = sum(len(m.receipts) for m in messages.values())
        try:
            self._apply(list(messages.values()))
        except Transient as error:  # every record not yet written is retried by SQS
            self.logger.warning("receipts not written, SQS will deliver them again")
            for message in messages.values():
                if message.message_id not in self._settled:
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

    def rates(self) -> dict[str, float]:
        """The blocked-or-spam rate (%) of each campaign whose final states this batch moved,
        with this batch's moves (``rules.receipts.blocked_or_spam_rate``; none below its
        minimum). Two batches at once may each miss the other's moves: a rate, not a total."""
        rates: dict[str, float] = {}
        for campaign_id, moved in self._moved.items():
            known = self._reputations.get(campaign_id)
            if known is None:  # its context named another campaign: not read, no rate
                continue
            buckets = {name: known.buckets.get(name, 0) + moved[name] for name in REPUTATION}
            final = known.final + sum(moved.values())
            if not 0 <= sum(buckets.values()) <= final:
                # One BatchGetItem is no snapshot (another batch may write between its keys),
                # and a campaign with events before t#final existed counts fewer final states
                # than buckets: no rate rather than a wrong one.
                continue
            rate = blocked_or_spam_rate(buckets, final)
            if rate is not None:
                rates[campaign_id] = rate
        return rates

    def _apply(self, messages: list[_Message]) -> None:
        pending = messages
        for attempt in range(WRITE_ATTEMPTS):
            plans = self._plan(pending)
            written = [p.update for p in plans if p.update is not None]
            refused = {update.message_id for update in receipts.write(written)}
            for plan in plans:
                if plan.message.message_id not in refused:
                    self._settle(plan)  # counted once, when it is settled
            pending = [m for m in pending if m.message_id in refused]
            if not pending:
                return
            backoff(attempt)
        raise Transient(f"{len(pending)} messages kept changing under other batches")

    def _plan(self, messages: list[_Message]) -> list[_Plan]:
        """Each message's events over its claim as stored now."""
        # A failure's destination is read with the claims (the same requests), for the
        # messages with a failure among their events; so is the standing with the carriers
        # of the campaigns with a final event. Read again (after another batch wrote), it
        # already holds what this batch wrote of them: their moves count from there.
        keyed = [m for m in messages if m.key is not None]
        may_fail = [
            m.key[1] for m in keyed if m.key and any(failed(r.standing) for r in m.receipts)
        ]
        finals = [m.campaign_id for m in messages if any(r.final for r in m.receipts)]
        stored = receipts.read([m.key for m in keyed if m.key], may_fail, [c for c in finals if c])
        self._reputations |= stored.reputations
        for campaign_id in stored.reputations:
            self._moved.pop(campaign_id, None)
        claims, failing = stored.claims, stored.failing
        plans: list[_Plan] = []
        adopted: set[Key | None] = set()
        for message in messages:
            plan = self._find(message, claims)
            if plan.claim is not None and plan.claim.message_id is None:
                # One message per claim: a second id naming the same recipient is not ours.
                if message.key in adopted:
                    plan = _Plan(message)
                adopted.add(message.key)
            if plan.claim is not None:
                plan.folded = fold(receipts.standing(plan.claim), message.receipts)
                plan.moved = plan.folded.change
                if plan.moved is not None and plan.claim.status != DeliveryStatus.SENT:
                    plan.folded = replace(plan.folded, change=plan.moved.billed_only())
            plans.append(plan)
        self._failures(plans, failing, asked=set(may_fail))
        for plan in plans:
            if plan.claim is not None and plan.folded and plan.folded.change is not None:
                claim = plan.claim
                plan.update = Update(
                    key=(str(claim.campaign_id), str(claim.recipient)),
                    message_id=plan.message.message_id,
                    changes=int(claim.receipt_changes or 0),
                    change=plan.folded.change,
                    decided_by=plan.folded.decided_by,
                    adopts=claim.message_id is None,
                    failing=plan.failing,
                )
        return plans

    def _failures(
        self, plans: list[_Plan], failing: dict[str, FailingDestination], asked: set[str]
    ) -> None:
        """The failing campaigns of each destination whose SMS failed for good in this batch
        (or were delivered after all), as they become. Each of its messages carries them whole:
        the first transaction to write them wins, the others find them changed and are read
        again, so a failure is never lost between two transactions."""
        by_recipient: dict[str, list[tuple[_Plan, str, int]]] = {}
        for plan in plans:
            if plan.claim is None or plan.moved is None:
                continue
            if step := failure_step(plan.moved):  # a sent or an unconfirmed SMS alike
                campaign_id, recipient = str(plan.claim.campaign_id), str(plan.claim.recipient)
                by_recipient.setdefault(recipient, []).append((plan, campaign_id, step))
        if unread := [r for r in by_recipient if r not in asked]:  # an erased number's
            failing |= receipts.read((), unread).failing
        now = clock.now()
        for recipient, group in by_recipient.items():
            item = failing.get(recipient)
            before = receipts.failing_campaigns(item, now)
            added = {campaign_id for _, campaign_id, step in group if step > 0}
            after = (before | added) - {campaign_id for _, campaign_id, step in group if step < 0}
            if after == before:
                continue  # already counted (a batch that wrote it, then was refused elsewhere)
            failures = [p.moved.standing for p, _, step in group if step > 0 and p.moved]
            status = max(failures, key=lambda s: s.at).status if failures else None
            since = None
            if len(after) >= KEEPS_FAILING:
                since = item.failing_since if item and len(before) >= KEEPS_FAILING else None
                since = since or now.isoformat()
            destination = Failing(
                recipient,
                int(item.changes or 0) if item is not None else 0,
                frozenset(after),
                status or (item.last_status if item else None) or "",
                now + FAILING_WINDOW,
                since,
            )
            for plan, _, _ in group:
                plan.failing = destination
                plan.keeps_failing = keeps_failing(before, frozenset(after))

    def _find(self, message: _Message, claims: Mapping[Key, Delivery]) -> _Plan:
        """The message's claim, if the message is ours."""
        if message.campaign_id is None:
            # Every campaign SMS names its campaign in its context: this one is another
            # sender's on the same configuration set, or an answer to a reply.
            return _Plan(message)
        claim = claims.get(message.key) if message.key is not None else None
        if claim is not None and claim.message_id == message.message_id:
            return _Plan(message, claim)
        if claim is not None and claim.message_id is None:
            if claim.status == DeliveryStatus.SENDING:
                # Its SMS left a moment ago and the sender has not recorded its id yet.
                return _Plan(message, later=True)
            if (
                claim.status == DeliveryStatus.FAILED
                and claim.reason == sms.UNCONFIRMED
                and receipts.claim_of_message(message.message_id) is None
            ):
                # Its send went out but AWS's answer was lost: these events prove it left
                # (an id already recorded elsewhere is that claim's). The claim takes the id
                # (its later events, an erasure find it) and the cost; it stays ``failed``
                # for the campaign, which never sends it again.
                return _Plan(message, claim)
        # No number, or an erased one (its claim moved under a stand-in): by message id.
        key = receipts.claim_of_message(message.message_id)
        found = receipts.claims([key]).get(key) if key is not None else None
        if found is not None and found.message_id == message.message_id:
            message.key = key
            return _Plan(message, found)
        return _Plan(message)

    def _settle(self, plan: _Plan) -> None:
        message = plan.message
        self._settled.add(message.message_id)
        if plan.later:
            for record in message.records:
                self.failed[record] = Transient("its SMS is not recorded as sent yet")
            return
        if plan.folded is None:
            self.counters.receipts_foreign += len(message.receipts)
            return
        self.counters.receipts_applied += plan.folded.applied
        self.counters.receipts_unchanged += len(message.receipts) - plan.folded.applied
        if plan.keeps_failing and plan.failing and plan.failing.recipient not in self._counted:
            self._counted.add(plan.failing.recipient)  # its messages carry it alike: once
            self.counters.failing_destinations += 1
        change = plan.folded.change
        if change is None or not change.moves or plan.update is None:
            return
        self._moved.setdefault(plan.update.key[0], Counter()).update(change.moves)  # -1s too
        for name, step in change.moves.items():
            if step <= 0:
                continue
            self.counters.receipts_final += 1
            if name == DELIVERED:
                self.counters.delivered += 1
            else:
                self.counters.undelivered[name] = self.counters.undelivered.get(name, 0) + 1


def _receipt(event: DeliveryEvent) -> Receipt:
    carrier = " ".join(
        part
        for part in (f"{event.mcc or ''}-{event.mnc or ''}".strip("-"), event.carrier_name)
        if part
    )
    return Receipt(
        message_id=event.message_id,
        status=event.message_status,
        final=event.is_final,
        at=event.event_timestamp,
        price_micros=to_micros(event.total_message_price),
        fee_micros=to_micros(event.total_carrier_fee),
        description=event.message_status_description,
        carrier=carrier or None,
        country=event.iso_country_code,
        parts=event.total_message_parts,
    )
