"""The Excel workbook: its sheets and the summary values of the hand-built data set."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlmodel import select

from handlers import workbook
from services import stats
from services.stats import Period, Scope
from storage.db import SessionFactory, make_engine, make_session_factory
from storage.models import Household
from tests.stats.dataset import NOW, Built, build

TZ = ZoneInfo("Asia/Shanghai")
HAITANG = str(Path(sys.executable).with_name("haitang"))


def summary_of(book: openpyxl.Workbook) -> dict[str, tuple[object, ...]]:
    rows = book["汇总"].iter_rows(values_only=True)
    return {str(row[0]): tuple(row[1:]) for row in rows if row[0]}


async def test_the_workbook_holds_its_sheets_and_the_summary(
    session_factory: SessionFactory,
) -> None:
    async with session_factory() as session:
        built = await build(session)
        report = await stats.report(
            session, Scope.community(built.xuanqiao), Period.month(2026, 11), NOW
        )
        households = list(await session.exec(select(Household)))
    book = openpyxl.load_workbook(io.BytesIO(workbook.build(report, TZ)))
    assert book.sheetnames == ["汇总", "诉求明细", "走访覆盖", "志愿者"]

    summary = summary_of(book)
    assert summary["范围"][0] == "悬桥社区" and summary["统计期间"][0] == "2026年11月"
    assert summary["统计截至"][0] == datetime(2026, 11, 24, 10, 0), "Suzhou wall-clock time"
    assert summary["收到诉求"][0] == 11
    assert summary["响应率"][:3] == (pytest.approx(8 / 11), 8, 11)
    assert summary["解决率"][:3] == (0.4, 4, 10)
    assert summary["满意率"][:3] == (0.75, 3, 4)
    assert summary["重新办理"][:3] == (pytest.approx(2 / 11), 2, 11)
    assert summary["受理用时中位数（小时）"][0] == 3
    assert summary["受理用时90%分位（小时）"][0] == 24
    assert summary["处理用时中位数（小时）"][0] == 10
    assert summary["走访覆盖率"][:3] == (0.1, 3, 30)
    assert summary["走访次数"][0] == 4 and summary["完成任务"][0] == 1
    assert summary["设施维修"][0] == 3, "the category table: 3 tickets"
    assert book["汇总"]["B7"].number_format == "0.0%"

    tickets = list(book["诉求明细"].iter_rows(values_only=True))
    assert tickets[0][:6] == ("编号", "社区", "网格", "分类", "紧急", "状态")
    assert len(tickets) == 1 + 11
    assert sorted(str(t[5]) for t in tickets[1:]).count("已办结") == 4
    assert sum(1 for t in tickets[1:] if t[12] == "是") == 2, "two reopened"
    visits = list(book["走访覆盖"].iter_rows(values_only=True))
    assert visits[1:] == [
        ("悬桥社区", "第1网格", 10, 2, 0.2),
        ("悬桥社区", "第2网格", 10, 1, 0.1),
        ("悬桥社区", "第3网格", 10, 0, 0),
    ]
    volunteers = list(book["志愿者"].iter_rows(values_only=True))
    assert volunteers[1:] == [
        ("小李", "悬桥社区", "第1网格", 3, 1),
        ("小周", "悬桥社区", "第2网格", 1, 0),
    ]

    # Nothing about residents: no household heads, phone numbers or addresses anywhere.
    cells = {
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    }
    for h in households:
        assert not {h.head_name, h.phone, f"{h.building}{h.unit}{h.room}室"} & cells


async def _build(db_url: str) -> Built:
    engine = make_engine(db_url)
    try:
        async with make_session_factory(engine)() as session:
            return await build(session)
    finally:
        await engine.dispose()


def test_haitang_report_writes_the_workbook(db_url: str, tmp_path: Path) -> None:
    built = asyncio.run(_build(db_url))
    output = tmp_path / "out" / "report.xlsx"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAITANG_")}
    env["HAITANG_DATABASE_URL"] = db_url
    result = subprocess.run(
        [
            HAITANG,
            "report",
            "--period",
            "2026-11",
            "--scope",
            f"community:{built.xuanqiao}",
            "--format",
            "xlsx",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "报表已生成" in result.stdout
    summary = summary_of(openpyxl.load_workbook(output))
    assert summary["收到诉求"][0] == 11 and summary["满意率"][:3] == (0.75, 3, 4)

    street = subprocess.run(
        [HAITANG, "report", "--period", "2026-11", "--scope", "street:平江街道"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert street.returncode == 0, street.stderr
    default = tmp_path / f"haitang-street-{built.street}-2026-11.xlsx"
    assert summary_of(openpyxl.load_workbook(default))["收到诉求"][0] == 16

    for bad in (["--scope", "city"], ["--scope", "district", "--period", "2026-13"]):
        refused = subprocess.run(
            [HAITANG, "report", *bad],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
