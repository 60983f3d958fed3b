"""Serve the chat page on the stand-in's aiohttp application.

The page is plain HTML, CSS and JavaScript from ``bot/web/static``; nothing is loaded from
the internet (the Content-Security-Policy forbids it). The browser talks only to the
``/sandbox/`` control API; the persona list is rendered into the HTML and also served as
``GET /sandbox/personas`` so the page can show users who register later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from string import Template

from aiohttp import web

from bot.web.personas import PersonaSource, PersonaView

__all__ = ["STATIC_DIR", "mount_chat_page", "render_page"]

STATIC_DIR = Path(__file__).with_name("static")
# Served as /static/<name>; index.html is a template rendered at /, never served raw.
ASSETS: dict[str, str] = {
    "app.js": "text/javascript",
    "style.css": "text/css",
    "icon.svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_SHIFTED_PREFIXES = ("小", "老", "阿")


def avatar_letter(name: str) -> str:
    """The letter in a persona's round avatar: 王阿姨 → 王, 小李 → 李 (as people call them)."""
    name = name.strip()
    if len(name) >= 2 and name[0] in _SHIFTED_PREFIXES:
        return name[1]
    return name[:1] or "?"


def _persona_item(persona: PersonaView) -> str:
    e = escape
    return (
        f'<li><button type="button" class="persona role-{e(persona.role)}"'
        f' data-user-id="{persona.telegram_id}" data-name="{e(persona.name)}"'
        f' data-description="{e(persona.description)}" data-role="{e(persona.role)}"'
        f' aria-pressed="false">'
        f'<span class="avatar" aria-hidden="true">{e(avatar_letter(persona.name))}</span>'
        f'<span class="persona-text"><span class="persona-name">{e(persona.name)}</span>'
        f'<span class="persona-desc">{e(persona.description)}</span></span>'
        f"</button></li>"
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class _Assets:
    body: dict[str, bytes]
    version: str  # a digest of the assets, so a browser never mixes old and new files


def _load_assets() -> _Assets:
    body = {name: (STATIC_DIR / name).read_bytes() for name in ASSETS}
    digest = hashlib.sha256(b"".join(body[name] for name in sorted(body)))
    return _Assets(body, digest.hexdigest()[:12])


def render_page(
    personas: list[PersonaView], *, bot_username: str, bot_name: str, version: str = "0"
) -> str:
    """The chat page with the personas written in, every value HTML-escaped."""
    template = Template((STATIC_DIR / "index.html").read_text(encoding="utf-8"))
    main = [p for p in personas if p.main]
    more = [p for p in personas if not p.main]
    return template.substitute(
        bot_username=escape(bot_username),
        bot_name=escape(bot_name),
        bot_letter=escape(avatar_letter(bot_name)),
        personas_main="\n".join(_persona_item(p) for p in main),
        personas_more="\n".join(_persona_item(p) for p in more),
        version=escape(version),
    )


def mount_chat_page(
    app: web.Application,
    personas: PersonaSource,
    *,
    bot_username: str = "HaitangBot",
    bot_name: str = "海棠先锋",
) -> None:
    """Add the chat page to ``app`` (before it starts): ``GET /``, ``GET /static/<asset>``
    and ``GET /sandbox/personas``."""
    assets = _load_assets()

    async def index(request: web.Request) -> web.StreamResponse:
        html = render_page(
            await personas(),
            bot_username=bot_username,
            bot_name=bot_name,
            version=assets.version,
        )
        return web.Response(
            text=html, content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS
        )

    async def persona_list(request: web.Request) -> web.StreamResponse:
        return web.json_response({"personas": [p.as_json() for p in await personas()]})

    def asset_handler(name: str, content_type: str) -> Handler:
        async def serve(request: web.Request) -> web.StreamResponse:
            return web.Response(
                body=assets.body[name],
                content_type=content_type,
                charset="utf-8" if not content_type.startswith("image/") else None,
                headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
            )

        return serve

    app.router.add_get("/", index)
    app.router.add_get("/sandbox/personas", persona_list)
    for name, content_type in ASSETS.items():
        app.router.add_get(f"/static/{name}", asset_handler(name, content_type))
