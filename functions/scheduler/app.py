"""Scheduler (every 5 minutes): releases deferred campaigns and parked send jobs, each once.

The logic is in ``stopsms.fanout.scheduler``: campaigns go back to CampaignQueue,
where the fan-out sends them out like fresh requests; parked jobs go back to SendQueue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stopsms.fanout.scheduler import release_due
from stopsms.settings import get_settings

logger = Logger()
# Only AWS calls are worth tracing; patching every library X-Ray knows costs ~50 ms of cold start.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    released = release_due(get_settings(), context, logger)
    metrics.add_metric(name="CampaignsReleased", unit=MetricUnit.Count, value=released.campaigns)
    metrics.add_metric(name="JobsReleased", unit=MetricUnit.Count, value=released.jobs)
    return released.as_dict()
