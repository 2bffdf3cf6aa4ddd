"""One item per number in ``ContactStateTable``: every scope's state of a phone, so that the
sender reads one key per recipient (issue 17; docs/PERFORMANCE.md, "DynamoDB units per
recipient").

The item is ``(phone=<e164>, scope="*number")`` (``NUMBER_ITEM``: a brand cannot start with
"*", the scope of every brand is "*" alone), the table's key schema unchanged. Each scope's
fields are attributes of their own, ``<field>|<scope>``: the field first, since a brand may
hold any character, and one attribute per field so that a decision is still one conditional
``UpdateItem`` of its scope's attributes, as it was of its own item. PynamoDB models declare
their attributes once; these are named at run time, so they are built here (``field``) and
read back from the raw item (``states_of``); the model is ``tables.NumberItem``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from pynamodb.attributes import Attribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.expressions.update import Action

from stopsms.rules.scope_states import ScopeState

NUMBER_ITEM = "*number"  # the sort key of a number's item
SEPARATOR = "|"
FIELDS: dict[str, type[Attribute[Any]]] = {
    "status": UnicodeAttribute,
    "status_at": UTCDateTimeAttribute,
    "source": UnicodeAttribute,
    "updated_at": UTCDateTimeAttribute,
    "evidence_key": UnicodeAttribute,
    "recorded_at": UTCDateTimeAttribute,
    "opted_out_at": UTCDateTimeAttribute,
    "proof_expires_at": UTCDateTimeAttribute,
}
REQUIRED = ("status", "status_at", "source", "updated_at")


@cache
def field(name: str, scope: str) -> Attribute[Any]:
    """The attribute holding ``name`` of ``scope``'s state, for conditions and updates."""
    return FIELDS[name](attr_name=f"{name}{SEPARATOR}{scope}", null=True)


def states_of(raw: Mapping[str, Any]) -> dict[str, ScopeState]:
    """Every scope's state in a raw item (DynamoDB JSON); a scope missing a required field
    (never written whole: impossible with ``dal.contacts``) is left out."""
    fields: dict[str, dict[str, Any]] = {}
    for name, value in raw.items():
        kind, separator, scope = name.partition(SEPARATOR)
        if separator and kind in FIELDS:
            attribute = field(kind, scope)
            fields.setdefault(scope, {})[kind] = attribute.deserialize(attribute.get_value(value))
    return {
        scope: ScopeState(scope=scope, **values)
        for scope, values in fields.items()
        if all(name in values for name in REQUIRED)
    }


def fields_of(state: ScopeState) -> dict[str, Any]:
    """A state's fields by name, its scope aside (a number's item names it in each attribute)."""
    return {name: value for name, value in vars(state).items() if name != "scope"}


def writing(state: ScopeState, scope: str | None = None) -> list[Action]:
    """The actions that write ``state`` whole into a number's item, under ``scope`` (its own
    by default): a field it does not have is removed."""
    scope = state.scope if scope is None else scope
    return [
        field(name, scope).set(value) if value is not None else field(name, scope).remove()
        for name, value in fields_of(state).items()
    ]
