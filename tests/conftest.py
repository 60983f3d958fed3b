"""Shared fixtures: a migrated, seeded template database copied for each test, and a clock."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.database import prepare_database, sqlite_url
from nlp.classifier import Classifier, load_classifier
from services.clock import ManualClock
from storage.db import SessionFactory, make_engine, make_session_factory


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once by Alembic (never create_all) and seeded with the demo district."""
    path = tmp_path_factory.mktemp("template") / "haitang.db"
    asyncio.run(prepare_database(sqlite_url(path), ManualClock()))
    return path


@pytest.fixture
def db_url(template_db: Path, tmp_path: Path) -> str:
    path = tmp_path / "haitang.db"
    shutil.copyfile(template_db, path)
    return sqlite_url(path)


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    """jieba's dictionary loads once for the whole run."""
    return load_classifier()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def session_factory(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    await engine.dispose()
