"""Tickets: the closed loop from a resident's report to their confirmation (对账销号).

Every status change goes through `_move`, which checks the one table of allowed moves, who may
make it, writes the audit trail and queues the notifications. A forged or stale request is
refused with nothing changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from nlp.classifier import Classifier
from nlp.taxonomy import UNSURE, is_category
from services import followups
from services.clock import SHANGHAI, Clock
from services.errors import Refusal, ServiceError
from services.org import Page, household_address
from services.outbox import enqueue
from storage.models import (
    Community,
    Grid,
    Household,
    NlpCorrection,
    Rating,
    Role,
    Task,
    TaskEvent,
    TaskStatus,
    Ticket,
    TicketEvent,
    TicketPhoto,
    TicketStatus,
    User,
    VolunteerHousehold,
)

S = TicketStatus
MAX_TEXT = 2000
INBOX_PAGE = 6


class Action(StrEnum):
    report = "report"
    accept = "accept"  # 受理
    dispatch = "dispatch"  # 派单
    take = "take"  # 接单
    decline = "decline"  # 无法处理
    resolve = "resolve"  # 已处理
    confirm = "confirm"  # 已解决
    unresolved = "unresolved"  # 未解决
    rate = "rate"  # 满意 / 基本满意 / 不满意
    reopen = "reopen"  # 不满意 after closing
    comment = "comment"  # the resident's optional words with the rating
    escalate = "escalate"  # 转办街道
    refuse = "refuse"  # 不予受理
    merge = "merge"  # 合并 → 重复
    recategorize = "recategorize"  # 改分类
    attach = "attach"
    timeout_close = "timeout_close"  # issue 6: no answer in 7 days
    supervise = "supervise"  # issue 6: 督办, nobody acknowledged an urgent ticket in time
    untaken = "untaken"  # issue 6: the volunteer did not take it in time, back to the community


OPEN = frozenset({S.new, S.accepted, S.dispatched, S.in_progress, S.reopened, S.escalated})
HANDLING = frozenset({S.new, S.accepted, S.reopened, S.escalated})

# The allowed moves: action → (statuses it may start from, the status it leads to).
# Actions that change no status (rate, recategorize, attach) map to None.
MOVES: dict[Action, tuple[frozenset[TicketStatus], TicketStatus | None]] = {
    Action.accept: (frozenset({S.new, S.reopened, S.escalated}), S.accepted),
    Action.dispatch: (HANDLING, S.dispatched),
    Action.take: (frozenset({S.dispatched}), S.in_progress),
    Action.decline: (frozenset({S.dispatched}), S.accepted),
    Action.resolve: (frozenset({S.accepted, S.dispatched, S.in_progress}), S.awaiting_confirmation),
    Action.confirm: (frozenset({S.awaiting_confirmation}), S.closed),
    Action.unresolved: (frozenset({S.awaiting_confirmation}), S.reopened),
    Action.escalate: (frozenset({S.new, S.accepted, S.reopened}), S.escalated),
    Action.refuse: (HANDLING, S.rejected),
    Action.merge: (frozenset({S.new, S.accepted}), S.duplicate),
    Action.timeout_close: (frozenset({S.awaiting_confirmation}), S.closed),
    Action.supervise: (frozenset({S.new}), None),
    Action.untaken: (frozenset({S.dispatched}), S.accepted),
    Action.reopen: (frozenset({S.closed}), S.reopened),
    Action.rate: (frozenset({S.closed}), None),
    Action.comment: (frozenset({S.closed, S.reopened}), None),
    Action.recategorize: (OPEN, None),
    Action.attach: (frozenset({S.new, S.accepted}), None),
}


@dataclass(frozen=True)
class TicketRules:
    urgent_response: timedelta = timedelta(hours=2)
    normal_response: timedelta = timedelta(hours=24)
    attach_window: timedelta = timedelta(minutes=10)
    max_photos: int = 3
    duplicate_window: timedelta = timedelta(days=7)


# ---------------------------------------------------------------- authorization


def manages(actor: User, ticket: Ticket) -> bool:
    """Coordinators manage their community's tickets; admins their street's (or all)."""
    if actor.role == Role.coordinator:
        return actor.community_id == ticket.community_id
    if actor.role == Role.admin:
        return actor.street_id is None or actor.street_id == ticket.street_id
    return False


def confirmer_id(ticket: Ticket) -> int:
    """Who confirms the result: the resident, or the volunteer who reported for a household."""
    return ticket.resident_id or ticket.reporter_id


async def _volunteer_households(session: AsyncSession, volunteer_id: int) -> set[int]:
    rows = await session.exec(
        select(VolunteerHousehold.household_id).where(
            col(VolunteerHousehold.volunteer_id) == volunteer_id
        )
    )
    return set(rows)


async def can_view(session: AsyncSession, actor: User, ticket: Ticket) -> bool:
    if manages(actor, ticket):
        return True
    if actor.id in (ticket.reporter_id, ticket.resident_id):
        return True
    if actor.role == Role.volunteer:
        if ticket.assignee_id == actor.id:
            return True
        assert actor.id is not None
        return ticket.household_id in await _volunteer_households(session, actor.id)
    return False


def _may(actor: User, ticket: Ticket, action: Action) -> bool:
    if action in (Action.take, Action.decline):
        return ticket.assignee_id == actor.id
    if action == Action.resolve:
        return ticket.assignee_id == actor.id or manages(actor, ticket)
    if action in (Action.confirm, Action.unresolved, Action.rate, Action.reopen, Action.comment):
        return actor.id == confirmer_id(ticket)
    if action == Action.recategorize:
        return manages(actor, ticket) or (actor.id == ticket.reporter_id and ticket.status == S.new)
    if action == Action.attach:
        return actor.id == ticket.reporter_id
    if action == Action.escalate:
        return actor.role == Role.coordinator and manages(actor, ticket)
    return manages(actor, ticket)


def can_act(actor: User, ticket: Ticket, action: Action) -> bool:
    """Whether to offer this action now (the move itself checks again)."""
    return ticket.status in MOVES[action][0] and _may(actor, ticket, action)


async def get_ticket(session: AsyncSession, actor: User, ticket_id: int) -> Ticket:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or not await can_view(session, actor, ticket):
        # The same answer whether it does not exist or is someone else's.
        raise ServiceError(Refusal.ticket_unknown)
    return ticket


# ---------------------------------------------------------------- notifications


def _excerpt(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _facts(ticket: Ticket, **extra: Any) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "number": ticket.number,
        "category": ticket.category,
        "urgent": ticket.urgent,
        "status": ticket.status.value,
        "text": _excerpt(ticket.text),
        **extra,
    }


async def _notify(
    session: AsyncSession,
    clock: Clock,
    followup_rules: followups.FollowUpRules,
    users: Iterable[User],
    kind: str,
    ticket: Ticket,
    key: str,
    **extra: Any,
) -> None:
    for user in users:
        if user.id is None or not user.active:
            continue
        await enqueue(
            session,
            clock,
            chat_id=user.chat_id,
            user_id=user.id,
            kind=kind,
            payload=_facts(ticket, **extra),
            key=f"{key}:u{user.id}",
            priority=0 if ticket.urgent else 5,
            # Quiet hours (issue 6): a non-urgent notice waits for the morning.
            not_before=(
                None if ticket.urgent else followups.quiet_release(clock.now(), followup_rules)
            ),
        )


async def _coordinators(session: AsyncSession, community_id: int) -> list[User]:
    rows = await session.exec(
        select(User).where(
            col(User.role) == Role.coordinator,
            col(User.community_id) == community_id,
            col(User.active),
        )
    )
    return list(rows)


async def _street_admins(session: AsyncSession, street_id: int) -> list[User]:
    rows = await session.exec(
        select(User).where(
            col(User.role) == Role.admin,
            or_(col(User.street_id) == street_id, col(User.street_id).is_(None)),
            col(User.active),
        )
    )
    return list(rows)


async def _people(session: AsyncSession, ids: Iterable[int | None]) -> list[User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return []
    return list(await session.exec(select(User).where(col(User.id).in_(wanted))))


# ---------------------------------------------------------------- intake


async def _next_number(session: AsyncSession, moment: datetime) -> str:
    prefix = "GS" + moment.astimezone(SHANGHAI).strftime("%Y%m%d") + "-"
    last = (
        await session.exec(
            select(func.max(Ticket.number)).where(col(Ticket.number).startswith(prefix))
        )
    ).one()
    sequence = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{sequence:04d}"


async def _event(
    session: AsyncSession,
    clock: Clock,
    ticket: Ticket,
    actor: User | None,
    action: Action,
    before: TicketStatus | None,
    note: str = "",
) -> None:
    assert ticket.id is not None
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=clock.now(),
            actor_id=actor.id if actor else None,
            action=action.value,
            from_status=before,
            to_status=ticket.status if before != ticket.status or before is None else None,
            note=note[:1000],
        )
    )


def _clean_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise ServiceError(Refusal.empty_text)
    if len(text) > MAX_TEXT:
        raise ServiceError(Refusal.text_too_long, limit=MAX_TEXT)
    return text


async def report(
    session: AsyncSession,
    clock: Clock,
    classifier: Classifier,
    actor: User,
    text: str,
    *,
    household_id: int | None = None,
    rules: TicketRules | None = None,
    followup_rules: followups.FollowUpRules,
) -> Ticket:
    """A need becomes a ticket: a resident's own, or a volunteer's for one of their households."""
    rules = rules or TicketRules()
    text = _clean_text(text)
    household: Household | None = None
    resident_id: int | None = None
    if actor.role == Role.volunteer:
        assert actor.id is not None
        if household_id is None or household_id not in await _volunteer_households(
            session, actor.id
        ):
            raise ServiceError(Refusal.not_your_household)
        household = await session.get(Household, household_id)
        resident = (
            await session.exec(
                select(User).where(
                    col(User.household_id) == household_id, col(User.role) == Role.resident
                )
            )
        ).first()
        resident_id = resident.id if resident else None
    elif actor.role == Role.resident:
        if actor.community_id is None or actor.street_id is None:
            raise ServiceError(Refusal.no_community)
        resident_id = actor.id
        if actor.household_id is not None:
            household = await session.get(Household, actor.household_id)
    else:
        raise ServiceError(Refusal.not_allowed)

    if household is not None:
        grid = await session.get(Grid, household.grid_id)
        assert grid is not None
        community = await session.get(Community, grid.community_id)
        assert community is not None and community.id is not None
        street_id, community_id, grid_id = community.street_id, community.id, grid.id
    else:
        assert actor.street_id is not None and actor.community_id is not None
        street_id, community_id, grid_id = actor.street_id, actor.community_id, actor.grid_id

    result = classifier.classify(text)
    now = clock.now()
    assert actor.id is not None
    ticket = Ticket(
        number="",
        reporter_id=actor.id,
        resident_id=resident_id,
        household_id=household.id if household else None,
        street_id=street_id,
        community_id=community_id,
        grid_id=grid_id,
        text=text,
        category=result.category,
        urgent=bool(result.urgent),
        confidence=float(result.confidence),
        keywords=";".join(result.keywords)[:300],
        urgent_cue=(result.urgent_cue or "")[:40],
        created_at=now,
        respond_by=now + (rules.urgent_response if result.urgent else rules.normal_response),
    )
    for _ in range(5):  # two reports in the same instant may race for a number
        ticket.number = await _next_number(session, now)
        try:
            async with session.begin_nested():
                session.add(ticket)
        except IntegrityError:
            continue
        break
    else:
        raise RuntimeError("could not allocate a ticket number")
    await _event(session, clock, ticket, actor, Action.report, None)
    if ticket.urgent:
        coordinators = await _coordinators(session, community_id)
        await _notify(
            session,
            clock,
            followup_rules,
            coordinators,
            "ticket_urgent",
            ticket,
            f"t{ticket.id}:urgent",
        )
    await session.flush()
    await followups.ticket_reported(session, clock, ticket, followup_rules)
    return ticket


async def attach_photo(
    session: AsyncSession, clock: Clock, actor: User, file_id: str, rules: TicketRules | None = None
) -> tuple[Ticket, int]:
    """A photo sent right after a report joins that report (at most `max_photos`)."""
    rules = rules or TicketRules()
    ticket = await _recent_report(session, clock, actor, rules)
    assert ticket.id is not None and actor.id is not None
    count = (
        await session.exec(
            select(func.count())
            .select_from(TicketPhoto)
            .where(col(TicketPhoto.ticket_id) == ticket.id, col(TicketPhoto.stage) == "report")
        )
    ).one()
    if count >= rules.max_photos:
        raise ServiceError(Refusal.too_many_photos, limit=rules.max_photos, number=ticket.number)
    session.add(
        TicketPhoto(ticket_id=ticket.id, file_id=file_id, added_by=actor.id, created_at=clock.now())
    )
    await _event(session, clock, ticket, actor, Action.attach, ticket.status, "照片")
    await session.flush()
    return ticket, count + 1


async def attach_location(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    latitude: float,
    longitude: float,
    rules: TicketRules | None = None,
) -> Ticket:
    ticket = await _recent_report(session, clock, actor, rules or TicketRules())
    ticket.latitude, ticket.longitude = latitude, longitude
    session.add(ticket)
    await _event(session, clock, ticket, actor, Action.attach, ticket.status, "位置")
    await session.flush()
    return ticket


async def _recent_report(
    session: AsyncSession, clock: Clock, actor: User, rules: TicketRules
) -> Ticket:
    ticket = (
        await session.exec(
            select(Ticket)
            .where(
                col(Ticket.reporter_id) == actor.id,
                col(Ticket.created_at) >= clock.now() - rules.attach_window,
                col(Ticket.status).in_(MOVES[Action.attach][0]),
            )
            .order_by(col(Ticket.id).desc())
        )
    ).first()
    if ticket is None:
        raise ServiceError(Refusal.nothing_to_attach)
    return ticket


# ---------------------------------------------------------------- moves


async def _load_for(session: AsyncSession, actor: User, ticket_id: int, action: Action) -> Ticket:
    """The ticket, if this actor may take this action on it in its current status."""
    ticket = (
        await session.exec(select(Ticket).where(col(Ticket.id) == ticket_id).with_for_update())
    ).first()
    if ticket is None or not await can_view(session, actor, ticket):
        raise ServiceError(Refusal.ticket_unknown)
    if not _may(actor, ticket, action):
        raise ServiceError(Refusal.not_allowed)
    if ticket.status not in MOVES[action][0]:
        raise ServiceError(
            Refusal.ticket_moved_on, number=ticket.number, status=ticket.status.value
        )
    return ticket


async def check_allowed(session: AsyncSession, actor: User, ticket_id: int, action: Action) -> None:
    """Refuse now, before asking for a reason or a note, what the move would refuse later."""
    await _load_for(session, actor, ticket_id, action)


ACKNOWLEDGING = frozenset(
    {Action.accept, Action.dispatch, Action.escalate, Action.refuse, Action.merge}
)


async def _move(
    session: AsyncSession,
    clock: Clock,
    actor: User | None,
    ticket: Ticket,
    action: Action,
    note: str = "",
) -> str:
    """Apply one allowed move and record it; returns a key unique to this change."""
    before = ticket.status
    target = MOVES[action][1]
    if target is not None:
        ticket.status = target
    if ticket.acknowledged_at is None and action in ACKNOWLEDGING:
        ticket.acknowledged_at = clock.now()
    session.add(ticket)
    await _event(session, clock, ticket, actor, action, before, note)
    await _follow_task(session, clock, ticket, actor, action, note)
    await session.flush()
    events = (
        await session.exec(
            select(func.count())
            .select_from(TicketEvent)
            .where(col(TicketEvent.ticket_id) == ticket.id)
        )
    ).one()
    return f"t{ticket.id}:e{events}"


# ---------------------------------------------------------------- the dispatched ticket's task

# Dispatching a ticket gives the volunteer a Task (services/tasks.py); the volunteer's moves on
# the ticket carry the task along, with the task's own trail (the names of services.tasks).
TASK_ACTIVE = frozenset({TaskStatus.open, TaskStatus.taken, TaskStatus.returned})
_TASK_FOLLOWS: dict[Action, tuple[TaskStatus, str]] = {
    Action.take: (TaskStatus.taken, "take"),
    Action.decline: (TaskStatus.cancelled, "decline"),
    Action.resolve: (TaskStatus.done, "complete"),
    Action.untaken: (TaskStatus.cancelled, "cancel"),
}


async def _open_task(
    session: AsyncSession, clock: Clock, actor: User, ticket: Ticket, volunteer: User
) -> Task:
    assert ticket.id is not None and actor.id is not None
    now = clock.now()
    task = Task(
        community_id=ticket.community_id,
        ticket_id=ticket.id,
        text=ticket.text[:2000],
        status=TaskStatus.open,
        assignee_id=volunteer.id,
        created_by=actor.id,
        created_at=now,
    )
    session.add(task)
    await session.flush()
    assert task.id is not None
    session.add(TaskEvent(task_id=task.id, at=now, actor_id=actor.id, action="create"))
    return task


async def _follow_task(
    session: AsyncSession,
    clock: Clock,
    ticket: Ticket,
    actor: User | None,
    action: Action,
    note: str,
) -> None:
    follow = _TASK_FOLLOWS.get(action)
    if follow is None:
        return
    task = (
        await session.exec(
            select(Task)
            .where(col(Task.ticket_id) == ticket.id, col(Task.status).in_(TASK_ACTIVE))
            .order_by(col(Task.id).desc())
        )
    ).first()
    if task is None or task.id is None:
        return
    status, name = follow
    now = clock.now()
    task.status = status
    if status == TaskStatus.taken:
        task.taken_at = now
    elif status == TaskStatus.done:
        task.done_at, task.result_note = now, note[:1000]
    session.add(task)
    session.add(
        TaskEvent(
            task_id=task.id,
            at=now,
            actor_id=actor.id if actor else None,
            action=name,
            note=note[:1000],
        )
    )


async def _tell_reporter(
    session: AsyncSession,
    clock: Clock,
    followup_rules: followups.FollowUpRules,
    ticket: Ticket,
    key: str,
    **extra: Any,
) -> None:
    """Each status change reaches the reporter (and the resident) in one short message;
    the one who confirms is asked with buttons when the ticket awaits confirmation."""
    asking = ticket.status == S.awaiting_confirmation
    for person in await _people(session, [ticket.reporter_id, ticket.resident_id]):
        kind = "ticket_confirm" if asking and person.id == confirmer_id(ticket) else "ticket_status"
        await _notify(session, clock, followup_rules, [person], kind, ticket, key, **extra)


async def accept(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    ticket_id: int,
    *,
    followup_rules: followups.FollowUpRules,
) -> Ticket:
    ticket = await _load_for(session, actor, ticket_id, Action.accept)
    key = await _move(session, clock, actor, ticket, Action.accept)
    await _tell_reporter(session, clock, followup_rules, ticket, key)
    return ticket


async def dispatch(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    ticket_id: int,
    volunteer_id: int,
    *,
    followup_rules: followups.FollowUpRules,
) -> Ticket:
    ticket = await _load_for(session, actor, ticket_id, Action.dispatch)
    volunteer = await session.get(User, volunteer_id)
    if (
        volunteer is None
        or volunteer.role != Role.volunteer
        or not volunteer.active
        or volunteer.community_id != ticket.community_id
    ):
        raise ServiceError(Refusal.unknown_volunteer)
    ticket.assignee_id = volunteer.id
    key = await _move(session, clock, actor, ticket, Action.dispatch, volunteer.display_name)
    task = await _open_task(session, clock, actor, ticket, volunteer)
    await _tell_reporter(session, clock, followup_rules, ticket, key)
    address = await _address(session, ticket)
    await _notify(
        session,
        clock,
        followup_rules,
        [volunteer],
        "ticket_dispatched",
        ticket,
        key,
        address=address,
        task_id=task.id,
    )
    await followups.ticket_dispatched(session, clock, ticket, followup_rules)
    return ticket


async def take(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    ticket_id: int,
    *,
    followup_rules: followups.FollowUpRules,
) -> Ticket:
    ticket = await _load_for(session, actor, ticket_id, Action.take)
    key = await _move(session, clock, actor, ticket, Action.take)
    await _tell_reporter(session, clock, followup_rules, ticket, key)
    return ticket


async def decline(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    ticket_id: int,
    reason: str,
    *,
    followup_rules: followups.FollowUpRules,
) -> Ticket:
    """The volunteer cannot handle it: back to the coordinators, with the reason."""
    ticket = await _load_for(session, actor, ticket_id, Action.decline)
    reason = _clean_text(reason)
    ticket.assignee_id = None
    key = await _move(session, clock, actor, ticket, Action.decline, reason)
    coordinators = await _coordinators(session, ticket.community_id)
    await _notify(
        session,
        clock,
        followup_rules,
        coordinators,
        "ticket_declined",
        ticket,
        key,
        reason=reason,
        volunteer=actor.display_name,
    )
    return ticket


async def resolve(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    ticket_id: int,
    note: str,
    photo_file_id: str | None = None,
    *,
    followup_rules: followups.FollowUpRules,
) -> Ticket:
    """已处理: the handler says it is done; the resident is asked to confirm."""
    ticket = await _load_for(session, actor, ticket_id, Action.resolve)
    ticket.resolution_note = _clean_text(note)[:1000]
    ticket.resolved_at = clock.now()
    if photo_file_id:
        assert ticket.id is not None and actor.id is not None
        session.add(
            TicketPhoto(
                ticket_id=ticket.id,
                file_id=photo_file_id,
                stage="resolution",
                added_by=actor.id,
                created_at=clock.now(),
            )
        )
    key = await _move(session, clock, actor, ticket, Action.resolve, ticket.resolution_note)
    await _tell_reporter(
        session,
        clock,
        followup_rules,
        ticket,
        key,
        note=ticket.resolution_note,
        photo=photo_file_id,
    )
    await followups.ticket_resolved(session, clock, ticket, followup_rules)
    return ticket


async def confirm(session: AsyncSession, clock: Clock, actor: User, ticket_id: int) -> Ticket:
    """已解决: only the resident's confirmation (or the timeout rule) closes a ticket."""
    ticket = await _load_for(session, actor, ticket_id, Action.confirm)
    ticket.closed_at = clock.now()
    await _move(session, clock, actor, ticket, Action.confirm)
    return ticket


