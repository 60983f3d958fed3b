"""Injected faults (not violations, no effect) and the idle signal."""

from __future__ import annotations

import asyncio
import time

from bot.standin import SandboxClient, StandIn
from bot.standin.faults import FaultInjector
from tests.standin.helpers import RawApi


async def test_429_with_retry_after(
    api: RawApi, sandbox: SandboxClient, standin: StandIn, chat: int
) -> None:
    fault = await sandbox.add_fault("sendMessage", 429, retry_after=7, count=1)
    assert fault["count"] == 1
    status, body = await api.call("sendMessage", {"chat_id": chat, "text": "hi"})
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    # Used up after one call; the faulted call left no message behind.
    assert len(await sandbox.messages(chat)) == 1
    await api.ok("sendMessage", {"chat_id": chat, "text": "hi"})
    assert len(await sandbox.messages(chat)) == 2
    assert await sandbox.violations() == []
    assert standin.errors == []


async def test_403_for_one_chat_with_count(api: RawApi, sandbox: SandboxClient, chat: int) -> None:
    await sandbox.send_text(chat + 1, "你好")
    await sandbox.add_fault("sendMessage", 403, chat_id=chat, count=2)
    for _ in range(2):
        status, body = await api.call("sendMessage", {"chat_id": chat, "text": "hi"})
        assert (status, body["description"]) == (403, "Forbidden: bot was blocked by the user")
        await api.ok("sendMessage", {"chat_id": chat + 1, "text": "hi"})
    await api.ok("sendMessage", {"chat_id": chat, "text": "hi"})
    assert await sandbox.violations() == []


async def test_share_is_deterministic_and_clearable(
    api: RawApi, sandbox: SandboxClient, chat: int
) -> None:
    await sandbox.add_fault("sendChatAction", 500, share=0.5)
    outcomes = []
    for _ in range(40):
        status, _ = await api.call("sendChatAction", {"chat_id": chat, "action": "typing"})
        outcomes.append(status)
    assert set(outcomes) == {200, 500}
    assert 8 <= outcomes.count(500) <= 32
    await sandbox.clear_faults()
    status, _ = await api.call("sendChatAction", {"chat_id": chat, "action": "typing"})
    assert status == 200

    # The same seed gives the same sequence.
    injector = FaultInjector(seed=7)
    injector.add("sendChatAction", 500, share=0.5)
    expected = [injector.take("sendChatAction", chat) is not None for _ in range(40)]
    assert [status == 500 for status in outcomes] == expected


async def test_faults_hit_callback_answers_by_chat(
    api: RawApi, sandbox: SandboxClient, chat: int
) -> None:
    menu = {"inline_keyboard": [[{"text": "好", "callback_data": "ok"}]]}
    sent = await api.ok("sendMessage", {"chat_id": chat, "text": "x", "reply_markup": menu})
    pressed = await sandbox.press(chat, sent["message_id"], "ok")
    await sandbox.add_fault("answerCallbackQuery", 400, chat_id=chat, description="Bad Request: x")
    status, body = await api.call(
        "answerCallbackQuery", {"callback_query_id": pressed["callback_query_id"]}
    )
    assert (status, body["description"]) == (400, "Bad Request: x")
    assert await sandbox.callback_answers(chat) == []


async def test_idle(api: RawApi, sandbox: SandboxClient) -> None:
    assert await sandbox.wait_idle(quiet_ms=50, timeout_s=2)
    await sandbox.send_text(11, "有人吗")
    # Nobody has fetched the update: not idle.
    started = time.monotonic()
    assert await sandbox.wait_idle(quiet_ms=50, timeout_s=0.5) is False
    assert time.monotonic() - started >= 0.45

    async def fake_bot() -> None:
        [update] = await api.ok("getUpdates", {"timeout": 1})
        await asyncio.sleep(0.1)
        await api.ok("sendMessage", {"chat_id": 11, "text": "在"})
        # Asking for the next updates confirms this one: only now is it handled.
        await api.ok("getUpdates", {"offset": update["update_id"] + 1, "timeout": 0})

    started = time.monotonic()
    idle, _ = await asyncio.gather(sandbox.wait_idle(quiet_ms=400, timeout_s=5), fake_bot())
    assert idle is True
    # It waited for the reply, the confirmation and then 400 ms of quiet.
    assert time.monotonic() - started >= 0.5
    assert [m["text"] for m in await sandbox.messages(11)] == ["有人吗", "在"]
