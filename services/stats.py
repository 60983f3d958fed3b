"""Figures for coordinators (their community), street admins (their street) and district
admins (the whole district), over an Asia/Shanghai calendar month or date range (issue 8).

Everything is counted by SQL aggregates (GROUP BY, window functions for the percentiles); only
a handful of summary rows ever reach Python.

Definitions (tests/stats/test_figures.py pins every one of them on a hand-built data set):

* 收到 (received): tickets of the scope *created* in the period, whatever became of them. Each
  rate below is about this cohort, with its status as of the moment of asking.
* 响应率 (response rate) = tickets acknowledged within their response target
  (`acknowledged_at <= respond_by`; acknowledging = 受理, 派单, 转办, 不予受理 or 合并) / received.
  A ticket still waiting, or acknowledged late, counts against it.
* 解决率 (resolution rate) = tickets now 已办结 (`closed`: confirmed by the resident, or closed by
  the 7-day timeout rule) / (received − 重复). A duplicate is the same need as the ticket it was
  merged into, so it is counted once, there. A 不予受理 (rejected) ticket stays in the
  denominator and is not resolved: refusing a need must not improve the rate. A ticket reopened
  (未解决 / 不满意) and not closed again is not resolved.
* 满意率 (satisfaction rate) = (满意 + 基本满意) / rated tickets. A ticket closed by the timeout
  rule has no rating: it is neither in the numerator nor in the denominator.
* 重新办理占比 (reopened share) = received tickets with at least one 未解决 or 不满意 reopening in
  their audit trail (TicketEvent action "unresolved" or "reopen") / received.
* Time to acknowledge = acknowledged_at − created_at (acknowledged tickets); time to resolve =
  resolved_at − created_at (tickets a handler marked 已处理; the latest such moment after a
  reopening). Median and 90th percentile by the nearest-rank method: the ⌈p·n⌉-th smallest.
* 走访覆盖率 (visit coverage), per grid: households visited within their cadence interval
  (services.cadence: the shortest interval of their tags) before the end of the period, or
  before now for a period still running / all households of the grid.
* Volunteers' activity: visits made in the period, and tasks finished (done_at) in the period,
  by the volunteers of the scope.
* Weekly trend: the 12 weeks (Monday to Sunday, Asia/Shanghai) ending with the week of the end
  of the period (or of now): tickets received, tickets closed, visits made.

Public results (`public_view`) show a community's rates only when their denominator has at
least MIN_SAMPLE tickets (a satisfaction rate needs MIN_SAMPLE rated tickets); otherwise
样本不足. Nothing personal is ever part of them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Executable, Float, and_, case, exists, literal, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col, func
from sqlmodel.ext.asyncio.session import AsyncSession

from services.cadence import DEFAULT_INTERVAL, INTERVALS
from services.clock import SHANGHAI, as_utc
from services.errors import Refusal, ServiceError
from storage.models import (
    Community,
    Grid,
    Household,
    Rating,
    Role,
    Street,
    Task,
    TaskStatus,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    Visit,
)
from storage.types import UTCDateTime

MIN_SAMPLE = 5
TREND_WEEKS = 12
REOPENING_ACTIONS = ("reopen", "unresolved")
SATISFIED = (Rating.satisfied, Rating.basically)
TASKS_DONE = (TaskStatus.done, TaskStatus.confirmed)


# ---------------------------------------------------------------- periods and scopes


@dataclass(frozen=True)
class Period:
    """Calendar days in Asia/Shanghai, `first` to `last` inclusive."""

    first: date
    last: date
    tz: ZoneInfo = SHANGHAI

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("a period ends after it starts")

    @classmethod
    def month(cls, year: int, month: int, tz: ZoneInfo = SHANGHAI) -> Period:
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return cls(first, following - timedelta(days=1), tz)

    @property
    def is_month(self) -> bool:
        return self.first.day == 1 and self == Period.month(
            self.first.year, self.first.month, self.tz
        )

    @property
    def code(self) -> str:
        """2026-11 for a month, 2026-11-01_2026-11-15 for a range (file names)."""
        if self.is_month:
            return f"{self.first:%Y-%m}"
        return f"{self.first:%Y-%m-%d}_{self.last:%Y-%m-%d}"

    @property
    def start(self) -> datetime:
        """The first instant, in UTC."""
        return _midnight(self.first, self.tz)

    @property
    def end(self) -> datetime:
        """The instant after the last day, in UTC (exclusive)."""
        return _midnight(self.last + timedelta(days=1), self.tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def month_of(moment: datetime, tz: ZoneInfo = SHANGHAI) -> Period:
    local = as_utc(moment).astimezone(tz)
    return Period.month(local.year, local.month, tz)


def previous_month(moment: datetime, tz: ZoneInfo = SHANGHAI) -> Period:
    before = month_of(moment, tz).first - timedelta(days=1)
    return Period.month(before.year, before.month, tz)


_MONTH = re.compile(r"^(\d{4})[-./年](\d{1,2})月?$")
_DAY = r"(\d{4})[-./年](\d{1,2})[-./月](\d{1,2})日?"
_RANGE = re.compile(rf"^{_DAY}\s*(?:\.\.|~|～|至|到|_|—|－|--)\s*{_DAY}$")


def parse_period(text: str, tz: ZoneInfo = SHANGHAI) -> Period:
    """ "2026-11" (a month) or "2026-11-01..2026-11-15" (days, inclusive; ~ 至 _ also)."""
    text = text.strip()
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12 or year < 2000:
            raise ValueError(f"no such month: {text}")
        return Period.month(year, month, tz)
    if m := _RANGE.match(text):
        try:
            first = date(int(m[1]), int(m[2]), int(m[3]))
            last = date(int(m[4]), int(m[5]), int(m[6]))
        except ValueError as error:
            raise ValueError(f"no such day: {text}") from error
        if last < first or (last - first).days > 366:
            raise ValueError(f"not a period of at most a year: {text}")
        return Period(first, last, tz)
    raise ValueError(f"not a period: {text!r}")


class ScopeKind(StrEnum):
    community = "community"
    street = "street"
    district = "district"


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    id: int | None = None

    @classmethod
    def community(cls, community_id: int) -> Scope:
        return cls(ScopeKind.community, community_id)

    @classmethod
    def street(cls, street_id: int) -> Scope:
        return cls(ScopeKind.street, street_id)

    @classmethod
    def district(cls) -> Scope:
        return cls(ScopeKind.district)

    @property
    def code(self) -> str:
        return self.kind.value if self.id is None else f"{self.kind.value}-{self.id}"


def scope_of(actor: User) -> Scope:
    """Whose figures an actor may see: a coordinator their community, a street admin their
    street, an admin without a street the district. Everyone else is refused."""
    if actor.role == Role.coordinator and actor.community_id is not None:
        return Scope.community(actor.community_id)
    if actor.role == Role.admin:
        return Scope.district() if actor.street_id is None else Scope.street(actor.street_id)
    raise ServiceError(Refusal.not_allowed)


async def parse_scope(session: AsyncSession, text: str) -> Scope:
    """community:<id or name> | street:<id or name> | district (the CLI)."""
    kind, _, value = text.strip().partition(":")
    value = value.strip()
    if kind == ScopeKind.district and not value:
        return Scope.district()
    if kind == ScopeKind.community and value:
        if value.isdigit() and await session.get(Community, int(value)) is not None:
            return Scope.community(int(value))
        rows = [
            r[0]
            for r in await _rows(
                session, select(col(Community.id)).where(col(Community.name) == value)
            )
        ]
        if len(rows) == 1 and rows[0] is not None:
            return Scope.community(rows[0])
        raise ServiceError(Refusal.unknown_community, name=value)
    if kind == ScopeKind.street and value:
        if value.isdigit() and await session.get(Street, int(value)) is not None:
            return Scope.street(int(value))
        found = await _rows(session, select(col(Street.id)).where(col(Street.name) == value))
        street = found[0][0] if found else None
        if street is not None:
            return Scope.street(street)
        raise ServiceError(Refusal.unknown_street, name=value)
    raise ValueError(f"not a scope: {text!r}")


async def scope_name(session: AsyncSession, scope: Scope) -> str:
    """The community's or street's name; "" for the district."""
    if scope.kind == ScopeKind.community:
        community = await session.get(Community, scope.id)
        if community is None:
            raise ServiceError(Refusal.unknown_community, name=str(scope.id))
        return community.name
    if scope.kind == ScopeKind.street:
        street = await session.get(Street, scope.id)
        if street is None:
            raise ServiceError(Refusal.unknown_street, name=str(scope.id))
        return street.name
    return ""


def _tickets_in(scope: Scope) -> ColumnElement[bool]:
    if scope.kind == ScopeKind.community:
        return col(Ticket.community_id) == scope.id
    if scope.kind == ScopeKind.street:
        return col(Ticket.street_id) == scope.id
    return true()


def _grids_in(scope: Scope) -> ColumnElement[bool]:
    if scope.kind == ScopeKind.community:
        return col(Grid.community_id) == scope.id
    if scope.kind == ScopeKind.street:
        return col(Grid.community_id).in_(
            select(col(Community.id)).where(col(Community.street_id) == scope.id)
        )
    return true()


def _volunteers_in(scope: Scope) -> ColumnElement[bool]:
    where = col(User.role) == Role.volunteer
    if scope.kind == ScopeKind.community:
        return and_(where, col(User.community_id) == scope.id)
    if scope.kind == ScopeKind.street:
        return and_(where, col(User.street_id) == scope.id)
    return where


# ---------------------------------------------------------------- SQL helpers


class _Seconds(FunctionElement[float]):
    """Seconds from the second argument to the first (a − b), in the database."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(_Seconds)
