"""Follow-ups: reminders, escalations and digests that survive restarts (issue 6).

Every follow-up is a `FollowUp` row: a due time (UTC), a kind, a JSON payload, a status and an
idempotency key. The database, never the scheduler's memory, says what is due. The services
schedule rows when the triggering thing happens (a report, a dispatch, a resolution, a
publication); `sweep` acts on the rows that fell due, including those that fell due while the
bot was down.

Exactly once. For each due row, ONE transaction claims it (`UPDATE ... SET status='claimed'
... RETURNING`; on PostgreSQL the inner SELECT takes `FOR UPDATE SKIP LOCKED`, SQLite has one
writer at a time), re-checks the rule's condition, writes the outbox rows (keyed by the
follow-up's idempotency key plus the recipient) and any change the rule makes (e.g. 督办), marks
the row `done` and commits. A crash before the commit rolls all of it back: the row is pending
again and the next sweep redoes everything; a crash after the commit leaves it done, and nothing
is redone. `claimed` is therefore never seen outside the transaction that set it. The outbox
keys make even a redo of a committed row harmless. A row whose action fails is retried later
(`retry_after`), and given up (`cancelled`, with `last_error`) after `max_attempts`.

Every rule re-checks its condition when it acts: a reminder for a ticket already acknowledged
does nothing (its row is simply done).

Quiet hours (21:00-08:00 by default, `HAITANG_QUIET_HOURS`): a non-urgent message is queued
with the outbox's `not_before` at the end of the quiet hours; urgent ones (priority 0) go at once.

The rules are never read from a global: the composition root builds one FollowUpRules from the
settings and passes it to the dispatcher (handlers get it by name as `followup_rules`) and to the
scheduler's sweep; every function here that depends on them takes them as a parameter.

THE RULES (FollowUpRules holds every delay and hour by name; the kind acts):

| kind                 | scheduled when             | due after                 | acts if, then                                         |
|----------------------|----------------------------|---------------------------|-------------------------------------------------------|
| ticket_ack_remind    | an urgent ticket is filed  | urgent_ack_remind 30 min  | still 待受理: remind the community's coordinators      |
| ticket_ack_escalate  | an urgent ticket is filed  | urgent_ack_escalate 2 h   | still 待受理, not yet escalated: 督办 to street admins  |
| ticket_ack_remind    | a normal ticket is filed   | normal_ack_remind 24 h    | still 待受理: remind the coordinators                  |
| ticket_take_remind   | a ticket is dispatched     | take_remind 4 h           | same dispatch still not taken: remind the volunteer   |
| ticket_take_return   | a ticket is dispatched     | take_return 12 h          | same dispatch still not taken: back to coordinators   |
| task_take_remind     | a task is given to someone | take_remind 4 h           | still 待接单 by them: remind the volunteer             |
| task_take_return     | a task is given to someone | take_return 12 h          | still 待接单: tell the coordinator                     |
| task_overdue         | a task has a due time      | at due_at                 | not done yet: remind the volunteer, tell coordinator  |
| ticket_confirm_ask   | a ticket is resolved       | confirm_asks 24 h, 72 h   | same resolution still 待确认: ask the resident again   |
| ticket_confirm_close | a ticket is resolved       | confirm_close 7 days      | still 待确认: 已办结 (未评价), rating stays empty        |
| event_remind         | an event is published      | event_reminders 24 h, 2 h before the start | published: tell those attending |
| event_rate           | an event is published      | the day after, event_rating_at 10:00 | tell those who checked in: rate 1-5   |
| visit_digest         | always one pending         | Monday 09:00 (local)      | each volunteer: households past their visit interval |
| event_digest         | always one pending         | Friday 18:00 (local)      | each subscriber: the coming weekend's events          |
| monthly_summary      | always one pending         | the 1st, 09:00 (local)    | each coordinator: last month's ticket counts          |

The recurring kinds keep exactly one pending row each: acting on one schedules the next
occurrence after now (in the same transaction), so a bot that was down over several Mondays
sends one digest, not several.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services import cadence, stats, tickets
from services import events as events_service
from services.clock import SHANGHAI, Clock, as_utc
from services.org import household_address
from services.outbox import enqueue
from storage.db import SessionFactory
from storage.models import (
    CommunityEvent,
    EventSignup,
    EventStatus,
    FollowUp,
    FollowUpStatus,
    Role,
    SignupStatus,
    Subscription,
    Task,
    TaskEvent,
    TaskStatus,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
)

log = logging.getLogger(__name__)

MAX_KEY = 100  # outbox keys add ":u<user id>" and must stay within 120
MAX_ERROR = 300


# ---------------------------------------------------------------- the rules table


@dataclass(frozen=True)
class Weekly:
    weekday: int  # Monday 0 ... Sunday 6
    at: time

    def next_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        local = as_utc(moment).astimezone(tz)
        day = local.date() + timedelta(days=(self.weekday - local.weekday()) % 7)
        candidate = datetime.combine(day, self.at, tzinfo=tz)
        if candidate <= local:
            candidate = datetime.combine(day + timedelta(days=7), self.at, tzinfo=tz)
        return candidate.astimezone(UTC)


@dataclass(frozen=True)
class Monthly:
    day: int  # 1-28
    at: time

    def next_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        local = as_utc(moment).astimezone(tz)
        candidate = datetime.combine(local.date().replace(day=self.day), self.at, tzinfo=tz)
        if candidate <= local:
            year, month = (
                (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
            )
            candidate = datetime.combine(date(year, month, self.day), self.at, tzinfo=tz)
        return candidate.astimezone(UTC)


@dataclass(frozen=True)
class FollowUpRules:
    """Every delay and hour the follow-ups depend on, by name (see the table above)."""

    urgent_ack_remind: timedelta = timedelta(minutes=30)
    urgent_ack_escalate: timedelta = timedelta(hours=2)
    normal_ack_remind: timedelta = timedelta(hours=24)
    take_remind: timedelta = timedelta(hours=4)
    take_return: timedelta = timedelta(hours=12)
    confirm_asks: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=72))
    confirm_close: timedelta = timedelta(days=7)
    event_reminders: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=2))
    event_rating_at: time = time(10, 0)
    visit_digest: Weekly = Weekly(0, time(9, 0))
    event_digest: Weekly = Weekly(4, time(18, 0))
    monthly_summary: Monthly = Monthly(1, time(9, 0))
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    tz: ZoneInfo = SHANGHAI
    max_attempts: int = 5
    retry_after: timedelta = timedelta(minutes=5)
    digest_households: int = 10  # at most this many households listed per volunteer

    def __post_init__(self) -> None:
        if self.urgent_ack_escalate <= self.urgent_ack_remind:
            raise ValueError("the escalation must come after the reminder")
        if self.take_return <= self.take_remind:
            raise ValueError("returning a task must come after reminding")
        if any(ask >= self.confirm_close for ask in self.confirm_asks):
            raise ValueError("asking again must come before closing")
        if not 1 <= self.monthly_summary.day <= 28:
            raise ValueError("the monthly summary day must be 1-28")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


# The rules with nothing configured. The composition root (bot.runner, bot.sandbox) builds the
# process's rules once from the settings (bot.scheduler.rules_from) and hands them down: handlers
# receive them by name as `followup_rules`, the services take them as a parameter.
DEFAULT_RULES = FollowUpRules()


class Kind(StrEnum):
    ticket_ack_remind = "ticket_ack_remind"
    ticket_ack_escalate = "ticket_ack_escalate"
    ticket_take_remind = "ticket_take_remind"
    ticket_take_return = "ticket_take_return"
    ticket_confirm_ask = "ticket_confirm_ask"
    ticket_confirm_close = "ticket_confirm_close"
    task_take_remind = "task_take_remind"
    task_take_return = "task_take_return"
    task_overdue = "task_overdue"
    event_remind = "event_remind"
    event_rate = "event_rate"
    visit_digest = "visit_digest"
    event_digest = "event_digest"
    monthly_summary = "monthly_summary"


RECURRING = (Kind.visit_digest, Kind.event_digest, Kind.monthly_summary)


def _recurrence(kind: Kind, rules: FollowUpRules) -> Weekly | Monthly:
    if kind == Kind.visit_digest:
        return rules.visit_digest
    if kind == Kind.event_digest:
        return rules.event_digest
    if kind == Kind.monthly_summary:
        return rules.monthly_summary
    raise ValueError(f"{kind} does not recur")


# ---------------------------------------------------------------- quiet hours


def parse_quiet_hours(text: str) -> tuple[time, time]:
    """Read "21:00-08:00" as (21:00, 08:00); "off" means no quiet hours (start == end)."""
    if text.strip().lower() == "off":
        return time(0, 0), time(0, 0)
    start, _, end = text.partition("-")
    try:
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError as error:
        raise ValueError(f"quiet hours must look like 21:00-08:00 or off, not {text!r}") from error


def in_quiet_hours(moment: datetime, rules: FollowUpRules) -> bool:
    now = as_utc(moment).astimezone(rules.tz).time()
    start, end = rules.quiet_start, rules.quiet_end
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end


def quiet_release(moment: datetime, rules: FollowUpRules) -> datetime | None:
    """When a non-urgent message queued at `moment` may go: None now, else the end of the
    quiet hours (UTC)."""
    if not in_quiet_hours(moment, rules):
        return None
    local = as_utc(moment).astimezone(rules.tz)
    release = datetime.combine(local.date(), rules.quiet_end, tzinfo=rules.tz)
    if release <= local:
        release = datetime.combine(
            local.date() + timedelta(days=1), rules.quiet_end, tzinfo=rules.tz
        )
    return release.astimezone(UTC)


async def notify(
    session: AsyncSession,
    clock: Clock,
    user: User,
    *,
    kind: str,
    payload: dict[str, Any],
    key: str,
    urgent: bool = False,
    priority: int | None = None,
    rules: FollowUpRules,
) -> bool:
    """Queue one message for `user` (not for inactive or unreachable users); non-urgent ones
    wait for the end of the quiet hours. The caller commits."""
    if user.id is None or not user.active or not user.reachable:
        return False
    await enqueue(
        session,
        clock,
        chat_id=user.chat_id,
        user_id=user.id,
        kind=kind,
        payload=payload,
        key=f"{key}:u{user.id}",
        priority=0 if urgent else (5 if priority is None else priority),
        not_before=None if urgent else quiet_release(clock.now(), rules),
    )
    return True


# ---------------------------------------------------------------- scheduling


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def schedule(
    session: AsyncSession,
    clock: Clock,
    *,
    kind: Kind,
    due_at: datetime,
    key: str,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Add one follow-up; a key already scheduled adds nothing (False). The caller commits."""
    if not key or len(key) > MAX_KEY:
        raise ValueError(f"a follow-up key must be 1-{MAX_KEY} characters")
    values: dict[str, Any] = {
        "due_at": as_utc(due_at),
        "kind": kind.value,
        "payload": json.dumps(payload or {}, ensure_ascii=False, sort_keys=True),
        "status": FollowUpStatus.pending,
        "attempts": 0,
        "idempotency_key": key,
        "created_at": clock.now(),
        "last_error": "",
    }
    dialect = _dialect(session)
    if dialect == "sqlite":
        statement: Any = sqlite.insert(FollowUp).values(values).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql.insert(FollowUp).values(values).on_conflict_do_nothing()
    else:  # pragma: no cover - the project runs on SQLite and PostgreSQL only
        raise NotImplementedError(f"follow-ups do not support {dialect}")
    inserted = (await session.exec(statement.returning(col(FollowUp.id)))).scalar_one_or_none()
    return inserted is not None


