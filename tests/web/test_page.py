"""The chat page without a browser: what GET / serves, and the routes the page relies on."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import aiohttp
from sqlmodel import select

from bot.sandbox import Sandbox
from bot.standin import StandIn
from bot.web import MAIN_PERSONA_IDS, PersonaView, render_page
from nlp.classifier import Classifier
from services.clock import ManualClock, ScaledClock
from services.demo import PERSONAS
from storage.models import User


async def get(url: str) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text(), dict(response.headers)


async def test_the_page_lists_every_persona_in_its_html(page_sandbox: Sandbox) -> None:
    status, html, headers = await get(page_sandbox.base_url + "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    for name in ("王阿姨", "张书记", "小李", "陈主任"):
        assert name in html
    for persona in PERSONAS:
        assert f'data-user-id="{persona.telegram_id}"' in html
        assert persona.display_name in html and persona.description in html
    # The four main personas come first, in the section of their own.
    main, more = html.split('id="personas-more"', 1)
    for telegram_id in MAIN_PERSONA_IDS:
        assert f'data-user-id="{telegram_id}"' in main
    assert 'data-user-id="1002"' in more
    # Nothing comes from the internet.
    assert "http://" not in html.replace(page_sandbox.base_url, "") and "https://" not in html
    assert "default-src 'self'" in headers["Content-Security-Policy"]


async def test_assets_and_the_page_routes(page_sandbox: Sandbox) -> None:
    base = page_sandbox.base_url
    for asset, kind in (("app.js", "javascript"), ("style.css", "css"), ("icon.svg", "svg")):
        status, body, headers = await get(f"{base}/static/{asset}")
        assert status == 200 and kind in headers["Content-Type"] and body
    status, _, _ = await get(f"{base}/static/index.html")
    assert status == 404, "the template is rendered at /, never served raw"

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/sandbox/personas") as response:
            people = (await response.json())["personas"]
        async with http.get(f"{base}/sandbox/clock") as response:
            clock = await response.json()
    assert [p["telegram_id"] for p in people[:4]] == list(MAIN_PERSONA_IDS)
    assert people[0] == {
        "telegram_id": 1001,
        "name": "王阿姨",
        "role": "resident",
        "role_label": "居民",
        "description": "居民 · 悬桥社区",
        "main": True,
    }
    assert {p["telegram_id"] for p in people} == {p.telegram_id for p in PERSONAS}
    assert datetime.fromisoformat(clock["now"]) == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert clock["speed"] == 0, "a manual clock stands still"


async def test_names_are_read_fresh_and_escaped(page_sandbox: Sandbox) -> None:
    assert page_sandbox.session_factory is not None
    async with page_sandbox.session_factory() as session:
        user = (await session.exec(select(User).where(User.telegram_id == 1002))).one()
        user.display_name = "李伯伯<b>"
        session.add(user)
        await session.commit()
    _, html, _ = await get(page_sandbox.base_url + "/")
    assert "李伯伯&lt;b&gt;" in html and "李伯伯<b>" not in html


async def test_a_headless_sandbox_serves_no_page(
    db_url: str, clock: ManualClock, classifier: Classifier
) -> None:
    async with Sandbox(
        database_url=db_url, clock=clock, polling_timeout=1, classifier=classifier
    ) as box:
        status, _, _ = await get(box.base_url + "/")
        assert status == 404
        status, _, _ = await get(box.base_url + "/sandbox/clock")
        assert status == 200, "the clock is part of the control API"


def test_render_page_escapes_everything() -> None:
    evil = PersonaView(
        telegram_id=7,
        name='"><script>alert(1)</script>',
        role="resident",
        role_label="居民",
        description="居民 · <img src=x onerror=alert(1)>",
        main=True,
    )
    html = render_page([evil], bot_username="Bot&Co", bot_name="海棠<先锋>")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html and "海棠&lt;先锋&gt;" in html
    assert 'data-bot-username="Bot&amp;Co"' in html


async def test_the_clock_reports_the_sandbox_speed() -> None:
    standin = StandIn("1:T", clock=ScaledClock(60))
    await standin.start()
    try:
        await asyncio.sleep(0.3)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{standin.base_url}/sandbox/clock") as response:
                first = await response.json()
            await asyncio.sleep(0.2)
            async with http.get(f"{standin.base_url}/sandbox/clock") as response:
                second = await response.json()
    finally:
        await standin.stop()
    assert first["speed"] == second["speed"] == 60
    moved = datetime.fromisoformat(second["now"]) - datetime.fromisoformat(first["now"])
    assert 10 <= moved.total_seconds() <= 30


async def test_stopping_answers_waiting_pages_at_once() -> None:
    standin = StandIn("1:T")
    await standin.start()
    url = f"{standin.base_url}/sandbox/chats/42/messages?since=0&wait_s=50"
    async with aiohttp.ClientSession() as http:
        waiting = asyncio.ensure_future(http.get(url))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await standin.stop()
        assert time.monotonic() - started < 2, "a page's long poll held the shutdown"
        async with await waiting as response:
            assert response.status == 200
            assert (await response.json())["messages"] == []
