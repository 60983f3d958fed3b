"""A small hand-built data set over the demo district whose every figure is known in advance.

November 2026 in Suzhou runs from 2026-10-31 16:00 UTC to 2026-11-30 16:00 UTC; "now" is the
test clock's 2026-11-24 02:00 UTC (a Tuesday, 10:00 in Suzhou).

悬桥社区 receives eleven tickets in November (T1–T11) and one just before it (T0):

| ticket | category   | urgent | acknowledged | resolved | status now            | rating | reopened  |
|--------|------------|--------|--------------|----------|-----------------------|--------|-----------|
| T1     | facilities |        | +1 h         | +10 h    | closed (confirmed)    | 满意    |           |
| T2     | facilities |        | +30 h (late) | +40 h    | closed (confirmed)    | 基本满意 |           |
| T3     | sanitation | yes    | +1 h         | +5 h     | reopened              | 不满意  | 不满意     |
| T4     | sanitation |        | +2 h         | +20 h    | closed (7-day timeout) | —      |           |
| T5     | elderly    |        | +3 h         | +30 h    | closed (confirmed)    | 满意    | 未解决     |
| T6     | elderly    |        | +24 h (on the dot) |    | rejected              |        |           |
| T7     | elderly    |        | +5 h         |          | duplicate             |        |           |
| T8     | other      |        | never (late) |          | new                   |        |           |
| T9     | other      |        | +6 h         |          | accepted              |        |           |
| T10    | facilities | yes    | +3 h (late)  | +6 h     | awaiting_confirmation |        |           |
| T11    | other      |        | +1 h         |          | accepted (Nov 1 00:00 in Suzhou) |  |        |

So: received 11; 响应率 8/11; 解决率 4/10 (closed / received − 1 duplicate; the rejected T6
stays in); 满意率 3/4 (T4, closed by the timeout, has no rating); reopened 2/11; time to
acknowledge (n=10: 1,1,1,2,3,3,5,6,24,30 h) median 3 h, p90 24 h; time to resolve
(n=6: 5,6,10,20,30,40 h) median 10 h, p90 40 h.

钮家巷社区 receives five rated tickets in November (4 满意, 1 不满意: 满意率 80%).

Visits (as of now) cover 2 of grid 1's ten households and 1 of grid 2's; grid 3 has none: 3/30.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Community,
    Grid,
    Household,
    Rating,
    Task,
    TaskStatus,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    Visit,
    VisitOutcome,
)

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)
S = TicketStatus


@dataclass(frozen=True)
class Built:
    xuanqiao: int  # community ids
    niujiaxiang: int
    street: int  # 平江街道
    grids: list[int]  # 悬桥's three grids


async def _community(session: AsyncSession, name: str) -> Community:
    community = (await session.exec(select(Community).where(col(Community.name) == name))).one()
    assert community.id is not None
    return community


async def _user(session: AsyncSession, telegram_id: int) -> User:
    user = (await session.exec(select(User).where(col(User.telegram_id) == telegram_id))).one()
    assert user.id is not None
    return user


class _Tickets:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.count = 0

    async def add(
        self,
        community: Community,
        reporter: User,
        created: datetime,
        category: str,
        status: TicketStatus,
        *,
        urgent: bool = False,
        ack: timedelta | None = None,
        resolved: timedelta | None = None,
        closed: timedelta | None = None,
        rating: Rating | None = None,
        events: tuple[str, ...] = (),
    ) -> Ticket:
        self.count += 1
        assert community.id is not None and reporter.id is not None
        ticket = Ticket(
            number=f"GS20261101-{self.count:04d}",
            reporter_id=reporter.id,
            resident_id=reporter.id,
            street_id=community.street_id,
            community_id=community.id,
            text="测试",
            category=category,
            urgent=urgent,
            status=status,
            created_at=created,
            respond_by=created + (2 * H if urgent else 24 * H),
            acknowledged_at=created + ack if ack is not None else None,
            resolved_at=created + resolved if resolved is not None else None,
            closed_at=created + closed if closed is not None else None,
            rating=rating,
            rated_at=created + 50 * H if rating else None,
            supervised="reopen" in events or "unresolved" in events,
        )
        self.session.add(ticket)
        await self.session.flush()
        assert ticket.id is not None
        # The report, a recategorisation and a rating: none of them is a reopening.
        for offset, action in enumerate(("report", "recategorize", "rate", *events)):
            self.session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    at=created + offset * timedelta(minutes=1),
                    actor_id=reporter.id,
                    action=action,
                )
            )
        return ticket


async def build(session: AsyncSession) -> Built:
    xq = await _community(session, "悬桥社区")
    njx = await _community(session, "钮家巷社区")
    wang = await _user(session, 1001)  # resident of 悬桥
    zhao = await _user(session, 1003)  # resident of 钮家巷
    t = _Tickets(session)
    day = timedelta(days=1)
    nov1 = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 2026-11-01 00:00 in Suzhou

    # T0: one second before November in Suzhou: not counted.
    await t.add(
        xq,
        wang,
        nov1 - timedelta(seconds=1),
        "other",
        S.closed,
        ack=H,
        resolved=2 * H,
        closed=3 * H,
        rating=Rating.dissatisfied,
        events=("unresolved",),
    )
    d = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    await t.add(
        xq,
        wang,
        d,
        "facilities",
        S.closed,
        ack=H,
        resolved=10 * H,
        closed=12 * H,
        rating=Rating.satisfied,
    )  # T1
    await t.add(
        xq,
        wang,
        d + day,
        "facilities",
        S.closed,
        ack=30 * H,
        resolved=40 * H,
        closed=41 * H,
        rating=Rating.basically,
    )  # T2
    await t.add(
        xq,
        wang,
        d + 2 * day,
        "sanitation",
        S.reopened,
        urgent=True,
        ack=H,
        resolved=5 * H,
        rating=Rating.dissatisfied,
        events=("reopen",),
    )  # T3
    await t.add(
        xq,
        wang,
        d + 3 * day,
        "sanitation",
        S.closed,
        ack=2 * H,
        resolved=20 * H,
        closed=20 * H + 7 * day,
        events=("timeout_close",),
    )  # T4
    await t.add(
        xq,
        wang,
        d + 4 * day,
        "elderly",
        S.closed,
        ack=3 * H,
        resolved=30 * H,
        closed=31 * H,
        rating=Rating.satisfied,
        events=("unresolved",),
    )  # T5
    await t.add(xq, wang, d + 5 * day, "elderly", S.rejected, ack=24 * H, closed=24 * H)  # T6
    await t.add(xq, wang, d + 6 * day, "elderly", S.duplicate, ack=5 * H, closed=5 * H)  # T7
    await t.add(xq, wang, datetime(2026, 11, 20, 2, 0, tzinfo=UTC), "other", S.new)  # T8
    await t.add(
        xq, wang, datetime(2026, 11, 23, 20, 0, tzinfo=UTC), "other", S.accepted, ack=6 * H
    )  # T9 (acknowledged 11-24 02:00, exactly now)
    await t.add(
        xq,
        wang,
        d + 8 * day,
        "facilities",
        S.awaiting_confirmation,
        urgent=True,
        ack=3 * H,
        resolved=6 * H,
    )  # T10
    await t.add(xq, wang, nov1, "other", S.accepted, ack=H)  # T11

    # 钮家巷: five rated tickets in November (4 satisfied, 1 dissatisfied).
    for i, rating in enumerate([Rating.satisfied] * 4 + [Rating.dissatisfied]):
        await t.add(
            njx,
            zhao,
            d + i * day,
            "noise",
            S.closed,
            ack=H,
            resolved=2 * H,
            closed=3 * H,
            rating=rating,
        )

    # Households of 悬桥: tags set here so each interval is known.
    grids = list(
        await session.exec(
            select(Grid).where(col(Grid.community_id) == xq.id).order_by(col(Grid.number))
        )
    )
    households = {
        g.id: list(
            await session.exec(
                select(Household).where(col(Household.grid_id) == g.id).order_by(col(Household.id))
            )
        )
        for g in grids
    }
    for members in households.values():
        for h in members:
            h.tags = ""
            session.add(h)
    g1, g2 = households[grids[0].id], households[grids[1].id]
    g1[0].tags = "独居老人"  # 7 days
    g1[1].tags = "低保"  # 14 days
    g1[3].tags = "高龄;低保"  # the shortest: 7 days
    li, zhou = await _user(session, 2001), await _user(session, 2002)
    assert li.id is not None and zhou.id is not None
    for volunteer, household, ago in [
        (li, g1[0], 6),  # within 7 days: covered
        (li, g1[1], 15),  # 14-day household, 15 days ago: not covered
        (li, g1[2], 29),  # 30-day household, 29 days ago (in October): covered
        (li, g1[3], 8),  # 7 days (高龄 beats 低保), 8 days ago: not covered
        (li, g1[4], 31),  # 31 days ago: not covered
        (zhou, g2[0], 1),  # covered
    ]:
        assert household.id is not None and volunteer.id is not None
        session.add(
            Visit(
                volunteer_id=volunteer.id,
                household_id=household.id,
                visited_at=NOW - timedelta(days=ago),
                outcome=VisitOutcome.met_resident,
                created_at=NOW,
            )
        )

    # Tasks of 小李: one confirmed in November, one still taken, one done in October.
    coordinator = await _user(session, 3001)
    assert coordinator.id is not None and xq.id is not None
    for status, done in [
        (TaskStatus.confirmed, datetime(2026, 11, 10, tzinfo=UTC)),
        (TaskStatus.taken, None),
        (TaskStatus.done, datetime(2026, 10, 10, tzinfo=UTC)),
    ]:
        session.add(
            Task(
                community_id=xq.id,
                text="送药",
                status=status,
                assignee_id=li.id,
                created_by=coordinator.id,
                created_at=datetime(2026, 10, 1, tzinfo=UTC),
                done_at=done,
            )
        )
    await session.commit()
    assert xq.id is not None and njx.id is not None
    return Built(xq.id, njx.id, xq.street_id, [g.id for g in grids if g.id is not None])
