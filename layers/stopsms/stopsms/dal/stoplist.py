"""Opt-outs written in bulk (the stop-list import): each row's evidence and suppression state
(in its number's item, ``dal.number_items``) in one transaction, so that an interrupted import
never leaves proof without suppression (or the reverse), 50 rows to a ``TransactWriteItems``
(its limit is 100 items).

The conditions are those of single writes: evidence is only ever added (``AlreadyExists``
becomes "proof already there": only the state is written), and a state is only replaced by an
opt-out at least as recent (on a tie the opt-out wins, as in :func:`contacts.apply`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from stopsms.aws.keyed_hash import PREFIX as ERASED
from stopsms.dal.conditions import is_refused_item
from stopsms.dal.number_items import NUMBER_ITEM, field, fields_of, writing
from stopsms.dal.tables import ContactState, Evidence, NumberItem
from stopsms.rules.scope_states import ScopeState

ROWS_PER_TRANSACTION = 50


class Refusal(StrEnum):
    EVIDENCE = "evidence"  # this very event is stored already
    STATE = "state"  # a more recent decision is stored (written since it was read)


@dataclass
class OptOut:
    """One row to write: its proof and the state it sets (``state.scope``) for ``phone``."""

    evidence: Evidence
    phone: str
    state: ScopeState
    with_evidence: bool = True
    # The number has no item yet: it is written anew with these (what an erasure of the
    # number left, ``contacts.erasure_left``), and refused if it appeared meanwhile.
    creates: list[Action] | None = None

    @property
    def item_key(self) -> tuple[str, str]:
        """The item the state goes to: one write per item in a transaction."""
        if self.phone.startswith(ERASED):
            return (self.phone, self.state.scope)
        return (self.phone, NUMBER_ITEM)


def write(rows: Sequence[OptOut]) -> dict[int, Refusal]:
    """Write up to ``ROWS_PER_TRANSACTION`` rows at once, all or nothing; no two rows may go
    to the same item (``OptOut.item_key``).

    Returns, by index in ``rows``, the rows whose condition failed (nothing was written then:
    correct them and call again); empty when every row was written."""
    if len(rows) > ROWS_PER_TRANSACTION:
        raise ValueError(f"at most {ROWS_PER_TRANSACTION} rows a transaction")
    if len({row.item_key for row in rows}) < len(rows):
        raise ValueError("two rows of one transaction write the same item")
    owners: list[tuple[int, Refusal]] = []
    try:
        with TransactWrite(connection=Connection()) as transaction:
            for index, row in enumerate(rows):
                if row.with_evidence:
                    transaction.save(row.evidence, condition=Evidence.phone.does_not_exist())
                    owners.append((index, Refusal.EVIDENCE))
                _write_state(transaction, row)
                owners.append((index, Refusal.STATE))
    except TransactWriteError as error:
        refused: dict[int, Refusal] = {}
        for (index, kind), reason in zip(owners, error.cancellation_reasons or [], strict=False):
            if is_refused_item(reason) and refused.get(index) is not Refusal.STATE:
                refused[index] = kind  # a refused state outweighs a refused evidence
        if not refused:
            raise  # throttling, a conflict with another transaction: the caller retries
        return refused
    return {}


def _write_state(transaction: TransactWrite, row: OptOut) -> None:
    """Replace the scope's state unless a more recent decision is stored (a tie: ours, the
    opt-out)."""
    state = row.state
    if row.phone.startswith(ERASED):  # an erased number's stand-in keeps an item per scope
        item = ContactState(row.phone, state.scope, **fields_of(state))
        condition = ContactState.phone.does_not_exist() | (
            ContactState.status_at <= state.status_at
        )
        transaction.save(item, condition=condition)
        return
    when = field("status_at", state.scope)
    condition = when.does_not_exist() | (when <= state.status_at)
    if row.creates is None:
        condition &= NumberItem.phone.exists()
    else:
        condition &= NumberItem.phone.does_not_exist()
    transaction.update(
        NumberItem(row.phone, NUMBER_ITEM),
        writing(state) + (row.creates or []),
        condition=condition,
    )
