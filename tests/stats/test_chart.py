"""The dashboard: a PNG whose every label is drawn in a font that has its glyphs."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pytest
from matplotlib import font_manager
from matplotlib.text import Text
from PIL import Image

from handlers import dashboard
from services import stats
from services.stats import Period, Scope
from storage.db import SessionFactory
from tests.stats.dataset import NOW, build

TZ = ZoneInfo("Asia/Shanghai")


def test_a_cjk_font_is_installed_and_has_the_glyphs() -> None:
    try:
        font = dashboard.cjk_font()
    except dashboard.NoCJKFont as error:  # fail loudly: `make cjk-font` installs one
        pytest.fail(f"no CJK font: {error}")
    assert font.covers(dashboard.PROBE)
    assert font.covers("悬桥社区钮家巷满意率样本不足第网格")
    assert not font.covers("\U0001f600"), "a character map, not a yes to everything"


def test_no_font_for_chinese_is_a_loud_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard, "_load", lambda name: None)
    dashboard.cjk_font.cache_clear()
    try:
        with pytest.raises(dashboard.NoCJKFont):
            dashboard.cjk_font()
    finally:
        monkeypatch.undo()
        dashboard.cjk_font.cache_clear()


async def test_every_label_of_the_dashboard_is_covered_by_the_font_it_is_drawn_in(
    session_factory: SessionFactory,
) -> None:
    async with session_factory() as session:
        built = await build(session)
        figures = await stats.figures(
            session, Scope.community(built.xuanqiao), Period.month(2026, 11), NOW
        )
    png, figure = dashboard.draw(figures, TZ)
    font = dashboard.cjk_font()

    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (1200, 850)

    labels = dashboard.labels(figure)
    joined = "".join(labels)
    for expected in (
        "悬桥社区 2026年11月 数据看板",
        "诉求分类（件）",
        "响应率",
        "第1网格",
        "收到诉求",
    ):
        assert any(expected in label for label in labels), expected
    assert "设施维修" in joined and "养老助老" in joined, "category names in Chinese"
    assert not font.missing(joined)
    # Each Chinese label resolves to the CJK font (not to DejaVu, which would draw boxes).
    chinese = [t for t in figure.findobj(Text) if any(ord(ch) > 0x2E80 for ch in t.get_text())]
    assert len(chinese) >= 15
    for text in chinese:
        found = font_manager.findfont(text.get_fontproperties(), fallback_to_default=False)
        assert font_manager.get_font(found).family_name == font.name, text.get_text()


async def test_an_empty_period_still_draws(session_factory: SessionFactory) -> None:
    async with session_factory() as session:
        figures = await stats.figures(session, Scope.district(), Period.month(2025, 1), NOW)
    png, figure = dashboard.draw(figures, TZ)
    assert png.startswith(b"\x89PNG") and "本期暂无数据" in dashboard.labels(figure)
