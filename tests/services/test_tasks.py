"""Tasks without aiogram: the grid race, the moves, and dispatched tickets as tasks."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from nlp.classifier import Classifier
from services import tasks, tickets
from services.clock import ManualClock
from services.errors import Refusal, ServiceError
from services.followups import DEFAULT_RULES as FOLLOWUP_RULES
from services.users import add_user, get_user
from storage.db import SessionFactory
from storage.models import (
    Outbox,
    Role,
    Task,
    TaskEvent,
    TaskStatus,
    Ticket,
    TicketStatus,
    User,
)


async def persona(session: AsyncSession, telegram_id: int) -> User:
    user = await get_user(session, telegram_id)
    assert user is not None
    return user


async def second_volunteer(session_factory: SessionFactory, clock: ManualClock) -> None:
    """小陈 (2004) joins 小李 in grid 1 of 悬桥社区."""
    async with session_factory() as session:
        await add_user(
            session,
            clock,
            role=Role.volunteer,
            telegram_id=2004,
            display_name="小陈",
            community_name="悬桥社区",
            grid_number=1,
        )
        await session.commit()


async def grid_task(session_factory: SessionFactory, clock: ManualClock) -> int:
    async with session_factory() as session:
        zhang, li = await persona(session, 3001), await persona(session, 2001)
        assert li.grid_id is not None
        view = await tasks.create(
            session,
            clock,
            zhang,
            "明天上午给独居老人送米",
            clock.now() + timedelta(days=1),
            grid_id=li.grid_id,
            followup_rules=FOLLOWUP_RULES,
        )
        await session.commit()
    assert view.task.id is not None
    return view.task.id


def status(row: Ticket | Task) -> str:
    """The status now (mypy would keep an earlier comparison's narrowing)."""
    return str(row.status)


async def trail(session_factory: SessionFactory, task_id: int) -> list[tuple[str, int | None]]:
    async with session_factory() as session:
        events = await session.exec(
            select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(col(TaskEvent.id))
        )
        return [(e.action, e.actor_id) for e in events]


async def test_a_grid_task_goes_to_exactly_one_of_two_who_saw_it_open(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    """The second reads the task as open while the first's win is not yet committed: only
    the conditional UPDATE (WHERE status = 'open') can stop the second from winning too."""
    await second_volunteer(session_factory, clock)
    task_id = await grid_task(session_factory, clock)
    async with session_factory() as first, session_factory() as second:
        li, chen = await persona(first, 2001), await persona(second, 2004)
        won = await tasks.accept(
            first, clock, li, task_id, followup_rules=FOLLOWUP_RULES
        )  # not committed yet
        late = asyncio.create_task(
            tasks.accept(second, clock, chen, task_id, followup_rules=FOLLOWUP_RULES)
        )
        await asyncio.sleep(0.5)  # it has read "open" and waits to write
        seen = await second.get(Task, task_id)
        assert seen is not None and seen.status == TaskStatus.open
        await first.commit()
        with pytest.raises(ServiceError) as refused:
            await late
        await second.rollback()
    assert won.task.assignee_id == li.id and won.task.status == TaskStatus.taken
    assert refused.value.refusal is Refusal.task_taken
    assert refused.value.details["name"] == "小李"
    assert await trail(session_factory, task_id) == [
        ("create", won.task.created_by),
        ("take", li.id),
    ]


async def test_two_accepting_at_once_make_one_winner(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    await second_volunteer(session_factory, clock)
    task_id = await grid_task(session_factory, clock)

    async def accept(telegram_id: int) -> int | Refusal:
        async with session_factory() as session:
            volunteer = await persona(session, telegram_id)
            try:
                view = await tasks.accept(
                    session, clock, volunteer, task_id, followup_rules=FOLLOWUP_RULES
                )
            except ServiceError as error:
                await session.rollback()
                return error.refusal
            await session.commit()
            assert view.task.assignee_id is not None
            return view.task.assignee_id

    results = await asyncio.gather(accept(2001), accept(2004))
    winners = [r for r in results if not isinstance(r, Refusal)]
    assert len(winners) == 1 and results.count(Refusal.task_taken) == 1
    actions = [a for a, _ in await trail(session_factory, task_id)]
    assert actions == ["create", "take"]
    async with session_factory() as session:
        task = await session.get(Task, task_id)
        assert task is not None and task.assignee_id == winners[0]
        # The one who lost is told it is taken; the coordinator that it was accepted.
        rows = list(await session.exec(select(Outbox).order_by(col(Outbox.id))))
    kinds = [(r.kind, r.chat_id) for r in rows]
    assert kinds.count(("task_offer", 2001)) == 1 and kinds.count(("task_offer", 2004)) == 1
    assert ("task_accepted", 3001) in kinds
    loser = 2004 if winners[0] == (await _id(session_factory, 2001)) else 2001
    assert ("task_taken", loser) in kinds
    assert len([k for k in kinds if k[0] == "task_taken"]) == 1


async def _id(session_factory: SessionFactory, telegram_id: int) -> int:
    async with session_factory() as session:
        user = await persona(session, telegram_id)
    assert user.id is not None
    return user.id


async def test_done_then_returned_then_confirmed(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        zhang, li = await persona(session, 3001), await persona(session, 2001)
        assert li.id is not None
        view = await tasks.create(
            session,
            clock,
            zhang,
            "给3号楼王阿姨送米",
            None,
            volunteer_id=li.id,
            followup_rules=FOLLOWUP_RULES,
        )
        task_id = view.task.id
        assert task_id is not None and view.task.assignee_id == li.id
        with pytest.raises(ServiceError) as refused:
            await tasks.complete(session, clock, li, task_id, "已送", followup_rules=FOLLOWUP_RULES)
        assert refused.value.refusal is Refusal.task_moved_on
        await tasks.accept(session, clock, li, task_id, followup_rules=FOLLOWUP_RULES)
        with pytest.raises(ServiceError) as refused:
            await tasks.confirm(session, clock, zhang, task_id, followup_rules=FOLLOWUP_RULES)
        assert refused.value.refusal is Refusal.task_moved_on
        with pytest.raises(ServiceError) as refused:
            await tasks.complete(session, clock, li, task_id, "   ", followup_rules=FOLLOWUP_RULES)
        assert refused.value.refusal is Refusal.empty_text
        done = await tasks.complete(
            session, clock, li, task_id, "米放门口了", "photo-1", followup_rules=FOLLOWUP_RULES
        )
        assert done.task.status == TaskStatus.done and done.task.result_photo_file_id == "photo-1"
        # Only a coordinator of the community confirms or returns.
        for outsider in (li, await persona(session, 3002)):
            with pytest.raises(ServiceError):
                await tasks.confirm(
                    session, clock, outsider, task_id, followup_rules=FOLLOWUP_RULES
                )
        back = await tasks.give_back(
            session, clock, zhang, task_id, "请当面交给老人", followup_rules=FOLLOWUP_RULES
        )
        assert back.task.status == TaskStatus.returned
        await tasks.complete(
            session, clock, li, task_id, "已当面交给王阿姨", followup_rules=FOLLOWUP_RULES
        )
        confirmed = await tasks.confirm(
            session, clock, zhang, task_id, followup_rules=FOLLOWUP_RULES
        )
        assert confirmed.task.status == TaskStatus.confirmed
        assert confirmed.task.confirmed_at is not None
        rows = list(await session.exec(select(Outbox).order_by(col(Outbox.id))))
        await session.commit()
    assert [a for a, _ in await trail(session_factory, task_id)] == [
        "create",
        "take",
        "complete",
        "return",
        "complete",
        "confirm",
    ]
    assert [(r.kind, r.chat_id) for r in rows] == [
        ("task_offer", 2001),
        ("task_accepted", 3001),
        ("task_done", 3001),
        ("task_returned", 2001),
        ("task_done", 3001),
        ("task_confirmed", 2001),
    ]


async def test_declining(session_factory: SessionFactory, clock: ManualClock) -> None:
    await second_volunteer(session_factory, clock)
    task_id = await grid_task(session_factory, clock)
    async with session_factory() as session:
        zhang, li, chen = (
            await persona(session, 3001),
            await persona(session, 2001),
            await persona(session, 2004),
        )
        # A grid task declined by one stays open for the others.
        still = await tasks.decline(
            session, clock, li, task_id, "明天上午要上班", followup_rules=FOLLOWUP_RULES
        )
        assert still.task.status == TaskStatus.open and still.task.assignee_id is None
        await tasks.accept(session, clock, chen, task_id, followup_rules=FOLLOWUP_RULES)
        with pytest.raises(ServiceError) as refused:
            await tasks.decline(
                session, clock, li, task_id, "还是不行", followup_rules=FOLLOWUP_RULES
            )
        assert refused.value.refusal is Refusal.task_taken
        # Given back by the one who took it: open again, offered to the others.
        reopened = await tasks.decline(
            session, clock, chen, task_id, "临时有事", followup_rules=FOLLOWUP_RULES
        )
        assert reopened.task.status == TaskStatus.open and reopened.task.assignee_id is None
        assert li.id is not None
        direct = await tasks.create(
            session,
            clock,
            zhang,
            "上门量血压",
            None,
            volunteer_id=li.id,
            followup_rules=FOLLOWUP_RULES,
        )
        assert direct.task.id is not None
        cancelled = await tasks.decline(
            session, clock, li, direct.task.id, "不会量血压", followup_rules=FOLLOWUP_RULES
        )
        assert cancelled.task.status == TaskStatus.cancelled
        rows = list(await session.exec(select(Outbox).order_by(col(Outbox.id))))
    declined = [r for r in rows if r.kind == "task_declined"]
    assert [r.chat_id for r in declined] == [3001, 3001, 3001]
    assert "不会量血压" in declined[-1].payload
    assert [r.chat_id for r in rows if r.kind == "task_offer"][-2:] == [2001, 2001]


async def test_who_sees_and_creates_tasks(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    task_id = await grid_task(session_factory, clock)
    async with session_factory() as session:
        zhang, li = await persona(session, 3001), await persona(session, 2001)
        for outsider in (2002, 2003, 1001, 3002):
            user = await persona(session, outsider)
            with pytest.raises(ServiceError) as refused:
                await tasks.view(session, user, task_id)
            assert refused.value.refusal is Refusal.task_unknown
        assert [t.id for t in await tasks.mine(session, li)] == [task_id]
        assert [t.id for t in await tasks.board(session, zhang)] == [task_id]
        assert await tasks.mine(session, await persona(session, 2002)) == []
        with pytest.raises(ServiceError) as refused:
            await tasks.create(
                session, clock, li, "x", None, grid_id=li.grid_id, followup_rules=FOLLOWUP_RULES
            )
        assert refused.value.refusal is Refusal.not_allowed
        wu = await persona(session, 2003)
        with pytest.raises(ServiceError) as refused:
            await tasks.create(
                session, clock, zhang, "x", None, volunteer_id=wu.id, followup_rules=FOLLOWUP_RULES
            )
        assert refused.value.refusal is Refusal.unknown_volunteer
        with pytest.raises(ServiceError) as refused:
            await tasks.create(
                session, clock, zhang, "x", None, grid_id=wu.grid_id, followup_rules=FOLLOWUP_RULES
            )
        assert refused.value.refusal is Refusal.unknown_grid
        with pytest.raises(ServiceError) as refused:
            await tasks.create(
                session,
                clock,
                zhang,
                "x",
                clock.now() - timedelta(minutes=1),
                grid_id=li.grid_id,
                followup_rules=FOLLOWUP_RULES,
            )
        assert refused.value.refusal is Refusal.time_in_past
        options = await tasks.targets(session, zhang)
    assert [(o.kind, o.name) for o in options][:4] == [
        ("grid", "第1网格"),
        ("grid", "第2网格"),
        ("grid", "第3网格"),
        ("volunteer", "小李"),
    ]


def test_due_times(clock: ManualClock) -> None:
    assert tasks.parse_due(clock, "无") is None
    due = tasks.parse_due(clock, "11月28日")
    assert due is not None and due.isoformat() == "2026-11-28T10:00:00+00:00", "18:00 in Suzhou"
    for text, refusal in (
        ("随便", Refusal.time_not_understood),
        ("今天上午9点", Refusal.time_in_past),
    ):
        with pytest.raises(ServiceError) as refused:
            tasks.parse_due(clock, text)
        assert refused.value.refusal is refusal


async def test_a_dispatched_ticket_is_a_task_moved_through_the_ticket(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    async with session_factory() as session:
        wang, zhang, li = (
            await persona(session, 1001),
            await persona(session, 3001),
            await persona(session, 2001),
        )
        ticket = await tickets.report(
            session, clock, classifier, wang, "楼道灯坏了", followup_rules=FOLLOWUP_RULES
        )
        assert ticket.id is not None and li.id is not None
        await tickets.dispatch(
            session, clock, zhang, ticket.id, li.id, followup_rules=FOLLOWUP_RULES
        )
        [task] = await session.exec(select(Task).where(Task.ticket_id == ticket.id))
        assert task.id is not None and task.assignee_id == li.id and task.grid_id is None
        [offer] = await session.exec(select(Outbox).where(Outbox.kind == "ticket_dispatched"))
        assert f'"task_id": {task.id}' in offer.payload
        # The coordinator does not confirm a ticket's task: the resident does.
        assert not tasks.can_act(zhang, task, tasks.TaskAction.confirm)

        taken = await tasks.accept(session, clock, li, task.id, followup_rules=FOLLOWUP_RULES)
        assert taken.task.status == TaskStatus.taken and taken.ticket_number == ticket.number
        assert ticket.status == TicketStatus.in_progress
        done = await tasks.complete(
            session, clock, li, task.id, "换了灯泡", followup_rules=FOLLOWUP_RULES
        )
        assert done.task.status == TaskStatus.done and done.task.result_note == "换了灯泡"
        assert status(ticket) == TicketStatus.awaiting_confirmation
        assert ticket.resolution_note == "换了灯泡"
        # Off the coordinator's board: the resident's confirmation ends it.
        assert task.id not in [t.id for t in await tasks.board(session, zhang)]

        # Re-dispatched after 未解决, then declined: a new task, cancelled with the ticket.
        await tickets.unresolved(session, clock, wang, ticket.id, followup_rules=FOLLOWUP_RULES)
        await tickets.dispatch(
            session, clock, zhang, ticket.id, li.id, followup_rules=FOLLOWUP_RULES
        )
        second = (
            await session.exec(select(Task).where(Task.ticket_id == ticket.id, Task.id != task.id))
        ).one()
        assert second.id is not None
        declined = await tasks.decline(
            session, clock, li, second.id, "需要电工", followup_rules=FOLLOWUP_RULES
        )
        assert declined.task.status == TaskStatus.cancelled
        assert status(ticket) == TicketStatus.accepted and ticket.assignee_id is None
        await session.commit()
    assert [a for a, _ in await trail(session_factory, task.id)] == ["create", "take", "complete"]
    assert [a for a, _ in await trail(session_factory, second.id)] == ["create", "decline"]


async def test_the_ticket_s_own_buttons_carry_the_task_along(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    """An older 接单 button on the ticket (services.tickets.take) moves the task too."""
    async with session_factory() as session:
        wang, zhang, li = (
            await persona(session, 1001),
            await persona(session, 3001),
            await persona(session, 2001),
        )
        ticket = await tickets.report(
            session, clock, classifier, wang, "水管漏水", followup_rules=FOLLOWUP_RULES
        )
        assert ticket.id is not None and li.id is not None
        await tickets.dispatch(
            session, clock, zhang, ticket.id, li.id, followup_rules=FOLLOWUP_RULES
        )
        await tickets.take(session, clock, li, ticket.id, followup_rules=FOLLOWUP_RULES)
        [task] = await session.exec(select(Task).where(Task.ticket_id == ticket.id))
        assert task.status == TaskStatus.taken
        # The coordinator resolves it himself: the task is done too.
        await tickets.resolve(
            session, clock, zhang, ticket.id, "物业已修好", followup_rules=FOLLOWUP_RULES
        )
        await session.refresh(task)
        assert status(task) == TaskStatus.done
        with pytest.raises(ServiceError) as refused:
            await tasks.complete(
                session, clock, li, task.id or 0, "我也修了", followup_rules=FOLLOWUP_RULES
            )
        assert refused.value.refusal is Refusal.task_moved_on
