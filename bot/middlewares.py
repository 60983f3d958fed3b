"""Outer middlewares on every update: flood limit → unit of work → current user.

The unit of work gives each update one DB session, skips updates already processed (Telegram
may deliver an update twice after a crash), commits, and only then sends the handler's replies.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import AnswerCallbackQuery, SendMessage, TelegramMethod
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TelegramUser
from sqlalchemy.exc import IntegrityError

from handlers import texts
from services.clock import Clock
from services.users import get_user
from storage.db import SessionFactory
from storage.fsm import update_session
from storage.models import ProcessedUpdate

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def _replies(result: Any) -> list[TelegramMethod[Any]]:
    if isinstance(result, TelegramMethod):
        return [result]
    if isinstance(result, list | tuple):
        return [r for r in result if isinstance(r, TelegramMethod)]
    return []


def _apology(update: Update) -> list[TelegramMethod[Any]]:
    """A polite answer when handling failed; the details go to the log only."""
    replies: list[TelegramMethod[Any]] = []
    if update.callback_query is not None:
        replies.append(
            AnswerCallbackQuery(
                callback_query_id=update.callback_query.id,
                text=texts.SOMETHING_WRONG,
                show_alert=True,
            )
        )
    elif update.message is not None:
        replies.append(SendMessage(chat_id=update.message.chat.id, text=texts.SOMETHING_WRONG))
    return replies


async def send_replies(bot: Bot, replies: list[TelegramMethod[Any]]) -> None:
    for method in replies:
        try:
            await bot(method)
        except TelegramAPIError:
            log.exception("reply %s failed", type(method).__name__)


class UnitOfWorkMiddleware(BaseMiddleware):
    def __init__(self, session_factory: SessionFactory, clock: Clock) -> None:
        self.session_factory = session_factory
        self.clock = clock

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        bot: Bot = data["bot"]
        async with self.session_factory() as session:
            if await session.get(ProcessedUpdate, event.update_id) is not None:
                log.info("update %s already processed; skipped", event.update_id)
                return None
            session.add(ProcessedUpdate(update_id=event.update_id, processed_at=self.clock.now()))
            data["session"] = session
            shared = update_session.set(session)
            try:
                result = await handler(event, data)
                await session.commit()
            except IntegrityError:
                # The same update handled concurrently: the first one wins, this one changes nothing.
                await session.rollback()
                if await session.get(ProcessedUpdate, event.update_id) is not None:
                    return None
                log.exception("update %s failed", event.update_id)
                await send_replies(bot, _apology(event))
                return None
            except Exception:
                await session.rollback()
                log.exception("update %s failed", event.update_id)
                await send_replies(bot, _apology(event))
                return None
            finally:
                update_session.reset(shared)
        await send_replies(bot, _replies(result))
        sender = data.get("sender")
        if sender is not None:
            sender.wake()  # the update may have queued notices for others
        return None


class CurrentUserMiddleware(BaseMiddleware):
    """Puts the sender's `user` row (or None) into the handler's data."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        sender: TelegramUser | None = data.get("event_from_user")
        data["user"] = await get_user(data["session"], sender.id) if sender else None
        return await handler(event, data)


class FloodLimitMiddleware(BaseMiddleware):
    """At most `limit` updates per user in `window`; the excess is answered once and dropped."""

    def __init__(
        self, clock: Clock, limit: int = 20, window: timedelta = timedelta(seconds=10)
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window
        self._seen: defaultdict[int, deque[Any]] = defaultdict(deque)
        self._warned: set[int] = set()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        sender: TelegramUser | None = data.get("event_from_user")
        if sender is None:
            return await handler(event, data)
        now = self.clock.now()
        seen = self._seen[sender.id]
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            if sender.id not in self._warned:
                self._warned.add(sender.id)
                chat = data.get("event_chat")
                if chat is not None:
                    await send_replies(
                        data["bot"], [SendMessage(chat_id=chat.id, text=texts.TOO_FAST)]
                    )
            return None
        self._warned.discard(sender.id)
        seen.append(now)
        return await handler(event, data)
