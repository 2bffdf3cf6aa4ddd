"""The campaign report of contract §6, computed from the tables.

Outcomes are counted from the delivery records rather than kept as counters updated on every
send: one query per report instead of one extra write per recipient. Delivery and cost come
from the running totals the receipts keep (``dal.receipts.totals``): a handful of items.
``pending`` is what the audience still owes: queued, being sent, deferred to the recipient's
window, or the whole audience of a campaign that is scheduled or waiting for its window.

Status (contract §6): ``scheduled`` (waiting for ``send_at``) and ``deferred`` (waiting for the
sending window; ``resume_at`` says until when), ``sending`` (its audience being checked or
queued, or recipients still pending), ``done`` (every recipient has an outcome), ``refused``
(``reason`` says why; nothing was sent), ``cancelled`` (what was not sent by then is
``cancelled``; a claim in flight stays ``pending``). A campaign whose fan-out could not read
the rest of its audience ends ``done`` with a ``reason``, those recipients counted ``failed``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from stopsms.dal import campaigns, deliveries, receipts
from stopsms.dal.campaigns import CampaignStatus, WaitingFor
from stopsms.dal.deliveries import DeliveryStatus
from stopsms.dal.tables import Campaign
from stopsms.errors import StopSmsError
from stopsms.rules.receipts import (
    BLOCKED_OR_SPAM_ALARM,
    DELIVERED,
    MICROS,
    blocked_or_spam_rate,
)

REASONS = ("opted_out", "no_consent", "invalid_number", "duplicate")
UNSENT = "audience_unavailable"  # the failure reason of recipients the fan-out never queued


class UnknownCampaign(StopSmsError):
    """No campaign with this id was ever recorded."""


def report(campaign_id: str) -> dict[str, Any]:
    campaign = campaigns.get(campaign_id)
    if campaign is None:
        raise UnknownCampaign(f"no campaign {campaign_id!r} is recorded")
    sent = segments = in_flight = cancelled = 0
    failures: Counter[str] = Counter()
    suppressed = dict.fromkeys(REASONS, 0)
    for item in deliveries.of_campaign(campaign_id):
        if item.status == DeliveryStatus.SENT:
            sent += 1
            segments += int(item.segments or 0)
        elif item.status == DeliveryStatus.FAILED:
            failures[str(item.reason or "unknown")] += 1
        elif item.status == DeliveryStatus.SUPPRESSED:
            reason = str(item.reason)
            suppressed[reason] = suppressed.get(reason, 0) + 1
        elif item.status == DeliveryStatus.CANCELLED:
            cancelled += 1
        else:
            in_flight += 1
    if campaign.unsent:
        failures[UNSENT] += int(campaign.unsent)
    failed = sum(failures.values())
    finished = sent + failed + sum(suppressed.values()) + cancelled
    audience = _audience(campaign, finished + in_flight)
    pending = audience - finished
    if campaign.status == CampaignStatus.CANCELLED:
        # Jobs still queued, and recipients never queued, will never be sent: cancelled now
        # (the sender records each queued one as it comes). Only claims in flight are pending.
        cancelled += pending - in_flight
        pending = in_flight
    return {
        "campaign_id": campaign_id,
        "status": _status(campaign, pending, cancelled),
        "reason": campaign.reason,
        "resume_at": campaign.resume_at if campaign.status == CampaignStatus.DEFERRED else None,
        "audience": audience,
        "sent": sent,
        "failed": failed,
        "pending": pending,
        "cancelled": cancelled,
        "suppressed": suppressed,
        "failures": dict(sorted(failures.items())),
        "opt_outs": int(campaign.opt_outs or 0),
        "segments": segments,
        **_delivery(campaign_id, sent),
    }


def _delivery(campaign_id: str, sent: int) -> dict[str, Any]:
    """``delivery`` and ``cost`` from the campaign's receipt totals (a handful of items)."""
    totals = receipts.totals(campaign_id)
    cost = totals.cost_micros / MICROS
    delivered = totals.buckets.get(DELIVERED, 0)
    undelivered = {s: n for s, n in sorted(totals.buckets.items()) if s != DELIVERED}
    per_delivered = round(cost / delivered, 6) if delivered else None
    delivery: dict[str, Any] = {
        "delivered": delivered,
        "undelivered": undelivered,
        "awaiting": max(sent - delivered - sum(undelivered.values()), 0),
    }
    # What CampaignBlockedOrSpamAlarm watches, from its minimum of final states on.
    if (rate := blocked_or_spam_rate(totals.buckets, sum(totals.buckets.values()))) is not None:
        delivery["blocked_or_spam_rate"] = round(rate, 2)
    return {
        "delivery": delivery,
        "cost": {"currency": "USD", "total": round(cost, 6), "per_delivered": per_delivered},
    }


