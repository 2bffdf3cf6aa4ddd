"""The campaign report of contract §6, computed from the tables.

Outcomes are counted from the delivery records rather than kept as counters updated on every
send: one query per report instead of one extra write per recipient. ``pending`` is what the
audience still owes: queued, being sent, or deferred to the recipient's window.
"""

from __future__ import annotations

from typing import Any

from stopsms.dal import campaigns, deliveries
from stopsms.errors import StopSmsError

REASONS = ("opted_out", "no_consent", "invalid_number", "duplicate")


class UnknownCampaign(StopSmsError):
    """No campaign with this id was ever recorded."""


def report(campaign_id: str) -> dict[str, Any]:
    campaign = campaigns.get(campaign_id)
    if campaign is None:
        raise UnknownCampaign(f"no campaign {campaign_id!r} is recorded")
    sent = failed = segments = in_flight = 0
    suppressed = dict.fromkeys(REASONS, 0)
    for item in deliveries.of_campaign(campaign_id):
        if item.status == deliveries.SENT:
            sent += 1
            segments += int(item.segments or 0)
        elif item.status == deliveries.FAILED:
            failed += 1
        elif item.status == deliveries.SUPPRESSED:
            reason = str(item.reason)
            suppressed[reason] = suppressed.get(reason, 0) + 1
        else:
            in_flight += 1
    finished = sent + failed + sum(suppressed.values())
    # Until the fan-out has queued everyone, the audience is what is known so far.
    audience = int(campaign.audience if campaign.audience is not None else campaign.queued or 0)
    audience = max(audience, finished + in_flight)
    return {
        "campaign_id": campaign_id,
        "audience": audience,
        "sent": sent,
        "failed": failed,
        "pending": audience - finished,
        "suppressed": suppressed,
        "opt_outs": int(campaign.opt_outs or 0),
        "segments": segments,
    }


def render_table(data: dict[str, Any]) -> str:
    """The report as a readable table for a terminal."""
    rows = [
        ("campaign", data["campaign_id"]),
        ("audience", data["audience"]),
        ("sent", data["sent"]),
        ("failed", data["failed"]),
        ("pending", data["pending"]),
        *((f"suppressed: {reason}", count) for reason, count in data["suppressed"].items()),
        ("opt-outs (STOP replies)", data["opt_outs"]),
        ("segments billed", data["segments"]),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value:>10}" for label, value in rows)
