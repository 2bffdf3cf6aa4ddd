"""Brands, and which of them a reply to one of our numbers concerns (contract §4). Pure.

**One brand, whatever its spelling.** ``Acme``, ``ACME`` and ``acme`` are one brand (contract
§2): every brand that enters StopSMS (campaigns, consent records, imports, the deployment's
``InboundBrands``) is stored in its canonical form, Unicode NFKC then casefolded, so that an
opt-out recorded for one spelling suppresses the campaigns of every other.

**Which brands a STOP stops.** A reply carries, at best, the ``MessageId`` of the SMS it
answers (``previousPublishedMessageId``). In order:

1. it answers one of our campaigns: that campaign's brand, and nothing else;
2. otherwise, every brand known to use the number the person wrote to: the deployment's map
   (``InboundBrands``) and the brands of the campaigns that printed it as their stop number;
3. otherwise (nobody is known to use it), every brand.

A brand that never wrote never receives an opt-out: there is no "default" brand to fall back
on. STOPALL-type keywords ask for every brand whatever the attribution.

**Numbers.** The same number is written ``36111``, ``36 111``, ``0700000001`` or
``+33700000001``; :func:`number_key` gives each number one spelling, so that the stop number of
a campaign, the deployment map and the ``destinationNumber`` of a reply can be compared.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

import phonenumbers

from stopsms.rules.controls import first_unsafe

__all__ = [
    "DEFAULT_BRAND",
    "EVERY_BRAND",
    "MAX_BRAND_CHARS",
    "Answered",
    "BrandMapError",
    "Target",
    "canonical_brand",
    "number_key",
    "parse_brand_map",
    "refuse_unsafe",
    "reply_numbers",
    "target",
]

EVERY_BRAND: Final = "*"  # the scope of an opt-out that applies to every brand
# The brand of campaigns that name none (contract §2). It is a real scope, but no name to
# print: answers about it name no brand.
DEFAULT_BRAND: Final = "default"
MAX_BRAND_CHARS: Final = 64
_NUMBER_SEPARATORS: Final = re.compile(r"[\s.\-()\u00a0\u2009\u202f]")
_NUMBER: Final = re.compile(r"^\+?[0-9]{3,15}$")

Language = Literal["fr", "en"]
Basis = Literal["campaign", "stop_number", "unknown", "every_brand"]


class BrandMapError(ValueError):
    """The deployment's ``InboundBrands`` setting cannot be read."""


# Unicode's Default_Ignorable_Code_Point ranges other than format characters (Cf), which
# `unicodedata` does not expose: combining grapheme joiner, Hangul fillers, variation
# selectors, tag characters... drawn as nothing.
_IGNORABLE_RANGES: Final = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
_BLANKS: Final = re.compile("[\u2800]")  # drawn blank, not a space to Unicode
_LINE_BREAKING: Final = frozenset({"Cc", "Zl", "Zp"})  # controls, line and paragraph separators


def _invisible(char: str) -> bool:
    code = ord(char)
    return unicodedata.category(char) == "Cf" or any(
        low <= code <= high for low, high in _IGNORABLE_RANGES
    )


def refuse_unsafe(raw: str) -> str:
    """``raw`` unchanged, or ``ValueError`` if it holds a control character, a bidirectional
    one or a line separator anywhere (check before any stripping: Python strips U+0085 and
    U+2028 as blanks)."""
    unsafe = first_unsafe(raw) or next(
        (f"U+{ord(c):04X}" for c in raw if unicodedata.category(c) in _LINE_BREAKING), None
    )
    if unsafe is not None:  # a bidi override or a line break would reach the SMS text
        raise ValueError(f"a brand name cannot hold the control character {unsafe}")
    return raw


