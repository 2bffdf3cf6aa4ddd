"""Operator commands against moto tables: status, opt-out export and import."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stopsms.cli import main
from stopsms.dal import contacts, evidence
from stopsms.dal.tables import GLOBAL_SCOPE, Evidence
from stopsms.local.template import Stack

T0 = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
PHONE = "+33612345678"


def test_status_shows_state_and_history(aws: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    contacts.apply(PHONE, "acme", "opted_out", T0, source="reply")
    evidence.append(
        Evidence(
            PHONE,
            evidence.event_key(T0, "m1"),
            kind="opt_out",
            brand="acme",
            source="reply",
            captured_at=T0,
            recorded_at=T0,
            text="STOP",
        )
    )
    assert main(["status", "06 12 34 56 78"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["phone"] == PHONE
    assert shown["state"] == [
        {"scope": "acme", "status": "opted_out", "since": T0.isoformat(), "source": "reply"}
    ]
    assert [(h["kind"], h["text"]) for h in shown["history"]] == [("opt_out", "STOP")]
    assert main(["status", "12"]) == 2
    assert "too_short" in capsys.readouterr().err


def test_import_then_export_round_trip(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "old-provider.csv"
    source.write_text(
        "phone,opted_out_at\n"
        "06 12 34 56 78,2025-01-02T10:00:00+01:00\n"
        "+33698765432,\n"
        "12,\n"
        "0611111111,2025-01-02T10:00:00\n",
        encoding="utf-8",
    )
    assert main(["optouts", "import", str(source), "--source", "smspartner-2025"]) == 1
    out = capsys.readouterr()
    assert "imported 2, already known 0, refused 2" in out.out
    assert "line 4" in out.err
    assert "line 5" in out.err
    # Importing the same file again changes nothing
    assert main(["optouts", "import", str(source), "--source", "smspartner-2025"]) == 1
    assert "imported 0, already known 2" in capsys.readouterr().out
    # Every imported number is suppressed for every brand, with its evidence
    brand, everyone = contacts.lookup([PHONE], "acme")[PHONE]
    assert brand is None
    assert everyone is not None
    assert everyone.status == "opted_out"
    assert [e.source for e in evidence.history(PHONE)] == ["import:smspartner-2025"]
    exported = tmp_path / "export.csv"
    assert main(["optouts", "export", "-o", str(exported)]) == 0
    rows = list(csv.DictReader(io.StringIO(exported.read_text())))
    assert sorted(r["phone"] for r in rows) == [PHONE, "+33698765432"]
    assert {r["scope"] for r in rows} == {GLOBAL_SCOPE}
    assert rows[0]["source"] == "import:smspartner-2025"


def test_import_needs_a_phone_column(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("numero\n0612345678\n")
    assert main(["optouts", "import", str(source), "--source", "x"]) == 2
    assert "'phone' column" in capsys.readouterr().err
