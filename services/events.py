"""Weekend community events (周末社区), issue 6.

A coordinator creates an event step by step (each step checked here), then publishes it to its
audience (the community, one grid, or the whole street). Residents and volunteers of that
audience sign up; when it is full they join a waiting list, and a cancellation moves the first
person waiting in (and tells them). Those attending are reminded 24 h and 2 h before; at the
event the coordinator shows a one-time code that attendees send to check in; the day after,
those who came rate it 1-5. Subscribers get a digest of the weekend's events every Friday.

Everything said to someone other than the actor goes through the outbox; the reminders, the
rating question and the digest are follow-ups (services.followups).
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, false, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services import followups
from services.clock import Clock, as_utc
from services.errors import Refusal, ServiceError
from services.org import grids_of
from services.timeparse import parse_local_time
from storage.models import (
    Audience,
    Community,
    CommunityEvent,
    EventSignup,
    EventStatus,
    Household,
    Role,
    SignupStatus,
    Street,
    Subscription,
    User,
)

TOPIC_WEEKEND = "weekend_events"
PARTICIPANTS = (Role.resident, Role.volunteer)


@dataclass(frozen=True)
class EventRules:
    title_max: int = 30
    place_max: int = 60
    description_max: int = 500
    capacity_max: int = 500
    # The coordinator may show the check-in code from this long before the start.
    checkin_opens: timedelta = timedelta(hours=1)
    code_digits: int = 6
    # How long after the end attendees may still rate the event.
    rating_window: timedelta = timedelta(days=7)
    list_limit: int = 8


DEFAULT_RULES = EventRules()


# ---------------------------------------------------------------- the steps, each checked


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def check_title(text: str, rules: EventRules = DEFAULT_RULES) -> str:
    title = " ".join(text.split())
    if not title:
        raise ServiceError(Refusal.empty_text)
    if len(title) > rules.title_max:
        raise ServiceError(Refusal.event_title_too_long, limit=rules.title_max)
    return title


def check_start(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """2026-11-28 14:00, 11月28日 14:00, 周六下午2点 ...: in the future."""
    moment = parse_local_time(text, now, tz)
    if moment is None:
        raise ServiceError(Refusal.event_time_unreadable)
    if moment <= now:
        raise ServiceError(Refusal.event_in_past)
    return moment


def check_end(text: str, start: datetime, now: datetime, tz: ZoneInfo) -> datetime:
    """A full time, or just the hour ("16:00", "下午4点"), read on the day of the start."""
    moment = parse_local_time(text, as_utc(start), tz)
    if moment is None:
        raise ServiceError(Refusal.event_time_unreadable)
    if moment <= now:
        raise ServiceError(Refusal.event_in_past)
    if moment <= as_utc(start):
        raise ServiceError(Refusal.event_end_before_start)
    return moment


def check_place(text: str, rules: EventRules = DEFAULT_RULES) -> str:
    place = " ".join(text.split())
    if not place:
        raise ServiceError(Refusal.empty_text)
    if len(place) > rules.place_max:
        raise ServiceError(Refusal.text_too_long, limit=rules.place_max)
    return place


def check_capacity(text: str, rules: EventRules = DEFAULT_RULES) -> int:
    cleaned = _clean(text).removesuffix("人").removesuffix("位").strip()
    if not cleaned.isdigit() or not 1 <= int(cleaned) <= rules.capacity_max:
        raise ServiceError(Refusal.event_capacity, limit=rules.capacity_max)
    return int(cleaned)


def check_description(text: str, rules: EventRules = DEFAULT_RULES) -> str:
    description = text.strip()
    if len(description) > rules.description_max:
        raise ServiceError(Refusal.text_too_long, limit=rules.description_max)
    return description


@dataclass(frozen=True)
class AudienceChoice:
    audience: Audience
    id: int
    name: str


def _require_coordinator(actor: User) -> int:
    if actor.role != Role.coordinator or actor.community_id is None:
        raise ServiceError(Refusal.not_allowed)
    return actor.community_id


async def audience_choices(session: AsyncSession, actor: User) -> list[AudienceChoice]:
    """Whom a coordinator may invite: their community, one of its grids, or their street."""
    community_id = _require_coordinator(actor)
    community = await session.get(Community, community_id)
    assert community is not None
    street = await session.get(Street, community.street_id)
    assert street is not None and street.id is not None
    choices = [AudienceChoice(Audience.community, community_id, community.name)]
    choices += [
        AudienceChoice(Audience.grid, grid.id, grid.name)
        for grid in await grids_of(session, community_id)
        if grid.id is not None
    ]
    choices.append(AudienceChoice(Audience.street, street.id, street.name))
    return choices


async def check_audience(
    session: AsyncSession, actor: User, audience: Audience, audience_id: int
) -> AudienceChoice:
    for choice in await audience_choices(session, actor):
        if choice.audience == audience and choice.id == audience_id:
            return choice
    raise ServiceError(Refusal.not_allowed)


@dataclass(frozen=True)
class Draft:
    title: str
    starts_at: datetime
    ends_at: datetime
    place: str
    capacity: int
    audience: Audience
    audience_id: int
    description: str = ""


async def save_draft(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    draft: Draft,
    rules: EventRules = DEFAULT_RULES,
) -> CommunityEvent:
    """Every step is checked again (the steps may have been answered long ago)."""
    community_id = _require_coordinator(actor)
    now = clock.now()
    title = check_title(draft.title, rules)
    if as_utc(draft.starts_at) <= now:
        raise ServiceError(Refusal.event_in_past)
    if as_utc(draft.ends_at) <= as_utc(draft.starts_at):
        raise ServiceError(Refusal.event_end_before_start)
    if not 1 <= draft.capacity <= rules.capacity_max:
        raise ServiceError(Refusal.event_capacity, limit=rules.capacity_max)
    await check_audience(session, actor, draft.audience, draft.audience_id)
    community = await session.get(Community, community_id)
    assert community is not None and actor.id is not None
    event = CommunityEvent(
        title=title,
        starts_at=as_utc(draft.starts_at),
        ends_at=as_utc(draft.ends_at),
        place=check_place(draft.place, rules),
        capacity=draft.capacity,
        audience=draft.audience,
        audience_id=draft.audience_id,
        description=check_description(draft.description, rules),
        status=EventStatus.draft,
        community_id=community_id,
        street_id=community.street_id,
        created_by=actor.id,
        created_at=now,
    )
    session.add(event)
    await session.flush()
    return event


async def _own_event(session: AsyncSession, actor: User, event_id: int) -> CommunityEvent:
    """An event of the coordinator's community, locked for the change."""
    community_id = _require_coordinator(actor)
    event = (
        await session.exec(
            select(CommunityEvent).where(col(CommunityEvent.id) == event_id).with_for_update()
        )
    ).first()
    if event is None or event.community_id != community_id:
        raise ServiceError(Refusal.event_unknown)
    return event


