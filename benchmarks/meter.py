"""Every botocore call of this process, counted (PynamoDB included) and priced in DynamoDB
units: the one meter the requests, receipts and import benchmarks read."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient

from benchmarks.capacity import Capacity, Units, index_keys
from stopsms.emulator import template

# What one request carries at most, for the batch-API floor.
BATCH_LIMITS = {
    "SendMessageBatch": 10,
    "ReceiveMessage": 10,
    "DeleteMessageBatch": 10,
    "BatchGetItem": 100,
    "TransactWriteItems": 100,
    "BatchWriteItem": 25,
}
Key = tuple[str, str, str]  # (who, service, operation)


@dataclass
class Meter:
    """Requests, the items they carried and their DynamoDB units, by who made them (a
    function, its poller, AWS): ``who`` is set by whoever drives the code measured."""

    capacity: Capacity
    calls: Counter[Key] = field(default_factory=Counter)
    items: Counter[Key] = field(default_factory=Counter)
    units: dict[str, Units] = field(default_factory=dict)
    idle_receives: int = 0
    who: str = "process"
    paused: bool = False
    excluded: frozenset[str] = frozenset()

    def record(self, service: str, operation: str, params: dict[str, Any], result: Any) -> None:
        if self.paused or operation in self.excluded:
            return
        carried = _items(operation, params, result)
        if operation == "ReceiveMessage" and carried == 0:
            self.idle_receives += 1  # Lambda long-polls an idle queue whatever the work
            return
        key = (self.who, service, operation)
        self.calls[key] += 1
        self.items[key] += carried
        if service == "dynamodb":
            self.units[self.who] = self.units.get(self.who, Units()) + self.capacity.of(
                operation, params, result
            )

    def requests(self, who: Iterable[str] | None = None) -> int:
        return sum(n for key, n in self.calls.items() if _of(key, who))

    def floor(self, who: Iterable[str] | None = None) -> int:
        """The requests had every batch request been full; a call of one item is itself."""
        return sum(
            math.ceil(self.items[key] / BATCH_LIMITS[key[2]]) if key[2] in BATCH_LIMITS else n
            for key, n in self.calls.items()
            if _of(key, who)
        )

    def units_of(self, who: Iterable[str] | None = None) -> Units:
        total = Units()
        for name, units in self.units.items():
            if who is None or name in set(who):
                total += units
        return total

    def by_operation(self, who: Iterable[str] | None = None) -> Counter[tuple[str, str]]:
        out: Counter[tuple[str, str]] = Counter()
        for (name, service, operation), n in self.calls.items():
            if _of((name, service, operation), who):
                out[service, operation] += n
        return out


def for_tables(tables: Mapping[str, str], **kwargs: Any) -> Meter:
    """A meter pricing writes with the template's indexes; ``tables``: logical id -> name."""
    return Meter(Capacity(index_keys(template.load(), tables)), **kwargs)


@contextmanager
def metering(meter: Meter) -> Iterator[Meter]:
    """Count every botocore call of this process into ``meter``."""
    original = BaseClient._make_api_call

    def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        result = original(client, operation, params)
        meter.record(client.meta.service_model.service_name, operation, params, result)
        return result

    BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield meter
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def _of(key: Key, who: Iterable[str] | None) -> bool:
    return who is None or key[0] in set(who)


def _items(operation: str, params: dict[str, Any], result: Any) -> int:
    if operation in ("SendMessageBatch", "DeleteMessageBatch", "ChangeMessageVisibilityBatch"):
        return len(params.get("Entries", []))
    if operation == "ReceiveMessage":
        return len(result.get("Messages", []))
    if operation == "BatchGetItem":
        return sum(len(spec["Keys"]) for spec in params["RequestItems"].values())
    if operation == "BatchWriteItem":
        return sum(len(requests) for requests in params["RequestItems"].values())
    if operation == "TransactWriteItems":
        return len(params["TransactItems"])
    if operation == "Query":
        return max(1, len(result.get("Items", [])))
    return 1
