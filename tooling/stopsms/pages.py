"""HTML pages for people: a campaign's report (contract §6, ``report ID --html FILE``) and a
person's state and evidence history (``status PHONE --html FILE``, for an access request).

Each page is one self-contained file: inline CSS, charts drawn here as inline SVG, no script
and no external resource, which a Content-Security-Policy in the page itself forbids (an
auditor opens it offline, years later). Every string from the data is escaped. Every number of
the report sits in an element with ``data-field`` (its path in the JSON, ``suppressed.opted_out``)
and ``data-value`` (its JSON text), so a test reads them back from the rendered DOM.
The campaign page shows no recipient's number (samples are masked by the report; free text is
masked with ``rules.phones.redact``); the person page shows the person's number once, in its
heading: it answers their own access request.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from stopsms import clock
from stopsms.errors import InvalidPhoneNumber
from stopsms.rules.phones import mask, normalize, redact
from stopsms.version import VERSION

# The page may load nothing: no script, no remote style, font or image (a stray one shows as a
# console error in the browser test).
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

INK, MUTED, LINE, ACCENT = "#1d2330", "#5b6475", "#dfe3ea", "#1f4e79"
BLUE, TEAL, GREEN, AMBER, RED, GREY, PURPLE = (
    "#2f6db5",
    "#2a9d8f",
    "#2e7d32",
    "#d98c1f",
    "#c0392b",
    "#8a94a6",
    "#6d4fb3",
)

STATUS_COLOURS = {
    "done": GREEN,
    "sending": BLUE,
    "paused": AMBER,
    "scheduled": PURPLE,
    "deferred": PURPLE,
    "cancelled": GREY,
    "refused": RED,
    "dry_run": TEAL,
}
SUPPRESSION_LABELS = {
    "opted_out": "opted out",
    "no_consent": "no consent",
    "invalid_number": "invalid number",
    "duplicate": "duplicate",
}


def campaign_page(
    data: Mapping[str, Any], *, tz: tzinfo | None = None, generated_at: datetime | None = None
) -> str:
    """The report ``reporting.report`` returns, as one printable HTML page; dates in ``tz``
    (the local time zone of this machine by default: the page is read by the operator)."""
    zone = tz or _local_zone()
    generated = generated_at or clock.now()
    page = _CampaignPage(data, zone)
    cid = str(data["campaign_id"])
    status = str(data["status"])
    body = "\n".join(
        [
            _header(
                "Campaign report",
                cid,
                _badge(status),
                [f"generated {_when(generated.isoformat(), zone)}"],
            ),
            page.banner(),
            page.cards(),
            '<div class="grid2">',
            page.funnel(),
            page.outcomes(),
            "</div>",
            page.after_sending(),
            page.estimate(),
            page.compliance(),
            _footer(
                f"From <code>python -m stopsms report {_e(cid)} --json</code> (contract §6). "
                f"Dates in {_e(_zone_name(zone, generated))}. Recipients' numbers are masked.",
                generated,
            ),
        ]
    )
    return _document(f"StopSMS report: {cid}", body)


def person_page(
    data: Mapping[str, Any], *, tz: tzinfo | None = None, generated_at: datetime | None = None
) -> str:
    """What ``ops.status`` returns for one number, as one printable HTML page: its state per
    brand and its whole evidence history, dates in the number's own time zone by default."""
    phone = str(data["phone"])
    zone = tz or _zone_of(phone)
    generated = generated_at or clock.now()
    parts = [
        _header(
            "Personal data held by StopSMS",
            phone,  # the one place the number appears: the person asked for their own data
            "",
            [
                f"{len(data.get('state') or [])} brand decision(s) · "
                f"{len(data.get('history') or [])} event(s)",
                f"generated {_when(generated.isoformat(), zone)}",
            ],
        ),
        '<p class="lead">What StopSMS keeps about this number: whether each brand may send it '
        "marketing SMS, and every event that decided it (consents, opt-outs, replies), with "
        "its proof and how long that proof is kept.</p>",
        _state_section("Current state per brand", data.get("state") or [], zone, phone),
        _history_section("Evidence history", data.get("history") or [], zone, phone),
    ]
    erased = data.get("erased")
    if erased and "unknown" in erased:
        parts.append(_section("After an erasure", f'<p class="note">{_e(erased["unknown"])}</p>'))
    elif erased:
        parts.append(
            _section(
                "Kept after an erasure",
                f"<p>Kept as {_e(erased.get('kept_as', 'a keyed hash'))}; never as the "
                "number itself.</p>",
            )
        )
        parts.append(
            _state_section("State kept after the erasure", erased.get("state") or [], zone, phone)
        )
        parts.append(
            _history_section(
                "History kept after the erasure", erased.get("history") or [], zone, phone
            )
        )
    parts.append(_failures_section(data.get("delivery_failures"), zone))
    parts.append(
        _footer(
            "From <code>python -m stopsms status</code> (an access request). "
            f"Dates in {_e(_zone_name(zone, generated))}, the number's own time zone.",
            generated,
        )
    )
    return _document("StopSMS: personal data of one number", "\n".join(parts))


