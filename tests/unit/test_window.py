"""The sending window: local hours, days, public holidays, overseas zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stopsms.errors import InvalidWindow
from stopsms.rules import window as window_module
from stopsms.rules.phones import Phone, normalize
from stopsms.rules.window import DEFAULT, SendingWindow, is_open, next_open

PARIS = ZoneInfo("Europe/Paris")
FR = normalize("0612345678")
GP = normalize("0690123456")
MQ = normalize("0696201234")
GF = normalize("0694201234")
RE = normalize("0692123456")
YT = normalize("0639012345")
US = normalize("+14155552671")
DE = normalize("+4915123456789")
ES = normalize("+34612345678")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- is_open ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "phone", "expected"),
    [
        (paris(2026, 11, 30, 7, 59, 59), FR, False),  # Monday
        (paris(2026, 11, 30, 8, 0), FR, True),
        (paris(2026, 11, 30, 19, 59, 59), FR, True),
        (paris(2026, 11, 30, 20, 0), FR, False),
        (paris(2026, 11, 28, 12, 0), FR, True),  # Saturday
        (paris(2026, 11, 29, 12, 0), FR, False),  # Sunday
        (paris(2026, 12, 25, 12, 0), FR, False),  # Christmas, a Friday
        (paris(2026, 11, 11, 12, 0), FR, False),  # Armistice, a Wednesday
        (paris(2027, 5, 1, 12, 0), FR, False),  # Labour day, a Saturday
        (paris(2026, 3, 29, 12, 0), FR, False),  # DST Sunday
        (paris(2026, 3, 30, 8, 0), FR, True),
        (paris(2026, 10, 26, 7, 59), FR, False),
        (utc(2026, 11, 30, 12, 0), GP, True),  # 08:00 in Guadeloupe
        (utc(2026, 11, 30, 11, 59), GP, False),  # 07:59 there, 12:59 in Paris
        (utc(2026, 11, 30, 11, 59), FR, True),
        (utc(2026, 11, 30, 23, 59), GP, True),  # 19:59 there, 00:59 next day in Paris
        (utc(2026, 12, 1, 0, 0), GP, False),
        (utc(2026, 11, 30, 17, 0), RE, False),  # 21:00 in Réunion, 18:00 in Paris
        (utc(2026, 11, 30, 17, 0), FR, True),
        (utc(2026, 11, 30, 15, 59), RE, True),
        (utc(2026, 11, 30, 16, 0), RE, False),
        (utc(2026, 11, 30, 16, 30), YT, True),  # Mayotte is UTC+3: 19:30
        (utc(2026, 11, 30, 12, 0), MQ, True),
        (utc(2026, 11, 30, 11, 0), GF, True),  # Guyane is UTC-3: 08:00
        (utc(2026, 11, 30, 16, 0), US, True),  # 08:00 in San Francisco
        (utc(2026, 11, 30, 15, 59), US, False),
        (paris(2026, 11, 30, 8, 30), ES, False),  # 07:30 in the Canaries
        (paris(2026, 11, 30, 9, 0), ES, True),
        (paris(2026, 11, 30, 19, 30), ES, True),
        (paris(2026, 11, 30, 20, 0), ES, False),
    ],
)
def test_is_open(at: datetime, phone: Phone, expected: bool) -> None:
    assert is_open(DEFAULT, at, phone) is expected


@pytest.mark.parametrize(
    ("at", "closed", "open_"),
    [
        (utc(2026, 5, 27, 14, 0), GP, FR),  # abolition of slavery, Guadeloupe
        (utc(2026, 5, 22, 14, 0), MQ, FR),  # abolition of slavery, Martinique
        (utc(2026, 6, 10, 14, 0), GF, FR),  # abolition of slavery, Guyane
        (utc(2027, 12, 20, 8, 0), RE, FR),  # abolition of slavery, Réunion
        (utc(2027, 4, 27, 8, 0), YT, FR),  # abolition of slavery, Mayotte
        (utc(2026, 7, 21, 14, 0), GP, FR),  # Victor Schoelcher day
        (utc(2026, 11, 26, 18, 0), US, FR),  # Thanksgiving
        (utc(2026, 7, 3, 17, 0), US, FR),  # Independence Day (observed)
        (utc(2026, 10, 3, 10, 0), DE, FR),  # German Unity Day, a Saturday
        (utc(2026, 11, 11, 10, 0), FR, DE),  # Armistice is not a German holiday
    ],
)
def test_holidays_of_the_recipient_territory(at: datetime, closed: Phone, open_: Phone) -> None:
    assert not is_open(DEFAULT, at, closed)
    assert is_open(DEFAULT, at, open_)
    assert is_open(SendingWindow(skip_public_holidays=False), at, closed)


def test_holidays_country_applies_to_numbers_without_a_country() -> None:
    nowhere = Phone("+80012345678", "ZZ", ("Etc/UTC",))
    christmas = utc(2026, 12, 25, 12, 0)
    assert not is_open(DEFAULT, christmas, nowhere)
    assert is_open(SendingWindow.parse("Mon-Sat 08:00-20:00 holidays=CN"), christmas, nowhere)


def test_country_unknown_to_the_holidays_library_has_no_holidays() -> None:
    phone = Phone("+2476123", "AC", ("Atlantic/St_Helena",))  # Ascension Island
    assert is_open(DEFAULT, utc(2026, 12, 25, 12, 0), phone)


def test_french_territory_missing_from_the_library_gets_national_holidays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window_module._calendar.cache_clear()
    monkeypatch.setattr(window_module, "_french_subdivisions", frozenset)
    try:
        assert window_module._calendar("GP", "FR") == ("FR", None)
    finally:
        window_module._calendar.cache_clear()


def test_unknown_time_zone_is_evaluated_in_utc() -> None:
    phone = Phone("+33612345678", "FR", ("Not/A_Zone",))
    assert is_open(DEFAULT, utc(2026, 11, 30, 8, 0), phone)
    assert not is_open(DEFAULT, utc(2026, 11, 30, 7, 59), phone)


@pytest.mark.parametrize("function", [is_open, next_open])
def test_naive_datetimes_are_refused(function: object) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        function(DEFAULT, datetime(2026, 11, 30, 12, 0), FR)  # type: ignore[operator]


# --- next_open ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "phone", "expected"),
    [
        (paris(2026, 11, 29, 10, 0), FR, utc(2026, 11, 30, 7, 0)),  # Sunday -> Monday 08:00
        (paris(2026, 11, 28, 20, 0), FR, utc(2026, 11, 30, 7, 0)),  # Saturday 20:00
        (paris(2026, 11, 30, 6, 0), FR, utc(2026, 11, 30, 7, 0)),
        (paris(2026, 11, 30, 20, 0), FR, utc(2026, 12, 1, 7, 0)),
        (paris(2026, 12, 25, 10, 0), FR, utc(2026, 12, 26, 7, 0)),  # Christmas -> Saturday
        (paris(2026, 12, 24, 20, 0), FR, utc(2026, 12, 26, 7, 0)),
        (paris(2026, 11, 11, 9, 0), FR, utc(2026, 11, 12, 7, 0)),
        (paris(2027, 5, 1, 10, 0), FR, utc(2027, 5, 3, 6, 0)),  # Saturday 1 May -> Monday
        (paris(2027, 4, 30, 20, 0), FR, utc(2027, 5, 3, 6, 0)),
        (paris(2026, 3, 28, 20, 0), FR, utc(2026, 3, 30, 6, 0)),  # spring forward weekend
        (paris(2026, 3, 29, 1, 30), FR, utc(2026, 3, 30, 6, 0)),
        (paris(2026, 10, 24, 21, 0), FR, utc(2026, 10, 26, 7, 0)),  # fall back weekend
        (paris(2026, 10, 25, 2, 30), FR, utc(2026, 10, 26, 7, 0)),
        (utc(2026, 11, 30, 11, 0), GP, utc(2026, 11, 30, 12, 0)),
        (utc(2026, 11, 30, 17, 0), RE, utc(2026, 12, 1, 4, 0)),
        (utc(2026, 5, 27, 14, 0), GP, utc(2026, 5, 28, 12, 0)),
        (paris(2026, 11, 30, 8, 0), ES, utc(2026, 11, 30, 8, 0)),  # 08:00 in the Canaries
        (utc(2026, 11, 26, 18, 0), US, utc(2026, 11, 27, 16, 0)),
    ],
)
def test_next_open(at: datetime, phone: Phone, expected: datetime) -> None:
    result = next_open(DEFAULT, at, phone)
    assert result == expected
    assert result.tzinfo is UTC
    assert is_open(DEFAULT, result, phone)
    assert not is_open(DEFAULT, result - timedelta(microseconds=1), phone)


def test_next_open_returns_at_itself_when_open() -> None:
    at = paris(2026, 11, 30, 12, 0)
    assert next_open(DEFAULT, at, FR) is at


def test_start_inside_the_spring_forward_gap_opens_at_the_transition() -> None:
    window = SendingWindow.parse("Mon-Sun 02:30-20:00 no-holidays")
    # 02:30 does not exist on 2026-03-29 in Paris: clocks jump from 02:00 CET to 03:00 CEST.
    assert next_open(window, paris(2026, 3, 29, 0, 0), FR) == utc(2026, 3, 29, 1, 0)
    assert not is_open(window, utc(2026, 3, 29, 0, 59, 59), FR)


def test_time_repeated_at_fall_back_reopens_the_window() -> None:
    window = SendingWindow.parse("Mon-Sun 00:00-02:30 no-holidays")
    # 02:45 CEST is closed; at 03:00 CEST the clock goes back to 02:00 CET: open again.
    at = utc(2026, 10, 25, 0, 45)
    assert not is_open(window, at, FR)
    assert next_open(window, at, FR) == utc(2026, 10, 25, 1, 0)
    # Start time inside the repeated hour: both occurrences open the window.
    late = SendingWindow.parse("Mon-Sun 02:30-02:45 no-holidays")
    assert next_open(late, utc(2026, 10, 24, 23, 0), FR) == utc(2026, 10, 25, 0, 30)
    assert next_open(late, utc(2026, 10, 25, 0, 50), FR) == utc(2026, 10, 25, 1, 30)


def test_zones_too_far_apart_fall_back_to_the_median_zone() -> None:
    window = SendingWindow.parse("Mon-Sat 10:00-18:00")
    zones = ("Europe/Moscow", "Asia/Novosibirsk", "Asia/Kamchatka")  # UTC+3, +7, +12
    phone = Phone("+79123456789", "RU", zones)
    opened = next_open(window, utc(2026, 11, 30, 12, 0), phone)
    assert opened == utc(2026, 12, 1, 3, 0)  # 10:00 in Novosibirsk
    assert is_open(window, opened, phone)


def test_zones_close_enough_must_all_be_open() -> None:
    phone = Phone("+79123456789", "RU", ("Europe/Moscow", "Asia/Yekaterinburg"))  # +3, +5
    assert next_open(DEFAULT, utc(2026, 11, 30, 3, 0), phone) == utc(2026, 11, 30, 5, 0)
    assert not is_open(DEFAULT, utc(2026, 11, 30, 15, 0), phone)  # 20:00 in Yekaterinburg


def test_next_open_gives_up_after_the_horizon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(window_module, "_HORIZON_DAYS", 1)
    with pytest.raises(InvalidWindow, match="never opens"):
        next_open(DEFAULT, paris(2026, 11, 28, 21, 0), FR)


# --- SendingWindow and its spec -----------------------------------------------------------


def test_default_window() -> None:
    assert SendingWindow() == DEFAULT
    assert DEFAULT.days == frozenset(range(6))
    assert (DEFAULT.start, DEFAULT.end) == (time(8), time(20))
    assert DEFAULT.skip_public_holidays
    assert DEFAULT.holidays_country == "FR"
    assert str(DEFAULT) == "Mon-Sat 08:00-20:00"
    assert DEFAULT.length == timedelta(hours=12)


@pytest.mark.parametrize(
    ("spec", "days", "start", "end", "skip", "country", "canonical"),
    [
        ("Mon-Sat 08:00-20:00", {0, 1, 2, 3, 4, 5}, time(8), time(20), True, "FR", None),
        ("Mon-Fri 09:00-19:30", {0, 1, 2, 3, 4}, time(9), time(19, 30), True, "FR", None),
        ("Mon,Wed,Fri 10:00-18:00", {0, 2, 4}, time(10), time(18), True, "FR", None),
        (
            "mon-sat 8:00-20:00 holidays",
            set(range(6)),
            time(8),
            time(20),
            True,
            "FR",
            "Mon-Sat 08:00-20:00",
        ),
        ("Mon-Sat 08:00-20:00 no-holidays", set(range(6)), time(8), time(20), False, "FR", None),
        (
            "Mon-Sat 08:00-20:00 NO-HOLIDAYS",
            set(range(6)),
            time(8),
            time(20),
            False,
            "FR",
            "Mon-Sat 08:00-20:00 no-holidays",
        ),
        (
            "Mon-Fri 08:00-20:00 holidays=be",
            set(range(5)),
            time(8),
            time(20),
            True,
            "BE",
            "Mon-Fri 08:00-20:00 holidays=BE",
        ),
        (
            "Sat-Mon 10:00-12:00",
            {5, 6, 0},
            time(10),
            time(12),
            True,
            "FR",
            "Mon,Sat,Sun 10:00-12:00",
        ),
        ("Mon-Fri,Sun 00:00-23:59", {0, 1, 2, 3, 4, 6}, time(0), time(23, 59), True, "FR", None),
        ("Tue 10:00-10:01", {1}, time(10), time(10, 1), True, "FR", None),
        (
            "  Mon-Sun   08:00-20:00 ",
            set(range(7)),
            time(8),
            time(20),
            True,
            "FR",
            "Mon-Sun 08:00-20:00",
        ),
    ],
)
def test_parse(
    spec: str,
    days: set[int],
    start: time,
    end: time,
    skip: bool,
    country: str,
    canonical: str | None,
) -> None:
    window = SendingWindow.parse(spec)
    assert window == SendingWindow(frozenset(days), start, end, skip, country)
    assert SendingWindow.parse(str(window)) == window
    assert str(window) == (canonical or spec)


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("", "expected"),
        ("Mon-Sat", "expected"),
        ("Mon-Sat 08:00-20:00 holidays extra", "expected"),
        ("Mon-Xyz 08:00-20:00", "'Xyz'"),
        ("Lun-Sam 08:00-20:00", "'Lun'"),
        ("Mon,,Fri 08:00-20:00", "''"),
        ("Mon-Sat 0800-2000", "0800-2000"),
        ("Mon-Sat 08:00", "08:00"),
        ("Mon-Sat 08:00-24:00", "'24:00'"),
        ("Mon-Sat 08:60-20:00", "'08:60'"),
        ("Mon-Sat 8h-20h", "'8h'"),
        ("Mon-Sat 20:00-08:00", "20:00-08:00"),
        ("Mon-Sat 08:00-08:00", "08:00-08:00"),
        ("Mon-Sat 08:00-20:00 nope", "'nope'"),
        ("Mon-Sat 08:00-20:00 holidays=FRA", "'holidays=FRA'"),
    ],
)
def test_parse_rejects_bad_specs(spec: str, named: str) -> None:
    with pytest.raises(InvalidWindow) as caught:
        SendingWindow.parse(spec)
    assert named in str(caught.value)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(InvalidWindow):
        SendingWindow.parse(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"days": frozenset()},
        {"days": frozenset({7})},
        {"days": frozenset({-1})},
        {"start": time(20), "end": time(8)},
        {"start": time(8, tzinfo=UTC)},
        {"holidays_country": "fr"},
        {"holidays_country": "FRA"},
    ],
)
def test_window_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidWindow):
        SendingWindow(**kwargs)  # type: ignore[arg-type]


@st.composite
def windows(draw: st.DrawFn) -> SendingWindow:
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    skip = draw(st.booleans())  # the calendar only matters (and is only kept) when skipping
    start_minute = draw(st.integers(0, 23 * 60 + 58))
    end_minute = draw(st.integers(start_minute + 1, 23 * 60 + 59))
    return SendingWindow(
        days=days,
        start=time(*divmod(start_minute, 60)),
        end=time(*divmod(end_minute, 60)),
        skip_public_holidays=skip,
        holidays_country=draw(st.sampled_from(["FR", "DE", "US"])) if skip else "FR",
    )


@given(windows())
def test_spec_round_trip(window: SendingWindow) -> None:
    assert SendingWindow.parse(str(window)) == window


# --- properties of next_open --------------------------------------------------------------

PHONES = [FR, GP, RE, YT, US, ES, Phone("+79123456789", "RU", ("Europe/Moscow", "Asia/Omsk"))]
SPEC_WINDOWS = [
    DEFAULT,
    SendingWindow.parse("Mon-Fri 09:00-19:30"),
    SendingWindow.parse("Mon,Wed,Fri 10:00-18:00 no-holidays"),
    SendingWindow.parse("Sun 02:15-03:30"),  # straddles the DST transitions of Europe
    SendingWindow.parse("Mon-Sun 00:00-02:30"),
]
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


def _closed_between(window: SendingWindow, phone: Phone, at: datetime, end: datetime) -> None:
    """No open instant strictly between at and end, checked minute by minute (sampled)."""
    span = end - at
    step = max(timedelta(minutes=1), span / 3000)
    probe = at + step
    while probe < end:
        assert not is_open(window, probe, phone), (probe, end)
        probe += step
    if end > at:
        assert not is_open(window, end - timedelta(seconds=1), phone)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(SPEC_WINDOWS), st.sampled_from(PHONES), instants)
def test_next_open_properties(window: SendingWindow, phone: Phone, at: datetime) -> None:
    opened = next_open(window, at, phone)
    assert opened >= at
    assert is_open(window, opened, phone)
    _closed_between(window, phone, at, opened)


@settings(max_examples=100, deadline=None)
@given(windows(), st.sampled_from(PHONES[:4]), instants)
def test_next_open_properties_for_any_window(
    window: SendingWindow, phone: Phone, at: datetime
) -> None:
    opened = next_open(window, at, phone)
    assert opened >= at
    assert is_open(window, opened, phone)
    _closed_between(window, phone, at, opened)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(PHONES), instants)
def test_next_open_accepts_any_input_time_zone(phone: Phone, at: datetime) -> None:
    assert next_open(DEFAULT, at.astimezone(PARIS), phone) == next_open(DEFAULT, at, phone)
