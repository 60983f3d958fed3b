"""Visits in chat: /visit (household → outcome → note → summary with the needs found, then an
optional location or photo), corrections within 24 hours, /households and the household card
(提户知人), and the coordinators' /coverage by grid. Rules live in services.visits and
services.cadence."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from config.settings import Settings
from handlers import keyboards, texts
from handlers import tickets as ticket_handlers
from handlers.filters import Registered
from handlers.keyboards import CoverageCb, HouseholdCardCb, VisitCb
from handlers.replies import Replies, note_and_photo
from nlp.classifier import Classifier
from services import cadence, visits
from services.clock import Clock
from services.errors import Refusal, ServiceError
from services.followups import FollowUpRules
from services.org import household_address
from services.visits import OUTCOMES, VisitSummary
from storage.models import User


class VisitFlow(StatesGroup):
    household = State()  # typing a building and room
    outcome = State()  # data: household_id
    note = State()  # data: household_id, outcome
    extras = State()  # data: visit_id (a location or a photo may follow)
    edit_note = State()  # data: visit_id, outcome


def _refused(error: ServiceError) -> str:
    return texts.refusal(error.refusal, error.details)


def _summary_replies(message: Message, summary: VisitSummary, settings: Settings) -> Any:
    return message.answer(
        texts.visit_summary(summary, settings.tz), reply_markup=keyboards.visit_summary(summary)
    )


async def _ask_outcome(
    message: Message, state: FSMContext, household_id: int, address: str, head_name: str
) -> Any:
    await state.set_state(VisitFlow.outcome)
    await state.set_data({"household_id": household_id})
    return message.answer(
        texts.visit_ask_outcome(address, head_name),
        reply_markup=keyboards.outcomes(household_id),
    )


# ---------------------------------------------------------------- /visit and /households


async def on_visit(
    message: Message, session: AsyncSession, clock: Clock, user: User, state: FSMContext
) -> Replies:
    try:
        dues = await visits.my_households(session, user)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    if not dues:
        return [message.answer(texts.NO_HOUSEHOLDS)]
    await state.set_state(VisitFlow.household)
    return [
        message.answer(
            texts.VISIT_CHOOSE, reply_markup=keyboards.visit_households(dues, clock.now())
        )
    ]


async def on_households(
    message: Message, session: AsyncSession, clock: Clock, user: User
) -> Replies:
    try:
        dues = await visits.my_households(session, user)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    if not dues:
        return [message.answer(texts.NO_HOUSEHOLDS)]
    return [
        message.answer(
            texts.HOUSEHOLDS_HEADER, reply_markup=keyboards.household_list(dues, clock.now())
        )
    ]


async def on_household_typed(
    message: Message, session: AsyncSession, clock: Clock, user: User, state: FSMContext
) -> Replies:
    try:
        found = await visits.find_households(session, user, message.text or "")
    except ServiceError as error:
        return [message.answer(_refused(error))]
    if len(found) == 1:
        household = found[0].household
        assert household.id is not None
        address = household_address(household)
        return [await _ask_outcome(message, state, household.id, address, household.head_name)]
    return [
        message.answer(
            texts.VISIT_PICK_ONE, reply_markup=keyboards.visit_households(found, clock.now())
        )
    ]


async def on_buttons_expected(message: Message) -> Replies:
    return [message.answer(texts.VISIT_BUTTONS_HINT)]


# ---------------------------------------------------------------- the steps


async def on_visit_step(
    callback: CallbackQuery,
    message: Message,
    callback_data: VisitCb,
    session: AsyncSession,
    clock: Clock,
    followup_rules: FollowUpRules,
    settings: Settings,
    classifier: Classifier,
    user: User,
    state: FSMContext,
) -> Replies:
    op, target, arg = callback_data.op, callback_data.id, callback_data.arg
    data = await state.get_data()
    current = await state.get_state()
    try:
        match op:
            case "h":
                household = await visits.household_for_visit(session, user, target)
                address = household_address(household)
                return [
                    callback.answer(),
                    await _ask_outcome(message, state, target, address, household.head_name),
                ]
            case "o" if 0 <= arg < len(OUTCOMES):
                household = await visits.household_for_visit(session, user, target)
                await state.set_state(VisitFlow.note)
                await state.set_data({"household_id": target, "outcome": arg})
                chosen = texts.visit_outcome_chosen(
                    household_address(household), household.head_name, OUTCOMES[arg]
                )
                return [
                    callback.answer(),
                    message.edit_text(chosen, reply_markup=None),
                    message.answer(
                        texts.VISIT_ASK_NOTE, reply_markup=keyboards.no_note(target, arg)
                    ),
                ]
            case "nn" if current == VisitFlow.note.state and data.get("household_id") == target:
                outcome = OUTCOMES[int(data["outcome"])]
                summary = await visits.record(session, clock, classifier, user, target, outcome, "")
                return [
                    callback.answer(),
                    message.edit_reply_markup(reply_markup=None),
                    await _after_record(message, state, summary, settings),
                ]
            case "n":
                filed = await visits.file_need(
                    session,
                    clock,
                    classifier,
                    user,
                    target,
                    callback_data.code,
                    ticket_handlers.rules(settings),
                    followup_rules=followup_rules,
                )
                if not filed.created:
                    already = texts.NEED_ALREADY.format(number=filed.ticket.number)
                    return [callback.answer(already, show_alert=True)]
                return [
                    callback.answer(),
                    message.edit_text(
                        texts.visit_summary(filed.summary, settings.tz),
                        reply_markup=keyboards.visit_summary(filed.summary),
                    ),
                    message.answer(texts.need_filed(filed.ticket)),
                ]
            case "e":
                visit = await visits.check_editable(session, clock, user, target)
                return [
                    callback.answer(),
                    message.answer(
                        texts.VISIT_EDIT_OUTCOME,
                        reply_markup=keyboards.outcomes(visit.household_id, visit_id=target),
                    ),
                ]
            case "eo" if 0 <= arg < len(OUTCOMES):
                await visits.check_editable(session, clock, user, target)
                await state.set_state(VisitFlow.edit_note)
                await state.set_data({"visit_id": target, "outcome": arg})
                return [
                    callback.answer(),
                    message.edit_reply_markup(reply_markup=None),
                    message.answer(
                        texts.VISIT_EDIT_NOTE, reply_markup=keyboards.keep_note(target, arg)
                    ),
                ]
            case "kn" if current == VisitFlow.edit_note.state and data.get("visit_id") == target:
                summary = await visits.correct(
                    session, clock, classifier, user, target, OUTCOMES[int(data["outcome"])], None
                )
                return [
                    callback.answer(),
                    message.edit_reply_markup(reply_markup=None),
                    await _after_record(message, state, summary, settings),
                ]
    except ServiceError as error:
        return [callback.answer(_refused(error), show_alert=True)]
    return [callback.answer(texts.BUTTON_EXPIRED, show_alert=True)]


async def _after_record(
    message: Message, state: FSMContext, summary: VisitSummary, settings: Settings
) -> Any:
    """The summary; a location or a photo may follow."""
    await state.set_state(VisitFlow.extras)
    await state.set_data({"visit_id": summary.visit.id})
    return _summary_replies(message, summary, settings)


async def on_note(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    classifier: Classifier,
    user: User,
    state: FSMContext,
) -> Replies:
    data = await state.get_data()
    note, photo = note_and_photo(message)
    try:
        summary = await visits.record(
            session,
            clock,
            classifier,
            user,
            int(data["household_id"]),
            OUTCOMES[int(data["outcome"])],
            note,
            photo_file_id=photo,
        )
    except ServiceError as error:
        return [message.answer(_refused(error))]
    return [await _after_record(message, state, summary, settings)]


async def on_edit_note(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    classifier: Classifier,
    user: User,
    state: FSMContext,
) -> Replies:
    data = await state.get_data()
    try:
        summary = await visits.correct(
            session,
            clock,
            classifier,
            user,
            int(data["visit_id"]),
            OUTCOMES[int(data["outcome"])],
            message.text or "",
        )
    except ServiceError as error:
        await state.clear()
        return [message.answer(_refused(error))]
    return [await _after_record(message, state, summary, settings)]


async def on_extra_location(
    message: Message, session: AsyncSession, clock: Clock, user: User, state: FSMContext
) -> Replies:
    assert message.location
    data = await state.get_data()
    try:
        await visits.attach_location(
            session,
            clock,
            user,
            int(data["visit_id"]),
            message.location.latitude,
            message.location.longitude,
        )
    except ServiceError as error:
        return [await _extras_refused(message, state, error)]
    return [message.answer(texts.VISIT_LOCATION_ADDED)]


async def on_extra_photo(
    message: Message, session: AsyncSession, clock: Clock, user: User, state: FSMContext
) -> Replies:
    assert message.photo
    data = await state.get_data()
    try:
        await visits.attach_photo(
            session, clock, user, int(data["visit_id"]), message.photo[-1].file_id
        )
    except ServiceError as error:
        return [await _extras_refused(message, state, error)]
    return [message.answer(texts.VISIT_PHOTO_ADDED)]


async def _extras_refused(message: Message, state: FSMContext, error: ServiceError) -> Any:
    """A visit too old to amend ends the step: what is sent next is handled as usual."""
    if error.refusal != Refusal.visit_has_photo:
        await state.clear()
    return message.answer(_refused(error))


async def on_text_after_visit(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    followup_rules: FollowUpRules,
    settings: Settings,
    classifier: Classifier,
    user: User,
    state: FSMContext,
) -> Replies:
    """The visit is done: words typed now are what they always are (a report)."""
    await state.clear()
    return await ticket_handlers.on_free_text(
        message, session, clock, followup_rules, settings, classifier, user, state
    )


# ---------------------------------------------------------------- the household card, /coverage


async def on_household_card(
    callback: CallbackQuery,
    message: Message,
    callback_data: HouseholdCardCb,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    user: User,
) -> Replies:
    try:
        card = await visits.household_card(session, clock, user, callback_data.id)
    except ServiceError as error:
        return [callback.answer(_refused(error), show_alert=True)]
    return [
        callback.answer(),
        message.answer(
            texts.household_card(card, clock.now(), settings.tz),
            reply_markup=keyboards.household_card(card),
        ),
    ]


async def on_coverage(
    message: Message, session: AsyncSession, clock: Clock, settings: Settings, user: User
) -> Replies:
    try:
        grids = await cadence.community_coverage(session, clock, user, settings.tz)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    return [message.answer(texts.coverage_text(grids), reply_markup=keyboards.coverage(grids))]


async def on_coverage_grid(
    callback: CallbackQuery,
    message: Message,
    callback_data: CoverageCb,
    session: AsyncSession,
    clock: Clock,
    user: User,
) -> Replies:
    try:
        grid, dues = await cadence.grid_households(session, user, callback_data.grid_id)
    except ServiceError as error:
        return [callback.answer(_refused(error), show_alert=True)]
    return [
        callback.answer(),
        message.answer(
            texts.grid_households_header(grid.name),
            reply_markup=keyboards.household_list(dues, clock.now()),
        ),
    ]


def make_router() -> Router:
    router = Router(name="visits")
    router.message.filter(Registered())
    router.callback_query.filter(Registered())
    not_command = ~F.text.startswith("/")
    router.message.register(on_visit, Command("visit"))
    router.message.register(on_households, Command("households"))
    router.message.register(on_coverage, Command("coverage"))
    router.message.register(on_household_typed, VisitFlow.household, F.text, not_command)
    router.message.register(on_buttons_expected, VisitFlow.outcome, F.text, not_command)
    router.message.register(on_note, VisitFlow.note, (F.text & not_command) | F.photo)
    router.message.register(on_edit_note, VisitFlow.edit_note, F.text, not_command)
    router.message.register(on_extra_location, VisitFlow.extras, F.location)
    router.message.register(on_extra_photo, VisitFlow.extras, F.photo)
    router.message.register(on_text_after_visit, VisitFlow.extras, F.text, not_command)
    router.callback_query.register(on_visit_step, VisitCb.filter())
    router.callback_query.register(on_household_card, HouseholdCardCb.filter())
    router.callback_query.register(on_coverage_grid, CoverageCb.filter())
    return router