async def _latest_event_id(session: AsyncSession, ticket: Ticket, action: str) -> int:
    found = (
        await session.exec(
            select(func.max(TicketEvent.id)).where(
                col(TicketEvent.ticket_id) == ticket.id, col(TicketEvent.action) == action
            )
        )
    ).one()
    return int(found or 0)


async def ticket_reported(
    session: AsyncSession, clock: Clock, ticket: Ticket, rules: FollowUpRules
) -> None:
    """Hook for tickets.report: the acknowledgement checks."""
    assert ticket.id is not None
    start, facts = ticket.created_at, {"ticket_id": ticket.id}
    if ticket.urgent:
        await schedule(
            session,
            clock,
            kind=Kind.ticket_ack_remind,
            due_at=start + rules.urgent_ack_remind,
            key=f"t{ticket.id}:ack:remind",
            payload=facts,
        )
        await schedule(
            session,
            clock,
            kind=Kind.ticket_ack_escalate,
            due_at=start + rules.urgent_ack_escalate,
            key=f"t{ticket.id}:ack:escalate",
            payload=facts,
        )
    else:
        await schedule(
            session,
            clock,
            kind=Kind.ticket_ack_remind,
            due_at=start + rules.normal_ack_remind,
            key=f"t{ticket.id}:ack:remind",
            payload=facts,
        )


