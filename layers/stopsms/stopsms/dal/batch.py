"""Batched reads and writes: ``BatchGetItem`` across several tables at once (pages of 100
keys) and ``BatchWriteItem`` (pages of 25 items), unprocessed keys and items retried with
jittered exponential backoff (PynamoDB's own batches cover one table and retry at once)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pynamodb.models import Model

from stopsms.aws import clients
from stopsms.aws.retry import backoff
from stopsms.errors import StopSmsError

PAGE = 100  # BatchGetItem's limit, keys of all tables together
WRITE_PAGE = 25  # BatchWriteItem's limit
Key = tuple[str, ...]


class BatchReadIncomplete(StopSmsError):
    """DynamoDB kept returning unprocessed keys: the batch should be retried later."""


class BatchWriteIncomplete(StopSmsError):
    """DynamoDB kept returning unprocessed items: the batch should be retried later."""


def _key_names(model: type[Model]) -> tuple[str, ...]:
    attributes = model.get_attributes().values()
    hash_keys = [a.attr_name for a in attributes if a.is_hash_key]
    range_keys = [a.attr_name for a in attributes if a.is_range_key]
    return tuple(hash_keys + range_keys)


def batch_get(
    wanted: Mapping[type[Model], Iterable[Key]],
    *,
    consistent: bool = True,
    max_attempts: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[type[Model], dict[Key, Any]]:
    """Fetch every key of every model; missing items are simply absent from the result.

    Result: ``{Model: {key tuple: model instance}}``. Order is not kept (DynamoDB does not).
    Consistent reads by default: a STOP written a moment ago must be seen by the next send.
    """
    # Several models may share a table (a claim and its campaign's totals): each item found
    # goes to the model whose key asked for it.
    owners: dict[tuple[str, Key], type[Model]] = {}
    names: dict[str, tuple[str, ...]] = {}
    pending: list[tuple[str, dict[str, Any]]] = []
    for model, keys in wanted.items():
        table = model.Meta.table_name
        names[table] = _key_names(model)
        for key in dict.fromkeys(keys):
            if (table, key) in owners:  # DynamoDB refuses a request that repeats a key
                continue
            owners[table, key] = model
            pending.append((table, {n: {"S": v} for n, v in zip(names[table], key, strict=True)}))
    found: dict[type[Model], dict[Key, Any]] = {model: {} for model in wanted}
    for start in range(0, len(pending), PAGE):
        page = pending[start : start + PAGE]
        _fetch_page(page, names, owners, found, consistent, max_attempts, sleep)
    return found


def _fetch_page(
    page: Sequence[tuple[str, dict[str, Any]]],
    names: Mapping[str, tuple[str, ...]],
    owners: Mapping[tuple[str, Key], type[Model]],
    found: dict[type[Model], dict[Key, Any]],
    consistent: bool,
    max_attempts: int,
    sleep: Callable[[float], None],
) -> None:
    request: dict[str, Any] = {}
    for table, wire_key in page:
        request.setdefault(table, {"Keys": [], "ConsistentRead": consistent})["Keys"].append(
            wire_key
        )
    for attempt in range(max_attempts):
        response = clients.dynamodb().batch_get_item(RequestItems=request)
        for table, items in response.get("Responses", {}).items():
            for raw in items:
                key = tuple(raw[n]["S"] for n in names[table])
                model = owners[table, key]
                found[model][key] = model.from_raw_data(raw)
        request = dict(response.get("UnprocessedKeys") or {})
        if not request:
            return
        _back_off(attempt, sleep)
    raise BatchReadIncomplete(f"unprocessed keys after {max_attempts} attempts")


def batch_write(
    items: Sequence[Model],
    *,
    max_attempts: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Put every item, unconditionally (one write unit each, half a transaction's price)."""
    for start in range(0, len(items), WRITE_PAGE):
        request: dict[str, Any] = {}
        for item in items[start : start + WRITE_PAGE]:
            put = {"PutRequest": {"Item": item.serialize()}}
            request.setdefault(item.Meta.table_name, []).append(put)
        for attempt in range(max_attempts):
            response = clients.dynamodb().batch_write_item(RequestItems=request)
            request = dict(response.get("UnprocessedItems") or {})
            if not request:
                break
            _back_off(attempt, sleep)
        else:
            raise BatchWriteIncomplete(f"unprocessed items after {max_attempts} attempts")


def _back_off(attempt: int, sleep: Callable[[float], None]) -> None:
    """Full jitter: unprocessed keys or items mean the table is throttling us."""
    sleep(backoff(attempt))