def facts(event: CommunityEvent, **extra: Any) -> dict[str, Any]:
    """What a notice about an event says (rendered by handlers/notices.py)."""
    return {
        "event_id": event.id,
        "title": event.title,
        "starts_at": as_utc(event.starts_at).isoformat(),
        "ends_at": as_utc(event.ends_at).isoformat(),
        "place": event.place,
        "capacity": event.capacity,
        "description": event.description,
        **extra,
    }


async def publish(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    event_id: int,
    *,
    followup_rules: followups.FollowUpRules,
) -> tuple[CommunityEvent, int]:
    """A draft becomes public: announced to its audience (through the outbox), reminders and
    the rating scheduled. Returns the event and how many people were told."""
    event = await _own_event(session, actor, event_id)
    if event.status != EventStatus.draft:
        raise ServiceError(Refusal.event_unknown)
    if as_utc(event.starts_at) <= clock.now():
        raise ServiceError(Refusal.event_in_past)
    event.status = EventStatus.published
    session.add(event)
    await session.flush()
    told = 0
    for user in await audience_users(session, event):
        if user.id == actor.id:
            continue
        told += await followups.notify(
            session,
            clock,
            user,
            kind="event_announce",
            payload=facts(event),
            key=f"ev{event.id}:announce",
            priority=9,
            rules=followup_rules,
        )
    await followups.event_published(session, clock, event, followup_rules)
    return event, told


