"""The pieces a section is made of: key-figure cards, tables, pills, and the numbers of the
report. Every number sits in an element with ``data-field`` (its path in the JSON,
``suppressed.opted_out``) and ``data-value`` (its JSON text), or ``data-derived`` for one the
page computes, so a test reads them back from the rendered DOM."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stopsms.pages.formatting import count, escape


def field_attributes(field: str, value: Any) -> str:
    """The attributes of a number of the report: its path and its JSON value."""
    return f'data-field="{escape(field)}" data-value="{escape(json.dumps(value))}"'


def derived_attributes(name: str, value: Any) -> str:
    """The attributes of a number the page computes from the report's (not a report field)."""
    return f'data-derived="{escape(name)}" data-value="{escape(json.dumps(value))}"'


def number(field: str, value: Any, text: str | None = None) -> str:
    """A number of the report, with its path and JSON value for whoever reads the page."""
    shown = text if text is not None else count(value)
    return f'<span class="n" {field_attributes(field, value)}>{escape(shown)}</span>'


def derived_number(name: str, value: Any) -> str:
    """A number the page computes from the report's (``data-derived``: not a report field)."""
    shown = count(value) if isinstance(value, int | float) else str(value)
    return f'<span class="n" {derived_attributes(name, value)}>{escape(shown)}</span>'


def card(label: str, value: str, sub: str) -> str:
    return (
        f'<div class="card"><div class="label">{escape(label)}</div>'
        f'<div class="value">{value}</div><div class="sub">{sub}</div></div>'
    )


def pill(kind: str, label: str) -> str:
    return f'<span class="pill {escape(kind)}">{escape(label)}</span>'


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    attributes: str = ""


def row(*cells: str, attributes: str = "") -> Row:
    """A table row of HTML cells (already escaped); ``attributes`` go on its ``<tr>``."""
    return Row(cells, attributes)


def table(header: Sequence[str], rows: Sequence[Row], numeric: Sequence[int] = ()) -> str:
    def cell(tag: str, i: int, content: str) -> str:
        aligned = ' class="num"' if i in numeric else ""
        return f"<{tag}{aligned}>{content}</{tag}>"

    head = ""
    if any(header):
        heads = "".join(cell("th", i, escape(h)) for i, h in enumerate(header))
        head = f"<thead><tr>{heads}</tr></thead>"
    body = "".join(
        f"<tr{' ' + line.attributes if line.attributes else ''}>"
        + "".join(cell("td", i, content) for i, content in enumerate(line.cells))
        + "</tr>"
        for line in rows
    )
    return f"<table>{head}<tbody>{body}</tbody></table>"
