"""A number's stored decision for one scope (a brand, every brand, or the erasure's), and how
two records of the same scope combine. Pure: no I/O.

Two records of one scope exist while a deployed stack migrates to one item per number (the
number's item and an item per scope written by the previous version): what they say together
is what the later decision says, carrying the latest opt-out either knew of, exactly as if
both decisions had been applied to one record in any order (``dal.contacts.apply``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from stopsms.rules.eligibility import OPTED_OUT, Preference, Status


@dataclass(frozen=True)
class ScopeState:
    """The decision in force for ``scope`` and what it rests on."""

    scope: str
    status: Status
    status_at: datetime  # when the person acted: orders decisions whatever their arrival
    source: str
    updated_at: datetime
    evidence_key: str | None = None
    recorded_at: datetime | None = None  # first recorded elsewhere (an imported stop list)
    opted_out_at: datetime | None = None  # the latest opt-out, kept by a later opt-in
    proof_expires_at: datetime | None = None  # an opt-in lapses when its proof expires

    @property
    def preference(self) -> Preference:
        """What the eligibility rules read of it."""
        return Preference(
            self.status, self.status_at, self.opted_out_at, proof_until=self.proof_expires_at
        )


def outranks(a: ScopeState, b: ScopeState) -> bool:
    """Whether ``a`` is the decision in force over ``b``: the later one; on equal instants the
    opt-out (when in doubt, do not send)."""
    return (a.status_at, a.status == OPTED_OUT) > (b.status_at, b.status == OPTED_OUT)


def merged(a: ScopeState | None, b: ScopeState | None) -> ScopeState | None:
    """One scope's state from two records of it: the decision in force, carrying the latest
    opt-out either record knew of (the one in force again once a later opt-in lapses)."""
    if a is None or b is None:
        return a or b
    winner, loser = (a, b) if not outranks(b, a) else (b, a)
    opt_outs = [d for d in (a.opted_out_at, b.opted_out_at) if d is not None]
    if loser.status == OPTED_OUT:
        opt_outs.append(loser.status_at)
    if winner.status == OPTED_OUT:
        opt_outs.append(winner.status_at)
    return replace(winner, opted_out_at=max(opt_outs, default=None))
