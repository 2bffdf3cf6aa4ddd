"""Encoding detection, segment counting exactly as carriers bill, and smart encoding."""

import itertools
import math
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopsms.rules.encoding import (
    GSM7_BASIC,
    GSM7_BASIC_TABLE,
    GSM7_EXTENSION,
    SMART_REPLACEMENTS,
    SegmentCount,
    SmartEncoding,
    count_segments,
    detect_encoding,
    is_gsm7,
    smart_encode,
    split_parts,
    units_of,
)

EMOJI = "😀"  # U+1F600: a surrogate pair in UTF-16

# --- the GSM 03.38 tables ------------------------------------------------------------------


def test_basic_table_has_128_positions_in_order() -> None:
    assert len(GSM7_BASIC_TABLE) == 128
    # Spot checks of positions that are often wrong in hand-made tables.
    assert GSM7_BASIC_TABLE[0x00] == "@"
    assert GSM7_BASIC_TABLE[0x02] == "$"
    assert GSM7_BASIC_TABLE[0x0A] == "\n"
    assert GSM7_BASIC_TABLE[0x0D] == "\r"
    assert GSM7_BASIC_TABLE[0x1B] == "\x1b"  # escape, not a character
    assert GSM7_BASIC_TABLE[0x24] == "¤"
    assert GSM7_BASIC_TABLE[0x40] == "¡"
    assert GSM7_BASIC_TABLE[0x60] == "¿"
    assert GSM7_BASIC_TABLE[0x7F] == "à"
    assert len(GSM7_BASIC) == 127


@pytest.mark.parametrize("ch", list("éèùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉÄÖÑÜ§¿äöñüà¡£¥@$ \n\r¤"))
def test_basic_characters(ch: str) -> None:
    assert ch in GSM7_BASIC
    assert count_segments(ch) == SegmentCount("GSM-7", 1, 1, 1)


@pytest.mark.parametrize("ch", list("^{}\\[~]|€\f"))
def test_extension_characters_cost_two_septets(ch: str) -> None:
    assert ch in GSM7_EXTENSION
    assert ch not in GSM7_BASIC
    assert count_segments(ch) == SegmentCount("GSM-7", 2, 1, 1)


@pytest.mark.parametrize("ch", [*"çêâîôûœ’‘“”«»…–—`\t\x1bÈÙÌÒÀ", "\u00a0", EMOJI])
def test_characters_outside_gsm7(ch: str) -> None:
    assert not is_gsm7(ch)
    assert detect_encoding(ch) == "UCS-2"


def test_ascii_printable_is_gsm7_except_backtick() -> None:
    printable = {chr(cp) for cp in range(0x20, 0x7F)}
    assert {ch for ch in printable if not is_gsm7(ch)} == {"`"}


# --- GSM-7 segment boundaries ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "segments"),
    [
        (0, 1),
        (1, 1),
        (70, 1),
        (71, 1),
        (134, 1),
        (153, 1),
        (154, 1),
        (160, 1),
        (161, 2),
        (306, 2),
        (307, 3),
        (459, 3),
        (460, 4),
    ],
)
def test_gsm7_boundaries(length: int, segments: int) -> None:
    count = count_segments("a" * length)
    assert count == SegmentCount("GSM-7", length, segments, length)
    assert len(split_parts("a" * length)) == segments


def test_empty_text_is_one_empty_part() -> None:
    assert count_segments("") == SegmentCount("GSM-7", 0, 1, 0)
    assert split_parts("") == [""]


@pytest.mark.parametrize(
    ("count", "units", "segments"),
    [(1, 2, 1), (80, 160, 1), (81, 162, 2), (152, 304, 2), (153, 306, 3)],
)
def test_extension_characters_in_bulk(count: int, units: int, segments: int) -> None:
    # 76 "€" (152 septets) fill a part: a 77th would not fit in the 153rd septet.
    result = count_segments("€" * count)
    assert (result.units, result.segments, result.characters) == (units, segments, count)


