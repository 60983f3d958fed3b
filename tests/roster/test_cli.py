"""`haitang import ...` and `haitang export ...` through typer's test runner."""

from __future__ import annotations

import zipfile
from pathlib import Path

from typer.testing import CliRunner, Result

from bot.cli_roster import export_app, import_app
from services.roster_files import read_table
from tests.roster.helpers import (
    EN_HEADER,
    XIAO_LI,
    Row,
    count,
    household,
    query,
    volunteers_of,
    write_csv,
    write_xlsx,
)

runner = CliRunner()

ROWS: list[Row] = [
    ["平江街道", "悬桥社区", "1", "新桥弄1号", "", "101", "顾阿婆", "13912340001", "高龄", XIAO_LI],
    ["平江街道", "悬桥社区", "2", "新桥弄2号", "", "201", "陆老伯", "", "", ""],
    ["双塔街道", "滚绣坊社区", "第3网格", "9幢", "1单元", "502", "沈志明", "", "残疾", ""],
]


def _import(*args: str) -> Result:
    return runner.invoke(import_app, ["households", *args])


def _no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_import_households_reports_a_summary(cli_env: str, tmp_path: Path) -> None:
    before = count(cli_env, "household")
    result = _import(str(write_csv(tmp_path / "r.csv", ROWS)))
    assert result.exit_code == 0, result.output
    assert (
        "新建 3 户，更新 0 户，未变 0 户，分配志愿者 1 次，取消分配 0 次"
        " / created 3, updated 0, unchanged 0, volunteers assigned 1, unassigned 0"
    ) in result.stdout
    assert count(cli_env, "household") == before + 3
    assert household(cli_env, "滚绣坊社区", 3, "9幢", "1单元", "502") == ("沈志明", "", "残疾")
    assert volunteers_of(cli_env, "悬桥社区", 1, "新桥弄1号", "", "101") == {2001}

    rows: list[Row] = [list(r) for r in ROWS]
    rows[1][6] = "陆国华"
    again = _import(str(write_xlsx(tmp_path / "r.xlsx", rows)))
    assert again.exit_code == 0, again.output
    assert "新建 0 户，更新 1 户，未变 2 户" in again.stdout
    assert count(cli_env, "household") == before + 3


def test_bad_rows_are_listed_and_nothing_is_imported(cli_env: str, tmp_path: Path) -> None:
    rows: list[Row] = [
        *ROWS,
        ["平江街道", "悬桥社区", "第9网格", "1幢", "", "1", "甲", "", "", ""],  # row 5
        ["平江街道", "悬桥社区", "1", "1幢", "", "2", "乙", "5551234", "", ""],  # row 6
    ]
    before = count(cli_env, "household")
    result = _import(str(write_csv(tmp_path / "bad.csv", rows)))
    _no_traceback(result)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert (
        lines[0]
        == "有 2 行有误，整个文件未导入（共 5 行数据） / 2 bad rows of 5: nothing was imported"
    )
    assert lines[1] == "第 5 行：网格「第9网格」不存在（悬桥社区）"
    assert lines[2].startswith("第 6 行：电话「5551234」格式不对")
    assert len(lines) == 3
    assert count(cli_env, "household") == before


