"""The /stats dashboard: one PNG drawn by matplotlib (Agg), its Chinese labels in a CJK font
that has their glyphs (Debian's fonts-noto-cjk: `make cjk-font`).

`render` is plain, blocking code: handlers run it in a worker thread (asyncio.to_thread).
matplotlib's settings are global, so drawing is serialised by a lock.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from handlers import texts
from services.stats import Figures

log = logging.getLogger(__name__)

# Fonts known to carry Simplified Chinese, best first; any other font whose character map
# covers PROBE will do.
PREFERRED_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
)
PROBE = "海棠先锋数据看板诉求分类办理情况响应率解决率满意率走访覆盖网格近周趋势社区街道姑苏区"
_LOCK = threading.Lock()
COLORS = ("#c0392b", "#2e86c1", "#28b463", "#af7ac5", "#f39c12")


class NoCJKFont(RuntimeError):
    """No installed font has the Chinese glyphs: run `make cjk-font` (fonts-noto-cjk)."""


@dataclass(frozen=True)
class CJKFont:
    name: str
    path: str
    charmap: frozenset[int]

    def covers(self, text: str) -> bool:
        return not self.missing(text)

    def missing(self, text: str) -> set[str]:
        return {ch for ch in text if not ch.isspace() and ord(ch) not in self.charmap}


def _load(name: str) -> CJKFont | None:
    try:
        found = font_manager.findfont(
            font_manager.FontProperties(family=name), fallback_to_default=False
        )
    except ValueError:
        return None
    font = font_manager.get_font(found)
    if font.family_name != name and name in PREFERRED_FONTS:
        return None  # matplotlib matched something else
    return CJKFont(font.family_name, str(found), frozenset(font.get_charmap()))


@lru_cache(maxsize=1)
def cjk_font() -> CJKFont:
    """The font the dashboard uses: a preferred CJK font if installed, else any font whose
    character map covers PROBE. Raises NoCJKFont if there is none."""
    names = list(PREFERRED_FONTS)
    names += sorted({entry.name for entry in font_manager.fontManager.ttflist} - set(names))
    for name in names:
        font = _load(name)
        if font is not None and font.covers(PROBE):
            return font
    raise NoCJKFont("no installed font covers Chinese: install fonts-noto-cjk (make cjk-font)")


def _bar_labels(
    ax: Axes, values: Iterable[float], labels: Iterable[str], *, horizontal: bool
) -> None:
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        if horizontal:
            ax.text(value, i, f" {label}", va="center", ha="left", fontsize=11)
        else:
            ax.text(i, value, label, va="bottom", ha="center", fontsize=11)


def _empty(ax: Axes) -> None:
    ax.text(0.5, 0.5, texts.CHART_EMPTY, ha="center", va="center", fontsize=13, color="#888888")
    ax.set_xticks([])
    ax.set_yticks([])


def _categories(ax: Axes, f: Figures) -> None:
    ax.set_title(texts.CHART_CATEGORIES, fontsize=14, loc="left")
    items = list(f.by_category.items())[:8]
    if not items:
        _empty(ax)
        return
    items.reverse()  # the largest on top
    counts = [n for _, n in items]
    ax.barh(range(len(items)), counts, color=COLORS[1])
    ax.set_yticks(range(len(items)), [texts.category_name(c) for c, _ in items], fontsize=12)
    _bar_labels(ax, counts, [str(n) for n in counts], horizontal=True)
    ax.set_xlim(0, max(counts) * 1.2)
    ax.tick_params(axis="x", labelsize=10)


def _rates(ax: Axes, f: Figures) -> None:
    ax.set_title(texts.CHART_RATES, fontsize=14, loc="left")
    values = [r.value for r in (f.response, f.resolution, f.satisfaction, f.reopened)]
    heights = [(v or 0.0) * 100 for v in values]
    ax.bar(range(4), heights, color=[COLORS[2], COLORS[1], COLORS[4], COLORS[0]])
    ax.set_xticks(range(4), list(texts.RATE_NAMES), fontsize=12)
    ax.set_ylim(0, 115)
    _bar_labels(ax, heights, [texts.pct(v) for v in values], horizontal=False)
    ax.tick_params(axis="y", labelsize=10)


def _trend(ax: Axes, f: Figures) -> None:
    ax.set_title(texts.CHART_TREND, fontsize=14, loc="left")
    weeks = f.weeks
    x = range(len(weeks))
    ax.plot(x, [w.received for w in weeks], marker="o", color=COLORS[0], label=texts.TREND_RECEIVED)
    ax.plot(x, [w.closed for w in weeks], marker="s", color=COLORS[2], label=texts.TREND_CLOSED)
    ax.set_xticks(list(x), [f"{w.first.month}/{w.first.day}" for w in weeks], fontsize=9)
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    right.bar(x, [w.visits for w in weeks], color=COLORS[1], alpha=0.18, label=texts.TREND_VISITS)
    right.set_ylim(bottom=0)
    right.tick_params(labelsize=9)
    ax.set_zorder(right.get_zorder() + 1)
    ax.patch.set_visible(False)
    handles = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(
        handles[0] + more[0],
        handles[1] + more[1],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.08),
        ncol=3,
        frameon=False,
        fontsize=11,
    )


def _coverage(ax: Axes, f: Figures) -> None:
    grids = [g for g in f.coverage if g.households]
    if len(grids) <= 12:
        ax.set_title(texts.CHART_COVERAGE, fontsize=14, loc="left")
        shown = grids
        names = [g.grid if f.scope.kind == "community" else f"{g.community}{g.grid}" for g in shown]
    else:
        shown = sorted(grids, key=lambda g: (g.covered / g.households, g.grid_id))[:10]
        ax.set_title(texts.CHART_COVERAGE_LOWEST.format(n=len(shown)), fontsize=14, loc="left")
        names = [f"{g.community}{g.grid}" for g in shown]
    if not shown:
        _empty(ax)
        return
    shown, names = shown[::-1], names[::-1]
    values = [g.covered / g.households * 100 for g in shown]
    ax.barh(range(len(shown)), values, color=COLORS[3])
    ax.set_yticks(range(len(shown)), names, fontsize=10 if len(shown) > 6 else 12)
    ax.set_xlim(0, 118)
    _bar_labels(ax, values, [f"{v:.0f}%" for v in values], horizontal=True)
    ax.tick_params(axis="x", labelsize=10)


def build(f: Figures, tz: ZoneInfo) -> Figure:
    """The dashboard as a matplotlib Figure (not drawn yet)."""
    # Fixed places (left, bottom, width, height) with room for the Chinese tick labels: an
    # automatic layout would cost as much time again as drawing.
    figure = Figure(figsize=(12, 8.5), dpi=100)
    title = texts.CHART_TITLE.format(
        scope=texts.scope_label(f.scope_name), period=texts.period_label(f.period)
    )
    figure.suptitle(
        f"{title}    {texts.CHART_AS_OF.format(when=texts.when(f.as_of, tz))}",
        fontsize=17,
        y=0.985,
    )
    a = figure.add_axes((0.085, 0.56, 0.38, 0.35))
    b = figure.add_axes((0.56, 0.56, 0.42, 0.35))
    c = figure.add_axes((0.055, 0.13, 0.38, 0.33))
    d = figure.add_axes((0.625, 0.07, 0.355, 0.39))
    _categories(a, f)
    _rates(b, f)
    _trend(c, f)
    _coverage(d, f)
    for ax in (a, b, c, d):
        ax.spines[["top", "right"]].set_visible(False)
    return figure


def labels(figure: Figure) -> list[str]:
    """Every piece of text on the figure (after drawing: tick labels exist by then)."""
    return [t.get_text() for t in figure.findobj(Text) if t.get_text()]


def draw(f: Figures, tz: ZoneInfo) -> tuple[bytes, Figure]:
    """The PNG and the drawn figure (the tests read its labels)."""
    font = cjk_font()
    with (
        _LOCK,
        rc_context(
            {
                # Named, not "sans-serif": every text keeps the CJK font outside this context.
                "font.family": [font.name, "DejaVu Sans"],
                "axes.unicode_minus": False,
            }
        ),
    ):
        figure = build(f, tz)
        FigureCanvasAgg(figure)
        out = io.BytesIO()
        figure.savefig(out, format="png")
    missing = font.missing("".join(labels(figure)))
    if missing:
        log.warning("the dashboard font %s lacks %s", font.name, "".join(sorted(missing)))
    return out.getvalue(), figure


def render(f: Figures, tz: ZoneInfo) -> bytes:
    """The dashboard PNG (blocking: call it through asyncio.to_thread)."""
    return draw(f, tz)[0]
