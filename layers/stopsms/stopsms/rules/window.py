"""The legal sending window of marketing SMS, evaluated in each recipient's own time zone.

Spec syntax (deployment parameter), case-insensitive::

    <days> <HH:MM>-<HH:MM> [holidays | holidays=CC | no-holidays]

* ``<days>``: comma-separated English day abbreviations or ranges, e.g. ``Mon-Sat``,
  ``Mon,Wed,Fri``, ``Mon-Fri,Sun``; a range may wrap (``Sat-Mon``).
* times: 24-hour clock, start inclusive, end exclusive (``08:00-20:00`` ends at 19:59:59.999).
* ``holidays`` (the default) skips public holidays; ``holidays=CC`` also sets the fallback
  calendar (see below); ``no-holidays`` sends on public holidays.

``str(window)`` gives back the canonical spec: ``parse(str(w)) == w``.

Rules:

* Public holidays are those of the recipient's own territory: French numbers use the French
  calendar and overseas numbers the French calendar of their territory (``holidays`` FR
  subdivisions: 971 Guadeloupe, 972 Martinique, 973 Guyane, 974 Réunion, 976 Mayotte, BL, MF,
  PM, NC, PF, WF), so that e.g. the abolition of slavery days apply locally. Other numbers use
  their own country's calendar when the ``holidays`` library has one, and no holidays
  otherwise. ``holidays_country`` only applies to numbers with no country at all (region
  ``ZZ``, e.g. +800 non-geographic numbers).
* A number that maps to several time zones must be inside the window in all of them. When
  those zones are too far apart for the window ever to be open in all of them at once
  (countrywide mobile ranges, e.g. +7 spans 11 hours), only the median zone is used, so that
  such recipients are still reachable at a reasonable local hour.
* DST is handled by zoneinfo: an opening time inside a spring-forward gap opens at the
  transition; a local time repeated at fall-back is open in both of its occurrences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stopsms.errors import InvalidWindow
from stopsms.rules.phones import Phone

__all__ = ["DEFAULT", "SendingWindow", "is_open", "next_open"]

DAY_NAMES: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_INDEX: Final = {name.lower(): index for index, name in enumerate(DAY_NAMES)}
_TIME_RE: Final = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_HOLIDAYS_RE: Final = re.compile(r"^holidays(?:=([a-z]{2}))?$", re.IGNORECASE)
_NO_HOLIDAYS: Final = "no-holidays"
_COUNTRY_RE: Final = re.compile(r"^[A-Z]{2}$")

# An open instant always exists within a few weeks; this bound only guards against looping.
_HORIZON_DAYS: Final = 400
# Zones kept together must leave this much common time; DST moves offsets by up to an hour.
_SPREAD_MARGIN: Final = timedelta(hours=1)
_SPREAD_PROBES: Final = tuple(datetime(2026, month, 15, 12, tzinfo=UTC) for month in (1, 4, 7, 10))

# ISO region of a French territory -> its subdivision in the holidays library's FR calendar.
_FRENCH_TERRITORIES: Final = {
    "GP": "971",
    "MQ": "972",
    "GF": "973",
    "RE": "974",
    "YT": "976",
    "BL": "BL",
    "MF": "MF",
    "PM": "PM",
    "NC": "NC",
    "PF": "PF",
    "WF": "WF",
    "TF": "TF",
}
_NO_REGION: Final = "ZZ"

Calendar = tuple[str, str | None]  # (country, subdivision)


@dataclass(frozen=True, slots=True)
class SendingWindow:
    """Days and hours (local to the recipient) when marketing SMS may be sent."""

    days: frozenset[int] = field(default_factory=lambda: frozenset(range(6)))
    start: time = time(8, 0)
    end: time = time(20, 0)
    skip_public_holidays: bool = True
    holidays_country: str = "FR"

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise InvalidWindow(f"days must be a non-empty subset of 0..6, got {set(self.days)}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise InvalidWindow("start and end are local times and must be naive")
        if not _COUNTRY_RE.match(self.holidays_country):
            raise InvalidWindow(
                f"holidays_country must be an ISO code like FR: {self.holidays_country!r}"
            )
        if self.start >= self.end:
            raise InvalidWindow(f"start {self.start:%H:%M} must be before end {self.end:%H:%M}")

    @classmethod
    def parse(cls, spec: str) -> SendingWindow:
        """Build a window from a spec such as ``"Mon-Sat 08:00-20:00 no-holidays"``."""
        parts = spec.split() if isinstance(spec, str) else []
        if len(parts) not in (2, 3):
            raise InvalidWindow(f"expected '<days> <HH:MM>-<HH:MM> [holidays]', got {spec!r}")
        days = _parse_days(parts[0])
        start, end = _parse_hours(parts[1])
        skip, country = _parse_holidays(parts[2]) if len(parts) == 3 else (True, "FR")
        return cls(days, start, end, skip, country)

    def __str__(self) -> str:
        """The canonical spec; ``holidays_country`` is dropped with ``no-holidays``."""
        spec = f"{_format_days(self.days)} {self.start:%H:%M}-{self.end:%H:%M}"
        if not self.skip_public_holidays:
            return f"{spec} {_NO_HOLIDAYS}"
        if self.holidays_country != "FR":
            return f"{spec} holidays={self.holidays_country}"
        return spec

    @property
    def length(self) -> timedelta:
        """How long the window stays open on an allowed day."""
        today = date(2000, 1, 1)
        return datetime.combine(today, self.end) - datetime.combine(today, self.start)


DEFAULT: Final = SendingWindow()


def is_open(window: SendingWindow, at: datetime, phone: Phone) -> bool:
    """True when ``at`` (timezone-aware) is inside the window for this recipient."""
    _require_aware(at)
    zones, calendar = _recipient_plan(window, phone.time_zones, phone.region)
    return _open_everywhere(window, at, zones, calendar)


def next_open(window: SendingWindow, at: datetime, phone: Phone) -> datetime:
    """``at`` itself when open, else the first instant (in UTC) the window opens after it.

    The window can only open at a local start time or at a DST transition in one of the
    recipient's zones, so only those instants are tested, day by day.
    """
    _require_aware(at)
    zones, calendar = _recipient_plan(window, phone.time_zones, phone.region)
    if _open_everywhere(window, at, zones, calendar):
        return at
    first_dates = [at.astimezone(zone).date() for zone in zones]
    lower = at
    for day in range(_HORIZON_DAYS):
        # Every instant up to `limit` has a local date <= first date + day in every zone.
        limit = min(
            _midnight(zone, d + timedelta(day + 1))
            for zone, d in zip(zones, first_dates, strict=True)
        )
        candidates = sorted(
            {
                instant
                for zone, first in zip(zones, first_dates, strict=True)
                for offset in range(day - 2, day + 2)
                for instant in _openings(zone, first + timedelta(offset), window.start)
                if lower < instant <= limit
            }
        )
        for instant in candidates:
            if _open_everywhere(window, instant, zones, calendar):
                return instant
        lower = limit
    raise InvalidWindow(f"window {window} never opens within {_HORIZON_DAYS} days")


# --- evaluation ---------------------------------------------------------------------------


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at must be a timezone-aware datetime")


@lru_cache(maxsize=4096)
def _recipient_plan(
    window: SendingWindow, time_zones: tuple[str, ...], region: str
) -> tuple[tuple[ZoneInfo, ...], Calendar | None]:
    """Zones and holiday calendar of a recipient: one cache lookup per recipient."""
    return _effective_zones(time_zones, window.length), _calendar_for(window, region)


def _open_everywhere(
    window: SendingWindow, at: datetime, zones: tuple[ZoneInfo, ...], calendar: Calendar | None
) -> bool:
    if len(zones) == 1:  # the usual case, without a generator
        return _open_locally(window, at.astimezone(zones[0]), calendar)
    return all(_open_locally(window, at.astimezone(zone), calendar) for zone in zones)


def _open_locally(window: SendingWindow, local: datetime, calendar: Calendar | None) -> bool:
    if local.weekday() not in window.days or not window.start <= local.time() < window.end:
        return False
    return calendar is None or local.date() not in _holiday_dates(*calendar, local.year)


@lru_cache(maxsize=65536)
def _openings(zone: ZoneInfo, day: date, start: time) -> tuple[datetime, ...]:
    """UTC instants of ``day`` (local) at which the window may open in ``zone``.

    Both occurrences of a start time repeated at fall-back, plus any DST transition of the
    day (the wall clock can jump into the window). A start time inside a spring-forward gap
    maps after the gap; the transition instant is the real opening and is included.
    """
    local = datetime.combine(day, start, tzinfo=zone)
    instants = {local.astimezone(UTC), local.replace(fold=1).astimezone(UTC)}
    instants.update(_transitions(zone, _midnight(zone, day), _midnight(zone, day + timedelta(1))))
    return tuple(sorted(instants))


def _midnight(zone: ZoneInfo, day: date) -> datetime:
    """The first instant (UTC) of ``day`` in ``zone``."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _transitions(zone: ZoneInfo, begin: datetime, end: datetime) -> list[datetime]:
    """UTC offset changes of ``zone`` in [begin, end), found by bisection (to the second)."""
    before, high = _offset(zone, begin), end - timedelta(seconds=1)
    if _offset(zone, high) == before:
        return []
    low = begin  # invariant: offset(low) == before != offset(high)
    while high - low > timedelta(seconds=1):
        middle = (low + (high - low) / 2).replace(microsecond=0)
        if _offset(zone, middle) == before:
            low = middle
        else:
            high = middle
    return [high, *_transitions(zone, high, end)]


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta | None:
    return instant.astimezone(zone).utcoffset()


