"""Inbound replies: STOP / START / HELP from the two-way SMS topic (contract §4).

SNS invokes this function asynchronously; a record that cannot be processed makes the
invocation fail after the others were processed, so Lambda retries it and finally sends the
event to the InboundDLQ failure destination. The logic is in ``stopsms.inbound.replies``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from stopsms.inbound import replies

logger = Logger()
# Only AWS calls are worth tracing; patching every library X-Ray knows costs ~50 ms of cold start.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> list[dict[str, Any]]:
    return replies.handle(event, context)
