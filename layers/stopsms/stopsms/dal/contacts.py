"""The suppression list and consent state: one item per number holding every scope's state
(``dal.number_items``); an erased number's stand-in keeps an item per scope (``ContactState``).

Every change carries the instant the person acted (``status_at``); a change older than the
stored one is refused, so out-of-order deliveries converge on the latest decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from stopsms import clock
from stopsms.aws import clients
from stopsms.aws.keyed_hash import PREFIX as ERASED
from stopsms.aws.keyed_hash import erased_key
from stopsms.dal.batch import batch_get
from stopsms.dal.conditions import update_if
from stopsms.dal.number_items import NUMBER_ITEM, field, states_of, writing
from stopsms.dal.tables import GLOBAL_SCOPE, ContactState, NumberItem
from stopsms.errors import StaleEvent
from stopsms.rules.eligibility import OPTED_IN, OPTED_OUT, Preference, Status, latest
from stopsms.rules.scope_states import ScopeState, merged
from stopsms.settings import get_settings

ERASED_SCOPE = "*erased"  # in a number's item: the opt-out its erasure left (a brand cannot
# start with "*": ``rules.brands.canonical_brand``)

__all__ = [
    "ERASED_SCOPE",
    "GLOBAL_SCOPE",
    "OPTED_IN",
    "OPTED_OUT",
    "apply",
    "erasure_left",
    "erasures_left",
    "lookup",
    "opted_out",
    "preference",
    "replaced_opt_out",
    "state_of",
    "suppression",
]


def apply(
    phone: str,
    scope: str,
    status: Status,
    at: datetime,
    *,
    source: str,
    evidence_key: str | None = None,
    proof_expires_at: datetime | None = None,
) -> None:
    """Record ``status`` for (phone, scope) unless a later decision is already stored.

    On a tie the opt-out wins: when in doubt, do not send. The very same decision again (same
    instant, same evidence: a retry) is written again, so the caller redoes its follow-ups.
    Raises ``StaleEvent`` when refused.

    An opt-out also sets ``opted_out_at``, which an opt-in leaves in place: once that opt-in
    lapses (retention), the opt-out it replaced is in force again (``stopsms.rules.eligibility``).
    An opt-out older than a stored opt-in (delivered late, or imported) was replaced by that
    opt-in all the same: it moves ``opted_out_at`` forward, then is refused as stale.

    A number's decisions go to its item (``NumberItem``); an erased number's stand-in keeps
    an item per scope (``ContactState``), written by the same rules.
    """
    decision = partial(
        _decision,
        status=status,
        at=at,
        source=source,
        evidence_key=evidence_key,
        proof_expires_at=proof_expires_at,
    )
    if not phone.startswith(ERASED) and not migrated():
        # Until migrated: the number's older items first (so that this decision is judged
        # against them), and the decision in its own per-scope item too, for a function of
        # the previous version still running during the stack's update.
        fold(phone)
        update_if(ContactState(phone, scope), *decision(_per_scope))
    if _write(phone, scope, *decision(_fields(phone, scope))):
        return
    if status == OPTED_OUT:
        replaced_opt_out(phone, scope, at)
    raise StaleEvent(f"a later decision is stored for scope {scope}")


def _decision(
    a: Callable[[str], Any],
    *,
    status: Status,
    at: datetime,
    source: str,
    evidence_key: str | None,
    proof_expires_at: datetime | None,
) -> tuple[list[Action], Condition]:
    """The update of a decision and its condition, on the attributes ``a`` names."""
    condition = a("status_at").does_not_exist() | (a("status_at") < at)
    if status == OPTED_OUT:
        condition |= a("status_at") == at
    elif evidence_key:
        condition |= (
            (a("status_at") == at) & (a("status") == status) & (a("evidence_key") == evidence_key)
        )
    actions: list[Action] = [
        a("status").set(status),
        a("status_at").set(at),
        a("source").set(source),
        a("updated_at").set(clock.now()),
        a("recorded_at").remove(),  # it dated the decision this one replaces
        a("evidence_key").set(evidence_key) if evidence_key else a("evidence_key").remove(),
    ]
    if status == OPTED_OUT:
        actions.append(a("opted_out_at").set(at))
    actions.append(
        a("proof_expires_at").set(proof_expires_at)
        if proof_expires_at
        else a("proof_expires_at").remove()
    )
    return actions, condition


def replaced_opt_out(phone: str, scope: str, at: datetime) -> None:
    """Date the opt-out a stored, later opt-in replaced: ``at`` if it is more recent than the
    one known (an opt-out learnt late). Nothing happens when the state is no such opt-in."""
    a = _fields(phone, scope)
    condition = (
        (a("status") == OPTED_IN)
        & (a("status_at") > at)
        & (a("opted_out_at").does_not_exist() | (a("opted_out_at") < at))
    )
    _write(phone, scope, [a("opted_out_at").set(at)], condition)


def _fields(phone: str, scope: str) -> Callable[[str], Any]:
    """The attribute of each field of (phone, scope)'s state, in the item that holds it."""
    if phone.startswith(ERASED):
        return _per_scope
    return partial(field, scope=scope)


