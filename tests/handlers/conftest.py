"""Drive the real handlers with AWS-shaped events (as Lambda would) against moto."""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from stopsms.emulator import iam

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-3"
ACCOUNT = "123456789012"


def load_function(name: str) -> ModuleType:
    """Import ``functions/<name>/app.py`` afresh (module state such as caches starts clean)."""
    module_name = f"stopsms_function_{name}"
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    module.lambda_handler = with_its_role(name, module.lambda_handler)
    return module


def with_its_role(directory: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    """The handler, run (when IAM is enforced) with only its function's template role, after
    what Lambda itself does with that role (poll its queue, send to its failure destination)."""

    @functools.wraps(handler)
    def invoke(event: Any, context: Any) -> Any:
        enforcement = iam.current()
        if enforcement is None:
            return handler(event, context)
        with enforcement.invocation(enforcement.function_named(directory)):
            return handler(event, context)

    return invoke


def sqs_record(
    body: str | dict[str, Any], queue: str = "Queue", receive_count: int = 1
) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    sent = int(time.time() * 1000)  # SQS received it now: consent records are ordered by it
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": f"handle-{uuid.uuid4()}",
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(sent),
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": str(sent + 1),
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
        "awsRegion": REGION,
    }


def sqs_event(bodies: Iterable[str | dict[str, Any]], queue: str = "Queue") -> dict[str, Any]:
    return {"Records": [sqs_record(body, queue) for body in bodies]}


def sns_event(
    messages: Iterable[str | dict[str, Any]], topic: str = "InboundTopic"
) -> dict[str, Any]:
    records = []
    for message in messages:
        text = message if isinstance(message, str) else json.dumps(message)
        records.append(
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}",
                    "Subject": None,
                    "Message": text,
                    "Timestamp": "2026-11-29T10:00:00.000Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.example/cert.pem",
                    "UnsubscribeUrl": "https://sns.example/unsubscribe",
                    "MessageAttributes": {},
                },
            }
        )
    return {"Records": records}


@dataclass
class LambdaContext:
    """The attributes Powertools reads from Lambda's context object."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext(aws_request_id=str(uuid.uuid4()))


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]