def test_81_euros_split_76_and_5() -> None:
    assert [len(p) for p in split_parts("€" * 81)] == [76, 5]


def test_escape_pair_never_split_across_parts() -> None:
    # 152 septets + "€": only one septet left, so the € starts part 2.
    text = "a" * 152 + "€" + "b" * 10
    assert split_parts(text) == ["a" * 152, "€" + "b" * 10]
    assert count_segments(text).segments == 2


def test_escape_pair_at_boundary_costs_one_more_segment() -> None:
    # 306 septets would be 2 parts by plain division, but the € moves and pushes one "a" out.
    text = "a" * 152 + "€" + "a" * 152
    assert count_segments(text) == SegmentCount("GSM-7", 306, 3, 305)
    assert [len(p) for p in split_parts(text)] == [152, 152, 1]


def test_escape_pair_fitting_exactly_stays_in_part() -> None:
    text = "a" * 151 + "€" + "a" * 10
    assert split_parts(text) == ["a" * 151 + "€", "a" * 10]


def test_mixed_extension_at_single_part_limit() -> None:
    assert count_segments("a" * 158 + "{").segments == 1  # 160 septets
    assert count_segments("a" * 159 + "{").segments == 2  # 161 septets


# --- UCS-2 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_ucs2_boundaries(units: int, segments: int) -> None:
    text = "ç" + "a" * (units - 1)
    assert count_segments(text) == SegmentCount("UCS-2", units, segments, units)


@pytest.mark.parametrize("ch", ["ç", "’", "ê", "«", EMOJI])
def test_one_non_gsm_character_switches_whole_text_to_ucs2(ch: str) -> None:
    gsm = "a" * 100
    assert count_segments(gsm).segments == 1
    count = count_segments(gsm + ch)
    assert count.encoding == "UCS-2"
    assert count.segments == 2  # 101 or 102 units > 70


def test_emoji_counts_two_units() -> None:
    assert count_segments(EMOJI) == SegmentCount("UCS-2", 2, 1, 1)
    assert count_segments(EMOJI * 35) == SegmentCount("UCS-2", 70, 1, 35)
    assert count_segments(EMOJI * 36) == SegmentCount("UCS-2", 72, 2, 36)
    assert [len(p) for p in split_parts(EMOJI * 36)] == [33, 3]  # 33 pairs = 66 units


def test_surrogate_pair_never_split_at_67_unit_boundary() -> None:
    # 66 units then an emoji: only one unit left, so the emoji starts part 2.
    text = "ç" + "a" * 65 + EMOJI + "b" * 10
    parts = split_parts(text)
    assert parts == ["ç" + "a" * 65, EMOJI + "b" * 10]
    assert count_segments(text).units == 78


def test_surrogate_pair_at_boundary_costs_one_more_segment() -> None:
    text = "ç" + "a" * 65 + EMOJI + "a" * 66  # 134 units: 2 parts by division, 3 really
    assert count_segments(text) == SegmentCount("UCS-2", 134, 3, 133)


def test_explicit_surrogate_pair_is_kept_together() -> None:
    # A str holding the two surrogates as separate code points (e.g. from a JSON "\\ud83d\\ude00").
    raw = "\ud83d\ude00"
    text = "ç" + "a" * 65 + raw + "b"
    assert count_segments(text).units == 69
    long_text = text + "b" * 10
    assert split_parts(long_text)[1].startswith(raw)
    assert units_of("x\ud83d", "UCS-2") == 2  # a lone surrogate is one unit


# --- properties --------------------------------------------------------------------------------

_GSM_ALPHABET = sorted(GSM7_BASIC | GSM7_EXTENSION)
gsm_text = st.text(alphabet=st.sampled_from(_GSM_ALPHABET), max_size=700)
mixed_text = st.text(
    alphabet=st.sampled_from([*_GSM_ALPHABET, "ç", "’", "…", EMOJI, "🇫", "中", "\u00a0"]),
    max_size=500,
)
any_text = st.one_of(gsm_text, mixed_text, st.text(max_size=400))


def _ucs2_segments(text: str) -> int:
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


