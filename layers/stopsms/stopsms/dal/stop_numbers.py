"""Which brands print which stop number: written by the fan-out as each campaign starts, read
by the inbound function to scope a STOP that answers no known SMS (``stopsms.rules.brands``)."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from stopsms.dal.tables import StopNumberUse
from stopsms.rules.brands import number_key

PREFIX = "stop#"


def record(number: str, brand: str) -> None:
    """``brand`` prints ``number`` (an ADD: idempotent, and concurrent campaigns add up)."""
    StopNumberUse(PREFIX + number_key(number)).update(actions=[StopNumberUse.brands.add({brand})])


def brands(number: str) -> frozenset[str]:
    """Every brand whose campaigns printed ``number``; empty when none is known."""
    try:
        item = StopNumberUse.get(PREFIX + number_key(number))
    except DoesNotExist:
        return frozenset()
    return frozenset(item.brands or ())
