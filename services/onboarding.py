"""What /start and the consent buttons lead to.

Before consent nothing about the user is stored; the deep-link payload travels in the consent
button instead. An invite is checked before the notice is shown, so a bad code is refused at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from services.clock import Clock
from services.errors import Refusal, ServiceError
from services.invites import GuessLimit, check_invite, redeem_invite
from services.org import Place, community_by_station, describe_place
from services.users import (
    INVITE_PREFIX,
    STATION_PREFIX,
    TelegramIdentity,
    bind_by_station,
    get_user,
    give_consent,
)
from storage.models import Role, User

PAYLOAD_PATTERN = re.compile(r"^(st|inv)_[A-Za-z0-9]{1,20}$")


class Step(StrEnum):
    ask_consent = "ask_consent"
    choose_street = "choose_street"
    bound = "bound"
    joined = "joined"
    welcome_back = "welcome_back"


@dataclass(frozen=True)
class StartResult:
    step: Step
    user: User | None = None
    place: Place | None = None
    payload: str = ""
    # A station code that no longer exists: the user chooses by hand and is told why.
    station_unknown: bool = False


def clean_payload(raw: str | None) -> str:
    raw = (raw or "").strip()
    return raw if PAYLOAD_PATTERN.match(raw) else ""


async def _place_of(session: AsyncSession, user: User) -> Place:
    return await describe_place(
        session, street_id=user.street_id, community_id=user.community_id, grid_id=user.grid_id
    )


async def _joined(session: AsyncSession, user: User) -> StartResult:
    return StartResult(Step.joined, user=user, place=await _place_of(session, user))


async def _settled(session: AsyncSession, user: User) -> StartResult:
    if user.role == Role.resident and user.community_id is None:
        return StartResult(Step.choose_street, user=user)
    return StartResult(Step.welcome_back, user=user)


async def start(
    session: AsyncSession,
    clock: Clock,
    who: TelegramIdentity,
    raw_payload: str | None,
    limit: GuessLimit,
) -> StartResult:
    payload = clean_payload(raw_payload)
    user = await get_user(session, who.telegram_id)
    registered = user is not None and user.consent_at is not None and user.active
    if registered and user is not None:
        if payload.startswith(INVITE_PREFIX):
            return await _joined(
                session,
                await redeem_invite(
                    session, clock, who, payload.removeprefix(INVITE_PREFIX), limit
                ),
            )
        if payload.startswith(STATION_PREFIX) and user.role == Role.resident:
            return await _bind_station(session, user, payload)
        return await _settled(session, user)
    station_unknown = False
    if payload.startswith(INVITE_PREFIX):
        await check_invite(
            session, clock, who.telegram_id, payload.removeprefix(INVITE_PREFIX), limit
        )
    elif (
        payload.startswith(STATION_PREFIX)
        and await community_by_station(session, payload.removeprefix(STATION_PREFIX)) is None
    ):
        payload, station_unknown = "", True
    return StartResult(Step.ask_consent, payload=payload, station_unknown=station_unknown)


async def _bind_station(session: AsyncSession, user: User, payload: str) -> StartResult:
    try:
        await bind_by_station(session, user, payload.removeprefix(STATION_PREFIX))
    except ServiceError as error:
        if error.refusal is Refusal.unknown_station:
            return StartResult(Step.choose_street, user=user, station_unknown=True)
        raise
    return StartResult(Step.bound, user=user, place=await _place_of(session, user))


async def consent(
    session: AsyncSession, clock: Clock, who: TelegramIdentity, raw_payload: str, limit: GuessLimit
) -> StartResult:
    """The user agreed to the notice: store them and act on the payload they came with."""
    payload = clean_payload(raw_payload)
    if payload.startswith(INVITE_PREFIX):
        user = await redeem_invite(session, clock, who, payload.removeprefix(INVITE_PREFIX), limit)
        return await _joined(session, user)
    user = await give_consent(session, clock, who)
    if payload.startswith(STATION_PREFIX) and user.role == Role.resident:
        return await _bind_station(session, user, payload)
    return await _settled(session, user)
