from dataclasses import dataclass, field

from aws_lambda_powertools import Metrics

from stopsms.fanout.service import FanOutCounters
from stopsms.observability import publish_counters
from stopsms.sending.service import SendCounters


@dataclass
class Sample:
    quota_exceeded: int = 2
    suppressed: dict[str, int] = field(default_factory=lambda: {"opted_out": 3, "duplicate": 1})


def published(counters: object) -> dict[str, list[float]]:
    metrics = Metrics(namespace="Test", service="test")
    metrics.clear_metrics()
    publish_counters(metrics, counters)
    emitted = {name: list(m["Value"]) for name, m in metrics.metric_set.items()}
    metrics.clear_metrics()
    return emitted


def test_fields_become_camel_case_counts_and_dicts_one_metric_per_key() -> None:
    assert published(Sample()) == {
        "QuotaExceeded": [2.0],
        "SuppressedOptedOut": [3.0],
        "SuppressedDuplicate": [1.0],
    }


def test_the_names_alarms_and_dashboard_watch_are_published() -> None:
    sender = published(SendCounters(sent=5, suppressed={"no_consent": 1}))
    assert {"Sent", "Segments", "Failed", "Deferred", "Retried", "QuotaExceeded"} <= set(sender)
    assert sender["SuppressedNoConsent"] == [1.0]
    fanout = published(FanOutCounters(recipients_queued=7))
    assert fanout["RecipientsQueued"] == [7.0]
    assert {"CampaignsRefused", "CampaignsDeferred", "CampaignsQueued"} <= set(fanout)