async def discard(session: AsyncSession, clock: Clock, actor: User, event_id: int) -> None:
    event = await _own_event(session, actor, event_id)
    if event.status != EventStatus.draft:
        raise ServiceError(Refusal.event_unknown)
    event.status = EventStatus.cancelled
    session.add(event)
    await session.flush()


# ---------------------------------------------------------------- who may see an event


async def _grid_of(session: AsyncSession, user: User) -> int | None:
    if user.grid_id is not None:
        return user.grid_id
    if user.household_id is not None:
        household = await session.get(Household, user.household_id)
        return household.grid_id if household else None
    return None


async def _visible_to(session: AsyncSession, user: User) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if user.community_id is not None:
        conditions.append(
            and_(
                col(CommunityEvent.audience) == Audience.community,
                col(CommunityEvent.audience_id) == user.community_id,
            )
        )
    grid_id = await _grid_of(session, user)
    if grid_id is not None:
        conditions.append(
            and_(
                col(CommunityEvent.audience) == Audience.grid,
                col(CommunityEvent.audience_id) == grid_id,
            )
        )
    if user.street_id is not None:
        conditions.append(
            and_(
                col(CommunityEvent.audience) == Audience.street,
                col(CommunityEvent.audience_id) == user.street_id,
            )
        )
    return or_(*conditions) if conditions else false()


async def audience_users(session: AsyncSession, event: CommunityEvent) -> list[User]:
    """The residents and volunteers an event is for (registered and active)."""
    query = select(User).where(
        col(User.role).in_(PARTICIPANTS),
        col(User.consent_at).is_not(None),
        col(User.active),
    )
    if event.audience == Audience.community:
        query = query.where(col(User.community_id) == event.audience_id)
    elif event.audience == Audience.street:
        query = query.where(col(User.street_id) == event.audience_id)
    else:
        in_grid = select(Household.id).where(col(Household.grid_id) == event.audience_id)
        query = query.where(
            or_(col(User.grid_id) == event.audience_id, col(User.household_id).in_(in_grid))
        )
    return list(await session.exec(query.order_by(col(User.id))))


async def _public_event(
    session: AsyncSession, actor: User, event_id: int, *, lock: bool = False
) -> CommunityEvent:
    """A published event this resident or volunteer may see; the same refusal otherwise."""
    if actor.role not in PARTICIPANTS:
        raise ServiceError(Refusal.not_allowed)
    query = (
        select(CommunityEvent)
        .where(col(CommunityEvent.id) == event_id)
        .where(col(CommunityEvent.status) == EventStatus.published)
        .where(await _visible_to(session, actor))
    )
    event = (await session.exec(query.with_for_update() if lock else query)).first()
    if event is None:
        raise ServiceError(Refusal.event_unknown)
    return event


# ---------------------------------------------------------------- signing up


async def _signup(session: AsyncSession, event_id: int, user_id: int) -> EventSignup | None:
    return (
        await session.exec(
            select(EventSignup).where(
                col(EventSignup.event_id) == event_id, col(EventSignup.user_id) == user_id
            )
        )
    ).first()


async def _count(session: AsyncSession, event_id: int, status: SignupStatus) -> int:
    found = await session.exec(
        select(func.count())
        .select_from(EventSignup)
        .where(col(EventSignup.event_id) == event_id, col(EventSignup.status) == status)
    )
    return int(found.one())


async def _waiting_position(session: AsyncSession, signup: EventSignup) -> int:
    ahead = await session.exec(
        select(func.count())
        .select_from(EventSignup)
        .where(
            col(EventSignup.event_id) == signup.event_id,
            col(EventSignup.status) == SignupStatus.waiting,
            or_(
                col(EventSignup.joined_at) < signup.joined_at,
                and_(
                    col(EventSignup.joined_at) == signup.joined_at,
                    col(EventSignup.id) < signup.id,
                ),
            ),
        )
    )
    return int(ahead.one()) + 1


