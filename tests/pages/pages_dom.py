"""Read back what the HTML pages show (stopsms.pages), from their source or from the DOM a
browser rendered: the numbers by their ``data-field`` path, and every external reference."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, list[str]] = defaultdict(list)
        self.derived: dict[str, list[str]] = defaultdict(list)
        self.texts: dict[str, list[str]] = defaultdict(list)  # data-field -> visible text
        self.references: list[str] = []  # every src, href, xlink:href, action, srcset...
        self.tags: list[str] = []
        self._open: list[tuple[str, str | None]] = []  # (tag, data-field) of open spans
        self._text: dict[int, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "srcset", "data", "poster"):
                self.references.append(f"{tag} {name}={value}")
        if (field := values.get("data-field")) is not None and "data-value" in values:
            self.fields[field].append(str(values["data-value"]))
        if (name := values.get("data-derived")) is not None:
            self.derived[name].append(str(values.get("data-value")))
        if tag == "span":
            numbered = values.get("data-field") if "data-value" in values else None
            self._open.append((tag, numbered))
            self._text[len(self._open)] = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._open:
            depth = len(self._open)
            _, field = self._open.pop()
            text = "".join(self._text.pop(depth, []))
            if field is not None:
                self.texts[field].append(text)
            if self._open:
                self._text[len(self._open)].append(text)

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text[len(self._open)].append(data)


def read(page: str) -> _Reader:
    reader = _Reader()
    reader.feed(page)
    reader.close()
    return reader


def numeric_leaves(data: Any, prefix: str = "") -> dict[str, int | float]:
    """Every number of a report (booleans aside), by its dotted path: ``delivery.delivered``,
    ``estimate.samples.0.seq``."""
    found: dict[str, int | float] = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            found |= numeric_leaves(value, f"{prefix}{key}.")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found |= numeric_leaves(value, f"{prefix}{index}.")
    elif isinstance(data, int | float) and not isinstance(data, bool):
        found[prefix.removesuffix(".")] = data
    return found


def as_number(text: str) -> float:
    """A number as the page prints it (``1,000``, ``$62.05``, ``#3``, ``2.50 %``)."""
    cleaned = re.sub(r"[^0-9.\-]", "", text)
    return float(cleaned)


EXTERNAL = re.compile(r"(?:https?:)?//|^data:text/html", re.IGNORECASE)


def external(page: str) -> list[str]:
    """What in the page would load something: a reference to another place, a script, a
    stylesheet import or url()."""
    reader = read(page)
    found = [ref for ref in reader.references if EXTERNAL.search(ref.partition("=")[2])]
    found += [f"<{tag}>" for tag in reader.tags if tag in ("script", "link", "iframe", "object")]
    found += re.findall(r"url\(|@import", page)
    return found
