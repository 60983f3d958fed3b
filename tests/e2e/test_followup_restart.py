"""Issue 6: a real bot process (`haitang run`) is killed with SIGKILL in the middle of a sweep
and started again; every due follow-up is delivered exactly once, counted at the stand-in.

The stand-in runs here, in the test process; the bot is a subprocess pointed at it with
HAITANG_API_BASE_URL. HAITANG_SWEEP_DELAY_MS slows the first process's sweep down (a pause
inside each follow-up's transaction, before its commit) so that the kill lands inside one.

The outbox sender is at-least-once by design (a request in flight when the process dies is sent
again after the restart), which would blur the count. So before the kill the test makes the
stand-in answer one sendMessage with 429 retry_after=3600: the first process's sender pauses
for an hour (after having delivered a few reminders), and the test waits until no outbox row is
`sending` before it kills. The kill then tests the follow-ups alone: the rows committed before
it must not be redone, the one in flight must be redone, the rest must be done, each once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from bot.sandbox import SANDBOX_TOKEN
from bot.standin import StandIn
from bot.standin.client import SandboxClient
from nlp.classifier import Classifier
from services import tickets
from services.clock import ManualClock
from services.followups import DEFAULT_RULES as FOLLOWUP_RULES
from services.users import get_user
from storage.db import make_engine, make_session_factory
from storage.models import Outbox, OutboxStatus, Role, User
from tests.e2e.people import buttons

HAITANG = str(Path(sys.executable).with_name("haitang"))
RESIDENTS = 30
FIRST_CHAT = 880_000
DELAY_MS = 250
KIND = "ticket_confirm_ask"


async def seed(db_url: str, classifier: Classifier) -> None:
    """30 residents, each with a ticket resolved two days ago: their 24 h 'please confirm'
    reminder is due now (the 72 h one and the 7-day close are not)."""
    clock = ManualClock(datetime.now(UTC) - timedelta(days=2))
    engine = make_engine(db_url)
    try:
        async with make_session_factory(engine)() as session:
            zhang = await get_user(session, 3001)
            assert zhang is not None and zhang.community_id is not None
            for n in range(RESIDENTS):
                resident = User(
                    telegram_id=FIRST_CHAT + n,
                    chat_id=FIRST_CHAT + n,
                    display_name=f"居民{n}",
                    role=Role.resident,
                    street_id=zhang.street_id,
                    community_id=zhang.community_id,
                    consent_at=clock.now(),
                    created_at=clock.now(),
                )
                session.add(resident)
                await session.flush()
                ticket = await tickets.report(
                    session,
                    clock,
                    classifier,
                    resident,
                    "楼道灯坏了",
                    followup_rules=FOLLOWUP_RULES,
                )
                assert ticket.id is not None
                await tickets.accept(
                    session, clock, zhang, ticket.id, followup_rules=FOLLOWUP_RULES
                )
                await tickets.resolve(
                    session, clock, zhang, ticket.id, "已换灯泡", followup_rules=FOLLOWUP_RULES
                )
            # Only the follow-ups are under test: the notices of the setup are not sent.
            await session.exec(update(Outbox).values(status=OutboxStatus.cancelled))
            await session.commit()
    finally:
        await engine.dispose()


def query(db: Path, sql: str) -> int:
    with sqlite3.connect(db, timeout=5) as connection:
        return int(connection.execute(sql).fetchone()[0])


def done_followups(db: Path) -> int:
    return query(db, f"SELECT count(*) FROM follow_up WHERE kind='{KIND}' AND status='done'")


def write_locked(db: Path) -> bool:
    """Whether another connection holds the write lock (a sweep transaction is open)."""
    connection = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return True
    else:
        connection.execute("ROLLBACK")
        return False
    finally:
        connection.close()


async def start_bot(
    tmp_path: Path, name: str, db_url: str, base_url: str, delay_ms: int
) -> asyncio.subprocess.Process:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HAITANG_")}
    env = {
        **clean,
        "HAITANG_BOT_TOKEN": SANDBOX_TOKEN,
        "HAITANG_API_BASE_URL": base_url,
        "HAITANG_DATABASE_URL": db_url,
        "HAITANG_SWEEP_DELAY_MS": str(delay_ms),
        "HAITANG_QUIET_HOURS": "off",  # the test must not depend on the time of day
    }
    with (tmp_path / f"{name}.log").open("w") as log:  # the child keeps its own copy
        return await asyncio.create_subprocess_exec(
            HAITANG, "run", env=env, cwd=tmp_path, stdout=log, stderr=log
        )


async def until(condition: object, timeout: float, what: str) -> None:  # noqa: ASYNC109
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def chats(standin: StandIn) -> dict[int, int]:
    """Messages delivered to each resident's chat."""
    return {
        chat: n
        for chat, n in standin.stats.delivered.items()
        if FIRST_CHAT <= chat < FIRST_CHAT + RESIDENTS
    }


