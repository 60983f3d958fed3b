"""Writing roster files and reading the database back, for the roster tests."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

from openpyxl import Workbook

EN_HEADER = [
    "street",
    "community",
    "grid",
    "building",
    "unit",
    "room",
    "head_name",
    "phone",
    "tags",
    "volunteer_phone",
]
ZH_HEADER = ["街道", "社区", "网格", "楼幢", "单元", "室", "户主", "电话", "标签", "志愿者电话"]

# Phones the tests give the demo volunteers (the demo gives them none).
XIAO_LI = "13800002001"  # 小李, 悬桥社区 grid 1 (looks after its ten households)
XIAO_ZHOU = "13800002002"  # 小周, 悬桥社区 grid 2
XIAO_WU = "13800002003"  # 小吴, 钮家巷社区 grid 1
VOLUNTEER_PHONES = {2001: XIAO_LI, 2002: XIAO_ZHOU, 2003: XIAO_WU}

Cell = str | int | float | None
Row = list[Cell]


def write_csv(
    path: Path,
    rows: Sequence[Sequence[Cell]],
    header: Sequence[str] = ZH_HEADER,
    encoding: str = "utf-8",
) -> Path:
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(["" if c is None else c for c in row] for row in rows)
    return path


def write_xlsx(
    path: Path, rows: Sequence[Sequence[Cell]], header: Sequence[str] = ZH_HEADER
) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def db_file(db_url: str) -> Path:
    return Path(db_url.removeprefix("sqlite+aiosqlite:///"))


def query(db_url: str, sql: str, *params: object) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db_file(db_url))) as connection:
        return list(connection.execute(sql, params).fetchall())


def execute(db_url: str, sql: str, *params: object) -> None:
    with closing(sqlite3.connect(db_file(db_url))) as connection:
        connection.execute(sql, params)
        connection.commit()


def count(db_url: str, table: str) -> int:
    (row,) = query(db_url, f"SELECT count(*) FROM {table}")
    value = row[0]
    assert isinstance(value, int)
    return value


def household(
    db_url: str, community: str, grid: int, building: str, unit: str, room: str
) -> tuple[str, str, str] | None:
    """(head_name, phone, tags) of one household, or None."""
    rows = query(
        db_url,
        "SELECT h.head_name, h.phone, h.tags FROM household h"
        " JOIN grid g ON g.id = h.grid_id JOIN community c ON c.id = g.community_id"
        " WHERE c.name = ? AND g.number = ? AND h.building = ? AND h.unit = ? AND h.room = ?",
        community,
        grid,
        building,
        unit,
        room,
    )
    if not rows:
        return None
    head_name, phone, tags = rows[0]
    assert isinstance(head_name, str) and isinstance(phone, str) and isinstance(tags, str)
    return head_name, phone, tags


def volunteers_of(
    db_url: str, community: str, grid: int, building: str, unit: str, room: str
) -> set[int]:
    """The telegram ids of the volunteers assigned to one household."""
    rows = query(
        db_url,
        "SELECT u.telegram_id FROM volunteer_household vh"
        " JOIN app_user u ON u.id = vh.volunteer_id JOIN household h ON h.id = vh.household_id"
        " JOIN grid g ON g.id = h.grid_id JOIN community c ON c.id = g.community_id"
        " WHERE c.name = ? AND g.number = ? AND h.building = ? AND h.unit = ? AND h.room = ?",
        community,
        grid,
        building,
        unit,
        room,
    )
    return {int(str(r[0])) for r in rows}


def demo_household(db_url: str, community: str, grid: int) -> tuple[str, str, str]:
    """(building, unit, room) of the first demo household of a grid."""
    rows = query(
        db_url,
        "SELECT h.building, h.unit, h.room FROM household h"
        " JOIN grid g ON g.id = h.grid_id JOIN community c ON c.id = g.community_id"
        " WHERE c.name = ? AND g.number = ? ORDER BY h.id LIMIT 1",
        community,
        grid,
    )
    building, unit, room = rows[0]
    assert isinstance(building, str) and isinstance(unit, str) and isinstance(room, str)
    return building, unit, room
