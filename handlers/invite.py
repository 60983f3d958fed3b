"""/invite: coordinators and admins create invite links, step by step with buttons."""

from __future__ import annotations

from datetime import timedelta

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from config.settings import Settings
from handlers import keyboards, texts
from handlers.filters import Registered
from handlers.keyboards import InviteCb
from handlers.replies import Replies
from services import invites
from services.clock import Clock
from services.errors import ServiceError
from storage.models import Role, User


async def _created(bot: Bot, settings: Settings, created: invites.CreatedInvite) -> str:
    me = await bot.me()
    invite = created.invite
    link = f"https://t.me/{me.username}?start=inv_{invite.code}"
    expires = texts.show_time(invite.expires_at, settings.tz)
    return texts.invite_created(
        link, Role(invite.role), created.scope_label, invite.uses_left, expires
    )


def _role(value: str) -> Role | None:
    try:
        return Role(value)
    except ValueError:
        return None


def _scope_prompt(
    role: Role, options: list[invites.ScopeOption]
) -> tuple[str, InlineKeyboardMarkup]:
    prompt = texts.INVITE_CHOOSE_GRID if role == Role.volunteer else texts.INVITE_CHOOSE_COMMUNITY
    return prompt, keyboards.invite_scopes(role, options)


def _typed_grid(args: list[str]) -> tuple[int, int] | None:
    """/invite volunteer <grid number> [uses] → (grid number, uses)."""
    if not 2 <= len(args) <= 3 or args[0] != Role.volunteer.value:
        return None
    if not all(a.isdigit() for a in args[1:]):
        return None
    return int(args[1]), int(args[2]) if len(args) == 3 else 1


async def on_invite(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    user: User,
    bot: Bot,
) -> Replies:
    roles = invites.invitable_roles(user)
    if not roles:
        return [message.answer(texts.INVITE_NONE_ALLOWED)]
    args = (command.args or "").split()
    try:
        if not args and len(roles) > 1:
            markup = keyboards.invite_roles(roles)
            return [message.answer(texts.INVITE_CHOOSE_ROLE, reply_markup=markup)]
        if not args:
            options = await invites.invite_scope_options(session, user, roles[0])
            prompt, markup = _scope_prompt(roles[0], options)
            return [message.answer(prompt, reply_markup=markup)]
        typed = _typed_grid(args)
        if typed is None:
            return [message.answer(texts.INVITE_USAGE)]
        created = await invites.create_invite(
            session,
            clock,
            user,
            role=Role.volunteer,
            grid_number=typed[0],
            uses=typed[1],
            ttl=timedelta(hours=settings.invite_ttl_hours),
        )
    except ServiceError as error:
        return [message.answer(texts.refusal(error.refusal, error.details))]
    return [message.answer(await _created(bot, settings, created))]


async def on_invite_step(
    callback: CallbackQuery,
    message: Message,
    callback_data: InviteCb,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    user: User,
    bot: Bot,
) -> Replies:
    role = _role(callback_data.role)
    if role is None:
        return [callback.answer(texts.BUTTON_EXPIRED, show_alert=True)]
    try:
        if not callback_data.scope_id:
            options = await invites.invite_scope_options(session, user, role)
            prompt, markup = _scope_prompt(role, options)
            return [callback.answer(), message.edit_text(prompt, reply_markup=markup)]
        if not callback_data.uses:
            markup = keyboards.invite_uses(role, callback_data.scope_id, invites.USES_CHOICES)
            return [
                callback.answer(),
                message.edit_text(texts.INVITE_CHOOSE_USES, reply_markup=markup),
            ]
        created = await invites.create_invite(
            session,
            clock,
            user,
            role=role,
            scope_id=callback_data.scope_id,
            uses=callback_data.uses,
            ttl=timedelta(hours=settings.invite_ttl_hours),
        )
    except ServiceError as error:
        return [callback.answer(texts.refusal(error.refusal, error.details), show_alert=True)]
    text = await _created(bot, settings, created)
    return [callback.answer(), message.edit_text(text, reply_markup=None)]


def make_router() -> Router:
    router = Router(name="invite")
    router.message.filter(Registered())
    router.callback_query.filter(Registered())
    router.message.register(on_invite, Command("invite"))
    router.callback_query.register(on_invite_step, InviteCb.filter())
    return router
