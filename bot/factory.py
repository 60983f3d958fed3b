"""One factory builds the Bot and the Dispatcher for the runners and the tests alike."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage

from bot.middlewares import CurrentUserMiddleware, FloodLimitMiddleware, UnitOfWorkMiddleware
from config.settings import Settings
from handlers import build_router
from nlp.classifier import Classifier
from services.clock import Clock
from services.followups import FollowUpRules
from storage.db import SessionFactory
from storage.fsm import SqlStorage


def make_bot(token: str, api_base_url: str | None = None) -> Bot:
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(api_base_url))
        if api_base_url
        else AiohttpSession()
    )
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def build_dispatcher(
    *,
    settings: Settings,
    session_factory: SessionFactory,
    clock: Clock,
    classifier: Classifier,
    followup_rules: FollowUpRules,
    storage: BaseStorage | None = None,
) -> Dispatcher:
    """Everything a handler may ask for by name is given here (aiogram's injection).

    `followup_rules` (the quiet hours, the follow-ups' delays) are built once from the settings
    by the caller (bot.scheduler.rules_from), which gives the same rules to the scheduler."""
    dp = Dispatcher(
        storage=storage or SqlStorage(session_factory),
        settings=settings,
        classifier=classifier,
        session_factory=session_factory,
        clock=clock,
        followup_rules=followup_rules,
    )
    dp.update.outer_middleware(FloodLimitMiddleware(clock))
    dp.update.outer_middleware(UnitOfWorkMiddleware(session_factory, clock))
    dp.update.outer_middleware(CurrentUserMiddleware())
    dp.include_router(build_router())
    return dp