def _seconds_sqlite(element: _Seconds, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = list(element.clauses)
    return (
        f"((julianday({compiler.process(a, **kw)}) - julianday({compiler.process(b, **kw)}))"
        " * 86400.0)"
    )


@compiles(_Seconds, "postgresql")
def _seconds_postgresql(element: _Seconds, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(a, **kw)} - {compiler.process(b, **kw)}))"


def _moment(value: datetime) -> ColumnElement[datetime]:
    """A bound UTC instant, stored the way the columns store theirs."""
    return literal(value, UTCDateTime())


async def _rows(session: AsyncSession, statement: Executable) -> Sequence[Any]:
    """Core statements run on the session's connection (its transaction, its types)."""
    connection = await session.connection()
    return (await connection.execute(statement)).all()


def _count_if(condition: Any) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _interval_cutoff(as_of: datetime) -> ColumnElement[datetime]:
    """The oldest visit that still counts for a household, from its tags (services.cadence):
    the shortest interval of its tags applies, DEFAULT_INTERVAL without any of them."""
    by_interval: dict[timedelta, list[str]] = {}
    for tag, interval in INTERVALS.items():
        by_interval.setdefault(interval, []).append(tag)
    whens = [
        (
            or_(*(col(Household.tags).contains(tag) for tag in tags)),
            _moment(as_of - interval),
        )
        for interval, tags in sorted(by_interval.items())
    ]
    return case(*whens, else_=_moment(as_of - DEFAULT_INTERVAL))


