"""Headless Chromium as the attacks on the HTML pages use it: the DOM it builds with JavaScript
on, what it requests from a local HTTP server (an access log: any request but the page's own
is a page that loads something), and the geometry of what it lays out.

Chromium: scripts/ensure-chromium.sh installs it. Without one the tests that need it skip,
unless STOPSMS_REQUIRE_BROWSER=1 (CI): then they fail.
"""

from __future__ import annotations

import contextlib
import functools
import html
import http.server
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.pages.pages_chromium import browser


def dump_dom(url: str, profile: Path, width: int = 1200) -> tuple[str, list[str]]:
    """The DOM Chromium built from ``url`` with JavaScript enabled (its default), after three
    seconds of virtual time (a timer or a refresh would have fired), and its console lines."""
    done = subprocess.run(  # noqa: S603 - our own arguments
        [
            browser(),
            "--headless",
            "--no-sandbox",  # the tests may run as root (a CI container)
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={width},2400",
            "--virtual-time-budget=3000",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line.upper()]
    return done.stdout, console


@contextlib.contextmanager
def access_logged_server(directory: Path) -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 serving ``directory``; yields its base URL and the list of
    the request lines it received."""
    requests: list[str] = []

    class Logged(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            requests.append(self.requestline)

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Logged, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# The instrument of the geometry tests: the page itself forbids scripts (its CSP), so a copy
# without its CSP runs this one, which writes what it measured into the DOM Chromium dumps.
_MEASURE = r"""
window.addEventListener('load', () => {
  const view = document.documentElement.clientWidth;
  const out = {view, width: document.documentElement.scrollWidth, clipped: [], wide: []};
  for (const svg of document.querySelectorAll('svg.chart')) {
    const box = svg.viewBox.baseVal;
    for (const el of svg.querySelectorAll('text, rect')) {
      const b = el.getBBox();
      const values = [b.x, b.y, b.width, b.height];
      if (values.some((v) => !Number.isFinite(v)) || b.width < 0 || b.x < -0.5 ||
          b.x + b.width > box.width + 0.5 || b.y < -0.5 || b.y + b.height > box.height + 0.5) {
        out.clipped.push({chart: svg.dataset.chart, tag: el.tagName,
          text: el.textContent.slice(0, 60), left: Math.round(b.x),
          right: Math.round(b.x + b.width), box: box.width});
      }
    }
  }
  for (const el of document.querySelectorAll('main *')) {
    const r = el.getBoundingClientRect();
    if (r.right > view + 1) out.wide.push({tag: el.tagName, right: Math.round(r.right)});
  }
  const pre = document.createElement('pre');
  pre.id = 'measured';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
"""


def measure(page: str, directory: Path, width: int = 1200) -> dict[str, Any]:
    """How Chromium lays ``page`` out at ``width`` CSS pixels: ``clipped`` lists the chart
    texts and bars outside their SVG's box (SVG clips them), ``wide`` the elements that reach
    past the window (the page scrolls sideways; on paper they are cut)."""
    without_csp = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    assert without_csp != page, "the page has no CSP meta to lift for the measurement"
    instrumented = without_csp.replace("</body>", f"<script>{_MEASURE}</script></body>")
    copy = directory / f"measured-{width}.html"
    copy.write_text(instrumented, encoding="utf-8")
    dom, _ = dump_dom(copy.as_uri(), directory / "profile", width)
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, "the measurement did not run"
    measured: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return measured
