"""Invite codes: how volunteers and coordinators join.

A coordinator invites volunteers to a grid of their community; an admin invites coordinators
to a community of their street (or anywhere, for a district admin), and volunteers too.
Failed redemptions are counted to stop guessing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.clock import Clock
from services.errors import Refusal, ServiceError
from services.users import TelegramIdentity, get_user, give_consent
from storage.models import Community, Grid, InviteAttempt, InviteCode, Role, User

# No 0/O, 1/l/I: codes may be read aloud or typed from paper.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
CODE_LENGTH = 10
USES_CHOICES = (1, 5, 20)
MAX_USES = 200
# Which role may invite whom.
INVITABLE: dict[Role, tuple[Role, ...]] = {
    Role.coordinator: (Role.volunteer,),
    Role.admin: (Role.volunteer, Role.coordinator),
}
# A role is only ever raised by an invite, never lowered.
RANK = {Role.resident: 0, Role.volunteer: 1, Role.coordinator: 2, Role.admin: 3}


@dataclass(frozen=True)
class GuessLimit:
    tries: int = 5
    window: timedelta = timedelta(minutes=10)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def invitable_roles(actor: User) -> tuple[Role, ...]:
    return INVITABLE.get(Role(actor.role), ())


@dataclass(frozen=True)
class ScopeOption:
    id: int
    label: str


async def invite_scope_options(session: AsyncSession, actor: User, role: Role) -> list[ScopeOption]:
    """What the actor may invite to, labelled for choosing."""
    options: list[ScopeOption] = []
    names: dict[int | None, str] = {}
    for scope in await _allowed_scopes(session, actor, role):
        assert scope.id is not None
        if isinstance(scope, Grid) and actor.role != Role.coordinator:
            if scope.community_id not in names:
                community = await session.get(Community, scope.community_id)
                names[scope.community_id] = community.name if community else ""
            options.append(ScopeOption(scope.id, f"{names[scope.community_id]} {scope.name}"))
        else:
            options.append(ScopeOption(scope.id, scope.name))
    return options


async def grid_by_number(session: AsyncSession, actor: User, number: int) -> int:
    """The id of grid `number` of a coordinator's own community (the typed /invite form)."""
    for scope in await _allowed_scopes(session, actor, Role.volunteer):
        if (
            isinstance(scope, Grid)
            and scope.number == number
            and scope.community_id == actor.community_id
        ):
            assert scope.id is not None
            return scope.id
    raise ServiceError(Refusal.unknown_grid, number=number)


async def _allowed_scopes(session: AsyncSession, actor: User, role: Role) -> list[Grid | Community]:
    """The grids (for volunteers) or communities (for coordinators) the actor may invite to."""
    if role not in invitable_roles(actor):
        raise ServiceError(Refusal.not_allowed)
    scopes: list[Grid | Community] = []
    if role == Role.volunteer:
        query = select(Grid).join(Community, col(Grid.community_id) == col(Community.id))
        if actor.role == Role.coordinator:
            query = query.where(col(Grid.community_id) == actor.community_id)
        elif actor.street_id is not None:
            query = query.where(col(Community.street_id) == actor.street_id)
        grids = await session.exec(query.order_by(col(Community.id), col(Grid.number)))
        scopes.extend(grids)
        return scopes
    cquery = select(Community)
    if actor.street_id is not None:
        cquery = cquery.where(col(Community.street_id) == actor.street_id)
    communities = await session.exec(cquery.order_by(col(Community.id)))
    scopes.extend(communities)
    return scopes


@dataclass(frozen=True)
class CreatedInvite:
    invite: InviteCode
    scope_label: str


async def create_invite(
    session: AsyncSession,
    clock: Clock,
    actor: User,
    *,
    role: Role,
    scope_id: int | None = None,
    grid_number: int | None = None,
    uses: int = 1,
    ttl: timedelta = timedelta(hours=72),
) -> CreatedInvite:
    """scope_id is a grid id for volunteers, a community id for coordinators; a coordinator may
    name a grid of their own community by its number instead."""
    if not 1 <= uses <= MAX_USES:
        raise ServiceError(Refusal.bad_uses, max=MAX_USES)
    if grid_number is not None:
        scope_id = await grid_by_number(session, actor, grid_number)
    option = next(
        (o for o in await invite_scope_options(session, actor, role) if o.id == scope_id), None
    )
    if option is None:
        raise ServiceError(Refusal.not_allowed)
    if role == Role.volunteer:
        grid = await session.get(Grid, option.id)
        assert grid is not None
        community_id, grid_id = grid.community_id, grid.id
    else:
        community_id, grid_id = option.id, None
    community = await session.get(Community, community_id)
    assert community is not None and actor.id is not None
    now = clock.now()
    invite = InviteCode(
        code=new_code(),
        role=role,
        street_id=community.street_id,
        community_id=community.id,
        grid_id=grid_id,
        uses_left=uses,
        expires_at=now + ttl,
        created_by=actor.id,
        created_at=now,
    )
    session.add(invite)
    await session.flush()
    return CreatedInvite(invite, option.label)


async def _failed_tries(session: AsyncSession, telegram_id: int, since: datetime) -> int:
    query = (
        select(func.count())
        .select_from(InviteAttempt)
        .where(col(InviteAttempt.telegram_id) == telegram_id, col(InviteAttempt.at) > since)
    )
    return (await session.exec(query)).one()


async def check_invite(
    session: AsyncSession, clock: Clock, telegram_id: int, code: str, limit: GuessLimit
) -> InviteCode:
    """The invite behind a code, or a refusal. A failed try is recorded and counts toward the limit.

    The failed try is flushed with the session: callers commit even when this refuses.
    """
    now = clock.now()
    await session.exec(delete(InviteAttempt).where(col(InviteAttempt.at) <= now - limit.window))
    if await _failed_tries(session, telegram_id, now - limit.window) >= limit.tries:
        raise ServiceError(
            Refusal.invite_too_many_tries, minutes=int(limit.window.total_seconds() // 60)
        )
    invite = (await session.exec(select(InviteCode).where(col(InviteCode.code) == code))).first()
    refusal: Refusal | None = None
    if invite is None:
        refusal = Refusal.invite_unknown
    elif invite.expires_at <= now:
        refusal = Refusal.invite_expired
    elif invite.uses_left <= 0:
        refusal = Refusal.invite_used_up
    if refusal is not None or invite is None:
        session.add(InviteAttempt(telegram_id=telegram_id, at=now))
        await session.flush()
        raise ServiceError(refusal or Refusal.invite_unknown)
    return invite


async def redeem_invite(
    session: AsyncSession, clock: Clock, who: TelegramIdentity, code: str, limit: GuessLimit
) -> User:
    """Consent and join with the invite's role and scope, using up one use."""
    invite = await check_invite(session, clock, who.telegram_id, code, limit)
    existing = await get_user(session, who.telegram_id)
    if existing is not None and RANK[Role(existing.role)] > RANK[Role(invite.role)]:
        raise ServiceError(Refusal.invite_role_held, role=existing.role)
    user = await give_consent(session, clock, who)
    user.role = invite.role
    user.street_id = invite.street_id
    user.community_id = invite.community_id
    user.grid_id = invite.grid_id
    user.household_id = None
    invite.uses_left -= 1
    session.add_all([user, invite])
    await session.flush()
    return user
