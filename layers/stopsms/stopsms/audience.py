"""Stream the recipients of an S3 audience (contract §2): a CSV with a header row.

The file is never loaded whole: the fan-out reads it in slices, each from a byte offset
(``Range: bytes=<offset>-``), and this module turns the bytes into recipients, each with the
byte offset just after its record, so that a slice can stop after any row and the next one
resume exactly there.

Format: UTF-8, with or without a byte-order mark; a header row naming the columns, of which
``phone`` (any case) is required and every other becomes a variable of the recipient; fields
quoted per RFC 4180 (a comma inside quotes, ``""`` for a quote), even over a line break;
CRLF or LF line ends; blank lines are skipped. An empty cell is a missing variable (``None``).

A record ends at a line break outside quotes, which is when the number of quote characters
seen since it began is even (an escaped quote ``""`` counts twice): so records are found on
the raw bytes, and their offsets are exact, before any decoding.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from stopsms.errors import StopSmsError
from stopsms.models import Recipient, VarValue

BOM: Final = b"\xef\xbb\xbf"
PHONE_COLUMN: Final = "phone"
MAX_RECORD_BYTES: Final = 64 * 1024  # a recipient's row, quoted line breaks included
MAX_PHONE_CHARS: Final = 64  # SendJob.phone; anything longer is no number anyway


class AudienceError(StopSmsError):
    """The audience file cannot be used (no header, no phone column, not UTF-8...)."""


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
            shown = ", ".join(self.columns)[:200]
            raise AudienceError(f"the audience CSV has no 'phone' column (header: {shown})")
        duplicates = sorted({n for n in self.columns if n and self.columns.count(n) > 1})
        if duplicates:
            raise AudienceError(f"the audience CSV repeats columns: {', '.join(duplicates)}")
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


def lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Physical lines of a byte stream, each with its line break (the last one may lack it)."""
    pending = b""
    for chunk in chunks:
        if not chunk:
            continue
        pending += chunk
        start = 0
        while (end := pending.find(b"\n", start)) != -1:
            yield pending[start : end + 1]
            start = end + 1
        pending = pending[start:]
        if len(pending) > MAX_RECORD_BYTES:
            raise AudienceError(f"the audience CSV has a line longer than {MAX_RECORD_BYTES} bytes")
    if pending:
        yield pending


def records(chunks: Iterable[bytes], offset: int) -> Iterator[tuple[list[str], int]]:
    """The CSV records read from byte ``offset`` on: (cells, offset just after the record).

    Blank lines are skipped (their bytes still count)."""
    position = offset
    parts: list[bytes] = []
    quotes = size = 0
    first = offset == 0
    for line in lines(chunks):
        if first and line.startswith(BOM):
            position += len(BOM)
            line = line[len(BOM) :]
        first = False
        parts.append(line)
        quotes += line.count(b'"')
        size += len(line)
        if quotes % 2:  # inside a quoted field: the line break belongs to the field
            if size > MAX_RECORD_BYTES:
                raise AudienceError(f"unterminated quoted field in the record at byte {position}")
            continue
        cells = _cells(b"".join(parts), position)
        position += size
        parts, quotes, size = [], 0, 0
        if any(cell.strip() for cell in cells):
            yield cells, position
    if parts:
        raise AudienceError(f"the audience CSV ends inside a quoted field (byte {position})")


def _cells(record: bytes, position: int) -> list[str]:
    try:
        text = record.decode("utf-8")
    except UnicodeDecodeError:
        raise AudienceError(f"the record at byte {position} is not UTF-8") from None
    try:
        return next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error as error:  # e.g. a NUL byte
        raise AudienceError(f"the record at byte {position} is not valid CSV ({error})") from None


def read_header(rows: Iterator[tuple[list[str], int]]) -> tuple[Header, int]:
    """The header of a file read from its start, and the offset of its first data row."""
    first = next(rows, None)
    if first is None:
        raise AudienceError("the audience CSV is empty: it needs a header row with a phone column")
    cells, end = first
    return Header(tuple(cell.strip() for cell in cells)), end


def recipients(
    chunks: Iterable[bytes], offset: int, header: Header | None
) -> tuple[Header, Iterator[Row]]:
    """The recipients from byte ``offset``; the header is read first when ``offset`` is 0
    (``header`` is then ignored), else ``header`` must be the one read then."""
    stream = records(chunks, offset)
    if offset == 0:
        header, _ = read_header(stream)
    elif header is None:
        raise ValueError("reading from the middle of a file needs its header")
    known = header
    return known, (Row(known.recipient(cells), end) for cells, end in stream)
