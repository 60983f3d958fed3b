"""Tasks for volunteers: one mechanism for standalone work (/task) and dispatched tickets.

A coordinator gives a task to one volunteer, or to every volunteer of a grid: then the first to
accept takes it (a conditional UPDATE decides, so it holds on PostgreSQL too) and the others
are told. The volunteer accepts (接单), declines with a reason (无法处理) or completes it with a
note and an optional photo (完成); the coordinator confirms it or returns it.

A dispatched ticket's task (created by services.tickets.dispatch) is moved through the ticket:
接单 / 无法处理 / 已处理 are the ticket's take / decline / resolve, which keep the ticket's
table of moves and audit trail and carry the task along; the resident's confirmation, not the
coordinator's, ends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services import followups, tickets
from services.clock import SHANGHAI, Clock, as_utc
from services.errors import Refusal, ServiceError
from services.org import grids_of
from services.outbox import enqueue
from services.timeparse import parse_local_time
from storage.models import Grid, Role, Task, TaskEvent, TaskStatus, Ticket, User

T = TaskStatus
MAX_TEXT = 2000
MAX_NOTE = 1000
# A date typed without a time means the end of that working day.
DEFAULT_DUE_TIME = time(18, 0)
NO_DUE_WORDS = frozenset({"无", "没有", "不限", "不设", "不设期限", "无期限"})


class TaskAction(StrEnum):
    create = "create"
    take = "take"  # 接单
    decline = "decline"  # 无法处理
    complete = "complete"  # 完成 / 已处理
    confirm = "confirm"  # 确认
    give_back = "return"  # 退回
    cancel = "cancel"  # a dispatched ticket went back to the community untaken (issue 6)


# What each action may start from.
MOVES: dict[TaskAction, frozenset[TaskStatus]] = {
    TaskAction.take: frozenset({T.open}),
    TaskAction.decline: frozenset({T.open, T.taken, T.returned}),
    TaskAction.complete: frozenset({T.taken, T.returned}),
    TaskAction.confirm: frozenset({T.done}),
    TaskAction.give_back: frozenset({T.done}),
}
VOLUNTEER_OPEN = frozenset({T.open, T.taken, T.returned})


# ---------------------------------------------------------------- who may do what


def is_grid_task(task: Task) -> bool:
    return task.grid_id is not None


def manages(actor: User, task: Task) -> bool:
    return actor.role == Role.coordinator and actor.community_id == task.community_id


def _offered_to(actor: User, task: Task) -> bool:
    """A grid task is offered to every active volunteer of the grid."""
    return (
        is_grid_task(task)
        and actor.role == Role.volunteer
        and actor.active
        and actor.grid_id == task.grid_id
    )


def can_view(actor: User, task: Task) -> bool:
    return manages(actor, task) or task.assignee_id == actor.id or _offered_to(actor, task)


def _may(actor: User, task: Task, action: TaskAction) -> bool:
    if action in (TaskAction.confirm, TaskAction.give_back):
        return manages(actor, task) and task.ticket_id is None
    if action == TaskAction.complete:
        return task.assignee_id == actor.id
    # take / decline: the assignee, or any volunteer of the grid while nobody has taken it
    return task.assignee_id == actor.id or (task.assignee_id is None and _offered_to(actor, task))


def can_act(actor: User, task: Task, action: TaskAction) -> bool:
    """Whether to offer this action now (the move itself checks again)."""
    return task.status in MOVES[action] and _may(actor, task, action)


async def _load(session: AsyncSession, actor: User, task_id: int) -> Task:
    task = (
        await session.exec(
            select(Task).where(col(Task.id) == task_id).execution_options(populate_existing=True)
        )
    ).first()
    if task is None or not can_view(actor, task):
        # The same answer whether it does not exist or is someone else's.
        raise ServiceError(Refusal.task_unknown)
    return task


async def _name(session: AsyncSession, user_id: int | None) -> str:
    user = await session.get(User, user_id) if user_id else None
    return user.display_name if user else ""


async def _moved_on(
    session: AsyncSession, actor: User, task: Task, action: TaskAction
) -> ServiceError:
    """Why a move no longer applies: another volunteer of the grid has the task, or it has
    moved on."""
    taken_by_other = task.assignee_id is not None and task.assignee_id != actor.id
    if action in (TaskAction.take, TaskAction.decline) and taken_by_other:
        return ServiceError(
            Refusal.task_taken, task_id=task.id, name=await _name(session, task.assignee_id)
        )
    return ServiceError(Refusal.task_moved_on, task_id=task.id, task_status=task.status.value)


async def _load_for(session: AsyncSession, actor: User, task_id: int, action: TaskAction) -> Task:
    task = await _load(session, actor, task_id)
    if task.status not in MOVES[action]:
        raise await _moved_on(session, actor, task, action)
    if not _may(actor, task, action):
        if action in (TaskAction.take, TaskAction.decline) and _offered_to(actor, task):
            raise await _moved_on(session, actor, task, action)
        raise ServiceError(Refusal.not_allowed)
    return task


async def check_allowed(
    session: AsyncSession, actor: User, task_id: int, action: TaskAction
) -> Task:
    """Refuse now, before asking for a reason or a note, what the move would refuse later."""
    return await _load_for(session, actor, task_id, action)


# ---------------------------------------------------------------- trail and notices


async def _event(
    session: AsyncSession,
    clock: Clock,
    task: Task,
    actor: User | None,
    action: TaskAction,
    note: str = "",
) -> str:
    """Record one step; returns a key unique to it (for the notices it causes)."""
    assert task.id is not None
    session.add(
        TaskEvent(
            task_id=task.id,
            at=clock.now(),
            actor_id=actor.id if actor else None,
            action=action.value,
            note=note[:1000],
        )
    )
    await session.flush()
    count = (
        await session.exec(
            select(func.count()).select_from(TaskEvent).where(col(TaskEvent.task_id) == task.id)
        )
    ).one()
    return f"task{task.id}:e{count}"


def _excerpt(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _facts(session: AsyncSession, task: Task, **extra: Any) -> dict[str, Any]:
    grid = await session.get(Grid, task.grid_id) if task.grid_id else None
    return {
        "task_id": task.id,
        "text": _excerpt(task.text),
        "due": as_utc(task.due_at).isoformat() if task.due_at else None,
        "creator": await _name(session, task.created_by),
        "grid": grid.name if grid else "",
        **extra,
    }


async def _notify(
    session: AsyncSession,
    clock: Clock,
    followup_rules: followups.FollowUpRules,
    users: list[User],
    kind: str,
    task: Task,
    key: str,
    **extra: Any,
) -> None:
    payload = await _facts(session, task, **extra)
    for user in users:
        if user.id is None or not user.active:
            continue
        await enqueue(
            session,
            clock,
            chat_id=user.chat_id,
            user_id=user.id,
            kind=kind,
            payload=payload,
            key=f"{key}:{kind}:u{user.id}",
            # Quiet hours (issue 6): a task's notice waits for the morning.
            not_before=followups.quiet_release(clock.now(), followup_rules),
        )


async def _grid_volunteers(session: AsyncSession, grid_id: int) -> list[User]:
    rows = await session.exec(
        select(User)
        .where(col(User.role) == Role.volunteer, col(User.grid_id) == grid_id, col(User.active))
        .order_by(col(User.id))
    )
    return list(rows)


async def _people(session: AsyncSession, *ids: int | None) -> list[User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return []
    return list(await session.exec(select(User).where(col(User.id).in_(wanted))))


# ---------------------------------------------------------------- creating


@dataclass(frozen=True)
class TargetOption:
    kind: str  # "grid" | "volunteer"
    id: int
    name: str
    grid: str = ""  # a volunteer's grid
    volunteers: int = 0  # a grid's volunteers


def _require_coordinator(actor: User) -> int:
    if actor.role != Role.coordinator or actor.community_id is None:
        raise ServiceError(Refusal.not_allowed)
    return actor.community_id


def clean_text(actor: User, text: str) -> str:
    """The task's words, as a coordinator types them."""
    _require_coordinator(actor)
    text = text.strip()
    if not text:
        raise ServiceError(Refusal.empty_text)
    if len(text) > MAX_TEXT:
        raise ServiceError(Refusal.text_too_long, limit=MAX_TEXT)
    return text


