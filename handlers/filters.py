"""Router filters shared by the feature routers."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message

from storage.models import User


class Registered(Filter):
    """The sender has agreed to the notice and is an active user."""

    async def __call__(self, event: Any, user: User | None = None) -> bool:
        return user is not None and user.consent_at is not None and user.active


class AccessibleMessage(Filter):
    """A button on a message the bot can still see and edit (Telegram hides messages older
    than 48 hours); hands it to the handler as `message`."""

    async def __call__(self, callback: CallbackQuery) -> bool | dict[str, Any]:
        if isinstance(callback.message, Message):
            return {"message": callback.message}
        return False
