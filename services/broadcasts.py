"""Coordinator broadcasts: targeted, previewed, delivered by the paced sender, resumable.

A broadcast is one outbox row per recipient (key b<id>:u<user>), so a crash resumes where it
stopped and nobody is sent it twice by a second confirmation. Recipients the sender found
unreachable twice in a row are skipped and listed in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import col, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services import followups
from services.clock import Clock
from services.errors import Refusal, ServiceError
from services.outbox import counts, enqueue, unreachable_chats
from storage.models import (
    Broadcast,
    BroadcastStatus,
    Community,
    CommunityEvent,
    EventSignup,
    Grid,
    Household,
    Outbox,
    OutboxStatus,
    Role,
    SignupStatus,
    Street,
    User,
)

MAX_TEXT = 3500  # leaves room for the sender's own words within Telegram's 4096
FINAL = (OutboxStatus.sent, OutboxStatus.failed, OutboxStatus.unreachable, OutboxStatus.cancelled)


class Target(StrEnum):
    residents = "residents"  # the community's residents
    volunteers = "volunteers"  # the community's volunteers
    grid = "grid"  # residents and volunteers of one grid
    event = "event"  # those attending an event
    street = "street"  # everyone of the street (street admins)


@dataclass(frozen=True)
class AudienceOption:
    target: Target
    target_id: int
    label: str  # a place or event name; the handler adds the words


def may_broadcast(actor: User) -> bool:
    return actor.role in (Role.coordinator, Role.admin)


def _require(actor: User) -> None:
    if not may_broadcast(actor):
        raise ServiceError(Refusal.not_allowed)


async def audience_options(session: AsyncSession, actor: User) -> list[AudienceOption]:
    _require(actor)
    options: list[AudienceOption] = []
    if actor.role == Role.coordinator and actor.community_id is not None:
        community = await session.get(Community, actor.community_id)
        name = community.name if community else ""
        options += [
            AudienceOption(Target.residents, actor.community_id, name),
            AudienceOption(Target.volunteers, actor.community_id, name),
        ]
        grids = await session.exec(
            select(Grid)
            .where(col(Grid.community_id) == actor.community_id)
            .order_by(col(Grid.number))
        )
        options += [AudienceOption(Target.grid, g.id, g.name) for g in grids if g.id is not None]
        events = await session.exec(
            select(CommunityEvent)
            .where(col(CommunityEvent.community_id) == actor.community_id)
            .order_by(col(CommunityEvent.starts_at).desc())
            .limit(5)
        )
        options += [AudienceOption(Target.event, e.id, e.title) for e in events if e.id is not None]
    elif actor.role == Role.admin and actor.street_id is not None:
        street = await session.get(Street, actor.street_id)
        options.append(
            AudienceOption(Target.street, actor.street_id, street.name if street else "")
        )
    return options


async def _recipients(session: AsyncSession, target: Target, target_id: int) -> list[User]:
    query = select(User).where(col(User.active), col(User.consent_at).is_not(None))
    if target == Target.residents:
        query = query.where(col(User.role) == Role.resident, col(User.community_id) == target_id)
    elif target == Target.volunteers:
        query = query.where(col(User.role) == Role.volunteer, col(User.community_id) == target_id)
    elif target == Target.grid:
        in_grid = select(Household.id).where(col(Household.grid_id) == target_id)
        query = query.where(
            col(User.role).in_((Role.resident, Role.volunteer)),
            or_(col(User.grid_id) == target_id, col(User.household_id).in_(in_grid)),
        )
    elif target == Target.event:
        attending = select(EventSignup.user_id).where(
            col(EventSignup.event_id) == target_id,
            col(EventSignup.status) == SignupStatus.attending,
        )
        query = query.where(col(User.id).in_(attending))
    else:
        query = query.where(
            col(User.role).in_((Role.resident, Role.volunteer)), col(User.street_id) == target_id
        )
    return list(await session.exec(query.order_by(col(User.id))))


@dataclass(frozen=True)
class Preview:
    broadcast: Broadcast
    recipients: int
    skipped_unreachable: int
    audience: AudienceOption


async def _own(session: AsyncSession, actor: User, broadcast_id: int) -> Broadcast:
    _require(actor)
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.created_by != actor.id:
        raise ServiceError(Refusal.broadcast_unknown)
    return broadcast


async def draft(
    session: AsyncSession, clock: Clock, actor: User, text: str, photo_file_id: str | None = None
) -> Broadcast:
    _require(actor)
    text = text.strip()
    if not text:
        raise ServiceError(Refusal.empty_text)
    if len(text) > MAX_TEXT:
        raise ServiceError(Refusal.text_too_long, limit=MAX_TEXT)
    assert actor.id is not None
    broadcast = Broadcast(
        created_by=actor.id,
        text=text,
        photo_file_id=photo_file_id,
        audience="",
        created_at=clock.now(),
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


async def preview(
    session: AsyncSession, actor: User, broadcast_id: int, target: Target, target_id: int
) -> Preview:
    """Choose the audience; the exact count excludes unreachable recipients."""
    broadcast = await _own(session, actor, broadcast_id)
    if broadcast.status != BroadcastStatus.draft:
        raise ServiceError(Refusal.broadcast_started)
    option = next(
        (
            o
            for o in await audience_options(session, actor)
            if o.target == target and o.target_id == target_id
        ),
        None,
    )
    if option is None:
        raise ServiceError(Refusal.not_allowed)
    people = await _recipients(session, target, target_id)
    skipped = await unreachable_chats(session, [p.chat_id for p in people])
    broadcast.audience, broadcast.audience_id = target.value, target_id
    broadcast.total = len([p for p in people if p.chat_id not in skipped])
    session.add(broadcast)
    await session.flush()
    return Preview(broadcast, broadcast.total, len(people) - broadcast.total, option)


async def confirm(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    broadcast_id: int,
    *,
    status_chat_id: int,
    status_message_id: int,
    followup_rules: followups.FollowUpRules,
) -> Broadcast:
    """Queue one outbox row per recipient; a second confirmation queues nothing more."""
    broadcast = await _own(session, actor, broadcast_id)
    if broadcast.status != BroadcastStatus.draft or not broadcast.audience:
        raise ServiceError(Refusal.broadcast_started)
    assert broadcast.audience_id is not None and broadcast.id is not None
    people = await _recipients(session, Target(broadcast.audience), broadcast.audience_id)
    skipped = await unreachable_chats(session, [p.chat_id for p in people])
    recipients = [p for p in people if p.chat_id not in skipped]
    # Not urgent: during the quiet hours (followup_rules) it waits for their end.
    not_before = followups.quiet_release(clock.now(), followup_rules)
    for person in recipients:
        await enqueue(
            session,
            clock,
            chat_id=person.chat_id,
            user_id=person.id,
            kind="user_text",
            payload={"text": broadcast.text, "photo": broadcast.photo_file_id},
            key=f"b{broadcast.id}:u{person.id}",
            priority=9,
            not_before=not_before,
            broadcast_id=broadcast.id,
        )
    broadcast.status = BroadcastStatus.sending
    broadcast.total = len(recipients)
    broadcast.started_at = clock.now()
    broadcast.status_chat_id, broadcast.status_message_id = status_chat_id, status_message_id
    session.add(broadcast)
    await session.flush()
    return broadcast


async def cancel(session: AsyncSession, clock: Clock, actor: User, broadcast_id: int) -> Broadcast:
    """Stop a running broadcast: what is not yet sent is not sent."""
    broadcast = await _own(session, actor, broadcast_id)
    if broadcast.status not in (BroadcastStatus.draft, BroadcastStatus.sending):
        raise ServiceError(Refusal.broadcast_started)
    await session.exec(
        update(Outbox)
        .where(col(Outbox.broadcast_id) == broadcast.id, col(Outbox.status) == OutboxStatus.pending)
        .values(status=OutboxStatus.cancelled)
    )
    broadcast.status = BroadcastStatus.cancelled
    broadcast.finished_at = clock.now()
    session.add(broadcast)
    await session.flush()
    return broadcast


@dataclass(frozen=True)
class Progress:
    broadcast: Broadcast
    sent: int
    failed: int
    unreachable: int
    cancelled: int
    pending: int

    @property
    def finished(self) -> bool:
        return self.pending == 0


async def progress(session: AsyncSession, broadcast: Broadcast) -> Progress:
    by_status = await counts(session, broadcast.id)
    return Progress(
        broadcast=broadcast,
        sent=by_status[OutboxStatus.sent.value],
        failed=by_status[OutboxStatus.failed.value],
        unreachable=by_status[OutboxStatus.unreachable.value],
        cancelled=by_status[OutboxStatus.cancelled.value],
        pending=by_status[OutboxStatus.pending.value] + by_status[OutboxStatus.sending.value],
    )


async def recent(session: AsyncSession, actor: User, limit: int = 8) -> list[Progress]:
    _require(actor)
    rows = await session.exec(
        select(Broadcast)
        .where(
            col(Broadcast.created_by) == actor.id, col(Broadcast.status) != BroadcastStatus.draft
        )
        .order_by(col(Broadcast.id).desc())
        .limit(limit)
    )
    return [await progress(session, b) for b in rows]


async def track(session: AsyncSession, clock: Clock) -> list[Progress]:
    """Run every few seconds: queue an edit of each running broadcast's status message when
    its figures moved, and the final report when it is done."""
    running = list(
        await session.exec(
            select(Broadcast).where(col(Broadcast.status) == BroadcastStatus.sending)
        )
    )
    updates: list[Progress] = []
    for broadcast in running:
        state = await progress(session, broadcast)
        assert broadcast.id is not None
        if state.finished:
            broadcast.status = BroadcastStatus.done
            broadcast.finished_at = clock.now()
            session.add(broadcast)
        if broadcast.status_chat_id is None or broadcast.status_message_id is None:
            continue
        kind = "broadcast_report" if state.finished else "broadcast_progress"
        await enqueue(
            session,
            clock,
            chat_id=broadcast.status_chat_id,
            user_id=broadcast.created_by,
            kind=kind,
            payload={
                "broadcast_id": broadcast.id,
                "message_id": broadcast.status_message_id,
                "total": broadcast.total,
                "sent": state.sent,
                "failed": state.failed,
                "unreachable": state.unreachable,
            },
            # One edit per change of the figures; the report once.
            key=f"b{broadcast.id}:{kind}:{state.sent}:{state.failed}:{state.unreachable}",
            priority=1,
        )
        updates.append(state)
    await session.flush()
    return updates
