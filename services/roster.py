"""The roster: the organisation (street → community → grid) and the households, imported
from spreadsheets and exported to them.

No aiogram, no typer and no file formats here: a file arrives as a `Table` of text cells
(services/roster_files.py reads and writes CSV and XLSX), is checked row by row into a plan,
and the plan is applied only when no row is bad. A refused import changes nothing.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row 2.

Rules
-----
* Households are matched on their natural key: grid + building + unit + room. Importing a
  known household updates its head name, phone, tags and volunteers instead of adding it
  twice; equal values count as unchanged.
* Phones (the household's and the volunteers'): empty, a mainland mobile number
  ``1[3-9]`` + 9 digits (spaces, hyphens and a +86/0086 prefix are allowed and dropped), or
  a landline with its area code, ``0512-65123456`` (area code 010/02x with 3 digits, any
  other with 4; local number 7-8 digits not starting with 0 or 1; written with or without
  the hyphen). Stored canonically: ``13912345678`` or ``0512-65123456``. A landline without
  its area code is refused.
* Tags are separated by ";" or "；" and must be among HOUSEHOLD_TAGS; they are stored in
  the canonical order of HOUSEHOLD_TAGS.
* volunteer_phone names the household's volunteers (several separated by ";"): each must be
  an active volunteer with that phone in the household's community. The file governs the
  assignments of the volunteers it can name (active volunteers with a phone in that
  community): an empty cell removes those, while assignments of volunteers without a phone
  are left alone.
* Optional columns: unit (absent means ""), phone, tags and volunteer_phone (absent means
  "leave as it is" for known households, empty for new ones).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from sqlmodel import col, select
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

T = TypeVar("T")

# How many ids go into one `IN (...)` (SQLite allows more, but this keeps statements small).
CHUNK = 500
# Progress is reported every this many rows.
PROGRESS_STEP = 250
MAX_GRID_NUMBER = 999

# (stage, done, total); stages are "check" (every row) and "apply" (every household).
ProgressCallback = Callable[[str, int, int], None]


# ------------------------------------------------------------------------------------ tables


@dataclass(frozen=True)
class Table:
    """A sheet of text cells: its header and its data rows, each with its spreadsheet row."""

    header: list[str]
    rows: list[tuple[int, list[str]]]
    header_row: int = 1


class RosterInputError(Exception):
    """Input that cannot be read at all (a missing file, an unknown format, a wrong header)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en

    def line(self) -> str:
        return f"{self.zh} / {self.en}"


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it
    message: str  # Chinese; several problems of one row are joined by "；"

    def line(self) -> str:
        return f"第 {self.row} 行：{self.message}"


class Column(StrEnum):
    street = "street"
    community = "community"
    grid = "grid"
    building = "building"
    unit = "unit"
    room = "room"
    head_name = "head_name"
    phone = "phone"
    tags = "tags"
    volunteer_phone = "volunteer_phone"


HOUSEHOLD_COLUMNS: tuple[Column, ...] = tuple(Column)
HOUSEHOLD_REQUIRED: frozenset[Column] = frozenset(
    {Column.street, Column.community, Column.grid, Column.building, Column.room, Column.head_name}
)
ORG_COLUMNS: tuple[Column, ...] = (Column.street, Column.community, Column.grid)
ORG_REQUIRED: frozenset[Column] = frozenset({Column.street})

CHINESE_HEADERS: dict[Column, str] = {
    Column.street: "街道",
    Column.community: "社区",
    Column.grid: "网格",
    Column.building: "楼幢",
    Column.unit: "单元",
    Column.room: "室",
    Column.head_name: "户主",
    Column.phone: "电话",
    Column.tags: "标签",
    Column.volunteer_phone: "志愿者电话",
}

_EXTRA_ALIASES: dict[str, Column] = {
    "楼栋": Column.building,
    "楼号": Column.building,
    "幢": Column.building,
    "门牌": Column.building,
    "单元号": Column.unit,
    "室号": Column.room,
    "房号": Column.room,
    "房间号": Column.room,
    "户主姓名": Column.head_name,
    "联系电话": Column.phone,
    "电话号码": Column.phone,
    "户主电话": Column.phone,
    "标签类别": Column.tags,
    "志愿者手机": Column.volunteer_phone,
    "网格号": Column.grid,
    "所属街道": Column.street,
    "所属社区": Column.community,
    "所属网格": Column.grid,
}


