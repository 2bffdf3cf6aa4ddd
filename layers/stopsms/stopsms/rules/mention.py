"""The STOP mention and the composition of the final text of an SMS.

French rules (CNIL, ARCEP): every marketing SMS must tell how to opt out free of charge, e.g.
"STOP au 36111". Transactional/informational messages carry no mention. :func:`compose` builds
the final text: it appends the mention of the campaign's language unless the body already
carries the opt-out instruction for the same number (never duplicated), applies smart encoding
to the full text, and, when ``max_segments`` is set, falls back to shorter legal forms of the
mention before giving up with :class:`~stopsms.errors.MessageTooLong`.

When does a body already carry the instruction (:func:`has_stop_mention`)? Only when it contains
the instruction itself: the word STOP, then the stop number, with nothing between them but
spacing and at most one short connector. A looser rule ("a STOP near the number") sent
"Soldes non-stop ce week-end ! Infos au 36111" with no way to opt out, which is illegal; a
stricter one only costs a second mention. Precisely:

- STOP is the word in any case, or "STOP SMS", not part of a compound: not glued to a letter or
  digit ("STOPPER", "NONSTOP", "STOP36111") nor joined to a word by a hyphen, an apostrophe,
  "&" or "/" ("non-stop", "Stop&Go", "stop-motion"). A closing quote may follow it
  ('"STOP" au 36111', "« STOP » au 36111").
- The connector is nothing, or one of ":", "-", "–", "—", "au", "à", "a" (à typed without its
  accent, and what smart encoding makes of "À"), "to", "at", "on", optionally preceded by
  "par SMS" / "by SMS" ("envoyez STOP par SMS au 36111"). That is the whole set: "STOP aux prix
  fous, infos au 36111", "prix stop! Infos au 36111" or "STOP au numéro 36111" do not count.
  Words before STOP ("Envoyez", "Reply", "Text", "Désinscription :") do not matter, so they
  need no place in the set; a word that makes STOP a noun or a compound written with a space
  does ("Soldes non stop au 36111", "Bus stop 36111", "le stop au 36111": the mention is added).
- Order: STOP first, as in every mention we append. "36111 : STOP" is not counted: that is not
  how the instruction is written, and reading backwards would count texts such as "Infos au
  36111 : stop aux prix fous !".
- Spacing: any amount of any whitespace, NBSP, narrow NBSP, thin space and line breaks included.
- The number: the stop number's digits in order, optionally with spaces, dots, dashes or
  NBSP/thin spaces between them ("36 111", "36.111", "+33 7 00 00 00 01"), with a leading "+"
  only for numbers of :data:`MIN_INTERNATIONAL_DIGITS` digits or more (a short code with a "+"
  cannot be dialled), and never glued to other digits, even through separators ("STOP au
  136111", "STOP au 36111 2"). Only the stop number itself counts: another number, or another
  dialling form of it ("07 00 00 00 01" or "0033 7 00 00 00 01" for "+33700000001"), does not.
  Recognising national forms would take per-country trunk prefixes here, for the saving of one
  mention. The number exactly as configured always counts, so every mention :func:`compose`
  appends is recognised, in every form and language.

The rule is stable under smart encoding: the characters smart encoding replaces or removes are
judged at the boundaries like their replacements (an en dash like "-", a zero-width space as
nothing), so a body recognised before smart encoding is still recognised after, and the text
actually sent always contains the instruction.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from stopsms.errors import MessageTooLong
from stopsms.rules.encoding import (
    SMART_REPLACEMENTS,
    Encoding,
    SmartBody,
    SmartEncoding,
    count_segments,
)

# Per language, longest (default) form first, shortest legal form last. Every form is the word
# STOP followed by the number, so has_stop_mention recognises each of them.
MENTION_FORMS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "fr": ("STOP au {number}", "STOP {number}"),
        "en": ("Reply STOP to {number} to opt out", "STOP to {number}", "STOP {number}"),
    }
)
SUPPORTED_LANGUAGES: Final[tuple[str, ...]] = tuple(MENTION_FORMS)

# Separators people put inside a number: "36 111", "36.111", "06-12-...", NBSP variants.
_SEP: Final = r"[ .\-\u00a0\u2009\u202f]"
# A leading "+" is accepted only on numbers this long: E.164 numbers have at least 7 digits,
# short codes (36111) fewer, and "+36111" does not reach a short code.
MIN_INTERNATIONAL_DIGITS: Final = 7
_TRAILING_BLANKS: Final = re.compile(r"[^\S\r\n]+\Z")


def _as_encoded(chars: str, *, removed: bool = False) -> str:
    """``chars`` and every character smart encoding turns into them, escaped for a regex class.

    With ``removed``, also the characters smart encoding deletes (soft hyphen, zero-width
    space...): gone once encoded, they must not keep apart what they would glue together.
    """
    wanted = set(chars)
    members = wanted | {
        ch
        for ch, by in SMART_REPLACEMENTS.items()
        if (by and set(by) <= wanted) or (removed and not by)
    }
    return "".join(map(re.escape, sorted(members)))


# Joins a word to STOP in a compound ("non-stop", "l'stop", "Go&Stop"): dashes, quotes, & and /.
_JOINER: Final = _as_encoded("-'&/")
# Deleted by smart encoding: right before STOP, it glues STOP to the word before once encoded.
_INVISIBLE: Final = _as_encoded("", removed=True)
# What glues the number to a following digit ("36111 2", "36111.2"), an NBSP or a "…" too.
_GLUE: Final = _as_encoded(" .-\u00a0\u2009\u202f", removed=True)
# STOP, then spacing and at most one connector (see the module docstring); the number follows.
# The spacing is possessive: no token after it starts with a blank, and a STOP followed by a
# long run of blanks stays linear.
_INSTRUCTION: Final = (
    # The word (not STOPPER nor STOP36111), not in a compound; "stop" first: a fast scan.
    rf"stop(?<![\w{_INVISIBLE}]stop)(?<![\w{_INVISIBLE}][{_JOINER}]stop)(?!\w)"
    r"(?:\s++sms(?!\w))?"  # STOP SMS
    r"(?:\s*+[\"'’”»])?"  # a closing quote: « STOP » au 36111
    r"(?:\s*+(?:par|by)\s++sms(?!\w))?"  # envoyez STOP par SMS au 36111
    r"(?:\s*+(?:(?:au|à|a|to|at|on)(?!\w)|[:\-–—]))?"  # one connector, or none
    r"\s*+"
)


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


def _number_pattern(digits: str, written: str) -> str:
    """The stop number as people write it: separators between digits, "+" if international.

    ``written`` is the number as configured (stripped): it always matches, however odd ("+ 33
    7...", "-36111"), since it is what the appended mention shows.
    """
    plus = rf"(?:\+{_SEP}*)?" if len(digits) >= MIN_INTERNATIONAL_DIGITS else ""
    flexible = plus + f"{_SEP}*".join(digits)
    if re.fullmatch(flexible, written):
        return flexible
    # Each separator stays a separator once smart-encoded (NBSP -> space), each digit a digit.
    as_written = "".join(_SEP if re.fullmatch(_SEP, ch) else re.escape(ch) for ch in written)
    return f"(?:{flexible}|{as_written})"


@lru_cache(maxsize=64)
def _instruction(stop_number: str) -> re.Pattern[str]:
    """The opt-out instruction for ``stop_number``: STOP, a connector, then the number.

    Raises ValueError for an invalid number (not cached).
    """
    written = stop_number.strip()
    number = _number_pattern(_stop_digits(written), written)
    # The number is never glued to other digits, even through separators ("36111 2"); nothing
    # can come before it but the connector, so "136111" is not matched either.
    return re.compile(rf"{_INSTRUCTION}{number}(?![{_GLUE}]*\d)", re.IGNORECASE)


def has_stop_mention(text: str, stop_number: str) -> bool:
    """True when ``text`` already contains the instruction to opt out through ``stop_number``.

    That is the word STOP (or STOP SMS, any case, not in a compound such as "non-stop"), then
    only spacing and at most one short connector (nothing, ":", "-", "au", "à", "to", "at", "on",
    possibly after "par SMS" / "by SMS"), then the stop number, not glued to other digits. The
    module docstring gives the whole rule and why: a STOP merely near the number is not an
    instruction, and counting it would send marketing texts without one.

    Raises ValueError when ``stop_number`` is not a valid number and ``text`` contains "stop".
    """
    # Cheap necessary condition first (casefold maps every case form the regex accepts, such
    # as "ſ", to the ASCII letter): most bodies have no STOP and skip the regex scan.
    if "stop" not in text.casefold():
        return False
    return any(
        not _names_a_thing(text, match.start())
        for match in _instruction(stop_number).finditer(text)
    )


# Words that make the STOP after them a noun or a compound written with a space: "Soldes non
# stop au 36111", "Bus stop 36111", "le stop au 36111". Hand-written: a guard list, like the
# reply classifier's; instruction words ("Répondez", "Reply") and any sentence end stay fine.
# Not "a": smart encoding turns "À" (as in "À STOP au 36111") into it.
# fmt: off
_NOUN_MAKERS: Final = frozenset({
    "non", "nonstop", "sans", "bus", "pit", "truck", "full", "one", "last", "next", "first",
    "final", "the", "an", "this", "that", "your", "my", "our", "their", "le", "la", "les",
    "un", "une", "ce", "cet", "cette", "mon", "ton", "son", "notre", "votre", "nos", "vos",
    "leur", "leurs", "du", "des", "dernier", "dernière", "prochain", "prochaine", "premier",
    "première", "au", "aux",
})
# fmt: on
# The last word before STOP, on the same line, with only blanks between (and the characters
# smart encoding deletes, anywhere: "AU\u200b STOP" is sent as "AU STOP").
_WORD_BEFORE: Final = re.compile(
    rf"((?:\w|[{_INVISIBLE}])*\w(?:\w|[{_INVISIBLE}])*)(?:[^\S\r\n]|[{_INVISIBLE}])+\Z"
)
_INVISIBLES: Final = re.compile(f"[{_INVISIBLE}]")


def _names_a_thing(text: str, start: int) -> bool:
    """Whether the STOP at ``start`` follows a word that makes it a noun ("non stop"), on the
    same line (a line break, like punctuation, ends what comes before)."""
    word = _WORD_BEFORE.search(text, max(0, start - 40), start)
    return word is not None and _INVISIBLES.sub("", word.group(1)).casefold() in _NOUN_MAKERS


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
    """``body`` + one space + ``mention``; no space after a line break or an empty body, a line
    break after a word that would make the STOP a noun ("... non" + "STOP au 36111")."""
    # Only a text ending in a blank has anything to trim: skip the regex scan otherwise.
    trimmed = _TRAILING_BLANKS.sub("", body) if body[-1:].isspace() else body
    if not trimmed or trimmed.endswith(("\n", "\r")):
        return trimmed + mention
    if _names_a_thing(f"{trimmed} {mention}", len(trimmed) + 1):
        return f"{trimmed}\n{mention}"
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
