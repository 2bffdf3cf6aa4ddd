"""Campaign fan-out: a ``CampaignQueue`` message (a campaign request, or the fan-out's own
continuation and release messages, ``fanout.messages``) becomes one send job per recipient on
``SendQueue``.

A request is checked once as a whole before anyone is queued, deferred while outside the
sending window or before its ``send_at``, then fanned out in slices whose cursor on the
campaign item makes every slice safe to repeat: docs/ARCHITECTURE.md, "A campaign".
A refused request is logged with its reason and reported as a batch item failure (DLQ);
"refused" always means nothing was sent.

A dry run is fanned out the same way, never deferred, its jobs marked with the run's name and
when the real campaign would start (``models.DryRun``): the sender decides and records, sends
nothing. A paused campaign's fan-out parks its next slice with its jobs; a resume releases both.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Final, NoReturn

import phonenumbers
from botocore.exceptions import ClientError

from stopsms import clock
from stopsms.aws import clients, sqs
from stopsms.consent.erasure import ERASED_RECIPIENT, erased_key, same_request
from stopsms.dal import campaigns, deferred, stop_numbers
from stopsms.dal.campaigns import CampaignStatus, WaitingFor
from stopsms.dal.tables import Campaign, bind
from stopsms.errors import (
    AlreadyExists,
    InvalidPhoneNumber,
    MessageTooLong,
    MissingVariable,
    StopSmsError,
    Transient,
)
from stopsms.fanout import audience
from stopsms.fanout.messages import (
    CampaignRefused,
    Continuation,
    Control,
    Message,
    Release,
    Unpark,
    continuation_body,
    parse,
    unpark_body,
)
from stopsms.fanout.scheduler import release_jobs
from stopsms.models import CampaignRequest, DryRun, Recipient, SendJob
from stopsms.rules.brands import reply_numbers
from stopsms.rules.mention import compose
from stopsms.rules.personalise import placeholders, render
from stopsms.rules.phones import Phone, normalize, try_normalize
from stopsms.rules.window import SendingWindow, next_open
from stopsms.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

ROUND_JOBS: Final = 200  # jobs queued concurrently between two checks of the clock
CHUNK_BYTES: Final = 64 * 1024  # S3 read size
MAX_RECORDED_BYTES: Final = 350_000  # the request is kept on the campaign item (400 KB max)
UNPARK_AGAIN_SECONDS: Final = 60  # a job parked just before a resume may reach the index late


# --- checks made once per campaign ------------------------------------------------------------


def prepare(request: CampaignRequest, settings: Settings) -> CampaignRequest:
    """The request with the deployment defaults filled in, checked as a whole."""
    updates: dict[str, Any] = {}
    if request.stop_number is None and settings.stop_number:
        updates["stop_number"] = settings.stop_number
    if request.origination_identity is None and settings.origination_identity:
        updates["origination_identity"] = settings.origination_identity
    if updates:
        request = request.model_copy(update=updates)
    if request.category.is_marketing and not request.stop_number:
        raise CampaignRefused(
            "stop_number: required for marketing, and the deployment has no default StopNumber"
        )
    if request.category.is_marketing and not settings.receives_replies(str(request.stop_number)):
        # A STOP sent to a number that does not reach this stack would never be applied.
        raise CampaignRefused(
            f"stop_number: replies to {request.stop_number} do not reach this stack: use the "
            f"deployment's StopNumber ({settings.stop_number}) or a number of its "
            "InboundBrands parameter, or add this one there (and route its two-way SMS to "
            "InboundTopic)"
        )
    try:
        _compose(request, request.body, settings)
    except MessageTooLong as error:
        raise CampaignRefused(f"body: {error} (placeholders counted as written)") from None
    except ValueError as error:
        raise CampaignRefused(f"body: {error}") from None
    fits = too_long(request, settings)
    for index, recipient in enumerate(request.recipients or ()):
        if isinstance(recipient, Recipient) and (problem := fits(recipient)) is not None:
            raise CampaignRefused(f"recipients[{index}]: {problem}")
    return request


def _compose(request: CampaignRequest, text: str, settings: Settings) -> None:
    """Compose ``text`` as this campaign's sender will: MessageTooLong, ValueError if not."""
    compose(
        text,
        marketing=request.category.is_marketing,
        language=request.language,
        stop_number=request.stop_number,
        max_segments=request.max_segments,
        smart_encoding=settings.smart_encoding,
    )


