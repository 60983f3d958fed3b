"""``StandIn``: an aiohttp server that plays the Telegram Bot API for tests and the sandbox.

Routes on ``StandIn.app``:

* ``/bot<token>/<method>``: the Bot API (JSON, form, multipart or query string parameters);
* ``/file/bot<token>/<file_path>``: downloads of files known to getFile;
* ``/sandbox/...``: the control API (see ``bot.standin.control`` and docs/sandbox.md).

Each Bot API call is checked against the bundled spec before it has any effect. Refused
malformed calls are recorded in ``violations``; well-formed calls that Telegram would refuse
because of the state of the chat (message not modified, unknown callback query, ...) are
recorded in ``errors``; injected faults are in neither.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from typing import Any

import aiohttp
from aiohttp import BodyPartReader, web

from bot.standin.botapi import ApiError, BotApi
from bot.standin.control import add_control_routes
from bot.standin.delivery import (
    DeliveryStats,
    RateLimiter,
    RateLimits,
    add_delivery_routes,
    is_send_method,
    too_many_requests,
)
from bot.standin.faults import FaultInjector
from bot.standin.spec import ApiSpec, load_spec
from bot.standin.store import Clock, SandboxState
from bot.standin.validation import BadRequest, RequestValidator, Upload

__all__ = ["StandIn"]

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 52 * 1024 * 1024  # Telegram accepts uploads up to 50 MB
MAX_CALL_LOG = 5000
_dumps = functools.partial(json.dumps, ensure_ascii=False)

JsonResponse = tuple[int, dict[str, Any]]


def _failure(status: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": status, "description": description}


def _record_params(params: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
    out = dict(params)
    for name, upload in uploads.items():
        out[name] = {"upload": upload.filename, "size": len(upload.data)}
    return out


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Parameters from the query string and the body (JSON, urlencoded or multipart)."""
    params: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if not request.body_exists:
        return params, uploads
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = json.loads(await request.text())
        except ValueError:
            raise BadRequest("can't parse JSON encoded request body") from None
        if not isinstance(body, dict):
            raise BadRequest("JSON request body must be an object")
        params.update(body)
    elif content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        params.update({key: str(value) for key, value in form.items()})
    elif content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader) or not part.name:
                raise BadRequest("can't parse multipart request body")
            if part.filename is not None:
                data = bytes(await part.read(decode=False))
                part_type = part.headers.get("Content-Type", "application/octet-stream")
                uploads[part.name] = Upload(part.name, part.filename, part_type, data)
            else:
                params[part.name] = await part.text()
    return params, uploads