# --- the campaign page ------------------------------------------------------------------------


class _CampaignPage:
    def __init__(self, data: Mapping[str, Any], zone: tzinfo) -> None:
        self.data = data
        self.zone = zone
        self.facts: Mapping[str, Any] = data.get("compliance") or {}
        # Numbers of the sender (the stop number, the origination identity) are shown whole:
        # an auditor checks them; any other run of digits in free text is masked.
        self.keep = tuple(
            str(self.facts[name])
            for name in ("stop_number", "origination_identity")
            if self.facts.get(name)
        )
        self.dry = data.get("estimate") is not None

    def text(self, value: object) -> str:
        return _e(_masked(str(value), self.keep))

    def banner(self) -> str:
        d = self.data
        status = str(d["status"])
        cid = str(d["campaign_id"])
        when = self.when(d.get("resume_at"))
        reason = f" {self.text(d['reason'])}" if d.get("reason") else ""
        pending = _num("pending", d["pending"])
        lines = {
            "done": f"Every recipient has an outcome.{_reason_line(reason)}",
            "sending": f"Sending: {pending} recipient(s) still pending.{_reason_line(reason)}",
            "scheduled": f"Scheduled: nothing leaves before {when}; its whole audience is pending.",
            "deferred": f"Waiting for the sending window: it resumes {when}; its whole "
            "audience is pending.",
            "paused": f"Paused since {self.when(d.get('paused_at'))}: {pending} recipient(s) "
            f"wait. <code>python -m stopsms resume {_e(cid)}</code> releases them.",
            "cancelled": f"Cancelled: {_num('cancelled', d['cancelled'])} recipient(s) were "
            "not sent; no SMS of the campaign leaves any more.",
            "refused": f"Refused:{reason or ' no reason recorded.'} Nothing was sent. Publish it "
            "again under the same campaign id once fixed.",
            "dry_run": "Dry run: nothing was sent. The estimate below is what the real send "
            "would do; the same campaign id can then be published for real.",
        }
        line = lines.get(status, f"Status {_e(status)}.{_reason_line(reason)}")
        colour = STATUS_COLOURS.get(status, GREY)
        return (
            f'<div class="banner" style="border-color:{colour}" data-status="{_e(status)}">'
            f"{line}</div>"
        )

    def when(self, value: object) -> str:
        return _when(value, self.zone) if value else "(not known)"

    def cards(self) -> str:
        d = self.data
        audience = _num("audience", d["audience"])
        cards = [_card("Audience", audience, "recipients in the request")]
        if self.dry:
            estimate = d["estimate"]
            cost = estimate["cost"]
            would = estimate["would_send"]
            cards += [
                _card(
                    "Would send",
                    _num("estimate.would_send", would),
                    _share(would, d["audience"], "of the audience"),
                ),
                _card("SMS parts", _num("estimate.segments", estimate["segments"]), "estimated"),
                _card(
                    "Suppressed",
                    _derived("suppressed", sum(int(n) for n in d["suppressed"].values())),
                    "opted out, no consent, invalid, duplicates",
                ),
                _card(
                    "Estimated cost",
                    _num(
                        "estimate.cost.total",
                        cost["total"],
                        _money(cost["total"], cost["currency"]),
                    ),
                    f"{_e(cost['currency'])}, from the price table",
                ),
            ]
            return f'<div class="cards">{"".join(cards)}</div>'
        sent = int(d["sent"])
        delivered = int(d["delivery"]["delivered"])
        cost = d["cost"]
        cards += [
            _card("Sent", _num("sent", sent), _share(sent, d["audience"], "of the audience")),
            _card(
                "Delivered",
                _num("delivery.delivered", delivered),
                _share(delivered, sent, "of those sent"),
            ),
            _card("Opt-outs", _num("opt_outs", d["opt_outs"]), "STOP replies to it"),
            _card(
                "Cost",
                _num("cost.total", cost["total"], _money(cost["total"], cost["currency"])),
                f"{_e(cost['currency'])}, as AWS bills",
            ),
        ]
        return f'<div class="cards">{"".join(cards)}</div>'

    def after_sending(self) -> str:
        """Delivery, opt-outs and cost; for a dry run, which sends nothing, one line of zeros."""
        if not self.dry:
            return "\n".join(
                [
                    '<div class="grid2">',
                    self.suppressions(),
                    self.delivery(),
                    "</div>",
                    '<div class="grid2">',
                    self.opt_outs(),
                    self.cost(),
                    "</div>",
                ]
            )
        d = self.data
        undelivered = [
            _row(f"undelivered: {_e(status)}", _num(f"delivery.undelivered.{status}", n))
            for status, n in d["delivery"]["undelivered"].items()
        ]
        rows = [
            _row("sent", _num("sent", d["sent"])),
            _row("delivered", _num("delivery.delivered", d["delivery"]["delivered"])),
            *undelivered,
            _row("awaiting a receipt", _num("delivery.awaiting", d["delivery"]["awaiting"])),
            _row("STOP replies", _num("opt_outs", d["opt_outs"])),
            _row("SMS parts billed", _num("segments", d["segments"])),
            _row(
                f"cost ({_e(d['cost']['currency'])})",
                _num(
                    "cost.total",
                    d["cost"]["total"],
                    _money(d["cost"]["total"], d["cost"]["currency"]),
                ),
            ),
        ]
        sending = _section(
            "Sent for real",
            _table(["", ""], rows, numeric=(1,))
            + '<p class="note">A dry run sends nothing: these stay at zero.</p>',
            "sent-for-real",
        )
        return f'<div class="grid2">{self.suppressions()}{sending}</div>'

    def funnel(self) -> str:
        d = self.data
        audience = int(d["audience"])
        eligible = audience - sum(int(n) for n in d["suppressed"].values())
        bars = [
            Bar("Audience", audience, ACCENT, field="audience"),
            Bar("Eligible", eligible, BLUE, derived="eligible"),
        ]
        if self.dry:
            bars.append(
                Bar("Would send", d["estimate"]["would_send"], TEAL, field="estimate.would_send")
            )
        else:
            bars.append(Bar("Sent", d["sent"], TEAL, field="sent"))
            bars.append(Bar("Delivered", d["delivery"]["delivered"], GREEN, "delivery.delivered"))
        for bar in bars[1:]:
            bar.note = _share(bar.value, audience, "")
        note = (
            "Eligible: the audience less the suppressed (opted out, no consent, invalid, "
            "duplicates). Shares are of the audience."
        )
        return _section(
            "Funnel", bar_chart("Funnel", bars) + f'<p class="note">{note}</p>', "funnel"
        )

    def outcomes(self) -> str:
        d = self.data
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
            rows.append(_row(swatch + _e(bar.label), bar.html_value()))
            if bar.field == "failed":  # its breakdown by reason right under it
                rows += [
                    _row(
                        f'<span class="indent">{self.text(reason)}</span>',
                        _num(f"failures.{reason}", n),
                    )
                    for reason, n in d["failures"].items()
                ]
        rows.append(
            _row("<strong>audience</strong>", f"<strong>{_num('audience', d['audience'])}</strong>")
        )
        return _section(
            "Outcome of every recipient",
            stacked_bar("Outcomes", parts) + _table(["", ""], rows, numeric=(1,)),
            "outcomes",
        )

    def suppressions(self) -> str:
        suppressed = self.data["suppressed"]
        bars = [
            Bar(SUPPRESSION_LABELS.get(reason, reason), n, PURPLE, field=f"suppressed.{reason}")
            for reason, n in suppressed.items()
        ]
        note = (
            "Not sent, by rule: opted out before the campaign (the brand's or every brand's "
            "STOP), no recorded opt-in, a number that is not valid, a number listed twice."
        )
        return _section(
            "Suppressed, by reason",
            bar_chart("Suppressed by reason", bars) + f'<p class="note">{note}</p>',
            "suppressions",
        )

    def delivery(self) -> str:
        d = self.data
        delivery = d["delivery"]
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
                f"{_num('delivery.blocked_or_spam_rate', rate, f'{rate:.2f} %')} of the final "
                f"states{alarm}.</p>"
            )
        note = "From the carriers' delivery receipts of the SMS sent (they arrive up to 72 h late)."
        return _section(
            "Delivery",
            bar_chart("Delivery", bars) + extra + f'<p class="note">{note}</p>',
            "delivery",
        )

    def opt_outs(self) -> str:
        d = self.data
        count = int(d["opt_outs"])
        delivered = int(d["delivery"]["delivered"])
        brand = self.facts.get("brand")
        scope = f"brand <strong>{_e(brand)}</strong>" if brand else "the campaign's brand"
        rate = _share(count, delivered, "of the SMS delivered") if delivered else ""
        before = _num("suppressed.opted_out", d["suppressed"]["opted_out"])
        body = (
            f'<p class="big">{_num("opt_outs", count)} <span class="unit">STOP replies</span>'
            f' <span class="muted">{rate}</span></p>'
            "<p>Counted when the reply answers one of this campaign's SMS (End User Messaging's "
            "<code>previousPublishedMessageId</code>). Each opted the person out of "
            f"{scope} (of every brand for a STOP ALL), for every later campaign; a reply "
            "StopSMS cannot safely read waits for a human (<code>python -m stopsms replies"
            "</code>).</p>"
            f"<p>Already opted out before it, and so not sent: {before}.</p>"
        )
        return _section("Opt-outs after the campaign", body, "opt-outs")

    def cost(self) -> str:
        d = self.data
        cost = d["cost"]
        currency = str(cost["currency"])
        sent = int(d["sent"])
        segments = int(d["segments"])
        per = cost.get("per_delivered")
        rows = [
            _row("SMS parts billed", _num("segments", segments)),
            _row(
                "parts per SMS sent",
                _derived("segments_per_sms", round(segments / sent, 2) if sent else "—"),
            ),
            _row(
                f"total cost ({_e(currency)})",
                _num("cost.total", cost["total"], _money(cost["total"], currency)),
            ),
            _row(
                f"cost per delivered SMS ({_e(currency)})",
                _num("cost.per_delivered", per, _money(per, currency, 4))
                if per is not None
                else '<span class="muted">none delivered yet</span>',
            ),
        ]
        note = "Price and carrier fee of every SMS, each counted once, from the delivery receipts."
        return _section(
            "Segments and cost",
            _table(["", ""], rows, numeric=(1,)) + f'<p class="note">{note}</p>',
            "cost",
        )

    def estimate(self) -> str:
        estimate = self.data.get("estimate")
        if estimate is None:
            return ""
        cost = estimate["cost"]
        rows = [
            _row("would send", _num("estimate.would_send", estimate["would_send"])),
            _row("SMS parts", _num("estimate.segments", estimate["segments"])),
            _row(
                f"cost ({_e(cost['currency'])})",
                _num("estimate.cost.total", cost["total"], _money(cost["total"], cost["currency"])),
            ),
            _row("SMS without a price", _num("estimate.cost.unpriced", cost["unpriced"])),
            _row("recipients decided", _num("estimate.evaluated", estimate["evaluated"])),
            _row("complete", "yes" if estimate["complete"] else "no: still going, report again"),
        ]
        histogram = [
            Bar(f"{parts} part(s)", n, TEAL, field=f"estimate.segments_histogram.{parts}")
            for parts, n in estimate["segments_histogram"].items()
        ]
        deferred = [
            _row(self.when(at), _num(f"estimate.deferred.{at}", n))
            for at, n in estimate["deferred"].items()
        ]
        samples = [
            _row(
                _num(f"estimate.samples.{i}.seq", sample["seq"], f"#{sample['seq']}"),
                _e(sample["to"]),
                _num(f"estimate.samples.{i}.segments", sample["segments"]),
                f'<span class="sms">{self.text(sample["text"])}</span>',
            )
            for i, sample in enumerate(estimate["samples"])
        ]
        # The price table's own description (a date, a URL): deployment text, not masked.
        prices = "".join(f"<li>{_e(source)}</li>" for source in cost["prices"])
        parts = [
            '<div class="grid2"><div>',
            _table(["", ""], rows, numeric=(1,)),
            f'<p class="note">Prices from:</p><ul class="note">{prices or "<li>none</li>"}</ul>',
            "</div><div>",
            "<h3>Recipients by SMS parts</h3>",
            bar_chart("Recipients by SMS parts", histogram)
            if histogram
            else '<p class="muted">none yet</p>',
            "</div></div>",
        ]
        if deferred:
            parts += [
                "<h3>Outside their own window (another time zone), until</h3>",
                _table(["window opens", "recipients"], deferred, numeric=(1,)),
            ]
        if samples:
            parts += [
                "<h3>Samples, as they would leave</h3>",
                _table(["#", "to", "parts", "text"], samples, numeric=(2,)),
            ]
        return _section("Dry-run estimate", "\n".join(parts), "estimate")

    def compliance(self) -> str:
        f = self.facts
        if not f:
            return _section(
                "Compliance",
                '<p class="muted">The request of this campaign never arrived (cancelled '
                "first): nothing to show.</p>",
                "compliance",
            )
        marketing = f.get("category") == "marketing"
        rows: list[tuple[str, str]] = [
            ("Category", _e(f.get("category"))),
            ("Brand", _e(f.get("brand"))),
            (
                "Sender (origination identity)",
                _e(f.get("origination_identity") or "none named: End User Messaging chooses"),
            ),
            ("Language", _e(f.get("language"))),
        ]
        if marketing:
            mention = f.get("mention")
            if f.get("mention_in_body"):
                used = "the body already carries the instruction: nothing appended"
            elif mention:
                used = f'<strong class="mono">{_e(mention)}</strong> appended to every SMS'
                shorter = [form for form in f.get("mention_forms") or [] if form != mention]
                if shorter and f.get("max_segments"):
                    used += (
                        " (or the shorter legal form "
                        + " / ".join(f'<span class="mono">{_e(s)}</span>' for s in shorter)
                        + " where the parts limit requires it)"
                    )
            else:
                used = '<span class="alert">none: the request has no valid stop number</span>'
            rows += [
                ("STOP mention", used),
                (
                    "Stop number (replies reach this stack)",
                    f'<span class="mono">{_e(f.get("stop_number"))}</span>',
                ),
                ("Consent policy", f"{_consent(f.get('consent_policy'))}; {self.retention()}"),
                (
                    "Sending window",
                    f'<span class="mono">{_e(f.get("sending_window"))}</span>, in each '
                    "recipient's own time zone"
                    + (
                        ", public holidays of their territory skipped"
                        if f.get("public_holidays_skipped")
                        else ", public holidays included"
                    ),
                ),
                ("Suppression", "every opt-out in force for the brand or for every brand"),
            ]
        else:
            rows.append(
                (
                    "Rules",
                    "exempt (not marketing): no STOP mention, consent, suppression of opt-outs "
                    "or sending window. Not applied here, the deployment's: consent policy "
                    f'<span class="mono">{_e(f.get("consent_policy"))}</span>, window '
                    f'<span class="mono">{_e(f.get("sending_window"))}</span>, '
                    f"{self.retention()}",
                )
            )
        if f.get("max_segments") is not None:
            rows.append(("Parts limit", _num("compliance.max_segments", f["max_segments"])))
        rows += [
            ("Requested send time", self.when(f.get("send_at")) if f.get("send_at") else "at once"),
            ("Recorded", self.when(f.get("recorded_at"))),
            ("Message", f'<span class="sms">{self.text(f.get("body", ""))}</span>'),
        ]
        facts = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
        note = (
            "Consent policy, retention and sending window are the deployment's, as configured "
            "for the process that made this report."
        )
        return _section(
            "Compliance facts",
            f'<dl class="facts">{facts}</dl><p class="note">{note}</p>',
            "compliance",
        )

    def retention(self) -> str:
        days = self.facts.get("retention_days")
        if days is None:
            return ""
        return f"an opt-in is relied on for {_num('compliance.retention_days', days)} days"


