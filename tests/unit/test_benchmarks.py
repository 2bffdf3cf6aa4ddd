"""The benchmarks' own logic (what they count and how), not their timings."""

from __future__ import annotations

import pytest

from benchmarks import segments
from benchmarks.capacity import Capacity, Units, index_keys
from benchmarks.meter import Meter


def _meter(**kwargs: object) -> Meter:
    indexes = {"Deliveries": [{"message_id"}, {"failing_list", "failing_since"}]}
    return Meter(Capacity(indexes), **kwargs)  # type: ignore[arg-type]


def test_requests_are_counted_with_their_items_and_compared_with_full_batches() -> None:
    meter = _meter(excluded=frozenset({"SendTextMessage"}))
    entries = {"Entries": [{"Id": str(i)} for i in range(7)]}
    meter.record("sqs", "SendMessageBatch", entries, {})
    meter.record("sqs", "SendMessageBatch", {"Entries": [{"Id": "0"}] * 10}, {})
    meter.record("sqs", "ReceiveMessage", {}, {"Messages": []})  # an idle poll
    meter.record("pinpoint-sms-voice-v2", "SendTextMessage", {}, {})  # the SMS itself
    keys = {"RequestItems": {"T": {"Keys": [{"k": {"S": str(n)}} for n in range(150)]}}}
    meter.record("dynamodb", "BatchGetItem", keys, {})
    meter.record("dynamodb", "PutItem", {"TableName": "T", "Item": {"k": {"S": "1"}}}, {})
    assert meter.requests() == 4
    assert meter.idle_receives == 1
    # 17 messages need 2 full batches, 150 keys 2 pages, a single put is itself.
    assert meter.floor() == 2 + 2 + 1
    # Eventually consistent reads (no ConsistentRead): half a unit each, found or not.
    assert meter.units_of() == Units(read=75, write=1)


def test_requests_and_units_are_told_apart_by_who_made_them() -> None:
    meter = _meter()
    meter.who = "SenderFunction"
    meter.record("dynamodb", "PutItem", {"TableName": "T", "Item": {"k": {"S": "1"}}}, {})
    meter.who = "ReceiptsFunction"
    meter.record("dynamodb", "DeleteItem", {"TableName": "T"}, {})
    meter.record("dynamodb", "DeleteItem", {"TableName": "T"}, {})
    assert (meter.requests(["SenderFunction"]), meter.requests(["ReceiptsFunction"])) == (1, 2)
    assert meter.units_of(["ReceiptsFunction"]) == Units(write=2)


def test_paused_traffic_is_not_counted() -> None:
    meter = _meter(paused=True)
    meter.record("dynamodb", "PutItem", {"TableName": "T", "Item": {}}, {})
    assert meter.requests() == 0


SMALL = {"campaign_id": {"S": "c"}, "recipient": {"S": "p#+33612345678"}}
SENT = SMALL | {"message_id": {"S": "m-1"}}


@pytest.mark.parametrize(
    ("operation", "params", "result", "units"),
    [
        ("GetItem", {"ConsistentRead": True}, {}, Units(read=1)),  # not found: billed all the same
        ("GetItem", {}, {"Item": SMALL}, Units(read=0.5)),
        ("GetItem", {"ConsistentRead": True}, {"Item": {"x": {"S": "a" * 5000}}}, Units(read=2)),
        (
            "BatchGetItem",
            {
                "RequestItems": {
                    "D": {
                        "Keys": [SMALL, SMALL | {"recipient": {"S": "x"}}],
                        "ConsistentRead": True,
                    }
                }
            },
            {"Responses": {"D": [SMALL]}},
            Units(read=2),
        ),
        ("Query", {}, {"Items": [SMALL] * 100}, Units(read=1)),  # about 6 KB: 2 units, halved
        ("PutItem", {"TableName": "Deliveries", "Item": SMALL}, {}, Units(write=1)),
        ("PutItem", {"TableName": "Deliveries", "Item": SENT}, {}, Units(write=1, index=1)),
        ("PutItem", {"TableName": "Other", "Item": SENT}, {}, Units(write=1)),
        ("PutItem", {"TableName": "D", "Item": {"x": {"S": "a" * 1500}}}, {}, Units(write=2)),
        (
            "UpdateItem",
            {
                "TableName": "Deliveries",
                "UpdateExpression": "SET #0 = :0 REMOVE #1",
                "ExpressionAttributeNames": {"#0": "status", "#1": "failing_since"},
            },
            {},
            Units(write=1, index=1),
        ),
        (
            "BatchWriteItem",
            {
                "RequestItems": {
                    "Deliveries": [
                        {"PutRequest": {"Item": SENT}},
                        {"DeleteRequest": {"Key": SMALL}},
                    ]
                }
            },
            {},
            Units(write=2, index=1),
        ),
        (
            "TransactWriteItems",
            {
                "TransactItems": [
                    {"Put": {"TableName": "Deliveries", "Item": SMALL}},
                    {"ConditionCheck": {"TableName": "Campaigns", "Key": SMALL}},
                ]
            },
            {},
            Units(write=4),
        ),
        ("SendMessageBatch", {}, {}, Units()),
    ],
)
def test_dynamodb_units_follow_the_billing_rules(
    operation: str, params: dict[str, object], result: dict[str, object], units: Units
) -> None:
    indexes = {"Deliveries": [{"message_id"}, {"failing_list", "failing_since"}]}
    assert Capacity(indexes).of(operation, params, result) == units


def test_the_indexes_are_read_from_the_template() -> None:
    from stopsms.emulator import template

    names = {"DeliveriesTable": "d", "ContactStateTable": "c"}
    indexes = index_keys(template.load(), names)
    assert {"message_id"} in indexes["d"]
    assert indexes["c"] == []


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
