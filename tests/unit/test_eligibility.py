from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stopsms.eligibility import Preference, marketing_block

T = datetime(2026, 11, 20, tzinfo=UTC)
IN, OUT = "opted_in", "opted_out"


@pytest.mark.parametrize(
    ("brand", "everyone", "enforce", "expected"),
    [
        (None, None, True, "no_consent"),
        (None, None, False, None),
        (Preference(IN, T), None, True, None),
        (Preference(OUT, T), None, False, "opted_out"),
        (Preference(OUT, T), None, True, "opted_out"),
        (None, Preference(OUT, T), False, "opted_out"),
        # STOPALL after the brand opt-in: blocked
        (Preference(IN, T), Preference(OUT, T + timedelta(seconds=1)), True, "opted_out"),
        # START to the brand after a STOPALL: that brand only is open again
        (Preference(IN, T + timedelta(seconds=1)), Preference(OUT, T), True, None),
        # same instant: the opt-out wins
        (Preference(IN, T), Preference(OUT, T), True, "opted_out"),
        (Preference(IN, T), Preference(OUT, T), False, "opted_out"),
    ],
)
def test_marketing_block(
    brand: Preference | None, everyone: Preference | None, enforce: bool, expected: str | None
) -> None:
    assert marketing_block(brand, everyone, enforce_consent=enforce) == expected
