"""Opt-outs written in bulk (the stop-list import): each row's evidence and suppression state
in one transaction, so that an interrupted import never leaves proof without suppression (or
the reverse), 50 rows to a ``TransactWriteItems`` (its limit is 100 items).

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
from pynamodb.transactions import TransactWrite

from stopsms.dal.conditions import is_refused_item
from stopsms.dal.tables import ContactState, Evidence

ROWS_PER_TRANSACTION = 50


class Refusal(StrEnum):
    EVIDENCE = "evidence"  # this very event is stored already
    STATE = "state"  # a more recent decision is stored (written since it was read)


@dataclass
class OptOut:
    """One row to write: its proof and the state it sets."""

    evidence: Evidence
    state: ContactState
    with_evidence: bool = True


def write(rows: Sequence[OptOut]) -> dict[int, Refusal]:
    """Write up to ``ROWS_PER_TRANSACTION`` rows at once, all or nothing.

    Returns, by index in ``rows``, the rows whose condition failed (nothing was written then:
    correct them and call again); empty when every row was written."""
    if len(rows) > ROWS_PER_TRANSACTION:
        raise ValueError(f"at most {ROWS_PER_TRANSACTION} rows a transaction")
    owners: list[tuple[int, Refusal]] = []
    try:
        with TransactWrite(connection=Connection()) as transaction:
            for index, row in enumerate(rows):
                if row.with_evidence:
                    transaction.save(row.evidence, condition=Evidence.phone.does_not_exist())
                    owners.append((index, Refusal.EVIDENCE))
                at = row.state.status_at
                transaction.save(
                    row.state,
                    condition=ContactState.phone.does_not_exist() | (ContactState.status_at <= at),
                )
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
