"""The whole bot on one machine without Telegram: the Bot API stand-in plus the real bot
(same factory as production) long-polling it over HTTP. Used by `haitang sandbox` and the tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

from aiogram import Bot, Dispatcher
from aiogram.types import BotCommand
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from bot.factory import build_dispatcher, make_bot
from bot.standin import StandIn
from config.settings import Settings
from handlers import texts
from services.clock import Clock, SystemClock
from storage.db import SessionFactory, make_engine, make_session_factory
from storage.models import ProcessedUpdate

log = logging.getLogger(__name__)

# A well-formed token that Telegram never issued; only the stand-in accepts it.
SANDBOX_TOKEN = "1234567890:SANDBOX-haitang-local-token-000000000"


class Sandbox:
    def __init__(
        self,
        *,
        database_url: str,
        clock: Clock | None = None,
        port: int = 0,
        settings: Settings | None = None,
        polling_timeout: int = 10,
    ) -> None:
        self.database_url = database_url
        self.clock = clock or SystemClock()
        self.requested_port = port
        self.settings = (settings or Settings()).model_copy(
            update={"database_url": database_url, "bot_username": "HaitangBot"}
        )
        self.polling_timeout = polling_timeout
        self.standin: StandIn | None = None
        self.engine: AsyncEngine | None = None
        self.session_factory: SessionFactory | None = None
        self.bot: Bot | None = None
        self.dispatcher: Dispatcher | None = None
        self.port = 0
        self._polling: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _next_update_id(self, session_factory: SessionFactory) -> int:
        # A new stand-in starts a new update sequence: begin past every update the
        # database has already processed, or the idempotency check would swallow them.
        async with session_factory() as session:
            highest = (await session.exec(select(func.max(ProcessedUpdate.update_id)))).one()
        return int(highest or 0) + 1

    async def start(self) -> None:
        self.engine = make_engine(self.database_url)
        self.session_factory = make_session_factory(self.engine)
        self.standin = StandIn(
            SANDBOX_TOKEN,
            bot_username=self.settings.bot_username,
            first_update_id=await self._next_update_id(self.session_factory),
        )
        self.port = await self.standin.start("127.0.0.1", self.requested_port)
        self.bot = make_bot(SANDBOX_TOKEN, self.base_url)
        self.dispatcher = build_dispatcher(
            settings=self.settings, session_factory=self.session_factory, clock=self.clock
        )
        await set_default_menu(self.bot)
        self._polling = asyncio.create_task(
            self.dispatcher.start_polling(
                self.bot, handle_signals=False, polling_timeout=self.polling_timeout
            )
        )

    async def stop(self) -> None:
        if self.dispatcher is not None and self._polling is not None:
            with contextlib.suppress(RuntimeError):
                await self.dispatcher.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
        if self.bot is not None:
            await self.bot.session.close()
        if self.standin is not None:
            await self.standin.stop()
        if self.engine is not None:
            await self.engine.dispose()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def set_default_menu(bot: Bot) -> None:
    """The menu of anyone not yet registered; each user's own is set when they join."""
    await bot.set_my_commands(
        [BotCommand(command=c, description=d) for c, d in texts.GUEST_COMMANDS]
    )
