"""An erasure request forgets the number but keeps its opt-out, as the sender proves."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from unittest import mock

import boto3
import pytest

from stopsms import clock
from stopsms.aws import clients
from stopsms.cli import main
from stopsms.consent.erasure import PREFIX, erased_key
from stopsms.dal import contacts, evidence
from stopsms.dal.deliveries import DeliveryStatus
from stopsms.dal.tables import GLOBAL_SCOPE, ContactState, Delivery, Evidence
from stopsms.emulator.template import Stack
from stopsms.settings import get_settings
from tests.handlers.conftest import LambdaContext, load_function
from tests.handlers.sms import FakeSms
from tests.handlers.test_sender import (
    CONSENTED_AT,
    MONDAY_10H_PARIS,
    A,
    B,
    campaign,
    consent,
    handle,
    jobs_of,
    sender,  # noqa: F401 - fixture
    sms,  # noqa: F401 - fixture
)
from tests.handlers.test_stop_scope import Pipeline


def test_erase_keeps_only_a_keyed_hash_and_the_opt_out_holds(
    sender: ModuleType,  # noqa: F811
    sms: FakeSms,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given A consented, got a campaign, then replied STOP with some personal text
    consent(A, B)
    first = campaign([{"phone": A, "vars": {"first_name": "Léa"}}])
    handle(sender, jobs_of(first))
    stop_at = CONSENTED_AT + timedelta(days=2)
    contacts.apply(A, "acme", "opted_out", stop_at, source="reply")
    evidence.append(
        Evidence(
            A,
            evidence.event_key(stop_at, "in-1"),
            kind="opt_out",
            brand="acme",
            source="reply",
            captured_at=stop_at,
            recorded_at=stop_at,
            text="STOP, et effacez mes données svp",
            proof={"ip": "203.0.113.7"},
        )
    )
    # When the operator runs the erasure request
    assert main(["erase", "06 12 34 56 01"]) == 2  # refuses without --yes
    assert main(["erase", "06 12 34 56 01", "--yes"]) == 0
    assert (
        "erased: 1 state item(s), 1 evidence event(s) redacted, 1 delivery"
        in capsys.readouterr().out
    )
    # Then the number is nowhere as a key, and no reply text or proof is kept
    assert list(ContactState.query(A)) == []
    assert list(Evidence.query(A)) == []
    assert [d.recipient for d in Delivery.scan() if A in d.recipient] == []
    stand_in = erased_key(A, get_settings())
    assert stand_in.startswith(PREFIX)
    assert A not in stand_in
    redacted = list(Evidence.query(stand_in))
    assert [e.kind for e in redacted] == ["opt_out"]
    assert redacted[0].text is None
    assert redacted[0].proof is None
    # And the campaign report still adds up
    kept = Delivery.get(first.campaign_id, f"p#{stand_in}")
    assert kept.status == DeliveryStatus.SENT
    # And a new campaign importing the number again does not reach it
    second = campaign(
        [{"phone": A, "vars": {"first_name": "Léa"}}, {"phone": B, "vars": {"first_name": "Tom"}}],
        campaign_id="relance",
    )
    consent(A)  # the CRM re-imports an old consent, dated before the erasure
    handle(sender, jobs_of(second))
    assert [
        m["DestinationPhoneNumber"] for m in sms.sent if m["Context"]["campaign_id"] == "relance"
    ] == [B]
    # ... and its outcome was recorded under the stand-in, never under the number again
    assert Delivery.get("relance", f"p#{stand_in}").reason == "opted_out"
    # A second erasure forgets what came since (the re-imported consent, the campaign request)
    assert main(["erase", A, "--yes"]) == 0
    assert (
        "erased: 1 state item(s), 0 evidence event(s) redacted, 0 delivery record(s), "
        "1 campaign request(s)"
    ) in capsys.readouterr().out
    assert stop_at < MONDAY_10H_PARIS
    assert ContactState.get(stand_in, GLOBAL_SCOPE).status == "opted_out"


def test_erasure_needs_its_key(aws: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOPSMS_ERASURE_KEY_SECRET", "")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="ERASURE_KEY_SECRET"):
        erased_key(A, get_settings())


def test_an_erased_number_is_never_written_again_by_a_campaign_waiting_for_its_window(
    aws: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a campaign to the number deferred on Sunday, waiting for Monday's window
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    phone = "+33612345678"
    consent(phone)
    fake = FakeSms()
    sunday = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
    with (
        mock.patch.object(clients, "sms", return_value=fake),
        mock.patch.object(clock, "now", return_value=sunday),
    ):
        pipeline = Pipeline(aws, fake)
        pipeline.publish(campaign_id="deferred-1", brand="acme", recipients=[phone, B])
    # When the person's erasure request is run while it waits
    assert main(["erase", phone, "--yes"]) == 0
    assert "1 campaign request(s)" in capsys.readouterr().out
    # And the campaign is released and sent on Monday
    with (
        mock.patch.object(clients, "sms", return_value=fake),
        mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS),
    ):
        load_function("scheduler").lambda_handler({}, LambdaContext())
        pipeline.publish(campaign_id="other", brand="acme", recipients=[phone])  # a new one
    # Then no SMS reached the number, and StopSMS wrote it nowhere again: only the request a
    # publisher sent after the erasure (the "other" campaign) names it
    assert fake.to(phone) == []
    db = boto3.client("dynamodb", region_name="eu-west-3")
    for table in db.list_tables()["TableNames"]:
        for item in db.scan(TableName=table)["Items"]:
            if item.get("campaign_id") != {"S": "other"} or "request" not in item:
                assert "612345678" not in str(item), (table, item)


# --- second adversarial pass ------------------------------------------------------------------


def test_a_waiting_s3_campaign_neither_texts_nor_stores_an_erased_number(
    aws: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a transactional campaign whose S3 audience holds the number, scheduled for later
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    phone = "+33612345678"
    boto3.client("s3", region_name="eu-west-3").put_object(
        Bucket="audiencebucket", Key="t.csv", Body=f"phone\n{phone}\n{B}\n".encode()
    )
    fake = FakeSms()
    time = {"at": MONDAY_10H_PARIS}
    with (
        mock.patch.object(clients, "sms", return_value=fake),
        mock.patch.object(clock, "now", side_effect=lambda: time["at"]),
    ):
        pipeline = Pipeline(aws, fake)
        pipeline.publish(
            campaign_id="t1",
            category="transactional",
            body="Votre colis arrive",
            recipients=None,
            audience={"s3_uri": "s3://audiencebucket/t.csv"},
            send_at=(MONDAY_10H_PARIS + timedelta(hours=1)).isoformat(),
        )
        # When the person's erasure request is run while it waits, and its time comes
        assert main(["erase", phone, "--yes"]) == 0
        assert "1 campaign request(s)" in capsys.readouterr().out
        time["at"] += timedelta(hours=2)
        load_function("scheduler").lambda_handler({}, LambdaContext())
        pipeline.publish(campaign_id="unrelated", category="transactional", recipients=[B])
    # Then the others are sent, the erased number is neither texted nor written again
    assert fake.to(phone) == []
    assert len([m for m in fake.to(B) if m["Context"]["campaign_id"] == "t1"]) == 1
    stored = boto3.client("dynamodb", region_name="eu-west-3").scan(
        TableName=aws.tables["DeliveriesTable"]
    )["Items"]
    assert "612345678" not in str(stored)
    [erased] = [d for d in Delivery.query("t1") if d.seq == 0]
    assert (erased.status, erased.reason) == ("suppressed", "invalid_number")


def test_an_erased_imported_number_cannot_be_found_again_by_hashing_candidates(
    aws: Stack, tmp_path: Path
) -> None:
    # Given a stop list imported (its evidence keys hash source, number and scope), then erased
    stop_list = tmp_path / "stop.csv"
    stop_list.write_text(f"phone\n{A}\n")
    assert main(["optouts", "import", str(stop_list), "--source", "old-provider"]) == 0
    assert main(["erase", A, "--yes"]) == 0
    # Then hashing candidate numbers the way the import does finds nothing in the table
    table = str(
        boto3.client("dynamodb", region_name="eu-west-3").scan(
            TableName=aws.tables["EvidenceTable"]
        )["Items"]
    )
    candidates = [A[:-4] + f"{n:04d}" for n in range(10_000)]
    assert [
        c
        for c in candidates
        if hashlib.sha256(f"old-provider|{c}|*".encode()).hexdigest()[:16] in table
    ] == []
    # ...while the opt-out holds under the keyed hash
    assert ContactState.get(erased_key(A, get_settings()), GLOBAL_SCOPE).status == "opted_out"


def test_the_same_request_published_again_after_an_erasure_is_no_other_request(
    aws: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a campaign deferred to Monday's window, then one of its recipients erased
    monkeypatch.setenv("STOPSMS_SEND_RATE", "1000")
    get_settings.cache_clear()
    consent(A, B)
    fake = FakeSms()
    sunday = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
    request = {"campaign_id": "w1", "brand": "acme", "recipients": [A, B]}
    with (
        mock.patch.object(clients, "sms", return_value=fake),
        mock.patch.object(clock, "now", return_value=sunday),
    ):
        pipeline = Pipeline(aws, fake)
        assert pipeline.publish(**request) == []
        assert main(["erase", A, "--yes"]) == 0
        # When the publisher retries the very same request (or SQS delivers it again)
        # Then it is recognised, not refused as "another request" (whose advice, a new id,
        # would text everyone twice)
        assert pipeline.publish(**request) == []
        assert pipeline.publish(**{**request, "recipients": [B, A]}) != []  # another one is


def test_a_binary_secret_is_the_key_itself_and_a_new_client_reads_it_again(aws: Stack) -> None:
    # Given the erasure key stored as SecretBinary
    manager = boto3.client("secretsmanager", region_name="eu-west-3")
    arn = manager.create_secret(Name="BinaryErasureKey", SecretBinary=b"\x00k3y")["ARN"]
    settings = get_settings().model_copy(update={"erasure_key_secret": arn})
    # Then its bytes are the HMAC key, not their printed form
    expected = hmac.new(b"\x00k3y", b"+33612345678", hashlib.sha256).hexdigest()
    assert erased_key("+33612345678", settings) == PREFIX + expected
    # And once the clients are made anew (another endpoint, other credentials), the key is
    # read through the new client, not a provider holding the old one
    manager.put_secret_value(SecretId=arn, SecretBinary=b"other")
    clients.reset()
    assert erased_key("+33612345678", settings) != PREFIX + expected
