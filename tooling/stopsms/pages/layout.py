"""The page shell: the document with its Content-Security-Policy and its one stylesheet, the
colours, the header with its status badge, the sections and the footer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from stopsms.pages.formatting import escape
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


def document(title: str, body: str) -> str:
    """One self-contained HTML file: inline style, and a policy that forbids loading anything."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def page_header(kicker: str, title: str, badge: str, lines: Iterable[str]) -> str:
    meta = "".join(f"<div>{line}</div>" for line in lines)
    return (
        f'<header class="top"><div><div class="kicker">StopSMS · {escape(kicker)}</div>'
        f"<h1>{escape(title)}</h1></div>"
        f'<div class="meta">{badge}{meta}</div></header>'
    )


def status_badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, GREY)
    label = status.replace("_", " ")
    return (
        f'<span class="badge" style="background:{colour}" data-field="status">'
        f"{escape(label)}</span>"
    )


def page_footer(text: str, generated: datetime) -> str:
    """The version and UTC instant that made the page, then ``text`` (HTML) on its source."""
    return (
        f"<footer>StopSMS {escape(VERSION)} · generated "
        f"{escape(generated.astimezone(UTC).isoformat(timespec='seconds'))}"
        f" · {text}</footer>"
    )


def section(title: str, body: str, name: str = "") -> str:
    named = f' id="{escape(name)}"' if name else ""
    return f"<section{named}><h2>{escape(title)}</h2>{body}</section>"


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
/* A long link in a body, a sample or a reply wraps instead of widening the page. */
td, dd, .sms {{ overflow-wrap: anywhere; }}
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
dl.facts {{ display: grid; grid-template-columns: 250px minmax(0, 1fr); gap: 7px 18px;
  margin: 0; }}
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
