"""The C-level counting of encoding.py answers exactly like the per-character reference.

The reference below is the original implementation (a Python loop per character, translate
for smart encoding), kept here as the specification the fast code is checked against.
"""

from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from stopsms.rules.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SMART_REPLACEMENTS,
    SegmentCount,
    SmartBody,
    SmartEncoding,
    count_segments,
    detect_encoding,
    is_gsm7,
    smart_encode,
    smart_encode_counted,
    split_parts,
)

# --- the reference ----------------------------------------------------------------------------


def _ref_is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _ref_atoms(text: str, encoding: str) -> list[tuple[int, int]]:
    if encoding == "GSM-7":
        return [(1, 2 if ch in GSM7_EXTENSION else 1) for ch in text]
    atoms: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ord(ch) > 0xFFFF:
            atoms.append((1, 2))
        elif (
            "\ud800" <= ch <= "\udbff" and i + 1 < len(text) and "\udc00" <= text[i + 1] <= "\udfff"
        ):
            atoms.append((2, 2))
            i += 1
        else:
            atoms.append((1, 1))
        i += 1
    return atoms


def _ref_plan(text: str) -> tuple[str, int, list[int]]:
    encoding = "GSM-7" if _ref_is_gsm7(text) else "UCS-2"
    atoms = _ref_atoms(text, encoding)
    units = sum(cost for _, cost in atoms)
    single, multi = (160, 153) if encoding == "GSM-7" else (70, 67)
    if units <= single:
        return encoding, units, [len(text)]
    lengths: list[int] = []
    length = used = 0
    for size, cost in atoms:
        if used + cost > multi:
            lengths.append(length)
            length = used = 0
        length += size
        used += cost
    lengths.append(length)
    return encoding, units, lengths


def _ref_count(text: str) -> SegmentCount:
    encoding, units, lengths = _ref_plan(text)
    return SegmentCount(encoding, units, len(lengths), len(text))  # type: ignore[arg-type]


def _ref_smart(text: str) -> SmartEncoding:
    before = _ref_count(text)
    unchanged = SmartEncoding(text, 0, before.segments, before.segments)
    if before.encoding == "GSM-7":
        return unchanged
    candidate = text.translate(str.maketrans(SMART_REPLACEMENTS))
    if not _ref_is_gsm7(candidate):
        return unchanged
    after = _ref_count(candidate)
    if after.segments > before.segments:
        return unchanged
    replaced = sum(1 for ch in text if ch in SMART_REPLACEMENTS)
    return SmartEncoding(candidate, replaced, before.segments, after.segments)


# --- generated texts ----------------------------------------------------------------------------

EMOJI = "😀"
# Every kind of atom: GSM basic (Latin-1 and Greek), extension (ASCII and €), Latin-1 outside
# GSM-7, smart-encodable typography, other BMP text, high BMP, astral, lone and paired surrogates.
PIECES = [
    *sorted(GSM7_BASIC),
    *sorted(GSM7_EXTENSION),
    *sorted(SMART_REPLACEMENTS),
    *"ç`\t\x1b\x7f\xff中ЖЀ\ue000\ufe0f\uffff",
    EMOJI,
    "🇫🇷",
    "\ud83d",  # lone high surrogate
    "\ude00",  # lone low surrogate
    "\ud83d\ude00",  # an explicit pair
]
texts = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=400).map("".join),
    st.text(st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION)), max_size=500),
    st.text(max_size=300),
)


@st.composite
def near_limits(draw: st.DrawFn) -> str:
    """Texts whose size is around a segment boundary, with a few special atoms inside."""
    filler = draw(st.sampled_from(["a", "é", "ç", "’", "Δ"]))
    size = draw(st.sampled_from([66, 67, 68, 69, 70, 71, 133, 134, 135, 152, 153, 154, 159]))
    extra = draw(st.sampled_from([0, 1, 2, 3, 160, 161, 305, 306, 307]))
    text = list(filler * (size + extra))
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(text)))
        text.insert(position, draw(st.sampled_from(["€", "{", EMOJI, "\ud83d\ude00", "…", " "])))
    return "".join(text)


@settings(max_examples=1500)
@given(st.one_of(texts, near_limits()))
@example("")
@example("\x1b")
@example("€" * 80)
@example("a" * 152 + "€")
@example("ç" * 66 + EMOJI)
def test_counting_matches_the_reference(text: str) -> None:
    encoding, _, lengths = _ref_plan(text)
    assert is_gsm7(text) == _ref_is_gsm7(text)
    assert detect_encoding(text) == encoding
    assert count_segments(text) == _ref_count(text)
    assert [len(part) for part in split_parts(text)] == lengths


@settings(max_examples=1500)
@given(st.one_of(texts, near_limits()))
@example("Voilà l’été… « soldes » –50\u202f% œuvre")
@example("’" * 70)
@example("…" * 60)
def test_smart_encoding_matches_the_reference(text: str) -> None:
    expected = _ref_smart(text)
    assert smart_encode(text) == expected
    result, encoding = smart_encode_counted(text)
    assert result == expected
    assert encoding == _ref_count(expected.text).encoding
    assert expected.segments_after == _ref_count(expected.text).segments


@settings(max_examples=2000)
@given(
    st.one_of(texts, near_limits()),
    st.one_of(
        st.sampled_from(["", " STOP au 36111", "STOP 36111", " Reply STOP to 36111 to opt out"]),
        st.sampled_from([" STOP au 36\u00a0111", " STOP au 36…111", "€", "😀", "\ude00"]),
        st.lists(st.sampled_from(PIECES), max_size=20).map("".join),
    ),
)
@example("ç" * 130, "€€€€")  # GSM-7 extension characters are 1 UCS-2 unit each...
@example("€€€€" + "a" * 129, "ç")  # ...whichever side they are on
@example("l’offre " * 20, " STOP au 36\u00a0111")
def test_a_body_extended_with_a_suffix_is_smart_encoded_like_the_whole(
    body: str, suffix: str
) -> None:
    expected = _ref_smart(body + suffix)
    final, replaced, before, after, encoding = SmartBody(body).extended(suffix)
    assert SmartEncoding(final, replaced, before, after) == expected
    assert encoding == _ref_count(expected.text).encoding


def test_no_gsm7_character_is_replaced() -> None:
    # What lets SmartBody skip looking for replaceable characters in a GSM-7 text.
    assert not set(SMART_REPLACEMENTS) & (GSM7_BASIC | GSM7_EXTENSION)


def test_no_replacement_contains_a_replaced_character() -> None:
    # What makes replacing characters one by one, in any order, equal to str.translate.
    assert not any(set(value) & set(SMART_REPLACEMENTS) for value in SMART_REPLACEMENTS.values())


def test_every_size_of_uniform_and_nearly_uniform_texts() -> None:
    for size in range(700):
        for text in ("a" * size, "ç" * size, "a" * size + "€", "ç" * size + EMOJI):
            assert count_segments(text) == _ref_count(text), (size, text[-1])
            assert [len(p) for p in split_parts(text)] == _ref_plan(text)[2]
    assert count_segments("a" * 306).segments == math.ceil(306 / 153)
