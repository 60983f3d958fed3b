"""Users, consent and roles.

Nothing personal is stored before consent: a user row is created only by `give_consent`
(or by an administrator's `add_user`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.cadence import Coverage, volunteer_coverage
from services.clock import SHANGHAI, Clock
from services.errors import Refusal, ServiceError
from services.org import (
    Place,
    community_by_name,
    community_by_station,
    describe_place,
    grids_of,
    street_by_name,
)
from storage.models import Community, Role, Street, User, VolunteerHousehold

# Deep-link payloads of /start: a station poster or an invite.
STATION_PREFIX = "st_"
INVITE_PREFIX = "inv_"


@dataclass(frozen=True)
class TelegramIdentity:
    """Who sent an update, as the channel reports it."""

    telegram_id: int
    chat_id: int
    display_name: str


async def get_user(session: AsyncSession, telegram_id: int) -> User | None:
    rows = await session.exec(select(User).where(col(User.telegram_id) == telegram_id))
    return rows.first()


def require_registered(user: User | None) -> User:
    if user is None or user.consent_at is None or not user.active:
        raise ServiceError(Refusal.not_registered)
    return user


async def give_consent(session: AsyncSession, clock: Clock, who: TelegramIdentity) -> User:
    """Record consent; creates the user as a resident if new. Idempotent."""
    user = await get_user(session, who.telegram_id)
    now = clock.now()
    if user is None:
        user = User(
            telegram_id=who.telegram_id,
            chat_id=who.chat_id,
            display_name=who.display_name[:64] or str(who.telegram_id),
            role=Role.resident,
            consent_at=now,
            created_at=now,
        )
        session.add(user)
    else:
        user.consent_at = user.consent_at or now
        user.active = True
        user.chat_id = who.chat_id
    await session.flush()
    return user


async def bind_resident_community(
    session: AsyncSession, user: User, community_id: int
) -> Community:
    if user.role != Role.resident:
        raise ServiceError(Refusal.not_a_resident)
    community = await session.get(Community, community_id)
    if community is None:
        raise ServiceError(Refusal.unknown_community)
    if user.community_id != community.id:
        user.street_id = community.street_id
        user.community_id = community.id
        user.grid_id = None
        user.household_id = None
    session.add(user)
    await session.flush()
    return community


async def bind_by_station(session: AsyncSession, user: User, station_code: str) -> Community:
    community = await community_by_station(session, station_code)
    if community is None or community.id is None:
        raise ServiceError(Refusal.unknown_station)
    return await bind_resident_community(session, user, community.id)


@dataclass(frozen=True)
class Profile:
    display_name: str
    role: Role
    place: Place
    consent_at: datetime | None
    households: int
    # A volunteer's visit coverage (issue 5), when asked with a clock.
    coverage: Coverage | None = None


async def profile(
    session: AsyncSession, user: User, clock: Clock | None = None, tz: ZoneInfo = SHANGHAI
) -> Profile:
    place = await describe_place(
        session,
        street_id=user.street_id,
        community_id=user.community_id,
        grid_id=user.grid_id,
        household_id=user.household_id,
    )
    households = 0
    if user.role == Role.volunteer:
        households = (
            await session.exec(
                select(func.count())
                .select_from(VolunteerHousehold)
                .where(col(VolunteerHousehold.volunteer_id) == user.id)
            )
        ).one()
    coverage = None
    if user.role == Role.volunteer and clock is not None:
        coverage = await volunteer_coverage(session, clock, user, tz)
    return Profile(user.display_name, Role(user.role), place, user.consent_at, households, coverage)


async def add_user(
    session: AsyncSession,
    clock: Clock,
    *,
    role: Role,
    telegram_id: int,
    display_name: str,
    community_name: str | None = None,
    street_name: str | None = None,
    grid_number: int | None = None,
) -> User:
    """How a deployment gets its first coordinator or admin (the `haitang users add` command).

    A coordinator or volunteer needs a community (a volunteer also a grid); an admin with a
    community or street looks after that street, without either the whole district.
    """
    street: Street | None = None
    community: Community | None = None
    grid_id: int | None = None
    if community_name:
        community = await community_by_name(session, community_name)
        street = await session.get(Street, community.street_id)
    elif street_name:
        street = await street_by_name(session, street_name)
    if role in (Role.coordinator, Role.volunteer, Role.resident) and community is None:
        raise ServiceError(Refusal.unknown_community, name=community_name or "")
    if role == Role.volunteer:
        assert community is not None and community.id is not None
        grid = next(
            (g for g in await grids_of(session, community.id) if g.number == grid_number), None
        )
        if grid is None:
            raise ServiceError(Refusal.unknown_grid, number=grid_number or 0)
        grid_id = grid.id

    now = clock.now()
    user = await get_user(session, telegram_id)
    if user is None:
        user = User(telegram_id=telegram_id, chat_id=telegram_id, display_name="", created_at=now)
    user.display_name = display_name[:64]
    user.role = role
    user.street_id = street.id if street else None
    user.community_id = community.id if community and role != Role.admin else None
    user.grid_id = grid_id
    # Staff added by an administrator agreed to the notice as part of their appointment.
    user.consent_at = user.consent_at or now
    user.active = True
    session.add(user)
    await session.flush()
    return user
