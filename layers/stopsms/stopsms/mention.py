"""The STOP mention and the composition of the final text of an SMS.

French rules (CNIL, ARCEP): every marketing SMS must tell how to opt out free of charge, e.g.
"STOP au 36111". Transactional/informational messages carry no mention. :func:`compose` builds
the final text: it appends the mention of the campaign's language unless the body already has
one for the same number (never duplicated), applies smart encoding to the full text, and, when
``max_segments`` is set, falls back to shorter legal forms of the mention before giving up with
:class:`~stopsms.errors.MessageTooLong`.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from stopsms.encoding import Encoding, SmartBody, SmartEncoding, count_segments
from stopsms.errors import MessageTooLong

# Per language, longest (default) form first, shortest legal form last. Every form carries the
# word STOP and the number, so has_stop_mention recognises each of them.
MENTION_FORMS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "fr": ("STOP au {number}", "STOP {number}"),
        "en": ("Reply STOP to {number} to opt out", "STOP to {number}", "STOP {number}"),
    }
)
SUPPORTED_LANGUAGES: Final[tuple[str, ...]] = tuple(MENTION_FORMS)

_STOP_WORD: Final = re.compile(r"\bstop\b", re.IGNORECASE)
# Separators people put inside a number: "36 111", "36.111", "06-12-...", NBSP variants.
_SEP: Final = r"[ .\-\u00a0\u2009\u202f]"
# STOP and the number must be close: "envoyez STOP par SMS au 36 111" is a mention, a "stop" in
# the first line and a phone number at the end are not. Being strict only risks a second
# mention, being lax risks none at all, hence a short window.
MAX_GAP: Final = 40
_TRAILING_BLANKS: Final = re.compile(r"[^\S\r\n]+\Z")


@dataclass(frozen=True)
class Composition:
    """The final text of a message and what it costs."""

    text: str
    encoding: Encoding
    segments_before: int  # the body alone (smart-encoded if enabled), to show the mention's cost
    segments: int  # the final text
    mention: str | None  # the mention appended, None when none was
    smart_encoding: SmartEncoding | None  # None when smart encoding is disabled


@lru_cache(maxsize=64)
def _stop_digits(stop_number: str | None) -> str:
    """The digits of ``stop_number`` (spaces, dots, dashes and a leading + removed)."""
    if stop_number is None or not stop_number.strip():
        raise ValueError(
            "a marketing message needs a stop_number (the number recipients text STOP to)"
        )
    digits = re.sub(_SEP, "", stop_number.strip()).removeprefix("+")
    if not re.fullmatch(r"[0-9]+", digits):
        raise ValueError(f"stop_number must be a phone number or short code, got {stop_number!r}")
    return digits


@lru_cache(maxsize=64)
def _language(language: str) -> str:
    """Normalise ``language`` ("FR", "fr-FR" -> "fr") and check it is supported."""
    primary = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]
    if primary not in MENTION_FORMS:
        supported = ", ".join(SUPPORTED_LANGUAGES)
        raise ValueError(f"unsupported language {language!r} for the STOP mention ({supported})")
    return primary


@lru_cache(maxsize=64)
def _number_pattern(digits: str) -> re.Pattern[str]:
    """The number as a whole token: optional "+", one optional separator between digits."""
    body = f"{_SEP}?".join(digits)
    # Not glued to other digits, even through a separator ("1 36111" may be "136111").
    return re.compile(rf"(?<!\d)(?<!\d{_SEP})\+?{body}(?!{_SEP}?\d)")


def has_stop_mention(text: str, stop_number: str) -> bool:
    """True when ``text`` already tells how to opt out through ``stop_number``.

    That is the whole word STOP (any case) within :data:`MAX_GAP` characters of the number as a
    whole token, in either order; spaces/dots inside the number and a leading "+" are ignored.
    """
    # Cheap necessary condition first (casefold maps every case form the regex accepts, such
    # as "ſ", to the ASCII letter): most bodies have no STOP and skip the regex scan.
    if "stop" not in text.casefold():
        return False
    stops = [m.span() for m in _STOP_WORD.finditer(text)]
    if not stops:
        return False
    numbers = [m.span() for m in _number_pattern(_stop_digits(stop_number)).finditer(text)]
    # A handful of spans at most: checking every pair is fine.
    return any(_gap(stop, number) <= MAX_GAP for stop in stops for number in numbers)


def _gap(a: tuple[int, int], b: tuple[int, int]) -> int:
    """Characters between two non-overlapping spans."""
    return b[0] - a[1] if b[0] >= a[1] else a[0] - b[1]


@lru_cache(maxsize=256)
def mentions(language: str, stop_number: str) -> tuple[str, ...]:
    """Every legal mention for ``language``, longest (default) first.

    Cached: a campaign asks for the same mentions once per recipient (errors are not cached).
    """
    number = stop_number.strip()
    _stop_digits(number)
    return tuple(form.format(number=number) for form in MENTION_FORMS[_language(language)])


def longest_mention(language: str, stop_number: str) -> str:
    """The default (longest) mention: check a campaign once with it before fan-out."""
    return mentions(language, stop_number)[0]


def append_mention(body: str, mention: str) -> str:
    """``body`` + one space + ``mention``; no space after a line break or an empty body."""
    # Only a text ending in a blank has anything to trim: skip the regex scan otherwise.
    trimmed = _TRAILING_BLANKS.sub("", body) if body[-1:].isspace() else body
    if not trimmed or trimmed.endswith(("\n", "\r")):
        return trimmed + mention
    return f"{trimmed} {mention}"


def _with(body: str, mention: str | None) -> str:
    """``body`` with ``mention`` appended, if any."""
    return body if mention is None else append_mention(body, mention)


def _finish(
    text: str, mention: str | None, segments_before: int, body: SmartBody | None
) -> Composition:
    """Smart-encode the final text (when ``body``, the body prepared for it) and count it."""
    if body is None:
        count = count_segments(text)
        return Composition(text, count.encoding, segments_before, count.segments, mention, None)
    if text.startswith(body.text):  # the body untouched: only the mention is scanned
        final, replaced, before, after, encoding = body.extended(text[len(body.text) :])
    else:  # trailing blanks were trimmed
        final, replaced, before, after, encoding = SmartBody(text).extended("")
    smart = SmartEncoding(final, replaced, before, after)
    return Composition(final, encoding, segments_before, after, mention, smart)


def compose(
    body: str,
    *,
    marketing: bool,
    language: str = "fr",
    stop_number: str | None,
    max_segments: int | None = None,
    smart_encoding: bool = True,
) -> Composition:
    """Build the final text of a message: body, STOP mention if marketing, smart encoding.

    Raises ValueError for a marketing message without a valid stop number or with an unsupported
    language, and MessageTooLong when no form of the text fits in ``max_segments``.
    """
    return _compose(body, marketing, language, stop_number, max_segments, smart_encoding)


# Cached: a campaign without placeholders (or with few distinct values) sends the same text to
# every recipient. The result is immutable; errors are not cached, so they are raised each time.
@lru_cache(maxsize=1024)
def _compose(
    body: str,
    marketing: bool,
    language: str,
    stop_number: str | None,
    max_segments: int | None,
    smart_encoding: bool,
) -> Composition:
    if max_segments is not None and max_segments < 1:
        raise ValueError(f"max_segments must be at least 1, got {max_segments}")
    prepared = SmartBody(body) if smart_encoding else None
    if prepared is not None:
        segments_before = prepared.extended("")[3]
    else:
        segments_before = count_segments(body).segments
    candidates: tuple[str | None, ...] = (None,)
    if marketing:
        forms = mentions(language, stop_number or "")  # validates language and number
        if not has_stop_mention(body, stop_number or ""):
            candidates = forms
    if max_segments is None:  # no limit: always the default form (or none)
        return _finish(_with(body, candidates[0]), candidates[0], segments_before, prepared)
    for mention in candidates[:-1]:  # default form first...
        composition = _finish(_with(body, mention), mention, segments_before, prepared)
        if composition.segments <= max_segments:
            return composition
    shortest = _finish(_with(body, candidates[-1]), candidates[-1], segments_before, prepared)
    if shortest.segments > max_segments:  # ...shortest legal form last
        raise MessageTooLong(shortest.segments, max_segments)
    return shortest
