"""Tasks in chat: a coordinator's /task (text → due time → a grid or a volunteer) and
/taskboard with 确认 / 退回; a volunteer's /tasks with 接单 / 无法处理 / 完成 (已处理 for a
dispatched ticket). Rules live in services.tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from config.settings import Settings
from handlers import keyboards, texts
from handlers.filters import Registered
from handlers.keyboards import TaskCb, TaskNewCb
from handlers.replies import Replies, note_and_photo
from services import tasks
from services.clock import Clock
from services.errors import Refusal, ServiceError
from services.followups import FollowUpRules
from services.tasks import TaskAction
from storage.models import User


class TaskFlow(StatesGroup):
    text = State()
    due = State()  # data: text
    target = State()  # data: text, due (ISO or None)
    result = State()  # data: task_id
    reason = State()  # data: task_id, op (decline | return)


def _refused(error: ServiceError) -> str:
    return texts.task_refusal(error.refusal, error.details)


# ---------------------------------------------------------------- creating (coordinators)


async def on_task_command(
    message: Message, session: AsyncSession, user: User, state: FSMContext
) -> Replies:
    try:
        options = await tasks.targets(session, user)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    if not options:
        return [message.answer(texts.TASK_NO_TARGETS)]
    await state.set_state(TaskFlow.text)
    return [message.answer(texts.TASK_ASK_TEXT)]


async def on_task_text(message: Message, user: User, state: FSMContext) -> Replies:
    try:
        text = tasks.clean_text(user, message.text or "")
    except ServiceError as error:
        return [message.answer(_refused(error))]
    await state.set_state(TaskFlow.due)
    await state.set_data({"text": text})
    return [message.answer(texts.TASK_ASK_DUE, reply_markup=keyboards.no_due())]


async def _ask_target(
    message: Message, session: AsyncSession, user: User, state: FSMContext, due: datetime | None
) -> Any:
    options = await tasks.targets(session, user)
    await state.set_state(TaskFlow.target)
    await state.update_data({"due": due.isoformat() if due else None})
    return message.answer(texts.TASK_ASK_TARGET, reply_markup=keyboards.task_targets(options))


async def on_task_due(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    user: User,
    state: FSMContext,
) -> Replies:
    try:
        due = tasks.parse_due(clock, message.text or "", settings.tz)
        return [await _ask_target(message, session, user, state, due)]
    except ServiceError as error:
        return [message.answer(_refused(error))]


async def on_target_expected(message: Message) -> Replies:
    return [message.answer(texts.VISIT_BUTTONS_HINT)]


async def on_task_new(
    callback: CallbackQuery,
    message: Message,
    callback_data: TaskNewCb,
    session: AsyncSession,
    clock: Clock,
    followup_rules: FollowUpRules,
    settings: Settings,
    user: User,
    state: FSMContext,
) -> Replies:
    current = await state.get_state()
    data = await state.get_data()
    if "text" not in data:
        return [callback.answer(texts.BUTTON_EXPIRED, show_alert=True)]
    try:
        if callback_data.kind == "nodue" and current == TaskFlow.due.state:
            return [
                callback.answer(),
                message.edit_reply_markup(reply_markup=None),
                await _ask_target(message, session, user, state, None),
            ]
        if callback_data.kind in ("g", "v") and current == TaskFlow.target.state:
            due = datetime.fromisoformat(data["due"]) if data.get("due") else None
            view = await tasks.create(
                session,
                clock,
                user,
                str(data["text"]),
                due,
                grid_id=callback_data.id if callback_data.kind == "g" else None,
                volunteer_id=callback_data.id if callback_data.kind == "v" else None,
                followup_rules=followup_rules,
            )
            await state.clear()
            return [
                callback.answer(),
                message.edit_text(texts.task_created(view, settings.tz), reply_markup=None),
            ]
    except ServiceError as error:
        return [callback.answer(_refused(error), show_alert=True)]
    return [callback.answer(texts.BUTTON_EXPIRED, show_alert=True)]


# ---------------------------------------------------------------- lists


async def on_my_tasks(message: Message, session: AsyncSession, clock: Clock, user: User) -> Replies:
    try:
        found = await tasks.mine(session, user)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    if not found:
        return [message.answer(texts.NO_TASKS)]
    return [
        message.answer(texts.MY_TASKS_HEADER, reply_markup=keyboards.task_list(found, clock.now()))
    ]


async def on_board(message: Message, session: AsyncSession, clock: Clock, user: User) -> Replies:
    try:
        found = await tasks.board(session, user)
    except ServiceError as error:
        return [message.answer(_refused(error))]
    if not found:
        return [message.answer(texts.NO_BOARD_TASKS)]
    return [
        message.answer(texts.TASKBOARD_HEADER, reply_markup=keyboards.task_list(found, clock.now()))
    ]


# ---------------------------------------------------------------- steps on one task


async def on_task_step(
    callback: CallbackQuery,
    message: Message,
    callback_data: TaskCb,
    session: AsyncSession,
    clock: Clock,
    followup_rules: FollowUpRules,
    settings: Settings,
    user: User,
    state: FSMContext,
) -> Replies:
    op, task_id = callback_data.op, callback_data.id
    try:
        match op:
            case "card":
                view = await tasks.view(session, user, task_id)
                return [
                    callback.answer(),
                    message.answer(
                        texts.task_card(view, settings.tz, clock.now()),
                        reply_markup=keyboards.task_actions(view, user),
                    ),
                ]
            case "take":
                view = await tasks.accept(
                    session, clock, user, task_id, followup_rules=followup_rules
                )
                return [
                    callback.answer(texts.ACTION_NAMES["take"] + " ✓"),
                    message.edit_reply_markup(reply_markup=keyboards.task_actions(view, user)),
                    message.answer(texts.task_taken_reply(view)),
                ]
            case "dc" | "ret":
                action = TaskAction.decline if op == "dc" else TaskAction.give_back
                await tasks.check_allowed(session, user, task_id, action)
                await state.set_state(TaskFlow.reason)
                await state.set_data({"task_id": task_id, "op": action.value})
                ask = texts.TASK_ASK_DECLINE if op == "dc" else texts.TASK_ASK_RETURN
                return [callback.answer(), message.answer(ask)]
            case "done":
                task = await tasks.check_allowed(session, user, task_id, TaskAction.complete)
                await state.set_state(TaskFlow.result)
                await state.set_data({"task_id": task_id})
                ask = texts.ASK_RESOLUTION if task.ticket_id else texts.TASK_ASK_RESULT
                return [callback.answer(), message.answer(ask)]
            case "ok":
                view = await tasks.confirm(
                    session, clock, user, task_id, followup_rules=followup_rules
                )
                return [
                    callback.answer(texts.BTN_TASK_CONFIRM + " ✓"),
                    message.edit_reply_markup(reply_markup=None),
                    message.answer(texts.task_confirmed_reply(view)),
                ]
    except ServiceError as error:
        replies: Replies = [callback.answer(_refused(error), show_alert=True)]
        if error.refusal == Refusal.task_taken and message.reply_markup is not None:
            replies.append(message.edit_reply_markup(reply_markup=None))
        return replies
    return [callback.answer(texts.BUTTON_EXPIRED, show_alert=True)]


async def on_result(
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
        view = await tasks.complete(
            session,
            clock,
            user,
            int(data["task_id"]),
            note,
            photo,
            followup_rules=followup_rules,
        )
    except ServiceError as error:
        if error.refusal != Refusal.empty_text:
            await state.clear()
        return [message.answer(_refused(error))]
    await state.clear()
    return [message.answer(texts.task_completed_reply(view))]


async def on_reason(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    followup_rules: FollowUpRules,
    user: User,
    state: FSMContext,
) -> Replies:
    data = await state.get_data()
    task_id, reason = int(data["task_id"]), message.text or ""
    try:
        if data.get("op") == TaskAction.give_back.value:
            view = await tasks.give_back(
                session, clock, user, task_id, reason, followup_rules=followup_rules
            )
            reply = texts.task_returned_reply(view)
        else:
            view = await tasks.decline(
                session, clock, user, task_id, reason, followup_rules=followup_rules
            )
            reply = texts.task_declined_reply(view)
    except ServiceError as error:
        if error.refusal != Refusal.empty_text:
            await state.clear()
        return [message.answer(_refused(error))]
    await state.clear()
    return [message.answer(reply)]


def make_router() -> Router:
    router = Router(name="tasks")
    router.message.filter(Registered())
    router.callback_query.filter(Registered())
    not_command = ~F.text.startswith("/")
    router.message.register(on_task_command, Command("task"))
    router.message.register(on_my_tasks, Command("tasks"))
    router.message.register(on_board, Command("taskboard"))
    router.message.register(on_task_text, TaskFlow.text, F.text, not_command)
    router.message.register(on_task_due, TaskFlow.due, F.text, not_command)
    router.message.register(on_target_expected, TaskFlow.target, F.text, not_command)
    router.message.register(on_result, TaskFlow.result, (F.text & not_command) | F.photo)
    router.message.register(on_reason, TaskFlow.reason, F.text, not_command)
    router.callback_query.register(on_task_step, TaskCb.filter())
    router.callback_query.register(on_task_new, TaskNewCb.filter())
    return router
