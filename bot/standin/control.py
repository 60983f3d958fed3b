"""The control API under ``/sandbox/``: play the users, inspect chats, inject faults.

Every route answers JSON; a malformed request gets 400 ``{"error": "..."}``. The routes are
documented with examples in docs/sandbox.md.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from bot.standin.html import utf16_len

if TYPE_CHECKING:
    from bot.standin.server import StandIn

__all__ = ["ControlError", "add_control_routes"]

log = logging.getLogger(__name__)

RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlError(Exception):
    """A malformed control request (answered 400)."""


def _guard(handler: RouteHandler) -> RouteHandler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ControlError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except Exception:
            log.exception("control API failed on %s %s", request.method, request.path)
            return web.json_response({"error": "internal error"}, status=500)

    return wrapped


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ControlError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


def _int(body: dict[str, Any], key: str, *, required: bool = True) -> int | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ControlError(f'"{key}" is required')
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ControlError(f'"{key}" must be an integer')
    return value


def _need_int(body: dict[str, Any], key: str) -> int:
    value = _int(body, key)
    assert value is not None
    return value


def _str(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ControlError(f'"{key}" is required')
        return None
    if not isinstance(value, str):
        raise ControlError(f'"{key}" must be a string')
    return value


def _number(value: Any, key: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError(f'"{key}" must be a number')
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ControlError(f'"{key}" must be between {low:g} and {high:g}')
    return number


def _positive_user(body: dict[str, Any]) -> int:
    user_id = _need_int(body, "user_id")
    if user_id <= 0:
        raise ControlError('"user_id" must be positive (private chats only)')
    return user_id


def _chat_id(request: web.Request) -> int:
    raw = request.match_info["chat_id"]
    try:
        return int(raw)
    except ValueError:
        raise ControlError("chat id must be an integer") from None


def _query_number(request: web.Request, key: str, default: float, high: float) -> float:
    raw = request.query.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ControlError(f'"{key}" must be a number') from None
    if not math.isfinite(value) or not 0 <= value <= high:
        raise ControlError(f'"{key}" must be between 0 and {high:g}')
    return value


class _Control:
    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        self.state = standin.state
        # Set while the server shuts down: releases the pages' long polls at once.
        self._closing = asyncio.Event()
        # A first reading of the clock, to tell its speed from later ones.
        self._clock_origin = (time.monotonic(), self.state.clock.now())

    async def on_startup(self, app: web.Application) -> None:
        self._closing.clear()

    async def on_shutdown(self, app: web.Application) -> None:
        self._closing.set()

    async def _wait_for_change(self, since: int, wait_s: float) -> None:
        if self._closing.is_set():
            return
        change = asyncio.ensure_future(self.state.wait_for_change(since, wait_s))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait({change, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            change.cancel()
            closing.cancel()

    # ---- users -------------------------------------------------------------------------------

    async def send(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        user_id = _positive_user(body)
        first_name = _str(body, "first_name")
        if first_name is not None and not first_name.strip():
            raise ControlError('"first_name" must not be empty')
        text = _str(body, "text")
        photo = body.get("photo", False)
        if not isinstance(photo, bool):
            raise ControlError('"photo" must be true or false')
        location = body.get("location")
        if sum((text is not None, photo, location is not None)) != 1:
            raise ControlError('give exactly one of "text", "photo": true or "location"')
        caption = _str(body, "caption")
        if caption is not None and not photo:
            raise ControlError('"caption" goes with "photo": true')
        point: dict[str, float] | None = None
        if text is not None:
            if not text.strip():
                raise ControlError('"text" must not be empty')
            if utf16_len(text) > 4096:
                raise ControlError('"text" is longer than 4096 characters')
        if caption is not None and utf16_len(caption) > 1024:
            raise ControlError('"caption" is longer than 1024 characters')
        if location is not None:
            if not isinstance(location, dict):
                raise ControlError('"location" must be an object with latitude and longitude')
            point = {
                "latitude": _number(location.get("latitude"), "latitude", -90, 90),
                "longitude": _number(location.get("longitude"), "longitude", -180, 180),
            }
        update, message = self.state.user_message(
            user_id,
            first_name=first_name,
            text=text,
            photo=photo,
            caption=caption,
            location=point,
        )
        return web.json_response({"update_id": update.update_id, "message_id": message.message_id})

    async def press(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        user_id = _positive_user(body)
        message_id = _need_int(body, "message_id")
        data = _str(body, "callback_data", required=True)
        assert data is not None
        forge = body.get("forge", False)
        if not isinstance(forge, bool):
            raise ControlError('"forge" must be true or false')
        message = self.state.find_message(user_id, message_id)
        if not forge:
            if message is None:
                raise ControlError(f"message {message_id} not found in chat {user_id}")
            if not any(b.get("callback_data") == data for b in message.inline_buttons()):
                raise ControlError(
                    f"message {message_id} has no inline button with callback_data {data!r}"
                )
        update, query = self.state.press(user_id, message, message_id, data)
        return web.json_response({"update_id": update.update_id, "callback_query_id": query.id})

    async def add_user(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        user_id = _positive_user(body)
        first_name = _str(body, "first_name")
        user = self.state.ensure_user(user_id, first_name)
        return web.json_response({"user_id": user.id, "first_name": user.first_name})

    # ---- chats -------------------------------------------------------------------------------

    async def chats(self, request: web.Request) -> web.StreamResponse:
        out = []
        for chat_id in self.state.chat_ids():
            user = self.state.user(chat_id)
            out.append(
                {
                    "chat_id": chat_id,
                    "first_name": user.first_name if user else "",
                    "message_count": len(self.state.messages(chat_id)),
                }
            )
        return web.json_response({"chats": out, "version": self.state.version})

    async def messages(self, request: web.Request) -> web.StreamResponse:
        chat_id = _chat_id(request)
        if "since" in request.query:
            since = int(_query_number(request, "since", 0, 2**53))
            wait_s = _query_number(request, "wait_s", 25.0, 60.0)
            await self._wait_for_change(since, wait_s)
        messages = [self.state.message_view(m) for m in self.state.messages(chat_id)]
        return web.json_response({"messages": messages, "version": self.state.version})

    async def callback_answers(self, request: web.Request) -> web.StreamResponse:
        answers = self.state.callback_answers(_chat_id(request))
        return web.json_response(
            {
                "answers": [
                    {k: a[k] for k in ("callback_query_id", "text", "show_alert")} for a in answers
                ]
            }
        )

    async def commands(self, request: web.Request) -> web.StreamResponse:
        chat_id = _chat_id(request)
        return web.json_response(
            {
                "commands": self.state.chat_commands(chat_id),
                "menu_button": self.state.menu_button(chat_id),
            }
        )

    async def file(self, request: web.Request) -> web.StreamResponse:
        stored = self.state.files.get(request.match_info["file_id"])
        if stored is None:
            return web.json_response({"error": "unknown file_id"}, status=404)
        headers = {}
        if stored.kind == "document" and stored.file_name:
            headers["Content-Disposition"] = (
                f"attachment; filename*=UTF-8''{quote(stored.file_name, safe='')}"
            )
        return web.Response(body=stored.data, content_type=stored.mime_type, headers=headers)

    # ---- time --------------------------------------------------------------------------------

    def _clock_speed(self, now: datetime) -> float:
        declared = getattr(self.state.clock, "speed", None)
        if isinstance(declared, int | float) and not isinstance(declared, bool):
            return float(declared)
        started, first = self._clock_origin
        elapsed = time.monotonic() - started
        if elapsed <= 0:
            return 1.0
        measured = (now - first).total_seconds() / elapsed
        return max(0.0, float(f"{measured:.3g}"))

    async def clock(self, request: web.Request) -> web.StreamResponse:
        now = self.state.clock.now()
        return web.json_response({"now": now.isoformat(), "speed": self._clock_speed(now)})

    # ---- observation -------------------------------------------------------------------------

    async def idle(self, request: web.Request) -> web.StreamResponse:
        quiet_ms = _query_number(request, "quiet_ms", 300, 60_000)
        timeout_s = _query_number(request, "timeout_s", 10, 300)
        idle = await self.standin.wait_idle(int(quiet_ms), timeout_s)
        return web.json_response({"idle": idle})

    async def violations(self, request: web.Request) -> web.StreamResponse:
        if request.method == "DELETE":
            self.standin.violations.clear()
            return web.json_response({"violations": []})
        return web.json_response({"violations": self.standin.violations})

    async def errors(self, request: web.Request) -> web.StreamResponse:
        if request.method == "DELETE":
            self.standin.errors.clear()
            return web.json_response({"errors": []})
        return web.json_response({"errors": self.standin.errors})

    async def calls(self, request: web.Request) -> web.StreamResponse:
        if request.method == "DELETE":
            self.standin.calls.clear()
            return web.json_response({"calls": []})
        wanted = request.query.get("method", "").lower()
        calls = [c for c in self.standin.calls if not wanted or c["method"].lower() == wanted]
        return web.json_response({"calls": calls})

    # ---- faults ------------------------------------------------------------------------------

    async def faults(self, request: web.Request) -> web.StreamResponse:
        injector = self.standin.faults
        if request.method == "DELETE":
            injector.clear()
            return web.json_response({"faults": []})
        if request.method == "GET":
            return web.json_response({"faults": [f.view() for f in injector.faults]})
        body = await _body(request)
        method = _str(body, "method", required=True)
        assert method is not None
        spec_method = self.standin.spec.method(method)
        if spec_method is None:
            raise ControlError(f"unknown Bot API method {method!r}")
        error_code = _need_int(body, "error_code")
        share = body.get("share")
        if share is not None:
            share = _number(share, "share", 0, 1)
        try:
            fault = injector.add(
                spec_method.name,
                error_code,
                chat_id=_int(body, "chat_id", required=False),
                retry_after=_int(body, "retry_after", required=False),
                description=_str(body, "description"),
                count=_int(body, "count", required=False),
                share=share,
                migrate_to_chat_id=_int(body, "migrate_to_chat_id", required=False),
            )
        except ValueError as exc:
            raise ControlError(str(exc)) from None
        return web.json_response(fault.view())


def add_control_routes(app: web.Application, standin: StandIn) -> None:
    control = _Control(standin)
    routes: list[tuple[str, str, RouteHandler]] = [
        ("POST", "/sandbox/send", control.send),
        ("POST", "/sandbox/press", control.press),
        ("POST", "/sandbox/users", control.add_user),
        ("GET", "/sandbox/chats", control.chats),
        ("GET", "/sandbox/chats/{chat_id}/messages", control.messages),
        ("GET", "/sandbox/chats/{chat_id}/callback_answers", control.callback_answers),
        ("GET", "/sandbox/chats/{chat_id}/commands", control.commands),
        ("GET", "/sandbox/files/{file_id}", control.file),
        ("GET", "/sandbox/clock", control.clock),
        ("GET", "/sandbox/idle", control.idle),
        ("GET", "/sandbox/violations", control.violations),
        ("DELETE", "/sandbox/violations", control.violations),
        ("GET", "/sandbox/errors", control.errors),
        ("DELETE", "/sandbox/errors", control.errors),
        ("GET", "/sandbox/calls", control.calls),
        ("DELETE", "/sandbox/calls", control.calls),
        ("GET", "/sandbox/faults", control.faults),
        ("POST", "/sandbox/faults", control.faults),
        ("DELETE", "/sandbox/faults", control.faults),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _guard(handler))
    app.on_startup.append(control.on_startup)
    app.on_shutdown.append(control.on_shutdown)
