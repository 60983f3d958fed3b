"""``SandboxClient``: an async client for the stand-in's control API (``/sandbox/...``).

async with SandboxClient("http://127.0.0.1:8081") as sandbox:
    await sandbox.send_text(42, "/start")
    assert await sandbox.wait_idle()
    reply = await sandbox.last_bot_message(42)
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import aiohttp

__all__ = ["SandboxClient", "SandboxError"]

Json = dict[str, Any]


class SandboxError(Exception):
    """The control API refused a request; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"sandbox answered {status}: {message}")
        self.status = status
        self.message = message


def find_button(message: Json, text: str) -> str:
    """callback_data of the inline button labelled ``text`` in a message view."""
    markup = message.get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if button.get("text") == text and "callback_data" in button:
                return str(button["callback_data"])
    labels = [b.get("text") for row in markup.get("inline_keyboard", []) for b in row]
    raise LookupError(f"no inline button {text!r} with callback_data; buttons: {labels}")


class SandboxClient:
    def __init__(self, base_url: str, *, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Json | None = None,
        params: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Json:
        timeout = aiohttp.ClientTimeout(total=timeout_s or self._timeout)
        async with self._client().request(
            method, f"{self.base_url}{path}", json=body, params=params, timeout=timeout
        ) as response:
            try:
                data = await response.json(content_type=None)
            except ValueError:
                data = None
            if response.status >= 400 or not isinstance(data, dict):
                message = data.get("error") if isinstance(data, dict) else None
                raise SandboxError(response.status, str(message or await response.text()))
            return data

    # ---- users -------------------------------------------------------------------------------

    async def send_text(self, user_id: int, text: str, first_name: str | None = None) -> Json:
        """Queue a text message from the user; returns {"update_id", "message_id"}."""
        body: Json = {"user_id": user_id, "text": text}
        if first_name is not None:
            body["first_name"] = first_name
        return await self._request("POST", "/sandbox/send", body=body)

    async def send_photo(
        self, user_id: int, caption: str | None = None, first_name: str | None = None
    ) -> Json:
        body: Json = {"user_id": user_id, "photo": True}
        if caption is not None:
            body["caption"] = caption
        if first_name is not None:
            body["first_name"] = first_name
        return await self._request("POST", "/sandbox/send", body=body)

    async def send_location(
        self, user_id: int, lat: float, lon: float, first_name: str | None = None
    ) -> Json:
        body: Json = {"user_id": user_id, "location": {"latitude": lat, "longitude": lon}}
        if first_name is not None:
            body["first_name"] = first_name
        return await self._request("POST", "/sandbox/send", body=body)

    async def press(
        self, user_id: int, message_id: int, callback_data: str, forge: bool = False
    ) -> Json:
        """Press an inline button; raises SandboxError (status 400) if there is none."""
        body: Json = {
            "user_id": user_id,
            "message_id": message_id,
            "callback_data": callback_data,
        }
        if forge:
            body["forge"] = True
        return await self._request("POST", "/sandbox/press", body=body)

    async def add_user(self, user_id: int, first_name: str | None = None) -> Json:
        """Make the user known (as if they had started the bot) without sending anything."""
        body: Json = {"user_id": user_id}
        if first_name is not None:
            body["first_name"] = first_name
        return await self._request("POST", "/sandbox/users", body=body)

    # ---- chats -------------------------------------------------------------------------------

    async def messages(self, chat_id: int) -> list[Json]:
        data = await self._request("GET", f"/sandbox/chats/{chat_id}/messages")
        return list(data["messages"])

    async def last_bot_message(self, chat_id: int) -> Json | None:
        bot_messages = [m for m in await self.messages(chat_id) if m["from"] == "bot"]
        return bot_messages[-1] if bot_messages else None

    @staticmethod
    def find_button(message: Json, text: str) -> str:
        return find_button(message, text)

    async def callback_answers(self, chat_id: int) -> list[Json]:
        data = await self._request("GET", f"/sandbox/chats/{chat_id}/callback_answers")
        return list(data["answers"])

    async def commands(self, chat_id: int) -> list[Json]:
        data = await self._request("GET", f"/sandbox/chats/{chat_id}/commands")
        return list(data["commands"])

    async def file(self, file_id: str) -> bytes:
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        url = f"{self.base_url}/sandbox/files/{file_id}"
        async with self._client().get(url, timeout=timeout) as response:
            if response.status != 200:
                raise SandboxError(response.status, await response.text())
            return await response.read()

    # ---- observation -------------------------------------------------------------------------

    async def wait_idle(self, quiet_ms: int = 300, timeout_s: float = 10.0) -> bool:
        data = await self._request(
            "GET",
            "/sandbox/idle",
            params={"quiet_ms": str(quiet_ms), "timeout_s": str(timeout_s)},
            timeout_s=timeout_s + 10,
        )
        return bool(data["idle"])

    async def violations(self) -> list[Json]:
        return list((await self._request("GET", "/sandbox/violations"))["violations"])

    async def clear_violations(self) -> None:
        await self._request("DELETE", "/sandbox/violations")

    async def errors(self) -> list[Json]:
        return list((await self._request("GET", "/sandbox/errors"))["errors"])

    async def calls(self, method: str | None = None) -> list[Json]:
        params = {"method": method} if method else None
        return list((await self._request("GET", "/sandbox/calls", params=params))["calls"])

    # ---- faults ------------------------------------------------------------------------------

    async def add_fault(
        self,
        method: str,
        error_code: int,
        *,
        chat_id: int | None = None,
        retry_after: int | None = None,
        description: str | None = None,
        count: int | None = None,
        share: float | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> Json:
        body: Json = {"method": method, "error_code": error_code}
        optional = {
            "chat_id": chat_id,
            "retry_after": retry_after,
            "description": description,
            "count": count,
            "share": share,
            "migrate_to_chat_id": migrate_to_chat_id,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        return await self._request("POST", "/sandbox/faults", body=body)

    async def clear_faults(self) -> None:
        await self._request("DELETE", "/sandbox/faults")

    # ---- delivery: rate limits, counts, groups -----------------------------------------------

    async def set_limits(
        self,
        *,
        overall_per_s: float | None = None,
        per_chat_per_s: float | None = None,
        burst: int | None = None,
        group_per_min: int | None = None,
    ) -> Json:
        """Turn Telegram's flood limits on (unnamed limits take Telegram's defaults)."""
        given = {
            "overall_per_s": overall_per_s,
            "per_chat_per_s": per_chat_per_s,
            "burst": burst,
            "group_per_min": group_per_min,
        }
        body = {key: value for key, value in given.items() if value is not None}
        return dict((await self._request("POST", "/sandbox/limits", body=body))["limits"])

    async def clear_limits(self) -> None:
        await self._request("DELETE", "/sandbox/limits")

    async def stats(self) -> Json:
        """{"delivered": {"<chat_id>": n}, "429": n, "calls": n, "sends": n}"""
        return await self._request("GET", "/sandbox/stats")

    async def reset_stats(self) -> None:
        await self._request("DELETE", "/sandbox/stats")

    async def add_group(self, chat_id: int, title: str | None = None) -> Json:
        """A group chat (negative id) the bot is a member of."""
        body: Json = {"chat_id": chat_id}
        if title is not None:
            body["title"] = title
        return await self._request("POST", "/sandbox/groups", body=body)
