"""A campaign's compliance facts, as an auditor asks for them: category, brand and sender, the
STOP mention, stop number, consent policy, sending window and suppression it was sent under."""

from __future__ import annotations

from stopsms.pages.campaign_report import CampaignReport
from stopsms.pages.elements import number
from stopsms.pages.formatting import escape
from stopsms.pages.layout import section


def compliance(report: CampaignReport) -> str:
    f = report.facts
    if not f:
        # null: the request never arrived (cancelled first); absent: a report of an earlier
        # release, which did not carry the facts.
        said = (
            "The request of this campaign never arrived (cancelled first): nothing to show."
            if "compliance" in report.data
            else "This report does not carry the compliance facts (made by an earlier release "
            "of StopSMS): run `python -m stopsms report ID --html FILE` again."
        )
        return section("Compliance", f'<p class="muted">{escape(said)}</p>', "compliance")
    marketing = f.get("category") == "marketing"
    rows: list[tuple[str, str]] = [
        ("Category", escape(f.get("category"))),
        ("Brand", escape(f.get("brand"))),
        (
            "Sender (origination identity)",
            escape(f.get("origination_identity") or "none named: End User Messaging chooses"),
        ),
        ("Language", escape(f.get("language"))),
    ]
    if marketing:
        mention = f.get("mention")
        if f.get("mention_in_body"):
            used = "the body already carries the instruction: nothing appended"
        elif mention:
            used = f'<strong class="mono">{escape(mention)}</strong> appended to every SMS'
            shorter = [form for form in f.get("mention_forms") or [] if form != mention]
            if shorter and f.get("max_segments"):
                used += (
                    " (or the shorter legal form "
                    + " / ".join(f'<span class="mono">{escape(s)}</span>' for s in shorter)
                    + " where the parts limit requires it)"
                )
        else:
            used = '<span class="alert">none: the request has no valid stop number</span>'
        rows += [
            ("STOP mention", used),
            (
                "Stop number (replies reach this stack)",
                f'<span class="mono">{escape(f.get("stop_number"))}</span>',
            ),
            ("Consent policy", f"{_consent(f.get('consent_policy'))}; {_retention(report)}"),
            (
                "Sending window",
                f'<span class="mono">{escape(f.get("sending_window"))}</span>, in each '
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
                f'<span class="mono">{escape(f.get("consent_policy"))}</span>, window '
                f'<span class="mono">{escape(f.get("sending_window"))}</span>, '
                f"{_retention(report)}",
            )
        )
    if f.get("max_segments") is not None:
        rows.append(("Parts limit", number("compliance.max_segments", f["max_segments"])))
    rows += [
        ("Requested send time", report.when(f.get("send_at")) if f.get("send_at") else "at once"),
        ("Recorded", report.when(f.get("recorded_at"))),
        ("Message", f'<span class="sms">{report.text(f.get("body", ""))}</span>'),
    ]
    facts = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    note = (
        "Consent policy, retention and sending window are those in force when the campaign "
        "was recorded."
        if f.get("policy_recorded")
        else "Consent policy, retention and sending window are the deployment's, as "
        "configured for the process that made this report (this campaign was recorded "
        "without them)."
    )
    return section(
        "Compliance facts",
        f'<dl class="facts">{facts}</dl><p class="note">{note}</p>',
        "compliance",
    )


def _retention(report: CampaignReport) -> str:
    days = report.facts.get("retention_days")
    if days is None:
        return ""
    return f"an opt-in is relied on for {number('compliance.retention_days', days)} days"


def _consent(policy: object) -> str:
    if policy == "enforce":
        return "enforce: marketing only to numbers with a recorded opt-in still in force"
    if policy == "record":
        return "record: consents and opt-outs recorded, an opt-in is not required"
    return escape(policy)