# --- time zones ---------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _effective_zones(names: tuple[str, ...], length: timedelta) -> tuple[ZoneInfo, ...]:
    """Zones in which the window must be open; falls back to the median zone (see module doc)."""
    zones = tuple(zone for zone in map(_zone, names) if zone is not None) or (ZoneInfo("UTC"),)
    if len(zones) == 1 or _spread(zones) + _SPREAD_MARGIN < length:
        return zones
    by_offset = sorted(
        zones, key=lambda zone: (_SPREAD_PROBES[0].astimezone(zone).utcoffset(), zone.key)
    )
    return (by_offset[len(by_offset) // 2],)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # unknown to this tzdata: ignore that zone
        return None


def _spread(zones: tuple[ZoneInfo, ...]) -> timedelta:
    """The largest gap between the zones' UTC offsets over the seasons."""
    spreads = []
    for probe in _SPREAD_PROBES:
        offsets = [probe.astimezone(zone).utcoffset() or timedelta(0) for zone in zones]
        spreads.append(max(offsets) - min(offsets))
    return max(spreads)


# --- public holidays ----------------------------------------------------------------------


def _calendar_for(window: SendingWindow, region: str) -> Calendar | None:
    if not window.skip_public_holidays:
        return None
    return _calendar(region, window.holidays_country)


@lru_cache(maxsize=512)
def _calendar(region: str, fallback: str) -> Calendar | None:
    """The holiday calendar of a recipient's region, None when the library has none."""
    subdivision = _FRENCH_TERRITORIES.get(region)
    if subdivision is not None:
        # An older holidays release without the territory still gets the national holidays.
        return ("FR", subdivision if subdivision in _french_subdivisions() else None)
    country = fallback if region == _NO_REGION else region
    return (country, None) if country in _supported_countries() else None


@lru_cache(maxsize=1)
def _supported_countries() -> frozenset[str]:
    # Imported on first use: ~30 ms of cold start that transactional messages never need.
    import holidays

    return frozenset(holidays.list_supported_countries())


@lru_cache(maxsize=1)
def _french_subdivisions() -> frozenset[str]:
    import holidays

    return frozenset(holidays.country_holidays("FR").subdivisions)


@lru_cache(maxsize=1024)
def _holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """Public holidays of one calendar year, as a set: lookups happen per recipient."""
    import holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())


# --- spec parsing -------------------------------------------------------------------------


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for item in text.split(","):
        first, _, last = item.partition("-")
        begin, end = _day(first, text), _day(last or first, text)
        span = (end - begin) % 7  # ranges may wrap over the week end: Sat-Mon
        days.update((begin + step) % 7 for step in range(span + 1))
    return frozenset(days)


def _day(name: str, spec: str) -> int:
    index = _DAY_INDEX.get(name.strip().lower())
    if index is None:
        raise InvalidWindow(f"unknown day {name!r} in {spec!r} (use {', '.join(DAY_NAMES)})")
    return index


def _parse_hours(text: str) -> tuple[time, time]:
    first, dash, last = text.partition("-")
    if not dash:
        raise InvalidWindow(f"hours {text!r} must look like HH:MM-HH:MM")
    start, end = _time(first, text), _time(last, text)
    if start >= end:
        raise InvalidWindow(f"hours {text!r}: start must be before end")
    return start, end


def _time(text: str, spec: str) -> time:
    match = _TIME_RE.match(text)
    if match is None:
        raise InvalidWindow(f"bad time {text!r} in {spec!r} (use HH:MM, 00:00 to 23:59)")
    return time(int(match[1]), int(match[2]))


def _parse_holidays(text: str) -> tuple[bool, str]:
    if text.lower() == _NO_HOLIDAYS:
        return False, "FR"
    match = _HOLIDAYS_RE.match(text)
    if match is None:
        raise InvalidWindow(
            f"bad holidays option {text!r} (use holidays, holidays=CC or no-holidays)"
        )
    return True, (match[1] or "FR").upper()


def _format_days(days: frozenset[int]) -> str:
    """Canonical days: runs of 3+ days as ranges, e.g. Mon-Fri,Sun."""
    ordered = sorted(days)
    runs: list[list[int]] = []
    for day in ordered:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}")
        else:
            parts.extend(DAY_NAMES[day] for day in run)
    return ",".join(parts)
