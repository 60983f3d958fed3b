"""The paced sender against the Bot API stand-in over HTTP: errors, pacing, resumption."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.sandbox import Sandbox
from bot.sender import PacedSender, SendLimits, TokenBucket
from bot.standin.client import SandboxClient
from handlers.notices import render
from services import outbox
from services.clock import ManualClock
from storage.models import Outbox, OutboxStatus

GROUP = -4001
SUPERGROUP = -1004001


def sender_of(box: Sandbox) -> PacedSender:
    assert box.sender is not None and box.session_factory is not None
    return box.sender


async def queue(
    box: Sandbox,
    chat_id: int,
    key: str,
    *,
    kind: str = "text",
    payload: dict[str, Any] | None = None,
    priority: int = 5,
) -> int:
    assert box.session_factory is not None
    async with box.session_factory() as session:
        row = await outbox.enqueue(
            session,
            box.clock,
            chat_id=chat_id,
            kind=kind,
            payload={"text": key} if payload is None else payload,
            key=key,
            priority=priority,
        )
        await session.commit()
    sender_of(box).wake()
    assert row.id is not None
    return row.id


async def stored(box: Sandbox, row_id: int) -> Outbox:
    assert box.session_factory is not None
    async with box.session_factory() as session:
        query = select(Outbox).where(Outbox.id == row_id).execution_options(populate_existing=True)
        return (await session.exec(query)).one()


async def bot_texts(client: SandboxClient, chat_id: int) -> list[str | None]:
    return [
        m["text"] if m["text"] is not None else m["caption"]
        for m in await client.messages(chat_id)
        if m["from"] == "bot"
    ]


async def outcomes(client: SandboxClient, chat_id: int) -> list[str]:
    calls = await client.calls("sendMessage")
    # Parameters are logged as sent: aiogram posts a form, so the id is a string.
    return [c["outcome"] for c in calls if str(c["params"].get("chat_id")) == str(chat_id)]


async def test_a_notice_is_rendered_sent_and_recorded(
    box: Sandbox, client: SandboxClient, clock: ManualClock
) -> None:
    await client.add_user(7001)
    text_id = await queue(box, 7001, "notice", payload={"text": "<b>停水通知</b>：明天 9 点"})
    photo_id = await queue(
        box,
        7001,
        "photo",
        kind="user_text",
        payload={"text": "现场 <照片>", "photo": "https://example.com/site.jpg"},
    )
    assert await sender_of(box).drain(5)
    messages = [m for m in await client.messages(7001) if m["from"] == "bot"]
    assert [m["text"] for m in messages] == ["停水通知：明天 9 点", None]
    assert messages[0]["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    assert messages[1]["has_photo"] and messages[1]["caption"] == "现场 <照片>"
    row = await stored(box, text_id)
    assert (row.status, row.attempts, row.sent_at) == (OutboxStatus.sent, 1, clock.now())
    assert row.message_id == messages[0]["message_id"]
    assert (await stored(box, photo_id)).message_id == messages[1]["message_id"]


async def test_flood_control_pauses_all_sending_and_delivers_once(
    box: Sandbox, client: SandboxClient
) -> None:
    await client.add_user(7101)
    await client.add_user(7102)
    await client.add_fault("sendMessage", 429, chat_id=7101, retry_after=1, count=1)
    started = time.monotonic()
    first = await queue(box, 7101, "first")
    while "fault 429" not in await outcomes(client, 7101):
        assert time.monotonic() - started < 5, "the row was never tried"
        await asyncio.sleep(0.02)
    second = await queue(box, 7102, "second")
    await asyncio.sleep(0.5)
    assert await bot_texts(client, 7102) == [], "Telegram's 429 pauses every chat"
    assert await sender_of(box).drain(5)
    assert time.monotonic() - started >= 1.0, "retried only after retry_after"
    assert await bot_texts(client, 7101) == ["first"], "delivered exactly once"
    assert await bot_texts(client, 7102) == ["second"]
    assert await outcomes(client, 7101) == ["fault 429", "ok"]
    row = await stored(box, first)
    assert (row.status, row.attempts) == (OutboxStatus.sent, 1), "a 429 is not an attempt"
    assert row.last_error.startswith("429")
    assert (await stored(box, second)).status is OutboxStatus.sent


async def test_two_403_in_a_row_make_the_chat_unreachable(
    box: Sandbox, client: SandboxClient
) -> None:
    await client.add_user(7201)
    await client.add_fault("sendMessage", 403, chat_id=7201, count=1)
    once = await queue(box, 7201, "one")
    assert await sender_of(box).drain(5)
    assert (await stored(box, once)).status is OutboxStatus.unreachable
    assert box.session_factory is not None
    async with box.session_factory() as session:
        assert not await outbox.is_unreachable(session, 7201), "one 403 is not enough"

    await client.add_fault("sendMessage", 403, chat_id=7201, count=1)
    twice = await queue(box, 7201, "two")
    assert await sender_of(box).drain(5)
    row = await stored(box, twice)
    assert row.status is OutboxStatus.unreachable and "blocked" in row.last_error
    async with box.session_factory() as session:
        assert await outbox.is_unreachable(session, 7201)
    assert await bot_texts(client, 7201) == []

    # Unblocked: the next notice goes through and the chat counts as reachable again.
    back = await queue(box, 7201, "three")
    assert await sender_of(box).drain(5)
    assert (await stored(box, back)).status is OutboxStatus.sent
    async with box.session_factory() as session:
        assert not await outbox.is_unreachable(session, 7201)


async def test_users_who_never_started_the_bot_and_unknown_chats_are_unreachable(
    box: Sandbox, client: SandboxClient
) -> None:
    stranger = await queue(box, 7301, "stranger")
    nowhere = await queue(box, -999, "no such group")
    assert await sender_of(box).drain(5)
    row = await stored(box, stranger)
    assert row.status is OutboxStatus.unreachable and "can't initiate" in row.last_error
    row = await stored(box, nowhere)
    assert row.status is OutboxStatus.unreachable and "chat not found" in row.last_error


async def test_server_errors_back_off_exponentially_then_deliver(
    box: Sandbox, client: SandboxClient, clock: ManualClock
) -> None:
    await client.add_user(7401)
    await client.add_fault("sendMessage", 500, chat_id=7401, count=3)
    row_id = await queue(box, 7401, "after three 500s")
    waits = []
    for attempt in (1, 2, 3):
        assert await sender_of(box).drain(5), "a row waiting for its retry is not due"
        row = await stored(box, row_id)
        assert (row.status, row.attempts) == (OutboxStatus.pending, attempt)
        assert "Internal Server Error" in row.last_error
        waits.append(row.next_try_at - clock.now())
        assert await bot_texts(client, 7401) == []
        clock.advance(waits[-1] - timedelta(milliseconds=1))
        assert await sender_of(box).drain(5)
        assert (await stored(box, row_id)).attempts == attempt, "not before the backoff"
        clock.advance(timedelta(milliseconds=1))
    assert waits == [timedelta(seconds=s) for s in (1, 2, 4)]
    assert await sender_of(box).drain(5)
    row = await stored(box, row_id)
    assert (row.status, row.attempts) == (OutboxStatus.sent, 4)
    assert await bot_texts(client, 7401) == ["after three 500s"]


async def test_retries_are_bounded(box: Sandbox, client: SandboxClient, clock: ManualClock) -> None:
    await client.add_user(7501)
    await client.add_fault("sendMessage", 500, chat_id=7501, count=10)
    row_id = await queue(box, 7501, "never")
    for _ in range(10):
        assert await sender_of(box).drain(5)
        clock.advance(timedelta(seconds=16))
    row = await stored(box, row_id)
    assert (row.status, row.attempts) == (OutboxStatus.failed, sender_of(box).limits.max_attempts)
    assert len(await outcomes(client, 7501)) == 6


async def test_refused_requests_and_unknown_kinds_fail_without_retry(
    box: Sandbox, client: SandboxClient
) -> None:
    await client.add_user(7601)
    await client.add_fault(
        "sendMessage", 400, chat_id=7601, description="Bad Request: message is too long"
    )
    refused = await queue(box, 7601, "refused")
    unknown = await queue(box, 7601, "unknown", kind="no-such-kind", payload={})
    assert await sender_of(box).drain(5)
    row = await stored(box, refused)
    assert (row.status, row.last_error) == (OutboxStatus.failed, "Bad Request: message is too long")
    row = await stored(box, unknown)
    assert (row.status, row.last_error) == (OutboxStatus.failed, "unknown kind")
    assert await outcomes(client, 7601) == ["fault 400"]


async def test_a_migrated_group_gets_its_messages_in_the_supergroup(
    box: Sandbox, client: SandboxClient
) -> None:
    await client.add_group(SUPERGROUP, "悬桥社区志愿者群")
    fault = await client.add_fault("sendMessage", 400, chat_id=GROUP, migrate_to_chat_id=SUPERGROUP)
    assert fault["description"] == "Bad Request: group chat was upgraded to a supergroup chat"
    first = await queue(box, GROUP, "群通知一")
    second = await queue(box, GROUP, "群通知二")
    assert await sender_of(box).drain(8)
    assert await bot_texts(client, SUPERGROUP) == ["群通知一", "群通知二"]
    assert await outcomes(client, GROUP) == ["fault 400"], "the old id is tried only once"
    for row_id in (first, second):
        row = await stored(box, row_id)
        assert (row.chat_id, row.status, row.attempts) == (SUPERGROUP, OutboxStatus.sent, 1)


async def test_rows_interrupted_by_a_crash_are_delivered_once_after_restart(
    box: Sandbox, client: SandboxClient
) -> None:
    sender = sender_of(box)
    assert box.session_factory is not None
    await sender.stop()
    chats = [7701, 7702, 7703]
    for chat in chats:
        await client.add_user(chat)
        await queue(box, chat, f"to {chat}")
    async with box.session_factory() as session:
        # What a sender killed mid-request leaves behind.
        claimed = await outbox.claim_due(session, box.clock, 10)
        assert len(claimed) == 3
    sender.start()
    assert await sender.drain(5)
    for chat in chats:
        assert await bot_texts(client, chat) == [f"to {chat}"]
    async with box.session_factory() as session:
        rows = list(await session.exec(select(Outbox).order_by(col(Outbox.id))))
    assert [(r.status, r.last_error, r.attempts) for r in rows] == [
        (OutboxStatus.sent, outbox.INTERRUPTED, 2)
    ] * 3


async def test_sends_stay_within_telegrams_limits(box: Sandbox, client: SandboxClient) -> None:
    await client.set_limits(overall_per_s=30, per_chat_per_s=1, burst=3, group_per_min=20)
    await client.add_user(7800)
    for chat in range(7801, 7861):
        await client.add_user(chat)
    started = time.monotonic()
    for n in range(6):
        await queue(box, 7800, f"第{n + 1}条")
    for chat in range(7801, 7861):
        await queue(box, chat, f"to {chat}")
    assert await sender_of(box).drain(15)
    elapsed = time.monotonic() - started
    stats = await client.stats()
    assert stats["429"] == 0
    assert sum(stats["delivered"].values()) == 66
    assert await bot_texts(client, 7800) == [f"第{n + 1}条" for n in range(6)], "in order"
    # Three at once, then about one a second; 66 messages at under 30 a second.
    assert elapsed >= 3.0
    assert elapsed >= 66 / 30


async def test_a_direct_reply_is_not_delayed_by_a_long_queue(
    box: Sandbox, client: SandboxClient
) -> None:
    assert box.standin is not None and box.session_factory is not None
    for chat in range(8001, 8301):
        box.standin.state.ensure_user(chat)
        await queue(box, chat, f"broadcast {chat}", priority=9)
    deadline = time.monotonic() + 5
    while sum((await client.stats())["delivered"].values()) < 20:
        assert time.monotonic() < deadline, "the queue is not moving"
        await asyncio.sleep(0.05)
    sent = await client.send_text(3001, "/help")  # 张书记, a coordinator of the demo district
    started = time.monotonic()
    while True:
        replies = [
            m
            for m in await client.messages(3001)
            if m["from"] == "bot" and m["message_id"] > sent["message_id"]
        ]
        if replies:
            break
        assert time.monotonic() - started < 1.0, "the answer waited behind the queue"
        await asyncio.sleep(0.01)
    assert replies[0]["text"], "the list of commands"
    async with box.session_factory() as session:
        assert (await outbox.counts(session))["pending"] > 100, "the queue was still long"


async def test_a_delivery_that_cannot_be_recorded_is_not_sent_again_until_restart(
    box: Sandbox, client: SandboxClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = sender_of(box)
    await client.add_user(8401)

    async def database_down(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(outbox, "mark_sent", database_down)
        row_id = await queue(box, 8401, "只发一次")
        assert await sender.drain(5)
        assert (await stored(box, row_id)).status is OutboxStatus.sending
        assert sender.outcomes["unrecorded"] == 1
        await asyncio.sleep(0.3)
        assert await bot_texts(client, 8401) == ["只发一次"], "not retried by the running sender"
    # Like a crash: the next start re-queues it, and at-least-once sends it again.
    await sender.stop()
    sender.start()
    assert await sender.drain(5)
    row = await stored(box, row_id)
    assert (row.status, row.last_error) == (OutboxStatus.sent, outbox.INTERRUPTED)
    assert await bot_texts(client, 8401) == ["只发一次", "只发一次"]


async def test_handlers_find_the_sender_by_name(box: Sandbox) -> None:
    assert box.dispatcher is not None
    assert box.dispatcher["sender"] is box.sender
    assert sender_of(box).running


def test_token_buckets_and_backoff() -> None:
    bucket = TokenBucket(rate=2.0, capacity=3.0, now=10.0)
    for _ in range(3):
        assert bucket.wait(10.0) == 0
        bucket.take(10.0)
    assert bucket.wait(10.0) == pytest.approx(0.5)
    assert bucket.available(10.25) == pytest.approx(0.5)
    assert not bucket.full(11.0) and bucket.full(11.5)
    assert bucket.available(100.0) == pytest.approx(3.0), "never above capacity"

    limits = SendLimits(backoff_base_s=1.0, backoff_max_s=16.0, backoff_jitter_s=0.0)
    sender = PacedSender(None, None, ManualClock(), render, limits)  # type: ignore[arg-type]
    assert [sender.backoff(n) for n in range(7)] == [1, 2, 4, 8, 16, 16, 16]
    jittery = PacedSender(None, None, ManualClock(), render, SendLimits())  # type: ignore[arg-type]
    assert all(1.0 <= jittery.backoff(0) <= 1.5 for _ in range(50))
    assert SendLimits().group_per_s * 60 + 1 <= 20, "at most 20 in any minute per group"
    with pytest.raises(ValueError):
        SendLimits(concurrency=0)