async def test_killed_in_the_middle_of_a_sweep_every_due_item_is_delivered_once(
    db_url: str, tmp_path: Path, classifier: Classifier
) -> None:
    await seed(db_url, classifier)
    db = Path(db_url.removeprefix("sqlite+aiosqlite:///"))
    standin = StandIn(SANDBOX_TOKEN, bot_username="HaitangBot")
    for n in range(RESIDENTS):
        standin.state.ensure_user(FIRST_CHAT + n, f"居民{n}")
    await standin.start("127.0.0.1", 0)
    first = second = None
    try:
        # The first life: a slow sweep; a few reminders get out, then Telegram says 429.
        first = await start_bot(tmp_path, "first", db_url, standin.base_url, DELAY_MS)
        await until(lambda: sum(chats(standin).values()) >= 3, 60, "the first deliveries")
        standin.faults.add("sendMessage", 429, retry_after=3600, count=1)
        await until(lambda: not standin.faults.faults, 30, "the sender to meet the 429")
        await until(
            lambda: query(db, "SELECT count(*) FROM outbox WHERE status='sending'") == 0,
            30,
            "no request in flight",
        )
        before = done_followups(db)
        assert before < RESIDENTS, "the sweep ended before the kill: raise DELAY_MS"
        await until(lambda: write_locked(db), 10, "a sweep transaction to be open")
        first.send_signal(signal.SIGKILL)
        await first.wait()
        delivered_before = dict(chats(standin))

        # What the kill left: committed rows are done, each with its one outbox row; the row
        # whose transaction died is pending again with nothing queued for it.
        done = done_followups(db)
        assert 3 <= done < RESIDENTS
        assert query(db, "SELECT count(*) FROM outbox WHERE kind='followup_confirm_ask'") == done
        assert query(db, "SELECT count(*) FROM follow_up WHERE status='claimed'") == 0
        assert all(n == 1 for n in delivered_before.values())

        # The second life: the first sweep runs at start and finishes the work.
        second = await start_bot(tmp_path, "second", db_url, standin.base_url, 0)
        await until(lambda: len(chats(standin)) == RESIDENTS, 60, "every reminder")
        await until(
            lambda: (
                query(
                    db,
                    "SELECT count(*) FROM outbox WHERE status!='sent' "
                    "AND kind='followup_confirm_ask'",
                )
                == 0
            ),
            30,
            "the outbox to empty",
        )
        await asyncio.sleep(1.5)  # a duplicate, if there were one, would arrive now
        assert chats(standin) == {FIRST_CHAT + n: 1 for n in range(RESIDENTS)}
        assert done_followups(db) == RESIDENTS
        assert query(db, "SELECT count(*) FROM outbox WHERE kind='followup_confirm_ask'") == (
            RESIDENTS
        )
        async with SandboxClient(standin.base_url) as client:
            for n in (0, RESIDENTS - 1):
                [message] = await client.messages(FIRST_CHAT + n)
                assert "还在等您确认" in message["text"]
                assert buttons(message) == ["已解决", "未解决"]
        assert standin.violations == []
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 20)
                except TimeoutError:
                    process.kill()
                    await process.wait()
        await standin.stop()
    assert second is not None and second.returncode == 0, (tmp_path / "second.log").read_text()
