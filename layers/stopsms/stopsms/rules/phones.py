"""Recipient phone numbers: normalisation to E.164, SMS capability, time zones and log masking.

Parsing is delegated to ``phonenumbers`` (Google's libphonenumber metadata); nothing is
hand-parsed here. Choices worth knowing:

* Numbers without ``+`` are read in the national format of ``default_region``. A number that
  starts with the region's country calling code and is invalid as a national number is read
  as international (phonenumbers does this): ``33612345678`` is ``+33612345678`` because French
  national numbers have 10 digits and start with ``0``.
* French overseas numbers share the ``0`` national prefix of metropolitan France but not its
  calling code: ``0690 12 34 56`` is invalid as a metropolitan number, so the other regions of
  the French numbering family (GP, MQ, GF, RE, YT, PM, BL, MF) are tried in turn and the first
  valid reading wins (``+590690123456``).
* SMS capability follows the number type: MOBILE, FIXED_LINE_OR_MOBILE (e.g. US, where both
  share ranges), VOIP, PAGER and PERSONAL_NUMBER are accepted because they can receive texts;
  FIXED_LINE, TOLL_FREE, PREMIUM_RATE, SHARED_COST, UAN and VOICEMAIL are refused with
  ``not_sms_capable``. phonenumbers only reports UNKNOWN for invalid numbers, which are
  refused with ``invalid_number``; any future type phonenumbers adds is accepted.
* ``time_zones`` is never empty: phonenumbers' zones for the number, narrowed to the zone of
  the number's own territory when phonenumbers lumps territories together (+262 covers both
  Réunion and Mayotte); when phonenumbers knows no zone, the territory's zone (table below or
  the zones of the region's example number), and ``Etc/UTC`` as the last resort.

Speed: the sender normalises every recipient, and phonenumbers' general path (parse, type,
region, time zones) costs tens of µs a number. A fast path reads the inputs people usually
type (digits with optional spaces, dots or dashes after ``+``, ``00`` or a national ``0``) and
classifies them with phonenumbers' own metadata, its patterns compiled once. It answers only
when it certainly agrees with the general path: a valid, SMS-capable number in a syntax whose
parsing it mirrors; anything else (other syntax, invalid, not SMS-capable, a national prefix
that phonenumbers might keep) goes the general way, which also words the errors.
``tests/unit/test_phones_fast.py`` checks both agree on generated inputs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    REGION_CODE_FOR_NON_GEO_ENTITY,
    NumberParseException,
    PhoneMetadata,
    PhoneNumberDesc,
    PhoneNumberType,
    ValidationResult,
)
from phonenumbers import timezone as pn_timezone
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from stopsms.errors import InvalidPhoneNumber
from stopsms.rules.controls import first_unsafe

__all__ = [
    "FRENCH_NUMBERING_REGIONS",
    "NOT_SMS_CAPABLE_TYPES",
    "Phone",
    "mask",
    "normalize",
    "redact",
    "try_normalize",
]

# Regions that share the French "0 + 9 digits" national format: a national number that is
# invalid in one of them is retried in the others, metropolitan France first.
FRENCH_NUMBERING_REGIONS: tuple[str, ...] = ("FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF")

NOT_SMS_CAPABLE_TYPES: frozenset[int] = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.PREMIUM_RATE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.UAN,
        PhoneNumberType.VOICEMAIL,
    }
)

# The zone of each territory whose calling code phonenumbers maps to several zones or none.
_REGION_ZONE: dict[str, str] = {
    "FR": "Europe/Paris",
    "GP": "America/Guadeloupe",
    "MQ": "America/Martinique",
    "GF": "America/Cayenne",
    "RE": "Indian/Reunion",
    "YT": "Indian/Mayotte",
    "PM": "America/Miquelon",
    "BL": "America/St_Barthelemy",
    "MF": "America/Marigot",
    "NC": "Pacific/Noumea",
    "WF": "Pacific/Wallis",
}

_UNKNOWN_REGION = "ZZ"  # phonenumbers' own code for "no region"
_UNKNOWN_ZONE = "Etc/Unknown"  # what phonenumbers.timezone answers when it does not know
_FALLBACK_ZONE = "Etc/UTC"

_PARSE_ERROR_REASONS: dict[int, str] = {
    NumberParseException.INVALID_COUNTRY_CODE: "invalid_country_code",
    NumberParseException.NOT_A_NUMBER: "not_a_number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
    NumberParseException.TOO_SHORT_NSN: "too_short",
    NumberParseException.TOO_LONG: "too_long",
}

_LENGTH_REASONS: dict[int, str] = {
    ValidationResult.INVALID_COUNTRY_CODE: "invalid_country_code",
    ValidationResult.TOO_SHORT: "too_short",
    ValidationResult.TOO_LONG: "too_long",
}

# E.164 allows 15 digits; beyond that mask() stops echoing stars for garbage input.
_MAX_MASKED_DIGITS = 15


@dataclass(frozen=True, slots=True, repr=False)
class Phone:
    """A valid, SMS-capable recipient number.

    ``repr()``/``str()`` show the masked number so that logging a Phone never leaks it; use
    ``e164`` explicitly to send.
    """

    e164: str
    region: str
    time_zones: tuple[str, ...]

    @property
    def masked(self) -> str:
        """The number as it may appear in logs, e.g. ``+33*******78``."""
        return mask(self.e164)

    def __repr__(self) -> str:
        return f"Phone({self.masked}, region={self.region!r}, time_zones={self.time_zones!r})"


def normalize(raw: object, default_region: str = "FR") -> Phone:
    """Turn user input into a :class:`Phone` or raise :class:`InvalidPhoneNumber`.

    ``default_region`` is the ISO region used for numbers written without ``+``/``00``.
    """
    text = _as_text(raw)
    fast = _fast_normalize(text, default_region)
    if fast is not None:
        return fast
    return _reference_normalize(text, default_region)


def _reference_normalize(text: str, default_region: str) -> Phone:
    """The general path, phonenumbers all the way; the fast path must agree with it."""
    number = _parse(text, default_region)
    # number_type() is UNKNOWN exactly when is_valid_number() is False: one lookup for both.
    number_type = phonenumbers.number_type(number)
    if number_type == PhoneNumberType.UNKNOWN and _is_french_family(number, default_region):
        retried = _retry_french_regions(text, default_region)
        if retried is not None:
            number, number_type = retried
    return _to_phone(number, number_type)


def try_normalize(raw: object, default_region: str = "FR") -> Phone | None:
    """Like :func:`normalize` but returns ``None`` for an unusable number."""
    try:
        return normalize(raw, default_region)
    except InvalidPhoneNumber:
        return None


def mask(value: object) -> str:
    """Hide a number for logs: at most the calling code and the last 2 digits stay visible.

    ``+33612345678`` gives ``+33*******78``; anything else (national or invalid input) gives
    stars for every digit but the last 2 (``0612345678`` gives ``********78``), capped at
    15 digits. Never raises.
    """
    try:
        text = value.e164 if isinstance(value, Phone) else str(value)
    except Exception:  # an object with a broken __str__ must not break logging
        return "*"
    digits = [str(int(char)) for char in text if char.isdecimal()]  # any script, shown ASCII
    cc = _calling_code(digits) if text.lstrip().startswith("+") else ""
    rest = digits[len(cc) :]
    visible = "".join(rest[-2:]) if len(rest) > 2 else ""
    stars = "*" * min(len(rest) - len(visible), _MAX_MASKED_DIGITS - len(cc) - len(visible))
    return f"+{cc}{stars}{visible}" if cc else f"{stars}{visible}"


# A digit, then at least five more, with up to four separators between two digits (any
# character that is not a letter, a digit or a list delimiter: spaces of every width,
# hyphens of every kind, dots, slashes, underscores... "06 - 33 - 44" spaces its digits with
# three): anything this long could be a number.
_DIGIT_RUN = re.compile(r"\+?\d(?:(?:[^\w,;:|]|_){0,4}\d){5,}")


def redact(text: str) -> str:
    """``text`` with every run of 6 digits or more masked as :func:`mask` would: for messages
    that quote data (a CSV header, a cell) and are logged or stored."""
    return _DIGIT_RUN.sub(lambda match: mask(match.group()), text)


# --- parsing helpers ----------------------------------------------------------------------


_SEPARATORS: Final = "\u2028\u2029"  # line and paragraph separators: no number holds one


def _as_text(raw: object) -> str:
    if raw is None:
        raise InvalidPhoneNumber("empty", "no number given")
    if not isinstance(raw, str):
        raise InvalidPhoneNumber("not_a_number", f"expected a string, got {type(raw).__name__}")
    # Checked before stripping: Python strips some controls (U+0085, U+000B) as blanks.
    unsafe = first_unsafe(raw) or next((f"U+{ord(c):04X}" for c in raw if c in _SEPARATORS), None)
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("empty", "blank number")
    if unsafe is not None:
        # phonenumbers would skip it; a number carrying NUL or a bidi override is no number.
        raise InvalidPhoneNumber("control_character", f"holds {unsafe}")
    return text


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException as exc:
        reason = _PARSE_ERROR_REASONS.get(exc.error_type, "not_a_number")
        raise InvalidPhoneNumber(reason, str(exc)) from None


def _is_french_family(number: phonenumbers.PhoneNumber, default_region: str) -> bool:
    """True when the number was read with the calling code of a French default region."""
    return default_region in FRENCH_NUMBERING_REGIONS and (
        number.country_code == phonenumbers.country_code_for_region(default_region)
    )


def _retry_french_regions(
    text: str, default_region: str
) -> tuple[phonenumbers.PhoneNumber, int] | None:
    """Read a national number in the other French regions; the first valid reading wins.

    An international input keeps its calling code whatever the region, so it cannot be
    reinterpreted here: "+33 690 12 34 56" stays an invalid +33 number.
    """
    for region in FRENCH_NUMBERING_REGIONS:
        if region == default_region:
            continue
        try:
            candidate = phonenumbers.parse(text, region)
        except NumberParseException:
            continue
        number_type = phonenumbers.number_type(candidate)
        if number_type != PhoneNumberType.UNKNOWN:
            return candidate, number_type
    return None


def _to_phone(number: phonenumbers.PhoneNumber, number_type: int) -> Phone:
    if number_type == PhoneNumberType.UNKNOWN:
        raise _invalid(number)
    if number_type in NOT_SMS_CAPABLE_TYPES:
        kind = _type_name(number_type)
        raise InvalidPhoneNumber("not_sms_capable", f"{kind} numbers cannot receive SMS")
    region = phonenumbers.region_code_for_number(number) or _UNKNOWN_REGION
    zones = _zones(region, tuple(pn_timezone.time_zones_for_number(number)))
    e164 = f"+{number.country_code}{phonenumbers.national_significant_number(number)}"
    return Phone(e164=e164, region=region, time_zones=zones)


def _invalid(number: phonenumbers.PhoneNumber) -> InvalidPhoneNumber:
    reason = _LENGTH_REASONS.get(phonenumbers.is_possible_number_with_reason(number))
    if reason is None:
        return InvalidPhoneNumber("invalid_number", "no valid number has these digits")
    return InvalidPhoneNumber(reason, f"{reason.replace('_', ' ')} for +{number.country_code}")


@lru_cache(maxsize=32)
def _type_name(number_type: int) -> str:
    for name, value in vars(PhoneNumberType).items():
        if value == number_type and not name.startswith("_"):
            return name.lower().replace("_", " ")
    return "this type of"


# --- fast path: phonenumbers' metadata, compiled once ---------------------------------------

# What the fast path reads: ASCII digits in groups split by one space, dot or dash, and an
# optional leading "+" (phonenumbers reads any other digit or syntax its own way).
_PLAIN_NUMBER = re.compile(r"\+?[0-9]+(?:[ .\-][0-9]+)*")
_MAX_PLAIN_LENGTH = 40  # far more than any valid number written so; phonenumbers caps input
_IDD = "00"  # the international prefix of every French region (checked per region)
_MAX_CC_DIGITS = 3
# For each default region, the regions a national number is read in, in turn (see normalize).
_FRENCH_ORDER: dict[str, tuple[str, ...]] = {
    home: (home, *(r for r in FRENCH_NUMBERING_REGIONS if r != home))
    for home in FRENCH_NUMBERING_REGIONS
}

# Types after the general pattern, in the order phonenumbers' _number_type_helper tests them;
# then fixed line (or "fixed line or mobile") and mobile.
_TYPE_ORDER: tuple[tuple[int, str], ...] = (
    (PhoneNumberType.PREMIUM_RATE, "premium_rate"),
    (PhoneNumberType.TOLL_FREE, "toll_free"),
    (PhoneNumberType.SHARED_COST, "shared_cost"),
    (PhoneNumberType.VOIP, "voip"),
    (PhoneNumberType.PERSONAL_NUMBER, "personal_number"),
    (PhoneNumberType.PAGER, "pager"),
    (PhoneNumberType.UAN, "uan"),
    (PhoneNumberType.VOICEMAIL, "voicemail"),
    (PhoneNumberType.FIXED_LINE, "fixed_line"),
    (PhoneNumberType.MOBILE, "mobile"),
)


class _Unsupported(Exception):
    """Metadata the fast path cannot compile faithfully: the general path handles the number."""


@dataclass(frozen=True, slots=True)
class _Region:
    """The metadata of one region that the fast path uses."""

    country_code: int
    # One fullmatch gives phonenumbers' type: the general desc as a lookahead, then the descs in
    # _TYPE_ORDER as alternatives named k0, k1...: the first one matching wins, as in
    # _number_type_helper. None when no number is valid.
    types: re.Pattern[str] | None
    compiled: bool  # False: metadata with capturing groups (never so far), not compiled
    kinds: dict[str, int]  # alternative name -> PhoneNumberType
    mobile: re.Pattern[str] | None  # to tell FIXED_LINE from FIXED_LINE_OR_MOBILE
    same_mobile_and_fixed_line: bool
    leading_digits: re.Pattern[str] | None
    national_prefix: re.Pattern[str] | None  # national_prefix_for_parsing
    simple_national_prefix: bool  # exactly "0", no transform rule: the only one stripped here
    international_prefix: str | None
    general: re.Pattern[str] | None  # the general pattern alone (no length check)
    possible_lengths: frozenset[int]  # of the general desc, minus the local-only ones


def _desc_regex(desc: PhoneNumberDesc | None) -> str | None:
    """phonenumbers' _is_number_matching_desc as a regex for a string of digits, or None
    when the desc never matches: possible lengths as a lookahead, then the pattern."""
    pattern = desc.national_number_pattern if desc is not None else None
    if desc is None or not pattern:
        return None
    if re.compile(pattern).groups:  # would shift the named groups below: not compiled
        raise _Unsupported(pattern)
    lengths = desc.possible_length
    if not lengths:  # no lengths: any length
        return f"(?:{pattern})"
    sizes = "|".join(f"[0-9]{{{size}}}" for size in sorted(set(lengths)) if size > 0)
    return rf"(?=(?:{sizes})\Z)(?:{pattern})" if sizes else None


def _types_regex(metadata: PhoneMetadata) -> tuple[re.Pattern[str] | None, dict[str, int]]:
    general = _desc_regex(metadata.general_desc)
    kinds: dict[str, int] = {}
    alternatives: list[str] = []
    for kind, attribute in _TYPE_ORDER:
        if kind == PhoneNumberType.MOBILE and metadata.same_mobile_and_fixed_line_pattern:
            continue  # phonenumbers then never answers MOBILE
        regex = _desc_regex(getattr(metadata, attribute))
        if regex is not None:
            name = f"k{len(alternatives)}"
            kinds[name] = kind
            alternatives.append(f"(?P<{name}>{regex})")
    if general is None or not alternatives:
        return None, kinds
    return re.compile(f"(?={general}\\Z)(?:{'|'.join(alternatives)})"), kinds


@lru_cache(maxsize=512)
def _region(code: str) -> _Region | None:
    metadata = PhoneMetadata.metadata_for_region(code, None)
    if metadata is None or metadata.country_code is None:
        return None
    try:
        types, kinds = _types_regex(metadata)
        mobile = _desc_regex(metadata.mobile)
        compiled = True
    except _Unsupported:
        types, kinds, mobile, compiled = None, {}, None, False
    general = metadata.general_desc
    general_pattern = general.national_number_pattern if general is not None else None
    npp = metadata.national_prefix_for_parsing
    return _Region(
        country_code=metadata.country_code,
        types=types,
        compiled=compiled,
        kinds=kinds,
        mobile=re.compile(mobile) if mobile is not None else None,
        same_mobile_and_fixed_line=bool(metadata.same_mobile_and_fixed_line_pattern),
        leading_digits=re.compile(metadata.leading_digits) if metadata.leading_digits else None,
        national_prefix=re.compile(npp) if npp else None,
        simple_national_prefix=npp == "0" and not metadata.national_prefix_transform_rule,
        international_prefix=metadata.international_prefix,
        general=re.compile(general_pattern) if general_pattern else None,
        possible_lengths=frozenset(general.possible_length)
        - frozenset(general.possible_length_local_only)
        if general is not None
        else frozenset(),
    )


def _type_in(nsn: str, region: _Region) -> int:
    """phonenumbers' _number_type_helper, with the region's compiled metadata."""
    if not region.compiled:
        raise _Unsupported(nsn)
    if region.types is None:
        return PhoneNumberType.UNKNOWN
    match = region.types.fullmatch(nsn)
    if match is None:
        return PhoneNumberType.UNKNOWN
    kind = region.kinds[match.lastgroup or ""]
    if kind != PhoneNumberType.FIXED_LINE:
        return kind
    if region.same_mobile_and_fixed_line or (
        region.mobile is not None and region.mobile.fullmatch(nsn) is not None
    ):
        return PhoneNumberType.FIXED_LINE_OR_MOBILE
    return PhoneNumberType.FIXED_LINE


def _region_code(country_code: int, nsn: str) -> str | None:
    """phonenumbers.region_code_for_number: leading digits, else the first valid region."""
    codes = COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if codes is None:
        return None
    if len(codes) == 1:
        return codes[0]
    for code in codes:
        region = _region(code)
        if region is None:
            continue
        if region.leading_digits is not None:
            if region.leading_digits.match(nsn):
                return code
        elif _type_in(nsn, region) != PhoneNumberType.UNKNOWN:
            return code
    return None


def _classify(country_code: int, nsn: str) -> tuple[str | None, int] | None:
    """phonenumbers' (region_code_for_number, number_type), or None for non-geographic codes."""
    code = _region_code(country_code, nsn)
    if code == REGION_CODE_FOR_NON_GEO_ENTITY:
        return None
    region = _region(code) if code is not None else None
    return code, _type_in(nsn, region) if region is not None else PhoneNumberType.UNKNOWN


