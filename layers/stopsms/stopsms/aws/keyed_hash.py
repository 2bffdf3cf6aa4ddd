"""The keyed hash of a number (HMAC-SHA256 under the stack's ``ErasureKey`` secret): what an
erased number is known by in every table, ``erased_key`` (docs/ARCHITECTURE.md, "Erasure")."""

from __future__ import annotations

import hashlib
import hmac
from functools import cache
from typing import TYPE_CHECKING

from stopsms.aws import clients
from stopsms.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

PREFIX = "erased#"
KEY_MAX_AGE_S = 300  # a replaced secret is read again within five minutes


@cache
def _secrets(client: object) -> SecretsProvider:
    """A provider per client: a client made anew (``clients.reset``) gets a provider anew."""
    # Imported on first use: Parameters imports boto3 (~50 ms of cold start), and only
    # marketing and the operator's commands read the key.
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client)  # type: ignore[arg-type]


def _key(secret_id: str) -> bytes:
    """The HMAC key, cached for ``KEY_MAX_AGE_S`` (the sender hashes every marketing
    recipient)."""
    if not secret_id:
        raise ValueError(
            "STOPSMS_ERASURE_KEY_SECRET is not set: no key to hash erased numbers (name the "
            "stack with --stack-name, whose ErasureKeyArn output it is)"
        )
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        value = _secrets(clients.secretsmanager()).get(secret_id, max_age=KEY_MAX_AGE_S)
    except GetParameterError as error:
        # The AWS error itself, not Powertools' wrapper: an auditor's AccessDenied is an answer.
        raise (error.__cause__ or error.__context__ or error) from None
    if isinstance(value, bytes):  # SecretBinary
        return value
    if not isinstance(value, str):
        raise TypeError(f"secret {secret_id} holds no key")
    return value.encode()


def forget_key() -> None:
    """Read the key again at its next use (the local stack runs every role in one process)."""
    _secrets.cache_clear()


def keyed_hash(text: str, settings: Settings) -> str:
    """``text`` hashed under the erasure key (hex): none can tell it back without the key."""
    return hmac.new(_key(settings.erasure_key_secret), text.encode(), hashlib.sha256).hexdigest()


def erased_key(e164: str, settings: Settings) -> str:
    """The stand-in of an erased number in every table."""
    return PREFIX + keyed_hash(e164, settings)
