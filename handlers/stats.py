"""Stats: filled in by its feature (see the issues). Rules live in services/."""

from __future__ import annotations

from aiogram import Router


def make_router() -> Router:
    return Router(name="stats")
