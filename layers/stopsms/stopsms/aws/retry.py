"""The one back-off StopSMS waits when an AWS batch call leaves work undone (unprocessed
DynamoDB keys, failed SQS entries) or End User Messaging throttles a send. Botocore's own
retries (``clients``: standard mode) cover whole failed calls; these cover partial answers,
which botocore returns as successes."""

from __future__ import annotations

import random

__all__ = ["backoff"]

BASE_S = 0.1
CAP_S = 2.0


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (0 for the first): "full jitter", a random time
    up to ``BASE_S`` doubled at each attempt and capped at ``CAP_S``, as the AWS SDKs do, so
    that concurrent invocations throttled together do not come back together."""
    return random.uniform(0, min(CAP_S, BASE_S * 2**attempt))  # noqa: S311 - jitter, not secrets
