"""A recording stand-in for the ``pinpoint-sms-voice-v2`` client.

Each call is authorised as the acting principal when IAM is enforced (``stopsms.emulator.iam``),
as End User Messaging would: a function whose role lacks ``sms-voice:SendTextMessage`` fails.

moto does not implement End User Messaging SMS. For single sequences botocore's Stubber is
used directly; for whole batches (sent concurrently, in no fixed order) this fake validates
every call against the real service model, as Stubber does, and records it. It keeps an
opt-out list and refuses to text its numbers, as End User Messaging does.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.validate import validate_parameters

from stopsms.emulator import iam

_MODEL = (
    boto3.session.Session()
    .client("pinpoint-sms-voice-v2", region_name="eu-west-3")
    .meta.service_model
)


def client_error(
    code: str, reason: str | None = None, operation: str = "SendTextMessage"
) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": code}}
    if reason:
        response["Reason"] = reason
    return ClientError(response, operation)  # type: ignore[arg-type]


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.opted_out: set[str] = set()  # the End User Messaging opt-out list
        self.fail: Callable[[dict[str, Any]], ClientError | None] = lambda _: None
        # The SMS leaves, but its answer never comes back (a read timeout).
        self.answer_lost: Callable[[dict[str, Any]], bool] = lambda _: False
        self._lock = threading.Lock()

    def _call(self, operation: str, params: dict[str, Any]) -> None:
        validate_parameters(params, _MODEL.operation_model(operation).input_shape)
        # No botocore client carries this call: authorise it as the acting principal here.
        if (enforcement := iam.current()) is not None:
            enforcement.authorise("sms-voice", operation, params)
        with self._lock:
            self.calls.append((operation, params))

    def send_text_message(self, **params: Any) -> dict[str, Any]:
        self._call("SendTextMessage", params)
        if (error := self.fail(params)) is not None:
            raise error
        if params["DestinationPhoneNumber"] in self.opted_out:  # as AWS does
            raise client_error("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT")
        message_id = str(uuid.uuid4())
        with self._lock:
            self.sent.append({**params, "MessageId": message_id})
        if self.answer_lost(params):
            raise ReadTimeoutError(endpoint_url="https://sms-voice.eu-west-3.amazonaws.com/")
        return {"MessageId": message_id}

    def put_opted_out_number(self, **params: Any) -> dict[str, Any]:
        self._call("PutOptedOutNumber", params)
        self.opted_out.add(params["OptedOutNumber"])
        return {
            "OptOutListName": params["OptOutListName"],
            "OptedOutNumber": params["OptedOutNumber"],
        }

    def delete_opted_out_number(self, **params: Any) -> dict[str, Any]:
        self._call("DeleteOptedOutNumber", params)
        if params["OptedOutNumber"] not in self.opted_out:
            raise client_error("ResourceNotFoundException", operation="DeleteOptedOutNumber")
        self.opted_out.discard(params["OptedOutNumber"])
        return {
            "OptOutListName": params["OptOutListName"],
            "OptedOutNumber": params["OptedOutNumber"],
        }

    def to(self, e164: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["DestinationPhoneNumber"] == e164]
