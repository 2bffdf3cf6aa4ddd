"""A person's state and evidence history (``status PHONE --html FILE``, for an access request)
as one printable page: each brand's decision, every event that made it with its proof and how
long that proof is kept, what an erasure kept, and recent delivery failures."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from stopsms import clock
from stopsms.pages.elements import pill, row, table
from stopsms.pages.formatting import escape, local_time, zone_name, zone_of
from stopsms.pages.layout import document, page_footer, page_header, section
from stopsms.pages.masking import hide_own

KIND_LABELS = {
    "opt_in": "opt-in",
    "opt_out": "opt-out",
    "help": "HELP request",
    "reply": "reply",
    "send_blocked": "send blocked",
}


def person_page(
    data: Mapping[str, Any], *, tz: tzinfo | None = None, generated_at: datetime | None = None
) -> str:
    """What ``ops.status`` returns for one number, as one printable HTML page: its state per
    brand and its whole evidence history, dates in the number's own time zone by default."""
    phone = str(data["phone"])
    zone = tz or zone_of(phone)
    generated = generated_at or clock.now()
    parts = [
        page_header(
            "Personal data held by StopSMS",
            phone,  # the one place the number appears: the person asked for their own data
            "",
            [
                f"{len(data.get('state') or [])} brand decision(s) · "
                f"{len(data.get('history') or [])} event(s)",
                f"generated {local_time(generated.isoformat(), zone)}",
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
        parts.append(
            section("After an erasure", f'<p class="note">{escape(erased["unknown"])}</p>')
        )
    elif erased:
        parts.append(
            section(
                "Kept after an erasure",
                f"<p>Kept as {escape(erased.get('kept_as', 'a keyed hash'))}; never as the "
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
        page_footer(
            "From <code>python -m stopsms status</code> (an access request). "
            f"Dates in {escape(zone_name(zone, generated))}, the number's own time zone.",
            generated,
        )
    )
    return document("StopSMS: personal data of one number", "\n".join(parts))


def _scope(value: object) -> str:
    return "every brand" if value in ("*", "every brand") else str(value)


def _state_section(
    title: str, states: Sequence[Mapping[str, Any]], zone: tzinfo, phone: str
) -> str:
    if not states:
        return section(title, '<p class="muted">No decision recorded for any brand.</p>', "state")
    rows = [
        row(
            escape(_scope(item.get("scope"))),
            pill(str(item.get("status")), str(item.get("status")).replace("_", " ")),
            local_time(item.get("since"), zone),
            escape(hide_own(str(item.get("source") or ""), phone)),
            local_time(item["relied_on_until"], zone) if item.get("relied_on_until") else "—",
            attributes=f'data-state="{escape(item.get("scope"))}"',
        )
        for item in states
    ]
    header = ["brand", "state", "since", "source", "consent relied on until"]
    return section(title, table(header, rows), "state")


def _history_section(
    title: str, history: Sequence[Mapping[str, Any]], zone: tzinfo, phone: str
) -> str:
    if not history:
        return section(title, '<p class="muted">No event recorded.</p>', "history")
    rows = []
    for item in history:
        kind = str(item.get("kind"))
        details = []
        if item.get("text") is not None:
            text = escape(hide_own(str(item["text"]), phone))
            details.append(f'<span class="sms">{text}</span>')
        if item.get("campaign_id"):
            details.append(f"campaign <code>{escape(item['campaign_id'])}</code>")
        if item.get("review"):
            review = escape(item["review"])
            details.append(f'<span class="alert">waiting for a human: {review}</span>')
        proof = item.get("proof") or {}
        if proof:
            details.append(_proof(proof, phone))
        source = escape(hide_own(str(item.get("source") or ""), phone))
        rows.append(
            row(
                local_time(item.get("at"), zone, weekday=False),
                pill(kind, KIND_LABELS.get(kind, kind))
                + f'<div class="scope">{escape(_scope(item.get("brand")))}</div>',
                f'<span class="wrap">{source}</span>',
                "".join(f"<div>{detail}</div>" for detail in details),
                local_time(item["expires_at"], zone, weekday=False)
                if item.get("expires_at")
                else '<span class="muted">as long as the opt-out it proves</span>'
                if kind == "opt_out"
                else "—",
                attributes=f'data-event="{escape(kind)}"',
            )
        )
    header = ["when", "event, brand", "source", "details and proof", "proof kept until"]
    return section(title, table(header, rows), "history")


def _proof(proof: Mapping[str, Any], phone: str) -> str:
    items = "".join(
        f'<li><span class="muted">{escape(key)}:</span> '
        f"{escape(hide_own(_plain(value), phone)[:300])}</li>"
        for key, value in proof.items()
        if value not in (None, "", [], {})
    )
    return f'<ul class="proof">{items}</ul>'


def _plain(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _failures_section(failures: Mapping[str, Any] | None, zone: tzinfo) -> str:
    if not failures:
        return ""
    campaigns = ", ".join(f"<code>{escape(c)}</code>" for c in failures.get("campaigns") or [])
    keeps = (
        " It keeps failing: later campaigns skip it until a delivery succeeds."
        if failures.get("keeps_failing")
        else ""
    )
    until = failures.get("counted_until")
    body = (
        f"<p>SMS to this number failed lately in {campaigns} (last status "
        f"{escape(failures.get('last_status'))}).{keeps}"
        + (f" Counted until {local_time(until, zone)}." if until else "")
        + "</p>"
    )
    return section("Delivery failures", body, "failures")
