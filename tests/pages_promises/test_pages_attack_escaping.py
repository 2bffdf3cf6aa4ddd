"""Attack: a careless (or hostile) publisher puts markup, scripts, URLs, CSS, SVG, bidi and
zero-width characters in every string of a campaign and of a person's history. The pages
opened in Chromium with JavaScript enabled, served from 127.0.0.1 with an access log: nothing
runs, nothing is fetched (any request but the page's own is a break), and the text is shown
as text."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from stopsms.pages import campaign_page, person_page
from tests.pages.pages_chromium import needs_browser
from tests.pages.pages_dom import read
from tests.pages.test_pages_render import AT, ESTIMATE, EXAMPLE, PARIS, STATUS
from tests.pages_promises.pages_attack_chromium import access_logged_server, dump_dom

# {u} is the attack server's base URL: a request to it is heard.
PAYLOADS = [
    '<script>fetch("{u}/script")</script>',
    "</style><style>body{{background:url({u}/css-url)}}</style>",
    '"><img src=x onerror="fetch(\'{u}/onerror\')">',
    "'><img src='{u}/img-single-quote'>",
    '<svg onload="fetch(\'{u}/svg-onload\')"><image href="{u}/svg-image"/></svg>',
    '<link rel="stylesheet" href="{u}/stylesheet"><link rel="prefetch" href="{u}/prefetch">',
    '<meta http-equiv="refresh" content="0;url={u}/refresh">',
    "</title><base href='{u}/base/'><iframe src='{u}/iframe'></iframe>",
    'javascript:fetch("{u}/javascript-url")',
    "<a href=\"javascript:fetch('{u}/a')\">x</a><object data='{u}/object'></object>",
    "x</span></td></tr></table><video poster='{u}/poster'></video>",
    "\u202eevil\u202c \u200b\u200d\u2066 😀👩‍👩‍👧 &amp; &lt;",
]


def hostile(base: str) -> str:
    return "".join(payload.format(u=base) for payload in PAYLOADS)


# Every string of ``compliance`` the page shows.
SHOWN_FACTS = (
    "brand",
    "body",
    "origination_identity",
    "stop_number",
    "mention",
    "language",
    "consent_policy",
    "sending_window",
    "send_at",
    "recorded_at",
)


def hostile_report(text: str) -> dict[str, Any]:
    """Contract §6's example with ``text`` in every string a page shows, keys included."""
    data = copy.deepcopy(EXAMPLE)
    data.update(
        status="dry_run",
        reason=text,
        failures={text: 2},
        paused_at=text,
        resume_at=text,
        compliance={
            **EXAMPLE["compliance"],
            **dict.fromkeys(SHOWN_FACTS, text),
            "mention_forms": [text, "STOP 36111"],
        },
        estimate={
            **ESTIMATE,
            "cost": {**ESTIMATE["cost"], "currency": text, "prices": [text]},
            "segments_histogram": {text: 3},
            "deferred": {text: 4},
            "samples": [{"seq": 0, "to": text, "segments": 1, "text": text}],
        },
    )
    data["suppressed"] = {**data["suppressed"], text: 1}
    data["delivery"]["undelivered"] = {text: 9}
    return data


def hostile_status(text: str) -> dict[str, Any]:
    history = [
        {
            **item,
            "kind": text,
            "brand": text,
            "source": text,
            "text": text,
            "campaign_id": text,
            "review": text,
            "at": text,
            "expires_at": text,
            "proof": {text: text, "nested": {"x": text}},
        }
        for item in STATUS["history"]
    ]
    state = [{**item, "scope": text, "status": text, "source": text} for item in STATUS["state"]]
    return {
        **STATUS,
        "state": state,
        "history": history,
        "delivery_failures": {
            "campaigns": [text],
            "last_status": text,
            "keeps_failing": True,
            "counted_until": text,
        },
    }


def pages(base: str) -> dict[str, str]:
    text = hostile(base)
    return {
        "report.html": campaign_page(hostile_report(text), tz=PARIS, generated_at=AT),
        "status.html": person_page(hostile_status(text), generated_at=AT),
    }


@pytest.mark.parametrize("name", ["report.html", "status.html"])
def test_every_hostile_string_is_text_in_the_page_source(name: str) -> None:
    page = pages("http://127.0.0.1:9")[name]
    shown = read(page)
    assert shown.references == []  # no src, href, action, data, poster from the data
    # The text of the attack holds "url(": only the page's own style may not load anything.
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(styles) == 1
    assert not re.search(r"url\(|@import", styles[0])
    assert not {"script", "img", "iframe", "link", "base", "object", "video", "image"} & set(
        shown.tags
    )
    assert "&lt;script&gt;fetch(" in page
    assert "&amp;amp;" in page  # an entity in the data stays text


@needs_browser
def test_control_a_page_that_fetches_is_heard_by_the_access_log(tmp_path: Path) -> None:
    # The instrument of the test below: without the CSP and escaping, a fetch is logged.
    with access_logged_server(tmp_path) as (base, requests):
        (tmp_path / "loads.html").write_text(
            f'<!DOCTYPE html><p>x</p><img src="{base}/heard.png">', encoding="utf-8"
        )
        dump_dom(f"{base}/loads.html", tmp_path / "profile")
    assert "GET /heard.png HTTP/1.1" in requests


@needs_browser
@pytest.mark.parametrize("name", ["report.html", "status.html"])
@pytest.mark.parametrize("served", ["http", "file"])
def test_with_javascript_on_nothing_runs_and_nothing_is_fetched(
    tmp_path: Path, name: str, served: str
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    with access_logged_server(site) as (base, requests):
        page = pages(base)[name]
        (site / name).write_text(page, encoding="utf-8")
        url = f"{base}/{name}" if served == "http" else (site / name).as_uri()
        dom, console = dump_dom(url, tmp_path / "profile")
    # Only the page itself was requested (nothing at all for file://): no favicon, image,
    # style, frame, prefetch or refresh.
    assert requests == ([f"GET /{name} HTTP/1.1"] if served == "http" else [])
    built = read(dom)
    assert "script" not in built.tags
    assert built.references == []
    assert console == []  # not even a blocked attempt
    assert "&lt;script&gt;fetch(" in dom  # the attack is shown as text
    assert "\u202eevil\u202c" in dom  # bidi and zero-width characters kept as text
