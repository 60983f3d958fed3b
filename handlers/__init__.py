"""aiogram routers, one per feature. Handlers parse, call one service and return replies."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType

from handlers import common, invite, start


def build_router() -> Router:
    """All feature routers under one fresh root (a router can join only one dispatcher);
    only private chats are served."""
    root = Router(name="root")
    root.message.filter(F.chat.type == ChatType.PRIVATE)
    root.include_routers(
        start.make_router(),
        invite.make_router(),
        common.make_router(),
        common.make_fallback_router(),
    )
    return root
