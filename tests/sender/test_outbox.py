"""services/outbox without aiogram: idempotent enqueue, claiming, recovery, unreachable chats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services import outbox
from services.clock import ManualClock
from storage.db import SessionFactory
from storage.models import Outbox, OutboxStatus, Street


async def add(
    session: AsyncSession, clock: ManualClock, key: str, chat_id: int = 42, **extra: object
) -> Outbox:
    return await outbox.enqueue(
        session,
        clock,
        chat_id=chat_id,
        kind="text",
        payload={"text": key},
        key=key,
        **extra,  # type: ignore[arg-type]
    )


async def rows(session: AsyncSession) -> list[Outbox]:
    query = select(Outbox).order_by(col(Outbox.id)).execution_options(populate_existing=True)
    return list(await session.exec(query))


async def test_enqueue_twice_with_one_key_yields_one_row(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        first = await add(session, clock, "notice:1")
        again = await outbox.enqueue(
            session, clock, chat_id=7, kind="other", payload={"x": 1}, key="notice:1"
        )
        await session.commit()
        assert again.id == first.id and again.chat_id == 42 and again.kind == "text"
    async with session_factory() as session:
        later = await add(session, clock, "notice:1", chat_id=99)
        await session.commit()
        [row] = await rows(session)
    assert later.id == row.id == first.id
    assert row.status is OutboxStatus.pending and row.next_try_at == clock.now()
    assert row.payload == '{"text": "notice:1"}' and row.attempts == 0


async def test_enqueue_commits_and_rolls_back_with_the_callers_change(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    # The first statement of the transaction: a savepoint here would commit on its own.
    async with session_factory() as session:
        await add(session, clock, "rolled-back")
        session.add(Street(name="回滚街道"))
        await session.rollback()
    async with session_factory() as session:
        assert await rows(session) == []
        assert (await session.exec(select(Street).where(Street.name == "回滚街道"))).first() is None
        await add(session, clock, "kept")
        session.add(Street(name="提交街道"))
        await session.commit()
    async with session_factory() as session:
        assert [r.idempotency_key for r in await rows(session)] == ["kept"]


async def test_a_lost_race_returns_the_winners_row_and_keeps_the_transaction(
    session_factory: SessionFactory, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with session_factory() as winner:
        won = await add(winner, clock, "race")
        await winner.commit()
    looked_up: list[str] = []
    real_lookup = outbox._by_key

    async def blind_first_lookup(session: AsyncSession, key: str) -> Outbox | None:
        # The loser looked the key up before the winner committed.
        looked_up.append(key)
        return None if len(looked_up) == 1 else await real_lookup(session, key)

    monkeypatch.setattr(outbox, "_by_key", blind_first_lookup)
    async with session_factory() as loser:
        loser.add(Street(name="竞态街道"))
        lost = await add(loser, clock, "race", chat_id=5)
        await loser.commit()
    assert looked_up == ["race", "race"], "the loser inserted, conflicted and looked again"
    assert lost.id == won.id and lost.chat_id == 42
    async with session_factory() as session:
        assert len(await rows(session)) == 1
        street = await session.exec(select(Street).where(Street.name == "竞态街道"))
        assert street.first() is not None, "the loser's own change still committed"


async def test_enqueue_refuses_bad_priority_and_key(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        with pytest.raises(ValueError):
            await add(session, clock, "p", priority=10)
        with pytest.raises(ValueError):
            await add(session, clock, "k" * 121)


async def test_claim_takes_due_rows_by_priority_then_age(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        broadcast = await add(session, clock, "b", chat_id=1, priority=9)
        notice = await add(session, clock, "n1", chat_id=2, priority=5)
        urgent = await add(session, clock, "u", chat_id=3, priority=0)
        notice2 = await add(session, clock, "n2", chat_id=4, priority=5)
        later = await add(
            session, clock, "later", chat_id=5, priority=0, not_before=clock.now() + timedelta(1)
        )
        await session.commit()
    async with session_factory() as session:
        claimed = await outbox.claim_due(session, clock, 3)
        assert [r.id for r in claimed] == [urgent.id, notice.id, notice2.id]
        assert all(r.status is OutboxStatus.sending for r in claimed)
        assert [r.id for r in await outbox.claim_due(session, clock, 10)] == [broadcast.id]
        assert await outbox.claim_due(session, clock, 10) == [], "later is not due"
    clock.advance(timedelta(days=1))
    async with session_factory() as session:
        assert [r.id for r in await outbox.claim_due(session, clock, 10)] == [later.id]
        assert (await outbox.counts(session))["sending"] == 5


async def test_claim_skips_excluded_chats_and_takes_one_row_per_chat(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        a1 = await add(session, clock, "a1", chat_id=1)
        a2 = await add(session, clock, "a2", chat_id=1)
        b1 = await add(session, clock, "b1", chat_id=2)
        c1 = await add(session, clock, "c1", chat_id=3)
        await session.commit()
    async with session_factory() as session:
        first = await outbox.claim_due(session, clock, 5, exclude_chats={3}, one_per_chat=True)
        assert [r.id for r in first] == [a1.id, b1.id]
        rest = await outbox.claim_due(session, clock, 5, one_per_chat=True)
        assert [r.id for r in rest] == [a2.id, c1.id]


def test_the_claim_skips_locked_rows_on_postgresql() -> None:
    now = ManualClock().now()
    pg = create_async_engine("postgresql+asyncpg://haitang@localhost/haitang").dialect
    lite = create_async_engine("sqlite+aiosqlite://").dialect
    on_pg = str(outbox.claim_statement("postgresql", now, 5).compile(dialect=pg))
    assert "FOR UPDATE SKIP LOCKED" in on_pg and "RETURNING" in on_pg
    on_sqlite = str(outbox.claim_statement("sqlite", now, 5).compile(dialect=lite))
    assert "FOR UPDATE" not in on_sqlite and "RETURNING" in on_sqlite


async def test_outcomes_move_only_rows_being_sent(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        row = await add(session, clock, "x")
        await session.commit()
        assert row.id is not None
        assert not await outbox.mark_sent(session, row.id, 1, clock), "pending, not sending"
        await outbox.claim_due(session, clock, 1)
        assert await outbox.mark_retry(session, row.id, clock, 2.0, "500: boom")
        await session.refresh(row)
        assert (row.status, row.attempts, row.last_error) == (OutboxStatus.pending, 1, "500: boom")
        assert row.next_try_at == clock.now() + timedelta(seconds=2)
        clock.advance(timedelta(seconds=2))
        await outbox.claim_due(session, clock, 1)
        assert await outbox.mark_throttled(session, row.id, "429")
        await session.refresh(row)
        assert (row.status, row.attempts) == (OutboxStatus.pending, 1), "429 is no attempt"
        await outbox.claim_due(session, clock, 1)
        assert await outbox.mark_sent(session, row.id, 77, clock)
        assert not await outbox.mark_failed(session, row.id, "late"), "already sent"
        await session.refresh(row)
        assert (row.status, row.message_id, row.sent_at) == (OutboxStatus.sent, 77, clock.now())
        assert row.attempts == 2


async def test_recover_interrupted_requeues_rows_left_sending(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        for key in ("a", "b", "c"):
            await add(session, clock, key, chat_id=ord(key))
        await session.commit()
        a, b, _ = await outbox.claim_due(session, clock, 3)
        assert a.id is not None and b.id is not None
        await outbox.mark_sent(session, a.id, 1, clock)
        assert await outbox.recover_interrupted(session) == 2
        assert await outbox.recover_interrupted(session) == 0
        found = {r.idempotency_key: r for r in await rows(session)}
    assert found["a"].status is OutboxStatus.sent and found["a"].last_error == ""
    for key in ("b", "c"):
        assert found[key].status is OutboxStatus.pending
        assert found[key].last_error == outbox.INTERRUPTED and found[key].attempts == 1


async def test_migration_moves_the_row_and_the_chats_pending_rows(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        first = await add(session, clock, "g1", chat_id=-4001)
        await add(session, clock, "g2", chat_id=-4001)
        await add(session, clock, "other", chat_id=-4002)
        await session.commit()
        [claimed] = await outbox.claim_due(session, clock, 1)
        assert claimed.id == first.id and first.id is not None
        assert await outbox.migrate_chat(session, first.id, -4001, -1004001, "migrated") == 2
        chats = {r.idempotency_key: (r.chat_id, r.status) for r in await rows(session)}
    assert chats == {
        "g1": (-1004001, OutboxStatus.pending),
        "g2": (-1004001, OutboxStatus.pending),
        "other": (-4002, OutboxStatus.pending),
    }


@pytest.mark.parametrize(
    ("history", "unreachable"),
    [
        ([], False),
        ([OutboxStatus.unreachable], False),
        ([OutboxStatus.unreachable, OutboxStatus.unreachable], True),
        ([OutboxStatus.unreachable, OutboxStatus.unreachable, OutboxStatus.sent], False),
        ([OutboxStatus.unreachable, OutboxStatus.sent, OutboxStatus.unreachable], False),
        (
            [
                OutboxStatus.sent,
                OutboxStatus.unreachable,
                OutboxStatus.failed,
                OutboxStatus.unreachable,
            ],
            True,
        ),
        ([OutboxStatus.unreachable, OutboxStatus.unreachable, OutboxStatus.pending], True),
    ],
)
async def test_two_unreachable_outcomes_in_a_row_make_a_chat_unreachable(
    session_factory: SessionFactory,
    clock: ManualClock,
    history: list[OutboxStatus],
    unreachable: bool,
) -> None:
    async with session_factory() as session:
        for i, status in enumerate(history):
            row = await add(session, clock, f"h{i}", chat_id=500)
            row.status = status
        await add(session, clock, "neighbour", chat_id=501)
        await session.commit()
        assert await outbox.is_unreachable(session, 500) is unreachable
        assert await outbox.unreachable_chats(session, [500, 501, 502]) == (
            {500} if unreachable else set()
        )


async def test_counts_per_status_and_broadcast(
    session_factory: SessionFactory, clock: ManualClock
) -> None:
    async with session_factory() as session:
        for i in range(3):
            await add(session, clock, f"bc{i}", chat_id=i + 1, broadcast_id=9, priority=9)
        await add(session, clock, "solo")
        await session.commit()
        await outbox.claim_due(session, clock, 1)
        assert await outbox.counts(session, broadcast_id=9) == {
            "pending": 3,
            "sending": 0,
            "sent": 0,
            "failed": 0,
            "unreachable": 0,
            "cancelled": 0,
        }
        assert (await outbox.counts(session))["sending"] == 1
        assert await outbox.due_pending(session, clock) == 3
        total = (await session.exec(select(func.count()).select_from(Outbox))).one()
        assert total == 4
