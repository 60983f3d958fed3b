"""`haitang nlp classify | eval | learn` through typer's test runner."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from bot import cli_nlp
from bot.cli_nlp import load_corrections_from_db, nlp_app
from nlp.lexicon import DEFAULT_LEXICON_PATH, load_lexicon

runner = CliRunner()

CORRECTIONS = [
    {"text": "阿拉弄堂里向个宕口老早就一塌糊涂哉", "category": "sanitation", "urgent": False},
    {"text": "宕口一塌糊涂，的的了了", "category": "sanitation", "urgent": False},
]


def _lexicon_copy(tmp_path: Path) -> Path:
    path = tmp_path / "lexicon.toml"
    path.write_text(DEFAULT_LEXICON_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def _small_eval(tmp_path: Path) -> Path:
    path = tmp_path / "eval.jsonl"
    lines = [
        {"text": "楼道灯坏了好几天", "category": "facilities", "urgent": False},
        {"text": "楼道里有煤气味", "category": "safety", "urgent": True},
        {"text": "宕口一塌糊涂", "category": "sanitation", "urgent": False},
    ]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", "utf-8")
    return path


def test_classify_writes_one_json_object_per_line() -> None:
    result = runner.invoke(
        nlp_app, ["classify"], input="楼道里一股煤气味\n\n😀\nhello\n加装电梯怎么申请\n"
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 5
    rows = [json.loads(line) for line in lines]
    for row in rows:
        assert set(row) == {"category", "urgent", "confidence", "keywords"}
        assert isinstance(row["urgent"], bool) and isinstance(row["keywords"], list)
        assert 0.0 <= row["confidence"] <= 1.0
    assert rows[0]["category"] == "safety" and rows[0]["urgent"] is True
    assert "煤气味" in rows[0]["keywords"]
    assert rows[1] == {"category": "unsure", "urgent": False, "confidence": 0.0, "keywords": []}
    assert rows[4]["category"] == "facilities"


def test_eval_prints_the_metrics(tmp_path: Path) -> None:
    result = runner.invoke(nlp_app, ["eval", str(_small_eval(tmp_path))])
    assert result.exit_code == 0, result.output
    for label in [
        "accuracy",
        "macro-F1",
        "urgent precision",
        "urgent recall",
        "unsure share",
        "most confused",
        "facilities",
    ]:
        assert label in result.output
    assert "sanitation -> " in result.output  # the unknown wording is confused


def test_eval_rejects_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x"}\n', encoding="utf-8")
    result = runner.invoke(nlp_app, ["eval", str(bad)])
    assert result.exit_code != 0


def test_learn_from_file_updates_the_given_lexicon(tmp_path: Path) -> None:
    lexicon_path = _lexicon_copy(tmp_path)
    corrections = tmp_path / "corrections.jsonl"
    corrections.write_text(
        "\n".join(json.dumps(c, ensure_ascii=False) for c in CORRECTIONS) + "\n", "utf-8"
    )
    args = [
        "learn",
        "--from-file",
        str(corrections),
        "--lexicon",
        str(lexicon_path),
        "--eval",
        str(_small_eval(tmp_path)),
    ]
    result = runner.invoke(nlp_app, args)
    assert result.exit_code == 0, result.output
    assert "before learning" in result.output and "after learning" in result.output
    assert "一塌糊涂" in load_lexicon(lexicon_path).terms["sanitation"]
    assert load_lexicon(DEFAULT_LEXICON_PATH) != load_lexicon(lexicon_path)
    first = lexicon_path.read_text(encoding="utf-8")
    # learning the same corrections again changes nothing: they are already folded in
    again = runner.invoke(nlp_app, args)
    assert again.exit_code == 0, again.output
    assert lexicon_path.read_text(encoding="utf-8") == first


def test_learn_dry_run_writes_nothing(tmp_path: Path) -> None:
    lexicon_path = _lexicon_copy(tmp_path)
    before = lexicon_path.read_text(encoding="utf-8")
    corrections = tmp_path / "c.jsonl"
    corrections.write_text(json.dumps(CORRECTIONS[0], ensure_ascii=False) + "\n", "utf-8")
    result = runner.invoke(
        nlp_app,
        [
            "learn",
            "--from-file",
            str(corrections),
            "--lexicon",
            str(lexicon_path),
            "--dry-run",
            "--eval",
            str(_small_eval(tmp_path)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert lexicon_path.read_text(encoding="utf-8") == before


def _database(tmp_path: Path, with_table: bool) -> str:
    path = tmp_path / "haitang.db"
    connection = sqlite3.connect(path)
    if with_table:
        connection.execute(
            "CREATE TABLE nlp_correction (id INTEGER PRIMARY KEY, text TEXT, category TEXT, "
            "urgent BOOLEAN, created_at TEXT, created_by INTEGER, ticket_id INTEGER)"
        )
        for number, row in enumerate(reversed(CORRECTIONS), 1):
            connection.execute(
                "INSERT INTO nlp_correction (id, text, category, urgent, created_at) "
                "VALUES (?, ?, ?, ?, '2026-01-01')",
                (10 - number, row["text"], row["category"], row["urgent"]),
            )
    else:
        connection.execute("CREATE TABLE other_table (id INTEGER)")
    connection.commit()
    connection.close()
    return f"sqlite+aiosqlite:///{path}"


def test_corrections_from_the_database_in_id_order(tmp_path: Path) -> None:
    corrections = load_corrections_from_db(_database(tmp_path, with_table=True))
    assert [c.text for c in corrections] == [c["text"] for c in CORRECTIONS]
    assert all(c.category == "sanitation" and c.urgent is False for c in corrections)


def test_missing_table_or_file_gives_no_corrections(tmp_path: Path) -> None:
    assert load_corrections_from_db(_database(tmp_path, with_table=False)) == []
    missing = tmp_path / "nowhere" / "none.db"
    assert load_corrections_from_db(f"sqlite+aiosqlite:///{missing}") == []
    assert not missing.exists()


def test_learn_from_the_database(tmp_path: Path, monkeypatch: object) -> None:
    lexicon_path = _lexicon_copy(tmp_path)
    url = _database(tmp_path, with_table=True)
    result = runner.invoke(
        nlp_app,
        [
            "learn",
            "--database-url",
            url,
            "--lexicon",
            str(lexicon_path),
            "--eval",
            str(_small_eval(tmp_path)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "一塌糊涂" in load_lexicon(lexicon_path).terms["sanitation"]


def test_learn_without_corrections_leaves_the_lexicon(tmp_path: Path) -> None:
    lexicon_path = _lexicon_copy(tmp_path)
    before = lexicon_path.read_text(encoding="utf-8")
    url = _database(tmp_path, with_table=False)
    result = runner.invoke(
        nlp_app,
        [
            "learn",
            "--database-url",
            url,
            "--lexicon",
            str(lexicon_path),
            "--eval",
            str(_small_eval(tmp_path)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "No corrections" in result.output
    assert lexicon_path.read_text(encoding="utf-8") == before


def test_default_database_url_comes_from_settings() -> None:
    from config.settings import Settings

    assert cli_nlp._default_database_url() == Settings().database_url
