"""One measured figure, with its target, as printed by ``make bench``; the figures that sum a
run up carry a ``key`` and make its last line, ``summary: {json}``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

# The keys of the summary line, in its order (issue 17; docs/PERFORMANCE.md records a run).
SUMMARY_KEYS = (
    "requests_per_1k",
    "floor_per_1k",
    "rru_per_recipient",
    "wru_per_recipient",
    "usd_per_million",
    "naive_usd_per_million",
    "compute_us_median",
    "coldstart_max_ratio",
    "fanout_peak_mb_1m",
    "import_rows_per_s",
    "receipts_requests_per_1k",
)


@dataclass(frozen=True)
class Figure:
    section: str  # e.g. "requests", "compute"
    name: str  # what was measured, e.g. "median per message"
    value: float
    unit: str  # "µs", "MB", "×", "requests"…
    target: str = ""  # e.g. "≤ 50 µs"; empty when the figure is informative only
    ok: bool | None = None  # None: no target
    key: str = ""  # its name in the summary line (SUMMARY_KEYS), if it is one of them

    def row(self) -> tuple[str, str, str, str]:
        verdict = {True: "ok", False: "MISSED", None: ""}[self.ok]
        return (self.name, f"{self.value:,.2f} {self.unit}".strip(), self.target, verdict)


def print_table(figures: list[Figure]) -> None:
    sections: dict[str, list[Figure]] = {}
    for figure in figures:
        sections.setdefault(figure.section, []).append(figure)
    for section, rows in sections.items():
        print(f"\n## {section}")
        table = [("figure", "value", "target", "")] + [f.row() for f in rows]
        widths = [max(len(r[i]) for r in table) for i in range(4)]
        for r in table:
            print("  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)))


def summary(figures: list[Figure]) -> str:
    """``summary: {json}`` of the keyed figures, in SUMMARY_KEYS order (a benchmark not run, or
    run ``--quick`` without its largest workload, leaves its keys out)."""
    found = {figure.key: figure.value for figure in figures if figure.key}
    if unknown := set(found) - set(SUMMARY_KEYS):
        raise ValueError(f"figures keyed outside SUMMARY_KEYS: {sorted(unknown)}")
    values = {key: _rounded(found[key]) for key in SUMMARY_KEYS if key in found}
    return "summary: " + json.dumps(values, separators=(", ", ": "))


def _rounded(value: float) -> float:
    """Four significant digits: the run's noise is larger."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, 3 - math.floor(math.log10(abs(value))))
