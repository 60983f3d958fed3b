"""Broadcast benchmark: the paced sender delivers 5,000 outbox rows through the Bot API
stand-in with Telegram's flood limits on, 1% of sends answered 403 and 0.5% answered 500.

Two runs, each on a fresh migrated SQLite database and a fresh stand-in (in this process):

1. the sending process (a separate Python process running `PacedSender` against the database
   and the stand-in's URL) runs until every row is final;
2. the same, but the sending process is killed with SIGKILL about half way and restarted.

Each message carries its outbox row id, so the stand-in's chats show what arrived: a
duplicate is a row delivered more than once, a lost row is one neither delivered nor reported
unreachable/failed. Prints the figures, then one JSON line:
{"recipients", "sent_per_s", "share_429", "lost", "duplicates", "seconds",
 "crash_run": {"lost", "duplicates", "seconds"}}.

    .venv/bin/python benchmarks/broadcast.py [--recipients 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from bot.standin import RateLimits, StandIn  # noqa: E402
from services import outbox  # noqa: E402
from services.clock import SystemClock  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from storage.models import Outbox, OutboxStatus  # noqa: E402

TOKEN = "1234567890:BENCH-haitang-local-token-0000000000"
FIRST_CHAT = 20_000_001
ROW_IN_TEXT = re.compile(r"#(\d+)：")
LIMITS = RateLimits(overall_per_s=30, per_chat_per_s=1, burst=3, group_per_min=20)
# "anytime": SIGKILL from outside once half the messages arrived, whatever the sender is doing;
# "in-flight": SIGKILL from inside the stand-in, after it stored the message that reaches half
# way and before it answers: the worst moment (delivered, but the sender never learns it).
KillMode = Literal["anytime", "in-flight"]


def text_for(row_id: int) -> str:
    return f"【海棠通知】#{row_id}：本周六上午九点在社区活动室义诊，欢迎参加。"


# ---- the sending process ----------------------------------------------------------------------


async def worker(database_url: str, api_url: str) -> None:
    """Run the paced sender until no row is pending or sending (the process that gets killed)."""
    from bot.factory import make_bot
    from bot.sender import PacedSender
    from handlers.notices import render

    engine = make_engine(database_url)
    session_factory = make_session_factory(engine)
    bot = make_bot(TOKEN, api_url)
    sender = PacedSender(bot, session_factory, SystemClock(), render)
    sender.start()
    try:
        while True:
            await asyncio.sleep(0.25)
            async with session_factory() as session:
                counts = await outbox.counts(session)
            if counts["pending"] == 0 and counts["sending"] == 0:
                break
    finally:
        await sender.stop()
        await bot.session.close()
        await engine.dispose()
    print(json.dumps(dict(sender.outcomes)), flush=True)


# ---- the benchmark ----------------------------------------------------------------------------


@dataclass
class Run:
    recipients: int
    seconds: float
    sent: int
    unreachable: int
    failed: int
    lost: int
    duplicates: int
    duplicated_rows: int
    sent_per_s: float
    share_429: float
    sends: int
    too_many: int
    interrupted: int = 0
    killed_after: float | None = None
    sending_at_kill: int | None = None
    pauses: int = 0
    outcomes: list[dict[str, int]] = field(default_factory=list)


async def fill_outbox(database_url: str, chats: list[int]) -> None:
    engine = make_engine(database_url)
    clock = SystemClock()
    try:
        async with make_session_factory(engine)() as session:
            for chat in chats:
                row = await outbox.enqueue(
                    session,
                    clock,
                    chat_id=chat,
                    kind="text",
                    payload={},
                    key=f"bench:{chat}",
                    priority=9,
                    broadcast_id=1,
                )
                assert row.id is not None
                row.payload = json.dumps({"text": text_for(row.id)}, ensure_ascii=False)
            await session.commit()
    finally:
        await engine.dispose()


async def start_worker(
    database_url: str, api_url: str, log_path: Path
) -> asyncio.subprocess.Process:
    with log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            "--worker",
            database_url,
            api_url,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            cwd=str(ROOT),
        )


async def finish(process: asyncio.subprocess.Process, log_path: Path) -> dict[str, int]:
    out, _ = await process.communicate()
    if process.returncode != 0:
        log = await asyncio.to_thread(log_path.read_text, encoding="utf-8")
        tail = "\n".join(log.splitlines()[-20:])
        raise RuntimeError(f"the sending process exited with {process.returncode}:\n{tail}")
    lines = out.decode().strip().splitlines()
    return dict(json.loads(lines[-1])) if lines else {}


async def rows_of(database_url: str) -> list[Outbox]:
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            return list(await session.exec(select(Outbox).order_by(col(Outbox.id))))
    finally:
        await engine.dispose()


async def sending_now(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            return (await outbox.counts(session))["sending"]
    finally:
        await engine.dispose()


def kill_in_flight(
    standin: StandIn, half: int, victim: list[asyncio.subprocess.Process]
) -> web.Application:
    """An aiohttp middleware on the stand-in that kills the sender mid-request."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        delivered = sum(standin.stats.delivered.values())
        if victim and response.status == 200 and delivered >= half:
            os.kill(victim.pop().pid, signal.SIGKILL)
            await asyncio.sleep(0.2)  # the answer goes nowhere
        return response

    standin.app.middlewares.append(middleware)
    return standin.app