@given(any_text, any_text)
def test_segments_monotone_when_appending(text: str, suffix: str) -> None:
    assert count_segments(text + suffix).segments >= count_segments(text).segments


@given(any_text)
def test_parts_join_back_to_text(text: str) -> None:
    assert "".join(split_parts(text)) == text


@given(any_text)
def test_every_part_within_its_limit(text: str) -> None:
    count = count_segments(text)
    parts = split_parts(text)
    assert count.segments == len(parts)
    single, multi = {"GSM-7": (160, 153), "UCS-2": (70, 67)}[count.encoding]
    limit = single if len(parts) == 1 else multi
    assert all(units_of(part, count.encoding) <= limit for part in parts)
    assert sum(units_of(part, count.encoding) for part in parts) == count.units


@given(any_text)
def test_parts_are_filled_greedily(text: str) -> None:
    # A part is only closed when the next character really does not fit.
    count = count_segments(text)
    parts = split_parts(text)
    limit = {"GSM-7": 153, "UCS-2": 67}[count.encoding]
    for part, following in itertools.pairwise(parts):
        assert units_of(part + following[0], count.encoding) > limit


@given(any_text)
def test_units_match_encoding(text: str) -> None:
    count = count_segments(text)
    if count.encoding == "UCS-2":
        assert count.units == len(text.encode("utf-16-le", "surrogatepass")) // 2
    else:
        assert count.units == len(text) + sum(ch in GSM7_EXTENSION for ch in text)
    assert count.characters == len(text)


@given(gsm_text)
def test_gsm7_never_costs_more_than_ucs2(text: str) -> None:
    count = count_segments(text)
    assert count.encoding == "GSM-7"
    assert count.segments <= _ucs2_segments(text)


@given(gsm_text.filter(lambda t: not set(t) & GSM7_EXTENSION))
def test_basic_only_gsm7_is_plain_division(text: str) -> None:
    expected = 1 if len(text) <= 160 else math.ceil(len(text) / 153)
    assert count_segments(text).segments == expected


@given(st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]), max_size=300))
def test_bmp_ucs2_is_plain_division(text: str) -> None:
    text = "ç" + text
    assert count_segments(text).segments == _ucs2_segments(text)


# --- smart encoding ------------------------------------------------------------------------

FRENCH_PROMO = (
    "Soldes d’été\u00a0: jusqu’à -50\u202f% sur «\u00a0toute la boutique\u00a0» … "
    "Offre valable jusqu’au 15/07 – en magasin et sur le site. "
    "Profitez-en vite, c’est maintenant ou jamais\u00a0!"
)


def test_french_promo_saves_segments() -> None:
    result = smart_encode(FRENCH_PROMO)
    assert result.text == (
        "Soldes d'été : jusqu'à -50 % sur \" toute la boutique \" ... "
        "Offre valable jusqu'au 15/07 - en magasin et sur le site. "
        "Profitez-en vite, c'est maintenant ou jamais !"
    )
    assert is_gsm7(result.text)
    assert result.replaced == 13
    assert (result.segments_before, result.segments_after, result.saved) == (3, 2, 1)


def test_short_french_promo_fits_one_segment_once_encoded() -> None:
    text = "Nouveauté : « Les Essentiels » arrivent… -20 % ce week-end – code ÉTÉ24"
    result = smart_encode(text)
    assert count_segments(text).encoding == "UCS-2"
    assert (result.segments_before, result.segments_after, result.saved) == (2, 1, 1)
    assert (
        result.text == 'Nouveauté : " Les Essentiels " arrivent... -20 % ce week-end - code ÉTÉ24'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("l’offre", "l'offre"),
        ("‘a’ ‚b‛ 5′", "'a' 'b' 5'"),
        ("“a” „b‟ 5″", '"a" "b" 5"'),
        ("«\u00a0oui\u00a0»", '" oui "'),
        ("‹a›", "'a'"),
        ("attendez…", "attendez..."),
        ("a – b — c ‒ d ― e − f ‐ g ‑ h", "a - b - c - d - e - f - g - h"),
        ("• un\n• deux", "- un\n- deux"),
        ("10\u202f000\u2009€", "10 000 €"),
        ("cœur Œuvre", "coeur OEuvre"),
        ("âge fête Noël île maïs hôtel août", "age fete Noel ile mais hotel aout"),
        ("ÀÂÊËÈÎÏÔÛÙ", "AAEEEIIOUU"),
        ("á í ó ú ÿ Ÿ", "a i o u y Y"),
        ("in\u00advisible\u200b\u2060\ufeff", "invisible"),
    ],
)
def test_replacements(text: str, expected: str) -> None:
    result = smart_encode(text)
    assert result.text == expected
    assert is_gsm7(result.text)


