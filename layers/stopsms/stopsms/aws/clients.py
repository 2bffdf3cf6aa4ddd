"""AWS clients, created on first use and cached (never at import time, so tests can mock first).

Endpoints and regions come from the standard AWS environment variables, which is how the local
stack points the real clients at its emulator (``AWS_ENDPOINT_URL_*``).

The clients are botocore's own: boto3 adds nothing to a low-level client but S3 transfer
helpers, and importing it (with s3transfer) costs as much again as botocore at every cold
start. They share one botocore session, so its endpoint data and credentials are loaded once
(a session per client cost about 7 MB and 0.1 s more per client); a session is not
thread-safe, so clients are created under a lock (the fan-out's threads may ask for their
first client at the same time).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_pinpoint_sms_voice_v2 import PinpointSMSVoiceV2Client
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

# Standard retry mode backs off on throttling and 5xx for every client.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, max_pool_connections=50)
_LOCK = threading.Lock()


@cache
def _session() -> botocore.session.Session:
    return botocore.session.Session()


def _client(service: str, **overrides: Any) -> Any:
    config = _CONFIG.merge(Config(**overrides)) if overrides else _CONFIG
    with _LOCK:
        return _session().create_client(service, config=config)


@cache
def dynamodb() -> DynamoDBClient:
    return _client("dynamodb")  # type: ignore[no-any-return]


@cache
def sqs() -> SQSClient:
    return _client("sqs")  # type: ignore[no-any-return]


@cache
def s3() -> S3Client:
    return _client("s3")  # type: ignore[no-any-return]


@cache
def sns() -> SNSClient:
    return _client("sns")  # type: ignore[no-any-return]


@cache
def sms() -> PinpointSMSVoiceV2Client:
    # Throttling is retried by the sender itself (it knows the send rate), so no hidden retries.
    return _client("pinpoint-sms-voice-v2", retries={"mode": "standard", "max_attempts": 1})  # type: ignore[no-any-return]


@cache
def secretsmanager() -> SecretsManagerClient:
    return _client("secretsmanager")  # type: ignore[no-any-return]


def reset() -> None:
    """Forget every cached client and the session (tests switch emulators between cases)."""
    for factory in (dynamodb, sqs, s3, sns, sms, secretsmanager):
        factory.cache_clear()
    _session.cache_clear()


def error_code(error: BaseException) -> str:
    """What to log or store of a failed call: its AWS error code (or the exception's type),
    never its message, which may quote a phone number."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__