def _consent(policy: object) -> str:
    if policy == "enforce":
        return "enforce: marketing only to numbers with a recorded opt-in still in force"
    if policy == "record":
        return "record: consents and opt-outs recorded, an opt-in is not required"
    return _e(policy)


def _reason_line(reason: str) -> str:
    return f" Reason:{reason}" if reason else ""


# --- the person page --------------------------------------------------------------------------

KIND_LABELS = {
    "opt_in": "opt-in",
    "opt_out": "opt-out",
    "help": "HELP request",
    "reply": "reply",
    "send_blocked": "send blocked",
}


def _scope(value: object) -> str:
    return "every brand" if value in ("*", "every brand") else str(value)


# A run of digits that could be a number (as ``rules.phones.redact`` finds them).
_DIGITS = re.compile(r"\+?\d(?:(?:[^\w,;:|]|_){0,4}\d){5,}")


def _hide_own(text: str, phone: str) -> str:
    """``text`` with the person's own number masked wherever it is quoted (the heading shows
    it once); other digits (an IP address, a message id, a date) are their data, kept."""

    def masked(match: re.Match[str]) -> str:
        found = match.group()
        try:
            same = normalize(found.strip()).e164 == phone
        except InvalidPhoneNumber:
            same = False
        return mask(found) if same else found

    return _DIGITS.sub(masked, text)


