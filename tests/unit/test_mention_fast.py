"""Shortcuts of mention.py: the STOP pre-check and the composition cache change no answer."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stopsms.errors import MessageTooLong
from stopsms.rules.encoding import count_segments, smart_encode
from stopsms.rules.mention import (
    Composition,
    _instruction,
    _names_a_thing,
    append_mention,
    compose,
    has_stop_mention,
    mentions,
)


def _ref_has_stop_mention(text: str, stop_number: str) -> bool:
    """has_stop_mention without the casefold pre-check."""
    return any(
        not _names_a_thing(text, m.start()) for m in _instruction(stop_number).finditer(text)
    )


def test_casefold_maps_every_case_form_of_stop_to_ascii() -> None:
    # What makes '"stop" in text.casefold()' a safe pre-check of the IGNORECASE regex.
    letter = re.compile("[stop]", re.IGNORECASE)
    for code in range(0x110000):
        ch = chr(code)
        if letter.fullmatch(ch):
            assert ch.casefold() in "stop", hex(code)


pieces = st.sampled_from(
    ["stop", "STOP", "Stop", "ſtop", "ſ", "s", "t", "o", "p", "K", " ", "au", "36111", "36 111",
     "+36111", "1", "é", "’", "\n", "x" * 41, "SMS", ":", "-", "non", "à", "\u00a0", "\u200b",
     "STOP au ", "STOP "]
)  # fmt: skip


@settings(max_examples=1500)
@given(st.lists(pieces, max_size=30).map("".join), st.sampled_from(["36111", "36 111"]))
def test_stop_mention_matches_the_reference(text: str, stop_number: str) -> None:
    assert has_stop_mention(text, stop_number) == _ref_has_stop_mention(text, stop_number)


def test_a_cached_composition_is_the_same_composition() -> None:
    body = "Bonjour, l’offre se termine dimanche…"
    first = compose(body, marketing=True, stop_number="36111")
    again = compose(body, marketing=True, stop_number="36111")
    assert again == first
    assert compose(body, marketing=False, stop_number=None).mention is None
    assert compose(body, marketing=True, stop_number="36111", smart_encoding=False) != first


def test_errors_are_raised_every_time() -> None:
    long_body = "x" * 300
    for _ in range(2):
        with pytest.raises(MessageTooLong):
            compose(long_body, marketing=True, stop_number="36111", max_segments=1)
        with pytest.raises(ValueError, match="stop_number"):
            compose("Promo", marketing=True, stop_number="abc")


def _ref_compose(
    body: str,
    marketing: bool,
    language: str,
    stop_number: str,
    max_segments: int | None,
    smart: bool,
) -> Composition:
    """compose() as first written: every text smart-encoded and counted whole."""

    def finish(mention: str | None) -> Composition:
        text = body if mention is None else append_mention(body, mention)
        result = smart_encode(text) if smart else None
        final = result.text if result is not None else text
        count = count_segments(final)
        before = count_segments(smart_encode(body).text if smart else body).segments
        return Composition(final, count.encoding, before, count.segments, mention, result)

    candidates: tuple[str | None, ...] = (None,)
    if marketing:
        forms = mentions(language, stop_number)
        if not has_stop_mention(body, stop_number):
            candidates = forms
    if max_segments is None:
        return finish(candidates[0])
    for mention in candidates[:-1]:
        composition = finish(mention)
        if composition.segments <= max_segments:
            return composition
    shortest = finish(candidates[-1])
    if shortest.segments > max_segments:
        raise MessageTooLong(shortest.segments, max_segments)
    return shortest


body_pieces = st.sampled_from(
    ["Bonjour Zoë, ", "l’offre", " « printemps » ", "…", "—", "€", "{", "ç", "😀", "a" * 40,
     "é" * 30, "\u00a0", " ", "\n", "\t ", "STOP au 36111", "Δ", "\ud83d"]
)  # fmt: skip


@settings(max_examples=1500)
@given(
    st.lists(body_pieces, min_size=1, max_size=12).map("".join),
    st.booleans(),
    st.sampled_from(["fr", "en"]),
    st.sampled_from(["36111", "+33 6 12 34 56 78", "36\u00a0111"]),
    st.sampled_from([None, 1, 2, 3]),
    st.booleans(),
)
def test_compose_matches_the_reference(
    body: str,
    marketing: bool,
    language: str,
    stop_number: str,
    max_segments: int | None,
    smart: bool,
) -> None:
    try:
        expected: Composition | int = _ref_compose(
            body, marketing, language, stop_number, max_segments, smart
        )
    except MessageTooLong as error:
        expected = error.segments
    try:
        got: Composition | int = compose(
            body,
            marketing=marketing,
            language=language,
            stop_number=stop_number,
            max_segments=max_segments,
            smart_encoding=smart,
        )
    except MessageTooLong as error:
        got = error.segments
    assert got == expected
