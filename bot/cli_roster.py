"""`haitang import ...` and `haitang export ...`: the organisation and the household roster.

The rules live in services/roster.py, the file formats in services/roster_files.py. Bad
input (a missing file, an unreadable format, a wrong header, bad rows) gives plain lines in
Chinese and English and exit code 2, never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from config.settings import Settings
from services.clock import SHANGHAI, SystemClock, local
from services.roster import (
    Action,
    HouseholdReport,
    OrgReport,
    ProgressCallback,
    RosterInputError,
    RowError,
    Table,
    export_households,
    import_households,
    import_org,
)
from services.roster_files import FileFormat, format_for, read_table, write_table

T = TypeVar("T")
BAD_INPUT = 2
# A dry run lists at most this many households; the summary counts them all.
DRY_RUN_LINES = 100

import_app = typer.Typer(
    help="导入组织架构或住户名册 / Import the organisation or the household roster.",
    no_args_is_help=True,
)
export_app = typer.Typer(
    help="导出住户名册 / Export the household roster.",
    no_args_is_help=True,
)


@import_app.callback()
def _import_group() -> None:
    """导入组织架构或住户名册（CSV 或 XLSX）/ Import the organisation or the roster (CSV or XLSX)."""


@export_app.callback()
def _export_group() -> None:
    """导出住户名册 / Export the household roster."""


def fail(message_zh: str, message_en: str, code: int = BAD_INPUT) -> NoReturn:
    typer.echo(f"{message_zh} / {message_en}", err=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = "HAITANG_" + ".".join(str(p) for p in first["loc"]).upper()
        fail(f"配置有误：{name}", f"invalid setting {name}: {first['msg']}")


def _in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Migrate, open one session, run `work` (which commits if it should), close."""

    async def run() -> T:
        from storage.db import make_engine, make_session_factory
        from storage.migrate import upgrade_async

        await upgrade_async(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            async with make_session_factory(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _read(path: Path) -> Table:
    try:
        return read_table(path)
    except RosterInputError as error:
        fail(error.zh, error.en)


def _print_errors(errors: list[RowError], rows: int) -> NoReturn:
    typer.echo(
        f"有 {len(errors)} 行有误，整个文件未导入（共 {rows} 行数据）"
        f" / {len(errors)} bad rows of {rows}: nothing was imported",
        err=True,
    )
    for error in errors:
        typer.echo(error.line(), err=True)
    raise typer.Exit(BAD_INPUT)


def _print_ignored(columns: list[str]) -> None:
    if columns:
        names = "，".join(columns)
        typer.echo(f"已忽略不认识的列：{names} / ignored unknown columns: {names}")


@contextmanager
def _progress_bar() -> Iterator[ProgressCallback]:
    """A progress bar on a terminal; silent otherwise (pipes, logs, tests)."""
    console = Console(stderr=True)
    labels = {"check": "检查 / checking", "apply": "处理 / applying"}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(labels.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        yield update


FileArgument = Annotated[
    Path, typer.Argument(help="CSV 或 XLSX 文件 / A CSV or XLSX file.", show_default=False)
]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="只检查、不写入 / Check and report without writing."),
]


@import_app.command("org")
def import_org_command(file: FileArgument, dry_run: DryRunOption = False) -> None:
    """导入街道、社区和网格（列：街道,社区,网格）/ Import streets, communities and grids."""
    settings = _settings()
    table = _read(file)

    async def work(session: AsyncSession) -> OrgReport:
        report = await import_org(session, table, dry_run=dry_run)
        if report.applied:
            await session.commit()
        return report

    try:
        report = _in_session(settings, work)
    except RosterInputError as error:
        fail(error.zh, error.en)
    _print_ignored(report.ignored_columns)
    if not report.ok:
        _print_errors(report.errors, report.rows)
    verb = "将新建" if dry_run else "新建"
    for street in report.streets_created:
        typer.echo(f"{verb}街道 / street: {street}")
    for street, community, code in report.communities_created:
        typer.echo(f"{verb}社区 / community: {street} {community}（站点码 station st_{code}）")
    for street, community, grid in report.grids_created:
        typer.echo(f"{verb}网格 / grid: {street} {community} {grid}")
    if dry_run:
        typer.echo("试运行，未写入任何数据 / dry run: nothing was written")
    typer.echo(
        f"{verb}街道 {len(report.streets_created)} 个，社区 {len(report.communities_created)} 个，"
        f"网格 {len(report.grids_created)} 个，其余已存在保持不变"
        f" / streets {len(report.streets_created)}, communities"
        f" {len(report.communities_created)}, grids {len(report.grids_created)} created;"
        " existing ones kept"
    )


@import_app.command("households")
def import_households_command(file: FileArgument, dry_run: DryRunOption = False) -> None:
    """导入住户名册 / Import the household roster.

    列 / columns: 街道,社区,网格,楼幢,单元,室,户主,电话,标签,志愿者电话
    (street,community,grid,building,unit,room,head_name,phone,tags,volunteer_phone).
    有任何一行出错则整个文件不导入 / One bad row refuses the whole file.
    """
    settings = _settings()
    table = _read(file)

    with _progress_bar() as progress:

        async def work(session: AsyncSession) -> HouseholdReport:
            report = await import_households(
                session, SystemClock(), table, dry_run=dry_run, progress=progress
            )
            if report.applied:
                await session.commit()
            return report

        try:
            report = _in_session(settings, work)
        except RosterInputError as error:
            fail(error.zh, error.en)
    _print_ignored(report.ignored_columns)
    if not report.ok:
        _print_errors(report.errors, report.rows)
    if dry_run:
        listed = [c for c in report.changes if c.action is not Action.unchanged]
        for change in listed[:DRY_RUN_LINES]:
            typer.echo(change.describe())
        if len(listed) > DRY_RUN_LINES:
            more = len(listed) - DRY_RUN_LINES
            typer.echo(f"……另有 {more} 户 / … and {more} more")
        typer.echo("试运行，未写入任何数据 / dry run: nothing was written")
    prefix = "将" if dry_run else ""
    typer.echo(
        f"{prefix}新建 {report.created} 户，{prefix}更新 {report.updated} 户，"
        f"未变 {report.unchanged} 户，{prefix}分配志愿者 {report.volunteers_assigned} 次，"
        f"{prefix}取消分配 {report.volunteers_unassigned} 次"
        f" / created {report.created}, updated {report.updated},"
        f" unchanged {report.unchanged}, volunteers assigned {report.volunteers_assigned},"
        f" unassigned {report.volunteers_unassigned}"
    )


@export_app.command("households")
def export_households_command(
    file_format: Annotated[
        FileFormat | None,
        typer.Option(
            "--format",
            help="csv 或 xlsx（默认按输出文件名，否则 csv）/ csv or xlsx (default: from --output, else csv).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="输出文件（默认 households-日期.csv）/ Output file (default households-<date>.<format>).",
            show_default=False,
        ),
    ] = None,
    community: Annotated[
        str | None,
        typer.Option(
            help="只导出一个社区（重名时写 街道/社区）/ Only this community (street/community if the name is shared).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """导出住户名册，可原样再导入 / Export the household roster (re-importable unchanged)."""
    settings = _settings()
    chosen = file_format or (format_for(output) if output else FileFormat.csv)
    if output is None:
        today = local(SystemClock().now(), SHANGHAI).strftime("%Y%m%d")
        output = Path(f"households-{today}.{chosen.value}")

    async def work(session: AsyncSession) -> Table:
        return await export_households(session, community)

    try:
        table = _in_session(settings, work)
        write_table(table, output, chosen)
    except RosterInputError as error:
        fail(error.zh, error.en)
    count = len(table.rows)
    typer.echo(f"已导出 {count} 户到 {output} / exported {count} households to {output}")
