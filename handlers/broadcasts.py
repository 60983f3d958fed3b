"""/broadcast and /broadcasts: compose, choose the audience, preview the exact count, confirm;
the paced sender delivers, the status message shows progress. Rules in services.broadcasts."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from config.settings import Settings
from handlers import keyboards, texts
from handlers.filters import Registered
from handlers.keyboards import BroadcastCb
from handlers.replies import Replies, note_and_photo
from services import broadcasts
from services.clock import Clock
from services.errors import Refusal, ServiceError
from services.followups import FollowUpRules
from storage.models import User


class BroadcastFlow(StatesGroup):
    compose = State()


def _refused(error: ServiceError) -> str:
    return texts.refusal(error.refusal, error.details)


async def on_broadcast(message: Message, user: User, state: FSMContext) -> Replies:
    if not broadcasts.may_broadcast(user):
        return [message.answer(texts.refusal(Refusal.not_allowed, {}))]
    await state.set_state(BroadcastFlow.compose)
    return [message.answer(texts.ASK_BROADCAST)]


async def on_compose(
    message: Message, session: AsyncSession, clock: Clock, user: User, state: FSMContext
) -> Replies:
    text, photo = note_and_photo(message)
    try:
        draft = await broadcasts.draft(session, clock, user, text, photo)
        options = await broadcasts.audience_options(session, user)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    await state.clear()
    assert draft.id is not None
    markup = keyboards.broadcast_audiences(draft.id, options)
    return [message.answer(texts.CHOOSE_AUDIENCE, reply_markup=markup)]


async def on_step(
    callback: CallbackQuery,
    message: Message,
    callback_data: BroadcastCb,
    session: AsyncSession,
    clock: Clock,
    followup_rules: FollowUpRules,
    user: User,
) -> Replies:
    op, broadcast_id = callback_data.op, callback_data.id
    try:
        if op == "aud":
            target = broadcasts.Target(callback_data.target)
            preview = await broadcasts.preview(
                session, user, broadcast_id, target, callback_data.tid
            )
            text = texts.broadcast_preview(
                preview.broadcast.text,
                preview.broadcast.photo_file_id is not None,
                texts.broadcast_audience(target.value, preview.audience.label),
                preview.recipients,
                preview.skipped_unreachable,
            )
            markup = keyboards.broadcast_confirm(broadcast_id)
            return [callback.answer(), message.edit_text(text, reply_markup=markup)]
        if op == "ok":
            started = await broadcasts.confirm(
                session,
                clock,
                user,
                broadcast_id,
                status_chat_id=message.chat.id,
                status_message_id=message.message_id,
                followup_rules=followup_rules,
            )
            figures: dict[str, object] = {
                "sent": 0,
                "total": started.total,
                "failed": 0,
                "unreachable": 0,
            }
            markup = keyboards.broadcast_running(broadcast_id)
            return [
                callback.answer(),
                message.edit_text(texts.broadcast_progress(figures), reply_markup=markup),
            ]
        if op in ("no", "stop"):
            await broadcasts.cancel(session, clock, user, broadcast_id)
            return [
                callback.answer(),
                message.edit_text(texts.BROADCAST_DISCARDED, reply_markup=None),
            ]
    except (ServiceError, ValueError) as error:
        text = _refused(error) if isinstance(error, ServiceError) else texts.BUTTON_EXPIRED
        return [callback.answer(text, show_alert=True)]
    return [callback.answer(texts.BUTTON_EXPIRED, show_alert=True)]


async def on_list(
    message: Message, session: AsyncSession, settings: Settings, user: User
) -> Replies:
    try:
        items = await broadcasts.recent(session, user)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    if not items:
        return [message.answer(texts.NO_BROADCASTS)]
    lines = [texts.BROADCASTS_HEADER]
    for p in items:
        b = p.broadcast
        when = texts.when(b.started_at or b.created_at, settings.tz)
        lines.append(texts.broadcast_line(b.status.value, when, p.sent, b.total, p.failed))
    return [message.answer("\n".join(lines))]


def make_router() -> Router:
    router = Router(name="broadcasts")
    router.message.filter(Registered())
    router.callback_query.filter(Registered())
    router.message.register(on_broadcast, Command("broadcast"))
    router.message.register(on_list, Command("broadcasts"))
    router.message.register(on_compose, BroadcastFlow.compose, F.text | F.photo)
    router.callback_query.register(on_step, BroadcastCb.filter())
    return router
