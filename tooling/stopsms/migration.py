"""``python -m stopsms migrate``: the previous version's items of numbers, one per scope, folded
into each number's item (``dal.number_items``), then the marker that tells every function to
read numbers' items alone (docs/DEPLOY.md, "Updating").

Safe to run again, and to interrupt: folding is a merge (``rules.scope_states.merged``), and the
marker is written only after a complete pass. ``--drop-legacy`` then deletes the per-scope items,
once no function of the previous version runs any more (the stack's update is complete).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import groupby

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


def migrate(*, drop: bool = False, progress: Callable[[Migrated], None] | None = None) -> Migrated:
    done = Migrated(already=contacts.migrated())
    if not done.already:
        for phone, items in groupby(_per_scope_items(), key=lambda item: str(item.phone)):
            found = list(items)
            done.items += len(found)
            done.numbers += bool(contacts.fold(phone, found))
            if progress is not None and done.items % PROGRESS_EVERY < len(found):
                progress(done)
        contacts.mark_migrated(clock.now())
    if drop:
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
