"""The stats tests use the end-to-end fixtures (the real bot against the Bot API stand-in)."""

from __future__ import annotations

from tests.e2e.conftest import client, person, sandbox, sandbox_settings

__all__ = ["client", "person", "sandbox", "sandbox_settings"]
