"""aiogram FSM state in the database, so a restart loses no half-finished conversation.

While an update is being handled, state changes join that update's own session (set in
`update_session` by the unit-of-work middleware), so they commit or roll back with it; SQLite
would otherwise block a second writer until the update's transaction ends.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import SessionFactory
from storage.models import FsmState

update_session: ContextVar[AsyncSession | None] = ContextVar("update_session", default=None)


def _key(key: StorageKey) -> str:
    parts = (key.bot_id, key.chat_id, key.user_id, key.thread_id, key.business_connection_id)
    return ":".join("" if p is None else str(p) for p in parts) + f":{key.destiny}"


class SqlStorage(BaseStorage):
    def __init__(self, session_factory: SessionFactory) -> None:
        self.session_factory = session_factory

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        shared = update_session.get()
        if shared is not None:
            yield shared  # committed by the unit of work
            return
        async with self.session_factory() as session:
            yield session
            await session.commit()

    async def _row(self, key: StorageKey) -> FsmState | None:
        async with self._session() as session:
            return await session.get(FsmState, _key(key))

    async def _save(self, key: StorageKey, *, state: str | None, data: str) -> None:
        async with self._session() as session:
            row = await session.get(FsmState, _key(key))
            if state is None and data == "{}":
                if row is not None:
                    await session.delete(row)
            elif row is None:
                session.add(FsmState(key=_key(key), state=state, data=data))
            else:
                row.state, row.data = state, data
                session.add(row)
            await session.flush()

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        row = await self._row(key)
        await self._save(key, state=value, data=row.data if row else "{}")

    async def get_state(self, key: StorageKey) -> str | None:
        row = await self._row(key)
        return row.state if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        row = await self._row(key)
        encoded = json.dumps(dict(data), ensure_ascii=False, sort_keys=True)
        await self._save(key, state=row.state if row else None, data=encoded)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row = await self._row(key)
        loaded: dict[str, Any] = json.loads(row.data) if row else {}
        return loaded

    async def close(self) -> None:
        """The engine belongs to the composition root, which disposes of it."""
