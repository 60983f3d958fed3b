"""The lexicon file: readable TOML, parsed, and written back without losing comments."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from nlp.lexicon import (
    DEFAULT_LEXICON_PATH,
    LEARNED_MARK,
    Combo,
    Lexicon,
    LexiconError,
    dump_lexicon,
    load_lexicon,
    parse_lexicon,
    save_lexicon,
    update_lexicon_text,
)
from nlp.taxonomy import CATEGORY_CODES

SMALL = """\
# 说明 / a comment a coordinator wrote
[settings]
unsure_threshold = 0.3

[words]
stopwords = ["的", "了"]
negators = ["没有"]

[urgent]
categories = ["safety"]

[urgent.always]
"煤气味" = 1.2  # 燃气

[categories.safety]
name = "安全隐患"

[categories.safety.terms]
# 燃气 / gas
"煤气" = 4.0
"电瓶车" = 1.5

[categories.noise.terms]
"噪音" = 5
"""


def test_packaged_lexicon_is_valid_and_rich() -> None:
    lexicon = load_lexicon()
    assert set(lexicon.terms) == set(CATEGORY_CODES)
    for code in CATEGORY_CODES:
        assert len(lexicon.terms[code]) >= 60, code
    assert lexicon.urgent_always and lexicon.urgent_cues and lexicon.combos
    assert "不急" in lexicon.hedges and "没有" in lexicon.negators
    # the file is plain TOML a coordinator can read
    data = tomllib.loads(DEFAULT_LEXICON_PATH.read_text(encoding="utf-8"))
    assert data["categories"]["elderly"]["name"] == "养老助老"


def test_stop_words_carry_no_category_weight() -> None:
    lexicon = load_lexicon()
    stop = set(lexicon.stopwords)
    for code, table in lexicon.terms.items():
        assert not (stop & set(table)), code


def test_parse_small_lexicon() -> None:
    lexicon = parse_lexicon(SMALL)
    assert lexicon.unsure_threshold == 0.3
    assert lexicon.terms["safety"] == {"煤气": 4.0, "电瓶车": 1.5}
    assert lexicon.terms["noise"] == {"噪音": 5.0}
    assert lexicon.terms["legal"] == {}
    assert lexicon.urgent_always == {"煤气味": 1.2}
    assert lexicon.urgent_categories == ("safety",)


@pytest.mark.parametrize(
    "bad",
    [
        '[categories.weather.terms]\n"雨" = 1\n',
        '[categories.noise.terms]\n"吵" = "loud"\n',
        '[urgent]\ncategories = ["nowhere"]\n',
        "[settings\n",
    ],
)
def test_malformed_lexicons_are_rejected(bad: str) -> None:
    with pytest.raises(LexiconError):
        parse_lexicon(bad)


def test_update_keeps_comments_and_order() -> None:
    lexicon = parse_lexicon(SMALL)
    lexicon.terms["safety"]["煤气"] = 4.5
    lexicon.terms["safety"]["飞线"] = 0.5
    del lexicon.terms["safety"]["电瓶车"]
    lexicon.terms["legal"]["律师"] = 1.0
    lexicon.urgent_always["煤气味"] = 0.95
    text = update_lexicon_text(SMALL, lexicon)
    assert "# 说明 / a comment a coordinator wrote" in text
    assert "# 燃气 / gas" in text
    assert '"煤气味" = 0.95  # 燃气' in text
    assert '"煤气" = 4.5' in text
    assert "电瓶车" not in text
    assert LEARNED_MARK in text
    assert text.index('"飞线" = 0.5') < text.index("[categories.noise.terms]")
    assert "[categories.legal.terms]" in text
    reparsed = parse_lexicon(text)
    assert reparsed.terms == lexicon.terms
    assert reparsed.urgent_always == lexicon.urgent_always


def test_dump_round_trip() -> None:
    lexicon = Lexicon(
        stopwords=("的",),
        negators=("没有",),
        hedges=("不急",),
        past_markers=("上次",),
        after_markers=("以后",),
        urgent_categories=("safety", "health"),
        urgent_always={"着火": 1.2},
        urgent_cues={"快来人": 0.5, "请问": -0.3},
        combos=(Combo("老人多日未露面", 1.0, (("老人",), ("没见",), ("三天",))),),
        terms={code: {} for code in CATEGORY_CODES} | {"safety": {"着火": 5.0, '引"号': 1.25}},
    )
    assert parse_lexicon(dump_lexicon(lexicon)) == lexicon


def test_save_writes_in_place_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.toml"
    path.write_text(DEFAULT_LEXICON_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    lexicon = load_lexicon(path)
    lexicon.terms["noise"]["蹦迪声"] = 2.0
    save_lexicon(lexicon, path)
    assert load_lexicon(path) == lexicon
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# 海棠 需求分类词典")
    # a fresh file is written in canonical form
    fresh = tmp_path / "fresh.toml"
    save_lexicon(lexicon, fresh)
    assert load_lexicon(fresh) == lexicon
