"""Consent intake: opt-in / opt-out records from upstream systems (contract §3).

Each record is handled on its own (``stopsms.consent.intake``): a refused record is reported as a
batch item failure and ends in the ConsentDLQ after the redrive, never blocking the others.
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

from stopsms.consent import intake
from stopsms.dal.tables import bind
from stopsms.settings import get_settings

logger = Logger()
# Only AWS calls are worth tracing; patching every library X-Ray knows costs ~50 ms of cold start.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
# A batch whose records are all refused is reported item by item too (each ends in the DLQ
# on its own), never as a function error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    bind(get_settings())
    return process_partial_response(
        event=event, record_handler=intake.handle_record, processor=processor, context=context
    )
