"""How long StopSMS relies on a consent and keeps a proof (``RetentionDays``). Pure.

One rule ties both, so a consent is never relied on without its proof: an opt-in counts as
consent for ``retention_days`` after it was given (the CNIL's three years after the last
contact, by default: a newer opt-in renews it), and its evidence expires (DynamoDB TTL) at
that very instant. After that the sender treats the number as never having consented
(``no_consent``). Replies and help requests are kept as long. Opt-out evidence never expires:
it proves an opt-out that stays in force, and must outlive any campaign.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["consent_since", "evidence_expiry"]


def evidence_expiry(kind: str, at: datetime, retention_days: int) -> datetime | None:
    """When the evidence of an event of ``kind`` at ``at`` expires (None: never)."""
    return None if kind == "opt_out" else at + timedelta(days=retention_days)


def consent_since(now: datetime, retention_days: int) -> datetime:
    """The oldest opt-in still relied on at ``now``: older ones have lapsed."""
    return now - timedelta(days=retention_days)
