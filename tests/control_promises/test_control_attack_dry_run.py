"""Dry runs (contract §2 "Dry run", §6 ``estimate``) attacked: odd ``dry_run`` values,
races between dry runs, pause and cancel of a dry run, the window and ``send_at``, S3 slices,
and no phone number in what a dry run stores or logs."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest

from stopsms import clock
from stopsms.dal import contacts
from stopsms.dal.tables import Delivery, Parked
from stopsms.reporting import report
from stopsms.settings import get_settings
from tests.control_promises.conftest import (
    PHONES,
    Ctl,
    consent,
    parked,
    reconciles,
    request,
)
from tests.handlers.conftest import sqs_record
from tests.handlers.test_campaign import upload
from tests.handlers.test_cancel import SUNDAY_10H_PARIS
from tests.handlers.test_stop_scope import MONDAY_10H_PARIS


def digits(phone: str) -> str:
    return phone.lstrip("+")[-9:]  # the national significant number


def test_dry_run_truthy_spellings_never_send(ctl: Ctl) -> None:
    for n, value in enumerate(["true", "True", 1, "1", "yes", "on"]):
        cid = f"truthy-{n}"
        assert ctl.message({**request(cid), "dry_run": value}) == []
        ctl.run_all()
        assert report(cid)["status"] == "dry_run", value
    assert ctl.sms.sent == []


@pytest.mark.parametrize("value", [None, "maybe", 2, [True], {"on": True}, "tru e"])
def test_dry_run_values_that_are_not_booleans_are_refused_not_sent(ctl: Ctl, value: Any) -> None:
    assert len(ctl.message({**request("odd-dry"), "dry_run": value})) == 1
    ctl.run_all()
    assert ctl.sms.sent == []


def test_a_paused_dry_run_reconciles_and_completes_on_resume(ctl: Ctl) -> None:
    assert ctl.message({**request("dry-pause"), "dry_run": True}) == []
    jobs = ctl.jobs()
    assert ctl.feed(jobs[:5]) == []
    assert ctl.control("pause", "dry-pause") == []
    assert ctl.feed(jobs[5:]) == []
    shown = report("dry-pause")
    assert reconciles(shown)
    assert shown["estimate"]["would_send"] == 5
    assert not shown["estimate"]["complete"]
    assert len(parked("dry-pause")) == 10
    assert ctl.control("resume", "dry-pause") == []
    ctl.run_all()
    shown = report("dry-pause")
    assert reconciles(shown)
    assert (shown["status"], shown["sent"]) == ("dry_run", 0)
    assert (shown["estimate"]["would_send"], shown["estimate"]["complete"]) == (15, True)
    assert ctl.sms.sent == []


def test_a_cancelled_dry_run_is_never_sent_for_real(ctl: Ctl) -> None:
    assert ctl.message({**request("dry-cancel"), "dry_run": True}) == []
    jobs = ctl.jobs()
    assert ctl.feed(jobs[:4]) == []
    assert ctl.control("cancel", "dry-cancel") == []
    assert ctl.feed(jobs[4:]) == []
    shown = report("dry-cancel")
    assert shown["status"] == "cancelled"
    assert reconciles(shown)
    assert len(ctl.message(request("dry-cancel"))) == 1  # the real send is refused
    ctl.run_all()
    assert ctl.sms.sent == []


# Broke before this pass (fixed): a changed dry run re-estimates afresh: a redelivery (at least
# once) of the first dry run after the second one was recorded counts as a changed request
# (fanout.service._replaceable) and replaces the newer estimate with the older one
def test_the_last_published_dry_run_is_the_one_reported_even_if_sqs_redelivers_the_first(
    ctl: Ctl,
) -> None:
    # Two dry runs of the same id: the text fixed, then SQS delivers the first one again
    first = {**request("two-dry", body="Premier texte"), "dry_run": True}
    second = {**first, "body": "Second texte"}
    published = sqs_record(first, "CampaignQueue")
    assert ctl.deliver(published) == []
    ctl.run_all()
    assert ctl.message(second) == []
    ctl.run_all()
    assert report("two-dry")["estimate"]["samples"][0]["text"] == "Second texte"
    ctl.deliver(published)  # a redelivery of the first publication (at least once)
    ctl.run_all()
    assert report("two-dry")["estimate"]["samples"][0]["text"] == "Second texte"


def test_two_dry_runs_interleaved_on_the_send_queue_report_only_the_last(ctl: Ctl) -> None:
    first = {**request("inter-dry", body="Premier texte"), "dry_run": True}
    second = {**first, "body": "Second texte", "recipients": PHONES[:10]}
    assert ctl.message(first) == []
    first_jobs = ctl.jobs()
    assert ctl.message(second) == []
    second_jobs = ctl.jobs()
    assert ctl.feed(second_jobs[:5]) == []
    assert ctl.feed(first_jobs) == []
    shown = report("inter-dry")
    assert (shown["audience"], shown["estimate"]["would_send"]) == (10, 5)
    assert not shown["estimate"]["complete"]
    assert reconciles(shown)
    assert ctl.feed(second_jobs[5:]) == []
    assert ctl.feed(first_jobs) == []
    shown = report("inter-dry")
    assert (shown["estimate"]["would_send"], shown["estimate"]["complete"]) == (10, True)
    assert shown["suppressed"]["duplicate"] == 0
    assert {s["text"] for s in shown["estimate"]["samples"]} == {"Second texte"}
    assert reconciles(shown)
    assert ctl.sms.sent == []


def test_a_sunday_marketing_dry_run_with_send_at_judges_consent_when_it_would_start(
    aws: Any, fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    wednesday = MONDAY_10H_PARIS + timedelta(days=2)  # 11:00 in Paris
    # One consent lapses on Tuesday (given 1,095 days before), one holds
    lapsing, holding = PHONES[:2]
    with mock.patch.object(clock, "now", return_value=SUNDAY_10H_PARIS):
        ctl = Ctl(aws, fake)
        contacts.apply(
            lapsing, "acme", "opted_in", wednesday - timedelta(days=1095, hours=20), source="web"
        )
        consent("acme", holding)
        body = request(
            "sunday-dry",
            category="marketing",
            brand="acme",
            body="Promo",
            recipients=[lapsing, holding],
            send_at=wednesday.isoformat(),
        )
        assert ctl.message({**body, "dry_run": True}) == []
        ctl.run_all()
        shown = report("sunday-dry")
        assert shown["status"] == "dry_run"
        assert shown["estimate"]["would_send"] == 1
        assert shown["suppressed"]["no_consent"] == 1
        assert shown["estimate"]["deferred"] == {}
        assert reconciles(shown)
        # The real send, published on Sunday, goes on Wednesday to the same one
        assert ctl.message(body) == []
        ctl.run_all()
        assert report("sunday-dry")["status"] == "scheduled"
    with mock.patch.object(clock, "now", return_value=wednesday + timedelta(minutes=1)):
        ctl.sweep()
        ctl.run_all()
    assert ctl.sent_to("sunday-dry") == [holding]
    assert len(fake.sent) == 1


def test_a_dry_run_of_an_s3_audience_in_one_row_slices_paused_and_resumed(
    ctl: Ctl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOPSMS_FANOUT_SLICE_ROWS", "1")
    get_settings.cache_clear()
    lines = ["phone", *PHONES, PHONES[0]]
    uri = upload("attack/dry.csv", ("\n".join(lines) + "\n").encode())
    body = request("s3-dry-pause", audience={"s3_uri": uri}, dry_run=True)
    del body["recipients"]
    assert ctl.message(body) == []
    for step in range(8):
        for message in ctl.take("CampaignQueue"):
            assert ctl.message(message) == []
        ctl.feed(ctl.jobs())
        assert reconciles(report("s3-dry-pause"))
        if step == 4:
            assert ctl.control("pause", "s3-dry-pause") == []
    assert not report("s3-dry-pause")["estimate"]["complete"]
    assert ctl.control("resume", "s3-dry-pause") == []
    ctl.run_all(rounds=40)
    shown = report("s3-dry-pause")
    assert (shown["audience"], shown["estimate"]["would_send"]) == (16, 15)
    assert shown["suppressed"]["duplicate"] == 1
    assert shown["estimate"]["complete"]
    assert reconciles(shown)
    assert ctl.sms.sent == []
    # Then for real: the 15, once each
    real = {**body, "dry_run": False}
    assert ctl.message(real) == []
    ctl.run_all(rounds=40)
    assert sorted(ctl.sent_to("s3-dry-pause")) == sorted(PHONES)


def test_no_phone_number_in_the_dry_runs_delivery_records_nor_its_logs(
    ctl: Ctl, capsys: pytest.CaptureFixture[str]
) -> None:
    consent("acme", *PHONES[:8])
    rows: list[Any] = [{"phone": p, "vars": {"n": p[-4:]}} for p in PHONES[:10]]
    rows += ["06 12", PHONES[0], {"phone": PHONES[11], "vars": {}}]
    body = request("dry-pii", category="marketing", brand="acme", body="Code {n}", recipients=rows)
    capsys.readouterr()
    assert ctl.message({**body, "dry_run": True}) == []
    ctl.run_all()
    out = capsys.readouterr()
    logged = out.out + out.err
    for phone in PHONES[:12]:
        assert digits(phone) not in logged, phone
    for item in Delivery.query("dry-pii"):
        text = json.dumps(
            item.to_simple_dict()
            if hasattr(item, "to_simple_dict")
            else {k: str(v) for k, v in item.attribute_values.items()}
        )
        for phone in PHONES[:12]:
            assert digits(phone) not in text.replace(str(item.text or ""), ""), (phone, text)
        if item.masked:
            assert re.fullmatch(r"\+33\*+\d\d", str(item.masked))
    shown = report("dry-pii")
    assert reconciles(shown)
    assert all(digits(p) not in json.dumps(shown) for p in PHONES[:12])


def test_a_paused_dry_run_replaced_leaves_nothing_parked_once_resumed(ctl: Ctl) -> None:
    # A dry run paused, its jobs parked, then replaced by a changed dry run: the pause holds
    # the new run too (its operator has not lifted it); the resume releases both runs' jobs,
    # the first run's are dropped (that run is over), nothing stays parked with a number
    first = {**request("dry-orphan", body="Premier"), "dry_run": True}
    assert ctl.message(first) == []
    assert ctl.control("pause", "dry-orphan") == []
    ctl.run_all()
    assert ctl.message({**first, "body": "Second"}) == []
    ctl.run_all()
    assert report("dry-orphan")["status"] == "dry_run"
    assert report("dry-orphan")["paused_at"] is not None
    assert ctl.control("resume", "dry-orphan") == []
    ctl.run_all()
    shown = report("dry-orphan")
    assert shown["estimate"]["complete"]
    assert {sample["text"] for sample in shown["estimate"]["samples"]} == {"Second"}
    assert reconciles(shown)
    left = [
        item
        for item in Parked.scan()
        if "#" in str(item.campaign_id)  # parked work, not a campaign item
        and any(digits(p) in json.dumps(item.request) for p in PHONES)
    ]
    assert left == [], f"{len(left)} parked items of a finished dry run keep a phone number"
    assert ctl.sms.sent == []


def test_report_estimate_shape_on_an_empty_would_send(ctl: Ctl) -> None:
    # Every recipient suppressed: the estimate is still complete, zero, reconciled
    body = request(
        "dry-none", category="marketing", brand="acme", body="Promo", recipients=PHONES[:3]
    )
    assert ctl.message({**body, "dry_run": True}) == []
    ctl.run_all()
    shown = report("dry-none")
    estimate = shown["estimate"]
    assert (estimate["would_send"], estimate["segments"], estimate["complete"]) == (0, 0, True)
    assert estimate["cost"]["total"] == 0
    assert set(estimate) >= {
        "would_send",
        "segments",
        "cost",
        "complete",
        "evaluated",
        "segments_histogram",
        "deferred",
        "samples",
    }
    assert shown["suppressed"]["no_consent"] == 3
    assert reconciles(shown)