def _header_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"[\s\-]+", "_", text)


_ALIASES: dict[str, Column] = {
    **{_header_key(c.value): c for c in Column},
    **{_header_key(zh): c for c, zh in CHINESE_HEADERS.items()},
    **{_header_key(zh): c for zh, c in _EXTRA_ALIASES.items()},
}


def map_header(
    table: Table, known: Sequence[Column], required: Iterable[Column]
) -> tuple[dict[Column, int], list[str]]:
    """The position of each known column, and the names of the columns ignored."""
    positions: dict[Column, int] = {}
    ignored: list[str] = []
    for index, name in enumerate(table.header):
        column = _ALIASES.get(_header_key(name))
        if column is None or column not in known:
            if name.strip():
                ignored.append(name.strip())
            continue
        if column in positions:
            raise RosterInputError(
                f"表头中「{name.strip()}」重复（第 {table.header_row} 行）",
                f"column {column.value} appears twice in the header",
            )
        positions[column] = index
    missing = [c for c in known if c in set(required) and c not in positions]
    if missing:
        expected = "，".join(CHINESE_HEADERS[c] for c in known)
        raise RosterInputError(
            f"表头缺少：{'，'.join(CHINESE_HEADERS[c] for c in missing)}（第 {table.header_row} 行应为：{expected}）",
            "header lacks " + ", ".join(c.value for c in missing),
        )
    return positions, ignored


def _cell(cells: list[str], positions: dict[Column, int], column: Column) -> str:
    index = positions.get(column)
    if index is None or index >= len(cells):
        return ""
    return cells[index].strip()


# ------------------------------------------------------------------------------ value rules

_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"(0(?:1|2)\d|0[3-9]\d{2})([2-9]\d{6,7})")
PHONE_HINT = "应为 11 位手机号如 13912345678，或带区号的固定电话如 0512-65123456"


