"""The compliant sender: one SQS batch of send jobs in, at most one SMS per recipient out.

A batch is worked in stages so that AWS is called per batch, not per recipient: parse and
compose (pure), one batched read of suppression and consent (one item per number) and of the
campaigns, decide, claim the phones (a conditional put each, concurrently: the decision to
suppress is written the same way, as the phone's claim), check the campaigns were not
cancelled or paused meanwhile, send within the rate while writing the outcomes of what went
out, write the rest. Each record's result is then reported on its own to Powertools' batch
processor. Exactly once (the claim before the send, ``unconfirmed`` after a crash between the
two): docs/ARCHITECTURE.md, "A campaign".

A dry run's job (``SendJob.dry_run``) goes through every stage but the send: its claims and
outcomes are kept under the run's name (``deliveries.dry_key``), a sendable recipient is
recorded ``would_send`` with its segments and price. A paused campaign's jobs are parked until
it is resumed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json, ValidationError

from stopsms import clock
from stopsms.aws import prices, sms
from stopsms.aws.retry import backoff
from stopsms.consent import decisions, optout_list
from stopsms.consent.erasure import PREFIX as ERASED
from stopsms.consent.erasure import erased_key
from stopsms.dal import contacts, deferred, deliveries, evidence
from stopsms.dal.batch import WRITE_PAGE, batch_get
from stopsms.dal.campaigns import CampaignStatus
from stopsms.dal.deliveries import Claimed, DeliveryStatus
from stopsms.dal.tables import GLOBAL_SCOPE, Campaign, Delivery, Evidence
from stopsms.errors import (
    InvalidPhoneNumber,
    MessageTooLong,
    MissingVariable,
)
from stopsms.models import SendJob, describe
from stopsms.rules.controls import first_unsafe
from stopsms.rules.eligibility import OPTED_OUT, marketing_block
from stopsms.rules.mention import compose
from stopsms.rules.personalise import render
from stopsms.rules.phones import Phone, normalize
from stopsms.rules.retention import consent_since
from stopsms.rules.window import SendingWindow, is_open, next_open
from stopsms.settings import Settings

STALE_CLAIM = timedelta(minutes=15)  # well beyond the function timeout
SAMPLES = 5  # a dry run keeps the rendered text of its first recipients for the report
THROTTLE_ATTEMPTS = 4
TRANSIENT_ERRORS = frozenset(
    {"ThrottlingException", "InternalServerException", "ServiceQuotaExceededException"}
)


class RetryLater(Exception):
    """The job must come back through SQS (throttled, or a claim still being sent)."""


class SendJobMessage(SqsRecordModel):
    """A ``SendQueue`` record: Powertools' SQS record whose body is a send job."""

    body: Json[SendJob]


@dataclass
class Record:
    """One SQS record and its fate, reported to the batch processor at the end."""

    message_id: str
    receive_count: int = 1  # how many times SQS has delivered it, this time included
    outcome: Delivery | None = None  # what to write at the end
    error: Exception | None = None  # makes the record a batch item failure


@dataclass
class Outgoing:
    """A parsed job whose number is valid and whose text is composed."""

    record: Record
    spec: SendJob
    phone: Phone
    text: str
    segments: int
    claim: Delivery | None = None  # the claim found on this phone when ours was refused
    # A transactional job's claim moved under the number's stand-in by an erasure.
    erased_claim: Delivery | None = None
    resume_at: datetime | None = None  # a dry run's recipient outside its window: when it opens


@dataclass
class SendCounters:
    """What happened in this batch, for metrics."""

    sent: int = 0
    segments: int = 0
    failed: int = 0
    deferred: int = 0
    retried: int = 0
    suppressed: dict[str, int] = field(default_factory=dict)
    # Sends refused with ServiceQuotaExceededException (e.g. the monthly spend limit),
    # retried ones included: the SMS spend alarm watches it.
    quota_exceeded: int = 0
    cancelled: int = 0  # jobs of a cancelled campaign: recorded, never sent
    paused: int = 0  # jobs of a paused campaign: parked until it is resumed
    would_send: int = 0  # dry runs' sendable recipients: recorded, never sent


