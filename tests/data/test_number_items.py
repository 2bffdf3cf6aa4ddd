"""A number's item holds every scope's state under attributes named at run time: written with
conditions per scope, read back whole (PynamoDB against moto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pynamodb.exceptions import UpdateError

from stopsms.dal.batch import batch_get
from stopsms.dal.contacts import ERASED_SCOPE
from stopsms.dal.number_items import NUMBER_ITEM, field, states_of
from stopsms.dal.tables import NumberItem
from stopsms.emulator.template import Stack
from stopsms.rules.brands import canonical_brand

T = datetime(2026, 3, 1, 9, tzinfo=UTC)
PHONE = "+33612345678"


def write(scope: str, status: str, at: datetime) -> None:
    when = field("status_at", scope)
    NumberItem(PHONE, NUMBER_ITEM).update(
        actions=[
            when.set(at),
            field("status", scope).set(status),
            field("source", scope).set("test"),
            field("updated_at", scope).set(T),
        ],
        condition=when.does_not_exist() | (when < at),
    )


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("brand", ["acme", "a|b", "* ", "ünïcode brand", "status_at|x"])
def test_every_scope_reads_back_whatever_its_name(brand: str) -> None:
    write(brand, "opted_in", T)
    write("*", "opted_out", T + timedelta(hours=1))
    found = batch_get({NumberItem: [(PHONE, NUMBER_ITEM)]})[NumberItem][(PHONE, NUMBER_ITEM)]
    assert set(found.states) == {brand, "*"}
    assert (found.states[brand].status, found.states[brand].status_at) == ("opted_in", T)
    assert found.states["*"].status_at == T + timedelta(hours=1)
    assert NumberItem.get(PHONE, NUMBER_ITEM).states == found.states


@pytest.mark.usefixtures("aws")
def test_a_scope_condition_holds_for_that_scope_alone(aws: Stack) -> None:
    write("acme", "opted_out", T + timedelta(hours=2))
    with pytest.raises(UpdateError):
        write("acme", "opted_in", T + timedelta(hours=1))  # older than the stored decision
    write("other", "opted_in", T + timedelta(hours=1))  # another scope: its own condition
    states = NumberItem.get(PHONE, NUMBER_ITEM).states
    assert (states["acme"].status, states["other"].status) == ("opted_out", "opted_in")


def test_a_scope_missing_a_required_field_is_left_out() -> None:
    raw = {
        "phone": {"S": PHONE},
        "scope": {"S": NUMBER_ITEM},
        "status|acme": {"S": "opted_in"},
        "number": {"S": PHONE},
        "unrelated|x": {"S": "y"},
    }
    assert states_of(raw) == {}


@pytest.mark.parametrize("internal", [NUMBER_ITEM, ERASED_SCOPE])
def test_no_brand_can_take_an_internal_name(internal: str) -> None:
    with pytest.raises(ValueError, match="cannot start with"):
        canonical_brand(internal)
