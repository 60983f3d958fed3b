"""Figures benchmark (issue 8): the /stats figures of one community, one street and the whole
district on the district-sized data set (169 communities, 1,234 grids, 100,000 households,
1,000,000 visits, 200,000 tickets with their histories), and the dashboard chart.

Run from the repository root:

    .venv/bin/python benchmarks/stats.py                 # generates the data set in a temp dir
    .venv/bin/python benchmarks/stats.py --db data/district.db   # generates it there, or reuses it

The period is the calendar month before the data set's "now" (a full month of tickets). Each
figure is computed once cold (printed), then `--repeat` times, each in a fresh session; the
median is reported. The chart is the district's dashboard, drawn after one warm-up. No index
beyond the migrations is created. The last line is a JSON object
{"community_ms", "street_ms", "district_ms", "chart_ms"}. Targets on SQLite: a community
<= 200 ms, the district <= 2 s, a chart <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bot.database import prepare_database, sqlite_url  # noqa: E402
from handlers import dashboard  # noqa: E402
from services import stats  # noqa: E402
from services.clock import SHANGHAI, ManualClock, as_utc  # noqa: E402
from services.demo_district import STATION_PREFIX, seed_district  # noqa: E402
from storage.db import SessionFactory, make_engine, make_session_factory  # noqa: E402

TARGETS_MS: dict[str, float | None] = {"community": 200.0, "street": None, "district": 2000.0}
CHART_TARGET_MS = 1000.0


def progress_printer() -> Callable[[str, int, int], None]:
    shown: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if shown.get(stage) != tenth:
            shown[stage] = tenth
            print(f"  {stage:8} {done:>9,} / {total:,}", flush=True)

    return progress


async def ensure_data(url: str, fraction: float) -> float | None:
    """Seconds spent generating the data set, or None when it was there already."""
    clock = ManualClock()
    await prepare_database(url, clock)
    started = time.perf_counter()
    report = await seed_district(url, clock.now(), fraction=fraction, progress=progress_printer())
    if report.already:
        return None
    seconds = time.perf_counter() - started
    rows = ", ".join(f"{table} {n:,}" for table, n in report.created.items())
    print(f"generated in {seconds:.1f} s: {rows}")
    return seconds


async def timed(
    session_factory: SessionFactory,
    work: Callable[[Any], Awaitable[stats.Figures]],
    repeat: int,
) -> tuple[float, float, stats.Figures]:
    """(cold ms, median ms of `repeat` runs, the figures), each run in a fresh session."""
    runs: list[float] = []
    figures: stats.Figures | None = None
    for _ in range(repeat + 1):
        async with session_factory() as session:
            began = time.perf_counter()
            figures = await work(session)
            runs.append((time.perf_counter() - began) * 1000)
    assert figures is not None
    return runs[0], statistics.median(runs[1:]), figures


async def measure(url: str, repeat: int) -> dict[str, float]:
    engine = make_engine(url)
    session_factory = make_session_factory(engine)
    try:
        async with session_factory() as session:
            conn = await session.connection()
            row = (
                await conn.execute(
                    text(
                        "select c.id, c.street_id, (select max(created_at) from ticket)"
                        " from community c where c.station_code = :code"
                    ),
                    {"code": f"{STATION_PREFIX}001"},
                )
            ).one()
        community_id, street_id, latest = int(row[0]), int(row[1]), row[2]
        now = as_utc(
            latest if isinstance(latest, datetime) else datetime.fromisoformat(str(latest))
        )
        period = stats.previous_month(now)
        print(f"period {period.code}, now {now:%Y-%m-%d %H:%M} UTC")
        results: dict[str, float] = {}
        district: stats.Figures | None = None
        for name, scope in (
            ("community", stats.Scope.community(community_id)),
            ("street", stats.Scope.street(street_id)),
            ("district", stats.Scope.district()),
        ):

            async def work(session: Any, scope: stats.Scope = scope) -> stats.Figures:
                return await stats.figures(session, scope, period, now)

            cold, median, figures = await timed(session_factory, work, repeat)
            results[f"{name}_ms"] = round(median, 1)
            target = TARGETS_MS[name]
            verdict = "" if target is None else ("  ok" if median <= target else "  OVER TARGET")
            print(
                f"{name:9} {figures.received:>7,} tickets  cold {cold:7.1f} ms  "
                f"median {median:7.1f} ms{verdict}"
            )
            district = figures
        assert district is not None
    finally:
        await engine.dispose()

    began = time.perf_counter()
    dashboard.render(district, SHANGHAI)  # the first one loads the fonts
    first = (time.perf_counter() - began) * 1000
    runs = []
    for _ in range(3):
        began = time.perf_counter()
        png = dashboard.render(district, SHANGHAI)
        runs.append((time.perf_counter() - began) * 1000)
    chart = statistics.median(runs)
    results["chart_ms"] = round(chart, 1)
    verdict = "  ok" if chart <= CHART_TARGET_MS else "  OVER TARGET"
    print(
        f"chart     {len(png):>7,} bytes    first {first:6.1f} ms  median {chart:7.1f} ms{verdict}"
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", type=Path, help="SQLite file to generate into or reuse")
    parser.add_argument("--fraction", type=float, default=1.0, help="scale the data set down")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="haitang-stats-") as tmp:
        path: Path = args.db or Path(tmp) / "district.db"
        url = sqlite_url(path.resolve())
        seconds = asyncio.run(ensure_data(url, args.fraction))
        if seconds is None:
            print(f"reusing the data set in {path}")
        else:
            print(f"seed_s {seconds:.1f}")
        results = asyncio.run(measure(url, args.repeat))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
