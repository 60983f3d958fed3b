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


@dataclass(frozen=True)
class Notice:
    text: str
    reply_markup: InlineKeyboardMarkup | None = None
    # A Telegram file_id to send as a photo, the text becoming its caption.
    photo: str | None = None


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
    return Notice(
        text=texts.notice_dispatched(payload),
        reply_markup=keyboards.task_offer(int(payload["ticket_id"])),
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
