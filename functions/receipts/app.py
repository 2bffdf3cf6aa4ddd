"""Receipts: DeliveryEventsQueue batches -> each message's delivery state, its campaign's
delivery totals and cost (contract §7)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from stopsms.batches import report_each
from stopsms.dal.tables import bind
from stopsms.observability import publish_counters, publish_each
from stopsms.receipts.service import ReceiptBatch
from stopsms.settings import get_settings

logger = Logger()
# Only AWS calls are worth tracing; patching every library X-Ray knows costs ~50 ms of cold start.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
# A batch whose records all fail is reported item by item too, never as one exception.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    bind(get_settings())
    # The whole batch is worked at once (100 claims a read, 100 items a transaction); each
    # record's own outcome is then reported separately.
    batch = ReceiptBatch(logger).run(event["Records"])
    publish_counters(metrics, batch.counters)
    rates = batch.rates()
    publish_each(metrics, "CampaignBlockedOrSpamRate", rates, "campaign", MetricUnit.Percent)
    return report_each(event, context, batch, processor)
