"""Handlers return their replies instead of sending them.

The unit-of-work middleware commits the update's changes first and only then sends what the
handler returned, so a reply never announces something that was rolled back.
"""

from __future__ import annotations

from typing import Any

from aiogram.methods import SetMyCommands, TelegramMethod
from aiogram.types import BotCommand, BotCommandScopeChat

from handlers import texts
from storage.models import Role

Reply = TelegramMethod[Any]
Replies = list[Reply]


def menu_for(role: Role | None, chat_id: int) -> SetMyCommands:
    """The command menu of one user's chat, matching what /help lists."""
    commands = texts.COMMANDS[role] if role else texts.GUEST_COMMANDS
    return SetMyCommands(
        commands=[BotCommand(command=c, description=d) for c, d in commands],
        scope=BotCommandScopeChat(chat_id=chat_id),
    )
