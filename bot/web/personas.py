"""The people the chat page lets you play: registered users, demo personas first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlmodel import col, select

from services.demo import PERSONAS, ROLE_LABELS
from storage.db import SessionFactory
from storage.models import Community, Grid, Role, Street, User

__all__ = ["MAIN_PERSONA_IDS", "PersonaSource", "PersonaView", "load_personas", "persona_loader"]

ROLE_ORDER = (Role.resident, Role.volunteer, Role.coordinator, Role.admin)
# The first demo persona of each role (王阿姨, 小李, 张书记, 陈主任): shown first, larger.
MAIN_PERSONA_IDS: tuple[int, ...] = tuple(
    next(p.telegram_id for p in PERSONAS if p.role is role) for role in ROLE_ORDER
)
_DEMO_ORDER = {p.telegram_id: i for i, p in enumerate(PERSONAS)}


@dataclass(frozen=True)
class PersonaView:
    """One user as the page lists them (the chat id of their private chat is their id)."""

    telegram_id: int
    name: str
    role: str  # Role value: resident, volunteer, coordinator, admin
    role_label: str  # e.g. 居民
    description: str  # e.g. 居民 · 悬桥社区
    main: bool  # one of the four main demo personas

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


PersonaSource = Callable[[], Awaitable[list[PersonaView]]]


def _sort_key(user: User) -> tuple[int, int, int]:
    if user.telegram_id in MAIN_PERSONA_IDS:
        return (0, MAIN_PERSONA_IDS.index(user.telegram_id), 0)
    if user.telegram_id in _DEMO_ORDER:
        return (1, _DEMO_ORDER[user.telegram_id], 0)
    return (2, user.id or 0, user.telegram_id)


async def load_personas(session_factory: SessionFactory) -> list[PersonaView]:
    """Every active user who gave consent, the four main personas first, then the other
    demo personas, then everyone else in the order they joined."""
    async with session_factory() as session:
        users = (
            await session.exec(
                select(User).where(col(User.consent_at).is_not(None), col(User.active))
            )
        ).all()
        streets = {s.id: s for s in (await session.exec(select(Street))).all()}
        communities = {c.id: c for c in (await session.exec(select(Community))).all()}
        grids = {g.id: g for g in (await session.exec(select(Grid))).all()}

    def describe(user: User) -> str:
        label = ROLE_LABELS[user.role]
        grid = grids.get(user.grid_id)
        community = communities.get(user.community_id)
        if community is None and grid is not None:
            community = communities.get(grid.community_id)
        if user.role is Role.volunteer and community is not None and grid is not None:
            return f"{label} · {community.name}第{grid.number}网格"
        if community is not None:
            return f"{label} · {community.name}"
        street = streets.get(user.street_id)
        if street is not None:
            return f"{label} · {street.name}"
        return f"{label} · 全区" if user.role is Role.admin else label

    return [
        PersonaView(
            telegram_id=user.telegram_id,
            name=user.display_name,
            role=user.role.value,
            role_label=ROLE_LABELS[user.role],
            description=describe(user),
            main=user.telegram_id in MAIN_PERSONA_IDS,
        )
        for user in sorted(users, key=_sort_key)
    ]


def persona_loader(session_factory: SessionFactory) -> PersonaSource:
    """``load_personas`` bound to a database, for ``mount_chat_page``."""

    async def load() -> list[PersonaView]:
        return await load_personas(session_factory)

    return load
