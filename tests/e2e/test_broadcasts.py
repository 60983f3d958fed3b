"""Issue 7: coordinators broadcast through the outbox; progress and report edit one message."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import col, select

from bot.sandbox import Sandbox
from handlers import texts
from services import broadcasts
from storage.models import Outbox
from tests.e2e.people import Person, buttons, callback_of

PersonMaker = Callable[..., Person]
NOTICE = "本周六上午9点在社区广场义诊，<欢迎>大家参加 & 转告"


async def track(sandbox: Sandbox) -> None:
    """What the scheduler does every 5 s: update the status message, then deliver."""
    assert sandbox.session_factory is not None and sandbox.sender is not None
    async with sandbox.session_factory() as session:
        await broadcasts.track(session, sandbox.clock)
        await session.commit()
    await sandbox.sender.drain(10)


async def test_a_coordinator_broadcasts_to_the_community_residents(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    zhang, wang, li_bobo = person(3001), person(1001), person(1002)
    [ask] = await zhang.send("/broadcast")
    assert ask["text"] == texts.ASK_BROADCAST
    [choose] = await zhang.send(NOTICE)
    assert choose["text"] == texts.CHOOSE_AUDIENCE
    assert "悬桥社区 全体居民" in buttons(choose) and "第1网格 的居民和志愿者" in buttons(choose)
    preview = await zhang.press("悬桥社区 全体居民", choose)
    assert "共 2 人" in preview.message["text"] and NOTICE in preview.message["text"]
    started = await zhang.press("确认发送", preview.message)
    assert "已发送 0/2" in started.message["text"]
    assert sandbox.sender is not None
    await sandbox.sender.drain(10)
    for resident in (wang, li_bobo):
        assert (await resident.last())["text"] == NOTICE, "user text arrives exactly as typed"
    await track(sandbox)
    report = next(
        m for m in await zhang.messages() if m["message_id"] == started.message["message_id"]
    )
    assert report["text"] == texts.broadcast_report(
        {"total": 2, "sent": 2, "failed": 0, "unreachable": 0}
    )
    [listing] = await zhang.send("/broadcasts")
    assert "已完成：已发送 2/2，失败 0" in listing["text"]
    # Confirming again (a double tap) sends nobody anything twice.
    confirm_data = callback_of(preview.message, "确认发送")
    again = await zhang.press_data(started.message, confirm_data, forge=True)
    assert again.answer is not None
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        rows = (
            await session.exec(select(Outbox).where(col(Outbox.broadcast_id).is_not(None)))
        ).all()
    assert sorted(r.chat_id for r in rows) == [1001, 1002]


async def test_blocked_recipients_are_reported_not_lost(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    zhang = person(3001)
    await zhang.client.add_fault(method="sendMessage", chat_id=1002, error_code=403, count=5)
    await zhang.send("/broadcast")
    [choose] = await zhang.send("停水通知：明天上午停水")
    preview = await zhang.press("悬桥社区 全体居民", choose)
    started = await zhang.press("确认发送", preview.message)
    assert sandbox.sender is not None
    await sandbox.sender.drain(10)
    await track(sandbox)
    report = next(
        m for m in await zhang.messages() if m["message_id"] == started.message["message_id"]
    )
    assert "已发送 1" in report["text"] and "联系不上 1" in report["text"]


async def test_residents_and_volunteers_cannot_broadcast(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    for telegram_id in (1001, 2001):
        somebody = person(telegram_id)
        [reply] = await somebody.send("/broadcast")
        assert reply["text"] == "抱歉，您没有这项操作的权限。"
        [hello] = await somebody.send("/me")
        forged = await somebody.press_data(hello, "bc:ok:1::0", forge=True)
        assert forged.answer is not None and forged.answer["show_alert"]
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        queued = await session.exec(select(Outbox).where(col(Outbox.broadcast_id).is_not(None)))
        assert queued.all() == []


async def test_a_coordinator_can_stop_a_broadcast(sandbox: Sandbox, person: PersonMaker) -> None:
    zhang = person(3001)
    await zhang.send("/broadcast")
    [choose] = await zhang.send("测试取消")
    preview = await zhang.press("悬桥社区 全体居民", choose)
    cancelled = await zhang.press("取消", preview.message)
    assert cancelled.message["text"] == texts.BROADCAST_DISCARDED
    [listing] = await zhang.send("/broadcasts")
    assert "已停止" in listing["text"]
