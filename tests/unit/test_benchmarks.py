"""The benchmarks' own logic (what they count and how), not their timings."""

from __future__ import annotations

from benchmarks import segments
from benchmarks.requests import Traffic


def test_requests_are_counted_with_their_items_and_compared_with_full_batches() -> None:
    traffic = Traffic(paused=False)
    entries = {"Entries": [{"Id": str(i)} for i in range(7)]}
    traffic.record("sqs", "SendMessageBatch", entries, {})
    traffic.record("sqs", "SendMessageBatch", {"Entries": [{"Id": "0"}] * 10}, {})
    traffic.record("sqs", "ReceiveMessage", {}, {"Messages": []})  # an idle poll
    traffic.record("pinpoint-sms-voice-v2", "SendTextMessage", {}, {})  # the SMS itself
    keys = {"RequestItems": {"T": {"Keys": [{}] * 150}}}
    traffic.record("dynamodb", "BatchGetItem", keys, {})
    traffic.record("dynamodb", "PutItem", {}, {})
    assert traffic.total() == 4
    assert traffic.idle_receives == 1
    # 17 messages need 2 full batches, 150 keys 2 pages, a single put is itself.
    assert traffic.floor() == 2 + 2 + 1
    assert traffic.read_units == 150
    assert traffic.write_units == 1


def test_paused_traffic_is_not_counted() -> None:
    traffic = Traffic()
    traffic.record("dynamodb", "PutItem", {}, {})
    assert traffic.total() == 0


def test_smart_encoding_never_bills_more_segments() -> None:
    figures = segments.measure(quick=True)
    assert figures
    assert all(f.ok is not False for f in figures)


def test_receipts_floor_counts_what_any_design_must_read_and_write() -> None:
    from benchmarks.receipts import _floor

    def event(message: str, status: str, phone: str = "+33612345678") -> dict[str, object]:
        return {
            "messageId": message,
            "messageStatus": status,
            "isFinal": status != "PENDING",
            "destinationPhoneNumber": phone,
            "context": {"campaign_id": "c"},
        }

    known: dict[str, bool] = {}
    # 150 new messages (150 reads: 2 requests); 150 claims + 1 cost total written: 2 requests.
    assert _floor([event(f"m{n}", "PENDING") for n in range(150)], known) == 4
    # Their pending again: read, nothing to write.
    assert _floor([event(f"m{n}", "PENDING") for n in range(150)], known) == 2
    # One blocked: the claim, its destination, its campaign's final count (read and
    # written), the cost and the bucket.
    assert _floor([event("m0", "BLOCKED")], known) == 2
    assert known["m0"] is True
    assert _floor([event("m0", "BLOCKED")], known) == 1  # a duplicate: read only


def test_receipts_batch_size_is_the_templates() -> None:
    from benchmarks.receipts import batch_size
    from stopsms.emulator import template

    function = template.load()["Resources"]["ReceiptsFunction"]["Properties"]
    assert batch_size() == function["Events"]["DeliveryEvents"]["Properties"]["BatchSize"]


def test_the_summary_line_holds_the_keyed_figures_in_order() -> None:
    import json

    from benchmarks.figures import SUMMARY_KEYS, Figure, summary

    figures = [
        Figure("requests", "StopSMS total", 398.2456, "req", key="requests_per_1k"),
        Figure("requests", "naive total", 3904.0, "req"),  # not in the summary
        Figure("cost", "DynamoDB read units", 4.0, "units", key="rru_per_recipient"),
        Figure("requests", "batch-API floor", 397.0, "req", key="floor_per_1k"),
    ]
    line = summary(figures)
    assert line.startswith("summary: ")
    values = json.loads(line.removeprefix("summary: "))
    assert list(values) == ["requests_per_1k", "floor_per_1k", "rru_per_recipient"]
    assert values == {"requests_per_1k": 398.2, "floor_per_1k": 397.0, "rru_per_recipient": 4.0}
    assert set(values) <= set(SUMMARY_KEYS)


def test_every_summary_key_is_given_by_a_benchmark() -> None:
    """Each key of the summary is set on a figure of some benchmark module (by its source)."""
    from pathlib import Path

    from benchmarks.figures import SUMMARY_KEYS

    here = Path(__file__).resolve().parents[2] / "benchmarks"
    sources = "".join(p.read_text() for p in here.glob("*.py") if p.name != "figures.py")
    missing = [key for key in SUMMARY_KEYS if f'"{key}"' not in sources]
    assert not missing, missing


def test_the_fanout_benchmark_fans_out_a_real_audience() -> None:
    """The benchmark drives the real handler with SQS records as Lambda gives them: a record
    the handler refuses (a missing SQS attribute) fails here, not in the next `make bench`."""
    from benchmarks.fanout import run_child

    run = run_child(2_000)
    assert run["complete"]
    assert run["rows"] == 2_000