async def ticket_dispatched(
    session: AsyncSession, clock: Clock, ticket: Ticket, rules: FollowUpRules
) -> None:
    """Hook for tickets.dispatch: is it taken in time? (Keyed by this dispatch.)"""
    assert ticket.id is not None
    dispatch = await _latest_event_id(session, ticket, tickets.Action.dispatch.value)
    payload = {"ticket_id": ticket.id, "assignee_id": ticket.assignee_id, "dispatch": dispatch}
    now = clock.now()
    for kind, after in (
        (Kind.ticket_take_remind, rules.take_remind),
        (Kind.ticket_take_return, rules.take_return),
    ):
        await schedule(
            session,
            clock,
            kind=kind,
            due_at=now + after,
            key=f"t{ticket.id}:d{dispatch}:{kind.value}",
            payload=payload,
        )


async def ticket_resolved(
    session: AsyncSession, clock: Clock, ticket: Ticket, rules: FollowUpRules
) -> None:
    """Hook for tickets.resolve: ask again, then close (keyed by this resolution)."""
    assert ticket.id is not None
    resolution = await _latest_event_id(session, ticket, tickets.Action.resolve.value)
    payload = {"ticket_id": ticket.id, "resolution": resolution}
    now = clock.now()
    for n, after in enumerate(rules.confirm_asks, start=1):
        await schedule(
            session,
            clock,
            kind=Kind.ticket_confirm_ask,
            due_at=now + after,
            key=f"t{ticket.id}:r{resolution}:ask{n}",
            payload={**payload, "nth": n},
        )
    await schedule(
        session,
        clock,
        kind=Kind.ticket_confirm_close,
        due_at=now + rules.confirm_close,
        key=f"t{ticket.id}:r{resolution}:close",
        payload=payload,
    )


