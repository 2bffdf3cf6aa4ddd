"""Operator commands against moto tables: status, and the stop list out and back in.

The import is attacked the way real stop lists break: a stray Latin-1 byte, a blank brand
cell, a quote never closed, a DynamoDB failure half-way through, the same file twice, and an
export of one stack read back into another.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient

from stopsms.cli import main
from stopsms.consent.erasure import erase, erased_key
from stopsms.dal import contacts, evidence, stoplist
from stopsms.dal.number_items import NUMBER_ITEM
from stopsms.dal.tables import GLOBAL_SCOPE, ContactState, Evidence, NumberItem
from stopsms.emulator.template import Stack
from stopsms.ops import import_optouts
from stopsms.settings import get_settings

T0 = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
PHONE = "+33612345678"


def phone(n: int) -> str:
    return f"+336{n:08d}"


def opted_out(number: str, scope: str = GLOBAL_SCOPE) -> bool:
    state = contacts.lookup([number], scope)[number][0 if scope != GLOBAL_SCOPE else 1]
    return state is not None and state.status == "opted_out"


def run_import(path: Path, *options: str) -> int:
    return main(["optouts", "import", str(path), "--source", "old-provider", *options])


# --- status -----------------------------------------------------------------------------------


def test_status_shows_state_history_and_when_each_proof_expires(
    aws: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts.apply(PHONE, "acme", "opted_out", T0, source="reply")
    contacts.apply(PHONE, "globex", "opted_in", T0, source="web-form")
    for kind, expires in (("opt_out", None), ("opt_in", T0 + timedelta(days=1095))):
        evidence.append(
            Evidence(
                PHONE,
                evidence.event_key(T0, kind),
                kind=kind,
                brand="acme",
                source="reply",
                captured_at=T0,
                recorded_at=T0,
                text="STOP",
                expires_at=expires,
            )
        )
    assert main(["status", "06 12 34 56 78"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["phone"] == PHONE
    assert shown["state"] == [
        {"scope": "acme", "status": "opted_out", "since": T0.isoformat(), "source": "reply"},
        {
            "scope": "globex",
            "status": "opted_in",
            "since": T0.isoformat(),
            "source": "web-form",
            "relied_on_until": (T0 + timedelta(days=1095)).isoformat(),
        },
    ]
    assert [(h["kind"], h["expires_at"]) for h in shown["history"]] == [
        ("opt_in", (T0 + timedelta(days=1095)).isoformat()),
        ("opt_out", None),
    ]
    assert shown["erased"] is None
    assert main(["status", "12"]) == 2
    assert "too_short" in capsys.readouterr().err


def test_status_of_an_erased_number_shows_what_is_kept(
    aws: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts.apply(PHONE, "acme", "opted_out", T0, source="reply")
    erase(PHONE, get_settings())
    assert main(["status", PHONE]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["state"] == []
    assert shown["erased"]["kept_as"].startswith("a keyed hash")
    assert [s["scope"] for s in shown["erased"]["state"]] == ["every brand"]


def test_erasing_a_number_never_seen_says_so(
    aws: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["erase", "+33698765432", "--yes"]) == 0
    assert "nothing was stored for this number" in capsys.readouterr().out
    stand_in = erased_key("+33698765432", get_settings())
    assert opted_out(stand_in)  # and it still never receives marketing


# --- import -----------------------------------------------------------------------------------


def test_a_broken_line_is_refused_alone_and_a_summary_is_printed(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 303 lines (moto's transactions are slow: a real list has 100,000), one with a
    # quote never closed, and a Latin-1 byte on the last one
    rows = [f"{phone(n)},acme" for n in range(301)]
    rows[150] = f'{phone(150)},"acme'
    data = ("phone,brand\n" + "\n".join(rows)).encode() + b"\n+33699999999,soci\xe9t\xe9\n"
    source = tmp_path / "stop.csv"
    source.write_bytes(data)
    # When it is imported
    assert run_import(source) == 1
    out = capsys.readouterr()
    # Then each bad line is refused with its number, every other line is imported
    assert "refused line 152: has a quote that is never closed" in out.err
    assert "refused line 303: is not UTF-8 (byte 0xE9 at character 18)" in out.err
    assert "302 line(s): imported 300, already in force 0" in out.out
    assert "refused 2" in out.out
    assert opted_out(phone(151), "acme")  # the line after the broken quote was not swallowed
    assert opted_out(phone(300), "acme")
    assert not opted_out(phone(150), "acme")


def test_a_blank_brand_cell_means_no_brand_given(aws: Stack, tmp_path: Path) -> None:
    source = tmp_path / "stop.csv"
    source.write_text(f"phone,brand\n{phone(1)}, \n{phone(2)},Acme\n{phone(3)},\n")
    assert run_import(source, "--brand", "Globex") == 0
    assert opted_out(phone(1), "globex")
    assert opted_out(phone(2), "acme")  # brands are case-insensitive
    assert opted_out(phone(3), "globex")
    assert {e.brand for n in (1, 3) for e in evidence.history(phone(n))} == {"globex"}


@pytest.mark.parametrize(
    ("failure", "why"),
    [(RuntimeError("ServiceUnavailable"), "RuntimeError"), (KeyboardInterrupt(), "Ctrl-C")],
    ids=["dynamodb", "ctrl_c"],
)
def test_an_interrupted_import_is_completed_by_running_it_again(
    aws: Stack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    failure: BaseException,
    why: str,
) -> None:
    # Given an import whose second transaction fails (DynamoDB unavailable, or the operator's
    # Ctrl-C: the summary is printed all the same)
    source = tmp_path / "stop.csv"
    source.write_text("phone\n" + "".join(f"{phone(n)}\n" for n in range(120)))
    real_write = stoplist.write
    calls = {"n": 0}

    def failing_write(rows: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise failure
        return real_write(rows)

    monkeypatch.setattr(stoplist, "write", failing_write)
    # When it runs, then runs again
    assert run_import(source) == 1
    out = capsys.readouterr().out
    assert "imported 50" in out
    assert f"interrupted at line 52 ({why})" in out  # the first line not written
    assert run_import(source) == 0
    # Then every number has both its suppression and its proof, each exactly once
    assert "already in force 50" in capsys.readouterr().out
    for n in range(120):
        assert opted_out(phone(n))
        assert [e.kind for e in evidence.history(phone(n))] == ["opt_out"]


def test_proof_without_suppression_left_by_an_old_import_is_completed(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the state an interrupted import of an earlier version left: evidence, no state
    source = tmp_path / "stop.csv"
    source.write_text(f"phone,opted_out_at\n{PHONE},{T0.isoformat()}\n")
    assert run_import(source) == 0
    NumberItem(PHONE, NUMBER_ITEM).delete()
    assert not opted_out(PHONE)
    capsys.readouterr()
    # When the import runs again
    assert run_import(source) == 0
    # Then the opt-out is in force again, judged by the state and not by the evidence
    assert "imported 1" in capsys.readouterr().out
    assert opted_out(PHONE)
    assert len(evidence.history(PHONE)) == 1


def test_a_later_opt_in_stands_and_a_later_stop_counts_as_in_force(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts.apply(phone(1), "acme", "opted_in", T0 + timedelta(days=1), source="web-form")
    contacts.apply(phone(2), "acme", "opted_out", T0 - timedelta(days=1), source="reply")
    source = tmp_path / "stop.csv"
    source.write_text(
        f"phone,brand,opted_out_at\n{phone(1)},acme,{T0.isoformat()}\n"
        f"{phone(2)},acme,{T0.isoformat()}\n{phone(2)},acme,{T0.isoformat()}\n"
    )
    assert run_import(source) == 0
    assert "imported 0, already in force 2, superseded by a later opt-in 1" in (
        capsys.readouterr().out
    )
    assert not opted_out(phone(1), "acme")
    # The superseded opt-out's proof is kept, and dates the opt-out the opt-in replaced (in
    # force again if that opt-in lapses)
    assert [e.kind for e in evidence.history(phone(1))] == ["opt_out"]
    assert NumberItem.get(phone(1), NUMBER_ITEM).states["acme"].opted_out_at == T0


def test_dates_must_be_past_and_carry_an_offset(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "stop.csv"
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    source.write_text(
        f"phone,opted_out_at\n{phone(1)},{future}\n{phone(2)},2025-01-02T10:00:00\n"
        f"{phone(3)},yesterday\n12,\n{phone(4)},2025-01-02T10:00:00Z\n"
    )
    assert run_import(source) == 1
    err = capsys.readouterr().err
    assert "line 2: opted_out_at is in the future" in err
    assert "line 3: opted_out_at needs an offset" in err
    assert "line 4: opted_out_at is not an ISO-8601 date-time" in err
    assert "line 5: not a valid phone number (too_short)" in err
    assert opted_out(phone(4))


def test_export_then_import_round_trips_exactly(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given opt-outs of every kind: per brand, every brand, an erased number, an opt-in
    key = evidence.event_key(T0, "inbound-1")
    contacts.apply(phone(1), "acme", "opted_out", T0, source="reply", evidence_key=key)
    contacts.apply(phone(1), "globex", "opted_out", T0 - timedelta(hours=3), source="import:x")
    contacts.apply(phone(2), GLOBAL_SCOPE, "opted_out", T0, source="aws-end-user-messaging")
    contacts.apply(phone(3), "acme", "opted_in", T0, source="web-form")
    contacts.apply(phone(4), "acme", "opted_out", T0, source="reply")
    erase(phone(4), get_settings())
    # When they are exported, imported into a new stack and exported again
    first, second = _round_trip(aws, tmp_path)
    # Then both exports hold the same rows, column for column
    assert second == first
    assert len(first) == 4
    assert {row["scope"] for row in first} == {"acme", "globex", GLOBAL_SCOPE}
    assert any(row["phone"].startswith("erased#") for row in first)


def test_the_header_must_name_a_phone_column(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("numero\n0612345678\n")
    assert run_import(source) == 2
    out = capsys.readouterr()
    assert "line 1 must name the columns, one of them 'phone'" in out.err
    assert "0 line(s) read: nothing imported" in out.out  # a summary all the same
    source.write_bytes(b"\xef\xbb\xbfPHONE;brand\n")
    assert run_import(source) == 2
    source.write_text("phone,scope,brand\n")
    assert run_import(source) == 2
    assert "names both 'scope' and 'brand'" in capsys.readouterr().err


def test_writes_are_batched(aws: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 300 rows, and every AWS request of the process counted (PynamoDB's too)
    calls: list[str] = []
    original = BaseClient._make_api_call

    def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    data = ("phone\n" + "".join(f"{phone(n)}\n" for n in range(300))).encode()
    # When imported
    result = import_optouts(iter([data]), "bulk")
    # Then per 100 rows one read of their numbers' items and one of the stand-ins of those
    # without one (what an erasure left), one transaction per 50 rows (2 items each), and the
    # erasure key once: the batch APIs' floor
    assert result.imported == 300
    assert sorted(set(calls)) == ["BatchGetItem", "GetSecretValue", "TransactWriteItems"]
    assert calls.count("GetSecretValue") == 1
    assert (calls.count("BatchGetItem"), calls.count("TransactWriteItems")) == (6, 6)


def _round_trip(aws: Stack, tmp_path: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Export, empty the tables (a new stack), import the export, export again: both rows."""
    first = tmp_path / "first.csv"
    assert main(["optouts", "export", "-o", str(first)]) == 0
    for table in ("ContactState", "Evidence"):
        _empty(aws, table)
    assert run_import(first) == 0
    second = tmp_path / "second.csv"
    assert main(["optouts", "export", "-o", str(second)]) == 0
    return _rows(first), _rows(second)


