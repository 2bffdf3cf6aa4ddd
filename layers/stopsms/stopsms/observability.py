"""CloudWatch metrics (EMF, namespace ``StopSMS``), all named one way: CamelCase words, the
subject then what happened to it (``RepliesOptOut``, ``ConsentOptIn``, ``SuppressedNoConsent``,
``AnswersNotSent``). The alarms and the dashboard of template.yaml read these names."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric


def metric_name(*parts: str) -> str:
    """``metric_name("replies", "opt_out")`` is ``RepliesOptOut``."""
    return "".join(word.title() for part in parts for word in part.split("_"))


def publish_counters(metrics: Metrics, counters: Any) -> None:
    """Every field of a counters dataclass becomes a Count metric (``quota_exceeded`` ->
    ``QuotaExceeded``); a dict field gives one metric per key (``suppressed`` ->
    ``SuppressedOptedOut``...)."""
    for field, value in asdict(counters).items():
        counts = {metric_name(field): value}
        if isinstance(value, dict):
            counts = {metric_name(field, key): n for key, n in value.items()}
        for metric, count in counts.items():
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=count)


def publish_each(
    metrics: Metrics, name: str, values: dict[str, float], dimension: str, unit: MetricUnit
) -> None:
    """One ``name`` metric per key of ``values``, the key as ``dimension`` (beside
    ``service``): its own EMF document, since every metric of one document shares its
    dimensions. Keys are campaign ids and the like, never a phone number."""
    for key, value in values.items():
        with single_metric(
            name=name,
            unit=unit,
            value=value,
            namespace=metrics.namespace,
            default_dimensions=metrics.default_dimensions,
        ) as metric:
            metric.add_dimension(name=dimension, value=key)
