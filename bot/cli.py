"""The `haitang` command. Help is given in Chinese and English."""

from __future__ import annotations

import asyncio
import sys
import traceback
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError

from bot.cli_nlp import nlp_app
from bot.cli_roster import export_app, import_app
from bot.cli_stats import DemoScale, report_command, seed_district_command
from bot.logs import setup_logging
from config.settings import Settings
from services.clock import SystemClock
from services.errors import ServiceError
from storage.models import Role

app = typer.Typer(
    help="海棠先锋社区服务机器人 / Haitang, the community-work bot of Gusu District.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
db_app = typer.Typer(help="数据库 / Database.", no_args_is_help=True)
users_app = typer.Typer(help="用户管理 / Users.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(nlp_app, name="nlp")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.command("report")(report_command)


def fail(message_zh: str, message_en: str, code: int = 1) -> NoReturn:
    typer.echo(f"{message_zh} / {message_en}", err=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        fail(
            f"配置有误：HAITANG_{field.upper()}",
            f"invalid setting HAITANG_{field.upper()}: {first['msg']}",
            2,
        )


@app.command()
def run() -> None:
    """用 Telegram 长轮询运行机器人 / Run the bot with Telegram long polling."""
    settings = load_settings()
    if not settings.token_is_valid():
        fail(
            "未配置有效的机器人令牌，请设置 HAITANG_BOT_TOKEN（或运行 make run 进入本地沙盒）",
            "no valid bot token: set HAITANG_BOT_TOKEN (or `make run` for the local sandbox)",
            2,
        )
    setup_logging()
    from bot.runner import run_polling

    asyncio.run(run_polling(settings))


@app.command()
def sandbox(
    headless: Annotated[
        bool, typer.Option(help="不开聊天页面，只提供控制接口 / Control API only, no chat page.")
    ] = False,
    port: Annotated[int, typer.Option(help="端口 / Port on 127.0.0.1.")] = 8080,
    db: Annotated[Path, typer.Option(help="SQLite 数据库文件 / SQLite database file.")] = Path(
        "data/sandbox.db"
    ),
    clock_speed: Annotated[
        float, typer.Option(min=0.001, help="时钟倍速 / Run the bot's clock N times faster.")
    ] = 1.0,
) -> None:
    """不用 Telegram，在本机运行整个机器人 / The whole bot on this machine, without Telegram."""
    settings = load_settings()
    setup_logging("WARNING")
    from bot.runner import run_sandbox

    def announce(url: str) -> None:
        from services.demo import PERSONAS

        typer.echo(f"sandbox ready {url}")
        if headless:
            typer.echo(
                "演示人物 / personas: "
                + "，".join(f"{p.display_name}({p.telegram_id})" for p in PERSONAS)
            )
        else:
            typer.echo("海棠先锋本地沙盒已启动 / the Haitang sandbox is running")
            typer.echo(f"  聊天页面 / chat page:    {url}/  ← 用浏览器打开 / open it in a browser")
            typer.echo(f"  控制接口 / control API:  {url}/sandbox/  (docs/sandbox.md)")
            if clock_speed != 1:
                typer.echo(f"  时钟 / clock: {clock_speed:g} 倍速 / {clock_speed:g}× real time")
            typer.echo("演示人物 / personas (在页面左侧选择 / pick one on the left of the page):")
            for p in PERSONAS:
                typer.echo(f"  {p.display_name}（{p.telegram_id}）  {p.description}")
        typer.echo("按 Ctrl+C 停止 / press Ctrl+C to stop")
        sys.stdout.flush()

    asyncio.run(
        run_sandbox(
            settings,
            port=port,
            db_path=db,
            clock_speed=clock_speed,
            announce=announce,
            headless=headless,
        )
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """把数据库升级到最新结构 / Upgrade the database schema to the latest migration."""
    settings = load_settings()
    from storage.migrate import upgrade

    upgrade(settings.database_url)
    typer.echo("数据库已是最新 / database is up to date")


@app.command("seed-demo")
def seed_demo(
    scale: Annotated[
        DemoScale,
        typer.Option(
            help="small：小型演示数据；district：全区规模的数据（约两分钟）/ small: the demo district; "
            "district: a district-sized data set (about two minutes)."
        ),
    ] = DemoScale.small,
    fraction: Annotated[
        float, typer.Option(min=0.001, max=1.0, hidden=True, help="Scale the district set down.")
    ] = 1.0,
) -> None:
    """生成演示街道、社区、住户和人物（可重复运行）/ Create the demo district (idempotent)."""
    settings = load_settings()
    if scale == DemoScale.district:
        seed_district_command(settings, fraction)
        return
    from bot.database import prepare_database

    report = asyncio.run(prepare_database(settings.database_url, SystemClock()))
    typer.echo(
        f"演示数据就绪 / demo data ready: 街道 streets {report.streets_total}，"
        f"社区 communities {report.communities_total}，网格 grids {report.grids_total}，"
        f"住户 households {report.households_total}，用户 users {report.users_total}"
        f"（本次新增 created now: {report.created}）"
    )


@users_app.command("add")
def users_add(
    role: Annotated[Role, typer.Option(help="coordinator | admin | volunteer | resident")],
    telegram_id: Annotated[int, typer.Option(help="Telegram 用户编号 / Telegram user id.")],
    community: Annotated[
        str | None,
        typer.Option(help="社区名称 / Community name (an admin's street comes from it)."),
    ] = None,
    street: Annotated[str | None, typer.Option(help="街道名称 / Street name (admins).")] = None,
    grid: Annotated[int | None, typer.Option(help="网格号 / Grid number (volunteers).")] = None,
    name: Annotated[str, typer.Option(help="称呼 / Display name.")] = "",
) -> None:
    """添加或任命用户，例如第一位社区工作人员 / Add or appoint a user, e.g. the first coordinator."""
    settings = load_settings()

    async def add() -> str:
        from services.users import add_user
        from storage.db import make_engine, make_session_factory
        from storage.migrate import upgrade_async

        await upgrade_async(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            async with make_session_factory(engine)() as session:
                user = await add_user(
                    session,
                    SystemClock(),
                    role=role,
                    telegram_id=telegram_id,
                    display_name=name or str(telegram_id),
                    community_name=community,
                    street_name=street,
                    grid_number=grid,
                )
                await session.commit()
                return f"{user.display_name} ({user.telegram_id}) → {user.role.value}"
        finally:
            await engine.dispose()

    try:
        typer.echo(f"已保存 / saved: {asyncio.run(add())}")
    except ServiceError as error:
        from handlers.texts import refusal

        fail(refusal(error.refusal, error.details), f"refused: {error.refusal.value}", 2)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as error:  # the last guard: one line for the user, details in the log
        log_file = write_crash_log()
        typer.echo(
            f"出错了，详情见 {log_file} / error: {type(error).__name__}: {error} (details in {log_file})",
            err=True,
        )
        raise SystemExit(1) from None


def write_crash_log() -> Path:
    path = Path("data") / "haitang-error.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(traceback.format_exc())
    return path
