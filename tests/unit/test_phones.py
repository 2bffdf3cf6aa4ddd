"""Phone normalisation, SMS capability, time zones and masking."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stopsms.errors import InvalidPhoneNumber
from stopsms.rules.phones import Phone, mask, normalize, redact, try_normalize

PARIS = ("Europe/Paris",)

VALID = [
    # raw, default region, e164, region, zones
    ("06 12 34 56 78", "FR", "+33612345678", "FR", PARIS),
    ("06.12.34.56.78", "FR", "+33612345678", "FR", PARIS),
    ("06-12-34-56-78", "FR", "+33612345678", "FR", PARIS),
    ("0612345678", "FR", "+33612345678", "FR", PARIS),
    ("  0612345678\n", "FR", "+33612345678", "FR", PARIS),
    ("+33 6 12 34 56 78", "FR", "+33612345678", "FR", PARIS),
    ("+33612345678", "FR", "+33612345678", "FR", PARIS),
    ("0033612345678", "FR", "+33612345678", "FR", PARIS),
    ("+33 (0)6 12 34 56 78", "FR", "+33612345678", "FR", PARIS),
    ("33612345678", "FR", "+33612345678", "FR", PARIS),
    ("07 56 12 34 56", "FR", "+33756123456", "FR", PARIS),
    ("09 12 34 56 78", "FR", "+33912345678", "FR", PARIS),  # VoIP: accepted
    ("+33612345678", "GB", "+33612345678", "FR", PARIS),
    # French overseas, national format with the default FR region
    ("0690 12 34 56", "FR", "+590690123456", "GP", ("America/Guadeloupe",)),
    ("0690001234", "FR", "+590690001234", "GP", ("America/Guadeloupe",)),
    ("0696 20 12 34", "FR", "+596696201234", "MQ", ("America/Martinique",)),
    ("0694 20 12 34", "FR", "+594694201234", "GF", ("America/Cayenne",)),
    ("0692 12 34 56", "FR", "+262692123456", "RE", ("Indian/Reunion",)),
    ("0693 12 34 56", "FR", "+262693123456", "RE", ("Indian/Reunion",)),
    ("0639 01 23 45", "FR", "+262639012345", "YT", ("Indian/Mayotte",)),
    ("+590 690 12 34 56", "FR", "+590690123456", "GP", ("America/Guadeloupe",)),
    ("+262 692 12 34 56", "FR", "+262692123456", "RE", ("Indian/Reunion",)),
    ("00262639012345", "FR", "+262639012345", "YT", ("Indian/Mayotte",)),
    ("+508 55 12 34", "FR", "+508551234", "PM", ("America/Miquelon",)),
    ("0690123456", "GP", "+590690123456", "GP", ("America/Guadeloupe",)),
    ("0612345678", "GP", "+33612345678", "FR", PARIS),  # metro number seen from an overseas base
    # other countries
    ("+44 7400 123456", "FR", "+447400123456", "GB", None),
    ("07400 123456", "GB", "+447400123456", "GB", None),
    ("+1 (415) 555-2671", "FR", "+14155552671", "US", ("America/Los_Angeles",)),
    ("(415) 555-2671", "US", "+14155552671", "US", ("America/Los_Angeles",)),
    ("001 415 555 2671", "FR", "+14155552671", "US", ("America/Los_Angeles",)),
    ("+49 151 23456789", "FR", "+4915123456789", "DE", ("Europe/Berlin",)),
    ("0151 23456789", "DE", "+4915123456789", "DE", ("Europe/Berlin",)),
    ("+32 450 00 12 34", "FR", "+32450001234", "BE", ("Europe/Brussels",)),
    ("0450 00 12 34", "BE", "+32450001234", "BE", ("Europe/Brussels",)),
    ("+41 78 123 45 67", "FR", "+41781234567", "CH", ("Europe/Zurich",)),
    ("078 123 45 67", "CH", "+41781234567", "CH", ("Europe/Zurich",)),
    ("+34 612 34 56 78", "FR", "+34612345678", "ES", None),
    ("612 345 678", "ES", "+34612345678", "ES", None),
    ("+39 312 345 6789", "FR", "+393123456789", "IT", None),
    ("312 345 6789", "IT", "+393123456789", "IT", None),
]

REASONS = {
    None,
    "empty",
    "not_a_number",
    "invalid_country_code",
    "too_short",
    "too_long",
    "invalid_number",
    "not_sms_capable",
    "control_character",
}

INVALID = [
    # raw, default region, reason
    ("", "FR", "empty"),
    ("   ", "FR", "empty"),
    (None, "FR", "empty"),
    (612345678, "FR", "not_a_number"),
    (["0612345678"], "FR", "not_a_number"),
    (b"0612345678", "FR", "not_a_number"),
    ("abc", "FR", "not_a_number"),
    ("hello world", "FR", "not_a_number"),
    ("+999 123456", "FR", "invalid_country_code"),
    ("0612345678", "XX", "invalid_country_code"),
    ("061", "FR", "too_short"),
    ("+33 6", "FR", "too_short"),
    ("0612345678901234", "FR", "too_long"),
    ("+33 6 12 34 56 78 90 12 34", "FR", "too_long"),
    ("9" * 300, "FR", "too_long"),
    ("+33 690 12 34 56", "FR", "invalid_number"),  # explicit +33 is not reinterpreted
    ("0412 34 56 78", "BE", "invalid_number"),
    ("01 23 45 67 89", "FR", "not_sms_capable"),  # fixed line
    ("+33 1 23 45 67 89", "FR", "not_sms_capable"),
    ("0800 12 34 56", "FR", "not_sms_capable"),  # toll free
    ("0891 12 34 56", "FR", "not_sms_capable"),  # premium rate
    ("0884 01 23 45", "FR", "not_sms_capable"),  # shared cost
    ("0806 12 34 56", "FR", "not_sms_capable"),  # UAN
    ("0590 20 12 34", "FR", "not_sms_capable"),  # Guadeloupe fixed line
    ("+44 121 234 5678", "FR", "not_sms_capable"),
    ("+49 30 123456", "FR", "not_sms_capable"),
    ("+41 86 0123456789", "FR", "not_sms_capable"),  # Swiss voicemail
]


@pytest.mark.parametrize(("raw", "region", "e164", "expected_region", "zones"), VALID)
def test_normalize_valid(
    raw: str, region: str, e164: str, expected_region: str, zones: tuple[str, ...] | None
) -> None:
    phone = normalize(raw, region)
    assert phone.e164 == e164
    assert phone.region == expected_region
    if zones is not None:
        assert phone.time_zones == zones
    assert phone.time_zones


@pytest.mark.parametrize(("raw", "region", "reason"), INVALID)
def test_normalize_invalid(raw: object, region: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize(raw, region)
    assert caught.value.reason == reason
    assert str(caught.value).startswith(reason)


def test_default_region_is_fr() -> None:
    assert normalize("0612345678").e164 == "+33612345678"


def test_uk_mobile_in_crown_dependency_ranges_keeps_its_number() -> None:
    # 07911 ranges belong to Guernsey in current metadata; the E.164 is what matters.
    phone = normalize("07911 123456", "GB")
    assert phone.e164 == "+447911123456"
    assert phone.region in {"GB", "GG", "JE", "IM"}
    assert "Europe/London" in phone.time_zones


def test_multi_zone_countries_keep_every_zone() -> None:
    assert set(normalize("+34612345678").time_zones) == {"Atlantic/Canary", "Europe/Madrid"}


def test_zone_fallbacks() -> None:
    from stopsms.rules.phones import _zones

    assert _zones("ZZ", ("Etc/Unknown",)) == ("Etc/UTC",)
    assert _zones("GP", ("Etc/Unknown",)) == ("America/Guadeloupe",)
    assert _zones("DE", ()) == ("Europe/Berlin",)


def test_try_normalize() -> None:
    assert try_normalize("0612345678") == normalize("+33612345678")
    assert try_normalize("nope") is None
    assert try_normalize(None) is None


def test_phone_repr_and_str_never_leak_the_number() -> None:
    phone = normalize("0612345678")
    assert "612345678" not in repr(phone)
    assert "612345678" not in str(phone)
    assert phone.masked == "+33*******78"


def test_phone_is_frozen_and_hashable() -> None:
    phone = normalize("0612345678")
    with pytest.raises(AttributeError):
        phone.e164 = "+33700000000"  # type: ignore[misc]
    assert len({phone, normalize("06 12 34 56 78")}) == 1


@pytest.mark.parametrize(("raw", "region", "e164", "expected_region", "zones"), VALID)
def test_normalize_is_idempotent(
    raw: str, region: str, e164: str, expected_region: str, zones: tuple[str, ...] | None
) -> None:
    phone = normalize(raw, region)
    assert normalize(phone.e164) == phone
    assert normalize(phone.e164, "US") == phone


# --- masking ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+33612345678", "+33*******78"),
        ("+590690123456", "+590*******56"),
        ("+14155552671", "+1********71"),
        ("+1 (415) 555-2671", "+1********71"),
        ("0612345678", "********78"),
        ("06 12 34 56 78", "********78"),
        ("12", "**"),
        ("7", "*"),
        ("", ""),
        ("+", ""),
        (None, ""),
        (12345, "***45"),
        ("+999123456", "*******56"),  # no such calling code: nothing shown but the end
        ("x" * 10_000 + "1234567890" * 100, "*************90"),
        ("+٣٣٦١٢٣٤٥٦٧٨", "+33*******78"),  # Arabic-Indic digits, shown ASCII
    ],
)
def test_mask(value: object, masked: str) -> None:
    assert mask(value) == masked


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("header: 0633445566, Lea", "header: ********66, Lea"),
        ("06 33 44 55 66", "********66"),
        ("06 - 33 - 44 - 55 - 66", "********66"),  # wide separators (second adversarial pass)
        ("06 / 33 / 44 / 55 / 66", "********66"),
        ("06 . 33 . 44 . 55 . 66", "********66"),
        ("+33 (0)6 12 34 56 78", "+33********78"),
        ("phone,06 - 33 - 44 - 55 - 66,x", "phone,********66,x"),
        ("line 12 of 345", "line 12 of 345"),  # short numbers stay
        ("a,1,2,3,4,5,6", "a,1,2,3,4,5,6"),  # list delimiters part digits
    ],
)
def test_redact_masks_every_run_that_could_be_a_number(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_mask_accepts_phone_and_broken_objects() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    assert mask(normalize("0612345678")) == "+33*******78"
    assert mask(Broken()) == "*"


_MASK_SHAPE = re.compile(r"^(\+\d{1,3})?\**\d{0,2}$")


def _digits(text: str) -> str:
    return "".join(str(int(c)) for c in text if c.isdecimal())


def _assert_safe_mask(value: str) -> None:
    masked = mask(value)
    assert _MASK_SHAPE.match(masked), masked
    assert len(masked) <= 16
    body = re.sub(r"^\+\d{1,3}", "", masked) if value.lstrip().startswith("+") else masked
    shown = _digits(body)
    assert len(shown) <= 2
    assert _digits(value).endswith(shown)


@settings(max_examples=300)
@given(st.text())
def test_mask_never_reveals_more_than_two_digits_of_text(value: str) -> None:
    _assert_safe_mask(value)


@settings(max_examples=200)
@given(st.from_regex(r"\A\+?[0-9 .()-]{0,40}\Z"))
def test_mask_never_reveals_more_than_two_digits_of_numberish_text(value: str) -> None:
    _assert_safe_mask(value)


@st.composite
def valid_phones(draw: st.DrawFn) -> Phone:
    region = draw(st.sampled_from(["FR", "GP", "MQ", "GF", "RE", "YT", "GB", "US", "DE", "IT"]))
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    nsn = phonenumbers.national_significant_number(example)
    tail = draw(st.text("0123456789", min_size=2, max_size=2))
    candidate = f"+{example.country_code}{nsn[:-2]}{tail}"
    phone = try_normalize(candidate)
    return phone if phone is not None else normalize(f"+{example.country_code}{nsn}")


@settings(max_examples=200)
@given(valid_phones())
def test_mask_of_valid_numbers(phone: Phone) -> None:
    cc = phone.e164[1 : 1 + len(phone.e164) - 1 - len(_nsn(phone))]
    assert phone.masked == f"+{cc}{'*' * (len(_nsn(phone)) - 2)}{phone.e164[-2:]}"
    assert normalize(phone.e164).e164 == phone.e164


def _nsn(phone: Phone) -> str:
    return phonenumbers.national_significant_number(phonenumbers.parse(phone.e164))


# --- robustness ---------------------------------------------------------------------------


@settings(max_examples=500)
@given(st.one_of(st.text(), st.integers(), st.none(), st.floats(), st.lists(st.integers())))
def test_normalize_only_raises_invalid_phone_number(value: object) -> None:
    reason = None
    try:
        phone = normalize(value)
    except InvalidPhoneNumber as exc:
        reason = exc.reason
    else:
        assert phone.e164.startswith("+")
        assert normalize(phone.e164) == phone
    assert reason in REASONS


@settings(max_examples=300)
@given(st.from_regex(r"\A(\+|00)?[0-9 ]{1,20}\Z"), st.sampled_from(["FR", "GB", "US", "RE"]))
def test_normalize_numberish_text_is_idempotent(value: str, region: str) -> None:
    phone = try_normalize(value, region)
    if phone is not None:
        assert normalize(phone.e164).e164 == phone.e164
        assert phone.time_zones
