"""The fast path of phone normalisation answers exactly like the general (phonenumbers) path.

``_fast_normalize`` may decline (None) whatever it likes; whenever it answers, the Phone must
equal what ``_reference_normalize`` gives for the same input. Sweeps cover every metadata
range the usual inputs reach; hypothesis covers the syntax around them.
"""

from __future__ import annotations

from collections.abc import Callable

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stopsms.errors import InvalidPhoneNumber
from stopsms.rules.phones import (
    FRENCH_NUMBERING_REGIONS,
    Phone,
    _as_text,
    _fast_normalize,
    _reference_normalize,
    normalize,
)

FRENCH_CODES = sorted({phonenumbers.country_code_for_region(r) for r in FRENCH_NUMBERING_REGIONS})
DEFAULT_REGIONS = [*FRENCH_NUMBERING_REGIONS, "GB", "US"]


def _outcome(text: str, region: str) -> Phone | str:
    return _outcome_of(lambda raw, home: _reference_normalize(_as_text(raw), home), text, region)


def _assert_agrees(text: str, region: str = "FR") -> Phone | None:
    """The fast answer, if any, is the reference answer; normalize() matches the reference."""
    fast = _fast_normalize(text.strip(), region) if text.strip() else None
    expected = _outcome(text, region)
    if fast is not None:
        assert fast == expected, (text, region)
    assert _outcome_of(normalize, text, region) == expected, (text, region)
    return fast


def _outcome_of(function: Callable[[str, str], Phone], text: str, region: str) -> Phone | str:
    try:
        return function(text, region)
    except InvalidPhoneNumber as error:
        return error.reason


def _spaced(nsn: str) -> str:
    return " ".join([nsn[0], *(nsn[i : i + 2] for i in range(1, len(nsn), 2))])


# --- the usual inputs take the fast path --------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "+33612345678",
        "0612345678",
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "0033612345678",
        "+33 6 12 34 56 78",
        "0756123456",
        "0912345678",  # VoIP
        "0690 12 34 56",  # Guadeloupe, read as metropolitan first
        "0696201234",
        "0694201234",
        "0692123456",
        "0639012345",
        "+590 690 12 34 56",
        "00262639012345",
        "+447400123456",
        "+1 415 555 2671",
        "+4915123456789",
    ],
)
def test_usual_inputs_take_the_fast_path(text: str) -> None:
    assert _assert_agrees(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "33612345678",  # calling code without "+": phonenumbers guesses
        "+33 (0)6 12 34 56 78",
        "+33 06 12 34 56 78",  # national prefix after the calling code
        "0112345678",  # fixed line: refused, by the general path
        "+33 690 12 34 56",  # invalid
        "06 12 34 56 7",
        "０６１２３４５６７８",  # fullwidth digits
        "06  12 34 56 78",
        "+800 1234 5678",  # non-geographic
    ],
)
def test_unusual_inputs_leave_it_to_phonenumbers(text: str) -> None:
    assert _assert_agrees(text) is None


# --- sweeps over the metadata ranges ------------------------------------------------------


@pytest.mark.parametrize("region", DEFAULT_REGIONS)
def test_every_national_prefix_of_the_french_plan(region: str) -> None:
    for prefix in range(1000):
        nsn = f"{prefix:03d}456789"
        _assert_agrees(f"0{nsn}", region)
        _assert_agrees(f"0{_spaced(nsn)}", region)


@pytest.mark.parametrize("country_code", FRENCH_CODES)
def test_every_international_prefix_of_the_french_plan(country_code: int) -> None:
    for prefix in range(1000):
        for tail in ("456789", "4567", "45678901"):
            _assert_agrees(f"+{country_code}{prefix:03d}{tail}")
        _assert_agrees(f"00{country_code} {prefix:03d} 45 67 89")


@pytest.mark.parametrize("region", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_example_numbers_of_every_region_and_type(region: str) -> None:
    for kind in range(phonenumbers.PhoneNumberType.UNKNOWN):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        nsn = phonenumbers.national_significant_number(example)
        _assert_agrees(f"+{example.country_code}{nsn}")
        _assert_agrees(f"+{example.country_code} {nsn}", "RE")
        _assert_agrees(f"00{example.country_code}{nsn}", "GP")


def test_fast_path_answers_for_the_mobiles_of_nearly_every_region() -> None:
    """Shared calling codes (+1, +44, +262, +590...) included; not only French numbers."""
    valid = fast = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if example is None:
            continue
        text = f"+{example.country_code}{phonenumbers.national_significant_number(example)}"
        if isinstance(_outcome(text, "FR"), Phone):
            valid += 1
            fast += _assert_agrees(text) is not None
    assert fast >= 0.95 * valid


def test_non_geographic_calling_codes() -> None:
    for country_code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        example = phonenumbers.example_number_for_non_geo_entity(country_code)
        if example is not None:
            nsn = phonenumbers.national_significant_number(example)
            _assert_agrees(f"+{country_code}{nsn}")


# --- generated inputs ---------------------------------------------------------------------

digits = st.text("0123456789", min_size=1, max_size=14)
separators = st.sampled_from(["", " ", ".", "-"])


@st.composite
def written_numbers(draw: st.DrawFn) -> str:
    """Digits as people write them: a prefix, then groups split by a separator."""
    prefix = draw(st.sampled_from(["", "0", "+", "00", "+33", "0033", "+590", "+262", "+1"]))
    body = draw(digits)
    sep = draw(separators)
    size = draw(st.integers(1, 4))
    groups = [body[i : i + size] for i in range(0, len(body), size)]
    return prefix + draw(st.sampled_from(["", sep])) + sep.join(groups)


@settings(max_examples=1500, deadline=None)
@given(written_numbers(), st.sampled_from(DEFAULT_REGIONS))
def test_written_numbers(text: str, region: str) -> None:
    _assert_agrees(text, region)


@settings(max_examples=1000, deadline=None)
@given(st.from_regex(r"\A[ +]?[0-9+ .()\-]{1,24}\Z"), st.sampled_from(DEFAULT_REGIONS))
def test_number_like_text(text: str, region: str) -> None:
    _assert_agrees(text, region)


@settings(max_examples=1000, deadline=None)
@given(
    st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)),
    st.integers(0, 9),
    st.text("0123456789", min_size=1, max_size=4),
)
def test_numbers_near_valid_ones(region: str, kind: int, tail: str) -> None:
    """Example numbers with their last digits replaced: valid and invalid neighbours."""
    example = phonenumbers.example_number_for_type(region, kind)
    if example is None:
        return
    nsn = phonenumbers.national_significant_number(example)
    changed = nsn[: max(1, len(nsn) - len(tail))] + tail
    _assert_agrees(f"+{example.country_code}{changed}")
    if region in FRENCH_NUMBERING_REGIONS:
        _assert_agrees(f"0{changed}", region)
        _assert_agrees(f"0{changed}")
