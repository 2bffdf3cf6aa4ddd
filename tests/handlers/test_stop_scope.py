"""A STOP stops the sender that wrote (contract §4), through the real handlers end to end.

Each test publishes campaigns to the campaign function, feeds the jobs it queued to the
sender, answers with the SNS two-way payload AWS would publish (``previousPublishedMessageId``
set to the SMS received, or not), and publishes the next campaigns: what reaches the phone
afterwards is the proof.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from unittest import mock

import boto3
import pytest

from stopsms import clock
from stopsms.aws import clients
from stopsms.consent import optout_list
from stopsms.dal import campaigns, contacts, evidence
from stopsms.dal.tables import GLOBAL_SCOPE
from stopsms.emulator.template import Stack
from stopsms.inbound import replies
from stopsms.inbound.answers import confirmation_text, help_text
from stopsms.reporting import report
from stopsms.sending import service as sending
from stopsms.settings import get_settings
from tests.handlers.conftest import LambdaContext, failed_ids, load_function, sns_event, sqs_record
from tests.handlers.sms import FakeSms

MONDAY_10H_PARIS = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CONSENTED_AT = datetime(2026, 10, 1, tzinfo=UTC)
PHONE = "+33612345678"
OTHER = "+33698765432"


class Pipeline:
    """The campaign, sender and inbound functions of one emulated account, wired as Lambda
    wires them, with the SMS endpoint faked."""

    def __init__(self, aws: Stack, sms: FakeSms) -> None:
        self.aws = aws
        self.sms = sms
        self.campaign_fn = load_function("campaign")
        self.sender_fn = load_function("sender")
        self.inbound_fn = load_function("inbound")
        self.sqs = boto3.client("sqs", region_name="eu-west-3")
        self.replies = 0

    def publish(self, **fields: Any) -> list[str]:
        """Publish a campaign request and send it through; the failed message ids."""
        body = {
            "category": "marketing",
            "body": "Promo -20% ce week-end !",
            "recipients": [PHONE],
            **fields,
        }
        failed = failed_ids(
            self.campaign_fn.lambda_handler(
                {"Records": [sqs_record(body, "CampaignQueue")]}, LambdaContext()
            )
        )
        self._drain("CampaignQueue", self.campaign_fn)
        self._drain("SendQueue", self.sender_fn)
        return failed

    def reply(
        self,
        text: str,
        *,
        previous: str | None = None,
        to: str = "36111",
        at: datetime | None = None,
        inbound_id: str | None = None,
    ) -> Any:
        """The person answers; AWS publishes the reply at ``at`` (by default a minute after the
        one before) as ``inbound_id`` (by default a new one)."""
        self.replies += 1
        payload: dict[str, Any] = {
            "originationNumber": PHONE,
            "destinationNumber": to,
            "messageKeyword": "KEYWORD_123456789012",
            "messageBody": text,
            "inboundMessageId": inbound_id or f"in-{self.replies}",
        }
        if previous is not None:
            payload["previousPublishedMessageId"] = previous
        event = sns_event([payload])
        at = at or MONDAY_10H_PARIS + timedelta(minutes=self.replies)
        event["Records"][0]["Sns"]["Timestamp"] = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        [outcome] = self.inbound_fn.lambda_handler(event, LambdaContext())
        return outcome

    def received(self, campaign_id: str) -> list[dict[str, Any]]:
        """What the phone received from a campaign."""
        return [
            m
            for m in self.sms.to(PHONE)
            if m["MessageType"] == "PROMOTIONAL" and m["Context"]["campaign_id"] == campaign_id
        ]

    def answers(self) -> list[str]:
        return [m["MessageBody"] for m in self.answer_messages()]

    def answer_messages(self) -> list[dict[str, Any]]:
        """Our automatic answers (confirmations, HELP) as sent, with their MessageId."""
        return [m for m in self.sms.to(PHONE) if m["MessageType"] == "TRANSACTIONAL"]

    def _drain(self, queue: str, function: ModuleType) -> None:
        url = self.aws.queues[queue]
        while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            records = []
            for message in messages:
                record = sqs_record(message["Body"], queue)
                record["messageId"] = message["MessageId"]
                records.append(record)
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            assert failed_ids(function.lambda_handler({"Records": records}, LambdaContext())) == []


@pytest.fixture
def sms() -> Iterator[FakeSms]:
    fake = FakeSms()
    with mock.patch.object(clients, "sms", return_value=fake):
        yield fake


@pytest.fixture
def pipeline(aws: Stack, sms: FakeSms, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    # The template's defaults: no InboundBrands, StopNumber 36111, consent enforced.
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    with (
        mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS),
    ):
        yield Pipeline(aws, sms)


def consent(brand: str, phone: str = PHONE) -> None:
    contacts.apply(phone, brand, "opted_in", CONSENTED_AT, source="web-form")


def brands_opted_out(phone: str = PHONE) -> set[str]:
    return {s.scope for s in contacts.state_of(phone) if s.status == "opted_out"}


def test_with_the_template_defaults_a_stop_stops_the_brand_that_wrote(
    pipeline: Pipeline,
) -> None:
    # Given a person who opted in to acme and received an acme campaign
    consent("acme")
    assert pipeline.publish(campaign_id="acme-1", brand="acme") == []
    [sms] = pipeline.received("acme-1")
    assert sms["MessageBody"].endswith("STOP au 36111")
    # When they reply STOP to 36111, answering that SMS
    outcome = pipeline.reply("STOP", previous=sms["MessageId"])
    # Then acme is stopped (no phantom "default" brand), the confirmation names acme
    assert (outcome["scopes"], outcome["basis"]) == (["acme"], "campaign")
    assert brands_opted_out() == {"acme"}
    assert pipeline.answers() == [confirmation_text("acme")]
    assert report("acme-1")["opt_outs"] == 1
    # And the next acme campaign does not reach them
    pipeline.publish(campaign_id="acme-2", brand="acme")
    assert pipeline.received("acme-2") == []
    assert report("acme-2")["suppressed"]["opted_out"] == 1


def test_a_stop_answering_globex_stops_globex_even_where_the_number_is_mapped_to_acme(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given InboundBrands=36111=acme, and a globex campaign printing "STOP au 36111"
    monkeypatch.setenv("STOPSMS_INBOUND_BRANDS", "36111=acme")
    get_settings.cache_clear()
    consent("acme")
    consent("globex")
    pipeline.publish(campaign_id="globex-1", brand="globex")
    [sms] = pipeline.received("globex-1")
    # When the person answers that SMS with STOP
    pipeline.reply("Stop merci", previous=sms["MessageId"])
    # Then globex stops writing, acme still may
    assert brands_opted_out() == {"globex"}
    assert pipeline.answers() == [confirmation_text("globex")]
    pipeline.publish(campaign_id="globex-2", brand="globex")
    pipeline.publish(campaign_id="acme-1", brand="acme")
    assert pipeline.received("globex-2") == []
    assert len(pipeline.received("acme-1")) == 1


def test_an_unattributed_stop_stops_every_brand_that_printed_the_number_and_no_other(
    pipeline: Pipeline,
) -> None:
    # Given acme and globex printed 36111, initech sent from it; umbrella used another number
    for brand in ("acme", "globex", "initech"):
        consent(brand)
    pipeline.publish(campaign_id="acme-1", brand="acme")
    pipeline.publish(campaign_id="globex-1", brand="globex")
    pipeline.publish(campaign_id="initech-1", brand="initech", category="transactional")
    pipeline.publish(campaign_id="umbrella-1", brand="umbrella", stop_number="38000")
    # When a STOP arrives that answers none of our SMS
    outcome = pipeline.reply("STOP")
    # Then both brands of the number are stopped, and the confirmation names none of them.
    # (initech's transactional campaign went out from the default number too: it printed
    # no mention, but its recipients may answer 36111 all the same, so it is one of them.)
    assert outcome["basis"] == "stop_number"
    assert brands_opted_out() == {"acme", "globex", "initech"}
    assert pipeline.answers()[-1] == confirmation_text(None)
    # One proof per brand stopped, each the evidence its state points to
    proofs = {e.brand: e.event_key for e in evidence.history(PHONE) if e.kind == "opt_out"}
    states = {s.scope: s.evidence_key for s in contacts.state_of(PHONE) if s.status == "opted_out"}
    assert proofs == states


def test_a_transactional_campaign_from_the_default_number_counts_as_using_it(
    pipeline: Pipeline,
) -> None:
    # Given only a transactional campaign of initech went out (the default StopNumber)
    pipeline.publish(campaign_id="otp-1", brand="initech", category="transactional")
    # When a STOP that answers nothing arrives at 36111
    pipeline.reply("STOP")
    # Then initech is stopped, and not every brand
    assert brands_opted_out() == {"initech"}


def test_an_english_campaign_is_answered_in_english(pipeline: Pipeline) -> None:
    consent("acme")
    pipeline.publish(campaign_id="acme-en", brand="acme", language="en")
    [sms] = pipeline.received("acme-en")
    assert sms["MessageBody"].endswith("Reply STOP to 36111 to opt out")
    pipeline.reply("HELP", previous=sms["MessageId"])
    pipeline.reply("STOP", previous=sms["MessageId"])
    assert pipeline.answers() == [help_text("acme", "36111", "en"), confirmation_text("acme", "en")]


def test_help_to_a_number_several_brands_use_names_none(pipeline: Pipeline) -> None:
    consent("acme")
    consent("globex")
    pipeline.publish(campaign_id="acme-1", brand="acme")
    pipeline.publish(campaign_id="globex-1", brand="globex")
    pipeline.reply("Aide ?")
    assert pipeline.answers() == [help_text(None, "36111")]


def test_brands_are_one_whatever_their_case(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ConsentPolicy=record and an opt-out recorded for "acme" through the consent queue
    monkeypatch.setenv("STOPSMS_CONSENT_POLICY", "record")
    get_settings.cache_clear()
    consent_fn = load_function("consent")
    record = {
        "action": "opt_out",
        "phone": PHONE,
        "brand": "acme",
        "source": "customer-service",
        "captured_at": CONSENTED_AT.isoformat(),
    }
    consent_fn.lambda_handler({"Records": [sqs_record(record, "ConsentQueue")]}, LambdaContext())
    # When "Acme" and "ACME " publish campaigns
    pipeline.publish(campaign_id="acme-1", brand="Acme")
    pipeline.publish(campaign_id="acme-2", brand="ACME ")
    # Then neither reaches the number, and the campaigns are recorded under one brand
    assert pipeline.received("acme-1") == pipeline.received("acme-2") == []
    stored = campaigns.get("acme-1")
    assert stored is not None
    assert stored.request["brand"] == "acme"


def test_a_campaign_whose_stop_number_does_not_reach_this_stack_is_refused(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    consent("acme")
    # Given a stop number that is neither StopNumber nor in InboundBrands
    failed = pipeline.publish(campaign_id="elsewhere", brand="acme", stop_number="38000")
    # Then the request is refused (it ends in the DLQ) with a reason that says so
    assert len(failed) == 1
    assert campaigns.get("elsewhere") is None
    assert pipeline.sms.sent == []
    (refusal,) = [r for r in caplog.records if r.getMessage() == "campaign refused"]
    assert "replies to 38000 do not reach this stack" in refusal.__dict__["reason"]
    # When the deployment routes 38000's replies here, the same campaign is accepted
    monkeypatch.setenv("STOPSMS_INBOUND_BRANDS", "38 000=Acme")
    get_settings.cache_clear()
    assert pipeline.publish(campaign_id="elsewhere", brand="acme", stop_number="38000") == []
    assert len(pipeline.received("elsewhere")) == 1


def test_a_stop_to_a_number_nobody_used_stops_every_brand_and_never_a_phantom(
    pipeline: Pipeline,
) -> None:
    consent("acme")
    pipeline.reply("STOP", to="+33700000009")
    assert brands_opted_out() == {GLOBAL_SCOPE}
    pipeline.publish(campaign_id="acme-1", brand="acme")
    assert pipeline.received("acme-1") == []


def test_a_start_nobody_can_attribute_never_reopens_a_brand(pipeline: Pipeline) -> None:
    # Given acme's own opt-out, then a START sent to a number nobody is known to use
    consent("acme")
    contacts.apply(PHONE, "acme", "opted_out", CONSENTED_AT + timedelta(days=1), source="x")
    pipeline.reply("START", to="+33700000009")
    # Then acme still may not write: an opt-in for every brand only lifts a STOPALL
    pipeline.publish(campaign_id="acme-1", brand="acme")
    assert pipeline.received("acme-1") == []


def test_a_campaign_sent_from_a_long_number_makes_its_brand_one_of_that_number(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a transactional campaign of initech sent from +33700000001 (its own long number)
    monkeypatch.setenv("STOPSMS_INBOUND_BRANDS", "+33700000001=globex")
    get_settings.cache_clear()
    pipeline.publish(
        campaign_id="otp-1",
        brand="initech",
        category="transactional",
        origination_identity="+33700000001",
    )
    # When a STOP that answers none of our SMS arrives at that number
    pipeline.reply("STOP", to="+33700000001")
    # Then both brands known to use it are stopped: the deployment's and the campaign's
    assert brands_opted_out() == {"globex", "initech"}


# --- what the adversarial pass found -----------------------------------------------------------


def test_an_opt_out_record_without_brand_stops_every_brand_never_a_phantom(
    pipeline: Pipeline,
) -> None:
    consent("acme")
    consent_fn = load_function("consent")
    record = {
        "action": "opt_out",
        "phone": PHONE,
        "source": "customer-service call",
        "captured_at": (CONSENTED_AT + timedelta(days=1)).isoformat(),
    }
    consent_fn.lambda_handler({"Records": [sqs_record(record, "ConsentQueue")]}, LambdaContext())
    assert brands_opted_out() == {GLOBAL_SCOPE}
    pipeline.publish(campaign_id="acme-1", brand="acme")
    assert pipeline.received("acme-1") == []


def test_a_campaign_without_brand_is_answered_without_naming_default(pipeline: Pipeline) -> None:
    consent("default")
    pipeline.publish(campaign_id="nobrand-1")
    [sms] = pipeline.received("nobrand-1")
    pipeline.reply("AIDE", previous=sms["MessageId"])
    pipeline.reply("STOP", previous=sms["MessageId"])
    assert pipeline.answers() == [help_text(None, "36111"), confirmation_text(None)]
    assert brands_opted_out() == {"default"}  # the campaigns that name no brand stop


@pytest.mark.parametrize("brand", ["acme\u202e", "ac\u200eme", "ac\nme"])
def test_a_brand_with_a_control_character_is_refused(pipeline: Pipeline, brand: str) -> None:
    assert len(pipeline.publish(campaign_id="bidi", brand=brand)) == 1
    assert campaigns.get("bidi") is None


@pytest.mark.parametrize(
    "spelling",
    [
        "acme\u200b",
        "\u200bACME",
        "ac\u00adme",
        "acme\ufeff",
        "acme\ufe0f",
        "ac\u034fme",
        "acme\u3164",
        "\u2800acme",
    ],
)
def test_an_invisible_character_does_not_make_another_brand(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    monkeypatch.setenv("STOPSMS_CONSENT_POLICY", "record")
    get_settings.cache_clear()
    contacts.apply(PHONE, "acme", "opted_out", CONSENTED_AT, source="reply")
    assert pipeline.publish(campaign_id="inv", brand=spelling) == []
    assert pipeline.received("inv") == []
    stored = campaigns.get("inv")
    assert stored is not None
    assert stored.request["brand"] == "acme"


def test_a_lapsed_opt_in_no_longer_lifts_the_opt_out_it_replaced(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ConsentPolicy=record: a STOP in 2022, then a START in 2023 whose proof has expired
    monkeypatch.setenv("STOPSMS_CONSENT_POLICY", "record")
    get_settings.cache_clear()
    contacts.apply(PHONE, "acme", "opted_out", datetime(2022, 1, 10, tzinfo=UTC), source="reply")
    contacts.apply(PHONE, "acme", "opted_in", datetime(2023, 6, 1, tzinfo=UTC), source="reply")
    # When acme sends in 2026 (RetentionDays: 1,095)
    pipeline.publish(campaign_id="acme-1", brand="acme")
    # Then the opt-out, whose proof is kept, is in force again
    assert pipeline.received("acme-1") == []
    assert report("acme-1")["suppressed"]["opted_out"] == 1
    # And a fresh START opens it again
    pipeline.reply("START")
    pipeline.publish(campaign_id="acme-2", brand="acme")
    assert len(pipeline.received("acme-2")) == 1


def test_with_mirroring_a_brand_stop_stays_a_brand_stop_and_start_reopens(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given MirrorOptOuts (the prod settings); the fake endpoint refuses listed numbers, as AWS
    monkeypatch.setenv("STOPSMS_MIRROR_OPT_OUTS", "true")
    get_settings.cache_clear()
    consent("acme")
    consent("globex")
    pipeline.publish(campaign_id="globex-1", brand="globex")
    [sms] = pipeline.received("globex-1")
    # When the person stops globex: the AWS list, shared by every brand, is left alone
    pipeline.reply("STOP", previous=sms["MessageId"])
    assert pipeline.sms.opted_out == set()
    pipeline.publish(campaign_id="acme-1", brand="acme")
    assert brands_opted_out() == {"globex"}
    assert len(pipeline.received("acme-1")) == 1
    # When they then send STOPALL: every brand, and the AWS list too
    pipeline.reply("STOPALL")
    assert pipeline.sms.opted_out == {PHONE}
    # When they answer acme's SMS with START: acme again, and off the AWS list
    [acme] = pipeline.received("acme-1")
    pipeline.reply("START", previous=acme["MessageId"])
    assert pipeline.sms.opted_out == set()
    pipeline.publish(campaign_id="acme-2", brand="acme")
    pipeline.publish(campaign_id="globex-2", brand="globex")
    assert len(pipeline.received("acme-2")) == 1
    assert pipeline.received("globex-2") == []


def test_a_stop_during_the_senders_batch_finds_the_sms_it_answers(pipeline: Pipeline) -> None:
    # Given acme and globex both printing 36111, and acme's campaign still being sent
    consent("acme")
    consent("globex")
    pipeline.publish(campaign_id="globex-1", brand="globex")
    real_finish = sending.deliveries.finish
    outcomes: list[Any] = []

    def finish_then_reply(items: Any) -> None:
        real_finish(items)
        written = any(item.recipient == f"p#{PHONE}" for item in items)
        sent = [m for m in pipeline.sms.to(PHONE) if m["Context"].get("campaign_id") == "acme-1"]
        if written and not outcomes:  # the person answers at once, before the batch ends
            assert len(pipeline.sms.sent) < 2 + len(others)  # the batch is still going
            outcomes.append(pipeline.reply("STOP", previous=sent[0]["MessageId"]))

    others = [f"+3369876{n:04d}" for n in range(40)]
    for other in others:
        consent("acme", other)
    with mock.patch.object(sending.deliveries, "finish", finish_then_reply):
        pipeline.publish(campaign_id="acme-1", brand="acme", recipients=[PHONE, *others])
    # Then the STOP stops acme only, and says so
    assert outcomes[0]["basis"] == "campaign"
    assert brands_opted_out() == {"acme"}
    assert pipeline.answers() == [confirmation_text("acme")]


# --- second adversarial pass ------------------------------------------------------------------


def test_a_start_answering_a_brands_confirmation_concerns_that_brand_only(
    pipeline: Pipeline,
) -> None:
    # Given acme and globex both on 36111, globex opted out on its own, then a STOP to acme
    consent("acme")
    consent("globex")
    pipeline.publish(campaign_id="globex-1", brand="globex")
    pipeline.publish(campaign_id="acme-1", brand="acme")
    [globex], [acme] = pipeline.received("globex-1"), pipeline.received("acme-1")
    pipeline.reply("STOP", previous=globex["MessageId"])
    pipeline.reply("STOP", previous=acme["MessageId"])
    confirmation = pipeline.answer_messages()[-1]
    assert confirmation["MessageBody"] == confirmation_text("acme")
    # When they answer "START pour vous réabonner" to acme's confirmation
    outcome = pipeline.reply("START", previous=confirmation["MessageId"])
    # Then acme is open again, globex's own STOP stands (no consent given to globex)
    assert (outcome["basis"], outcome["scopes"]) == ("campaign", ["acme"])
    assert brands_opted_out() == {"globex"}
    pipeline.publish(campaign_id="globex-2", brand="globex")
    assert pipeline.received("globex-2") == []


def test_a_stop_answering_a_brands_help_answer_stops_that_brand_in_its_language(
    pipeline: Pipeline,
) -> None:
    consent("acme")
    consent("globex")
    pipeline.publish(campaign_id="globex-1", brand="globex")
    pipeline.publish(campaign_id="acme-1", brand="acme", language="en")
    [acme] = pipeline.received("acme-1")
    pipeline.reply("HELP", previous=acme["MessageId"])
    [helped] = pipeline.answer_messages()
    assert helped["MessageBody"] == help_text("acme", "36111", "en")
    pipeline.reply("STOP", previous=helped["MessageId"])
    assert brands_opted_out() == {"acme"}
    assert pipeline.answers()[-1] == confirmation_text("acme", "en")


def test_a_stop_crossed_by_a_later_start_for_one_brand_waits_for_a_human(
    pipeline: Pipeline,
) -> None:
    # Given acme and globex on 36111; the person STOPs (unattributed), then STARTs acme, but
    # the STOP is processed last
    consent("acme")
    consent("globex")
    pipeline.publish(campaign_id="acme-1", brand="acme")
    pipeline.publish(campaign_id="globex-1", brand="globex")
    [acme] = pipeline.received("acme-1")
    later = MONDAY_10H_PARIS + timedelta(hours=1)
    pipeline.reply("START", previous=acme["MessageId"], at=later + timedelta(minutes=2))
    outcome = pipeline.reply("STOP", at=later + timedelta(minutes=1))
    # Then globex is stopped, and the part of the STOP acme's START crossed is up for review
    assert brands_opted_out() == {"globex"}
    assert outcome["review"] == "stop not applied to acme: a later decision is stored"
    [waiting] = list(evidence.to_review())
    assert (waiting.brand, waiting.text) == ("acme", "STOP")


def test_a_retried_start_takes_the_number_off_the_aws_list(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given MirrorOptOuts and a STOPALL copied to the AWS opt-out list
    monkeypatch.setenv("STOPSMS_MIRROR_OPT_OUTS", "true")
    get_settings.cache_clear()
    consent("acme")
    pipeline.reply("STOPALL")
    assert PHONE in pipeline.sms.opted_out
    # When a START's invocation dies after writing the state, before the AWS list is updated,
    # and Lambda retries it
    real, calls = optout_list.mirror, []

    def dies_the_first_time(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("Task timed out")
        return real(*args, **kwargs)

    at = MONDAY_10H_PARIS + timedelta(minutes=30)
    with mock.patch.object(optout_list, "mirror", dies_the_first_time):
        with pytest.raises(replies.RepliesFailed):
            pipeline.reply("START", inbound_id="start-1", at=at)
        pipeline.reply("START", inbound_id="start-1", at=at)
    # Then the retry takes the number off the list, and acme reaches it again
    assert PHONE not in pipeline.sms.opted_out
    pipeline.publish(campaign_id="acme-1", brand="acme")
    assert len(pipeline.received("acme-1")) == 1


# --- fourth adversarial pass ------------------------------------------------------------------


@pytest.mark.parametrize("mirror", [False, True], ids=["own_list", "mirrored"])
def test_a_stopall_crossed_by_a_later_brand_start_waits_for_a_human(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, mirror: bool
) -> None:
    # Given acme and globex; the person STARTs acme after a STOPALL, the START processed first
    monkeypatch.setenv("STOPSMS_MIRROR_OPT_OUTS", str(mirror).lower())
    get_settings.cache_clear()
    consent("acme")
    consent("globex")
    pipeline.publish(campaign_id="acme-1", brand="acme")
    pipeline.publish(campaign_id="globex-1", brand="globex")
    [acme] = pipeline.received("acme-1")
    later = MONDAY_10H_PARIS + timedelta(hours=1)
    pipeline.reply("START", previous=acme["MessageId"], at=later + timedelta(minutes=2))
    outcome = pipeline.reply("STOPALL", previous=acme["MessageId"], at=later)
    # Then acme (its START is the later decision) still sends, globex does not, and the STOPALL
    # waits for a human for acme
    pipeline.publish(campaign_id="acme-2", brand="acme")
    pipeline.publish(campaign_id="globex-2", brand="globex")
    assert (len(pipeline.received("acme-2")), pipeline.received("globex-2")) == (1, [])
    assert pipeline.sms.opted_out == set()  # not on the AWS list, which would silence acme
    assert outcome["review"] == "stop not applied to acme: a later decision is stored"
    [waiting] = list(evidence.to_review())
    assert waiting.text == "STOPALL"


@pytest.mark.parametrize("char", ["\x85", "\x0b", "\u2028", "\u2029", "\x1f"])
def test_a_brand_ending_with_a_control_character_is_refused(pipeline: Pipeline, char: str) -> None:
    # Python strips U+0085, U+000B and the line separators as blanks: checked before that
    consent("acme")
    assert len(pipeline.publish(campaign_id="controls", brand=f"acme{char}")) == 1
    assert pipeline.sms.sent == []
