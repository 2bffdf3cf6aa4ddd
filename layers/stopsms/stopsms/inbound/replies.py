"""Inbound SMS replies (contract §4): STOP, START, HELP and everything else.

Each ``Records[].Sns.Message`` is an End User Messaging two-way payload: classified by
``rules.keywords``, attributed to the brands it concerns by ``rules.brands.target``, recorded
through ``consent.decisions`` (opt-out, opt-in) or as evidence (help, other replies), then
answered. Its instant is the SNS ``Timestamp``, pinned by the first attempt. Once an opt-out
is in force nothing that follows may fail the reply (a failed answer is counted, a failed
copy to the AWS opt-out list parked for the scheduler). A reply that may be an opt-out in
words StopSMS cannot safely read is flagged for a human (``python -m stopsms replies``).
The flow and its exactly-once steps: docs/ARCHITECTURE.md, "A STOP".
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser.models import SnsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from stopsms import clock
from stopsms.aws import clients, sms
from stopsms.consent import decisions, optout_list
from stopsms.dal import (
    answers,
    campaigns,
    contacts,
    deliveries,
    evidence,
    inbound,
    stop_numbers,
    tables,
)
from stopsms.dal.tables import GLOBAL_SCOPE, Evidence
from stopsms.errors import AlreadyExists, InvalidPhoneNumber, StopSmsError
from stopsms.inbound.answers import confirmation_text, help_text
from stopsms.models import InboundReply, describe
from stopsms.observability import metric_name
from stopsms.rules import keywords
from stopsms.rules.brands import (
    DEFAULT_BRAND,
    Answered,
    Target,
    brands_of_number,
    canonical_brand,
    target,
)
from stopsms.rules.eligibility import OPTED_IN, OPTED_OUT
from stopsms.rules.keywords import Classification, Intent, Scope
from stopsms.rules.phones import mask, normalize
from stopsms.rules.retention import evidence_expiry
from stopsms.settings import Settings, get_settings

__all__ = ["MAX_STORED_BODY", "InvalidReply", "RepliesFailed", "handle"]

logger = Logger(child=True)
metrics = Metrics()

SOURCE = "reply"
# Lambda retries an async event for up to 6 hours: duplicates come well within a week.
IDEMPOTENCY_TTL = timedelta(days=7)
# AWS delivers at most a few concatenated SMS; anything longer is kept to this many characters
# (the whole text is still read), far under DynamoDB's 400 KB item limit.
MAX_STORED_BODY = 4096
ATTRIBUTION_RETRY_S = 1.5
_Step = Callable[..., dict[str, Any]]
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

_CONFIG = IdempotencyConfig(
    event_key_jmespath="inbound_message_id",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=int(IDEMPOTENCY_TTL.total_seconds()),
)


def sleep(seconds: float) -> None:
    """A pause (a function so tests need not wait)."""
    time.sleep(seconds)


class InvalidReply(StopSmsError):
    """A notification does not carry a usable two-way payload; the message names the field."""


class RepliesFailed(StopSmsError):
    """Some records of the event failed (the others were processed): Lambda must retry."""


# --- entry point ----------------------------------------------------------------------------


def handle(event: Mapping[str, Any], context: LambdaContext | None) -> list[dict[str, Any]]:
    """Process every record of an SNS event; raise ``RepliesFailed`` at the end if any failed.

    The valid records are processed even when others are not: on the retry they are
    recognised (idempotency) and only the failed ones do anything.
    """
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or not records:
        raise InvalidReply("Records: expected a non-empty list of SNS records")
    settings = get_settings()
    tables.bind(settings)
    if context is not None:
        _CONFIG.register_lambda_context(context)
    outcomes: list[dict[str, Any]] = []
    failures: list[str] = []
    for index, record in enumerate(records):
        try:
            payload = parse(record)
        except InvalidReply as error:
            logger.error("Refused an inbound notification", record=index, reason=str(error))
            metrics.add_metric(name="InvalidReplies", unit=MetricUnit.Count, value=1)
            failures.append(f"record {index}: {error}")
            continue
        try:
            process = _once(_process, settings, data="reply", prefix="stopsms.inbound-reply")
            outcomes.append(process(reply=payload))
        except Exception as error:
            logger.exception(
                "Inbound reply not processed, will be retried",
                inbound_message_id=payload["inbound_message_id"],
                phone=mask(payload["phone"]),
            )
            failures.append(f"record {index}: {type(error).__name__}")
    if failures:
        raise RepliesFailed(f"{len(failures)} of {len(records)} records failed: {failures}")
    return outcomes


def parse(record: Any) -> dict[str, Any]:
    """One SNS record's two-way payload as a JSON-ready dict (the idempotent function's input).

    Raises ``InvalidReply`` naming the field at fault.
    """
    try:
        notification = SnsRecordModel.model_validate(record).Sns
    except ValidationError as error:
        raise InvalidReply(describe(error)) from None
    if not isinstance(notification.Message, str):
        raise InvalidReply("Sns.Message: Input should be a valid string")
    try:
        # Read apart from the envelope: the evidence keeps the JSON exactly as received.
        reply = InboundReply.model_validate_json(notification.Message)
    except ValidationError as error:
        raise InvalidReply(f"Sns.Message: {describe(error)}") from None
    phone = _person(reply.origination_number)
    # Evidence keeps the body exactly as received (the contract models strip whitespace).
    body = json.loads(notification.Message).get("messageBody")
    if not isinstance(body, str):
        body = reply.message_body
    at = notification.Timestamp
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return {
        "inbound_message_id": reply.inbound_message_id,
        "sns_message_id": notification.MessageId,
        "phone": phone,
        "destination_number": reply.destination_number,
        "body": body,
        "message_keyword": reply.message_keyword,
        "previous_message_id": reply.previous_published_message_id,
        "published_at": at.astimezone(UTC).isoformat(),
    }


def _person(raw: str) -> str:
    try:
        return normalize(raw).e164
    except InvalidPhoneNumber as error:
        # The person did write to us, from a number phonenumbers does not think can text
        # (ranges change faster than its metadata): an E.164 number is still honoured.
        candidate = raw.strip()
        if _E164.match(candidate):
            return candidate
        raise InvalidReply(
            f"originationNumber: not a valid phone number ({error.reason})"
        ) from None


# --- idempotent processing ----------------------------------------------------------------


@lru_cache(maxsize=8)
def _persistence(prefix: str, table: str, client: Any) -> DynamoDBPersistenceLayer:
    # One layer per idempotent function: a layer remembers the key prefix of its last use,
    # so the nested answer would otherwise re-key the reply's record.
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=client)


def _once(function: _Step, settings: Settings, *, data: str, prefix: str) -> _Step:
    """``function`` made idempotent on its ``data`` keyword argument.

    Decorated on use, not at import: the persistence layer needs the deployed table name and
    the (lazily created, cached) DynamoDB client.
    """
    store = _persistence(prefix, settings.idempotency_table, clients.dynamodb())
    return cast(
        _Step,
        idempotent_function(
            function,
            data_keyword_argument=data,
            persistence_store=store,
            config=_CONFIG,
            key_prefix=prefix,
        ),
    )


def _process(*, reply: dict[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    phone: str = reply["phone"]
    message_id: str = reply["inbound_message_id"]
    classification = keywords.classify(reply["body"])
    about = _target(settings, reply, classification)
    # A retry reuses the instant of the first attempt (a second notification of the same reply
    # may carry another SNS timestamp), so every later step writes the same keys.
    earlier = inbound.find_reply(phone, message_id)
    at = earlier.captured_at if earlier else datetime.fromisoformat(reply["published_at"])
    log: dict[str, Any] = {
        "inbound_message_id": message_id,
        "phone": mask(phone),
        "scopes": list(about.scopes),
    }
    logger.info(
        "Inbound reply",
        **log,
        intent=classification.intent,
        keyword=classification.keyword,
        basis=about.basis,
        campaign_id=about.campaign_id,
    )
    if classification.intent is Intent.OPT_OUT:
        outcome = _opt_out(settings, reply, classification, about, at, log)
    elif classification.intent is Intent.OPT_IN:
        outcome = _opt_in(settings, reply, classification, about, at, log)
    elif classification.intent is Intent.HELP:
        outcome = _help(settings, reply, classification, about, at)
    else:
        _keep(_evidence(settings, reply, "reply", _brand_label(about), at, classification, about))
        outcome = {"intent": "reply"}
    # An opt-out word in a reply that was not applied as an opt-out: a person may have asked
    # to stop in words StopSMS cannot safely read on its own ("Aide, comment me désabonner ?").
    if reason := outcome.get("review") or keywords.review_reason(reply["body"], classification):
        per_scope = classification.intent in (Intent.OPT_OUT, Intent.OPT_IN)
        scope = outcome.pop("review_scope", about.scopes[0]) if per_scope else None
        _review(reply, _key(reply, at, scope, about), reason)
        outcome["review"] = reason
    metrics.add_metric(
        name=metric_name("replies", outcome["intent"]), unit=MetricUnit.Count, value=1
    )
    return {
        "inbound_message_id": message_id,
        "scopes": list(about.scopes),
        "brand": about.named,
        "basis": about.basis,
        "campaign_id": about.campaign_id,
        **outcome,
    }


def _target(settings: Settings, reply: dict[str, Any], classification: Classification) -> Target:
    """The brands this reply concerns (``stopsms.rules.brands``): read only what the rule needs."""
    previous = reply["previous_message_id"]
    campaign_id = deliveries.campaign_for_message(previous) if previous else None
    if previous and campaign_id is None:
        # A reply to our confirmation or HELP answer concerns the campaign that answer was about.
        campaign_id = answers.campaign_answered(previous)
    if previous and campaign_id is None:
        # A STOP seconds after the SMS may come before its MessageId is written (the sender
        # writes them by pages as it sends) or indexed: look once more before falling back
        # on the number's brands, which could stop a brand that did not write.
        sleep(ATTRIBUTION_RETRY_S)
        campaign_id = deliveries.campaign_for_message(previous)
    answered = _answered(campaign_id) if campaign_id else None
    every_brand = classification.intent is Intent.OPT_OUT and classification.scope is Scope.ALL
    number_brands: frozenset[str] = frozenset()
    if answered is None and not every_brand:
        number = reply["destination_number"]
        number_brands = brands_of_number(
            number, settings.inbound_brands, stop_numbers.brands(number)
        )
    about = target(answered=answered, number_brands=number_brands, every_brand=every_brand)
    # A campaign whose record expired still names the SMS answered in the evidence.
    return replace(about, campaign_id=campaign_id)


def _answered(campaign_id: str) -> Answered | None:
    """The campaign a reply answers, when its record (and so its brand) is still there."""
    campaign = campaigns.get(campaign_id)
    if campaign is None:  # expired: the message was ours, its brand is unknown now
        return None
    request = campaign.request or {}
    brand = canonical_brand(str(request.get("brand") or DEFAULT_BRAND))
    return Answered(campaign_id, brand, "en" if request.get("language") == "en" else "fr")


def _opt_out(
    settings: Settings,
    reply: dict[str, Any],
    classification: Classification,
    about: Target,
    at: datetime,
    log: dict[str, Any],
) -> dict[str, Any]:
    phone: str = reply["phone"]
    counted = False
    applied: list[str] = []
    crossed: list[str] = []
    for scope in about.scopes:
        proof = _evidence(settings, reply, "opt_out", scope, at, classification, about)
        # Only the first scope's evidence counts the STOP on its campaign: one reply.
        campaign = about.campaign_id if scope == about.scopes[0] else None
        recorded = decisions.record(proof, OPTED_OUT, count_on=campaign)
        counted = recorded.counted or counted
        if not recorded.new:
            logger.info("Opt-out evidence already recorded (retry)", **log)
        if not recorded.applied:
            # A later decision of this person (e.g. a START sent after this STOP) is stored.
            logger.warning(
                "Opt-out older than the stored state: evidence kept only", **log, scope=scope
            )
            crossed.append(scope)
            continue
        applied.append(scope)
    if GLOBAL_SCOPE in applied:
        # A STOPALL in force all the same leaves a brand's own later opt-in (a START sent after
        # it, processed first) deciding for that brand: crossed for that brand too.
        crossed += [
            state.scope
            for state in contacts.state_of(phone)
            if state.scope != GLOBAL_SCOPE and state.status == OPTED_IN and state.status_at > at
        ]
    outcome: dict[str, Any] = {"intent": "opt_out", "applied": applied, "counted": counted}
    if crossed:
        # A STOP that a later decision crossed, for one brand or all, deserves a human look.
        shown = "every brand" if crossed == [GLOBAL_SCOPE] else ", ".join(crossed)
        outcome["review"] = f"stop not applied to {shown}: a later decision is stored"
        outcome["review_scope"] = crossed[0]
    if not applied:
        return outcome
    logger.info("Opted out", **log, applied=applied)
    # From here on the opt-out is in force: the follow-ups below never fail the reply. The
    # confirmation goes first (tried once; botocore retries throttling): AWS would refuse to
    # text a number already on its opt-out list.
    if settings.opt_out_confirmation:
        text = confirmation_text(about.named, about.language)
        outcome["confirmed"] = _answer(settings, reply, "opt_out_confirmation", text, about)
    # The AWS list is not per brand: only an opt-out for every brand that no brand's own later
    # opt-in overrides goes there (AWS would refuse that brand's SMS).
    if settings.mirror_opt_outs and GLOBAL_SCOPE in applied and not crossed:
        outcome["mirrored"] = optout_list.mirror(settings, phone, optout_list.ADD)
    return outcome


def _opt_in(
    settings: Settings,
    reply: dict[str, Any],
    classification: Classification,
    about: Target,
    at: datetime,
    log: dict[str, Any],
) -> dict[str, Any]:
    applied: list[str] = []
    for scope in about.scopes:
        proof = _evidence(settings, reply, "opt_in", scope, at, classification, about)
        if not decisions.record(proof, OPTED_IN).applied:
            # A later decision exists (a retry of this one is re-applied).
            logger.info("Opt-in older than the stored state", **log)
            continue
        applied.append(scope)
    outcome: dict[str, Any] = {"intent": "opt_in", "applied": applied}
    if applied:
        logger.info("Opted in", **log, applied=applied)
        if settings.mirror_opt_outs:  # AWS would refuse every SMS to a number on its list
            outcome["mirrored"] = optout_list.mirror(settings, reply["phone"], optout_list.REMOVE)
    return outcome


def _help(
    settings: Settings,
    reply: dict[str, Any],
    classification: Classification,
    about: Target,
    at: datetime,
) -> dict[str, Any]:
    _keep(_evidence(settings, reply, "help", _brand_label(about), at, classification, about))
    text = help_text(about.named, reply["destination_number"], about.language)
    return {"intent": "help", "answered": _answer(settings, reply, "help", text, about)}


# --- evidence -------------------------------------------------------------------------------


def _brand_label(about: Target) -> str:
    """The brand field of a reply's evidence when no state changes: the brand it concerns,
    or ``*`` when several or unknown (``proof.scopes`` lists them)."""
    return about.named or "*"


def _key(reply: dict[str, Any], at: datetime, scope: str | None, about: Target) -> str:
    """The event key of a reply's evidence. An opt-out or opt-in (``scope`` given) that
    concerns several brands is one event per brand, each the proof of its own state."""
    event_id = reply["inbound_message_id"]
    if scope is not None and len(about.scopes) > 1:
        event_id = f"{event_id}#{scope}"
    return evidence.event_key(at, event_id)


def _evidence(
    settings: Settings,
    reply: dict[str, Any],
    kind: str,
    brand: str,
    at: datetime,
    classification: Classification,
    about: Target,
) -> Evidence:
    """A reply's evidence; an opt-out or opt-in is recorded per scope (``brand``)."""
    body: str = reply["body"]
    proof: dict[str, Any] = {
        "channel": "sms",
        "keyword": classification.keyword,
        "scope": classification.scope.value,
        "scopes": list(about.scopes),  # every brand the reply concerns, and why
        "basis": about.basis,
        "message_keyword": reply["message_keyword"],
        "previous_message_id": reply["previous_message_id"],
        "sns_message_id": reply["sns_message_id"],
    }
    if len(body) > MAX_STORED_BODY:
        proof["body_chars"] = len(body)  # stored truncated: say how long it was
    per_scope = kind in ("opt_out", "opt_in")
    return Evidence(
        reply["phone"],
        _key(reply, at, brand if per_scope else None, about),
        kind=kind,
        brand=brand,
        source=SOURCE,
        captured_at=at,
        recorded_at=clock.now(),
        proof=proof,
        text=body[:MAX_STORED_BODY],
        inbound_message_id=reply["inbound_message_id"],
        destination_number=reply["destination_number"],
        campaign_id=about.campaign_id,
        expires_at=evidence_expiry(kind, at, settings.retention_days),
    )


