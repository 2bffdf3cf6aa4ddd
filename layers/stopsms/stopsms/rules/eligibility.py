"""May this person receive a marketing SMS from this brand? Pure decision, no I/O.

A phone has at most two relevant states: the one for the brand and the one for every brand
(STOPALL). The most recent of the two decides, so a START sent to a brand after a STOPALL
re-opens that brand only. An opt-in for every brand (a START nobody can attribute) only
lifts an opt-out for every brand: it never re-opens a brand's own opt-out, and it is no
consent. Under the ``enforce`` consent policy, marketing also needs a recorded opt-in for
the brand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Status = Literal["opted_in", "opted_out"]
OPTED_IN: Status = "opted_in"
OPTED_OUT: Status = "opted_out"

Reason = Literal["opted_out", "no_consent"]


@dataclass(frozen=True)
class Preference:
    """A decision of the person (``status`` at ``at``), equal to another of the same
    decision, the latest opt-out an opt-in replaced (for when that opt-in lapses), and when
    the proof of an opt-in expires."""

    status: Status
    at: datetime
    opted_out_at: datetime | None = field(default=None, compare=False)
    proof_until: datetime | None = field(default=None, compare=False)


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
    at: datetime | None = None,
) -> Reason | None:
    """Why a marketing SMS must not be sent at ``at``, or None when it may be.

    An opt-in given before ``consent_since``, or whose proof expired before ``at``, has lapsed
    (retention): it is no consent any more, and no longer lifts the opt-out it replaced, whose
    proof is kept."""
    brand, everyone = _relied_on(brand, consent_since, at), _relied_on(everyone, consent_since, at)
    if everyone is not None and everyone.status != OPTED_OUT:
        everyone = None  # an opt-in for every brand replaced a STOPALL, nothing more
    decision = latest(brand, everyone)
    if decision is not None and decision.status == OPTED_OUT:
        return "opted_out"
    if enforce_consent and (brand is None or brand.status != OPTED_IN):
        return "no_consent"
    return None


def _relied_on(
    preference: Preference | None, since: datetime | None, at: datetime | None
) -> Preference | None:
    """The decision still in force: a lapsed opt-in gives way to the opt-out it replaced,
    or to no decision at all."""
    if preference is None or preference.status != OPTED_IN:
        return preference
    expired = at is not None and preference.proof_until is not None and preference.proof_until <= at
    if not expired and (since is None or preference.at >= since):
        return preference
    if preference.opted_out_at is not None:
        return Preference(OPTED_OUT, preference.opted_out_at)
    return None