async def _supervise(
    session: AsyncSession,
    clock: Clock,
    followup_rules: followups.FollowUpRules,
    actor: User,
    ticket: Ticket,
    action: Action,
    reason: str,
) -> Ticket:
    """未解决 or 不满意: reopened under supervision (督办), and the coordinators are told."""
    ticket.supervised = True
    ticket.closed_at = None
    key = await _move(session, clock, actor, ticket, action, reason)
    coordinators = await _coordinators(session, ticket.community_id)
    await _notify(
        session, clock, followup_rules, coordinators, "ticket_supervise", ticket, key, reason=reason
    )
    return ticket


async def unresolved(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    ticket_id: int,
    *,
    followup_rules: followups.FollowUpRules,
) -> Ticket:
    ticket = await _load_for(session, actor, ticket_id, Action.unresolved)
    return await _supervise(
        session, clock, followup_rules, actor, ticket, Action.unresolved, "居民反馈未解决"
    )


async def rate(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    ticket_id: int,
    rating: Rating,
    *,
    followup_rules: followups.FollowUpRules,
) -> Ticket:
    ticket = await _load_for(session, actor, ticket_id, Action.rate)
    if ticket.rated_at is not None:
        raise ServiceError(
            Refusal.ticket_moved_on, number=ticket.number, status=ticket.status.value
        )
    ticket.rating, ticket.rated_at = rating, clock.now()
    await _move(session, clock, actor, ticket, Action.rate, rating.value)
    if rating == Rating.dissatisfied:
        return await _supervise(
            session, clock, followup_rules, actor, ticket, Action.reopen, "居民不满意"
        )
    return ticket


