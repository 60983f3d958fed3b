"""The scheduler: APScheduler 3 runs only the short periodic sweep of due follow-ups.

It also keeps running broadcasts' status messages current (services.broadcasts.track).

What is due lives in the database (services.followups), never in the scheduler's memory, so
one in-memory job store is enough and a restart loses nothing: the first sweep runs at start
and acts on everything that fell due while the bot was down. The sweep asks the injected clock
for "now" (a ScaledClock in `haitang sandbox --clock-speed N`), so only the sweep's rhythm
follows the wall clock; the weekly and monthly digests are follow-up rows too, for the same
reason.

APScheduler 3 pitfalls handled here: the time zone is set explicitly (it defaults to the
host's); `misfire_grace_time=None` and `coalesce=True`, so a run that is late (a busy event
loop, a suspended laptop) still happens, once, instead of being silently dropped;
`max_instances=1`, so sweeps never overlap. Stopping lets a running sweep finish its row (it is
asked between rows) before the scheduler shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from services import broadcasts
from services.clock import Clock
from services.followups import FollowUpRules, SweepReport, parse_quiet_hours, sweep
from storage.db import SessionFactory

log = logging.getLogger(__name__)

SWEEP_JOB = "followups-sweep"
BROADCAST_JOB = "broadcast-progress"
# A coordinator's broadcast status message is edited about this often.
BROADCAST_INTERVAL_S = 5.0
PRODUCTION_INTERVAL_S = 15.0
SANDBOX_INTERVAL_S = 1.0


class Wakeable(Protocol):
    def wake(self) -> None: ...


class FollowUpScheduler:
    def __init__(
        self,
        session_factory: SessionFactory,
        clock: Clock,
        *,
        tz: ZoneInfo,
        interval_s: float = PRODUCTION_INTERVAL_S,
        rules: FollowUpRules,
        sender: Wakeable | None = None,
        sweep_delay_s: float = 0.0,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("the sweep interval must be positive")
        self.session_factory = session_factory
        self.clock = clock
        self.tz = tz
        self.interval_s = interval_s
        self.rules = rules
        self.sender = sender
        self.sweep_delay_s = sweep_delay_s
        self.scheduler = AsyncIOScheduler(
            timezone=tz,
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        )
        self._stopping = False
        self._current: asyncio.Task[object] | None = None
        self.last_report: SweepReport | None = None

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def start(self) -> None:
        """Add the sweep (first run now) and start; call from inside the event loop."""
        self._stopping = False
        self.scheduler.add_job(
            self.run_sweep,
            "interval",
            seconds=self.interval_s,
            id=SWEEP_JOB,
            replace_existing=True,
            next_run_time=datetime.now(self.tz),
        )
        self.scheduler.add_job(
            self.track_broadcasts,
            "interval",
            seconds=BROADCAST_INTERVAL_S,
            id=BROADCAST_JOB,
            replace_existing=True,
        )
        self.scheduler.start()

    async def track_broadcasts(self) -> None:
        """Queue edits of running broadcasts' status messages (and their final reports)."""
        if self._stopping:
            return
        try:
            async with self.session_factory() as session:
                moved = await broadcasts.track(session, self.clock)
                await session.commit()
        except Exception:
            log.exception("tracking broadcasts failed; the next run tries again")
            return
        if moved and self.sender is not None:
            self.sender.wake()

    async def run_sweep(self) -> SweepReport | None:
        """One sweep; errors are logged, never raised into the scheduler."""
        if self._stopping:
            return None
        self._current = asyncio.current_task()
        try:
            report = await sweep(
                self.session_factory,
                self.clock,
                self.rules,
                delay=self.sweep_delay_s,
                stopping=lambda: self._stopping,
            )
        except Exception:
            log.exception("the follow-up sweep failed; the next one tries again")
            return None
        finally:
            self._current = None
        self.last_report = report
        if report.handled or report.failed:
            log.info(
                "follow-ups: %d acted, %d no longer needed, %d failed, %d messages",
                report.acted,
                report.skipped,
                report.failed,
                report.messages,
            )
        if report.messages and self.sender is not None:
            self.sender.wake()
        return report

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Let a running sweep finish its current row, then shut the scheduler down."""
        self._stopping = True
        current = self._current
        if current is not None and not current.done():
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(current), timeout)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next turn


def rules_from(tz: ZoneInfo, quiet_hours: str) -> FollowUpRules:
    """The follow-up rules with the bot's time zone and the configured quiet hours. The
    composition root calls this once and gives the result to the dispatcher (handlers get it
    by name as `followup_rules`) and to build_scheduler."""
    quiet_start, quiet_end = parse_quiet_hours(quiet_hours)
    return FollowUpRules(tz=tz, quiet_start=quiet_start, quiet_end=quiet_end)


def build_scheduler(
    session_factory: SessionFactory,
    clock: Clock,
    *,
    tz: ZoneInfo,
    rules: FollowUpRules,
    interval_s: float = PRODUCTION_INTERVAL_S,
    sender: Wakeable | None = None,
    sweep_delay_ms: int = 0,
) -> FollowUpScheduler:
    """The composition root's one call; `rules` are the ones it gave the dispatcher."""
    return FollowUpScheduler(
        session_factory,
        clock,
        tz=tz,
        interval_s=interval_s,
        rules=rules,
        sender=sender,
        sweep_delay_s=sweep_delay_ms / 1000,
    )
