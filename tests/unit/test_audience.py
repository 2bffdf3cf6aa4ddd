"""S3 audiences: records found on raw bytes with exact offsets and line numbers, problems
listed by line instead of raised, a whole-file check before anyone is queued."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopsms.fanout.audience import (
    MAX_PROBLEMS,
    AudienceError,
    Header,
    Progress,
    check,
    recipients,
    refusal,
)
from stopsms.rules.csvrecords import MAX_RECORD_BYTES, lines, records


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    """The bytes as S3 would stream them, in chunks cutting lines anywhere."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def read(
    data: bytes, offset: int = 0, header: Header | None = None, size: int = 7
) -> list[tuple[str, dict[str, object], int]]:
    _, rows = recipients(chunked(data[offset:], size), offset, header)
    return [(row.recipient.phone, dict(row.recipient.vars), row.end) for row in rows]


START = Progress(offset=0, line=1, rows=0, header=None, problems=(), finished=False)


def checked(data: bytes, size: int = 5) -> Progress:
    return check(chunked(data, size), START, max_rows=10**9)


# --- reading ------------------------------------------------------------------------------


def test_rows_carry_the_phone_the_other_columns_as_vars_and_the_offset_after_them() -> None:
    data = b"phone,first_name,city\n0612345678,L\xc3\xa9a,Paris\n+33698765432,,Lyon\n"
    assert read(data) == [
        ("0612345678", {"first_name": "Léa", "city": "Paris"}, 44),
        ("+33698765432", {"first_name": None, "city": "Lyon"}, len(data)),
    ]


def test_a_bom_crlf_and_blank_lines_are_accepted() -> None:
    data = b"\xef\xbb\xbfPhone,x\r\n\r\n0612345678,1\r\n\r\n"
    header, rows = recipients(iter([data]), 0, None)
    assert header.columns == ("Phone", "x")
    assert [(r.recipient.phone, r.recipient.vars) for r in rows] == [("0612345678", {"x": "1"})]
    assert checked(data).problems == ()


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
    assert checked(data) == Progress(len(data), 5, 2, header, (), True)


def test_resuming_at_every_row_boundary_gives_the_rest_exactly() -> None:
    data = b"phone,n\n" + b"".join(b'06123456%02d,"%d\n%d"\n' % (i, i, i) for i in range(30))
    everything = read(data)
    header = Header(("phone", "n"))
    for index, (_, _, end) in enumerate(everything):
        assert read(data, offset=end, header=header, size=5) == everything[index + 1 :]


def test_short_rows_miss_variables_and_a_row_without_phone_is_still_a_recipient() -> None:
    assert read(b"phone,a,b\n0612345678\n,x,y\n") == [
        ("0612345678", {"a": None, "b": None}, 21),
        ("", {"a": "x", "b": "y"}, 26),
    ]


def test_a_header_only_file_has_no_recipients() -> None:
    _, rows = recipients(iter([b"phone,first_name\n"]), 0, None)
    assert list(rows) == []
    assert checked(b"phone,first_name\n").rows == 0


def test_a_record_that_cannot_be_read_while_fanning_out_means_the_file_changed() -> None:
    with pytest.raises(AudienceError, match=r"line 2 is not UTF-8.*the file changed"):
        read(b"phone,a\n0612345678,\xe9\n")


# --- the whole-file check -----------------------------------------------------------------

LATIN1_AT_THE_END = b"phone,first_name\n" + b"0612345678,Lea\n" * 450 + b"0698765432,L\xe9a\n"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (LATIN1_AT_THE_END, "line 452 is not UTF-8 (byte 0xE9 at character 13)"),
        (
            b'phone,a\n0612345678,x\n0698765432,"never closed\n0611111111,b\n',
            "line 3 has a quote that is never closed (end of the file)",
        ),
        (b"phone,phone\n0612345678,x\n", "line 1 names columns twice: phone"),
        (b"phone,Phone \n0612345678,x\n", "line 1 names columns twice: phone"),
        (
            b"0633445566,Lea\n0612345678,Zoe\n",
            "line 1 must name the columns, one of them 'phone' (found 2: ********66, Lea)",
        ),
        (
            b"phone,first_name\n0612345678,Dupont, Lea\n",
            "line 2 has 3 fields, the header names 2 (quote cells that hold a comma)",
        ),
        (b"", "the audience CSV is empty"),
        (b"\xef\xbb\xbf\n\r\n", "the audience CSV is empty"),
        (b"phone,a\n0612345678,\xff\xfe\n", "line 2 is not UTF-8 (byte 0xFF at character 12)"),
    ],
)
def test_a_broken_file_is_refused_by_line_with_no_phone_number_in_the_reason(
    data: bytes, problem: str
) -> None:
    progress = checked(data)
    assert progress.finished
    assert any(found.startswith(problem) for found in progress.problems), progress.problems
    reason = refusal(progress.problems)
    assert "Nothing was sent" in reason
    assert "0633445566" not in reason


def test_trailing_empty_cells_are_not_a_shifted_column() -> None:
    assert checked(b"phone,a\n0612345678,x,,\n").problems == ()