def _empty(aws: Stack, logical: str) -> None:
    model: type[ContactState] | type[Evidence] = (
        ContactState if logical == "ContactState" else Evidence
    )
    for item in model.scan():
        item.delete()


def _rows(path: Path) -> list[dict[str, str]]:
    return sorted(csv.DictReader(io.StringIO(path.read_text())), key=lambda r: list(r.values()))


# --- what the adversarial pass found -----------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        # "CSV (Macintosh)": CR line ends only
        b"phone,brand\r" + b"".join(f"+336{n:08d},acme\r".encode() for n in range(5)),
        # a lone CR inside an LF file
        b"phone,brand\n+33600000000,acme\r+33600000001,acme\n+33600000002,acme\n"
        b"+33600000003,acme\r\n+33600000004,acme",
    ],
)
def test_every_line_end_is_a_line_end(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    source = tmp_path / "stop.csv"
    source.write_bytes(data)
    assert run_import(source) == 0
    assert "5 line(s): imported 5" in capsys.readouterr().out
    assert all(opted_out(phone(n), "acme") for n in range(5))


def test_a_placeholder_date_is_one_refused_line_never_an_interruption(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # .NET's DateTime.MinValue with a local offset, as some providers export "no date"
    source = tmp_path / "stop.csv"
    source.write_text(
        "phone,opted_out_at,recorded_at\n"
        f"{phone(1)},2025-01-02T10:00:00+01:00,\n"
        f"{phone(2)},0001-01-01T00:00:00+01:00,\n"
        f"{phone(3)},1970-01-01T00:00:00Z,\n"
        f"{phone(4)},2025-01-02T10:00:00+01:00,0001-01-01T00:00:00+01:00\n"
        f"{phone(5)},2025-01-02T10:00:00+01:00,\n"
    )
    assert run_import(source) == 1
    out = capsys.readouterr()
    assert "5 line(s): imported 2" in out.out
    assert "interrupted" not in out.out
    assert "line 3: opted_out_at is before 2000: a placeholder, not a real date" in out.err
    assert "line 4: opted_out_at is before 2000" in out.err
    assert "line 5: recorded_at is before 2000" in out.err
    assert opted_out(phone(1))
    assert opted_out(phone(5))


@pytest.mark.parametrize(
    "note",
    [
        "call-centre\nagent 42",
        # Many lines, one of which looks like a row (second adversarial pass): one cell still
        "agent notes:\n" + "\n".join(f"- remark {i}" for i in range(20)) + "\n+33699999999,*",
        "\n" * 511 + "x",  # the longest source a consent record may carry: 512 characters
    ],
    ids=["one_break", "twenty_lines", "512_breaks"],
)
def test_a_source_holding_line_breaks_round_trips(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], note: str
) -> None:
    # Given an upstream opt-out whose free-text source holds line breaks (contract §3)
    contacts.apply(phone(1), "acme", "opted_out", T0, source=note)
    contacts.apply(phone(2), "acme", "opted_out", T0, source="reply")
    # When it is exported, imported into a new stack and exported again
    first, second = _round_trip(aws, tmp_path)
    # Then nothing was lost or changed
    assert second == first
    assert opted_out(phone(1), "acme")


def test_a_stray_quote_costs_its_line_only(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "stop.csv"
    lines = [f'{phone(1)},"acme'] + [f"{phone(n)},acme" for n in range(2, 20)]
    lines.append(f'{phone(20)},O"Brien')  # a quote inside a cell is a plain character
    source.write_text("phone,source\n" + "\n".join(lines) + "\n")
    assert run_import(source) == 1
    out = capsys.readouterr()
    assert "refused line 2: has a quote that is never closed" in out.err
    assert "20 line(s): imported 19" in out.out
    assert all(opted_out(phone(n)) for n in range(2, 21))


def test_a_header_with_a_number_in_it_names_no_number(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "noheader.csv"
    for written in ("06\u201133\u201144\u201155\u201166", "06\u202f33\u202f44\u202f55\u202f66"):
        source.write_text(f"{written},acme\n", encoding="utf-8")
        assert run_import(source) == 2
        err = capsys.readouterr().err
        assert "line 1 must name the columns" in err
        assert "633445566" not in "".join(c for c in err if c.isdigit())


def test_erasing_twice_says_it_was_done_before(
    aws: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts.apply(PHONE, "acme", "opted_out", T0, source="reply")
    assert main(["erase", PHONE, "--yes"]) == 0
    assert "erased: 1 state item(s)" in capsys.readouterr().out
    assert main(["erase", PHONE, "--yes"]) == 0
    assert "already erased on" in capsys.readouterr().out


def test_a_stop_list_saved_as_utf16_says_so_and_imports_nothing(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "utf16.csv"
    source.write_text(f"phone,brand\n{phone(1)},acme\n", encoding="utf-16")
    assert run_import(source) == 2
    out = capsys.readouterr()
    assert "line 1 is not UTF-8 (byte 0xFF at character 1): save the file as UTF-8" in out.err
    assert "nothing imported" in out.out
    assert not opted_out(phone(1), "acme")


def test_a_cell_ending_with_a_control_character_is_a_refused_line(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Python strips U+0085 as a blank: the cells are checked as written
    source = tmp_path / "stop.csv"
    source.write_text(f"phone,brand\n{phone(1)},acme\x85\n{phone(2)}\x85,acme\n{phone(3)},acme\n")
    assert run_import(source) == 1
    out = capsys.readouterr()
    assert "line 2: a brand name cannot hold the control character U+0085" in out.err
    assert "line 3: not a valid phone number (control_character)" in out.err
    assert "imported 1" in out.out
