"""The campaign fan-out, driven through its real handler with SQS events, against moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import boto3
import pytest

from stopsms import clock
from stopsms.aws import clients, sqs
from stopsms.dal import campaigns
from stopsms.dal.tables import Campaign
from stopsms.emulator.template import Stack
from stopsms.fanout import service as fanout
from stopsms.reporting import report
from stopsms.settings import get_settings
from tests.handlers.conftest import LambdaContext, failed_ids, load_function, sqs_event, sqs_record

MONDAY_10H_PARIS = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
BUCKET = "audiencebucket"
EVENTS = Path(__file__).resolve().parents[2] / "events"


class SqsSpy:
    """``clients.sqs()`` as the fan-out sees it: every SendMessageBatch is recorded.

    With ``answer=True`` the send queue's batches are answered as SQS would, without storing
    them: moto's SendMessage costs O(messages already queued), so 100,000 real messages would
    take quadratic time. Everything else goes to moto.
    """

    def __init__(self, real: Any, send_queue_url: str, answer: bool = False) -> None:
        self.real = real
        self.send_queue_url = send_queue_url
        self.answer = answer
        self.batches: list[list[dict[str, Any]]] = []

    def send_message_batch(self, **kwargs: Any) -> Any:
        self.batches.append(kwargs["Entries"])
        if self.answer and kwargs["QueueUrl"] == self.send_queue_url:
            return {
                "Successful": [
                    {"Id": e["Id"], "MessageId": e["Id"], "MD5OfMessageBody": "0"}
                    for e in kwargs["Entries"]
                ],
                "Failed": [],
            }
        return self.real.send_message_batch(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def seqs(self) -> list[int]:
        return [json.loads(e["MessageBody"])["seq"] for batch in self.batches for e in batch]


@pytest.fixture
def campaign_fn(aws: Stack) -> Iterator[ModuleType]:
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        yield load_function("campaign")


@pytest.fixture
def spy(aws: Stack) -> Iterator[SqsSpy]:
    real = boto3.client("sqs", region_name="eu-west-3")
    spy = SqsSpy(real, aws.queues["SendQueue"])
    with mock.patch.object(clients, "sqs", return_value=spy):
        yield spy


def request(recipients: list[Any] | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "campaign_id": "soldes-hiver-2026",
        "category": "marketing",
        "brand": "acme",
        "body": "Bonjour {first_name}, -20% ce week-end chez Acme !",
        **fields,
    }
    if "audience" not in fields:
        body["recipients"] = recipients or [{"phone": "0612345678", "vars": {"first_name": "A"}}]
    return body


def receive_all(url: str) -> list[dict[str, Any]]:
    """Every message of a (small) queue, deleted as read."""
    sqs = boto3.client("sqs", region_name="eu-west-3")
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    return messages


def jobs(aws: Stack) -> list[dict[str, Any]]:
    found = [json.loads(m["Body"]) for m in receive_all(aws.queues["SendQueue"])]
    return sorted(found, key=lambda job: job["seq"])


def as_record(message: dict[str, Any]) -> dict[str, Any]:
    """A message read from CampaignQueue, as Lambda would deliver it."""
    record = sqs_record(message["Body"], "CampaignQueue")
    record["messageId"] = message["MessageId"]
    return record


def handle(fn: ModuleType, records: list[dict[str, Any]], context: LambdaContext) -> list[str]:
    return failed_ids(fn.lambda_handler({"Records": records}, context))


def run_continuations(fn: ModuleType, aws: Stack, context: LambdaContext) -> int:
    """Feed what the fan-out sent to CampaignQueue back into it until it stops; slices run."""
    rounds = 0
    while messages := receive_all(aws.queues["CampaignQueue"]):
        assert handle(fn, [as_record(m) for m in messages], context) == []
        rounds += len(messages)
    return rounds


def upload(key: str, data: bytes) -> str:
    boto3.client("s3", region_name="eu-west-3").put_object(Bucket=BUCKET, Key=key, Body=data)
    return f"s3://{BUCKET}/{key}"


def slice_rows(monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    monkeypatch.setenv("STOPSMS_FANOUT_SLICE_ROWS", str(rows))
    get_settings.cache_clear()


# --- inline recipients ------------------------------------------------------------------------


def test_inline_campaign_queues_one_exact_job_per_recipient_in_list_order(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    # Given a marketing request with no stop number (the deployment default applies)
    recipients = [
        {"phone": "06 12 34 56 78", "vars": {"first_name": "Léa"}},
        "+33698765432",
        {"phone": "0611111111", "vars": {"first_name": "Zoé", "vip": True}},
    ]
    event = sqs_event([request(recipients, max_segments=2)], queue="CampaignQueue")
    # When the fan-out handles it
    assert handle(campaign_fn, event["Records"], context) == []
    # Then one job per recipient is on the send queue, seq in list order, complete
    queued = jobs(aws)
    assert [(j["seq"], j["phone"], j["vars"]) for j in queued] == [
        (0, "06 12 34 56 78", {"first_name": "Léa"}),
        (1, "+33698765432", {}),
        (2, "0611111111", {"first_name": "Zoé", "vip": True}),
    ]
    for job in queued:
        assert job["campaign_id"] == "soldes-hiver-2026"
        assert job["category"] == "marketing"
        assert job["brand"] == "acme"
        assert job["body"] == "Bonjour {first_name}, -20% ce week-end chez Acme !"
        assert job["stop_number"] == "36111"  # the StopNumber parameter's default
        assert job["max_segments"] == 2
    # And the campaign is recorded as queued with its audience
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert (record.status, record.audience, record.queued) == ("queued", 3, 3)
    assert record.request["stop_number"] == "36111"
    # And nothing was left for a continuation
    assert receive_all(aws.queues["CampaignQueue"]) == []


def test_the_contract_example_event_is_fanned_out(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    event = json.loads((EVENTS / "campaign_request.json").read_text())
    assert handle(campaign_fn, event["Records"], context) == []
    queued = jobs(aws)
    assert [(j["seq"], j["origination_identity"]) for j in queued] == [(0, "36111"), (1, "36111")]


def test_a_redelivered_request_queues_nobody_twice(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, spy: SqsSpy
) -> None:
    # Given a campaign fanned out already
    handle(campaign_fn, sqs_event([request(["0612345678", "0698765432"])])["Records"], context)
    # When the same request arrives again (redelivery, or upstream sending it twice)
    handle(campaign_fn, sqs_event([request(["0612345678", "0698765432"])])["Records"], context)
    # Then its recipients were queued once
    assert sorted(spy.seqs()) == [0, 1]
    assert [j["seq"] for j in jobs(aws)] == [0, 1]


def test_malformed_requests_fail_alone_with_a_logged_reason(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a batch where valid requests surround requests breaking the contract
    bodies: list[str | dict[str, Any]] = [
        request(campaign_id="good-1"),
        "{not json",
        request(campaign_id="bad-category", category="spam"),
        {k: v for k, v in request(campaign_id="no-body").items() if k != "body"},
        request(campaign_id="bad-placeholder", body="Bonjour {0.__class__}"),
        request(campaign_id="both-sources", audience={"s3_uri": f"s3://{BUCKET}/a.csv"})
        | {"recipients": ["0612345678"]},
        request(campaign_id="digits-send-at", send_at="20261225"),  # no Unix time (1970)
        request(campaign_id="good-2"),
    ]
    event = sqs_event(bodies, queue="CampaignQueue")
    ids = [r["messageId"] for r in event["Records"]]
    # When the batch is handled
    failed = handle(campaign_fn, event["Records"], context)
    # Then exactly the bad ones are reported, and the good ones fanned out
    assert failed == ids[1:7]
    assert sorted(j["campaign_id"] for j in jobs(aws)) == ["good-1", "good-2"]
    # And each refusal was logged with the field at fault
    reasons = [r.__dict__["reason"] for r in caplog.records if r.getMessage() == "campaign refused"]
    assert len(reasons) == 6
    assert reasons[0].startswith("message: Invalid JSON")
    assert reasons[1].startswith("category: Input should be 'marketing'")
    assert reasons[2].startswith("body: Field required")
    assert reasons[3].startswith("body: Value error, invalid placeholder")
    assert "give exactly one of recipients or audience" in reasons[4]
    assert reasons[5].startswith("send_at: Value error, must be an ISO-8601 date-time")
    assert all("612345678" not in str(r.__dict__) for r in caplog.records)  # no phone in logs


def test_marketing_without_stop_number_nor_default_is_refused(
    campaign_fn: ModuleType,
    aws: Stack,
    context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a deployment with no default stop number (38111's replies are routed to it)
    monkeypatch.setenv("STOPSMS_STOP_NUMBER", "")
    monkeypatch.setenv("STOPSMS_INBOUND_BRANDS", "38111=acme")
    get_settings.cache_clear()
    event = sqs_event(
        [request(campaign_id="no-stop"), request(campaign_id="own-stop", stop_number="38111")]
    )
    # When marketing requests arrive, one without a stop number
    failed = handle(campaign_fn, event["Records"], context)
    # Then only that one is refused, with the reason
    assert failed == [event["Records"][0]["messageId"]]
    assert campaigns.get("no-stop") is None
    assert [j["stop_number"] for j in jobs(aws)] == ["38111"]
    (refusal,) = [r for r in caplog.records if r.getMessage() == "campaign refused"]
    assert refusal.__dict__["reason"].startswith("stop_number: required for marketing")


def test_a_text_that_cannot_fit_max_segments_is_refused_before_anyone_is_queued(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a one-segment budget that even the shortest mention ("STOP 36111") overflows
    body = "Bonjour {first_name}, " + "x" * 135
    event = sqs_event([request(["0612345678"] * 3, body=body, max_segments=1)])
    # When it is handled
    failed = handle(campaign_fn, event["Records"], context)
    # Then the campaign is refused as a whole, nobody queued, nothing recorded
    assert failed == [event["Records"][0]["messageId"]]
    assert jobs(aws) == []
    assert campaigns.get("soldes-hiver-2026") is None
    (refusal,) = [r for r in caplog.records if r.getMessage() == "campaign refused"]
    assert "max_segments is 1" in refusal.__dict__["reason"]


def test_a_shorter_mention_that_fits_is_accepted(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    # Given 149 characters: with " STOP au 36111" 163 (2 segments), with " STOP 36111" 160
    body = "x" * 149
    event = sqs_event([request(["0612345678"], body=body, max_segments=1)])
    assert handle(campaign_fn, event["Records"], context) == []
    assert len(jobs(aws)) == 1


LONG_NAME = "Marie-Charlotte " * 8  # pushes "Bonjour {first_name}, ..." over one segment


def test_a_recipient_whose_variables_overflow_max_segments_refuses_the_campaign(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a body that fits one segment, and a second recipient whose name does not
    recipients = [
        {"phone": "0612345678", "vars": {"first_name": "Léa"}},
        {"phone": "0698765432", "vars": {"first_name": LONG_NAME}},
    ]
    event = sqs_event([request(recipients, max_segments=1)])
    # When it is handled, the campaign is refused whole: nobody is queued (refused sends nothing)
    assert handle(campaign_fn, event["Records"], context) == [event["Records"][0]["messageId"]]
    assert jobs(aws) == []
    (refusal,) = [r for r in caplog.records if r.getMessage() == "campaign refused"]
    assert refusal.__dict__["reason"].startswith("recipients[1]: with its variables")
    assert "0698765432" not in refusal.__dict__["reason"]


def test_an_s3_row_whose_variables_overflow_max_segments_refuses_the_campaign(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    data = f"phone,first_name\n0612345678,Léa\n0698765432,{LONG_NAME}\n0611111111,\n".encode()
    event = sqs_event([request(audience={"s3_uri": upload("long.csv", data)}, max_segments=1)])
    assert handle(campaign_fn, event["Records"], context) == [event["Records"][0]["messageId"]]
    assert jobs(aws) == []
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert record.status == "refused"
    # the line at fault is named; a missing variable (line 4) is that recipient's outcome
    assert "1 problem(s) in the file: line 3: with its variables, the text needs 2" in str(
        record.reason
    )


def test_entries_sqs_reports_failed_are_sent_again(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, spy: SqsSpy
) -> None:
    # Given SQS failing two entries of the first batch once (throttled internally)
    real = spy.send_message_batch
    calls = {"n": 0}

    def flaky(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            entries = kwargs["Entries"]
            real(**{**kwargs, "Entries": entries[2:]})
            return {
                "Successful": [{"Id": e["Id"]} for e in entries[2:]],
                "Failed": [
                    {"Id": e["Id"], "SenderFault": False, "Code": "InternalError"}
                    for e in entries[:2]
                ],
            }
        return real(**kwargs)

    phones = [f"06123456{i:02d}" for i in range(12)]
    with (
        mock.patch.object(spy, "send_message_batch", side_effect=flaky),
        mock.patch.object(sqs, "sleep") as pause,
    ):
        # When the campaign is fanned out
        failed = handle(campaign_fn, sqs_event([request(phones)])["Records"], context)
    # Then the failed entries were retried after a pause, and every job is queued once
    assert failed == []
    assert pause.called
    assert [j["seq"] for j in jobs(aws)] == list(range(12))


def test_entries_that_keep_failing_make_sqs_redeliver_the_request(
    campaign_fn: ModuleType,
    aws: Stack,
    context: LambdaContext,
    spy: SqsSpy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a send queue that keeps failing one entry
    real = spy.send_message_batch

    def failing(**kwargs: Any) -> Any:
        entries = kwargs["Entries"]
        if entries[1:]:
            real(**{**kwargs, "Entries": entries[1:]})
        return {"Successful": [], "Failed": [{"Id": entries[0]["Id"], "SenderFault": False}]}

    event = sqs_event([request(["0612345678", "0698765432"])])
    with (
        mock.patch.object(spy, "send_message_batch", side_effect=failing) as calls,
        mock.patch.object(sqs, "sleep"),
    ):
        failed = handle(campaign_fn, event["Records"], context)
    # Then the message is retried by SQS after a few attempts, and the campaign not queued
    assert failed == [event["Records"][0]["messageId"]]
    assert calls.call_count == sqs.SEND_ATTEMPTS
    (failure,) = [r for r in caplog.records if r.getMessage().startswith("campaign message failed")]
    assert "still failing after 5 attempts" in str(failure.exc_info[1])
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert (record.status, record.cursor) == ("fanning_out", 0)
    # And its redelivery (same message id) queues everyone
    assert handle(campaign_fn, event["Records"], context) == []
    assert sorted({j["seq"] for j in jobs(aws)}) == [0, 1]
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert (record.status, record.audience) == ("queued", 2)


# --- S3 audiences -----------------------------------------------------------------------------


def test_an_s3_audience_of_100k_rows_is_streamed_in_slices_with_10k_batch_calls(
    campaign_fn: ModuleType,
    aws: Stack,
    context: LambdaContext,
    spy: SqsSpy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given 100,000 recipients in an S3 CSV, and slices of 12,500 rows
    rows = 100_000
    csv = "phone,first_name\n" + "".join(f"+336{i:08d},N{i}\n" for i in range(rows))
    uri = upload("big.csv", csv.encode())
    slice_rows(monkeypatch, 12_500)
    spy.answer = True
    # When the request and then every continuation it leads to are handled
    event = sqs_event([request(audience={"s3_uri": uri})], queue="CampaignQueue")
    assert handle(campaign_fn, event["Records"], context) == []
    continuations = run_continuations(campaign_fn, aws, context)
    # Then 10 jobs went per SendMessageBatch call: 10,000 calls, every seq exactly once
    assert len(spy.batches) == 10_000
    assert all(len(batch) == 10 for batch in spy.batches)
    seqs = spy.seqs()
    assert len(seqs) == rows
    assert set(seqs) == set(range(rows))
    # And the file was checked whole in one slice, then the 8 slices of the fan-out were
    # chained by 8 continuations (the first one starts the fan-out after the check)
    assert continuations == 8
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert (record.status, record.audience, record.queued) == ("queued", rows, rows)
    assert record.cursor == len(csv)
    # And each job is the row at its position
    first = json.loads(spy.batches[0][0]["MessageBody"])
    assert (first["seq"], first["phone"], first["vars"]) == (
        0,
        "+33600000000",
        {"first_name": "N0"},
    )


def small_csv(rows: int) -> bytes:
    return ("phone,first_name\n" + "".join(f"+336{i:08d},N{i}\n" for i in range(rows))).encode()


def test_a_slice_stops_early_when_time_runs_short(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a checked audience, and an invocation with less time left than the safety
    # margin (rounds of 10 jobs)
    uri = upload("t.csv", small_csv(45))
    handle(campaign_fn, sqs_event([request(audience={"s3_uri": uri})])["Records"], context)
    (start,) = receive_all(aws.queues["CampaignQueue"])
    context.remaining_ms = 5_000
    monkeypatch.setattr(fanout, "ROUND_JOBS", 10)
    # When the fan-out's first slice is handled
    handle(campaign_fn, [as_record(start)], context)
    # Then one round of jobs was queued and the rest handed to a continuation
    (message,) = receive_all(aws.queues["CampaignQueue"])
    cont = json.loads(message["Body"])["continuation"]
    assert cont == {"campaign_id": "soldes-hiver-2026", "offset": len(small_csv(10)), "seq": 10}
    assert [j["seq"] for j in jobs(aws)] == list(range(10))
    # And the continuations finish the audience, a round each
    handle(campaign_fn, [as_record(message)], context)
    assert run_continuations(campaign_fn, aws, context) == 3
    assert [j["seq"] for j in jobs(aws)] == list(range(10, 45))


def test_a_continuation_delivered_twice_neither_loses_nor_doubles_a_recipient(
    campaign_fn: ModuleType,
    aws: Stack,
    context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an audience of 50 in slices of 20, checked, its first slice done
    slice_rows(monkeypatch, 20)
    uri = upload("d.csv", small_csv(50))
    handle(campaign_fn, sqs_event([request(audience={"s3_uri": uri})])["Records"], context)
    (start,) = receive_all(aws.queues["CampaignQueue"])
    handle(campaign_fn, [as_record(start)], context)
    (first,) = receive_all(aws.queues["CampaignQueue"])
    # When the continuation is delivered, then a stale copy of it (another message id)
    handle(campaign_fn, [as_record(first)], context)
    stale = sqs_record(first["Body"], "CampaignQueue")
    assert handle(campaign_fn, [stale], context) == []
    # And SQS redelivers the original (same message id) after the slice was done
    handle(campaign_fn, [as_record(first)], context)
    # Then the redelivery re-sent the continuation, the stale copy nothing
    second = receive_all(aws.queues["CampaignQueue"])
    assert len(second) == 2
    assert second[0]["Body"] == second[1]["Body"]
    # And running both copies and what follows queues every seq exactly once
    assert handle(campaign_fn, [as_record(m) for m in second], context) == []
    run_continuations(campaign_fn, aws, context)
    assert [j["seq"] for j in jobs(aws)] == list(range(50))
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert (record.status, record.audience) == ("queued", 50)


def test_a_crash_after_sending_the_continuation_loses_and_doubles_nobody(
    campaign_fn: ModuleType,
    aws: Stack,
    context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an audience of 50 in slices of 20, checked
    slice_rows(monkeypatch, 20)
    uri = upload("c.csv", small_csv(50))
    handle(campaign_fn, sqs_event([request(audience={"s3_uri": uri})])["Records"], context)
    event = {"Records": [as_record(m) for m in receive_all(aws.queues["CampaignQueue"])]}
    # When the first slice crashes right after sending its continuation
    original = fanout.FanOut._continue

    def crash(self: fanout.FanOut, *args: Any) -> None:
        original(self, *args)
        raise RuntimeError("Lambda timed out")

    with mock.patch.object(fanout.FanOut, "_continue", crash):
        assert handle(campaign_fn, event["Records"], context) == [event["Records"][0]["messageId"]]
    # And SQS redelivers the request (same message id)
    assert handle(campaign_fn, event["Records"], context) == []
    # Then the redelivery queued no job again, only the continuation
    assert [j["seq"] for j in jobs(aws)] == list(range(20))
    # And the chain completes with every seq exactly once
    run_continuations(campaign_fn, aws, context)
    assert [j["seq"] for j in jobs(aws)] == list(range(20, 50))
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert (record.status, record.audience) == ("queued", 50)


def test_csv_with_bom_quoted_commas_and_line_breaks_becomes_exact_jobs(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    data = (
        "\ufeffphone,first_name,note\r\n"
        '06 12 34 56 78,"Dupont, Léa","ligne 1\r\nligne ""2"""\r\n'
        "\r\n"
        "+33698765432,Zoé,\r\n"
    ).encode()
    uri = upload("edge.csv", data)
    handle(campaign_fn, sqs_event([request(audience={"s3_uri": uri})])["Records"], context)
    run_continuations(campaign_fn, aws, context)
    assert [(j["seq"], j["phone"], j["vars"]) for j in jobs(aws)] == [
        (0, "06 12 34 56 78", {"first_name": "Dupont, Léa", "note": 'ligne 1\r\nligne "2"'}),
        (1, "+33698765432", {"first_name": "Zoé", "note": None}),
    ]
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert (record.status, record.audience, record.header) == (
        "queued",
        2,
        ["phone", "first_name", "note"],
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b"mobile,first_name\n0612345678,A\n",
            "audience: 1 problem(s) in the file: line 1 must name the columns",
        ),
        (b"", "audience: 1 problem(s) in the file: the audience CSV is empty"),
        (None, "audience: s3://audiencebucket/missing.csv does not exist"),
    ],
)
def test_an_unusable_audience_file_is_refused_with_its_reason(
    campaign_fn: ModuleType,
    aws: Stack,
    context: LambdaContext,
    caplog: pytest.LogCaptureFixture,
    data: bytes | None,
    reason: str,
) -> None:
    uri = upload("bad.csv", data) if data is not None else f"s3://{BUCKET}/missing.csv"
    event = sqs_event([request(audience={"s3_uri": uri})])
    # When it is handled, and redelivered (it is checked again: a refused campaign may be)
    assert handle(campaign_fn, event["Records"], context) == [event["Records"][0]["messageId"]]
    assert handle(campaign_fn, event["Records"], context) == [event["Records"][0]["messageId"]]
    # Then it is refused each time (to the DLQ), the reason logged and recorded
    assert jobs(aws) == []
    refusals = [r for r in caplog.records if r.getMessage() == "campaign refused"]
    assert [r.__dict__["reason"].startswith(reason) for r in refusals] == [True, True]
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert record.status == "refused"
    assert str(record.reason).startswith(reason)


