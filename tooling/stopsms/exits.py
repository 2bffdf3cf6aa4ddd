"""How a command ends: its exit code, and every error as one line that says what to do.

An operator must never meet a traceback for something they can fix (a setting, a file, a
permission, a stack that is not running); a traceback is kept for bugs, on demand.
"""

from __future__ import annotations

import os
import urllib.error

from botocore.exceptions import (
    ClientError,
    ConfigParseError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)
from pynamodb.exceptions import PynamoDBException

from stopsms.errors import StopSmsError

DONE = 0
PROBLEM = 1  # the command ran and reports a problem: refused lines, failed checks, a timeout
USAGE = 2  # the command line, a file it names or a setting is wrong
AWS = 3  # AWS could not be reached, or refused the request
BUG = 4

EXIT_CODES = f"""exit codes:
  {DONE}  done
  {PROBLEM}  done, and it reports a problem (refused lines, failed checks, not finished in time)
  {USAGE}  the command line, a file or a setting is wrong (the message says which), or the
     local stack is not running
  {AWS}  AWS (or a running local stack) could not be reached, or refused the request
  {BUG}  a bug: run again with STOPSMS_DEBUG=1 to see its traceback, and report it"""

DEBUG = "STOPSMS_DEBUG"

_SETTINGS_HINT = "name the stack with --stack-name NAME (or STOPSMS_STACK_NAME), or use --local"


def explain(error: BaseException) -> tuple[int, str]:
    """The exit code and the one line to print for ``error``."""
    cause = _root(error)
    if isinstance(cause, KeyboardInterrupt):
        return 130, "interrupted"
    if isinstance(cause, NoRegionError):
        return USAGE, "no AWS region: add --region (e.g. --region eu-west-3) or set AWS_REGION"
    if isinstance(cause, ConfigParseError):
        return USAGE, f"{cause}: fix that file, or point AWS_CONFIG_FILE at another"
    if isinstance(cause, ProfileNotFound):
        return USAGE, f"{cause}: check AWS_PROFILE (`aws configure list-profiles` lists them)"
    if isinstance(cause, NoCredentialsError | PartialCredentialsError | TokenRetrievalError):
        return USAGE, (
            "no usable AWS credentials: configure them (`aws configure`, AWS_PROFILE, "
            "`aws sso login`), or use --local for the local stack"
        )
    if isinstance(cause, EndpointConnectionError | ConnectionClosedError):
        return AWS, f"cannot reach AWS ({cause}): check the network and --region"
    if isinstance(cause, urllib.error.URLError | ConnectionError):
        return AWS, f"cannot reach the service ({_reason(cause)}): is it running?"
    if isinstance(cause, ClientError):
        return AWS, _refused(cause)
    if isinstance(cause, PynamoDBException):
        return AWS, f"AWS refused the request: {type(cause).__name__}: {cause.msg}"
    if isinstance(cause, StopSmsError | ValueError):
        return USAGE, str(cause)
    if isinstance(cause, OSError) and cause.filename:
        return USAGE, f"{cause.strerror}: {cause.filename}"
    return BUG, (
        f"unexpected {type(cause).__name__}: {cause} (a bug: run again with {DEBUG}=1 to see "
        "where, and report it)"
    )


def debugging() -> bool:
    return bool(os.environ.get(DEBUG))


def _root(error: BaseException) -> BaseException:
    """The AWS error under PynamoDB's wrapping (its ``cause``), else ``error`` itself."""
    seen = error
    for _ in range(5):
        inner = getattr(seen, "cause", None) or seen.__cause__
        if inner is None or not isinstance(seen, PynamoDBException):
            break
        seen = inner
    return seen


def _refused(error: ClientError) -> str:
    """What AWS said, with the usual fix (AWS messages name resources, never a phone number)."""
    detail = error.response.get("Error", {})
    code = str(detail.get("Code", "error"))
    said = f"AWS refused the request: {code}: {detail.get('Message', '')}".strip()
    if code == "ResourceNotFoundException" or code.startswith("AWS.SimpleQueueService.NonExist"):
        return f"{said} — the stack's resources are not found here: {_SETTINGS_HINT}"
    if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
        return (
            f"{said} — attach the stack's OperatorPolicyArn output to you (AuditorPolicyArn "
            "for read-only commands)"
        )
    if code in {"ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException"}:
        return f"{said} — your AWS credentials are expired or wrong: renew them"
    return said


def _reason(error: BaseException) -> str:
    return str(getattr(error, "reason", None) or error)