def _longest_interval() -> timedelta:
    return max([DEFAULT_INTERVAL, *INTERVALS.values()])


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Durations:
    """Seconds; None when nothing was measured."""

    count: int
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class GridCoverage:
    grid_id: int
    community: str
    grid: str
    households: int
    covered: int

    @property
    def rate(self) -> Rate:
        return Rate(self.covered, self.households)


@dataclass(frozen=True)
class VolunteerTotals:
    volunteers: int  # of the scope
    active: int  # with at least one visit or finished task in the period
    visits: int
    tasks_done: int


@dataclass(frozen=True)
class Week:
    first: date  # the Monday
    received: int
    closed: int
    visits: int


@dataclass(frozen=True)
class Figures:
    scope: Scope
    scope_name: str  # "" for the district
    period: Period
    as_of: datetime  # the end of the period, or now for a period still running
    received: int
    by_category: dict[str, int]  # most first
    by_status: dict[TicketStatus, int]
    by_category_status: dict[tuple[str, TicketStatus], int]
    urgent: int
    response: Rate
    resolution: Rate
    satisfaction: Rate
    reopened: Rate
    ratings: dict[Rating, int]
    acknowledge: Durations
    resolve: Durations
    coverage: list[GridCoverage]
    volunteers: VolunteerTotals
    weeks: list[Week] = field(default_factory=list)

    @property
    def coverage_total(self) -> Rate:
        return Rate(sum(g.covered for g in self.coverage), sum(g.households for g in self.coverage))


