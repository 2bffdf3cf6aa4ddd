"""Sender: SendQueue batches -> compliant SMS through AWS End User Messaging SMS."""

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
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from stopsms.dal.tables import bind
from stopsms.sending import Counters, SendBatch
from stopsms.settings import get_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# A batch whose records all fail is reported item by item too, never as one exception.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def publish(counters: Counters) -> None:
    metrics.add_metric(name="Sent", unit=MetricUnit.Count, value=counters.sent)
    metrics.add_metric(name="Segments", unit=MetricUnit.Count, value=counters.segments)
    metrics.add_metric(name="Failed", unit=MetricUnit.Count, value=counters.failed)
    metrics.add_metric(name="Deferred", unit=MetricUnit.Count, value=counters.deferred)
    metrics.add_metric(name="Retried", unit=MetricUnit.Count, value=counters.retried)
    # Watched by the SmsSpendLimitAlarm of template.yaml.
    metrics.add_metric(name="QuotaExceeded", unit=MetricUnit.Count, value=counters.quota_exceeded)
    for reason, count in counters.suppressed.items():
        metrics.add_metric(name=f"Suppressed_{reason}", unit=MetricUnit.Count, value=count)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = get_settings()
    bind(settings)
    # The whole batch is worked at once (one read, one claim, concurrent sends); each
    # record's own outcome is then reported separately.
    batch = SendBatch(settings, logger).run(event["Records"])
    publish(batch.counters)

    def record_handler(record: SQSRecord) -> str:
        return batch.result(record.raw_event)

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
