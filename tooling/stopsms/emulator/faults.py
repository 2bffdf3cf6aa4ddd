"""Faults injected at the AWS edge of this process, for the fault-injection tests.

``aws_errors`` answers a share of one service's HTTP requests with a server error before they
reach the emulator (so nothing is applied), the way AWS answers under stress: the SDK's own
retries then apply, as they would on AWS, and what they do not absorb reaches StopSMS.
SMS faults are set on ``FakeSms.fault``; duplicated deliveries on ``EmulatedStack.duplicates``.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.endpoint import Endpoint


class _Body:
    """The raw body botocore reads from a response (``stream()``)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


@dataclass
class Injected:
    """How many requests were answered with an injected error, and how many went through."""

    failed: int = 0
    passed: int = 0


@contextmanager
def aws_errors(
    target_prefix: str,
    rate: float,
    *,
    code: str = "InternalServerError",
    seed: int = 0,
) -> Iterator[Injected]:
    """Answer ``rate`` of the JSON-protocol requests whose ``X-Amz-Target`` starts with
    ``target_prefix`` (e.g. ``DynamoDB_20120810``) with HTTP 500 ``code``."""
    rng = random.Random(seed)  # noqa: S311 - fault injection, not secrets
    lock = threading.Lock()
    counts = Injected()
    original = Endpoint._send  # type: ignore[attr-defined]  # private, absent from the stubs

    def send(endpoint: Endpoint, request: Any) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        if target.startswith(target_prefix):
            with lock:
                hit = rng.random() < rate
                counts.failed += hit
                counts.passed += not hit
            if hit:
                body = json.dumps({"__type": code, "message": "injected fault"}).encode()
                return AWSResponse(
                    request.url,
                    500,
                    HTTPHeaders.from_dict(
                        {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "f"}
                    ),
                    _Body(body),
                )
        return original(endpoint, request)

    setattr(Endpoint, "_send", send)  # noqa: B010 - private, absent from the stubs
    try:
        yield counts
    finally:
        setattr(Endpoint, "_send", original)  # noqa: B010
