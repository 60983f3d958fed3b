"""An idempotent demo district: two streets of Gusu, their communities, grids, households
and a fixed cast of personas (resident, volunteer, coordinator, admin) to try the bot with.

All data comes from a fixed random seed, so every run describes the same district. Rows are
matched on their natural keys (street name; street + community name; community + grid
number; grid + building + unit + room; telegram id; volunteer + household) and only missing
ones are added: running `seed_demo` again creates nothing and changes nothing, and rows that
already exist (even edited ones) are left as they are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.clock import Clock
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

SEED = 20261124
GRIDS_PER_COMMUNITY = 3
HOUSEHOLDS_PER_GRID = 10

ROLE_LABELS: dict[Role, str] = {
    Role.resident: "居民",
    Role.volunteer: "志愿者",
    Role.coordinator: "社区书记",
    Role.admin: "街道管理员",
}


# --------------------------------------------------------------------------- district layout


@dataclass(frozen=True)
class _CommunitySpec:
    name: str
    station_code: str
    # Where the community's households lie (the centre of a small jitter box).
    latitude: float
    longitude: float
    # One address pattern per grid: a lane name (old houses: "<lane><n>号") or a
    # residential compound (numbered buildings "<n>幢" with units).
    grid_addresses: tuple[str, str, str]


@dataclass(frozen=True)
class _StreetSpec:
    name: str
    communities: tuple[_CommunitySpec, _CommunitySpec]


# "<lane>巷/街/坊/弄" entries are lanes; entries ending in "新村"/"小区" are compounds.
STREETS: tuple[_StreetSpec, _StreetSpec] = (
    _StreetSpec(
        "平江街道",
        (
            _CommunitySpec("悬桥社区", "pj01", 31.3225, 120.6305, ("悬桥巷", "大儒巷", "丁香巷")),
            _CommunitySpec(
                "钮家巷社区", "pj02", 31.3180, 120.6290, ("钮家巷", "混堂巷", "潘儒巷新村")
            ),
        ),
    ),
    _StreetSpec(
        "双塔街道",
        (
            _CommunitySpec(
                "定慧寺社区", "st01", 31.3040, 120.6330, ("定慧寺巷", "官太尉桥", "带城新村")
            ),
            _CommunitySpec(
                "滚绣坊社区", "st02", 31.3055, 120.6250, ("滚绣坊", "十梓街", "南石子街")
            ),
        ),
    ),
)

_SURNAMES = "王李张刘陈杨黄赵周吴徐孙朱马胡郭林何高沈顾陆钱蒋姚汪潘许曹叶程袁"  # common in Suzhou
_GIVEN_NAMES = (
    "秀英",
    "桂英",
    "玉兰",
    "凤珍",
    "美娟",
    "惠芬",
    "雪芳",
    "丽华",
    "佩玲",
    "海燕",
    "月娥",
    "金妹",
    "建国",
    "国华",
    "建华",
    "志明",
    "根生",
    "金宝",
    "林生",
    "伟民",
    "卫东",
    "小平",
    "文杰",
    "明华",
    "永康",
    "德兴",
    "荣根",
    "鸿飞",
    "静",
    "敏",
)
# Weights: elderly-care tags dominate an old-town roster.
_TAG_WEIGHTS: dict[str, int] = {
    "独居老人": 5,
    "高龄": 5,
    "空巢": 4,
    "残疾": 2,
    "低保": 2,
    "特困": 1,
    "退役军人": 2,
    "重点关注": 2,
}


@dataclass(frozen=True)
class _HouseholdSpec:
    building: str
    unit: str
    room: str
    head_name: str
    phone: str
    tags: str
    latitude: float | None
    longitude: float | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.building, self.unit, self.room)


def _is_compound(address: str) -> bool:
    return address.endswith(("新村", "小区"))


def _addresses(rng: random.Random, pattern: str) -> list[tuple[str, str, str]]:
    """Ten distinct (building, unit, room) triples for one grid, in a stable order."""
    chosen: set[tuple[str, str, str]] = set()
    result: list[tuple[str, str, str]] = []
    while len(result) < HOUSEHOLDS_PER_GRID:
        if _is_compound(pattern):
            building = f"{rng.randint(1, 24)}幢"
            unit = f"{rng.randint(1, 3)}单元"
            room = f"{rng.randint(1, 6)}0{rng.randint(1, 4)}"
        else:
            # Old lane houses: a door number, no units, mostly one or two floors.
            building = f"{pattern}{rng.randint(1, 88)}号"
            unit = ""
            room = f"{rng.randint(1, 2)}0{rng.randint(1, 3)}"
        key = (building, unit, room)
        if key not in chosen:
            chosen.add(key)
            result.append(key)
    return result


def _tags(rng: random.Random) -> str:
    if rng.random() >= 1 / 3:
        return ""
    count = 1 if rng.random() < 0.6 else 2
    names = list(HOUSEHOLD_TAGS)
    weights = [_TAG_WEIGHTS.get(tag, 1) for tag in names]
    picked: list[str] = []
    while len(picked) < count:
        tag = rng.choices(names, weights=weights)[0]
        if tag not in picked:
            picked.append(tag)
    # Keep the canonical order of HOUSEHOLD_TAGS so equal sets print alike.
    return ";".join(t for t in HOUSEHOLD_TAGS if t in picked)


def _build_households() -> list[list[list[_HouseholdSpec]]]:
    """households[community index][grid index] -> the grid's ten households."""
    rng = random.Random(SEED)
    total = sum(len(s.communities) for s in STREETS) * GRIDS_PER_COMMUNITY * HOUSEHOLDS_PER_GRID
    phone_tails = rng.sample(range(10000), total)
    result: list[list[list[_HouseholdSpec]]] = []
    n = 0
    for street in STREETS:
        for community in street.communities:
            grids: list[list[_HouseholdSpec]] = []
            for pattern in community.grid_addresses:
                households: list[_HouseholdSpec] = []
                for building, unit, room in _addresses(rng, pattern):
                    surname = rng.choice(_SURNAMES)
                    given = rng.choice(_GIVEN_NAMES)
                    while given.startswith(surname):  # no "林林生"
                        given = rng.choice(_GIVEN_NAMES)
                    name = surname + given
                    tags = _tags(rng)
                    located = rng.random() < 0.9
                    lat = round(community.latitude + rng.uniform(-0.003, 0.003), 6)
                    lon = round(community.longitude + rng.uniform(-0.003, 0.003), 6)
                    households.append(
                        _HouseholdSpec(
                            building=building,
                            unit=unit,
                            room=room,
                            head_name=name,
                            phone=f"1390000{phone_tails[n]:04d}",
                            tags=tags,
                            latitude=lat if located else None,
                            longitude=lon if located else None,
                        )
                    )
                    n += 1
                grids.append(households)
            result.append(grids)
    return result


