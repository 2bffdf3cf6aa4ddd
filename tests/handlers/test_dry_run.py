"""Dry runs (contract §2 ``dry_run``, §6 ``estimate``) through the real campaign and sender
functions: every decision made, no SMS sent, no claim the real send could trip on; the same
campaign id then sent for real."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest

from stopsms import clock
from stopsms.aws import prices
from stopsms.cli import main
from stopsms.dal import contacts
from stopsms.dal.tables import GLOBAL_SCOPE, Delivery, Parked
from stopsms.emulator.template import Stack
from stopsms.reporting import report
from stopsms.rules.prices import default
from stopsms.settings import get_settings
from tests.conftest import emulated_account
from tests.handlers.sms import FakeSms
from tests.handlers.test_campaign import upload
from tests.handlers.test_cancel import PHONES, SUNDAY_10H_PARIS, Campaigns, reconciles
from tests.handlers.test_stop_scope import MONDAY_10H_PARIS

CONSENTED_AT = datetime(2026, 10, 1, tzinfo=UTC)
FR = default().per_part["FR"]  # micros per SMS part
PROMO = "Promo -20% ce week-end !"


@pytest.fixture
def pipe(aws: Stack, fake: FakeSms, monkeypatch: pytest.MonkeyPatch) -> Iterator[Campaigns]:
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    prices.forget()
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        yield Campaigns(aws, fake)
    prices.forget()


def marketing(campaign_id: str, recipients: list[Any], **fields: Any) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "category": "marketing",
        "brand": "acme",
        "body": "Bonjour {prenom}, -20% ce week-end !",
        "recipients": recipients,
        **fields,
    }


def consent(*phones: str) -> None:
    for phone in phones:
        contacts.apply(phone, "acme", "opted_in", CONSENTED_AT, source="web-form")


def records(campaign_id: str) -> list[Delivery]:
    return list(Delivery.query(campaign_id))


def test_a_dry_run_decides_everyone_sends_nothing_and_then_the_real_send_sends_the_same(
    pipe: Campaigns, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given eight rows: four consenting, one opted out, one without consent, one invalid, one
    # duplicate; one consenting person's first name makes a two-part SMS
    a, b, c, d, out, silent = PHONES[:6]
    consent(a, b, c, d, out)
    contacts.apply(out, GLOBAL_SCOPE, "opted_out", CONSENTED_AT + timedelta(days=1), source="reply")
    rows = [
        {"phone": a, "vars": {"prenom": "Léa"}},
        {"phone": b, "vars": {"prenom": "Hugo"}},
        {"phone": c, "vars": {"prenom": "Zoé"}},
        {"phone": d, "vars": {"prenom": "x" * 140}},
        {"phone": out, "vars": {"prenom": "Paul"}},
        {"phone": silent, "vars": {"prenom": "Lina"}},
        {"phone": "06 12", "vars": {"prenom": "Bad"}},
        {"phone": a.replace("+33", "0"), "vars": {"prenom": "Léa"}},
    ]
    request = marketing("soldes-1", rows)
    # When it is published as a dry run
    assert pipe.to_campaign_queue({**request, "dry_run": True}) == []
    pipe.send()
    # Then no SMS left, and nothing under the real claims' keys, nor any number written
    assert pipe.sms.sent == []
    kept = records("soldes-1")
    assert kept
    assert all(item.recipient.startswith("d#") for item in kept)
    assert not any(phone[1:] in item.recipient for item in kept for phone in PHONES)
    # Then the report is the dry run's, reconciled, with its estimate
    shown = report("soldes-1")
    assert (shown["status"], shown["sent"], shown["audience"]) == ("dry_run", 0, 8)
    assert shown["suppressed"] == {
        "opted_out": 1,
        "no_consent": 1,
        "invalid_number": 1,
        "duplicate": 1,
    }
    assert shown["pending"] == 4  # those the real send would send
    assert reconciles(shown)
    estimate = shown["estimate"]
    assert (estimate["would_send"], estimate["segments"], estimate["complete"]) == (4, 5, True)
    assert estimate["segments_histogram"] == {"1": 3, "2": 1}
    assert estimate["cost"]["total"] == pytest.approx(5 * FR / 1_000_000)
    assert estimate["cost"]["unpriced"] == 0
    assert estimate["cost"]["prices"] == [default().source]
    assert estimate["deferred"] == {}
    # The samples are the texts as they would leave, numbers masked
    first = estimate["samples"][0]
    assert first["text"] == "Bonjour Léa, -20% ce week-end ! STOP au 36111"
    assert first["to"].startswith("+33")
    assert "*" in first["to"]
    assert a not in first["to"]
    assert {sample["seq"] for sample in estimate["samples"]} <= {0, 1, 2, 3, 4}
    # When the same campaign id is then sent for real
    assert pipe.to_campaign_queue(request) == []
    pipe.send()
    # Then exactly the four the estimate named receive one SMS each
    assert sorted(pipe.sent_to("soldes-1")) == sorted([a, b, c, d])
    real = report("soldes-1")
    assert (real["status"], real["sent"], real["segments"], real["estimate"]) == (
        "done",
        4,
        5,
        None,
    )
    assert real["suppressed"] == shown["suppressed"]
    assert reconciles(real)


def test_a_dry_run_redelivered_counts_each_recipient_once(pipe: Campaigns) -> None:
    request = {
        "campaign_id": "colis-dry",
        "category": "transactional",
        "body": "Votre colis arrive demain.",
        "recipients": PHONES,
        "dry_run": True,
    }
    # Given the request delivered twice, and the sender's batches replayed
    assert pipe.to_campaign_queue(request) == []
    assert pipe.to_campaign_queue(request) == []
    url = pipe.aws.queues["SendQueue"]
    bodies = []
    while messages := pipe.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        for message in messages:
            bodies.append(message["Body"])
            pipe.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    for body in bodies + bodies:
        pipe.sqs.send_message(QueueUrl=url, MessageBody=body)
    pipe.send()
    # Then each of the 15 is counted once, nothing sent
    estimate = report("colis-dry")["estimate"]
    assert (estimate["would_send"], estimate["complete"]) == (15, True)
    assert report("colis-dry")["suppressed"]["duplicate"] == 0
    assert pipe.sms.sent == []


def test_a_changed_dry_run_starts_afresh_and_a_sent_campaign_cannot_become_one(
    pipe: Campaigns,
) -> None:
    base = {
        "campaign_id": "colis-3",
        "category": "transactional",
        "body": "Votre colis arrive demain.",
        "recipients": PHONES[:5],
        "dry_run": True,
    }
    assert pipe.to_campaign_queue(base) == []
    pipe.send()
    # When the text is fixed and estimated again under the same id
    assert pipe.to_campaign_queue({**base, "body": "Votre colis arrive demain matin !"}) == []
    pipe.send()
    # Then the new run decides everyone again (the first run's records are not duplicates)
    shown = report("colis-3")
    assert shown["estimate"]["would_send"] == 5
    assert shown["estimate"]["samples"][0]["text"] == "Votre colis arrive demain matin !"
    assert shown["suppressed"]["duplicate"] == 0
    # When it is sent for real, then a dry run of another request under its id is refused
    assert pipe.to_campaign_queue({**base, "dry_run": False}) == []
    pipe.send()
    assert len(pipe.sent_to("colis-3")) == 5
    assert pipe.to_campaign_queue({**base, "body": "Autre texte"}) != []
    assert report("colis-3")["status"] == "done"


def test_a_dry_run_outside_the_window_is_not_deferred_and_says_when_they_would_go(
    aws: Stack, fake: FakeSms, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    with mock.patch.object(clock, "now", return_value=SUNDAY_10H_PARIS):
        pipe = Campaigns(aws, fake)
        consent(*PHONES[:3])
        assert (
            pipe.to_campaign_queue(
                {**marketing("dimanche", PHONES[:3], body=PROMO), "dry_run": True}
            )
            == []
        )
        # Sunday: the real campaign would wait for Monday 08:00; its dry run is decided now
        pipe.send()
        shown = report("dimanche")
    assert fake.sent == []
    parked = [item for item in Parked.scan() if item.campaign_id != "dimanche"]
    assert parked == []  # no job parked
    assert report("dimanche")["status"] == "dry_run"  # nor the campaign deferred
    assert shown["status"] == "dry_run"
    estimate = shown["estimate"]
    assert estimate["would_send"] == 3
    assert estimate["deferred"] == {}  # judged when the real campaign would start: Monday


def test_a_dry_run_of_a_per_recipient_window_reports_when_they_would_go(pipe: Campaigns) -> None:
    # A number in Réunion (UTC+4): Monday 10:00 in Paris is 13:00 there, inside; one in
    # French Polynesia (UTC-10) is at 22:00 on Sunday, outside its window
    tahiti = "+68987123456"
    consent(PHONES[0], tahiti)
    assert (
        pipe.to_campaign_queue(
            {**marketing("outremer", [PHONES[0], tahiti], body=PROMO), "dry_run": True}
        )
        == []
    )
    pipe.send()
    estimate = report("outremer")["estimate"]
    assert estimate["would_send"] == 2
    assert list(estimate["deferred"].values()) == [1]
    [when] = estimate["deferred"]
    assert datetime.fromisoformat(when) > MONDAY_10H_PARIS
    assert pipe.sms.sent == []


def test_a_dry_run_of_an_s3_audience_is_sliced_like_a_real_one(
    pipe: Campaigns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOPSMS_FANOUT_SLICE_ROWS", "4")
    get_settings.cache_clear()
    lines = ["phone,prenom"] + [f"{phone},P{n}" for n, phone in enumerate(PHONES)]
    uri = upload("dry/audience.csv", ("\n".join(lines) + "\n").encode())
    request = {
        "campaign_id": "s3-dry",
        "category": "transactional",
        "body": "Bonjour {prenom}",
        "audience": {"s3_uri": uri},
        "dry_run": True,
    }
    assert pipe.to_campaign_queue(request) == []
    pipe.send()
    shown = report("s3-dry")
    assert (shown["audience"], shown["estimate"]["would_send"]) == (15, 15)
    assert shown["estimate"]["complete"]
    assert pipe.sms.sent == []
    # Then sent for real: the 15, once each
    assert pipe.to_campaign_queue({**request, "dry_run": False}) == []
    pipe.send()
    assert sorted(pipe.sent_to("s3-dry")) == sorted(PHONES)


PRICED = {
    "campaign_id": "prix",
    "category": "transactional",
    "body": "Votre colis arrive demain.",
    "recipients": [PHONES[0], "+41791234567", "+8613800138000"],  # FR, CH, CN
    "dry_run": True,
}
CH = default().per_part["CH"]


def priced(pipe: Campaigns, body: str) -> dict[str, Any]:
    assert pipe.to_campaign_queue({**PRICED, "body": body}) == []
    pipe.send()
    return dict(report("prix")["estimate"]["cost"])


def test_the_price_table_parameter_overrides_some_countries(
    pipe: Campaigns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "STOPSMS_PRICE_TABLE", json.dumps({"per_part": {"fr": 0.05}, "source": "contrat 2027"})
    )
    get_settings.cache_clear()
    cost = priced(pipe, "Votre colis arrive demain.")
    assert cost["total"] == pytest.approx((50_000 + CH) / 1_000_000)
    assert cost["unpriced"] == 1  # China is in neither table
    assert cost["prices"][0].startswith("contrat 2027, other countries: StopSMS default table")
    # A broken parameter: the default table, and the report says why (the estimate stands)
    prices.forget()
    monkeypatch.setenv("STOPSMS_PRICE_TABLE", '{"per_part": {"FR": "0,05"}}')
    get_settings.cache_clear()
    cost = priced(pipe, "Autre")
    assert cost["total"] == pytest.approx((FR + CH) / 1_000_000)
    assert "PriceTable not used: the PriceTable parameter: the price of FR" in cost["prices"][0]


@pytest.mark.parametrize("readable", [True, False], ids=["object", "missing-object"])
def test_the_price_table_object_in_s3_is_read_with_the_sender_s_own_role(
    fake: FakeSms, monkeypatch: pytest.MonkeyPatch, readable: bool
) -> None:
    uri = "s3://audiencebucket/tarifs/prices.json"
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    prices.forget()
    # Deployed with PriceTableObject: the sender may read that object (and only that one)
    with (
        emulated_account(PriceTableObject=uri) as aws,
        mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS),
    ):
        if readable:
            table = {"per_part": {"CH": 0.2}, "source": "s3 table", "as_of": "2026-12-01"}
            upload("tarifs/prices.json", json.dumps(table).encode())
        cost = priced(Campaigns(aws, fake), "Votre colis arrive demain.")
    prices.forget()
    if readable:
        assert cost["total"] == pytest.approx((FR + 200_000) / 1_000_000)
        assert cost["prices"][0].startswith("s3 table (as of 2026-12-01)")
    else:
        assert cost["total"] == pytest.approx((FR + CH) / 1_000_000)
        assert f"PriceTable not used: {uri} cannot be read (NoSuchKey)" in cost["prices"][0]


def test_estimate_publishes_a_request_on_disk_and_prints_the_estimate(
    pipe: Campaigns, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "campagne.json"
    file.write_text(
        json.dumps(
            {
                "campaign_id": "fichier-1",
                "category": "transactional",
                "body": "Votre colis arrive demain.",
                "recipients": PHONES[:4],
            }
        )
    )

    def pipeline_runs(seconds: float) -> None:  # while the command waits, Lambda works
        pipe._drain("CampaignQueue", pipe.campaign_fn)
        pipe.send()

    with mock.patch("time.sleep", pipeline_runs):
        assert main(["estimate", str(file), "--every", "0"]) == 0
    out = capsys.readouterr().out
    assert "DRY RUN: nothing was sent" in out
    assert "estimate: would send" in out
    assert "sample #0 to +33" in out
    assert pipe.sms.sent == []
    # A file that is not a request: one line, no traceback, nothing published
    file.write_text('{"campaign_id": "x"')
    assert main(["estimate", str(file)]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    file.write_text(json.dumps({"campaign_id": "x", "category": "promo", "body": "b"}))
    assert main(["estimate", str(file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "category" in err
    assert (
        boto3.client("sqs", region_name="eu-west-3")
        .receive_message(QueueUrl=pipe.aws.queues["CampaignQueue"])
        .get("Messages")
        is None
    )
