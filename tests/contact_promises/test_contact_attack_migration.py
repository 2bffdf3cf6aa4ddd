"""Attacks on the migration to one item per number, on tables the previous version's code wrote
(``tests.migration.previous_contacts``, kept verbatim)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from unittest import mock

import pytest

from stopsms.aws import clients
from stopsms.cli import main
from stopsms.dal import contacts
from stopsms.dal.number_items import NUMBER_ITEM
from stopsms.dal.tables import GLOBAL_SCOPE, ContactState, Delivery, NumberItem
from stopsms.emulator.template import Stack
from stopsms.errors import StaleEvent
from stopsms.migration import migrate
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
    assert NumberItem.get(A, NUMBER_ITEM).states == {s: v for s, v in before.items()}


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


@pytest.mark.xfail(
    strict=True,
    reason="BREAK: a previous-version STOP written after migrate folded that number is never "
    "read once the marker exists (DEPLOY.md: 'not even by a function of the previous version')",
)
@pytest.mark.usefixtures("legacy")
def test_a_previous_version_stop_during_migrate_is_honoured(
    sender: ModuleType, sms: FakeSms
) -> None:
    previous.apply(A, "acme", "opted_in", CONSENTED_AT, source="web-form")
    real = contacts.fold

    def old_lambda_stops(phone: str, found: object = None) -> int:
        done = real(phone, found)  # type: ignore[arg-type]
        # an inbound Lambda of the previous version, still in flight, records a STOP
        previous.apply(phone, "acme", "opted_out", CONSENTED_AT + timedelta(days=1), source="reply")
        return done

    with mock.patch.object(contacts, "fold", side_effect=old_lambda_stops):
        migrate()
    assert contacts.migrated()
    handle(sender, jobs_of(campaign([{"phone": A, "vars": {"first_name": "Léa"}}])))
    assert sent_to(sms) == []


@pytest.mark.xfail(
    strict=True,
    reason="BREAK: after the marker (and --drop-legacy) a late previous-version STOP lands in a "
    "per-scope item no reader or later migrate run reads (migrate only folds when unmarked)",
)
@pytest.mark.usefixtures("legacy")
def test_a_late_previous_version_stop_after_drop_legacy_is_honoured(
    sender: ModuleType, sms: FakeSms
) -> None:
    previous.apply(A, "acme", "opted_in", CONSENTED_AT, source="web-form")
    assert main(["migrate", "--drop-legacy"]) == 0
    previous.apply(A, "acme", "opted_out", CONSENTED_AT + timedelta(days=1), source="reply")
    assert main(["migrate"]) == 0  # the operator runs it again: would it fold the late STOP?
    handle(sender, jobs_of(campaign([{"phone": A, "vars": {"first_name": "Léa"}}])))
    assert sent_to(sms) == []


@pytest.mark.xfail(
    strict=True,
    reason="BREAK: before the marker, a number erased then given a per-scope item by the "
    "previous version gets an in-memory item (_with_legacy), so its stand-in is never read",
)
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


@pytest.mark.xfail(
    strict=True,
    reason="BREAK: same cause: an erased number with a previous-version STOP item is recorded "
    "under its real number in Deliveries (erased=False: stand-in unread before the marker)",
)
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
