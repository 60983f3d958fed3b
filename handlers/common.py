"""/help, /me, and friendly answers to everything no other router takes."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from config.settings import Settings
from handlers import texts
from handlers.filters import Registered
from handlers.replies import Replies, menu_for
from services.clock import Clock
from services.users import profile
from storage.models import Role, User


async def on_help(message: Message, user: User) -> Replies:
    role = Role(user.role)
    return [message.answer(texts.help_text(role)), menu_for(role, message.chat.id)]


async def on_me(
    message: Message, session: AsyncSession, clock: Clock, settings: Settings, user: User
) -> Replies:
    found = await profile(session, user, clock, settings.tz)
    return [message.answer(texts.profile_text(found, settings.tz))]


async def on_guest(message: Message) -> Replies:
    return [message.answer(texts.NOT_REGISTERED), menu_for(None, message.chat.id)]


async def on_unknown_command(message: Message) -> Replies:
    return [message.answer(texts.UNKNOWN_COMMAND)]


async def on_other(message: Message) -> Replies:
    return [message.answer(texts.NOT_UNDERSTOOD)]


async def on_stale_button(callback: CallbackQuery) -> Replies:
    return [callback.answer(texts.BUTTON_EXPIRED, show_alert=True)]


def make_router() -> Router:
    router = Router(name="common")
    router.message.register(on_help, Command("help"), Registered())
    router.message.register(on_me, Command("me"), Registered())
    return router


def make_fallback_router() -> Router:
    """The catch-alls; included last so that every feature router is tried first."""
    router = Router(name="fallback")
    router.message.register(on_guest, ~Registered())
    router.message.register(on_unknown_command, F.text.startswith("/"))
    router.message.register(on_other)
    router.callback_query.register(on_stale_button)
    return router


def make_expired_router() -> Router:
    """Buttons on messages the bot can no longer see (older than 48 hours)."""
    router = Router(name="expired")
    router.callback_query.register(on_stale_button)
    return router
