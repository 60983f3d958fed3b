"""Handlers return their replies instead of sending them.

The unit-of-work middleware commits the update's changes first and only then sends what the
handler returned, so a reply never announces something that was rolled back. ``note_and_photo`` reads what a
user's message carries for the flows that accept a note with an optional photo.
"""

from __future__ import annotations

from typing import Any

from aiogram.methods import SetMyCommands, TelegramMethod
from aiogram.types import BotCommand, BotCommandScopeChat, Message

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


def note_and_photo(message: Message) -> tuple[str, str | None]:
    """A message's text (or a photo's caption) and the file id of its largest photo, if any."""
    photo = message.photo[-1].file_id if message.photo else None
    return message.text or message.caption or "", photo
