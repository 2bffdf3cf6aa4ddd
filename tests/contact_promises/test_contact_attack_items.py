"""Attacks on the number's item itself (migrated tables): scope names that collide with the
item's own names, the stop-list export and import, out-of-order and duplicate decisions."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from unittest import mock

import pytest

from stopsms.aws import clients
from stopsms.cli import main
from stopsms.consent import decisions
from stopsms.dal import contacts
from stopsms.dal.number_items import NUMBER_ITEM
from stopsms.dal.tables import GLOBAL_SCOPE, ContactState, NumberItem
from stopsms.emulator.template import Stack
from stopsms.errors import StaleEvent
from stopsms.ops import export_optouts, import_optouts
from stopsms.rules.brands import canonical_brand
from tests.handlers.sms import FakeSms
from tests.handlers.test_sender import CONSENTED_AT, campaign, handle, jobs_of
from tests.migration import previous_contacts as previous

T = datetime(2026, 9, 1, 9, tzinfo=UTC)
A, B, C, D = (f"+3361299300{n}" for n in range(1, 5))
DAY = timedelta(days=1)


@pytest.fixture
def table(aws: Stack) -> Iterator[None]:
    contacts.forget_migrated()
    assert contacts.migrated()  # a new stack starts migrated
    yield
    contacts.forget_migrated()


def sent_to(sms: FakeSms) -> list[str]:
    return [m["DestinationPhoneNumber"] for m in sms.sent]


def job(phone: str, brand: str = "acme") -> list[dict[str, Any]]:
    return jobs_of(campaign([{"phone": phone, "vars": {"first_name": "Léa"}}], brand=brand))


# --- scope names the item uses itself ---------------------------------------------------------


@pytest.mark.usefixtures("table")
def test_a_brand_named_like_the_erasure_scope_cannot_undo_a_stopall(
    sender: ModuleType, sms: FakeSms
) -> None:
    brand = canonical_brand("#erased")
    contacts.apply(A, "acme", "opted_in", CONSENTED_AT, source="web-form")
    contacts.apply(A, GLOBAL_SCOPE, "opted_out", CONSENTED_AT + DAY, source="reply")
    contacts.apply(A, brand, "opted_in", CONSENTED_AT + 2 * DAY, source="web-form")
    handle(sender, job(A))
    assert sent_to(sms) == []


@pytest.mark.usefixtures("table")
def test_a_previous_version_stop_for_brand_hash_survives_the_migration() -> None:
    ContactState(*contacts.MIGRATED).delete()
    contacts.forget_migrated()
    brand = canonical_brand("#")
    previous.apply(A, brand, "opted_out", T, source="reply")
    assert main(["migrate"]) == 0
    assert [(s.scope, s.status) for s in contacts.state_of(A)] == [(brand, "opted_out")]


# --- the stop list ------------------------------------------------------------------------------


def export() -> str:
    out = io.StringIO()
    export_optouts(out)
    return out.getvalue()


def rows(text: str) -> set[tuple[str, ...]]:
    return {tuple(r) for r in list(csv.reader(io.StringIO(text)))[1:]}


def wipe_contacts() -> None:
    """'Elsewhere': the same account with an empty contact table (its marker kept)."""
    for item in ContactState.scan():
        if (item.phone, item.scope) != contacts.MIGRATED:
            ContactState(item.phone, item.scope).delete()


def some_state(capsys: pytest.CaptureFixture[str]) -> None:
    contacts.apply(A, "acme", "opted_out", T, source="reply", evidence_key="k1")
    contacts.apply(A, GLOBAL_SCOPE, "opted_out", T + DAY, source="reply")
    contacts.apply(A, "a|b #c café", "opted_out", T, source="reply")
    contacts.apply(B, "acme", "opted_in", T + 2 * DAY, source="web-form")
    with pytest.raises(StaleEvent):
        contacts.apply(B, "acme", "opted_out", T + DAY, source="reply")
    contacts.apply(C, "acme", "opted_out", T, source="reply")
    assert main(["erase", C, "--yes"]) == 0
    capsys.readouterr()


@pytest.mark.usefixtures("table")
def test_the_export_holds_opt_outs_only_never_the_migration_marker(
    capsys: pytest.CaptureFixture[str],
) -> None:
    some_state(capsys)
    text = export()
    assert contacts.MIGRATED[0] not in text
    assert {r[0] for r in rows(text) if not r[0].startswith("erased#")} == {A}


@pytest.mark.usefixtures("table")
def test_export_then_import_elsewhere_exports_the_same(
    capsys: pytest.CaptureFixture[str],
) -> None:
    some_state(capsys)
    first = export()
    wipe_contacts()
    result = import_optouts([first.encode()], "elsewhere")
    assert result.interrupted is None
    assert [r for r in result.refused if contacts.MIGRATED[0] not in r] == []
    assert rows(export()) == rows(first)
    # the erased number is still suppressed, though its number never appears
    assert C not in first
    assert contacts.suppression([C])[C].everyone.status == "opted_out"  # type: ignore[union-attr]


STOP_LIST = (
    "phone,scope,opted_out_at\n"
    f"{A},acme,2026-09-01T09:00:00+00:00\n"
    f"{A},a|b #c,2026-09-01T09:00:00+00:00\n"
    f"{A},*,2026-09-02T09:00:00+00:00\n"
    f"{B},acme,2026-09-01T09:00:00+00:00\n"
    f"{A},café,2026-09-03T09:00:00+00:00\n"
    f"{A},acme,2026-09-01T09:00:00+00:00\n"
)
EXPECTED = {
    A: {"acme": T, "a|b #c": T, GLOBAL_SCOPE: T + DAY, "café": T + 2 * DAY},
    B: {"acme": T},
}


def opted_out_now() -> dict[str, dict[str, datetime]]:
    out: dict[str, dict[str, datetime]] = {}
    for phone in (A, B):
        states = contacts.state_of(phone)
        assert all(s.status == "opted_out" for s in states)
        out[phone] = {s.scope: s.status_at for s in states}
    return out


@pytest.mark.usefixtures("table")
def test_several_brands_of_one_number_in_one_file() -> None:
    result = import_optouts([STOP_LIST.encode()], "other")
    assert (result.imported, result.in_force, result.refused) == (5, 1, [])
    assert opted_out_now() == EXPECTED


@pytest.mark.parametrize("crash_on", [1, 2, 3])
@pytest.mark.usefixtures("table")
def test_an_interrupted_import_run_again_ends_the_same(crash_on: int) -> None:
    real = decisions.record_batch
    calls = 0

    def crashing(opt_outs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == crash_on:
            raise RuntimeError("connection reset")
        return real(opt_outs)

    with mock.patch.object(decisions, "record_batch", side_effect=crashing):
        first = import_optouts([STOP_LIST.encode()], "other")
    assert first.interrupted is not None
    again = import_optouts([STOP_LIST.encode()], "other")
    assert again.interrupted is None
    assert again.refused == []
    assert opted_out_now() == EXPECTED


@pytest.mark.usefixtures("table")
def test_an_import_for_an_erased_number_keeps_it_out_of_deliveries(
    sender: ModuleType, sms: FakeSms, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts.apply(D, "acme", "opted_in", CONSENTED_AT, source="web-form")
    assert main(["erase", D, "--yes"]) == 0
    capsys.readouterr()
    contacts.apply(D, "acme", "opted_in", CONSENTED_AT, source="web-form")  # old consent again
    text = f"phone,scope,opted_out_at\n{D},other,2026-09-01T09:00:00+00:00\n"
    assert import_optouts([text.encode()], "other").imported == 1
    contacts.apply(D, "third", "opted_out", CONSENTED_AT, source="reply")  # a new STOP
    handle(sender, job(D))
    assert sent_to(sms) == []
    table = clients.dynamodb().scan(TableName="DeliveriesTable")["Items"]
    assert D not in str(table)


# --- out-of-order and duplicate decisions -------------------------------------------------------

DECISIONS: list[tuple[str, datetime, str | None, datetime | None]] = [
    ("opted_in", T + DAY, "e1", T + 30 * DAY),  # a consent with its proof's end
    ("opted_out", T, None, None),  # a STOP learnt late
    ("opted_out", T + 2 * DAY, None, None),
    ("opted_in", T + 2 * DAY, "e2", None),  # same instant as that STOP: the STOP wins
]


def decide(phone: str, decision: tuple[str, datetime, str | None, datetime | None]) -> None:
    status, at, key, until = decision
    with contextlib.suppress(StaleEvent):
        contacts.apply(
            phone, "acme", status, at, source="x", evidence_key=key, proof_expires_at=until
        )  # type: ignore[arg-type]


def stored(phone: str) -> tuple[Any, ...]:
    s = NumberItem.get(phone, NUMBER_ITEM).states["acme"]
    return (s.status, s.status_at, s.evidence_key, s.opted_out_at, s.proof_expires_at)


@pytest.mark.usefixtures("table")
def test_every_order_and_every_retry_converges_on_one_state() -> None:
    finals = set()
    for n, order in enumerate(itertools.permutations(DECISIONS)):
        phone = f"+336129940{n:02d}"
        for decision in order:
            decide(phone, decision)
        decide(phone, order[0])  # a retry of the first
        decide(phone, order[-1])  # and of the last
        finals.add(stored(phone))
    assert finals == {("opted_out", T + 2 * DAY, None, T + 2 * DAY, None)}


@pytest.mark.usefixtures("table")
def test_a_lapsed_opt_in_restores_the_latest_opt_out_whatever_the_order() -> None:
    late = [("opted_in", T + 3 * DAY, "e1", T + 4 * DAY), *DECISIONS[1:3]]
    finals = set()
    for n, order in enumerate(itertools.permutations(late)):
        phone = f"+336129950{n:02d}"
        for decision in order:
            decide(phone, decision)
        finals.add(stored(phone))
    assert finals == {("opted_in", T + 3 * DAY, "e1", T + 2 * DAY, T + 4 * DAY)}


@pytest.mark.usefixtures("table")
def test_an_imported_opt_out_and_a_later_opt_in_converge_in_either_order() -> None:
    line = "phone,scope,opted_out_at,evidence_key\n{},acme,2026-09-01T09:00:00+00:00,imp1\n"
    finals = set()
    for phone, import_first in ((A, True), (B, False)):
        steps = [
            lambda p=phone: import_optouts([line.format(p).encode()], "other"),
            lambda p=phone: contacts.apply(
                p, "acme", "opted_in", T + DAY, source="web-form", evidence_key="in1"
            ),
        ]
        for step in steps if import_first else steps[::-1]:
            step()
        s = NumberItem.get(phone, NUMBER_ITEM).states["acme"]
        finals.add((s.status, s.status_at, s.evidence_key, s.opted_out_at, s.recorded_at))
    assert finals == {("opted_in", T + DAY, "in1", T, None)}