def _audience(campaign: Campaign, known: int) -> int:
    """Everyone the campaign is for, as far as it is known (at least those with a record)."""
    if campaign.status == CampaignStatus.REFUSED:
        return 0  # a refused campaign has no audience: nothing was, or will be, sent
    if campaign.status == CampaignStatus.CHECKING:
        # Rows counted so far by the check of the file (the audience is not settled yet).
        return max(int(campaign.queued or 0), known)
    size = campaign.audience if campaign.audience is not None else campaign.queued
    return max(int(size or 0), known)


def _status(campaign: Campaign, pending: int, cancelled: int) -> str:
    if campaign.status == CampaignStatus.CANCELLED and not (pending or cancelled):
        # Cancelled once every recipient had an outcome (or an audience never known): a
        # finished campaign is reported done, one cancelled before it arrived cancelled.
        return "done" if campaign.audience else "cancelled"
    if campaign.status in (CampaignStatus.REFUSED, CampaignStatus.CANCELLED):
        return str(campaign.status)
    if campaign.status == CampaignStatus.DEFERRED:
        return "scheduled" if campaign.waiting_for == WaitingFor.SEND_AT else "deferred"
    if campaign.status == CampaignStatus.QUEUED and pending == 0:
        return "done"
    return "sending"


def _rate_row(rate: float | None) -> list[tuple[str, object]]:
    if rate is None:
        return []
    alarm = f"  (alarm above {BLOCKED_OR_SPAM_ALARM:g} %)" if rate > BLOCKED_OR_SPAM_ALARM else ""
    return [("blocked or spam (% of final)", f"{rate:.2f}{alarm}")]


def render_table(data: dict[str, Any]) -> str:
    """The report as a readable table for a terminal."""
    rows: list[tuple[str, object]] = [
        ("campaign", data["campaign_id"]),
        ("status", data["status"]),
    ]
    if data.get("resume_at"):
        rows.append(("resumes at", data["resume_at"]))
    rows += [
        ("audience", data["audience"]),
        ("sent", data["sent"]),
        ("failed", data["failed"]),
        *((f"failed: {reason}", count) for reason, count in data["failures"].items()),
        ("pending", data["pending"]),
        ("cancelled", data["cancelled"]),
        *((f"suppressed: {reason}", count) for reason, count in data["suppressed"].items()),
        ("opt-outs (STOP replies)", data["opt_outs"]),
        ("segments billed", data["segments"]),
        ("delivered", data["delivery"]["delivered"]),
        *((f"undelivered: {status}", n) for status, n in data["delivery"]["undelivered"].items()),
        ("awaiting a receipt", data["delivery"]["awaiting"]),
        *_rate_row(data["delivery"].get("blocked_or_spam_rate")),
        ("cost (USD)", f"{data['cost']['total']:.4f}"),
    ]
    if data["cost"].get("per_delivered") is not None:
        rows.append(("cost per delivered SMS (USD)", f"{data['cost']['per_delivered']:.4f}"))
    width = max(len(label) for label, _ in rows)
    table = "\n".join(f"{label:<{width}}  {value!s:>10}" for label, value in rows)
    if data.get("reason"):
        table += f"\nreason: {data['reason']}"
    return table
