from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from stopsms.models import CampaignRequest, Category, ConsentRecord, InboundReply, describe

CAMPAIGN: dict[str, Any] = {
    "campaign_id": "soldes-hiver-2026",
    "category": "marketing",
    "brand": "acme",
    "language": "fr",
    "body": "Bonjour {first_name}, -20% ce week-end chez Acme !",
    "origination_identity": "36111",
    "stop_number": "36111",
    "max_segments": 2,
    "recipients": [{"phone": "06 12 34 56 78", "vars": {"first_name": "Léa"}}, "+33698765432"],
}


def refusal(model: type[Any], payload: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(payload)
    return describe(caught.value)


def test_contract_example_parses() -> None:
    request = CampaignRequest.model_validate_json(json.dumps(CAMPAIGN))
    assert request.category is Category.MARKETING
    assert request.category.is_marketing
    assert [r.phone for r in request.inline_recipients()] == ["06 12 34 56 78", "+33698765432"]
    assert request.inline_recipients()[0].vars == {"first_name": "Léa"}


def test_defaults_and_extra_fields() -> None:
    minimal = {
        "campaign_id": "c1",
        "category": "transactional",
        "body": "Code 1234",
        "recipients": ["+33612345678"],
        "tracking": {"utm": "x"},
    }
    request = CampaignRequest.model_validate(minimal)
    assert (request.brand, request.language, request.max_segments) == ("default", "fr", None)


def test_s3_audience() -> None:
    request = CampaignRequest.model_validate(
        {**CAMPAIGN, "recipients": None, "audience": {"s3_uri": "s3://my-bucket/lists/a.csv"}}
    )
    assert request.audience is not None
    assert request.audience.location == ("my-bucket", "lists/a.csv")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"campaign_id": "bad id with spaces"}, "campaign_id"),
        ({"campaign_id": "x" * 65}, "campaign_id"),
        ({"category": "promo"}, "category"),
        ({"language": "de"}, "language"),
        ({"body": ""}, "body"),
        ({"body": "Hi {0.__class__}"}, "body"),
        ({"body": "Hi {name"}, "body"),
        ({"brand": "*"}, "brand"),
        ({"stop_number": "STOP"}, "stop_number"),
        ({"max_segments": 0}, "max_segments"),
        ({"send_at": "2026-12-01T10:00:00"}, "send_at"),  # no offset
        ({"recipients": []}, "recipients"),
        ({"recipients": [{"vars": {}}]}, "recipients.0"),
        ({"recipients": None}, "give exactly one"),
        ({"audience": {"s3_uri": "https://bucket/key"}}, "audience.s3_uri"),
        ({"audience": {"s3_uri": "s3://bucket/k.csv"}}, "give exactly one"),
    ],
)
def test_campaign_refusals_name_the_field(change: dict[str, Any], field: str) -> None:
    assert field in refusal(CampaignRequest, {**CAMPAIGN, **change})


def test_missing_required_fields_are_named() -> None:
    message = refusal(CampaignRequest, {"category": "marketing"})
    assert "campaign_id: Field required" in message
    assert "body: Field required" in message


CONSENT: dict[str, Any] = {
    "action": "opt_in",
    "phone": "06 12 34 56 78",
    "brand": "acme",
    "source": "web-form https://acme.example/newsletter",
    "captured_at": "2026-11-20T14:03:00+01:00",
    "proof": {"ip": "203.0.113.7", "checkbox_text": "J'accepte"},
}


def test_consent_record_normalises_the_phone() -> None:
    record = ConsentRecord.model_validate(CONSENT)
    assert record.phone == "+33612345678"
    assert record.captured_at == datetime(2026, 11, 20, 13, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"action": "maybe"}, "action"),
        ({"phone": "12"}, "phone"),
        ({"source": ""}, "source"),
        ({"captured_at": "yesterday"}, "captured_at"),
        ({"captured_at": "2026-11-20T14:03:00"}, "captured_at"),
        (
            {"captured_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()},
            "captured_at: Value error, is in the future",
        ),
    ],
)
def test_consent_refusals_name_the_field(change: dict[str, Any], field: str) -> None:
    assert field in refusal(ConsentRecord, {**CONSENT, **change})


def test_inbound_reply_uses_the_aws_field_names() -> None:
    reply = InboundReply.model_validate(
        {
            "originationNumber": "+33612345678",
            "destinationNumber": "36111",
            "messageKeyword": "KEYWORD_123456789012",
            "messageBody": "Stop",
            "inboundMessageId": "cae173d2-66b9-564c-8309-21f858e9fb84",
            "previousPublishedMessageId": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        }
    )
    assert reply.message_body == "Stop"
    assert reply.previous_published_message_id is not None
    assert "inboundMessageId" in refusal(
        InboundReply, {"originationNumber": "+1", "destinationNumber": "1"}
    )
