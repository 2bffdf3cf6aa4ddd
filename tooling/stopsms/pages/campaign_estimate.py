"""A dry run's estimate: what the real send would do, its cost from the price table, the
recipients by SMS parts, those outside their window, and samples as they would leave."""

from __future__ import annotations

from stopsms.pages.campaign_report import CampaignReport
from stopsms.pages.elements import number, row, table
from stopsms.pages.formatting import escape, money
from stopsms.pages.layout import TEAL, section
from stopsms.pages.svg import Bar, bar_chart


def estimate(report: CampaignReport) -> str:
    """The estimate's section; empty for a campaign that is not a dry run."""
    estimated = report.data.get("estimate")
    if estimated is None:
        return ""
    cost = estimated["cost"]
    rows = [
        row("would send", number("estimate.would_send", estimated["would_send"])),
        row("SMS parts", number("estimate.segments", estimated["segments"])),
        row(
            f"cost ({escape(cost['currency'])})",
            number("estimate.cost.total", cost["total"], money(cost["total"], cost["currency"])),
        ),
        row("SMS without a price", number("estimate.cost.unpriced", cost["unpriced"])),
        row("recipients decided", number("estimate.evaluated", estimated["evaluated"])),
        row("complete", "yes" if estimated["complete"] else "no: still going, report again"),
    ]
    histogram = [
        Bar(f"{parts} part(s)", n, TEAL, field=f"estimate.segments_histogram.{parts}")
        for parts, n in estimated["segments_histogram"].items()
    ]
    deferred = [
        row(report.when(at), number(f"estimate.deferred.{at}", n))
        for at, n in estimated["deferred"].items()
    ]
    samples = [
        row(
            number(f"estimate.samples.{i}.seq", sample["seq"], f"#{sample['seq']}"),
            escape(sample["to"]),
            number(f"estimate.samples.{i}.segments", sample["segments"]),
            f'<span class="sms">{report.text(sample["text"])}</span>',
        )
        for i, sample in enumerate(estimated["samples"])
    ]
    # The price table's own description (a date, a URL): deployment text, not masked.
    prices = "".join(f"<li>{escape(source)}</li>" for source in cost["prices"])
    parts = [
        '<div class="grid2"><div>',
        table(["", ""], rows, numeric=(1,)),
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
            table(["window opens", "recipients"], deferred, numeric=(1,)),
        ]
    if samples:
        parts += [
            "<h3>Samples, as they would leave</h3>",
            table(["#", "to", "parts", "text"], samples, numeric=(2,)),
        ]
    return section("Dry-run estimate", "\n".join(parts), "estimate")
