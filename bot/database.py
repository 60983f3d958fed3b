"""Preparing a database: migrations, and the demo district where wanted."""

from __future__ import annotations

from pathlib import Path

from services.clock import Clock
from services.demo import DemoReport, seed_demo
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade_async


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def prepare_database(database_url: str, clock: Clock) -> DemoReport:
    """Migrate and seed the demo district (both idempotent)."""
    await upgrade_async(database_url)
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            report = await seed_demo(session, clock)
            await session.commit()
    finally:
        await engine.dispose()
    return report
