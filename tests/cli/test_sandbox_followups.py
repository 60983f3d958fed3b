"""Issue 6 through the sandbox as an operator runs it: `haitang sandbox --headless
--clock-speed 600`, driven only through its control API. At 600× a sandbox half hour takes 3 s
and two hours 12 s: an urgent report nobody acknowledges brings 张书记 a reminder naming the
ticket, then one escalation (督办) to 陈主任."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from bot.standin.client import SandboxClient

HAITANG = str(Path(sys.executable).with_name("haitang"))
NUMBER = re.compile(r"GS\d{8}-\d{4}")
WANG, ZHANG, CHEN = 1001, 3001, 4001


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _texts(client: SandboxClient, chat_id: int) -> list[str]:
    return [m["text"] or "" for m in await client.messages(chat_id) if m["from"] == "bot"]


async def _wait_for(
    client: SandboxClient, chat_id: int, *words: str, within: float = 60.0
) -> list[str]:
    deadline = time.monotonic() + within
    while True:
        found = [t for t in await _texts(client, chat_id) if all(w in t for w in words)]
        if found:
            return found
        assert time.monotonic() < deadline, f"{chat_id} never received {words}"
        await asyncio.sleep(0.25)


async def test_an_unacknowledged_urgent_report_at_600x(tmp_path: Path) -> None:
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HAITANG_")}
    process = await asyncio.create_subprocess_exec(
        HAITANG,
        "sandbox",
        "--headless",
        "--clock-speed",
        "600",
        "--port",
        str(port),
        "--db",
        str(tmp_path / "s.db"),
        env=clean,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    errors = b""
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), 60)
        base = f"http://127.0.0.1:{port}"
        assert first.decode().strip() == f"sandbox ready {base}"
        async with SandboxClient(base) as client:
            async with aiohttp.ClientSession() as http, http.get(f"{base}/sandbox/clock") as got:
                clock: dict[str, Any] = await got.json()
            assert clock["speed"] == 600

            await client.send_text(WANG, "救命！家里煤气味很重，老伴晕倒了")
            assert await client.wait_idle(quiet_ms=300, timeout_s=20)
            receipt = (await _texts(client, WANG))[-1]
            found = NUMBER.search(receipt)
            assert found and "紧急" in receipt, receipt
            number = found.group(0)
            await _wait_for(client, ZHANG, "紧急事项", number, within=20)

            # Nobody acknowledges: 30 sandbox minutes (3 s), then two hours (12 s).
            started = time.monotonic()
            [reminder] = await _wait_for(client, ZHANG, "提醒", number)
            assert "没有受理" in reminder
            [escalation] = await _wait_for(client, CHEN, "督办", number)
            assert "无人受理" in escalation
            assert time.monotonic() - started < 60
            await _wait_for(client, ZHANG, "已报街道", number)

            # Two more sandbox hours: still one reminder and one escalation.
            await asyncio.sleep(12)
            assert len([t for t in await _texts(client, ZHANG) if "提醒" in t]) == 1
            assert len([t for t in await _texts(client, CHEN) if "督办" in t]) == 1
            assert await client.violations() == []
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                _, errors = await asyncio.wait_for(process.communicate(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
    assert process.returncode == 0, errors.decode()
    assert b"Traceback" not in errors
