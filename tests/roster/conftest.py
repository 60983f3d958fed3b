"""Roster fixtures: the demo database with phones given to the demo volunteers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.db import SessionFactory, make_engine, make_session_factory
from tests.roster.helpers import VOLUNTEER_PHONES, execute


@pytest.fixture
def roster_url(db_url: str) -> str:
    for telegram_id, phone in VOLUNTEER_PHONES.items():
        execute(db_url, "UPDATE app_user SET phone = ? WHERE telegram_id = ?", phone, telegram_id)
    return db_url


@pytest.fixture
async def sessions(roster_url: str) -> AsyncIterator[SessionFactory]:
    engine = make_engine(roster_url)
    yield make_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def cli_env(roster_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI opens the test database."""
    monkeypatch.setenv("HAITANG_DATABASE_URL", roster_url)
    return roster_url
