"""Fixtures for the chat page: a sandbox serving it, and Debian's chromium driven by Playwright.

Chromium comes from the system package (`make chromium` installs it); Playwright's own browser
downloads are never used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright

from bot.sandbox import Sandbox
from bot.standin.client import SandboxClient
from nlp.classifier import Classifier
from services.clock import ManualClock

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HAVE_CHROMIUM = CHROMIUM.exists()
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

Screenshot = Callable[[str], Awaitable[Path]]


@pytest.fixture
async def page_sandbox(
    db_url: str, clock: ManualClock, classifier: Classifier
) -> AsyncIterator[Sandbox]:
    """A sandbox with the chat page; fails the test if the bot broke the Bot API rules."""
    box = Sandbox(
        database_url=db_url,
        clock=clock,
        polling_timeout=1,
        chat_page=True,
        classifier=classifier,
    )
    await box.start()
    try:
        yield box
        async with SandboxClient(box.base_url) as client:
            violations = await client.violations()
        assert violations == [], f"the bot sent requests the Bot API refuses: {violations}"
    finally:
        await box.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip("chromium is not installed: run `make chromium` (Debian package chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser, page_sandbox: Sandbox) -> AsyncIterator[Page]:
    """The chat page, opened; console errors and failed requests fail the test."""
    context = await browser.new_context(
        viewport={"width": 1280, "height": 860}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    opened = await context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console error: {message.text}")

    def on_page_error(error: Error) -> None:
        problems.append(f"page error: {error}")

    opened.on("console", on_console)
    opened.on("pageerror", on_page_error)
    await opened.goto(page_sandbox.base_url + "/")
    try:
        yield opened
        assert problems == [], problems
    finally:
        await context.close()


@pytest.fixture
def screenshot(page: Page) -> Screenshot:
    """`await screenshot("name")` saves artifacts/screenshots/name.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    async def save(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        await page.screenshot(path=str(path), animations="disabled")
        return path

    return save