def _keep(record: Evidence) -> None:
    try:
        evidence.append(record)
    except AlreadyExists:
        logger.info(
            "Evidence already recorded (retry)",
            inbound_message_id=record.inbound_message_id,
            phone=mask(record.phone),
        )


def _review(reply: dict[str, Any], event_key: str, reason: str) -> None:
    """Put a stored reply on the list a human goes through (``python -m stopsms replies``)."""
    evidence.flag_for_review(reply["phone"], event_key, reason)
    logger.warning(
        "Reply kept for human review",
        inbound_message_id=reply["inbound_message_id"],
        phone=mask(reply["phone"]),
        review=reason,
    )
    metrics.add_metric(name="RepliesToReview", unit=MetricUnit.Count, value=1)


# --- follow-ups: answers and the AWS opt-out list -------------------------------------------


def _answer(
    settings: Settings, reply: dict[str, Any], purpose: str, text: str, about: Target
) -> bool:
    """Send one TRANSACTIONAL SMS back from the number the person wrote to, at most once.

    Never raises: the reply's own work is done, a failed answer is logged and counted."""
    message = {
        "inbound_message_id": reply["inbound_message_id"],
        "phone": reply["phone"],
        "origination_identity": reply["destination_number"],
        "purpose": purpose,
        "text": text,
    }
    if about.basis == "campaign" and about.campaign_id:  # a reply to this answer is about it too
        message["about_campaign"] = about.campaign_id
    log: dict[str, Any] = {
        "inbound_message_id": reply["inbound_message_id"],
        "phone": mask(reply["phone"]),
    }
    try:
        send = _once(_send, settings, data="message", prefix="stopsms.inbound-answer")
        return bool(send(message=message)["sent"])
    except Exception as error:  # any failure: the opt-out or help is recorded regardless
        logger.warning("Answer not sent", **log, purpose=purpose, error=clients.error_code(error))
        metrics.add_metric(name="AnswersNotSent", unit=MetricUnit.Count, value=1)
        return False