def canonical_brand(raw: str) -> str:
    """The one spelling of a brand: invisible characters dropped, NFKC, casefolded, outer
    blanks removed.

    Raises ``ValueError`` for a name that is empty, too long, starts with ``*`` (the scope of
    every brand) or holds control characters (bidirectional overrides included).
    """
    refuse_unsafe(raw)
    # Invisible characters (zero-width space, soft hyphen, variation selectors, fillers...)
    # would make "ac\u00adme" another brand than "acme": they are dropped; blanks of every
    # kind (Braille blank included) are one space.
    visible = "".join(c for c in raw if not _invisible(c))
    name = " ".join(_BLANKS.sub(" ", unicodedata.normalize("NFKC", visible)).split()).casefold()
    if not name:
        raise ValueError("a brand name cannot be empty")
    if len(name) > MAX_BRAND_CHARS:
        raise ValueError(f"a brand name has at most {MAX_BRAND_CHARS} characters")
    if name.startswith(EVERY_BRAND):
        raise ValueError("a brand name cannot start with '*' (the scope of every brand)")
    return name


def number_key(raw: str) -> str:
    """One spelling per number: E.164 for a phone number (national French format accepted),
    the digits of a short code. ``"36 111"`` -> ``"36111"``; ``"07 00 00 00 01"`` ->
    ``"+33700000001"``."""
    compact = _NUMBER_SEPARATORS.sub("", raw.strip())
    try:
        number = phonenumbers.parse(compact, "FR")
    except phonenumbers.NumberParseException:
        return compact
    if not phonenumbers.is_possible_number(number):  # a short code: its digits are its name
        return compact
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_brand_map(spec: str) -> dict[str, frozenset[str]]:
    """``"36111=acme,+33700000001=globex,36111=initech"`` -> {number key: brands}.

    A number may be listed several times: several brands print it as their stop number.
    """
    brands: dict[str, set[str]] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        number, sep, brand = entry.partition("=")
        if not sep or not _NUMBER.match(_NUMBER_SEPARATORS.sub("", number)):
            raise BrandMapError(f"entry {entry!r} is not NUMBER=BRAND (e.g. 36111=acme)")
        try:
            name = canonical_brand(brand)
        except ValueError as error:
            raise BrandMapError(f"entry {entry!r}: {error}") from None
        brands.setdefault(number_key(number), set()).add(name)
    return {number: frozenset(names) for number, names in brands.items()}


@dataclass(frozen=True)
class Answered:
    """The campaign a reply answers, found through its ``previousPublishedMessageId``."""

    campaign_id: str
    brand: str
    language: Language = "fr"


@dataclass(frozen=True)
class Target:
    """What a reply concerns: the scopes an opt-out (or opt-in) applies to, the brand to
    name in the answer (None when several or unknown), its language, and why."""

    scopes: tuple[str, ...]
    named: str | None
    language: Language
    basis: Basis
    campaign_id: str | None = None  # the campaign answered, when known


def target(
    *, answered: Answered | None, number_brands: Iterable[str], every_brand: bool = False
) -> Target:
    """Apply the module's rule (1 campaign, 2 brands of the number, 3 every brand)."""
    if answered is not None:
        campaign = answered.campaign_id
        if every_brand:
            return Target((EVERY_BRAND,), None, answered.language, "every_brand", campaign)
        named = _printable(answered.brand)
        return Target((answered.brand,), named, answered.language, "campaign", campaign)
    if every_brand:
        return Target((EVERY_BRAND,), None, "fr", "every_brand")
    known = tuple(sorted(set(number_brands)))
    if known:
        named = _printable(known[0]) if len(known) == 1 else None
        return Target(known, named, "fr", "stop_number")
    return Target((EVERY_BRAND,), None, "fr", "unknown")


def _printable(brand: str) -> str | None:
    return None if brand == DEFAULT_BRAND else brand


def reply_numbers(stop_number: str | None, origination_identity: str | None) -> set[str]:
    """The numbers people may reply to about a campaign: the stop number it prints, and the
    number it is sent from when that is a phone number or short code (not a sender ID, a
    pool or an ARN, which cannot receive replies)."""
    numbers = set()
    for number in (stop_number, origination_identity):
        if number and _NUMBER.match(_NUMBER_SEPARATORS.sub("", number)):
            numbers.add(number_key(number))
    return numbers


def brands_of_number(
    number: str, deployment: Mapping[str, frozenset[str]], campaigns: Iterable[str]
) -> frozenset[str]:
    """Every brand known to use ``number``: the deployment map's and the campaigns'."""
    return deployment.get(number_key(number), frozenset()) | frozenset(campaigns)
