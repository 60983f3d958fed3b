"""A tiny client of the sandbox control API (docs/sandbox.md), standard library only.

The example scripts beside this file use nothing else: they show that anything outside the
project can drive the whole bot through HTTP alone.
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any


class Sandbox:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read().decode())

    def idle(self) -> None:
        answer = self.call("GET", "/sandbox/idle?quiet_ms=300&timeout_s=20")
        if not answer["idle"]:
            raise RuntimeError("the bot did not go quiet")

    def say(self, user_id: int, text: str, first_name: str | None = None) -> dict[str, Any]:
        """Send a text and return the bot's newest message to that user."""
        body: dict[str, Any] = {"user_id": user_id, "text": text}
        if first_name:
            body["first_name"] = first_name
        self.call("POST", "/sandbox/send", body)
        self.idle()
        return self.last(user_id)

    def messages(self, user_id: int) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self.call("GET", f"/sandbox/chats/{user_id}/messages")[
            "messages"
        ]
        return answer

    def last(self, user_id: int, containing: str = "") -> dict[str, Any]:
        for message in reversed(self.messages(user_id)):
            if message["from"] == "bot" and containing in (message["text"] or ""):
                return message
        raise RuntimeError(f"no bot message to {user_id} containing {containing!r}")

    def tap(self, user_id: int, button: str, message: dict[str, Any] | None = None) -> None:
        """Tap a button (by its text; a prefix will do) on a message, by default the newest
        bot message that has it."""
        candidates = [message] if message else list(reversed(self.messages(user_id)))
        for candidate in candidates:
            for row in (candidate.get("reply_markup") or {}).get("inline_keyboard", []):
                for key in row:
                    if key["text"].startswith(button):
                        self.call(
                            "POST",
                            "/sandbox/press",
                            {
                                "user_id": user_id,
                                "message_id": candidate["message_id"],
                                "callback_data": key["callback_data"],
                            },
                        )
                        self.idle()
                        return
        raise RuntimeError(f"no button {button!r} for {user_id}")

    def violations(self) -> list[Any]:
        found: list[Any] = self.call("GET", "/sandbox/violations")["violations"]
        return found


def ticket_number(text: str) -> str:
    found = re.search(r"GS\d{8}-\d{4}", text)
    if not found:
        raise RuntimeError(f"no ticket number in {text!r}")
    return found.group(0)
