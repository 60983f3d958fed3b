"""Tickets in chat: reporting, the coordinator's inbox and card, dispatch, the volunteer's
task, and the resident's confirmation and rating. Rules live in services.tickets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.methods import SendPhoto
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from config.settings import Settings
from handlers import keyboards, texts
from handlers.filters import Registered
from handlers.keyboards import CategoryCb, HouseholdCb, ListCb, TicketCb
from handlers.replies import Replies, note_and_photo
from nlp.classifier import Classifier
from services import households, tickets
from services.clock import Clock
from services.errors import ServiceError
from services.followups import FollowUpRules
from services.org import Page
from services.tickets import TicketRules
from storage.models import Rating, Role, Ticket, User


class TicketFlow(StatesGroup):
    report_text = State()  # data: household_id (volunteers)
    reason = State()  # data: ticket_id, op (decline | escalate | refuse)
    resolution = State()  # data: ticket_id
    comment = State()  # data: ticket_id


def rules(settings: Settings) -> TicketRules:
    return TicketRules(
        urgent_response=timedelta(hours=settings.urgent_response_hours),
        normal_response=timedelta(hours=settings.normal_response_hours),
    )


def _refused(error: ServiceError) -> str:
    return texts.refusal(error.refusal, error.details)


# ---------------------------------------------------------------- reporting


async def on_command_in_flow(message: Message, state: FSMContext) -> None:
    """A command leaves any half-done step, then is handled as usual."""
    await state.clear()
    raise SkipHandler


async def on_cancel(message: Message, state: FSMContext) -> Replies:
    await state.clear()
    return [message.answer(texts.CANCELLED)]


async def on_report_command(
    message: Message, session: AsyncSession, user: User, state: FSMContext
) -> Replies:
    if user.role == Role.volunteer:
        return [await _ask_household(message, session, user, state, pending_text="")]
    if user.role == Role.resident:
        await state.set_state(TicketFlow.report_text)
        return [message.answer(texts.ASK_REPORT)]
    return [message.answer(texts.STAFF_TEXT_HINT)]


async def _ask_household(
    message: Message, session: AsyncSession, user: User, state: FSMContext, pending_text: str
) -> Any:
    options = await households.household_choices(session, user)
    if not options:
        return message.answer(texts.NO_HOUSEHOLDS)
    await state.set_data({"pending_text": pending_text})
    return message.answer(texts.ASK_HOUSEHOLD, reply_markup=keyboards.households(options))


async def _file_report(
    message: Message,
    text: str,
    session: AsyncSession,
    clock: Clock,
    followup_rules: FollowUpRules,
    settings: Settings,
    classifier: Classifier,
    user: User,
    household_id: int | None = None,
) -> Replies:
    try:
        ticket = await tickets.report(
            session,
            clock,
            classifier,
            user,
            text,
            household_id=household_id,
            rules=rules(settings),
            followup_rules=followup_rules,
        )
    except ServiceError as error:
        return [message.answer(_refused(error))]
    assert ticket.id is not None
    return [
        message.answer(
            texts.ticket_received(ticket, settings.tz),
            reply_markup=keyboards.recategorize(ticket.id),
        )
    ]


async def on_report_text(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    followup_rules: FollowUpRules,
    settings: Settings,
    classifier: Classifier,
    user: User,
    state: FSMContext,
) -> Replies:
    data = await state.get_data()
    await state.clear()
    return await _file_report(
        message,
        message.text or "",
        session,
        clock,
        followup_rules,
        settings,
        classifier,
        user,
        household_id=data.get("household_id"),
    )


async def on_free_text(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    followup_rules: FollowUpRules,
    settings: Settings,
    classifier: Classifier,
    user: User,
    state: FSMContext,
) -> Replies:
    """A resident's words outside any step are a report; a volunteer picks the household."""
    text = message.text or ""
    if user.role == Role.resident:
        return await _file_report(
            message, text, session, clock, followup_rules, settings, classifier, user
        )
    if user.role == Role.volunteer:
        return [await _ask_household(message, session, user, state, pending_text=text)]
    return [message.answer(texts.STAFF_TEXT_HINT)]


