"""Importing and exporting the household roster (services/roster.py and roster_files.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.clock import ManualClock
from services.roster import (
    Action,
    HouseholdReport,
    RosterInputError,
    export_households,
    import_households,
    normalize_phone,
    parse_grid_number,
)
from services.roster_files import FileFormat, read_table, write_table
from storage.db import SessionFactory
from tests.roster.helpers import (
    EN_HEADER,
    XIAO_LI,
    XIAO_WU,
    XIAO_ZHOU,
    Row,
    count,
    demo_household,
    execute,
    household,
    volunteers_of,
    write_csv,
    write_xlsx,
)

CLEAN_ROWS: list[Row] = [
    [
        "平江街道",
        "悬桥社区",
        "1",
        "新桥弄1号",
        "",
        "101",
        "顾阿婆",
        "13912340001",
        "独居老人；高龄",
        XIAO_LI,
    ],
    [
        "平江街道",
        "悬桥社区",
        "第2网格",
        "新桥弄2号",
        "",
        "201室",
        "陆老伯",
        "139 1234 0002",
        "",
        "",
    ],
    [
        "平江街道",
        "钮家巷社区",
        "第1网格",
        "3幢",
        "2单元",
        "302",
        "钱美娟",
        "+86 13912340003",
        "空巢",
        XIAO_WU,
    ],
    [
        "双塔街道",
        "定慧寺社区",
        "3",
        "带城新村5幢",
        "1单元",
        "101",
        "蒋建国",
        "051265123456",
        "退役军人;重点关注",
        "",
    ],
]


async def _import(
    sessions: SessionFactory, path: Path, *, dry_run: bool = False, clock: ManualClock | None = None
) -> HouseholdReport:
    async with sessions() as session:
        report = await import_households(
            session, clock or ManualClock(), read_table(path), dry_run=dry_run
        )
        if report.applied:
            await session.commit()
        return report


def _assert_clean_import(roster_url: str, report: HouseholdReport, before: int) -> None:
    assert report.errors == []
    assert (report.created, report.updated, report.unchanged) == (4, 0, 0)
    assert report.volunteers_assigned == 2
    assert count(roster_url, "household") == before + 4
    assert household(roster_url, "悬桥社区", 1, "新桥弄1号", "", "101") == (
        "顾阿婆",
        "13912340001",
        "独居老人;高龄",
    )
    # "201室" loses its 室, spaces leave the phone.
    assert household(roster_url, "悬桥社区", 2, "新桥弄2号", "", "201") == (
        "陆老伯",
        "13912340002",
        "",
    )
    assert household(roster_url, "钮家巷社区", 1, "3幢", "2单元", "302") == (
        "钱美娟",
        "13912340003",
        "空巢",
    )
    # Tags come back in the canonical order; the landline gets its hyphen.
    assert household(roster_url, "定慧寺社区", 3, "带城新村5幢", "1单元", "101") == (
        "蒋建国",
        "0512-65123456",
        "退役军人;重点关注",
    )
    assert volunteers_of(roster_url, "悬桥社区", 1, "新桥弄1号", "", "101") == {2001}
    assert volunteers_of(roster_url, "钮家巷社区", 1, "3幢", "2单元", "302") == {2003}
    assert volunteers_of(roster_url, "悬桥社区", 2, "新桥弄2号", "", "201") == set()


async def test_a_clean_csv_file_is_imported(
    sessions: SessionFactory, roster_url: str, tmp_path: Path
) -> None:
    before = count(roster_url, "household")
    report = await _import(sessions, write_csv(tmp_path / "roster.csv", CLEAN_ROWS))
    _assert_clean_import(roster_url, report, before)
    assert [c.row for c in report.changes] == [2, 3, 4, 5]
    assert all(c.action is Action.create for c in report.changes)


async def test_a_clean_xlsx_file_with_numeric_cells_is_imported(
    sessions: SessionFactory, roster_url: str, tmp_path: Path
) -> None:
    rows: list[Row] = [list(r) for r in CLEAN_ROWS]
    rows[0][2] = 1  # grid, room and phone typed as numbers in Excel
    rows[0][5] = 101
    rows[0][7] = 13912340001
    rows[2][4] = "2单元"
    rows[3][5] = 101.0
    before = count(roster_url, "household")
    report = await _import(sessions, write_xlsx(tmp_path / "roster.xlsx", rows))
    _assert_clean_import(roster_url, report, before)


async def test_english_headers_gb18030_and_bom_are_read(
    sessions: SessionFactory, roster_url: str, tmp_path: Path
) -> None:
    gb = write_csv(tmp_path / "gb.csv", CLEAN_ROWS[:2], encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        gb.read_bytes().decode("utf-8")  # really not UTF-8
    bom = write_csv(tmp_path / "bom.csv", CLEAN_ROWS[2:], header=EN_HEADER, encoding="utf-8-sig")
    assert bom.read_bytes().startswith(b"\xef\xbb\xbf")
    assert read_table(bom).header == EN_HEADER
    before = count(roster_url, "household")
    first = await _import(sessions, gb)
    second = await _import(sessions, bom)
    assert (first.errors, second.errors) == ([], [])
    assert (first.created, second.created) == (2, 2)
    _assert_clean_import(
        roster_url,
        HouseholdReport(rows=4, errors=[], changes=first.changes + second.changes, dry_run=False),
        before,
    )


async def test_each_kind_of_bad_row_refuses_the_whole_file(
    sessions: SessionFactory, roster_url: str, tmp_path: Path
) -> None:
    execute(roster_url, "UPDATE app_user SET active = 0 WHERE telegram_id = 2002")
    good: Row = ["平江街道", "悬桥社区", "1", "新桥弄9号", "", "101", "顾阿婆", "", "", ""]
    rows: list[Row] = [
        good,  # row 2
        ["姑苏街道", "悬桥社区", "1", "A", "", "1", "甲", "", "", ""],  # 3 unknown street
        ["平江街道", "定慧寺社区", "1", "A", "", "1", "甲", "", "", ""],  # 4 community elsewhere
        ["平江街道", "悬桥社区", "第9网格", "A", "", "1", "甲", "", "", ""],  # 5 unknown grid
        ["平江街道", "悬桥社区", "1", "A", "", "2", "甲", "1391234", "", ""],  # 6 bad phone
        ["平江街道", "悬桥社区", "1", "A", "", "3", "甲", "65123456", "", ""],  # 7 no area code
        ["平江街道", "悬桥社区", "1", "A", "", "4", "甲", "", "高龄;富裕", ""],  # 8 unknown tag
        ["平江街道", "悬桥社区", "第1网格", "新桥弄9号", "", "101室", "乙", "", "", ""],  # 9 twice
        ["平江街道", "悬桥社区", "1", "A", "", "5", "", "", "", ""],  # 10 no head name
        ["平江街道", "悬桥社区", "1", "A", "", "6", "甲", "", "", "13800009999"],  # 11 nobody
        ["平江街道", "悬桥社区", "1", "A", "", "7", "甲", "", "", XIAO_WU],  # 12 other community
        ["平江街道", "悬桥社区", "1", "A", "", "8", "甲", "", "", XIAO_ZHOU],  # 13 inactive
        ["平江街道", "悬桥社区", "1", "A", "", "9", "甲", "", "", "abc"],  # 14 malformed
        ["平江街道", "悬桥社区", "1", "A", "", "10", "甲", "", "", XIAO_LI],  # 15 fine
    ]
    before = (count(roster_url, "household"), count(roster_url, "volunteer_household"))
    report = await _import(sessions, write_csv(tmp_path / "bad.csv", rows))
    assert (count(roster_url, "household"), count(roster_url, "volunteer_household")) == before
    assert not report.ok and report.changes == []
    lines = {e.row: e.line() for e in report.errors}
    assert sorted(lines) == list(range(3, 15))
    assert lines[3] == "第 3 行：街道「姑苏街道」不存在"
    assert lines[4] == "第 4 行：社区「定慧寺社区」不存在（平江街道）"
    assert lines[5] == "第 5 行：网格「第9网格」不存在（悬桥社区）"
    assert lines[6].startswith("第 6 行：电话「1391234」格式不对")
    assert lines[7].startswith("第 7 行：电话「65123456」格式不对")
    assert lines[8].startswith("第 8 行：标签「富裕」不认识")
    assert lines[9] == "第 9 行：住户「新桥弄9号101室」在文件中重复（与第 2 行相同）"
    assert lines[10] == "第 10 行：缺少户主姓名"
    assert lines[11] == "第 11 行：悬桥社区没有电话为「13800009999」的在岗志愿者"
    assert lines[12] == f"第 12 行：悬桥社区没有电话为「{XIAO_WU}」的在岗志愿者"
    assert lines[13] == f"第 13 行：悬桥社区没有电话为「{XIAO_ZHOU}」的在岗志愿者"
    assert lines[14].startswith("第 14 行：志愿者电话「abc」格式不对")


async def test_several_problems_of_one_row_make_one_line(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    rows: list[Row] = [
        ["平江街道", "悬桥社区", "1", "", "", "", "", "12", "富裕", ""],
    ]
    report = await _import(sessions, write_csv(tmp_path / "bad.csv", rows))
    assert len(report.errors) == 1
    line = report.errors[0].line()
    assert line.startswith("第 2 行：缺少楼幢；缺少室号；缺少户主姓名；电话「12」格式不对")
    assert "标签「富裕」不认识" in line


async def test_a_wrong_header_is_refused(sessions: SessionFactory, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", [["平江街道", "悬桥社区"]], header=["街道", "小区"])
    async with sessions() as session:
        with pytest.raises(RosterInputError) as caught:
            await import_households(session, ManualClock(), read_table(path))
    assert "表头缺少：社区，网格，楼幢，室，户主" in caught.value.zh


async def test_reimporting_updates_instead_of_duplicating(
    sessions: SessionFactory, roster_url: str, tmp_path: Path
) -> None:
    await _import(sessions, write_csv(tmp_path / "first.csv", CLEAN_ROWS))
    before = count(roster_url, "household")
    assignments = count(roster_url, "volunteer_household")
    changed: list[Row] = [list(r) for r in CLEAN_ROWS]
    changed[0][6] = "顾桂英"  # new head name
    changed[0][9] = XIAO_ZHOU  # 小李 → 小周
    changed[1][7] = "0512-67001234"  # new phone
    changed[2][8] = "高龄;空巢"  # one more tag
    changed[3][8] = "重点关注；退役军人"  # same tags, another order: unchanged
    report = await _import(sessions, write_csv(tmp_path / "second.csv", changed))
    assert report.errors == []
    assert (report.created, report.updated, report.unchanged) == (0, 3, 1)
    assert (report.volunteers_assigned, report.volunteers_unassigned) == (1, 1)
    assert count(roster_url, "household") == before
    assert count(roster_url, "volunteer_household") == assignments
    assert household(roster_url, "悬桥社区", 1, "新桥弄1号", "", "101") == (
        "顾桂英",
        "13912340001",
        "独居老人;高龄",
    )
    assert volunteers_of(roster_url, "悬桥社区", 1, "新桥弄1号", "", "101") == {2002}
    assert household(roster_url, "悬桥社区", 2, "新桥弄2号", "", "201") == (
        "陆老伯",
        "0512-67001234",
        "",
    )
    assert household(roster_url, "钮家巷社区", 1, "3幢", "2单元", "302") == (
        "钱美娟",
        "13912340003",
        "高龄;空巢",
    )
    descriptions = [c.describe() for c in report.changes]
    assert "户主 顾阿婆 → 顾桂英" in descriptions[0]
    assert f"分配志愿者 {XIAO_ZHOU}" in descriptions[0]
    assert f"取消志愿者 {XIAO_LI}" in descriptions[0]
    assert report.changes[3].action is Action.unchanged

    again = await _import(sessions, write_csv(tmp_path / "third.csv", changed))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


async def test_volunteers_without_a_phone_are_left_alone(
    sessions: SessionFactory, roster_url: str, tmp_path: Path
) -> None:
    execute(roster_url, "UPDATE app_user SET phone = '' WHERE telegram_id = 2001")
    building, unit, room = demo_household(roster_url, "悬桥社区", 1)
    head, phone, tags = household(roster_url, "悬桥社区", 1, building, unit, room) or ("", "", "")
    assert volunteers_of(roster_url, "悬桥社区", 1, building, unit, room) == {2001}
    row = ["平江街道", "悬桥社区", "1", building, unit, room, head, phone, tags, XIAO_ZHOU]
    report = await _import(sessions, write_csv(tmp_path / "a.csv", [row]))
    assert (report.updated, report.volunteers_assigned) == (1, 1)
    assert volunteers_of(roster_url, "悬桥社区", 1, building, unit, room) == {2001, 2002}
    row[9] = ""  # an empty cell removes the volunteers the file can name
    report = await _import(sessions, write_csv(tmp_path / "b.csv", [row]))
    assert (report.updated, report.volunteers_unassigned) == (1, 1)
    assert volunteers_of(roster_url, "悬桥社区", 1, building, unit, room) == {2001}


async def test_absent_optional_columns_leave_values_alone(
    sessions: SessionFactory, roster_url: str, tmp_path: Path
) -> None:
    building, unit, room = demo_household(roster_url, "悬桥社区", 1)
    before = household(roster_url, "悬桥社区", 1, building, unit, room)
    assert before is not None and before[1] != ""
    header = ["街道", "社区", "网格", "楼幢", "单元", "室", "户主", "备注"]
    row = ["平江街道", "悬桥社区", "1", building, unit, room, "新户主", "随便写"]
    report = await _import(sessions, write_csv(tmp_path / "a.csv", [row], header=header))
    assert report.ignored_columns == ["备注"]
    assert report.updated == 1
    assert household(roster_url, "悬桥社区", 1, building, unit, room) == (
        "新户主",
        before[1],
        before[2],
    )
    assert volunteers_of(roster_url, "悬桥社区", 1, building, unit, room) == {2001}


async def test_a_dry_run_writes_nothing(
    sessions: SessionFactory, roster_url: str, tmp_path: Path
) -> None:
    building, unit, room = demo_household(roster_url, "悬桥社区", 1)
    before_row = household(roster_url, "悬桥社区", 1, building, unit, room)
    rows: list[Row] = [
        *CLEAN_ROWS,
        ["平江街道", "悬桥社区", "1", building, unit, room, "改名", "", "", ""],
    ]
    counts = (count(roster_url, "household"), count(roster_url, "volunteer_household"))
    report = await _import(sessions, write_csv(tmp_path / "a.csv", rows), dry_run=True)
    assert report.ok and not report.applied
    assert (report.created, report.updated) == (4, 1)
    assert (report.volunteers_assigned, report.volunteers_unassigned) == (2, 1)
    assert (count(roster_url, "household"), count(roster_url, "volunteer_household")) == counts
    assert household(roster_url, "悬桥社区", 1, building, unit, room) == before_row


@pytest.mark.parametrize("file_format", [FileFormat.csv, FileFormat.xlsx])
async def test_export_then_reimport_changes_nothing(
    sessions: SessionFactory, roster_url: str, tmp_path: Path, file_format: FileFormat
) -> None:
    await _import(sessions, write_csv(tmp_path / "extra.csv", CLEAN_ROWS))
    async with sessions() as session:
        table = await export_households(session)
    assert len(table.rows) == count(roster_url, "household")
    assert table.header == [
        "街道",
        "社区",
        "网格",
        "楼幢",
        "单元",
        "室",
        "户主",
        "电话",
        "标签",
        "志愿者电话",
    ]
    # 小李 looks after grid 1 of 悬桥社区: his phone is in the volunteer column.
    first = table.rows[0][1]
    assert first[:3] == ["平江街道", "悬桥社区", "第1网格"] and first[9] == XIAO_LI
    path = tmp_path / f"export.{file_format.value}"
    write_table(table, path, file_format)
    assert read_table(path).rows == table.rows

    counts = (count(roster_url, "household"), count(roster_url, "volunteer_household"))
    report = await _import(sessions, path)
    assert report.errors == []
    assert report.unchanged == len(table.rows) and report.created == report.updated == 0
    assert (report.volunteers_assigned, report.volunteers_unassigned) == (0, 0)
    assert (count(roster_url, "household"), count(roster_url, "volunteer_household")) == counts
    async with sessions() as session:
        assert (await export_households(session)).rows == table.rows


async def test_export_of_one_community(sessions: SessionFactory) -> None:
    async with sessions() as session:
        table = await export_households(session, "钮家巷社区")
        assert len(table.rows) == 30
        assert {r[1] for _, r in table.rows} == {"钮家巷社区"}
        assert {r[9] for _, r in table.rows} == {"", XIAO_WU}
        qualified = await export_households(session, "平江街道/钮家巷社区")
        assert qualified.rows == table.rows
        with pytest.raises(RosterInputError):
            await export_households(session, "不存在社区")


async def test_ten_thousand_rows(sessions: SessionFactory, roster_url: str, tmp_path: Path) -> None:
    rows: list[Row] = [
        [
            "双塔街道",
            "滚绣坊社区",
            str(grid),
            f"{b}幢",
            f"{u}单元",
            f"{r}01",
            f"户主{n}",
            f"139{n:08d}",
            "高龄",
            "",
        ]
        for n, (grid, b, u, r) in enumerate(
            (g, b, u, r)
            for g in (1, 2, 3)
            for b in range(1, 35)
            for u in (1, 2, 3)
            for r in range(1, 34)
        )
    ]
    assert len(rows) > 10_000
    before = count(roster_url, "household")
    seen: list[tuple[str, int, int]] = []
    async with sessions() as session:
        report = await import_households(
            session,
            ManualClock(),
            read_table(write_csv(tmp_path / "big.csv", rows)),
            progress=lambda stage, done, total: seen.append((stage, done, total)),
        )
        await session.commit()
    assert report.created == len(rows)
    assert count(roster_url, "household") == before + len(rows)
    assert ("check", len(rows), len(rows)) in seen and ("apply", len(rows), len(rows)) in seen


def test_phone_rule() -> None:
    assert normalize_phone("") == ""
    assert normalize_phone("13912345678") == "13912345678"
    assert normalize_phone(" 139-1234-5678 ") == "13912345678"
    assert normalize_phone("+86 139 1234 5678") == "13912345678"
    assert normalize_phone("１３９１２３４５６７８") == "13912345678"  # full-width digits
    assert normalize_phone("0512-65123456") == "0512-65123456"
    assert normalize_phone("051265123456") == "0512-65123456"
    assert normalize_phone("(0512) 6512 3456") == "0512-65123456"
    assert normalize_phone("010-61234567") == "010-61234567"
    for bad in (
        "12912345678",
        "1391234567",
        "139123456789",
        "65123456",
        "0512-0123456",
        "电话",
        "0512-6512345x",
    ):
        assert normalize_phone(bad) is None, bad


def test_grid_numbers() -> None:
    assert [
        parse_grid_number(t) for t in ("1", "第1网格", "12网格", "第十二网格", "第二十网格", " 3 ")
    ] == [
        1,
        1,
        12,
        12,
        20,
        3,
    ]
    for bad in ("", "0", "第0网格", "网格", "一组", "1000", "第1网"):
        assert parse_grid_number(bad) is None, bad