async def figures(session: AsyncSession, scope: Scope, period: Period, now: datetime) -> Figures:
    """All the figures of one scope and period."""
    name = await scope_name(session, scope)
    as_of = min(as_utc(now), period.end)
    rows = await _ticket_groups(session, scope, period)
    by_category: dict[str, int] = {}
    by_status: dict[TicketStatus, int] = {}
    by_pair: dict[tuple[str, TicketStatus], int] = {}
    ratings = dict.fromkeys(Rating, 0)
    received = urgent = in_time = reopened = 0
    for row in rows:
        category, status = str(row.category), TicketStatus(row.status)
        by_pair[(category, status)] = int(row.n)
        by_category[category] = by_category.get(category, 0) + int(row.n)
        by_status[status] = by_status.get(status, 0) + int(row.n)
        received += int(row.n)
        urgent += int(row.urgent)
        in_time += int(row.in_time)
        reopened += int(row.reopened)
        ratings[Rating.satisfied] += int(row.satisfied)
        ratings[Rating.basically] += int(row.basically)
        ratings[Rating.dissatisfied] += int(row.dissatisfied)
    rated = sum(ratings.values())
    return Figures(
        scope=scope,
        scope_name=name,
        period=period,
        as_of=as_of,
        received=received,
        by_category=dict(sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0]))),
        by_status=by_status,
        by_category_status=by_pair,
        urgent=urgent,
        response=Rate(in_time, received),
        resolution=Rate(
            by_status.get(TicketStatus.closed, 0),
            received - by_status.get(TicketStatus.duplicate, 0),
        ),
        satisfaction=Rate(ratings[Rating.satisfied] + ratings[Rating.basically], rated),
        reopened=Rate(reopened, received),
        ratings=ratings,
        acknowledge=await _durations(session, scope, period, col(Ticket.acknowledged_at)),
        resolve=await _durations(session, scope, period, col(Ticket.resolved_at)),
        coverage=await coverage(session, scope, as_of),
        volunteers=await _volunteer_totals(session, scope, period),
        weeks=await weekly_trend(session, scope, as_of, period.tz),
    )


def _reopened() -> ColumnElement[bool]:
    return exists().where(
        col(TicketEvent.ticket_id) == col(Ticket.id),
        col(TicketEvent.action).in_(REOPENING_ACTIONS),
    )


async def _ticket_groups(session: AsyncSession, scope: Scope, period: Period) -> Sequence[Any]:
    ticket_id: Any = col(Ticket.id)
    statement: Any = (
        select(
            col(Ticket.category).label("category"),
            col(Ticket.status).label("status"),
            func.count(ticket_id).label("n"),
            _count_if(col(Ticket.urgent)).label("urgent"),
            _count_if(
                and_(
                    col(Ticket.acknowledged_at).is_not(None),
                    col(Ticket.acknowledged_at) <= col(Ticket.respond_by),
                )
            ).label("in_time"),
            _count_if(col(Ticket.rating) == Rating.satisfied).label("satisfied"),
            _count_if(col(Ticket.rating) == Rating.basically).label("basically"),
            _count_if(col(Ticket.rating) == Rating.dissatisfied).label("dissatisfied"),
            _count_if(_reopened()).label("reopened"),
        )
        .where(
            _tickets_in(scope),
            col(Ticket.created_at) >= _moment(period.start),
            col(Ticket.created_at) < _moment(period.end),
        )
        .group_by(col(Ticket.category), col(Ticket.status))
    )
    return await _rows(session, statement)


