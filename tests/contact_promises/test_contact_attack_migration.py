"""Attacks on the migration to one item per number, on tables the previous version's code wrote
(``tests.migration.previous_contacts``, kept verbatim)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from unittest import mock

import pytest

from stopsms import clock
from stopsms.aws import clients
from stopsms.cli import main
from stopsms.dal import contacts
from stopsms.dal.number_items import NUMBER_ITEM
from stopsms.dal.tables import GLOBAL_SCOPE, ContactState, Delivery, NumberItem
from stopsms.emulator.template import Stack
from stopsms.errors import StaleEvent
from stopsms.migration import migrate, settled
from stopsms.rules.scope_states import ScopeState
from tests.handlers.sms import FakeSms
from tests.handlers.test_sender import CONSENTED_AT, campaign, handle, jobs_of
from tests.migration import previous_contacts as previous

T = datetime(2026, 9, 1, 9, tzinfo=UTC)
A, B, C = (f"+3361299200{n}" for n in range(1, 4))
ODD = ["a|b", "café & co", "x #y", "status|a|b", "ü|#|*x"]


@pytest.fixture
def legacy(aws: Stack) -> Iterator[None]:
    """The table as the previous version left it: no marker."""
    ContactState(*contacts.MIGRATED).delete()
    contacts.forget_migrated()
    yield
    contacts.forget_migrated()


def full(phone: str) -> dict[str, ScopeState]:
    return {s.scope: s for s in contacts.state_of(phone)}


def sent_to(sms: FakeSms) -> list[str]:
    return [m["DestinationPhoneNumber"] for m in sms.sent]


def recorded_numbers() -> set[str]:
    """Every stored Deliveries item, raw (keys and attributes), as text."""
    table = Delivery.Meta.table_name
    return {str(item) for item in clients.dynamodb().scan(TableName=table)["Items"]}


def many_scopes() -> None:
    """One number with many scopes of every kind, written by the previous version."""
    previous.apply(A, "acme", "opted_in", T, source="web-form")
    previous.apply(A, "acme", "opted_out", T + timedelta(days=1), source="reply")
    previous.apply(A, "acme", "opted_in", T + timedelta(days=2), source="web-form")
    with pytest.raises(StaleEvent):  # a late STOP dating the replaced opt-out
        previous.apply(A, "acme", "opted_out", T + timedelta(days=1, hours=5), source="reply")
    previous.apply(
        A, "lapsing", "opted_in", T, source="web-form", proof_expires_at=T + timedelta(days=3)
    )
    previous.apply(A, GLOBAL_SCOPE, "opted_out", T, source="reply")
    for n, brand in enumerate(ODD):
        previous.apply(A, brand, "opted_out", T + timedelta(minutes=n), source="reply")
    # an imported stop-list row as the previous import wrote it (recorded_at, evidence_key)
    ContactState(
        A,
        "imported",
        status="opted_out",
        status_at=T,
        source="import:other",
        updated_at=T,
        evidence_key="2026-09-01T09:00:00+00:00#abc",
        recorded_at=T - timedelta(days=400),
        opted_out_at=T,
    ).save()


@pytest.mark.usefixtures("legacy")
def test_every_field_of_many_odd_scopes_survives_migrate_and_drop() -> None:
    many_scopes()
    before = full(A)
    assert len(before) == 4 + len(ODD)
    assert before["acme"].opted_out_at == T + timedelta(days=1, hours=5)
    assert main(["migrate"]) == 0
    assert full(A) == before
    assert main(["migrate", "--drop-legacy"]) == 0
    assert full(A) == before
    assert NumberItem.get(A, NUMBER_ITEM).states == before


@pytest.mark.usefixtures("legacy")
def test_migrate_interrupted_twice_then_run_again_keeps_every_field() -> None:
    many_scopes()
    previous.apply(B, "acme", "opted_out", T, source="reply")
    previous.apply(C, GLOBAL_SCOPE, "opted_out", T, source="reply")
    before = {p: full(p) for p in (A, B, C)}
    real = contacts.fold
    for crash_at in (1, 2):
        calls = 0

        def crashing(phone: str, found: object = None, at: int = crash_at) -> int:
            nonlocal calls
            calls += 1
            if calls == at:
                raise RuntimeError("Lambda timed out")
            return real(phone, found)  # type: ignore[arg-type]

        with mock.patch.object(contacts, "fold", side_effect=crashing), pytest.raises(RuntimeError):
            migrate()
        assert {p: full(p) for p in (A, B, C)} == before
    migrate(drop=True)
    assert contacts.migrated()
    assert {p: full(p) for p in (A, B, C)} == before


@pytest.mark.usefixtures("legacy")
def test_a_new_stop_between_fold_and_marker_is_kept() -> None:
    """The new code's STOP while migrate runs (it checks the marker, folds, writes both)."""
    previous.apply(A, "acme", "opted_in", T, source="web-form")
    previous.apply(B, "acme", "opted_in", T, source="web-form")
    real = contacts.fold
    stopped: set[str] = set()

    def and_a_stop(phone: str, found: object = None) -> int:
        done = real(phone, found)  # type: ignore[arg-type]
        if phone not in stopped:  # apply folds too (not migrated yet): once per number
            stopped.add(phone)
            contacts.apply(phone, "acme", "opted_out", T + timedelta(days=1), source="reply")
        return done

    with mock.patch.object(contacts, "fold", side_effect=and_a_stop):
        migrate()
    for phone in (A, B):
        assert full(phone)["acme"].status == "opted_out"


