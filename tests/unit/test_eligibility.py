from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stopsms.rules.eligibility import Preference, marketing_block
from stopsms.rules.retention import consent_since, evidence_expiry

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


@pytest.mark.parametrize(
    ("brand", "everyone", "enforce", "expected"),
    [
        # An opt-in for every brand (a START nobody could attribute) lifts only a STOPALL...
        (None, Preference(IN, T), False, None),
        # ...never a brand's own opt-out, even an older one...
        (Preference(OUT, T), Preference(IN, T + timedelta(days=1)), False, "opted_out"),
        # ...and it is no consent
        (None, Preference(IN, T), True, "no_consent"),
    ],
)
def test_an_opt_in_for_every_brand_only_undoes_a_stop_for_every_brand(
    brand: Preference | None, everyone: Preference | None, enforce: bool, expected: str | None
) -> None:
    assert marketing_block(brand, everyone, enforce_consent=enforce) == expected


@pytest.mark.parametrize(
    ("given", "enforce", "expected"),
    [
        (T - timedelta(days=1094), True, None),
        (T - timedelta(days=1095), True, None),  # exactly the retention period: still relied on
        (T - timedelta(days=1095, seconds=1), True, "no_consent"),
        (datetime(2023, 6, 1, tzinfo=UTC), True, "no_consent"),
        (datetime(2023, 6, 1, tzinfo=UTC), False, None),  # record: consent is not required
    ],
)
def test_an_opt_in_older_than_the_retention_period_has_lapsed(
    given: datetime, enforce: bool, expected: str | None
) -> None:
    since = consent_since(T, 1095)
    assert (
        marketing_block(Preference(IN, given), None, enforce_consent=enforce, consent_since=since)
        == expected
    )
    # The proof of that opt-in expires at the very instant it lapses: never relied on without
    expiry = evidence_expiry("opt_in", given, 1095)
    assert expiry is not None
    assert (expiry < T) == (given < since)


def test_opt_out_proof_never_expires() -> None:
    assert evidence_expiry("opt_out", T, 30) is None
    assert evidence_expiry("reply", T, 30) == T + timedelta(days=30)