# --------------------------------------------------------------------------------- personas


@dataclass(frozen=True)
class Persona:
    telegram_id: int
    display_name: str
    role: Role
    description: str  # e.g. "居民 · 悬桥社区"


@dataclass(frozen=True)
class _PersonaSpec:
    telegram_id: int
    display_name: str
    role: Role
    street: int  # index into STREETS
    community: int | None = None  # index among all communities (0..3), street order
    grid: int | None = None  # index within the community (0..2)
    # Residents: index of their household in the grid; its head gets `head_name`/`tags`.
    household: int | None = None
    head_name: str | None = None
    head_tags: str | None = None


_PERSONA_SPECS: tuple[_PersonaSpec, ...] = (
    _PersonaSpec(1001, "王阿姨", Role.resident, 0, 0, 0, 0, "王秀英", "独居老人;高龄"),
    _PersonaSpec(1002, "李伯伯", Role.resident, 0, 0, 1, 0, "李国华", "空巢"),
    _PersonaSpec(1003, "赵奶奶", Role.resident, 0, 1, 0, 0, "赵桂英", "高龄"),
    _PersonaSpec(2001, "小李", Role.volunteer, 0, 0, 0),
    _PersonaSpec(2002, "小周", Role.volunteer, 0, 0, 1),
    _PersonaSpec(2003, "小吴", Role.volunteer, 0, 1, 0),
    _PersonaSpec(3001, "张书记", Role.coordinator, 0, 0),
    _PersonaSpec(3002, "刘书记", Role.coordinator, 0, 1),
    _PersonaSpec(4001, "陈主任", Role.admin, 0),
    _PersonaSpec(4002, "孙主任", Role.admin, 1),
)

