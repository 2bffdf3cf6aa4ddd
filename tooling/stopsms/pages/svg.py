"""The charts, drawn as inline SVG: horizontal bars and one stacked bar.

Drawn here rather than with a chart library: a bar is one ``<rect>``, and a library would add a
dependency (and often a script) to a page that must open offline, anywhere, for years."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stopsms.pages.elements import derived_attributes, field_attributes
from stopsms.pages.formatting import count, escape


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
            return " " + field_attributes(self.field, self.value)
        if self.derived is not None:
            return " " + derived_attributes(self.derived, self.value)
        return ""

    def html_value(self) -> str:
        return f'<span class="n"{self.attributes()}>{escape(count(self.value))}</span>'


def bar_chart(title: str, bars: Sequence[Bar]) -> str:
    """Horizontal bars, scaled to the largest, each labelled with its value (and note)."""
    row, bar_h = 28, 16
    # Room for the longest label and the longest value: the viewBox scales to the column, so
    # a wider chart is drawn smaller rather than cut (7.5 units a character at 12px).
    label_w = max(140, _text_width(max((b.label for b in bars), key=len, default="")) + 14)
    value_w = max(
        120, _text_width(max((count(b.value) + "   " + b.note for b in bars), key=len)) + 14
    )
    area = 260
    width = label_w + area + value_w
    top = max([1.0, *(float(b.value) for b in bars)])
    height = row * len(bars) + 4
    out = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'class="chart" data-chart="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, bar in enumerate(bars):
        y = 4 + i * row
        size = area * float(bar.value) / top
        if bar.value and size < 2:
            size = 2  # a count of one among thousands must still show
        baseline = y + bar_h - 4
        out += [
            f'<text x="{label_w - 10}" y="{baseline}" text-anchor="end" '
            f'class="label">{escape(bar.label)}</text>',
            f'<rect x="{label_w}" y="{y}" width="{area}" height="{bar_h}" rx="3" class="track"/>',
            f'<rect x="{label_w}" y="{y}" width="{size:.1f}" height="{bar_h}" rx="3" '
            f'fill="{bar.colour}"{bar.attributes()}/>',
            f'<text x="{label_w + area + 10}" y="{baseline}" class="value">'
            f'<tspan class="count">{escape(count(bar.value))}</tspan>'
            + (f'<tspan class="share" dx="8">{escape(bar.note)}</tspan>' if bar.note else "")
            + "</text>",
        ]
    out.append("</svg>")
    return "".join(out)


def _text_width(text: str) -> int:
    return int(len(text) * 7.5)


def stacked_bar(title: str, parts: Sequence[Bar]) -> str:
    """One bar split into ``parts``, in proportion to their values."""
    width, height = 520, 26
    total = sum(float(p.value) for p in parts)
    out = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'class="chart" data-chart="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" rx="4" class="track"/>',
    ]
    x = 0.0
    for part in parts:
        if not total or not part.value:
            continue
        size = width * float(part.value) / total
        out.append(
            f'<rect x="{x:.1f}" y="0" width="{size:.1f}" height="{height}" '
            f'fill="{part.colour}"{part.attributes()}><title>{escape(part.label)}: '
            f"{escape(count(part.value))}</title></rect>"
        )
        x += size
    out.append("</svg>")
    return "".join(out)
