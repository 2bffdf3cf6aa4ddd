"""The HTML pages as text: every number of the report in its place, every string escaped,
nothing loaded from anywhere, no recipient's number; and the report's ``compliance`` facts."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from stopsms.dal import campaigns
from stopsms.dal.campaigns import CampaignStatus
from stopsms.pages import campaign_page, person_page
from stopsms.reporting import render_table, report
from stopsms.settings import get_settings
from tests.pages.pages_dom import as_number, external, numeric_leaves, read

PARIS = ZoneInfo("Europe/Paris")
AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
RECIPIENT = "+33612345678"

# Contract §6's example, with the compliance facts the report adds.
EXAMPLE: dict[str, Any] = {
    "campaign_id": "soldes-hiver-2026",
    "status": "sending",
    "reason": None,
    "resume_at": None,
    "audience": 1000,
    "sent": 850,
    "failed": 2,
    "pending": 48,
    "cancelled": 0,
    "suppressed": {"opted_out": 50, "no_consent": 50, "invalid_number": 0, "duplicate": 0},
    "failures": {"unconfirmed": 2},
    "opt_outs": 3,
    "segments": 850,
    "delivery": {
        "delivered": 820,
        "undelivered": {"carrier_unreachable": 9, "blocked": 1},
        "awaiting": 20,
        "blocked_or_spam_rate": 0.12,
    },
    "cost": {"currency": "USD", "total": 62.05, "per_delivered": 0.075671},
    "estimate": None,
    "compliance": {
        "category": "marketing",
        "brand": "acme",
        "language": "fr",
        "body": "Bonjour {first_name}, -20% ce week-end chez Acme !",
        "origination_identity": "+33700000001",
        "stop_number": "36111",
        "mention": "STOP au 36111",
        "mention_in_body": False,
        "mention_forms": ["STOP au 36111", "STOP 36111"],
        "max_segments": 2,
        "send_at": None,
        "recorded_at": "2026-12-01T09:00:00+00:00",
        "consent_policy": "enforce",
        "sending_window": "Mon-Sat 08:00-20:00",
        "public_holidays_skipped": True,
        "retention_days": 1095,
    },
}

ESTIMATE: dict[str, Any] = {
    "would_send": 40,
    "segments": 52,
    "cost": {"currency": "USD", "total": 3.64, "unpriced": 1, "prices": ["AWS price list 2026"]},
    "complete": True,
    "evaluated": 100,
    "segments_histogram": {"1": 28, "2": 12},
    "deferred": {"2026-12-02T07:00:00+00:00": 5},
    "samples": [
        {"seq": 0, "to": "+33*******78", "segments": 1, "text": "Bonjour Léa STOP au 36111"},
        {"seq": 3, "to": "+33*******01", "segments": 2, "text": "Bonjour Zoé STOP au 36111"},
    ],
}


def variant(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    data.update(copy.deepcopy(changes))
    return data


ZERO = {"opted_out": 0, "no_consent": 0, "invalid_number": 0, "duplicate": 0}
EMPTY_DELIVERY = {"delivered": 0, "undelivered": {}, "awaiting": 0}
NOTHING = {
    "audience": 0,
    "sent": 0,
    "failed": 0,
    "pending": 0,
    "cancelled": 0,
    "suppressed": ZERO,
    "failures": {},
    "opt_outs": 0,
    "segments": 0,
    "delivery": EMPTY_DELIVERY,
    "cost": {"currency": "USD", "total": 0.0, "per_delivered": None},
}

REPORTS: dict[str, dict[str, Any]] = {
    "sending": variant(),
    "done": variant(status="done", pending=0, sent=898, failed=2),
    "paused": variant(status="paused", paused_at="2026-12-01T13:30:00+00:00"),
    "deferred": variant(
        status="deferred", resume_at="2026-12-02T07:00:00+00:00", **{**NOTHING, "audience": 7}
    ),
    "scheduled": variant(
        status="scheduled", resume_at="2026-12-24T17:00:00+00:00", **{**NOTHING, "audience": 3}
    ),
    "cancelled": variant(status="cancelled", pending=0, cancelled=48),
    "refused": variant(
        status="refused", reason="audience: line 3: a quote never closed", **NOTHING
    ),
    "dry_run": variant(
        status="dry_run",
        **{
            **NOTHING,
            "audience": 100,
            "pending": 40,
            "suppressed": {"opted_out": 30, "no_consent": 20, "invalid_number": 5, "duplicate": 5},
        },
        estimate=ESTIMATE,
    ),
    "empty": variant(status="cancelled", compliance=None, **NOTHING),
}


def page_of(data: dict[str, Any]) -> str:
    return campaign_page(data, tz=PARIS, generated_at=AT)


@pytest.mark.parametrize("name", REPORTS)
def test_every_number_of_the_report_is_in_the_page(name: str) -> None:
    data = REPORTS[name]
    shown = read(page_of(data))
    expected = numeric_leaves(data)
    assert expected  # the comparison below is over something
    for path, value in expected.items():
        assert shown.fields.get(path), f"{path} is not in the page"
        assert set(shown.fields[path]) == {json.dumps(value)}, path
    for path, texts in shown.texts.items():
        for text in texts:  # what a reader sees is the same number (rounded for money)
            assert as_number(text) == pytest.approx(expected[path], abs=0.005), path
    # Nothing in the page claims to be a report field that is not one.
    assert set(shown.fields) - {"status"} <= set(expected)


@pytest.mark.parametrize("name", REPORTS)
def test_every_status_renders_its_badge_banner_and_charts(name: str) -> None:
    data = REPORTS[name]
    page = page_of(data)
    status = data["status"]
    assert f'data-field="status">{status.replace("_", " ")}</span>' in page
    assert '<div class="banner" style="border-color:' in page
    assert f'data-status="{status}"' in page
    assert page.count("<svg") >= 4  # funnel, outcomes, suppressions, delivery
    assert page.startswith("<!DOCTYPE html>")
    assert external(page) == []


def test_derived_numbers_are_computed_from_the_report() -> None:
    shown = read(page_of(REPORTS["sending"]))
    assert shown.derived["eligible"] == ["900"]  # 1000 - (50 + 50 + 0 + 0)
    assert set(shown.derived["suppressed"]) == {"100"}
    assert shown.derived["segments_per_sms"] == ["1.0"]


def test_statuses_say_what_waits_and_until_when_in_local_time() -> None:
    deferred = page_of(REPORTS["deferred"])
    # 07:00 UTC is 08:00 in Paris in December: the window's opening as people read it.
    assert 'resumes <time datetime="2026-12-02T07:00:00+00:00">Wed 02 Dec 2026, 08:00 CET' in (
        deferred
    )
    paused = page_of(REPORTS["paused"])
    assert "Paused since <time" in paused
    assert "14:30 CET" in paused
    assert "python -m stopsms resume soldes-hiver-2026" in paused
    refused = page_of(REPORTS["refused"])
    assert "Refused: audience: line 3: a quote never closed Nothing was sent." in refused
    cancelled = page_of(REPORTS["cancelled"])
    assert 'data-field="cancelled" data-value="48">48</span> recipient(s) were not sent' in (
        cancelled
    )


def test_a_dry_run_shows_its_estimate_samples_and_window() -> None:
    page = page_of(REPORTS["dry_run"])
    assert "Dry run: nothing was sent." in page
    assert "Sent for real" in page  # its zeros in one table, not charts of nothing
    assert 'id="delivery"' not in page
    assert ">Would send</div>" in page
    assert '<span class="sms">Bonjour Zoé STOP au 36111</span>' in page
    assert "+33*******01" in page
    assert 'data-field="estimate.segments_histogram.2"' in page
    assert "Wed 02 Dec 2026, 08:00 CET" in page  # deferred until, local time
    assert "AWS price list 2026" in page
    not_done = variant(
        status="dry_run", estimate={**ESTIMATE, "complete": False, "samples": []}, **NOTHING
    )
    assert "no: still going, report again" in page_of(not_done)


def test_a_campaign_whose_request_never_arrived_has_no_facts_to_show() -> None:
    page = page_of(REPORTS["empty"])
    assert "never arrived" in page
    assert "STOP mention" not in page


def test_compliance_facts_an_auditor_asks_for() -> None:
    page = page_of(REPORTS["sending"])
    facts = re.sub(r"<[^>]+>", "", page.split('id="compliance"')[1])
    assert "STOP mentionSTOP au 36111 appended to every SMS" in facts
    assert "shorter legal form STOP 36111" in facts
    assert "Stop number (replies reach this stack)36111" in facts
    assert "Consent policyenforce: marketing only to numbers with a recorded opt-in" in facts
    assert "an opt-in is relied on for 1,095 days" in facts
    assert "Sending windowMon-Sat 08:00-20:00, in each recipient's own time zone" in facts
    assert "Categorymarketing" in facts
    assert "Brandacme" in facts
    assert "+33700000001" in facts  # the sender's own number is not masked
    transactional = variant(
        compliance={**EXAMPLE["compliance"], "category": "transactional", "mention": None}
    )
    assert read(page_of(transactional)).fields["compliance.retention_days"] == ["1095"]
    exempt = re.sub(r"<[^>]+>", "", page_of(transactional).split('id="compliance"')[1])
    assert "exempt (not marketing)" in exempt
    assert "appended to every SMS" not in exempt
    assert "Consent policyenforce" not in exempt
    assert "Not applied here, the deployment's: consent policy enforce" in exempt
    in_body = variant(
        compliance={**EXAMPLE["compliance"], "mention": None, "mention_in_body": True}
    )
    assert "the body already carries the instruction" in page_of(in_body)


HOSTILE = '<script>alert("x")</script><img src="https://evil.example/p.png">&amp;'


def test_every_string_is_escaped() -> None:
    data = variant(
        campaign_id="c-1",
        status="refused",
        reason=HOSTILE,
        failures={HOSTILE: 2},
        compliance={**EXAMPLE["compliance"], "brand": HOSTILE, "body": HOSTILE},
        estimate={**ESTIMATE, "samples": [{**ESTIMATE["samples"][0], "text": HOSTILE}]},
    )
    data["delivery"]["undelivered"] = {HOSTILE: 9, "blocked": 1}
    page = page_of(data)
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&amp;amp;" in page  # an entity in the data is text, not an entity
    assert external(page) == []  # the URL is text, never an attribute
    # Every field keyed by that text is still read back whole.
    assert read(page).fields[f"failures.{HOSTILE}"] == ["2"]


def test_the_page_loads_nothing_and_forbids_loading() -> None:
    page = page_of(REPORTS["dry_run"])
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "<script" not in page
    assert "<link" not in page
    assert "Content-Security-Policy\" content=\"default-src 'none'" in page
    assert "@media print" in page
    assert "@page" in page


def test_a_full_number_in_free_text_is_masked_but_not_the_senders() -> None:
    data = variant(
        status="refused",
        reason=f"recipients[0]: {RECIPIENT} is not a mobile",
        compliance={
            **EXAMPLE["compliance"],
            "body": f"Appelez le 06 12 34 56 78, ou STOP au 36111 depuis {RECIPIENT}",
        },
        estimate={**ESTIMATE, "samples": [{**ESTIMATE["samples"][0], "text": RECIPIENT}]},
    )
    page = page_of(data)
    assert RECIPIENT not in page
    assert "06 12 34 56 78" not in page
    assert "+33*******78" in page
    assert "********78" in page
    assert "STOP au 36111" in page


def test_render_table_still_reads_a_report_with_compliance() -> None:
    table = render_table(REPORTS["dry_run"])
    assert "DRY RUN: nothing was sent" in table
    assert "compliance" not in table  # the terminal table is unchanged


# --- the person page ---------------------------------------------------------------------------

STATUS: dict[str, Any] = {
    "phone": RECIPIENT,
    "state": [
        {
            "scope": "acme",
            "status": "opted_out",
            "since": "2026-12-01T13:03:00+00:00",
            "source": "sms-reply",
        },
        {
            "scope": "every brand",
            "status": "opted_in",
            "since": "2026-11-20T13:03:00+00:00",
            "source": "web-form",
            "relied_on_until": "2029-11-19T13:03:00+00:00",
        },
    ],
    "history": [
        {
            "at": "2026-11-20T13:03:00+00:00",
            "kind": "opt_in",
            "brand": "acme",
            "source": "web-form https://acme.example/newsletter",
            "text": None,
            "campaign_id": None,
            "inbound_message_id": None,
            "proof": {"ip": "203.0.113.7", "checkbox_text": "J'accepte <les offres>"},
            "expires_at": "2029-11-19T13:03:00+00:00",
            "review": None,
        },
        {
            "at": "2026-12-01T13:03:00+00:00",
            "kind": "opt_out",
            "brand": "acme",
            "source": "sms-reply",
            "text": f"Stop merci, et aussi pour {RECIPIENT}",
            "campaign_id": "soldes-hiver-2026",
            "inbound_message_id": "cae173d2",
            "proof": {"keyword": "STOP", "basis": "campaign", "scopes": ["acme"]},
            "expires_at": None,
            "review": None,
        },
        {
            "at": "2026-12-01T13:05:00+00:00",
            "kind": "reply",
            "brand": "*",
            "source": "sms-reply",
            "text": "<b>non</b>",
            "campaign_id": None,
            "inbound_message_id": "d1",
            "proof": None,
            "expires_at": "2027-12-01T13:05:00+00:00",
            "review": "a negation",
        },
    ],
    "erased": None,
    "delivery_failures": {
        "campaigns": ["a", "b"],
        "last_status": "CARRIER_UNREACHABLE",
        "keeps_failing": False,
        "counted_until": "2026-12-31T00:00:00+00:00",
    },
}


def test_person_page_shows_every_state_and_event_in_local_time() -> None:
    page = person_page(STATUS, generated_at=AT)
    shown = read(page)
    assert page.count(RECIPIENT) == 1  # once, in the heading: the person's own request
    assert f"<h1>{RECIPIENT}</h1>" in page
    assert page.count("<tr data-event=") == len(STATUS["history"])
    assert page.count("<tr data-state=") == len(STATUS["state"])
    # 13:03 UTC is 14:03 in Paris, the number's own zone; the ISO instant stays readable.
    assert '<time datetime="2026-12-01T13:03:00+00:00">Tue 01 Dec 2026, 14:03 CET</time>' in page
    assert "Dates in Europe/Paris" in page
    assert "as long as the opt-out it proves" in page
    assert "waiting for a human: a negation" in page
    assert "&lt;b&gt;non&lt;/b&gt;" in page
    assert "<b>" not in page
    assert "J&#x27;accepte &lt;les offres&gt;" in page
    assert "+33*******78" in page  # the number quoted in a reply is masked
    assert "203.0.113.7" in page  # other digits are the person's data: kept
    assert "soldes-hiver-2026" in page
    assert "CARRIER_UNREACHABLE" in page
    assert external(page) == []
    assert shown.references == []


def test_person_page_of_an_erased_number_and_of_a_number_never_seen() -> None:
    erased = {
        **STATUS,
        "state": [],
        "history": [],
        "delivery_failures": None,
        "erased": {
            "kept_as": "a keyed hash of the number (HMAC-SHA256, the stack's ErasureKey)",
            "state": STATUS["state"][:1],
            "history": STATUS["history"][1:2],
        },
    }
    page = person_page(erased, tz=UTC, generated_at=AT)
    assert "Kept after an erasure" in page
    assert "HMAC-SHA256" in page
    assert "No decision recorded for any brand." in page
    assert page.count("<tr data-event=") == 1
    assert "13:03 UTC" in page
    unknown = {**erased, "erased": {"unknown": "this role may not read the erasure key"}}
    assert "this role may not read the erasure key" in person_page(unknown, generated_at=AT)


# --- the report's compliance facts, from a recorded campaign ------------------------------------


def _request(**fields: Any) -> dict[str, Any]:
    return {
        "campaign_id": "c1",
        "category": "marketing",
        "brand": "acme",
        "language": "fr",
        "body": "Soldes !",
        "recipients": [RECIPIENT],
        **fields,
    }


@pytest.mark.usefixtures("aws")
def test_report_carries_the_compliance_facts_of_the_request_and_deployment() -> None:
    campaigns.create("c1", _request(stop_number="36111", max_segments=2), CampaignStatus.QUEUED)
    facts = report("c1")["compliance"]
    settings = get_settings()
    assert facts == {
        "category": "marketing",
        "brand": "acme",
        "language": "fr",
        "body": "Soldes !",
        "origination_identity": settings.origination_identity or None,
        "stop_number": "36111",
        "mention": "STOP au 36111",
        "mention_in_body": False,
        "mention_forms": ["STOP au 36111", "STOP 36111"],
        "max_segments": 2,
        "send_at": None,
        "recorded_at": facts["recorded_at"],
        "consent_policy": settings.consent_policy,
        "sending_window": "Mon-Sat 08:00-20:00",
        "public_holidays_skipped": True,
        "holidays_country": settings.holidays_country,
        "retention_days": settings.retention_days,
        "policy_recorded": False,  # created here, not by the campaign function
    }
    assert datetime.fromisoformat(facts["recorded_at"]).tzinfo is not None
    assert RECIPIENT not in json.dumps(facts)  # never a recipient


@pytest.mark.usefixtures("aws")
def test_compliance_when_the_body_has_the_mention_when_exempt_and_when_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STOPSMS_CONSENT_POLICY", "record")
    monkeypatch.setenv("STOPSMS_SENDING_WINDOW", "mon-fri 09:00-18:00 no-holidays")
    get_settings.cache_clear()
    campaigns.create("c1", _request(body="Soldes ! STOP au 36111"), CampaignStatus.QUEUED)
    campaigns.create(
        "c2", _request(campaign_id="c2", category="transactional"), CampaignStatus.QUEUED
    )
    campaigns.create("c3", _request(stop_number="call-us"), CampaignStatus.REFUSED, reason="no")
    campaigns.create("c4", None, CampaignStatus.CANCELLED)  # type: ignore[arg-type]
    inside = report("c1")["compliance"]
    # No stop_number in the request: the deployment's, as the fan-out fills it in.
    assert inside["stop_number"] == get_settings().stop_number == "36111"
    assert (inside["mention"], inside["mention_in_body"]) == (None, True)
    assert inside["consent_policy"] == "record"
    assert inside["sending_window"] == "Mon-Fri 09:00-18:00 no-holidays"
    assert inside["public_holidays_skipped"] is False
    exempt = report("c2")["compliance"]
    assert (exempt["category"], exempt["stop_number"], exempt["mention"]) == (
        "transactional",
        None,
        None,
    )
    assert exempt["mention_forms"] == []
    refused = report("c3")["compliance"]  # a number no mention can be made of
    assert (refused["mention"], refused["mention_forms"]) == (None, [])
    assert report("c4")["compliance"] is None
