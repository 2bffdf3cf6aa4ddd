"""A deployed stack keeps every opt-out across the change to one item per number: tables written
by the previous version's code (``previous_contacts``) are read as they are until migrated,
written both ways meanwhile, then folded by ``python -m stopsms migrate``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from unittest import mock

import pytest

from stopsms.cli import main
from stopsms.dal import contacts
from stopsms.dal.number_items import NUMBER_ITEM
from stopsms.dal.tables import GLOBAL_SCOPE, ContactState, NumberItem
from stopsms.emulator.template import Stack
from stopsms.errors import StaleEvent
from stopsms.migration import migrate, settled
from tests.handlers.conftest import LambdaContext, load_function, sqs_record
from tests.handlers.sms import FakeSms
from tests.handlers.test_consent import record as consent_record
from tests.handlers.test_sender import campaign, handle, jobs_of
from tests.migration import previous_contacts as previous

T = datetime(2026, 9, 1, 9, tzinfo=UTC)
A, B, C, D, E = (f"+3361299100{n}" for n in range(1, 6))
ODD_BRAND = "a|b status_at|x"  # a brand may hold any character


@pytest.fixture
def legacy(aws: Stack) -> Iterator[None]:
    """The table as the previous version left it: its items, no marker."""
    ContactState(*contacts.MIGRATED).delete()
    contacts.forget_migrated()
    previous.apply(A, "acme", "opted_in", T, source="web-form")
    previous.apply(B, "acme", "opted_in", T, source="web-form")
    previous.apply(B, GLOBAL_SCOPE, "opted_out", T + timedelta(days=1), source="reply")
    previous.apply(C, "acme", "opted_in", T + timedelta(days=2), source="web-form")
    # an opt-out learnt late, older than C's opt-in: it dates the opt-out that opt-in replaced
    with pytest.raises(StaleEvent):
        previous.apply(C, "acme", "opted_out", T + timedelta(days=1), source="import")
    previous.apply(D, ODD_BRAND, "opted_out", T, source="reply")
    previous.apply(E, "acme", "opted_in", T, source="web-form")
    yield
    contacts.forget_migrated()


def states(phone: str) -> dict[str, tuple[str, datetime, datetime | None]]:
    return {s.scope: (s.status, s.status_at, s.opted_out_at) for s in contacts.state_of(phone)}


EXPECTED = {
    A: {"acme": ("opted_in", T, None)},
    B: {
        "acme": ("opted_in", T, None),
        GLOBAL_SCOPE: ("opted_out", T + timedelta(days=1), T + timedelta(days=1)),
    },
    C: {"acme": ("opted_in", T + timedelta(days=2), T + timedelta(days=1))},
    D: {ODD_BRAND: ("opted_out", T, T)},
}


@pytest.mark.usefixtures("legacy")
def test_before_the_migration_every_state_is_read_from_the_older_items() -> None:
    assert not contacts.migrated()
    for phone, expected in EXPECTED.items():
        assert states(phone) == expected
    assert contacts.lookup([B], "acme")[B][1] is not None  # B's STOPALL


@pytest.mark.usefixtures("legacy")
def test_the_sender_honours_the_older_items_before_the_migration(
    sender: ModuleType, sms: FakeSms
) -> None:
    request = campaign([{"phone": p, "vars": {"first_name": "Léa"}} for p in (A, B, D)])
    handle(sender, jobs_of(request))
    assert [m["DestinationPhoneNumber"] for m in sms.sent] == [A]  # B: STOPALL; D: no consent


@pytest.mark.usefixtures("legacy")
def test_a_decision_before_the_migration_is_judged_against_the_older_items() -> None:
    # A STOP older than B's stored STOPALL, and a START older than C's opt-in: both stale
    with pytest.raises(StaleEvent):
        contacts.apply(C, "acme", "opted_in", T + timedelta(days=1, hours=1), source="form")
    # A new STOP for A: in A's item, and in its older item for the previous version's readers
    contacts.apply(A, "acme", "opted_out", T + timedelta(days=3), source="reply")
    assert states(A)["acme"][0] == "opted_out"
    assert ContactState.get(A, "acme").status == "opted_out"
    assert NumberItem.get(A, NUMBER_ITEM).states["acme"].status == "opted_out"


@pytest.mark.usefixtures("legacy")
def test_migrate_folds_every_number_and_keeps_every_opt_out(
    sender: ModuleType, sms: FakeSms, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    assert "migrated: 6 per-scope item(s) folded into 5 number item(s)" in capsys.readouterr().out
    assert contacts.migrated()
    for phone, expected in EXPECTED.items():
        found = NumberItem.get(phone, NUMBER_ITEM).states
        assert {s: (v.status, v.status_at, v.opted_out_at) for s, v in found.items()} == expected
    # The older items are still there until dropped; the readers no longer need them
    assert main(["migrate", "--drop-legacy"]) == 0
    out = capsys.readouterr().out
    assert "already migrated" in out
    assert "deleted 6 per-scope item(s)" in out
    left = [i for i in ContactState.scan() if i.scope != NUMBER_ITEM]
    assert [i.phone for i in left] == [contacts.MIGRATED[0]]  # the marker alone
    for phone, expected in EXPECTED.items():
        assert states(phone) == expected
    request = campaign([{"phone": p, "vars": {"first_name": "Léa"}} for p in (A, B, C, D)])
    handle(sender, jobs_of(request))
    assert sorted(m["DestinationPhoneNumber"] for m in sms.sent) == [A, C]


@pytest.mark.usefixtures("legacy")
def test_an_interrupted_migration_run_again_ends_the_same() -> None:
    real = contacts.fold
    calls = 0

    def crashes_on_the_third(phone: str, legacy: object = None) -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("Lambda timed out")
        return real(phone, legacy)  # type: ignore[arg-type]

    with (
        mock.patch.object(contacts, "fold", side_effect=crashes_on_the_third),
        pytest.raises(RuntimeError),
    ):
        migrate()
    assert not contacts.migrated()  # no marker: every reader still reads the older items
    for phone, expected in EXPECTED.items():
        assert states(phone) == expected
    done = migrate()
    assert contacts.migrated()
    assert done.items == 6
    for phone, expected in EXPECTED.items():
        assert states(phone) == expected


@pytest.mark.usefixtures("legacy")
def test_the_stop_list_commands_wait_for_the_migration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["optouts", "export"]) != 0
    assert "run 'python -m stopsms migrate' first" in capsys.readouterr().err


NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stack", "until"),
    [
        (None, None),  # no stack named: a local stack, no previous version runs
        ({"CreationTime": NOW - timedelta(minutes=1)}, NOW + timedelta(minutes=14)),
        ({"LastUpdatedTime": NOW - timedelta(minutes=5)}, NOW + timedelta(minutes=10)),
        ({"LastUpdatedTime": NOW - timedelta(minutes=15)}, None),
        ({}, None),  # CloudFormation names no instant: nothing to wait for
    ],
)
def test_the_marker_waits_until_no_function_of_the_previous_version_can_run(
    stack: dict[str, datetime] | None, until: datetime | None
) -> None:
    assert settled(stack, NOW) == until


@pytest.mark.usefixtures("legacy")
def test_the_consent_function_writes_both_forms_with_its_own_role() -> None:
    # Before the marker a decision folds its number's older items first (a Query) and writes
    # both forms: the consent function's role must allow it (IAM is enforced here)
    consent_fn = load_function("consent")
    record = consent_record("opt_out", T + timedelta(days=4), phone=B, source="web-form")
    response = consent_fn.lambda_handler(
        {"Records": [sqs_record(record, "ConsentQueue")]}, LambdaContext()
    )
    assert response == {"batchItemFailures": []}
    assert states(B)["acme"][0] == "opted_out"
    assert ContactState.get(B, "acme").status == "opted_out"  # the older form too
    assert NumberItem.get(B, NUMBER_ITEM).states[GLOBAL_SCOPE].status == "opted_out"  # folded


@pytest.mark.usefixtures("legacy")
def test_the_sender_learns_an_aws_opt_out_with_its_own_role(
    sender: ModuleType, sms: FakeSms
) -> None:
    # End User Messaging refuses A as opted out: the sender records it for every brand
    sms.opted_out.add(A)
    request = campaign([{"phone": A, "vars": {"first_name": "Léa"}}])
    handle(sender, jobs_of(request))
    assert sms.sent == []
    assert states(A)[GLOBAL_SCOPE][0] == "opted_out"
