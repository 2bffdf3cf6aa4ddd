"""A campaign's report (contract §6, ``report ID --html FILE``) as one printable page: its
status, key figures, outcomes, delivery and cost (or, for a dry run, its estimate) and the
compliance facts an auditor asks for."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from stopsms import clock
from stopsms.pages.campaign_compliance import compliance
from stopsms.pages.campaign_estimate import estimate
from stopsms.pages.campaign_outcomes import after_sending, funnel, outcomes
from stopsms.pages.campaign_report import CampaignReport
from stopsms.pages.elements import card, derived_number, number
from stopsms.pages.formatting import escape, local_time, local_zone, money, share, zone_name
from stopsms.pages.layout import (
    GREY,
    STATUS_COLOURS,
    document,
    page_footer,
    page_header,
    status_badge,
)


def campaign_page(
    data: Mapping[str, Any], *, tz: tzinfo | None = None, generated_at: datetime | None = None
) -> str:
    """The report ``reporting.report`` returns, as one printable HTML page; dates in ``tz``
    (the local time zone of this machine by default: the page is read by the operator)."""
    zone = tz or local_zone()
    generated = generated_at or clock.now()
    report = CampaignReport(data, zone)
    cid = str(data["campaign_id"])
    status = str(data["status"])
    body = "\n".join(
        [
            page_header(
                "Campaign report",
                cid,
                status_badge(status),
                [f"generated {local_time(generated.isoformat(), zone)}"],
            ),
            _banner(report),
            _cards(report),
            '<div class="grid2">',
            funnel(report),
            outcomes(report),
            "</div>",
            after_sending(report),
            estimate(report),
            compliance(report),
            page_footer(
                f"From <code>python -m stopsms report {escape(cid)} --json</code> (contract §6). "
                f"Dates in {escape(zone_name(zone, generated))}. Recipients' numbers are masked.",
                generated,
            ),
        ]
    )
    return document(f"StopSMS report: {cid}", body)


def _banner(report: CampaignReport) -> str:
    """One line on what the status means now: what waits, until when, what to do."""
    d = report.data
    status = str(d["status"])
    cid = str(d["campaign_id"])
    when = report.when(d.get("resume_at"))
    reason = f" {report.text(d['reason'])}" if d.get("reason") else ""
    pending = number("pending", d["pending"])
    lines = {
        "done": f"Every recipient has an outcome.{_reason_line(reason)}",
        "sending": f"Sending: {pending} recipient(s) still pending.{_reason_line(reason)}",
        "scheduled": f"Scheduled: nothing leaves before {when}; its whole audience is pending.",
        "deferred": f"Waiting for the sending window: it resumes {when}; its whole "
        "audience is pending.",
        "paused": f"Paused since {report.when(d.get('paused_at'))}: {pending} recipient(s) "
        f"wait. <code>python -m stopsms resume {escape(cid)}</code> releases them.",
        "cancelled": f"Cancelled: {number('cancelled', d['cancelled'])} recipient(s) were "
        "not sent; no SMS of the campaign leaves any more.",
        "refused": f"Refused:{reason or ' no reason recorded.'} Nothing was sent. Publish it "
        "again under the same campaign id once fixed.",
        "dry_run": "Dry run: nothing was sent. The estimate below is what the real send "
        "would do; the same campaign id can then be published for real.",
    }
    line = lines.get(status, f"Status {escape(status)}.{_reason_line(reason)}")
    colour = STATUS_COLOURS.get(status, GREY)
    return (
        f'<div class="banner" style="border-color:{colour}" data-status="{escape(status)}">'
        f"{line}</div>"
    )


def _reason_line(reason: str) -> str:
    return f" Reason:{reason}" if reason else ""


def _cards(report: CampaignReport) -> str:
    """The key figures: the audience, then what was sent (or would be, for a dry run)."""
    d = report.data
    audience = number("audience", d["audience"])
    cards = [card("Audience", audience, "recipients in the request")]
    if report.dry:
        estimated = d["estimate"]
        cost = estimated["cost"]
        would = estimated["would_send"]
        cards += [
            card(
                "Would send",
                number("estimate.would_send", would),
                share(would, d["audience"], "of the audience"),
            ),
            card("SMS parts", number("estimate.segments", estimated["segments"]), "estimated"),
            card(
                "Suppressed",
                derived_number("suppressed", sum(int(n) for n in d["suppressed"].values())),
                "opted out, no consent, invalid, duplicates",
            ),
            card(
                "Estimated cost",
                number(
                    "estimate.cost.total",
                    cost["total"],
                    money(cost["total"], cost["currency"]),
                ),
                f"{escape(cost['currency'])}, from the price table",
            ),
        ]
        return f'<div class="cards">{"".join(cards)}</div>'
    sent = int(d["sent"])
    delivered = int(d["delivery"]["delivered"])
    cost = d["cost"]
    cards += [
        card("Sent", number("sent", sent), share(sent, d["audience"], "of the audience")),
        card(
            "Delivered",
            number("delivery.delivered", delivered),
            share(delivered, sent, "of those sent"),
        ),
        card("Opt-outs", number("opt_outs", d["opt_outs"]), "STOP replies to it"),
        card(
            "Cost",
            number("cost.total", cost["total"], money(cost["total"], cost["currency"])),
            f"{escape(cost['currency'])}, as AWS bills",
        ),
    ]
    return f'<div class="cards">{"".join(cards)}</div>'
