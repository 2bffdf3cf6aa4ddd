"""What became of a campaign's recipients: the funnel, every recipient's outcome, the
suppressed by reason, then delivery, opt-outs and cost (a dry run, which sends nothing, has
one line of zeros instead)."""

from __future__ import annotations

from stopsms.pages.campaign_report import CampaignReport
from stopsms.pages.elements import derived_number, number, row, table
from stopsms.pages.formatting import escape, money, share
from stopsms.pages.layout import ACCENT, AMBER, BLUE, GREEN, GREY, PURPLE, RED, TEAL, section
from stopsms.pages.svg import Bar, bar_chart, stacked_bar

SUPPRESSION_LABELS = {
    "opted_out": "opted out",
    "no_consent": "no consent",
    "invalid_number": "invalid number",
    "duplicate": "duplicate",
}


def funnel(report: CampaignReport) -> str:
    d = report.data
    audience = int(d["audience"])
    eligible = audience - sum(int(n) for n in d["suppressed"].values())
    bars = [
        Bar("Audience", audience, ACCENT, field="audience"),
        Bar("Eligible", eligible, BLUE, derived="eligible"),
    ]
    if report.dry:
        bars.append(
            Bar("Would send", d["estimate"]["would_send"], TEAL, field="estimate.would_send")
        )
    else:
        bars.append(Bar("Sent", d["sent"], TEAL, field="sent"))
        bars.append(Bar("Delivered", d["delivery"]["delivered"], GREEN, "delivery.delivered"))
    for bar in bars[1:]:
        bar.note = share(bar.value, audience, "")
    note = (
        "Eligible: the audience less the suppressed (opted out, no consent, invalid, "
        "duplicates). Shares are of the audience."
    )
    return section("Funnel", bar_chart("Funnel", bars) + f'<p class="note">{note}</p>', "funnel")


def outcomes(report: CampaignReport) -> str:
    d = report.data
    suppressed = sum(int(n) for n in d["suppressed"].values())
    parts = [
        Bar("sent", d["sent"], TEAL, field="sent"),
        Bar("failed", d["failed"], RED, field="failed"),
        Bar("pending", d["pending"], AMBER, field="pending"),
        Bar("cancelled", d["cancelled"], GREY, field="cancelled"),
        Bar("suppressed", suppressed, PURPLE, derived="suppressed"),
    ]
    rows = []
    for bar in parts:
        swatch = f'<span class="swatch" style="background:{bar.colour}"></span>'
        rows.append(row(swatch + escape(bar.label), bar.html_value()))
        if bar.field == "failed":  # its breakdown by reason right under it
            rows += [
                row(
                    f'<span class="indent">{report.text(reason)}</span>',
                    number(f"failures.{reason}", n),
                )
                for reason, n in d["failures"].items()
            ]
    rows.append(
        row("<strong>audience</strong>", f"<strong>{number('audience', d['audience'])}</strong>")
    )
    return section(
        "Outcome of every recipient",
        stacked_bar("Outcomes", parts) + table(["", ""], rows, numeric=(1,)),
        "outcomes",
    )


def after_sending(report: CampaignReport) -> str:
    """Delivery, opt-outs and cost; for a dry run, which sends nothing, one line of zeros."""
    if not report.dry:
        return "\n".join(
            [
                '<div class="grid2">',
                _suppressions(report),
                _delivery(report),
                "</div>",
                '<div class="grid2">',
                _opt_outs(report),
                _cost(report),
                "</div>",
            ]
        )
    d = report.data
    undelivered = [
        row(f"undelivered: {escape(status)}", number(f"delivery.undelivered.{status}", n))
        for status, n in d["delivery"]["undelivered"].items()
    ]
    rows = [
        row("sent", number("sent", d["sent"])),
        row("delivered", number("delivery.delivered", d["delivery"]["delivered"])),
        *undelivered,
        row("awaiting a receipt", number("delivery.awaiting", d["delivery"]["awaiting"])),
        row("STOP replies", number("opt_outs", d["opt_outs"])),
        row("SMS parts billed", number("segments", d["segments"])),
        row(
            f"cost ({escape(d['cost']['currency'])})",
            number(
                "cost.total",
                d["cost"]["total"],
                money(d["cost"]["total"], d["cost"]["currency"]),
            ),
        ),
    ]
    sending = section(
        "Sent for real",
        table(["", ""], rows, numeric=(1,))
        + '<p class="note">A dry run sends nothing: these stay at zero.</p>',
        "sent-for-real",
    )
    return f'<div class="grid2">{_suppressions(report)}{sending}</div>'