async def comment(
    session: AsyncSession, clock: Clock, actor: User, ticket_id: int, text: str
) -> Ticket:
    ticket = await _load_for(session, actor, ticket_id, Action.comment)
    if ticket.rated_at is None or ticket.rating_comment:
        raise ServiceError(
            Refusal.ticket_moved_on, number=ticket.number, status=ticket.status.value
        )
    ticket.rating_comment = _clean_text(text)[:500]
    await _move(session, clock, actor, ticket, Action.comment, ticket.rating_comment)
    return ticket


async def escalate(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    ticket_id: int,
    reason: str,
    *,
    followup_rules: followups.FollowUpRules,
) -> Ticket:
    """转办街道: to the street's admins, with the reason."""
    ticket = await _load_for(session, actor, ticket_id, Action.escalate)
    reason = _clean_text(reason)
    key = await _move(session, clock, actor, ticket, Action.escalate, reason)
    await _tell_reporter(session, clock, followup_rules, ticket, key, reason=reason)
    admins = await _street_admins(session, ticket.street_id)
    await _notify(
        session, clock, followup_rules, admins, "ticket_escalated", ticket, key, reason=reason
    )
    return ticket


async def refuse(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    ticket_id: int,
    reason: str,
    *,
    followup_rules: followups.FollowUpRules,
) -> Ticket:
    """不予受理, with a reason the resident is shown."""
    ticket = await _load_for(session, actor, ticket_id, Action.refuse)
    reason = _clean_text(reason)
    key = await _move(session, clock, actor, ticket, Action.refuse, reason)
    ticket.closed_at = clock.now()
    await _tell_reporter(session, clock, followup_rules, ticket, key, reason=reason)
    return ticket