def _state_section(
    title: str, states: Sequence[Mapping[str, Any]], zone: tzinfo, phone: str
) -> str:
    if not states:
        return _section(title, '<p class="muted">No decision recorded for any brand.</p>', "state")
    rows = [
        _row(
            _e(_scope(item.get("scope"))),
            _pill(str(item.get("status")), str(item.get("status")).replace("_", " ")),
            _when(item.get("since"), zone),
            _e(_hide_own(str(item.get("source") or ""), phone)),
            _when(item["relied_on_until"], zone) if item.get("relied_on_until") else "—",
            attributes=f'data-state="{_e(item.get("scope"))}"',
        )
        for item in states
    ]
    header = ["brand", "state", "since", "source", "consent relied on until"]
    return _section(title, _table(header, rows), "state")


def _history_section(
    title: str, history: Sequence[Mapping[str, Any]], zone: tzinfo, phone: str
) -> str:
    if not history:
        return _section(title, '<p class="muted">No event recorded.</p>', "history")
    rows = []
    for item in history:
        kind = str(item.get("kind"))
        details = []
        if item.get("text") is not None:
            details.append(f'<span class="sms">{_e(_hide_own(str(item["text"]), phone))}</span>')
        if item.get("campaign_id"):
            details.append(f"campaign <code>{_e(item['campaign_id'])}</code>")
        if item.get("review"):
            details.append(f'<span class="alert">waiting for a human: {_e(item["review"])}</span>')
        proof = item.get("proof") or {}
        if proof:
            details.append(_proof(proof, phone))
        rows.append(
            _row(
                _when(item.get("at"), zone, weekday=False),
                _pill(kind, KIND_LABELS.get(kind, kind))
                + f'<div class="scope">{_e(_scope(item.get("brand")))}</div>',
                f'<span class="wrap">{_e(_hide_own(str(item.get("source") or ""), phone))}</span>',
                "".join(f"<div>{detail}</div>" for detail in details),
                _when(item["expires_at"], zone, weekday=False)
                if item.get("expires_at")
                else '<span class="muted">as long as the opt-out it proves</span>'
                if kind == "opt_out"
                else "—",
                attributes=f'data-event="{_e(kind)}"',
            )
        )
    header = ["when", "event, brand", "source", "details and proof", "proof kept until"]
    return _section(title, _table(header, rows), "history")


