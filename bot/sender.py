"""The paced sender: the one place that delivers outbox rows, within Telegram's limits.

Everything the bot sends other than the direct reply to a user's own update is an outbox row
(services/outbox.py). `PacedSender` runs as one asyncio task: it claims due rows, renders them
(`render(kind, payload)`, handlers/notices.py) and sends them with several requests in flight,
paced by token buckets on the monotonic clock: overall (28/s, burst 2, i.e. at most 30 in any
second), per private chat (0.95/s, burst 3) and per group (at most 20 in any minute), one request
in flight per chat so each chat's messages keep their order.

Errors: 429 pauses all sending for retry_after (+ jitter) and puts the row back at once, not
counted as an attempt; 403 and "chat not found" make the row `unreachable` (two in a row make
the chat unreachable, see services.outbox.is_unreachable); a group's migration moves the row
and the chat's pending rows to the supergroup and retries; 5xx, network errors and timeouts
back off exponentially (base, 2x, 4x, ... capped, with jitter) until `max_attempts`, then
`failed`; any other 400 and an unknown kind are `failed` with the description. A row's failure
never stops the loop.

Resumability and duplicates (Telegram offers no idempotency and no way to ask whether a
message arrived):

* A row is committed `sending` immediately before its request, and only rows that can go out
  at once are claimed (no more than the free request slots and overall tokens allow, none for
  a chat that is busy or out of tokens), so `sending` means "request in flight"; `sent` is
  committed right after Telegram answers.
* A crash leaves the in-flight rows `sending`. At start `recover_interrupted` re-queues them
  with last_error "interrupted": at-least-once. The alternative, marking them failed, would
  lose a notice whose request never left; a reminder read twice is the lesser harm.
* Guarantee: no row is lost, each row is delivered at least once or ends unreachable/failed;
  a row is delivered twice only if the process dies (or its `sent` commit fails) between
  Telegram accepting the request and that commit (at most `concurrency` rows per crash, in
  practice the one or two whose answer was on the wire), and such rows are recognisable by
  last_error "interrupted". A 5xx or a timeout is equally ambiguous (Telegram may have
  delivered before failing) and is retried the same way.
* Exactly one sender may run per database: recovery takes back every `sending` row.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramRetryAfter,
)
from aiogram.types import Message
from sqlalchemy.exc import OperationalError
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.notices import Notice, UnknownNotice
from services import outbox
from services.clock import Clock
from storage.db import SessionFactory
from storage.models import Outbox

__all__ = ["PacedSender", "Render", "SendLimits", "TokenBucket"]

log = logging.getLogger(__name__)

Render = Callable[[str, dict[str, Any]], Notice]
P = ParamSpec("P")
T = TypeVar("T")
_EPSILON = 1e-9
# 400s that mean the chat cannot be written to, like a 403.
_UNREACHABLE_400 = ("chat not found", "peer_id_invalid", "user not found")


@dataclass(frozen=True)
class SendLimits:
    """Pacing and retry policy. The defaults stay inside Telegram's published limits."""

    overall_per_s: float = 28.0
    overall_burst: float = 2.0
    # A little under Telegram's "about one a second" for a private chat.
    private_per_s: float = 0.95
    private_burst: float = 3.0
    group_per_min: float = 20.0
    # Requests in flight at once, so round trips do not cap the rate.
    concurrency: int = 12
    # How often the queue is looked at when nobody calls wake().
    poll_interval_s: float = 0.5
    # 5xx and network errors: base * 2**attempts, capped, plus up to backoff_jitter_s.
    backoff_base_s: float = 1.0
    backoff_max_s: float = 16.0
    backoff_jitter_s: float = 0.5
    max_attempts: int = 6
    # Added to a 429's retry_after.
    retry_after_jitter_s: float = 0.3
    request_timeout_s: int = 30
    # On stop, how long requests in flight may take to finish.
    stop_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.overall_per_s <= 0 or self.private_per_s <= 0 or self.group_per_min <= 0:
            raise ValueError("rates must be positive")
        if self.overall_burst < 1 or self.private_burst < 1:
            raise ValueError("bursts must be at least 1")
        if self.concurrency < 1 or self.max_attempts < 1:
            raise ValueError("concurrency and max_attempts must be at least 1")

    @property
    def group_per_s(self) -> float:
        # With a bucket of one, at most 1 + 60 * rate messages fit in any minute.
        return max(self.group_per_min - 1.0, 0.5) / 60.0