async def merge(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    ticket_id: int,
    into_id: int,
    *,
    followup_rules: followups.FollowUpRules,
) -> Ticket:
    """重复: this ticket is handled together with an earlier one about the same need."""
    ticket = await _load_for(session, actor, ticket_id, Action.merge)
    target = await session.get(Ticket, into_id)
    if (
        target is None
        or target.id == ticket.id
        or target.community_id != ticket.community_id
        or target.status == S.duplicate
    ):
        raise ServiceError(Refusal.not_a_duplicate)
    ticket.merged_into_id = target.id
    ticket.closed_at = clock.now()
    key = await _move(session, clock, actor, ticket, Action.merge, target.number)
    await _tell_reporter(session, clock, followup_rules, ticket, key, reason=target.number)
    return ticket


async def recategorize(
    session: AsyncSession, clock: Clock, actor: User, ticket_id: int, category: str
) -> Ticket:
    """改分类. A coordinator's correction is kept for `haitang nlp learn`."""
    if not is_category(category):
        raise ServiceError(Refusal.unknown_category)
    ticket = await _load_for(session, actor, ticket_id, Action.recategorize)
    before = ticket.category
    ticket.category = category
    await _move(session, clock, actor, ticket, Action.recategorize, f"{before} → {category}")
    if manages(actor, ticket) and before != category:
        session.add(
            NlpCorrection(
                text=ticket.text,
                category=category,
                urgent=ticket.urgent,
                created_at=clock.now(),
                created_by=actor.id,
                ticket_id=ticket.id,
            )
        )
    await session.flush()
    return ticket