def _fast_normalize(text: str, default_region: str) -> Phone | None:
    """:func:`normalize` for the usual inputs, or None: then the general path decides."""
    if (
        default_region not in FRENCH_NUMBERING_REGIONS
        or len(text) > _MAX_PLAIN_LENGTH
        or not _PLAIN_NUMBER.fullmatch(text)
    ):
        return None
    digits = text.replace(" ", "").replace(".", "").replace("-", "")
    try:
        if digits[0] == "+":
            return _fast_international(digits[1:])
        home = _region(default_region)
        if home is None or home.international_prefix != _IDD:
            return None
        if digits.startswith(_IDD):
            return _fast_international(digits[len(_IDD) :])
        if digits[0] == "0":
            return _fast_national(digits, default_region)
    except _Unsupported:
        pass
    return None  # e.g. the calling code without "+": phonenumbers guesses, let it


def _fast_international(digits: str) -> Phone | None:
    """A number after "+" or the "00" prefix: calling code, then national significant number."""
    if digits[:1] == "0":  # phonenumbers reads neither "+0…" nor "000…" as international
        return None
    for size in range(1, min(len(digits), _MAX_CC_DIGITS) + 1):
        country_code = int(digits[:size])
        if country_code in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    nsn = digits[size:]
    main = COUNTRY_CODE_TO_REGION_CODE[country_code][0]
    region = _region(main) if main != REGION_CODE_FOR_NON_GEO_ENTITY else None
    # A national prefix after the calling code ("+33 06...") or a leading zero that
    # phonenumbers keeps aside (Italy): the general path handles them.
    if region is None or nsn[:1] in ("", "0"):
        return None
    if region.national_prefix is not None and region.national_prefix.match(nsn):
        return None
    return _phone_if_sendable(country_code, nsn, _classify(country_code, nsn))