def _updated(minutes_ago: int) -> dict[str, object]:
    """The stack as CloudFormation describes it, updated ``minutes_ago``."""
    return {"LastUpdatedTime": clock.now() - timedelta(minutes=minutes_ago)}


@pytest.mark.usefixtures("legacy")
def test_a_previous_version_stop_during_migrate_is_honoured(
    sender: ModuleType, sms: FakeSms
) -> None:
    # make deploy runs migrate right after the update: a function of the previous version may
    # still run and write the older form, so the marker waits and both forms are read
    previous.apply(A, "acme", "opted_in", CONSENTED_AT, source="web-form")
    real = contacts.fold

    def old_lambda_stops(phone: str, found: object = None) -> int:
        done = real(phone, found)  # type: ignore[arg-type]
        # an inbound Lambda of the previous version, still in flight, records a STOP
        previous.apply(phone, "acme", "opted_out", CONSENTED_AT + timedelta(days=1), source="reply")
        return done

    with mock.patch.object(contacts, "fold", side_effect=old_lambda_stops):
        done = migrate(settled=settled(_updated(2), clock.now()) is None)
    assert not done.marked
    assert not contacts.migrated()
    handle(sender, jobs_of(campaign([{"phone": A, "vars": {"first_name": "Léa"}}])))
    assert sent_to(sms) == []
    # Fifteen minutes later the previous version is gone: the run folds the late STOP and marks
    assert migrate(settled=settled(_updated(16), clock.now()) is None).marked
    assert contacts.migrated()
    handle(
        sender, jobs_of(campaign([{"phone": A, "vars": {"first_name": "Léa"}}], campaign_id="c2"))
    )
    assert sent_to(sms) == []


@pytest.mark.usefixtures("legacy")
def test_drop_legacy_waits_for_the_update_to_settle() -> None:
    previous.apply(A, "acme", "opted_out", CONSENTED_AT, source="reply")
    done = migrate(drop=True, settled=False)
    assert (done.marked, done.dropped) == (False, 0)
    assert ContactState.get(A, "acme").status == "opted_out"  # still there, still read
    assert [s.status for s in contacts.state_of(A) if s.scope == "acme"] == ["opted_out"]


@pytest.mark.usefixtures("legacy")
def test_erased_then_an_old_consent_by_the_previous_version_is_not_sent(
    sender: ModuleType, sms: FakeSms, capsys: pytest.CaptureFixture[str]
) -> None:
    previous.apply(A, "acme", "opted_in", CONSENTED_AT, source="web-form")
    assert main(["erase", A, "--yes"]) == 0
    capsys.readouterr()
    # the previous version's consent import (still running) re-records the old consent
    previous.apply(A, "acme", "opted_in", CONSENTED_AT, source="web-form")
    handle(sender, jobs_of(campaign([{"phone": A, "vars": {"first_name": "Léa"}}])))
    assert sent_to(sms) == []
    assert A not in " ".join(recorded_numbers())


@pytest.mark.usefixtures("legacy")
def test_erased_then_a_stop_by_the_previous_version_is_never_recorded_under_the_number(
    sender: ModuleType, sms: FakeSms, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["erase", A, "--yes"]) == 0
    capsys.readouterr()
    previous.apply(A, "acme", "opted_out", CONSENTED_AT, source="reply")
    handle(sender, jobs_of(campaign([{"phone": A, "vars": {"first_name": "Léa"}}])))
    assert sent_to(sms) == []
    assert A not in " ".join(recorded_numbers())


