"""The ticket rules without aiogram: the one table of moves, who may make them, the numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from nlp.classifier import Classifier
from services import tickets
from services.clock import ManualClock
from services.errors import Refusal, ServiceError
from services.followups import DEFAULT_RULES as FOLLOWUP_RULES
from services.tickets import MOVES, Action
from services.users import get_user
from storage.db import SessionFactory
from storage.models import Outbox, Rating, Role, Ticket, TicketStatus, User


async def persona(session: AsyncSession, telegram_id: int) -> User:
    user = await get_user(session, telegram_id)
    assert user is not None
    return user


async def new_ticket(
    session: AsyncSession, clock: ManualClock, classifier: Classifier, text: str = "楼道灯坏了"
) -> Ticket:
    return await tickets.report(
        session,
        clock,
        classifier,
        await persona(session, 1001),
        text,
        followup_rules=FOLLOWUP_RULES,
    )


def test_every_status_but_the_final_ones_has_a_way_forward() -> None:
    starts = set().union(*(frm for frm, _ in MOVES.values()))
    finals = {TicketStatus.rejected, TicketStatus.duplicate}
    assert set(TicketStatus) - starts == finals
    assert MOVES[Action.confirm] == (
        frozenset({TicketStatus.awaiting_confirmation}),
        TicketStatus.closed,
    )


async def test_numbers_run_per_day_in_shanghai_time(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    async with session_factory() as session:
        first = await new_ticket(session, clock, classifier)
        second = await new_ticket(session, clock, classifier)
        # 2026-11-24 16:30 UTC is already the 25th in Suzhou.
        clock.advance(timedelta(hours=14, minutes=30))
        third = await new_ticket(session, clock, classifier)
    assert (first.number, second.number, third.number) == (
        "GS20261124-0001",
        "GS20261124-0002",
        "GS20261125-0001",
    )


async def test_moves_outside_the_table_are_refused(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    async with session_factory() as session:
        ticket = await new_ticket(session, clock, classifier)
        assert ticket.id is not None
        coordinator, resident = await persona(session, 3001), await persona(session, 1001)
        with pytest.raises(ServiceError) as refused:
            await tickets.confirm(session, clock, resident, ticket.id)
        assert refused.value.refusal is Refusal.ticket_moved_on
        await tickets.accept(session, clock, coordinator, ticket.id, followup_rules=FOLLOWUP_RULES)
        with pytest.raises(ServiceError) as refused:
            await tickets.accept(
                session, clock, coordinator, ticket.id, followup_rules=FOLLOWUP_RULES
            )
        assert refused.value.refusal is Refusal.ticket_moved_on
        assert ticket.status == TicketStatus.accepted


@pytest.mark.parametrize(
    ("telegram_id", "expected"),
    [
        (1001, True),
        (1002, False),
        (2001, True),
        (2002, False),
        (3001, True),
        (3002, False),
        (4001, True),
        (4002, False),
    ],
)
async def test_who_may_see_a_ticket(
    session_factory: SessionFactory,
    clock: ManualClock,
    classifier: Classifier,
    telegram_id: int,
    expected: bool,
) -> None:
    """王阿姨's ticket: herself, 小李 (her household's volunteer), 张书记 and 陈主任 only."""
    async with session_factory() as session:
        ticket = await new_ticket(session, clock, classifier)
        viewer = await persona(session, telegram_id)
        assert await tickets.can_view(session, viewer, ticket) is expected
        if not expected:
            with pytest.raises(ServiceError) as refused:
                await tickets.card(session, viewer, ticket.id or 0)
            assert refused.value.refusal is Refusal.ticket_unknown


async def test_only_the_assignee_takes_and_only_the_resident_confirms(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    async with session_factory() as session:
        ticket = await new_ticket(session, clock, classifier)
        assert ticket.id is not None
        coordinator = await persona(session, 3001)
        li, zhou = await persona(session, 2001), await persona(session, 2002)
        assert li.id is not None
        await tickets.dispatch(
            session, clock, coordinator, ticket.id, li.id, followup_rules=FOLLOWUP_RULES
        )
        with pytest.raises(ServiceError):
            await tickets.take(session, clock, zhou, ticket.id, followup_rules=FOLLOWUP_RULES)
        await tickets.take(session, clock, li, ticket.id, followup_rules=FOLLOWUP_RULES)
        await tickets.resolve(
            session, clock, li, ticket.id, "换了灯泡", followup_rules=FOLLOWUP_RULES
        )
        for outsider in (li, coordinator):
            with pytest.raises(ServiceError) as refused:
                await tickets.confirm(session, clock, outsider, ticket.id)
            assert refused.value.refusal is Refusal.not_allowed
        resident = await persona(session, 1001)
        await tickets.confirm(session, clock, resident, ticket.id)
        await tickets.rate(
            session, clock, resident, ticket.id, Rating.basically, followup_rules=FOLLOWUP_RULES
        )
        with pytest.raises(ServiceError):
            await tickets.rate(
                session, clock, resident, ticket.id, Rating.satisfied, followup_rules=FOLLOWUP_RULES
            )
        assert ticket.status == TicketStatus.closed and ticket.rating == Rating.basically


async def test_dispatch_only_to_volunteers_of_the_community(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    async with session_factory() as session:
        ticket = await new_ticket(session, clock, classifier)
        coordinator, wu = await persona(session, 3001), await persona(session, 2003)
        assert ticket.id is not None and wu.id is not None
        with pytest.raises(ServiceError) as refused:
            await tickets.dispatch(
                session, clock, coordinator, ticket.id, wu.id, followup_rules=FOLLOWUP_RULES
            )
        assert refused.value.refusal is Refusal.unknown_volunteer
        options = await tickets.volunteer_suggestions(session, coordinator, ticket.id)
        assert [o.name for o in options][:2] == ["小李", "小周"]
        assert options[0].looks_after and not options[1].looks_after


async def test_notices_go_through_the_outbox_once_per_change(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    async with session_factory() as session:
        ticket = await new_ticket(session, clock, classifier, "救命，家里着火了")
        assert ticket.urgent and ticket.id is not None
        await tickets.accept(
            session, clock, await persona(session, 3001), ticket.id, followup_rules=FOLLOWUP_RULES
        )
        rows = list(await session.exec(select(Outbox).order_by(col(Outbox.id))))
    kinds = [(r.kind, r.chat_id) for r in rows]
    assert kinds == [("ticket_urgent", 3001), ("ticket_status", 1001)]
    assert rows[0].priority == 0


async def test_unsure_text_is_left_for_triage(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    async with session_factory() as session:
        ticket = await new_ticket(session, clock, classifier, "那个事情怎么样了")
    assert ticket.category == "unsure" and tickets.is_unsure(ticket)


async def test_staff_do_not_file_reports(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    async with session_factory() as session:
        coordinator = await persona(session, 3001)
        assert coordinator.role == Role.coordinator
        with pytest.raises(ServiceError) as refused:
            await tickets.report(
                session, clock, classifier, coordinator, "楼道灯坏了", followup_rules=FOLLOWUP_RULES
            )
        assert refused.value.refusal is Refusal.not_allowed
