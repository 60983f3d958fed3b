"""Visits, needs in a note, the household card and visit coverage, without aiogram."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from nlp.classifier import Classifier
from services import cadence, visits
from services.clock import ManualClock
from services.errors import Refusal, ServiceError
from services.followups import DEFAULT_RULES as FOLLOWUP_RULES
from services.users import get_user, profile
from storage.db import SessionFactory
from storage.models import Household, Ticket, User, VisitOutcome

TWO_NEEDS = "老人说楼道灯坏了，另外最近腿疼想找家庭医生"


async def persona(session: AsyncSession, telegram_id: int) -> User:
    user = await get_user(session, telegram_id)
    assert user is not None
    return user


async def wang_household(session: AsyncSession) -> Household:
    """王阿姨's home: 独居老人;高龄, looked after by 小李."""
    wang = await persona(session, 1001)
    assert wang.household_id is not None
    household = await session.get(Household, wang.household_id)
    assert household is not None
    return household


def test_a_note_is_read_clause_by_clause(classifier: Classifier) -> None:
    needs = visits.find_needs(classifier, TWO_NEEDS)
    assert [(n.category, n.text) for n in needs] == [
        ("facilities", "老人说楼道灯坏了"),
        ("health", "另外最近腿疼想找家庭医生"),
    ]


def test_small_talk_is_not_a_need_and_one_need_is_one_button(classifier: Classifier) -> None:
    assert visits.find_needs(classifier, "老人身体挺好，精神不错。") == []
    assert visits.find_needs(classifier, "") == []
    [leak] = visits.find_needs(classifier, "屋顶漏雨，家里水管漏水")
    assert leak.category == "facilities" and leak.text == "屋顶漏雨，家里水管漏水"
    # A clause without a need stays with the need before it; sentences split on 。！？；
    needs = visits.find_needs(
        classifier, "楼道灯坏了，晚上看不见。子女很少回来，想找人帮忙买菜；家里闻到煤气味！"
    )
    assert [n.category for n in needs] == ["facilities", "elderly", "safety"]
    assert needs[0].text == "楼道灯坏了，晚上看不见"
    assert needs[2].urgent


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("12号101", True),
        ("悬桥巷12号 101室", True),
        ("2号101", False),
        ("12号102", False),
        ("大儒巷12号101", False),
        ("楼下", False),
    ],
)
def test_typed_addresses(query: str, expected: bool) -> None:
    lane = Household(grid_id=1, building="悬桥巷12号", unit="", room="101", head_name="王")
    assert visits.matches_address(query, lane) is expected


@pytest.mark.parametrize(
    ("query", "expected"), [("3幢2单元301", True), ("3-2-301", True), ("3幢301", True)]
)
def test_typed_compound_addresses(query: str, expected: bool) -> None:
    compound = Household(grid_id=1, building="3幢", unit="2单元", room="301", head_name="李")
    assert visits.matches_address(query, compound) is expected