def parse_due(clock: Clock, text: str, tz: ZoneInfo = SHANGHAI) -> datetime | None:
    """The due time a coordinator typed: None for "无" (no due time); refused when it is
    not understood or already past."""
    if text.strip() in NO_DUE_WORDS:
        return None
    now = clock.now()
    due = parse_local_time(text, now, tz, default_time=DEFAULT_DUE_TIME)
    if due is None:
        raise ServiceError(Refusal.time_not_understood)
    if due <= now:
        raise ServiceError(Refusal.time_in_past)
    return due


async def targets(session: AsyncSession, actor: User) -> list[TargetOption]:
    """Whom a coordinator may give a task: a grid of the community (all its volunteers), or
    one volunteer of the community."""
    community_id = _require_coordinator(actor)
    grids = await grids_of(session, community_id)
    grid_names = {g.id: g.name for g in grids}
    options: list[TargetOption] = []
    for grid in grids:
        assert grid.id is not None
        options.append(
            TargetOption(
                "grid", grid.id, grid.name, volunteers=len(await _grid_volunteers(session, grid.id))
            )
        )
    volunteers = await session.exec(
        select(User)
        .where(
            col(User.role) == Role.volunteer,
            col(User.community_id) == community_id,
            col(User.active),
        )
        .order_by(col(User.grid_id), col(User.id))
    )
    for v in volunteers:
        assert v.id is not None
        options.append(
            TargetOption("volunteer", v.id, v.display_name, grid_names.get(v.grid_id, ""))
        )
    return options


