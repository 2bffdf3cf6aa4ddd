"""Campaign fan-out: CampaignQueue requests -> one send job per recipient on SendQueue.

Also takes the fan-out's own continuation messages and the scheduler's releases; the logic
is in ``stopsms.fanout.service``. A refused request is a batch item failure (it ends in the DLQ) and
never blocks the other messages of its batch.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from stopsms.fanout.service import FanOut
from stopsms.observability import publish_counters
from stopsms.settings import get_settings

logger = Logger()
# Only AWS calls are worth tracing; patching every library X-Ray knows costs ~50 ms of cold start.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    fanout = FanOut(get_settings(), context, logger)
    try:
        return process_partial_response(
            event=event, record_handler=fanout.handle, processor=processor, context=context
        )
    finally:
        publish_counters(metrics, fanout.counters)
