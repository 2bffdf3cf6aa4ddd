"""Stop-list import: rows per second and DynamoDB requests per 1,000 rows.

A stop list of ``ROWS`` numbers (every third with a brand, every fifth with a date; 1 % of
them already opted out, so the "already in force" path is taken too) is imported into the
template's tables in moto, in process, twice in the same run:

* **StopSMS** (``stopsms.ops.import_optouts``): one ``BatchGetItem`` of 100 states, then
  the rows to write in ``TransactWriteItems`` of 50 rows (each row's evidence and state
  together, conditional);
* **naive**: what a straightforward import does, row by row: ``GetItem`` of the state, then a
  conditional ``PutItem`` of the evidence and one of the state.

Every AWS call is counted at botocore's ``_make_api_call``. The floor is what the same rows
cost with full batches: 100 keys per read and 100 items (50 rows) per transaction, 30
requests per 1,000 rows. Rows per second are the emulator's (moto answers more slowly than
DynamoDB, and its transactions copy the tables they write, a cost that grows with the table):
the rows per second of the two designs in moto say little about DynamoDB, where an import,
one request at a time, is bound by its round trips: the ratio of requests is its speed ratio.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from unittest import mock

import boto3
from moto import mock_aws

from benchmarks.figures import Figure
from benchmarks.meter import Meter, for_tables, metering
from stopsms.aws import clients
from stopsms.dal import contacts, evidence
from stopsms.dal.number_items import NUMBER_ITEM, field
from stopsms.dal.tables import Evidence, NumberItem, bind, reset_connections
from stopsms.emulator import template
from stopsms.emulator.moto_fixes import mend_moto
from stopsms.ops import import_optouts
from stopsms.settings import Settings

SECTION = "Stop-list import"
ROWS = 5_000  # moto copies the tables at each transaction: larger lists only measure that
QUICK_ROWS = 1_000
REGION = "eu-west-3"
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def stop_list(rows: int) -> bytes:
    lines = ["phone,brand,opted_out_at"]
    for n in range(rows):
        brand = "acme" if n % 3 == 0 else ""
        at = (T0 + timedelta(minutes=n)).isoformat() if n % 5 == 0 else ""
        lines.append(f"+336{n:08d},{brand},{at}")
    return ("\n".join(lines) + "\n").encode()


@contextlib.contextmanager
def tables() -> Iterator[Meter]:
    """A fresh emulated account with the template's tables, bound; a meter of its requests
    (not counting yet: ``metering(meter)``)."""
    fake = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    with mock.patch.dict(os.environ, fake), mock_aws():
        stack = template.create(
            {
                name: boto3.client(name, region_name=REGION)
                for name in ("sqs", "sns", "dynamodb", "s3", "secretsmanager")
            }
        )
        mend_moto()  # where moto departs from DynamoDB (speed and atomicity)
        clients.reset()
        reset_connections()
        bind(
            Settings(
                contact_state_table=stack.tables["ContactStateTable"],
                evidence_table=stack.tables["EvidenceTable"],
                campaigns_table=stack.tables["CampaignsTable"],
                deliveries_table=stack.tables["DeliveriesTable"],
            )
        )
        yield for_tables(stack.tables)


def seed(rows: int) -> None:
    """1 % of the numbers are opted out already (another source)."""
    for n in range(0, rows, 100):
        contacts.apply(f"+336{n:08d}", "*", "opted_out", T0, source="reply")


def naive(data: bytes, source: str) -> int:
    """Row by row: read the number's item, then put the evidence and the state, each
    conditional (no erasure check: the naive design does not know of one)."""
    now = datetime.now(UTC)
    imported = 0
    for line in data.decode().splitlines()[1:]:
        phone, brand, at_text = line.split(",")
        scope = brand or "*"
        at = datetime.fromisoformat(at_text) if at_text else now
        try:
            state = NumberItem.get(phone, NUMBER_ITEM, consistent_read=True).states.get(scope)
        except NumberItem.DoesNotExist:
            state = None
        if state is not None and state.status == "opted_out":
            continue
        key = evidence.event_key(at, f"import-{phone}-{scope}")
        Evidence(
            phone,
            key,
            kind="opt_out",
            brand=scope,
            source=f"import:{source}",
            captured_at=at,
            recorded_at=now,
        ).save(condition=Evidence.phone.does_not_exist())
        when = field("status_at", scope)
        NumberItem(phone, NUMBER_ITEM).update(
            actions=[
                field("status", scope).set("opted_out"),
                when.set(at),
                field("source", scope).set(f"import:{source}"),
                field("evidence_key", scope).set(key),
                field("updated_at", scope).set(now),
            ],
            condition=when.does_not_exist() | (when <= at),
        )
        imported += 1
    return imported


def run(rows: int, design: str) -> tuple[float, Meter, int]:
    """(rows per second, its requests and units, rows imported) of one design on a fresh
    account."""
    data = stop_list(rows)
    with tables() as meter:
        seed(rows)
        with metering(meter):
            started = time.perf_counter()
            if design == "stopsms":
                imported = import_optouts(iter([data]), "bench").imported
            else:
                imported = naive(data, "bench")
            elapsed = time.perf_counter() - started
    return rows / elapsed, meter, imported


def measure(quick: bool = False) -> list[Figure]:
    rows = QUICK_ROWS if quick else ROWS
    ours_rate, ours, ours_imported = run(rows, "stopsms")
    naive_rate, theirs, naive_imported = run(rows, "naive")
    ours_calls, naive_calls = ours.requests(), theirs.requests()
    if ours_imported != naive_imported:
        raise AssertionError(f"the designs disagree: {ours_imported} vs {naive_imported}")
    per_1k = ours_calls * 1000 / rows
    floor = 30.0  # 10 reads of 100 keys + 20 transactions of 100 items, per 1,000 rows
    return [
        Figure(
            SECTION,
            f"rows per second, StopSMS ({rows:,} rows)",
            ours_rate,
            "rows/s",
            key="import_rows_per_s",
        ),
        Figure(SECTION, "rows per second, naive (same run)", naive_rate, "rows/s"),
        # No target in the emulator: moto's TransactWriteItems copies the tables it writes,
        # a cost that grows with their size and that DynamoDB does not have.
        Figure(SECTION, "speed in moto, StopSMS / naive", ours_rate / naive_rate, "×"),
        # On DynamoDB an import is bound by round trips (one at a time): this ratio is its speed.
        Figure(
            SECTION,
            "round trips, naive / StopSMS",
            naive_calls / ours_calls,
            "×",
            "≥ 10×",
            naive_calls >= 10 * ours_calls,
        ),
        Figure(
            SECTION,
            "DynamoDB requests per 1,000 rows, StopSMS",
            per_1k,
            "requests",
            f"≤ 1.1 × floor ({floor:.0f})",
            per_1k <= 1.1 * floor,
        ),
        Figure(
            SECTION,
            "DynamoDB requests per 1,000 rows, naive",
            naive_calls * 1000 / rows,
            "requests",
        ),
        *_units(ours, theirs, rows),
    ]


def _units(ours: Meter, theirs: Meter, rows: int) -> list[Figure]:
    """Units per 1,000 rows. Each row's evidence and state are written together in a
    transaction (twice the units of single writes): the price of never keeping one without the
    other when an import is interrupted."""
    per_1k = 1000 / rows
    mine, naive_units = ours.units_of(), theirs.units_of()
    return [
        Figure(
            SECTION,
            f"DynamoDB read units per 1,000 rows (naive: {naive_units.read * per_1k:,.0f})",
            mine.read * per_1k,
            "units",
        ),
        Figure(
            SECTION,
            f"DynamoDB write units per 1,000 rows (naive: {naive_units.write * per_1k:,.0f})",
            (mine.write + mine.index) * per_1k,
            "units",
        ),
    ]
