"""The price table (``rules.prices``): what a dry run's SMS would cost, per country."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopsms.rules.prices import PriceTable, PriceTableError, default, parse


def test_the_default_table_says_where_its_prices_come_from_and_their_date() -> None:
    table = default()
    assert "aws.amazon.com/end-user-messaging/pricing" in table.source
    assert "(as of 20" in table.source
    assert table.currency == "USD"
    assert {"FR", "BE", "CH", "DE", "ES", "IT", "GB", "US"} <= set(table.per_part)
    assert all(0 < price < 1_000_000 for price in table.per_part.values())


@pytest.mark.parametrize(
    ("country", "parts", "micros"),
    [
        ("FR", 1, 71_900),
        ("fr", 2, 143_800),  # codes in any case
        ("FR", 0, 0),
        ("CN", 1, None),  # not in the table: unpriced, never guessed
        ("", 1, None),
    ],
)
def test_cost(country: str, parts: int, micros: int | None) -> None:
    assert PriceTable(source="t", per_part={"FR": 71_900}).cost(country, parts) == micros


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "not JSON"),
        ("[1]", 'expected {"per_part"'),
        ('{"FR": 0.07}', 'expected {"per_part"'),
        ('{"per_part": {"FRA": 0.07}}', "'FRA' is not an ISO 3166 country code"),
        ('{"per_part": {"F1": 0.07}}', "is not an ISO 3166 country code"),
        ('{"per_part": {"FR": -0.01}}', "is not an amount between 0 and 10"),
        ('{"per_part": {"FR": 7}}', None),  # dear, but possible
        ('{"per_part": {"FR": 11}}', "is not an amount between 0 and 10"),
        ('{"per_part": {"FR": "0,07"}}', "is not an amount"),
        ('{"per_part": {"FR": true}}', "is not an amount"),
        ('{"per_part": {"FR": null}}', "is not an amount"),
        ('{"per_part": {"FR": NaN}}', "is not an amount"),
        ('{"per_part": {"FR": "0.07"}}', None),  # a number written as text
    ],
)
def test_a_table_that_cannot_be_used_says_what_to_fix(text: str, problem: str | None) -> None:
    if problem is None:
        parse(text, "t")
        return
    with pytest.raises(PriceTableError, match=problem.replace("(", r"\(").replace("[", r"\[")):
        parse(text, "the PriceTable parameter")


def test_an_override_keeps_the_other_countries_and_says_both_sources() -> None:
    override = parse(json.dumps({"per_part": {"fr": 0.05}, "source": "contrat"}), "p")
    merged = override.over(default())
    assert merged.per_part["FR"] == 50_000
    assert merged.per_part["BE"] == default().per_part["BE"]
    assert merged.source.startswith("contrat, other countries: StopSMS default table")
    with pytest.raises(PriceTableError, match="currency 'EUR'"):
        parse('{"per_part": {"FR": 0.05}, "currency": "EUR"}', "p").over(default())


@given(st.decimals(min_value=0, max_value=10, places=6), st.integers(min_value=0, max_value=10))
def test_prices_are_exact_in_micros(price: object, parts: int) -> None:
    table = parse(json.dumps({"per_part": {"FR": str(price)}}), "p")
    assert table.cost("FR", parts) == int(price * 1_000_000) * parts  # type: ignore[operator]
