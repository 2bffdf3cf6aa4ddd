"""The current instant, in one place: tests move it (``mock.patch("stopsms.clock.now")``) and
every path sees the same time."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["now"]


def now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)
