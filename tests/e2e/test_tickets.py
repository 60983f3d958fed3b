"""Issue 4: the closed loop, through real long polling against the stand-in."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlmodel import col, select

from bot.sandbox import Sandbox
from handlers import texts
from storage.models import NlpCorrection, Rating, Ticket, TicketEvent, TicketStatus
from tests.e2e.people import Message, Person, buttons

PersonMaker = Callable[..., Person]
NUMBER = re.compile(r"GS\d{8}-\d{4}")
LAMP = "楼道里的灯坏了一个星期了，晚上上下楼黑乎乎的看不见"


def number_in(message: Message) -> str:
    found = NUMBER.search(message["text"] or message.get("caption") or "")
    assert found, message
    return found.group(0)


async def ticket_by_number(sandbox: Sandbox, number: str) -> tuple[Ticket, list[TicketEvent]]:
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        ticket = (await session.exec(select(Ticket).where(Ticket.number == number))).one()
        events = list(
            await session.exec(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id)
                .order_by(col(TicketEvent.id))
            )
        )
    return ticket, events


async def open_card(coordinator: Person, number: str) -> Message:
    [inbox] = await coordinator.send("/inbox")
    line = next(b for b in buttons(inbox) if number in b)
    opened = await coordinator.press(line, inbox)
    [card] = opened.new
    assert number in card["text"]
    return card


async def report(resident: Person, text: str) -> tuple[str, Message]:
    [receipt] = await resident.send(text)
    return number_in(receipt), receipt


async def test_report_to_confirmation_with_a_complete_audit_trail(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    wang, zhang, li = person(1001, "王阿姨"), person(3001, "张书记"), person(2001, "小李")
    number, receipt = await report(wang, LAMP)
    assert number.startswith("GS20261124-")
    assert "分类：设施维修" in receipt["text"] and "紧急程度：一般" in receipt["text"]
    assert "24 小时内（11月25日 10:00 前）" in receipt["text"]
    assert buttons(receipt) == ["改分类"]

    card = await open_card(zhang, number)
    assert "待受理" in card["text"] and "电话：139" in card["text"] and "****" in card["text"]
    assert "依据：" in card["text"]
    assert buttons(card)[:2] == ["受理", "派单"]

    accepted = await zhang.press("受理", card)
    assert "· 已受理" in accepted.message["text"]
    assert "有新进展：已受理" in (await wang.last())["text"]

    choose = await zhang.press("派单", accepted.message)
    assert buttons(choose.message)[0].startswith("小李（负责该户")
    dispatched = await zhang.press(buttons(choose.message)[0], choose.message)
    assert "· 已派单" in dispatched.message["text"] and "处理人：小李" in dispatched.message["text"]
    offer = await li.last()
    assert number in offer["text"] and buttons(offer) == ["接单", "无法处理"]
    assert "有新进展：已派单" in (await wang.last())["text"]

    taken = await li.press("接单", offer)
    assert buttons(taken.message) == ["已处理"]
    assert "有新进展：处理中" in (await wang.last())["text"]

    asked = await li.press("已处理", taken.message)
    assert asked.new[-1]["text"] == texts.ASK_RESOLUTION
    [done] = await li.send("已经换了新灯泡，楼道亮了")
    assert "等居民确认" in done["text"]

    question = await wang.last()
    assert "问题解决了吗" in question["text"] and "已经换了新灯泡" in question["text"]
    assert buttons(question) == ["已解决", "未解决"]
    solved = await wang.press("已解决", question)
    [rating] = solved.new
    assert buttons(rating) == ["满意", "基本满意", "不满意"]
    rated = await wang.press("满意", rating)
    assert rated.new[-1]["text"] == texts.ASK_COMMENT
    [thanks] = await wang.send("小李很负责，谢谢！")
    assert thanks["text"] == texts.COMMENT_SAVED

    ticket, events = await ticket_by_number(sandbox, number)
    assert ticket.status == TicketStatus.closed and ticket.rating == Rating.satisfied
    assert ticket.rating_comment == "小李很负责，谢谢！"
    trail = [(e.action, e.from_status, e.to_status) for e in events]
    assert trail == [
        ("report", None, TicketStatus.new),
        ("accept", TicketStatus.new, TicketStatus.accepted),
        ("dispatch", TicketStatus.accepted, TicketStatus.dispatched),
        ("take", TicketStatus.dispatched, TicketStatus.in_progress),
        ("resolve", TicketStatus.in_progress, TicketStatus.awaiting_confirmation),
        ("confirm", TicketStatus.awaiting_confirmation, TicketStatus.closed),
        ("rate", TicketStatus.closed, None),
        ("comment", TicketStatus.closed, None),
    ]
    assert all(e.actor_id is not None for e in events)
    [mine] = await wang.send("/mytickets")
    assert any(number in b and "已办结" in b for b in buttons(mine))


async def test_dissatisfied_reopens_under_supervision(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    wang, zhang = person(1001), person(3001)
    number, _ = await report(wang, "小区门口的垃圾桶满了好几天没人清运，很臭")
    card = await open_card(zhang, number)
    accepted = await zhang.press("受理", card)
    asked = await zhang.press("已处理", accepted.message)
    assert asked.new[-1]["text"] == texts.ASK_RESOLUTION
    await zhang.send("已联系环卫清运")
    solved = await wang.press("已解决")
    rated = await wang.press("不满意", solved.new[-1])
    assert rated.new[-1]["text"] == texts.RATED_DISSATISFIED
    supervise = await zhang.last()
    assert "督办" in supervise["text"] and number in supervise["text"]
    ticket, events = await ticket_by_number(sandbox, number)
    assert ticket.status == TicketStatus.reopened and ticket.supervised
    assert [e.action for e in events][-2:] == ["rate", "reopen"]
    reopened_card = await open_card(zhang, number)
    assert "重新办理" in reopened_card["text"] and "督办" in reopened_card["text"]


async def test_unresolved_reopens(sandbox: Sandbox, person: PersonMaker) -> None:
    wang, zhang = person(1001), person(3001)
    number, _ = await report(wang, "家里水管漏水，楼下也渗水了")
    card = await open_card(zhang, number)
    accepted = await zhang.press("受理", card)
    await zhang.press("已处理", accepted.message)
    await zhang.send("已修好")
    answer = await wang.press("未解决")
    assert answer.new[-1]["text"] == texts.UNRESOLVED_REOPENED
    ticket, _ = await ticket_by_number(sandbox, number)
    assert ticket.status == TicketStatus.reopened and ticket.supervised


async def test_escalation_reaches_the_street_admin(sandbox: Sandbox, person: PersonMaker) -> None:
    wang, zhang, chen = person(1001), person(3001), person(4001)
    number, _ = await report(wang, "小区旁边工地晚上十二点还在施工，吵得睡不着")
    card = await open_card(zhang, number)
    asked = await zhang.press("转办街道", card)
    assert asked.new[-1]["text"] == texts.ASK_REASON["escalate"]
    [updated] = await zhang.send("夜间施工需街道城管协调")
    assert "已转办" in updated["text"]
    escalated = await chen.last()
    assert number in escalated["text"] and "夜间施工需街道城管协调" in escalated["text"]
    assert "有新进展：已转办" in (await wang.last())["text"]
    [street_inbox] = await chen.send("/inbox")
    assert any(number in b for b in buttons(street_inbox))
    _, events = await ticket_by_number(sandbox, number)
    assert events[-1].action == "escalate" and events[-1].note == "夜间施工需街道城管协调"


async def test_refusal_shows_its_reason_to_the_resident(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    wang, zhang = person(1001), person(3001)
    number, _ = await report(wang, "想问问隔壁小区的物业费怎么交")
    card = await open_card(zhang, number)
    await zhang.press("不予受理", card)
    await zhang.send("不属于本社区，请咨询所在小区物业")
    status = await wang.last()
    assert "不予受理" in status["text"] and "不属于本社区" in status["text"]
    ticket, _ = await ticket_by_number(sandbox, number)
    assert ticket.status == TicketStatus.rejected


async def test_duplicate_merge(sandbox: Sandbox, person: PersonMaker) -> None:
    wang, zhang = person(1001), person(3001)
    first, _ = await report(wang, "楼道灯坏了，晚上看不见路")
    second, _ = await report(wang, "楼道的灯还是不亮")
    card = await open_card(zhang, second)
    assert f"可能重复：{first}" in card["text"]
    merged = await zhang.press(f"合并到 {first}", card)
    assert "· 重复" in merged.message["text"]
    status = await wang.last()
    assert second in status["text"] and first in status["text"]
    ticket, events = await ticket_by_number(sandbox, second)
    assert ticket.status == TicketStatus.duplicate and events[-1].note == first


async def test_forged_and_stale_callbacks_change_nothing(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    wang, zhang, liu, zhou = person(1001), person(3001), person(3002), person(2002)
    number, _ = await report(wang, "楼下有人乱停车堵住了路")
    ticket, _ = await ticket_by_number(sandbox, number)
    # A coordinator of another community, a volunteer and the resident forge 受理.
    for outsider in (liu, zhou, wang):
        [hello] = await outsider.send("/me")
        forged = await outsider.press_data(hello, f"tk:acc:{ticket.id}:0", forge=True)
        assert forged.answer is not None and forged.answer["show_alert"]
    card = await open_card(zhang, number)
    await zhang.press("受理", card)
    # The same button again on the old card: the ticket has moved on.
    stale = await zhang.press_data(card, f"tk:acc:{ticket.id}:0", forge=True)
    assert stale.answer is not None and "已受理" in stale.answer["text"]
    _, events = await ticket_by_number(sandbox, number)
    assert [e.action for e in events] == ["report", "accept"]


async def test_double_tap_makes_one_transition(sandbox: Sandbox, person: PersonMaker) -> None:
    wang, zhang = person(1001), person(3001)
    number, _ = await report(wang, "电梯坏了老人下不了楼")
    card = await open_card(zhang, number)
    data = next(
        b["callback_data"]
        for row in card["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == "受理"
    )
    first = await zhang.client.press(3001, card["message_id"], data)
    second = await zhang.client.press(3001, card["message_id"], data)
    assert first["update_id"] != second["update_id"]
    assert await zhang.client.wait_idle(quiet_ms=200, timeout_s=10)
    _, events = await ticket_by_number(sandbox, number)
    assert [e.action for e in events] == ["report", "accept"]
    accepted_notices = [m for m in await wang.bot_messages() if "有新进展：已受理" in m["text"]]
    assert len(accepted_notices) == 1


async def test_urgent_report_reaches_coordinators_at_once(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    wang, zhang = person(1001), person(3001)
    number, receipt = await report(wang, "救命！家里煤气味很重，老伴晕倒了")
    assert "🔴 紧急" in receipt["text"] and "2 小时内" in receipt["text"]
    alert = await zhang.last()
    assert "紧急事项" in alert["text"] and number in alert["text"]
    assert buttons(alert) == ["查看详情"]


async def test_recategorize_is_stored_as_a_correction(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    wang, zhang = person(1001), person(3001)
    number, _ = await report(wang, "楼道灯坏了")
    card = await open_card(zhang, number)
    pick = await zhang.press("改分类", card)
    changed = await zhang.press("安全隐患", pick.new[-1])
    assert "安全隐患" in changed.message["text"]
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        [correction] = (await session.exec(select(NlpCorrection))).all()
    assert correction.category == "safety" and correction.text == "楼道灯坏了"


async def test_photos_and_location_join_the_report(sandbox: Sandbox, person: PersonMaker) -> None:
    wang = person(1001)
    number, _ = await report(wang, "路边的井盖不见了，很危险")
    for n in range(1, 4):
        await wang.client.send_photo(1001)
        assert await wang.client.wait_idle(quiet_ms=150, timeout_s=10)
        assert (await wang.last())["text"] == texts.photo_added(number, n)
    await wang.client.send_photo(1001)
    assert await wang.client.wait_idle(quiet_ms=150, timeout_s=10)
    assert "最多附 3 张照片" in (await wang.last())["text"]
    await wang.client.send_location(1001, 31.3155, 120.629)
    assert await wang.client.wait_idle(quiet_ms=150, timeout_s=10)
    assert (await wang.last())["text"] == texts.location_added(number)
    ticket, _ = await ticket_by_number(sandbox, number)
    assert ticket.latitude == 31.3155


async def test_a_volunteer_reports_for_a_household(sandbox: Sandbox, person: PersonMaker) -> None:
    li = person(2001)
    [ask] = await li.send("7号的老人说家里的水龙头一直滴水")
    assert ask["text"] == texts.ASK_HOUSEHOLD
    first_household = buttons(ask)[0]
    chosen = await li.press(first_household, ask)
    receipt = chosen.new[-1]
    number = number_in(receipt)
    ticket, _ = await ticket_by_number(sandbox, number)
    assert ticket.household_id is not None and ticket.reporter_id != ticket.resident_id
