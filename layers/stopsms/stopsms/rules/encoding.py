"""SMS encoding and segment counting, exactly as carriers bill, plus "smart encoding".

Encoding: a text is sent in GSM-7 (GSM 03.38 default alphabet) when every character is in the
basic table or in the extension table; a single other character switches the WHOLE message to
UCS-2 (UTF-16), which more than halves the room per segment.

Segments: a single-part message holds 160 septets (GSM-7) or 70 UTF-16 code units (UCS-2). Longer
messages are concatenated; each part loses room to the user data header and holds 153 septets or
67 code units. Parts are filled greedily, and like real SMSCs we never split an escape pair
(extension character = ESC + char, 2 septets) nor a UTF-16 surrogate pair (characters above
U+FFFF, e.g. emoji, 2 code units) across two parts. That is why a text can need one segment more
than ``ceil(units / 153)`` suggests. Grapheme clusters (flags, ZWJ emoji sequences) may be split
across parts, like carriers do: the handset reassembles the message anyway.

Smart encoding (deployment option ``SmartEncoding``, on by default): copy-pasted marketing texts
are full of typography that silently forces UCS-2: curly quotes ’ “ ”, guillemets « », the
ellipsis …, dashes – —, non-breaking and thin spaces (French puts one before : ; ! ? and %), œ,
and a few accented letters absent from GSM-7 (â ê î ô û...). ``smart_encode`` replaces them by
their closest GSM-7 equivalent (’ → ', « → ", … → ..., – → -, NBSP → space, œ → oe, ê → e), which
typically divides the number of billed segments by two or three. It only does so when it pays:
the replacement is applied only if the result is entirely GSM-7 and needs no more segments than
the original; otherwise (an emoji, a ç, Cyrillic...) the message stays UCS-2 anyway, so the text
is left untouched rather than degraded for no saving. Letters that would change case or meaning
are never mapped (notably ç, which is not in GSM-7: only Ç is).
"""

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 default alphabet in table order, 0x00..0x7F. 0x1B is the escape to the extension
# table, not a character; 0x24 is the currency sign ¤ ($ is 0x02) and 0x40 is ¡ (@ is 0x00).
GSM7_BASIC_TABLE: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7_BASIC: Final = frozenset(GSM7_BASIC_TABLE) - {"\x1b"}
# Extension table: each costs 2 septets (ESC + char). \f is the form feed (page break).
GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")
_GSM7_ALL: Final = GSM7_BASIC | GSM7_EXTENSION

GSM7_SINGLE: Final = 160
GSM7_MULTI: Final = 153
UCS2_SINGLE: Final = 70
UCS2_MULTI: Final = 67

_LIMITS: Final[dict[Encoding, tuple[int, int]]] = {
    "GSM-7": (GSM7_SINGLE, GSM7_MULTI),
    "UCS-2": (UCS2_SINGLE, UCS2_MULTI),
}


@dataclass(frozen=True)
class SegmentCount:
    """How a text is billed: encoding, size in septets/code units, number of segments."""

    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    characters: int  # Unicode code points (len of the Python string)