async def on_household(
    callback: CallbackQuery,
    message: Message,
    callback_data: HouseholdCb,
    session: AsyncSession,
    clock: Clock,
    followup_rules: FollowUpRules,
    settings: Settings,
    classifier: Classifier,
    user: User,
    state: FSMContext,
) -> Replies:
    data = await state.get_data()
    pending = str(data.get("pending_text") or "")
    if not pending:
        await state.set_state(TicketFlow.report_text)
        await state.set_data({"household_id": callback_data.id})
        return [callback.answer(), message.edit_text(texts.ASK_REPORT, reply_markup=None)]
    await state.clear()
    replies = await _file_report(
        message,
        pending,
        session,
        clock,
        followup_rules,
        settings,
        classifier,
        user,
        callback_data.id,
    )
    return [callback.answer(), message.edit_reply_markup(reply_markup=None), *replies]


async def on_photo(
    message: Message, session: AsyncSession, clock: Clock, settings: Settings, user: User
) -> Replies:
    assert message.photo
    try:
        ticket, count = await tickets.attach_photo(
            session, clock, user, message.photo[-1].file_id, rules(settings)
        )
    except ServiceError as error:
        return [message.answer(_refused(error))]
    return [message.answer(texts.photo_added(ticket.number, count))]


async def on_location(
    message: Message, session: AsyncSession, clock: Clock, settings: Settings, user: User
) -> Replies:
    assert message.location
    try:
        ticket = await tickets.attach_location(
            session,
            clock,
            user,
            message.location.latitude,
            message.location.longitude,
            rules(settings),
        )
    except ServiceError as error:
        return [message.answer(_refused(error))]
    return [message.answer(texts.location_added(ticket.number))]


# ---------------------------------------------------------------- lists


async def on_inbox(message: Message, session: AsyncSession, user: User) -> Replies:
    return [await _list_message(message, session, user, "inbox", 0, edit=False)]


async def on_mytickets(message: Message, session: AsyncSession, user: User) -> Replies:
    return [await _list_message(message, session, user, "mine", 0, edit=False)]


# kind → (what to list, the words when empty, the header over a page)
Fetch = Callable[[AsyncSession, User, int], Awaitable[Page[Ticket]]]
LISTS: dict[str, tuple[Fetch, str, Callable[[Page[Ticket]], str]]] = {
    "inbox": (
        tickets.inbox,
        texts.NO_TICKETS,
        lambda page: texts.INBOX_HEADER.format(pages=page.pages, page=page.page + 1),
    ),
    "mine": (tickets.mine, texts.NO_MY_TICKETS, lambda page: texts.MY_TICKETS_HEADER),
}


async def _list_message(
    message: Message, session: AsyncSession, user: User, kind: str, page: int, *, edit: bool
) -> Any:
    fetch, empty, heading = LISTS[kind]
    try:
        result = await fetch(session, user, page)
    except ServiceError as error:
        return message.answer(_refused(error))
    if not result.items:
        return message.edit_text(empty) if edit else message.answer(empty)
    header = heading(result)
    markup = keyboards.ticket_list(kind, result)
    if edit:
        return message.edit_text(header, reply_markup=markup)
    return message.answer(header, reply_markup=markup)


async def on_list_page(
    callback: CallbackQuery,
    message: Message,
    callback_data: ListCb,
    session: AsyncSession,
    user: User,
) -> Replies:
    if callback_data.kind not in LISTS:
        return [callback.answer(texts.BUTTON_EXPIRED, show_alert=True)]
    return [
        callback.answer(),
        await _list_message(
            message, session, user, callback_data.kind, callback_data.page, edit=True
        ),
    ]


# ---------------------------------------------------------------- the card and its moves


async def _card(
    message: Message,
    session: AsyncSession,
    user: User,
    ticket_id: int,
    settings: Settings,
    *,
    edit: bool,
) -> Any:
    card = await tickets.card(session, user, ticket_id)
    text = texts.ticket_card(card, settings.tz)
    markup = keyboards.ticket_actions(card, user)
    if edit:
        return message.edit_text(text, reply_markup=markup)
    return message.answer(text, reply_markup=markup)


REASON_OPS = {"dc": "decline", "esc": "escalate", "rf": "refuse"}


