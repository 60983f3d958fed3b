"""The stand-in's world: users, private chats and their messages, files, updates, commands.

Everything lives in memory on one event loop. ``SandboxState`` also builds the Telegram objects
(Message, Update, CallbackQuery, ...) the Bot API returns, and the plain views the control API
shows (``message_view``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from bot.standin.html import utf16_len
from bot.standin.media import guess_mime_type, image_size, make_png

__all__ = [
    "CallbackQueryRecord",
    "Clock",
    "GroupRecord",
    "PendingUpdate",
    "SandboxState",
    "StoredFile",
    "StoredMessage",
    "UserRecord",
]

Sender = Literal["bot", "user"]
# Update kinds delivered when allowed_updates is empty or was never given.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
USER_LANGUAGE = "zh-hans"


class Clock(Protocol):
    """Anything with ``now()`` returning an aware datetime (services.clock.Clock fits)."""

    def now(self) -> datetime: ...


class _SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: Literal["photo", "document"]
    data: bytes
    file_path: str
    mime_type: str
    file_name: str | None = None
    width: int = 0
    height: int = 0
    source_url: str | None = None

    def file_api(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }

    def photo_sizes(self) -> list[dict[str, Any]]:
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "width": self.width,
                "height": self.height,
                "file_size": len(self.data),
            }
        ]

    def document_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "mime_type": self.mime_type,
            "file_size": len(self.data),
        }
        if self.file_name is not None:
            out["file_name"] = self.file_name
        return out


@dataclass
class StoredMessage:
    message_id: int
    chat_id: int
    sender: Sender
    date: int
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    photo: StoredFile | None = None
    document: StoredFile | None = None
    location: dict[str, float] | None = None
    reply_to: int | None = None
    edited: bool = False
    edit_date: int | None = None

    @property
    def has_media(self) -> bool:
        return self.photo is not None or self.document is not None

    def inline_buttons(self) -> Iterable[dict[str, Any]]:
        markup = self.reply_markup or {}
        for row in markup.get("inline_keyboard", []):
            yield from row


@dataclass
class UserRecord:
    id: int
    first_name: str
    language_code: str = USER_LANGUAGE

    def user_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }

    def chat_api(self) -> dict[str, Any]:
        return {"id": self.id, "type": "private", "first_name": self.first_name}


@dataclass
class GroupRecord(UserRecord):
    """A group (negative id) the bot is a member of; ``first_name`` holds its title."""

    def chat_api(self) -> dict[str, Any]:
        kind = "supergroup" if str(self.id).startswith("-100") else "group"
        return {"id": self.id, "type": kind, "title": self.first_name}


@dataclass
class PendingUpdate:
    update_id: int
    kind: str
    payload: dict[str, Any]
    delivered: bool = False

    def update_api(self) -> dict[str, Any]:
        return {"update_id": self.update_id, self.kind: self.payload}


@dataclass
class CallbackQueryRecord:
    id: str
    user_id: int
    message_id: int
    data: str
    answered: bool = False


@dataclass
class _Chat:
    user: UserRecord
    messages: list[StoredMessage] = field(default_factory=list)
    next_message_id: int = 1
    answers: list[dict[str, Any]] = field(default_factory=list)


class SandboxState:
    """All state of one stand-in. Methods raise nothing; callers check existence first."""

    def __init__(
        self,
        *,
        bot_id: int,
        bot_username: str,
        bot_name: str,
        seed: int,
        clock: Clock | None = None,
        first_update_id: int | None = None,
    ) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.seed = seed
        self.clock: Clock = clock or _SystemClock()
        ids = random.Random(f"standin-ids:{seed}")
        self._next_update_id = ids.randint(100_000_000, 800_000_000)
        if first_update_id is not None:
            self._next_update_id = first_update_id
        self._next_callback_id = ids.randint(10**17, 9 * 10**17)
        self._file_counter = 0
        self._users: dict[int, UserRecord] = {}
        self._chats: dict[int, _Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.updates: list[PendingUpdate] = []
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        # (scope key, language code) -> commands
        self.commands: dict[tuple[tuple[Any, ...], str], list[dict[str, str]]] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.bot_texts: dict[tuple[str, str], str] = {}
        self.allowed_updates: list[str] | None = None
        self.last_delivery = 0.0
        self.version = 0
        self._update_event = asyncio.Event()
        self._change_event = asyncio.Event()

    # ---- time, ids, notifications ------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock.now().timestamp())

    def _changed(self) -> None:
        self.version += 1
        self._change_event.set()
        self._change_event = asyncio.Event()

    def wake_pollers(self) -> None:
        self._update_event.set()
        self._update_event = asyncio.Event()

    async def wait_for_update(self, seconds: float) -> None:
        """Sleep until a new update is queued (or wake_pollers is called), at most seconds."""
        event = self._update_event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    async def wait_for_change(self, since: int, seconds: float) -> None:
        """Sleep until ``version`` moves past ``since``, at most ``seconds``."""
        deadline = time.monotonic() + seconds
        while self.version <= since:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            event = self._change_event
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return

    def _token(self, prefix: str, size: int) -> str:
        self._file_counter += 1
        digest = hashlib.sha256(f"{self.seed}:{prefix}:{self._file_counter}".encode()).digest()
        return prefix + base64.urlsafe_b64encode(digest).decode().rstrip("=")[:size]

    def chat_instance(self, chat_id: int) -> str:
        digest = hashlib.sha256(f"{self.seed}:{self.bot_id}:{chat_id}".encode()).digest()
        return str(-int.from_bytes(digest[:7], "big"))

    # ---- users and chats ---------------------------------------------------------------------

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
        }

    def user(self, user_id: int) -> UserRecord | None:
        return self._users.get(user_id)

    def ensure_user(self, user_id: int, first_name: str | None = None) -> UserRecord:
        user = self._users.get(user_id)
        if user is None:
            user = UserRecord(user_id, first_name or f"用户{user_id}")
            self._users[user_id] = user
            self._chats[user_id] = _Chat(user)
            self._changed()
        elif first_name and first_name != user.first_name:
            user.first_name = first_name
            self._changed()
        return user

    def ensure_group(self, chat_id: int, title: str) -> GroupRecord:
        """A group chat the bot may write to (it is no user: ``user()`` does not find it)."""
        chat = self._chats.get(chat_id)
        if chat is not None and isinstance(chat.user, GroupRecord):
            if chat.user.first_name != title:
                chat.user.first_name = title
                self._changed()
            return chat.user
        group = GroupRecord(chat_id, title)
        self._chats[chat_id] = _Chat(group)
        self._changed()
        return group

    def chat_ids(self) -> list[int]:
        return sorted(self._chats)

    def has_chat(self, chat_id: int) -> bool:
        return chat_id in self._chats

    def messages(self, chat_id: int) -> list[StoredMessage]:
        chat = self._chats.get(chat_id)
        return list(chat.messages) if chat else []

    def find_message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        chat = self._chats.get(chat_id)
        if chat is None:
            return None
        return next((m for m in chat.messages if m.message_id == message_id), None)

    def add_message(self, chat_id: int, sender: Sender, **content: Any) -> StoredMessage:
        chat = self._chats[chat_id]
        message = StoredMessage(
            message_id=chat.next_message_id,
            chat_id=chat_id,
            sender=sender,
            date=self.now(),
            **content,
        )
        chat.next_message_id += 1
        chat.messages.append(message)
        self._changed()
        return message

    def edit_message(self, message: StoredMessage, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(message, key, value)
        message.edited = True
        message.edit_date = self.now()
        self._changed()

    def delete_message(self, message: StoredMessage) -> None:
        chat = self._chats[message.chat_id]
        chat.messages = [m for m in chat.messages if m is not message]
        self._changed()

    def callback_answers(self, chat_id: int) -> list[dict[str, Any]]:
        chat = self._chats.get(chat_id)
        return list(chat.answers) if chat else []

    def record_answer(self, query: CallbackQueryRecord, answer: dict[str, Any]) -> None:
        query.answered = True
        self._chats[query.user_id].answers.append(answer)
        self._changed()

    # ---- files -------------------------------------------------------------------------------

    def store_photo(self, data: bytes, *, source_url: str | None = None) -> StoredFile:
        width, height = image_size(data) or (320, 320)
        file_id = self._token("AgACAgUAAxkBAAI", 48)
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=self._token("AQAD", 12),
            kind="photo",
            data=data,
            file_path=f"photos/file_{self._file_counter}.{_extension(data, 'jpg')}",
            mime_type=guess_mime_type("", data, "image/jpeg"),
            width=width,
            height=height,
            source_url=source_url,
        )
        self.files[file_id] = stored
        return stored

    def store_document(
        self,
        data: bytes,
        file_name: str,
        content_type: str | None = None,
        source_url: str | None = None,
    ) -> StoredFile:
        file_id = self._token("BQACAgUAAxkBAAI", 48)
        fallback = content_type or "application/octet-stream"
        if fallback in ("application/octet-stream", ""):
            mime = guess_mime_type(file_name, data, "application/octet-stream")
        else:
            mime = fallback
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=self._token("AgAD", 12),
            kind="document",
            data=data,
            file_path=f"documents/file_{self._file_counter}{_suffix(file_name)}",
            mime_type=mime,
            file_name=file_name,
            source_url=source_url,
        )
        self.files[file_id] = stored
        return stored

    def generated_photo(self) -> StoredFile:
        shade = random.Random(f"standin-photo:{self.seed}:{self._file_counter}")
        rgb = (shade.randint(40, 190), shade.randint(40, 190), shade.randint(40, 190))
        return self.store_photo(make_png(64, 48, rgb))

    def file_by_path(self, file_path: str) -> StoredFile | None:
        return next((f for f in self.files.values() if f.file_path == file_path), None)

    # ---- updates -----------------------------------------------------------------------------

    def queue_update(self, kind: str, payload: dict[str, Any]) -> PendingUpdate:
        update = PendingUpdate(self._next_update_id, kind, payload)
        self._next_update_id += 1
        self.updates.append(update)
        self.wake_pollers()
        return update

    def confirm_updates(self, offset: int) -> None:
        """getUpdates offset: forget updates below it; a negative one keeps the last -offset."""
        if offset > 0:
            self.updates = [u for u in self.updates if u.update_id >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]

    def take_updates(self, limit: int) -> list[PendingUpdate]:
        """Unconfirmed updates the bot wants, oldest first; unwanted kinds are dropped."""
        allowed = self.allowed_updates
        excluded = DEFAULT_EXCLUDED_UPDATES
        wanted: list[PendingUpdate] = []
        kept: list[PendingUpdate] = []
        for update in self.updates:
            if (update.kind in allowed) if allowed else (update.kind not in excluded):
                kept.append(update)
                if len(wanted) < limit:
                    wanted.append(update)
        self.updates = kept
        return wanted

    def all_delivered(self) -> bool:
        return all(u.delivered for u in self.updates)

    # ---- user actions (control API) ----------------------------------------------------------

    def user_message(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        text: str | None = None,
        photo: bool = False,
        caption: str | None = None,
        location: dict[str, float] | None = None,
    ) -> tuple[PendingUpdate, StoredMessage]:
        self.ensure_user(user_id, first_name)
        content: dict[str, Any] = {}
        if text is not None:
            content["text"] = text
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                content["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
                ]
        if photo:
            content["photo"] = self.generated_photo()
            content["caption"] = caption
        if location is not None:
            content["location"] = location
        message = self.add_message(user_id, "user", **content)
        update = self.queue_update("message", self.message_api(message))
        return update, message

    def press(
        self, user_id: int, message: StoredMessage | None, message_id: int, data: str
    ) -> tuple[PendingUpdate, CallbackQueryRecord]:
        user = self.ensure_user(user_id)
        query_id = str(self._next_callback_id)
        self._next_callback_id += 1
        if message is not None:
            shown: dict[str, Any] = self.message_api(message)
        else:
            shown = {"chat": user.chat_api(), "message_id": message_id, "date": 0}
        payload = {
            "id": query_id,
            "from": user.user_api(),
            "message": shown,
            "chat_instance": self.chat_instance(user_id),
            "data": data,
        }
        record = CallbackQueryRecord(query_id, user_id, message_id, data)
        self.callback_queries[query_id] = record
        return self.queue_update("callback_query", payload), record

    # ---- Telegram objects and views ----------------------------------------------------------

    def message_api(self, message: StoredMessage, *, with_reply: bool = True) -> dict[str, Any]:
        chat = self._chats[message.chat_id]
        sender = self.bot_user() if message.sender == "bot" else chat.user.user_api()
        out: dict[str, Any] = {
            "message_id": message.message_id,
            "from": sender,
            "chat": chat.user.chat_api(),
            "date": message.date,
        }
        if message.edit_date is not None:
            out["edit_date"] = message.edit_date
        if with_reply and message.reply_to is not None:
            replied = self.find_message(message.chat_id, message.reply_to)
            if replied is not None:
                out["reply_to_message"] = self.message_api(replied, with_reply=False)
        if message.text is not None:
            out["text"] = message.text
            if message.entities:
                out["entities"] = message.entities
        if message.photo is not None:
            out["photo"] = message.photo.photo_sizes()
        if message.document is not None:
            out["document"] = message.document.document_api()
        if message.caption:
            out["caption"] = message.caption
            if message.caption_entities:
                out["caption_entities"] = message.caption_entities
        if message.location is not None:
            out["location"] = dict(message.location)
        markup = message.reply_markup
        if markup is not None and "inline_keyboard" in markup:
            out["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        return out

    @staticmethod
    def message_view(message: StoredMessage) -> dict[str, Any]:
        document = message.document
        return {
            "message_id": message.message_id,
            "from": message.sender,
            "text": message.text,
            "entities": message.entities or None,
            "caption": message.caption,
            "reply_markup": message.reply_markup,
            "has_photo": message.photo is not None,
            "photo_file_id": message.photo.file_id if message.photo else None,
            "document": (
                {
                    "file_id": document.file_id,
                    "file_name": document.file_name,
                    "mime_type": document.mime_type,
                }
                if document
                else None
            ),
            "location": message.location,
            "reply_to_message_id": message.reply_to,
            "edited": message.edited,
            "date": message.date,
        }

    def chat_commands(self, chat_id: int) -> list[dict[str, str]]:
        """Commands a private chat shows: chat scope, then all private chats, then default."""
        user = self._users.get(chat_id)
        language = (user.language_code if user else "").split("-")[0]
        scopes: list[tuple[Any, ...]] = [("chat", chat_id), ("all_private_chats",), ("default",)]
        for scope in scopes:
            for lang in (language, ""):
                commands = self.commands.get((scope, lang))
                if commands:
                    return list(commands)
        return []

    def set_commands(
        self, scope: tuple[Any, ...], language: str, commands: list[dict[str, str]] | None
    ) -> None:
        if commands:
            self.commands[(scope, language)] = commands
        else:
            self.commands.pop((scope, language), None)
        self._changed()

    def set_menu_button(self, chat_id: int | None, button: dict[str, Any]) -> None:
        self.menu_buttons[chat_id] = button
        self._changed()

    def menu_button(self, chat_id: int | None) -> dict[str, Any]:
        if chat_id is not None and chat_id in self.menu_buttons:
            return self.menu_buttons[chat_id]
        return self.menu_buttons.get(None, {"type": "default"})


def _extension(data: bytes, fallback: str) -> str:
    if data.startswith(b"\x89PNG"):
        return "png"
    if data[:3] == b"GIF":
        return "gif"
    return fallback


def _suffix(file_name: str) -> str:
    dot = file_name.rfind(".")
    suffix = file_name[dot:] if dot > 0 else ""
    return suffix if suffix[1:].isalnum() and len(suffix) <= 10 else ""
