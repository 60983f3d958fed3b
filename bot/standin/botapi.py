"""Bot API methods with Telegram's semantics, working on a ``SandboxState``.

Requests arrive here already validated against the spec (``ValidatedRequest``). A method
either returns its result or raises ``ApiError`` with Telegram's status and description.
Methods without an implementation answer ``True`` (``BotApi.is_implemented`` tells them apart).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from bot.standin.html import ParsedText
from bot.standin.store import SandboxState, StoredFile, StoredMessage
from bot.standin.validation import Upload, ValidatedRequest

__all__ = ["ApiError", "BotApi"]

Handler = Callable[[ValidatedRequest], Awaitable[Any]]

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"
MAX_POLL_TIMEOUT = 50


class ApiError(Exception):
    """A refused call. ``violation`` marks a malformed request (rather than a state problem)."""

    def __init__(self, status: int, description: str, *, violation: bool = False) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.violation = violation


def _bad(description: str, *, violation: bool = False) -> ApiError:
    return ApiError(400, f"Bad Request: {description}", violation=violation)


class BotApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._closing = False
        self._poll_generation = 0
        self._handlers: dict[str, Handler] = {
            "getme": self.get_me,
            "logout": self.ok,
            "close": self.ok,
            "getupdates": self.get_updates,
            "deletewebhook": self.delete_webhook,
            "getwebhookinfo": self.get_webhook_info,
            "sendmessage": self.send_message,
            "sendphoto": self.send_photo,
            "senddocument": self.send_document,
            "editmessagetext": self.edit_message_text,
            "editmessagecaption": self.edit_message_caption,
            "editmessagereplymarkup": self.edit_message_reply_markup,
            "deletemessage": self.delete_message,
            "deletemessages": self.delete_messages,
            "answercallbackquery": self.answer_callback_query,
            "sendchataction": self.send_chat_action,
            "setmycommands": self.set_my_commands,
            "getmycommands": self.get_my_commands,
            "deletemycommands": self.delete_my_commands,
            "setchatmenubutton": self.set_chat_menu_button,
            "getchatmenubutton": self.get_chat_menu_button,
            "getfile": self.get_file,
            "getchat": self.get_chat,
            "setmyname": self.set_my_name,
            "getmyname": self.get_my_name,
            "setmydescription": self.set_my_description,
            "getmydescription": self.get_my_description,
            "setmyshortdescription": self.set_my_short_description,
            "getmyshortdescription": self.get_my_short_description,
        }

    def is_implemented(self, method: str) -> bool:
        return method.lower() in self._handlers

    async def call(self, request: ValidatedRequest) -> Any:
        handler = self._handlers.get(request.method.name.lower(), self.ok)
        return await handler(request)

    def shutdown(self) -> None:
        """Release waiting long polls (server stopping)."""
        self._closing = True
        self.state.wake_pollers()

    def resume(self) -> None:
        """Serve long polls again (server starting)."""
        self._closing = False

    def chat_of(self, params: dict[str, Any]) -> int | None:
        """The chat a call is about: chat_id, or the chat of a callback query."""
        chat_id = params.get("chat_id")
        if isinstance(chat_id, int):
            return chat_id
        query = self.state.callback_queries.get(str(params.get("callback_query_id", "")))
        return query.user_id if query else None

    # ---- helpers -----------------------------------------------------------------------------

    def _chat(self, params: dict[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int) or chat_id == 0:
            raise _bad("chat not found")
        if chat_id < 0:  # a group: only those made with POST /sandbox/groups exist
            if not self.state.has_chat(chat_id):
                raise _bad("chat not found")
            return chat_id
        if not self.state.has_chat(chat_id):
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat_id

    def _target(self, params: dict[str, Any], verb: str) -> StoredMessage:
        if "inline_message_id" in params:
            raise _bad("inline messages are not supported by the stand-in")
        if "chat_id" not in params or "message_id" not in params:
            raise _bad("message identifier is not specified", violation=True)
        chat_id = params["chat_id"]
        if not isinstance(chat_id, int) or not self.state.has_chat(chat_id):
            raise _bad("chat not found")
        message = self.state.find_message(chat_id, params["message_id"])
        if message is None:
            raise _bad(f"message to {verb} not found")
        return message

    def _reply_to(self, chat_id: int, params: dict[str, Any]) -> int | None:
        reply = params.get("reply_parameters")
        if not reply:
            return None
        message_id = int(reply["message_id"])
        if self.state.find_message(chat_id, message_id) is None:
            if reply.get("allow_sending_without_reply"):
                return None
            raise _bad("message to be replied not found")
        return message_id

    def _file(self, value: Upload | str, kind: str) -> StoredFile:
        state = self.state
        if isinstance(value, Upload):
            if kind == "photo":
                return state.store_photo(value.data)
            return state.store_document(value.data, value.filename, value.content_type)
        if value.startswith(("http://", "https://")):
            # No network here: a URL becomes a placeholder file.
            if kind == "photo":
                placeholder = state.generated_photo()
                placeholder.source_url = value
                return placeholder
            name = PurePosixPath(urlsplit(value).path).name or "file"
            return state.store_document(b"", name, source_url=value)
        stored = state.files.get(value)
        if stored is None or stored.kind != kind:
            raise ApiError(400, WRONG_FILE)
        return stored

    def _send(self, chat_id: int, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        reply_to = self._reply_to(chat_id, params)
        message = self.state.add_message(
            chat_id, "bot", reply_markup=params.get("reply_markup"), reply_to=reply_to, **content
        )
        return self.state.message_api(message)

    @staticmethod
    def _text(request: ValidatedRequest, name: str) -> ParsedText:
        return request.formatted.get(name) or ParsedText("")

    # ---- methods -----------------------------------------------------------------------------

    async def ok(self, request: ValidatedRequest) -> Any:
        return True

    async def get_me(self, request: ValidatedRequest) -> Any:
        return {
            **self.state.bot_user(),
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def get_updates(self, request: ValidatedRequest) -> Any:
        params = request.params
        self._poll_generation += 1
        generation = self._poll_generation
        self.state.wake_pollers()  # an older long poll ends with 409
        if "offset" in params:
            self.state.confirm_updates(params["offset"])
        if "allowed_updates" in params:
            self.state.allowed_updates = list(params["allowed_updates"])
        limit = min(max(params.get("limit", 100), 1), 100)
        timeout = min(max(params.get("timeout", 0), 0), MAX_POLL_TIMEOUT)
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, POLL_CONFLICT)
            updates = self.state.take_updates(limit)
            remaining = deadline - time.monotonic()
            if updates or remaining <= 0 or self._closing:
                break
            await self.state.wait_for_update(remaining)
        for update in updates:
            update.delivered = True
        if updates:
            self.state.last_delivery = time.monotonic()
        return [u.update_api() for u in updates]

    async def delete_webhook(self, request: ValidatedRequest) -> Any:
        if request.params.get("drop_pending_updates"):
            self.state.updates.clear()
        return True

    async def get_webhook_info(self, request: ValidatedRequest) -> Any:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.state.updates),
        }

    async def send_message(self, request: ValidatedRequest) -> Any:
        chat_id = self._chat(request.params)
        text = self._text(request, "text")
        return self._send(chat_id, request.params, text=text.text, entities=text.entities)

    async def send_photo(self, request: ValidatedRequest) -> Any:
        chat_id = self._chat(request.params)
        photo = self._file(request.params["photo"], "photo")
        caption = self._text(request, "caption")
        return self._send(
            chat_id,
            request.params,
            photo=photo,
            caption=caption.text or None,
            caption_entities=caption.entities,
        )

    async def send_document(self, request: ValidatedRequest) -> Any:
        chat_id = self._chat(request.params)
        document = self._file(request.params["document"], "document")
        caption = self._text(request, "caption")
        return self._send(
            chat_id,
            request.params,
            document=document,
            caption=caption.text or None,
            caption_entities=caption.entities,
        )

    async def edit_message_text(self, request: ValidatedRequest) -> Any:
        params = request.params
        if "text" not in params:
            raise _bad("message text is empty", violation=True)
        message = self._target(params, "edit")
        if message.sender != "bot":
            raise _bad("message can't be edited")
        if message.text is None:
            raise _bad("there is no text in the message to edit")
        text = self._text(request, "text")
        markup = params.get("reply_markup")
        if (text.text, text.entities, markup) == (
            message.text,
            message.entities,
            message.reply_markup,
        ):
            raise ApiError(400, NOT_MODIFIED)
        self.state.edit_message(
            message, text=text.text, entities=text.entities, reply_markup=markup
        )
        return self.state.message_api(message)

    async def edit_message_caption(self, request: ValidatedRequest) -> Any:
        params = request.params
        message = self._target(params, "edit")
        if message.sender != "bot":
            raise _bad("message can't be edited")
        if not message.has_media:
            raise _bad("there is no caption in the message to edit")
        caption = self._text(request, "caption")
        markup = params.get("reply_markup")
        new = (caption.text or None, caption.entities, markup)
        if new == (message.caption, message.caption_entities, message.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        self.state.edit_message(
            message, caption=new[0], caption_entities=caption.entities, reply_markup=markup
        )
        return self.state.message_api(message)

    async def edit_message_reply_markup(self, request: ValidatedRequest) -> Any:
        params = request.params
        message = self._target(params, "edit")
        if message.sender != "bot":
            raise _bad("message can't be edited")
        markup = params.get("reply_markup")
        if markup == message.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        self.state.edit_message(message, reply_markup=markup)
        return self.state.message_api(message)

    async def delete_message(self, request: ValidatedRequest) -> Any:
        message = self._target(request.params, "delete")
        self.state.delete_message(message)
        return True

    async def delete_messages(self, request: ValidatedRequest) -> Any:
        chat_id = request.params["chat_id"]
        if not isinstance(chat_id, int) or not self.state.has_chat(chat_id):
            raise _bad("chat not found")
        ids = request.params["message_ids"]
        if not 1 <= len(ids) <= 100:
            raise _bad("message_ids must contain 1-100 identifiers", violation=True)
        for message_id in ids:
            message = self.state.find_message(chat_id, message_id)
            if message is not None:
                self.state.delete_message(message)
        return True

    async def answer_callback_query(self, request: ValidatedRequest) -> Any:
        params = request.params
        query = self.state.callback_queries.get(params["callback_query_id"])
        if query is None or query.answered:
            raise ApiError(400, QUERY_INVALID)
        self.state.record_answer(
            query,
            {
                "callback_query_id": query.id,
                "text": params.get("text"),
                "show_alert": bool(params.get("show_alert", False)),
                "url": params.get("url"),
            },
        )
        return True

    async def send_chat_action(self, request: ValidatedRequest) -> Any:
        self._chat(request.params)
        return True

    @staticmethod
    def _scope(params: dict[str, Any]) -> tuple[Any, ...]:
        scope = params.get("scope") or {"type": "default"}
        key: list[Any] = [scope["type"]]
        for name in ("chat_id", "user_id"):
            if name in scope:
                key.append(scope[name])
        return tuple(key)

    async def set_my_commands(self, request: ValidatedRequest) -> Any:
        params = request.params
        commands = [
            {"command": c["command"], "description": c["description"]} for c in params["commands"]
        ]
        self.state.set_commands(self._scope(params), params.get("language_code", ""), commands)
        return True

    async def get_my_commands(self, request: ValidatedRequest) -> Any:
        params = request.params
        key = (self._scope(params), params.get("language_code", ""))
        return list(self.state.commands.get(key, []))

    async def delete_my_commands(self, request: ValidatedRequest) -> Any:
        params = request.params
        self.state.set_commands(self._scope(params), params.get("language_code", ""), None)
        return True

    async def set_chat_menu_button(self, request: ValidatedRequest) -> Any:
        params = request.params
        chat_id = params.get("chat_id")
        if chat_id is not None and not self.state.has_chat(chat_id):
            raise _bad("chat not found")
        self.state.set_menu_button(chat_id, params.get("menu_button") or {"type": "default"})
        return True

    async def get_chat_menu_button(self, request: ValidatedRequest) -> Any:
        return self.state.menu_button(request.params.get("chat_id"))

    async def get_file(self, request: ValidatedRequest) -> Any:
        stored = self.state.files.get(request.params["file_id"])
        if stored is None:
            raise _bad("invalid file_id")
        return stored.file_api()

    async def get_chat(self, request: ValidatedRequest) -> Any:
        chat_id = request.params["chat_id"]
        user = self.state.user(chat_id) if isinstance(chat_id, int) else None
        if user is None:
            raise _bad("chat not found")
        return {
            **user.chat_api(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    def _set_text(self, request: ValidatedRequest, kind: str, field: str, limit: int) -> Any:
        params = request.params
        value = params.get(field, "")
        if len(value) > limit:
            raise _bad(f"{kind} is too long", violation=True)
        key = (kind, params.get("language_code", ""))
        if value:
            self.state.bot_texts[key] = value
        else:
            self.state.bot_texts.pop(key, None)
        return True

    def _get_text(self, request: ValidatedRequest, kind: str, field: str) -> Any:
        language = request.params.get("language_code", "")
        value = self.state.bot_texts.get((kind, language), "")
        if kind == "name" and not value:
            value = self.state.bot_name
        return {field: value}

    async def set_my_name(self, request: ValidatedRequest) -> Any:
        return self._set_text(request, "name", "name", 64)

    async def get_my_name(self, request: ValidatedRequest) -> Any:
        return self._get_text(request, "name", "name")

    async def set_my_description(self, request: ValidatedRequest) -> Any:
        return self._set_text(request, "description", "description", 512)

    async def get_my_description(self, request: ValidatedRequest) -> Any:
        return self._get_text(request, "description", "description")

    async def set_my_short_description(self, request: ValidatedRequest) -> Any:
        return self._set_text(request, "short_description", "short_description", 120)

    async def get_my_short_description(self, request: ValidatedRequest) -> Any:
        return self._get_text(request, "short_description", "short_description")