def test_the_check_lists_several_problems_then_stops_reading() -> None:
    data = b"phone,a\n" + b"0612345678,\xe9\n" * (MAX_PROBLEMS + 5)
    progress = checked(data)
    assert len(progress.problems) == MAX_PROBLEMS
    assert progress.finished
    assert progress.offset < len(data)
    assert "(and maybe more)" in refusal(progress.problems)


def test_the_check_stops_after_its_rows_and_resumes_exactly() -> None:
    data = b"phone,a\n" + b"".join(b'06123456%02d,"x\n%d"\n' % (i, i) for i in range(40))
    first = check(chunked(data, 9), START, max_rows=15)
    assert (first.rows, first.finished) == (15, False)
    assert first.line == 2 + 15 * 2
    rest = check(chunked(data[first.offset :], 4), first, max_rows=10**9)
    assert rest == checked(data)
    assert (rest.rows, rest.line, rest.problems) == (40, 82, ())


def test_the_check_stops_when_time_runs_out() -> None:
    data = b"phone\n" + b"0612345678\n" * 5000
    progress = check(iter([data]), START, max_rows=10**9, out_of_time=lambda: True)
    assert not progress.finished
    assert 0 < progress.rows < 5000


def test_a_problem_found_in_an_earlier_slice_is_kept() -> None:
    data = b"phone,a\n0612345678,\xe9\n" + b"0612345678,x\n" * 20
    first = check(chunked(data, 6), START, max_rows=5)
    assert first.problems
    assert not first.finished
    rest = check(chunked(data[first.offset :], 6), first, max_rows=10**9)
    assert rest.problems == first.problems
    assert rest.finished


@given(
    st.lists(st.sampled_from([b"a", b'"', b"\n", b",", b"\xe9", b"\r", b"x\xc3\xa9"]), max_size=60)
)
def test_reading_any_bytes_never_raises_and_offsets_grow_to_the_end(parts: list[bytes]) -> None:
    data = b"phone,a\n" + b"".join(parts)
    ends = [record.end for record in records(chunked(data, 3))]
    assert ends == sorted(ends)
    assert not ends or ends[-1] == len(data)
    checked(data)  # never raises either


# --- records on their own -------------------------------------------------------------------


def test_a_quote_that_never_closes_costs_its_line_only() -> None:
    data = b'phone\n0611111111,"open\n0622222222\n'
    found = [(r.line, r.cells, r.problem) for r in records(iter([data]))]
    assert found == [
        (1, ["phone"], None),
        (2, None, "has a quote that is never closed (end of the file)"),
        (3, ["0622222222"], None),
    ]


def test_a_runaway_quoted_field_is_one_problem_and_the_rows_after_it_are_read() -> None:
    data = b'phone,a\n0612345678,"' + b"x\n" * 40_000
    found = list(records(chunked(data, 65536)))
    assert (found[1].line, found[1].problem) == (2, "has a quote that is never closed")
    assert [r.cells for r in found[2:5]] == [["x"]] * 3
    assert len(found) == 40_001
    assert checked(data).problems[0] == "line 2 has a quote that is never closed"


@pytest.mark.parametrize(
    ("data", "rows"),
    [
        # A quote inside an unquoted cell is a plain character (RFC 4180): it never joins lines
        (b'phone,a\n0611,L\xc3\xa9"a\n0622,Bob\n0633,O"Brien\n0644,Zoe\n', 4),
        # CR-only line ends (old Mac / Excel), a lone CR, CRLF
        (b"phone,a\r0611,x\r0622,y\r0633,z\r", 3),
        (b"phone,a\n0611,x\r0622,y\n0633,z\n", 3),
        (b"phone,a\r\n0611,x\r\n0622,y\r\n", 2),
        # A quoted cell over a few lines is one record
        (b'phone,a\n0611,"l1\nl2\r\nl3"\n0622,y\n', 2),
        # ...even over hundreds of lines (an exported note, second adversarial pass)
        (b'phone,a\n0611,"' + b"-\n" * 600 + b'"\n0622,y\n', 2),
    ],
)
def test_every_row_is_read_whatever_the_line_ends_and_stray_quotes(data: bytes, rows: int) -> None:
    for size in (1, 3, 64):
        progress = check(chunked(data, size), START, max_rows=10**9)
        assert (progress.rows, progress.problems) == (rows, ())
        _, read_rows = recipients(chunked(data, size), 0, None)
        assert len(list(read_rows)) == rows


def test_a_huge_line_without_breaks_is_one_problem_and_memory_stays_flat() -> None:
    data = b"phone\n" + b"x" * (3 * MAX_RECORD_BYTES) + b"\n0612345678\n"
    found = [(r.line, r.problem is None) for r in records(chunked(data, 4096))]
    assert found == [(1, True), (2, False), (3, True)]


def test_lines_keep_their_breaks_across_chunks() -> None:
    assert list(lines([b"ab", b"c\nd", b"", b"e\n", b"f"])) == [b"abc\n", b"de\n", b"f"]
