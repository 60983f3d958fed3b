"""End to end: the real bot long-polls the project's Bot API stand-in over HTTP.

Every test fails if the bot sent anything the Bot API specification refuses, unless it is
marked `expect_violations` (the tests of the stand-in's own checks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.sandbox import Sandbox
from bot.standin.client import SandboxClient
from config.settings import Settings
from nlp.classifier import Classifier
from services.clock import ManualClock
from tests.e2e.people import Person


@pytest.fixture
def sandbox_settings() -> Settings | None:
    """The settings the bot starts with (None: the defaults); a test module may override it."""
    return None


@pytest.fixture
async def sandbox(
    db_url: str,
    clock: ManualClock,
    classifier: Classifier,
    sandbox_settings: Settings | None,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Sandbox]:
    box = Sandbox(
        database_url=db_url,
        clock=clock,
        polling_timeout=1,
        classifier=classifier,
        settings=sandbox_settings,
    )
    await box.start()
    try:
        yield box
        async with SandboxClient(box.base_url) as client:
            violations = await client.violations()
        if request.node.get_closest_marker("expect_violations") is None:
            assert violations == [], f"the bot sent requests the Bot API refuses: {violations}"
    finally:
        await box.stop()


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox.base_url) as c:
        yield c


@pytest.fixture
def person(client: SandboxClient, sandbox: Sandbox) -> Callable[..., Person]:
    """`person(user_id, name)` makes a simulated user that talks to the bot."""

    async def outbox_delivered() -> None:
        # rows due now are sent; rows for later (a retry, a reminder) are not waited for
        assert sandbox.sender is not None
        await sandbox.sender.drain(timeout=5)

    def make(user_id: int, first_name: str = "") -> Person:
        return Person(client, user_id, first_name, outbox_delivered)

    return make
