"""A number that many brands share: its one item grows by a few hundred bytes per scope. Past
4 KB a read costs more units (docs/PERFORMANCE.md) but every decision still holds; at
DynamoDB's 400 KB item limit a new scope cannot be written, and that must be loud: the record
is refused (retried, then dead-lettered), never acknowledged, never confirmed to the person."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from stopsms.aws import clients
from stopsms.dal import contacts, evidence
from stopsms.dal.number_items import NUMBER_ITEM, field, fields_of
from stopsms.dal.tables import GLOBAL_SCOPE, NumberItem
from stopsms.emulator.template import Stack
from stopsms.inbound.replies import RepliesFailed
from stopsms.rules.brands import MAX_BRAND_CHARS
from stopsms.rules.eligibility import Preference
from stopsms.rules.scope_states import ScopeState
from stopsms.settings import get_settings
from tests.handlers.conftest import (
    LambdaContext,
    failed_ids,
    load_function,
    sns_event,
    sqs_event,
)
from tests.handlers.sms import FakeSms
from tests.handlers.test_consent import record as consent_record
from tests.handlers.test_inbound import T0, reply
from tests.handlers.test_sender import campaign, handle, jobs_of

A = "+33612993101"
T = datetime(2026, 9, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)
EVIDENCE = "2026-09-01T09:00:00.000000Z#325b336f97fd0d4abb9450b92aa33475"  # as consent keys them
SOURCE = "web-form https://acme.example/newsletter"
ITEM_LIMIT = 405_000  # as moto emulates it (DynamoDB's is 400 KB), names and values counted


@pytest.fixture
def table(aws: Stack) -> Iterator[None]:
    contacts.forget_migrated()
    assert contacts.migrated()
    yield
    contacts.forget_migrated()


def brand(n: int) -> str:
    """A brand name as long as they go: fewer scopes fill an item (moto sizes it slowly)."""
    return f"brand-{n:04}-".ljust(MAX_BRAND_CHARS, "x")


def raw_item(phone: str) -> dict[str, Any]:
    table = NumberItem.Meta.table_name
    key = {"phone": {"S": phone}, "scope": {"S": NUMBER_ITEM}}
    item: dict[str, Any] = clients.dynamodb().get_item(TableName=table, Key=key)["Item"]
    return item


def size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills and limits it: names and values, strings in UTF-8."""
    return sum(len(name.encode()) + len(value["S"].encode()) for name, value in item.items())


def campaign_of(to: str, wave: str = "c") -> str:
    return f"{wave}-{to.rstrip('x')}"


def send(sender: ModuleType, to: str, wave: str = "c") -> None:
    request = campaign(
        [{"phone": A, "vars": {"first_name": "Léa"}}], brand=to, campaign_id=campaign_of(to, wave)
    )
    handle(sender, jobs_of(request))


@pytest.mark.usefixtures("table")
def test_forty_brands_on_one_number_each_keep_their_own_decision(
    sender: ModuleType, sms: FakeSms
) -> None:
    # Given a number that opted in to forty brands: its item is past one read unit's 4 KB
    for n in range(40):
        contacts.apply(
            A,
            brand(n),
            "opted_in",
            T + timedelta(minutes=n),
            source="web-form",
            evidence_key=EVIDENCE,
        )
    assert size(raw_item(A)) > 2 * 4096
    # When it stops one of them
    contacts.apply(A, brand(17), "opted_out", T + timedelta(days=1), source="reply")
    # Then that brand's campaign is suppressed and its neighbours' are sent
    for n in (16, 17, 18, 39):
        send(sender, brand(n))
    assert sorted(m["Context"]["campaign_id"] for m in sms.sent) == [
        campaign_of(brand(n)) for n in (16, 18, 39)
    ]
    # And a STOPALL later stops every one of the forty
    contacts.apply(A, GLOBAL_SCOPE, "opted_out", T + timedelta(days=2), source="reply")
    sms.sent.clear()
    for n in (0, 16, 39):
        send(sender, brand(n), wave="later")
    assert sms.sent == []


def fill(phone: str) -> list[str]:
    """Write ``phone``'s item until not one scope more fits (written raw: one decision at a
    time would take minutes). Returns the brands it holds."""
    item: dict[str, Any] = {"phone": {"S": phone}, "scope": {"S": NUMBER_ITEM}}
    used, brands = size(item), []
    opt_in = ScopeState("", "opted_in", T, SOURCE, T, EVIDENCE, None, None, T + 1000 * DAY)
    # as the consent function writes them, then the smallest there are, until nothing fits
    for shape, name in ((opt_in, brand), (ScopeState("", "opted_in", T, "web", T), str)):
        while True:
            state = replace(shape, scope=name(len(brands)))
            scope = {
                field(key, state.scope).attr_name: {"S": field(key, state.scope).serialize(value)}
                for key, value in fields_of(state).items()
                if value is not None
            }
            if used + size(scope) > ITEM_LIMIT:
                break
            item |= scope
            used += size(scope)
            brands.append(state.scope)
    assert ITEM_LIMIT - size(item) < 150  # no brand more fits, not even "one-more"
    clients.dynamodb().put_item(TableName=NumberItem.Meta.table_name, Item=item)
    return brands


