"""The outbox: every message that is not the direct reply to a user's own update.

Services call `enqueue` inside their own unit of work, so a notice commits (or rolls back)
together with the business change that caused it; the caller commits. One paced sender
(bot/sender.py) claims due rows and delivers them within Telegram's limits, using the
sender-side functions below, each of which commits its own small transaction.

Row life: pending -> sending (claimed, committed just before the request) -> sent | pending
(retry later) | unreachable (403, chat not found) | failed (bad request, unknown kind, too many
attempts). `cancelled` is for whoever withdraws a row before it is sent. The sender-side functions work
in SQL: Outbox objects a session already holds are not refreshed by them.

Idempotency: `enqueue` is keyed by `idempotency_key`. It looks the key up first and inserts
with `INSERT ... ON CONFLICT (idempotency_key) DO NOTHING` (SQLite and PostgreSQL), so two
concurrent enqueues of one key yield one row and neither transaction is broken. (A savepoint,
`session.begin_nested()`, is not used: with pysqlite/aiosqlite a SAVEPOINT issued before the
transaction's first write starts the transaction itself, and releasing it COMMITS, so a later
rollback by the caller would not remove the row.)

Unreachable recipients: no column marks them. A chat is unreachable when its two most recent
rows that reached a verdict about the chat (`sent` or `unreachable`) are both `unreachable`,
i.e. two 403s / "chat not found" in a row; a later successful send clears it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.clock import Clock
from storage.models import Outbox, OutboxStatus

__all__ = [
    "FINAL_STATUSES",
    "INTERRUPTED",
    "MAX_ERROR_LENGTH",
    "claim_due",
    "counts",
    "due_pending",
    "enqueue",
    "is_unreachable",
    "mark_failed",
    "mark_retry",
    "mark_sent",
    "mark_throttled",
    "mark_unreachable",
    "migrate_chat",
    "recover_interrupted",
    "unreachable_chats",
]

MAX_ERROR_LENGTH = 300
# What `recover_interrupted` writes into last_error.
INTERRUPTED = "interrupted"
FINAL_STATUSES = frozenset(
    {OutboxStatus.sent, OutboxStatus.failed, OutboxStatus.unreachable, OutboxStatus.cancelled}
)
# Outcomes that say something about whether the chat can be reached.
_VERDICTS = (OutboxStatus.sent, OutboxStatus.unreachable)
_UNREACHABLE_STREAK = 2


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _error(text: str) -> str:
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


async def _by_key(session: AsyncSession, key: str) -> Outbox | None:
    return (await session.exec(select(Outbox).where(Outbox.idempotency_key == key))).first()


# ---- services' side ---------------------------------------------------------------------------


async def enqueue(
    session: AsyncSession,
    clock: Clock,
    *,
    chat_id: int,
    kind: str,
    payload: dict[str, Any],
    key: str,
    user_id: int | None = None,
    priority: int = 5,
    not_before: datetime | None = None,
    broadcast_id: int | None = None,
) -> Outbox:
    """Queue one message; a key already queued returns the existing row and adds nothing.

    The caller commits. `payload` must be JSON-serialisable; it is rendered at send time by
    the renderer registered for `kind`.
    """
    if not 0 <= priority <= 9:
        raise ValueError("priority must be 0-9 (0 goes first)")
    if not key or len(key) > 120:
        raise ValueError("the idempotency key must be 1-120 characters")
    existing = await _by_key(session, key)
    if existing is not None:
        return existing
    now = clock.now()
    values: dict[str, Any] = {
        "chat_id": chat_id,
        "user_id": user_id,
        "kind": kind,
        "payload": json.dumps(payload, ensure_ascii=False, sort_keys=True),
        "priority": priority,
        "status": OutboxStatus.pending,
        "attempts": 0,
        "next_try_at": max(now, not_before) if not_before is not None else now,
        "last_error": "",
        "created_at": now,
        "idempotency_key": key,
        "broadcast_id": broadcast_id,
    }
    dialect = _dialect(session)
    if dialect == "sqlite":
        statement: Any = sqlite.insert(Outbox).values(values).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql.insert(Outbox).values(values).on_conflict_do_nothing()
    else:  # pragma: no cover - the project runs on SQLite and PostgreSQL only
        raise NotImplementedError(f"enqueue does not support {dialect}")
    inserted = (await session.exec(statement.returning(col(Outbox.id)))).scalar_one_or_none()
    row = (
        await session.get(Outbox, inserted)
        if inserted is not None
        else await _by_key(session, key)  # lost the race: the other insert committed first
    )
    assert row is not None, f"outbox row {key!r} vanished"
    return row


# ---- the sender's side (each function commits) ------------------------------------------------


def _due(now: datetime, exclude_chats: Collection[int]) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        col(Outbox.status) == OutboxStatus.pending,
        col(Outbox.next_try_at) <= now,
    ]
    if exclude_chats:
        conditions.append(col(Outbox.chat_id).not_in(sorted(set(exclude_chats))))
    return conditions


def claim_statement(
    dialect: str, now: datetime, limit: int, exclude_chats: Collection[int] = ()
) -> UpdateBase:
    """UPDATE ... SET status='sending' WHERE id IN (the `limit` first due rows) RETURNING.

    On PostgreSQL the inner SELECT takes FOR UPDATE SKIP LOCKED, so concurrent claimers never
    wait for nor share a row; SQLite serialises writers, and the statement is atomic there.
    """
    first = (
        select(Outbox.id)
        .where(*_due(now, exclude_chats))
        .order_by(col(Outbox.priority), col(Outbox.id))
        .limit(limit)
    )
    if dialect == "postgresql":
        first = first.with_for_update(skip_locked=True)
    return (
        update(Outbox)
        .where(col(Outbox.id).in_(first.scalar_subquery()))
        .where(col(Outbox.status) == OutboxStatus.pending)
        .values(status=OutboxStatus.sending)
        .returning(Outbox)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


async def claim_due(
    session: AsyncSession,
    clock: Clock,
    limit: int,
    *,
    exclude_chats: Collection[int] = (),
    one_per_chat: bool = False,
) -> list[Outbox]:
    """Mark up to `limit` due pending rows `sending` and commit; ordered by priority, id.

    `exclude_chats` skips chats that cannot take a message now; `one_per_chat` takes at most
    one row per chat (the first by priority, id), so a chat's messages go out in order.
    """
    if limit <= 0:
        return []
    now = clock.now()
    dialect = _dialect(session)
    if not one_per_chat:
        result = await session.exec(claim_statement(dialect, now, limit, exclude_chats))
        claimed = list(result.scalars().all())
    else:
        candidates = (
            select(Outbox.id, Outbox.chat_id)
            .where(*_due(now, exclude_chats))
            .order_by(col(Outbox.priority), col(Outbox.id))
            .limit(limit * 4 + 16)
        )
        if dialect == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        chosen: dict[int, int] = {}
        for row_id, chat_id in (await session.exec(candidates)).all():
            if chat_id not in chosen and row_id is not None:
                chosen[chat_id] = row_id
                if len(chosen) >= limit:
                    break
        claimed = []
        if chosen:
            statement = (
                update(Outbox)
                .where(col(Outbox.id).in_(list(chosen.values())))
                # Another claimer may have taken a row between the SELECT and here.
                .where(col(Outbox.status) == OutboxStatus.pending)
                .values(status=OutboxStatus.sending)
                .returning(Outbox)
                .execution_options(synchronize_session=False, populate_existing=True)
            )
            claimed = list((await session.exec(statement)).scalars().all())
    await session.commit()
    return sorted(claimed, key=lambda row: (row.priority, row.id or 0))


async def _finish(session: AsyncSession, row_id: int, **values: Any) -> bool:
    statement = (
        update(Outbox)
        .where(col(Outbox.id) == row_id)
        .where(col(Outbox.status) == OutboxStatus.sending)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = await session.exec(statement)
    await session.commit()
    return bool(result.rowcount)


async def mark_sent(session: AsyncSession, row_id: int, message_id: int, clock: Clock) -> bool:
    """Delivered. last_error is kept (an earlier "interrupted" marks a possible duplicate)."""
    return await _finish(
        session,
        row_id,
        status=OutboxStatus.sent,
        sent_at=clock.now(),
        message_id=message_id,
        attempts=col(Outbox.attempts) + 1,
    )


async def mark_retry(
    session: AsyncSession, row_id: int, clock: Clock, delay: timedelta | float, error: str
) -> bool:
    """An attempt failed in a way worth retrying: pending again after `delay`."""
    wait = delay if isinstance(delay, timedelta) else timedelta(seconds=delay)
    return await _finish(
        session,
        row_id,
        status=OutboxStatus.pending,
        next_try_at=clock.now() + wait,
        last_error=_error(error),
        attempts=col(Outbox.attempts) + 1,
    )


async def mark_throttled(session: AsyncSession, row_id: int, error: str) -> bool:
    """Flood control (429): pending again at once, not counted as an attempt.

    The sender pauses itself for retry_after; the row keeps its place in the queue.
    """
    return await _finish(session, row_id, status=OutboxStatus.pending, last_error=_error(error))


async def mark_unreachable(session: AsyncSession, row_id: int, error: str) -> bool:
    """The chat cannot be written to (blocked, deactivated, never started, not found)."""
    return await _finish(
        session,
        row_id,
        status=OutboxStatus.unreachable,
        last_error=_error(error),
        attempts=col(Outbox.attempts) + 1,
    )


async def mark_failed(session: AsyncSession, row_id: int, error: str) -> bool:
    """Given up: a request Telegram refuses, an unknown kind, or too many attempts."""
    return await _finish(
        session,
        row_id,
        status=OutboxStatus.failed,
        last_error=_error(error),
        attempts=col(Outbox.attempts) + 1,
    )


async def migrate_chat(
    session: AsyncSession, row_id: int, old_chat_id: int, new_chat_id: int, error: str
) -> int:
    """A group became a supergroup: this row and every pending row of the old chat move to
    the new chat id; this row is pending again (not counted as an attempt). Returns the
    number of rows moved."""
    moved = await session.exec(
        update(Outbox)
        .where(col(Outbox.chat_id) == old_chat_id)
        .where(col(Outbox.status) == OutboxStatus.pending)
        .values(chat_id=new_chat_id)
        .execution_options(synchronize_session=False)
    )
    this = await session.exec(
        update(Outbox)
        .where(col(Outbox.id) == row_id)
        .where(col(Outbox.status) == OutboxStatus.sending)
        .values(chat_id=new_chat_id, status=OutboxStatus.pending, last_error=_error(error))
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return int(moved.rowcount) + int(this.rowcount)


async def recover_interrupted(session: AsyncSession) -> int:
    """Rows left `sending` by a crash go back to pending (at-least-once), marked.

    Such a row's request may or may not have reached Telegram, which offers no idempotency
    and no way to ask. Re-sending risks a duplicate; not re-sending risks a loss; a notice
    (a reminder, an escalation) that is lost is worse than one read twice, so they are
    re-queued. `last_error = "interrupted"` and one more attempt record it. Only one sender
    may run per database: this takes back rows another live sender is sending.
    """
    result = await session.exec(
        update(Outbox)
        .where(col(Outbox.status) == OutboxStatus.sending)
        .values(
            status=OutboxStatus.pending,
            last_error=INTERRUPTED,
            attempts=col(Outbox.attempts) + 1,
        )
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return int(result.rowcount)


# ---- inspection -------------------------------------------------------------------------------


async def counts(session: AsyncSession, broadcast_id: int | None = None) -> dict[str, int]:
    """Rows per status (every status present), for all rows or one broadcast."""
    query = select(Outbox.status, func.count()).group_by(col(Outbox.status))
    if broadcast_id is not None:
        query = query.where(col(Outbox.broadcast_id) == broadcast_id)
    found = {OutboxStatus(status).value: int(n) for status, n in (await session.exec(query)).all()}
    return {status.value: found.get(status.value, 0) for status in OutboxStatus}


async def due_pending(session: AsyncSession, clock: Clock) -> int:
    """How many pending rows are due now."""
    query = select(func.count()).select_from(Outbox).where(*_due(clock.now(), ()))
    return int((await session.exec(query)).one())


async def is_unreachable(session: AsyncSession, chat_id: int) -> bool:
    """Two 403s / "chat not found" in a row, with no successful send after them."""
    query = (
        select(Outbox.status)
        .where(col(Outbox.chat_id) == chat_id)
        .where(col(Outbox.status).in_(_VERDICTS))
        .order_by(col(Outbox.id).desc())
        .limit(_UNREACHABLE_STREAK)
    )
    last = list((await session.exec(query)).all())
    return len(last) == _UNREACHABLE_STREAK and all(
        OutboxStatus(s) is OutboxStatus.unreachable for s in last
    )


async def unreachable_chats(session: AsyncSession, chat_ids: Iterable[int]) -> set[int]:
    """`is_unreachable` for many chats in one query (for broadcasts to skip them)."""
    wanted = sorted(set(chat_ids))
    if not wanted:
        return set()
    rank = (
        func.row_number()
        .over(partition_by=col(Outbox.chat_id), order_by=col(Outbox.id).desc())
        .label("rank")
    )
    recent = (
        select(col(Outbox.chat_id).label("chat_id"), col(Outbox.status).label("status"), rank)
        .where(col(Outbox.chat_id).in_(wanted))
        .where(col(Outbox.status).in_(_VERDICTS))
        .subquery()
    )
    unreachable = func.sum(case((recent.c.status == OutboxStatus.unreachable, 1), else_=0))
    query = (
        select(recent.c.chat_id)
        .where(recent.c.rank <= _UNREACHABLE_STREAK)
        .group_by(recent.c.chat_id)
        .having(unreachable == _UNREACHABLE_STREAK)
    )
    return {int(chat_id) for chat_id in (await session.exec(query)).all()}
