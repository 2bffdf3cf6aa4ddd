"""Model helpers: copying an item under a new key never drops an attribute, whenever added."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from stopsms.consent.erasure import REDACTED, erase, erased_key
from stopsms.dal import tables
from stopsms.dal.tables import MODELS, Delivery, Evidence, copy_with_key
from stopsms.emulator.template import Stack
from stopsms.settings import get_settings

T0 = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
PHONE = "+33612345678"


def _sample(name: str, attribute: Attribute[Any]) -> Any:
    """A distinct, non-null value for every attribute, whatever its name."""
    if isinstance(attribute, UTCDateTimeAttribute | TTLAttribute):
        return T0 + timedelta(days=len(name))
    if isinstance(attribute, NumberAttribute):
        return len(name)
    if isinstance(attribute, JSONAttribute):
        return {"of": name}
    if isinstance(attribute, UnicodeAttribute):
        return f"{name}-value"
    if isinstance(attribute, UnicodeSetAttribute):
        return {f"{name}-value"}
    if isinstance(attribute, BooleanAttribute):
        return True
    raise AssertionError(f"no sample value for {type(attribute).__name__}: extend _sample")


def _full[M: Model](model: type[M], hash_key: str, range_key: str | None = None) -> M:
    """An item of ``model`` with every declared attribute set."""
    item = model(hash_key, range_key)
    for name, attribute in model.get_attributes().items():
        if not (attribute.is_hash_key or attribute.is_range_key):
            setattr(item, name, _sample(name, attribute))
    return item


def _without_keys(item: Model) -> dict[str, Any]:
    keys = {a.attr_name for a in item.get_attributes().values() if a.is_hash_key or a.is_range_key}
    return {name: value for name, value in item.serialize().items() if name not in keys}


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_copy_with_key_carries_every_declared_attribute(model: type[Model]) -> None:
    # Given an item with a value in every attribute its model declares
    has_range = any(a.is_range_key for a in model.get_attributes().values())
    original = _full(model, "old", "old-range" if has_range else None)
    # When it is copied under another key
    copy = copy_with_key(original, "new", "new-range" if has_range else None)
    # Then only the key differs
    assert _without_keys(copy) == _without_keys(original)
    assert copy.serialize() != original.serialize()


def test_copy_with_key_applies_changes_and_shares_no_value() -> None:
    original = _full(Evidence, PHONE, "key")
    copy = copy_with_key(original, "other", "key", text=None, brand="globex")
    assert (copy.text, copy.brand, copy.kind) == (None, "globex", original.kind)
    copy.proof["of"] = "changed"
    assert original.proof == {"of": "proof"}


def test_copy_with_key_refuses_an_attribute_the_model_does_not_declare() -> None:
    with pytest.raises(ValueError, match="misspelt"):
        copy_with_key(_full(Evidence, PHONE, "key"), "other", "key", misspelt=None)


def test_erasure_keeps_every_evidence_attribute_but_the_redacted_ones() -> None:
    # Copying carries a new attribute through erasure: whoever adds one decides here whether
    # it is personal data (then it belongs in erasure.REDACTED).
    kept = set(Evidence.get_attributes()) - set(REDACTED)
    assert kept == {
        "phone",
        "event_key",
        "kind",
        "brand",
        "source",
        "captured_at",
        "received_at",
        "recorded_at",
        "campaign_id",
        "expires_at",
        "review_reason",  # why a reply was flagged: the opt-out word found, no personal data
    }


def test_erase_moves_full_items_under_the_stand_in(aws: Stack) -> None:
    # Given an evidence event and a claim with every attribute set
    event = _full(Evidence, PHONE, "2026-11-20T13:00:00.000000Z#m1")
    event.save()
    claim = _full(Delivery, "c1", f"p#{PHONE}")
    claim.save()
    # When the number is erased
    erase(PHONE, get_settings())
    # Then the event keeps all but the redacted attributes, the claim all but its update time
    stand_in = erased_key(PHONE, get_settings())
    [redacted] = Evidence.query(stand_in)
    # Its key keeps the instant; its id is hashed (it may hash data that held the number)
    instant, _, event_id = redacted.event_key.partition("#")
    assert (instant, len(event_id)) == ("2026-11-20T13:00:00.000000Z", 32)
    assert event_id != "m1"
    assert _without_keys(redacted) == {
        name: value for name, value in _without_keys(event).items() if name not in REDACTED
    }
    moved = Delivery.get("c1", f"p#{stand_in}")
    assert moved.updated_at != claim.updated_at
    moved.updated_at = claim.updated_at
    assert _without_keys(moved) == _without_keys(claim)


def test_every_model_is_bound_to_its_deployed_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """CloudFormation names the tables (``stack-DeliveriesTable-1A2B``): a model left on the
    template's name would read and write a table that does not exist."""
    declared = {
        value
        for value in vars(tables).values()
        if isinstance(value, type) and issubclass(value, Model) and value is not Model
    }
    assert declared == set(MODELS)
    for model in MODELS:
        monkeypatch.setattr(model.Meta, "table_name", model.Meta.table_name)  # restored after
    settings = get_settings().model_copy(
        update={
            name: f"stack-{name}-1A2B"
            for name in (
                "contact_state_table",
                "evidence_table",
                "campaigns_table",
                "deliveries_table",
            )
        }
    )
    tables.bind(settings)
    for model in MODELS:
        field = {
            "ContactStateTable": "contact_state_table",
            "EvidenceTable": "evidence_table",
            "CampaignsTable": "campaigns_table",
            "DeliveriesTable": "deliveries_table",
        }[tables.TEMPLATE_TABLE[model]]
        assert model.Meta.table_name == f"stack-{field}-1A2B", model.__name__