async def task_assigned(
    session: AsyncSession, clock: Clock, task: Task, rules: FollowUpRules
) -> None:
    """Hook for the task service: call it when a task is created or (re)assigned, and when its
    due time is set. Schedules the 4 h / 12 h acceptance checks (a task given to one volunteer)
    and the overdue check (a task with a due time)."""
    assert task.id is not None
    if task.ticket_id is not None:
        return  # a dispatched ticket's task: the ticket's own rules follow it up
    now = clock.now()
    if task.status == TaskStatus.open and task.assignee_id is not None:
        payload = {"task_id": task.id, "assignee_id": task.assignee_id}
        for kind, after in (
            (Kind.task_take_remind, rules.take_remind),
            (Kind.task_take_return, rules.take_return),
        ):
            await schedule(
                session,
                clock,
                kind=kind,
                due_at=now + after,
                key=f"task{task.id}:a{task.assignee_id}:{kind.value}",
                payload=payload,
            )
    if task.due_at is not None:
        due = as_utc(task.due_at)
        await schedule(
            session,
            clock,
            kind=Kind.task_overdue,
            due_at=due,
            key=f"task{task.id}:due{int(due.timestamp())}",
            payload={"task_id": task.id, "due_at": due.isoformat()},
        )


async def event_published(
    session: AsyncSession,
    clock: Clock,
    event: CommunityEvent,
    rules: FollowUpRules,
) -> None:
    """Hook for events.publish: reminders before the start, the rating the day after."""
    assert event.id is not None
    now = clock.now()
    starts = as_utc(event.starts_at)
    for before in rules.event_reminders:
        due = starts - before
        if due > now:  # a reminder "tomorrow" for an event in 3 hours would be wrong
            hours = before.total_seconds() / 3600
            await schedule(
                session,
                clock,
                kind=Kind.event_remind,
                due_at=due,
                key=f"ev{event.id}:remind{int(before.total_seconds())}",
                payload={"event_id": event.id, "hours": hours},
            )
    day_after = as_utc(event.ends_at).astimezone(rules.tz).date() + timedelta(days=1)
    await schedule(
        session,
        clock,
        kind=Kind.event_rate,
        due_at=datetime.combine(day_after, rules.event_rating_at, tzinfo=rules.tz),
        key=f"ev{event.id}:rate",
        payload={"event_id": event.id},
    )


async def ensure_recurring(session: AsyncSession, clock: Clock, rules: FollowUpRules) -> int:
    """Each recurring kind has one pending row: add the next occurrence where none is."""
    added = 0
    for kind in RECURRING:
        pending = (
            await session.exec(
                select(func.count())
                .select_from(FollowUp)
                .where(col(FollowUp.kind) == kind.value)
                .where(col(FollowUp.status) == FollowUpStatus.pending)
            )
        ).one()
        if pending:
            continue
        added += await _schedule_next(session, clock, kind, clock.now(), rules)
    return added


async def _schedule_next(
    session: AsyncSession, clock: Clock, kind: Kind, after: datetime, rules: FollowUpRules
) -> int:
    due = _recurrence(kind, rules).next_after(after, rules.tz)
    key = f"{kind.value}:{due.astimezone(rules.tz).date().isoformat()}"
    return int(await schedule(session, clock, kind=kind, due_at=due, key=key))


# ---------------------------------------------------------------- acting


@dataclass
class Context:
    """What an action gets: the open transaction, the row, and a way to message people."""

    session: AsyncSession
    clock: Clock
    rules: FollowUpRules
    row: FollowUp
    payload: dict[str, Any]
    sent: int = 0

    @property
    def key(self) -> str:
        return self.row.idempotency_key

    async def tell(
        self,
        users: Iterable[User],
        kind: str,
        payload: dict[str, Any],
        *,
        urgent: bool = False,
        priority: int | None = None,
    ) -> None:
        for user in users:
            if await notify(
                self.session,
                self.clock,
                user,
                kind=kind,
                payload=payload,
                key=self.key,
                urgent=urgent,
                priority=priority,
                rules=self.rules,
            ):
                self.sent += 1


Action = Callable[[Context], Awaitable[bool]]
ACTIONS: dict[str, Action] = {}


def acts_on(kind: Kind) -> Callable[[Action], Action]:
    def register(function: Action) -> Action:
        ACTIONS[kind.value] = function
        return function

    return register


