"""S3 audiences (contract §2): a CSV with a header row, checked whole, then streamed.

Format: UTF-8, with or without a byte-order mark; a header row naming the columns, of which
``phone`` (any case) is required and every other becomes a variable of the recipient; fields
quoted per RFC 4180 (a comma inside quotes, ``""`` for a quote), even over a line break;
CRLF or LF line ends; blank lines are skipped. An empty cell is a missing variable (``None``).

**Checked whole, before anyone is queued.** A campaign is refused as a whole, having sent
nothing, or accepted whole: :func:`check` reads the file once (in slices, like the fan-out)
and lists its problems by line: bytes that are not UTF-8, a quote never closed, a record
that cannot be parsed, a row with more non-empty cells than the header names (a shifted
column: the SMS would greet people by the wrong name), a header without a ``phone`` column or
with a column twice, and a recipient whose text would need more than ``max_segments`` parts.
Only then does :func:`recipients` stream the rows to the send queue. A row whose number is
not valid is not a problem of the file: it is that recipient's outcome (``invalid_number``),
decided by the sender.

The file is never loaded whole: each slice reads from a byte offset (``Range: bytes=N-``),
and every record comes with the byte offset just after it (``stopsms.rules.csvrecords``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from stopsms.errors import StopSmsError
from stopsms.models import Recipient, VarValue
from stopsms.rules.csvrecords import Record, records
from stopsms.rules.phones import redact

PHONE_COLUMN: Final = "phone"
MAX_PHONE_CHARS: Final = 64  # SendJob.phone; anything longer is no number anyway
MAX_PROBLEMS: Final = 10  # a refusal lists this many; reading further would only repeat them
_CLOCK_EVERY: Final = 1000  # records between two looks at the remaining time


class AudienceError(StopSmsError):
    """The audience file cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Row:
    """One recipient of the file and the byte offset just after its record."""

    recipient: Recipient
    end: int


@dataclass(frozen=True)
class Header:
    """The columns of the file: where the phone is, and the variables' names."""

    columns: tuple[str, ...]
    phone_index: int = field(init=False)

    def __post_init__(self) -> None:
        names = [name.lower() for name in self.columns]
        if PHONE_COLUMN not in names:
            shown = redact(", ".join(self.columns))[:200]
            raise AudienceError(
                "line 1 must name the columns, one of them 'phone' "
                f"(found {len(self.columns)}: {shown})"
            )
        duplicates = sorted({n for n in names if n and names.count(n) > 1})  # any case
        if duplicates:
            shown = redact(", ".join(duplicates))[:200]
            raise AudienceError(f"line 1 names columns twice: {shown}")
        object.__setattr__(self, "phone_index", names.index(PHONE_COLUMN))

    def recipient(self, cells: list[str]) -> Recipient:
        """The recipient of a data row: missing cells and empty cells are missing variables."""
        phone = cells[self.phone_index].strip() if self.phone_index < len(cells) else ""
        variables: dict[str, VarValue] = {}
        for index, name in enumerate(self.columns):
            if index == self.phone_index or not name:
                continue
            value = cells[index] if index < len(cells) else ""
            variables[name] = value if value != "" else None
        # Not validated: a row without a usable number is still a recipient, whose outcome
        # (invalid_number) the sender records.
        return Recipient.model_construct(phone=phone[:MAX_PHONE_CHARS], vars=variables)

    def overflow(self, cells: list[str]) -> bool:
        """More non-empty cells than columns: a comma that should have been quoted."""
        return any(cell.strip() for cell in cells[len(self.columns) :])


def read_header(stream: Iterator[Record]) -> tuple[Header, Record]:
    """The header of a file read from its start (the first non-blank record)."""
    for record in stream:
        if record.problem is not None:
            raise AudienceError(f"line {record.line} {record.problem}")
        if record.cells is not None and not record.blank:
            return Header(tuple(cell.strip() for cell in record.cells)), record
    raise AudienceError("the audience CSV is empty: it needs a header row with a phone column")


def recipients(
    chunks: Iterable[bytes], offset: int, header: Header | None
) -> tuple[Header, Iterator[Row]]:
    """The recipients from byte ``offset`` of a file :func:`check` accepted; the header is
    read first when ``offset`` is 0, else ``header`` must be the one read then.

    A record that cannot be read here means the file changed since it was checked:
    ``AudienceError``.
    """
    stream = records(chunks, offset)
    if offset == 0:
        header, _ = read_header(stream)
    elif header is None:
        raise ValueError("reading from the middle of a file needs its header")
    return header, _rows(stream, header)


def _rows(stream: Iterator[Record], header: Header) -> Iterator[Row]:
    for record in stream:
        if record.problem is not None or record.cells is None:
            raise AudienceError(f"line {record.line} {record.problem} (the file changed?)")
        if not record.blank:
            yield Row(header.recipient(record.cells), record.end)


@dataclass(frozen=True)
class Progress:
    """Where a check stopped: the next byte and line to read, the rows counted so far (the
    header excluded), the header, the problems found so far, and whether the file is done."""

    offset: int
    line: int
    rows: int
    header: Header | None
    problems: tuple[str, ...]
    finished: bool


def check(
    chunks: Iterable[bytes],
    start: Progress,
    *,
    max_rows: int,
    out_of_time: Callable[[], bool] = lambda: False,
    row_problem: Callable[[Recipient], str | None] = lambda recipient: None,
) -> Progress:
    """Read on from ``start`` and list the problems of the file (module docstring), and those
    ``row_problem`` finds in a recipient (a text over ``max_segments``).

    Stops after ``max_rows`` rows, when ``out_of_time()``, at the end of the file, or once
    ``MAX_PROBLEMS`` problems are known.
    """
    offset, line, rows = start.offset, start.line, start.rows
    header = start.header
    problems = list(start.problems)
    stream = records(chunks, offset, line)
    for seen, record in enumerate(stream, start=1):
        offset, line = record.end, record.next_line
        if record.problem is not None:
            problems.append(f"line {record.line} {record.problem}")
        elif record.cells is not None and not record.blank:
            if header is None:
                try:
                    header = Header(tuple(cell.strip() for cell in record.cells))
                except AudienceError as error:
                    problems.append(str(error))
                    return Progress(offset, line, rows, None, tuple(problems), True)
            else:
                rows += 1
                if header.overflow(record.cells):
                    problems.append(
                        f"line {record.line} has {len(record.cells)} fields, the header names "
                        f"{len(header.columns)} (quote cells that hold a comma)"
                    )
                elif (problem := row_problem(header.recipient(record.cells))) is not None:
                    problems.append(f"line {record.line}: {problem}")
        if len(problems) >= MAX_PROBLEMS:
            return Progress(offset, line, rows, header, tuple(problems), True)
        if rows - start.rows >= max_rows or (seen % _CLOCK_EVERY == 0 and out_of_time()):
            return Progress(offset, line, rows, header, tuple(problems), False)
    if header is None and not problems:
        problems.append("the audience CSV is empty: it needs a header row with a phone column")
    return Progress(offset, line, rows, header, tuple(problems), True)


NOTHING_SENT: Final = "Nothing was sent: publish the campaign again (same campaign_id) once fixed."


def refusal(problems: Iterable[str]) -> str:
    """The reason a campaign with these problems is refused (nothing was sent)."""
    listed = list(problems)
    more = " (and maybe more)" if len(listed) >= MAX_PROBLEMS else ""
    return f"audience: {len(listed)} problem(s) in the file{more}: {'; '.join(listed)}. " + (
        NOTHING_SENT
    )