class StandIn:
    """A Telegram Bot API stand-in for one bot, serving private chats only."""

    def __init__(
        self,
        token: str,
        *,
        bot_username: str = "HaitangBot",
        seed: int = 0,
        bot_name: str = "Haitang",
        clock: Clock | None = None,
        first_update_id: int | None = None,
        limits: RateLimits | None = None,
    ) -> None:
        """``first_update_id`` starts the update sequence (default: seeded, Telegram-like);
        ``limits`` turns on Telegram's flood limits (off by default; see ``set_limits``)."""
        self.token = token
        prefix = token.split(":", 1)[0]
        self.spec: ApiSpec = load_spec()
        self.state = SandboxState(
            bot_id=int(prefix) if prefix.isdigit() else 1_000_000_001,
            bot_username=bot_username,
            bot_name=bot_name,
            seed=seed,
            clock=clock,
            first_update_id=first_update_id,
        )
        self.api = BotApi(self.state)
        self.faults = FaultInjector(seed)
        self._validator = RequestValidator(self.spec)
        self.violations: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.stats = DeliveryStats()
        self._limiter = RateLimiter(limits) if limits is not None else None
        self._inflight = 0
        self._last_activity = 0.0
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        self._app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        self._app.router.add_route("*", "/file/bot{token}/{file_path:.+}", self._handle_file)
        add_control_routes(self._app, self)
        add_delivery_routes(self._app, self)

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def app(self) -> web.Application:
        return self._app

    @property
    def base_url(self) -> str:
        """``http://host:port`` once started (for TelegramAPIServer.from_base)."""
        if self._base_url is None:
            raise RuntimeError("the stand-in is not running")
        return self._base_url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        if self._runner is not None:
            raise RuntimeError("the stand-in is already running")
        self.api.resume()
        runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound = int(runner.addresses[0][1])
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self._base_url = f"http://{shown}:{bound}"
        log.info("Bot API stand-in listening on %s", self._base_url)
        return bound

    async def stop(self) -> None:
        self.api.shutdown()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._base_url = None

    # ---- rate limits -------------------------------------------------------------------------

    @property
    def limits(self) -> RateLimits | None:
        return self._limiter.limits if self._limiter is not None else None

    def set_limits(self, limits: RateLimits | None) -> None:
        """Answer sends beyond ``limits`` with 429 (None: no limits). Starts fresh windows."""
        self._limiter = RateLimiter(limits) if limits is not None else None

    # ---- idle --------------------------------------------------------------------------------

    def is_idle(self, quiet_ms: int) -> bool:
        """All updates fetched and confirmed, nothing in flight, no Bot API call for ``quiet_ms``.

        A bot that handles updates one by one confirms an update (by asking for the next) only
        after handling it, so for such a bot idle means done."""
        if self._inflight or self.state.updates:
            return False
        last = max(self._last_activity, self.state.last_delivery)
        return (time.monotonic() - last) * 1000 >= quiet_ms

    async def wait_idle(self, quiet_ms: int = 300, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while not self.is_idle(quiet_ms):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    # ---- Bot API -----------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["method"]
        polling = name.lower() == "getupdates"
        if not polling:
            self._inflight += 1
            self._last_activity = time.monotonic()
            self.stats.calls += 1
        try:
            status, body = await self._dispatch(request, name)
        except Exception:
            log.exception("stand-in failed on %s", name)
            status, body = 500, _failure(500, "Internal Server Error")
        finally:
            if not polling:
                self._inflight -= 1
                self._last_activity = time.monotonic()
        return web.json_response(body, status=status, dumps=_dumps)

    def _violation(
        self, method: str, status: int, description: str, params: dict[str, Any]
    ) -> JsonResponse:
        self.violations.append(
            {"method": method, "description": description, "params": params, "error_code": status}
        )
        log.warning("Bot API violation in %s: %s", method, description)
        return status, _failure(status, description)

    def _log_call(self, entry: dict[str, Any]) -> None:
        self.calls.append(entry)
        if len(self.calls) > MAX_CALL_LOG:
            del self.calls[: len(self.calls) - MAX_CALL_LOG]

    async def _dispatch(self, request: web.Request, name: str) -> JsonResponse:
        if request.match_info["token"] != self.token:
            return self._violation(name, 401, "Unauthorized", {})
        method = self.spec.method(name)
        if method is None:
            return self._violation(name, 404, "Not Found", dict(request.query))
        try:
            params, uploads = await _read_params(request)
        except BadRequest as exc:
            return self._violation(method.name, 400, exc.description, dict(request.query))
        except web.HTTPRequestEntityTooLarge:
            return self._violation(method.name, 413, "Request Entity Too Large", {})
        except (ValueError, UnicodeDecodeError, aiohttp.ClientError):
            description = "Bad Request: can't parse request body"
            return self._violation(method.name, 400, description, dict(request.query))
        shown = _record_params(params, uploads)
        try:
            validated = self._validator.validate(method, params, uploads)
        except BadRequest as exc:
            return self._violation(method.name, 400, exc.description, shown)
        entry: dict[str, Any] = {
            "method": method.name,
            "params": shown,
            "implemented": self.api.is_implemented(method.name),
        }
        chat_id = self.api.chat_of(validated.params)
        sending = is_send_method(method.name)
        if sending:
            self.stats.sends += 1
            if self._limiter is not None:
                retry_after = self._limiter.admit(chat_id, time.monotonic())
                if retry_after is not None:
                    self.stats.too_many += 1
                    self._log_call({**entry, "outcome": "limit 429"})
                    return 429, too_many_requests(retry_after)
        fault = self.faults.take(method.name, chat_id)
        if fault is not None:
            if fault.error_code == 429:
                self.stats.too_many += 1
            self._log_call({**entry, "outcome": f"fault {fault.error_code}"})
            return fault.error_code, fault.response()
        self._log_call(entry)
        if not entry["implemented"]:
            log.warning("stand-in answers %s with true without simulating it", method.name)
        try:
            result = await self.api.call(validated)
        except ApiError as exc:
            entry["outcome"] = f"error {exc.status}"
            if exc.violation:
                return self._violation(method.name, exc.status, exc.description, shown)
            self.errors.append(
                {
                    "method": method.name,
                    "description": exc.description,
                    "params": shown,
                    "error_code": exc.status,
                }
            )
            return exc.status, _failure(exc.status, exc.description)
        entry["outcome"] = "ok"
        if sending and isinstance(result, dict) and isinstance(result.get("chat"), dict):
            self.stats.delivered[int(result["chat"]["id"])] += 1
        return 200, {"ok": True, "result": result}

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(_failure(401, "Unauthorized"), status=401)
        stored = self.state.file_by_path(request.match_info["file_path"])
        if stored is None:
            return web.json_response(_failure(404, "Not Found"), status=404)
        return web.Response(body=stored.data, content_type=stored.mime_type)
