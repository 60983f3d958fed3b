"""Injected Bot API errors (flood control, blocked users, ...) in Telegram's response shapes."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

__all__ = ["FAULT_CODES", "MIGRATED", "Fault", "FaultInjector"]

FAULT_CODES = frozenset({400, 403, 429, 500})
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    403: "Forbidden: bot was blocked by the user",
    500: "Internal Server Error",
}
MIGRATED = "Bad Request: group chat was upgraded to a supergroup chat"


@dataclass
class Fault:
    id: int
    method: str
    error_code: int
    chat_id: int | None = None
    retry_after: int = 1
    description: str | None = None
    count: int | None = None
    share: float | None = None
    # A 400 telling the bot that the group became this supergroup.
    migrate_to_chat_id: int | None = None

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id

    def response(self) -> dict[str, Any]:
        if self.error_code == 429:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": 429,
                "description": self.description
                or f"Too Many Requests: retry after {self.retry_after}",
                "parameters": {"retry_after": self.retry_after},
            }
            return body
        if self.migrate_to_chat_id is not None:
            return {
                "ok": False,
                "error_code": 400,
                "description": self.description or MIGRATED,
                "parameters": {"migrate_to_chat_id": self.migrate_to_chat_id},
            }
        return {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description or _DEFAULT_DESCRIPTIONS[self.error_code],
        }

    def view(self) -> dict[str, Any]:
        return {
            "fault_id": self.id,
            "method": self.method,
            "chat_id": self.chat_id,
            "error_code": self.error_code,
            "retry_after": self.retry_after if self.error_code == 429 else None,
            "description": self.response()["description"],
            "count": self.count,
            "share": self.share,
            "migrate_to_chat_id": self.migrate_to_chat_id,
        }


class FaultInjector:
    """Rules tried in the order they were added; ``share`` draws from a seeded RNG."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"standin-faults:{seed}")
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(
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
    ) -> Fault:
        if error_code not in FAULT_CODES:
            raise ValueError(f"error_code must be one of {sorted(FAULT_CODES)}")
        if migrate_to_chat_id is not None and error_code != 400:
            raise ValueError("migrate_to_chat_id goes with error_code 400")
        if count is not None and share is not None:
            raise ValueError("give count or share, not both")
        if count is None and share is None:
            count = 1
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        if share is not None and not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must not be negative")
        fault = Fault(
            id=self._next_id,
            method=method,
            error_code=error_code,
            chat_id=chat_id,
            retry_after=1 if retry_after is None else retry_after,
            description=description,
            count=count,
            share=share,
            migrate_to_chat_id=migrate_to_chat_id,
        )
        self._next_id += 1
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        return list(self._faults)

    def take(self, method: str, chat_id: int | None) -> Fault | None:
        """The fault that hits this call, if any (a counted fault is used up)."""
        for fault in self._faults:
            if not fault.matches(method, chat_id):
                continue
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
            if fault.share is not None and self._rng.random() < fault.share:
                return fault
        return None
