"""One measured figure, with its target, as printed by ``make bench``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    section: str  # e.g. "requests", "compute"
    name: str  # what was measured, e.g. "median per message"
    value: float
    unit: str  # "µs", "MB", "×", "requests"…
    target: str = ""  # e.g. "≤ 50 µs"; empty when the figure is informative only
    ok: bool | None = None  # None: no target

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
