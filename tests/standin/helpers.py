"""Shared test helpers: the bot token and a raw Bot API caller."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
USER = 4242


class RawApi:
    """Calls the Bot API over HTTP the way any client could (JSON, form or multipart)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        encoding: str = "json",
        token: str = TOKEN,
    ) -> tuple[int, dict[str, Any]]:
        url = f"{self.base_url}/bot{token}/{method}"
        params = params or {}
        if encoding == "json":
            request = self.session.post(url, json=params)
        elif encoding == "query":
            request = self.session.get(url, params={k: str(v) for k, v in params.items()})
        else:
            form = aiohttp.FormData(
                quote_fields=False, default_to_multipart=encoding == "multipart"
            )
            for key, value in params.items():
                if isinstance(value, tuple):  # (filename, bytes)
                    form.add_field(key, value[1], filename=value[0])
                elif isinstance(value, str):
                    form.add_field(key, value)
                else:
                    form.add_field(key, json.dumps(value))
            request = self.session.post(url, data=form)
        async with request as response:
            return response.status, await response.json()

    async def ok(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        status, body = await self.call(method, params, **kw)
        assert status == 200, body
        assert body["ok"] is True
        return body["result"]
