"""How often each household should be visited, by its tags (issue 5), and who is overdue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.clock import as_utc
from storage.models import Household, Visit, VolunteerHousehold

# The shortest interval of a household's tags applies; households without these tags: DEFAULT.
INTERVALS: dict[str, timedelta] = {
    "独居老人": timedelta(days=7),
    "高龄": timedelta(days=7),
    "低保": timedelta(days=14),
    "残疾": timedelta(days=14),
}
DEFAULT_INTERVAL = timedelta(days=30)


def tags_of(household: Household) -> list[str]:
    return [t for t in household.tags.replace("；", ";").split(";") if t]


def interval_for(tags: Iterable[str], intervals: dict[str, timedelta] | None = None) -> timedelta:
    table = INTERVALS if intervals is None else intervals
    return min((table[t] for t in tags if t in table), default=DEFAULT_INTERVAL)


@dataclass(frozen=True)
class HouseholdDue:
    household: Household
    last_visit: datetime | None
    interval: timedelta

    def overdue(self, now: datetime) -> bool:
        return self.last_visit is None or now - self.last_visit > self.interval


async def volunteer_households(session: AsyncSession, volunteer_id: int) -> list[HouseholdDue]:
    """A volunteer's households with their last visit (by anyone) and interval, longest
    since the last visit first (never visited first of all)."""
    last = (
        select(Visit.household_id, func.max(Visit.visited_at).label("last"))
        .group_by(col(Visit.household_id))
        .subquery()
    )
    rows = await session.exec(
        select(Household, last.c.last)
        .join(VolunteerHousehold, col(VolunteerHousehold.household_id) == col(Household.id))
        .outerjoin(last, last.c.household_id == col(Household.id))
        .where(col(VolunteerHousehold.volunteer_id) == volunteer_id)
    )
    dues = [
        HouseholdDue(household, _aware(visited), interval_for(tags_of(household)))
        for household, visited in rows
    ]
    dues.sort(
        key=lambda d: (
            d.last_visit is not None,
            d.last_visit.timestamp() if d.last_visit else 0.0,
            d.household.id or 0,
        )
    )
    return dues


def _aware(value: datetime | None) -> datetime | None:
    # An aggregate in a subquery loses the column's UTC type: SQLite hands back naive values.
    return as_utc(value) if value is not None else None
