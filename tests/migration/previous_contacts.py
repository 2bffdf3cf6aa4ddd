"""The previous version's data layer of contact states (StopSMS before one item per number, commit
186ec15), kept verbatim as the writer of the tables a deployed stack holds: the migration is
tested on what it wrote.

The suppression list and consent state: one ``ContactState`` item per phone x scope.

Every change carries the instant the person acted (``status_at``); a change older than the
stored one is refused, so out-of-order deliveries converge on the latest decision.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pynamodb.expressions.update import Action

from stopsms import clock
from stopsms.dal.batch import batch_get
from stopsms.dal.conditions import update_if
from stopsms.dal.tables import GLOBAL_SCOPE, ContactState
from stopsms.errors import StaleEvent
from stopsms.rules.eligibility import OPTED_IN, OPTED_OUT, Preference, Status

__all__ = [
    "GLOBAL_SCOPE",
    "OPTED_IN",
    "OPTED_OUT",
    "apply",
    "lookup",
    "preference",
    "replaced_opt_out",
    "state_of",
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
    """
    condition = ContactState.phone.does_not_exist() | (ContactState.status_at < at)
    if status == OPTED_OUT:
        condition |= ContactState.status_at == at
    elif evidence_key:
        condition |= (
            (ContactState.status_at == at)
            & (ContactState.status == status)
            & (ContactState.evidence_key == evidence_key)
        )
    actions: list[Action] = [
        ContactState.status.set(status),
        ContactState.status_at.set(at),
        ContactState.source.set(source),
        ContactState.updated_at.set(clock.now()),
        ContactState.recorded_at.remove(),  # it dated the decision this one replaces
        ContactState.evidence_key.set(evidence_key)
        if evidence_key
        else ContactState.evidence_key.remove(),
    ]
    if status == OPTED_OUT:
        actions.append(ContactState.opted_out_at.set(at))
    actions.append(
        ContactState.proof_expires_at.set(proof_expires_at)
        if proof_expires_at
        else ContactState.proof_expires_at.remove()
    )
    if update_if(ContactState(phone, scope), actions, condition):
        return
    if status == OPTED_OUT:
        replaced_opt_out(phone, scope, at)
    raise StaleEvent(f"a later decision is stored for scope {scope}")


def replaced_opt_out(phone: str, scope: str, at: datetime) -> None:
    """Date the opt-out a stored, later opt-in replaced: ``at`` if it is more recent than the
    one known (an opt-out learnt late). Nothing happens when the state is no such opt-in."""
    condition = (
        (ContactState.status == OPTED_IN)
        & (ContactState.status_at > at)
        & (ContactState.opted_out_at.does_not_exist() | (ContactState.opted_out_at < at))
    )
    update_if(ContactState(phone, scope), [ContactState.opted_out_at.set(at)], condition)


def lookup(
    phones: Iterable[str], brand: str
) -> dict[str, tuple[Preference | None, Preference | None]]:
    """For each phone: (its state for ``brand``, its state for every brand), in one batch read."""
    phones = list(dict.fromkeys(phones))
    keys = [(p, s) for p in phones for s in (brand, GLOBAL_SCOPE)]
    found = batch_get({ContactState: keys})[ContactState]
    return {
        p: (_preference(found.get((p, brand))), _preference(found.get((p, GLOBAL_SCOPE))))
        for p in phones
    }


def state_of(phone: str) -> list[ContactState]:
    """Every scope's state for one phone (operator view)."""
    return list(ContactState.query(phone))


def _preference(item: ContactState | None) -> Preference | None:
    if item is None:
        return None
    return preference(item)


def preference(item: ContactState) -> Preference:
    """What the eligibility rules read of a stored state."""
    return Preference(
        item.status,  # type: ignore[arg-type]
        item.status_at,
        item.opted_out_at,
        proof_until=item.proof_expires_at,
    )


def forget(phone: str) -> int:
    """Delete every state of ``phone`` (erasure); how many there were."""
    states = state_of(phone)
    for state in states:
        state.delete()
    return len(states)