def _fast_national(digits: str, default_region: str) -> Phone | None:
    """A national "0…" number: the default region, then the other French regions in turn."""
    for code in _FRENCH_ORDER[default_region]:
        region = _region(code)
        # "0" followed by a non-zero digit: not an international prefix where that is "00".
        if (
            region is None
            or not region.simple_national_prefix
            or region.international_prefix != _IDD
            or region.general is None
        ):
            return None
        nsn = digits[1:]
        # phonenumbers keeps the "0" when the whole input is a valid-looking national number,
        # or when the rest has an impossible length: the general path handles those.
        if region.general.fullmatch(digits) or len(nsn) not in region.possible_lengths:
            return None
        found = _classify(region.country_code, nsn)
        if found is None:
            return None
        if found[1] != PhoneNumberType.UNKNOWN:
            return _phone_if_sendable(region.country_code, nsn, found)
    return None  # invalid everywhere: the general path words the error


def _phone_if_sendable(
    country_code: int, nsn: str, found: tuple[str | None, int] | None
) -> Phone | None:
    if found is None:
        return None
    region, number_type = found
    if region is None or number_type == PhoneNumberType.UNKNOWN:
        return None
    if number_type in NOT_SMS_CAPABLE_TYPES:
        return None
    found_zones = _number_zones(country_code, nsn, number_type)
    return Phone(f"+{country_code}{nsn}", region, _zones(region, found_zones))


