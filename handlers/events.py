"""Weekend community events in chat: a coordinator's /event (7 checked steps, a preview, 发布),
/events and /checkin; residents' and volunteers' /events with 报名 / 取消报名, /subscribe,
/unsubscribe, check-in by sending the code, and the 1-5 star rating. Rules live in
services.events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from config.settings import Settings
from handlers import keyboards, texts
from handlers.filters import Registered
from handlers.keyboards import AudienceCb, EventCb, EventStepCb
from handlers.replies import Replies
from services import events
from services.clock import Clock
from services.errors import Refusal, ServiceError
from services.followups import FollowUpRules
from storage.models import Audience, Role, User

RULES = events.DEFAULT_RULES


class EventFlow(StatesGroup):
    title = State()
    start = State()  # data: title
    end = State()  # data: + starts_at (ISO)
    place = State()  # data: + ends_at
    capacity = State()  # data: + place
    audience = State()  # data: + capacity
    description = State()  # data: + audience, audience_id


def _refused(error: ServiceError) -> str:
    return texts.refusal(error.refusal, error.details)


# ---------------------------------------------------------------- creating (coordinators)


async def on_event_command(message: Message, user: User, state: FSMContext) -> Replies:
    if user.role != Role.coordinator:
        return [message.answer(texts.refusal(Refusal.not_allowed, {}))]
    await state.set_state(EventFlow.title)
    await state.set_data({})
    return [message.answer(texts.event_ask_title(RULES.title_max))]


async def on_title(message: Message, state: FSMContext) -> Replies:
    try:
        title = events.check_title(message.text or "", RULES)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    await state.update_data(title=title)
    await state.set_state(EventFlow.start)
    return [message.answer(texts.EVENT_ASK_START)]


async def on_start(
    message: Message, clock: Clock, settings: Settings, state: FSMContext
) -> Replies:
    try:
        start = events.check_start(message.text or "", clock.now(), settings.tz)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    await state.update_data(starts_at=start.isoformat())
    await state.set_state(EventFlow.end)
    return [message.answer(texts.EVENT_ASK_END)]


async def on_end(message: Message, clock: Clock, settings: Settings, state: FSMContext) -> Replies:
    data = await state.get_data()
    start = datetime.fromisoformat(str(data["starts_at"]))
    try:
        end = events.check_end(message.text or "", start, clock.now(), settings.tz)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    await state.update_data(ends_at=end.isoformat())
    await state.set_state(EventFlow.place)
    return [message.answer(texts.EVENT_ASK_PLACE)]


async def on_place(message: Message, state: FSMContext) -> Replies:
    try:
        place = events.check_place(message.text or "", RULES)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    await state.update_data(place=place)
    await state.set_state(EventFlow.capacity)
    return [message.answer(texts.EVENT_ASK_CAPACITY)]


async def on_capacity(
    message: Message, session: AsyncSession, user: User, state: FSMContext
) -> Replies:
    try:
        capacity = events.check_capacity(message.text or "", RULES)
        choices = await events.audience_choices(session, user)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    await state.update_data(capacity=capacity)
    await state.set_state(EventFlow.audience)
    return [message.answer(texts.EVENT_ASK_AUDIENCE, reply_markup=keyboards.audiences(choices))]


async def on_audience_typed(message: Message) -> Replies:
    return [message.answer(texts.EVENT_BUTTONS_HINT)]


async def on_audience(
    callback: CallbackQuery,
    message: Message,
    callback_data: AudienceCb,
    session: AsyncSession,
    user: User,
    state: FSMContext,
) -> Replies:
    if await state.get_state() != EventFlow.audience.state:
        return [callback.answer(texts.BUTTON_EXPIRED, show_alert=True)]
    try:
        choice = await events.check_audience(
            session, user, Audience(callback_data.kind), callback_data.id
        )
    except (ServiceError, ValueError):
        return [callback.answer(texts.BUTTON_EXPIRED, show_alert=True)]
    await state.update_data(audience=choice.audience.value, audience_id=choice.id)
    await state.set_state(EventFlow.description)
    return [
        callback.answer(),
        message.edit_text(
            f"{texts.EVENT_ASK_AUDIENCE}{texts.esc(texts.audience_label(choice))}",
            reply_markup=None,
        ),
        message.answer(texts.EVENT_ASK_DESCRIPTION, reply_markup=keyboards.skip_description()),
    ]


async def _preview(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    user: User,
    state: FSMContext,
    description: str,
) -> Any:
    data = await state.get_data()
    draft = events.Draft(
        title=str(data["title"]),
        starts_at=datetime.fromisoformat(str(data["starts_at"])),
        ends_at=datetime.fromisoformat(str(data["ends_at"])),
        place=str(data["place"]),
        capacity=int(data["capacity"]),
        audience=Audience(str(data["audience"])),
        audience_id=int(data["audience_id"]),
        description=description,
    )
    try:
        event = await events.save_draft(session, clock, user, draft, RULES)
        choice = await events.check_audience(session, user, draft.audience, draft.audience_id)
    except ServiceError as error:
        await state.clear()
        return message.answer(_refused(error))
    await state.clear()
    assert event.id is not None
    view = await events.view(session, user, event.id)
    return message.answer(
        texts.event_preview(view, texts.audience_label(choice), settings.tz),
        reply_markup=keyboards.event_publish(event.id),
    )


async def on_description(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    user: User,
    state: FSMContext,
) -> Replies:
    try:
        description = events.check_description(message.text or "", RULES)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    return [await _preview(message, session, clock, settings, user, state, description)]


async def on_skip_description(
    callback: CallbackQuery,
    message: Message,
    callback_data: EventStepCb,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    user: User,
    state: FSMContext,
) -> Replies:
    if callback_data.op != "nodesc" or await state.get_state() != EventFlow.description.state:
        return [callback.answer(texts.BUTTON_EXPIRED, show_alert=True)]
    return [
        callback.answer(),
        message.edit_reply_markup(reply_markup=None),
        await _preview(message, session, clock, settings, user, state, ""),
    ]


# ---------------------------------------------------------------- lists and subscriptions


async def on_events(
    message: Message, session: AsyncSession, clock: Clock, settings: Settings, user: User
) -> Replies:
    try:
        views = await events.upcoming(session, clock, user, RULES)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    if user.role == Role.coordinator:
        if not views:
            return [message.answer(texts.EVENTS_STAFF_NONE)]
        running = {e.id for e in await events.checkin_candidates(session, clock, user, RULES)}
        return [
            message.answer(texts.EVENTS_HEADER),
            *(
                message.answer(
                    texts.event_staff_card(v, settings.tz),
                    reply_markup=keyboards.event_staff(v, v.event.id in running),
                )
                for v in views
            ),
        ]
    if not views:
        return [message.answer(f"{texts.EVENTS_NONE}\n{texts.EVENTS_SUBSCRIBE_HINT}")]
    return [
        message.answer(f"{texts.EVENTS_HEADER}\n{texts.EVENTS_SUBSCRIBE_HINT}"),
        *(
            message.answer(
                texts.event_card(v, settings.tz), reply_markup=keyboards.event_actions(v)
            )
            for v in views
        ),
    ]


async def on_subscribe(
    message: Message, session: AsyncSession, clock: Clock, user: User
) -> Replies:
    try:
        new = await events.subscribe(session, clock, user)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    return [message.answer(texts.SUBSCRIBED if new else texts.ALREADY_SUBSCRIBED)]


async def on_unsubscribe(message: Message, session: AsyncSession, user: User) -> Replies:
    gone = await events.unsubscribe(session, user)
    return [message.answer(texts.UNSUBSCRIBED if gone else texts.NOT_SUBSCRIBED)]


# ---------------------------------------------------------------- check-in


async def _show_code(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    user: User,
    event_id: int,
) -> Any:
    event = await events.open_checkin(session, clock, user, event_id, RULES)
    assert event.id is not None and event.checkin_code is not None
    view = await events.view(session, user, event.id)
    return message.answer(texts.checkin_code(view, event.checkin_code, settings.tz))


async def on_checkin(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    user: User,
) -> Replies:
    try:
        if user.role == Role.coordinator:
            running = await events.checkin_candidates(session, clock, user, RULES)
            if not running:
                raise ServiceError(Refusal.checkin_nothing_running)
            if len(running) == 1:
                assert running[0].id is not None
                return [await _show_code(message, session, clock, settings, user, running[0].id)]
            choices = [(e.id, e.title) for e in running if e.id is not None]
            return [
                message.answer(
                    texts.CHECKIN_CHOOSE, reply_markup=keyboards.checkin_choices(choices)
                )
            ]
        if not command.args:
            return [message.answer(texts.CHECKIN_USAGE)]
        event = await events.check_in(session, clock, user, command.args, RULES)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    return [message.answer(texts.checked_in(event.title))]


async def on_code(message: Message, session: AsyncSession, clock: Clock, user: User) -> Replies:
    """Six digits while an event with that code runs: a check-in. Anything else goes on to the
    other routers (a resident's words are a report)."""
    text = message.text or ""
    if user.role not in events.PARTICIPANTS or not await events.code_is_live(
        session, clock, text, RULES
    ):
        raise SkipHandler
    try:
        event = await events.check_in(session, clock, user, text, RULES)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    return [message.answer(texts.checked_in(event.title))]


# ---------------------------------------------------------------- buttons on an event


def _single_button(message: Message) -> bool:
    """Only a message about one event has its button replaced (not a digest of several)."""
    markup = message.reply_markup
    return markup is not None and sum(len(row) for row in markup.inline_keyboard) == 1


async def on_event_button(
    callback: CallbackQuery,
    message: Message,
    callback_data: EventCb,
    session: AsyncSession,
    clock: Clock,
    followup_rules: FollowUpRules,
    settings: Settings,
    user: User,
) -> Replies:
    op, event_id = callback_data.op, callback_data.id
    try:
        match op:
            case "join":
                joined = await events.join(session, clock, user, event_id)
                view = await events.view(session, user, event_id)
                text = (
                    texts.event_waiting(view, joined.position)
                    if joined.position
                    else texts.event_joined(view, settings.tz)
                )
                replies: Replies = [callback.answer(texts.BTN_EVENT_JOIN + " ✓")]
                if _single_button(message):
                    replies.append(
                        message.edit_reply_markup(reply_markup=keyboards.event_actions(view))
                    )
                return [*replies, message.answer(text)]
            case "leave":
                left = await events.leave(
                    session, clock, user, event_id, followup_rules=followup_rules
                )
                view = await events.view(session, user, event_id)
                replies = [callback.answer()]
                if _single_button(message):
                    replies.append(
                        message.edit_reply_markup(reply_markup=keyboards.event_actions(view))
                    )
                was_waiting = left.was == "waiting"
                return [*replies, message.answer(texts.event_left(left.event.title, was_waiting))]
            case "pub":
                event, told = await events.publish(
                    session, clock, user, event_id, followup_rules=followup_rules
                )
                assert event.id is not None
                view = await events.view(session, user, event.id)
                return [
                    callback.answer(texts.BTN_EVENT_PUBLISH + " ✓"),
                    message.edit_reply_markup(reply_markup=None),
                    message.answer(texts.event_published(view, told)),
                ]
            case "drop":
                await events.discard(session, clock, user, event_id)
                return [
                    callback.answer(),
                    message.edit_reply_markup(reply_markup=None),
                    message.answer(texts.EVENT_DISCARDED),
                ]
            case "code":
                return [
                    callback.answer(),
                    await _show_code(message, session, clock, settings, user, event_id),
                ]
            case "rate" if 1 <= callback_data.arg <= 5:
                await events.rate(session, clock, user, event_id, callback_data.arg, RULES)
                return [
                    callback.answer(),
                    message.edit_reply_markup(reply_markup=None),
                    message.answer(texts.event_rated(callback_data.arg)),
                ]
    except ServiceError as error:
        return [callback.answer(_refused(error), show_alert=True)]
    return [callback.answer(texts.BUTTON_EXPIRED, show_alert=True)]


def make_router() -> Router:
    router = Router(name="events")
    router.message.filter(Registered())
    router.callback_query.filter(Registered())
    router.message.register(on_event_command, Command("event"))
    router.message.register(on_events, Command("events"))
    router.message.register(on_subscribe, Command("subscribe"))
    router.message.register(on_unsubscribe, Command("unsubscribe"))
    router.message.register(on_checkin, Command("checkin"))
    router.message.register(on_title, EventFlow.title, F.text)
    router.message.register(on_start, EventFlow.start, F.text)
    router.message.register(on_end, EventFlow.end, F.text)
    router.message.register(on_place, EventFlow.place, F.text)
    router.message.register(on_capacity, EventFlow.capacity, F.text)
    router.message.register(on_audience_typed, EventFlow.audience)
    router.message.register(on_description, EventFlow.description, F.text)
    router.message.register(on_code, StateFilter(None), F.text.regexp(r"^\s*[0-9０-９]{4,8}\s*$"))
    router.callback_query.register(on_audience, AudienceCb.filter())
    router.callback_query.register(on_skip_description, EventStepCb.filter())
    router.callback_query.register(on_event_button, EventCb.filter())
    return router