_COMMUNITIES: tuple[tuple[int, _CommunitySpec], ...] = tuple(
    (si, c) for si, s in enumerate(STREETS) for c in s.communities
)


def _describe(spec: _PersonaSpec) -> str:
    label = ROLE_LABELS[spec.role]
    if spec.community is None:
        return f"{label} · {STREETS[spec.street].name}"
    community = _COMMUNITIES[spec.community][1].name
    if spec.role is Role.volunteer and spec.grid is not None:
        return f"{label} · {community}第{spec.grid + 1}网格"
    return f"{label} · {community}"


def _check_specs() -> None:
    for spec in _PERSONA_SPECS:
        if spec.community is not None:
            assert _COMMUNITIES[spec.community][0] == spec.street, spec


_check_specs()

PERSONAS: tuple[Persona, ...] = tuple(
    Persona(s.telegram_id, s.display_name, s.role, _describe(s)) for s in _PERSONA_SPECS
)


def _household_specs() -> list[list[list[_HouseholdSpec]]]:
    """The generated roster with the resident personas' homes written in (always located)."""
    households = _build_households()
    for spec in _PERSONA_SPECS:
        if spec.household is None:
            continue
        assert spec.community is not None and spec.grid is not None
        grid = households[spec.community][spec.grid]
        base = grid[spec.household]
        community = _COMMUNITIES[spec.community][1]
        grid[spec.household] = _HouseholdSpec(
            building=base.building,
            unit=base.unit,
            room=base.room,
            head_name=spec.head_name or base.head_name,
            phone=base.phone,
            tags=base.tags if spec.head_tags is None else spec.head_tags,
            latitude=community.latitude if base.latitude is None else base.latitude,
            longitude=community.longitude if base.longitude is None else base.longitude,
        )
    return households


# ----------------------------------------------------------------------------------- seeding


@dataclass(frozen=True)
class DemoReport:
    """Rows created by this run, and the rows of each table present afterwards."""

    streets_created: int
    communities_created: int
    grids_created: int
    households_created: int
    users_created: int
    assignments_created: int
    streets_total: int
    communities_total: int
    grids_total: int
    households_total: int
    users_total: int
    assignments_total: int

    @property
    def created(self) -> int:
        return (
            self.streets_created
            + self.communities_created
            + self.grids_created
            + self.households_created
            + self.users_created
            + self.assignments_created
        )


def _id(row: Street | Community | Grid | Household | User) -> int:
    assert row.id is not None, "flushed rows have ids"
    return row.id


async def _count(session: AsyncSession, table: type[SQLModel]) -> int:
    table_: Any = table
    result = await session.exec(select(func.count()).select_from(table_))
    return int(result.one())


