"""Inbound replies through the real handler: SNS events in, suppression state and evidence out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
from botocore.stub import Stubber

from stopsms import clock
from stopsms.aws import clients
from stopsms.cli import main
from stopsms.consent import optout_list
from stopsms.dal import campaigns, contacts, deliveries, evidence
from stopsms.dal.tables import GLOBAL_SCOPE, Delivery
from stopsms.emulator.template import Stack
from stopsms.inbound import replies
from stopsms.inbound.answers import confirmation_text, help_text
from stopsms.rules.eligibility import Preference, marketing_block
from stopsms.settings import get_settings
from tests.handlers.conftest import LambdaContext, load_function, sns_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
NUMBER = "36111"  # our short code, owned by acme in these tests
PHONE = "+33612345678"
T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)  # the Timestamp of sns_event() notifications


@dataclass
class Sms:
    """The real pinpoint-sms-voice-v2 client behind a Stubber (parameters are validated against
    the service model) that also records every call made."""

    stubber: Stubber
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def expect_send(self, count: int = 1, **expected: Any) -> None:
        if expected:  # every SMS names the stack's configuration set (contract §5)
            expected.setdefault("ConfigurationSetName", get_settings().configuration_set)
        for n in range(count):
            self.stubber.add_response(
                "send_text_message", {"MessageId": f"answer-{n}"}, expected or None
            )

    def expect_opt_out_mirror(self, number: str) -> None:
        self.stubber.add_response(
            "put_opted_out_number",
            {"OptOutListName": "Default", "OptedOutNumber": number, "EndUserOptedOut": False},
            {"OptOutListName": "Default", "OptedOutNumber": number},
        )

    def sent(self, operation: str = "SendTextMessage") -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


@pytest.fixture
def sms(aws: Stack) -> Iterator[Sms]:
    client = clients.sms()
    stub = Sms(Stubber(client))

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        stub.calls.append((model.name, dict(params)))

    client.meta.events.register("before-parameter-build.pinpoint-sms-voice-v2", record)
    with stub.stubber:
        yield stub
        stub.stubber.assert_no_pending_responses()


@pytest.fixture
def inbound(aws: Stack, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("STOPSMS_INBOUND_BRANDS", f"{NUMBER}=acme,+33700000001=globex")
    get_settings.cache_clear()
    return load_function("inbound")


def reply(
    body: str,
    *,
    phone: str = PHONE,
    message_id: str = "cae173d2-66b9-564c-8309-21f858e9fb84",
    to: str = NUMBER,
    previous: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "originationNumber": phone,
        "destinationNumber": to,
        "messageKeyword": "KEYWORD_123456789012",
        "messageBody": body,
        "inboundMessageId": message_id,
    }
    if previous is not None:
        payload["previousPublishedMessageId"] = previous
    return payload


def at(event: dict[str, Any], when: datetime) -> dict[str, Any]:
    """The same event, published at another instant."""
    for record in event["Records"]:
        record["Sns"]["Timestamp"] = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return event


def state(phone: str, brand: str = "acme") -> tuple[Preference | None, Preference | None]:
    return contacts.lookup([phone], brand)[phone]


OUT = Preference("opted_out", T0)
IN = Preference("opted_in", T0)

# (reply as typed, evidence kind, (brand state, global state) afterwards)
REPLIES: list[tuple[str, str, tuple[Preference | None, Preference | None]]] = [
    # opt-out of the brand of the number replied to
    ("STOP", "opt_out", (OUT, None)),
    ("Stop", "opt_out", (OUT, None)),
    ("stop", "opt_out", (OUT, None)),
    ("Stop merci", "opt_out", (OUT, None)),
    ("STOP 36111", "opt_out", (OUT, None)),
    ("stop svp!!", "opt_out", (OUT, None)),
    ("Stop, je ne veux plus de vos messages", "opt_out", (OUT, None)),
    ("  «STOP»", "opt_out", (OUT, None)),
    ("🛑 stop", "opt_out", (OUT, None)),
    ("STOP SMS", "opt_out", (OUT, None)),
    ("arrêt", "opt_out", (OUT, None)),
    ("ARRÊT", "opt_out", (OUT, None)),
    ("Arret.", "opt_out", (OUT, None)),
    ("Arrêtez !", "opt_out", (OUT, None)),
    ("arrêter svp", "opt_out", (OUT, None)),
    ("Stoppez", "opt_out", (OUT, None)),
    ("Désabonner", "opt_out", (OUT, None)),
    ("désinscription", "opt_out", (OUT, None)),
    ("Désabonnez-moi", "opt_out", (OUT, None)),
    ("unsubscribe", "opt_out", (OUT, None)),
    ("Unsubscribe me please", "opt_out", (OUT, None)),
    ("cancel", "opt_out", (OUT, None)),
    ("END", "opt_out", (OUT, None)),
    ("Quit", "opt_out", (OUT, None)),
    ("remove", "opt_out", (OUT, None)),
    ("OPT-OUT", "opt_out", (OUT, None)),
    ("optout", "opt_out", (OUT, None)),
    ("TD", "opt_out", (OUT, None)),
    ("t.d.", "opt_out", (OUT, None)),
    ("Revoke", "opt_out", (OUT, None)),
    ("ＳＴＯＰ", "opt_out", (OUT, None)),
    # opt-out of every brand
    ("STOPALL", "opt_out", (None, OUT)),
    ("stop all", "opt_out", (None, OUT)),
    ("Stop tout", "opt_out", (None, OUT)),
    ("STOP TOUT svp", "opt_out", (None, OUT)),
    # opt-in
    ("Start", "opt_in", (IN, None)),
    ("START", "opt_in", (IN, None)),
    ("start merci", "opt_in", (IN, None)),
    ("unstop", "opt_in", (IN, None)),
    ("Opt-in", "opt_in", (IN, None)),
    # help
    ("help", "help", (None, None)),
    ("HELP", "help", (None, None)),
    ("Aide", "help", (None, None)),
    ("aide ?", "help", (None, None)),
    ("info", "help", (None, None)),
    ("Infos", "help", (None, None)),
    # anything else: kept for the operator, no effect
    ("weekend", "reply", (None, None)),
    ("standard", "reply", (None, None)),
    ("don't stop", "reply", (None, None)),
    ("please stop", "opt_out", (OUT, None)),
    ("I won't stop buying", "reply", (None, None)),
    ("STOP36111", "opt_out", (OUT, None)),
    ("Merci !", "reply", (None, None)),
    ("Oui", "reply", (None, None)),
    ("yes", "reply", (None, None)),
    ("Bonjour, c'est quoi ce numéro ?", "reply", (None, None)),
    ("😀", "reply", (None, None)),
    ("", "reply", (None, None)),
]


def test_each_reply_has_its_effect_on_suppression_and_evidence(
    inbound: ModuleType, sms: Sms, context: LambdaContext, subtests: pytest.Subtests
) -> None:
    # One emulated account for the whole table (a stack costs a second): one person per reply.
    for n, (body, kind, expected) in enumerate(REPLIES):
        with subtests.test(body=body, kind=kind):
            # Given a person who never wrote before
            phone = f"+3361234{n:04d}"
            message_id = f"in-{n}"
            answers = len(sms.sent())
            if kind in ("opt_out", "help"):
                sms.expect_send()  # the confirmation or the help answer
            # When their reply reaches the handler
            inbound.lambda_handler(
                sns_event([reply(body, phone=phone, message_id=message_id)]), context
            )
            # Then the suppression list and the evidence say what the reply means
            assert state(phone) == expected
            [event] = evidence.history(phone)
            assert event.kind == kind
            assert event.text == body
            assert event.source == "reply"
            assert event.captured_at == T0
            assert event.inbound_message_id == message_id
            assert event.destination_number == NUMBER
            assert event.brand == (GLOBAL_SCOPE if expected[1] else "acme")
            assert len(sms.sent()) - answers == (1 if kind in ("opt_out", "help") else 0)
    assert len(REPLIES) >= 50


def test_stop_removes_the_number_from_later_marketing_and_start_restores_it(
    inbound: ModuleType, sms: Sms, context: LambdaContext
) -> None:
    # Given a number that opted in to acme on a web form
    contacts.apply(PHONE, "acme", "opted_in", T0 - timedelta(days=30), source="web-form")
    assert marketing_block(*state(PHONE), enforce_consent=True) is None
    # When it replies STOP
    sms.expect_send()
    inbound.lambda_handler(sns_event([reply("Stop merci", message_id="m-stop")]), context)
    # Then the next campaign's eligibility check no longer reaches it, whatever the policy
    # (the sender's end-to-end test, written separately, sends through this same check)
    assert marketing_block(*state(PHONE), enforce_consent=True) == "opted_out"
    assert marketing_block(*state(PHONE), enforce_consent=False) == "opted_out"
    # When it replies START later
    later = at(sns_event([reply("Start", message_id="m-start")]), T0 + timedelta(hours=2))
    inbound.lambda_handler(later, context)
    # Then marketing reaches it again, and the history keeps all three events
    assert marketing_block(*state(PHONE), enforce_consent=True) is None
    assert [e.kind for e in evidence.history(PHONE)] == ["opt_out", "opt_in"]
    assert len(sms.sent()) == 1  # START is not answered


def test_stopall_suppresses_every_brand_and_start_reopens_one(
    inbound: ModuleType, sms: Sms, context: LambdaContext
) -> None:
    # Given consent to two brands
    for brand in ("acme", "globex"):
        contacts.apply(PHONE, brand, "opted_in", T0 - timedelta(days=1), source="web-form")
    # When the person replies STOPALL to acme's number
    sms.expect_send(
        DestinationPhoneNumber=PHONE,
        OriginationIdentity=NUMBER,
        MessageBody=confirmation_text(None),
        MessageType="TRANSACTIONAL",
        Context={"inbound_message_id": "m-all", "purpose": "opt_out_confirmation"},
    )
    inbound.lambda_handler(sns_event([reply("STOPALL", message_id="m-all")]), context)
    # Then the global scope holds the opt-out and both brands are blocked
    assert state(PHONE, "globex") == (Preference("opted_in", T0 - timedelta(days=1)), OUT)
    for brand in ("acme", "globex", "never-heard-of"):
        assert marketing_block(*state(PHONE, brand), enforce_consent=False) == "opted_out"
    # When they reply START to globex's number
    later = at(
        sns_event([reply("START", message_id="m-in", to="+33700000001")]),
        T0 + timedelta(minutes=5),
    )
    inbound.lambda_handler(later, context)
    # Then globex may write again, acme still may not
    assert marketing_block(*state(PHONE, "globex"), enforce_consent=True) is None
    assert marketing_block(*state(PHONE, "acme"), enforce_consent=False) == "opted_out"


def test_help_is_answered_exactly_once(
    inbound: ModuleType, sms: Sms, context: LambdaContext
) -> None:
    # Given a HELP reply, which SNS delivers twice
    sms.expect_send(
        DestinationPhoneNumber=PHONE,
        OriginationIdentity=NUMBER,
        MessageBody=help_text("acme", NUMBER),
        MessageType="TRANSACTIONAL",
        Context={"inbound_message_id": "m-help", "purpose": "help"},
    )
    event = sns_event([reply("Aide ?", message_id="m-help")])
    # When both deliveries are handled
    inbound.lambda_handler(event, context)
    inbound.lambda_handler(event, context)
    # Then one answer went out, from the number they wrote to, naming the brand and STOP
    [sent] = sms.sent()
    assert "acme" in sent["MessageBody"]
    assert "STOP au 36111" in sent["MessageBody"]
    assert [e.kind for e in evidence.history(PHONE)] == ["help"]


def campaign_with_delivery(
    campaign_id: str,
    message_id: str,
    phone: str = PHONE,
    brand: str = "acme",
    language: str = "fr",
) -> None:
    request = {"campaign_id": campaign_id, "brand": brand, "language": language}
    campaigns.create(campaign_id, request, "queued")
    Delivery(
        campaign_id,
        deliveries.claim_key(phone),
        seq=0,
        status="sent",
        message_id=message_id,
        updated_at=T0 - timedelta(hours=1),
    ).save()


def opt_outs(campaign_id: str) -> int:
    record = campaigns.get(campaign_id)
    assert record is not None
    return int(record.opt_outs)


def test_duplicated_stop_changes_nothing_the_second_time(
    inbound: ModuleType, sms: Sms, context: LambdaContext
) -> None:
    # Given a campaign whose SMS to the person has MessageId out-1
    campaign_with_delivery("soldes-hiver-2026", "out-1")
    sms.expect_send()
    stop = reply("STOP", message_id="m-dup", previous="out-1")
    # When the STOP is delivered, then redelivered, then published again an hour later
    inbound.lambda_handler(sns_event([stop]), context)
    inbound.lambda_handler(sns_event([stop]), context)
    inbound.lambda_handler(at(sns_event([stop]), T0 + timedelta(hours=1)), context)
    # Then it counted once on the campaign, was confirmed once and recorded once
    assert opt_outs("soldes-hiver-2026") == 1
    assert len(sms.sent()) == 1
    [event] = evidence.history(PHONE)
    assert event.campaign_id == "soldes-hiver-2026"
    assert state(PHONE) == (OUT, None)


def test_a_confirmation_that_fails_never_fails_the_stop(
    inbound: ModuleType, sms: Sms, context: LambdaContext
) -> None:
    # Given a STOP whose confirmation is refused (the account's SMS spend limit is reached)
    campaign_with_delivery("promo", "out-2")
    sms.stubber.add_client_error(
        "send_text_message",
        "ServiceQuotaExceededException",
        http_status_code=402,
        modeled_fields={"Reason": "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"},
    )
    event = sns_event([reply("stop", message_id="m-crash", previous="out-2")])
    # When it is handled
    [outcome] = inbound.lambda_handler(event, context)
    # Then the invocation succeeds (no retry, no InboundDLQ), the opt-out is in force,
    # counted once, and the missing confirmation is reported, not raised
    assert state(PHONE) == (OUT, None)
    assert (outcome["applied"], outcome["confirmed"], outcome["counted"]) == (["acme"], False, True)
    assert opt_outs("promo") == 1
    assert len(evidence.history(PHONE)) == 1


def test_mirrored_opt_out_goes_to_the_aws_list_after_the_confirmation(
    inbound: ModuleType, sms: Sms, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the MirrorOptOuts parameter
    monkeypatch.setenv("STOPSMS_MIRROR_OPT_OUTS", "true")
    get_settings.cache_clear()
    sms.expect_send()
    sms.expect_opt_out_mirror(PHONE)
    # When a STOP for every brand is handled (a brand's own STOP is not copied: the AWS list
    # is not per brand, test_stop_scope shows it)
    event = sns_event([reply("Stop tout", message_id="m-mirror")])
    [outcome] = inbound.lambda_handler(event, context)
    # Then the confirmation went out before the number joined the AWS opt-out list
    assert [name for name, _ in sms.calls] == ["SendTextMessage", "PutOptedOutNumber"]
    assert sms.sent("PutOptedOutNumber") == [{"OptOutListName": "Default", "OptedOutNumber": PHONE}]
    assert outcome["mirrored"] is True


def test_a_mirror_that_fails_is_tried_again_by_the_scheduler_and_never_fails_the_stop(
    inbound: ModuleType, sms: Sms, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given MirrorOptOuts, a spend limit that refuses the confirmation, and an opt-out list
    # that is unavailable at first
    monkeypatch.setenv("STOPSMS_MIRROR_OPT_OUTS", "true")
    get_settings.cache_clear()
    sms.stubber.add_client_error(
        "send_text_message", "ServiceQuotaExceededException", http_status_code=402
    )
    sms.stubber.add_client_error(
        "put_opted_out_number", "InternalServerException", http_status_code=500
    )
    # When a STOP for every brand is handled
    [outcome] = inbound.lambda_handler(sns_event([reply("STOPALL", message_id="m-m2")]), context)
    # Then the invocation succeeds with the opt-out in force, and the copy is parked
    assert state(PHONE) == (None, OUT)
    assert (outcome["confirmed"], outcome["mirrored"]) == (False, False)
    # When the scheduler runs after the retry delay, the copy is made, once
    sms.expect_opt_out_mirror(PHONE)
    scheduler = load_function("scheduler")
    later = datetime.now(UTC) + optout_list.RETRY + timedelta(minutes=1)
    with mock.patch.object(clock, "now", return_value=later):
        assert scheduler.lambda_handler({}, context)["mirrors"] == 1
        assert scheduler.lambda_handler({}, context)["mirrors"] == 0
    # The failed attempt, then the one that worked
    mirrored = {"OptOutListName": "Default", "OptedOutNumber": PHONE}
    assert sms.sent("PutOptedOutNumber") == [mirrored, mirrored]


def test_no_confirmation_when_disabled_or_when_aws_already_opted_the_number_out(
    inbound: ModuleType, sms: Sms, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given AWS refusing to text a number on its own opt-out list
    sms.stubber.add_client_error(
        "send_text_message",
        "ConflictException",
        http_status_code=400,
        modeled_fields={"Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT"},
    )
    # When a STOP arrives, then another number's STOP with confirmations disabled
    inbound.lambda_handler(sns_event([reply("STOP", message_id="m-1")]), context)
    monkeypatch.setenv("STOPSMS_OPT_OUT_CONFIRMATION", "false")
    get_settings.cache_clear()
    inbound.lambda_handler(
        sns_event([reply("STOP", phone="+33698765432", message_id="m-2")]), context
    )
    # Then both opt-outs are in force and no SMS was sent (the refused one is not retried)
    assert state(PHONE) == (OUT, None)
    assert state("+33698765432") == (OUT, None)
    assert len(sms.sent()) == 1


def test_an_older_stop_processed_after_a_newer_start_does_not_suppress(
    inbound: ModuleType, sms: Sms, context: LambdaContext
) -> None:
    # Given a START published at T0 + 1 min, processed first
    start = at(sns_event([reply("START", message_id="m-start")]), T0 + timedelta(minutes=1))
    inbound.lambda_handler(start, context)
    # When the STOP published at T0 is processed afterwards
    inbound.lambda_handler(sns_event([reply("STOP", message_id="m-stop")]), context)
    # Then the latest decision stands, nothing is confirmed, and both are in the history
    assert state(PHONE) == (Preference("opted_in", T0 + timedelta(minutes=1)), None)
    assert [e.kind for e in evidence.history(PHONE)] == ["opt_out", "opt_in"]
    assert sms.sent() == []


def test_malformed_payload_beside_valid_ones(
    inbound: ModuleType, sms: Sms, context: LambdaContext
) -> None:
    # Given one event with two valid replies around three broken payloads
    sms.expect_send()
    event = sns_event(
        [
            reply("STOP", message_id="m-ok-1"),
            "this is not JSON",
            {k: v for k, v in reply("STOP").items() if k != "originationNumber"},
            reply("STOP", phone="12", message_id="m-bad-phone"),
            reply("START", phone="+33698765432", message_id="m-ok-2"),
        ]
    )
    event["Records"].insert(1, {"EventSource": "aws:sns", "Sns": {"MessageId": "no-message"}})
    # When it is handled, it fails so that Lambda retries it and then sends it to the DLQ
    with pytest.raises(replies.RepliesFailed) as failure:
        inbound.lambda_handler(event, context)
    # Then the reason names the field at fault, and the valid replies were applied
    assert "4 of 6 records failed" in str(failure.value)
    assert "Sns.Message: Field required" in str(failure.value)
    assert "originationNumber: Field required" in str(failure.value)
    assert "originationNumber: not a valid phone number" in str(failure.value)
    assert "Invalid JSON" in str(failure.value)
    assert state(PHONE) == (OUT, None)
    assert state("+33698765432") == (IN, None)


def test_retention_keeps_opt_outs_and_expires_the_rest(
    inbound: ModuleType, sms: Sms, context: LambdaContext
) -> None:
    # Given four kinds of replies from one number at four instants
    sms.expect_send(2)
    for minute, (body, message_id) in enumerate(
        [("Bonjour", "r"), ("AIDE", "h"), ("START", "i"), ("STOP", "o")]
    ):
        event = at(sns_event([reply(body, message_id=message_id)]), T0 + timedelta(minutes=minute))
        inbound.lambda_handler(event, context)
    # Then only the opt-out evidence has no expiry
    retention = timedelta(days=get_settings().retention_days)
    expiry = {e.kind: e.expires_at for e in evidence.history(PHONE)}
    assert expiry == {
        "reply": T0 + retention,
        "help": T0 + timedelta(minutes=1) + retention,
        "opt_in": T0 + timedelta(minutes=2) + retention,
        "opt_out": None,
    }


def test_a_stop_to_a_number_nobody_is_known_to_use_stops_every_brand(
    inbound: ModuleType, sms: Sms, context: LambdaContext
) -> None:
    # Given a number neither the deployment nor any campaign names, and no SMS answered
    sms.expect_send(
        OriginationIdentity="+33799999999",
        DestinationPhoneNumber="+33612345678",
        MessageBody=confirmation_text(None),
        MessageType="TRANSACTIONAL",
        Context={"inbound_message_id": "m-x", "purpose": "opt_out_confirmation"},
    )
    # When a STOP arrives there (a national-format origination number is normalised too)
    event = sns_event([reply("stop", phone="06 12 34 56 78", to="+33799999999", message_id="m-x")])
    [outcome] = inbound.lambda_handler(event, context)
    # Then every brand is stopped, and no phantom "default" brand receives anything
    assert (outcome["scopes"], outcome["basis"]) == (["*"], "unknown")
    assert state(PHONE, "acme") == (None, OUT)
    assert [item.scope for item in contacts.state_of(PHONE)] == [GLOBAL_SCOPE]


@pytest.mark.parametrize("name", ["inbound_stop.json", "inbound_help.json"])
def test_sample_events_are_handled(
    inbound: ModuleType, sms: Sms, context: LambdaContext, name: str
) -> None:
    # Given the events shipped for `sam local invoke -e`
    event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    payload = json.loads(event["Records"][0]["Sns"]["Message"])
    sms.expect_send()
    # When handled
    [outcome] = inbound.lambda_handler(event, context)
    # Then they do what their name says
    assert outcome["intent"] == name.removeprefix("inbound_").removesuffix(".json").replace(
        "stop", "opt_out"
    )
    assert evidence.history(payload["originationNumber"])[0].text == payload["messageBody"]


def test_stop_answering_a_campaign_whose_record_is_gone_is_kept_uncounted(
    inbound: ModuleType, sms: Sms, context: LambdaContext
) -> None:
    # Given a delivery whose campaign record expired
    Delivery(
        "purged",
        deliveries.claim_key(PHONE),
        seq=0,
        status="sent",
        message_id="out-9",
        updated_at=T0,
    ).save()
    sms.expect_send()
    # When the person replies STOP to it
    event = sns_event([reply("STOP", message_id="m-purged", previous="out-9")])
    [outcome] = inbound.lambda_handler(event, context)
    # Then the opt-out is in force, its evidence names the campaign, and nothing was counted
    assert state(PHONE) == (OUT, None)
    assert (outcome["campaign_id"], outcome["counted"]) == ("purged", False)
    assert evidence.history(PHONE)[0].campaign_id == "purged"
    assert campaigns.get("purged") is None


def test_an_envelope_sns_would_never_send_is_refused_and_named(
    inbound: ModuleType, sms: Sms, context: LambdaContext
) -> None:
    # Given a STOP in a notification without the fields SNS always writes (topic, URLs, time):
    # it did not come from SNS, so it is refused (SNS's retries then InboundDLQ keep it)
    event = {"Records": [{"Sns": {"MessageId": "n-1", "Message": json.dumps(reply("STOP"))}}]}
    # When handled
    with pytest.raises(replies.RepliesFailed) as failure:
        inbound.lambda_handler(event, context)
    # Then the missing fields are named, nothing is applied and no SMS answers
    for missing in ("EventSource", "Sns.TopicArn", "Sns.UnsubscribeUrl", "Sns.Timestamp"):
        assert f"{missing}: Field required" in str(failure.value)
    assert state(PHONE) == (None, None)
    assert sms.sent() == []


def test_an_event_without_records_is_refused(inbound: ModuleType, context: LambdaContext) -> None:
    with pytest.raises(replies.InvalidReply, match="Records"):
        inbound.lambda_handler({"detail": "not an SNS event"}, context)


def test_a_crash_after_an_opt_in_is_written_is_completed_by_the_retry(
    inbound: ModuleType, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an invocation that dies right after writing the opt-in state
    real_apply = contacts.apply
    crashes = [RuntimeError("Lambda ran out of time")]

    def apply_then_crash(*args: Any, **kwargs: Any) -> None:
        real_apply(*args, **kwargs)
        if crashes:
            raise crashes.pop()

    monkeypatch.setattr(replies.contacts, "apply", apply_then_crash)
    event = sns_event([reply("START", message_id="m-in")])
    with pytest.raises(replies.RepliesFailed):
        inbound.lambda_handler(event, context)
    # When Lambda retries the event
    [outcome] = inbound.lambda_handler(event, context)
    # Then the retry recognises what was done: one evidence, the same state, re-applied so
    # that the follow-ups (the AWS opt-out list) are redone
    assert (outcome["intent"], outcome["scopes"], outcome["applied"]) == (
        "opt_in",
        ["acme"],
        ["acme"],
    )
    assert [e.kind for e in evidence.history(PHONE)] == ["opt_in"]
    assert state(PHONE) == (IN, None)


def test_a_number_phonenumbers_thinks_is_a_landline_is_still_opted_out(
    inbound: ModuleType, sms: Sms, context: LambdaContext
) -> None:
    # Given a STOP from an E.164 number whose range phonenumbers lists as fixed line
    landline = "+33123456789"
    sms.expect_send(
        DestinationPhoneNumber=landline,
        OriginationIdentity=NUMBER,
        MessageBody=confirmation_text("acme"),
        MessageType="TRANSACTIONAL",
        Context={"inbound_message_id": "m-fixed", "purpose": "opt_out_confirmation"},
    )
    # When it is handled
    inbound.lambda_handler(
        sns_event([reply("STOP", phone=landline, message_id="m-fixed")]), context
    )
    # Then the person's wish is honoured all the same
    assert state(landline) == (OUT, None)


def test_a_stop_followed_by_a_long_text_is_applied_and_stored_truncated(
    inbound: ModuleType, sms: Sms, context: LambdaContext
) -> None:
    sms.expect_send()
    body = "STOP " + "x" * 4995
    [outcome] = inbound.lambda_handler(sns_event([reply(body, message_id="m-long")]), context)
    assert outcome["applied"] == ["acme"]
    [kept] = evidence.history(PHONE)
    assert kept.text == body[: replies.MAX_STORED_BODY]
    assert kept.proof["body_chars"] == 5000


def test_replies_that_may_be_opt_outs_wait_for_a_human_who_decides(
    inbound: ModuleType,
    sms: Sms,
    context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given replies with an opt-out word StopSMS cannot safely apply on its own
    sms.expect_send()  # the help answer
    inbound.lambda_handler(
        sns_event(
            [
                reply("Don't stop me now", message_id="r-1"),
                reply("Aide, comment me désabonner ?", phone="+33698765432", message_id="r-2"),
                reply("Merci !", phone="+33611111111", message_id="r-3"),
            ]
        ),
        context,
    )
    capsys.readouterr()  # the handler's metrics
    # When the operator lists them
    assert main(["replies", "--json"]) == 0
    waiting = json.loads(capsys.readouterr().out)
    # Then both are listed, oldest first, with why; the plain thanks is not
    assert [(w["phone"], w["kind"]) for w in waiting] == [
        (PHONE, "reply"),
        ("+33698765432", "help"),
    ]
    assert all(w["reason"] for w in waiting)
    assert state(PHONE) == (None, None)
    # When the operator applies the first as an opt-out and dismisses the second
    assert main(["replies", "--apply", waiting[0]["id"]]) == 0
    assert "opted out of acme" in capsys.readouterr().out
    assert main(["replies", "--dismiss", waiting[1]["id"]]) == 0
    # Then the first person is opted out as of their reply, with the proof; nothing waits
    assert state(PHONE) == (OUT, None)
    assert [e.source for e in evidence.history(PHONE)] == ["reply", "operator-review"]
    assert main(["replies"]) == 0
    assert "no reply is waiting for review" in capsys.readouterr().out
    assert main(["replies", "--apply", waiting[0]["id"]]) == 0
    assert "already reviewed" in capsys.readouterr().out


def test_a_stop_crossed_by_a_later_start_waits_for_review(
    inbound: ModuleType, sms: Sms, context: LambdaContext
) -> None:
    start = at(sns_event([reply("START", message_id="m-start")]), T0 + timedelta(minutes=1))
    inbound.lambda_handler(start, context)
    [outcome] = inbound.lambda_handler(sns_event([reply("STOP", message_id="m-stop")]), context)
    assert outcome["applied"] == []
    assert outcome["review"].startswith("stop not applied")
    [waiting] = list(evidence.to_review())
    assert waiting.kind == "opt_out"