def _proof(proof: Mapping[str, Any], phone: str) -> str:
    items = "".join(
        f'<li><span class="muted">{_e(key)}:</span> '
        f"{_e(_hide_own(_plain(value), phone)[:300])}</li>"
        for key, value in proof.items()
        if value not in (None, "", [], {})
    )
    return f'<ul class="proof">{items}</ul>'


def _plain(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _failures_section(failures: Mapping[str, Any] | None, zone: tzinfo) -> str:
    if not failures:
        return ""
    campaigns = ", ".join(f"<code>{_e(c)}</code>" for c in failures.get("campaigns") or [])
    keeps = (
        " It keeps failing: later campaigns skip it until a delivery succeeds."
        if failures.get("keeps_failing")
        else ""
    )
    until = failures.get("counted_until")
    body = (
        f"<p>SMS to this number failed lately in {campaigns} (last status "
        f"{_e(failures.get('last_status'))}).{keeps}"
        + (f" Counted until {_when(until, zone)}." if until else "")
        + "</p>"
    )
    return _section("Delivery failures", body, "failures")


# --- building blocks --------------------------------------------------------------------------


@dataclass
class Bar:
    """One bar of a chart; ``field`` is its path in the report (``data-field``), ``derived``
    names a number the page computes from it (``data-derived``)."""

    label: str
    value: float
    colour: str
    field: str | None = None
    derived: str | None = None
    note: str = ""

    def attributes(self) -> str:
        if self.field is not None:
            return f' data-field="{_e(self.field)}" data-value="{_e(_json(self.value))}"'
        if self.derived is not None:
            return f' data-derived="{_e(self.derived)}" data-value="{_e(_json(self.value))}"'
        return ""

    def html_value(self) -> str:
        return f'<span class="n"{self.attributes()}>{_e(_count(self.value))}</span>'


# Drawn here rather than with a chart library: a bar is one <rect>, and a library would add a
# dependency (and often a script) to a page that must open offline, anywhere, for years.
def bar_chart(title: str, bars: Sequence[Bar]) -> str:
    """Horizontal bars, scaled to the largest, each labelled with its value (and note)."""
    width, label_w, value_w, row, bar_h = 520, 140, 120, 28, 16
    area = width - label_w - value_w
    top = max([1.0, *(float(b.value) for b in bars)])
    height = row * len(bars) + 4
    out = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}" '
        f'class="chart" data-chart="{_e(title)}">',
        f"<title>{_e(title)}</title>",
    ]
    for i, bar in enumerate(bars):
        y = 4 + i * row
        size = area * float(bar.value) / top
        if bar.value and size < 2:
            size = 2  # a count of one among thousands must still show
        baseline = y + bar_h - 4
        out += [
            f'<text x="{label_w - 10}" y="{baseline}" text-anchor="end" '
            f'class="label">{_e(bar.label)}</text>',
            f'<rect x="{label_w}" y="{y}" width="{area}" height="{bar_h}" rx="3" class="track"/>',
            f'<rect x="{label_w}" y="{y}" width="{size:.1f}" height="{bar_h}" rx="3" '
            f'fill="{bar.colour}"{bar.attributes()}/>',
            f'<text x="{label_w + area + 10}" y="{baseline}" class="value">'
            f'<tspan class="count">{_e(_count(bar.value))}</tspan>'
            + (f'<tspan class="share" dx="8">{_e(bar.note)}</tspan>' if bar.note else "")
            + "</text>",
        ]
    out.append("</svg>")
    return "".join(out)


