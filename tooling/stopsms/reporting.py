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
``paused`` while a pause holds (its parked jobs are ``pending``). A dry run is ``dry_run``:
its outcomes are those of its own records (``deliveries.of_dry_run``), nothing is ``sent``, and
``estimate`` says what a real send would be; those it would send are still ``pending``.

``compliance`` gives what an auditor asks of a campaign: its category and brand, the STOP
mention its SMS carry and the number it names, and the deployment's consent policy and sending
window, read from the recorded request and this process's settings (never a recipient).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from stopsms.dal import campaigns, deliveries, receipts
from stopsms.dal.campaigns import CampaignStatus, WaitingFor
from stopsms.dal.deliveries import DeliveryStatus
from stopsms.dal.tables import Campaign, Delivery
from stopsms.errors import StopSmsError
from stopsms.rules.brands import DEFAULT_BRAND
from stopsms.rules.mention import has_stop_mention, mentions
from stopsms.rules.receipts import (
    BLOCKED_OR_SPAM_ALARM,
    DELIVERED,
    MICROS,
    blocked_or_spam_rate,
)
from stopsms.rules.window import SendingWindow
from stopsms.settings import Settings, get_settings

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
    estimate = Estimate() if campaign.dry_run else None
    items = (
        deliveries.of_campaign(campaign_id)
        if campaign.dry_run is None
        else deliveries.of_dry_run(campaign_id, campaign.dry_run)
    )
    for item in items:
        if estimate is not None and item.status == DeliveryStatus.WOULD_SEND:
            estimate.add(item)  # still owed an SMS (pending): the real send would send it
        elif item.status == DeliveryStatus.SENT:
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
    would_send = estimate.would_send if estimate is not None else 0
    audience = _audience(campaign, finished + in_flight + would_send)
    pending = audience - finished
    if campaign.status == CampaignStatus.CANCELLED:
        # Jobs still queued, and recipients never queued, will never be sent: cancelled now
        # (the sender records each queued one as it comes). Only claims in flight are pending.
        cancelled += pending - in_flight
        pending = in_flight
    data: dict[str, Any] = {
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
        "estimate": None,
        "compliance": _compliance(campaign, get_settings()),
    }
    if campaign.paused_at is not None:
        data["paused_at"] = campaign.paused_at.isoformat()
    if estimate is not None:
        evaluated = finished + would_send
        data["estimate"] = estimate.as_dict(
            evaluated=evaluated, complete=_settled(campaign) and evaluated >= audience
        )
    return data


@dataclass
class Estimate:
    """A dry run's ``estimate`` (contract §6), summed over its ``would_send`` records."""

    would_send: int = 0
    segments: int = 0
    cost_micros: int = 0
    unpriced: int = 0  # recipients of countries the price table has no price for
    prices: set[str] = field(default_factory=set)  # the price tables used (their source)
    histogram: Counter[int] = field(default_factory=Counter)  # recipients by segments
    deferred: Counter[str] = field(default_factory=Counter)  # by when their window opens
    samples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, item: Delivery) -> None:
        parts = int(item.segments or 0)
        self.would_send += 1
        self.segments += parts
        self.histogram[parts] += 1
        if item.price_micros is None:
            self.unpriced += 1
        else:
            self.cost_micros += int(item.price_micros)
        if item.reason:
            self.prices.add(str(item.reason))
        if item.resume_at:
            self.deferred[str(item.resume_at)] += 1
        if item.text is not None:
            self.samples.append(
                {"seq": int(item.seq), "to": item.masked, "segments": parts, "text": item.text}
            )

    def as_dict(self, *, evaluated: int, complete: bool) -> dict[str, Any]:
        return {
            "would_send": self.would_send,
            "segments": self.segments,
            "cost": {
                "currency": "USD",
                "total": round(self.cost_micros / MICROS, 6),
                "unpriced": self.unpriced,
                "prices": sorted(self.prices),
            },
            "complete": complete,
            "evaluated": evaluated,
            "segments_histogram": {str(n): c for n, c in sorted(self.histogram.items())},
            "deferred": dict(sorted(self.deferred.items())),
            "samples": sorted(self.samples, key=lambda sample: sample["seq"]),
        }