async def on_ticket_step(
    callback: CallbackQuery,
    message: Message,
    callback_data: TicketCb,
    session: AsyncSession,
    clock: Clock,
    followup_rules: FollowUpRules,
    settings: Settings,
    user: User,
    state: FSMContext,
) -> Replies:
    op, ticket_id, arg = callback_data.op, callback_data.id, callback_data.arg
    try:
        match op:
            case "card":
                return [
                    callback.answer(),
                    await _card(message, session, user, ticket_id, settings, edit=False),
                ]
            case "acc":
                await tickets.accept(session, clock, user, ticket_id, followup_rules=followup_rules)
                return [
                    callback.answer(texts.ACTION_NAMES["accept"] + " ✓"),
                    await _card(message, session, user, ticket_id, settings, edit=True),
                ]
            case "dsp":
                options = await tickets.volunteer_suggestions(session, user, ticket_id)
                if not options:
                    return [callback.answer(texts.NO_VOLUNTEERS, show_alert=True)]
                return [
                    callback.answer(),
                    message.edit_text(
                        texts.CHOOSE_VOLUNTEER,
                        reply_markup=keyboards.volunteers(ticket_id, options),
                    ),
                ]
            case "dv":
                await tickets.dispatch(
                    session, clock, user, ticket_id, arg, followup_rules=followup_rules
                )
                return [
                    callback.answer(texts.ACTION_NAMES["dispatch"] + " ✓"),
                    await _card(message, session, user, ticket_id, settings, edit=True),
                ]
            case "mg":
                await tickets.merge(
                    session, clock, user, ticket_id, arg, followup_rules=followup_rules
                )
                return [
                    callback.answer(texts.ACTION_NAMES["merge"] + " ✓"),
                    await _card(message, session, user, ticket_id, settings, edit=True),
                ]
            case "take":
                ticket = await tickets.take(
                    session, clock, user, ticket_id, followup_rules=followup_rules
                )
                return [
                    callback.answer(texts.ACTION_NAMES["take"] + " ✓"),
                    message.edit_reply_markup(reply_markup=keyboards.task_done(ticket_id)),
                    message.answer(texts.task_taken(ticket)),
                ]
            case "dc" | "esc" | "rf":
                await tickets.check_allowed(
                    session, user, ticket_id, tickets.Action(REASON_OPS[op])
                )
                await state.set_state(TicketFlow.reason)
                await state.set_data({"ticket_id": ticket_id, "op": REASON_OPS[op]})
                return [callback.answer(), message.answer(texts.ASK_REASON[REASON_OPS[op]])]
            case "res":
                await tickets.check_allowed(session, user, ticket_id, tickets.Action.resolve)
                await state.set_state(TicketFlow.resolution)
                await state.set_data({"ticket_id": ticket_id})
                return [callback.answer(), message.answer(texts.ASK_RESOLUTION)]
            case "ok":
                await tickets.confirm(session, clock, user, ticket_id)
                return [
                    callback.answer(),
                    message.edit_reply_markup(reply_markup=None),
                    message.answer(texts.ASK_RATING, reply_markup=keyboards.ratings(ticket_id)),
                ]
            case "no":
                await tickets.unresolved(
                    session, clock, user, ticket_id, followup_rules=followup_rules
                )
                return [
                    callback.answer(),
                    message.edit_reply_markup(reply_markup=None),
                    message.answer(texts.UNRESOLVED_REOPENED),
                ]
            case "rate" if 0 <= arg < len(keyboards.RATING_ORDER):
                rating = keyboards.RATING_ORDER[arg]
                await tickets.rate(
                    session, clock, user, ticket_id, rating, followup_rules=followup_rules
                )
                if rating == Rating.dissatisfied:
                    return [
                        callback.answer(),
                        message.edit_reply_markup(reply_markup=None),
                        message.answer(texts.RATED_DISSATISFIED),
                    ]
                await state.set_state(TicketFlow.comment)
                await state.set_data({"ticket_id": ticket_id})
                return [
                    callback.answer(),
                    message.edit_reply_markup(reply_markup=None),
                    message.answer(
                        texts.ASK_COMMENT, reply_markup=keyboards.skip_comment(ticket_id)
                    ),
                ]
            case "skip":
                await state.clear()
                return [
                    callback.answer(),
                    message.edit_text(texts.RATING_THANKS, reply_markup=None),
                ]
            case "cat":
                await tickets.check_allowed(session, user, ticket_id, tickets.Action.recategorize)
                return [
                    callback.answer(),
                    message.answer(
                        texts.CHOOSE_CATEGORY, reply_markup=keyboards.categories(ticket_id)
                    ),
                ]
            case "pic":
                card = await tickets.card(session, user, ticket_id)
                return [
                    callback.answer(),
                    *(SendPhoto(chat_id=message.chat.id, photo=p) for p in card.photos),
                ]
    except ServiceError as error:
        return [callback.answer(_refused(error), show_alert=True)]
    return [callback.answer(texts.BUTTON_EXPIRED, show_alert=True)]


