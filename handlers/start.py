"""Onboarding: the privacy notice, consent, and choosing a street and community."""

from __future__ import annotations

from datetime import timedelta

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.types import User as TelegramUser
from sqlmodel.ext.asyncio.session import AsyncSession

from config.settings import Settings
from handlers import keyboards, texts
from handlers.keyboards import CommunityCb, ConsentCb, StreetCb, StreetPageCb
from handlers.replies import Replies, menu_for
from services import onboarding, org
from services.clock import Clock
from services.errors import ServiceError
from services.invites import GuessLimit
from services.onboarding import StartResult, Step
from services.users import TelegramIdentity, bind_resident_community
from storage.models import Role, User


def identity(who: TelegramUser, chat_id: int) -> TelegramIdentity:
    return TelegramIdentity(telegram_id=who.id, chat_id=chat_id, display_name=who.full_name)


def guess_limit(settings: Settings) -> GuessLimit:
    return GuessLimit(
        tries=settings.invite_guess_limit,
        window=timedelta(minutes=settings.invite_guess_window_minutes),
    )


async def render(result: StartResult, chat_id: int, session: AsyncSession) -> Replies:
    """The messages that follow a /start or a consent, in one place for both."""

    def say(text: str, markup: InlineKeyboardMarkup | None = None) -> SendMessage:
        return SendMessage(chat_id=chat_id, text=text, reply_markup=markup)

    replies: Replies = []
    if result.station_unknown:
        replies.append(say(texts.STATION_UNKNOWN))
    user = result.user
    match result.step:
        case Step.ask_consent:
            replies.append(say(texts.PRIVACY_NOTICE, keyboards.consent(result.payload)))
        case Step.choose_street:
            page = await org.streets_page(session, 0)
            replies.append(say(texts.CHOOSE_STREET, keyboards.streets(page)))
        case Step.bound:
            assert result.place is not None
            replies.append(say(texts.bound_to_community(result.place)))
        case Step.joined:
            assert user is not None and result.place is not None
            replies.append(say(texts.joined(Role(user.role), result.place)))
        case Step.welcome_back:
            assert user is not None
            replies.append(say(texts.WELCOME_BACK.format(name=texts.esc(user.display_name))))
    if user is not None and result.step is not Step.ask_consent:
        replies.append(menu_for(Role(user.role), chat_id))
    return replies


async def on_start(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
) -> Replies:
    if message.from_user is None:
        return []
    who = identity(message.from_user, message.chat.id)
    try:
        result = await onboarding.start(session, clock, who, command.args, guess_limit(settings))
    except ServiceError as error:
        return [message.answer(texts.refusal(error.refusal, error.details))]
    return await render(result, message.chat.id, session)


async def on_consent(
    callback: CallbackQuery,
    message: Message,
    callback_data: ConsentCb,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
) -> Replies:
    who = identity(callback.from_user, message.chat.id)
    try:
        result = await onboarding.consent(
            session, clock, who, callback_data.payload, guess_limit(settings)
        )
    except ServiceError as error:
        return [
            callback.answer(),
            message.edit_reply_markup(reply_markup=None),
            message.answer(texts.refusal(error.refusal, error.details)),
        ]
    return [
        callback.answer(),
        message.edit_reply_markup(reply_markup=None),
        *await render(result, message.chat.id, session),
    ]


async def on_decline(callback: CallbackQuery, message: Message) -> Replies:
    return [callback.answer(), message.edit_text(texts.CONSENT_DECLINED, reply_markup=None)]


async def on_street_page(
    callback: CallbackQuery,
    message: Message,
    callback_data: StreetPageCb,
    session: AsyncSession,
    user: User | None,
) -> Replies:
    if user is None:
        return [callback.answer(texts.NOT_REGISTERED, show_alert=True)]
    page = await org.streets_page(session, callback_data.page)
    return [
        callback.answer(),
        message.edit_text(texts.CHOOSE_STREET, reply_markup=keyboards.streets(page)),
    ]


async def on_street(
    callback: CallbackQuery,
    message: Message,
    callback_data: StreetCb,
    session: AsyncSession,
    user: User | None,
) -> Replies:
    if user is None:
        return [callback.answer(texts.NOT_REGISTERED, show_alert=True)]
    try:
        page = await org.communities_page(session, callback_data.street_id, callback_data.page)
    except ServiceError as error:
        return [callback.answer(texts.refusal(error.refusal, error.details), show_alert=True)]
    place = await org.describe_place(session, street_id=callback_data.street_id)
    return [
        callback.answer(),
        message.edit_text(
            texts.CHOOSE_COMMUNITY.format(street=texts.esc(place.street)),
            reply_markup=keyboards.communities(callback_data.street_id, page),
        ),
    ]


async def on_community(
    callback: CallbackQuery,
    message: Message,
    callback_data: CommunityCb,
    session: AsyncSession,
    user: User | None,
) -> Replies:
    if user is None:
        return [callback.answer(texts.NOT_REGISTERED, show_alert=True)]
    try:
        community = await bind_resident_community(session, user, callback_data.community_id)
    except ServiceError as error:
        return [callback.answer(texts.refusal(error.refusal, error.details), show_alert=True)]
    place = await org.describe_place(
        session, street_id=community.street_id, community_id=community.id
    )
    return [
        callback.answer(),
        message.edit_text(texts.bound_to_community(place), reply_markup=None),
    ]


def make_router() -> Router:
    router = Router(name="start")
    router.message.register(on_start, CommandStart())
    router.callback_query.register(on_consent, ConsentCb.filter(F.agree))
    router.callback_query.register(on_decline, ConsentCb.filter(~F.agree))
    router.callback_query.register(on_street_page, StreetPageCb.filter())
    router.callback_query.register(on_street, StreetCb.filter())
    router.callback_query.register(on_community, CommunityCb.filter())
    return router