@dataclass(frozen=True)
class SmartEncoding:
    """Result of :func:`smart_encode`: the text to send and what the replacement saved."""

    text: str
    replaced: int  # number of characters replaced (0 when the text was left untouched)
    segments_before: int
    segments_after: int

    @property
    def saved(self) -> int:
        """Segments saved per message by the replacement (never negative)."""
        return self.segments_before - self.segments_after


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` can be sent in GSM-7 (basic or extension)."""
    return _GSM7_ALL.issuperset(text)  # one C loop, not a Python one per character


def detect_encoding(text: str) -> Encoding:
    """The encoding a carrier uses for ``text``: GSM-7 if possible, else UCS-2."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def _is_high_surrogate(ch: str) -> bool:
    return "\ud800" <= ch <= "\udbff"


def _is_low_surrogate(ch: str) -> bool:
    return "\udc00" <= ch <= "\udfff"


def _atoms(text: str, encoding: Encoding) -> list[tuple[int, int]]:
    """Unsplittable pieces of ``text`` as (length in str characters, cost in units)."""
    if encoding == "GSM-7":
        return [(1, 2 if ch in GSM7_EXTENSION else 1) for ch in text]
    atoms: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ord(ch) > 0xFFFF:
            atoms.append((1, 2))
        elif (
            _is_high_surrogate(ch) and i + 1 < len(text) and _is_low_surrogate(text[i + 1])
        ):  # an explicit surrogate pair (e.g. decoded with "surrogatepass") stays together
            atoms.append((2, 2))
            i += 1
        else:
            atoms.append((1, 1))
        i += 1
    return atoms


def _part_lengths(atoms: list[tuple[int, int]], limit: int) -> list[int]:
    """Greedy packing: lengths (in str characters) of the parts, no atom ever split."""
    lengths: list[int] = []
    length = used = 0
    for size, cost in atoms:
        if used + cost > limit:
            lengths.append(length)
            length = used = 0
        length += size
        used += cost
    lengths.append(length)
    return lengths


# Characters that make a UCS-2 atom other than (1 character, 1 unit): astral characters and
# surrogates (a lone one is 1 unit, a pair 2 characters for 2 units).
_UCS2_UNEVEN: Final = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")
# The GSM-7 characters below U+0100, as Latin-1 bytes (all of the extension table but €).
_GSM7_BASIC_BYTES: Final = bytes(ord(ch) for ch in sorted(GSM7_BASIC) if ord(ch) < 0x100)
_GSM7_EXTENSION_BYTES: Final = bytes(ord(ch) for ch in sorted(GSM7_EXTENSION) if ord(ch) < 0x100)


# (encoding, units, uneven, characters) of a text: uneven when some atom is not (1 character,
# 1 unit). Units add up over a concatenation: a body measured once serves every mention.
_Measure = tuple[Encoding, int, bool, int]


def _measure(text: str) -> _Measure:
    """Encoding, units, whether some atom is not (1 character, 1 unit), and length.

    Runs several times per message, so the usual texts are measured with C-level operations
    rather than a Python loop per character: Latin-1 text as bytes, the rest with set and
    regex scans. Only uneven UCS-2 text (astral characters, surrogates) is walked.
    """
    size = len(text)
    latin1 = text.encode("latin-1", "ignore")  # drops what is above U+00FF
    if len(latin1) == size:  # so no surrogate and no astral character either
        rest = latin1.translate(None, _GSM7_BASIC_BYTES)  # extension characters or not GSM-7
        if rest.translate(None, _GSM7_EXTENSION_BYTES):
            return "UCS-2", size, False, size
        return "GSM-7", size + len(rest), bool(rest), size
    if _GSM7_ALL.issuperset(text):  # GSM-7 beyond Latin-1: Greek capitals, €
        extensions = sum(map(text.count, GSM7_EXTENSION))
        return "GSM-7", size + extensions, extensions > 0, size
    if _UCS2_UNEVEN.search(text) is None:
        return "UCS-2", size, False, size
    return "UCS-2", units_of(text, "UCS-2"), True, size


def _plan(text: str) -> tuple[Encoding, int, list[int]]:
    """Encoding, total units and part lengths of ``text``."""
    encoding, units, uneven, _ = _measure(text)
    single, multi = _LIMITS[encoding]
    if units <= single:
        return encoding, units, [len(text)]
    if uneven:  # never split an escape or surrogate pair: pack atom by atom
        return encoding, units, _part_lengths(_atoms(text, encoding), multi)
    full, rest = divmod(units, multi)  # every atom is 1 character for 1 unit
    return encoding, units, [multi] * full + ([rest] if rest else [])


def _segments(measure: _Measure, text: str) -> int:
    """Segments of ``text`` (measured ``measure``), without building the part lengths."""
    encoding, units, uneven, _ = measure
    single, multi = _LIMITS[encoding]
    if units <= single:
        return 1
    if uneven:
        return len(_part_lengths(_atoms(text, encoding), multi))
    return -(-units // multi)


def _count(text: str) -> tuple[Encoding, int, int]:
    """Encoding, units and segments of ``text``."""
    measure = _measure(text)
    return measure[0], measure[1], _segments(measure, text)


def count_segments(text: str) -> SegmentCount:
    """Encoding, units and number of segments of ``text`` (an empty text is 1 segment)."""
    encoding, units, segments = _count(text)
    return SegmentCount(encoding, units, segments, len(text))


def split_parts(text: str) -> list[str]:
    """The parts a carrier sends for ``text``; ``"".join(parts) == text``.

    A single-part text (including the empty text) is returned as ``[text]``.
    """
    _, _, lengths = _plan(text)
    parts: list[str] = []
    start = 0
    for length in lengths:
        parts.append(text[start : start + length])
        start += length
    return parts


def units_of(text: str, encoding: Encoding) -> int:
    """Size of ``text`` in ``encoding`` units (assumes ``text`` is encodable in it)."""
    return sum(cost for _, cost in _atoms(text, encoding))


_QUOTE = "'"
_DQUOTE = '"'
# Typography that forces UCS-2 -> closest GSM-7 text. Only safe, meaning-preserving mappings.
SMART_REPLACEMENTS: Final[dict[str, str]] = {
    # apostrophes and single quotes
    "\u2019": _QUOTE,  # ’
    "\u2018": _QUOTE,  # ‘
    "\u201a": _QUOTE,  # ‚
    "\u201b": _QUOTE,  # ‛
    "\u2032": _QUOTE,  # ′
    "\u2039": _QUOTE,  # ‹
    "\u203a": _QUOTE,  # ›
    # double quotes and guillemets
    "\u201c": _DQUOTE,  # “
    "\u201d": _DQUOTE,  # ”
    "\u201e": _DQUOTE,  # „
    "\u201f": _DQUOTE,  # ‟
    "\u00ab": _DQUOTE,  # «
    "\u00bb": _DQUOTE,  # »
    "\u2033": _DQUOTE,  # ″
    # ellipsis, dashes, bullet
    "\u2026": "...",  # …
    "\u2010": "-",  # ‐ hyphen
    "\u2011": "-",  # ‑ non-breaking hyphen
    "\u2012": "-",  # ‒ figure dash
    "\u2013": "-",  # – en dash
    "\u2014": "-",  # — em dash
    "\u2015": "-",  # ― horizontal bar
    "\u2212": "-",  # − minus sign
    "\u2022": "-",  # • bullet
    # Unicode space separators (category Zs): NBSP, narrow NBSP, thin space...
    "\u00a0": " ",
    "\u1680": " ",
    **{chr(cp): " " for cp in range(0x2000, 0x200B)},  # en quad .. hair space
    "\u202f": " ",
    "\u205f": " ",
    "\u3000": " ",
    # invisible characters pasted from word processors: dropping them changes nothing visible
    "\u00ad": "",  # soft hyphen
    "\u200b": "",  # zero-width space
    "\u2060": "",  # word joiner
    "\ufeff": "",  # zero-width no-break space (BOM)
    # ligatures
    "œ": "oe",
    "Œ": "OE",
    # accented letters absent from GSM-7 (à è é ù ì ò É are in it and never touched; ç neither,
    # since its only GSM-7 counterpart Ç changes the case)
    "â": "a",
    "á": "a",
    "ê": "e",
    "ë": "e",
    "î": "i",
    "ï": "i",
    "í": "i",
    "ô": "o",
    "ó": "o",
    "û": "u",
    "ú": "u",
    "ÿ": "y",
    "À": "A",
    "Â": "A",
    "Á": "A",
    "È": "E",
    "Ê": "E",
    "Ë": "E",
    "Ì": "I",
    "Î": "I",
    "Ï": "I",
    "Í": "I",
    "Ò": "O",
    "Ô": "O",
    "Ó": "O",
    "Ù": "U",
    "Û": "U",
    "Ú": "U",
    "Ÿ": "Y",
}
_SMART_KEYS: Final = frozenset(SMART_REPLACEMENTS)


def smart_encode(text: str) -> SmartEncoding:
    """Replace UCS-2-forcing typography by GSM-7 equivalents, only when it saves segments.

    The replacement is kept only if the whole result is GSM-7 and needs no more segments than
    the original (it can need more: "…" becomes three characters); otherwise the original text
    is returned with ``replaced == 0``.
    """
    return smart_encode_counted(text)[0]


def smart_encode_counted(text: str) -> tuple[SmartEncoding, Encoding]:
    """:func:`smart_encode` and the encoding of its text (known anyway: saves a count)."""
    final, replaced, before, after, encoding = SmartBody(text).extended("")
    return SmartEncoding(final, replaced, before, after), encoding


def _joined(first: _Measure, second: _Measure) -> _Measure:
    """The measure of the concatenation of two measured texts."""
    if first[0] == second[0]:
        return first[0], first[1] + second[1], first[2] or second[2], first[3] + second[3]
    # GSM-7 and UCS-2: all UCS-2, where a GSM-7 character is one unit (BMP, not a surrogate).
    ucs2, gsm7 = (first, second) if first[0] == "UCS-2" else (second, first)
    return "UCS-2", ucs2[1] + gsm7[3], ucs2[2], first[3] + second[3]


def _replace_smart(text: str, present: AbstractSet[str]) -> str:
    # Same as str.translate with SMART_REPLACEMENTS (no replacement contains a replaced
    # character, so the order does not matter), minus translate's per-character lookups.
    for ch in present:
        text = text.replace(ch, SMART_REPLACEMENTS[ch])
    return text


class SmartBody:
    """A text scanned once for smart encoding, then extended with each candidate mention.

    ``extended(suffix)`` gives what :func:`smart_encode` gives for ``text + suffix``: (text,
    replaced, segments before, segments after, encoding after), from the measures of both
    parts: neither is scanned again (suffixes, a few mentions, are prepared once and cached).
    """

    __slots__ = ("candidate", "candidate_measure", "measure", "present", "replaced", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.measure = _measure(text)
        # No GSM-7 character is a replaced one: a GSM-7 text has nothing to replace.
        gsm7 = self.measure[0] == "GSM-7"
        self.present = frozenset() if gsm7 else _SMART_KEYS.intersection(text)
        self.candidate = _replace_smart(text, self.present)
        self.candidate_measure = _measure(self.candidate) if self.present else self.measure
        self.replaced = sum(map(text.count, self.present))

    def extended(self, suffix: str) -> tuple[str, int, int, int, Encoding]:
        tail = _suffix(suffix)
        text = self.text + suffix
        measure = _joined(self.measure, tail.measure)
        before = _segments(measure, text)
        unchanged = text, 0, before, before, measure[0]
        if measure[0] == "GSM-7" or not (self.present or tail.present):
            return unchanged  # nothing to do, or nothing to replace: still UCS-2
        after_measure = _joined(self.candidate_measure, tail.candidate_measure)
        if after_measure[0] != "GSM-7":
            return unchanged
        candidate = self.candidate + tail.candidate
        after = _segments(after_measure, candidate)
        if after > before:
            return unchanged
        return candidate, self.replaced + tail.replaced, before, after, "GSM-7"


@lru_cache(maxsize=256)
def _suffix(text: str) -> SmartBody:
    return SmartBody(text)
