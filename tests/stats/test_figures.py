"""The figures on the hand-built data set of tests/stats/dataset.py: every rate known in advance.

The definitions under test (services/stats.py says the same):
响应率 = acknowledged by respond_by / received; 解决率 = 已办结 / (received − 重复), rejected
tickets stay in the denominator; 满意率 = (满意 + 基本满意) / rated, a ticket closed by the timeout
has no rating and counts nowhere; reopened = a 未解决 or 不满意 reopening in the audit trail.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from services import stats
from services.errors import Refusal, ServiceError
from services.stats import Durations, Period, Rate, Scope
from storage.db import SessionFactory
from storage.models import Rating, Role, TicketStatus, User
from tests.stats.dataset import NOW, Built, build

NOVEMBER = Period.month(2026, 11)
H = 3600.0


@pytest.fixture
async def built(session_factory: SessionFactory) -> Built:
    async with session_factory() as session:
        return await build(session)


async def test_a_community_in_a_month(session_factory: SessionFactory, built: Built) -> None:
    async with session_factory() as session:
        f = await stats.figures(session, Scope.community(built.xuanqiao), NOVEMBER, NOW)
    assert f.scope_name == "悬桥社区"
    assert f.received == 11
    assert f.urgent == 2
    assert f.by_category == {"facilities": 3, "elderly": 3, "other": 3, "sanitation": 2}
    assert f.by_status == {
        TicketStatus.closed: 4,
        TicketStatus.reopened: 1,
        TicketStatus.rejected: 1,
        TicketStatus.duplicate: 1,
        TicketStatus.new: 1,
        TicketStatus.accepted: 2,
        TicketStatus.awaiting_confirmation: 1,
    }
    assert f.by_category_status[("elderly", TicketStatus.closed)] == 1
    assert f.by_category_status[("facilities", TicketStatus.closed)] == 2
    assert f.response == Rate(8, 11)
    assert f.resolution == Rate(4, 10)
    assert f.satisfaction == Rate(3, 4)
    assert f.satisfaction.value == 0.75
    assert f.ratings == {Rating.satisfied: 2, Rating.basically: 1, Rating.dissatisfied: 1}
    assert f.reopened == Rate(2, 11)
    assert f.acknowledge == Durations(10, 3 * H, 24 * H)
    assert f.resolve == Durations(6, 10 * H, 40 * H)


async def test_visit_coverage_uses_each_households_interval(
    session_factory: SessionFactory, built: Built
) -> None:
    async with session_factory() as session:
        f = await stats.figures(session, Scope.community(built.xuanqiao), NOVEMBER, NOW)
    assert f.as_of == NOW, "a month still running is measured up to now"
    assert [(g.grid_id, g.households, g.covered) for g in f.coverage] == [
        (built.grids[0], 10, 2),
        (built.grids[1], 10, 1),
        (built.grids[2], 10, 0),
    ]
    assert f.coverage_total == Rate(3, 30)
    # At the end of October only the visits before November count: 小李's of 29 and 31 days
    # ago (30-day households) are then 6 and 8 days old.
    async with session_factory() as session:
        october = await stats.figures(
            session, Scope.community(built.xuanqiao), Period.month(2026, 10), NOW
        )
    assert october.as_of == NOVEMBER.start
    assert october.coverage_total == Rate(2, 30)
    assert october.received == 1, "T0, one second before November in Suzhou"


async def test_volunteers_activity_in_the_period(
    session_factory: SessionFactory, built: Built
) -> None:
    async with session_factory() as session:
        f = await stats.figures(session, Scope.community(built.xuanqiao), NOVEMBER, NOW)
        people = await stats.volunteer_activity(session, Scope.community(built.xuanqiao), NOVEMBER)
    # 小李: visits 6, 8 and 15 days ago (the others were in October); one task confirmed in
    # November (the taken one is not done, the other was done in October). 小周: one visit.
    assert f.volunteers == stats.VolunteerTotals(volunteers=2, active=2, visits=4, tasks_done=1)
    assert [(v.name, v.visits, v.tasks_done) for v in people] == [("小李", 3, 1), ("小周", 1, 0)]


async def test_the_weekly_trend_runs_monday_to_sunday_in_suzhou(
    session_factory: SessionFactory, built: Built
) -> None:
    async with session_factory() as session:
        f = await stats.figures(session, Scope.community(built.xuanqiao), NOVEMBER, NOW)
    assert len(f.weeks) == 12
    assert f.weeks[-1].first == date(2026, 11, 23) and f.weeks[0].first == date(2026, 9, 7)
    by_week = {w.first: (w.received, w.closed, w.visits) for w in f.weeks}
    # T9 (11-24 04:00 in Suzhou); its visit of yesterday.
    assert by_week[date(2026, 11, 23)] == (1, 0, 1)
    # T0 (Sat 10-31 23:59:59) and T11 (Sun 11-01 00:00) fall in the same week; T0 was closed
    # 3 hours after its report, on Sunday.
    assert by_week[date(2026, 10, 26)] == (2, 1, 1)
    assert sum(w.received for w in f.weeks) == 12
    assert sum(w.visits for w in f.weeks) == 6


async def test_a_street_and_the_district_add_up(
    session_factory: SessionFactory, built: Built
) -> None:
    async with session_factory() as session:
        street = await stats.figures(session, Scope.street(built.street), NOVEMBER, NOW)
        district = await stats.figures(session, Scope.district(), NOVEMBER, NOW)
    assert street.scope_name == "平江街道" and district.scope_name == ""
    assert street.received == district.received == 16
    assert street.satisfaction == Rate(3 + 4, 4 + 5)
    assert street.resolution == Rate(4 + 5, 10 + 5)
    assert len(street.coverage) == 6 and len(district.coverage) == 12
    assert street.coverage_total == Rate(3, 60)
    assert district.volunteers.volunteers == 3
    # The district counts its weeks over the whole indexed columns: the same totals.
    assert sum(w.received for w in district.weeks) == 12 + 5
    assert sum(w.visits for w in district.weeks) == sum(w.visits for w in street.weeks) == 6
    assert [w.first for w in district.weeks] == [w.first for w in street.weeks]


async def test_only_coordinators_and_admins_get_figures_of_their_own_scope(
    session_factory: SessionFactory, built: Built
) -> None:
    def person(role: Role, street: int | None = None, community: int | None = None) -> User:
        return User(
            telegram_id=1,
            chat_id=1,
            display_name="x",
            role=role,
            street_id=street,
            community_id=community,
            created_at=NOW,
        )

    assert stats.scope_of(person(Role.coordinator, 1, built.xuanqiao)) == Scope.community(
        built.xuanqiao
    )
    assert stats.scope_of(person(Role.admin, built.street)) == Scope.street(built.street)
    assert stats.scope_of(person(Role.admin)) == Scope.district()
    for refused in (
        person(Role.resident, 1, built.xuanqiao),
        person(Role.volunteer, 1, built.xuanqiao),
        person(Role.coordinator),
    ):
        with pytest.raises(ServiceError) as caught:
            stats.scope_of(refused)
        assert caught.value.refusal == Refusal.not_allowed


def test_periods_are_suzhou_calendar_days() -> None:
    assert NOVEMBER.start == datetime.fromisoformat("2026-10-31T16:00:00+00:00")
    assert NOVEMBER.end == datetime.fromisoformat("2026-11-30T16:00:00+00:00")
    assert NOVEMBER.code == "2026-11" and NOVEMBER.is_month
    assert stats.parse_period("2026-11") == NOVEMBER
    assert stats.parse_period("2026年11月") == NOVEMBER
    days = stats.parse_period("2026-11-01..2026-11-15")
    assert (days.first, days.last, days.code) == (
        date(2026, 11, 1),
        date(2026, 11, 15),
        "2026-11-01_2026-11-15",
    )
    assert stats.parse_period("2026-11-01 至 2026-11-30") == NOVEMBER
    assert stats.parse_period("2026-12").first == date(2026, 12, 1)
    assert stats.month_of(NOW) == NOVEMBER
    # 2026-11-30 20:00 UTC is already December 1st in Suzhou.
    assert stats.month_of(datetime.fromisoformat("2026-11-30T20:00:00+00:00")).first.month == 12
    assert stats.previous_month(NOW) == Period.month(2026, 10)
    assert stats.previous_month(NOW + timedelta(days=-60)) == Period.month(2026, 8)
    assert stats.previous_month(datetime.fromisoformat("2026-01-05T00:00:00+00:00")) == (
        Period.month(2025, 12)
    )
    for bad in ("2026-13", "November", "2026-11-31..2026-12-01", "2026-11-15..2026-11-01", ""):
        with pytest.raises(ValueError):
            stats.parse_period(bad)


def test_the_monthly_summary_survives_a_json_payload() -> None:
    summary = stats.Summary(
        scope="community-1",
        scope_name="悬桥社区",
        period="2026-11",
        received=11,
        response=(8, 11),
        resolution=(4, 10),
        satisfaction=(3, 4),
        reopened=(2, 11),
        coverage=(3, 30),
        visits=4,
        tasks_done=1,
    )
    import json

    again = stats.Summary.from_payload(json.loads(json.dumps(summary.to_payload())))
    assert again == summary