def _send(*, message: dict[str, Any]) -> dict[str, Any]:
    log: dict[str, Any] = {
        "inbound_message_id": message["inbound_message_id"],
        "phone": mask(message["phone"]),
    }
    result = sms.send_text(
        message["phone"],
        message["text"],
        "TRANSACTIONAL",
        origination_identity=message["origination_identity"],
        context={
            "inbound_message_id": message["inbound_message_id"],
            "purpose": message["purpose"],
        },
        configuration_set=get_settings().configuration_set,
    )
    if result.opted_out:
        # AWS manages this number's opt-out itself (and answered STOP on its own):
        # retrying would never succeed, the opt-out is recorded anyway.
        logger.warning("Answer not sent: number on the AWS opt-out list", **log)
        return {"sent": False}
    if result.error is not None:
        raise result.error  # the answer's idempotency record is released: a retry tries again
    logger.info("Answer sent", **log, purpose=message["purpose"], message_id=result.message_id)
    metrics.add_metric(name="RepliesAnswered", unit=MetricUnit.Count, value=1)
    if message.get("about_campaign") and result.message_id:
        try:
            until = clock.now() + timedelta(days=get_settings().retention_days)
            answers.record(result.message_id, message["about_campaign"], until)
        except Exception as error:  # it went out: raising would send it again on retry
            # A reply to it then falls back on the stop number's brands.
            logger.warning("Answer's campaign not recorded", **log, error=clients.error_code(error))
    return {"sent": True, "message_id": result.message_id}
