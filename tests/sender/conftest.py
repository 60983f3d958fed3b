"""A sandbox (stand-in + real bot + paced sender) with quick, jitter-free retry policy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.sandbox import Sandbox
from bot.sender import SendLimits
from bot.standin.client import SandboxClient
from nlp.classifier import Classifier
from services.clock import ManualClock

# Retries after exactly 1, 2, 4, ... s; a 429 pauses for exactly retry_after.
QUICK = SendLimits(
    backoff_base_s=1.0, backoff_jitter_s=0.0, retry_after_jitter_s=0.0, poll_interval_s=0.2
)


@pytest.fixture
async def box(db_url: str, clock: ManualClock, classifier: Classifier) -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(
        database_url=db_url,
        clock=clock,
        polling_timeout=1,
        classifier=classifier,
        send_limits=QUICK,
    )
    await sandbox.start()
    try:
        yield sandbox
        async with SandboxClient(sandbox.base_url) as client:
            violations = await client.violations()
        assert violations == [], f"the bot sent requests the Bot API refuses: {violations}"
    finally:
        await sandbox.stop()


@pytest.fixture
async def client(box: Sandbox) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(box.base_url) as c:
        yield c
