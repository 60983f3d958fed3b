"""What outbox rows say: each `kind` has one renderer from its JSON payload to a Notice.

Services enqueue facts (kind + payload); the words and buttons are chosen here, at send time,
so the rules never depend on the channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiogram.types import InlineKeyboardMarkup

from handlers import texts


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
