"""Router filters shared by the feature routers."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter

from storage.models import User


class Registered(Filter):
    """The sender has agreed to the notice and is an active user."""

    async def __call__(self, event: Any, user: User | None = None) -> bool:
        return user is not None and user.consent_at is not None and user.active
