"""Fixtures: a StandIn on a free port, a raw Bot API caller and a SandboxClient."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.standin import SandboxClient, StandIn
from tests.standin.helpers import TOKEN, USER, RawApi


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    server = StandIn(TOKEN, seed=7)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def api(standin: StandIn) -> AsyncIterator[RawApi]:
    async with aiohttp.ClientSession() as session:
        yield RawApi(session, standin.base_url)


@pytest.fixture
async def sandbox(standin: StandIn) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(standin.base_url) as client:
        yield client


@pytest.fixture
async def chat(sandbox: SandboxClient) -> int:
    """A user who has started the bot (so the bot may write to them)."""
    await sandbox.send_text(USER, "/start", first_name="小林")
    return USER
