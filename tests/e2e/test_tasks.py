"""Issue 5: tasks, through real long polling against the stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlmodel import col, select

from bot.sandbox import Sandbox
from bot.standin.client import SandboxClient
from handlers import texts
from services.clock import ManualClock
from services.errors import Refusal
from services.users import add_user
from storage.models import Role, Task, TaskEvent, TaskStatus, User
from tests.e2e.people import Message, Person, buttons, callback_of

PersonMaker = Callable[..., Person]


async def create_task(coordinator: Person, text: str, due: str | None, target: str) -> Message:
    """/task → the text → the due time (None: 不设期限) → the target; returns the result."""
    [ask_text] = await coordinator.send("/task")
    assert ask_text["text"] == texts.TASK_ASK_TEXT
    [ask_due] = await coordinator.send(text)
    assert ask_due["text"] == texts.TASK_ASK_DUE and buttons(ask_due) == ["不设期限"]
    if due is None:
        ask_target = (await coordinator.press("不设期限", ask_due)).new[-1]
    else:
        [ask_target] = await coordinator.send(due)
    assert ask_target["text"] == texts.TASK_ASK_TARGET
    label = next(b for b in buttons(ask_target) if b.startswith(target))
    made = await coordinator.press(label, ask_target)
    assert "已发出" in made.message["text"] and not buttons(made.message)
    return made.message


async def the_task(sandbox: Sandbox) -> tuple[Task, list[TaskEvent]]:
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        task = (await session.exec(select(Task).order_by(col(Task.id).desc()))).first()
        assert task is not None
        events = list(
            await session.exec(
                select(TaskEvent).where(TaskEvent.task_id == task.id).order_by(col(TaskEvent.id))
            )
        )
    return task, events


async def user_id(sandbox: Sandbox, telegram_id: int) -> int:
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        user = (await session.exec(select(User).where(User.telegram_id == telegram_id))).one()
    assert user.id is not None
    return user.id


async def test_a_grid_task_raced_by_two_volunteers_has_one_winner(
    sandbox: Sandbox, client: SandboxClient, person: PersonMaker, clock: ManualClock
) -> None:
    # 小陈 joins 小李 in grid 1 of 悬桥社区.
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        await add_user(
            session,
            clock,
            role=Role.volunteer,
            telegram_id=2004,
            display_name="小陈",
            community_name="悬桥社区",
            grid_number=1,
        )
        await session.commit()
    await client.add_user(2004, "小陈")
    zhang, li, chen = person(3001, "张书记"), person(2001, "小李"), person(2004, "小陈")

    created = await create_task(zhang, "给悬桥巷的独居老人送米", "明天上午10点", "第1网格")
    assert "截止：11月25日 10:00" in created["text"]
    assert "派给：第1网格的志愿者，先接单的人负责" in created["text"]
    offers = {2001: await li.last(), 2004: await chen.last()}
    for offer in offers.values():
        assert "新任务" in offer["text"] and "给悬桥巷的独居老人送米" in offer["text"]
        assert buttons(offer) == ["接单", "无法处理"]

    pressed = await asyncio.gather(
        *(
            client.press(uid, offer["message_id"], callback_of(offer, "接单"))
            for uid, offer in offers.items()
        )
    )
    assert await client.wait_idle(quiet_ms=300, timeout_s=15)
    answers = {}
    for uid, press in zip(offers, pressed, strict=True):
        answers[uid] = next(
            a
            for a in await client.callback_answers(uid)
            if a["callback_query_id"] == press["callback_query_id"]
        )
    winners = [uid for uid, a in answers.items() if a["text"] == "接单 ✓"]
    assert len(winners) == 1, answers
    [winner] = winners
    loser = 2004 if winner == 2001 else 2001
    winner_name = {2001: "小李", 2004: "小陈"}[winner]
    assert answers[loser]["show_alert"]
    assert answers[loser]["text"] == texts.task_refusal(
        Refusal.task_taken, {"task_id": (await the_task(sandbox))[0].id, "name": winner_name}
    )

    task, events = await the_task(sandbox)
    assert task.status == TaskStatus.taken and task.assignee_id == await user_id(sandbox, winner)
    assert [e.action for e in events] == ["create", "take"]
    # The winner may finish or give it back; the loser's buttons are gone and a notice says why.
    winner_offer = next(
        m for m in await client.messages(winner) if m["message_id"] == offers[winner]["message_id"]
    )
    assert buttons(winner_offer) == ["完成", "无法处理"]
    loser_messages = await person(loser).bot_messages()
    loser_offer = next(m for m in loser_messages if m["message_id"] == offers[loser]["message_id"])
    assert buttons(loser_offer) == []
    assert f"已由 {winner_name} 接单，您不用再处理了" in loser_messages[-1]["text"]
    assert f"{winner_name} 接了任务" in (await zhang.last())["text"]


async def test_done_returned_done_again_and_confirmed(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    zhang, li = person(3001, "张书记"), person(2001, "小李")
    created = await create_task(zhang, "给王阿姨送一袋米", None, "小李")
    assert "截止：不限" in created["text"] and "派给：小李" in created["text"]
    offer = await li.last()
    assert "截止：不限" in offer["text"] and "派给：您" in offer["text"]

    taken = await li.press("接单", offer)
    assert buttons(taken.message) == ["完成", "无法处理"]
    assert taken.new[-1]["text"].startswith("已接单：任务 #")
    assert "小李 接了任务" in (await zhang.last())["text"]
    asked = await li.press("完成", taken.message)
    assert asked.new[-1]["text"] == texts.TASK_ASK_RESULT
    [done] = await li.send("米放在门口了")
    assert "正在等社区确认" in done["text"]

    review = await zhang.last()
    assert "完成情况：米放在门口了" in review["text"] and buttons(review) == ["确认", "退回"]
    give_back = await zhang.press("退回", review)
    assert give_back.new[-1]["text"] == texts.TASK_ASK_RETURN
    [returned] = await zhang.send("请当面交给老人")
    assert "已退回给 小李" in returned["text"]
    back = await li.last()
    assert "被退回" in back["text"] and "请当面交给老人" in back["text"]
    assert buttons(back) == ["完成"]

    await li.press("完成", back)
    await li.client.send_photo(2001, caption="已当面交给王阿姨")
    assert await li.client.wait_idle(quiet_ms=150, timeout_s=10)
    assert "正在等社区确认" in (await li.last())["text"]
    review = await zhang.last()
    assert review["has_photo"] and "已当面交给王阿姨" in (review["caption"] or "")
    confirmed = await zhang.press("确认", review)
    assert confirmed.new[-1]["text"].startswith("已确认：任务 #")
    assert not buttons(confirmed.message)
    assert "社区已确认完成" in (await li.last())["text"]
    # The old 确认 again: nothing changes.
    stale = await zhang.press_data(review, callback_of(review, "确认"), forge=True)
    assert stale.answer is not None and stale.answer["show_alert"]
    assert "已确认" in stale.answer["text"]

    task, events = await the_task(sandbox)
    assert task.status == TaskStatus.confirmed and task.result_photo_file_id
    assert [e.action for e in events] == [
        "create",
        "take",
        "complete",
        "return",
        "complete",
        "confirm",
    ]


async def test_declined_with_a_reason(sandbox: Sandbox, person: PersonMaker) -> None:
    zhang, li = person(3001, "张书记"), person(2001, "小李")
    await create_task(zhang, "上门给李伯伯量血压", "周六下午2点", "小李")
    offer = await li.last()
    assert "截止：11月28日 14:00" in offer["text"]
    asked = await li.press("无法处理", offer)
    assert asked.new[-1]["text"] == texts.TASK_ASK_DECLINE
    [answer] = await li.send("我不会量血压")
    assert "您无法处理" in answer["text"]
    told = await zhang.last()
    assert "小李 无法处理任务" in told["text"] and "我不会量血压" in told["text"]
    opened = await zhang.press("查看任务", told)
    [card] = opened.new
    assert "已取消" in card["text"] and "无法处理：我不会量血压" in card["text"]
    task, _ = await the_task(sandbox)
    assert task.status == TaskStatus.cancelled


async def test_due_times_lists_and_who_may(sandbox: Sandbox, person: PersonMaker) -> None:
    zhang, li, zhou, wang = person(3001), person(2001), person(2002), person(1001)
    await zhang.send("/task")
    await zhang.send("组织志愿者打扫楼道")
    [bad] = await zhang.send("过几天")
    assert bad["text"] == texts.REFUSALS[Refusal.time_not_understood]
    [past] = await zhang.send("今天上午9点")
    assert past["text"] == texts.REFUSALS[Refusal.time_in_past]
    # A command in the middle leaves the flow.
    [board] = await zhang.send("/taskboard")
    assert board["text"] == texts.NO_BOARD_TASKS

    await create_task(zhang, "组织志愿者打扫楼道", "11月28日", "第1网格")
    task, _ = await the_task(sandbox)
    [mine] = await li.send("/tasks")
    assert mine["text"] == texts.MY_TASKS_HEADER
    assert buttons(mine) == [f"📋 #{task.id} 组织志愿者打扫楼道 · 待接单"]
    opened = await li.press(buttons(mine)[0], mine)
    [card] = opened.new
    assert "截止：11月28日 18:00" in card["text"] and buttons(card) == ["接单", "无法处理"]
    [none] = await zhou.send("/tasks")
    assert none["text"] == texts.NO_TASKS
    [board] = await zhang.send("/taskboard")
    assert board["text"] == texts.TASKBOARD_HEADER and len(buttons(board)) == 1

    # Another grid's volunteer forges 接单; residents and volunteers do not give tasks.
    [hello] = await zhou.send("/me")
    forged = await zhou.press_data(hello, f"ta:take:{task.id}", forge=True)
    assert forged.answer is not None and forged.answer["show_alert"]
    assert forged.answer["text"] == texts.REFUSALS[Refusal.task_unknown]
    for outsider in (wang, li):
        [refused] = await outsider.send("/task")
        assert refused["text"] == texts.REFUSALS[Refusal.not_allowed]
    [refused] = await wang.send("/tasks")
    assert refused["text"] == texts.REFUSALS[Refusal.not_allowed]
    task, events = await the_task(sandbox)
    assert task.status == TaskStatus.open and [e.action for e in events] == ["create"]


async def test_a_dispatched_ticket_arrives_as_a_task(sandbox: Sandbox, person: PersonMaker) -> None:
    """The ticket's 接单 / 已处理 act on its task; the volunteer sees it under /tasks."""
    wang, zhang, li = person(1001), person(3001), person(2001)
    await wang.send("楼道里的灯坏了一个星期了")
    [inbox] = await zhang.send("/inbox")
    card = (await zhang.press(buttons(inbox)[0], inbox)).new[-1]
    choose = await zhang.press("派单", card)
    await zhang.press(buttons(choose.message)[0], choose.message)
    offer = await li.last()
    task, _ = await the_task(sandbox)
    assert task.ticket_id is not None and callback_of(offer, "接单") == f"ta:take:{task.id}"
    [mine] = await li.send("/tasks")
    assert buttons(mine) == [f"📋 #{task.id} 楼道里的灯坏了一个星期了 · 待接单"]
    taken = await li.press("接单", offer)
    assert buttons(taken.message) == ["已处理"]
    await li.press("已处理", taken.message)
    [done] = await li.send("换了灯泡")
    assert "等居民确认" in done["text"]
    task, events = await the_task(sandbox)
    assert task.status == TaskStatus.done and task.result_note == "换了灯泡"
    assert [e.action for e in events] == ["create", "take", "complete"]