def stacked_bar(title: str, parts: Sequence[Bar]) -> str:
    """One bar split into ``parts``, in proportion to their values."""
    width, height = 520, 26
    total = sum(float(p.value) for p in parts)
    out = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}" '
        f'class="chart" data-chart="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" rx="4" class="track"/>',
    ]
    x = 0.0
    for part in parts:
        if not total or not part.value:
            continue
        size = width * float(part.value) / total
        out.append(
            f'<rect x="{x:.1f}" y="0" width="{size:.1f}" height="{height}" '
            f'fill="{part.colour}"{part.attributes()}><title>{_e(part.label)}: '
            f"{_e(_count(part.value))}</title></rect>"
        )
        x += size
    out.append("</svg>")
    return "".join(out)


def _document(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _header(kicker: str, title: str, badge: str, lines: Iterable[str]) -> str:
    meta = "".join(f"<div>{line}</div>" for line in lines)
    return (
        f'<header class="top"><div><div class="kicker">StopSMS · {_e(kicker)}</div>'
        f"<h1>{_e(title)}</h1></div>"
        f'<div class="meta">{badge}{meta}</div></header>'
    )


def _badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, GREY)
    label = status.replace("_", " ")
    return f'<span class="badge" style="background:{colour}" data-field="status">{_e(label)}</span>'


def _footer(text: str, generated: datetime) -> str:
    return (
        f"<footer>StopSMS {_e(VERSION)} · generated "
        f"{_e(generated.astimezone(UTC).isoformat(timespec='seconds'))}"
        f" · {text}</footer>"
    )


def _section(title: str, body: str, name: str = "") -> str:
    named = f' id="{_e(name)}"' if name else ""
    return f"<section{named}><h2>{_e(title)}</h2>{body}</section>"


def _card(label: str, value: str, sub: str) -> str:
    return (
        f'<div class="card"><div class="label">{_e(label)}</div>'
        f'<div class="value">{value}</div><div class="sub">{sub}</div></div>'
    )


@dataclass(frozen=True)
class _Row:
    cells: tuple[str, ...]
    attributes: str = ""