# ---------------------------------------------------------------- reading


async def _address(session: AsyncSession, ticket: Ticket) -> str:
    parts: list[str] = []
    community = await session.get(Community, ticket.community_id)
    if community:
        parts.append(community.name)
    if ticket.household_id:
        household = await session.get(Household, ticket.household_id)
        if household:
            parts.append(household_address(household))
    return " ".join(parts)


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    if len(digits) >= 7:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * len(digits)


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    actor: str
    action: str
    to_status: TicketStatus | None
    note: str


@dataclass(frozen=True)
class TicketCard:
    ticket: Ticket
    reporter: str
    phone: str  # masked
    address: str
    photos: list[str]
    history: list[HistoryLine]
    duplicates: list[Ticket] = field(default_factory=list)
    assignee: str = ""


async def duplicate_candidates(
    session: AsyncSession, ticket: Ticket, rules: TicketRules | None = None
) -> list[Ticket]:
    """Earlier tickets of the same household (or building) and category within 7 days."""
    rules = rules or TicketRules()
    if ticket.household_id is None:
        return []
    household = await session.get(Household, ticket.household_id)
    assert household is not None
    same_building = select(Household.id).where(
        col(Household.grid_id) == household.grid_id,
        col(Household.building) == household.building,
    )
    rows = await session.exec(
        select(Ticket)
        .where(
            col(Ticket.id) != ticket.id,
            col(Ticket.id) < ticket.id,
            col(Ticket.category) == ticket.category,
            col(Ticket.community_id) == ticket.community_id,
            col(Ticket.status) != S.duplicate,
            col(Ticket.created_at) >= ticket.created_at - rules.duplicate_window,
            col(Ticket.household_id).in_(same_building),
        )
        .order_by(col(Ticket.id).desc())
        .limit(3)
    )
    return list(rows)


