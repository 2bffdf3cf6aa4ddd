"""May this person receive a marketing SMS from this brand? Pure decision, no I/O.

A phone has at most two relevant states: the one for the brand and the one for every brand
(STOPALL). The most recent of the two decides, so a START sent to a brand after a STOPALL
re-opens that brand only. An opt-in for every brand (a START nobody can attribute) only
lifts an opt-out for every brand: it never re-opens a brand's own opt-out, and it is no
consent. Under the ``enforce`` consent policy, marketing also needs a recorded opt-in for
the brand.
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
    brand: Preference | None,
    everyone: Preference | None,
    *,
    enforce_consent: bool,
    consent_since: datetime | None = None,
) -> Reason | None:
    """Why a marketing SMS must not be sent, or None when it may be.

    An opt-in given before ``consent_since`` has lapsed (its proof is gone too: retention):
    it no longer counts as consent, though it still outranks an older opt-out."""
    if everyone is not None and everyone.status != OPTED_OUT:
        everyone = None  # an opt-in for every brand replaced a STOPALL, nothing more
    decision = latest(brand, everyone)
    if decision is not None and decision.status == OPTED_OUT:
        return "opted_out"
    if not enforce_consent:
        return None
    if brand is None or brand.status != OPTED_IN:
        return "no_consent"
    if consent_since is not None and brand.at < consent_since:
        return "no_consent"  # lapsed: given longer ago than the retention period
    return None