def _row(*cells: str, attributes: str = "") -> _Row:
    """A table row of HTML cells (already escaped); ``attributes`` go on its ``<tr>``."""
    return _Row(cells, attributes)


def _table(header: Sequence[str], rows: Sequence[_Row], numeric: Sequence[int] = ()) -> str:
    def cell(tag: str, i: int, content: str) -> str:
        aligned = ' class="num"' if i in numeric else ""
        return f"<{tag}{aligned}>{content}</{tag}>"

    head = ""
    if any(header):
        head = (
            f"<thead><tr>{''.join(cell('th', i, _e(h)) for i, h in enumerate(header))}</tr></thead>"
        )
    body = "".join(
        f"<tr{' ' + row.attributes if row.attributes else ''}>"
        + "".join(cell("td", i, content) for i, content in enumerate(row.cells))
        + "</tr>"
        for row in rows
    )
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _num(field: str, value: Any, text: str | None = None) -> str:
    """A number of the report, with its path and JSON value for whoever reads the page."""
    shown = text if text is not None else _count(value)
    return (
        f'<span class="n" data-field="{_e(field)}" data-value="{_e(_json(value))}">'
        f"{_e(shown)}</span>"
    )


def _derived(name: str, value: Any) -> str:
    """A number the page computes from the report's (``data-derived``: not a report field)."""
    shown = _count(value) if isinstance(value, int | float) else str(value)
    attributes = f'data-derived="{_e(name)}" data-value="{_e(_json(value))}"'
    return f'<span class="n" {attributes}>{_e(shown)}</span>'


def _pill(kind: str, label: str) -> str:
    return f'<span class="pill {_e(kind)}">{_e(label)}</span>'


def _json(value: Any) -> str:
    return json.dumps(value)


