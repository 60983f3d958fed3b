"""Delivery-side extras of the stand-in: Telegram's rate limits, delivery counts, group chats.

* ``RateLimits`` / ``RateLimiter``: optional (off unless ``StandIn(limits=...)`` or
  ``POST /sandbox/limits``). Every call of a sending method (``send*`` except sendChatAction,
  ``copyMessage(s)``, ``forwardMessage(s)``) is admitted or answered 429 in Telegram's shape
  with ``parameters.retry_after``: at most ``overall_per_s`` in any sliding second, a token
  bucket of ``per_chat_per_s`` with ``burst`` per private chat, and at most ``group_per_min``
  in any sliding minute per group (negative chat id). Refused calls use no capacity.
* ``DeliveryStats``: delivered messages per chat, 429 answers, calls (``GET /sandbox/stats``).
* ``POST /sandbox/groups``: a group or supergroup chat the bot is a member of (negative id),
  so messages to it (for instance after a migration) can be delivered and read.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.standin.control import ControlError, RouteHandler, _body, _guard, _number, _str

if TYPE_CHECKING:
    from bot.standin.server import StandIn

__all__ = [
    "DeliveryStats",
    "RateLimiter",
    "RateLimits",
    "add_delivery_routes",
    "is_send_method",
    "too_many_requests",
]

_EXTRA_SENDS = frozenset({"copymessage", "copymessages", "forwardmessage", "forwardmessages"})


def is_send_method(method: str) -> bool:
    """Methods that post a message into a chat (what Telegram's flood limits count)."""
    name = method.lower()
    return (name.startswith("send") and name != "sendchataction") or name in _EXTRA_SENDS


def too_many_requests(retry_after: int) -> dict[str, Any]:
    return {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }


@dataclass(frozen=True)
class RateLimits:
    """Telegram's published limits for bots (defaults)."""

    overall_per_s: float = 30.0
    per_chat_per_s: float = 1.0
    burst: int = 3
    group_per_min: int = 20

    def __post_init__(self) -> None:
        if self.overall_per_s <= 0 or self.per_chat_per_s <= 0:
            raise ValueError("rates must be positive")
        if self.burst < 1 or self.group_per_min < 1:
            raise ValueError("burst and group_per_min must be at least 1")

    def view(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Decides, on a monotonic clock, whether one more send is within the limits."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._overall: deque[float] = deque()
        self._buckets: dict[int, _Bucket] = {}
        self._groups: dict[int, deque[float]] = {}

    @staticmethod
    def _trim(window: deque[float], now: float, span: float) -> None:
        while window and window[0] <= now - span:
            window.popleft()

    def admit(self, chat_id: int | None, now: float) -> int | None:
        """None if the send may go (and it is counted), else the retry_after in seconds."""
        limits = self.limits
        waits: list[float] = []
        self._trim(self._overall, now, 1.0)
        if len(self._overall) >= limits.overall_per_s:
            waits.append(self._overall[0] + 1.0 - now)
        bucket: _Bucket | None = None
        group: deque[float] | None = None
        if chat_id is not None and chat_id > 0:
            bucket = self._buckets.get(chat_id)
            if bucket is None:
                bucket = self._buckets[chat_id] = _Bucket(float(limits.burst), now)
            bucket.tokens = min(
                float(limits.burst), bucket.tokens + (now - bucket.stamp) * limits.per_chat_per_s
            )
            bucket.stamp = now
            if bucket.tokens < 1:
                waits.append((1 - bucket.tokens) / limits.per_chat_per_s)
        elif chat_id is not None:
            group = self._groups.setdefault(chat_id, deque())
            self._trim(group, now, 60.0)
            if len(group) >= limits.group_per_min:
                waits.append(group[0] + 60.0 - now)
        if waits:
            return max(1, math.ceil(max(waits)))
        self._overall.append(now)
        if bucket is not None:
            bucket.tokens -= 1
        if group is not None:
            group.append(now)
        if len(self._buckets) > 10_000:  # full buckets are as good as new ones
            self._buckets = {
                chat: b
                for chat, b in self._buckets.items()
                if b.tokens + (now - b.stamp) * limits.per_chat_per_s < limits.burst
            }
        return None


@dataclass
class DeliveryStats:
    delivered: Counter[int] = field(default_factory=Counter)
    too_many: int = 0  # 429 answers, from the limits or injected
    calls: int = 0  # Bot API calls other than getUpdates
    sends: int = 0  # calls of sending methods that passed validation

    def view(self) -> dict[str, Any]:
        return {
            "delivered": {str(chat): n for chat, n in sorted(self.delivered.items())},
            "429": self.too_many,
            "calls": self.calls,
            "sends": self.sends,
        }

    def reset(self) -> None:
        self.delivered.clear()
        self.too_many = self.calls = self.sends = 0


def _limits_from(body: dict[str, Any]) -> RateLimits:
    unknown = set(body) - {"overall_per_s", "per_chat_per_s", "burst", "group_per_min"}
    if unknown:
        raise ControlError(f"unknown limit {sorted(unknown)[0]!r}")
    defaults = RateLimits()
    overall = _number(body.get("overall_per_s", defaults.overall_per_s), "overall_per_s", 0, 1e6)
    per_chat = _number(
        body.get("per_chat_per_s", defaults.per_chat_per_s), "per_chat_per_s", 0, 1e6
    )
    burst = _number(body.get("burst", defaults.burst), "burst", 1, 1e6)
    group = _number(body.get("group_per_min", defaults.group_per_min), "group_per_min", 1, 1e6)
    if burst != int(burst) or group != int(group):
        raise ControlError('"burst" and "group_per_min" must be integers')
    try:
        return RateLimits(overall, per_chat, int(burst), int(group))
    except ValueError as exc:
        raise ControlError(str(exc)) from None


class _Routes:
    def __init__(self, standin: StandIn) -> None:
        self.standin = standin

    async def limits(self, request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            self.standin.set_limits(_limits_from(await _body(request)))
        elif request.method == "DELETE":
            self.standin.set_limits(None)
        current = self.standin.limits
        return web.json_response({"limits": current.view() if current else None})

    async def stats(self, request: web.Request) -> web.StreamResponse:
        if request.method == "DELETE":
            self.standin.stats.reset()
        return web.json_response(self.standin.stats.view())

    async def groups(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        chat_id = body.get("chat_id")
        if isinstance(chat_id, bool) or not isinstance(chat_id, int) or chat_id >= 0:
            raise ControlError('"chat_id" must be a negative integer (a group chat)')
        title = _str(body, "title") or f"群组{-chat_id}"
        if not title.strip():
            raise ControlError('"title" must not be empty')
        group = self.standin.state.ensure_group(chat_id, title)
        return web.json_response(group.chat_api())


def add_delivery_routes(app: web.Application, standin: StandIn) -> None:
    routes = _Routes(standin)
    table: list[tuple[str, str, RouteHandler]] = [
        ("GET", "/sandbox/limits", routes.limits),
        ("POST", "/sandbox/limits", routes.limits),
        ("DELETE", "/sandbox/limits", routes.limits),
        ("GET", "/sandbox/stats", routes.stats),
        ("DELETE", "/sandbox/stats", routes.stats),
        ("POST", "/sandbox/groups", routes.groups),
    ]
    for method, path, handler in table:
        app.router.add_route(method, path, _guard(handler))
