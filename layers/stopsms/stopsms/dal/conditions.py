"""Conditional writes: how DynamoDB says "your condition did not hold", in one place.

A refused condition is an expected answer ("another writer won", "already recorded"), which
the data layer turns into a domain outcome; every other failure is raised as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

from pynamodb.attributes import NumberAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import (
    CancellationReason,
    DeleteError,
    PutError,
    PynamoDBException,
    TransactWriteError,
    UpdateError,
)
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

__all__ = [
    "delete_if",
    "is_conditional_failure",
    "is_refused_item",
    "put_guarded",
    "save_if",
    "unchanged_since",
    "update_if",
]

TRANSACTION_LIMIT = 100  # TransactWriteItems' limit


def is_conditional_failure(error: PynamoDBException) -> bool:
    """A single-item write (put, update, delete) refused by its condition."""
    return error.cause_response_code == "ConditionalCheckFailedException"


def is_refused_item(reason: CancellationReason | None) -> bool:
    """One item of a cancelled ``TransactWriteItems`` refused by its own condition (items
    that did not cause the cancellation have no reason)."""
    return reason is not None and reason.code == "ConditionalCheckFailed"


def unchanged_since(version: NumberAttribute, read: int) -> Condition:
    """An optimistic lock: the item's ``version`` counter is still what was read (0 when it
    had none: a counter never written is absent, not zero)."""
    return version == read if read else version.does_not_exist()


def save_if(item: Model, condition: Condition) -> bool:
    """Put ``item``; False when ``condition`` did not hold (nothing was written)."""
    return _unless_refused(partial(item.save, condition=condition))


def update_if(item: Model, actions: list[Action], condition: Condition) -> bool:
    """Apply ``actions`` to ``item``; False when ``condition`` did not hold (nothing changed).
    On success ``item`` holds the updated attributes."""
    return _unless_refused(partial(item.update, actions=actions, condition=condition))


def delete_if(item: Model, condition: Condition) -> bool:
    """Delete ``item``; False when ``condition`` did not hold (it is left alone)."""
    return _unless_refused(partial(item.delete, condition=condition))


def _unless_refused(write: Callable[[], object]) -> bool:
    try:
        write()
    except (PutError, UpdateError, DeleteError) as error:
        if is_conditional_failure(error):
            return False
        raise
    return True


def put_guarded[M: Model](
    items: Sequence[M],
    *,
    guard: type[Model],
    guarded_key: Callable[[M], str],
    check: Condition,
    condition: Condition | None = None,
) -> tuple[list[M], set[str]]:
    """Put ``items`` (each under ``condition``, if any) by transactions of up to 100
    operations, each also checking ``check`` on the ``guard`` items that ``guarded_key`` names
    for its items (a claim's campaign, say: not cancelled). An item refused by its condition, or
    whose guard item fails the check, is left out and the others are written again (DynamoDB
    names the refused ones in its cancellation reasons). Returns the items refused and the
    guard keys refused: none of theirs was written."""
    refused: list[M] = []
    stopped: set[str] = set()
    for chunk in _fitting(items, guarded_key):
        while chunk:
            items_refused, keys_refused = _transact(chunk, guard, guarded_key, check, condition)
            if not items_refused and not keys_refused:
                break
            refused += items_refused
            stopped |= keys_refused
            left_out = {id(item) for item in items_refused}
            chunk = [
                item
                for item in chunk
                if id(item) not in left_out and guarded_key(item) not in keys_refused
            ]
    return refused, stopped


def _fitting[M: Model](items: Sequence[M], guarded_key: Callable[[M], str]) -> Iterator[list[M]]:
    """Chunks whose puts and guard checks fit one transaction."""
    chunk: list[M] = []
    keys: set[str] = set()
    for item in items:
        grown = keys | {guarded_key(item)}
        if chunk and len(chunk) + 1 + len(grown) > TRANSACTION_LIMIT:
            yield chunk
            chunk, grown = [], {guarded_key(item)}
        chunk.append(item)
        keys = grown
    if chunk:
        yield chunk


def _transact[M: Model](
    chunk: list[M],
    guard: type[Model],
    guarded_key: Callable[[M], str],
    check: Condition,
    condition: Condition | None,
) -> tuple[list[M], set[str]]:
    """One transaction: the items refused by their condition and the guard keys refused by
    the check (both empty on success)."""
    keys = sorted({guarded_key(item) for item in chunk})
    try:
        with TransactWrite(connection=Connection()) as transaction:
            for item in chunk:
                transaction.save(item, condition=condition)
            for key in keys:
                transaction.condition_check(guard, key, condition=check)
    except TransactWriteError as error:
        # PynamoDB sends the condition checks first, then the puts: the reasons' order.
        reasons: list[Any] = list(error.cancellation_reasons or [])
        keys_refused = {
            key for key, reason in zip(keys, reasons, strict=False) if is_refused_item(reason)
        }
        items_refused = [
            item
            for item, reason in zip(chunk, reasons[len(keys) :], strict=False)
            if is_refused_item(reason)
        ]
        if not items_refused and not keys_refused:
            raise
        return items_refused, keys_refused
    return [], set()
