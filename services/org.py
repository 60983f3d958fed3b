"""The organisation: district → street → community → grid → household."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.errors import Refusal, ServiceError
from storage.models import Community, Grid, Household, Street

T = TypeVar("T")
PAGE_SIZE = 8


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    pages: int

    @property
    def has_prev(self) -> bool:
        return self.page > 0

    @property
    def has_next(self) -> bool:
        return self.page + 1 < self.pages


def _page_bounds(total: int, page: int, size: int) -> tuple[int, int]:
    pages = max(1, -(-total // size))
    page = min(max(page, 0), pages - 1)
    return page, pages


async def streets_page(session: AsyncSession, page: int, size: int = PAGE_SIZE) -> Page[Street]:
    total = (await session.exec(select(func.count()).select_from(Street))).one()
    page, pages = _page_bounds(total, page, size)
    rows = await session.exec(
        select(Street).order_by(col(Street.id)).offset(page * size).limit(size)
    )
    return Page(list(rows), page, pages)


async def communities_page(
    session: AsyncSession, street_id: int, page: int, size: int = PAGE_SIZE
) -> Page[Community]:
    if await session.get(Street, street_id) is None:
        raise ServiceError(Refusal.unknown_street)
    where = col(Community.street_id) == street_id
    total = (await session.exec(select(func.count()).select_from(Community).where(where))).one()
    page, pages = _page_bounds(total, page, size)
    rows = await session.exec(
        select(Community).where(where).order_by(col(Community.id)).offset(page * size).limit(size)
    )
    return Page(list(rows), page, pages)


async def grids_of(session: AsyncSession, community_id: int) -> list[Grid]:
    rows = await session.exec(
        select(Grid).where(col(Grid.community_id) == community_id).order_by(col(Grid.number))
    )
    return list(rows)


async def community_by_station(session: AsyncSession, station_code: str) -> Community | None:
    rows = await session.exec(select(Community).where(col(Community.station_code) == station_code))
    return rows.first()


async def community_by_name(session: AsyncSession, name: str) -> Community:
    rows = list(await session.exec(select(Community).where(col(Community.name) == name)))
    if len(rows) != 1:
        raise ServiceError(Refusal.unknown_community, name=name)
    return rows[0]


async def street_by_name(session: AsyncSession, name: str) -> Street:
    street = (await session.exec(select(Street).where(col(Street.name) == name))).first()
    if street is None:
        raise ServiceError(Refusal.unknown_street, name=name)
    return street


@dataclass(frozen=True)
class Place:
    """Names of a user's or household's place, for display."""

    street: str | None = None
    community: str | None = None
    grid: str | None = None
    household: str | None = None


def household_address(household: Household) -> str:
    return f"{household.building}{household.unit}{household.room}室"


async def describe_place(
    session: AsyncSession,
    *,
    street_id: int | None = None,
    community_id: int | None = None,
    grid_id: int | None = None,
    household_id: int | None = None,
) -> Place:
    street = await session.get(Street, street_id) if street_id else None
    community = await session.get(Community, community_id) if community_id else None
    grid = await session.get(Grid, grid_id) if grid_id else None
    household = await session.get(Household, household_id) if household_id else None
    return Place(
        street=street.name if street else None,
        community=community.name if community else None,
        grid=grid.name if grid else None,
        household=household_address(household) if household else None,
    )