@dataclass(frozen=True)
class SignupResult:
    event: CommunityEvent
    status: SignupStatus
    position: int = 0  # on the waiting list (1 = next in); 0 when attending


async def join(session: AsyncSession, clock: Clock, actor: User, event_id: int) -> SignupResult:
    """报名: a place if there is one, otherwise the end of the waiting list."""
    event = await _public_event(session, actor, event_id, lock=True)
    now = clock.now()
    if as_utc(event.starts_at) <= now:
        raise ServiceError(Refusal.event_started)
    assert event.id is not None and actor.id is not None
    signup = await _signup(session, event.id, actor.id)
    if signup is not None and signup.status != SignupStatus.cancelled:
        raise ServiceError(Refusal.event_already_joined)
    full = await _count(session, event.id, SignupStatus.attending) >= event.capacity
    status = SignupStatus.waiting if full else SignupStatus.attending
    if signup is None:
        signup = EventSignup(event_id=event.id, user_id=actor.id, status=status, joined_at=now)
    else:  # re-joining goes to the end of the line
        signup.status, signup.joined_at = status, now
    session.add(signup)
    await session.flush()
    position = await _waiting_position(session, signup) if full else 0
    return SignupResult(event, status, position)


@dataclass(frozen=True)
class CancelResult:
    event: CommunityEvent
    was: SignupStatus
    promoted: User | None  # the first person waiting, who got the place


async def leave(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    event_id: int,
    *,
    followup_rules: followups.FollowUpRules,
) -> CancelResult:
    """取消报名: the place goes to the first person waiting, who is told."""
    event = await _public_event(session, actor, event_id, lock=True)
    now = clock.now()
    if as_utc(event.starts_at) <= now:
        raise ServiceError(Refusal.event_started)
    assert event.id is not None and actor.id is not None
    signup = await _signup(session, event.id, actor.id)
    if signup is None or signup.status == SignupStatus.cancelled:
        raise ServiceError(Refusal.event_not_joined)
    was = signup.status
    signup.status = SignupStatus.cancelled
    session.add(signup)
    await session.flush()
    promoted: User | None = None
    if was == SignupStatus.attending:
        promoted = await _promote(session, clock, event, followup_rules)
    return CancelResult(event, was, promoted)


async def _promote(
    session: AsyncSession,
    clock: Clock,
    event: CommunityEvent,
    followup_rules: followups.FollowUpRules,
) -> User | None:
    if await _count(session, event.id or 0, SignupStatus.attending) >= event.capacity:
        return None
    first = (
        await session.exec(
            select(EventSignup)
            .where(
                col(EventSignup.event_id) == event.id,
                col(EventSignup.status) == SignupStatus.waiting,
            )
            .order_by(col(EventSignup.joined_at), col(EventSignup.id))
        )
    ).first()
    if first is None:
        return None
    first.status = SignupStatus.attending
    session.add(first)
    await session.flush()
    user = await session.get(User, first.user_id)
    if user is not None:
        stamp = int(as_utc(first.joined_at).timestamp())
        await followups.notify(
            session,
            clock,
            user,
            kind="event_promoted",
            payload=facts(event),
            key=f"ev{event.id}:promoted:s{first.id}:{stamp}",
            rules=followup_rules,
        )
    return user


# ---------------------------------------------------------------- lists


@dataclass(frozen=True)
class EventView:
    event: CommunityEvent
    attending: int
    waiting: int
    mine: SignupStatus | None = None
    position: int = 0  # on the waiting list, when mine is waiting

    @property
    def left(self) -> int:
        return max(0, self.event.capacity - self.attending)


async def _view(session: AsyncSession, event: CommunityEvent, user: User | None) -> EventView:
    assert event.id is not None
    mine: SignupStatus | None = None
    position = 0
    if user is not None and user.id is not None:
        signup = await _signup(session, event.id, user.id)
        if signup is not None and signup.status != SignupStatus.cancelled:
            mine = signup.status
            if mine == SignupStatus.waiting:
                position = await _waiting_position(session, signup)
    return EventView(
        event,
        await _count(session, event.id, SignupStatus.attending),
        await _count(session, event.id, SignupStatus.waiting),
        mine,
        position,
    )


