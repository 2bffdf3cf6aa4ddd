"""Data access against moto tables created from template.yaml."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest

from stopsms.aws import clients
from stopsms.dal import batch, contacts, evidence
from stopsms.dal.number_items import NUMBER_ITEM
from stopsms.dal.tables import GLOBAL_SCOPE, ContactState, Evidence, NumberItem
from stopsms.emulator.template import Stack
from stopsms.errors import AlreadyExists, StaleEvent
from stopsms.rules.eligibility import Preference

T0 = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
PHONE = "+33612345678"


def test_tables_are_those_of_the_template(aws: Stack) -> None:
    names = set(clients.dynamodb().list_tables()["TableNames"])
    assert names == {
        "ContactStateTable",
        "EvidenceTable",
        "CampaignsTable",
        "DeliveriesTable",
        "IdempotencyTable",
    }
    assert ContactState.Meta.table_name == "ContactStateTable"


def test_later_event_wins_whatever_the_arrival_order(aws: Stack) -> None:
    # Given an opt-out captured after an opt-in, delivered first
    contacts.apply(PHONE, "acme", "opted_out", T0 + timedelta(hours=1), source="form")
    # When the older opt-in arrives
    with pytest.raises(StaleEvent):
        contacts.apply(PHONE, "acme", "opted_in", T0, source="form")
    # Then the state is still the opt-out
    assert contacts.lookup([PHONE], "acme")[PHONE] == (
        Preference("opted_out", T0 + timedelta(hours=1)),
        None,
    )


def test_newer_event_replaces_state_and_tie_goes_to_opt_out(aws: Stack) -> None:
    contacts.apply(PHONE, "acme", "opted_in", T0, source="form")
    contacts.apply(PHONE, "acme", "opted_out", T0, source="reply")  # same instant: opt-out wins
    with pytest.raises(StaleEvent):
        contacts.apply(PHONE, "acme", "opted_in", T0, source="form")
    contacts.apply(PHONE, "acme", "opted_in", T0 + timedelta(seconds=1), source="reply")
    assert contacts.lookup([PHONE], "acme")[PHONE][0] == Preference(
        "opted_in", T0 + timedelta(seconds=1)
    )


def test_lookup_reads_brand_and_global_scope_for_many_phones(aws: Stack) -> None:
    phones = [f"+336{n:08d}" for n in range(150)]
    for phone in phones[::3]:
        contacts.apply(phone, GLOBAL_SCOPE, "opted_out", T0, source="reply")
    for phone in phones[::5]:
        contacts.apply(phone, "acme", "opted_in", T0, source="form")
    with mock.patch.object(
        clients.dynamodb(), "batch_get_item", wraps=clients.dynamodb().batch_get_item
    ) as spy:
        states = contacts.lookup(phones + phones[:10], "acme")
    assert spy.call_count == 3  # 300 keys, 100 per request
    assert len(states) == 150
    assert states[phones[15]] == (Preference("opted_in", T0), Preference("opted_out", T0))
    assert states[phones[1]] == (None, None)
    assert contacts.state_of(phones[0])[0].scope == GLOBAL_SCOPE


def test_batch_get_retries_unprocessed_keys_with_backoff(aws: Stack) -> None:
    contacts.apply(PHONE, "acme", "opted_in", T0, source="form")
    real = clients.dynamodb().batch_get_item
    calls: list[dict[str, Any]] = []

    def flaky(**kwargs: Any) -> Any:
        calls.append(kwargs)
        if len(calls) == 1:  # DynamoDB answers nothing and hands every key back
            return {"Responses": {}, "UnprocessedKeys": kwargs["RequestItems"]}
        return real(**kwargs)

    sleeps: list[float] = []
    with mock.patch.object(clients.dynamodb(), "batch_get_item", side_effect=flaky):
        found = batch.batch_get({NumberItem: [(PHONE, NUMBER_ITEM)]}, sleep=sleeps.append)
    assert len(calls) == 2
    assert len(sleeps) == 1
    assert found[NumberItem][(PHONE, NUMBER_ITEM)].states["acme"].status == "opted_in"


def test_batch_get_gives_up_with_a_clear_error(aws: Stack) -> None:
    def stuck(**kwargs: Any) -> Any:
        return {"Responses": {}, "UnprocessedKeys": kwargs["RequestItems"]}

    with (
        mock.patch.object(clients.dynamodb(), "batch_get_item", side_effect=stuck),
        pytest.raises(batch.BatchReadIncomplete),
    ):
        batch.batch_get({ContactState: [(PHONE, "acme")]}, max_attempts=3, sleep=lambda _: None)


def test_evidence_is_append_only_and_chronological(aws: Stack) -> None:
    def record(at: datetime, event_id: str, kind: str) -> Evidence:
        return Evidence(
            PHONE,
            evidence.event_key(at, event_id),
            kind=kind,
            brand="acme",
            source="web-form",
            captured_at=at,
            recorded_at=T0,
            proof={"ip": "203.0.113.7"},
        )

    evidence.append(record(T0 + timedelta(days=1), "b", "opt_out"))
    evidence.append(record(T0, "a", "opt_in"))
    with pytest.raises(AlreadyExists):
        evidence.append(record(T0, "a", "opt_out"))  # same event id: never overwritten
    kinds = [item.kind for item in evidence.history(PHONE)]
    assert kinds == ["opt_in", "opt_out"]
    assert evidence.history(PHONE)[0].proof == {"ip": "203.0.113.7"}


def test_report_command_prints_contract_counters(
    aws: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    from stopsms.cli import main
    from stopsms.dal import campaigns, deliveries

    campaigns.create("c1", {"campaign_id": "c1"}, "queued", audience=4)
    deliveries.finish(
        [
            deliveries.new("c1", deliveries.claim_key(PHONE), 0, "sent"),
            deliveries.new("c1", deliveries.outcome_key(1), 1, "suppressed", reason="duplicate"),
            deliveries.new("c1", deliveries.claim_key("+33612345679"), 2, "sending"),
        ]
    )
    campaigns.add_opt_out("c1")
    campaigns.add_opt_out("unknown-campaign")  # a reply to a purged campaign is not an error
    assert main(["report", "c1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data.pop("compliance")["category"] is None  # the request recorded is {"campaign_id"}
    assert data == {
        "campaign_id": "c1",
        "status": "sending",
        "reason": None,
        "resume_at": None,
        "audience": 4,
        "sent": 1,
        "failed": 0,
        "pending": 2,
        "cancelled": 0,
        "suppressed": {"opted_out": 0, "no_consent": 0, "invalid_number": 0, "duplicate": 1},
        "failures": {},
        "opt_outs": 1,
        "segments": 0,
        "delivery": {"delivered": 0, "undelivered": {}, "awaiting": 1},
        "cost": {"currency": "USD", "total": 0.0, "per_delivered": None},
        "estimate": None,
    }
    assert data["audience"] == data["sent"] + data["failed"] + data["pending"] + sum(
        data["suppressed"].values()
    )
    assert main(["report", "c1"]) == 0
    assert "suppressed: duplicate" in capsys.readouterr().out
    assert main(["report", "nope"]) == 2
    assert "no campaign 'nope'" in capsys.readouterr().err
