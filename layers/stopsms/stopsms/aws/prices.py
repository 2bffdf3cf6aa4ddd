"""The price table of this deployment: the default one (``rules.prices``), under the countries
its ``PriceTable`` parameter gives (inline JSON, or an ``s3://`` URI of a JSON object)."""

from __future__ import annotations

import time
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from stopsms.aws import clients
from stopsms.rules.prices import PriceTable, PriceTableError, default, parse
from stopsms.settings import Settings

CACHE_SECONDS: Final = 300  # an S3 table replaced is used within five minutes
MAX_BYTES: Final = 1_000_000

_cache: dict[str, tuple[float, PriceTable]] = {}


def current(settings: Settings) -> PriceTable:
    """The table to price with. One that cannot be read leaves the default table in use, and
    says so in its ``source`` (which the report prints): an estimate is never refused for it."""
    configured = settings.price_table.strip()
    if not configured:
        return default()
    cached = _cache.get(configured)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    try:
        table = _read(configured).over(default())
    except PriceTableError as error:
        base = default()
        table = PriceTable(
            source=f"{base.source}; PriceTable not used: {error}",
            currency=base.currency,
            per_part=base.per_part,
        )
    _cache[configured] = (time.monotonic(), table)
    return table


def _read(configured: str) -> PriceTable:
    if not configured.startswith("s3://"):
        return parse(configured, "the PriceTable parameter")
    bucket, _, key = configured.removeprefix("s3://").partition("/")
    try:
        body = clients.s3().get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{MAX_BYTES}")
        text = body["Body"].read().decode("utf-8")
    except (ClientError, BotoCoreError) as error:
        problem = clients.error_code(error)
        raise PriceTableError(f"{configured} cannot be read ({problem})") from None
    except UnicodeDecodeError:
        raise PriceTableError(f"{configured} is not UTF-8 text") from None
    return parse(text, configured)


def forget() -> None:
    """Drop the cached tables (tests)."""
    _cache.clear()
