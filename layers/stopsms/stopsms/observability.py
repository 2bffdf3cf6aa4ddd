"""What a handler reports about its invocation: its counters, as CloudWatch metrics (EMF)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit


def publish_counters(metrics: Metrics, counters: Any) -> None:
    """Every field of a counters dataclass becomes a Count metric named in CamelCase
    (``quota_exceeded`` -> ``QuotaExceeded``); a dict field gives one metric per key
    (``suppressed`` -> ``Suppressed_<reason>``). Alarms and the dashboard use these names."""
    for field, value in asdict(counters).items():
        name = field.title().replace("_", "")
        counts = {name: value}
        if isinstance(value, dict):
            counts = {f"{name}_{key}": n for key, n in value.items()}
        for metric, count in counts.items():
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=count)
