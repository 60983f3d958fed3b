"""`haitang report` (the Excel workbook of a community, a street or the district) and the
district-sized demo data set of `haitang seed-demo --scale district` (issue 8)."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from config.settings import Settings
from services.clock import SystemClock

if TYPE_CHECKING:
    from services.stats import Period


class ReportFormat(StrEnum):
    xlsx = "xlsx"


class DemoScale(StrEnum):
    small = "small"
    district = "district"


def _fail(message_zh: str, message_en: str, code: int = 2) -> typer.Exit:
    typer.echo(f"{message_zh} / {message_en}", err=True)
    return typer.Exit(code)


def report_command(
    scope: Annotated[
        str,
        typer.Option(
            help="范围 / Scope: community:<编号或名称 id or name> | street:<编号或名称> | district."
        ),
    ],
    period: Annotated[
        str | None,
        typer.Option(
            help="期间 / Period: 2026-11 (a month) or 2026-11-01..2026-11-15; 默认本月 / "
            "this month by default (Asia/Shanghai)."
        ),
    ] = None,
    report_format: Annotated[
        ReportFormat, typer.Option("--format", help="文件格式 / File format.")
    ] = ReportFormat.xlsx,
    output: Annotated[
        Path | None,
        typer.Option(help="输出文件 / Output file (default: haitang-<scope>-<period>.xlsx)."),
    ] = None,
) -> None:
    """生成统计报表（Excel）/ Write the figures of a community, street or the district to Excel."""
    from bot.cli import load_settings

    settings = load_settings()
    clock = SystemClock()
    from services import stats

    try:
        chosen = (
            stats.parse_period(period, settings.tz)
            if period
            else stats.month_of(clock.now(), settings.tz)
        )
    except ValueError:
        raise _fail(
            f"期间写法不对：{period}（例如 2026-11）", f"not a period: {period} (e.g. 2026-11)"
        ) from None
    if scope.partition(":")[0] not in {kind.value for kind in stats.ScopeKind}:
        raise _fail(
            f"范围写法不对：{scope}（community:编号、street:编号 或 district）",
            f"not a scope: {scope} (community:<id>, street:<id> or district)",
        )
    path, written = asyncio.run(_write_report(settings, scope, chosen, report_format, output))
    typer.echo(f"报表已生成 / report written: {path} ({written} bytes)")


async def _write_report(
    settings: Settings,
    scope_text: str,
    period: Period,
    report_format: ReportFormat,
    output: Path | None,
) -> tuple[Path, int]:
    from handlers import workbook
    from handlers.texts import refusal
    from services import stats
    from services.errors import ServiceError
    from storage.db import make_engine, make_session_factory
    from storage.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        async with make_session_factory(engine)() as session:
            try:
                scope = await stats.parse_scope(session, scope_text)
                report = await stats.report(session, scope, period, SystemClock().now())
            except ValueError:
                raise _fail(
                    f"范围写法不对：{scope_text}（community:编号、street:编号 或 district）",
                    f"not a scope: {scope_text} (community:<id>, street:<id> or district)",
                ) from None
            except ServiceError as error:
                raise _fail(
                    refusal(error.refusal, error.details), f"refused: {error.refusal.value}"
                ) from None
    finally:
        await engine.dispose()
    data = await asyncio.to_thread(workbook.build, report, settings.tz)
    path = output or Path(f"haitang-{scope.code}-{period.code}.{report_format.value}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path, len(data)


STAGES = {
    "org": "社区、网格、住户 / communities, grids, households",
    "people": "人员 / people",
    "visits": "走访 / visits",
    "tickets": "诉求及记录 / tickets and histories",
}


def seed_district_command(settings: Settings, fraction: float) -> None:
    """The district-sized data set, with a progress bar (after the small demo district)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from bot.database import prepare_database
    from services.demo_district import seed_district

    clock = SystemClock()
    asyncio.run(prepare_database(settings.database_url, clock))
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as bar:
        tasks = {stage: bar.add_task(label, total=None) for stage, label in STAGES.items()}

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(tasks[stage], completed=done, total=total)

        report = asyncio.run(
            seed_district(settings.database_url, clock.now(), fraction=fraction, progress=progress)
        )
    if report.already:
        typer.echo("区级演示数据已存在，未作改动 / the district data set is already there")
        return
    counts = "，".join(f"{table} {n:,}" for table, n in report.created.items())
    typer.echo(f"区级演示数据就绪 / district data set ready ({report.seconds:.0f} s): {counts}")