def _suppressions(report: CampaignReport) -> str:
    suppressed = report.data["suppressed"]
    bars = [
        Bar(SUPPRESSION_LABELS.get(reason, reason), n, PURPLE, field=f"suppressed.{reason}")
        for reason, n in suppressed.items()
    ]
    note = (
        "Not sent, by rule: opted out before the campaign (the brand's or every brand's "
        "STOP), no recorded opt-in, a number that is not valid, a number listed twice."
    )
    return section(
        "Suppressed, by reason",
        bar_chart("Suppressed by reason", bars) + f'<p class="note">{note}</p>',
        "suppressions",
    )


def _delivery(report: CampaignReport) -> str:
    delivery = report.data["delivery"]
    bars = [Bar("delivered", delivery["delivered"], GREEN, field="delivery.delivered")]
    bars += [
        Bar(str(status).replace("_", " "), n, RED, field=f"delivery.undelivered.{status}")
        for status, n in delivery["undelivered"].items()
    ]
    bars.append(Bar("awaiting a receipt", delivery["awaiting"], GREY, "delivery.awaiting"))
    extra = ""
    rate = delivery.get("blocked_or_spam_rate")
    if rate is not None:
        alarm = " — above the 2 % alarm" if rate > 2 else ""
        extra = (
            f'<p class="{"alert" if alarm else "note"}">Blocked or spam: '
            f"{number('delivery.blocked_or_spam_rate', rate, f'{rate:.2f} %')} of the final "
            f"states{alarm}.</p>"
        )
    note = "From the carriers' delivery receipts of the SMS sent (they arrive up to 72 h late)."
    return section(
        "Delivery",
        bar_chart("Delivery", bars) + extra + f'<p class="note">{note}</p>',
        "delivery",
    )


def _opt_outs(report: CampaignReport) -> str:
    d = report.data
    count = int(d["opt_outs"])
    delivered = int(d["delivery"]["delivered"])
    brand = report.facts.get("brand")
    scope = f"brand <strong>{escape(brand)}</strong>" if brand else "the campaign's brand"
    rate = share(count, delivered, "of the SMS delivered") if delivered else ""
    before = number("suppressed.opted_out", d["suppressed"]["opted_out"])
    body = (
        f'<p class="big">{number("opt_outs", count)} <span class="unit">STOP replies</span>'
        f' <span class="muted">{rate}</span></p>'
        "<p>Counted when the reply answers one of this campaign's SMS (End User Messaging's "
        "<code>previousPublishedMessageId</code>). Each opted the person out of "
        f"{scope} (of every brand for a STOP ALL), for every later campaign; a reply "
        "StopSMS cannot safely read waits for a human (<code>python -m stopsms replies"
        "</code>).</p>"
        f"<p>Already opted out before it, and so not sent: {before}.</p>"
    )
    return section("Opt-outs after the campaign", body, "opt-outs")


def _cost(report: CampaignReport) -> str:
    d = report.data
    cost = d["cost"]
    currency = str(cost["currency"])
    sent = int(d["sent"])
    segments = int(d["segments"])
    per = cost.get("per_delivered")
    rows = [
        row("SMS parts billed", number("segments", segments)),
        row(
            "parts per SMS sent",
            derived_number("segments_per_sms", round(segments / sent, 2) if sent else "—"),
        ),
        row(
            f"total cost ({escape(currency)})",
            number("cost.total", cost["total"], money(cost["total"], currency)),
        ),
        row(
            f"cost per delivered SMS ({escape(currency)})",
            number("cost.per_delivered", per, money(per, currency, 4))
            if per is not None
            else '<span class="muted">none delivered yet</span>',
        ),
    ]
    note = "Price and carrier fee of every SMS, each counted once, from the delivery receipts."
    return section(
        "Segments and cost",
        table(["", ""], rows, numeric=(1,)) + f'<p class="note">{note}</p>',
        "cost",
    )
