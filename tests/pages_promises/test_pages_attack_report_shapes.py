"""Attack: the campaign page given every status and the report's optional parts missing (a
report of an earlier release without ``compliance``, ``estimate``, ``paused_at``,
``resume_at`` or ``delivery.blocked_or_spam_rate``), and phone numbers hidden in the free text
of a campaign in every format people write them."""

from __future__ import annotations

import copy
import html
import json
import re
import unicodedata
from typing import Any

import pytest

from stopsms.pages import campaign_page
from tests.pages.pages_dom import numeric_leaves, read
from tests.pages.test_pages_render import AT, ESTIMATE, EXAMPLE, NOTHING, PARIS

STATUSES = ["scheduled", "deferred", "sending", "paused", "cancelled", "refused", "dry_run", "done"]


def page_of(data: dict[str, Any]) -> str:
    return campaign_page(data, tz=PARIS, generated_at=AT)


def visible(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def earlier_release(status: str) -> dict[str, Any]:
    """Contract §6's fields only, without any optional one."""
    data = copy.deepcopy(EXAMPLE)
    data["status"] = status
    for optional in ("compliance", "estimate", "paused_at", "resume_at", "reason"):
        data.pop(optional, None)
    data["delivery"].pop("blocked_or_spam_rate")
    return data


@pytest.mark.parametrize("status", STATUSES)
def test_a_report_without_its_optional_parts_still_renders_every_number(status: str) -> None:
    data = earlier_release(status)
    page = page_of(data)
    shown = read(page)
    for path, value in numeric_leaves(data).items():
        assert set(shown.fields.get(path, [])) == {json.dumps(value)}, path
    assert f'data-status="{status}"' in page
    if status in ("paused", "deferred", "scheduled"):
        assert "(not known)" in page  # its instant is missing: said, not invented


def test_a_report_without_compliance_does_not_claim_the_request_never_arrived() -> None:
    shown = visible(page_of(earlier_release("done")))
    assert "never arrived" not in shown
    assert "cancelled first" not in shown


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_with_nothing_at_all_renders_without_dividing_by_zero(status: str) -> None:
    zero_estimate = {
        **ESTIMATE,
        "would_send": 0,
        "segments": 0,
        "cost": {**ESTIMATE["cost"], "total": 0.0, "unpriced": 0, "prices": []},
        "evaluated": 0,
        "segments_histogram": {},
        "deferred": {},
        "samples": [],
    }
    data = copy.deepcopy(EXAMPLE)
    data.update(copy.deepcopy(NOTHING))
    data.update(status=status, estimate=zero_estimate if status == "dry_run" else None)
    page = page_of(data)
    assert not re.search(r'="-?(?:nan|inf)', page, re.IGNORECASE)
    assert "nan %" not in page.lower()
    shown = read(page)
    for path, value in numeric_leaves(data).items():
        assert set(shown.fields.get(path, [])) == {json.dumps(value)}, path


# One French mobile, +33612345678, as people write it.
FORMATS = [
    "06 12 34 56 78",
    "06.12.34.56.78",
    "06-12-34-56-78",
    "+33 (0)6 12 34 56 78",
    "0033 6 12 34 56 78",
    "0033612345678",
    "+33612345678",
    "33612345678",
    "０６１２３４５６７８",  # full-width digits
    "06\u200b12\u200b34\u200b56\u200b78",  # zero-width spaces
    "06\u00a012\u00a034\u00a056\u00a078",  # no-break spaces
    "06 12 34 56 78 ",
]


def digits_shown(text: str) -> str:
    """The page's text with digits in ASCII and the separators people put between them
    dropped, so a number in any of FORMATS reads as its digits."""
    folded = unicodedata.normalize("NFKC", text)
    return re.sub(r"(?<=\d)[\s.\-()\u200b]+(?=\d)", "", folded)


@pytest.mark.parametrize("written", FORMATS)
def test_a_number_in_any_format_is_masked_wherever_a_campaign_quotes_it(written: str) -> None:
    data = copy.deepcopy(EXAMPLE)
    data.update(
        status="refused",
        reason=f"recipients[3]: {written} is not a mobile",
        failures={f"carrier refused {written}": 2},
        compliance={**EXAMPLE["compliance"], "body": f"Rappel au {written} 😀 ce soir"},
        estimate={
            **ESTIMATE,
            "samples": [{"seq": 0, "to": "+33*******78", "segments": 1, "text": written}],
        },
    )
    shown = digits_shown(visible(page_of(data)))
    assert "612345678" not in shown
    assert "36111" in shown  # the stop number, the sender's, stays whole
