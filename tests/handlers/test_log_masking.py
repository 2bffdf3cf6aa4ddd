"""Phone numbers never reach logs or metrics in clear, whatever path a handler takes.

Each handler is driven with real numbers, in E.164 and national formats, through its success
and failure paths. Everything it writes is captured: the Powertools logger's own JSON lines
(the stream CloudWatch receives), stdout / stderr (EMF metrics, prints) and every logging
record (extras included). No form of the numbers may appear; the masked form (``+33*******78``)
may. The metrics the alarms of template.yaml watch are checked to be the ones emitted.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest

from stopsms import clock
from stopsms.aws import clients
from stopsms.dal import contacts
from stopsms.dal.tables import GLOBAL_SCOPE
from stopsms.emulator.template import Stack
from stopsms.settings import get_settings
from tests.handlers.conftest import LambdaContext, load_function, sns_event, sqs_event, sqs_record
from tests.handlers.sms import FakeSms, client_error
from tests.handlers.test_inbound import reply
from tests.handlers.test_sender import MONDAY_10H_PARIS, campaign, jobs_of

# (E.164, as written by upstream systems): every digit group of these must stay hidden.
SENT = ("+33612345678", "06 12 34 56 78")
OPTED_OUT = ("+33698765432", "0698765432")
QUOTA = ("+33611223344", "+33 6 11 22 33 44")
REFUSED = ("+33655443322", "06.55.44.33.22")
REPLYING = ("+33677889900", "+33677889900")
OVERSEAS = ("+590690123456", "0690 12 34 56")
ALL = (SENT, OPTED_OUT, QUOTA, REFUSED, REPLYING, OVERSEAS)
CONSENTED_AT = datetime(2026, 10, 1, tzinfo=UTC)
RECENTLY = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)


def in_any_format(e164: str) -> re.Pattern[str]:
    """The national significant number, its digits in any grouping (spaces, dots, dashes)."""
    significant = e164.removeprefix("+590").removeprefix("+33")
    return re.compile(r"[\s.()\-]*".join(significant))


@dataclass
class Captured:
    stream: io.StringIO = field(default_factory=io.StringIO)
    text: str = ""
    records: list[logging.LogRecord] = field(default_factory=list)

    def emf(self) -> list[dict[str, Any]]:
        blobs = []
        for line in self.text.splitlines():
            try:
                document = json.loads(line)
            except ValueError:
                continue
            if isinstance(document, dict) and "_aws" in document:
                blobs.append(document)
        return blobs

    def metric(self, name: str) -> float:
        """The sum of a metric over every EMF blob, after checking namespace and dimension."""
        total = 0.0
        for blob in self.emf():
            (directive,) = blob["_aws"]["CloudWatchMetrics"]
            if name in {m["Name"] for m in directive["Metrics"]}:
                assert directive["Namespace"] == "StopSMS"
                assert directive["Dimensions"] == [["service"]]
                assert blob["service"] == "stopsms"
                value = blob[name]
                total += sum(value) if isinstance(value, list) else value
        return total


@contextmanager
def capture(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Iterator[Captured]:
    """Everything written while the block runs, at DEBUG for StopSMS and Powertools."""
    captured = Captured()
    stopsms = logging.getLogger("stopsms")  # POWERTOOLS_SERVICE_NAME: the handlers' logger
    # The handler keeps the stream of the first test that set the logger up: swap it (not
    # setStream, which would flush a stream pytest may have closed since).
    streams = [
        (handler, handler.stream)
        for handler in stopsms.handlers
        if isinstance(handler, logging.StreamHandler)
    ]
    for handler, _ in streams:
        handler.stream = captured.stream
    assert streams, "the function's Powertools logger is not set up"
    stopsms.addHandler(caplog.handler)
    level = stopsms.level
    stopsms.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="aws_lambda_powertools")
    caplog.set_level(logging.INFO)  # botocore's DEBUG dumps requests: never enabled in Lambda
    capsys.readouterr()
    try:
        yield captured
    finally:
        stopsms.setLevel(level)
        stopsms.removeHandler(caplog.handler)
        for handler, stream in streams:
            handler.stream = stream
        out, err = capsys.readouterr()
        captured.records = list(caplog.records)
        rendered = [f"{r.getMessage()} {r.__dict__!r} {r.exc_text or ''}" for r in captured.records]
        captured.text = "\n".join([captured.stream.getvalue(), out, err, *rendered])


def assert_no_phone_in_clear(captured: Captured) -> None:
    assert captured.text.strip(), "nothing was captured: the test would prove nothing"
    for e164, written in ALL:
        pattern = in_any_format(e164)
        assert not pattern.search(captured.text), f"{written} appears in clear"
    for blob in captured.emf():
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        names = {m["Name"] for m in directive["Metrics"]}
        properties = {k: v for k, v in blob.items() if k != "_aws" and k not in names}
        for value in properties.values():
            assert not re.search(r"\d{6}", str(value)), properties
        for dimension_set in directive["Dimensions"]:
            for dimension in dimension_set:
                assert not re.search(r"\d{6}", str(blob[dimension])), dimension


@pytest.fixture
def fake_sms() -> Iterator[FakeSms]:
    fake = FakeSms()
    with mock.patch.object(clients, "sms", return_value=fake):
        yield fake


def test_sender_logs_and_metrics_hide_numbers(
    aws: Stack,
    monkeypatch: pytest.MonkeyPatch,
    fake_sms: FakeSms,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given consents, an opted-out number, a number End User Messaging refuses for spend and
    # one it refuses as invalid; the numbers written as upstream systems write them
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    for e164, _ in (SENT, QUOTA, REFUSED, OVERSEAS):
        contacts.apply(e164, "acme", "opted_in", CONSENTED_AT, source="web-form")
    contacts.apply(OPTED_OUT[0], GLOBAL_SCOPE, "opted_out", CONSENTED_AT, source="reply")
    request = campaign(
        [
            {"phone": written, "vars": {"first_name": "Léa"}}
            for _, written in (SENT, OPTED_OUT, QUOTA, REFUSED, OVERSEAS)
        ]
        + ["06 12"]
    )
    fake_sms.fail = lambda p: {
        QUOTA[0]: client_error(
            "ServiceQuotaExceededException", "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"
        ),
        REFUSED[0]: client_error("ValidationException", "INVALID_PARAMETER"),
    }.get(p["DestinationPhoneNumber"])
    records = jobs_of(request)
    last_try = {
        **records[2],
        "attributes": {**records[2]["attributes"], "ApproximateReceiveCount": "5"},
    }
    malformed = sqs_record('{"phone": "0612345678", "seq": "x"', "SendQueue")
    sender = load_function("sender")
    # When the sender handles them, the quota refusal on its first and last delivery
    with (
        mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS),
        mock.patch("time.sleep"),
        capture(capsys, caplog) as captured,
    ):
        sender.lambda_handler({"Records": [*records, malformed]}, LambdaContext())
        sender.lambda_handler({"Records": [last_try]}, LambdaContext())
    # Then no number appears in clear, anywhere
    assert_no_phone_in_clear(captured)
    assert "send failed" in captured.text
    assert '"service":"stopsms"' in captured.stream.getvalue()  # Powertools' JSON lines
    # And the metrics the alarms watch are emitted: one sent (the overseas number waits for
    # its own window), one failed for the spend limit and one invalid, and two refusals for
    # the quota (the retried delivery and the last one)
    assert [m["DestinationPhoneNumber"] for m in fake_sms.sent] == [SENT[0]]
    assert captured.metric("Sent") == 1
    assert captured.metric("Deferred") == 1
    assert captured.metric("Failed") == 2
    assert captured.metric("QuotaExceeded") == 2
    assert captured.metric("SuppressedOptedOut") == 1


def test_inbound_logs_and_metrics_hide_numbers(
    aws: Stack,
    monkeypatch: pytest.MonkeyPatch,
    fake_sms: FakeSms,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given replies of every kind, one from a number written nationally, one that cannot
    # be answered and one whose sender is not a phone number
    monkeypatch.setenv("STOPSMS_INBOUND_BRANDS", "36111=acme")
    get_settings.cache_clear()
    inbound = load_function("inbound")
    fake_sms.fail = lambda p: (
        client_error("InternalServerException") if p["DestinationPhoneNumber"] == SENT[0] else None
    )
    event = sns_event(
        [
            reply("STOP", phone=REPLYING[0], message_id="m-1"),
            reply("Aide", phone=OVERSEAS[1], message_id="m-2"),
            reply("START", phone=REPLYING[0], message_id="m-3"),
            reply("Qui est-ce ? mon numéro 06 98 76 54 32", phone=OPTED_OUT[0], message_id="m-4"),
            reply("STOP", phone=SENT[0], message_id="m-5"),
            reply("STOP", phone="06 12", message_id="m-6"),
        ]
    )
    # When the inbound function handles them (one fails: Lambda will retry the event; the
    # STOP whose confirmation fails is applied all the same)
    with capture(capsys, caplog) as captured, pytest.raises(Exception, match="1 of 6"):
        inbound.lambda_handler(event, LambdaContext())
    # Then no number appears in clear, while the masked form may
    assert_no_phone_in_clear(captured)
    assert "+33*******00" in captured.text
    assert "Opted out" in captured.text
    assert "Answer not sent" in captured.text
    assert "Refused an inbound notification" in captured.text
    # And the opt-out metric of the spike alarm counts both STOPs applied
    assert captured.metric("RepliesOptOut") == 2
    assert captured.metric("AnswersNotSent") == 1


def test_consent_logs_and_metrics_hide_numbers(
    aws: Stack,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given opt-ins and opt-outs in national formats, a stale one, and refused records
    consent = load_function("consent")

    def record(action: str, phone: str, at: datetime) -> dict[str, Any]:
        return {
            "action": action,
            "phone": phone,
            "brand": "acme",
            "source": "web-form",
            "captured_at": at.isoformat(),
            "proof": {"ip": "203.0.113.7"},
        }

    bodies: list[str | dict[str, Any]] = [
        record("opt_in", SENT[1], RECENTLY),
        record("opt_out", OPTED_OUT[1], RECENTLY),
        record("opt_in", OPTED_OUT[1], RECENTLY - timedelta(days=1)),  # older: evidence only
        record("opt_in", OVERSEAS[1], RECENTLY),
        record("opt_in", "06 55 44", RECENTLY),  # not a number
        '{"action": "opt_in", "phone": "0655443322"',  # not JSON
    ]
    # When the consent function handles them, twice (SQS redelivery)
    with capture(capsys, caplog) as captured:
        for _ in range(2):
            consent.lambda_handler(sqs_event(bodies, "ConsentQueue"), LambdaContext())
    # Then no number appears in clear
    assert_no_phone_in_clear(captured)
    assert "Refused a consent record" in captured.text
    assert captured.metric("ConsentOptOut") == 1
