"""Runners: long polling against Telegram, and the local sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from pathlib import Path

from bot.database import prepare_database, sqlite_url
from bot.factory import build_dispatcher, make_bot
from bot.sandbox import Sandbox, set_default_menu
from bot.scheduler import SANDBOX_INTERVAL_S, build_scheduler, rules_from
from bot.sender import PacedSender
from config.settings import Settings
from handlers.notices import render
from nlp.classifier import load_classifier
from services.clock import Clock, ScaledClock, SystemClock
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade_async


async def run_polling(settings: Settings) -> None:
    assert settings.bot_token is not None
    await upgrade_async(settings.database_url)
    engine = make_engine(settings.database_url)
    bot = make_bot(settings.bot_token.get_secret_value(), settings.api_base_url)
    session_factory = make_session_factory(engine)
    clock = SystemClock()
    followup_rules = rules_from(settings.tz, settings.quiet_hours)
    dp = build_dispatcher(
        settings=settings,
        session_factory=session_factory,
        clock=clock,
        classifier=load_classifier(),
        followup_rules=followup_rules,
    )
    sender = PacedSender(bot, session_factory, clock, render)
    dp["sender"] = sender  # handlers and middlewares wake it by name
    scheduler = build_scheduler(
        session_factory,
        clock,
        tz=settings.tz,
        rules=followup_rules,
        sender=sender,
        sweep_delay_ms=settings.sweep_delay_ms,
    )
    try:
        await set_default_menu(bot)
        sender.start()
        scheduler.start()  # its first sweep acts on what fell due while the bot was down
        await dp.start_polling(bot, handle_signals=True)
    finally:
        await scheduler.stop()
        await sender.stop()
        await bot.session.close()
        await engine.dispose()


async def run_sandbox(
    settings: Settings,
    *,
    port: int,
    db_path: Path,
    clock_speed: float,
    announce: Callable[[str], None],
    headless: bool = False,
) -> None:
    clock: Clock = ScaledClock(clock_speed) if clock_speed != 1 else SystemClock()
    database_url = sqlite_url(db_path)
    await prepare_database(database_url, clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with Sandbox(
        database_url=database_url,
        clock=clock,
        port=port,
        settings=settings,
        chat_page=not headless,
        sweep_interval_s=SANDBOX_INTERVAL_S,
    ) as box:
        announce(box.base_url)
        await stop.wait()
