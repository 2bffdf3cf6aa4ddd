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
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult
from phonenumbers import timezone as pn_timezone

from stopsms.errors import InvalidPhoneNumber

__all__ = [
    "FRENCH_NUMBERING_REGIONS",
    "NOT_SMS_CAPABLE_TYPES",
    "Phone",
    "mask",
    "normalize",
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


# --- parsing helpers ----------------------------------------------------------------------


def _as_text(raw: object) -> str:
    if raw is None:
        raise InvalidPhoneNumber("empty", "no number given")
    if not isinstance(raw, str):
        raise InvalidPhoneNumber("not_a_number", f"expected a string, got {type(raw).__name__}")
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("empty", "blank number")
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
