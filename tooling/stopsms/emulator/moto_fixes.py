"""Where moto's DynamoDB departs from DynamoDB in ways StopSMS depends on, mended in place
(moto is a development dependency: the deployed functions never import this).

- ``TransactWriteItems`` backs up the whole table before *each item* (to roll back on
  failure): 100 deep copies per transaction, quadratic as tables grow. One backup per table per
  transaction keeps the same rollback at a hundredth of the cost.
- ``UpdateItem`` applies its actions to the stored item one by one and sizes the item after
  each: an update that sets an attribute before removing a larger one is refused near the
  400 KB limit, and one refused keeps the actions before. DynamoDB sizes the result and refuses
  an update whole; a number's item (``stopsms.dal.number_items``) relies on both.
"""

from __future__ import annotations

import copy
from typing import Any

MOTO_ITEM_LIMIT = 405_000  # bytes, moto's own (between DynamoDB's 400 KB and what it accepts)


def mend_moto() -> None:
    """Apply every fix, once per process."""
    import moto.dynamodb.models as moto_models  # development dependency

    _one_backup_per_transaction(moto_models)
    _atomic_updates(moto_models)


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


def _atomic_updates(models: Any) -> None:
    from moto.dynamodb.exceptions import ItemSizeToUpdateTooLarge  # development dependency
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    backend = models.DynamoDBBackend
    if getattr(backend.update_item, "mended", False):
        return
    original = backend.update_item

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kw: Any) -> Any:
        table = self.get_table(table_name)
        item = table.get_item(*self.get_keys_value(table, key))
        if item is None:
            return original(self, table_name, key, *args, **kw)
        before = {name: copy.deepcopy(value) for name, value in item.attrs.items()}
        item.attrs = dict(item.attrs)  # unchecked while the actions run: the result is sized
        try:
            result = original(self, table_name, key, *args, **kw)
            if item.size() > MOTO_ITEM_LIMIT:
                raise ItemSizeToUpdateTooLarge
        except BaseException:
            item.attrs = LimitedSizeDict(before)  # refused whole (``update`` skips the check)
            raise
        item.attrs = LimitedSizeDict(item.attrs)
        return result

    update_item.mended = True  # type: ignore[attr-defined]
    backend.update_item = update_item