async def _create(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    text: str,
    due_at: datetime | None,
    *,
    grid_id: int | None = None,
    volunteer_id: int | None = None,
    followup_rules: followups.FollowUpRules,
) -> Task:
    """A coordinator's task, to every volunteer of one grid or to one volunteer."""
    community_id = _require_coordinator(actor)
    text = clean_text(actor, text)
    now = clock.now()
    if due_at is not None and as_utc(due_at) <= now:
        raise ServiceError(Refusal.time_in_past)
    if (grid_id is None) == (volunteer_id is None):
        raise ServiceError(Refusal.not_allowed)
    recipients: list[User]
    if grid_id is not None:
        grid = await session.get(Grid, grid_id)
        if grid is None or grid.community_id != community_id:
            raise ServiceError(Refusal.unknown_grid)
        recipients = await _grid_volunteers(session, grid_id)
    else:
        volunteer = await session.get(User, volunteer_id)
        if (
            volunteer is None
            or volunteer.role != Role.volunteer
            or not volunteer.active
            or volunteer.community_id != community_id
        ):
            raise ServiceError(Refusal.unknown_volunteer)
        recipients = [volunteer]
    assert actor.id is not None
    task = Task(
        community_id=community_id,
        grid_id=grid_id,
        text=text,
        due_at=as_utc(due_at) if due_at else None,
        status=T.open,
        assignee_id=volunteer_id,
        created_by=actor.id,
        created_at=now,
    )
    session.add(task)
    await session.flush()
    key = await _event(session, clock, task, actor, TaskAction.create)
    await _notify(session, clock, followup_rules, recipients, "task_offer", task, key)
    return task


# ---------------------------------------------------------------- the volunteer's moves


