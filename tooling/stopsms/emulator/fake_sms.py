"""A small stand-in for AWS End User Messaging SMS (``pinpoint-sms-voice-v2``) on loopback.

The real boto3 client reaches it through ``AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2``: it speaks
the service's JSON protocol (``X-Amz-Target: PinpointSMSVoiceV2.<Operation>``), checks each
request against the real service model, and records every ``SendTextMessage`` in an outbox.
``GET /outbox`` returns the outbox as JSON for the operator commands.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.session
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters

_MODEL = botocore.session.get_session().get_service_model("pinpoint-sms-voice-v2")
_PREFIX = "PinpointSMSVoiceV2."

# A hook for fault injection: given (operation, params), return an AWS error code and
# reason to answer with instead of success, or None.
Fault = Callable[[str, dict[str, Any]], tuple[str, str | None] | None]


class FakeSms:
    """Holds the outbox; ``serve()`` puts it on a loopback port."""

    def __init__(self) -> None:
        self.outbox: list[dict[str, Any]] = []
        self.opted_out: list[str] = []
        self.fault: Fault = lambda operation, params: None
        # Called with each SMS sent and its message id (the carriers' delivery events).
        self.on_sent: Callable[[dict[str, Any], str], None] = lambda params, message_id: None
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("the fake SMS endpoint is not serving")
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle(self, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if operation not in _MODEL.operation_names:
            return 400, {"__type": "UnknownOperationException", "message": operation}
        shape = _MODEL.operation_model(operation).input_shape
        try:
            if shape is not None:
                validate_parameters(params, shape)
        except ParamValidationError as error:
            return 400, {"__type": "ValidationException", "message": str(error)}
        if (fault := self.fault(operation, params)) is not None:
            code, reason = fault
            body: dict[str, Any] = {"__type": code, "message": code}
            if reason:
                body["Reason"] = reason
            return 400, body
        if operation == "SendTextMessage":
            if params["DestinationPhoneNumber"] in self.opted_out:  # as AWS does
                return 400, {
                    "__type": "ConflictException",
                    "message": "opted out",
                    "Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT",
                }
            message_id = str(uuid.uuid4())
            with self.lock:
                self.outbox.append(
                    {**params, "MessageId": message_id, "At": datetime.now(UTC).isoformat()}
                )
            self.on_sent(params, message_id)
            return 200, {"MessageId": message_id}
        if operation == "PutOptedOutNumber":
            with self.lock:
                if params["OptedOutNumber"] not in self.opted_out:
                    self.opted_out.append(params["OptedOutNumber"])
            return 200, {
                "OptOutListName": params["OptOutListName"],
                "OptedOutNumber": params["OptedOutNumber"],
                "OptedOutTimestamp": datetime.now(UTC).timestamp(),
                "EndUserOptedOut": False,
            }
        if operation == "DeleteOptedOutNumber":
            with self.lock:
                if params["OptedOutNumber"] not in self.opted_out:
                    return 400, {"__type": "ResourceNotFoundException", "message": "not listed"}
                self.opted_out.remove(params["OptedOutNumber"])
            return 200, {
                "OptOutListName": params["OptOutListName"],
                "OptedOutNumber": params["OptedOutNumber"],
                "OptedOutTimestamp": datetime.now(UTC).timestamp(),
                "EndUserOptedOut": False,
            }
        return 400, {"__type": "UnknownOperationException", "message": operation}

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> FakeSms:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                target = self.headers.get("X-Amz-Target", "")
                params = json.loads(self.rfile.read(length) or b"{}")
                status, body = fake.handle(target.removeprefix(_PREFIX), params)
                self._reply(status, body)

            def do_GET(self) -> None:
                if self.path != "/outbox":
                    self._reply(404, {"message": "not found"})
                    return
                with fake.lock:
                    self._reply(200, {"outbox": fake.outbox, "opted_out": fake.opted_out})

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the outbox is the log."""

        self.server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
