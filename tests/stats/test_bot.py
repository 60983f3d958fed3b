"""/stats, /report and /public through the real bot and the Bot API stand-in."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime

import openpyxl
import pytest

from bot.sandbox import Sandbox
from bot.standin.client import SandboxClient
from handlers import texts
from services.clock import ManualClock
from tests.e2e.people import Person
from tests.stats.dataset import build

PersonMaker = Callable[..., Person]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def data(sandbox: Sandbox) -> None:
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        await build(session)


async def test_a_coordinator_gets_the_figures_and_a_dashboard(
    data: None, person: PersonMaker, client: SandboxClient
) -> None:
    coordinator = person(3001)  # 张书记, 悬桥社区
    summary, photo = await coordinator.send("/stats")
    assert "悬桥社区 · 2026年11月" in summary["text"]
    assert "收到诉求 11 件（紧急 2 件）" in summary["text"]
    assert "响应率 72.7%（8/11）" in summary["text"]
    assert "解决率 40.0%（4/10）" in summary["text"]
    assert "满意率 75.0%（4 件有评价）" in summary["text"]
    assert "走访覆盖率 10.0%（3/30 户）" in summary["text"]
    assert photo["has_photo"] and photo["caption"] == "悬桥社区 2026年11月 数据看板"
    png = await client.file(photo["photo_file_id"])
    assert png.startswith(PNG) and len(png) > 20_000

    [october, _] = await coordinator.send("/stats 2026-10")
    assert "2026年10月" in october["text"] and "收到诉求 1 件" in october["text"]
    [usage] = await coordinator.send("/stats 2026-13")
    assert usage["text"] == texts.STATS_PERIOD_USAGE.format(command="stats")


async def test_a_coordinator_gets_the_workbook_from_report(
    data: None, person: PersonMaker, client: SandboxClient
) -> None:
    [reply] = await person(3001).send("/report 2026-11")
    document = reply["document"]
    assert document["file_name"] == "海棠先锋报表_悬桥社区_2026-11.xlsx"
    assert reply["caption"].startswith("悬桥社区 2026年11月 报表")
    book = openpyxl.load_workbook(io.BytesIO(await client.file(document["file_id"])))
    assert book.sheetnames == ["汇总", "诉求明细", "走访覆盖", "志愿者"]
    summary = {row[0]: row[1:] for row in book["汇总"].iter_rows(values_only=True) if row[0]}
    assert summary["响应率"][:3] == (8 / 11, 8, 11)
    assert book["诉求明细"].max_row == 1 + 11


async def test_a_street_admin_sees_the_street(data: None, person: PersonMaker) -> None:
    summary, photo = await person(4001).send("/stats")  # 陈主任, 平江街道
    assert "平江街道 · 2026年11月" in summary["text"]
    assert "收到诉求 16 件" in summary["text"]
    assert photo["has_photo"]


async def test_residents_and_volunteers_get_no_figures(data: None, person: PersonMaker) -> None:
    resident, volunteer = person(1001), person(2001)
    for someone in (resident, volunteer):
        [reply] = await someone.send("/stats")
        assert reply["text"] == texts.STATS_ONLY_STAFF
        [reply] = await someone.send("/stats 2026-11")
        assert reply["text"] == texts.STATS_ONLY_STAFF
    # Their /report is still "report a need", never the workbook.
    [ask] = await resident.send("/report")
    assert ask["text"] == texts.ASK_REPORT and ask["document"] is None
    await resident.send("/cancel")
    [ask] = await volunteer.send("/report 2026-11")
    assert ask["text"] == texts.ASK_HOUSEHOLD and ask["document"] is None


async def test_public_shows_last_months_rates_and_hides_small_samples(
    data: None, person: PersonMaker, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 12, 3, 2, 0, tzinfo=UTC))
    [reply] = await person(1001).send("/public")  # 王阿姨, 悬桥社区
    text = reply["text"]
    assert "悬桥社区 2026年11月 办理情况公示" in text
    assert "响应率：72.7%" in text and "解决率：40.0%" in text
    assert "满意率：样本不足" in text, "4 rated tickets are too few to show a rate"
    assert "1. 钮家巷社区 80.0%" in text
    assert "· 悬桥社区 样本不足 ← 本社区" in text
    for personal in ("王阿姨", "赵奶奶", "小李", "张书记", "王秀英", "1390000", "号", "室"):
        assert personal not in text
