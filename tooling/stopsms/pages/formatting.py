"""Values as people read them on a page: escaped text, counts, money, shares, and instants in
a time zone (the operator's for a campaign, the number's own for a person)."""

from __future__ import annotations

import html
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from stopsms.errors import InvalidPhoneNumber
from stopsms.rules.phones import normalize


def escape(value: object) -> str:
    """``value`` as HTML text or attribute value; ``None`` is empty."""
    return html.escape("" if value is None else str(value), quote=True)


def count(value: Any) -> str:
    """A count with thousands separators; a fraction keeps two places."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def money(value: float | None, currency: str, places: int | None = None) -> str:
    if value is None:
        return "—"
    # Cents once there are some; a fraction of a cent (one SMS part) keeps four places.
    digits = places if places is not None else (2 if value >= 1 or value == 0 else 4)
    symbol = "$" if currency == "USD" else f"{currency} "
    return f"{symbol}{value:,.{digits}f}"


def share(part: Any, whole: Any, of: str) -> str:
    """``part`` as a percentage of ``whole`` (``of`` says of what); empty if ``whole`` is 0."""
    if not whole:
        return ""
    return f"{100 * float(part) / float(whole):.1f} %{' ' + of if of else ''}"


def local_time(value: object, zone: tzinfo, *, weekday: bool = True) -> str:
    """An instant as people read it, in ``zone``; the ISO text stays in ``datetime``."""
    if value is None or value == "":
        return "—"
    try:
        instant = _instant(value)
    except ValueError:
        return escape(value)
    shown = local_text(instant, zone, weekday=weekday)
    return f'<time datetime="{escape(instant.isoformat())}">{escape(shown)}</time>'


def local_text(value: object, zone: tzinfo, *, weekday: bool = True) -> str:
    """An ISO instant as plain text for people, in ``zone`` (the terminal's report too);
    text that is not an instant comes back as it is."""
    try:
        local = _instant(value).astimezone(zone)
    except ValueError:
        return str(value)
    day = f"{local:%a %d %b %Y}" if weekday else f"{local:%d %b %Y}"
    return f"{day}, {local:%H:%M} {local.tzname() or ''}".strip()


def _instant(value: object) -> datetime:
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def local_zone() -> tzinfo:
    """The time zone of this machine (UTC if it has none)."""
    zone = datetime.now().astimezone().tzinfo
    return zone if zone is not None else UTC


def zone_of(phone: str) -> tzinfo:
    """The number's own time zone (its first, for a country with several), UTC if unknown."""
    try:
        zones = normalize(phone).time_zones
    except InvalidPhoneNumber:
        return UTC  # an erased number's stand-in has no zone
    try:
        return ZoneInfo(zones[0]) if zones else UTC
    except (KeyError, ValueError):
        return UTC


def zone_name(zone: tzinfo, at: datetime) -> str:
    """``zone``'s name (``Europe/Paris``), or its abbreviation at ``at`` if it has none."""
    key = getattr(zone, "key", None)
    return str(key) if key else (zone.tzname(at.astimezone(zone)) or "UTC")