@pytest.mark.usefixtures("table")
def test_a_full_item_refuses_a_new_brand_loudly_and_keeps_every_state(
    sender: ModuleType, sms: FakeSms
) -> None:
    # Given a number whose item is at DynamoDB's limit (hundreds of brands)
    brands = fill(A)
    assert len(brands) > 600
    # When an upstream system records its consent to one brand more
    consent = load_function("consent")
    record = consent_record("opt_in", T + DAY, phone=A, brand="one-more")
    response = consent.lambda_handler(sqs_event([record], "ConsentQueue"), LambdaContext())
    # Then the record is refused (SQS retries it, then the dead-letter queue keeps it)
    assert len(failed_ids(response)) == 1
    # And nothing is lost: every brand's state stays, that brand has none, none is sent
    assert contacts.lookup([A], "one-more")[A] == (None, None)
    assert contacts.lookup([A], brands[-1])[A] == (Preference("opted_in", T), None)
    send(sender, "one-more")
    assert sms.sent == []
    # While a decision about a brand already there still fits (its attributes are replaced)
    contacts.apply(A, brand(7), "opted_out", T + timedelta(days=1), source="reply")
    send(sender, brand(7))
    send(sender, brand(8))
    assert [m["Context"]["campaign_id"] for m in sms.sent] == [campaign_of(brand(8))]


def inbound_answering(monkeypatch: pytest.MonkeyPatch, brands: str) -> ModuleType:
    """The inbound function, ``brands`` naming each short code's brand (InboundBrands)."""
    monkeypatch.setenv("STOPSMS_INBOUND_BRANDS", brands)
    get_settings.cache_clear()
    return load_function("inbound")


def stop(to: str, message_id: str, body: str = "STOP") -> dict[str, Any]:
    return sns_event([reply(body, phone=A, message_id=message_id, to=to)])


@pytest.mark.usefixtures("table")
def test_on_a_full_item_a_stop_for_a_brand_there_holds_and_one_for_a_brand_not_there_is_loud(
    monkeypatch: pytest.MonkeyPatch, sender: ModuleType, sms: FakeSms
) -> None:
    # Given a full item, a short code for one of its brands and one for a brand not in it
    fill(A)
    inbound = inbound_answering(monkeypatch, f"36111=acme,36222={brand(7)}")
    # When the person replies STOP to the brand that is there, it holds and is confirmed
    inbound.lambda_handler(stop("36222", "aa5b0d3c-9f1e-4c8a-b7d2-6e4f3a2c1b09"), LambdaContext())
    assert contacts.lookup([A], brand(7))[A][0] == Preference("opted_out", T0, T0)
    assert len(sms.sent) == 1  # the confirmation
    send(sender, brand(7))
    assert len(sms.sent) == 1
    # When they reply STOP to acme, not there, the reply fails (Lambda retries it, then
    # InboundDLQ keeps it)
    with pytest.raises(RepliesFailed):
        inbound.lambda_handler(stop("36111", "m-full"), LambdaContext())
    # And the person is not told they are unsubscribed while nothing says so; with consent
    # enforced (the default) acme, holding no consent of theirs, sends them no marketing
    assert len(sms.sent) == 1
    assert contacts.lookup([A], "acme")[A] == (None, None)
    send(sender, "acme")
    assert len(sms.sent) == 1
    # And the STOP itself is kept as evidence, for the operator who empties the dead letters
    assert ("opt_out", "acme", "STOP") in [(e.kind, e.brand, e.text) for e in evidence.history(A)]


@pytest.mark.xfail(
    strict=True,
    raises=RepliesFailed,
    reason="known limit: a STOPALL on an item full of opt-ins that holds no '*' scope yet cannot "
    "be written (a thousand brands on one number); it is dead-lettered, not applied",
)
@pytest.mark.usefixtures("table")
def test_a_stopall_on_a_full_item_stops_every_brand_it_holds(
    monkeypatch: pytest.MonkeyPatch, sender: ModuleType, sms: FakeSms
) -> None:
    fill(A)
    inbound = inbound_answering(monkeypatch, f"36222={brand(7)}")
    inbound.lambda_handler(stop("36222", "m-stopall", "STOPALL"), LambdaContext())
    sms.sent.clear()
    send(sender, brand(7))
    send(sender, brand(8))
    assert sms.sent == []
