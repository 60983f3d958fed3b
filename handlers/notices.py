"""What outbox rows say: each `kind` has one renderer from its JSON payload to a Notice.

Services enqueue facts (kind + payload); the words and buttons are chosen here, at send time,
so the rules never depend on the channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiogram.types import InlineKeyboardMarkup

from handlers import keyboards, texts
from services.stats import Summary


@dataclass(frozen=True)
class Notice:
    text: str
    reply_markup: InlineKeyboardMarkup | None = None
    # A Telegram file_id to send as a photo, the text becoming its caption.
    photo: str | None = None
    # Edit this earlier message of the chat instead of sending a new one.
    edit_message_id: int | None = None


Renderer = Callable[[dict[str, Any]], Notice]
RENDERERS: dict[str, Renderer] = {}


class UnknownNotice(KeyError):
    """An outbox row whose kind has no renderer: it is failed, not retried."""


def renders(kind: str) -> Callable[[Renderer], Renderer]:
    def register(function: Renderer) -> Renderer:
        RENDERERS[kind] = function
        return function

    return register


def render(kind: str, payload: dict[str, Any]) -> Notice:
    try:
        renderer = RENDERERS[kind]
    except KeyError:
        raise UnknownNotice(kind) from None
    return renderer(payload)


@renders("text")
def plain_text(payload: dict[str, Any]) -> Notice:
    """A ready-made HTML text (e.g. a coordinator's broadcast, already escaped)."""
    return Notice(text=str(payload["text"]), photo=payload.get("photo"))


@renders("user_text")
def user_text(payload: dict[str, Any]) -> Notice:
    """Text a person typed, shown as they typed it."""
    return Notice(text=texts.esc(payload["text"]), photo=payload.get("photo"))


@renders("ticket_status")
def ticket_status(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_status(payload), photo=payload.get("photo"))


@renders("ticket_confirm")
def ticket_confirm(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.notice_confirm(payload),
        reply_markup=keyboards.confirm(int(payload["ticket_id"])),
        photo=payload.get("photo"),
    )


@renders("ticket_urgent")
def ticket_urgent(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.notice_urgent(payload),
        reply_markup=keyboards.open_ticket(int(payload["ticket_id"])),
    )


@renders("ticket_dispatched")
def ticket_dispatched(payload: dict[str, Any]) -> Notice:
    # Since issue 5 a dispatch carries its task: 接单 / 无法处理 act on the task.
    task_id = payload.get("task_id")
    return Notice(
        text=texts.notice_dispatched(payload),
        reply_markup=keyboards.task_offer_buttons(int(task_id))
        if task_id
        else keyboards.task_offer(int(payload["ticket_id"])),
    )


@renders("ticket_declined")
def ticket_declined(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.notice_declined(payload),
        reply_markup=keyboards.open_ticket(int(payload["ticket_id"])),
    )


@renders("ticket_supervise")
def ticket_supervise(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.notice_supervise(payload),
        reply_markup=keyboards.open_ticket(int(payload["ticket_id"])),
    )


@renders("ticket_escalated")
def ticket_escalated(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.notice_escalated(payload),
        reply_markup=keyboards.open_ticket(int(payload["ticket_id"])),
    )


# ---------------------------------------------------------------- tasks (issue 5)


@renders("task_offer")
def task_offer(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.notice_task_offer(payload),
        reply_markup=keyboards.task_offer_buttons(int(payload["task_id"])),
    )


@renders("task_taken")
def task_taken(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_task_taken(payload))


@renders("task_accepted")
def task_accepted(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.notice_task_accepted(payload),
        reply_markup=keyboards.open_task(int(payload["task_id"])),
    )


@renders("task_declined")
def task_declined(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.notice_task_declined(payload),
        reply_markup=keyboards.open_task(int(payload["task_id"])),
    )


@renders("task_done")
def task_done(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.notice_task_done(payload),
        reply_markup=keyboards.task_review(int(payload["task_id"])),
        photo=payload.get("photo"),
    )


@renders("task_confirmed")
def task_confirmed(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_task_confirmed(payload))


@renders("task_returned")
def task_returned(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.notice_task_returned(payload),
        reply_markup=keyboards.task_redo(int(payload["task_id"])),
    )


# ---------------------------------------------------------------- follow-ups and events (issue 6)


def _open_ticket(payload: dict[str, Any]) -> InlineKeyboardMarkup:
    return keyboards.open_ticket(int(payload["ticket_id"]))


@renders("followup_ack_remind")
def followup_ack_remind(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_ack_remind(payload), reply_markup=_open_ticket(payload))


@renders("followup_escalated")
def followup_escalated(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.notice_escalated_supervision(payload), reply_markup=_open_ticket(payload)
    )


@renders("followup_supervised")
def followup_supervised(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_supervised(payload), reply_markup=_open_ticket(payload))


@renders("followup_take_remind")
def followup_take_remind(payload: dict[str, Any]) -> Notice:
    task_id = payload.get("task_id")  # as ticket_dispatched: the buttons act on the task
    return Notice(
        text=texts.notice_take_remind(payload),
        reply_markup=keyboards.task_offer_buttons(int(task_id))
        if task_id
        else keyboards.task_offer(int(payload["ticket_id"])),
    )


@renders("followup_take_returned")
def followup_take_returned(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_take_returned(payload), reply_markup=_open_ticket(payload))


@renders("followup_take_withdrawn")
def followup_take_withdrawn(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_take_withdrawn(payload))


@renders("followup_confirm_ask")
def followup_confirm_ask(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.notice_confirm_ask(payload),
        reply_markup=keyboards.confirm(int(payload["ticket_id"])),
    )


@renders("followup_timeout_closed")
def followup_timeout_closed(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_timeout_closed(payload))


@renders("followup_task_remind")
def followup_task_remind(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_task_remind(payload))


@renders("followup_task_unaccepted")
def followup_task_unaccepted(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_task_unaccepted(payload))


@renders("followup_task_overdue")
def followup_task_overdue(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_task_overdue(payload))


@renders("followup_task_overdue_staff")
def followup_task_overdue_staff(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_task_overdue_staff(payload))


@renders("followup_visit_digest")
def followup_visit_digest(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_visit_digest(payload))


@renders("followup_monthly_summary")
def followup_monthly_summary(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.summary_text(Summary.from_payload(payload)))


@renders("event_announce")
def event_announce(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.notice_event_announce(payload),
        reply_markup=keyboards.event_join(int(payload["event_id"])),
    )


@renders("event_promoted")
def event_promoted(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_event_promoted(payload))


@renders("event_reminder")
def event_reminder(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.notice_event_reminder(payload))


@renders("event_rate_ask")
def event_rate_ask(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.notice_event_rate_ask(payload),
        reply_markup=keyboards.event_rating(int(payload["event_id"])),
    )


@renders("event_digest")
def event_digest(payload: dict[str, Any]) -> Notice:
    found = [(int(e["event_id"]), str(e["title"])) for e in payload["events"]]
    return Notice(
        text=texts.notice_event_digest(payload), reply_markup=keyboards.event_digest(found)
    )


@renders("broadcast_progress")
def broadcast_progress(payload: dict[str, Any]) -> Notice:
    return Notice(
        text=texts.broadcast_progress(payload),
        reply_markup=keyboards.broadcast_running(int(payload["broadcast_id"])),
        edit_message_id=int(payload["message_id"]),
    )


@renders("broadcast_report")
def broadcast_report(payload: dict[str, Any]) -> Notice:
    return Notice(text=texts.broadcast_report(payload), edit_message_id=int(payload["message_id"]))
