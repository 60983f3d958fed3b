"""The demo district: counts, persona bindings, data shape, determinism and idempotency."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.clock import ManualClock
from services.demo import PERSONAS, DemoReport, seed_demo
from storage.db import SessionFactory, make_engine, make_session_factory
from storage.migrate import upgrade_async
from storage.models import (
    HOUSEHOLD_TAGS,
    Community,
    Grid,
    Household,
    Role,
    Street,
    User,
    VolunteerHousehold,
)

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)

MakeDb = Callable[[str], Coroutine[Any, Any, SessionFactory]]


@pytest.fixture
async def make_db(tmp_path: Path) -> AsyncIterator[MakeDb]:
    """Makes fresh, migrated SQLite file databases; disposes their engines afterwards."""
    engines = []

    async def make(name: str) -> SessionFactory:
        url = f"sqlite+aiosqlite:///{tmp_path / name}.db"
        await upgrade_async(url)
        engine = make_engine(url)
        engines.append(engine)
        return make_session_factory(engine)

    yield make
    for engine in engines:
        await engine.dispose()


@pytest.fixture
async def sessions(make_db: MakeDb) -> SessionFactory:
    return await make_db("demo")


async def _seed(sessions: SessionFactory) -> DemoReport:
    async with sessions() as session:
        report = await seed_demo(session, ManualClock(NOW))
        await session.commit()
    return report


async def _count(session: AsyncSession, table: type[SQLModel]) -> int:
    table_: Any = table
    result = await session.exec(select(func.count()).select_from(table_))
    return int(result.one())


async def _counts(sessions: SessionFactory) -> dict[str, int]:
    tables: dict[str, type[SQLModel]] = {
        "streets": Street,
        "communities": Community,
        "grids": Grid,
        "households": Household,
        "users": User,
        "assignments": VolunteerHousehold,
    }
    async with sessions() as session:
        return {name: await _count(session, table) for name, table in tables.items()}


async def _user(session: AsyncSession, telegram_id: int) -> User:
    result = await session.exec(select(User).where(User.telegram_id == telegram_id))
    return result.one()


async def _community(session: AsyncSession, street: str, name: str) -> Community:
    result = await session.exec(
        select(Community)
        .join(Street, col(Street.id) == Community.street_id)
        .where(Street.name == street, Community.name == name)
    )
    return result.one()


async def _grid(session: AsyncSession, community: Community, number: int) -> Grid:
    result = await session.exec(
        select(Grid).where(Grid.community_id == community.id, Grid.number == number)
    )
    return result.one()


async def _assigned(session: AsyncSession, user: User) -> set[int]:
    result = await session.exec(
        select(VolunteerHousehold.household_id).where(VolunteerHousehold.volunteer_id == user.id)
    )
    return set(result.all())


async def _household_rows(sessions: SessionFactory) -> list[tuple[Any, ...]]:
    async with sessions() as session:
        result = await session.exec(
            select(Household, Grid, Community, Street)
            .join(Grid, col(Grid.id) == Household.grid_id)
            .join(Community, col(Community.id) == Grid.community_id)
            .join(Street, col(Street.id) == Community.street_id)
        )
        return sorted(
            (
                s.name,
                c.name,
                g.number,
                h.building,
                h.unit,
                h.room,
                h.head_name,
                h.phone,
                h.tags,
                h.latitude,
                h.longitude,
            )
            for h, g, c, s in result.all()
        )


async def test_first_seed_creates_the_district(sessions: SessionFactory) -> None:
    report = await _seed(sessions)

    counts = await _counts(sessions)
    assert counts == {
        "streets": 2,
        "communities": 4,
        "grids": 12,
        "households": 120,
        "users": len(PERSONAS),
        "assignments": 30,
    }
    assert report == DemoReport(
        streets_created=2,
        communities_created=4,
        grids_created=12,
        households_created=120,
        users_created=len(PERSONAS),
        assignments_created=30,
        streets_total=2,
        communities_total=4,
        grids_total=12,
        households_total=120,
        users_total=len(PERSONAS),
        assignments_total=30,
    )
    async with sessions() as session:
        streets = (await session.exec(select(Street.name))).all()
        assert set(streets) == {"平江街道", "双塔街道"}
        communities = (await session.exec(select(Community))).all()
        codes = {c.station_code for c in communities}
        assert codes == {"pj01", "pj02", "st01", "st02"}
        assert all(re.fullmatch(r"[a-z0-9]+", code) for code in codes)
        grids = (await session.exec(select(Grid))).all()
        assert all(g.name == f"第{g.number}网格" for g in grids)
        assert sorted(g.number for g in grids) == sorted([1, 2, 3] * 4)
        per_grid = (
            await session.exec(
                select(Household.grid_id, func.count()).group_by(col(Household.grid_id))
            )
        ).all()
        assert sorted(n for _, n in per_grid) == [10] * 12


async def test_households_look_like_a_gusu_roster(sessions: SessionFactory) -> None:
    await _seed(sessions)
    async with sessions() as session:
        households = (await session.exec(select(Household))).all()

    phones = [h.phone for h in households]
    assert all(re.fullmatch(r"1[3-9]\d{9}", p) for p in phones)
    assert len(set(phones)) == len(phones)
    assert all(re.fullmatch(r"\d{3}", h.room) for h in households)
    assert all(re.fullmatch(r"(\d+幢|\D+\d+号)", h.building) for h in households)
    assert all(h.unit in {"", "1单元", "2单元", "3单元"} for h in households)
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}", h.head_name) for h in households)

    tagged = [h for h in households if h.tags]
    assert 0.2 <= len(tagged) / len(households) <= 0.5
    for h in tagged:
        tags = h.tags.split(";")
        assert 1 <= len(tags) <= 2
        assert set(tags) <= set(HOUSEHOLD_TAGS)
        assert len(set(tags)) == len(tags)

    located = [h for h in households if h.latitude is not None]
    assert len(located) >= len(households) * 0.7
    for h in located:
        lat, lon = h.latitude, h.longitude
        assert lat is not None and lon is not None
        assert 31.29 <= lat <= 31.34
        assert 120.59 <= lon <= 120.65


async def test_personas_are_bound_to_their_places(sessions: SessionFactory) -> None:
    await _seed(sessions)
    async with sessions() as session:
        xuanqiao = await _community(session, "平江街道", "悬桥社区")
        niujiaxiang = await _community(session, "平江街道", "钮家巷社区")
        shuangta = (await session.exec(select(Street).where(Street.name == "双塔街道"))).one()
        grid1 = await _grid(session, xuanqiao, 1)
        grid2 = await _grid(session, xuanqiao, 2)
        nj_grid1 = await _grid(session, niujiaxiang, 1)

        for persona in PERSONAS:
            user = await _user(session, persona.telegram_id)
            assert user.display_name == persona.display_name
            assert user.role is persona.role
            assert user.chat_id == user.telegram_id
            assert user.active
            assert user.consent_at == NOW
            assert user.created_at == NOW
            assert persona.description.startswith(
                {
                    Role.resident: "居民",
                    Role.volunteer: "志愿者",
                    Role.coordinator: "社区书记",
                    Role.admin: "街道管理员",
                }[persona.role]
            )

        wang = await _user(session, 1001)
        assert wang.role is Role.resident
        assert (wang.street_id, wang.community_id, wang.grid_id) == (
            xuanqiao.street_id,
            xuanqiao.id,
            grid1.id,
        )
        assert wang.household_id is not None
        home = await session.get(Household, wang.household_id)
        assert home is not None
        assert home.grid_id == grid1.id
        assert home.head_name == "王秀英"
        assert set(home.tags.split(";")) == {"独居老人", "高龄"}
        assert home.latitude is not None and home.longitude is not None

        li = await _user(session, 2001)
        assert li.role is Role.volunteer
        assert (li.street_id, li.community_id, li.grid_id) == (
            xuanqiao.street_id,
            xuanqiao.id,
            grid1.id,
        )
        li_homes = await _assigned(session, li)
        assert len(li_homes) == 10
        assert wang.household_id in li_homes
        grid1_homes = set(
            (await session.exec(select(Household.id).where(Household.grid_id == grid1.id))).all()
        )
        assert li_homes == grid1_homes

        zhang = await _user(session, 3001)
        assert zhang.role is Role.coordinator
        assert (zhang.street_id, zhang.community_id, zhang.grid_id) == (
            xuanqiao.street_id,
            xuanqiao.id,
            None,
        )

        chen = await _user(session, 4001)
        assert chen.role is Role.admin
        assert chen.street_id == xuanqiao.street_id
        assert (chen.community_id, chen.grid_id, chen.household_id) == (None, None, None)

        sun = await _user(session, 4002)
        assert sun.role is Role.admin
        assert sun.street_id == shuangta.id
        assert sun.community_id is None

        uncle = await _user(session, 1002)
        assert (uncle.community_id, uncle.grid_id) == (xuanqiao.id, grid2.id)
        assert uncle.household_id is not None
        uncle_home = await session.get(Household, uncle.household_id)
        assert uncle_home is not None and uncle_home.grid_id == grid2.id

        grandma = await _user(session, 1003)
        assert grandma.community_id == niujiaxiang.id
        assert grandma.street_id == niujiaxiang.street_id
        assert grandma.grid_id is not None and grandma.household_id is not None

        zhou = await _user(session, 2002)
        assert zhou.grid_id == grid2.id
        zhou_homes = await _assigned(session, zhou)
        assert len(zhou_homes) == 10
        assert uncle.household_id in zhou_homes

        wu = await _user(session, 2003)
        assert (wu.street_id, wu.community_id, wu.grid_id) == (
            niujiaxiang.street_id,
            niujiaxiang.id,
            nj_grid1.id,
        )
        assert len(await _assigned(session, wu)) == 10

        liu = await _user(session, 3002)
        assert liu.role is Role.coordinator
        assert liu.community_id == niujiaxiang.id

        assignments = (await session.exec(select(VolunteerHousehold))).all()
        assert all(a.assigned_at == NOW for a in assignments)


async def test_second_seed_changes_nothing(sessions: SessionFactory) -> None:
    await _seed(sessions)
    counts = await _counts(sessions)
    rows = await _household_rows(sessions)

    again = await _seed(sessions)

    assert again.created == 0
    assert (
        again.streets_created,
        again.communities_created,
        again.grids_created,
        again.households_created,
        again.users_created,
        again.assignments_created,
    ) == (0, 0, 0, 0, 0, 0)
    assert await _counts(sessions) == counts
    assert (
        again.streets_total,
        again.communities_total,
        again.grids_total,
        again.households_total,
        again.users_total,
        again.assignments_total,
    ) == (
        counts["streets"],
        counts["communities"],
        counts["grids"],
        counts["households"],
        counts["users"],
        counts["assignments"],
    )
    assert await _household_rows(sessions) == rows


async def test_seed_fills_in_only_what_is_missing(sessions: SessionFactory) -> None:
    async with sessions() as session:
        session.add(Street(name="平江街道"))
        session.add(Street(name="金阊街道"))  # not part of the demo: left alone
        await session.commit()

    report = await _seed(sessions)
    assert report.streets_created == 1
    assert report.streets_total == 3

    async with sessions() as session:
        li = await _user(session, 2001)
        first = (
            await session.exec(
                select(VolunteerHousehold).where(VolunteerHousehold.volunteer_id == li.id)
            )
        ).first()
        assert first is not None
        await session.delete(first)
        await session.commit()

    report = await _seed(sessions)
    assert report.created == report.assignments_created == 1
    assert report.assignments_total == 30


async def test_the_district_is_the_same_every_run(make_db: MakeDb) -> None:
    first = await make_db("first")
    second = await make_db("second")
    await _seed(first)
    await _seed(second)
    assert await _household_rows(first) == await _household_rows(second)


def test_personas_are_listed() -> None:
    ids = [p.telegram_id for p in PERSONAS]
    assert len(set(ids)) == len(ids)
    by_id = {p.telegram_id: p for p in PERSONAS}
    assert by_id[1001].display_name == "王阿姨"
    assert by_id[1001].description == "居民 · 悬桥社区"
    assert by_id[4001].role is Role.admin
    assert {p.role for p in PERSONAS} == set(Role)
