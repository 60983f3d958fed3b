"""Invite rules, without aiogram: who may invite whom, uses, expiry, ranks, guessing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from services import invites
from services.clock import ManualClock
from services.errors import Refusal, ServiceError
from services.users import TelegramIdentity, get_user
from storage.db import SessionFactory
from storage.models import Role, User

LIMIT = invites.GuessLimit(tries=5, window=timedelta(minutes=10))


async def persona(session: AsyncSession, telegram_id: int) -> User:
    user = await get_user(session, telegram_id)
    assert user is not None
    return user


def who(telegram_id: int) -> TelegramIdentity:
    return TelegramIdentity(telegram_id, telegram_id, f"新人{telegram_id}")


async def test_coordinator_invites_volunteers_to_own_grids_only(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        coordinator = await persona(session, 3001)
        assert invites.invitable_roles(coordinator) == (Role.volunteer,)
        options = await invites.invite_scope_options(session, coordinator, Role.volunteer)
        assert [o.label for o in options] == ["第1网格", "第2网格", "第3网格"]
        with pytest.raises(ServiceError) as refused:
            await invites.invite_scope_options(session, coordinator, Role.coordinator)
        assert refused.value.refusal is Refusal.not_allowed
        other = await persona(session, 3002)
        foreign = (await invites.invite_scope_options(session, other, Role.volunteer))[0].id
        with pytest.raises(ServiceError):
            await invites.create_invite(
                session, clock, coordinator, role=Role.volunteer, scope_id=foreign
            )


async def test_admin_invites_coordinators_within_the_street(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        admin = await persona(session, 4001)
        options = await invites.invite_scope_options(session, admin, Role.coordinator)
        assert [o.label for o in options] == ["悬桥社区", "钮家巷社区"]
        grids = await invites.invite_scope_options(session, admin, Role.volunteer)
        assert grids[0].label == "悬桥社区 第1网格" and len(grids) == 6
        created = await invites.create_invite(
            session, clock, admin, role=Role.coordinator, scope_id=options[1].id, uses=2
        )
        user = await invites.redeem_invite(session, clock, who(6001), created.invite.code, LIMIT)
        assert user.role == Role.coordinator and user.community_id == options[1].id
        assert created.invite.uses_left == 1


async def test_residents_and_volunteers_cannot_invite(session_factory: SessionFactory) -> None:
    async with session_factory() as session:
        for telegram_id in (1001, 2001):
            assert invites.invitable_roles(await persona(session, telegram_id)) == ()


async def test_uses_bounds_and_expiry(session_factory: SessionFactory, clock: ManualClock) -> None:
    async with session_factory() as session:
        coordinator = await persona(session, 3001)
        for uses in (0, invites.MAX_USES + 1):
            with pytest.raises(ServiceError) as refused:
                await invites.create_invite(
                    session, clock, coordinator, role=Role.volunteer, grid_number=1, uses=uses
                )
            assert refused.value.refusal is Refusal.bad_uses
        created = await invites.create_invite(
            session, clock, coordinator, role=Role.volunteer, grid_number=1, ttl=timedelta(hours=1)
        )
        clock.advance(timedelta(hours=1))
        with pytest.raises(ServiceError) as refused:
            await invites.redeem_invite(session, clock, who(6002), created.invite.code, LIMIT)
        assert refused.value.refusal is Refusal.invite_expired
        assert await get_user(session, 6002) is None


async def test_an_invite_never_lowers_a_role(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        coordinator = await persona(session, 3001)
        created = await invites.create_invite(
            session, clock, coordinator, role=Role.volunteer, grid_number=1
        )
        with pytest.raises(ServiceError) as refused:
            await invites.redeem_invite(session, clock, who(3002), created.invite.code, LIMIT)
        assert refused.value.refusal is Refusal.invite_role_held
        assert (await persona(session, 3002)).role == Role.coordinator
        # A resident is raised to volunteer.
        resident = await invites.redeem_invite(
            session, clock, who(1002), created.invite.code, LIMIT
        )
        assert resident.role == Role.volunteer and resident.household_id is None


async def test_guessing_is_limited_per_user_and_window(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        for _ in range(LIMIT.tries):
            with pytest.raises(ServiceError) as refused:
                await invites.check_invite(session, clock, 6003, "nosuchcode", LIMIT)
            assert refused.value.refusal is Refusal.invite_unknown
        with pytest.raises(ServiceError) as refused:
            await invites.check_invite(session, clock, 6003, "nosuchcode", LIMIT)
        assert refused.value.refusal is Refusal.invite_too_many_tries
        # Someone else is not affected.
        with pytest.raises(ServiceError) as refused:
            await invites.check_invite(session, clock, 6004, "nosuchcode", LIMIT)
        assert refused.value.refusal is Refusal.invite_unknown
        clock.advance(LIMIT.window)
        with pytest.raises(ServiceError) as refused:
            await invites.check_invite(session, clock, 6003, "nosuchcode", LIMIT)
        assert refused.value.refusal is Refusal.invite_unknown