def test_gsm_letters_are_never_touched() -> None:
    text = "été à où ìò É Ç ñ ü ß Ø"
    assert smart_encode(text) == SmartEncoding(text, 0, 1, 1)


def test_lowercase_c_cedilla_is_not_mapped() -> None:
    # ç has no GSM-7 counterpart of the same case: the text stays UCS-2, untouched.
    text = "Leçon d’anglais offerte"
    result = smart_encode(text)
    assert result == SmartEncoding(text, 0, 1, 1)
    assert count_segments(result.text).encoding == "UCS-2"


def test_emoji_prevents_any_replacement() -> None:
    text = "Soldes d’été\u00a0: -50\u202f% " + EMOJI + " « vite » …" + "x" * 60
    result = smart_encode(text)
    assert result.text == text
    assert result.replaced == 0
    assert result.saved == 0
    assert result.segments_before == result.segments_after == 2


def test_gsm_text_is_returned_as_is() -> None:
    assert smart_encode("Promo -20% STOP au 36111") == SmartEncoding(
        "Promo -20% STOP au 36111", 0, 1, 1
    )


def test_replacement_kept_when_segments_equal() -> None:
    result = smart_encode("l’offre")
    assert (result.text, result.replaced, result.saved) == ("l'offre", 1, 0)


def test_replacement_dropped_when_it_would_cost_more() -> None:
    # 60 ellipses = 60 UCS-2 units (1 segment) but 180 septets (2 segments) once expanded.
    text = "…" * 60
    assert smart_encode(text) == SmartEncoding(text, 0, 1, 1)


def test_every_unicode_space_separator_is_mapped() -> None:
    spaces = {chr(cp) for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Zs"}
    assert {ch for ch in spaces - {" "} if SMART_REPLACEMENTS.get(ch) != " "} == set()


def test_replacements_produce_gsm7() -> None:
    assert all(is_gsm7(value) for value in SMART_REPLACEMENTS.values())
    assert not any(is_gsm7(key) for key in SMART_REPLACEMENTS)


_SMART_ALPHABET = sorted(SMART_REPLACEMENTS)
smart_text = st.text(
    alphabet=st.sampled_from([*_GSM_ALPHABET, *_SMART_ALPHABET, "ç", EMOJI]), max_size=400
)


@given(smart_text)
def test_smart_encoding_never_costs_more(text: str) -> None:
    result = smart_encode(text)
    assert result.saved >= 0
    assert result.segments_before == count_segments(text).segments
    assert result.segments_after == count_segments(result.text).segments
    if result.replaced == 0:
        assert result.text == text
    else:
        assert is_gsm7(result.text)


@given(smart_text)
def test_smart_encoding_is_idempotent(text: str) -> None:
    once = smart_encode(text)
    assert smart_encode(once.text).text == once.text


@given(st.text(alphabet=st.sampled_from([*_GSM_ALPHABET, *_SMART_ALPHABET]), max_size=400))
def test_smart_encoding_reaches_gsm7_when_possible(text: str) -> None:
    result = smart_encode(text)
    # Only the rare texts an expansion (… -> ...) would make longer stay UCS-2.
    expanded = "".join(SMART_REPLACEMENTS.get(ch, ch) for ch in text)
    assert is_gsm7(result.text) or count_segments(expanded).segments > result.segments_before
