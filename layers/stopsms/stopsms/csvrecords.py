"""CSV records read from raw bytes, each with its byte offset, its line number, and what is
wrong with it if it cannot be read. Shared by the S3 audience (``stopsms.audience``) and the
stop-list import (``stopsms.operator``).

Why by hand around ``csv``: the fan-out resumes a file in the middle (``Range: bytes=N-``), so
it needs the exact byte offset after each record, before decoding; and a bad record (a stray
Latin-1 byte, a NUL, a quote never closed) must become a *problem on line N*, not an exception
that loses the rest of the file. Each record's bytes are still parsed by :mod:`csv` (RFC 4180).

A record ends at a line break outside quotes, which is when the number of quote characters
seen since it began is even (an escaped quote ``""`` counts twice). With ``multiline=False``
every physical line is a record of its own, and a line with an unbalanced quote is a problem
instead of swallowing the lines after it (a stop list has no multi-line cells).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

__all__ = ["BOM", "MAX_RECORD_BYTES", "Record", "lines", "records"]

BOM: Final = b"\xef\xbb\xbf"
MAX_RECORD_BYTES: Final = 64 * 1024  # one recipient's row, quoted line breaks included


@dataclass(frozen=True, slots=True)
class Record:
    """One record: its cells (None when it cannot be read, ``problem`` says why), the byte
    offset just after it, the line it starts on (1-based) and the line after it."""

    cells: list[str] | None
    end: int
    line: int
    next_line: int
    problem: str | None = None

    @property
    def blank(self) -> bool:
        return self.cells is not None and not any(cell.strip() for cell in self.cells)


def lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Physical lines of a byte stream, each with its line break (the last may lack it).

    A line longer than ``MAX_RECORD_BYTES`` comes out in pieces of that size at most, so a
    file without line breaks never fills the memory.
    """
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
        while len(pending) > MAX_RECORD_BYTES:
            yield pending[:MAX_RECORD_BYTES]
            pending = pending[MAX_RECORD_BYTES:]
    if pending:
        yield pending


def records(
    chunks: Iterable[bytes], offset: int = 0, line: int = 1, *, multiline: bool = True
) -> Iterator[Record]:
    """The records read from byte ``offset`` (which is on line ``line``), blank ones included.

    Never raises for what the bytes hold: a record that cannot be read is yielded with its
    ``problem``, and reading goes on after it.
    """
    position = offset
    parts: list[bytes] = []
    quotes = size = 0
    first_line = line
    for raw in lines(chunks):
        if position == 0 and size == 0 and raw.startswith(BOM):
            position += len(BOM)
            raw = raw[len(BOM) :]
        size += len(raw)
        quotes += raw.count(b'"')
        if size <= MAX_RECORD_BYTES:  # beyond, only the length matters: memory stays flat
            parts.append(raw)
        complete = raw.endswith(b"\n")
        line += complete
        in_quotes = multiline and quotes % 2 == 1
        if not complete or (in_quotes and size <= MAX_RECORD_BYTES):
            continue  # the record goes on: a long line, or a line break inside quotes
        position += size
        if size > MAX_RECORD_BYTES:
            yield Record(None, position, first_line, line, _TOO_LONG)
            if in_quotes:
                return  # a runaway quoted field: any "record" after it would be garbage
        elif quotes % 2:
            yield Record(None, position, first_line, line, "has a quote that is not closed on it")
        else:
            yield _parse(b"".join(parts), position, first_line, line)
        parts, quotes, size, first_line = [], 0, 0, line
    if size:  # the file ends without a final line break, or inside a quoted field
        position += size
        if size > MAX_RECORD_BYTES:
            yield Record(None, position, first_line, line, _TOO_LONG)
        elif quotes % 2:
            problem = "has a quote that is never closed (it runs to the end of the file)"
            yield Record(None, position, first_line, line, problem)
        else:
            yield _parse(b"".join(parts), position, first_line, line)


_TOO_LONG = f"is longer than {MAX_RECORD_BYTES // 1024} KB (a quote never closed?)"


def _parse(data: bytes, end: int, line: int, next_line: int) -> Record:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = data[error.start : error.start + 1].hex().upper()
        column = len(data[: error.start].decode("utf-8", errors="replace")) + 1
        problem = f"is not UTF-8 (byte 0x{bad} at character {column}): save the file as UTF-8"
        return Record(None, end, line, next_line, problem)
    try:
        cells = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error as error:  # a NUL byte, a field over csv's size limit
        return Record(None, end, line, next_line, f"is not valid CSV ({error})")
    return Record(cells, end, line, next_line)
