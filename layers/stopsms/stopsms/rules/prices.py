"""What a campaign's SMS would cost: a price per SMS part for each destination country.

The default table (``prices.json`` beside this module) says where its prices come from and
their date; a deployment overrides some or all countries with its ``PriceTable`` parameter
(inline JSON, or the ``s3://`` URI of a JSON object in the same shape: ``stopsms.aws.prices``).
Amounts are kept in millionths of a dollar, as the delivery events' prices are
(``rules.receipts.MICROS``), so that sums are exact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from stopsms.errors import StopSmsError
from stopsms.rules.receipts import MICROS

DEFAULT_FILE = Path(__file__).with_name("prices.json")
MAX_PRICE = Decimal(10)  # per part: anything dearer is a typo (a price in cents, say)


class PriceTableError(StopSmsError):
    """A price table that cannot be read; the message says what to fix."""


@dataclass(frozen=True)
class PriceTable:
    source: str  # where the prices come from, and their date
    currency: str = "USD"
    per_part: Mapping[str, int] = field(default_factory=dict)  # country -> micros per part

    def cost(self, country: str, parts: int) -> int | None:
        """The price of ``parts`` SMS parts to ``country`` in micros; None if not in the table."""
        price = self.per_part.get(country.upper())
        return None if price is None else price * parts

    def over(self, base: PriceTable) -> PriceTable:
        """This table's countries, the others from ``base`` (an override of a few countries)."""
        if self.currency != base.currency:
            raise PriceTableError(
                f"currency {self.currency!r}: the default table is in {base.currency}; give "
                f"every price in {base.currency}"
            )
        return PriceTable(
            source=f"{self.source}, other countries: {base.source}",
            currency=base.currency,
            per_part={**base.per_part, **self.per_part},
        )


def parse(text: str, where: str) -> PriceTable:
    """A table from JSON ``{"per_part": {"FR": 0.0719, ...}, "source": ..., "as_of": ...,
    "currency": "USD"}``; ``where`` names it in the table's source and in errors."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise PriceTableError(f"{where}: not JSON ({error})") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("per_part"), Mapping):
        raise PriceTableError(f'{where}: expected {{"per_part": {{"FR": 0.0719, ...}}}}')
    prices = {
        str(country).upper(): _micros(where, str(country), price)
        for country, price in data["per_part"].items()
    }
    source = str(data.get("source") or where)
    if data.get("as_of"):
        source = f"{source} (as of {data['as_of']})"
    return PriceTable(source=source, currency=str(data.get("currency") or "USD"), per_part=prices)


def _micros(where: str, country: str, price: Any) -> int:
    if len(country) != 2 or not country.isalpha():
        raise PriceTableError(f"{where}: {country!r} is not an ISO 3166 country code (FR, BE...)")
    try:
        amount = Decimal(str(price))
    except InvalidOperation:
        amount = Decimal(-1)
    if isinstance(price, bool) or not amount.is_finite() or not 0 <= amount <= MAX_PRICE:
        raise PriceTableError(
            f"{where}: the price of {country.upper()} ({price!r}) is not an amount between 0 and "
            f"{MAX_PRICE} per SMS part"
        )
    return int((amount * MICROS).to_integral_value())


@cache
def default() -> PriceTable:
    return parse(DEFAULT_FILE.read_text(encoding="utf-8"), DEFAULT_FILE.name)
