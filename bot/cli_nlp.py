"""`haitang nlp`: classify messages, evaluate the classifier, learn from coordinators' corrections."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from nlp.classifier import build_classifier, load_classifier
from nlp.evaluate import evaluate, format_report, parse_example, read_examples
from nlp.learn import Correction, fold_corrections
from nlp.lexicon import DEFAULT_LEXICON_PATH, DEV_SET_PATH, LexiconError, load_lexicon, save_lexicon
from nlp.taxonomy import is_category

nlp_app = typer.Typer(
    help="需求分类：逐行分类、评估、从协调员的纠正中学习。/ "
    "Need classification: classify, evaluate, learn from coordinators' corrections.",
    no_args_is_help=True,
)

LexiconOption = Annotated[
    Path | None,
    typer.Option(
        "--lexicon",
        help="词典文件（默认为内置词典）/ lexicon file (default: the packaged one)",
        exists=True,
        dir_okay=False,
    ),
]


def _echo_err(message: str) -> None:
    typer.echo(message, err=True)


@nlp_app.command("classify")
def classify_command(lexicon: LexiconOption = None) -> None:
    """逐行分类标准输入中的消息，每行输出一个 JSON。/ Classify one message per line on stdin,
    writing one JSON object per line."""
    try:
        classifier = load_classifier(lexicon)
    except LexiconError as exc:
        raise typer.BadParameter(str(exc), param_hint="--lexicon") from exc
    out = sys.stdout
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        result = classifier.classify(text)
        out.write(json.dumps(result.to_json_dict(), ensure_ascii=False) + "\n")
        out.flush()


@nlp_app.command("eval")
def eval_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="带标注的 JSONL 文件 / labeled JSON-lines file", exists=True, dir_okay=False
        ),
    ],
    lexicon: LexiconOption = None,
) -> None:
    """评估分类器：准确率、宏平均F1、各类别指标、紧急识别、待分诊占比、最常混淆。/ Evaluate:
    accuracy, macro-F1, per-category P/R/F1, urgent P/R, unsure share, most confused pairs."""
    try:
        examples = read_examples(file)
        classifier = load_classifier(lexicon)
    except (ValueError, LexiconError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(format_report(evaluate(classifier, examples), str(file)))


def _read_corrections_file(path: Path) -> list[Correction]:
    corrections: list[Correction] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                corrections.append(parse_example(line, f"{path}:{number}"))
    return corrections


async def _select_corrections(database_url: str) -> list[Correction]:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            try:
                result = await connection.execute(
                    text("SELECT text, category, urgent FROM nlp_correction ORDER BY id")
                )
            except DBAPIError as exc:
                message = str(exc.orig).lower()
                if "no such table" in message or "does not exist" in message:
                    _echo_err(
                        "数据库里还没有纠正记录表 nlp_correction，没有可学习的纠正。/ "
                        "The database has no nlp_correction table yet: no corrections to learn."
                    )
                    return []
                raise
            rows = result.all()
    finally:
        await engine.dispose()
    corrections: list[Correction] = []
    for row_text, category, urgent in rows:
        if not isinstance(row_text, str) or not isinstance(category, str):
            continue
        corrections.append(Correction(text=row_text, category=category, urgent=bool(urgent)))
    return corrections


def load_corrections_from_db(database_url: str) -> list[Correction]:
    """Every stored correction (table nlp_correction), oldest first; [] when there is none yet."""
    prefix = "sqlite+aiosqlite:///"
    if database_url.startswith(prefix):
        path = database_url[len(prefix) :]
        if path and path != ":memory:" and not Path(path).exists():
            _echo_err(
                f"数据库文件 {path} 不存在，没有可学习的纠正。/ "
                f"Database file {path} does not exist: no corrections to learn."
            )
            return []
    return asyncio.run(_select_corrections(database_url))


def _default_database_url() -> str:
    from config.settings import Settings

    return Settings().database_url


@nlp_app.command("learn")
def learn_command(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="读取纠正记录的数据库（默认取自配置）/ database with the corrections "
            "(default: from the settings)",
        ),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file",
            help="改从 JSONL 文件读取纠正（格式同 dev.jsonl），不读数据库 / read corrections "
            "from a JSON-lines file (dev.jsonl format) instead of the database",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    lexicon: Annotated[
        Path,
        typer.Option(
            "--lexicon",
            help="要更新的词典文件 / the lexicon file to update",
            exists=True,
            dir_okay=False,
        ),
    ] = DEFAULT_LEXICON_PATH,
    eval_file: Annotated[
        Path,
        typer.Option(
            "--eval",
            help="学习前后用来评估的 JSONL 文件 / labeled file evaluated before and after",
            exists=True,
            dir_okay=False,
        ),
    ] = DEV_SET_PATH,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="只显示结果，不写词典 / show the result, do not write"),
    ] = False,
) -> None:
    """把协调员的纠正折算进词典权重（可复现），并打印学习前后的评估。/ Fold coordinators'
    corrections into the lexicon weights reproducibly and print the evaluation before and after."""
    try:
        if from_file is not None:
            corrections = _read_corrections_file(from_file)
        else:
            corrections = load_corrections_from_db(database_url or _default_database_url())
        examples = read_examples(eval_file)
        base = load_lexicon(lexicon)
    except (ValueError, LexiconError) as exc:
        raise typer.BadParameter(str(exc)) from exc

    unknown = [c for c in corrections if not is_category(c.category)]
    if unknown:
        _echo_err(
            f"跳过 {len(unknown)} 条分类代码未知的纠正。/ "
            f"Skipping {len(unknown)} corrections with an unknown category code."
        )
    classifier = build_classifier(base)
    before = evaluate(classifier, examples)
    typer.echo(format_report(before, f"学习前 / before learning: {eval_file}"))
    typer.echo("")
    if not corrections:
        typer.echo("没有纠正记录，词典未改动。/ No corrections: the lexicon is unchanged.")
        return

    result = fold_corrections(base, corrections, classifier.with_lexicon)
    after = evaluate(classifier.with_lexicon(result.lexicon), examples)
    typer.echo(format_report(after, f"学习后 / after learning: {eval_file}"))
    typer.echo("")
    typer.echo(
        f"纠正 {len(corrections)} 条，{result.epochs} 轮，改动权重 {len(result.changes)} 处，"
        f"仍不一致 {result.remaining} 条。/ {len(corrections)} corrections, {result.epochs} "
        f"passes, {len(result.changes)} weights changed, {result.remaining} still differ."
    )
    for change in result.changes[:40]:
        old = "new" if change.old is None else f"{change.old:g}"
        typer.echo(f"  [{change.table}] {change.term}: {old} -> {change.new:g}")
    if len(result.changes) > 40:
        typer.echo(f"  … {len(result.changes) - 40} more")
    typer.echo(
        f"宏平均F1 macro-F1 {before.macro_f1:.3f} -> {after.macro_f1:.3f}; "
        f"紧急召回 urgent recall {before.urgent_recall:.3f} -> {after.urgent_recall:.3f}"
    )
    if dry_run:
        typer.echo("（试运行，未写入 / dry run: nothing written）")
        return
    save_lexicon(result.lexicon, lexicon)
    typer.echo(f"已写入 / written: {lexicon}")