def _compliance(campaign: Campaign, settings: Settings) -> dict[str, Any] | None:
    """The facts an auditor asks of the campaign (contract §6 ``compliance``); None while its
    request is unknown (cancelled before it arrived). Read from the stored request, with the
    deployment defaults the fan-out fills in (``fanout.service.prepare``), so a refused request
    stored as published shows the values it would have used."""
    request = campaign.request
    if not request:
        return None
    marketing = request.get("category") == "marketing"
    body = str(request.get("body") or "")
    language = str(request.get("language") or "fr")
    stop_number = request.get("stop_number") or (settings.stop_number if marketing else None)
    forms: tuple[str, ...] = ()
    in_body = False
    if marketing and stop_number:
        try:
            forms = mentions(language, str(stop_number))
            in_body = has_stop_mention(body, str(stop_number))
        except ValueError:
            forms = ()  # a refused request's number or language: no mention was ever sent
    # The rules recorded with the campaign; a campaign recorded before they were (or refused
    # before) shows the deployment's as this process has them, and says so.
    recorded = campaign.policy or {}
    window = SendingWindow.parse(recorded.get("sending_window") or settings.sending_window)
    return {
        "category": request.get("category"),
        "brand": request.get("brand", DEFAULT_BRAND),
        "language": language,
        "body": body,
        "origination_identity": request.get("origination_identity")
        or settings.origination_identity
        or None,
        "stop_number": stop_number or None,
        "mention": forms[0] if forms and not in_body else None,
        "mention_in_body": in_body,
        "mention_forms": list(forms),
        "max_segments": request.get("max_segments"),
        "send_at": request.get("send_at"),
        "recorded_at": campaign.created_at.isoformat(),
        "consent_policy": recorded.get("consent_policy", settings.consent_policy),
        "sending_window": str(window),
        "public_holidays_skipped": window.skip_public_holidays,
        "holidays_country": recorded.get("holidays_country", settings.holidays_country),
        "retention_days": recorded.get("retention_days", settings.retention_days),
        "policy_recorded": bool(recorded),
    }


def _settled(campaign: Campaign) -> bool:
    """Whether every recipient of the campaign is queued (its audience is final)."""
    return campaign.status == CampaignStatus.QUEUED


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
    if campaign.dry_run is not None:
        return "dry_run"
    if campaign.paused_at is not None and not (
        campaign.status == CampaignStatus.QUEUED and pending == 0
    ):
        return "paused"
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


def _local(instant: str) -> str:
    """An instant of the report in this machine's time zone: people read their own clock."""
    from stopsms.pages.formatting import local_text, local_zone

    return local_text(instant, local_zone())


def render_table(data: dict[str, Any]) -> str:
    """The report as a readable table for a terminal."""
    rows: list[tuple[str, object]] = [
        ("campaign", data["campaign_id"]),
        ("status", data["status"]),
    ]
    if data.get("resume_at"):
        rows.append(("resumes at", _local(data["resume_at"])))
    if data.get("paused_at"):
        rows.append(("paused since", _local(data["paused_at"])))
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
    estimate = data.get("estimate")
    if estimate is not None:
        rows += _estimate_rows(estimate)
    width = max(len(label) for label, _ in rows)
    table = "\n".join(f"{label:<{width}}  {value!s:>10}" for label, value in rows)
    if data.get("reason"):
        table += f"\nreason: {data['reason']}"
    if estimate is not None:
        table += _estimate_notes(estimate)
    return table


def _estimate_rows(estimate: dict[str, Any]) -> list[tuple[str, object]]:
    cost = estimate["cost"]
    rows: list[tuple[str, object]] = [
        ("DRY RUN: nothing was sent", ""),
        ("estimate: would send", estimate["would_send"]),
        ("estimate: segments", estimate["segments"]),
        ("estimate: cost (USD)", f"{cost['total']:.4f}"),
    ]
    if cost["unpriced"]:
        rows.append(("estimate: SMS without a price", cost["unpriced"]))
    rows += [(f"  {parts} segment(s)", n) for parts, n in estimate["segments_histogram"].items()]
    rows += [
        (f"  waiting for the window until {_local(at)}", n)
        for at, n in estimate["deferred"].items()
    ]
    if not estimate["complete"]:
        rows.append(("estimate: recipients decided so far", estimate["evaluated"]))
    return rows


def _estimate_notes(estimate: dict[str, Any]) -> str:
    lines = [""]
    if not estimate["complete"]:
        lines.append("the dry run is still going: run `report` again for the whole estimate")
    lines += [f"prices: {source}" for source in estimate["cost"]["prices"]]
    for sample in estimate["samples"]:
        lines.append(f"sample #{sample['seq']} to {sample['to']} ({sample['segments']} seg.):")
        lines.append(f"  {sample['text']}")
    return "\n".join(lines)
