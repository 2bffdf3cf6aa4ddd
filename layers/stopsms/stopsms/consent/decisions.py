"""The one writer of a person's consent decision: evidence first, then state.

Every path that learns a decision calls :func:`record`: consent intake, STOP and START replies,
the sender when AWS reports a number on its opt-out list, and an operator applying a reviewed
reply. The stop-list import writes the same pair for many rows with :func:`record_batch`.

The order is the rule: a state is never written without the proof it points to, so a crash
between the two leaves evidence without state, which the retry completes (the evidence is then
recognised by its key, never stored twice). A decision older than the stored state is kept as
evidence only: the state follows the instant the person acted, not the arrival order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from stopsms.dal import contacts, evidence, stoplist
from stopsms.dal.inbound import append_opt_out
from stopsms.dal.stoplist import OptOut, Refusal
from stopsms.dal.tables import Evidence
from stopsms.errors import AlreadyExists, StaleEvent
from stopsms.rules.eligibility import Status

__all__ = ["Recorded", "instant", "record", "record_batch"]


@dataclass(frozen=True)
class Recorded:
    """What :func:`record` did."""

    new: bool  # the evidence was stored now (False: kept by an earlier delivery)
    applied: bool  # the state now says this decision (False: a later one is stored)
    counted: bool  # the STOP was counted on its campaign (``count_on``)
    proof: Evidence  # the evidence the state points to: the first delivery's on a retry


def instant(proof: Evidence) -> datetime:
    """When the person decided, as far as StopSMS relies on it: the instant they stated,
    but never later than AWS received it (an upstream clock running ahead of AWS's must not
    outrank a STOP AWS received since)."""
    if proof.received_at is None:
        return proof.captured_at
    return min(proof.captured_at, proof.received_at)


def record(proof: Evidence, status: Status, *, count_on: str | None = None) -> Recorded:
    """Keep ``proof``, then set (phone, brand) to ``status`` unless a later decision is stored.

    ``count_on`` counts an opt-out on the campaign it answers, in the same transaction as the
    evidence, so a retried STOP is counted once. Redelivered evidence is recognised by its key;
    when it carries an arrival time (``received_at``: a copy arrives later than the first), the
    first delivery's stored evidence fixes the instant and the proof's expiry.
    """
    stored, new, counted = proof, True, False
    try:
        if count_on is not None:
            counted = append_opt_out(proof, count_on)
        else:
            evidence.append(proof)
    except AlreadyExists:
        new = False
        if proof.received_at is not None:
            stored = evidence.get(proof.phone, proof.event_key) or proof
    # Evidence kept before arrival times were recorded has none: this delivery's then bounds it.
    at = instant(stored) if stored.received_at is not None else instant(proof)
    try:
        contacts.apply(
            proof.phone,
            proof.brand,
            status,
            at,
            source=proof.source,
            evidence_key=proof.event_key,
            proof_expires_at=stored.expires_at,
        )
    except StaleEvent:
        return Recorded(new=new, applied=False, counted=counted, proof=stored)
    return Recorded(new=new, applied=True, counted=counted, proof=stored)


def record_batch(opt_outs: Sequence[OptOut]) -> dict[int, Refusal]:
    """Write many opt-outs, each evidence with its state in one transaction (the import's
    bulk form of :func:`record`: 50 rows a request). Returns the refused rows by position."""
    return stoplist.write(opt_outs)
