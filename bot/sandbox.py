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
from sqlmodel import col, select

from bot.factory import build_dispatcher, make_bot
from bot.scheduler import FollowUpScheduler, build_scheduler, rules_from
from bot.sender import PacedSender, SendLimits
from bot.standin import StandIn
from bot.web import mount_chat_page, persona_loader
from config.settings import Settings
from handlers import texts
from handlers.notices import render
from nlp.classifier import Classifier, load_classifier
from services.clock import Clock, SystemClock
from storage.db import SessionFactory, make_engine, make_session_factory
from storage.models import ProcessedUpdate, User

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
        classifier: Classifier | None = None,
        chat_page: bool = False,
        send_limits: SendLimits | None = None,
        sweep_interval_s: float | None = None,
    ) -> None:
        self.database_url = database_url
        self.clock = clock or SystemClock()
        self.requested_port = port
        self.settings = (settings or Settings()).model_copy(
            update={"database_url": database_url, "bot_username": "HaitangBot"}
        )
        # Built once from the settings: handlers get them by name, the scheduler sweeps with
        # them, and tests that sweep themselves pass them to services.followups.sweep.
        self.followup_rules = rules_from(self.settings.tz, self.settings.quiet_hours)
        self.polling_timeout = polling_timeout
        self.classifier = classifier
        self.chat_page = chat_page  # serve the chat page (bot.web) at / on the stand-in
        self.standin: StandIn | None = None
        self.engine: AsyncEngine | None = None
        self.session_factory: SessionFactory | None = None
        self.bot: Bot | None = None
        self.dispatcher: Dispatcher | None = None
        self.send_limits = send_limits
        # Delivers the outbox (notices to others); handlers get it by name as `sender`.
        self.sender: PacedSender | None = None
        # Sweeps due follow-ups every `sweep_interval_s` (`haitang sandbox`: every second);
        # None: no scheduler, tests call services.followups.sweep themselves (with
        # `followup_rules`).
        self.sweep_interval_s = sweep_interval_s
        self.scheduler: FollowUpScheduler | None = None
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

    @staticmethod
    async def _introduce_registered_users(
        standin: StandIn, session_factory: SessionFactory
    ) -> None:
        """Everyone who has agreed to the notice has talked to the bot before: Telegram lets
        the bot write to them (it refuses users who never started the bot)."""
        async with session_factory() as session:
            users = await session.exec(select(User).where(col(User.consent_at).is_not(None)))
            for user in users:
                standin.state.ensure_user(user.telegram_id, user.display_name)

    async def start(self) -> None:
        self.engine = make_engine(self.database_url)
        self.session_factory = make_session_factory(self.engine)
        self.standin = StandIn(
            SANDBOX_TOKEN,
            bot_username=self.settings.bot_username,
            first_update_id=await self._next_update_id(self.session_factory),
            clock=self.clock,
        )
        if self.chat_page:  # before start: a running aiohttp app takes no new routes
            mount_chat_page(
                self.standin.app,
                persona_loader(self.session_factory),
                bot_username=self.settings.bot_username,
            )
        await self._introduce_registered_users(self.standin, self.session_factory)
        self.port = await self.standin.start("127.0.0.1", self.requested_port)
        self.bot = make_bot(SANDBOX_TOKEN, self.base_url)
        self.dispatcher = build_dispatcher(
            settings=self.settings,
            session_factory=self.session_factory,
            clock=self.clock,
            classifier=self.classifier or load_classifier(),
            followup_rules=self.followup_rules,
        )
        self.sender = PacedSender(
            self.bot, self.session_factory, self.clock, render, self.send_limits
        )
        self.dispatcher["sender"] = self.sender
        await set_default_menu(self.bot)
        self.sender.start()
        if self.sweep_interval_s is not None:
            self.scheduler = build_scheduler(
                self.session_factory,
                self.clock,
                tz=self.settings.tz,
                rules=self.followup_rules,
                interval_s=self.sweep_interval_s,
                sender=self.sender,
                sweep_delay_ms=self.settings.sweep_delay_ms,
            )
            self.scheduler.start()
        self._polling = asyncio.create_task(
            # One update at a time, in order: the stand-in's idle then means handled.
            self.dispatcher.start_polling(
                self.bot,
                handle_signals=False,
                polling_timeout=self.polling_timeout,
                handle_as_tasks=False,
            )
        )

    async def stop(self) -> None:
        if self.dispatcher is not None and self._polling is not None:
            with contextlib.suppress(RuntimeError):
                await self.dispatcher.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.sender is not None:
            await self.sender.stop()
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
