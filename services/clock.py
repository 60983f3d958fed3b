"""Injected clocks: services ask a clock for the time, so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 24, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment


class ScaledClock:
    """Runs `speed` times faster than real time from the moment it is made (sandbox)."""

    def __init__(self, speed: float, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._start = self._base.now()
        self._speed = speed

    def now(self) -> datetime:
        real = self._base.now()
        return self._start + (real - self._start) * self._speed


def as_utc(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back; they are UTC by convention."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def local(moment: datetime, tz: ZoneInfo = SHANGHAI) -> datetime:
    return as_utc(moment).astimezone(tz)
