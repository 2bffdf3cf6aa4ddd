"""Campaign fan-out: CampaignQueue requests -> one send job per recipient on SendQueue.

Also takes the fan-out's own continuation messages and the scheduler's releases; the logic
is in ``stopsms.fanout``. A refused request is a batch item failure (it ends in the DLQ) and
never blocks the other messages of its batch.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from stopsms.fanout import Counters, FanOut
from stopsms.settings import get_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def publish(counters: Counters) -> None:
    metrics.add_metric(
        name="RecipientsQueued", unit=MetricUnit.Count, value=counters.recipients_queued
    )
    metrics.add_metric(
        name="CampaignsRefused", unit=MetricUnit.Count, value=counters.campaigns_refused
    )
    metrics.add_metric(
        name="CampaignsDeferred", unit=MetricUnit.Count, value=counters.campaigns_deferred
    )
    metrics.add_metric(
        name="CampaignsQueued", unit=MetricUnit.Count, value=counters.campaigns_queued
    )


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
        publish(fanout.counters)