class RateLimiter:
    """At most ``rate`` sends per second across threads (a token bucket with burst = rate)."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self.tokens = float(rate)
        self.updated = clock()
        self.lock = threading.Lock()

    def wait(self) -> None:
        while True:
            with self.lock:
                current = self.clock()
                self.tokens = min(self.rate, self.tokens + (current - self.updated) * self.rate)
                self.updated = current
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                delay = (1 - self.tokens) / self.rate
            time.sleep(delay)


class SendBatch:
    """Works one SQS batch; ``result(record)`` then tells each record's fate."""

    def __init__(
        self,
        settings: Settings,
        logger: Any,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.logger = logger
        self.sleep = sleep
        self.window = SendingWindow.parse(settings.sending_window)
        self.records: dict[str, Record] = {}
        self.suppressions: dict[str, contacts.Suppression] = {}
        self.cancelled: set[str] = set()  # campaigns of this batch found cancelled
        self.paused: set[str] = set()  # and found paused
        self.runs: dict[str, str | None] = {}  # each campaign's dry run, if it is one
        self.counters = SendCounters()
        # The outcomes already written (as claims), by id: kept here, an id is never reused.
        self.written: dict[int, Delivery] = {}

    def run(self, raw_records: list[Mapping[str, Any]]) -> SendBatch:
        at = clock.now()
        ready: list[Outgoing] = []
        for raw in raw_records:
            record = Record(message_id=raw["messageId"])
            self.records[record.message_id] = record
            if (recipient := self._parse(record, raw)) is not None:
                ready.append(recipient)
        self._read_state(ready)
        to_send, suppressed, cancelled = self._decide(ready, at)
        self._cancel(cancelled, at)
        to_send = self._unless_held(self._claim(self._park(to_send), suppressed, at))
        for r in to_send:
            if r.spec.dry_run is not None:
                self._would_send(r)
        self._send_all([r for r in to_send if r.spec.dry_run is None])
        outcomes = [r.outcome for r in self.records.values() if r.outcome is not None]
        deliveries.finish([outcome for outcome in outcomes if id(outcome) not in self.written])
        for outcome in outcomes:
            self._count(outcome)
        return self

    def result(self, raw: Mapping[str, Any]) -> str:
        """Raise the record's error (Powertools reports it as a batch item failure)."""
        record = self.records[raw["messageId"]]
        if record.error is not None:
            raise record.error
        return record.outcome.status if record.outcome is not None else "nothing to do"

    # -- stage 1: parse, normalise, compose (pure) -------------------------------------------
    def _parse(self, record: Record, raw: Mapping[str, Any]) -> Outgoing | None:
        try:
            message = SendJobMessage.model_validate(raw)
        except ValidationError as error:
            reason = describe(error, inside="body")
            self.logger.error("send job refused", reason=reason)
            record.error = ValueError(f"invalid send job: {reason}")
            return None
        record.receive_count = int(message.attributes.ApproximateReceiveCount)
        spec = message.body
        try:
            phone = normalize(spec.phone)
            text = render(spec.body, spec.vars)
            if (unsafe := first_unsafe(text)) is not None:  # from a variable: the body is checked
                self._not_sendable(record, spec, DeliveryStatus.FAILED, "control_character", unsafe)
                return None
            composition = compose(
                text,
                marketing=spec.category.is_marketing,
                language=spec.language,
                stop_number=spec.stop_number or self.settings.stop_number,
                max_segments=spec.max_segments,
                smart_encoding=self.settings.smart_encoding,
            )
        except InvalidPhoneNumber as error:
            self._not_sendable(
                record, spec, DeliveryStatus.SUPPRESSED, "invalid_number", error.reason
            )
            return None
        except MissingVariable as error:
            self._not_sendable(record, spec, DeliveryStatus.FAILED, "missing_variable", str(error))
            return None
        except MessageTooLong as error:
            self._not_sendable(record, spec, DeliveryStatus.FAILED, "max_segments", str(error))
            return None
        return Outgoing(record, spec, phone, composition.text, composition.segments)

    def _not_sendable(
        self, record: Record, spec: SendJob, status: str, reason: str, detail: str
    ) -> None:
        self.logger.info(
            "recipient not sendable",
            campaign_id=spec.campaign_id,
            seq=spec.seq,
            reason=reason,
            detail=detail,
        )
        key = _in_run(spec, deliveries.outcome_key(spec.seq))
        record.outcome = deliveries.new(spec.campaign_id, key, spec.seq, status, reason=reason)

    # -- stage 2: one batched read ---------------------------------------------------------
    def _read_state(self, recipients: list[Outgoing]) -> None:
        """Suppression and consent, and the campaigns; not the claims: a claim is read only
        when writing ours is refused (most recipients have none)."""
        if not recipients:
            return
        moved_keys: list[tuple[str, ...]] = []
        for r in recipients:
            if not r.spec.category.is_marketing and r.spec.dry_run is None:
                # An erasure moves a phone's claims under its stand-in: a transactional job
                # worked before it and delivered again finds its claim there (marketing finds
                # the erased number's opt-out, and writes its decision under that key).
                moved_keys.append((r.spec.campaign_id, self._moved_claim_key(r)))
        # Their campaigns too, in the same requests: a cancelled one sends nothing more.
        campaign_keys = [(r.spec.campaign_id,) for r in recipients]
        found = batch_get({Campaign: campaign_keys, Delivery: moved_keys})
        marketing = [r for r in recipients if r.spec.category.is_marketing]
        if marketing:
            self.suppressions = contacts.suppression(
                [r.phone.e164 for r in marketing], [r.spec.brand for r in marketing]
            )
        self._note_campaigns(found[Campaign].values())
        for r in recipients:
            if not r.spec.category.is_marketing and r.spec.dry_run is None:
                r.erased_claim = found[Delivery].get((r.spec.campaign_id, self._moved_claim_key(r)))

    def _note_campaigns(self, found: Iterable[Campaign]) -> None:
        for item in found:
            self.runs[str(item.campaign_id)] = item.dry_run
            if item.status == CampaignStatus.CANCELLED:
                self.cancelled.add(str(item.campaign_id))
            elif item.paused_at is not None:
                self.paused.add(str(item.campaign_id))

    def _moved_claim_key(self, r: Outgoing) -> str:
        return self._claim_key(r, self._erased(r.phone.e164))

    def _erased(self, e164: str) -> str:
        return erased_key(e164, self.settings)

    def _claim_key(self, r: Outgoing, number: str | None = None) -> str:
        """The key of the claim on ``number`` (the recipient's by default). A dry run's holds
        the number's stand-in, never the number."""
        number = number or r.phone.e164
        if r.spec.dry_run is not None and not number.startswith(ERASED):
            number = self._erased(number)
        return _in_run(r.spec, deliveries.claim_key(number))

    # -- stage 3: decide --------------------------------------------------------------------
    def _decide(
        self, recipients: list[Outgoing], at: datetime
    ) -> tuple[list[Outgoing], list[Outgoing], list[Outgoing]]:
        """(to send, suppressed, cancelled): the first still to claim their phone, the second
        to write their decision as its claim (both refused if the phone is claimed already),
        the third of campaigns found cancelled."""
        to_send: list[Outgoing] = []
        suppressed: list[Outgoing] = []
        cancelled: list[Outgoing] = []
        # The same phone at two positions is left to the claims: the first claim written wins
        # and the other finds it, whichever of the two owned the phone in an earlier batch.
        jobs: set[tuple[str, str, int]] = set()
        for r in recipients:
            job = (r.spec.campaign_id, self._claim_key(r), r.spec.seq)
            if self._past_run(r):
                continue  # a dry run replaced since (by another, or the real send): over
            if job in jobs:
                continue  # the same job twice in one batch: its first copy does the work
            jobs.add(job)
            if r.spec.campaign_id in self.paused:
                to_send.append(r)  # parked next, whatever its state: resume decides again
                continue
            if r.spec.campaign_id in self.cancelled:
                cancelled.append(r)
                continue
            if r.erased_claim is not None:  # a transactional job worked before an erasure
                r.claim = r.erased_claim
                self._found_claim(r, at, suppressed=False, to_send=to_send)
                continue
            # A dry run judges the window and consent when the real campaign would start.
            when = max(at, r.spec.dry_run.at) if r.spec.dry_run is not None else at
            if r.spec.category.is_marketing:
                known = self.suppressions[r.phone.e164]
                block = marketing_block(
                    known.brand(r.spec.brand),
                    known.everyone,
                    enforce_consent=self.settings.consent_policy == "enforce",
                    consent_since=consent_since(when, self.settings.retention_days),
                    at=when,
                )
                if block is not None:
                    # An erased number is recorded under its stand-in: never written again.
                    self._outcome(
                        r,
                        DeliveryStatus.SUPPRESSED,
                        block,
                        phone=self._erased(r.phone.e164) if known.erased else None,
                    )
                    suppressed.append(r)
                    continue
                if not is_open(self.window, when, r.phone):
                    if r.spec.dry_run is None:
                        self._defer(r, next_open(self.window, when, r.phone))
                        continue
                    r.resume_at = next_open(self.window, when, r.phone)
            to_send.append(r)
        return to_send, suppressed, cancelled

    def _cancel(self, recipients: list[Outgoing], at: datetime) -> None:
        """Record the jobs of a cancelled campaign cancelled, unless the job's own claim shows
        it was worked before the cancel (delivered again): that record stands. Their claims
        are read (rare: a cancelled campaign's queue draining)."""
        if not recipients:
            return
        keys = [(r.spec.campaign_id, self._claim_key(r)) for r in recipients]
        found = batch_get({Delivery: keys})[Delivery]
        for r, key in zip(recipients, keys, strict=True):
            r.claim = found.get(key)
            if r.claim is None or int(r.claim.seq) != r.spec.seq:
                self._outcome(r, DeliveryStatus.CANCELLED, "cancelled", claim=False)
            elif r.claim.status == DeliveryStatus.SENDING and r.spec.dry_run is None:
                self._redelivered(r, at)  # still being sent, or never confirmed: never again

    def _past_run(self, r: Outgoing) -> bool:
        run = r.spec.dry_run
        cid = r.spec.campaign_id
        return run is not None and cid in self.runs and self.runs[cid] != run.run

    def _redelivered(self, r: Outgoing, at: datetime) -> bool:
        """The job's own claim exists: finished, being sent, or failed. True: send again."""
        claim = r.claim
        if r.spec.dry_run is not None:
            # Claimed, its outcome not written yet (a crash between the two): nothing was sent.
            return claim is not None and claim.status == DeliveryStatus.SENDING
        if claim is None or claim.status in (
            DeliveryStatus.SENT,
            DeliveryStatus.SUPPRESSED,
        ):
            return False  # done before: nothing to write, nothing to send
        if claim.status == DeliveryStatus.FAILED:
            # A job redriven from the DLQ after transient failures may try again (unless its
            # campaign was cancelled: the reclaim checks it).
            return claim.reason in TRANSIENT_ERRORS and deliveries.reclaim(
                self._claim_item(r, at), DeliveryStatus.FAILED
            )
        # ``sending``: another invocation holds it, or crashed between claim and answer.
        if claim.claimed_at is not None and at - claim.claimed_at < STALE_CLAIM:
            r.record.error = RetryLater("claim held by a send in progress")
            return False
        self.logger.warning(
            "send unconfirmed: not sending twice", campaign_id=r.spec.campaign_id, seq=r.spec.seq
        )
        self._outcome(r, DeliveryStatus.FAILED, "unconfirmed")
        return False

    def _defer(self, r: Outgoing, until: datetime) -> None:
        """Outside this recipient's own window (another time zone than the campaign's)."""
        deferred.park_job(r.spec.campaign_id, r.spec.seq, r.spec.model_dump(mode="json"), until)
        self.counters.deferred += 1

    # -- stage 4: claim ----------------------------------------------------------------------
    def _park(self, recipients: list[Outgoing]) -> list[Outgoing]:
        """Park the jobs of paused campaigns (each conditional on its campaign still being
        paused, so that none is parked after a resume has released the others); the others."""
        paused = [r for r in recipients if r.spec.campaign_id in self.paused]
        if not paused:
            return recipients
        # One write per job, whatever SQS delivered twice (a transaction names an item once).
        jobs = {
            deferred.job_key(r.spec.campaign_id, r.spec.seq, _run(r.spec)): (
                r.spec.campaign_id,
                r.spec.model_dump(mode="json"),
            )
            for r in paused
        }
        resumed = deferred.park_paused([(key, cid, job) for key, (cid, job) in jobs.items()])
        for r in paused:
            if r.spec.campaign_id in resumed:  # resumed since the read: decided again later
                r.record.error = RetryLater("campaign resumed while its jobs were parked")
            else:
                self.counters.paused += 1
        return [r for r in recipients if r.spec.campaign_id not in self.paused]

    def _claim_item(self, r: Outgoing, at: datetime) -> Delivery:
        return deliveries.new(
            r.spec.campaign_id,
            self._claim_key(r),
            r.spec.seq,
            DeliveryStatus.SENDING,
            now=at,
        )

    def _claim(
        self, recipients: list[Outgoing], suppressed: list[Outgoing], at: datetime
    ) -> list[Outgoing]:
        """Claim the phones of ``recipients`` and write the ``suppressed`` decisions as their
        phone's claim; where the phone was claimed already, read that claim and decide again:
        the job's own (delivered again: finished, being sent or failed) or a duplicate's."""
        writes = [(r, self._claim_item(r, at)) for r in recipients]
        writes += [(r, r.record.outcome) for r in suppressed if r.record.outcome is not None]
        answers = deliveries.claim([item for _, item in writes])
        to_claim = {id(r) for r in recipients}
        sending: list[Outgoing] = []
        for (r, item), answer in zip(writes, answers, strict=True):
            if answer.claimed is Claimed.WRITTEN:
                if id(r) in to_claim:
                    sending.append(r)
                else:
                    self.written[id(item)] = item  # the decision is written: nothing to add
            elif answer.claimed is Claimed.REFUSED:
                r.claim = answer.found
                self._found_claim(r, at, suppressed=id(r) not in to_claim, to_send=sending)
            else:  # not written (or released): SQS brings it back
                r.record.outcome = None
                r.record.error = RetryLater("claim write failed")
        return sending

    def _found_claim(
        self, r: Outgoing, at: datetime, *, suppressed: bool, to_send: list[Outgoing]
    ) -> None:
        """Decide again for a job whose phone was found claimed (``r.claim``): by another
        position of the phone (a duplicate), or by the job itself, worked before and
        delivered again (finished: its record stands; being sent or never confirmed: see
        ``_redelivered``). None: released since it refused ours, the job is tried again."""
        decided = r.record.outcome
        r.record.outcome = None
        if r.claim is None:
            r.record.error = RetryLater("claim released while ours was refused")
        elif int(r.claim.seq) != r.spec.seq:
            self._outcome(r, DeliveryStatus.SUPPRESSED, "duplicate", claim=False)
        elif not suppressed:
            if self._redelivered(r, at):
                to_send.append(r)
        elif r.claim.status == DeliveryStatus.SENDING:
            if r.spec.dry_run is not None:
                r.record.outcome = decided  # a dry run's crash: its decision replaces it
            else:
                self._redelivered(r, at)  # being sent, or sent and never confirmed

    def _unless_held(self, recipients: list[Outgoing]) -> list[Outgoing]:
        """Read the campaigns again now that their phones are claimed: one cancelled or paused
        meanwhile releases its claims (its cancel's or pause's write is the line no SMS
        crosses: a claim written after it is seen here, and released)."""
        if not recipients:
            return recipients
        before = self.cancelled | self.paused
        found = batch_get({Campaign: [(r.spec.campaign_id,) for r in recipients]})
        self._note_campaigns(found[Campaign].values())
        held = (self.cancelled | self.paused) - before
        if not held:
            return recipients
        for r in recipients:
            if r.spec.campaign_id not in held:
                continue
            deliveries.release(self._claim_item(r, clock.now()))
            if r.spec.campaign_id in self.cancelled:
                self._outcome(r, DeliveryStatus.CANCELLED, "cancelled", claim=False)
        # Paused: parked now, as if the pause had been seen first (never retried into the DLQ).
        self._park([r for r in recipients if r.spec.campaign_id in held & self.paused])
        return [r for r in recipients if r.spec.campaign_id not in held]

    # -- stage 5: send (a dry run records what it would send) -------------------------------
    def _would_send(self, r: Outgoing) -> None:
        table = prices.current(self.settings)
        outcome = self._outcome(r, DeliveryStatus.WOULD_SEND, table.source)
        outcome.segments = r.segments
        outcome.country = r.phone.region
        outcome.price_micros = table.cost(r.phone.region, r.segments)
        if r.resume_at is not None:
            outcome.resume_at = r.resume_at.isoformat()
        if r.spec.seq < SAMPLES:
            outcome.text = r.text
            outcome.masked = r.phone.masked

    def _send_all(self, recipients: list[Outgoing]) -> None:
        """Send concurrently; the outcomes of what went out are written by full pages as the
        answers come in, not after the whole batch: a STOP that answers one of these SMS
        finds its MessageId (and so its brand) within a second or so."""
        if not recipients:
            return
        limiter = RateLimiter(self.settings.send_rate)
        workers = max(1, min(len(recipients), self.settings.send_rate, 16))
        page: list[Delivery] = []
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(self._send, r, limiter): r for r in recipients}
            for future in as_completed(futures):
                r = futures[future]
                self._record_send(r, future.result())
                if r.record.outcome is not None and r.record.outcome.status == DeliveryStatus.SENT:
                    page.append(r.record.outcome)
                if len(page) == WRITE_PAGE:
                    deliveries.finish(page)
                    self.written |= {id(outcome): outcome for outcome in page}
                    page = []

    def _send(self, r: Outgoing, limiter: RateLimiter) -> sms.SendResult:
        message_type: sms.MessageType = (
            "PROMOTIONAL" if r.spec.category.is_marketing else "TRANSACTIONAL"
        )
        result = sms.SendResult()
        for attempt in range(THROTTLE_ATTEMPTS):
            limiter.wait()
            result = sms.send_text(
                r.phone.e164,
                r.text,
                message_type,
                origination_identity=r.spec.origination_identity
                or self.settings.origination_identity,
                context={"campaign_id": r.spec.campaign_id, "seq": str(r.spec.seq)},
                configuration_set=self.settings.configuration_set,
            )
            if result.error_code == sms.UNCONFIRMED:
                self.logger.warning("send without answer", error=result.reason)
            if result.error_code != sms.THROTTLED:
                return result
            self.sleep(backoff(attempt))
        return result

    def _record_send(self, r: Outgoing, result: sms.SendResult) -> None:
        if result.message_id is not None:
            outcome = self._outcome(r, DeliveryStatus.SENT, None)
            outcome.message_id = result.message_id
            outcome.segments = r.segments
            return
        code = result.error_code or "unknown"
        if code.startswith("ServiceQuotaExceeded"):
            self.counters.quota_exceeded += 1
        if result.opted_out:
            self._learn_opt_out(r)
            self._outcome(r, DeliveryStatus.SUPPRESSED, "opted_out")
            return
        if code in TRANSIENT_ERRORS and r.record.receive_count < self.settings.send_max_receives:
            deliveries.release(self._claim_item(r, clock.now()))  # certainly not sent
            r.record.error = RetryLater(f"{code}: left for SQS to redeliver")
            self.counters.retried += 1
            return
        self.logger.warning(
            "send failed",
            campaign_id=r.spec.campaign_id,
            seq=r.spec.seq,
            code=code,
            reason=result.reason,
        )
        self._outcome(r, DeliveryStatus.FAILED, code)
        if code in TRANSIENT_ERRORS:
            # Last delivery: recorded as failed, and left in the DLQ for a later redrive.
            r.record.error = RetryLater(f"{code}: retries exhausted")

    def _learn_opt_out(self, r: Outgoing) -> None:
        """End User Messaging refused: the number is on its opt-out list. Keep that as ours,
        for every brand, since that list is not per brand."""
        if deferred.pending_mirror(r.phone.e164) == optout_list.REMOVE:
            # The list still holds our own copy of an opt-out the person has since replaced
            # by an opt-in (its removal failed and waits for the scheduler): not a decision.
            self.logger.info("AWS still lists a number it is to remove", seq=r.spec.seq)
            return
        at = clock.now()
        source = f"aws-end-user-messaging:{sms.OPTED_OUT_REASON}"
        key = evidence.event_key(at, f"{r.spec.campaign_id}#{r.spec.seq}")
        proof = Evidence(
            r.phone.e164,
            key,
            kind="opt_out",
            brand=GLOBAL_SCOPE,
            source=source,
            captured_at=at,
            recorded_at=at,
            campaign_id=r.spec.campaign_id,
        )
        decisions.record(proof, OPTED_OUT)  # a later decision of the person may win

    # -- outcomes ---------------------------------------------------------------------------
    def _outcome(
        self,
        r: Outgoing,
        status: str,
        reason: str | None,
        claim: bool = True,
        phone: str | None = None,
    ) -> Delivery:
        """Record the recipient's fate: under its claim (``phone``, the number by default),
        or under its position when it never claimed a phone."""
        number = phone or r.phone.e164
        key = (
            self._claim_key(r, number)
            if claim
            else _in_run(r.spec, deliveries.outcome_key(r.spec.seq))
        )
        outcome = deliveries.new(r.spec.campaign_id, key, r.spec.seq, status, reason=reason)
        r.record.outcome = outcome
        return outcome

    def _count(self, outcome: Delivery) -> None:
        if outcome.status == DeliveryStatus.SENT:
            self.counters.sent += 1
            self.counters.segments += int(outcome.segments or 0)
        elif outcome.status == DeliveryStatus.SUPPRESSED:
            reason = str(outcome.reason)
            self.counters.suppressed[reason] = self.counters.suppressed.get(reason, 0) + 1
        elif outcome.status == DeliveryStatus.FAILED:
            self.counters.failed += 1
        elif outcome.status == DeliveryStatus.CANCELLED:
            self.counters.cancelled += 1
        elif outcome.status == DeliveryStatus.WOULD_SEND:
            self.counters.would_send += 1


def _run(spec: SendJob) -> str | None:
    return None if spec.dry_run is None else spec.dry_run.run


def _in_run(spec: SendJob, key: str) -> str:
    """A record's key: as given, or within the job's dry run."""
    return key if spec.dry_run is None else deliveries.dry_key(spec.dry_run.run, key)