async def _durations(session: AsyncSession, scope: Scope, period: Period, moment: Any) -> Durations:
    """Median and 90th percentile of (moment − created_at) over the cohort, in the database:
    one pass numbers the sorted durations and keeps only the two ranks needed."""
    seconds = _Seconds(moment, col(Ticket.created_at))
    inner = (
        select(
            seconds.label("s"),
            func.row_number().over(order_by=seconds).label("r"),
            func.count().over().label("n"),
        )
        .where(
            _tickets_in(scope),
            col(Ticket.created_at) >= _moment(period.start),
            col(Ticket.created_at) < _moment(period.end),
            moment.is_not(None),
        )
        .subquery()
    )
    # Nearest rank ⌈p·n⌉ in integer arithmetic: ⌈n/2⌉ and ⌈9n/10⌉.
    median_rank = (inner.c.n + 1) // 2
    p90_rank = (inner.c.n * 9 + 9) // 10
    rows = await _rows(
        session,
        select(inner.c.s, inner.c.r, inner.c.n).where(
            or_(inner.c.r == median_rank, inner.c.r == p90_rank)
        ),
    )
    if not rows:
        return Durations(0, None, None)
    n = int(rows[0].n)
    values = {int(r.r): round(float(r.s), 1) for r in rows}
    return Durations(n, values.get(-(-n // 2)), values.get(-(-n * 9 // 10)))


def _households_of(scope: Scope) -> ColumnElement[bool]:
    """Visits to the scope's households (no filter at all for the district)."""
    if scope.kind == ScopeKind.district:
        return true()
    households = select(col(Household.id)).join(Grid, col(Grid.id) == col(Household.grid_id))
    return col(Visit.household_id).in_(households.where(_grids_in(scope)))


def _by_volunteers_of(scope: Scope, column: Any) -> ColumnElement[bool]:
    """Rows of the scope's volunteers (no filter at all for the district)."""
    if scope.kind == ScopeKind.district:
        return true()
    condition: ColumnElement[bool] = column.in_(select(col(User.id)).where(_volunteers_in(scope)))
    return condition


async def coverage(session: AsyncSession, scope: Scope, as_of: datetime) -> list[GridCoverage]:
    """Per grid: households visited within their interval before `as_of` / households.

    Two aggregates: the households of each grid, and the households whose last visit in the
    longest interval before `as_of` is recent enough for their tags."""
    household_count = (
        select(func.count())
        .select_from(Household)
        .where(col(Household.grid_id) == col(Grid.id))
        .scalar_subquery()
    )
    grids = await _rows(
        session,
        select(col(Grid.id), col(Community.name), col(Grid.name), household_count)
        .join(Community, col(Community.id) == col(Grid.community_id))
        .where(_grids_in(scope))
        .order_by(col(Grid.community_id), col(Grid.number)),
    )
    last = (
        select(
            col(Visit.household_id).label("household_id"),
            func.max(col(Visit.visited_at)).label("last"),
        )
        .where(
            _households_of(scope),
            col(Visit.visited_at) >= _moment(as_of - _longest_interval()),
            col(Visit.visited_at) < _moment(as_of),
        )
        .group_by(col(Visit.household_id))
        .subquery()
    )
    covered = {
        int(grid_id): int(n)
        for grid_id, n in await _rows(
            session,
            select(col(Household.grid_id), func.count())
            .select_from(last)
            .join(Household, col(Household.id) == last.c.household_id)
            .where(last.c.last >= _interval_cutoff(as_of))
            .group_by(col(Household.grid_id)),
        )
    }
    return [
        GridCoverage(int(grid_id), str(community), str(grid), int(total), covered.get(grid_id, 0))
        for grid_id, community, grid, total in grids
    ]


def _visits_by_volunteer(scope: Scope, period: Period) -> Any:
    return (
        select(col(Visit.volunteer_id).label("user_id"), func.count().label("n"))
        .where(
            _by_volunteers_of(scope, col(Visit.volunteer_id)),
            col(Visit.visited_at) >= _moment(period.start),
            col(Visit.visited_at) < _moment(period.end),
        )
        .group_by(col(Visit.volunteer_id))
        .subquery()
    )


def _tasks_by_volunteer(scope: Scope, period: Period) -> Any:
    return (
        select(col(Task.assignee_id).label("user_id"), func.count().label("n"))
        .where(
            _by_volunteers_of(scope, col(Task.assignee_id)),
            col(Task.status).in_(TASKS_DONE),
            col(Task.done_at) >= _moment(period.start),
            col(Task.done_at) < _moment(period.end),
        )
        .group_by(col(Task.assignee_id))
        .subquery()
    )


async def _volunteer_totals(session: AsyncSession, scope: Scope, period: Period) -> VolunteerTotals:
    """One statement: each side (visits, tasks finished) is read once, as a CTE."""
    visits = (
        select(col(Visit.volunteer_id).label("user_id"))
        .where(
            _by_volunteers_of(scope, col(Visit.volunteer_id)),
            col(Visit.visited_at) >= _moment(period.start),
            col(Visit.visited_at) < _moment(period.end),
        )
        .cte("visits")
    )
    tasks = (
        select(col(Task.assignee_id).label("user_id"))
        .where(
            _by_volunteers_of(scope, col(Task.assignee_id)),
            col(Task.status).in_(TASKS_DONE),
            col(Task.done_at) >= _moment(period.start),
            col(Task.done_at) < _moment(period.end),
        )
        .cte("tasks")
    )
    active = select(visits.c.user_id).union(select(tasks.c.user_id)).subquery()
    user_id: Any = col(User.id)
    [row] = await _rows(
        session,
        select(
            select(func.count(user_id)).where(_volunteers_in(scope)).scalar_subquery(),
            select(func.count()).select_from(active).scalar_subquery(),
            select(func.count()).select_from(visits).scalar_subquery(),
            select(func.count()).select_from(tasks).scalar_subquery(),
        ),
    )
    return VolunteerTotals(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def _week_start(moment: datetime, tz: ZoneInfo) -> date:
    local = as_utc(moment).astimezone(tz).date()
    return local - timedelta(days=local.weekday())


def _bucket(column: Any, bounds: list[datetime]) -> Any:
    """Which week (0..n−1) a moment falls in, by comparisons only (portable, index-friendly)."""
    return case(*((column < _moment(b), i) for i, b in enumerate(bounds[1:])), else_=None)


async def weekly_trend(
    session: AsyncSession, scope: Scope, as_of: datetime, tz: ZoneInfo = SHANGHAI
) -> list[Week]:
    last_monday = _week_start(as_of - timedelta(microseconds=1), tz)
    mondays = [last_monday - timedelta(weeks=TREND_WEEKS - 1 - i) for i in range(TREND_WEEKS)]
    bounds = [_midnight(m, tz) for m in [*mondays, last_monday + timedelta(weeks=1)]]
    lo, hi = _moment(bounds[0]), _moment(bounds[-1])

    async def per_week(column: Any, *where: Any) -> dict[int, int]:
        """Counts by week: one GROUP BY over a CASE of the week bounds."""
        week = _bucket(column, bounds).label("week")
        statement = select(week, func.count().label("n")).select_from(column.table)
        rows = await _rows(
            session, statement.where(*where, column >= lo, column < hi).group_by(week)
        )
        return {int(w): int(n) for w, n in rows if w is not None}

    async def per_week_indexed(column: Any) -> dict[int, int]:
        """Counts by week of a whole indexed column (the district): each week is one range
        count over the index alone."""
        counts = [
            select(func.count())
            .select_from(column.table)
            .where(column >= _moment(a), column < _moment(b))
            .scalar_subquery()
            for a, b in itertools.pairwise(bounds)
        ]
        [row] = await _rows(session, select(*counts))
        return {i: int(n) for i, n in enumerate(row)}

    district = scope.kind == ScopeKind.district
    received = (
        await per_week_indexed(col(Ticket.created_at))
        if district
        else await per_week(col(Ticket.created_at), _tickets_in(scope))
    )
    closed = await per_week(
        col(Ticket.closed_at), _tickets_in(scope), col(Ticket.status) == TicketStatus.closed
    )
    visits = (
        await per_week_indexed(col(Visit.visited_at))
        if district
        else await per_week(col(Visit.visited_at), _households_of(scope))
    )
    return [
        Week(monday, received.get(i, 0), closed.get(i, 0), visits.get(i, 0))
        for i, monday in enumerate(mondays)
    ]


# ---------------------------------------------------------------- what /stats and /report use


async def figures_for(session: AsyncSession, actor: User, period: Period, now: datetime) -> Figures:
    """The actor's own scope only (refused for residents and volunteers)."""
    return await figures(session, scope_of(actor), period, now)


@dataclass(frozen=True)
class TicketRow:
    number: str
    community: str
    grid: str
    category: str
    urgent: bool
    status: TicketStatus
    created_at: datetime
    respond_by: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    rating: Rating | None
    reopened: bool
    supervised: bool


@dataclass(frozen=True)
class VolunteerActivity:
    user_id: int
    name: str
    community: str
    grid: str
    visits: int
    tasks_done: int


@dataclass(frozen=True)
class Report:
    """What the workbook holds: the figures and the rows behind them (no names of residents,
    no phone numbers or addresses)."""

    figures: Figures
    tickets: list[TicketRow]
    volunteers: list[VolunteerActivity]


async def ticket_rows(session: AsyncSession, scope: Scope, period: Period) -> list[TicketRow]:
    grid_name: Any = func.coalesce(col(Grid.name), "")
    statement = (
        select(
            col(Ticket.number),
            col(Community.name),
            grid_name,
            col(Ticket.category),
            col(Ticket.urgent),
            col(Ticket.status),
            col(Ticket.created_at),
            col(Ticket.respond_by),
            col(Ticket.acknowledged_at),
            col(Ticket.resolved_at),
            col(Ticket.closed_at),
            col(Ticket.rating),
            _reopened(),
            col(Ticket.supervised),
        )
        .join(Community, col(Community.id) == col(Ticket.community_id))
        .outerjoin(Grid, col(Grid.id) == col(Ticket.grid_id))
        .where(
            _tickets_in(scope),
            col(Ticket.created_at) >= _moment(period.start),
            col(Ticket.created_at) < _moment(period.end),
        )
        .order_by(col(Ticket.created_at), col(Ticket.id))
    )
    return [TicketRow(*row) for row in await _rows(session, statement)]


async def volunteer_activity(
    session: AsyncSession, scope: Scope, period: Period
) -> list[VolunteerActivity]:
    """Every volunteer of the scope, the most active first."""
    visits = _visits_by_volunteer(scope, period)
    tasks = _tasks_by_volunteer(scope, period)
    visit_count = func.coalesce(visits.c.n, 0).label("visits")
    task_count = func.coalesce(tasks.c.n, 0).label("tasks")
    statement = (
        select(
            col(User.id),
            col(User.display_name),
            func.coalesce(col(Community.name), ""),
            func.coalesce(col(Grid.name), ""),
            visit_count,
            task_count,
        )
        .select_from(User)
        .outerjoin(Community, col(Community.id) == col(User.community_id))
        .outerjoin(Grid, col(Grid.id) == col(User.grid_id))
        .outerjoin(visits, visits.c.user_id == col(User.id))
        .outerjoin(tasks, tasks.c.user_id == col(User.id))
        .where(_volunteers_in(scope))
        .order_by(visit_count.desc(), task_count.desc(), col(User.id))
    )
    return [
        VolunteerActivity(int(i), str(n), str(c), str(g), int(v), int(t))
        for i, n, c, g, v, t in await _rows(session, statement)
    ]


async def report(session: AsyncSession, scope: Scope, period: Period, now: datetime) -> Report:
    return Report(
        figures=await figures(session, scope, period, now),
        tickets=await ticket_rows(session, scope, period),
        volunteers=await volunteer_activity(session, scope, period),
    )


async def report_for(session: AsyncSession, actor: User, period: Period, now: datetime) -> Report:
    """/report of a coordinator or admin: their own scope only."""
    return await report(session, scope_of(actor), period, now)


# ---------------------------------------------------------------- the monthly summary (issue 6)


@dataclass(frozen=True)
class Summary:
    """The few figures of a monthly summary message, as plain JSON-able values (an outbox
    payload carries them; handlers.texts.summary_text renders them)."""

    scope: str  # Scope.code
    scope_name: str
    period: str  # Period.code
    received: int
    response: tuple[int, int]
    resolution: tuple[int, int]
    satisfaction: tuple[int, int]
    reopened: tuple[int, int]
    coverage: tuple[int, int]
    visits: int
    tasks_done: int

    @classmethod
    def of(cls, f: Figures) -> Summary:
        def pair(r: Rate) -> tuple[int, int]:
            return (r.numerator, r.denominator)

        return cls(
            scope=f.scope.code,
            scope_name=f.scope_name,
            period=f.period.code,
            received=f.received,
            response=pair(f.response),
            resolution=pair(f.resolution),
            satisfaction=pair(f.satisfaction),
            reopened=pair(f.reopened),
            coverage=pair(f.coverage_total),
            visits=f.volunteers.visits,
            tasks_done=f.volunteers.tasks_done,
        )

    def to_payload(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Summary:
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in payload.items()
            if k in cls.__dataclass_fields__
        }
        return cls(**values)


async def monthly_summary(
    session: AsyncSession, scope: Scope, now: datetime, period: Period | None = None
) -> Summary:
    """The summary of the previous calendar month (or `period`), for the 1st-of-month message."""
    return Summary.of(await figures(session, scope, period or previous_month(now), now))


# ---------------------------------------------------------------- public results


@dataclass(frozen=True)
class PublicRates:
    """Rates of one community; None where the sample is too small (样本不足)."""

    community: str
    received: int
    response: float | None
    resolution: float | None
    satisfaction: float | None


@dataclass(frozen=True)
class PublicView:
    street: str
    period: Period
    mine: PublicRates
    # Communities of the street by 满意率 (best first), then those with too few ratings.
    ranking: list[PublicRates]


def _public_rate(rate: Rate) -> float | None:
    return rate.value if rate.denominator >= MIN_SAMPLE else None


async def public_view(
    session: AsyncSession,
    actor: User,
    now: datetime,
    period: Period | None = None,
    tz: ZoneInfo = SHANGHAI,
) -> PublicView:
    """Last month's rates of the actor's community and the street's 满意率 ranking:
    aggregates only, from one GROUP BY over the street's tickets."""
    if actor.community_id is None:
        raise ServiceError(Refusal.no_community)
    community = await session.get(Community, actor.community_id)
    if community is None:
        raise ServiceError(Refusal.no_community)
    street = await session.get(Street, community.street_id)
    assert street is not None
    period = period or previous_month(now, tz)
    ticket_id: Any = col(Ticket.id)
    counts = (
        select(
            col(Ticket.community_id).label("community_id"),
            func.count(ticket_id).label("received"),
            _count_if(
                and_(
                    col(Ticket.acknowledged_at).is_not(None),
                    col(Ticket.acknowledged_at) <= col(Ticket.respond_by),
                )
            ).label("in_time"),
            _count_if(col(Ticket.status) == TicketStatus.closed).label("closed"),
            _count_if(col(Ticket.status) == TicketStatus.duplicate).label("duplicates"),
            func.count(col(Ticket.rating)).label("rated"),
            _count_if(col(Ticket.rating).in_(SATISFIED)).label("satisfied"),
        )
        .where(
            col(Ticket.street_id) == street.id,
            col(Ticket.created_at) >= _moment(period.start),
            col(Ticket.created_at) < _moment(period.end),
        )
        .group_by(col(Ticket.community_id))
        .subquery()
    )
    rows = await _rows(
        session,
        select(
            col(Community.id),
            col(Community.name),
            func.coalesce(counts.c.received, 0),
            func.coalesce(counts.c.in_time, 0),
            func.coalesce(counts.c.closed, 0),
            func.coalesce(counts.c.duplicates, 0),
            func.coalesce(counts.c.rated, 0),
            func.coalesce(counts.c.satisfied, 0),
        )
        .outerjoin(counts, counts.c.community_id == col(Community.id))
        .where(col(Community.street_id) == street.id)
        .order_by(col(Community.id)),
    )
    every: dict[int, PublicRates] = {}
    for cid, name, received, in_time, closed, duplicates, rated, satisfied in rows:
        every[int(cid)] = PublicRates(
            community=str(name),
            received=int(received),
            response=_public_rate(Rate(int(in_time), int(received))),
            resolution=_public_rate(Rate(int(closed), int(received) - int(duplicates))),
            satisfaction=_public_rate(Rate(int(satisfied), int(rated))),
        )
    ranked = sorted(
        every.values(),
        key=lambda r: (r.satisfaction is None, -(r.satisfaction or 0.0), r.community),
    )
    return PublicView(
        street=street.name, period=period, mine=every[actor.community_id], ranking=ranked
    )


__all__ = [
    "MIN_SAMPLE",
    "Durations",
    "Figures",
    "GridCoverage",
    "Period",
    "PublicRates",
    "PublicView",
    "Rate",
    "Report",
    "Scope",
    "ScopeKind",
    "Summary",
    "TicketRow",
    "VolunteerActivity",
    "VolunteerTotals",
    "Week",
    "coverage",
    "figures",
    "figures_for",
    "month_of",
    "monthly_summary",
    "parse_period",
    "parse_scope",
    "previous_month",
    "public_view",
    "report",
    "report_for",
    "scope_of",
    "ticket_rows",
    "volunteer_activity",
    "weekly_trend",
]
