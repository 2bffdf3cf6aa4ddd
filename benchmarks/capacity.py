"""What DynamoDB on-demand bills for one request: read and write request units, from the
request and its answer (moto reports no consumed capacity for most operations).

The rules, from the DynamoDB developer guide ("Read/write capacity mode"):

- a read is one unit per 4 KB of item for a strongly consistent read, half that for an
  eventually consistent one; an item not found costs the same as a small one; a ``Query`` or
  ``Scan`` bills the total size of what it returned, rounded up to 4 KB;
- a write is one unit per 1 KB of item (the larger of the old and new item: the new one is
  what we know, StopSMS's items are far below 1 KB); a transactional read or write costs twice
  as much, a ``ConditionCheck`` in a transaction included;
- every global secondary index whose key attributes a write sets, changes or removes costs one
  more write unit (the index is a table of its own): a put carrying the index's key, an update
  whose expression names it. A delete is counted once for the table only (what it removes
  from an index is not known from the request: StopSMS deletes rarely).

Sizes are measured as the DynamoDB JSON of the item, which is within a few bytes of AWS's
own sizing for items this small.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

READ_UNIT = 4096
WRITE_UNIT = 1024


@dataclass(frozen=True)
class Units:
    read: float = 0.0
    write: float = 0.0  # the table's
    index: float = 0.0  # global secondary indexes'

    def __add__(self, other: Units) -> Units:
        return Units(self.read + other.read, self.write + other.write, self.index + other.index)


def index_keys(template: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, list[set[str]]]:
    """Each deployed table's global secondary indexes, as the set of their key attributes.
    ``names``: the template's logical id of a table -> its deployed name."""
    out: dict[str, list[set[str]]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::DynamoDB::Table" or logical_id not in names:
            continue
        indexes = resource["Properties"].get("GlobalSecondaryIndexes", [])
        out[names[logical_id]] = [
            {key["AttributeName"] for key in index["KeySchema"]} for index in indexes
        ]
    return out


class Capacity:
    """Units of one request, given the indexes of every table (``index_keys``)."""

    def __init__(self, indexes: Mapping[str, list[set[str]]]) -> None:
        self.indexes = indexes

    def of(self, operation: str, params: Mapping[str, Any], result: Mapping[str, Any]) -> Units:
        method = getattr(self, "_" + _snake(operation), None)
        return method(params, result) if method is not None else Units()

    # -- reads --------------------------------------------------------------------------------
    def _get_item(self, params: Mapping[str, Any], result: Mapping[str, Any]) -> Units:
        return Units(read=_read(result.get("Item"), params.get("ConsistentRead", False)))

    def _batch_get_item(self, params: Mapping[str, Any], result: Mapping[str, Any]) -> Units:
        units = 0.0
        for table, spec in params["RequestItems"].items():
            found = {_key_of(item, spec["Keys"][0]): item for item in _responses(result, table)}
            for key in spec["Keys"]:
                item = found.get(_key_of(key, key))
                units += _read(item, spec.get("ConsistentRead", False))
        return Units(read=units)

    def _query(self, params: Mapping[str, Any], result: Mapping[str, Any]) -> Units:
        size = sum(_size(item) for item in result.get("Items", []))
        units = max(1, math.ceil(size / READ_UNIT))
        return Units(read=units if params.get("ConsistentRead") else units / 2)

    _scan = _query

    # -- writes -------------------------------------------------------------------------------
    def _put_item(self, params: Mapping[str, Any], result: Mapping[str, Any]) -> Units:
        return self._put(params["TableName"], params["Item"])

    def _update_item(self, params: Mapping[str, Any], result: Mapping[str, Any]) -> Units:
        return self._update(params)

    def _delete_item(self, params: Mapping[str, Any], result: Mapping[str, Any]) -> Units:
        return Units(write=1)

    def _batch_write_item(self, params: Mapping[str, Any], result: Mapping[str, Any]) -> Units:
        total = Units()
        for table, requests in params["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    total += self._put(table, request["PutRequest"]["Item"])
                else:
                    total += Units(write=1)
        return total

    def _transact_write_items(self, params: Mapping[str, Any], result: Mapping[str, Any]) -> Units:
        total = Units()
        for item in params["TransactItems"]:
            if "Put" in item:
                one = self._put(item["Put"]["TableName"], item["Put"]["Item"])
            elif "Update" in item:
                one = self._update(item["Update"])
            else:  # Delete, ConditionCheck
                one = Units(write=1)
            total += Units(write=2 * one.write, index=one.index)
        return total

    def _put(self, table: str, item: Mapping[str, Any]) -> Units:
        indexed = sum(1 for keys in self.indexes.get(table, []) if keys & set(item))
        return Units(write=max(1, math.ceil(_size(item) / WRITE_UNIT)), index=indexed)

    def _update(self, params: Mapping[str, Any]) -> Units:
        names = params.get("ExpressionAttributeNames", {})
        expression = params.get("UpdateExpression", "")
        named = {names.get(token, token) for token in re.findall(r"#?\w+", expression)}
        indexed = sum(1 for keys in self.indexes.get(params["TableName"], []) if keys & named)
        return Units(write=1, index=indexed)


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _size(item: Mapping[str, Any] | None) -> int:
    return len(json.dumps(item, separators=(",", ":"))) if item else 0


def _read(item: Mapping[str, Any] | None, consistent: bool) -> float:
    units = max(1, math.ceil(_size(item) / READ_UNIT))
    return units if consistent else units / 2


def _responses(result: Mapping[str, Any], table: str) -> Iterable[Mapping[str, Any]]:
    return result.get("Responses", {}).get(table, [])


def _key_of(item: Mapping[str, Any], key: Mapping[str, Any]) -> str:
    return json.dumps({name: item.get(name) for name in sorted(key)}, sort_keys=True)