class TokenBucket:
    """`rate` tokens per second up to `capacity`; starts full."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def available(self, now: float) -> float:
        self._refill(now)
        return self.tokens + _EPSILON

    def wait(self, now: float) -> float:
        """Seconds until one token is there (0 if it is)."""
        self._refill(now)
        return max(0.0, (1.0 - self.tokens - _EPSILON) / self.rate)

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0

    def full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity - _EPSILON


class PacedSender:
    def __init__(
        self,
        bot: Bot,
        session_factory: SessionFactory,
        clock: Clock,
        render: Render,
        limits: SendLimits | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.bot = bot
        self.session_factory = session_factory
        self.clock = clock
        self.render = render
        self.limits = limits or SendLimits()
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._overall = TokenBucket(
            self.limits.overall_per_s, self.limits.overall_burst, monotonic()
        )
        self._chats: dict[int, TokenBucket] = {}
        self._busy_chats: set[int] = set()
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._paused_until = 0.0
        self._claiming = False
        self._stopping = False
        self._recovered = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_prune = 0.0
        # What became of the rows this sender handled: sent, retry, throttled, ...
        self.outcomes: Counter[str] = Counter()

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the sending task (it first re-queues rows a crash left `sending`)."""
        if self.running:
            raise RuntimeError("the sender is already running")
        self._stopping = False
        self._recovered = False
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def stop(self) -> None:
        """Stop claiming; let requests in flight finish (up to stop_timeout_s), cancel the rest.

        A cancelled request leaves its row `sending`; the next start re-queues it."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        inflight = list(self._inflight.values())
        if inflight:
            _, pending = await asyncio.wait(inflight, timeout=self.limits.stop_timeout_s)
            for late in pending:
                late.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def wake(self) -> None:
        """Look at the queue now (call after committing rows)."""
        self._wake.set()

    def _idle(self) -> bool:
        return self._recovered and not self._claiming and not self._inflight

    async def drain(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109 (a test helper)
        """Wait until no due row is pending and nothing is in flight; False at the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            self.wake()
            if self._idle():
                async with self.session_factory() as session:
                    due = await outbox.due_pending(session, self.clock)
                if due == 0 and self._idle():
                    return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)

    # ---- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._recovered and not self._stopping:
            try:
                async with self.session_factory() as session:
                    interrupted = await outbox.recover_interrupted(session)
                if interrupted:
                    log.warning("re-queued %d outbox rows interrupted by a crash", interrupted)
                self._recovered = True
            except Exception:
                log.exception("could not recover interrupted outbox rows; retrying")
                await self._sleep(self.limits.poll_interval_s)
        while not self._stopping:
            try:
                delay = await self._step()
            except Exception:
                log.exception("outbox sender step failed")
                delay = self.limits.poll_interval_s
            if delay > 0:
                await self._sleep(delay)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, cut short by wake() or stop()."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _bucket(self, chat_id: int, now: float) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            limits = self.limits
            bucket = (
                TokenBucket(limits.private_per_s, limits.private_burst, now)
                if chat_id > 0
                else TokenBucket(limits.group_per_s, 1.0, now)
            )
            self._chats[chat_id] = bucket
        return bucket

    def _prune(self, now: float) -> None:
        """A full bucket is as good as a new one: forget it."""
        if now - self._last_prune < 5.0:
            return
        self._last_prune = now
        self._chats = {
            chat: bucket
            for chat, bucket in self._chats.items()
            if chat in self._busy_chats or not bucket.full(now)
        }

    async def _step(self) -> float:
        """Claim and launch what may go now; returns how long to wait before the next step."""
        self._wake.clear()
        now = self._monotonic()
        if self._paused_until > now:
            return self._paused_until - now
        free = self.limits.concurrency - len(self._inflight)
        if free <= 0:
            return self.limits.poll_interval_s  # a finishing request wakes the loop
        wait = self._overall.wait(now)
        if wait > 0:
            return wait
        self._prune(now)
        limit = min(free, math.floor(self._overall.available(now)))
        out_of_tokens = {chat for chat, b in self._chats.items() if b.available(now) < 1}
        exclude = self._busy_chats | out_of_tokens
        self._claiming = True
        try:
            async with self.session_factory() as session:
                rows = await outbox.claim_due(
                    session, self.clock, limit, exclude_chats=exclude, one_per_chat=True
                )
            for row in rows:
                self._launch(row, self._monotonic())
        finally:
            self._claiming = False
        if rows:
            return 0.0
        # Nothing to send now: wait for wake(), a chat's next token or the poll interval.
        waits = [self._chats[chat].wait(now) for chat in out_of_tokens - self._busy_chats]
        return min([self.limits.poll_interval_s, *waits])

    def _launch(self, row: Outbox, now: float) -> None:
        assert row.id is not None
        self._overall.take(now)
        self._bucket(row.chat_id, now).take(now)
        self._busy_chats.add(row.chat_id)
        self._inflight[row.id] = asyncio.create_task(
            self._deliver(row), name=f"outbox-row-{row.id}"
        )

    # ---- one row -----------------------------------------------------------------------------

    async def _deliver(self, row: Outbox) -> None:
        assert row.id is not None
        try:
            await self._attempt(row)
        except Exception:
            log.exception("outbox row %s: unexpected failure", row.id)
            with contextlib.suppress(Exception):
                await self._retry_or_fail(row, "internal error")
        finally:
            self._inflight.pop(row.id, None)
            self._busy_chats.discard(row.chat_id)
            self._wake.set()

    async def _attempt(self, row: Outbox) -> None:
        assert row.id is not None
        try:
            notice = self.render(row.kind, json.loads(row.payload))
        except UnknownNotice:
            await self._record("failed", outbox.mark_failed, row.id, "unknown kind")
            log.error("outbox row %s: no renderer for kind %r", row.id, row.kind)
            return
        except Exception as exc:
            await self._record("failed", outbox.mark_failed, row.id, f"render: {exc}")
            log.exception("outbox row %s: rendering %r failed", row.id, row.kind)
            return
        try:
            message = await self._send(row.chat_id, notice)
        except TelegramRetryAfter as exc:
            self._pause(exc.retry_after)
            error = f"429: retry after {exc.retry_after}"
            await self._record("throttled", outbox.mark_throttled, row.id, error)
        except TelegramMigrateToChat as exc:
            new_chat = exc.migrate_to_chat_id
            log.info("chat %s became supergroup %s", row.chat_id, new_chat)
            error = f"migrated to {new_chat}"
            await self._record(
                "migrated", outbox.migrate_chat, row.id, row.chat_id, new_chat, error
            )
        except TelegramForbiddenError as exc:
            log.info("outbox row %s: chat %s unreachable: %s", row.id, row.chat_id, exc.message)
            await self._record("unreachable", outbox.mark_unreachable, row.id, exc.message)
        except TelegramBadRequest as exc:
            if any(marker in exc.message.lower() for marker in _UNREACHABLE_400):
                await self._record("unreachable", outbox.mark_unreachable, row.id, exc.message)
            else:
                log.warning("outbox row %s refused: %s", row.id, exc.message)
                await self._record("failed", outbox.mark_failed, row.id, exc.message)
        except TelegramEntityTooLarge as exc:
            await self._record("failed", outbox.mark_failed, row.id, exc.message)
        except Exception as exc:
            # 5xx, network errors and timeouts (aiogram wraps them as TelegramNetworkError),
            # and anything unforeseen: back off, bounded by max_attempts.
            log.warning("outbox row %s: %s", row.id, _describe(exc))
            await self._retry_or_fail(row, _describe(exc))
        else:
            try:
                await self._record("sent", outbox.mark_sent, row.id, message.message_id, self.clock)
            except Exception:
                # Delivered: never retry it from here. It stays `sending`, and the next start
                # re-queues it as interrupted (a possible duplicate, as after a crash).
                self.outcomes["unrecorded"] += 1
                log.exception(
                    "outbox row %s delivered as message %s but not recorded",
                    row.id,
                    message.message_id,
                )

    async def _send(self, chat_id: int, notice: Notice) -> Message:
        timeout = self.limits.request_timeout_s
        if notice.edit_message_id is not None:
            edited = await self.bot.edit_message_text(
                chat_id=chat_id,
                message_id=notice.edit_message_id,
                text=notice.text,
                reply_markup=notice.reply_markup,
                request_timeout=timeout,
            )
            assert isinstance(edited, Message)  # a chat message, not an inline one
            return edited
        if notice.photo:
            return await self.bot.send_photo(
                chat_id,
                photo=notice.photo,
                caption=notice.text,
                reply_markup=notice.reply_markup,
                request_timeout=timeout,
            )
        return await self.bot.send_message(
            chat_id, text=notice.text, reply_markup=notice.reply_markup, request_timeout=timeout
        )

    def _pause(self, retry_after: float) -> None:
        jitter = self._rng.uniform(0, self.limits.retry_after_jitter_s)
        until = self._monotonic() + retry_after + jitter
        if until > self._paused_until:
            log.warning("flood control: all sending paused for %.1f s", retry_after + jitter)
            self._paused_until = until

    def backoff(self, attempts_before: int) -> float:
        """Seconds to wait after the failure of attempt number attempts_before + 1."""
        limits = self.limits
        delay = min(limits.backoff_max_s, limits.backoff_base_s * 2.0 ** max(attempts_before, 0))
        return delay + self._rng.uniform(0, limits.backoff_jitter_s)

    async def _retry_or_fail(self, row: Outbox, error: str) -> None:
        assert row.id is not None
        if row.attempts + 1 >= self.limits.max_attempts:
            log.error("outbox row %s failed after %d attempts: %s", row.id, row.attempts + 1, error)
            await self._record("failed", outbox.mark_failed, row.id, error)
            return
        delay = self.backoff(row.attempts)
        await self._record("retry", outbox.mark_retry, row.id, self.clock, delay, error)

    async def _record(
        self,
        outcome: str,
        change: Callable[Concatenate[AsyncSession, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Commit a row's new state; a busy database is tried again (a lost `sent` would
        mean a duplicate after the next restart)."""
        for attempt in range(5):
            try:
                async with self.session_factory() as session:
                    result = await change(session, *args, **kwargs)
            except OperationalError:
                if attempt == 4:
                    raise
                log.warning("database busy while recording %s; trying again", outcome)
                await asyncio.sleep(0.2 * (attempt + 1))
            else:
                self.outcomes[outcome] += 1
                return result
        raise AssertionError("unreachable")  # pragma: no cover


def _describe(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