def _per_scope(name: str) -> Any:
    """A field of a per-scope item (a stand-in's, or the previous version's)."""
    return getattr(ContactState, name)


def _write(phone: str, scope: str, actions: list[Action], condition: Condition) -> bool:
    """Apply a scope's update where it lives. A number's item written anew first takes in the
    opt-out its number's erasure left, if any (``ERASED_SCOPE``): an item present is then all
    a sender needs to read."""
    if phone.startswith(ERASED):
        return update_if(ContactState(phone, scope), actions, condition)
    item = NumberItem(phone, NUMBER_ITEM)
    while True:
        if update_if(item, actions, condition & NumberItem.phone.exists()):
            return True
        if _exists(phone):
            return False  # the item is there: the scope's own condition refused
        left = erasure_left(phone)
        if update_if(item, actions + left, condition & NumberItem.phone.does_not_exist()):
            return True
        # Written meanwhile by another decision: its condition is judged on that item.


def _exists(phone: str) -> bool:
    try:
        NumberItem.get(phone, NUMBER_ITEM, consistent_read=True, attributes_to_get=["phone"])
    except NumberItem.DoesNotExist:
        return False
    return True


def erasure_left(phone: str) -> list[Action]:
    """The fields of the opt-out an erasure of ``phone`` left under its stand-in, as actions
    on its number's item (none when the number was never erased, or erasure is not set up)."""
    settings = get_settings()
    if not settings.erasure_key_secret:
        return []  # no key: erasure is not possible here, so nothing was erased
    try:
        left = ContactState.get(erased_key(phone, settings), GLOBAL_SCOPE, consistent_read=True)
    except ContactState.DoesNotExist:
        return []
    return _erasure_actions(preference_state(left))


def erasures_left(phones: Iterable[str]) -> dict[str, list[Action]]:
    """``erasure_left`` of many numbers, in one batch read."""
    phones = list(dict.fromkeys(phones))
    settings = get_settings()
    if not settings.erasure_key_secret or not phones:
        return {p: [] for p in phones}  # no key: erasure is not possible here
    stand_ins = {p: erased_key(p, settings) for p in phones}
    left = batch_get({ContactState: [(s, GLOBAL_SCOPE) for s in stand_ins.values()]})
    out: dict[str, list[Action]] = {}
    for p, stand_in in stand_ins.items():
        found = left[ContactState].get((stand_in, GLOBAL_SCOPE))
        out[p] = [] if found is None else _erasure_actions(preference_state(found))
    return out


def _erasure_actions(state: ScopeState) -> list[Action]:
    return writing(state, ERASED_SCOPE)


def lookup(
    phones: Iterable[str], brand: str
) -> dict[str, tuple[Preference | None, Preference | None]]:
    """For each phone: (its state for ``brand``, its state for every brand), in one batch read
    (the operator's view; the sender reads ``suppression``)."""
    phones = list(phones)
    numbers = suppression([p for p in phones if not p.startswith(ERASED)], [brand])
    out: dict[str, tuple[Preference | None, Preference | None]] = {}
    for phone in phones:
        if phone.startswith(ERASED):  # a stand-in's own items (rare: the operator's view)
            states = {state.scope: state for state in state_of(phone)}
        else:
            states = dict(numbers[phone].states)
        out[phone] = (_of(states.get(brand)), _of(states.get(GLOBAL_SCOPE)))
    return out


