"""``python -m stopsms migrate``: the previous version's items of numbers, one per scope, folded
into each number's item (``dal.number_items``), then the marker that tells every function to
read numbers' items alone (docs/DEPLOY.md, "Updating").

Safe to run again, and to interrupt: folding is a merge (``rules.scope_states.merged``), and the
marker is written only after a complete pass begun once no function of the previous version can
run any more (``settled``: 15 minutes after the stack's update; until then such a function may
write an item of the older form, which only an unmigrated table reads). ``--drop-legacy`` then
deletes the per-scope items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from stopsms import clock
from stopsms.aws.keyed_hash import PREFIX as ERASED
from stopsms.dal import contacts
from stopsms.dal.number_items import NUMBER_ITEM
from stopsms.dal.tables import ContactState

PROGRESS_EVERY = 1000  # per-scope items between two progress reports


@dataclass
class Migrated:
    items: int = 0  # per-scope items read
    numbers: int = 0  # numbers whose item changed
    dropped: int = 0  # per-scope items deleted (``drop``)
    already: bool = False  # the marker was there: nothing to fold
    marked: bool = True  # False: folded, the marker left for a run once the update settles


def migrate(
    *,
    drop: bool = False,
    settled: bool = True,
    progress: Callable[[Migrated], None] | None = None,
) -> Migrated:
    """Fold every number's per-scope items into its item; then, if ``settled`` (no function of
    the previous version can still run: it would write per-scope items no reader reads once
    the marker is there), the marker. Unsettled, the fold is done and the marker left for a
    later run: every function reads and writes both forms meanwhile."""
    done = Migrated(already=contacts.migrated())
    if not done.already:
        for phone, items in groupby(_per_scope_items(), key=lambda item: str(item.phone)):
            found = list(items)
            done.items += len(found)
            done.numbers += bool(contacts.fold(phone, found))
            if progress is not None and done.items % PROGRESS_EVERY < len(found):
                progress(done)
        if not settled:
            done.marked = False
            return done
        contacts.mark_migrated(clock.now())
    if drop and done.marked:
        for item in _per_scope_items():
            item.delete()
            done.dropped += 1
    return done


def _per_scope_items() -> Iterator[ContactState]:
    """The previous version's items of numbers (a full scan; a stand-in's items stay)."""
    return ContactState.scan(
        (ContactState.scope != NUMBER_ITEM)
        & ~ContactState.phone.startswith(ERASED)
        & ~ContactState.phone.startswith("#"),
        consistent_read=True,
    )


SETTLE = timedelta(minutes=15)  # Lambda's longest timeout: an invocation started before is over


def settled(stack: Mapping[str, Any] | None, now: datetime) -> datetime | None:
    """None when no function of the previous version can still run (no stack named: a local
    stack; or its last update older than ``SETTLE``), else when that will be true."""
    if stack is None:
        return None
    changed = stack.get("LastUpdatedTime") or stack.get("CreationTime")
    if not isinstance(changed, datetime) or now - changed >= SETTLE:
        return None
    return changed + SETTLE