async def card(session: AsyncSession, actor: User, ticket_id: int) -> TicketCard:
    ticket = await get_ticket(session, actor, ticket_id)
    reporter = await session.get(User, ticket.reporter_id)
    events = list(
        await session.exec(
            select(TicketEvent)
            .where(col(TicketEvent.ticket_id) == ticket.id)
            .order_by(col(TicketEvent.id))
        )
    )
    names = {u.id: u.display_name for u in await _people(session, [e.actor_id for e in events])}
    photos = list(
        await session.exec(
            select(TicketPhoto.file_id)
            .where(col(TicketPhoto.ticket_id) == ticket.id)
            .order_by(col(TicketPhoto.id))
        )
    )
    phone = ""
    if ticket.household_id:
        household = await session.get(Household, ticket.household_id)
        phone = household.phone if household else ""
    phone = phone or (reporter.phone if reporter else "")
    assignee = await session.get(User, ticket.assignee_id) if ticket.assignee_id else None
    return TicketCard(
        ticket=ticket,
        reporter=reporter.display_name if reporter else "",
        phone=mask_phone(phone) if phone else "",
        address=await _address(session, ticket),
        photos=photos,
        history=[
            HistoryLine(e.at, names.get(e.actor_id, "系统"), e.action, e.to_status, e.note)
            for e in events
        ],
        duplicates=await duplicate_candidates(session, ticket)
        if manages(actor, ticket) and ticket.status in MOVES[Action.merge][0]
        else [],
        assignee=assignee.display_name if assignee else "",
    )


