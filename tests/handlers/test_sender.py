"""The sender, driven through its real handler with SQS events, against moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
from botocore.stub import Stubber

from stopsms import clock
from stopsms.aws import clients
from stopsms.dal import campaigns, contacts, deliveries, evidence
from stopsms.dal.tables import GLOBAL_SCOPE, Campaign, Delivery
from stopsms.emulator.template import Stack
from stopsms.models import CampaignRequest, SendJob
from stopsms.reporting import report
from stopsms.sending import service as sending
from stopsms.settings import get_settings
from tests.handlers.conftest import LambdaContext, failed_ids, load_function, sqs_record
from tests.handlers.sms import FakeSms, client_error

MONDAY_10H_PARIS = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SUNDAY_PARIS = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
CONSENTED_AT = datetime(2026, 10, 1, tzinfo=UTC)

A, B, C, D, E = (f"+3361234560{n}" for n in range(1, 6))


@pytest.fixture
def sender(aws: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")  # tests should not wait for the limiter
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        yield load_function("sender")


@pytest.fixture
def sms() -> Iterator[FakeSms]:
    fake = FakeSms()
    with mock.patch.object(clients, "sms", return_value=fake):
        yield fake


def campaign(recipients: list[Any], **fields: Any) -> CampaignRequest:
    request = {
        "campaign_id": "soldes-hiver-2026",
        "category": "marketing",
        "brand": "acme",
        "body": "Bonjour {first_name}, -20% ce week-end chez Acme !",
        "stop_number": "36111",
        "recipients": recipients,
        **fields,
    }
    parsed = CampaignRequest.model_validate(request)
    campaigns.create(
        parsed.campaign_id, parsed.model_dump(mode="json"), "queued", audience=len(recipients)
    )
    return parsed


def jobs_of(request: CampaignRequest) -> list[dict[str, Any]]:
    return [
        sqs_record(SendJob.for_recipient(request, seq, r).model_dump_json(), "SendQueue")
        for seq, r in enumerate(request.inline_recipients())
    ]


def handle(sender: ModuleType, records: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = sender.lambda_handler({"Records": records}, LambdaContext())
    return result


def consent(*phones: str, brand: str = "acme") -> None:
    for phone in phones:
        contacts.apply(phone, brand, "opted_in", CONSENTED_AT, source="web-form")


def test_marketing_campaign_suppresses_each_reason_and_sends_once_with_the_mention(
    sender: ModuleType, sms: FakeSms
) -> None:
    # Given consents for A, B, C, D; C opted out of acme, D sent STOPALL; E never consented
    consent(A, B, C, D)
    contacts.apply(C, "acme", "opted_out", CONSENTED_AT + timedelta(days=1), source="reply")
    contacts.apply(D, GLOBAL_SCOPE, "opted_out", CONSENTED_AT + timedelta(days=1), source="reply")
    request = campaign(
        [
            {"phone": "06 12 34 56 01", "vars": {"first_name": "Léa"}},
            {"phone": B, "vars": {"first_name": "Tom"}},
            {"phone": C, "vars": {"first_name": "Zoé"}},
            {"phone": D, "vars": {"first_name": "Max"}},
            {"phone": E, "vars": {"first_name": "Eva"}},
            {"phone": "12", "vars": {"first_name": "Bad"}},
            {"phone": "+33 (0)6 12 34 56 01", "vars": {"first_name": "Léa"}},
        ]
    )
    # When the send jobs arrive in one batch
    response = handle(sender, jobs_of(request))
    # Then only A and B get exactly one SMS, with the STOP mention, as PROMOTIONAL
    assert response == {"batchItemFailures": []}
    assert sorted(m["DestinationPhoneNumber"] for m in sms.sent) == [A, B]
    first = sms.to(A)[0]
    assert first["MessageBody"] == "Bonjour Léa, -20% ce week-end chez Acme ! STOP au 36111"
    assert first["MessageType"] == "PROMOTIONAL"
    assert first["Context"] == {"campaign_id": "soldes-hiver-2026", "seq": "0"}
    # And every recipient has exactly one outcome
    shown = report("soldes-hiver-2026")
    assert shown.pop("compliance")["mention"] == "STOP au 36111"
    assert shown == {
        "campaign_id": "soldes-hiver-2026",
        "status": "done",
        "reason": None,
        "resume_at": None,
        "audience": 7,
        "sent": 2,
        "failed": 0,
        "pending": 0,
        "cancelled": 0,
        "suppressed": {"opted_out": 2, "no_consent": 1, "invalid_number": 1, "duplicate": 1},
        "failures": {},
        "opt_outs": 0,
        "segments": 2,
        "delivery": {"delivered": 0, "undelivered": {}, "awaiting": 2},  # no event yet
        "cost": {"currency": "USD", "total": 0.0, "per_delivered": None},
        "estimate": None,
    }
    # And the outbound MessageId is kept, so a reply can be attributed to the campaign
    assert deliveries.campaign_for_message(first["MessageId"]) == "soldes-hiver-2026"


def test_transactional_reaches_an_opted_out_number_without_mention(
    sender: ModuleType, sms: FakeSms
) -> None:
    contacts.apply(A, GLOBAL_SCOPE, "opted_out", CONSENTED_AT, source="reply")
    request = campaign(
        [A], campaign_id="otp-1", category="transactional", body="Votre code : 482913"
    )
    with mock.patch.object(clock, "now", return_value=SUNDAY_PARIS):  # no window either
        handle(sender, jobs_of(request))
    assert [(m["MessageBody"], m["MessageType"]) for m in sms.sent] == [
        ("Votre code : 482913", "TRANSACTIONAL")
    ]


def test_the_same_job_delivered_twice_gives_one_sms(sender: ModuleType, sms: FakeSms) -> None:
    consent(A)
    request = campaign([{"phone": A, "vars": {"first_name": "Léa"}}])
    (job,) = jobs_of(request)
    twin = {**job, "messageId": "another-delivery"}
    # Both copies in one batch, then again in a later batch (SQS redelivery)
    assert handle(sender, [job, twin]) == {"batchItemFailures": []}
    assert handle(sender, [twin]) == {"batchItemFailures": []}
    assert len(sms.sent) == 1
    assert report("soldes-hiver-2026")["sent"] == 1


def test_throttling_then_success_gives_one_sms(sender: ModuleType) -> None:
    consent(A)
    request = campaign([{"phone": A, "vars": {"first_name": "Léa"}}])
    client = clients.sms()
    with Stubber(client) as stubber, mock.patch.object(clients, "sms", return_value=client):
        stubber.add_client_error("send_text_message", "ThrottlingException", http_status_code=400)
        stubber.add_client_error("send_text_message", "ThrottlingException", http_status_code=400)
        stubber.add_response(
            "send_text_message",
            {"MessageId": "msg-1"},
            expected_params={
                "DestinationPhoneNumber": A,
                "MessageBody": "Bonjour Léa, -20% ce week-end chez Acme ! STOP au 36111",
                "MessageType": "PROMOTIONAL",
                "Context": {"campaign_id": "soldes-hiver-2026", "seq": "0"},
                "ConfigurationSetName": get_settings().configuration_set,
            },
        )
        with mock.patch("time.sleep"):
            response = handle(sender, jobs_of(request))
        stubber.assert_no_pending_responses()
    assert response == {"batchItemFailures": []}
    assert report("soldes-hiver-2026")["sent"] == 1


def test_throttling_that_persists_is_left_to_sqs_then_sent_once(
    sender: ModuleType, sms: FakeSms
) -> None:
    consent(A, B)
    request = campaign(
        [{"phone": A, "vars": {"first_name": "Léa"}}, {"phone": B, "vars": {"first_name": "Tom"}}]
    )
    records = jobs_of(request)
    sms.fail = lambda p: (
        client_error("ThrottlingException") if p["DestinationPhoneNumber"] == A else None
    )
    with mock.patch("time.sleep"):
        response = handle(sender, records)
    # A is handed back to SQS (its claim released), B is sent
    assert failed_ids(response) == [records[0]["messageId"]]
    assert [m["DestinationPhoneNumber"] for m in sms.sent] == [B]
    assert report("soldes-hiver-2026")["pending"] == 1
    # When SQS redelivers A and the account is no longer throttled
    sms.fail = lambda _: None
    redelivery = {
        **records[0],
        "attributes": {**records[0]["attributes"], "ApproximateReceiveCount": "2"},
    }
    assert handle(sender, [redelivery]) == {"batchItemFailures": []}
    assert sorted(m["DestinationPhoneNumber"] for m in sms.sent) == [A, B]


def test_throttling_on_the_last_receive_is_failed_and_left_in_the_dlq(
    sender: ModuleType, sms: FakeSms
) -> None:
    consent(A)
    request = campaign([{"phone": A, "vars": {"first_name": "Léa"}}])
    (record,) = jobs_of(request)
    record["attributes"]["ApproximateReceiveCount"] = "5"
    sms.fail = lambda _: client_error("ThrottlingException")
    with mock.patch("time.sleep"):
        assert failed_ids(handle(sender, [record])) == [record["messageId"]]
    assert report("soldes-hiver-2026")["failed"] == 1
    # A redrive from the DLQ may try again, once
    sms.fail = lambda _: None
    assert handle(sender, [record]) == {"batchItemFailures": []}
    assert len(sms.sent) == 1
    assert report("soldes-hiver-2026")["sent"] == 1


def test_opted_out_at_aws_becomes_our_opt_out(sender: ModuleType, sms: FakeSms) -> None:
    consent(A)
    request = campaign([{"phone": A, "vars": {"first_name": "Léa"}}])
    sms.fail = lambda _: client_error("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT")
    assert handle(sender, jobs_of(request)) == {"batchItemFailures": []}
    assert report("soldes-hiver-2026")["suppressed"]["opted_out"] == 1
    assert contacts.lookup([A], "acme")[A][1] is not None
    (event,) = [e for e in evidence.history(A) if e.kind == "opt_out"]
    assert event.source.endswith("DESTINATION_PHONE_NUMBER_OPTED_OUT")
    assert event.campaign_id == "soldes-hiver-2026"


def test_permanent_error_fails_the_recipient_without_retry(
    sender: ModuleType, sms: FakeSms
) -> None:
    consent(A)
    request = campaign([{"phone": A, "vars": {"first_name": "Léa"}}])
    sms.fail = lambda _: client_error("ValidationException")
    assert handle(sender, jobs_of(request)) == {"batchItemFailures": []}
    item = Delivery.get("soldes-hiver-2026", deliveries.claim_key(A))
    assert (item.status, item.reason) == ("failed", "ValidationException")


def test_crash_between_send_and_bookkeeping_never_sends_twice(
    sender: ModuleType, sms: FakeSms
) -> None:
    consent(A)
    request = campaign([{"phone": A, "vars": {"first_name": "Léa"}}])
    (record,) = jobs_of(request)
    # Given the function dies after SendTextMessage, before recording the outcome
    with (
        mock.patch.object(deliveries, "finish", side_effect=RuntimeError("killed")),
        pytest.raises(RuntimeError),
    ):
        handle(sender, [record])
    assert len(sms.sent) == 1
    # When SQS redelivers soon after: the claim may still be in flight, so wait
    assert failed_ids(handle(sender, [record])) == [record["messageId"]]
    # And later: recorded as unconfirmed, never sent a second time
    later = MONDAY_10H_PARIS + sending.STALE_CLAIM + timedelta(minutes=1)
    with mock.patch.object(clock, "now", return_value=later):
        assert handle(sender, [record]) == {"batchItemFailures": []}
    assert len(sms.sent) == 1
    item = Delivery.get("soldes-hiver-2026", deliveries.claim_key(A))
    assert (item.status, item.reason) == ("failed", "unconfirmed")


def test_missing_variable_and_max_segments_fail_that_recipient_only(
    sender: ModuleType, sms: FakeSms
) -> None:
    consent(A, B, C)
    request = campaign(
        [
            {"phone": A, "vars": {"first_name": "Léa"}},
            {"phone": B, "vars": {}},
            {"phone": C, "vars": {"first_name": "x" * 150}},
        ],
        max_segments=1,
    )
    assert handle(sender, jobs_of(request)) == {"batchItemFailures": []}
    assert [m["DestinationPhoneNumber"] for m in sms.sent] == [A]
    reasons = {i.reason for i in Delivery.query("soldes-hiver-2026") if i.status == "failed"}
    assert reasons == {"missing_variable", "max_segments"}


def test_outside_the_window_marketing_is_deferred_not_sent(
    sender: ModuleType, sms: FakeSms
) -> None:
    consent(A)
    request = campaign([{"phone": A, "vars": {"first_name": "Léa"}}])
    with mock.patch.object(clock, "now", return_value=SUNDAY_PARIS):
        assert handle(sender, jobs_of(request)) == {"batchItemFailures": []}
    assert sms.sent == []
    (parked,) = [item for item in Campaign.scan() if item.deferred == "job"]
    assert parked.resume_at == "2026-11-30T07:00:00+00:00"  # Monday 08:00 in Paris
    assert report("soldes-hiver-2026")["pending"] == 1


def test_a_malformed_job_fails_alone(sender: ModuleType, sms: FakeSms) -> None:
    consent(A)
    request = campaign([{"phone": A, "vars": {"first_name": "Léa"}}])
    bad = sqs_record("{not json", "SendQueue")
    response = handle(sender, [bad, *jobs_of(request)])
    assert failed_ids(response) == [bad["messageId"]]
    assert len(sms.sent) == 1


def test_rate_limiter_spaces_sends() -> None:
    ticks = iter([0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 1.0, 1.0])
    limiter = sending.RateLimiter(2, clock=lambda: next(ticks))
    with mock.patch("time.sleep") as sleep:
        limiter.wait()
        limiter.wait()
        limiter.wait()  # the bucket is empty: waits for a token
    assert sleep.call_count >= 1
    assert json.dumps(sleep.call_args_list[0].args[0]) == "0.5"


def test_a_consent_older_than_the_retention_period_has_lapsed_with_its_proof(
    sender: ModuleType, sms: FakeSms
) -> None:
    # Given an opt-in captured on 2023-06-01 (its proof expired after RetentionDays, 1,095
    # days) and a fresh one, through the consent function as upstream would send them
    consent_fn = load_function("consent")
    records = [
        {
            "action": "opt_in",
            "phone": phone,
            "brand": "acme",
            "source": "web-form",
            "captured_at": at.isoformat(),
        }
        for phone, at in ((A, datetime(2023, 6, 1, tzinfo=UTC)), (B, CONSENTED_AT))
    ]
    consent_fn.lambda_handler(
        {"Records": [sqs_record(r, "ConsentQueue") for r in records]}, LambdaContext()
    )
    old = next(e for e in evidence.history(A) if e.kind == "opt_in")
    assert old.expires_at is not None
    assert old.expires_at < MONDAY_10H_PARIS  # DynamoDB TTL deletes this proof...
    # When a marketing campaign goes to both
    request = campaign(
        [{"phone": A, "vars": {"first_name": "Léa"}}, {"phone": B, "vars": {"first_name": "Tom"}}]
    )
    handle(sender, jobs_of(request))
    # Then the lapsed consent is not relied on: no SMS without a proof of consent
    assert [m["DestinationPhoneNumber"] for m in sms.sent] == [B]
    assert report("soldes-hiver-2026")["suppressed"]["no_consent"] == 1


def test_a_variable_holding_a_control_character_fails_that_recipient_only(
    sender: ModuleType, sms: FakeSms
) -> None:
    consent(A, B)
    request = campaign(
        [
            {"phone": A, "vars": {"first_name": "L\u202eéa"}},
            {"phone": B, "vars": {"first_name": "Tom\x00"}},
            {"phone": "06 12\x0034 56 03", "vars": {"first_name": "Max"}},
        ]
    )
    assert handle(sender, jobs_of(request)) == {"batchItemFailures": []}
    assert sms.sent == []
    shown = report("soldes-hiver-2026")
    assert shown["failures"] == {"control_character": 2}
    assert shown["suppressed"]["invalid_number"] == 1


@pytest.mark.parametrize(
    "body", ["Soldes non stop au 36111 !", "Ouvert non stop 36111, venez !", "Bus stop 36111"]
)
def test_a_stop_that_is_no_instruction_gets_the_mention(
    sender: ModuleType, sms: FakeSms, body: str
) -> None:
    # "non stop" written with a space is no way to opt out (third adversarial pass)
    consent(A)
    handle(sender, jobs_of(campaign([A], body=body)))
    [sent] = sms.sent
    assert sent["MessageBody"] == f"{body} STOP au 36111"
