"""Consent intake through the real handler: SQS batches in, evidence and contact state out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import pytest

from stopsms.aws import clients
from stopsms.cli import main
from stopsms.dal import contacts, evidence
from stopsms.dal.tables import ContactState
from stopsms.emulator.template import Stack
from stopsms.rules.eligibility import Preference, marketing_block
from stopsms.rules.retention import consent_since
from stopsms.settings import get_settings
from tests.handlers.conftest import LambdaContext, failed_ids, load_function, sns_event, sqs_event
from tests.handlers.sms import FakeSms

EVENTS = Path(__file__).resolve().parents[2] / "events"
PHONE = "+33612345678"
# Records may not be captured in the future (contract models): a month ago, to the second.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
SAMPLE_OPT_IN_AT = datetime(2026, 11, 20, 13, 3, tzinfo=UTC)


@pytest.fixture
def consent(aws: Stack) -> ModuleType:
    return load_function("consent")


def record(action: str, captured_at: datetime, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": action,
        "phone": PHONE,
        "brand": "acme",
        "source": "web-form https://acme.example/newsletter",
        "captured_at": captured_at.isoformat(),
        "proof": {"ip": "203.0.113.7", "checkbox_text": "J'accepte les offres Acme par SMS"},
    }
    body.update(overrides)
    return body


def state(phone: str = PHONE, brand: str = "acme") -> Preference | None:
    return contacts.lookup([phone], brand)[phone][0]


def test_opt_in_is_kept_with_its_proof_and_opens_marketing(
    consent: ModuleType, context: LambdaContext
) -> None:
    # Given the sample opt-in record (as `sam local invoke -e` sends it)
    event = json.loads((EVENTS / "consent_opt_in.json").read_text(encoding="utf-8"))
    # When it is handled
    response = consent.lambda_handler(event, context)
    # Then it is evidence with its proof, and the brand may send marketing
    assert failed_ids(response) == []
    [kept] = evidence.history(PHONE)
    assert kept.kind == "opt_in"
    assert kept.source == "web-form https://acme.example/newsletter"
    assert kept.captured_at == SAMPLE_OPT_IN_AT
    assert kept.proof == {
        "ip": "203.0.113.7",
        "checkbox_text": "J'accepte de recevoir les offres Acme par SMS",
    }
    assert state() == Preference("opted_in", SAMPLE_OPT_IN_AT)
    assert marketing_block(state(), None, enforce_consent=True) is None


def test_opt_out_record_in_national_format_suppresses_the_number(
    consent: ModuleType, context: LambdaContext
) -> None:
    # Given the sample opt-out record, whose phone is written "06 12 34 56 78"
    event = json.loads((EVENTS / "consent_opt_out.json").read_text(encoding="utf-8"))
    # When it is handled
    consent.lambda_handler(event, context)
    # Then the E.164 number is suppressed for the brand
    at = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    assert state() == Preference("opted_out", at)
    [kept] = evidence.history(PHONE)
    assert (kept.kind, kept.source) == ("opt_out", "customer-service call #48213")


def test_records_out_of_order_follow_captured_at_and_both_are_kept(
    consent: ModuleType, context: LambdaContext
) -> None:
    # Given an opt-out captured after an opt-in, delivered first
    consent.lambda_handler(sqs_event([record("opt_out", T0 + timedelta(days=2))]), context)
    # When the older opt-in arrives
    response = consent.lambda_handler(sqs_event([record("opt_in", T0)]), context)
    # Then it is not a failure, the state stays opted out, and the history keeps both in order
    assert failed_ids(response) == []
    assert state() == Preference("opted_out", T0 + timedelta(days=2))
    assert [e.kind for e in evidence.history(PHONE)] == ["opt_in", "opt_out"]


def test_a_later_record_never_erases_an_earlier_one(
    consent: ModuleType, context: LambdaContext
) -> None:
    # Given an opt-in, an opt-out and a new opt-in, in order, in one batch
    bodies = [
        record("opt_in", T0),
        record("opt_out", T0 + timedelta(days=1), source="sms STOP"),
        record("opt_in", T0 + timedelta(days=9), source="shop checkout"),
    ]
    # When handled
    consent.lambda_handler(sqs_event(bodies), context)
    # Then the latest decides and the history holds all three with their own sources
    assert state() == Preference("opted_in", T0 + timedelta(days=9))
    assert [(e.kind, e.source) for e in evidence.history(PHONE)] == [
        ("opt_in", "web-form https://acme.example/newsletter"),
        ("opt_out", "sms STOP"),
        ("opt_in", "shop checkout"),
    ]


def test_a_redelivered_record_is_recognised(consent: ModuleType, context: LambdaContext) -> None:
    # Given the same opt-in and opt-out, each delivered twice (key order and spacing differ)
    opt_in = record("opt_in", T0)
    opt_out = record("opt_out", T0 + timedelta(hours=1))
    again = json.dumps(dict(reversed(list(opt_in.items()))), indent=2)
    # When all of them are handled
    response = consent.lambda_handler(sqs_event([opt_in, again, opt_out, opt_out]), context)
    # Then nothing failed, each was stored once and the state is the latest
    assert failed_ids(response) == []
    assert [e.kind for e in evidence.history(PHONE)] == ["opt_in", "opt_out"]
    assert state() == Preference("opted_out", T0 + timedelta(hours=1))


def test_opt_in_and_opt_out_at_the_same_instant_opt_out_wins(
    consent: ModuleType, context: LambdaContext
) -> None:
    consent.lambda_handler(sqs_event([record("opt_out", T0), record("opt_in", T0)]), context)
    assert state() == Preference("opted_out", T0)
    assert len(evidence.history(PHONE)) == 2


def test_malformed_records_fail_alone_with_the_field_named(
    consent: ModuleType, context: LambdaContext, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a batch where valid records surround records breaking the contract
    bodies: list[str | dict[str, Any]] = [
        record("opt_in", T0),
        "{not json",
        {k: v for k, v in record("opt_in", T0).items() if k != "action"},
        record("opt_in", T0, phone="12"),
        record("maybe", T0),
        record("opt_in", datetime.now(UTC) + timedelta(days=2)),
        {**record("opt_in", T0), "captured_at": "2026-11-20T14:03:00"},  # no offset
        record("opt_out", T0, phone="+33698765432"),
    ]
    event = sqs_event(bodies, queue="ConsentQueue")
    ids = [r["messageId"] for r in event["Records"]]
    # When the batch is handled
    response = consent.lambda_handler(event, context)
    # Then exactly the bad ones are reported, and the good ones applied
    assert failed_ids(response) == ids[1:7]
    assert state() == Preference("opted_in", T0)
    assert state("+33698765432") == Preference("opted_out", T0)
    # And every refusal was logged with the field at fault
    refusals = [r for r in caplog.records if r.getMessage() == "Refused a consent record"]
    reasons = [str(r.__dict__["reason"]) for r in refusals]
    assert len(reasons) == 6
    assert reasons[0].startswith("message: Invalid JSON")
    assert reasons[1].startswith("action: Field required")
    assert reasons[2].startswith("phone: Value error, not a valid phone number")
    assert reasons[3].startswith("action: Input should be 'opt_in' or 'opt_out'")
    assert reasons[4].startswith("captured_at: Value error, is in the future")
    assert reasons[5].startswith("captured_at: Input should have timezone info")
    assert all("612345678" not in str(r.__dict__) for r in caplog.records)  # masked


def test_retention_keeps_opt_outs_and_expires_opt_ins(
    consent: ModuleType, context: LambdaContext
) -> None:
    consent.lambda_handler(
        sqs_event([record("opt_in", T0), record("opt_out", T0 + timedelta(days=1))]), context
    )
    retention = timedelta(days=get_settings().retention_days)
    assert {e.kind: e.expires_at for e in evidence.history(PHONE)} == {
        "opt_in": T0 + retention,
        "opt_out": None,
    }


def test_a_batch_of_only_invalid_records_is_item_failures_not_a_function_error(
    consent: ModuleType, context: LambdaContext
) -> None:
    event = sqs_event(["{not json", record("maybe", T0), record("opt_in", T0, phone="12")])
    response = consent.lambda_handler(event, context)
    assert failed_ids(response) == [r["messageId"] for r in event["Records"]]


def test_an_opt_in_stamped_ahead_of_aws_never_outranks_a_stop_received_after_it(
    consent: ModuleType, context: LambdaContext
) -> None:
    # Given an upstream clock 45 minutes fast: an opt-in "captured" in 45 minutes, received now
    now = datetime.now(UTC).replace(microsecond=0)
    consent.lambda_handler(
        sqs_event([record("opt_in", now + timedelta(minutes=45))], queue="ConsentQueue"), context
    )
    # When the person sends STOP, received by AWS five minutes later
    inbound = load_function("inbound")
    reply = {
        "originationNumber": PHONE,
        "destinationNumber": "36111",
        "messageBody": "STOP",
        "inboundMessageId": "in-1",
    }
    event = sns_event([reply])
    event["Records"][0]["Sns"]["Timestamp"] = (now + timedelta(minutes=5)).isoformat()
    with mock.patch.object(clients, "sms", return_value=FakeSms()):
        [outcome] = inbound.lambda_handler(event, context)
    # Then the STOP applies: the opt-in counts from when SQS received it, not its stamp
    assert outcome["applied"] == ["*"]  # nobody printed 36111 here: every brand
    brand, everyone = contacts.lookup([PHONE], "acme")[PHONE]
    assert marketing_block(brand, everyone, enforce_consent=True) == "opted_out"
    # And the evidence keeps both instants
    kept = next(e for e in evidence.history(PHONE) if e.kind == "opt_in")
    assert kept.captured_at == now + timedelta(minutes=45)
    assert kept.received_at is not None
    assert kept.received_at <= now + timedelta(minutes=1)


def test_the_same_record_published_again_later_keeps_the_instant_of_its_proof(
    consent: ModuleType, context: LambdaContext
) -> None:
    # Given an upstream 45 minutes fast that publishes the same opt-in twice, 40 minutes apart
    now = datetime.now(UTC).replace(microsecond=0)
    body = record("opt_in", now + timedelta(minutes=45))
    for sent in (now, now + timedelta(minutes=40)):
        event = sqs_event([body], queue="ConsentQueue")
        event["Records"][0]["attributes"]["SentTimestamp"] = str(int(sent.timestamp() * 1000))
        assert failed_ids(consent.lambda_handler(event, context)) == []
    # Then the state is the instant of the first delivery, the one its proof expires from
    [proof] = evidence.history(PHONE)
    assert proof.expires_at is not None
    assert state() == Preference("opted_in", now)
    assert proof.expires_at == now + timedelta(days=get_settings().retention_days)


def test_a_record_whose_first_evidence_has_no_arrival_time_is_still_bounded_by_this_one(
    consent: ModuleType, context: LambdaContext
) -> None:
    # Given an opt-in stamped 45 minutes ahead, whose evidence was kept before StopSMS recorded
    # arrival times (no received_at), and no state
    now = datetime.now(UTC).replace(microsecond=0)
    body = record("opt_in", now + timedelta(minutes=45))
    event = sqs_event([body], queue="ConsentQueue")
    event["Records"][0]["attributes"]["SentTimestamp"] = str(int(now.timestamp() * 1000))
    assert failed_ids(consent.lambda_handler(event, context)) == []
    [kept] = evidence.history(PHONE)
    kept.received_at = None
    kept.save()
    ContactState(PHONE, "acme").delete()
    # When the record is delivered again
    assert failed_ids(consent.lambda_handler(event, context)) == []
    # Then its state counts from when SQS received this delivery, never from the stamp ahead
    assert state() == Preference("opted_in", now)


@pytest.mark.parametrize(
    ("captured_at", "reason"),
    [
        ("0001-01-01T00:00:00+01:00", "is before 2000: a placeholder, not a real date"),
        (1764410000, "must be an ISO-8601 date-time with an offset, not a number"),
    ],
)
def test_a_placeholder_or_numeric_date_is_refused_with_its_reason(
    consent: ModuleType,
    context: LambdaContext,
    caplog: pytest.LogCaptureFixture,
    captured_at: Any,
    reason: str,
) -> None:
    event = sqs_event([{**record("opt_in", T0), "captured_at": captured_at}])
    assert failed_ids(consent.lambda_handler(event, context)) == [event["Records"][0]["messageId"]]
    [refusal] = [r for r in caplog.records if r.getMessage() == "Refused a consent record"]
    assert reason in refusal.__dict__["reason"]


# --- second adversarial pass: lapsed opt-ins and late opt-outs ---------------------------------

OLD_OPT_OUT = datetime(2021, 6, 1, 8, 0, tzinfo=UTC)
OLD_OPT_IN = datetime(2022, 1, 10, 9, 0, tzinfo=UTC)  # lapsed by now (RetentionDays 1,095)


def _blocked(now: datetime | None = None, *, enforce: bool = False) -> str | None:
    """What the sender decides for acme marketing at ``now`` (ConsentPolicy=record unless
    ``enforce``)."""
    now = now or datetime.now(UTC)
    since = consent_since(now, get_settings().retention_days)
    return marketing_block(state(), None, enforce_consent=enforce, consent_since=since, at=now)


@pytest.mark.parametrize("reordered", [False, True], ids=["in_order", "reordered"])
def test_an_opt_out_learnt_after_a_later_opt_in_is_in_force_once_that_opt_in_lapses(
    consent: ModuleType, context: LambdaContext, reordered: bool
) -> None:
    # Given an opt-out (2021) and the opt-in that replaced it (2022), in either order
    records = [record("opt_out", OLD_OPT_OUT), record("opt_in", OLD_OPT_IN)]
    for body in reversed(records) if reordered else records:
        assert failed_ids(consent.lambda_handler(sqs_event([body]), context)) == []
    # Then the opt-in stands as the latest decision, and having lapsed gives way to the opt-out
    assert state() == Preference("opted_in", OLD_OPT_IN)
    assert _blocked() == "opted_out"


def test_an_imported_opt_out_superseded_by_a_lapsed_opt_in_is_in_force_again(
    consent: ModuleType, context: LambdaContext, tmp_path: Path
) -> None:
    assert (
        failed_ids(consent.lambda_handler(sqs_event([record("opt_in", OLD_OPT_IN)]), context)) == []
    )
    stop_list = tmp_path / "old.csv"
    stop_list.write_text(f"phone,brand,opted_out_at\n{PHONE},acme,{OLD_OPT_OUT.isoformat()}\n")
    assert main(["optouts", "import", str(stop_list), "--source", "previous-provider"]) == 0
    assert [e.kind for e in evidence.history(PHONE)] == ["opt_out", "opt_in"]  # proof kept
    assert _blocked() == "opted_out"


def test_raising_retention_never_relies_on_a_proof_already_expired(
    consent: ModuleType, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an opt-in kept for 365 days, then RetentionDays raised to 1,095
    monkeypatch.setenv("STOPSMS_RETENTION_DAYS", "365")
    get_settings.cache_clear()
    given = datetime.now(UTC).replace(microsecond=0) - timedelta(days=300)
    assert failed_ids(consent.lambda_handler(sqs_event([record("opt_in", given)]), context)) == []
    [proof] = evidence.history(PHONE)
    monkeypatch.setenv("STOPSMS_RETENTION_DAYS", "1095")
    get_settings.cache_clear()
    # Then the consent is relied on until its proof expires, and no longer
    assert _blocked(proof.expires_at - timedelta(days=1), enforce=True) is None
    assert _blocked(proof.expires_at + timedelta(days=1), enforce=True) == "no_consent"


@pytest.mark.parametrize("char", ["\x85", "\x0b", "\u2028"])
def test_a_phone_ending_with_a_control_character_is_refused(
    consent: ModuleType, context: LambdaContext, char: str
) -> None:
    body = record("opt_in", T0, phone=f"{PHONE}{char}")
    assert failed_ids(consent.lambda_handler(sqs_event([body]), context)) != []
    assert contacts.state_of(PHONE) == []