def test_a_header_only_audience_is_queued_with_audience_zero(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    uri = upload("empty.csv", b"phone,first_name\n")
    event = sqs_event([request(audience={"s3_uri": uri})])
    assert handle(campaign_fn, event["Records"], context) == []
    run_continuations(campaign_fn, aws, context)
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert (record.status, record.audience) == ("queued", 0)


def test_an_audience_replaced_during_the_fan_out_ends_it_and_says_who_was_not_sent(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an audience of 30, checked, whose first slice of 10 is queued
    slice_rows(monkeypatch, 10)
    uri = upload("r.csv", small_csv(30))
    handle(campaign_fn, sqs_event([request(audience={"s3_uri": uri})])["Records"], context)
    (start,) = receive_all(aws.queues["CampaignQueue"])
    handle(campaign_fn, [as_record(start)], context)
    # When the file is overwritten (offsets of the checked file mean nothing now)
    upload("r.csv", small_csv(31))
    (message,) = receive_all(aws.queues["CampaignQueue"])
    assert handle(campaign_fn, [as_record(message)], context) == []
    # Then the 10 queued go out, the 20 others are reported never queued: not "refused"
    assert [j["seq"] for j in jobs(aws)] == list(range(10))
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert (record.status, record.unsent) == ("queued", 20)
    assert str(record.reason) == (
        f"audience: {uri} changed while StopSMS was reading it after 10 recipient(s) were "
        "queued; "
        "the other 20 were not sent"
    )
    shown = report("soldes-hiver-2026")
    assert (shown["audience"], shown["failed"], shown["pending"]) == (30, 20, 10)
    assert shown["failures"] == {"audience_unavailable": 20}


def test_the_s3_example_event_is_fanned_out(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    event = json.loads((EVENTS / "campaign_s3.json").read_text())
    upload("audiences/rentree-2026.csv", small_csv(3))
    assert handle(campaign_fn, event["Records"], context) == []
    run_continuations(campaign_fn, aws, context)
    assert [j["seq"] for j in jobs(aws)] == [0, 1, 2]


# --- internal messages ------------------------------------------------------------------------


def test_internal_messages_for_unknown_campaigns_or_malformed_are_refused(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    bodies: list[str | dict[str, Any]] = [
        {"continuation": {"campaign_id": "nope", "offset": 0, "seq": 0}},
        {"continuation": {"campaign_id": "nope", "offset": -1}},
        {"release": {"campaign_id": "nope"}},
    ]
    event = sqs_event(bodies)
    assert handle(campaign_fn, event["Records"], context) == [
        r["messageId"] for r in event["Records"]
    ]


def test_campaign_items_keep_their_progress_fields(aws: Stack) -> None:
    # The fan-out's cursor lives on the campaign item, as template and model declare it.
    campaigns.create("x", {"k": 1}, "fanning_out", cursor=0, queued=0)
    assert campaigns.advance("x", expected=0, cursor=10, queued=3, advanced_by="m1", finished=False)
    assert not campaigns.advance(
        "x", expected=0, cursor=20, queued=6, advanced_by="m2", finished=False
    )
    item = Campaign.get("x")
    assert (item.cursor, item.queued, item.advanced_by) == (10, 3, "m1")


def test_an_inline_request_too_large_to_record_is_refused_towards_s3(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, caplog: pytest.LogCaptureFixture
) -> None:
    # Given 10,000 inline recipients with long variables (SQS takes up to 1 MiB, DynamoDB 400 KB)
    recipients = [{"phone": "0612345678", "vars": {"note": "x" * 40}}] * 10_000
    event = sqs_event([request(recipients)])
    # When it is handled, it is refused with a pointer to S3 audiences
    assert handle(campaign_fn, event["Records"], context) == [event["Records"][0]["messageId"]]
    (refusal,) = [r for r in caplog.records if r.getMessage() == "campaign refused"]
    assert refusal.__dict__["reason"].endswith("give large audiences as an S3 CSV")
    assert jobs(aws) == []


def test_a_copy_of_a_slice_that_loses_the_race_for_the_cursor_sends_no_continuation(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two copies of a slice run at once: the other copy moves the cursor first
    slice_rows(monkeypatch, 20)
    uri = upload("race.csv", small_csv(50))
    handle(campaign_fn, sqs_event([request(audience={"s3_uri": uri})])["Records"], context)
    event = {"Records": [as_record(m) for m in receive_all(aws.queues["CampaignQueue"])]}
    with mock.patch.object(fanout.campaigns, "advance", return_value=False):
        # When this copy tries to move the cursor
        assert handle(campaign_fn, event["Records"], context) == []
    # Then it hands nothing on: the winner sends the one continuation
    assert receive_all(aws.queues["CampaignQueue"]) == []


def test_a_long_inline_list_is_sliced_like_a_file(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given inline recipients beyond one slice
    slice_rows(monkeypatch, 2)
    phones = [f"06123456{i:02d}" for i in range(5)]
    handle(campaign_fn, sqs_event([request(phones)])["Records"], context)
    # When the continuations run
    assert run_continuations(campaign_fn, aws, context) == 2
    # Then every recipient is queued once, in list order
    assert [(j["seq"], j["phone"]) for j in jobs(aws)] == list(enumerate(phones))
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert (record.status, record.audience, record.cursor) == ("queued", 5, 5)


# --- "refused" means nothing was sent (contract §2) -------------------------------------------


def test_a_file_broken_at_its_last_row_is_refused_before_anyone_is_queued_then_sent_once_fixed(
    campaign_fn: ModuleType,
    aws: Stack,
    context: LambdaContext,
    spy: SqsSpy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given 450 valid rows followed by one Latin-1 row (the send queue answered, not stored)
    spy.answer = True
    good = small_csv(450)
    uri = upload("soldes.csv", good + b"+33699999999,L\xe9a\n")
    event = sqs_event([request(audience={"s3_uri": uri})], queue="CampaignQueue")
    # When the campaign is published
    assert handle(campaign_fn, event["Records"], context) == [event["Records"][0]["messageId"]]
    run_continuations(campaign_fn, aws, context)
    # Then it is refused with the line at fault, and nobody was queued
    assert spy.seqs() == []
    shown = report("soldes-hiver-2026")
    assert (shown["status"], shown["audience"], shown["pending"]) == ("refused", 0, 0)
    assert "line 452 is not UTF-8 (byte 0xE9" in str(shown["reason"])
    assert "+33699999999" not in str(shown["reason"])
    # When the fixed file is published again under the same campaign_id
    upload("soldes.csv", good + "+33699999999,Léa\n".encode())
    assert handle(campaign_fn, event["Records"], context) == []
    run_continuations(campaign_fn, aws, context)
    # Then it is accepted and every row is queued exactly once
    assert sorted(spy.seqs()) == list(range(451))
    shown = report("soldes-hiver-2026")
    assert (shown["status"], shown["reason"], shown["audience"]) == ("sending", None, 451)
    # And publishing it again queues nobody a second time
    again = sqs_event([request(audience={"s3_uri": uri})])
    assert handle(campaign_fn, again["Records"], context) == []
    run_continuations(campaign_fn, aws, context)
    assert len(spy.seqs()) == 451
    assert all("612345678" not in str(r.__dict__) for r in caplog.records)


@pytest.mark.parametrize(
    ("tail", "problem"),
    [
        (b'+33699999999,"unterminated\n', "line 452 has a quote that is never closed"),
        (b"+33699999999,Dupont, Lea\n", "line 452 has 3 fields, the header names 2"),
    ],
)
def test_a_structural_problem_anywhere_refuses_the_campaign_whole(
    campaign_fn: ModuleType,
    aws: Stack,
    context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    tail: bytes,
    problem: str,
) -> None:
    # Given a file checked in slices of 100 rows, broken in its last one
    monkeypatch.setenv("STOPSMS_CHECK_SLICE_ROWS", "100")
    get_settings.cache_clear()
    uri = upload("broken.csv", small_csv(450) + tail)
    handle(campaign_fn, sqs_event([request(audience={"s3_uri": uri})])["Records"], context)
    # When every slice of the check has run (each a continuation)
    records = [as_record(m) for m in receive_all(aws.queues["CampaignQueue"])]
    while records:
        handle(campaign_fn, records, context)
        records = [as_record(m) for m in receive_all(aws.queues["CampaignQueue"])]
    # Then the campaign is refused, nothing queued
    assert jobs(aws) == []
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert record.status == "refused"
    assert problem in str(record.reason)


def test_a_headerless_file_is_refused_without_a_phone_number_in_the_reason_or_logs(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, caplog: pytest.LogCaptureFixture
) -> None:
    uri = upload("noheader.csv", b"0633445566,Lea\n0698765432,Tom\n")
    handle(campaign_fn, sqs_event([request(audience={"s3_uri": uri})])["Records"], context)
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert record.status == "refused"
    assert "found 2: ********66, Lea" in str(record.reason)
    for text in (str(record.reason), *(str(r.__dict__) for r in caplog.records)):
        assert "0633445566" not in text
        assert "633445566" not in text


def test_a_file_replaced_between_two_slices_of_its_check_is_refused_not_half_sent(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOPSMS_CHECK_SLICE_ROWS", "10")
    get_settings.cache_clear()
    uri = upload("moving.csv", small_csv(30))
    handle(campaign_fn, sqs_event([request(audience={"s3_uri": uri})])["Records"], context)
    upload("moving.csv", small_csv(31))
    (message,) = receive_all(aws.queues["CampaignQueue"])
    assert handle(campaign_fn, [as_record(message)], context) == [message["MessageId"]]
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert (record.status, str(record.reason)) == (
        "refused",
        f"audience: {uri} changed while StopSMS was reading it. Nothing was sent: publish the "
        "campaign again (same campaign_id) once fixed.",
    )
    assert jobs(aws) == []


def test_a_duplicated_check_slice_checks_and_queues_everyone_once(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOPSMS_CHECK_SLICE_ROWS", "10")
    get_settings.cache_clear()
    slice_rows(monkeypatch, 10)
    uri = upload("dup.csv", small_csv(35))
    event = sqs_event([request(audience={"s3_uri": uri})])
    handle(campaign_fn, event["Records"], context)
    # Every message from here on is delivered twice: the original and a stale copy
    while messages := receive_all(aws.queues["CampaignQueue"]):
        records = [as_record(m) for m in messages]
        copies = [sqs_record(m["Body"], "CampaignQueue") for m in messages]
        assert handle(campaign_fn, records + copies + event["Records"], context) == []
    assert [j["seq"] for j in jobs(aws)] == list(range(35))
    assert report("soldes-hiver-2026")["audience"] == 35


def test_send_at_beyond_a_year_is_refused_with_a_reason(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, caplog: pytest.LogCaptureFixture
) -> None:
    event = sqs_event([request(send_at="9999-12-31T23:59:00+00:00")])
    assert handle(campaign_fn, event["Records"], context) == [event["Records"][0]["messageId"]]
    (refusal,) = [r for r in caplog.records if r.getMessage() == "campaign refused"]
    assert refusal.__dict__["reason"] == "send_at: Value error, is more than 366 days ahead"
    assert campaigns.get("soldes-hiver-2026") is None


def test_control_characters_in_a_body_are_refused(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, caplog: pytest.LogCaptureFixture
) -> None:
    bodies = ["Promo\x00 -20%", "Promo\x07", "Prix \u202e%02-\u202c", "Promo \u2066x\u2069"]
    event = sqs_event([request(campaign_id=f"c{n}", body=b) for n, b in enumerate(bodies)])
    assert len(handle(campaign_fn, event["Records"], context)) == 4
    reasons = [r.__dict__["reason"] for r in caplog.records if r.getMessage() == "campaign refused"]
    assert [reason.split(": Value error, ")[1] for reason in reasons] == [
        "holds the control character U+0000: remove it",
        "holds the control character U+0007: remove it",
        "holds the control character U+202E: remove it",
        "holds the control character U+2066: remove it",
    ]
    assert jobs(aws) == []


def test_a_campaign_id_already_used_by_another_request_is_refused(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, caplog: pytest.LogCaptureFixture
) -> None:
    first = sqs_event([request(brand="acme")])
    assert handle(campaign_fn, first["Records"], context) == []
    other = sqs_event([request(brand="globex")])
    assert handle(campaign_fn, other["Records"], context) == [other["Records"][0]["messageId"]]
    (refusal,) = [r for r in caplog.records if r.getMessage() == "campaign refused"]
    assert "is already recorded with another request" in refusal.__dict__["reason"]
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert record.request["brand"] == "acme"
    # And the same request again is a redelivery, not a refusal
    assert handle(campaign_fn, sqs_event([request(brand="acme")])["Records"], context) == []


def test_send_at_as_a_number_is_refused(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, caplog: pytest.LogCaptureFixture
) -> None:
    event = sqs_event([request(send_at=1796000000)])
    assert handle(campaign_fn, event["Records"], context) == [event["Records"][0]["messageId"]]
    (refusal,) = [r for r in caplog.records if r.getMessage() == "campaign refused"]
    assert "ISO-8601" in refusal.__dict__["reason"]


@pytest.mark.parametrize(
    "data",
    [
        # a quote inside an unquoted cell is a plain character: it swallows nothing
        'phone,name\n+33612345670,Lé"a\n+33612345671,Bob\n+33612345672,O"Brien\n+33612345673,Z\n',
        # CR-only line ends, and a lone CR among LFs
        "phone,name\r+33612345670,A\r+33612345671,B\r+33612345672,C\r+33612345673,D\r",
        "phone,name\n+33612345670,A\r+33612345671,B\n+33612345672,C\n+33612345673,D\n",
    ],
)
def test_every_row_of_an_odd_but_valid_file_is_queued(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext, data: str
) -> None:
    uri = upload("odd.csv", data.encode())
    handle(campaign_fn, sqs_event([request(audience={"s3_uri": uri})])["Records"], context)
    run_continuations(campaign_fn, aws, context)
    assert [j["seq"] for j in jobs(aws)] == [0, 1, 2, 3]
    assert report("soldes-hiver-2026")["audience"] == 4


def test_a_header_naming_phone_twice_in_two_cases_is_refused(
    campaign_fn: ModuleType, aws: Stack, context: LambdaContext
) -> None:
    uri = upload("twice.csv", b"phone,Phone\n,+33612345670\n")
    handle(campaign_fn, sqs_event([request(audience={"s3_uri": uri})])["Records"], context)
    shown = report("soldes-hiver-2026")
    assert shown["status"] == "refused"
    assert "line 1 names columns twice: phone" in str(shown["reason"])


@pytest.mark.parametrize(
    "first_line",
    [
        "06\u201133\u201144\u201155\u201166,Léa",  # non-breaking hyphens: a valid number
        "06 - 33 - 44 - 55 - 66,Léa",  # wide separators (second adversarial pass)
        "06 / 33 / 44 / 55 / 66,Léa",
        "06 . 33 . 44 . 55 . 66,Léa",
        "phone,06 - 33 - 44 - 55 - 66,06 - 33 - 44 - 55 - 66",  # a column named twice
    ],
)
def test_a_headerless_file_with_unusual_separators_names_no_number(
    campaign_fn: ModuleType,
    aws: Stack,
    context: LambdaContext,
    caplog: pytest.LogCaptureFixture,
    first_line: str,
) -> None:
    uri = upload("nb.csv", f"{first_line}\n0611223344,Bob\n".encode())
    handle(campaign_fn, sqs_event([request(audience={"s3_uri": uri})])["Records"], context)
    reason = str(report("soldes-hiver-2026")["reason"])
    for text in (reason, *(str(r.__dict__) for r in caplog.records)):
        assert "633445566" not in "".join(c for c in text if c.isdigit())