async def upcoming(
    session: AsyncSession, clock: Clock, actor: User, rules: EventRules = DEFAULT_RULES
) -> list[EventView]:
    """/events: for residents and volunteers, the published events ahead that are for them;
    for coordinators, their community's events (drafts too) that have not ended."""
    now = clock.now()
    if actor.role == Role.coordinator:
        query = select(CommunityEvent).where(
            col(CommunityEvent.community_id) == actor.community_id,
            col(CommunityEvent.status).in_((EventStatus.draft, EventStatus.published)),
            col(CommunityEvent.ends_at) > now,
        )
    elif actor.role in PARTICIPANTS:
        query = select(CommunityEvent).where(
            col(CommunityEvent.status) == EventStatus.published,
            col(CommunityEvent.starts_at) > now,
            await _visible_to(session, actor),
        )
    else:
        raise ServiceError(Refusal.not_allowed)
    found = await session.exec(
        query.order_by(col(CommunityEvent.starts_at), col(CommunityEvent.id)).limit(
            rules.list_limit
        )
    )
    viewer = actor if actor.role in PARTICIPANTS else None
    return [await _view(session, event, viewer) for event in list(found)]


async def view(session: AsyncSession, actor: User, event_id: int) -> EventView:
    """One event as this person sees it (after a button press)."""
    if actor.role == Role.coordinator:
        return await _view(session, await _own_event(session, actor, event_id), None)
    return await _view(session, await _public_event(session, actor, event_id), actor)


async def between_for(
    session: AsyncSession, user: User, start: datetime, end: datetime
) -> list[tuple[CommunityEvent, int]]:
    """Published events for this person starting in [start, end), with places left."""
    found = await session.exec(
        select(CommunityEvent)
        .where(
            col(CommunityEvent.status) == EventStatus.published,
            col(CommunityEvent.starts_at) >= start,
            col(CommunityEvent.starts_at) < end,
            await _visible_to(session, user),
        )
        .order_by(col(CommunityEvent.starts_at), col(CommunityEvent.id))
    )
    result: list[tuple[CommunityEvent, int]] = []
    for event in list(found):
        assert event.id is not None
        attending = await _count(session, event.id, SignupStatus.attending)
        result.append((event, max(0, event.capacity - attending)))
    return result


# ---------------------------------------------------------------- check-in


async def checkin_candidates(
    session: AsyncSession, clock: Clock, actor: User, rules: EventRules = DEFAULT_RULES
) -> list[CommunityEvent]:
    """The coordinator's events that are about to start or running."""
    community_id = _require_coordinator(actor)
    now = clock.now()
    found = await session.exec(
        select(CommunityEvent)
        .where(
            col(CommunityEvent.community_id) == community_id,
            col(CommunityEvent.status) == EventStatus.published,
            col(CommunityEvent.starts_at) <= now + rules.checkin_opens,
            col(CommunityEvent.ends_at) > now,
        )
        .order_by(col(CommunityEvent.starts_at), col(CommunityEvent.id))
    )
    return list(found)


async def open_checkin(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    event_id: int,
    rules: EventRules = DEFAULT_RULES,
) -> CommunityEvent:
    """The event's check-in code, made now if it has none: valid until the event ends."""
    event = await _own_event(session, actor, event_id)
    if event.id not in {e.id for e in await checkin_candidates(session, clock, actor, rules)}:
        raise ServiceError(Refusal.checkin_nothing_running)
    now = clock.now()
    expires = event.checkin_expires_at
    if event.checkin_code and expires is not None and as_utc(expires) > now:
        return event
    for _ in range(20):
        code = f"{secrets.randbelow(10**rules.code_digits):0{rules.code_digits}d}"
        if not await _running_with_code(session, now, code, rules):
            break
    else:  # pragma: no cover - a million codes, a handful of events
        raise RuntimeError("could not find a free check-in code")
    event.checkin_code = code
    event.checkin_expires_at = as_utc(event.ends_at)
    session.add(event)
    await session.flush()
    return event


