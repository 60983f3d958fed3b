"""Issue 6: follow-ups with a clock the test moves. No test sleeps to wait for a scheduler: each
calls the sweep itself after moving the clock."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import texts
from nlp.classifier import Classifier
from services import followups, tickets
from services.cadence import volunteer_households
from services.clock import ManualClock
from services.followups import FollowUpRules, Kind, Monthly, Weekly
from services.stats import Summary
from services.users import get_user
from storage.db import SessionFactory
from storage.models import (
    FollowUp,
    FollowUpStatus,
    Outbox,
    Task,
    TaskEvent,
    TaskStatus,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    Visit,
    VisitOutcome,
)

URGENT = "救命！家里煤气味很重，老伴晕倒了"
NORMAL = "楼道灯坏了，晚上看不见路"
# The test clock starts on Tuesday 2026-11-24 02:00 UTC = 10:00 in Suzhou.
START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
FOLLOWUP_RULES = followups.DEFAULT_RULES


async def persona(session: AsyncSession, telegram_id: int) -> User:
    user = await get_user(session, telegram_id)
    assert user is not None
    return user


async def file_report(
    session_factory: SessionFactory,
    clock: ManualClock,
    classifier: Classifier,
    text: str,
    telegram_id: int = 1001,
) -> int:
    async with session_factory() as session:
        ticket = await tickets.report(
            session,
            clock,
            classifier,
            await persona(session, telegram_id),
            text,
            followup_rules=FOLLOWUP_RULES,
        )
        await session.commit()
        assert ticket.id is not None
        return ticket.id


async def act(
    session_factory: SessionFactory, clock: ManualClock, ticket_id: int, move: str, *args: Any
) -> None:
    async with session_factory() as session:
        actor = await persona(session, int(args[0]))
        # the moves that tell someone take the follow-up rules (the quiet hours)
        extra = {} if move == "confirm" else {"followup_rules": FOLLOWUP_RULES}
        await getattr(tickets, move)(session, clock, actor, ticket_id, *args[1:], **extra)
        await session.commit()


async def outbox(session_factory: SessionFactory, prefix: str = "followup_") -> list[Outbox]:
    async with session_factory() as session:
        rows = await session.exec(
            select(Outbox).where(col(Outbox.kind).startswith(prefix)).order_by(col(Outbox.id))
        )
        return list(rows)


async def load_ticket(session_factory: SessionFactory, ticket_id: int) -> Ticket:
    async with session_factory() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


async def trail(session_factory: SessionFactory, ticket_id: int) -> list[str]:
    async with session_factory() as session:
        events = await session.exec(
            select(TicketEvent.action)
            .where(col(TicketEvent.ticket_id) == ticket_id)
            .order_by(col(TicketEvent.id))
        )
        return list(events)


async def sweep_at(
    session_factory: SessionFactory, clock: ManualClock, moment: datetime
) -> followups.SweepReport:
    clock.set(moment)
    return await followups.sweep(session_factory, clock, FOLLOWUP_RULES)


# ---------------------------------------------------------------- the rules table


def test_the_rules_are_named_and_checked() -> None:
    rules = followups.DEFAULT_RULES
    assert rules.urgent_ack_remind == timedelta(minutes=30)
    assert rules.urgent_ack_escalate == timedelta(hours=2)
    assert rules.normal_ack_remind == timedelta(hours=24)
    assert (rules.take_remind, rules.take_return) == (timedelta(hours=4), timedelta(hours=12))
    assert rules.confirm_asks == (timedelta(hours=24), timedelta(hours=72))
    assert rules.confirm_close == timedelta(days=7)
    assert (rules.quiet_start, rules.quiet_end) == (time(21, 0), time(8, 0))
    with pytest.raises(ValueError):
        FollowUpRules(urgent_ack_remind=timedelta(hours=3))
    with pytest.raises(ValueError):
        FollowUpRules(confirm_asks=(timedelta(days=8),))
    assert set(followups.ACTIONS) == {k.value for k in Kind}, "every kind has an action"


def test_recurrences_in_local_time() -> None:
    tz = followups.DEFAULT_RULES.tz
    monday = Weekly(0, time(9, 0))
    # Tuesday 10:00 in Suzhou → next Monday 09:00 Suzhou = 01:00 UTC.
    assert monday.next_after(START, tz) == datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    at_nine = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    assert monday.next_after(at_nine, tz) == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    assert Monthly(1, time(9, 0)).next_after(START, tz) == datetime(2026, 12, 1, 1, tzinfo=UTC)
    december = datetime(2026, 12, 5, tzinfo=UTC)
    assert Monthly(1, time(9, 0)).next_after(december, tz) == datetime(2027, 1, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("local", "release"),
    [
        ((10, 0), None),
        ((20, 59), None),
        ((21, 0), (25, 8)),  # the next morning
        ((23, 30), (25, 8)),
        ((2, 0), (24, 8)),  # the same morning
        ((7, 59), (24, 8)),
        ((8, 0), None),
    ],
)
def test_quiet_hours(local: tuple[int, int], release: tuple[int, int] | None) -> None:
    tz = followups.DEFAULT_RULES.tz
    moment = datetime(2026, 11, 24, *local, tzinfo=tz)
    expected = None if release is None else datetime(2026, 11, release[0], release[1], 0, tzinfo=tz)
    assert followups.quiet_release(moment, FOLLOWUP_RULES) == expected


def test_quiet_hours_are_configurable() -> None:
    assert followups.parse_quiet_hours("22:30-07:00") == (time(22, 30), time(7, 0))
    start, end = followups.parse_quiet_hours("off")
    never = FollowUpRules(quiet_start=start, quiet_end=end)
    assert followups.quiet_release(datetime(2026, 11, 24, 15, 0, tzinfo=UTC), never) is None
    day_shift = FollowUpRules(quiet_start=time(12, 0), quiet_end=time(14, 0))
    noon = datetime(2026, 11, 24, 4, 30, tzinfo=UTC)  # 12:30 in Suzhou
    assert followups.quiet_release(noon, day_shift) == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        followups.parse_quiet_hours("late")


def test_the_claim_statement_for_both_databases() -> None:
    dialect: Any = postgresql.dialect()  # type: ignore[no-untyped-call]
    postgres = str(followups.claim_statement("postgresql", START).compile(dialect=dialect))
    assert "FOR UPDATE SKIP LOCKED" in postgres and "RETURNING" in postgres
    lite = str(followups.claim_statement("sqlite", START).compile(dialect=sqlite.dialect()))
    assert "RETURNING" in lite and "FOR UPDATE" not in lite


# ---------------------------------------------------------------- tickets


async def test_an_urgent_ticket_nobody_acknowledges_is_reminded_then_escalated_once(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    ticket_id = await file_report(session_factory, clock, classifier, URGENT)
    assert (await sweep_at(session_factory, clock, START + timedelta(minutes=29))).handled == 0
    assert await outbox(session_factory) == []

    report = await sweep_at(session_factory, clock, START + timedelta(minutes=30))
    assert report.acted == 1
    [remind] = await outbox(session_factory)
    payload = json.loads(remind.payload)
    assert (remind.kind, remind.chat_id, remind.priority) == ("followup_ack_remind", 3001, 0)
    assert payload["number"].startswith("GS20261124-") and payload["minutes"] == 30

    await sweep_at(session_factory, clock, START + timedelta(hours=2))
    ticket = await load_ticket(session_factory, ticket_id)
    assert ticket.supervised and ticket.status == TicketStatus.new
    assert await trail(session_factory, ticket_id) == ["report", "supervise"]
    rows = await outbox(session_factory)
    assert [(r.kind, r.chat_id) for r in rows[1:]] == [
        ("followup_escalated", 4001),
        ("followup_supervised", 3001),
    ]
    assert all(r.priority == 0 for r in rows), "urgent: never held back"

    # Nothing more, however often the sweep runs; a second escalation would change nothing.
    async with session_factory() as session:
        await followups.schedule(
            session,
            clock,
            kind=Kind.ticket_ack_escalate,
            due_at=clock.now(),
            key=f"t{ticket_id}:again",
            payload={"ticket_id": ticket_id},
        )
        await session.commit()
    again = await sweep_at(session_factory, clock, START + timedelta(hours=5))
    assert (again.acted, again.skipped) == (0, 1)
    assert len(await outbox(session_factory)) == 3
    assert await trail(session_factory, ticket_id) == ["report", "supervise"]


async def test_an_acknowledged_ticket_is_neither_reminded_nor_escalated(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    ticket_id = await file_report(session_factory, clock, classifier, URGENT)
    clock.advance(timedelta(minutes=10))
    await act(session_factory, clock, ticket_id, "accept", 3001)
    report = await sweep_at(session_factory, clock, START + timedelta(hours=3))
    assert (report.acted, report.skipped) == (0, 2)
    assert await outbox(session_factory) == []
    assert not (await load_ticket(session_factory, ticket_id)).supervised
    async with session_factory() as session:
        assert await followups.pending(session, Kind.ticket_ack_remind) == []


async def test_a_normal_ticket_is_reminded_after_24_hours_but_not_at_night(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    clock.set(datetime(2026, 11, 24, 14, 0, tzinfo=UTC))  # 22:00 in Suzhou
    ticket_id = await file_report(session_factory, clock, classifier, NORMAL)
    assert not (await load_ticket(session_factory, ticket_id)).urgent
    assert (await sweep_at(session_factory, clock, clock.now() + timedelta(hours=23))).acted == 0
    await sweep_at(session_factory, clock, datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
    [remind] = await outbox(session_factory)
    assert remind.kind == "followup_ack_remind" and remind.priority == 5
    # Queued at 22:00: it waits until 08:00 the next morning in Suzhou.
    assert remind.next_try_at == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    assert json.loads(remind.payload)["minutes"] == 24 * 60


async def test_quiet_hours_hold_back_ticket_notices_but_not_urgent_ones(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    night = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)  # 23:30 in Suzhou
    clock.set(night)
    urgent = await file_report(session_factory, clock, classifier, URGENT)
    normal = await file_report(session_factory, clock, classifier, NORMAL, 1002)
    await act(session_factory, clock, normal, "accept", 3001)
    rows = {r.kind: r for r in await outbox(session_factory, "ticket_")}
    assert rows["ticket_urgent"].next_try_at == night
    assert rows["ticket_status"].next_try_at == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert (await load_ticket(session_factory, urgent)).urgent


async def test_a_dispatch_not_taken_is_reminded_then_returned(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    ticket_id = await file_report(session_factory, clock, classifier, NORMAL)
    async with session_factory() as session:
        li = await persona(session, 2001)
    await act(session_factory, clock, ticket_id, "dispatch", 3001, li.id)
    await sweep_at(session_factory, clock, START + timedelta(hours=4))
    [remind] = await outbox(session_factory)
    assert (remind.kind, remind.chat_id) == ("followup_take_remind", 2001)

    await sweep_at(session_factory, clock, START + timedelta(hours=12))
    ticket = await load_ticket(session_factory, ticket_id)
    assert ticket.status == TicketStatus.accepted and ticket.assignee_id is None
    assert (await trail(session_factory, ticket_id))[-1] == "untaken"
    kinds = [(r.kind, r.chat_id) for r in await outbox(session_factory)]
    assert kinds[1:] == [("followup_take_returned", 3001), ("followup_take_withdrawn", 2001)]
    async with session_factory() as session:
        task = (await session.exec(select(Task).where(col(Task.ticket_id) == ticket_id))).first()
    if task is not None:  # the dispatch's task (issue 5) goes back with the ticket
        assert task.status == TaskStatus.cancelled


async def test_a_taken_or_redispatched_ticket_is_not_chased_for_an_old_dispatch(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    taken = await file_report(session_factory, clock, classifier, NORMAL)
    moved = await file_report(session_factory, clock, classifier, "小区门口垃圾没人清运", 1002)
    async with session_factory() as session:
        li, zhou = await persona(session, 2001), await persona(session, 2002)
    await act(session_factory, clock, taken, "dispatch", 3001, li.id)
    await act(session_factory, clock, moved, "dispatch", 3001, li.id)
    clock.advance(timedelta(hours=1))
    await act(session_factory, clock, taken, "take", 2001)
    await act(session_factory, clock, moved, "decline", 2001, "今天不在家")
    clock.advance(timedelta(hours=2))
    await act(session_factory, clock, moved, "dispatch", 3001, zhou.id)
    # 4 h after the first dispatches: nothing to chase (taken; a newer dispatch).
    report = await sweep_at(session_factory, clock, START + timedelta(hours=4))
    assert (report.acted, report.skipped) == (0, 2)
    # 4 h after the second dispatch: 小周 is reminded.
    await sweep_at(session_factory, clock, START + timedelta(hours=7))
    assert [(r.kind, r.chat_id) for r in await outbox(session_factory)] == [
        ("followup_take_remind", 2002)
    ]


async def test_awaiting_confirmation_asks_twice_then_closes_unrated(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    ticket_id = await file_report(session_factory, clock, classifier, NORMAL)
    await act(session_factory, clock, ticket_id, "accept", 3001)
    await act(session_factory, clock, ticket_id, "resolve", 3001, "已换灯泡")
    for hours, asked in ((23, 0), (24, 1), (71, 1), (72, 2)):
        await sweep_at(session_factory, clock, START + timedelta(hours=hours))
        asks = [r for r in await outbox(session_factory) if r.kind == "followup_confirm_ask"]
        assert len(asks) == asked, hours
    assert all(r.chat_id == 1001 for r in asks)
    assert [json.loads(r.payload)["nth"] for r in asks] == [1, 2]
    await sweep_at(session_factory, clock, START + timedelta(days=7) - timedelta(minutes=1))
    assert (
        await load_ticket(session_factory, ticket_id)
    ).status == TicketStatus.awaiting_confirmation

    await sweep_at(session_factory, clock, START + timedelta(days=7))
    ticket = await load_ticket(session_factory, ticket_id)
    assert ticket.status == TicketStatus.closed and ticket.closed_at == clock.now()
    assert ticket.rating is None and ticket.rated_at is None, "not counted as satisfied"
    assert (await trail(session_factory, ticket_id))[-1] == "timeout_close"
    assert (await outbox(session_factory))[-1].kind == "followup_timeout_closed"


async def test_a_confirmed_ticket_is_not_asked_again_nor_closed_by_the_timer(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    ticket_id = await file_report(session_factory, clock, classifier, NORMAL)
    await act(session_factory, clock, ticket_id, "accept", 3001)
    await act(session_factory, clock, ticket_id, "resolve", 3001, "已换灯泡")
    clock.advance(timedelta(hours=2))
    await act(session_factory, clock, ticket_id, "unresolved", 1001)  # reopened
    await act(session_factory, clock, ticket_id, "accept", 3001)
    await act(session_factory, clock, ticket_id, "resolve", 3001, "又换了一次")
    # The first resolution's checks find a newer resolution: they do nothing.
    await sweep_at(session_factory, clock, START + timedelta(hours=25))
    asks = [r for r in await outbox(session_factory) if r.kind == "followup_confirm_ask"]
    assert asks == []
    await act(session_factory, clock, ticket_id, "confirm", 1001)
    report = await sweep_at(session_factory, clock, START + timedelta(days=30))
    assert report.kinds[Kind.ticket_confirm_close.value] == 2  # both resolutions' timers ran
    kinds = {r.kind for r in await outbox(session_factory)}
    assert not kinds & {"followup_confirm_ask", "followup_timeout_closed"}
    ticket = await load_ticket(session_factory, ticket_id)
    assert ticket.status == TicketStatus.closed
    assert "timeout_close" not in await trail(session_factory, ticket_id)


# ---------------------------------------------------------------- tasks


async def new_task(
    session_factory: SessionFactory, clock: ManualClock, due: datetime | None
) -> int:
    async with session_factory() as session:
        coordinator, li = await persona(session, 3001), await persona(session, 2001)
        assert coordinator.id is not None and coordinator.community_id is not None
        task = Task(
            community_id=coordinator.community_id,
            text="给3号楼的王阿姨送米",
            due_at=due,
            status=TaskStatus.open,
            assignee_id=li.id,
            created_by=coordinator.id,
            created_at=clock.now(),
        )
        session.add(task)
        await session.flush()
        await followups.task_assigned(session, clock, task, FOLLOWUP_RULES)
        await session.commit()
        assert task.id is not None
        return task.id


async def test_a_task_not_accepted_is_reminded_then_returned_to_the_coordinator(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    task_id = await new_task(session_factory, clock, None)
    await sweep_at(session_factory, clock, START + timedelta(hours=4))
    await sweep_at(session_factory, clock, START + timedelta(hours=12))
    rows = [(r.kind, r.chat_id) for r in await outbox(session_factory)]
    assert rows == [("followup_task_remind", 2001), ("followup_task_unaccepted", 3001)]
    async with session_factory() as session:
        task = await session.get(Task, task_id)
        assert task is not None and task.status == TaskStatus.cancelled
        names = await session.exec(select(TaskEvent.action).where(TaskEvent.task_id == task_id))
        assert list(names) == ["cancel"]


async def test_an_overdue_task_reminds_the_volunteer_and_tells_the_coordinator(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    due = START + timedelta(hours=3)
    task_id = await new_task(session_factory, clock, due)
    async with session_factory() as session:
        task = await session.get(Task, task_id)
        assert task is not None
        task.status, task.taken_at = TaskStatus.taken, clock.now()  # accepted in time
        session.add(task)
        await session.commit()
    await sweep_at(session_factory, clock, due - timedelta(seconds=1))
    assert await outbox(session_factory) == []
    await sweep_at(session_factory, clock, due)
    rows = [(r.kind, r.chat_id) for r in await outbox(session_factory)]
    assert rows == [("followup_task_overdue", 2001), ("followup_task_overdue_staff", 3001)]
    # 4 h and 12 h later: accepted, so no acceptance reminders.
    report = await sweep_at(session_factory, clock, START + timedelta(hours=13))
    assert (report.acted, report.skipped) == (0, 2)


# ---------------------------------------------------------------- digests


async def test_the_monday_digest_lists_households_past_their_interval(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        li = await persona(session, 2001)
        assert li.id is not None
        await followups.ensure_recurring(session, clock, FOLLOWUP_RULES)
        await session.commit()
        [digest] = await followups.pending(session, Kind.visit_digest)
        assert digest.due_at == datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 09:00
        households = await volunteer_households(session, li.id)
        for due in households[:-2]:  # all but two visited yesterday
            session.add(
                Visit(
                    volunteer_id=li.id,
                    household_id=due.household.id or 0,
                    visited_at=clock.now() - timedelta(days=1),
                    outcome=VisitOutcome.met_resident,
                    created_at=clock.now(),
                )
            )
        await session.commit()
    # Nothing before Monday 09:00.
    early = await sweep_at(session_factory, clock, digest.due_at - timedelta(minutes=1))
    assert Kind.visit_digest.value not in early.kinds
    await sweep_at(session_factory, clock, digest.due_at)
    mine = [r for r in await outbox(session_factory) if r.chat_id == 2001]
    [row] = mine
    payload = json.loads(row.payload)
    # Visited 6 days 23 hours ago: within even the shortest interval (7 days). The other two
    # were never visited.
    assert payload["total"] == 2 and len(payload["households"]) == 2
    assert all(h["days"] is None for h in payload["households"])
    async with session_factory() as session:
        [following] = await followups.pending(session, Kind.visit_digest)
    assert following.due_at == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


async def test_a_digest_missed_for_weeks_is_sent_once(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        await followups.ensure_recurring(session, clock, FOLLOWUP_RULES)
        await session.commit()
    # The bot was down for three weeks: one digest, not three.
    await sweep_at(session_factory, clock, START + timedelta(days=21))
    await followups.sweep(session_factory, clock, FOLLOWUP_RULES)
    rows = [r for r in await outbox(session_factory) if r.kind == "followup_visit_digest"]
    assert len({r.chat_id for r in rows}) == len(rows) > 0


async def test_the_monthly_summary_counts_the_last_month(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    await file_report(session_factory, clock, classifier, NORMAL)
    await file_report(session_factory, clock, classifier, "小区门口垃圾没人清运", 1002)
    async with session_factory() as session:
        await followups.ensure_recurring(session, clock, FOLLOWUP_RULES)
        await session.commit()
    await sweep_at(session_factory, clock, datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    rows = [r for r in await outbox(session_factory) if r.kind == "followup_monthly_summary"]
    zhang = next(r for r in rows if r.chat_id == 3001)
    summary = Summary.from_payload(json.loads(zhang.payload))
    assert (summary.period, summary.scope_name, summary.received) == ("2026-11", "悬桥社区", 2)
    # Neither was acknowledged in time nor resolved: the rates say so.
    assert summary.response == (0, 2) and summary.resolution == (0, 2)
    text = texts.summary_text(summary)
    assert "2026年11月工作小结" in text and "收到诉求 2 件" in text


# ---------------------------------------------------------------- exactly once


async def test_a_failing_action_rolls_back_and_is_retried_then_given_up(
    session_factory: SessionFactory,
    clock: ManualClock,
    classifier: Classifier,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await file_report(session_factory, clock, classifier, URGENT)
    calls = 0
    real = followups.ACTIONS[Kind.ticket_ack_remind.value]

    async def broken(ctx: followups.Context) -> bool:
        nonlocal calls
        calls += 1
        await real(ctx)  # the outbox rows are written ... and rolled back
        raise RuntimeError("boom")

    monkeypatch.setitem(followups.ACTIONS, Kind.ticket_ack_remind.value, broken)
    rules = FollowUpRules(max_attempts=2, retry_after=timedelta(minutes=5))
    clock.set(START + timedelta(minutes=30))
    report = await followups.sweep(session_factory, clock, rules)
    assert (report.failed, calls) == (1, 1)
    assert await outbox(session_factory) == []
    async with session_factory() as session:
        [row] = await followups.pending(session, Kind.ticket_ack_remind)
        assert row.attempts == 1 and "boom" in row.last_error
        assert row.due_at == clock.now() + timedelta(minutes=5)

    clock.advance(timedelta(minutes=5))
    await followups.sweep(session_factory, clock, rules)
    async with session_factory() as session:
        given_up = (
            await session.exec(
                select(FollowUp).where(col(FollowUp.kind) == Kind.ticket_ack_remind.value)
            )
        ).one()
    assert given_up.status == FollowUpStatus.cancelled and given_up.attempts == 2
    assert await outbox(session_factory) == []


async def test_a_sweep_killed_before_its_commit_is_redone_exactly_once(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    """Cancelling the sweep inside a row's transaction (after its outbox rows were written)
    leaves the row pending and no message queued; the next sweep does it, once."""
    for n in range(3):
        await file_report(session_factory, clock, classifier, URGENT, 1001 + n)
    clock.set(START + timedelta(minutes=30))
    interrupted = asyncio.create_task(
        followups.sweep(session_factory, clock, FOLLOWUP_RULES, delay=5.0)
    )
    await asyncio.sleep(0.5)  # the first row's transaction is open, sleeping before its commit
    assert not interrupted.done()
    interrupted.cancel()
    with pytest.raises(asyncio.CancelledError):
        await interrupted
    assert await outbox(session_factory) == []
    async with session_factory() as session:
        states = await session.exec(
            select(FollowUp.status, func.count())
            .where(col(FollowUp.kind) == Kind.ticket_ack_remind.value)
            .group_by(col(FollowUp.status))
        )
        assert dict(states.all()) == {FollowUpStatus.pending: 3}
    report = await followups.sweep(session_factory, clock, FOLLOWUP_RULES)
    assert report.acted == 3
    await followups.sweep(session_factory, clock, FOLLOWUP_RULES)
    rows = await outbox(session_factory)
    assert sorted(r.idempotency_key for r in rows) == sorted({r.idempotency_key for r in rows})
    assert len(rows) == 3  # one reminder per ticket to its community's coordinator


async def test_concurrent_sweeps_act_on_each_row_once(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    for n in range(6):
        await file_report(session_factory, clock, classifier, URGENT, 1001 + n % 3)
    clock.set(START + timedelta(minutes=30))
    reports = await asyncio.gather(
        *(followups.sweep(session_factory, clock, FOLLOWUP_RULES) for _ in range(3))
    )
    assert sum(r.acted for r in reports) == 6
    assert len(await outbox(session_factory)) == 6