async def _accept(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    task_id: int,
    *,
    followup_rules: followups.FollowUpRules,
) -> Task:
    """接单. For a grid task, exactly one volunteer wins; the others are told."""
    task = await _load_for(session, actor, task_id, TaskAction.take)
    if task.ticket_id is not None:
        await tickets.take(
            session, clock, actor, task.ticket_id, followup_rules=followup_rules
        )  # carries the task along
        await session.refresh(task)
        return task
    now = clock.now()
    taken = await session.exec(
        update(Task)
        .where(
            col(Task.id) == task_id,
            col(Task.status) == T.open,
            or_(col(Task.assignee_id).is_(None), col(Task.assignee_id) == actor.id),
        )
        .values(status=T.taken, assignee_id=actor.id, taken_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(task)
    if taken.rowcount != 1:
        raise await _moved_on(session, actor, task, TaskAction.take)
    key = await _event(session, clock, task, actor, TaskAction.take)
    creator = await _people(session, task.created_by)
    await _notify(
        session,
        clock,
        followup_rules,
        creator,
        "task_accepted",
        task,
        key,
        volunteer=actor.display_name,
    )
    if task.grid_id is not None:
        others = [v for v in await _grid_volunteers(session, task.grid_id) if v.id != actor.id]
        await _notify(
            session,
            clock,
            followup_rules,
            others,
            "task_taken",
            task,
            key,
            volunteer=actor.display_name,
        )
    return task


async def _decline(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    task_id: int,
    reason: str,
    *,
    followup_rules: followups.FollowUpRules,
) -> Task:
    """无法处理, with a reason for the coordinator. A grid task stays open for the others."""
    task = await _load_for(session, actor, task_id, TaskAction.decline)
    reason = reason.strip()
    if not reason:
        raise ServiceError(Refusal.empty_text)
    reason = reason[:MAX_NOTE]
    if task.ticket_id is not None:
        await tickets.decline(
            session, clock, actor, task.ticket_id, reason, followup_rules=followup_rules
        )
        await session.refresh(task)
        return task
    reoffer = False
    if task.grid_id is None:
        task.status = T.cancelled
    elif task.assignee_id == actor.id:
        task.status, task.assignee_id, task.taken_at = T.open, None, None
        reoffer = True
    session.add(task)
    key = await _event(session, clock, task, actor, TaskAction.decline, reason)
    creator = await _people(session, task.created_by)
    await _notify(
        session,
        clock,
        followup_rules,
        creator,
        "task_declined",
        task,
        key,
        volunteer=actor.display_name,
        reason=reason,
    )
    if reoffer and task.grid_id is not None:
        others = [v for v in await _grid_volunteers(session, task.grid_id) if v.id != actor.id]
        await _notify(session, clock, followup_rules, others, "task_offer", task, key)
    return task


async def _complete(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    task_id: int,
    note: str,
    photo_file_id: str | None = None,
    *,
    followup_rules: followups.FollowUpRules,
) -> Task:
    """完成 (已处理 for a ticket): the coordinator is asked to confirm (for a ticket, the
    resident)."""
    task = await _load_for(session, actor, task_id, TaskAction.complete)
    if task.ticket_id is not None:
        await tickets.resolve(
            session,
            clock,
            actor,
            task.ticket_id,
            note,
            photo_file_id,
            followup_rules=followup_rules,
        )
        await session.refresh(task)
        task.result_photo_file_id = photo_file_id
        session.add(task)
        await session.flush()
        return task
    note = note.strip()
    if not note:
        raise ServiceError(Refusal.empty_text)
    task.status, task.done_at = T.done, clock.now()
    task.result_note, task.result_photo_file_id = note[:MAX_NOTE], photo_file_id
    session.add(task)
    key = await _event(session, clock, task, actor, TaskAction.complete, task.result_note)
    creator = await _people(session, task.created_by)
    await _notify(
        session,
        clock,
        followup_rules,
        creator,
        "task_done",
        task,
        key,
        volunteer=actor.display_name,
        note=task.result_note,
        photo=photo_file_id,
    )
    return task


# ---------------------------------------------------------------- the coordinator's moves


async def _confirm(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    task_id: int,
    *,
    followup_rules: followups.FollowUpRules,
) -> Task:
    task = await _load_for(session, actor, task_id, TaskAction.confirm)
    task.status, task.confirmed_at = T.confirmed, clock.now()
    session.add(task)
    key = await _event(session, clock, task, actor, TaskAction.confirm)
    await _notify(
        session,
        clock,
        followup_rules,
        await _people(session, task.assignee_id),
        "task_confirmed",
        task,
        key,
    )
    return task


async def _give_back(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    task_id: int,
    reason: str,
    *,
    followup_rules: followups.FollowUpRules,
) -> Task:
    """退回: back to the volunteer, with what is still missing."""
    task = await _load_for(session, actor, task_id, TaskAction.give_back)
    reason = reason.strip()
    if not reason:
        raise ServiceError(Refusal.empty_text)
    task.status, task.done_at = T.returned, None
    session.add(task)
    key = await _event(session, clock, task, actor, TaskAction.give_back, reason[:MAX_NOTE])
    await _notify(
        session,
        clock,
        followup_rules,
        await _people(session, task.assignee_id),
        "task_returned",
        task,
        key,
        reason=reason[:MAX_NOTE],
    )
    return task


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class TaskLine:
    at: datetime
    actor: str
    action: str
    note: str


@dataclass(frozen=True)
class TaskView:
    task: Task
    creator: str = ""
    assignee: str = ""
    grid: str = ""
    ticket_number: str = ""
    history: list[TaskLine] = field(default_factory=list)


async def view(session: AsyncSession, actor: User, task_id: int) -> TaskView:
    task = await _load(session, actor, task_id)
    return await _view(session, task)


async def _view(session: AsyncSession, task: Task) -> TaskView:
    events = list(
        await session.exec(
            select(TaskEvent).where(col(TaskEvent.task_id) == task.id).order_by(col(TaskEvent.id))
        )
    )
    names = {u.id: u.display_name for u in await _people(session, *(e.actor_id for e in events))}
    grid = await session.get(Grid, task.grid_id) if task.grid_id else None
    ticket = await session.get(Ticket, task.ticket_id) if task.ticket_id else None
    return TaskView(
        task=task,
        creator=await _name(session, task.created_by),
        assignee=await _name(session, task.assignee_id),
        grid=grid.name if grid else "",
        ticket_number=ticket.number if ticket else "",
        history=[
            TaskLine(as_utc(e.at), names.get(e.actor_id, "系统"), e.action, e.note) for e in events
        ],
    )


def _due_order(task: Task) -> tuple[bool, float, int]:
    return (
        task.due_at is None,
        as_utc(task.due_at).timestamp() if task.due_at else 0.0,
        task.id or 0,
    )


async def mine(session: AsyncSession, actor: User) -> list[Task]:
    """A volunteer's /tasks: theirs not yet done, and the open tasks of their grid; the
    earliest due first."""
    if actor.role != Role.volunteer:
        raise ServiceError(Refusal.not_allowed)
    conditions = [(col(Task.assignee_id) == actor.id) & col(Task.status).in_(VOLUNTEER_OPEN)]
    if actor.grid_id is not None:
        conditions.append(
            (col(Task.grid_id) == actor.grid_id)
            & col(Task.assignee_id).is_(None)
            & (col(Task.status) == T.open)
        )
    rows = await session.exec(select(Task).where(or_(*conditions)))
    return sorted(rows, key=_due_order)


BOARD_LIMIT = 30


async def board(session: AsyncSession, actor: User) -> list[Task]:
    """A coordinator's task board: done and waiting for confirmation first, then the
    unfinished ones, the earliest due first."""
    community_id = _require_coordinator(actor)
    rows = await session.exec(
        select(Task).where(
            col(Task.community_id) == community_id,
            or_(
                col(Task.status).in_(VOLUNTEER_OPEN),
                (col(Task.status) == T.done) & col(Task.ticket_id).is_(None),
            ),
        )
    )
    tasks = sorted(rows, key=lambda t: (t.status != T.done, *_due_order(t)))
    return tasks[:BOARD_LIMIT]


# ---------------------------------------------------------------- the moves, as handlers call them
# Each returns the task with what is shown about it.


async def create(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    text: str,
    due_at: datetime | None,
    *,
    grid_id: int | None = None,
    volunteer_id: int | None = None,
    followup_rules: followups.FollowUpRules,
) -> TaskView:
    task = await _create(
        session,
        clock,
        actor,
        text,
        due_at,
        grid_id=grid_id,
        volunteer_id=volunteer_id,
        followup_rules=followup_rules,
    )
    await followups.task_assigned(session, clock, task, followup_rules)
    return await _view(session, task)


async def accept(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    task_id: int,
    *,
    followup_rules: followups.FollowUpRules,
) -> TaskView:
    task = await _accept(session, clock, actor, task_id, followup_rules=followup_rules)
    return await _view(session, task)


async def decline(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    task_id: int,
    reason: str,
    *,
    followup_rules: followups.FollowUpRules,
) -> TaskView:
    task = await _decline(session, clock, actor, task_id, reason, followup_rules=followup_rules)
    return await _view(session, task)


async def complete(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    task_id: int,
    note: str,
    photo_file_id: str | None = None,
    *,
    followup_rules: followups.FollowUpRules,
) -> TaskView:
    task = await _complete(
        session, clock, actor, task_id, note, photo_file_id, followup_rules=followup_rules
    )
    return await _view(session, task)


async def confirm(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    task_id: int,
    *,
    followup_rules: followups.FollowUpRules,
) -> TaskView:
    task = await _confirm(session, clock, actor, task_id, followup_rules=followup_rules)
    return await _view(session, task)


async def give_back(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    task_id: int,
    reason: str,
    *,
    followup_rules: followups.FollowUpRules,
) -> TaskView:
    task = await _give_back(session, clock, actor, task_id, reason, followup_rules=followup_rules)
    return await _view(session, task)
