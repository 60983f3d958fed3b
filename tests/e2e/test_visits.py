"""Issue 5: visits, the household card and coverage, through real long polling."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import col, select

from bot.sandbox import Sandbox
from handlers import texts
from services.clock import ManualClock
from services.errors import Refusal
from services.org import household_address
from storage.models import Household, Ticket, Visit, VisitOutcome
from tests.e2e.people import Message, Person, buttons

PersonMaker = Callable[..., Person]
TWO_NEEDS = "老人说楼道灯坏了，另外最近腿疼想找家庭医生"
NUMBER = re.compile(r"GS\d{8}-\d{4}")


async def wang_home(sandbox: Sandbox) -> Household:
    """王阿姨's household (独居老人;高龄), one of 小李's ten."""
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        home = (await session.exec(select(Household).where(Household.head_name == "王秀英"))).one()
    return home


async def visits_of(sandbox: Sandbox, household_id: int) -> list[Visit]:
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        rows = await session.exec(
            select(Visit).where(Visit.household_id == household_id).order_by(col(Visit.id))
        )
        return list(rows)


async def start_visit(volunteer: Person, home: Household, outcome: str) -> Message:
    """/visit → the household → the outcome; returns the request for the note."""
    [choose] = await volunteer.send("/visit")
    label = next(b for b in buttons(choose) if household_address(home) in b)
    picked = await volunteer.press(label, choose)
    [ask] = picked.new
    chosen = await volunteer.press(outcome, ask)
    return chosen.new[-1]


async def test_a_note_with_two_needs_offers_two_tickets(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    li = person(2001, "小李")
    home = await wang_home(sandbox)
    assert home.id is not None
    [choose] = await li.send("/visit")
    assert choose["text"] == texts.VISIT_CHOOSE
    labels = buttons(choose)
    assert len(labels) == 10 and all(b.startswith("⏰ ") and "从未走访" in b for b in labels)
    picked = await li.press(next(b for b in labels if household_address(home) in b), choose)
    [ask] = picked.new
    assert "王秀英" in ask["text"]
    assert buttons(ask) == ["见到本人", "见到家属", "不在家", "拒绝"]
    met = await li.press("见到本人", ask)
    assert "情况：见到本人" in met.message["text"] and not buttons(met.message)
    assert met.new[-1]["text"] == texts.VISIT_ASK_NOTE and buttons(met.new[-1]) == ["无"]

    [summary] = await li.send(TWO_NEEDS)
    assert "走访已记录" in summary["text"] and "记录里有 2 件事" in summary["text"]
    assert buttons(summary) == [
        "反映：设施维修 · 老人说楼道灯坏了",
        "反映：医疗健康 · 另外最近腿疼想找家庭医生",
        "修改记录",
    ]
    first = await li.press("反映：设施维修 · 老人说楼道灯坏了", summary)
    receipt = first.new[-1]["text"]
    assert "已替这户反映给社区" in receipt and "设施维修" in receipt
    lamp = NUMBER.search(receipt)
    assert lamp is not None
    assert buttons(first.message)[0] == f"✓ 已反映 {lamp.group(0)}（设施维修）"
    second = await li.press("反映：医疗健康 · 另外最近腿疼想找家庭医生", first.message)
    assert "医疗健康" in second.new[-1]["text"]
    assert "记录里的事都已反映给社区" in second.message["text"]
    # The same need again: no second ticket.
    again = await li.press(buttons(second.message)[0], second.message)
    assert again.answer is not None and again.answer["show_alert"]
    assert again.answer["text"] == texts.NEED_ALREADY.format(number=lamp.group(0))

    [visit] = await visits_of(sandbox, home.id)
    assert visit.outcome == VisitOutcome.met_resident and visit.note == TWO_NEEDS
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        filed = list(await session.exec(select(Ticket).order_by(col(Ticket.id))))
    assert [(t.category, t.visit_id, t.household_id) for t in filed] == [
        ("facilities", visit.id, home.id),
        ("health", visit.id, home.id),
    ]
    assert filed[0].text == "老人说楼道灯坏了" and filed[0].number == lamp.group(0)


async def test_typed_address_no_note_then_location_and_photo(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    li = person(2001, "小李")
    home = await wang_home(sandbox)
    assert home.id is not None
    await li.send("/visit")
    [unknown] = await li.send("楼下那户")
    assert unknown["text"] == texts.REFUSALS[Refusal.household_not_found]
    number = re.sub(r"\D", "", home.building)
    [ask] = await li.send(f"{number}号 {home.room}")
    assert "王秀英" in ask["text"] and buttons(ask)[0] == "见到本人"
    away = await li.press("不在家", ask)
    nothing = await li.press("无", away.new[-1])
    assert not buttons(nothing.message)
    summary = nothing.new[-1]
    assert "情况：不在家" in summary["text"] and "记录：无" in summary["text"]
    assert "没有发现需要反映的事" in summary["text"] and buttons(summary) == ["修改记录"]

    await li.client.send_location(2001, 31.3226, 120.6301)
    assert await li.client.wait_idle(quiet_ms=150, timeout_s=10)
    assert (await li.last())["text"] == texts.VISIT_LOCATION_ADDED
    await li.client.send_photo(2001)
    assert await li.client.wait_idle(quiet_ms=150, timeout_s=10)
    assert (await li.last())["text"] == texts.VISIT_PHOTO_ADDED
    await li.client.send_photo(2001)
    assert await li.client.wait_idle(quiet_ms=150, timeout_s=10)
    assert (await li.last())["text"] == texts.REFUSALS[Refusal.visit_has_photo]
    # Words typed after the visit are a report again.
    [report] = await li.send("7号的老人说家里的水龙头一直滴水")
    assert report["text"] == texts.ASK_HOUSEHOLD

    [visit] = await visits_of(sandbox, home.id)
    assert visit.outcome == VisitOutcome.not_home and visit.note == ""
    assert visit.latitude == 31.3226 and visit.photo_file_id


async def test_the_household_card_is_for_its_volunteers_and_coordinators_only(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    li, zhou, wang, zhang, liu = (
        person(2001),
        person(2002),
        person(1001),
        person(3001),
        person(3002),
    )
    home = await wang_home(sandbox)
    assert home.id is not None
    ask = await start_visit(li, home, "见到本人")
    await li.send("老人说最近血压有点高")

    [mine] = await li.send("/households")
    assert mine["text"] == texts.HOUSEHOLDS_HEADER
    label = next(b for b in buttons(mine) if household_address(home) in b)
    assert label.startswith(household_address(home)) and "今天走访过" in label
    opened = await li.press(label, mine)
    [card] = opened.new
    assert "标签：独居老人、高龄" in card["text"] and "走访周期：每 7 天" in card["text"]
    assert "小李 见到本人：老人说最近血压有点高" in card["text"]
    assert "电话：139" in card["text"] and "****" in card["text"]
    assert buttons(card) == ["记录走访"]
    assert ask["text"] == texts.VISIT_ASK_NOTE

    # Another grid's volunteer, the resident herself and another community's coordinator:
    # a forged button opens nothing.
    for outsider in (zhou, wang, liu):
        [hello] = await outsider.send("/me")
        forged = await outsider.press_data(hello, f"hc:{home.id}", forge=True)
        assert forged.answer is not None and forged.answer["show_alert"]
        assert forged.answer["text"] == texts.REFUSALS[Refusal.household_unknown]
        assert forged.new == []
    [hello] = await zhou.send("/me")
    forged = await zhou.press_data(hello, f"vs:h:{home.id}:0:", forge=True)
    assert forged.answer is not None and forged.answer["show_alert"]
    assert forged.answer["text"] == texts.REFUSALS[Refusal.not_your_household]
    for command in ("/households", "/visit", "/coverage"):
        [refused] = await wang.send(command)
        assert refused["text"] == texts.REFUSALS[Refusal.not_allowed]

    # The community's coordinator: /coverage → the grid → the household.
    [coverage] = await zhang.send("/coverage")
    assert "第1网格：1/10 户（10%），超期 9 户，本月走访 1 次，志愿者 1 人" in coverage["text"]
    grid = await zhang.press("第1网格 · 超期 9 户", coverage)
    [households] = grid.new
    assert households["text"] == texts.grid_households_header("第1网格")
    assert buttons(households)[-1].startswith(household_address(home))
    seen = await zhang.press(buttons(households)[-1], households)
    assert "标签：独居老人、高龄" in seen.new[-1]["text"] and not buttons(seen.new[-1])
    [other] = await liu.send("/coverage")
    assert "第1网格：0/10 户" in other["text"]
    forged = await liu.press_data(other, f"cg:{home.grid_id}", forge=True)
    assert forged.answer is not None and forged.answer["show_alert"]


async def test_corrections_within_24_hours_only(
    sandbox: Sandbox, person: PersonMaker, clock: ManualClock
) -> None:
    li = person(2001, "小李")
    home = await wang_home(sandbox)
    assert home.id is not None
    await start_visit(li, home, "不在家")
    [summary] = await li.send("敲门没人应")

    edit = await li.press("修改记录", summary)
    [ask] = edit.new
    assert ask["text"] == texts.VISIT_EDIT_OUTCOME
    assert buttons(ask) == ["见到本人", "见到家属", "不在家", "拒绝"]
    family = await li.press("见到家属", ask)
    assert family.new[-1]["text"] == texts.VISIT_EDIT_NOTE
    assert buttons(family.new[-1]) == ["不改"]
    [fixed] = await li.send("见到女儿，说老人这几天住院了")
    assert "（已修改）" in fixed["text"] and "情况：见到家属" in fixed["text"]
    assert "见到女儿" in fixed["text"]
    [visit] = await visits_of(sandbox, home.id)
    assert visit.outcome == VisitOutcome.met_family and visit.note == "见到女儿，说老人这几天住院了"

    clock.advance(timedelta(hours=25))
    late = await li.press("修改记录", fixed)
    assert late.answer is not None and late.answer["show_alert"]
    assert late.answer["text"] == texts.REFUSALS[Refusal.visit_too_old].format(hours=24)
    assert late.new == []
    # The outcome buttons of the earlier correction are refused too.
    stale = await li.press_data(ask, f"vs:eo:{visit.id}:3:", forge=True)
    assert stale.answer is not None and "不能再修改" in stale.answer["text"]
    [unchanged] = await visits_of(sandbox, home.id)
    assert unchanged.outcome == VisitOutcome.met_family
    assert unchanged.note == "见到女儿，说老人这几天住院了"


async def test_me_shows_a_volunteer_s_coverage(sandbox: Sandbox, person: PersonMaker) -> None:
    li = person(2001, "小李")
    [before] = await li.send("/me")
    assert "走访覆盖：0/10 户在周期内走访过（0%）" in before["text"]
    assert "本月走访：0 次" in before["text"]
    home = await wang_home(sandbox)
    await start_visit(li, home, "见到本人")
    await li.send("老人身体挺好，精神不错")
    [after] = await li.send("/me")
    assert "走访覆盖：1/10 户在周期内走访过（10%）" in after["text"]
    assert "超期未走访：9 户" in after["text"] and "本月走访：1 次" in after["text"]