async def seed_demo(session: AsyncSession, clock: Clock) -> DemoReport:
    """Add whatever part of the demo district is missing. The caller commits."""
    now = clock.now()
    if now.tzinfo is None:
        raise ValueError("the clock must give aware datetimes")
    household_specs = _household_specs()

    # Streets.
    names = [s.name for s in STREETS]
    found = await session.exec(select(Street).where(col(Street.name).in_(names)))
    streets_by_name = {s.name: s for s in found.all()}
    streets_created = 0
    for name in names:
        if name not in streets_by_name:
            streets_by_name[name] = Street(name=name)
            session.add(streets_by_name[name])
            streets_created += 1
    await session.flush()
    street_rows = [streets_by_name[name] for name in names]

    # Communities, keyed by (street, name).
    community_rows: list[Community] = []
    communities_created = 0
    street_ids = [_id(s) for s in street_rows]
    found_c = await session.exec(select(Community).where(col(Community.street_id).in_(street_ids)))
    communities_by_key = {(c.street_id, c.name): c for c in found_c.all()}
    for street_index, spec in _COMMUNITIES:
        key = (street_ids[street_index], spec.name)
        community = communities_by_key.get(key)
        if community is None:
            community = Community(street_id=key[0], name=spec.name, station_code=spec.station_code)
            session.add(community)
            communities_created += 1
        community_rows.append(community)
    await session.flush()

    # Grids, keyed by (community, number).
    community_ids = [_id(c) for c in community_rows]
    found_g = await session.exec(select(Grid).where(col(Grid.community_id).in_(community_ids)))
    grids_by_key = {(g.community_id, g.number): g for g in found_g.all()}
    grid_rows: list[list[Grid]] = []
    grids_created = 0
    for community_id in community_ids:
        row: list[Grid] = []
        for number in range(1, GRIDS_PER_COMMUNITY + 1):
            grid = grids_by_key.get((community_id, number))
            if grid is None:
                grid = Grid(community_id=community_id, number=number, name=f"第{number}网格")
                session.add(grid)
                grids_created += 1
            row.append(grid)
        grid_rows.append(row)
    await session.flush()

    # Households, keyed by (grid, building, unit, room).
    grid_ids = [_id(g) for row in grid_rows for g in row]
    found_h = await session.exec(select(Household).where(col(Household.grid_id).in_(grid_ids)))
    households_by_key = {(h.grid_id, h.building, h.unit, h.room): h for h in found_h.all()}
    household_rows: list[list[list[Household]]] = []
    households_created = 0
    for ci, grids in enumerate(grid_rows):
        per_community: list[list[Household]] = []
        for gi, grid in enumerate(grids):
            per_grid: list[Household] = []
            for spec_h in household_specs[ci][gi]:
                hkey = (_id(grid), *spec_h.key)
                household = households_by_key.get(hkey)
                if household is None:
                    household = Household(
                        grid_id=_id(grid),
                        building=spec_h.building,
                        unit=spec_h.unit,
                        room=spec_h.room,
                        head_name=spec_h.head_name,
                        phone=spec_h.phone,
                        tags=spec_h.tags,
                        latitude=spec_h.latitude,
                        longitude=spec_h.longitude,
                    )
                    session.add(household)
                    households_by_key[hkey] = household
                    households_created += 1
                per_grid.append(household)
            per_community.append(per_grid)
        household_rows.append(per_community)
    await session.flush()

    # Users, keyed by telegram id.
    telegram_ids = [p.telegram_id for p in _PERSONA_SPECS]
    found_u = await session.exec(select(User).where(col(User.telegram_id).in_(telegram_ids)))
    users_by_telegram = {u.telegram_id: u for u in found_u.all()}
    users_created = 0
    for p in _PERSONA_SPECS:
        if p.telegram_id in users_by_telegram:
            continue
        user = User(
            telegram_id=p.telegram_id,
            chat_id=p.telegram_id,
            display_name=p.display_name,
            role=p.role,
            street_id=street_ids[p.street],
            consent_at=now,
            active=True,
            created_at=now,
        )
        if p.community is not None:
            user.community_id = community_ids[p.community]
            if p.grid is not None:
                user.grid_id = _id(grid_rows[p.community][p.grid])
                if p.household is not None:
                    user.household_id = _id(household_rows[p.community][p.grid][p.household])
        session.add(user)
        users_by_telegram[p.telegram_id] = user
        users_created += 1
    await session.flush()

    # Assignments: each volunteer looks after every household of their grid.
    volunteers = [p for p in _PERSONA_SPECS if p.role is Role.volunteer]
    volunteer_ids = [_id(users_by_telegram[p.telegram_id]) for p in volunteers]
    found_a = await session.exec(
        select(VolunteerHousehold).where(col(VolunteerHousehold.volunteer_id).in_(volunteer_ids))
    )
    assigned = {(a.volunteer_id, a.household_id) for a in found_a.all()}
    assignments_created = 0
    for p, volunteer_id in zip(volunteers, volunteer_ids, strict=True):
        assert p.community is not None and p.grid is not None
        for household in household_rows[p.community][p.grid]:
            pair = (volunteer_id, _id(household))
            if pair in assigned:
                continue
            session.add(
                VolunteerHousehold(volunteer_id=volunteer_id, household_id=pair[1], assigned_at=now)
            )
            assigned.add(pair)
            assignments_created += 1
    await session.flush()

    return DemoReport(
        streets_created=streets_created,
        communities_created=communities_created,
        grids_created=grids_created,
        households_created=households_created,
        users_created=users_created,
        assignments_created=assignments_created,
        streets_total=await _count(session, Street),
        communities_total=await _count(session, Community),
        grids_total=await _count(session, Grid),
        households_total=await _count(session, Household),
        users_total=await _count(session, User),
        assignments_total=await _count(session, VolunteerHousehold),
    )