async def _ticket(ctx: Context) -> Ticket | None:
    return await ctx.session.get(Ticket, int(ctx.payload["ticket_id"]))


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def _since(ticket: Ticket, now: datetime) -> int:
    return int((now - as_utc(ticket.created_at)).total_seconds() // 60)


@acts_on(Kind.ticket_ack_remind)
async def _ack_remind(ctx: Context) -> bool:
    ticket = await _ticket(ctx)
    if ticket is None or ticket.acknowledged_at is not None or ticket.status != TicketStatus.new:
        return False
    coordinators = await tickets._coordinators(ctx.session, ticket.community_id)
    await ctx.tell(
        coordinators,
        "followup_ack_remind",
        tickets._facts(ticket, minutes=_since(ticket, ctx.clock.now())),
        urgent=ticket.urgent,
    )
    return True


@acts_on(Kind.ticket_ack_escalate)
async def _ack_escalate(ctx: Context) -> bool:
    ticket = await _ticket(ctx)
    if ticket is None or ticket.acknowledged_at is not None or ticket.status != TicketStatus.new:
        return False
    supervised_before = (
        await ctx.session.exec(
            select(func.count())
            .select_from(TicketEvent)
            .where(col(TicketEvent.ticket_id) == ticket.id)
            .where(col(TicketEvent.action) == tickets.Action.supervise.value)
        )
    ).one()
    if supervised_before:
        return False  # one escalation only
    minutes = _since(ticket, ctx.clock.now())
    ticket.supervised = True
    await tickets._move(
        ctx.session,
        ctx.clock,
        None,
        ticket,
        tickets.Action.supervise,
        f"紧急事项 {minutes} 分钟无人受理，报街道督办",
    )
    facts = tickets._facts(ticket, minutes=minutes)
    admins = await tickets._street_admins(ctx.session, ticket.street_id)
    await ctx.tell(admins, "followup_escalated", facts, urgent=True)
    coordinators = await tickets._coordinators(ctx.session, ticket.community_id)
    await ctx.tell(coordinators, "followup_supervised", facts, urgent=True)
    return True


async def _still_dispatched(ctx: Context) -> Ticket | None:
    ticket = await _ticket(ctx)
    if (
        ticket is None
        or ticket.status != TicketStatus.dispatched
        or ticket.assignee_id != ctx.payload.get("assignee_id")
        or await _latest_event_id(ctx.session, ticket, tickets.Action.dispatch.value)
        != ctx.payload.get("dispatch")
    ):
        return None
    return ticket


ACTIVE_TASK = (TaskStatus.open, TaskStatus.taken, TaskStatus.returned)


async def _ticket_task(ctx: Context, ticket: Ticket) -> Task | None:
    """The volunteer's task born from the ticket's dispatch (services.tasks), if any."""
    found = await ctx.session.exec(
        select(Task)
        .where(col(Task.ticket_id) == ticket.id, col(Task.status).in_(ACTIVE_TASK))
        .order_by(col(Task.id).desc())
    )
    return found.first()


@acts_on(Kind.ticket_take_remind)
async def _take_remind(ctx: Context) -> bool:
    ticket = await _still_dispatched(ctx)
    if ticket is None:
        return False
    volunteer = await ctx.session.get(User, ticket.assignee_id)
    task = await _ticket_task(ctx, ticket)
    facts = tickets._facts(
        ticket,
        hours=_hours(ctx.rules.take_remind),
        task_id=task.id if task is not None else None,
    )
    await ctx.tell([volunteer] if volunteer else [], "followup_take_remind", facts)
    return True


@acts_on(Kind.ticket_take_return)
async def _take_return(ctx: Context) -> bool:
    ticket = await _still_dispatched(ctx)
    if ticket is None:
        return False
    volunteer = await ctx.session.get(User, ticket.assignee_id)
    name = volunteer.display_name if volunteer else ""
    hours = _hours(ctx.rules.take_return)
    ticket.assignee_id = None
    await tickets._move(
        ctx.session,
        ctx.clock,
        None,
        ticket,
        tickets.Action.untaken,
        f"{name} {hours:g} 小时未接单，退回社区",
    )
    # The volunteer's task born from this dispatch goes with it.
    task = await _ticket_task(ctx, ticket)
    if task is not None:
        task.status = TaskStatus.cancelled
        ctx.session.add(task)
        await _task_event(ctx, task, TASK_CANCEL, f"{hours:g} 小时未接单，退回社区")
    facts = tickets._facts(ticket, hours=hours, volunteer=name)
    coordinators = await tickets._coordinators(ctx.session, ticket.community_id)
    await ctx.tell(coordinators, "followup_take_returned", facts, urgent=ticket.urgent)
    if volunteer is not None:
        await ctx.tell([volunteer], "followup_take_withdrawn", facts)
    return True


async def _still_awaiting(ctx: Context) -> Ticket | None:
    ticket = await _ticket(ctx)
    if (
        ticket is None
        or ticket.status != TicketStatus.awaiting_confirmation
        or await _latest_event_id(ctx.session, ticket, tickets.Action.resolve.value)
        != ctx.payload.get("resolution")
    ):
        return None
    return ticket


@acts_on(Kind.ticket_confirm_ask)
async def _confirm_ask(ctx: Context) -> bool:
    ticket = await _still_awaiting(ctx)
    if ticket is None:
        return False
    confirmer = await ctx.session.get(User, tickets.confirmer_id(ticket))
    facts = tickets._facts(
        ticket,
        note=ticket.resolution_note,
        nth=int(ctx.payload.get("nth", 1)),
        days=_hours(ctx.rules.confirm_close) / 24,
    )
    await ctx.tell([confirmer] if confirmer else [], "followup_confirm_ask", facts)
    return True


@acts_on(Kind.ticket_confirm_close)
async def _confirm_close(ctx: Context) -> bool:
    ticket = await _still_awaiting(ctx)
    if ticket is None:
        return False
    days = _hours(ctx.rules.confirm_close) / 24
    ticket.closed_at = ctx.clock.now()
    await tickets._move(
        ctx.session,
        ctx.clock,
        None,
        ticket,
        tickets.Action.timeout_close,
        f"{days:g} 天未确认，自动办结（未评价）",
    )
    people = await tickets._people(ctx.session, [ticket.reporter_id, ticket.resident_id])
    await ctx.tell(people, "followup_timeout_closed", tickets._facts(ticket, days=days))
    return True


# The task trail's name for "withdrawn, not taken in time" (services.tasks.TaskAction.cancel).
TASK_CANCEL = "cancel"


async def _task(ctx: Context) -> Task | None:
    """The task, unless it was born from a dispatched ticket (the ticket's rules cover it)."""
    task = await ctx.session.get(Task, int(ctx.payload["task_id"]))
    return None if task is None or task.ticket_id is not None else task


async def _task_facts(ctx: Context, task: Task, **extra: Any) -> dict[str, Any]:
    text = task.text if len(task.text) <= 60 else task.text[:59] + "…"
    return {"task_id": task.id, "text": text, **extra}


async def _task_event(ctx: Context, task: Task, action: str, note: str) -> None:
    assert task.id is not None
    ctx.session.add(
        TaskEvent(task_id=task.id, at=ctx.clock.now(), actor_id=None, action=action, note=note)
    )


async def _task_coordinators(ctx: Context, task: Task) -> list[User]:
    creator = await ctx.session.get(User, task.created_by)
    if creator is not None and creator.role == Role.coordinator and creator.active:
        return [creator]
    return await tickets._coordinators(ctx.session, task.community_id)


@acts_on(Kind.task_take_remind)
async def _task_take_remind(ctx: Context) -> bool:
    task = await _task(ctx)
    if (
        task is None
        or task.status != TaskStatus.open
        or task.assignee_id != ctx.payload.get("assignee_id")
    ):
        return False
    volunteer = await ctx.session.get(User, task.assignee_id)
    facts = await _task_facts(ctx, task, hours=_hours(ctx.rules.take_remind))
    await ctx.tell([volunteer] if volunteer else [], "followup_task_remind", facts)
    return True


@acts_on(Kind.task_take_return)
async def _task_take_return(ctx: Context) -> bool:
    task = await _task(ctx)
    if (
        task is None
        or task.status != TaskStatus.open
        or task.assignee_id != ctx.payload.get("assignee_id")
    ):
        return False
    volunteer = await ctx.session.get(User, task.assignee_id)
    name = volunteer.display_name if volunteer else ""
    hours = _hours(ctx.rules.take_return)
    # Back to the coordinator: the offer is withdrawn, the coordinator gives it anew.
    task.status = TaskStatus.cancelled
    ctx.session.add(task)
    await _task_event(ctx, task, TASK_CANCEL, f"{name} {hours:g} 小时未接单，退回社区")
    facts = await _task_facts(ctx, task, hours=hours, volunteer=name)
    await ctx.tell(await _task_coordinators(ctx, task), "followup_task_unaccepted", facts)
    return True


@acts_on(Kind.task_overdue)
async def _task_overdue(ctx: Context) -> bool:
    task = await _task(ctx)
    if (
        task is None
        or task.status not in (TaskStatus.open, TaskStatus.taken, TaskStatus.returned)
        or task.due_at is None
        or as_utc(task.due_at).isoformat() != ctx.payload.get("due_at")
    ):
        return False
    volunteer = await ctx.session.get(User, task.assignee_id) if task.assignee_id else None
    name = volunteer.display_name if volunteer else ""
    facts = await _task_facts(ctx, task, due_at=as_utc(task.due_at).isoformat(), volunteer=name)
    await _task_event(ctx, task, "overdue", "已过期限")
    if volunteer is not None:
        await ctx.tell([volunteer], "followup_task_overdue", facts)
    await ctx.tell(await _task_coordinators(ctx, task), "followup_task_overdue_staff", facts)
    return True


async def _event(ctx: Context) -> CommunityEvent | None:
    event = await ctx.session.get(CommunityEvent, int(ctx.payload["event_id"]))
    if event is None or event.status != EventStatus.published:
        return None
    return event


async def _signed_up(ctx: Context, event: CommunityEvent, *, checked_in: bool) -> list[User]:
    query = (
        select(User)
        .join(EventSignup, col(EventSignup.user_id) == col(User.id))
        .where(col(EventSignup.event_id) == event.id)
        .where(col(EventSignup.status) == SignupStatus.attending)
        .order_by(col(EventSignup.id))
    )
    if checked_in:
        query = query.where(col(EventSignup.checked_in_at).is_not(None))
    return list(await ctx.session.exec(query))


@acts_on(Kind.event_remind)
async def _event_remind(ctx: Context) -> bool:
    event = await _event(ctx)
    if event is None or as_utc(event.starts_at) <= ctx.clock.now():
        return False
    facts = {**events_service.facts(event), "hours": ctx.payload.get("hours", 0)}
    await ctx.tell(await _signed_up(ctx, event, checked_in=False), "event_reminder", facts)
    return True


@acts_on(Kind.event_rate)
async def _event_rate(ctx: Context) -> bool:
    event = await _event(ctx)
    if event is None:
        return False
    attendees = [
        user
        for user in await _signed_up(ctx, event, checked_in=True)
        if not await events_service.has_rated(ctx.session, event, user)
    ]
    await ctx.tell(attendees, "event_rate_ask", events_service.facts(event))
    return True


@acts_on(Kind.visit_digest)
async def _visit_digest(ctx: Context) -> bool:
    now = ctx.clock.now()
    volunteers = await ctx.session.exec(
        select(User)
        .where(col(User.role) == Role.volunteer, col(User.active))
        .order_by(col(User.id))
    )
    for volunteer in list(volunteers):
        assert volunteer.id is not None
        due = [
            d
            for d in await cadence.volunteer_households(ctx.session, volunteer.id)
            if d.overdue(now)
        ]
        if not due:
            continue
        listed = [
            {
                "address": household_address(d.household),
                "head": d.household.head_name,
                "days": None if d.last_visit is None else (now - d.last_visit).days,
            }
            for d in due[: ctx.rules.digest_households]
        ]
        await ctx.tell(
            [volunteer], "followup_visit_digest", {"households": listed, "total": len(due)}
        )
    await _schedule_next(
        ctx.session, ctx.clock, Kind.visit_digest, max(now, ctx.row.due_at), ctx.rules
    )
    return True


@acts_on(Kind.event_digest)
async def _event_digest(ctx: Context) -> bool:
    now = ctx.clock.now()
    local = now.astimezone(ctx.rules.tz).date()
    saturday = local + timedelta(days=(5 - local.weekday()) % 7)
    start = datetime.combine(saturday, time(0, 0), tzinfo=ctx.rules.tz)
    end = start + timedelta(days=2)
    subscribers = await ctx.session.exec(
        select(User)
        .join(Subscription, col(Subscription.user_id) == col(User.id))
        .where(col(Subscription.topic) == events_service.TOPIC_WEEKEND)
        .order_by(col(User.id))
    )
    for user in list(subscribers):
        found = await events_service.between_for(ctx.session, user, start, end)
        if found:
            await ctx.tell(
                [user],
                "event_digest",
                {"events": [events_service.facts(e, left=left) for e, left in found]},
            )
    await _schedule_next(
        ctx.session, ctx.clock, Kind.event_digest, max(now, ctx.row.due_at), ctx.rules
    )
    return True


@acts_on(Kind.monthly_summary)
async def _monthly_summary(ctx: Context) -> bool:
    """Last month's figures (services.stats) to each coordinator, for their community."""
    now = ctx.clock.now()
    coordinators = await ctx.session.exec(
        select(User)
        .where(col(User.role) == Role.coordinator, col(User.active))
        .order_by(col(User.id))
    )
    summaries: dict[int, dict[str, Any]] = {}
    for coordinator in list(coordinators):
        community_id = coordinator.community_id
        if community_id is None:
            continue
        if community_id not in summaries:
            summary = await stats.monthly_summary(
                ctx.session, stats.Scope.community(community_id), now
            )
            summaries[community_id] = summary.to_payload()
        await ctx.tell([coordinator], "followup_monthly_summary", summaries[community_id])
    await _schedule_next(
        ctx.session, ctx.clock, Kind.monthly_summary, max(now, ctx.row.due_at), ctx.rules
    )
    return True


# ---------------------------------------------------------------- the sweep


def claim_statement(dialect: str, now: datetime, limit: int = 1) -> UpdateBase:
    """UPDATE follow_up SET status='claimed' WHERE id IN (the first due pending rows) RETURNING.

    PostgreSQL: the inner SELECT takes FOR UPDATE SKIP LOCKED, so concurrent sweeps never wait
    for nor share a row. SQLite: one writer at a time; the statement is atomic."""
    due = (
        select(FollowUp.id)
        .where(col(FollowUp.status) == FollowUpStatus.pending)
        .where(col(FollowUp.due_at) <= now)
        .order_by(col(FollowUp.due_at), col(FollowUp.id))
        .limit(limit)
    )
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return (
        update(FollowUp)
        .where(col(FollowUp.id).in_(due.scalar_subquery()))
        .where(col(FollowUp.status) == FollowUpStatus.pending)
        .values(
            status=FollowUpStatus.claimed,
            claimed_at=now,
            attempts=col(FollowUp.attempts) + 1,
        )
        .returning(FollowUp)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


async def claim_one(session: AsyncSession, clock: Clock) -> FollowUp | None:
    """Claim the first due row inside the caller's transaction (not committed here)."""
    result = await session.exec(claim_statement(_dialect(session), clock.now()))
    row: FollowUp | None = result.scalars().first()
    return row


@dataclass
class SweepReport:
    acted: int = 0  # the condition held: something was done
    skipped: int = 0  # the condition no longer held (e.g. already acknowledged)
    failed: int = 0  # the action raised: retried later, or cancelled after max_attempts
    messages: int = 0  # outbox rows queued
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def handled(self) -> int:
        return self.acted + self.skipped


async def _act(ctx: Context) -> bool:
    action = ACTIONS.get(ctx.row.kind)
    if action is None:
        raise LookupError(f"no action for follow-up kind {ctx.row.kind!r}")
    return await action(ctx)


async def _record_failure(
    session_factory: SessionFactory,
    clock: Clock,
    rules: FollowUpRules,
    row_id: int,
    error: BaseException,
) -> None:
    text = f"{type(error).__name__}: {error}"[:MAX_ERROR]
    async with session_factory() as session:
        row = await session.get(FollowUp, row_id)
        if row is None or row.status != FollowUpStatus.pending:
            return
        row.attempts += 1
        row.last_error = text
        if row.attempts >= rules.max_attempts:
            row.status = FollowUpStatus.cancelled
            row.done_at = clock.now()
            log.error("follow-up %s (%s) given up: %s", row_id, row.kind, text)
        else:
            row.due_at = clock.now() + rules.retry_after
        session.add(row)
        await session.commit()


async def sweep(
    session_factory: SessionFactory,
    clock: Clock,
    rules: FollowUpRules,
    *,
    limit: int = 1000,
    delay: float = 0.0,
    stopping: Callable[[], bool] = lambda: False,
) -> SweepReport:
    """Act on every due follow-up, one transaction each (claim, act, mark done, commit).

    `limit` bounds one sweep; `delay` (seconds, tests only) is slept inside each transaction
    before its commit, so that a test can kill the process in the middle of a sweep, and again
    after it (the other writers of an SQLite database get their turn); `stopping` is asked
    between rows."""
    report = SweepReport()
    async with session_factory() as session:
        await ensure_recurring(session, clock, rules)
        await session.commit()
    while report.handled + report.failed < limit and not stopping():
        row_id: int | None = None
        try:
            async with session_factory() as session:
                row = await claim_one(session, clock)
                if row is None:
                    await session.rollback()
                    break
                row_id = row.id
                ctx = Context(session, clock, rules, row, json.loads(row.payload or "{}"))
                acted = await _act(ctx)
                row.status = FollowUpStatus.done
                row.done_at = clock.now()
                session.add(row)
                await session.flush()
                if delay > 0:
                    await asyncio.sleep(delay)
                await session.commit()
        except Exception as error:
            if row_id is None:
                raise
            log.exception("follow-up %s failed", row_id)
            report.failed += 1
            await _record_failure(session_factory, clock, rules, row_id, error)
            continue
        if delay > 0:
            await asyncio.sleep(delay)
        if acted:
            report.acted += 1
        else:
            report.skipped += 1
        report.messages += ctx.sent
        report.kinds[row.kind] = report.kinds.get(row.kind, 0) + 1
    return report


async def pending(session: AsyncSession, kind: Kind | None = None) -> list[FollowUp]:
    """Pending follow-ups, soonest first (for inspection and tests)."""
    query = select(FollowUp).where(col(FollowUp.status) == FollowUpStatus.pending)
    if kind is not None:
        query = query.where(col(FollowUp.kind) == kind.value)
    return list(await session.exec(query.order_by(col(FollowUp.due_at), col(FollowUp.id))))
