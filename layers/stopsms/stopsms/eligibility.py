"""May this person receive a marketing SMS from this brand? Pure decision, no I/O.

A phone has at most two relevant states: the one for the brand and the one for every brand
(STOPALL). The most recent of the two decides, so a START sent to a brand after a STOPALL
re-opens that brand only. Under the ``enforce`` consent policy, marketing also needs a
recorded opt-in for the brand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Status = Literal["opted_in", "opted_out"]
OPTED_IN: Status = "opted_in"
OPTED_OUT: Status = "opted_out"

Reason = Literal["opted_out", "no_consent"]


@dataclass(frozen=True)
class Preference:
    status: Status
    at: datetime


def latest(*preferences: Preference | None) -> Preference | None:
    """The most recent decision; on equal instants the opt-out (when in doubt, do not send)."""
    known = [p for p in preferences if p is not None]
    if len(known) < 2:  # runs per recipient: no max() when there is nothing to compare
        return known[0] if known else None
    return max(known, key=lambda p: (p.at, p.status == OPTED_OUT))


def marketing_block(
    brand: Preference | None, everyone: Preference | None, *, enforce_consent: bool
) -> Reason | None:
    """Why a marketing SMS must not be sent, or None when it may be."""
    decision = latest(brand, everyone)
    if decision is not None and decision.status == OPTED_OUT:
        return "opted_out"
    if enforce_consent and (brand is None or brand.status != OPTED_IN):
        return "no_consent"
    return None
