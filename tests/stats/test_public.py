"""Public results: aggregates only; a rate on fewer than MIN_SAMPLE tickets is 样本不足."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, select

from handlers import texts
from services import stats
from services.stats import MIN_SAMPLE, Period, Scope
from storage.db import SessionFactory
from storage.models import Household, User
from tests.stats.dataset import NOW, build

DECEMBER = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


async def test_last_months_rates_and_the_streets_ranking(
    session_factory: SessionFactory,
) -> None:
    async with session_factory() as session:
        await build(session)
        wang = (await session.exec(select(User).where(col(User.telegram_id) == 1001))).one()
        view = await stats.public_view(session, wang, DECEMBER)
        people = list(await session.exec(select(User)))
        households = list(await session.exec(select(Household)))
    assert MIN_SAMPLE == 5
    assert view.period == Period.month(2026, 11) and view.street == "平江街道"
    mine = view.mine
    assert (mine.community, mine.received) == ("悬桥社区", 11)
    assert mine.response == 8 / 11 and mine.resolution == 0.4
    assert mine.satisfaction is None, "4 rated tickets: 样本不足"
    assert [(r.community, r.satisfaction) for r in view.ranking] == [
        ("钮家巷社区", 0.8),
        ("悬桥社区", None),
    ]

    text = texts.public_text(view)
    assert "满意率：样本不足" in text and "1. 钮家巷社区 80.0%" in text
    for person in people:
        assert person.display_name not in text
    for h in households:
        for personal in (h.head_name, h.phone, h.building):
            assert personal not in text

    # In October 悬桥 received one ticket only: every rate is 样本不足, and nothing else shows.
    async with session_factory() as session:
        october = await stats.public_view(session, wang, NOW)
    assert october.period == Period.month(2026, 10)
    assert (october.mine.response, october.mine.resolution, october.mine.satisfaction) == (
        None,
        None,
        None,
    )
    # Three rates, two communities of the ranking, and the note that explains it.
    assert texts.public_text(october).count(texts.SAMPLE_TOO_SMALL) == 3 + 2 + 1


async def test_the_monthly_summary_text_of_issue_6(session_factory: SessionFactory) -> None:
    async with session_factory() as session:
        built = await build(session)
        summary = await stats.monthly_summary(session, Scope.community(built.xuanqiao), DECEMBER)
    assert summary.period == "2026-11" and summary.scope_name == "悬桥社区"
    assert summary.response == (8, 11) and summary.satisfaction == (3, 4)
    text = texts.summary_text(stats.Summary.from_payload(summary.to_payload()))
    assert text.splitlines()[0] == "<b>悬桥社区 2026年11月工作小结</b>"
    assert "响应率 72.7%，解决率 40.0%，满意率 75.0%" in text