def _paged(total: int, page: int, size: int) -> tuple[int, int]:
    pages = max(1, -(-total // size))
    return min(max(page, 0), pages - 1), pages


async def inbox(session: AsyncSession, actor: User, page: int = 0) -> Page[Ticket]:
    """A coordinator's open tickets of their community; an admin's escalated ones of the street.

    Urgent first, then the oldest."""
    if actor.role == Role.coordinator:
        where = [col(Ticket.community_id) == actor.community_id, col(Ticket.status).in_(OPEN)]
    elif actor.role == Role.admin:
        where = [col(Ticket.status) == S.escalated]
        if actor.street_id is not None:
            where.append(col(Ticket.street_id) == actor.street_id)
    else:
        raise ServiceError(Refusal.not_allowed)
    return await _page(session, where, page, urgent_first=True)


async def mine(session: AsyncSession, actor: User, page: int = 0) -> Page[Ticket]:
    """A resident's own tickets, newest first."""
    where = [or_(col(Ticket.reporter_id) == actor.id, col(Ticket.resident_id) == actor.id)]
    return await _page(session, where, page, urgent_first=False)


async def _page(
    session: AsyncSession, where: Sequence[Any], page: int, *, urgent_first: bool
) -> Page[Ticket]:
    total = (await session.exec(select(func.count()).select_from(Ticket).where(*where))).one()
    page, pages = _paged(total, page, INBOX_PAGE)
    order = (
        [col(Ticket.urgent).desc(), col(Ticket.created_at), col(Ticket.id)]
        if urgent_first
        else [col(Ticket.id).desc()]
    )
    rows = await session.exec(
        select(Ticket).where(*where).order_by(*order).offset(page * INBOX_PAGE).limit(INBOX_PAGE)
    )
    return Page(list(rows), page, pages)


@dataclass(frozen=True)
class VolunteerOption:
    user_id: int
    name: str
    same_grid: bool
    looks_after: bool
    open_load: int


async def volunteer_suggestions(
    session: AsyncSession, actor: User, ticket_id: int, limit: int = 6
) -> list[VolunteerOption]:
    """Who could take it: those who look after the household first, then the same grid,
    then the least loaded."""
    ticket = await _load_for(session, actor, ticket_id, Action.dispatch)
    volunteers = list(
        await session.exec(
            select(User).where(
                col(User.role) == Role.volunteer,
                col(User.community_id) == ticket.community_id,
                col(User.active),
            )
        )
    )
    carers: set[int] = set()
    if ticket.household_id:
        carers = set(
            await session.exec(
                select(VolunteerHousehold.volunteer_id).where(
                    col(VolunteerHousehold.household_id) == ticket.household_id
                )
            )
        )
    loads = dict(
        (row[0], row[1])
        for row in await session.exec(
            select(Ticket.assignee_id, func.count())
            .where(col(Ticket.status).in_({S.dispatched, S.in_progress}))
            .group_by(col(Ticket.assignee_id))
        )
    )
    options = [
        VolunteerOption(
            user_id=v.id,
            name=v.display_name,
            same_grid=v.grid_id is not None and v.grid_id == ticket.grid_id,
            looks_after=v.id in carers,
            open_load=int(loads.get(v.id, 0)),
        )
        for v in volunteers
        if v.id is not None
    ]
    options.sort(key=lambda o: (not o.looks_after, not o.same_grid, o.open_load, o.user_id))
    return options[:limit]


def is_unsure(ticket: Ticket) -> bool:
    return ticket.category == UNSURE
