"""The district-sized demo data set, at 1/100 of its size (the full size: benchmarks/stats.py)."""

from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import text

from services import stats
from services.clock import ManualClock
from services.demo_district import DistrictSize, seed_district
from storage.db import SessionFactory
from storage.models import TicketStatus

FULL = DistrictSize()


def test_the_full_size_is_gusu_district() -> None:
    assert (FULL.communities, FULL.grids, FULL.households) == (169, 1_234, 100_000)
    assert (FULL.visits, FULL.tickets) == (1_000_000, 200_000)
    assert FULL.scaled(0.01) == DistrictSize(2, 12, 1_000, 10_000, 2_000)


async def test_one_hundredth_of_the_district_has_the_right_proportions(
    db_url: str, session_factory: SessionFactory, clock: ManualClock
) -> None:
    seen: Counter[str] = Counter()

    def progress(stage: str, done: int, total: int) -> None:
        assert 0 < done <= total
        seen[stage] += 1

    started = time.perf_counter()
    report = await seed_district(db_url, clock.now(), fraction=0.01, progress=progress)
    assert time.perf_counter() - started < 30
    assert set(seen) == {"org", "people", "visits", "tickets"}
    created = report.created
    assert created["community"] == 2 and created["grid"] == 12
    assert created["household"] == 1_000 and created["visit"] == 10_000
    assert created["ticket"] == 2_000
    assert created["volunteer_household"] == 1_000, "every household is looked after"
    assert "street" not in created, "the demo's two streets are reused"
    assert 4 <= created["ticket_event"] / created["ticket"] <= 9, "histories, not bare tickets"

    async with session_factory() as session:
        conn = await session.connection()

        async def one(sql: str) -> int:
            return int((await conn.execute(text(sql))).scalar_one())

        # Every ticket has its report in the audit trail, at its creation.
        reports = await one(
            "select count(*) from ticket_event e join ticket t on t.id = e.ticket_id"
            " where e.action = 'report' and e.at = t.created_at"
        )
        assert reports == 2_000
        rows = await conn.execute(text("select status, count(*) from ticket group by status"))
        statuses = Counter({TicketStatus(status): int(n) for status, n in rows})
        assert statuses[TicketStatus.closed] > 1_500, "most of a year's tickets are closed"
        assert statuses[TicketStatus.rejected] > 0 and statuses[TicketStatus.duplicate] > 0
        assert statuses[TicketStatus.reopened] + statuses[TicketStatus.accepted] > 0
        # Ticket numbers are unique, and no ticket was acknowledged before its report.
        assert await one("select count(distinct number) from ticket") == 2_000
        assert not await one("select count(*) from ticket where acknowledged_at < created_at")
        per_grid = (
            await conn.execute(
                text(
                    "select count(*) from household h join grid g on g.id = h.grid_id"
                    " join community c on c.id = g.community_id"
                    " where c.station_code like 'gs%' group by g.id"
                )
            )
        ).scalars()
        assert sorted(set(per_grid)) == [83, 84]
        volunteers = await one(
            "select count(*) from app_user u join community c on c.id = u.community_id"
            " where u.role = 'volunteer' and c.station_code like 'gs%'"
        )
        assert volunteers == 12 * 9, "one volunteer for every ten households of a grid"

        figures = await stats.figures(
            session, stats.Scope.district(), stats.previous_month(clock.now()), clock.now()
        )
    assert 100 < figures.received < 300
    for rate in (figures.response, figures.resolution, figures.satisfaction):
        assert rate.value is not None and 0.6 < rate.value < 1
    assert 0 < figures.coverage_total.numerator < figures.coverage_total.denominator
    assert figures.volunteers.visits > 500 and figures.volunteers.tasks_done > 0

    again = await seed_district(db_url, clock.now(), fraction=0.01)
    assert again.already and not again.created, "a second run adds nothing"