@pytest.mark.usefixtures("legacy")
def test_erased_then_an_old_consent_by_the_previous_version_after_migrate_is_not_sent(
    sender: ModuleType, sms: FakeSms, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["erase", A, "--yes"]) == 0
    previous.apply(A, "acme", "opted_in", CONSENTED_AT, source="web-form")
    assert main(["migrate", "--drop-legacy"]) == 0
    capsys.readouterr()
    assert NumberItem.get(A, NUMBER_ITEM).states[contacts.ERASED_SCOPE].status == "opted_out"
    handle(sender, jobs_of(campaign([{"phone": A, "vars": {"first_name": "Léa"}}])))
    assert sent_to(sms) == []
    assert A not in " ".join(recorded_numbers())


@pytest.mark.usefixtures("legacy")
def test_the_new_codes_decisions_on_an_erased_number_before_the_marker_keep_the_erasure(
    sender: ModuleType, sms: FakeSms, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["erase", A, "--yes"]) == 0
    capsys.readouterr()
    contacts.apply(A, "acme", "opted_in", CONSENTED_AT, source="web-form")  # old consent again
    contacts.apply(B, "acme", "opted_in", CONSENTED_AT, source="web-form")
    handle(sender, jobs_of(campaign([{"phone": p, "vars": {"first_name": "L"}} for p in (A, B)])))
    assert sent_to(sms) == [B]
    assert A not in " ".join(recorded_numbers())


@pytest.mark.usefixtures("legacy")
def test_the_sender_honours_every_kind_of_opt_out_before_during_and_after(
    sender: ModuleType, sms: FakeSms
) -> None:
    D, E, F, G = (f"+3361299210{n}" for n in range(1, 5))
    day = timedelta(days=1)
    previous.apply(A, "acme", "opted_in", CONSENTED_AT, source="web-form")
    previous.apply(A, "acme", "opted_out", CONSENTED_AT + day, source="reply")
    previous.apply(B, "acme", "opted_in", CONSENTED_AT, source="web-form")
    previous.apply(B, GLOBAL_SCOPE, "opted_out", CONSENTED_AT + day, source="reply")
    lapsed = CONSENTED_AT + 30 * day  # before the campaign (MONDAY_10H_PARIS)
    previous.apply(C, "acme", "opted_in", CONSENTED_AT, source="form", proof_expires_at=lapsed)
    previous.apply(D, "acme", "opted_in", CONSENTED_AT, source="web-form")  # the one to send to
    previous.apply(E, "acme", "opted_out", CONSENTED_AT, source="reply")  # a STOP, then a
    previous.apply(E, "acme", "opted_in", CONSENTED_AT + day, source="f", proof_expires_at=lapsed)
    contacts.apply(F, "acme", "opted_in", CONSENTED_AT, source="web-form")  # new code, unmarked
    contacts.apply(F, "acme", "opted_out", CONSENTED_AT + day, source="reply")
    previous.apply(G, "acme", "opted_in", CONSENTED_AT, source="web-form")
    contacts.apply(G, GLOBAL_SCOPE, "opted_out", CONSENTED_AT + day, source="reply")
    everyone = [{"phone": p, "vars": {"first_name": "L"}} for p in (A, B, C, D, E, F, G)]

    def run(name: str) -> list[str]:
        sms.sent.clear()
        handle(sender, jobs_of(campaign(everyone, campaign_id=name)))
        return sent_to(sms)

    assert run("before") == [D]
    real = contacts.fold
    seen: list[str] = []

    def sends_midway(phone: str, found: object = None) -> int:
        done = real(phone, found)  # type: ignore[arg-type]
        if not seen:  # a campaign while migrate is half done
            seen.extend(run("during"))
        return done

    with mock.patch.object(contacts, "fold", side_effect=sends_midway):
        migrate()
    assert seen == [D]
    assert run("after") == [D]
    migrate(drop=True)
    assert run("dropped") == [D]


@pytest.mark.usefixtures("legacy")
def test_erased_before_the_migration_then_a_new_stop_and_a_consent_after_it(
    sender: ModuleType, sms: FakeSms, capsys: pytest.CaptureFixture[str]
) -> None:
    previous.apply(A, "acme", "opted_in", CONSENTED_AT, source="web-form")
    previous.apply(A, "other", "opted_out", CONSENTED_AT, source="reply")
    assert main(["erase", A, "--yes"]) == 0
    assert main(["migrate", "--drop-legacy"]) == 0
    capsys.readouterr()
    contacts.apply(A, "third", "opted_out", CONSENTED_AT, source="reply")  # a new STOP
    contacts.apply(A, "acme", "opted_in", CONSENTED_AT, source="web-form")  # old consent again
    handle(sender, jobs_of(campaign([{"phone": A, "vars": {"first_name": "L"}}])))
    assert sent_to(sms) == []
    assert A not in " ".join(recorded_numbers())
