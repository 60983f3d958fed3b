"""Figures in chat (issue 8): /stats (a short text and a PNG dashboard) and /report (the Excel
workbook) for coordinators and admins, /public (last month's rates) for residents.

/report of residents and volunteers means "report a need" (handlers/tickets.py): this router
takes /report only from staff. The rules, and who may see which scope, live in services.stats.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Router
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import BufferedInputFile, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from config.settings import Settings
from handlers import dashboard, texts, workbook
from handlers.filters import Registered
from handlers.replies import Replies
from services import stats
from services.clock import Clock
from services.errors import Refusal, ServiceError
from storage.models import Role, User


class Staff(Filter):
    """Coordinators and admins (whose /report is the workbook, not a need)."""

    async def __call__(self, event: Any, user: User | None = None) -> bool:
        return user is not None and user.role in (Role.coordinator, Role.admin)


def _period(command: CommandObject, clock: Clock, settings: Settings) -> stats.Period:
    """The period named after the command (this month when none is); ValueError if unclear."""
    args = (command.args or "").strip()
    if not args:
        return stats.month_of(clock.now(), settings.tz)
    return stats.parse_period(args, settings.tz)


async def on_stats(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    user: User,
) -> Replies:
    try:
        stats.scope_of(user)
        period = _period(command, clock, settings)
        figures = await stats.figures_for(session, user, period, clock.now())
    except ServiceError:
        return [message.answer(texts.STATS_ONLY_STAFF)]
    except ValueError:
        return [message.answer(texts.STATS_PERIOD_USAGE.format(command="stats"))]
    png = await asyncio.to_thread(dashboard.render, figures, settings.tz)
    caption = texts.STATS_CAPTION.format(
        scope=texts.scope_label(figures.scope_name), period=texts.period_label(period)
    )
    return [
        message.answer(texts.stats_summary(figures, settings.tz)),
        message.answer_photo(BufferedInputFile(png, "stats.png"), caption=caption),
    ]


async def on_report(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    settings: Settings,
    user: User,
) -> Replies:
    try:
        stats.scope_of(user)
        period = _period(command, clock, settings)
        report = await stats.report_for(session, user, period, clock.now())
    except ServiceError:
        return [message.answer(texts.STATS_ONLY_STAFF)]
    except ValueError:
        return [message.answer(texts.STATS_PERIOD_USAGE.format(command="report"))]
    xlsx = await asyncio.to_thread(workbook.build, report, settings.tz)
    scope = texts.scope_label(report.figures.scope_name)
    return [
        message.answer_document(
            BufferedInputFile(xlsx, texts.REPORT_FILE.format(scope=scope, period=period.code)),
            caption=texts.REPORT_CAPTION.format(scope=scope, period=texts.period_label(period)),
        )
    ]


async def on_public(
    message: Message, session: AsyncSession, clock: Clock, settings: Settings, user: User
) -> Replies:
    try:
        view = await stats.public_view(session, user, clock.now(), tz=settings.tz)
    except ServiceError as error:
        if error.refusal == Refusal.no_community:
            return [message.answer(texts.PUBLIC_NO_COMMUNITY)]
        raise
    return [message.answer(texts.public_text(view))]


def make_router() -> Router:
    router = Router(name="stats")
    router.message.filter(Registered())
    router.message.register(on_stats, Command("stats"))
    router.message.register(on_report, Command("report"), Staff())
    router.message.register(on_public, Command("public"))
    return router