def too_long(request: CampaignRequest, settings: Settings) -> Callable[[Recipient], str | None]:
    """Why a recipient's final text breaks ``max_segments`` (None when it fits): a problem of
    the whole campaign, found before anyone is queued (contract §2: refused means nothing was
    sent). A missing variable or a control character in one is that recipient's outcome."""
    if request.max_segments is None or not placeholders(request.body):
        return lambda recipient: None  # the body alone was measured by prepare

    def problem(recipient: Recipient) -> str | None:
        try:
            _compose(request, render(request.body, recipient.vars), settings)
        except MessageTooLong as error:
            return f"with its variables, {error}"
        except (MissingVariable, ValueError):
            return None  # the sender records that recipient's outcome
        return None

    return problem


@cache
def representative_phone(country: str) -> Phone:
    """A mobile number of ``country``: its zone and holidays stand for the campaign's."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if example is not None:
        try:
            return normalize(
                phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            )
        except InvalidPhoneNumber:
            pass
    return Phone(e164="", region="ZZ", time_zones=("Etc/UTC",))


def resume_at(
    request: CampaignRequest, at: datetime, window: SendingWindow, country: str
) -> tuple[datetime, str] | None:
    """When a campaign requested at ``at`` may start and what it waits for (``send_at`` or
    the sending ``window``), or None if it may start now.

    The first instant from ``send_at`` on (or now) that is, for marketing, inside the window.
    """
    start = max(at, request.send_at) if request.send_at is not None else at
    waiting_for = WaitingFor.SEND_AT if start > at else WaitingFor.WINDOW
    if request.category.is_marketing:
        start = next_open(window, start, representative_phone(country))
    return (start, waiting_for) if start > at else None


# --- the fan-out ------------------------------------------------------------------------------


@dataclass
class FanOutCounters:
    recipients_queued: int = 0
    campaigns_refused: int = 0
    campaigns_halted: int = 0
    campaigns_deferred: int = 0
    campaigns_queued: int = 0
    campaigns_cancelled: int = 0
    campaigns_paused: int = 0
    campaigns_resumed: int = 0
    dry_runs: int = 0
    jobs_unparked: int = 0
    continuations: int = 0
    batch_calls: int = 0


@dataclass(frozen=True)
class SliceResult:
    cursor: int
    seq: int
    finished: bool


class FanOut:
    """Handles the ``CampaignQueue`` messages of one invocation."""

    def __init__(self, settings: Settings, context: LambdaContext, logger: Logger) -> None:
        bind(settings)
        self.settings = settings
        self.context = context
        self.logger = logger
        self.window = SendingWindow.parse(settings.sending_window)
        self.counters = FanOutCounters()

    def handle(self, record: SQSRecord) -> None:
        """One message; raises (a batch item failure) when it is refused or must be retried."""
        message_id = record.message_id
        # When the publisher sent it (SQS keeps it across redeliveries): orders the controls,
        # and the publications of a dry run, whatever order SQS delivers them in.
        sent = int(record.attributes.sent_timestamp)
        campaign_id: str | None = None
        message: Message | None = None
        try:
            message = parse(record.raw_event)
            campaign_id = message.campaign_id
            if isinstance(message, Control):
                self._control(message, sent)
            elif isinstance(message, Continuation):
                self._continuation(message, message_id)
            elif isinstance(message, Release):
                self._release(message, message_id)
            elif isinstance(message, Unpark):
                self._unpark(message.campaign_id, message.sweep)
            else:
                self._request(message, message_id, sent)
        except CampaignRefused as error:
            self.counters.campaigns_refused += 1
            self.logger.warning(
                "campaign refused",
                reason=str(error),
                campaign_id=campaign_id,
                message_id=message_id,
            )
            if isinstance(message, CampaignRequest) and message.dry_run:
                self._refused_dry_run(message, str(error), message_id, sent)
            raise
        except Exception:
            self.logger.exception(
                "campaign message failed: SQS will deliver it again",
                campaign_id=campaign_id,
                message_id=message_id,
            )
            raise

    # -- the three kinds of message ------------------------------------------------------------

    def _request(self, request: CampaignRequest, message_id: str, sent: int) -> None:
        request = prepare(request, self.settings)
        cid = request.campaign_id
        stored = request.model_dump(mode="json", exclude_none=True)
        size = len(json.dumps(stored, ensure_ascii=False).encode())
        if size > MAX_RECORDED_BYTES:
            raise CampaignRefused(
                f"recipients: the request is too large to record ({size} bytes): "
                "give large audiences as an S3 CSV"
            )
        campaign = campaigns.get(cid)
        if campaign is not None and _superseded(campaign, request, sent):
            self.logger.info("an older publication of a dry run: not run", campaign_id=cid)
            return
        if campaign is None or _replaceable(campaign, stored, message_id):
            # New, refused before, or a dry run (nothing was sent): this request starts afresh.
            try:
                campaign = self._record(request, stored, campaign, message_id, sent)
            except AlreadyExists:  # a concurrent delivery, or a cancellation, came first
                campaign = self._get(cid)
        if campaign.status == CampaignStatus.CANCELLED and campaign.request is None:
            # Cancelled before it arrived: kept, never sent (contract §2).
            audience = None if request.audience else len(request.inline_recipients())
            if campaigns.arrived_cancelled(cid, stored, audience):
                self.logger.info("campaign cancelled before it arrived: not sent", campaign_id=cid)
                return
            campaign = self._get(cid)  # another request was kept first: the same one?
        if not same_request(campaign.request or {}, stored):
            # Not a redelivery: another campaign under a used id. The recorded one stands, and
            # the publisher must hear that this one will never be sent.
            raise CampaignRefused(
                f"campaign_id: {cid!r} is already recorded with another request; it stands, "
                "this one is not sent: publish it under a new campaign_id"
            )
        if campaign.status == CampaignStatus.CHECKING:
            self._check(campaign, message_id, 0)
        elif campaign.status == CampaignStatus.FANNING_OUT:
            self._slice(campaign, message_id, 0)
        else:
            self.logger.info("campaign recorded before", campaign_id=cid, status=campaign.status)

    def _record(
        self,
        request: CampaignRequest,
        stored: dict[str, Any],
        replacing: Campaign | None,
        message_id: str,
        sent: int,
    ) -> Campaign:
        """Record a campaign: checking its S3 audience first; an inline one deferred or
        fanning out at once (its audience is the list)."""
        cid = request.campaign_id
        # A dry run's records are kept under a name of its own, apart from any other run's.
        run: dict[str, Any] = {"dry_run": uuid.uuid4().hex[:12]} if request.dry_run else {}
        if run:
            self.counters.dry_runs += 1
        run |= {"request_message": message_id, "request_sent": sent}
        policy = {
            "consent_policy": self.settings.consent_policy,
            "sending_window": str(self.window),
            "holidays_country": self.settings.holidays_country,
            "retention_days": self.settings.retention_days,
        }
        if request.audience is not None:
            campaign = campaigns.create(
                cid,
                stored,
                CampaignStatus.CHECKING,
                replacing=replacing,
                cursor=0,
                queued=0,
                lines=1,
                policy=policy,
                **run,
            )
            self.logger.info("campaign recorded: checking its audience", campaign_id=cid)
            return campaign
        audience = len(request.inline_recipients())
        waiting = self._waiting(request)
        if waiting is None:
            campaign = campaigns.create(
                cid,
                stored,
                CampaignStatus.FANNING_OUT,
                replacing=replacing,
                cursor=0,
                queued=0,
                audience=audience,
                policy=policy,
                **run,
            )
            self.logger.info("campaign recorded", campaign_id=cid)
            return campaign
        until, waiting_for = waiting
        campaign = campaigns.create(
            cid,
            stored,
            CampaignStatus.DEFERRED,
            replacing=replacing,
            audience=audience,
            deferred=deferred.CAMPAIGN,
            resume_at=until.astimezone(UTC).isoformat(),
            waiting_for=waiting_for,
            policy=policy,
        )
        self.counters.campaigns_deferred += 1
        self.logger.info("campaign deferred", campaign_id=cid, resume_at=until.isoformat())
        return campaign

    def _waiting(self, request: CampaignRequest) -> tuple[datetime, str] | None:
        """What a campaign waits for before it starts (a dry run waits for nothing: its
        jobs are judged at the instant the real campaign would start)."""
        if request.dry_run:
            return None
        return resume_at(request, clock.now(), self.window, self.settings.holidays_country)

    def _refused_dry_run(
        self, request: CampaignRequest, reason: str, message_id: str, sent: int
    ) -> None:
        """Keep a refused dry run's reason where its report (and ``estimate``) finds it."""
        cid = request.campaign_id
        campaign = campaigns.get(cid)
        stored = request.model_dump(mode="json", exclude_none=True)
        if campaign is None or _replaceable(campaign, stored, message_id):
            campaigns.refuse_request(
                cid,
                stored,
                reason,
                replacing=campaign,
                request_message=message_id,
                request_sent=sent,
            )

    def _control(self, message: Control, sent: int) -> None:
        cid = message.campaign_id
        if message.action == "cancel":
            campaign = campaigns.cancel(cid)
            self.counters.campaigns_cancelled += 1
            self.logger.info("campaign cancelled", campaign_id=cid, queued=campaign.queued)
            if campaign.paused_at is not None:
                self._unpark(cid)  # its parked jobs are recorded cancelled by the sender
        elif message.action == "pause":
            if self._applied(campaigns.pause(cid, sent), message):
                self.counters.campaigns_paused += 1
        elif self._applied(campaigns.resume(cid, sent), message):
            self.counters.campaigns_resumed += 1
            self._unpark(cid)

    def _applied(self, control: campaigns.Control, message: Control) -> bool:
        cid = message.campaign_id
        if control == campaigns.Control.UNKNOWN:
            raise CampaignRefused(_nothing_to(cid, message.action))
        if control == campaigns.Control.STALE:
            self.logger.info(
                "control sent before the last one applied: changes nothing",
                campaign_id=cid,
                action=message.action,
            )
            return False
        self.logger.info(f"campaign {message.action}d", campaign_id=cid)
        return True

    def _unpark(self, campaign_id: str, sweep: int = 0) -> None:
        """Release what a pause parked (send jobs back to ``SendQueue``, the fan-out's next
        slice back to this queue), each taken out of the index once; then sweep once more a
        minute later, for a job parked just before the resume that the index showed late."""
        kind = deferred.paused_kind(campaign_id)
        taken: list[tuple[str, str, dict[str, Any]]] = []
        for key, parked_at in deferred.due(kind):
            if self._out_of_time():
                self._unpark_later(campaign_id, sweep, delay=0)
                break
            item = deferred.take(key, kind, parked_at)
            if item is None:
                continue  # another sweep took it
            if key.startswith(deferred.CONTINUATION):
                try:
                    self._continue_body(campaign_id, json.dumps(item.request))
                except Exception:
                    deferred.put_back(key, kind, parked_at)  # for the retry of this message
                    raise
                deferred.drop(key)
                continue
            taken.append((key, parked_at, dict(item.request)))
            if len(taken) == sqs.BATCH_ENTRIES:
                self.counters.jobs_unparked += release_jobs(self.settings, taken)
                taken = []
        self.counters.jobs_unparked += release_jobs(self.settings, taken)
        if sweep == 0:
            self._unpark_later(campaign_id, sweep + 1, delay=UNPARK_AGAIN_SECONDS)

    def _unpark_later(self, campaign_id: str, sweep: int, delay: int) -> None:
        clients.sqs().send_message(
            QueueUrl=self.settings.campaign_queue_url,
            MessageBody=unpark_body(campaign_id, sweep),
            DelaySeconds=delay,
        )

    def _continuation(self, message: Continuation, message_id: str) -> None:
        campaign = self._get(message.campaign_id)
        if message.run != campaign.dry_run:
            # From a dry run the campaign has been replaced by since (another run, or the
            # real send): that run is over.
            self.logger.info("continuation of a past run dropped", campaign_id=campaign.campaign_id)
            return
        if campaign.status == CampaignStatus.CHECKING:
            self._check(campaign, message_id, message.offset)
        else:
            self._slice(campaign, message_id, message.offset)

    def _release(self, message: Release, message_id: str) -> None:
        cid = message.campaign_id
        campaign = self._get(cid)
        if campaign.status == CampaignStatus.DEFERRED:
            if campaign.deferred is not None:
                self.logger.info("campaign not released yet", campaign_id=cid)
                return
            request = CampaignRequest.model_validate(campaign.request)
            waiting = self._waiting(request)
            if waiting is not None:  # released early (clocks): wait again
                campaigns.defer_again(cid, *waiting)
                self.counters.campaigns_deferred += 1
                self.logger.info("campaign deferred again", campaign_id=cid)
                return
            campaigns.start(cid)
            campaign = self._get(cid)
            self.logger.info("campaign released", campaign_id=cid, message_id=message_id)
        self._slice(campaign, message_id, 0)

    def _get(self, campaign_id: str) -> Campaign:
        campaign = campaigns.get(campaign_id)
        if campaign is None:
            raise CampaignRefused(f"campaign_id: no campaign {campaign_id!r} is recorded")
        return campaign

    def _moved_on(self, campaign: Campaign, message_id: str, offset: int) -> bool:
        """Whether this slice is already done (the module docstring's cases 2 and 3)."""
        cid = campaign.campaign_id
        cursor = int(campaign.cursor or 0)
        if cursor == offset:
            return False
        if campaign.advanced_by == message_id:
            self._continue(cid, cursor, int(campaign.queued or 0), campaign.dry_run)
            self.logger.info("slice done before: continuation sent again", campaign_id=cid)
        else:
            self.logger.info("stale slice dropped", campaign_id=cid, offset=offset, cursor=cursor)
        return True

    # -- checking an S3 audience ---------------------------------------------------------------

    def _check(self, campaign: Campaign, message_id: str, offset: int) -> None:
        """Read one slice of the file for problems (``audience.check``); at its end, refuse
        the campaign (nothing was queued) or let it start."""
        cid = campaign.campaign_id
        if self._moved_on(campaign, message_id, offset):
            return
        request = CampaignRequest.model_validate(campaign.request)
        start = audience.Progress(
            offset=offset,
            line=int(campaign.lines or 1),
            rows=int(campaign.queued or 0),
            header=audience.Header(tuple(campaign.header)) if campaign.header else None,
            problems=tuple(campaign.problems or ()),
            finished=False,
        )
        with ExitStack() as stack:
            try:
                chunks, etag = self._read(request, campaign.source_etag, offset, stack)
            except audience.AudienceError as error:
                self._refuse(cid, f"audience: {error}. {audience.NOTHING_SENT}")
            progress = audience.check(
                chunks,
                start,
                max_rows=self.settings.check_slice_rows,
                out_of_time=self._out_of_time,
                row_problem=too_long(request, self.settings),
            )
        if progress.finished and progress.problems:
            self._refuse(cid, audience.refusal(progress.problems))
        if not progress.finished:
            moved = campaigns.check_progress(
                cid,
                expected=offset,
                cursor=progress.offset,
                line=progress.line,
                rows=progress.rows,
                advanced_by=message_id,
                header=list(progress.header.columns) if progress.header else None,
                problems=list(progress.problems),
                source_etag=etag,
            )
            if moved:
                self._continue(cid, progress.offset, progress.rows, campaign.dry_run)
            return
        waiting = self._waiting(request)
        until, waiting_for = waiting if waiting is not None else (None, None)
        started = campaigns.checked(
            cid,
            expected=offset,
            audience=progress.rows,
            advanced_by=message_id,
            resume_at=until,
            waiting_for=waiting_for,
            header=list(progress.header.columns) if progress.header else [],
            source_etag=etag,  # the fan-out reads the very version that was checked
        )
        if not started:
            self.logger.info("check already finished by another delivery", campaign_id=cid)
            return
        self.logger.info("audience checked", campaign_id=cid, audience=progress.rows)
        if until is not None:
            self.counters.campaigns_deferred += 1
            self.logger.info("campaign deferred", campaign_id=cid, resume_at=until.isoformat())
        else:
            self._continue(cid, 0, 0, campaign.dry_run)

    def _refuse(self, campaign_id: str, reason: str) -> NoReturn:
        """Refuse a campaign being checked (it queued no one) and end the message in the DLQ."""
        if not campaigns.refuse(campaign_id, reason):
            raise Transient(f"campaign {campaign_id} is past checking: not refused")
        raise CampaignRefused(reason)

    def _read(
        self, request: CampaignRequest, etag: str | None, offset: int, stack: ExitStack
    ) -> tuple[Iterator[bytes], str | None]:
        """The bytes of the S3 audience from ``offset``, of the version ``etag`` when known
        (``AudienceError`` when it is gone or was replaced), and the version read."""
        source = request.audience
        if source is None:
            raise ValueError("an inline campaign has no audience file")
        bucket, key = source.location
        options: dict[str, Any] = {"IfMatch": etag} if etag else {}
        try:
            response = clients.s3().get_object(
                Bucket=bucket, Key=key, Range=f"bytes={offset}-", **options
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "InvalidRange":  # the offset is the end of the file
                return iter(()), etag
            raise _s3_error(code, source.s3_uri) from error
        body = response["Body"]
        stack.callback(body.close)
        return body.iter_chunks(CHUNK_BYTES), response.get("ETag", etag)

    # -- one slice of the fan-out --------------------------------------------------------------

    def _slice(self, campaign: Campaign, message_id: str, offset: int) -> None:
        cid = campaign.campaign_id
        if campaign.status != CampaignStatus.FANNING_OUT:
            self.logger.info(
                "nothing to fan out", campaign_id=cid, status=campaign.status, message_id=message_id
            )
            return
        if self._moved_on(campaign, message_id, offset):
            return
        queued = int(campaign.queued or 0)
        if campaign.paused_at is not None and deferred.park_continuation(
            cid, json.loads(continuation_body(cid, offset, queued, campaign.dry_run))
        ):
            self.logger.info("campaign paused: its fan-out waits for resume", campaign_id=cid)
            return
        request = CampaignRequest.model_validate(campaign.request)
        dry_run = self._dry_run(campaign, request)
        if offset == 0 and dry_run is None:
            # Replies to these numbers that answer no known SMS now concern this brand too.
            for number in reply_numbers(request.stop_number, request.origination_identity):
                stop_numbers.record(number, request.brand)
        with ExitStack() as stack:
            if request.audience is None:
                rows = _inline_rows(request.inline_recipients(), offset)
            else:
                try:
                    chunks, _ = self._read(request, campaign.source_etag, offset, stack)
                    known = audience.Header(tuple(campaign.header)) if offset else None
                    _, rows = audience.recipients(chunks, offset, known)
                except audience.AudienceError as error:
                    self._halt(campaign, str(error))
                    return
                if campaign.erased:
                    rows = self._without_erased(rows, set(campaign.erased))
            try:
                result = self._queue(request, rows, offset, queued, dry_run)
            except audience.AudienceError as error:
                self._halt(campaign, str(error))
                return
        moved = campaigns.advance(
            cid,
            expected=offset,
            cursor=result.cursor,
            queued=result.seq,
            advanced_by=message_id,
            finished=result.finished,
        )
        if not moved:
            self.logger.info("slice already advanced by another delivery", campaign_id=cid)
            return
        if result.finished:
            self.counters.campaigns_queued += 1
            self.logger.info("campaign queued", campaign_id=cid, audience=result.seq)
        else:
            self._continue(cid, result.cursor, result.seq, campaign.dry_run)

    def _dry_run(self, campaign: Campaign, request: CampaignRequest) -> DryRun | None:
        """What marks a dry run's jobs: its name, and when the real campaign would start."""
        if campaign.dry_run is None:
            return None
        waiting = resume_at(request, clock.now(), self.window, self.settings.holidays_country)
        return DryRun(run=campaign.dry_run, at=waiting[0] if waiting else clock.now())

    def _without_erased(
        self, rows: Iterator[audience.Row], erased: set[str]
    ) -> Iterator[audience.Row]:
        """The rows, those of numbers erased while the campaign waited queued as erased
        recipients (no SMS, no number written: the sender records them ``invalid_number``)."""
        for row in rows:
            phone = try_normalize(row.recipient.phone)
            if phone is not None and erased_key(phone.e164, self.settings) in erased:
                gone = Recipient.model_construct(phone=ERASED_RECIPIENT, vars={})
                row = audience.Row(gone, row.end)
            yield row

    def _halt(self, campaign: Campaign, problem: str) -> None:
        """The rest of a checked file cannot be read any more (replaced, deleted, access
        withdrawn): those already queued go out, the others are reported never queued."""
        queued = int(campaign.queued or 0)
        unsent = max(0, int(campaign.audience or 0) - queued)
        reason = (
            f"audience: {problem} after {queued} recipient(s) were queued; the other "
            f"{unsent} were not sent"
        )
        if campaigns.halt(campaign.campaign_id, reason, unsent):
            self.counters.campaigns_halted += 1
            self.logger.error("campaign halted", campaign_id=campaign.campaign_id, reason=reason)

    def _queue(
        self,
        request: CampaignRequest,
        rows: Iterator[audience.Row],
        cursor: int,
        seq: int,
        dry_run: DryRun | None,
    ) -> SliceResult:
        """Queue the jobs of up to a slice of rows; where the slice ended, and if it was the
        last."""
        limit = self.settings.fanout_slice_rows
        count = 0
        jobs: list[SendJob] = []
        finished = True
        for row in rows:
            jobs.append(SendJob.for_recipient(request, seq + count, row.recipient, dry_run))
            count += 1
            cursor = row.end
            if len(jobs) >= ROUND_JOBS:
                self._send(jobs)
                jobs = []
                if self._out_of_time():
                    finished = False
                    break
            if count >= limit:
                finished = False
                break
        self._send(jobs)
        if not finished:  # stopped early: was that the last row anyway?
            finished = next(rows, None) is None
        return SliceResult(cursor, seq + count, finished)

    def _send(self, jobs: list[SendJob]) -> None:
        if jobs:
            entries = [{"Id": str(job.seq), "MessageBody": _body(job)} for job in jobs]
            self.counters.batch_calls += sqs.send_all(self.settings.send_queue_url, entries)
            self.counters.recipients_queued += len(jobs)

    def _out_of_time(self) -> bool:
        return self.context.get_remaining_time_in_millis() < self.settings.fanout_safety_ms

    def _continue(self, campaign_id: str, offset: int, seq: int, run: str | None) -> None:
        self._continue_body(campaign_id, continuation_body(campaign_id, offset, seq, run))
        self.logger.info("continuation sent", campaign_id=campaign_id, offset=offset, seq=seq)

    def _continue_body(self, campaign_id: str, body: str) -> None:
        clients.sqs().send_message(QueueUrl=self.settings.campaign_queue_url, MessageBody=body)
        self.counters.continuations += 1


def _body(job: SendJob) -> str:
    """A job as queued; a real one does not carry the dry run's (empty) field."""
    return job.model_dump_json(exclude={"dry_run"} if job.dry_run is None else None)


def _replaceable(campaign: Campaign, request: dict[str, Any], message_id: str) -> bool:
    """Whether ``request`` starts afresh the campaign recorded under its id: one refused (it
    sent nothing), or a dry run (it sends nothing) that this message is not a redelivery of (a
    dry run published again is run again: opt-outs may have changed since)."""
    if campaign.status == CampaignStatus.REFUSED:
        return True
    return (
        campaign.dry_run is not None
        and campaign.status != CampaignStatus.CANCELLED
        and (
            not same_request(campaign.request or {}, request)
            or campaign.request_message != message_id
        )
    )


def _superseded(campaign: Campaign, request: CampaignRequest, sent: int) -> bool:
    """A dry run published before the request recorded under its id (SQS delivering it late,
    or again): the later publication stands."""
    return request.dry_run and campaign.request_sent is not None and sent < campaign.request_sent


def _nothing_to(campaign_id: str, action: str) -> str:
    return (
        f"campaign_id: no campaign {campaign_id!r} to {action} is recorded (or it is "
        "cancelled): check the id with `python -m stopsms report`"
    )


def _inline_rows(recipients: list[Recipient], offset: int) -> Iterator[audience.Row]:
    """Inline recipients from position ``offset``; the cursor is the list index."""
    for index in range(offset, len(recipients)):
        yield audience.Row(recipients[index], index + 1)


def _s3_error(code: str, uri: str) -> StopSmsError:
    if code in ("NoSuchKey", "NoSuchBucket", "404"):
        return audience.AudienceError(f"{uri} does not exist")
    if code in ("PreconditionFailed", "412"):
        return audience.AudienceError(f"{uri} changed while StopSMS was reading it")
    if code in ("AccessDenied", "403"):
        return audience.AudienceError(f"{uri} cannot be read by StopSMS (access denied)")
    return Transient(f"reading {uri} failed ({code})")
