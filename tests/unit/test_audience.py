"""The S3 audience CSV reader: records found on raw bytes, exact offsets, RFC 4180 quoting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stopsms.audience import AudienceError, Header, lines, recipients, records


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    """The bytes as S3 would stream them, in chunks cutting lines anywhere."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def read(
    data: bytes, offset: int = 0, header: Header | None = None, size: int = 7
) -> list[tuple[str, dict[str, object], int]]:
    _, rows = recipients(chunked(data[offset:], size), offset, header)
    return [(row.recipient.phone, dict(row.recipient.vars), row.end) for row in rows]


def test_rows_carry_the_phone_the_other_columns_as_vars_and_the_offset_after_them() -> None:
    data = b"phone,first_name,city\n0612345678,L\xc3\xa9a,Paris\n+33698765432,,Lyon\n"
    assert read(data) == [
        ("0612345678", {"first_name": "Léa", "city": "Paris"}, 44),
        ("+33698765432", {"first_name": None, "city": "Lyon"}, len(data)),
    ]


def test_a_bom_crlf_and_blank_lines_are_accepted() -> None:
    data = b"\xef\xbb\xbfPhone;x\r\n".replace(b";", b",") + b"\r\n0612345678,1\r\n\r\n"
    header, rows = recipients(iter([data]), 0, None)
    assert header.columns == ("Phone", "x")
    assert [(r.recipient.phone, r.recipient.vars) for r in rows] == [("0612345678", {"x": "1"})]


def test_quoted_fields_may_hold_commas_quotes_and_line_breaks() -> None:
    data = (
        b"phone,first_name,note\n"
        b'0612345678,"Dupont, L\xc3\xa9a","say ""hi""\nsecond line"\n'
        b"0698765432,Zo\xc3\xa9,plain\n"
    )
    rows = read(data, size=3)
    assert rows[0][:2] == (
        "0612345678",
        {"first_name": "Dupont, Léa", "note": 'say "hi"\nsecond line'},
    )
    assert rows[1][:2] == ("0698765432", {"first_name": "Zoé", "note": "plain"})
    # Resuming right after the first row reads exactly the second one.
    header = Header(("phone", "first_name", "note"))
    assert read(data, offset=rows[0][2], header=header) == [rows[1]]


def test_resuming_at_every_row_boundary_gives_the_rest_exactly() -> None:
    data = b"phone,n\n" + b"".join(b'06123456%02d,"%d\n%d"\n' % (i, i, i) for i in range(30))
    everything = read(data)
    header = Header(("phone", "n"))
    for index, (_, _, end) in enumerate(everything):
        assert read(data, offset=end, header=header, size=5) == everything[index + 1 :]


def test_missing_phone_column_is_refused_with_the_header_named() -> None:
    with pytest.raises(AudienceError, match=r"no 'phone' column \(header: mobile, name\)"):
        recipients(iter([b"mobile,name\n0612345678,A\n"]), 0, None)


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\r\n\n"])
def test_an_empty_file_is_refused(data: bytes) -> None:
    with pytest.raises(AudienceError, match="empty"):
        recipients(iter([data]), 0, None)


def test_a_header_only_file_has_no_recipients() -> None:
    _, rows = recipients(iter([b"phone,first_name\n"]), 0, None)
    assert list(rows) == []


def test_short_rows_miss_variables_and_a_row_without_phone_is_still_a_recipient() -> None:
    assert read(b"phone,a,b\n0612345678\n,x,y\n") == [
        ("0612345678", {"a": None, "b": None}, 21),
        ("", {"a": "x", "b": "y"}, 26),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'phone,a\n0612345678,"never closed\n0698765432,b\n', "ends inside a quoted field"),
        (b"phone,a\n0612345678,\xff\xfe\n", "not UTF-8"),
        (b"phone,phone\n", "repeats columns: phone"),
    ],
)
def test_broken_files_are_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(AudienceError, match=message):
        list(read(data))


def test_a_runaway_quoted_field_is_refused_before_memory_grows() -> None:
    data = b'phone,a\n0612345678,"' + b"x\n" * 40_000
    with pytest.raises(AudienceError, match="unterminated quoted field"):
        list(records(chunked(data, 65536), 0))


def test_lines_keep_their_breaks_across_chunks() -> None:
    assert list(lines([b"ab", b"c\nd", b"", b"e\n", b"f"])) == [b"abc\n", b"de\n", b"f"]
