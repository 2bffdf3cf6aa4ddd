"""A batch worked at once (one read, one write per batch), then each record's outcome handed
to Powertools' batch processor as its own success or failure (a batch item failure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext


class WorkedBatch(Protocol):
    def result(self, raw: Mapping[str, Any]) -> str:
        """The record's outcome; raises its error when it failed."""
        ...


def report_each(
    event: dict[str, Any],
    context: LambdaContext,
    batch: WorkedBatch,
    processor: BatchProcessor,
) -> PartialItemFailureResponse:
    """Each record of ``event`` reported with ``batch``'s outcome for it."""

    def record_handler(record: SQSRecord) -> str:
        return batch.result(record.raw_event)

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
