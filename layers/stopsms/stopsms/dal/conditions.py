"""Conditional writes: how DynamoDB says "your condition did not hold", in one place.

A refused condition is an expected answer ("another writer won", "already recorded"), which
the data layer turns into a domain outcome; every other failure is raised as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import (
    CancellationReason,
    DeleteError,
    PutError,
    PynamoDBException,
    UpdateError,
)
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

__all__ = [
    "delete_if",
    "is_conditional_failure",
    "is_refused_item",
    "save_if",
    "unchanged_since",
    "update_if",
]


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
