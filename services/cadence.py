"""How often each household should be visited, by its tags (issue 5), and who is overdue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.clock import SHANGHAI, Clock, as_utc
from services.errors import Refusal, ServiceError
from services.org import grids_of
from storage.models import Grid, Household, Role, User, Visit, VolunteerHousehold

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


async def _dues(session: AsyncSession, *where: Any, join_volunteer: bool) -> list[HouseholdDue]:
    last = (
        select(Visit.household_id, func.max(Visit.visited_at).label("last"))
        .group_by(col(Visit.household_id))
        .subquery()
    )
    statement = select(Household, last.c.last)
    if join_volunteer:
        statement = statement.join(
            VolunteerHousehold, col(VolunteerHousehold.household_id) == col(Household.id)
        )
    rows = await session.exec(
        statement.outerjoin(last, last.c.household_id == col(Household.id)).where(*where)
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


async def volunteer_households(session: AsyncSession, volunteer_id: int) -> list[HouseholdDue]:
    """A volunteer's households with their last visit (by anyone) and interval, longest
    since the last visit first (never visited first of all)."""
    return await _dues(
        session, col(VolunteerHousehold.volunteer_id) == volunteer_id, join_volunteer=True
    )


async def grid_households(
    session: AsyncSession, actor: User, grid_id: int
) -> tuple[Grid, list[HouseholdDue]]:
    """Every household of a grid, longest since the last visit first: for the coordinators of
    the grid's community only."""
    grid = await session.get(Grid, grid_id)
    if grid is None or actor.role != Role.coordinator or grid.community_id != actor.community_id:
        raise ServiceError(Refusal.unknown_grid)
    return grid, await _dues(session, col(Household.grid_id) == grid_id, join_volunteer=False)


def month_start(now: datetime, tz: ZoneInfo = SHANGHAI) -> datetime:
    """The first moment of `now`'s month in `tz`, in UTC."""
    local = now.astimezone(tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


@dataclass(frozen=True)
class Coverage:
    """Households visited within their interval out of all, and visits this month."""

    covered: int
    total: int
    visits_this_month: int

    @property
    def overdue(self) -> int:
        return self.total - self.covered

    @property
    def percent(self) -> int:
        return round(100 * self.covered / self.total) if self.total else 0


def _covered(dues: Iterable[HouseholdDue], now: datetime) -> int:
    return sum(1 for d in dues if not d.overdue(now))


async def _visits_since(session: AsyncSession, since: datetime, *where: Any) -> int:
    count = await session.exec(
        select(func.count())
        .select_from(Visit)
        .join(Household, col(Household.id) == col(Visit.household_id))
        .where(col(Visit.visited_at) >= since, *where)
    )
    return int(count.one())


async def volunteer_coverage(
    session: AsyncSession, clock: Clock, volunteer: User, tz: ZoneInfo = SHANGHAI
) -> Coverage:
    """/me of a volunteer: their households visited (by anyone) within the interval, and
    their own visits since the first of this month."""
    if volunteer.role != Role.volunteer or volunteer.id is None:
        raise ServiceError(Refusal.not_allowed)
    now = clock.now()
    dues = await volunteer_households(session, volunteer.id)
    visits = await _visits_since(
        session, month_start(now, tz), col(Visit.volunteer_id) == volunteer.id
    )
    return Coverage(_covered(dues, now), len(dues), visits)


@dataclass(frozen=True)
class GridCoverage:
    grid: Grid
    coverage: Coverage
    volunteers: int


async def community_coverage(
    session: AsyncSession, clock: Clock, actor: User, tz: ZoneInfo = SHANGHAI
) -> list[GridCoverage]:
    """/coverage of a coordinator: every grid of their community."""
    if actor.role != Role.coordinator or actor.community_id is None:
        raise ServiceError(Refusal.not_allowed)
    now = clock.now()
    since = month_start(now, tz)
    result: list[GridCoverage] = []
    for grid in await grids_of(session, actor.community_id):
        dues = await _dues(session, col(Household.grid_id) == grid.id, join_volunteer=False)
        visits = await _visits_since(session, since, col(Household.grid_id) == grid.id)
        volunteers = await session.exec(
            select(func.count())
            .select_from(User)
            .where(
                col(User.role) == Role.volunteer,
                col(User.grid_id) == grid.id,
                col(User.active),
            )
        )
        result.append(
            GridCoverage(grid, Coverage(_covered(dues, now), len(dues), visits), volunteers.one())
        )
    return result


def _aware(value: datetime | None) -> datetime | None:
    # An aggregate in a subquery loses the column's UTC type: SQLite hands back naive values.
    return as_utc(value) if value is not None else None
