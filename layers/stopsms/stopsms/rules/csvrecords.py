"""CSV records read from raw bytes, each with its byte offset, its line number, and what is
wrong with it if it cannot be read. Shared by the S3 audience (``stopsms.fanout.audience``) and the
stop-list import (``stopsms.ops``).

Why by hand around ``csv``: the fan-out resumes a file in the middle (``Range: bytes=N-``), so
it needs the exact byte offset after each record, before decoding; and a bad record (a stray
Latin-1 byte, a quote never closed) must become a *problem on line N*, not an exception that
loses the rest of the file, nor a record that silently swallows the rows after it. Each
record's bytes are still parsed by :mod:`csv` (RFC 4180, strict).

Lines end with CRLF, LF or a lone CR (old Mac and some Excel exports): all three are breaks.

A record is one line, or several when a line break falls inside a quoted field. As in RFC
4180, a field is quoted only when its first character is a quote: ``"Dupont, Léa"`` is
quoted, while the quote in ``O"Brien`` or ``Lé"a`` is a plain character and never joins the
next lines. A quoted field that does not close within ``MAX_RECORD_LINES`` lines (or by the
end of the file) is a problem of its first line, and reading resumes on the line after it,
so one stray quote costs one line, not the rest of the file.
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

__all__ = ["BOM", "MAX_RECORD_BYTES", "MAX_RECORD_LINES", "Record", "lines", "records"]

BOM: Final = b"\xef\xbb\xbf"
MAX_RECORD_BYTES: Final = 64 * 1024  # one recipient's row, quoted line breaks included
# Lines one quoted field may span before it is a runaway quote: an exported note (a consent's
# `source`, up to 512 characters) may hold a line break per character. The lines after a
# runaway quote are read again, so a generous limit costs a re-read, never a lost row.
MAX_RECORD_LINES: Final = 1_000
_QUOTE: Final = ord('"')
_COMMA: Final = ord(",")
_BREAK: Final = re.compile(rb"\r\n|\n|\r")
_TOO_LONG: Final = f"is longer than {MAX_RECORD_BYTES // 1024} KB (a quote never closed?)"
_NEVER_CLOSED: Final = "has a quote that is never closed"
_NOT_CSV: Final = "is not valid CSV"


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


@dataclass(frozen=True, slots=True)
class _Line:
    data: bytes | None  # None when longer than MAX_RECORD_BYTES (only its size is kept)
    size: int  # its bytes in the file, line break included


def lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Physical lines of a byte stream, each with its line break (CRLF, LF or CR; the last
    line may lack one). A line longer than ``MAX_RECORD_BYTES`` comes out in pieces of that
    size at most, so a file without line breaks never fills the memory."""
    pending = b""
    for chunk in chunks:
        if not chunk:
            continue
        pending += chunk
        start = 0
        for match in _BREAK.finditer(pending):
            if match.group() == b"\r" and match.end() == len(pending):
                break  # a CR at the end of a chunk: the next one may start with its LF
            yield pending[start : match.end()]
            start = match.end()
        pending = pending[start:]
        while len(pending) > MAX_RECORD_BYTES:
            yield pending[:MAX_RECORD_BYTES]
            pending = pending[MAX_RECORD_BYTES:]
    if pending:
        yield pending


def _physical(chunks: Iterable[bytes], offset: int) -> Iterator[_Line]:
    """Whole lines, a byte-order mark at the start of the file left out of the first one (its
    bytes still counted), the pieces of an over-long line joined back into its size."""
    size = 0
    kept: bytes | None = b""
    for piece in lines(chunks):
        if offset == 0 and size == 0 and kept == b"" and piece.startswith(BOM):
            size, piece = len(BOM), piece[len(BOM) :]
        offset = -1  # only the very first line of a file may start with a BOM
        size += len(piece)
        kept = kept + piece if kept is not None and size <= MAX_RECORD_BYTES else None
        if piece.endswith((b"\n", b"\r")):
            yield _Line(kept, size)
            size, kept = 0, b""
    if size:
        yield _Line(kept, size)


def _in_quotes_after(data: bytes, in_quotes: bool) -> bool:
    """Whether a line ends inside a quoted field (RFC 4180: a field is quoted only when it
    starts with a quote; ``""`` inside it is a quote)."""
    if b'"' not in data:  # most lines: nothing to scan
        return in_quotes
    index = 0
    while (index := data.find(b'"', index)) != -1:
        if in_quotes:
            if data[index + 1 : index + 2] == b'"':
                index += 2  # an escaped quote
                continue
            in_quotes = False
        elif index == 0 or data[index - 1] == _COMMA:
            in_quotes = True  # a quote that opens a field
        index += 1
    return in_quotes


def records(chunks: Iterable[bytes], offset: int = 0, line: int = 1) -> Iterator[Record]:
    """The records read from byte ``offset`` (which is on line ``line``), blank ones included.

    Never raises for what the bytes hold: a record that cannot be read is yielded with its
    ``problem``, and reading goes on after it (module docstring).
    """
    source = _physical(chunks, offset)
    again: deque[_Line] = deque()  # lines to read once more after a runaway quote
    held: list[_Line] = []  # the lines of the record being read
    in_quotes = False
    while (item := again.popleft() if again else next(source, None)) is not None or held:
        if item is not None and item.data is not None:
            held.append(item)
            in_quotes = _in_quotes_after(item.data, in_quotes)
            if not in_quotes:  # the record is complete
                size = sum(part.size for part in held)
                data = b"".join(part.data or b"" for part in held)
                record = (
                    Record(None, offset + size, line, line + len(held), _TOO_LONG)
                    if size > MAX_RECORD_BYTES
                    else _parse(data, offset + size, line, line + len(held))
                )
                if len(held) == 1 or not (record.problem or "").startswith(_NOT_CSV):
                    yield record
                    offset, line, held = offset + size, line + len(held), []
                    continue
                # Lines joined by a stray quote that a later, unrelated quote "closed": as
                # if it never closed (below), so the lines it swallowed are read again.
            elif len(held) < MAX_RECORD_LINES and sum(p.size for p in held) <= MAX_RECORD_BYTES:
                continue  # the line break belongs to the quoted field
        elif item is not None and not held:  # an over-long line on its own
            yield Record(None, offset + item.size, line, line + 1, _TOO_LONG)
            offset, line = offset + item.size, line + 1
            continue
        elif item is not None:
            held.append(item)  # an over-long line inside a quoted field
        # A quoted field that does not close: its first line is the problem, and the lines
        # after it are read again as records of their own.
        problem = _NEVER_CLOSED if item is not None else f"{_NEVER_CLOSED} (end of the file)"
        first, *rest = held
        yield Record(None, offset + first.size, line, line + 1, problem)
        offset, line = offset + first.size, line + 1
        again.extendleft(reversed(rest))
        held, in_quotes = [], False


def _parse(data: bytes, end: int, line: int, next_line: int) -> Record:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = data[error.start : error.start + 1].hex().upper()
        column = len(data[: error.start].decode("utf-8", errors="replace")) + 1
        problem = f"is not UTF-8 (byte 0x{bad} at character {column}): save the file as UTF-8"
        return Record(None, end, line, next_line, problem)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as error:  # text after a closing quote, a field over csv's size limit
        return Record(None, end, line, next_line, f"{_NOT_CSV} ({error})")
    if len(rows) > 1:  # cannot happen with the breaks above; never drop a row silently
        return Record(None, end, line, next_line, "holds several rows (a stray line break?)")
    return Record(rows[0] if rows else [], end, line, next_line)