async def on_category(
    callback: CallbackQuery,
    message: Message,
    callback_data: CategoryCb,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    user: User,
) -> Replies:
    try:
        ticket = await tickets.recategorize(
            session, clock, user, callback_data.id, callback_data.code
        )
    except ServiceError as error:
        return [callback.answer(_refused(error), show_alert=True)]
    done = texts.category_changed(ticket)
    if tickets.manages(user, ticket):
        return [
            callback.answer(done),
            message.edit_text(done, reply_markup=None),
            await _card(message, session, user, callback_data.id, settings, edit=False),
        ]
    return [callback.answer(done), message.edit_text(done, reply_markup=None)]


# ---------------------------------------------------------------- typed steps


async def on_reason(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    followup_rules: FollowUpRules,
    settings: Settings,
    user: User,
    state: FSMContext,
) -> Replies:
    data = await state.get_data()
    ticket_id, op = int(data["ticket_id"]), str(data["op"])
    move = {"decline": tickets.decline, "escalate": tickets.escalate, "refuse": tickets.refuse}[op]
    try:
        ticket = await move(
            session, clock, user, ticket_id, message.text or "", followup_rules=followup_rules
        )
    except ServiceError as error:
        await state.clear()
        return [message.answer(_refused(error))]
    await state.clear()
    if op == "decline":
        return [message.answer(texts.declined_done(ticket))]
    return [await _card(message, session, user, ticket_id, settings, edit=False)]


async def on_resolution(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    followup_rules: FollowUpRules,
    user: User,
    state: FSMContext,
) -> Replies:
    data = await state.get_data()
    note, photo = note_and_photo(message)
    try:
        ticket = await tickets.resolve(
            session,
            clock,
            user,
            int(data["ticket_id"]),
            note,
            photo,
            followup_rules=followup_rules,
        )
    except ServiceError as error:
        return [message.answer(_refused(error))]
    await state.clear()
    return [message.answer(texts.resolved_done(ticket))]


async def on_comment(
    message: Message, session: AsyncSession, clock: Clock, user: User, state: FSMContext
) -> Replies:
    data = await state.get_data()
    try:
        await tickets.comment(session, clock, user, int(data["ticket_id"]), message.text or "")
    except ServiceError as error:
        return [message.answer(_refused(error))]
    await state.clear()
    return [message.answer(texts.COMMENT_SAVED)]


def make_flow_reset_router() -> Router:
    """First of all routers: a command typed in the middle of a step cancels the step."""
    router = Router(name="flow_reset")
    router.message.register(on_cancel, Command("cancel"))
    router.message.register(on_command_in_flow, ~StateFilter(None), F.text.startswith("/"))
    return router


def make_router() -> Router:
    router = Router(name="tickets")
    router.message.filter(Registered())
    router.callback_query.filter(Registered())
    router.message.register(on_report_command, Command("report"))
    router.message.register(on_inbox, Command("inbox"))
    router.message.register(on_mytickets, Command("mytickets"))
    router.message.register(on_report_text, TicketFlow.report_text, F.text)
    router.message.register(on_reason, TicketFlow.reason, F.text)
    router.message.register(on_resolution, TicketFlow.resolution, F.text | F.photo)
    router.message.register(on_comment, TicketFlow.comment, F.text)
    router.message.register(on_free_text, StateFilter(None), F.text, ~F.text.startswith("/"))
    router.message.register(on_photo, StateFilter(None), F.photo)
    router.message.register(on_location, StateFilter(None), F.location)
    router.callback_query.register(on_ticket_step, TicketCb.filter())
    router.callback_query.register(on_category, CategoryCb.filter())
    router.callback_query.register(on_list_page, ListCb.filter())
    router.callback_query.register(on_household, HouseholdCb.filter())
    return router