async def test_a_visit_offers_each_need_once_as_a_ticket_of_the_household(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    async with session_factory() as session:
        li = await persona(session, 2001)
        home = await wang_household(session)
        assert home.id is not None
        summary = await visits.record(
            session, clock, classifier, li, home.id, VisitOutcome.met_resident, TWO_NEEDS
        )
        visit_id = summary.visit.id
        assert visit_id is not None and summary.editable
        assert [n.category for n in summary.needs] == ["facilities", "health"]
        assert all(n.ticket_number is None for n in summary.needs)

        first = await visits.file_need(
            session, clock, classifier, li, visit_id, "facilities", followup_rules=FOLLOWUP_RULES
        )
        again = await visits.file_need(
            session, clock, classifier, li, visit_id, "facilities", followup_rules=FOLLOWUP_RULES
        )
        second = await visits.file_need(
            session, clock, classifier, li, visit_id, "health", followup_rules=FOLLOWUP_RULES
        )
        assert first.created and not again.created and second.created
        assert again.ticket.id == first.ticket.id
        assert [n.ticket_number for n in second.summary.needs] == [
            first.ticket.number,
            second.ticket.number,
        ]
        with pytest.raises(ServiceError) as refused:
            await visits.file_need(
                session, clock, classifier, li, visit_id, "noise", followup_rules=FOLLOWUP_RULES
            )
        assert refused.value.refusal is Refusal.visit_unknown
        # Only the visit's author files its needs.
        zhou = await persona(session, 2002)
        with pytest.raises(ServiceError):
            await visits.file_need(
                session, clock, classifier, zhou, visit_id, "health", followup_rules=FOLLOWUP_RULES
            )

        rows = list(await session.exec(select(Ticket).where(col(Ticket.visit_id) == visit_id)))
        wang = await persona(session, 1001)
    assert sorted(t.category for t in rows) == ["facilities", "health"]
    assert {t.household_id for t in rows} == {home.id}
    assert {t.reporter_id for t in rows} == {li.id}
    assert {t.resident_id for t in rows} == {wang.id}


async def test_only_their_own_households(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    async with session_factory() as session:
        zhou, zhang = await persona(session, 2002), await persona(session, 3001)
        home = await wang_household(session)
        assert home.id is not None
        with pytest.raises(ServiceError) as refused:
            await visits.record(
                session, clock, classifier, zhou, home.id, VisitOutcome.not_home, ""
            )
        assert refused.value.refusal is Refusal.not_your_household
        with pytest.raises(ServiceError) as refused:
            await visits.my_households(session, zhang)
        assert refused.value.refusal is Refusal.not_allowed


async def test_corrections_by_the_author_within_24_hours(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    async with session_factory() as session:
        li, zhou = await persona(session, 2001), await persona(session, 2002)
        home = await wang_household(session)
        assert home.id is not None
        summary = await visits.record(
            session, clock, classifier, li, home.id, VisitOutcome.not_home, "敲门没人应"
        )
        visit_id = summary.visit.id
        assert visit_id is not None
        with pytest.raises(ServiceError) as refused:
            await visits.correct(
                session, clock, classifier, zhou, visit_id, VisitOutcome.met_family, "x"
            )
        assert refused.value.refusal is Refusal.visit_unknown

        clock.advance(timedelta(hours=23, minutes=59))
        fixed = await visits.correct(
            session,
            clock,
            classifier,
            li,
            visit_id,
            VisitOutcome.met_family,
            "见到女儿，说老人住院了",
        )
        assert fixed.visit.outcome == VisitOutcome.met_family
        assert fixed.visit.note == "见到女儿，说老人住院了" and fixed.visit.updated_at is not None
        kept = await visits.correct(
            session, clock, classifier, li, visit_id, VisitOutcome.met_resident, None
        )
        assert kept.visit.note == "见到女儿，说老人住院了"

        clock.advance(timedelta(minutes=2))
        with pytest.raises(ServiceError) as refused:
            await visits.correct(
                session, clock, classifier, li, visit_id, VisitOutcome.refused, "改不了"
            )
        assert refused.value.refusal is Refusal.visit_too_old
        with pytest.raises(ServiceError):
            await visits.attach_location(session, clock, li, visit_id, 31.3, 120.6)
        assert (await visits.summary(session, clock, classifier, li, visit_id)).editable is False
        assert kept.visit.outcome == VisitOutcome.met_resident


async def test_one_photo_per_visit(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    async with session_factory() as session:
        li = await persona(session, 2001)
        home = await wang_household(session)
        assert home.id is not None
        summary = await visits.record(
            session, clock, classifier, li, home.id, VisitOutcome.met_resident, ""
        )
        assert summary.visit.id is not None and summary.needs == []
        await visits.attach_photo(session, clock, li, summary.visit.id, "photo-1")
        with pytest.raises(ServiceError) as refused:
            await visits.attach_photo(session, clock, li, summary.visit.id, "photo-2")
        assert refused.value.refusal is Refusal.visit_has_photo


@pytest.mark.parametrize(
    ("telegram_id", "expected"),
    [
        (2001, True),
        (2002, False),
        (2003, False),
        (1001, False),
        (3001, True),
        (3002, False),
        (4001, False),
    ],
)
async def test_who_may_open_the_household_card(
    session_factory: SessionFactory,
    clock: ManualClock,
    classifier: Classifier,
    telegram_id: int,
    expected: bool,
) -> None:
    """王阿姨's household: 小李 (her volunteer) and 张书记 (her community's coordinator) only."""
    async with session_factory() as session:
        li = await persona(session, 2001)
        home = await wang_household(session)
        assert home.id is not None
        summary = await visits.record(
            session, clock, classifier, li, home.id, VisitOutcome.met_resident, TWO_NEEDS
        )
        assert summary.visit.id is not None
        await visits.file_need(
            session,
            clock,
            classifier,
            li,
            summary.visit.id,
            "health",
            followup_rules=FOLLOWUP_RULES,
        )
        viewer = await persona(session, telegram_id)
        if not expected:
            with pytest.raises(ServiceError) as refused:
                await visits.household_card(session, clock, viewer, home.id)
            assert refused.value.refusal is Refusal.household_unknown
            return
        card = await visits.household_card(session, clock, viewer, home.id)
    assert card.tags == ["独居老人", "高龄"] and card.interval_days == 7
    assert card.volunteers == ["小李"] and not card.overdue
    assert [(v.volunteer, v.note) for v in card.visits] == [("小李", TWO_NEEDS)]
    assert [t.category for t in card.open_tickets] == ["health"]
    assert "*" in card.phone
    assert card.can_visit is (telegram_id == 2001)


async def test_coverage_counts_visits_within_each_interval(
    session_factory: SessionFactory, clock: ManualClock, classifier: Classifier
) -> None:
    async with session_factory() as session:
        li, zhang = await persona(session, 2001), await persona(session, 3001)
        home = await wang_household(session)
        assert home.id is not None and li.id is not None
        before = await cadence.volunteer_coverage(session, clock, li)
        assert (before.covered, before.total, before.visits_this_month) == (0, 10, 0)
        dues = await cadence.volunteer_households(session, li.id)
        assert all(d.last_visit is None for d in dues)

        await visits.record(session, clock, classifier, li, home.id, VisitOutcome.met_resident, "")
        after = await cadence.volunteer_coverage(session, clock, li)
        assert (after.covered, after.overdue, after.visits_this_month) == (1, 9, 1)
        assert (await profile(session, li, clock)).coverage == after
        assert (await profile(session, li)).coverage is None
        dues = await cadence.volunteer_households(session, li.id)
        assert dues[-1].household.id == home.id, "the visited household goes last"

        grids = await cadence.community_coverage(session, clock, zhang)
        assert [g.grid.name for g in grids] == ["第1网格", "第2网格", "第3网格"]
        assert (grids[0].coverage.covered, grids[0].coverage.total, grids[0].volunteers) == (
            1,
            10,
            1,
        )
        assert grids[1].coverage.covered == 0

        # 8 days on: past 王阿姨's 7-day interval, and December in Suzhou.
        clock.advance(timedelta(days=8))
        later = await cadence.volunteer_coverage(session, clock, li)
        assert (later.covered, later.visits_this_month) == (0, 0)


async def test_grid_households_for_the_community_coordinators_only(
    session_factory: SessionFactory,
) -> None:
    async with session_factory() as session:
        zhang, liu = await persona(session, 3001), await persona(session, 3002)
        assert zhang.community_id is not None
        grid_id = (await cadence.community_coverage(session, ManualClock(), zhang))[0].grid.id
        assert grid_id is not None
        grid, dues = await cadence.grid_households(session, zhang, grid_id)
        assert grid.name == "第1网格" and len(dues) == 10
        for outsider in (liu, await persona(session, 2001)):
            with pytest.raises(ServiceError) as refused:
                await cadence.grid_households(session, outsider, grid_id)
            assert refused.value.refusal is Refusal.unknown_grid


def test_intervals_by_tag_and_month_start() -> None:
    assert cadence.interval_for(["独居老人", "低保"]) == timedelta(days=7)
    assert cadence.interval_for(["残疾"]) == timedelta(days=14)
    assert cadence.interval_for(["空巢"]) == timedelta(days=30)
    assert cadence.interval_for(["空巢"], {"空巢": timedelta(days=10)}) == timedelta(days=10)
    # 2026-11-30 17:00 UTC is already 1 December in Suzhou.
    assert cadence.month_start(datetime(2026, 11, 30, 17, 0, tzinfo=UTC)) == datetime(
        2026, 11, 30, 16, 0, tzinfo=UTC
    )
