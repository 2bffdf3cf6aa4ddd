"""Where moto's DynamoDB departs from DynamoDB in ways StopSMS depends on, mended in place
(moto is a development dependency: the deployed functions never import this).

- ``TransactWriteItems`` backs up the whole table before *each item* (to roll back on
  failure): 100 deep copies per transaction, quadratic as tables grow. One backup per table per
  transaction keeps the same rollback at a hundredth of the cost.
- An item is sized again as each attribute is set: an ``UpdateItem`` that sets an attribute
  before removing a larger one is refused near the 400 KB limit, one refused keeps the actions
  before the refusal, and a ``PutItem`` of a large item takes seconds (quadratic). DynamoDB
  sizes the result once and refuses a write whole; a number's item
  (``stopsms.dal.number_items``) relies on that. (A refused update still emits a stream record
  in moto; no StopSMS table has a stream.)
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Iterator
from typing import Any

MOTO_ITEM_LIMIT = 405_000  # bytes, moto's own (between DynamoDB's 400 KB and what it accepts)


def mend_moto() -> None:
    """Apply every fix, once per process."""
    import moto.dynamodb.models as moto_models  # development dependency

    _one_backup_per_transaction(moto_models)
    _sized_once(moto_models)


def _one_backup_per_transaction(models: Any) -> None:
    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "mended", False):
        return
    original = backend.transact_write_items
    real_copy = models.copy  # the module moto imported, swapped below for this transaction only

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backups: dict[int, Any] = {}

        class OncePerTransaction:
            @staticmethod
            def deepcopy(value: Any, memo: Any = None) -> Any:
                if id(value) not in backups:
                    backups[id(value)] = real_copy.deepcopy(value, memo)
                return backups[id(value)]

        models.copy = OncePerTransaction
        try:
            original(self, transact_items)
        finally:
            models.copy = real_copy

    transact_write_items.mended = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items


def _sized_once(models: Any) -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge, ItemSizeToUpdateTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    if getattr(LimitedSizeDict.__setitem__, "mended", False):
        return
    checked_setitem = LimitedSizeDict.__setitem__

    def __setitem__(self: Any, key: str, value: Any) -> None:
        if getattr(_sizing, "deferred", False):
            dict.__setitem__(self, key, value)  # the write sizes the whole item once
        else:
            checked_setitem(self, key, value)

    __setitem__.mended = True  # type: ignore[attr-defined]
    LimitedSizeDict.__setitem__ = __setitem__  # type: ignore[method-assign]
    backend = models.DynamoDBBackend
    put_item, update_item = backend.put_item, backend.update_item

    def put(self: Any, table_name: str, item_attrs: dict[str, Any], *args: Any, **kw: Any) -> Any:
        size = sum(bytesize(name) + DynamoType(value).size() for name, value in item_attrs.items())
        if size > MOTO_ITEM_LIMIT:
            raise ItemSizeTooLarge
        with _deferred():
            return put_item(self, table_name, item_attrs, *args, **kw)

    def update(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kw: Any) -> Any:
        table = self.get_table(table_name)
        item = table.get_item(*self.get_keys_value(table, key))
        if item is None:  # a new item: a few attributes, sized as moto sizes them
            return update_item(self, table_name, key, *args, **kw)
        before = {name: copy.deepcopy(value) for name, value in item.attrs.items()}
        with _deferred():
            result = update_item(self, table_name, key, *args, **kw)
        if item.size() > MOTO_ITEM_LIMIT:  # refused whole: the item as it was (in place)
            dict.clear(item.attrs)
            dict.update(item.attrs, before)
            raise ItemSizeToUpdateTooLarge
        return result

    backend.put_item, backend.update_item = put, update


_sizing = threading.local()  # per request: moto's server answers requests in threads


@contextlib.contextmanager
def _deferred() -> Iterator[None]:
    _sizing.deferred = True
    try:
        yield
    finally:
        _sizing.deferred = False
