"""Configured quiet hours reach what the handlers queue: the bot here starts with
HAITANG_QUIET_HOURS=09:00-12:00, and the test clock starts at 10:00 in Suzhou, inside them
(the default 21:00-08:00 would let everything go at once, as in test_tickets)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from bot.sandbox import Sandbox
from config.settings import Settings
from services.clock import ManualClock
from storage.models import Outbox, OutboxStatus
from tests.e2e.people import Person
from tests.e2e.test_tickets import LAMP, open_card, report

PersonMaker = Callable[..., Person]
QUIET_END = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 in Suzhou


@pytest.fixture
def sandbox_settings() -> Settings:
    return Settings(quiet_hours="09:00-12:00")


async def test_a_status_notice_waits_for_the_end_of_the_configured_quiet_hours(
    sandbox: Sandbox, clock: ManualClock, person: PersonMaker
) -> None:
    assert sandbox.session_factory is not None and sandbox.sender is not None
    wang, zhang = person(1001, "王阿姨"), person(3001, "张书记")
    number, receipt = await report(wang, LAMP)  # her own receipt is a reply: never held
    card = await open_card(zhang, number)
    accepted = await zhang.press("受理", card)
    assert "· 已受理" in accepted.message["text"]

    # 10:00: the news for 王阿姨 (not urgent) is queued until 12:00, not sent.
    assert await sandbox.sender.drain()
    assert (await wang.last())["message_id"] == receipt["message_id"]
    async with sandbox.session_factory() as session:
        [held] = await session.exec(
            select(Outbox).where(col(Outbox.chat_id) == 1001, col(Outbox.kind) == "ticket_status")
        )
    assert held.status == OutboxStatus.pending and held.next_try_at == QUIET_END

    # 12:00: the quiet hours are over and it goes.
    clock.set(QUIET_END)
    assert await sandbox.sender.drain()
    news = await wang.last()
    assert "有新进展：已受理" in news["text"] and number in news["text"]
