"""/start and consent decisions, without aiogram."""

from __future__ import annotations

from datetime import timedelta

from services import onboarding
from services.clock import ManualClock
from services.invites import GuessLimit
from services.onboarding import Step
from services.users import TelegramIdentity, get_user
from storage.db import SessionFactory

LIMIT = GuessLimit(tries=5, window=timedelta(minutes=10))
NEWCOMER = TelegramIdentity(7001, 7001, "新居民")


async def test_nothing_is_stored_before_consent(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        result = await onboarding.start(session, clock, NEWCOMER, "st_pj02", LIMIT)
        assert result.step is Step.ask_consent and result.payload == "st_pj02"
        assert await get_user(session, 7001) is None
        result = await onboarding.consent(session, clock, NEWCOMER, result.payload, LIMIT)
        assert result.step is Step.bound and result.place is not None
        assert result.place.community == "钮家巷社区"
        user = await get_user(session, 7001)
        assert user is not None and user.consent_at == clock.now()


async def test_malformed_payloads_are_ignored(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        for payload in ("", "garbage", "st_", "inv_<script>", "st_" + "x" * 40):
            result = await onboarding.start(session, clock, NEWCOMER, payload, LIMIT)
            assert result.step is Step.ask_consent and result.payload == ""


async def test_returning_users_are_welcomed_back(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        resident = TelegramIdentity(1001, 1001, "王阿姨")
        result = await onboarding.start(session, clock, resident, None, LIMIT)
        assert result.step is Step.welcome_back
        # A resident without a community is asked to choose one.
        await onboarding.consent(session, clock, NEWCOMER, "", LIMIT)
        again = await onboarding.start(session, clock, NEWCOMER, None, LIMIT)
        assert again.step is Step.choose_street
