"""Attack: real sizes on the pages laid out by Chromium. Counts of 0 and of 10 million, the
longest delivery statuses, tracked links in SMS texts, 500 events: every chart's text and bars
stay inside their SVG box (SVG clips what is outside: the reader loses it), and nothing
reaches past the window (the page scrolls sideways; on paper it is cut)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from stopsms.pages import campaign_page, person_page
from tests.pages.pages_chromium import needs_browser
from tests.pages.test_pages_render import AT, ESTIMATE, EXAMPLE, NOTHING, PARIS, STATUS
from tests.pages_promises.pages_attack_chromium import measure

pytestmark = needs_browser

# A personalised link as campaign tools put in an SMS: 107 characters, an 84-character token
# without a place to break the line (base64url of the recipient's key).
TRACKED = (
    "https://acme.example/r/"
    "Zm9yLWxlYS1tYXJ0aW4tc29sZGVzLWhpdmVyLTIwMjYtcmVsYW5jZS0yLXVpZC03ZjNjOWExZTViMmQ0YzZm"
)


def page_of(data: dict[str, Any]) -> str:
    return campaign_page(data, tz=PARIS, generated_at=AT)


def report(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    data.update(copy.deepcopy(changes))
    return data


def huge(audience: int) -> dict[str, Any]:
    """A campaign of ``audience`` recipients, all but 100 sent and delivered."""
    sent = audience - 100
    return report(
        status="done",
        audience=audience,
        sent=sent,
        failed=0,
        pending=0,
        cancelled=0,
        suppressed={"opted_out": 100, "no_consent": 0, "invalid_number": 0, "duplicate": 0},
        failures={},
        opt_outs=12_000,
        segments=sent,
        delivery={"delivered": sent, "undelivered": {}, "awaiting": 0},
        cost={"currency": "USD", "total": 0.075 * sent, "per_delivered": 0.075},
    )


@pytest.mark.parametrize("audience", [200_000, 10_000_000])
def test_a_campaign_of_millions_keeps_its_chart_text_inside_the_charts(
    tmp_path: Path, audience: int
) -> None:
    laid_out = measure(page_of(huge(audience)), tmp_path)
    assert laid_out["clipped"] == []
    assert laid_out["wide"] == []


def test_a_long_delivery_status_keeps_its_label_inside_the_chart(tmp_path: Path) -> None:
    data = report()
    data["delivery"]["undelivered"] = {
        "carrier_unreachable": 9,
        "destination_country_blocked": 2,
        "ttl_expired": 1,
    }
    laid_out = measure(page_of(data), tmp_path)
    assert laid_out["clipped"] == []


@pytest.mark.parametrize("width", [1200, 700])
def test_a_tracked_link_in_the_body_wraps_inside_the_page(tmp_path: Path, width: int) -> None:
    data = report(compliance={**EXAMPLE["compliance"], "body": f"-20% ce week-end : {TRACKED}"})
    laid_out = measure(page_of(data), tmp_path, width)
    assert laid_out["wide"] == []


def test_a_tracked_link_in_a_dry_run_sample_wraps_inside_the_page(tmp_path: Path) -> None:
    sample = {"seq": 0, "to": "+33*******78", "segments": 2, "text": f"Léa, -30% : {TRACKED}"}
    data = report(
        status="dry_run",
        **{**NOTHING, "audience": 100, "pending": 40},
        estimate={**ESTIMATE, "samples": [sample]},
    )
    laid_out = measure(page_of(data), tmp_path, width=700)
    assert laid_out["wide"] == []


def test_a_reply_with_a_link_wraps_inside_the_person_page(tmp_path: Path) -> None:
    reply = {**STATUS["history"][2], "text": f"STOP {TRACKED}", "review": None}
    laid_out = measure(person_page({**STATUS, "history": [reply]}, generated_at=AT), tmp_path)
    assert laid_out["wide"] == []


@pytest.mark.parametrize("status", ["done", "dry_run", "refused"])
def test_counts_of_zero_draw_nothing_outside_and_nothing_not_finite(
    tmp_path: Path, status: str
) -> None:
    # Zero everywhere: no division by zero, no NaN width, no bar where there is nothing.
    zero_estimate = {
        **ESTIMATE,
        "would_send": 0,
        "segments": 0,
        "cost": {**ESTIMATE["cost"], "total": 0.0, "unpriced": 0},
        "evaluated": 0,
        "segments_histogram": {},
        "deferred": {},
        "samples": [],
    }
    data = report(
        status=status,
        reason="audience: empty" if status == "refused" else None,
        **NOTHING,
        estimate=zero_estimate if status == "dry_run" else None,
    )
    page = page_of(data)
    assert not re.search(r'="-?(?:nan|inf)', page, re.IGNORECASE)  # no attribute of NaN
    assert "nan %" not in page.lower()
    laid_out = measure(page, tmp_path)
    assert laid_out["clipped"] == []
    assert laid_out["wide"] == []


def test_thousands_and_a_long_body_with_spaces_fit(tmp_path: Path) -> None:
    # 100,000 recipients (whose shares still fit), a 1,600-character body (the most a request
    # may carry) with spaces, and the longest campaign id.
    data = huge(100_000)
    data["campaign_id"] = "c" * 64
    data["compliance"] = {**EXAMPLE["compliance"], "body": ("Soldes chez Acme ! " * 85)[:1600]}
    data["delivery"]["undelivered"] = {"carrier_unreachable": 3, "ttl_expired": 2, "spam": 1}
    laid_out = measure(page_of(data), tmp_path)
    assert laid_out["clipped"] == []
    assert laid_out["wide"] == []


def test_five_hundred_events_fit_the_person_page(tmp_path: Path) -> None:
    history = [STATUS["history"][n % 3] for n in range(500)]
    page = person_page({**STATUS, "history": history}, generated_at=AT)
    assert page.count("<tr data-event=") == 500
    assert page.count(STATUS["phone"]) == 1
    assert measure(page, tmp_path)["wide"] == []


def test_the_report_fits_an_a4_width(tmp_path: Path) -> None:
    # About 700 CSS pixels: the width of an A4 page less its margins, as printed.
    laid_out = measure(page_of(report()), tmp_path, width=700)
    assert laid_out["clipped"] == []
    assert laid_out["wide"] == []