async def run(recipients: int, *, crash: KillMode | None, workdir: Path) -> Run:
    database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    log_path = workdir / "sender.log"
    await upgrade_async(database_url)
    chats = list(range(FIRST_CHAT, FIRST_CHAT + recipients))
    await fill_outbox(database_url, chats)

    standin = StandIn(TOKEN, seed=1, limits=LIMITS)
    victim: list[asyncio.subprocess.Process] = []
    if crash == "in-flight":
        kill_in_flight(standin, recipients // 2, victim)
    await standin.start()
    for chat in chats:  # they started the bot: no "can't initiate conversation"
        standin.state.ensure_user(chat)
    standin.faults.add("sendMessage", 403, share=0.01)
    standin.faults.add("sendMessage", 500, share=0.005)
    outcomes: list[dict[str, int]] = []
    killed_after: float | None = None
    sending_at_kill: int | None = None
    try:
        started = time.monotonic()
        process = await start_worker(database_url, standin.base_url, log_path)
        if crash is not None:
            victim.append(process)
            while sum(standin.stats.delivered.values()) < recipients // 2:
                if process.returncode is not None:
                    raise RuntimeError("the sending process ended before half way")
                await asyncio.sleep(0.005)
            if victim:  # "anytime"
                victim.pop().send_signal(signal.SIGKILL)  # no cleanup: rows in flight stay
            await process.wait()
            killed_after = time.monotonic() - started
            sending_at_kill = await sending_now(database_url)
            process = await start_worker(database_url, standin.base_url, log_path)
        outcomes.append(await finish(process, log_path))
        seconds = time.monotonic() - started
        rows = await rows_of(database_url)
        delivered: Counter[int] = Counter()
        for chat in chats:
            for message in standin.state.messages(chat):
                found = ROW_IN_TEXT.search(message.text or "")
                if message.sender == "bot" and found:
                    delivered[int(found.group(1))] += 1
        stats = standin.stats
    finally:
        await standin.stop()

    status = Counter(OutboxStatus(r.status) for r in rows)
    reported = {OutboxStatus.unreachable, OutboxStatus.failed}
    lost = sum(
        1 for r in rows if delivered[r.id or 0] == 0 and OutboxStatus(r.status) not in reported
    )
    extra = sum(max(0, n - 1) for n in delivered.values())
    sent_times = sorted(r.sent_at for r in rows if r.sent_at is not None)
    span = (sent_times[-1] - sent_times[0]).total_seconds() if len(sent_times) > 1 else 0.0
    log = await asyncio.to_thread(log_path.read_text, encoding="utf-8")
    pauses = log.count("flood control: all sending paused")
    return Run(
        recipients=recipients,
        seconds=seconds,
        sent=status[OutboxStatus.sent],
        unreachable=status[OutboxStatus.unreachable],
        failed=status[OutboxStatus.failed],
        lost=lost,
        duplicates=extra,
        duplicated_rows=sum(1 for n in delivered.values() if n > 1),
        sent_per_s=(len(sent_times) - 1) / span if span > 0 else 0.0,
        share_429=stats.too_many / stats.sends if stats.sends else 0.0,
        sends=stats.sends,
        too_many=stats.too_many,
        interrupted=sum(1 for r in rows if r.last_error == outbox.INTERRUPTED),
        killed_after=killed_after,
        sending_at_kill=sending_at_kill,
        pauses=pauses,
        outcomes=outcomes,
    )


def describe(title: str, result: Run) -> None:
    print(f"== {title}")
    print(
        f"  {result.recipients} recipients in {result.seconds:.1f} s; sent {result.sent}, "
        f"unreachable {result.unreachable}, failed {result.failed}"
    )
    print(
        f"  sustained {result.sent_per_s:.2f} sent/s (first to last delivery); "
        f"{result.sends} send calls, {result.too_many} answered 429 "
        f"({result.share_429:.3%}), {result.pauses} flood pauses"
    )
    print(
        f"  lost {result.lost}; duplicates {result.duplicates} "
        f"(rows delivered more than once: {result.duplicated_rows})"
    )
    if result.killed_after is not None:
        print(
            f"  sending process killed (SIGKILL) after {result.killed_after:.1f} s with "
            f"{result.sending_at_kill} rows `sending`; {result.interrupted} rows re-queued as "
            "interrupted on restart"
        )


async def main(recipients: int, kill: KillMode) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="haitang-bench-") as tmp:
        plain_dir = Path(tmp) / "plain"
        crash_dir = Path(tmp) / "crash"
        plain_dir.mkdir()
        crash_dir.mkdir()
        plain = await run(recipients, crash=None, workdir=plain_dir)
        describe("uninterrupted run", plain)
        crashed = await run(recipients, crash=kill, workdir=crash_dir)
        describe(f"crash run (kill {kill})", crashed)
    return {
        "recipients": recipients,
        "sent_per_s": round(plain.sent_per_s, 2),
        "share_429": round(plain.share_429, 4),
        "lost": plain.lost,
        "duplicates": plain.duplicates,
        "seconds": round(plain.seconds, 1),
        "crash_run": {
            "lost": crashed.lost,
            "duplicates": crashed.duplicates,
            "seconds": round(crashed.seconds, 1),
        },
    }


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
        asyncio.run(worker(sys.argv[2], sys.argv[3]))
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
        parser.add_argument("--recipients", type=int, default=5000)
        parser.add_argument(
            "--kill",
            choices=["anytime", "in-flight"],
            default="anytime",
            help="when the crash run kills the sending process (default: anytime)",
        )
        arguments = parser.parse_args()
        logging.basicConfig(level=logging.ERROR)
        print(json.dumps(asyncio.run(main(arguments.recipients, arguments.kill))))