def _number_zones(country_code: int, nsn: str, number_type: int) -> tuple[str, ...]:
    """phonenumbers.timezone.time_zones_for_number for a valid number of a known type."""
    if phonenumbers.is_number_type_geographical(number_type, country_code):
        return _longest_prefix_zones(f"{country_code}{nsn}")
    return _country_zones(country_code)


def _longest_prefix_zones(digits: str) -> tuple[str, ...]:
    return _first_zones(digits[:size] for size in range(TIMEZONE_LONGEST_PREFIX, 0, -1))


@lru_cache(maxsize=256)
def _country_zones(country_code: int) -> tuple[str, ...]:
    code = str(country_code)
    # Prefixes exactly as phonenumbers' _country_level_time_zones_for_number slices them.
    return _first_zones(code[: 1 + size] for size in range(TIMEZONE_LONGEST_PREFIX, 0, -1))


def _first_zones(prefixes: Iterable[str]) -> tuple[str, ...]:
    for prefix in prefixes:
        zones = TIMEZONE_DATA.get(prefix)
        if zones is not None:
            return tuple(zones)
    return (_UNKNOWN_ZONE,)


# --- time zones ---------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _zones(region: str, found: tuple[str, ...]) -> tuple[str, ...]:
    """The recipient's zones: phonenumbers' answer, narrowed or completed for the region.

    Cached: a campaign has few distinct (region, zones) pairs and this runs per recipient.
    """
    known = tuple(zone for zone in found if zone != _UNKNOWN_ZONE)
    own = _REGION_ZONE.get(region)
    if own is not None and (own in known or not known):
        return (own,)
    if known:
        return known
    return _region_example_zones(region)


def _region_example_zones(region: str) -> tuple[str, ...]:
    example = phonenumbers.example_number(region) if region != _UNKNOWN_REGION else None
    if example is not None:
        zones = tuple(z for z in pn_timezone.time_zones_for_number(example) if z != _UNKNOWN_ZONE)
        if zones:
            return zones
    return (_FALLBACK_ZONE,)


# --- masking ------------------------------------------------------------------------------


def _calling_code(digits: list[str]) -> str:
    """The country calling code the digits start with, or "" (calling codes are prefix-free)."""
    for size in (1, 2, 3):
        prefix = "".join(digits[:size])
        if len(prefix) == size and int(prefix) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return prefix
    return ""
