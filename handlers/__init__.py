"""aiogram routers, one per feature. Handlers parse, call one service and return replies."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType

from handlers import broadcasts, common, events, invite, start, stats, tasks, tickets, visits
from handlers.filters import AccessibleMessage


def build_router() -> Router:
    """All feature routers under one fresh root (a router can join only one dispatcher);
    only private chats are served."""
    root = Router(name="root")
    root.message.filter(F.chat.type == ChatType.PRIVATE)
    # Every button handler gets the message it sits on; a button on a message Telegram no
    # longer shows is answered once, below, as expired.
    root.callback_query.filter(AccessibleMessage())
    root.include_routers(
        tickets.make_flow_reset_router(),
        start.make_router(),
        invite.make_router(),
        common.make_router(),
        visits.make_router(),
        tasks.make_router(),
        events.make_router(),
        broadcasts.make_router(),
        stats.make_router(),
        # Last of the features: it takes a resident's or volunteer's free text as a report.
        tickets.make_router(),
        common.make_fallback_router(),
    )
    top = Router(name="top")
    top.include_routers(root, common.make_expired_router())
    return top