@dataclass(frozen=True)
class Suppression:
    """What the sender reads of a number."""

    states: Mapping[str, ScopeState]  # its item's, by scope (none: it has no item)
    erasure: Preference | None  # the opt-out an erasure of the number left
    erased: bool  # erased once: its records go under its stand-in, never its number again

    def brand(self, name: str) -> Preference | None:
        return _of(self.states.get(name))

    @property
    def everyone(self) -> Preference | None:
        """The decision in force for every brand, the erasure's included."""
        return latest(_of(self.states.get(GLOBAL_SCOPE)), self.erasure)


def suppression(phones: Iterable[str], brands: Iterable[str] = ()) -> dict[str, Suppression]:
    """Each number's states: one strongly consistent read of its item (a STOP written a second
    ago must be seen); for a number without one, its stand-in's, since an erasure deletes the
    item (an item written since carries what the erasure left: ``ERASED_SCOPE``). Until the
    table is migrated, the previous version's items for ``brands`` and every brand too."""
    phones = list(dict.fromkeys(phones))
    found = batch_get({NumberItem: [(p, NUMBER_ITEM) for p in phones]})[NumberItem]
    settings = get_settings()
    # Without an item of its own (an item carries what an erasure left), a number's stand-in
    # is read, whatever the previous version's items say of it.
    stand_ins = {
        p: erased_key(p, settings)
        for p in phones
        if (p, NUMBER_ITEM) not in found and settings.erasure_key_secret
    }
    if not migrated():
        found = _with_legacy(phones, [*dict.fromkeys(brands), GLOBAL_SCOPE], found)
    keys = [(s, GLOBAL_SCOPE) for s in stand_ins.values()]
    left = batch_get({ContactState: keys})[ContactState] if keys else {}
    out: dict[str, Suppression] = {}
    for p in phones:
        item = found.get((p, NUMBER_ITEM))
        states = {} if item is None else item.states
        if p in stand_ins:
            erasure = left.get((stand_ins[p], GLOBAL_SCOPE))
            out[p] = Suppression(
                states, None if erasure is None else preference(erasure), erasure is not None
            )
        else:
            kept = states.get(ERASED_SCOPE)
            out[p] = Suppression(states, _of(kept), erased=kept is not None)
    return out


def state_of(phone: str) -> list[ScopeState]:
    """Every scope's state for one phone or stand-in (operator view), the erasure's aside."""
    if phone.startswith(ERASED):
        return [preference_state(item) for item in ContactState.query(phone)]
    try:
        states = NumberItem.get(phone, NUMBER_ITEM, consistent_read=True).states
    except NumberItem.DoesNotExist:
        states = {}
    if not migrated():
        for legacy in _per_scope_items(phone):
            older = preference_state(legacy)
            states[older.scope] = merged(states.get(older.scope), older)  # type: ignore[assignment]
    return [state for scope, state in states.items() if scope != ERASED_SCOPE]


def _per_scope_items(phone: str) -> Iterator[ContactState]:
    """The previous version's items of ``phone`` (its own item aside)."""
    return ContactState.query(
        phone, filter_condition=ContactState.scope != NUMBER_ITEM, consistent_read=True
    )


def _with_legacy(
    phones: list[str], scopes: list[str], found: dict[Any, NumberItem]
) -> dict[Any, NumberItem]:
    """``found`` with the previous version's per-scope items of ``scopes`` merged in (a
    number with such items and no item of its own gets one, in memory)."""
    older = batch_get({ContactState: [(p, s) for p in phones for s in scopes]})[ContactState]
    for (phone, _), legacy in older.items():
        item = found.setdefault((phone, NUMBER_ITEM), NumberItem(phone, NUMBER_ITEM))
        state = preference_state(legacy)
        item.states[state.scope] = merged(item.states.get(state.scope), state)  # type: ignore[assignment]
    return found


def _of(state: ScopeState | None) -> Preference | None:
    return None if state is None else state.preference


def preference(item: ContactState) -> Preference:
    """What the eligibility rules read of a stored per-scope state."""
    return preference_state(item).preference


