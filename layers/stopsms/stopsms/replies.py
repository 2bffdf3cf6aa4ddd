"""Inbound SMS replies (contract §4): STOP, START, HELP and everything else.

Each ``Records[].Sns.Message`` is an AWS End User Messaging SMS two-way payload. Its body is
classified by :mod:`stopsms.keywords`, its destination number gives the brand
(``Settings.brand_for``) and the person's number is normalised to E.164.

* opt-out (STOP...): evidence ``opt_out`` (counted on the campaign the reply answers, found by
  ``previousPublishedMessageId``), then the suppression state for the brand (or for every brand,
  ``*``, after STOPALL-type keywords), then at most one confirmation SMS and, when
  ``mirror_opt_outs`` is on, the number is added to the End User Messaging opt-out list.
* opt-in (START, UNSTOP...): evidence ``opt_in``, then the brand's suppression is lifted.
* help (HELP, AIDE...): evidence ``help`` and one automatic answer (brand, how to stop).
* anything else: evidence ``reply``, kept for the operator; nothing else happens.

The instant of a reply is the SNS ``Timestamp`` of its notification (when AWS published it):
the state of a number follows that instant, so replies processed out of order converge.

Exactly once
------------
SNS and Lambda may deliver a reply twice, and an invocation may crash half-way and be retried.

1. The whole processing of a reply is a Powertools idempotent function keyed on
   ``inboundMessageId``: once it completed, a duplicate changes nothing and sends nothing.
   A failed attempt releases its record (or its in-progress lock expires with the Lambda
   timeout), so the retry redoes the steps below, each of which is safe to repeat:
2. the instant is pinned by the first attempt: if evidence for this ``inboundMessageId`` is
   already stored, its ``captured_at`` is reused (a second notification of the same reply may
   carry another SNS timestamp), so every later step writes the same keys;
3. evidence is a conditional put (``AlreadyExists`` on repeat); for a STOP it is written in one
   transaction with the campaign's ``opt_outs + 1``, so the counter grows exactly once;
4. the contact state is a conditional put: the same opt-out at the same instant is a no-op,
   the same opt-in at the same instant is refused as stale (already applied);
5. the SMS answer (confirmation or help) is sent last, through its own idempotent function
   keyed on ``inboundMessageId``: a crash after it never sends it again, a failed send is
   retried with the reply. Mirroring to the AWS opt-out list comes after the confirmation
   (AWS would refuse to text a number already on its list) and is idempotent by nature.

Evidence is written before the state: a suppression never exists without its proof.

Retention
---------
Evidence expires (DynamoDB TTL ``expires_at``) ``retention_days`` after the event, except
opt-out evidence, which has no expiry: it proves an opt-out that stays in force until the
person opts in again, and a later opt-in does not erase it either (history keeps both).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
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
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel, ValidationError

from stopsms import clients, keywords
from stopsms.consents import evidence_expiry
from stopsms.dal import contacts, deliveries, evidence, inbound, tables
from stopsms.dal.tables import GLOBAL_SCOPE, Evidence
from stopsms.errors import AlreadyExists, InvalidPhoneNumber, StaleEvent, StopSmsError
from stopsms.keywords import Classification, Intent, Scope
from stopsms.models import InboundReply, describe
from stopsms.phones import mask, normalize
from stopsms.settings import Settings, get_settings

__all__ = ["InvalidReply", "RepliesFailed", "confirmation_text", "handle", "help_text"]

logger = Logger(child=True)
metrics = Metrics()

SOURCE = "reply"
# Lambda retries an async event for up to 6 hours: duplicates come well within a week.
IDEMPOTENCY_TTL = timedelta(days=7)
_Step = Callable[..., dict[str, Any]]
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

_CONFIG = IdempotencyConfig(
    event_key_jmespath="inbound_message_id",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=int(IDEMPOTENCY_TTL.total_seconds()),
)


class InvalidReply(StopSmsError):
    """A notification does not carry a usable two-way payload; the message names the field."""


class RepliesFailed(StopSmsError):
    """Some records of the event failed (the others were processed): Lambda must retry."""


def confirmation_text(brand: str, scope: Scope) -> str:
    who = "nos marques" if scope is Scope.ALL else brand
    return f"Vous ne recevrez plus de SMS de {who}. START pour vous réabonner."


def help_text(brand: str, number: str) -> str:
    return (
        f"{brand} : SMS d'information et offres de {brand}. "
        f"Pour ne plus les recevoir, répondez STOP au {number}."
    )


# --- entry point ----------------------------------------------------------------------------


class _Notification(BaseModel):
    """The part of an SNS notification this function reads (the rest is not checked)."""

    MessageId: str = "unknown"
    Message: str
    Timestamp: datetime | None = None


class _SnsRecord(BaseModel):
    Sns: _Notification


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
            logger.error(
                "Refused an inbound notification",
                extra={"record": index, "reason": str(error)},
            )
            metrics.add_metric(name="InvalidReplies", unit=MetricUnit.Count, value=1)
            failures.append(f"record {index}: {error}")
            continue
        try:
            process = _once(_process, settings, data="reply", prefix="stopsms.inbound-reply")
            outcomes.append(process(reply=payload))
        except Exception as error:
            logger.exception(
                "Inbound reply not processed, will be retried",
                extra={
                    "inbound_message_id": payload["inbound_message_id"],
                    "phone": mask(payload["phone"]),
                },
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
        notification = _SnsRecord.model_validate(record).Sns
    except ValidationError as error:
        raise InvalidReply(describe(error)) from None
    try:
        reply = InboundReply.model_validate_json(notification.Message)
    except ValidationError as error:
        raise InvalidReply(f"Sns.Message: {describe(error)}") from None
    phone = _person(reply.origination_number)
    # Evidence keeps the body exactly as received (the contract models strip whitespace).
    body = json.loads(notification.Message).get("messageBody")
    if not isinstance(body, str):
        body = reply.message_body
    at = notification.Timestamp or datetime.now(UTC)
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
    brand = settings.brand_for(reply["destination_number"])
    # Step 2 of the module docstring: a retry reuses the instant of the first attempt.
    earlier = inbound.find_reply(phone, message_id)
    at = earlier.captured_at if earlier else datetime.fromisoformat(reply["published_at"])
    log = {"inbound_message_id": message_id, "phone": mask(phone), "brand": brand}
    logger.info(
        "Inbound reply",
        extra={**log, "intent": classification.intent, "keyword": classification.keyword},
    )
    if classification.intent is Intent.OPT_OUT:
        outcome = _opt_out(settings, reply, classification, brand, at, log)
    elif classification.intent is Intent.OPT_IN:
        outcome = _opt_in(settings, reply, classification, brand, at, log)
    elif classification.intent is Intent.HELP:
        outcome = _help(settings, reply, classification, brand, at)
    else:
        _keep(_evidence(settings, reply, "reply", brand, at, classification, brand))
        outcome = {"intent": "reply"}
    metrics.add_metric(name=f"Replies.{outcome['intent']}", unit=MetricUnit.Count, value=1)
    return {"inbound_message_id": message_id, "brand": brand, **outcome}


def _opt_out(
    settings: Settings,
    reply: dict[str, Any],
    classification: Classification,
    brand: str,
    at: datetime,
    log: dict[str, Any],
) -> dict[str, Any]:
    phone: str = reply["phone"]
    scope = GLOBAL_SCOPE if classification.scope is Scope.ALL else brand
    previous = reply["previous_message_id"]
    campaign_id = deliveries.campaign_for_message(previous) if previous else None
    record = _evidence(settings, reply, "opt_out", scope, at, classification, brand)
    record.campaign_id = campaign_id
    counted = False
    try:
        counted = inbound.append_opt_out(record, campaign_id)
    except AlreadyExists:
        logger.info("Opt-out evidence already recorded (retry)", extra=log)
    try:
        contacts.apply(phone, scope, "opted_out", at, source=SOURCE, evidence_key=record.event_key)
    except StaleEvent:
        # A later decision of this person (e.g. a START sent after this STOP) is stored.
        logger.warning("Opt-out older than the stored state: evidence kept only", extra=log)
        return {"intent": "opt_out", "scope": scope, "applied": False, "campaign_id": campaign_id}
    logger.info("Opted out", extra={**log, "scope": scope, "campaign_id": campaign_id})
    confirmed = False
    if settings.opt_out_confirmation:
        confirmed = _answer(
            settings,
            reply,
            "opt_out_confirmation",
            confirmation_text(brand, classification.scope),
        )
    if settings.mirror_opt_outs:
        clients.sms().put_opted_out_number(
            OptOutListName=settings.opt_out_list, OptedOutNumber=phone
        )
        logger.info("Mirrored to the End User Messaging opt-out list", extra=log)
    return {
        "intent": "opt_out",
        "scope": scope,
        "applied": True,
        "campaign_id": campaign_id,
        "counted": counted,
        "confirmed": confirmed,
    }


def _opt_in(
    settings: Settings,
    reply: dict[str, Any],
    classification: Classification,
    brand: str,
    at: datetime,
    log: dict[str, Any],
) -> dict[str, Any]:
    record = _evidence(settings, reply, "opt_in", brand, at, classification, brand)
    _keep(record)
    try:
        contacts.apply(
            reply["phone"], brand, "opted_in", at, source=SOURCE, evidence_key=record.event_key
        )
    except StaleEvent:
        # Either this very opt-in was applied by an earlier attempt, or a later decision exists.
        logger.info("Opt-in already applied or older than the stored state", extra=log)
        return {"intent": "opt_in", "applied": False}
    logger.info("Opted in", extra=log)
    return {"intent": "opt_in", "applied": True}


def _help(
    settings: Settings,
    reply: dict[str, Any],
    classification: Classification,
    brand: str,
    at: datetime,
) -> dict[str, Any]:
    _keep(_evidence(settings, reply, "help", brand, at, classification, brand))
    answered = _answer(settings, reply, "help", help_text(brand, reply["destination_number"]))
    return {"intent": "help", "answered": answered}


# --- evidence -------------------------------------------------------------------------------


def _evidence(
    settings: Settings,
    reply: dict[str, Any],
    kind: str,
    scope: str,
    at: datetime,
    classification: Classification,
    number_brand: str,
) -> Evidence:
    return Evidence(
        reply["phone"],
        evidence.event_key(at, reply["inbound_message_id"]),
        kind=kind,
        brand=scope,
        source=SOURCE,
        captured_at=at,
        recorded_at=datetime.now(UTC),
        proof={
            "channel": "sms",
            "keyword": classification.keyword,
            "scope": classification.scope.value,
            "number_brand": number_brand,
            "message_keyword": reply["message_keyword"],
            "previous_message_id": reply["previous_message_id"],
            "sns_message_id": reply["sns_message_id"],
        },
        text=reply["body"],
        inbound_message_id=reply["inbound_message_id"],
        destination_number=reply["destination_number"],
        expires_at=evidence_expiry(kind, at, settings),
    )


def _keep(record: Evidence) -> None:
    try:
        evidence.append(record)
    except AlreadyExists:
        logger.info(
            "Evidence already recorded (retry)",
            extra={"inbound_message_id": record.inbound_message_id, "phone": mask(record.phone)},
        )


# --- answers --------------------------------------------------------------------------------


def _answer(settings: Settings, reply: dict[str, Any], purpose: str, text: str) -> bool:
    """Send one TRANSACTIONAL SMS back from the number the person wrote to, at most once."""
    message = {
        "inbound_message_id": reply["inbound_message_id"],
        "phone": reply["phone"],
        "origination_identity": reply["destination_number"],
        "purpose": purpose,
        "text": text,
    }
    send = _once(_send, settings, data="message", prefix="stopsms.inbound-answer")
    result = send(message=message)
    return bool(result["sent"])


def _send(*, message: dict[str, Any]) -> dict[str, Any]:
    log = {"inbound_message_id": message["inbound_message_id"], "phone": mask(message["phone"])}
    try:
        response = clients.sms().send_text_message(
            DestinationPhoneNumber=message["phone"],
            OriginationIdentity=message["origination_identity"],
            MessageBody=message["text"],
            MessageType="TRANSACTIONAL",
            Context={
                "inbound_message_id": message["inbound_message_id"],
                "purpose": message["purpose"],
            },
        )
    except ClientError as error:
        details = error.response.get("Error", {})
        reason = error.response.get("Reason") or details.get("Reason")
        if details.get("Code") == "ConflictException" and reason == (
            "DESTINATION_PHONE_NUMBER_OPTED_OUT"
        ):
            # AWS manages this number's opt-out itself (and answered STOP on its own):
            # retrying would never succeed, the opt-out is recorded anyway.
            logger.warning("Answer not sent: number on the AWS opt-out list", extra=log)
            return {"sent": False}
        raise
    logger.info(
        "Answer sent",
        extra={**log, "purpose": message["purpose"], "message_id": response.get("MessageId")},
    )
    metrics.add_metric(name="RepliesAnswered", unit=MetricUnit.Count, value=1)
    return {"sent": True, "message_id": response.get("MessageId")}