def test_dry_run_lists_and_writes_nothing(cli_env: str, tmp_path: Path) -> None:
    before = (count(cli_env, "household"), count(cli_env, "volunteer_household"))
    result = _import(str(write_csv(tmp_path / "r.csv", ROWS, header=EN_HEADER)), "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "第 2 行 新建：平江街道 悬桥社区 第1网格 新桥弄1号101室 顾阿婆"
    assert lines[2] == "第 4 行 新建：双塔街道 滚绣坊社区 第3网格 9幢1单元502室 沈志明"
    assert "试运行，未写入任何数据 / dry run: nothing was written" in lines
    assert lines[-1].startswith("将新建 3 户，将更新 0 户，未变 0 户，将分配志愿者 1 次")
    assert (count(cli_env, "household"), count(cli_env, "volunteer_household")) == before


def test_unreadable_input_gives_one_line_and_exit_2(cli_env: str, tmp_path: Path) -> None:
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (tmp_path / "binary.csv").write_bytes(b"\x81\x30\x81\x30\xff\xfe\x00\x00garbage")
    (tmp_path / "empty.csv").write_bytes(b"")
    with zipfile.ZipFile(tmp_path / "not-a-workbook.xlsx", "w") as archive:
        archive.writestr("[Content_Types].xml", "<unclosed")
    write_csv(tmp_path / "header.csv", [["a", "b"]], header=["姓名", "地址"])
    expected = {
        "missing.csv": "找不到文件",
        "old.xls": "不支持旧版 .xls 文件",
        "broken.xlsx": "无法读取 Excel 文件",
        "binary.csv": "无法识别文件编码",
        "not-a-workbook.xlsx": "无法读取 Excel 文件",
        "empty.csv": "文件是空的",
        "header.csv": "表头缺少：街道，社区，网格，楼幢，室，户主",
    }
    for name, message in expected.items():
        result = _import(str(tmp_path / name))
        _no_traceback(result)
        assert result.exit_code == 2, (name, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and " / " in lines[0], (name, lines)
        assert message in lines[0], (name, lines)


def test_export_round_trip_through_the_cli(cli_env: str, tmp_path: Path) -> None:
    assert _import(str(write_csv(tmp_path / "r.csv", ROWS))).exit_code == 0
    total = count(cli_env, "household")
    for name, file_format in (("all.csv", []), ("all.xlsx", ["--format", "xlsx"])):
        output = tmp_path / name
        result = runner.invoke(export_app, ["households", *file_format, "--output", str(output)])
        assert result.exit_code == 0, result.output
        assert (
            result.stdout.strip()
            == f"已导出 {total} 户到 {output} / exported {total} households to {output}"
        )
        table = read_table(output)
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
        assert len(table.rows) == total
        again = _import(str(output))
        assert again.exit_code == 0, again.output
        assert (
            f"新建 0 户，更新 0 户，未变 {total} 户，分配志愿者 0 次，取消分配 0 次" in again.stdout
        )
    assert count(cli_env, "household") == total
    assert (tmp_path / "all.xlsx").read_bytes().startswith(b"PK")
    assert (tmp_path / "all.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_export_one_community(cli_env: str, tmp_path: Path) -> None:
    output = tmp_path / "one.xlsx"  # the format follows the file name
    result = runner.invoke(
        export_app, ["households", "--community", "滚绣坊社区", "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    table = read_table(output)
    assert len(table.rows) == 30 and {r[1] for _, r in table.rows} == {"滚绣坊社区"}
    unknown = runner.invoke(
        export_app, ["households", "--community", "无此社区", "-o", str(output)]
    )
    _no_traceback(unknown)
    assert unknown.exit_code == 2
    assert unknown.stderr.strip() == "社区「无此社区」不存在 / unknown community: 无此社区"


def test_import_org_creates_the_structure_once(cli_env: str, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "org.csv",
        [
            ["平江街道", "悬桥社区", "1"],  # exists
            ["平江街道", "悬桥社区", "第4网格"],
            ["平江街道", "大新桥社区", "1"],
            ["平江街道", "大新桥社区", "第二网格"],
            ["金阊街道", "石路社区", ""],
            ["金阊街道", "", ""],
        ],
        header=["街道", "社区", "网格"],
    )
    dry = runner.invoke(import_app, ["org", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert count(cli_env, "community") == 4
    result = runner.invoke(import_app, ["org", str(path)])
    assert result.exit_code == 0, result.output
    assert "新建街道 1 个，社区 2 个，网格 3 个" in result.stdout
    assert dry.stdout.replace("将新建", "新建").splitlines()[:6] == result.stdout.splitlines()[:6]
    codes = {
        str(name): str(code)
        for name, code in query(cli_env, "SELECT name, station_code FROM community")
    }
    assert codes["大新桥社区"] == "c0005" and codes["石路社区"] == "c0006"
    grids = query(
        cli_env,
        "SELECT g.number, g.name FROM grid g JOIN community c ON c.id = g.community_id"
        " WHERE c.name IN ('悬桥社区', '大新桥社区') ORDER BY c.id, g.number",
    )
    assert grids == [
        (1, "第1网格"),
        (2, "第2网格"),
        (3, "第3网格"),
        (4, "第4网格"),
        (1, "第1网格"),
        (2, "第2网格"),
    ]
    again = runner.invoke(import_app, ["org", str(path)])
    assert again.exit_code == 0
    assert "新建街道 0 个，社区 0 个，网格 0 个" in again.stdout
    assert count(cli_env, "grid") == 12 + 3


def test_import_org_refuses_bad_rows(cli_env: str, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "org.xlsx",
        [
            ["平江街道", "新社区", 1],
            ["", "新社区", 1],  # row 3: no street
            ["平江街道", "", 2],  # row 4: a grid without a community
            ["平江街道", "悬桥社区", "一组"],  # row 5: not a grid number nor a known grid name
        ],
        header=["street", "community", "grid"],
    )
    before = (count(cli_env, "street"), count(cli_env, "community"), count(cli_env, "grid"))
    result = runner.invoke(import_app, ["org", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1:] == [
        "第 3 行：缺少街道",
        "第 4 行：网格「2」缺少所属社区",
        "第 5 行：网格「一组」无法识别（请写网格号，如 1 或 第1网格）",
    ]
    assert (count(cli_env, "street"), count(cli_env, "community"), count(cli_env, "grid")) == before


def test_help_is_bilingual() -> None:
    result = runner.invoke(import_app, ["--help"])
    assert result.exit_code == 0
    assert "households" in result.stdout and "org" in result.stdout
    assert "导入住户名册 / Import the household roster" in result.stdout
    export_help = runner.invoke(export_app, ["households", "--help"])
    assert "导出住户名册" in export_help.stdout and "--community" in export_help.stdout