def _count(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _money(value: float | None, currency: str, places: int | None = None) -> str:
    if value is None:
        return "—"
    # Cents once there are some; a fraction of a cent (one SMS part) keeps four places.
    digits = places if places is not None else (2 if value >= 1 or value == 0 else 4)
    symbol = "$" if currency == "USD" else f"{currency} "
    return f"{symbol}{value:,.{digits}f}"


def _share(part: Any, whole: Any, of: str) -> str:
    if not whole:
        return ""
    return f"{100 * float(part) / float(whole):.1f} %{' ' + of if of else ''}"


def _when(value: object, zone: tzinfo, *, weekday: bool = True) -> str:
    """An instant as people read it, in ``zone``; the ISO text stays in ``datetime``."""
    if value is None or value == "":
        return "—"
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        return _e(value)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    local = instant.astimezone(zone)
    day = f"{local:%a %d %b %Y}" if weekday else f"{local:%d %b %Y}"
    shown = f"{day}, {local:%H:%M} {local.tzname() or ''}".strip()
    return f'<time datetime="{_e(instant.isoformat())}">{_e(shown)}</time>'


def _local_zone() -> tzinfo:
    zone = datetime.now().astimezone().tzinfo
    return zone if zone is not None else UTC


def _zone_of(phone: str) -> tzinfo:
    """The number's own time zone (its first, for a country with several), UTC if unknown."""
    try:
        zones = normalize(phone).time_zones
    except InvalidPhoneNumber:
        return UTC  # an erased number's stand-in has no zone
    try:
        return ZoneInfo(zones[0]) if zones else UTC
    except (KeyError, ValueError):
        return UTC


def _zone_name(zone: tzinfo, at: datetime) -> str:
    key = getattr(zone, "key", None)
    return str(key) if key else (zone.tzname(at.astimezone(zone)) or "UTC")


def _masked(text: str, keep: Sequence[str]) -> str:
    """``text`` with every run of digits masked as in logs, but the sender's own numbers."""
    if not keep:
        return redact(text)
    first, *rest = keep
    return first.join(_masked(piece, rest) for piece in text.split(first))


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


STYLE = f"""
:root {{ color-scheme: light; }}
* {{ box-sizing: border-box; }}
html {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
body {{ margin: 0; background: #eef1f5; color: {INK};
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
  "DejaVu Sans", Arial, sans-serif; }}
main {{ max-width: 1060px; margin: 24px auto; background: #fff; padding: 30px 40px 24px;
  border-radius: 10px; box-shadow: 0 1px 4px rgba(20, 30, 50, .12); }}
header.top {{ display: flex; justify-content: space-between; align-items: flex-end; gap: 24px;
  border-bottom: 3px solid {ACCENT}; padding-bottom: 14px; margin-bottom: 18px; }}
header.top h1 {{ font-size: 28px; margin: 2px 0 0; letter-spacing: -.01em; word-break: break-all; }}
header .meta {{ text-align: right; color: {MUTED}; font-size: 12px; }}
header .meta .badge {{ margin-bottom: 6px; }}
.kicker {{ text-transform: uppercase; letter-spacing: .08em; font-size: 11px; color: {MUTED};
  font-weight: 600; }}
.badge {{ display: inline-block; padding: 3px 14px; border-radius: 999px; font-weight: 700;
  font-size: 13px; color: #fff; text-transform: uppercase; letter-spacing: .05em; }}
.banner {{ border-left: 5px solid; padding: 10px 14px; margin: 0 0 18px; background: #f5f7fa;
  border-radius: 4px; }}
.lead {{ color: {MUTED}; max-width: 60em; }}
.cards {{ display: grid; grid-template-columns: repeat(5, 1fr); gap: 12px; margin: 0 0 24px; }}
.card {{ border: 1px solid {LINE}; border-radius: 8px; padding: 10px 14px; }}
.card .label {{ font-size: 11px; text-transform: uppercase; color: {MUTED};
  letter-spacing: .05em; font-weight: 600; }}
.card .value {{ font-size: 26px; font-weight: 700; font-variant-numeric: tabular-nums;
  margin: 2px 0; white-space: nowrap; }}
.card .sub {{ font-size: 12px; color: {MUTED}; min-height: 1.4em; }}
section {{ margin: 0 0 22px; break-inside: avoid; }}
h2 {{ font-size: 15px; margin: 0 0 10px; padding-bottom: 5px; border-bottom: 1px solid {LINE};
  color: {ACCENT}; text-transform: uppercase; letter-spacing: .04em; }}
h3 {{ font-size: 13px; margin: 14px 0 6px; color: {INK}; }}
.grid2 {{ display: grid; grid-template-columns: 1fr 1fr; gap: 0 36px; }}
table {{ border-collapse: collapse; width: 100%; font-size: 13px; }}
th, td {{ text-align: left; padding: 5px 8px; border-bottom: 1px solid {LINE};
  vertical-align: top; }}
th {{ font-size: 11px; text-transform: uppercase; letter-spacing: .04em; color: {MUTED}; }}
td.num, th.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
@media screen {{ time {{ white-space: nowrap; }} }}
.wrap {{ overflow-wrap: anywhere; }}
td .scope {{ font-size: 12px; color: {MUTED}; margin-top: 3px; }}
svg.chart {{ display: block; width: 100%; height: auto; margin: 4px 0 6px; }}
svg .label {{ font-size: 12px; fill: {INK}; }}
svg .value {{ font-size: 12px; fill: {INK}; font-variant-numeric: tabular-nums; }}
svg .value .count {{ font-weight: 700; }}
svg .value .share {{ fill: {MUTED}; }}
svg .track {{ fill: #f0f2f6; }}
.swatch {{ display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 7px; vertical-align: baseline; }}
.indent {{ padding-left: 17px; color: {MUTED}; }}
.muted {{ color: {MUTED}; }}
.note {{ font-size: 12px; color: {MUTED}; margin: 6px 0; }}
.alert {{ color: {RED}; font-weight: 600; }}
.big {{ font-size: 30px; font-weight: 700; margin: 0 0 6px; }}
.big .unit {{ font-size: 14px; font-weight: 600; }}
.big .muted {{ font-size: 13px; font-weight: 400; }}
code, .mono {{ font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas,
  "DejaVu Sans Mono", monospace; font-size: 12.5px; }}
.sms {{ display: inline-block; background: #f5f7fa; border: 1px solid {LINE}; border-radius: 8px;
  padding: 4px 9px; white-space: pre-wrap; }}
dl.facts {{ display: grid; grid-template-columns: 250px 1fr; gap: 7px 18px; margin: 0; }}
dl.facts dt {{ color: {MUTED}; }}
dl.facts dd {{ margin: 0; }}
.pill {{ display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px;
  font-weight: 600; background: #eef1f5; white-space: nowrap; }}
.pill.opted_in, .pill.opt_in {{ background: #e3f2e6; color: {GREEN}; }}
.pill.opted_out, .pill.opt_out {{ background: #fbe6e3; color: {RED}; }}
ul.proof {{ list-style: none; margin: 4px 0 0; padding: 0; font-size: 12px;
  overflow-wrap: anywhere; }}
td > div + div {{ margin-top: 4px; }}
ul.note {{ margin: 0; padding-left: 18px; }}
footer {{ margin-top: 26px; padding-top: 10px; border-top: 1px solid {LINE}; font-size: 11px;
  color: {MUTED}; }}
@page {{ size: A4; margin: 14mm 12mm; }}
/* On paper (A4: about 700 px wide) the two columns would shrink the charts' text below 6 pt:
   one column, each chart at its own size, the key figures still on one row. */
@media print {{
  body {{ background: #fff; font-size: 10pt; }}
  main {{ box-shadow: none; margin: 0; padding: 0; max-width: none; border-radius: 0; }}
  .grid2 {{ grid-template-columns: 1fr; }}
  svg.chart {{ max-width: 540px; }}
  .card {{ padding: 8px 10px; }}
  .card .value {{ font-size: 20px; }}
  dl.facts {{ grid-template-columns: 200px 1fr; }}
  h2 {{ break-after: avoid; }}
  tr {{ break-inside: avoid; }}
}}
@media screen and (max-width: 760px) {{
  .cards {{ grid-template-columns: repeat(2, 1fr); }}
  .grid2 {{ grid-template-columns: 1fr; }}
  dl.facts {{ grid-template-columns: 1fr; }}
}}
"""