def preference_state(item: ContactState) -> ScopeState:
    """A per-scope item's state, as a number's item holds it."""
    return ScopeState(
        scope=str(item.scope),
        status=item.status,  # type: ignore[arg-type]
        status_at=item.status_at,
        source=str(item.source),
        updated_at=item.updated_at,
        evidence_key=item.evidence_key,
        recorded_at=item.recorded_at,
        opted_out_at=item.opted_out_at,
        proof_expires_at=item.proof_expires_at,
    )


def forget(phone: str) -> int:
    """Delete every state of ``phone`` (erasure): its item, and any item per scope the
    previous version wrote; how many states there were."""
    states = state_of(phone)
    NumberItem(phone, NUMBER_ITEM).delete()
    for legacy in _per_scope_items(phone):
        legacy.delete()
    return len(states)


def opted_out() -> Iterator[tuple[str, ScopeState]]:
    """Every opt-out in force, with its phone or stand-in (a full scan: an export is rare and
    must be complete); the opt-out a number's erasure left stays under its stand-in."""
    pages = (
        clients.dynamodb()
        .get_paginator("scan")
        .paginate(TableName=ContactState.Meta.table_name, ConsistentRead=True)
    )
    for page in pages:
        for raw in page.get("Items", []):
            phone = raw["phone"]["S"]
            if raw["scope"]["S"] == NUMBER_ITEM:
                states = [s for s in states_of(raw).values() if s.scope != ERASED_SCOPE]
            else:
                states = [preference_state(ContactState.from_raw_data(raw))]
            yield from ((phone, state) for state in states if state.status == OPTED_OUT)


# --- the migration from an item per scope (the previous version) ------------------------------

MIGRATED = ("#migration", "number-items")  # the marker's key: no phone starts with "#"
_migrated: set[str] = set()  # tables seen migrated: the marker is never removed


def migrated() -> bool:
    """Whether every per-scope item of numbers was folded into its number's item (the marker
    ``migrate`` writes last); until then readers also read the per-scope items."""
    table = ContactState.Meta.table_name
    if table in _migrated:
        return True
    try:
        ContactState.get(*MIGRATED, consistent_read=True, attributes_to_get=["phone"])
    except ContactState.DoesNotExist:
        return False
    _migrated.add(table)
    return True


def mark_migrated(at: datetime) -> None:
    """Write the marker (``migrate``, once every number is folded; a new stack at once)."""
    ContactState(
        *MIGRATED, status=OPTED_OUT, status_at=at, source="migration", updated_at=at
    ).save()
    _migrated.clear()


def forget_migrated() -> None:
    """Read the marker again at the next ``migrated`` (tests switch tables)."""
    _migrated.clear()


def fold(phone: str, legacy: Iterable[ContactState] | None = None) -> int:
    """Fold the per-scope items the previous version wrote for ``phone`` into its number's
    item (``rules.scope_states.merged``: the same state whatever the order); how many scopes
    changed. Each scope is written only if unchanged since read, else read and merged again.
    The per-scope items are left in place (``drop_legacy`` deletes them)."""
    states = [preference_state(item) for item in (legacy or _per_scope_items(phone))]
    if not states:
        return 0
    for _ in range(_FOLD_ATTEMPTS):
        try:
            item = NumberItem.get(phone, NUMBER_ITEM, consistent_read=True)
        except NumberItem.DoesNotExist:
            item = None
        if _fold_into(phone, item, states):
            return len(states)
    raise RuntimeError("a number's item kept changing while its older items were folded in")


_FOLD_ATTEMPTS = 5


def _fold_into(phone: str, item: NumberItem | None, states: list[ScopeState]) -> bool:
    """One attempt: every scope merged and written in one update, conditional on the item as
    read (absent, or each scope's ``updated_at`` unchanged)."""
    current = {} if item is None else item.states
    actions: list[Action] = []
    guard: Condition = NumberItem.phone.exists() if item is not None else _absent()
    for state in states:
        stored = current.get(state.scope)
        combined = merged(stored, state)
        if combined == stored or combined is None:
            continue
        actions += writing(combined)
        when = field("updated_at", state.scope)
        guard &= when.does_not_exist() if stored is None else when == stored.updated_at
    if not actions:
        return True
    if item is None:
        actions += erasure_left(phone)
    return update_if(NumberItem(phone, NUMBER_ITEM), actions, guard)


def _absent() -> Condition:
    return NumberItem.phone.does_not_exist()
