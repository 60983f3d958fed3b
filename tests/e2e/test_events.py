"""Issue 6: weekend events and follow-ups end to end, through real long polling against the
stand-in. The test moves the clock, calls the sweep itself and lets the sender deliver."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from bot.sandbox import Sandbox
from handlers import texts
from services import followups
from services.clock import ManualClock
from services.errors import Refusal
from storage.models import CommunityEvent, EventSignup, Ticket, TicketStatus
from tests.e2e.people import Message, Person, buttons, callback_of

PersonMaker = Callable[..., Person]
NUMBER = re.compile(r"GS\d{8}-\d{4}")
CODE = re.compile(r"签到码：(\d{6})")
# The test clock starts on Tuesday 2026-11-24 10:00 in Suzhou.
START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


async def sweep(sandbox: Sandbox, clock: ManualClock, moment: datetime) -> None:
    """Move the clock, run the sweep as the scheduler would, and let the sender deliver."""
    assert sandbox.session_factory is not None and sandbox.sender is not None
    clock.set(moment)
    await followups.sweep(sandbox.session_factory, clock, sandbox.followup_rules)
    assert await sandbox.sender.drain()


async def deliver(sandbox: Sandbox) -> None:
    assert sandbox.sender is not None
    assert await sandbox.sender.drain()


def refusal(code: Refusal, **details: object) -> str:
    return texts.refusal(code, dict(details))


async def test_an_event_from_the_steps_to_the_rating(
    sandbox: Sandbox, clock: ManualClock, person: PersonMaker
) -> None:
    zhang, wang, li = person(3001), person(1001), person(1002)

    # The coordinator's seven steps, each checked.
    [ask] = await zhang.send("/event")
    assert "第 1 步" in ask["text"]
    [no] = await zhang.send("周末" * 16)
    assert no["text"] == refusal(Refusal.event_title_too_long, limit=30)
    [ask] = await zhang.send("周末亲子手工课")
    assert ask["text"] == texts.EVENT_ASK_START
    [no] = await zhang.send("2026-11-20 14:00")
    assert no["text"] == refusal(Refusal.event_in_past)
    [no] = await zhang.send("过两天吧")
    assert no["text"] == refusal(Refusal.event_time_unreadable)
    [ask] = await zhang.send("周六下午2点")
    assert ask["text"] == texts.EVENT_ASK_END
    [no] = await zhang.send("2026-11-28 13:00")
    assert no["text"] == refusal(Refusal.event_end_before_start)
    [ask] = await zhang.send("16:00")
    assert ask["text"] == texts.EVENT_ASK_PLACE
    [ask] = await zhang.send("悬桥社区党群服务中心二楼")
    assert ask["text"] == texts.EVENT_ASK_CAPACITY
    [no] = await zhang.send("0")
    assert no["text"] == refusal(Refusal.event_capacity, limit=500)
    [audience] = await zhang.send("1")
    assert buttons(audience) == [
        "全社区（悬桥社区）",
        "第1网格",
        "第2网格",
        "第3网格",
        "全街道（平江街道）",
    ]
    chosen = await zhang.press("全社区（悬桥社区）", audience)
    assert chosen.message["reply_markup"] is None
    [describe] = chosen.new
    assert buttons(describe) == ["跳过"]
    [preview] = await zhang.send("带孩子一起做灯笼，材料社区准备")
    assert "11月28日（周六）14:00-16:00" in preview["text"]
    assert "最多 1 人" in preview["text"] and "全社区（悬桥社区）" in preview["text"]
    assert buttons(preview) == ["发布", "不发布"]
    publish = callback_of(preview, "发布")
    published = await zhang.press("发布", preview)
    assert "已通知 4 位" in published.new[-1]["text"]
    again = await zhang.press_data(preview, publish, forge=True)  # a stale second tap
    assert again.answer is not None and again.answer["text"] == refusal(Refusal.event_unknown)

    # The audience is told through the outbox.
    await deliver(sandbox)
    announce = await wang.last()
    assert "周末亲子手工课" in announce["text"] and buttons(announce) == ["报名"]
    assert buttons(await li.last()) == ["报名"]
    assert await person(1003).bot_messages() == [], "赵奶奶 lives in another community"
    zhao = person(1003)
    [hello] = await zhao.send("/me")
    forged = await zhao.press_data(hello, callback_of(announce, "报名"), forge=True)
    assert forged.answer is not None and forged.answer["text"] == refusal(Refusal.event_unknown)

    # One place: 王阿姨 gets it, 李伯伯 waits; 王阿姨 cancels and 李伯伯 is moved in.
    joined = await wang.press("报名", announce)
    assert "报名成功" in joined.new[-1]["text"]
    assert buttons(joined.message) == ["取消报名"]
    waiting = await li.press("报名")
    assert "候补第 1 位" in waiting.new[-1]["text"]
    assert buttons(waiting.message) == ["退出候补"]
    cancelled = await wang.press("取消报名", joined.message)
    assert "已取消报名" in cancelled.new[-1]["text"]
    await deliver(sandbox)
    promoted = await li.last()
    assert "从候补转为" in promoted["text"] and "周末亲子手工课" in promoted["text"]
    cards = await li.send("/events")
    assert "您已报名" in cards[-1]["text"] and buttons(cards[-1]) == ["取消报名"]

    # Reminders 24 h and 2 h before go to those attending only.
    saturday_2pm = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    await sweep(sandbox, clock, saturday_2pm - timedelta(hours=24))
    reminder = await li.last()
    assert "活动提醒" in reminder["text"] and "明天" in reminder["text"]
    await sweep(sandbox, clock, saturday_2pm - timedelta(hours=2))
    assert "2 小时后" in (await li.last())["text"]
    assert not any("活动提醒" in (m["text"] or "") for m in await wang.bot_messages())

    # Check-in: the coordinator shows the code, the attendee just sends it.
    clock.set(saturday_2pm - timedelta(minutes=20))
    [shown] = await zhang.send("/checkin")
    found = CODE.search(shown["text"])
    assert found, shown["text"]
    code = found.group(1)
    [not_hers] = await wang.send(code)
    assert not_hers["text"] == refusal(Refusal.checkin_not_attending)
    [welcome] = await li.send(code)
    assert welcome["text"] == texts.checked_in("周末亲子手工课")
    [twice] = await li.send(f"/checkin {code}")
    assert twice["text"] == refusal(Refusal.checkin_already)

    # The day after, those who came rate it.
    await sweep(sandbox, clock, datetime(2026, 11, 29, 2, 0, tzinfo=UTC))
    ask_rating = await li.last()
    assert "打个分" in ask_rating["text"]
    assert buttons(ask_rating) == ["1 星", "2 星", "3 星", "4 星", "5 星"]
    rated = await li.press("5 星", ask_rating)
    assert rated.new[-1]["text"] == texts.event_rated(5)
    assert rated.message["reply_markup"] is None
    assert not any("打个分" in (m["text"] or "") for m in await wang.bot_messages())

    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        event = (await session.exec(select(CommunityEvent))).one()
        signups = list(
            await session.exec(select(EventSignup).where(EventSignup.event_id == event.id))
        )
    assert event.status == "published" and event.capacity == 1
    assert sorted((s.status.value, s.rating) for s in signups) == [
        ("attending", 5),
        ("cancelled", None),
    ]


async def test_residents_subscribe_and_list_events(sandbox: Sandbox, person: PersonMaker) -> None:
    wang, zhang = person(1001), person(3001)
    [none] = await wang.send("/events")
    assert none["text"].startswith(texts.EVENTS_NONE) and "/subscribe" in none["text"]
    [done] = await wang.send("/subscribe")
    assert done["text"] == texts.SUBSCRIBED
    [again] = await wang.send("/subscribe")
    assert again["text"] == texts.ALREADY_SUBSCRIBED
    [gone] = await wang.send("/unsubscribe")
    assert gone["text"] == texts.UNSUBSCRIBED
    [staff] = await zhang.send("/events")
    assert staff["text"] == texts.EVENTS_STAFF_NONE
    [no] = await wang.send("/event")
    assert no["text"] == refusal(Refusal.not_allowed)
    [no_code] = await zhang.send("/checkin")
    assert no_code["text"] == refusal(Refusal.checkin_nothing_running)
    # Six digits that are no event's code are an ordinary message (here: a report).
    [receipt] = await wang.send("123456")
    assert "已收到您反映的问题" in receipt["text"]


# ---------------------------------------------------------------- follow-ups of tickets


def number_in(message: Message) -> str:
    found = NUMBER.search(message["text"] or "")
    assert found, message
    return found.group(0)


async def test_an_unacknowledged_urgent_report_is_reminded_then_escalated_once(
    sandbox: Sandbox, clock: ManualClock, person: PersonMaker
) -> None:
    wang, zhang, chen = person(1001), person(3001), person(4001)
    [receipt] = await wang.send("救命！家里煤气味很重，老伴晕倒了")
    number = number_in(receipt)
    assert "紧急事项" in (await zhang.last())["text"]

    await sweep(sandbox, clock, START + timedelta(minutes=29))
    assert "提醒" not in (await zhang.last())["text"]
    await sweep(sandbox, clock, START + timedelta(minutes=30))
    reminder = await zhang.last()
    assert "提醒" in reminder["text"] and number in reminder["text"]
    assert "30 分钟没有受理" in reminder["text"] and buttons(reminder) == ["查看详情"]

    await sweep(sandbox, clock, START + timedelta(hours=2))
    escalation = await chen.last()
    assert "督办" in escalation["text"] and number in escalation["text"]
    assert "督办" in (await zhang.last())["text"]
    card = await chen.press("查看详情", escalation)
    assert "督办" in card.new[-1]["text"] and "超时未受理，报街道督办" in card.new[-1]["text"]

    await sweep(sandbox, clock, START + timedelta(hours=30))
    escalations = [m for m in await chen.bot_messages() if "请督促社区" in (m["text"] or "")]
    assert len(escalations) == 1
    reminders = [m for m in await zhang.bot_messages() if "没有受理了" in (m["text"] or "")]
    assert len(reminders) == 1


async def test_the_resident_is_asked_again_and_can_answer_the_reminder(
    sandbox: Sandbox, clock: ManualClock, person: PersonMaker
) -> None:
    wang, zhang = person(1001), person(3001)
    [receipt] = await wang.send("楼道里的灯坏了一个星期了，晚上看不见")
    number = number_in(receipt)
    [inbox] = await zhang.send("/inbox")
    opened = await zhang.press(next(b for b in buttons(inbox) if number in b), inbox)
    accepted = await zhang.press("受理", opened.new[-1])
    await zhang.press("已处理", accepted.message)
    await zhang.send("已换了新灯泡")
    await deliver(sandbox)

    await sweep(sandbox, clock, START + timedelta(hours=24))
    asked = await wang.last()
    assert "还在等您确认" in asked["text"] and buttons(asked) == ["已解决", "未解决"]
    solved = await wang.press("已解决", asked)
    assert buttons(solved.new[-1]) == ["满意", "基本满意", "不满意"]
    # Confirmed: no second question, no closing by the timer.
    await sweep(sandbox, clock, START + timedelta(days=8))
    assert sum("还在等您确认" in (m["text"] or "") for m in await wang.bot_messages()) == 1
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        ticket = (await session.exec(select(Ticket).where(col(Ticket.number) == number))).one()
    assert ticket.status == TicketStatus.closed and ticket.closed_at is not None