async def _running_with_code(
    session: AsyncSession, now: datetime, code: str, rules: EventRules
) -> list[CommunityEvent]:
    found = await session.exec(
        select(CommunityEvent).where(
            col(CommunityEvent.checkin_code) == code,
            col(CommunityEvent.status) == EventStatus.published,
            col(CommunityEvent.checkin_expires_at) > now,
            col(CommunityEvent.starts_at) <= now + rules.checkin_opens,
        )
    )
    return list(found)


def looks_like_code(text: str, rules: EventRules = DEFAULT_RULES) -> bool:
    cleaned = _clean(text)
    return len(cleaned) == rules.code_digits and cleaned.isdigit()


async def code_is_live(
    session: AsyncSession, clock: Clock, text: str, rules: EventRules = DEFAULT_RULES
) -> bool:
    """Whether some running event has this code (a number that is not one is a normal message)."""
    code = _clean(text)
    return bool(await _running_with_code(session, clock.now(), code, rules))


async def check_in(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    text: str,
    rules: EventRules = DEFAULT_RULES,
) -> CommunityEvent:
    """签到 with the code shown at the event."""
    if actor.role not in PARTICIPANTS or actor.id is None:
        raise ServiceError(Refusal.not_allowed)
    now = clock.now()
    running = await _running_with_code(session, now, _clean(text), rules)
    if not running:
        raise ServiceError(Refusal.checkin_code_wrong)
    for event in running:
        assert event.id is not None
        signup = await _signup(session, event.id, actor.id)
        if signup is None or signup.status != SignupStatus.attending:
            continue
        if signup.checked_in_at is not None:
            raise ServiceError(Refusal.checkin_already, title=event.title)
        signup.checked_in_at = now
        session.add(signup)
        await session.flush()
        return event
    raise ServiceError(Refusal.checkin_not_attending)


# ---------------------------------------------------------------- rating


async def has_rated(session: AsyncSession, event: CommunityEvent, user: User) -> bool:
    if event.id is None or user.id is None:
        return False
    signup = await _signup(session, event.id, user.id)
    return signup is not None and signup.rating is not None


async def rate(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    event_id: int,
    stars: int,
    rules: EventRules = DEFAULT_RULES,
) -> CommunityEvent:
    """1-5 stars, once, by those who checked in, after the end (for rating_window)."""
    event = await _public_event(session, actor, event_id)
    now = clock.now()
    ended = as_utc(event.ends_at)
    assert event.id is not None and actor.id is not None
    signup = await _signup(session, event.id, actor.id)
    if (
        not 1 <= stars <= 5
        or now < ended
        or now > ended + rules.rating_window
        or signup is None
        or signup.checked_in_at is None
    ):
        raise ServiceError(Refusal.event_rating_closed)
    if signup.rating is not None:
        raise ServiceError(Refusal.event_already_rated)
    signup.rating, signup.rated_at = stars, now
    session.add(signup)
    await session.flush()
    return event


# ---------------------------------------------------------------- the Friday digest


async def subscribe(session: AsyncSession, clock: Clock, actor: User) -> bool:
    """订阅: the weekend digest every Friday. False if already subscribed."""
    if actor.id is None or actor.role not in PARTICIPANTS:
        raise ServiceError(Refusal.not_allowed)
    if await session.get(Subscription, (actor.id, TOPIC_WEEKEND)) is not None:
        return False
    session.add(Subscription(user_id=actor.id, topic=TOPIC_WEEKEND, created_at=clock.now()))
    await session.flush()
    return True


async def unsubscribe(session: AsyncSession, actor: User) -> bool:
    """False if there was nothing to cancel."""
    if actor.id is None:
        return False
    found = await session.get(Subscription, (actor.id, TOPIC_WEEKEND))
    if found is None:
        return False
    await session.delete(found)
    await session.flush()
    return True
