"""``SendTextMessage``: the one call StopSMS makes to End User Messaging SMS, and what its
answers mean. Used by the sender (campaign SMS) and by the inbound path (confirmations, HELP
answers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from stopsms.aws import clients

__all__ = ["OPTED_OUT_REASON", "THROTTLED", "UNCONFIRMED", "MessageType", "SendResult", "send_text"]

MessageType = Literal["PROMOTIONAL", "TRANSACTIONAL"]
OPTED_OUT_REASON = "DESTINATION_PHONE_NUMBER_OPTED_OUT"
THROTTLED = "ThrottlingException"
UNCONFIRMED = "unconfirmed"  # no answer came back: the SMS may or may not have gone out


@dataclass(frozen=True)
class SendResult:
    """What End User Messaging answered: a message id, or an error code and its reason."""

    message_id: str | None = None
    error_code: str | None = None
    reason: str | None = None
    error: Exception | None = None  # the call's own exception, for callers that re-raise it

    @property
    def opted_out(self) -> bool:
        """Refused because the number is on the AWS opt-out list: it never will be sent."""
        return self.error_code == "ConflictException" and self.reason == OPTED_OUT_REASON


def send_text(
    phone: str,
    text: str,
    message_type: MessageType,
    *,
    origination_identity: str | None,
    context: dict[str, str],
    configuration_set: str = "",
) -> SendResult:
    """Send one SMS. Every answer of the service comes back as a :class:`SendResult`; so does no
    answer at all (``UNCONFIRMED``, the error's class as reason: a timeout, a reset)."""
    request: dict[str, Any] = {
        "DestinationPhoneNumber": phone,
        "MessageBody": text,
        "MessageType": message_type,
        "Context": context,
    }
    if origination_identity:
        request["OriginationIdentity"] = origination_identity
    if configuration_set:  # its event destination reports the SMS's fate (contract §7)
        request["ConfigurationSetName"] = configuration_set
    try:
        response = clients.sms().send_text_message(**request)
    except ClientError as error:
        # The opt-out reason comes at the top of the answer (the service's model) or, from
        # some SDKs and emulators, inside ``Error``.
        details = error.response.get("Error", {})
        reason = error.response.get("Reason") or details.get("Reason")
        code = details.get("Code", "")
        return SendResult(error_code=code, reason=str(reason or ""), error=error)
    except BotoCoreError as error:
        return SendResult(error_code=UNCONFIRMED, reason=type(error).__name__, error=error)
    return SendResult(message_id=response.get("MessageId"))