def normalize_phone(raw: str) -> str | None:
    """The canonical phone, "" for an empty cell, None when malformed (see the module rules)."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return ""
    compact = re.sub(r"[\s\-()]", "", text)
    if not compact.isascii() or not compact.lstrip("+").isdigit():
        return None
    for prefix in ("+86", "0086", "86"):
        if compact.startswith(prefix) and len(compact) == len(prefix) + 11:
            compact = compact[len(prefix) :]
            break
    if _MOBILE.fullmatch(compact):
        return compact
    landline = _LANDLINE.fullmatch(compact)
    if landline:
        return f"{landline.group(1)}-{landline.group(2)}"
    return None


def split_tags(raw: str) -> list[str]:
    parts = re.split(r"[;；]", unicodedata.normalize("NFC", raw))
    result: list[str] = []
    for part in parts:
        tag = part.strip()
        if tag and tag not in result:
            result.append(tag)
    return result


def canonical_tags(tags: Iterable[str]) -> str:
    chosen = set(tags)
    return ";".join(t for t in HOUSEHOLD_TAGS if t in chosen)


_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_GRID_PATTERN = re.compile(r"第?\s*([0-9]+|[零〇一二两三四五六七八九十]+)\s*号?\s*(?:网格)?")


def _chinese_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if "十" in text:
        head, _, tail = text.partition("十")
        tens = 1 if head == "" else _CN_DIGITS.get(head)
        units = 0 if tail == "" else _CN_DIGITS.get(tail)
        if tens is None or units is None:
            return None
        return tens * 10 + units
    return _CN_DIGITS.get(text)


def parse_grid_number(text: str) -> int | None:
    """ "1", "第1网格", "1网格", "第一网格" → 1; None when it is not a grid number."""
    match = _GRID_PATTERN.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if not match:
        return None
    number = _chinese_number(match.group(1))
    if number is None or not 1 <= number <= MAX_GRID_NUMBER:
        return None
    return number


def grid_name(number: int) -> str:
    return f"第{number}网格"


def _address_part(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _room(text: str) -> str:
    room = _address_part(text)
    return room[:-1] if len(room) > 1 and room.endswith("室") else room


def address(building: str, unit: str, room: str) -> str:
    return f"{building}{unit}{room}室"


def _too_long(label: str, value: str, limit: int) -> str | None:
    return f"{label}「{value}」太长（最多 {limit} 个字）" if len(value) > limit else None


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _id(row: Street | Community | Grid | Household | User) -> int:
    assert row.id is not None, "rows from the database have ids"
    return row.id


# ------------------------------------------------------------------------- the organisation


@dataclass
class _Org:
    """The whole organisation, loaded once (a district has at most a few thousand grids)."""

    streets: dict[str, Street]
    communities: dict[tuple[int, str], Community]
    grids_by_number: dict[tuple[int, int], Grid]
    grids_by_name: dict[tuple[int, str], Grid]
    communities_by_id: dict[int, Community]
    streets_by_id: dict[int, Street]
    grids_by_id: dict[int, Grid]

    @classmethod
    async def load(cls, session: AsyncSession) -> _Org:
        streets = list(await session.exec(select(Street)))
        communities = list(await session.exec(select(Community)))
        grids = list(await session.exec(select(Grid)))
        return cls(
            streets={s.name: s for s in streets},
            communities={(c.street_id, c.name): c for c in communities},
            grids_by_number={(g.community_id, g.number): g for g in grids},
            grids_by_name={(g.community_id, g.name): g for g in grids},
            communities_by_id={_id(c): c for c in communities},
            streets_by_id={_id(s): s for s in streets},
            grids_by_id={_id(g): g for g in grids},
        )

    def find_grid(self, community_id: int, text: str) -> Grid | None:
        grid = self.grids_by_name.get((community_id, text))
        if grid is not None:
            return grid
        number = parse_grid_number(text)
        return None if number is None else self.grids_by_number.get((community_id, number))

    def place(self, grid: Grid) -> tuple[str, str, str]:
        community = self.communities_by_id[grid.community_id]
        return self.streets_by_id[community.street_id].name, community.name, grid.name


@dataclass
class OrgReport:
    rows: int
    errors: list[RowError]
    streets_created: list[str] = field(default_factory=list)
    # (street, community, station code)
    communities_created: list[tuple[str, str, str]] = field(default_factory=list)
    # (street, community, grid name)
    grids_created: list[tuple[str, str, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def applied(self) -> bool:
        return self.ok and not self.dry_run


def _station_codes(used: set[str], start: int) -> Iterator[str]:
    n = start
    while True:
        code = f"c{n:04d}"
        if code not in used:
            used.add(code)
            yield code
        n += 1


async def import_org(session: AsyncSession, table: Table, *, dry_run: bool = False) -> OrgReport:
    """Create the streets, communities and grids the table names; existing ones are kept.

    All or nothing: when any row is bad, nothing is added. Never commits.
    """
    positions, ignored = map_header(table, ORG_COLUMNS, ORG_REQUIRED)
    org = await _Org.load(session)
    errors: list[RowError] = []
    new_streets: list[str] = []
    new_communities: list[tuple[str, str]] = []
    new_grids: dict[tuple[str, str, int], str] = {}
    rows = 0
    for row, cells in table.rows:
        if not any(c.strip() for c in cells):
            continue
        rows += 1
        problems: list[str] = []
        street_name = _cell(cells, positions, Column.street)
        community_name = _cell(cells, positions, Column.community)
        grid_text = _cell(cells, positions, Column.grid)
        if not street_name:
            problems.append("缺少街道")
        for label, value, limit in (("街道", street_name, 64), ("社区", community_name, 64)):
            if (message := _too_long(label, value, limit)) is not None:
                problems.append(message)
        if grid_text and not community_name:
            problems.append(f"网格「{grid_text}」缺少所属社区")
        number: int | None = None
        if grid_text and community_name:
            number = parse_grid_number(grid_text)
            if number is None:
                street = org.streets.get(street_name)
                community = org.communities.get((_id(street), community_name)) if street else None
                existing = org.grids_by_name.get((_id(community), grid_text)) if community else None
                if existing is None:
                    problems.append(f"网格「{grid_text}」无法识别（请写网格号，如 1 或 第1网格）")
        if problems:
            errors.append(RowError(row, "；".join(problems)))
            continue
        street = org.streets.get(street_name)
        if street is None and street_name not in new_streets:
            new_streets.append(street_name)
        if not community_name:
            continue
        community = org.communities.get((_id(street), community_name)) if street else None
        if community is None and (street_name, community_name) not in new_communities:
            new_communities.append((street_name, community_name))
        if number is None:
            continue
        if community is not None and (_id(community), number) in org.grids_by_number:
            continue
        new_grids.setdefault((street_name, community_name, number), grid_name(number))

    report = OrgReport(rows=rows, errors=errors, ignored_columns=ignored, dry_run=dry_run)
    if errors:
        return report

    used_codes = {c.station_code for c in org.communities_by_id.values()}
    codes = _station_codes(used_codes, max(org.communities_by_id, default=0) + 1)
    planned_codes = {key: next(codes) for key in new_communities}
    report.streets_created = list(new_streets)
    report.communities_created = [(s, c, planned_codes[(s, c)]) for s, c in new_communities]
    report.grids_created = [(s, c, name) for (s, c, _), name in new_grids.items()]
    if dry_run:
        return report

    for name in new_streets:
        street = Street(name=name)
        session.add(street)
        org.streets[name] = street
    await session.flush()
    new_community_rows: dict[tuple[str, str], Community] = {}
    for street_name, community_name in new_communities:
        community = Community(
            street_id=_id(org.streets[street_name]),
            name=community_name,
            station_code=planned_codes[(street_name, community_name)],
        )
        session.add(community)
        new_community_rows[(street_name, community_name)] = community
    await session.flush()
    for (street_name, community_name, number), name in new_grids.items():
        street_id = _id(org.streets[street_name])
        community = (
            new_community_rows.get((street_name, community_name))
            or (org.communities[(street_id, community_name)])
        )
        session.add(Grid(community_id=_id(community), number=number, name=name))
    await session.flush()
    return report


# ------------------------------------------------------------------------------- households


class Action(StrEnum):
    create = "create"
    update = "update"
    unchanged = "unchanged"


ACTION_LABELS: dict[Action, str] = {
    Action.create: "新建",
    Action.update: "更新",
    Action.unchanged: "未变",
}


@dataclass(frozen=True)
class HouseholdChange:
    """What importing one row does to its household."""

    row: int
    action: Action
    place: str  # "平江街道 悬桥社区 第1网格"
    address: str  # "悬桥巷12号101室"
    head_name: str
    changes: tuple[str, ...] = ()  # e.g. "电话 13900001234 → 13900004321"
    volunteers_added: int = 0
    volunteers_removed: int = 0

    def describe(self) -> str:
        text = f"第 {self.row} 行 {ACTION_LABELS[self.action]}：{self.place} {self.address} {self.head_name}"
        return f"{text}（{'，'.join(self.changes)}）" if self.changes else text


@dataclass
class HouseholdReport:
    rows: int
    errors: list[RowError]
    changes: list[HouseholdChange] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def applied(self) -> bool:
        return self.ok and not self.dry_run

    def _count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    @property
    def created(self) -> int:
        return self._count(Action.create)

    @property
    def updated(self) -> int:
        return self._count(Action.update)

    @property
    def unchanged(self) -> int:
        return self._count(Action.unchanged)

    @property
    def volunteers_assigned(self) -> int:
        return sum(c.volunteers_added for c in self.changes)

    @property
    def volunteers_unassigned(self) -> int:
        return sum(c.volunteers_removed for c in self.changes)


@dataclass
class _Row:
    """A checked row: where it goes and what it says."""

    row: int
    grid: Grid
    building: str
    unit: str
    room: str
    head_name: str
    phone: str | None  # None: the column is absent (leave as it is)
    tags: list[str] | None
    volunteer_ids: set[int] | None

    @property
    def key(self) -> tuple[int, str, str, str]:
        return (_id(self.grid), self.building, self.unit, self.room)


@dataclass
class _Volunteers:
    """The volunteers a file can name: active, with a phone, per community."""

    by_phone: dict[int, dict[str, list[User]]]  # community id → phone → volunteers
    nameable: dict[int, set[int]]  # community id → volunteer ids
    phone_of: dict[int, str]  # volunteer id → canonical phone

    @classmethod
    async def load(cls, session: AsyncSession, community_ids: Iterable[int]) -> _Volunteers:
        by_phone: dict[int, dict[str, list[User]]] = {}
        nameable: dict[int, set[int]] = {}
        phone_of: dict[int, str] = {}
        ids = sorted(set(community_ids))
        for chunk in _chunks(ids):
            users = await session.exec(
                select(User).where(
                    col(User.role) == Role.volunteer,
                    col(User.active).is_(True),
                    col(User.community_id).in_(chunk),
                )
            )
            for user in users:
                assert user.community_id is not None
                phone = normalize_phone(user.phone) or user.phone.strip()
                if not phone:
                    continue
                by_phone.setdefault(user.community_id, {}).setdefault(phone, []).append(user)
                nameable.setdefault(user.community_id, set()).add(_id(user))
                phone_of[_id(user)] = phone
        return cls(by_phone, nameable, phone_of)


async def _households_of(
    session: AsyncSession, grid_ids: Sequence[int]
) -> dict[tuple[int, str, str, str], Household]:
    found: dict[tuple[int, str, str, str], Household] = {}
    for chunk in _chunks(grid_ids):
        rows = await session.exec(select(Household).where(col(Household.grid_id).in_(chunk)))
        for h in rows:
            found[(h.grid_id, h.building, h.unit, h.room)] = h
    return found


async def _assignments_of(
    session: AsyncSession, grid_ids: Sequence[int]
) -> dict[int, dict[int, VolunteerHousehold]]:
    """household id → volunteer id → assignment."""
    found: dict[int, dict[int, VolunteerHousehold]] = {}
    for chunk in _chunks(grid_ids):
        rows = await session.exec(
            select(VolunteerHousehold)
            .join(Household, col(VolunteerHousehold.household_id) == col(Household.id))
            .where(col(Household.grid_id).in_(chunk))
        )
        for a in rows:
            found.setdefault(a.household_id, {})[a.volunteer_id] = a
    return found


def _check_row(
    row: int,
    cells: list[str],
    positions: dict[Column, int],
    org: _Org,
    volunteers_in: Callable[[int], dict[str, list[User]]],
) -> tuple[_Row | None, list[str]]:
    problems: list[str] = []
    street_name = _cell(cells, positions, Column.street)
    community_name = _cell(cells, positions, Column.community)
    grid_text = _cell(cells, positions, Column.grid)
    grid: Grid | None = None
    community: Community | None = None
    if not street_name:
        problems.append("缺少街道")
    elif (street := org.streets.get(street_name)) is None:
        problems.append(f"街道「{street_name}」不存在")
    elif not community_name:
        problems.append("缺少社区")
    elif (community := org.communities.get((_id(street), community_name))) is None:
        problems.append(f"社区「{community_name}」不存在（{street_name}）")
    elif not grid_text:
        problems.append("缺少网格")
    elif (grid := org.find_grid(_id(community), grid_text)) is None:
        if parse_grid_number(grid_text) is None:
            problems.append(f"网格「{grid_text}」无法识别（请写网格号，如 1 或 第1网格）")
        else:
            problems.append(f"网格「{grid_text}」不存在（{community_name}）")

    building = _address_part(_cell(cells, positions, Column.building))
    unit = _address_part(_cell(cells, positions, Column.unit))
    room = _room(_cell(cells, positions, Column.room))
    head_name = _cell(cells, positions, Column.head_name)
    if not building:
        problems.append("缺少楼幢")
    if not room:
        problems.append("缺少室号")
    if not head_name:
        problems.append("缺少户主姓名")
    for label, value, limit in (
        ("楼幢", building, 32),
        ("单元", unit, 16),
        ("室号", room, 16),
        ("户主姓名", head_name, 32),
    ):
        if (message := _too_long(label, value, limit)) is not None:
            problems.append(message)

    phone: str | None = None
    if Column.phone in positions:
        raw_phone = _cell(cells, positions, Column.phone)
        phone = normalize_phone(raw_phone)
        if phone is None:
            problems.append(f"电话「{raw_phone}」格式不对（{PHONE_HINT}）")

    tags: list[str] | None = None
    if Column.tags in positions:
        tags = split_tags(_cell(cells, positions, Column.tags))
        unknown = [t for t in tags if t not in HOUSEHOLD_TAGS]
        if unknown:
            problems.append(
                f"标签「{'；'.join(unknown)}」不认识（可用：{'、'.join(HOUSEHOLD_TAGS)}）"
            )

    volunteer_ids: set[int] | None = None
    if Column.volunteer_phone in positions:
        volunteer_ids = set()
        for raw in split_tags(_cell(cells, positions, Column.volunteer_phone)):
            normal = normalize_phone(raw)
            if not normal:
                problems.append(f"志愿者电话「{raw}」格式不对（{PHONE_HINT}）")
                continue
            if community is None:
                continue  # the place is already reported
            matches = volunteers_in(_id(community)).get(normal, [])
            if not matches:
                problems.append(f"{community.name}没有电话为「{raw}」的在岗志愿者")
            elif len(matches) > 1:
                names = "、".join(u.display_name for u in matches)
                problems.append(f"志愿者电话「{raw}」对应多位志愿者（{names}），无法确定")
            else:
                volunteer_ids.add(_id(matches[0]))

    if problems or grid is None:
        return None, problems
    return (
        _Row(row, grid, building, unit, room, head_name, phone, tags, volunteer_ids),
        problems,
    )


def _tick(progress: ProgressCallback | None, stage: str, done: int, total: int) -> None:
    if progress is not None and (done % PROGRESS_STEP == 0 or done == total):
        progress(stage, done, total)


async def import_households(
    session: AsyncSession,
    clock: Clock,
    table: Table,
    *,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> HouseholdReport:
    """Check every row, then (unless any is bad, or `dry_run`) create and update households.

    All or nothing: a bad row leaves the database untouched. Flushes, never commits.
    Lookups are loaded once up front, so the cost does not grow with per-row queries.
    """
    positions, ignored = map_header(table, HOUSEHOLD_COLUMNS, HOUSEHOLD_REQUIRED)
    org = await _Org.load(session)
    data = [(row, cells) for row, cells in table.rows if any(c.strip() for c in cells)]
    total = len(data)

    # Volunteers of every community the file could name (cheap: volunteers are few).
    community_ids: set[int] = set()
    for _, cells in data:
        street = org.streets.get(_cell(cells, positions, Column.street))
        community = (
            org.communities.get((_id(street), _cell(cells, positions, Column.community)))
            if street
            else None
        )
        if community is not None:
            community_ids.add(_id(community))
    volunteers = (
        await _Volunteers.load(session, community_ids)
        if Column.volunteer_phone in positions
        else _Volunteers({}, {}, {})
    )

    def volunteers_in(community_id: int) -> dict[str, list[User]]:
        return volunteers.by_phone.get(community_id, {})

    errors: list[RowError] = []
    checked: list[_Row] = []
    first_seen: dict[tuple[int, str, str, str], int] = {}
    for done, (row, cells) in enumerate(data, start=1):
        result, problems = _check_row(row, cells, positions, org, volunteers_in)
        if result is not None:
            earlier = first_seen.get(result.key)
            if earlier is not None:
                problems.append(
                    f"住户「{address(result.building, result.unit, result.room)}」"
                    f"在文件中重复（与第 {earlier} 行相同）"
                )
            else:
                first_seen[result.key] = row
                checked.append(result)
        if problems:
            errors.append(RowError(row, "；".join(problems)))
        _tick(progress, "check", done, total)

    report = HouseholdReport(rows=total, errors=errors, ignored_columns=ignored, dry_run=dry_run)
    if errors:
        return report

    grid_ids = sorted({_id(r.grid) for r in checked})
    existing = await _households_of(session, grid_ids)
    assignments = (
        await _assignments_of(session, grid_ids) if Column.volunteer_phone in positions else {}
    )
    now = clock.now()

    new_households: list[tuple[_Row, Household]] = []
    to_assign: list[tuple[_Row, Household, set[int]]] = []
    to_unassign: list[VolunteerHousehold] = []
    for done, r in enumerate(checked, start=1):
        street_name, community_name, grid_label = org.place(r.grid)
        place = f"{street_name} {community_name} {grid_label}"
        where = address(r.building, r.unit, r.room)
        household = existing.get(r.key)
        wanted = r.volunteer_ids
        if household is None:
            household = Household(
                grid_id=_id(r.grid),
                building=r.building,
                unit=r.unit,
                room=r.room,
                head_name=r.head_name,
                phone=r.phone or "",
                tags=canonical_tags(r.tags or []),
            )
            new_households.append((r, household))
            added = len(wanted or ())
            if wanted:
                to_assign.append((r, household, wanted))
            report.changes.append(
                HouseholdChange(r.row, Action.create, place, where, r.head_name, (), added, 0)
            )
            _tick(progress, "apply", done, len(checked))
            continue

        changes: list[str] = []
        if household.head_name != r.head_name:
            changes.append(f"户主 {household.head_name} → {r.head_name}")
            if not dry_run:
                household.head_name = r.head_name
        if r.phone is not None:
            current_phone = normalize_phone(household.phone)
            if current_phone != r.phone:
                changes.append(f"电话 {household.phone or '（空）'} → {r.phone or '（空）'}")
                if not dry_run:
                    household.phone = r.phone
        if r.tags is not None:
            current_tags = set(split_tags(household.tags))
            if current_tags != set(r.tags):
                new_tags = canonical_tags(r.tags)
                changes.append(f"标签 {household.tags or '（空）'} → {new_tags or '（空）'}")
                if not dry_run:
                    household.tags = new_tags
        added = removed = 0
        if wanted is not None:
            community_id = r.grid.community_id
            held = assignments.get(_id(household), {})
            nameable = volunteers.nameable.get(community_id, set())
            current = {v for v in held if v in nameable}
            plus = wanted - current
            minus = current - wanted
            if plus:
                to_assign.append((r, household, plus))
                phones = "、".join(sorted(volunteers.phone_of[v] for v in plus))
                changes.append(f"分配志愿者 {phones}")
            if minus:
                to_unassign.extend(held[v] for v in minus)
                phones = "、".join(sorted(volunteers.phone_of[v] for v in minus))
                changes.append(f"取消志愿者 {phones}")
            added, removed = len(plus), len(minus)
        action = Action.update if changes else Action.unchanged
        report.changes.append(
            HouseholdChange(
                r.row, action, place, where, r.head_name, tuple(changes), added, removed
            )
        )
        _tick(progress, "apply", done, len(checked))

    if dry_run:
        return report

    if new_households:
        session.add_all(h for _, h in new_households)
    for assignment in to_unassign:
        await session.delete(assignment)
    await session.flush()  # new households get their ids
    session.add_all(
        VolunteerHousehold(volunteer_id=v, household_id=_id(household), assigned_at=now)
        for _, household, volunteer_ids in to_assign
        for v in sorted(volunteer_ids)
    )
    await session.flush()
    return report


# ------------------------------------------------------------------------------------ export


async def community_named(session: AsyncSession, name: str) -> Community:
    """A community by its name, or "街道/社区" when two streets share the name."""
    street_name, _, community_name = name.strip().rpartition("/")
    query = select(Community).where(col(Community.name) == community_name.strip())
    if street_name:
        query = query.join(Street, col(Street.id) == col(Community.street_id)).where(
            col(Street.name) == street_name.strip()
        )
    found = list(await session.exec(query))
    if not found:
        raise RosterInputError(f"社区「{name}」不存在", f"unknown community: {name}")
    if len(found) > 1:
        raise RosterInputError(
            f"有多个社区叫「{name}」，请写成 街道/社区", f"several communities are named {name}"
        )
    return found[0]


async def export_households(session: AsyncSession, community: str | None = None) -> Table:
    """The roster as a table with Chinese headers, in the form `import_households` reads back.

    volunteer_phone lists the volunteers a file can name (see the module rules).
    """
    org = await _Org.load(session)
    communities = sorted(org.communities_by_id.values(), key=lambda c: (c.street_id, _id(c)))
    if community is not None:
        only = await community_named(session, community)
        communities = [c for c in communities if c.id == only.id]
    grids = [
        g
        for c in communities
        for g in sorted(
            (g for g in org.grids_by_id.values() if g.community_id == c.id),
            key=lambda g: g.number,
        )
    ]
    grid_ids = [_id(g) for g in grids]
    volunteers = await _Volunteers.load(session, [_id(c) for c in communities])
    assignments = await _assignments_of(session, grid_ids)
    households = await _households_of(session, grid_ids)
    by_grid: dict[int, list[Household]] = {}
    for h in households.values():
        by_grid.setdefault(h.grid_id, []).append(h)

    rows: list[tuple[int, list[str]]] = []
    for g in grids:
        street_name, community_name, grid_label = org.place(g)
        nameable = volunteers.nameable.get(g.community_id, set())
        for h in sorted(by_grid.get(_id(g), []), key=_id):
            phones = sorted(
                volunteers.phone_of[v] for v in assignments.get(_id(h), {}) if v in nameable
            )
            cells = [
                street_name,
                community_name,
                grid_label,
                h.building,
                h.unit,
                h.room,
                h.head_name,
                h.phone,
                h.tags,
                ";".join(phones),
            ]
            rows.append((len(rows) + 2, cells))
    return Table(header=[CHINESE_HEADERS[c] for c in HOUSEHOLD_COLUMNS], rows=rows)
