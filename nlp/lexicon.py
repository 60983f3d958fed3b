"""The keyword lexicon: a TOML file a coordinator can read and edit, and its writer.

The file (``nlp/data/lexicon.toml``) is the source of truth for the classifier. It holds

* ``[settings]``: the confidence threshold below which a need is "unsure", the urgency threshold;
* ``[words]``: stop words (never weighted), negators, hedges ("不急"), past-time markers,
  "after" markers ("中风以后"), hypotheticals ("如果", "万一"), "now" markers ("现在", "又") that end
  the reach of a past or hypothetical marker, and "resolved" markers ("没大碍", "修好了");
* ``[variants]``: typos, homophones and dialect forms read as their standard form before anything
  else (``"煤汽" = "煤气"``, ``"弗" = "不"``);
* ``[groups]``: named word lists (older people, "cannot be reached", durations…) that combinations
  refer to as ``"@name"``, so that one list is edited in one place;
* ``[urgent.always]``: cues that make a message urgent whatever its category (煤气味, 着火…);
* ``[urgent.cues]``: cues that add to an urgency score in the categories of ``[urgent] categories``;
* ``[[urgent.combo]]``: implicit urgency, e.g. an older person + not seen + for days; a combination
  may also name the ``category`` it points to and a ``boost`` added to that category's score;
* ``[categories.<code>.terms]``: per category, ``"词" = weight``.

Writing back (after ``haitang nlp learn``) keeps the file's comments and order: existing lines get
their new weight, removed terms are dropped, new terms are appended to their table.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from nlp.taxonomy import CATEGORY_CODES, chinese_name, is_category

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
DEFAULT_LEXICON_PATH: Final = DATA_DIR / "lexicon.toml"
USER_DICT_PATH: Final = DATA_DIR / "userdict.txt"
DEV_SET_PATH: Final = DATA_DIR / "dev.jsonl"

LEARNED_MARK: Final = "# 学习新增 / learned from coordinators' corrections"


class LexiconError(ValueError):
    """The lexicon file is malformed."""


@dataclass(frozen=True)
class Combo:
    """Implicit urgency: fires when every group has at least one matching word.

    A group's words may include ``"@name"``, a reference to a list of ``[groups]``. When the combo
    fires, ``boost`` is added to the score of ``category`` (if one is named). An ``explicit`` combo
    (a gas leak: gas + leaking) counts like an ``[urgent.always]`` cue.
    """

    name: str
    weight: float
    groups: tuple[tuple[str, ...], ...]
    category: str | None = None
    boost: float = 0.0
    explicit: bool = False  # like [urgent.always]: counts even in a hedged message


@dataclass
class Lexicon:
    """The parsed lexicon. Mutable so that learning can adjust weights before writing back."""

    unsure_threshold: float = 0.3
    urgent_threshold: float = 1.0
    negation_window: int = 3
    stopwords: tuple[str, ...] = ()
    negators: tuple[str, ...] = ()
    hedges: tuple[str, ...] = ()
    past_markers: tuple[str, ...] = ()
    # habits ("一下雨就", "一开…就"): like past markers for ordinary cues, but a fire, a gas
    # smell or sparks that happen "every time it rains" are still urgent
    habits: tuple[str, ...] = ()
    after_markers: tuple[str, ...] = ()
    hypotheticals: tuple[str, ...] = ()
    now_markers: tuple[str, ...] = ()
    resolved_markers: tuple[str, ...] = ()
    # typo or dialect form -> standard form, applied to the text before anything else
    variants: dict[str, str] = field(default_factory=dict)
    # named word lists that combos refer to as "@name"
    word_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    urgent_categories: tuple[str, ...] = ()
    # [groups] naming who or what (older people, gas, water): their words are never cancelled by
    # negators, past or hypothetical markers; only the words for what happens are
    context_groups: tuple[str, ...] = ()
    # [groups] whose words stay urgent when told about as past ("前两天说过不想活了"): past and
    # "resolved" markers do not cancel them, negators still do
    lasting_groups: tuple[str, ...] = ()
    urgent_always: dict[str, float] = field(default_factory=dict)
    urgent_cues: dict[str, float] = field(default_factory=dict)
    combos: tuple[Combo, ...] = ()
    # category code -> term -> weight, categories in TAXONOMY order
    terms: dict[str, dict[str, float]] = field(default_factory=dict)

    def copy(self) -> Lexicon:
        return Lexicon(
            unsure_threshold=self.unsure_threshold,
            urgent_threshold=self.urgent_threshold,
            negation_window=self.negation_window,
            stopwords=self.stopwords,
            negators=self.negators,
            hedges=self.hedges,
            past_markers=self.past_markers,
            habits=self.habits,
            after_markers=self.after_markers,
            hypotheticals=self.hypotheticals,
            now_markers=self.now_markers,
            resolved_markers=self.resolved_markers,
            variants=dict(self.variants),
            word_groups=dict(self.word_groups),
            urgent_categories=self.urgent_categories,
            context_groups=self.context_groups,
            lasting_groups=self.lasting_groups,
            urgent_always=dict(self.urgent_always),
            urgent_cues=dict(self.urgent_cues),
            combos=self.combos,
            terms={code: dict(table) for code, table in self.terms.items()},
        )

    def weight_tables(self) -> dict[str, dict[str, float]]:
        """The TOML table name -> weights, for every table that learning may change."""
        tables = {
            "urgent.always": self.urgent_always,
            "urgent.cues": self.urgent_cues,
        }
        for code in CATEGORY_CODES:
            tables[f"categories.{code}.terms"] = self.terms.setdefault(code, {})
        return tables

    def expand(self, group: tuple[str, ...]) -> tuple[str, ...]:
        """A combo group's words with ``"@name"`` references replaced by the named lists."""
        words: list[str] = []
        for word in group:
            if word.startswith("@") and len(word) > 1:
                words.extend(self.word_groups.get(word[1:], ()))
            else:
                words.append(word)
        return tuple(dict.fromkeys(words))


# --- reading -----------------------------------------------------------------------------------


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise LexiconError(f"[{key}] must be a table")
    return value


def _words(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise LexiconError(f"{key} must be a list of strings")
    return tuple(dict.fromkeys(w.strip() for w in value if w.strip()))


def _weights(data: Mapping[str, Any], where: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for term, weight in data.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise LexiconError(f"[{where}] {term!r}: the weight must be a number")
        if not term.strip():
            raise LexiconError(f"[{where}]: empty term")
        weights[term.strip()] = float(weight)
    return weights


def _number(data: Mapping[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LexiconError(f"settings.{key} must be a number")
    return float(value)


def parse_lexicon(text: str) -> Lexicon:
    """Parse the TOML text of a lexicon."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LexiconError(f"lexicon is not valid TOML: {exc}") from exc
    settings = _table(data, "settings")
    words = _table(data, "words")
    urgent = _table(data, "urgent")
    gate = _words(urgent, "categories")
    for code in gate:
        if not is_category(code):
            raise LexiconError(f"[urgent] categories: unknown code {code!r}")
    variants: dict[str, str] = {}
    for wrong, right in _table(data, "variants").items():
        if not isinstance(right, str) or not wrong.strip() or not right.strip():
            raise LexiconError(f"[variants] {wrong!r}: needs a non-empty standard form")
        if wrong.strip() != right.strip():
            variants[wrong.strip().lower()] = right.strip().lower()
    word_groups: dict[str, tuple[str, ...]] = {}
    for name, group in _table(data, "groups").items():
        word_groups[name] = _words({name: group}, name)
    combos: list[Combo] = []
    raw_combos = urgent.get("combo", [])
    if not isinstance(raw_combos, list):
        raise LexiconError("[[urgent.combo]] must be an array of tables")
    for raw in raw_combos:
        groups = raw.get("groups", [])
        if not isinstance(groups, list) or not groups:
            raise LexiconError(f"combo {raw.get('name')!r}: groups must be a non-empty list")
        parsed = tuple(_words({"g": group}, "g") for group in groups)
        for group in parsed:
            for word in group:
                if word.startswith("@") and word[1:] not in word_groups:
                    raise LexiconError(f"combo {raw.get('name')!r}: unknown group {word!r}")
        category = raw.get("category")
        if category is not None and not (isinstance(category, str) and is_category(category)):
            raise LexiconError(f"combo {raw.get('name')!r}: unknown category {category!r}")
        combos.append(
            Combo(
                name=str(raw.get("name", "")),
                weight=_number(raw, "weight", 1.0),
                groups=parsed,
                category=category,
                boost=_number(raw, "boost", 0.0),
                explicit=raw.get("explicit", False) is True,
            )
        )
    context = _words(urgent, "context_groups")
    lasting = _words(urgent, "lasting_groups")
    for key, names in (("context_groups", context), ("lasting_groups", lasting)):
        for name in names:
            if name not in word_groups:
                raise LexiconError(f"[urgent] {key}: unknown group {name!r}")
    categories = _table(data, "categories")
    terms: dict[str, dict[str, float]] = {}
    for code in categories:
        if not is_category(code):
            raise LexiconError(f"[categories.{code}]: unknown category code")
    for code in CATEGORY_CODES:
        section = _table(categories, code)
        terms[code] = _weights(_table(section, "terms"), f"categories.{code}.terms")
    return Lexicon(
        unsure_threshold=_number(settings, "unsure_threshold", 0.3),
        urgent_threshold=_number(settings, "urgent_threshold", 1.0),
        negation_window=int(_number(settings, "negation_window", 3)),
        stopwords=_words(words, "stopwords"),
        negators=_words(words, "negators"),
        hedges=_words(words, "hedges"),
        past_markers=_words(words, "past"),
        habits=_words(words, "habits"),
        after_markers=_words(words, "after"),
        hypotheticals=_words(words, "hypothetical"),
        now_markers=_words(words, "now"),
        resolved_markers=_words(words, "resolved"),
        variants=variants,
        word_groups=word_groups,
        urgent_categories=gate,
        context_groups=context,
        lasting_groups=lasting,
        urgent_always=_weights(_table(urgent, "always"), "urgent.always"),
        urgent_cues=_weights(_table(urgent, "cues"), "urgent.cues"),
        combos=tuple(combos),
        terms=terms,
    )


def load_lexicon(path: Path | None = None) -> Lexicon:
    """Read a lexicon file (default: the packaged ``nlp/data/lexicon.toml``)."""
    path = path or DEFAULT_LEXICON_PATH
    return parse_lexicon(path.read_text(encoding="utf-8"))


# --- writing -----------------------------------------------------------------------------------


def _q(text: str) -> str:
    """A TOML basic string (JSON escaping is valid TOML)."""
    return json.dumps(text, ensure_ascii=False)


def format_weight(weight: float) -> str:
    return repr(round(float(weight), 2))


def _entry(term: str, weight: float) -> str:
    return f"{_q(term)} = {format_weight(weight)}"


def _word_list(key: str, words: tuple[str, ...]) -> list[str]:
    lines = [f"{key} = ["]
    for start in range(0, len(words), 10):
        lines.append("    " + ", ".join(_q(w) for w in words[start : start + 10]) + ",")
    lines.append("]")
    return lines


def dump_lexicon(lexicon: Lexicon) -> str:
    """The whole lexicon in canonical TOML form (used when no file exists to update)."""
    out = [
        "# 海棠 需求分类词典 / Haitang need-classification lexicon",
        '# 每行 "词" = 权重；可直接编辑。/ One "term" = weight per line; edit freely.',
        "",
        "[settings]",
        f"unsure_threshold = {format_weight(lexicon.unsure_threshold)}",
        f"urgent_threshold = {format_weight(lexicon.urgent_threshold)}",
        f"negation_window = {lexicon.negation_window}",
        "",
        "[words]",
        *_word_list("stopwords", lexicon.stopwords),
        *_word_list("negators", lexicon.negators),
        *_word_list("hedges", lexicon.hedges),
        *_word_list("past", lexicon.past_markers),
        *_word_list("habits", lexicon.habits),
        *_word_list("after", lexicon.after_markers),
        *_word_list("hypothetical", lexicon.hypotheticals),
        *_word_list("now", lexicon.now_markers),
        *_word_list("resolved", lexicon.resolved_markers),
        "",
        "[variants]",
        *(f"{_q(w)} = {_q(r)}" for w, r in lexicon.variants.items()),
        "",
        "[groups]",
        *(
            line
            for name, group in lexicon.word_groups.items()
            for line in _word_list(_q(name), group)
        ),
        "",
        "[urgent]",
        *_word_list("categories", lexicon.urgent_categories),
        *_word_list("context_groups", lexicon.context_groups),
        *_word_list("lasting_groups", lexicon.lasting_groups),
        "",
        "[urgent.always]",
        *(_entry(t, w) for t, w in lexicon.urgent_always.items()),
        "",
        "[urgent.cues]",
        *(_entry(t, w) for t, w in lexicon.urgent_cues.items()),
        "",
    ]
    for combo in lexicon.combos:
        out += ["[[urgent.combo]]", f"name = {_q(combo.name)}"]
        out.append(f"weight = {format_weight(combo.weight)}")
        if combo.category is not None:
            out.append(f"category = {_q(combo.category)}")
            out.append(f"boost = {format_weight(combo.boost)}")
        if combo.explicit:
            out.append("explicit = true")
        out.append("groups = [")
        out += ["    [" + ", ".join(_q(w) for w in group) + "]," for group in combo.groups]
        out += ["]", ""]
    for code in CATEGORY_CODES:
        out += [
            f"[categories.{code}]",
            f"name = {_q(chinese_name(code))}",
            "",
            f"[categories.{code}.terms]",
            *(_entry(t, w) for t, w in lexicon.terms.get(code, {}).items()),
            "",
        ]
    return "\n".join(out)


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[")
_ENTRY = re.compile(r'^(\s*)("(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+)(\s*=\s*)([-+0-9.eE_]+)(\s*(#.*)?)$')


def _unquote(key: str) -> str:
    if key.startswith('"'):
        value = json.loads(key)
        assert isinstance(value, str)
        return value
    return key


def update_lexicon_text(text: str, lexicon: Lexicon) -> str:
    """Rewrite the weight tables of an existing lexicon file, keeping its comments and order."""
    tables = lexicon.weight_tables()
    written: dict[str, set[str]] = {name: set() for name in tables}
    has_mark: set[str] = set()
    out: list[str] = []
    current: str | None = None

    def close_table() -> None:
        if current is None or current not in tables:
            return
        missing = [t for t in tables[current] if t not in written[current]]
        if not missing:
            return
        # insert before the blank lines that end the table
        tail: list[str] = []
        while out and not out[-1].strip():
            tail.append(out.pop())
        if current not in has_mark:
            out.append(LEARNED_MARK)
        out.extend(_entry(t, tables[current][t]) for t in missing)
        written[current].update(missing)
        out.extend(reversed(tail))

    for line in text.splitlines():
        header = _HEADER.match(line)
        if header or _ARRAY_HEADER.match(line):
            close_table()
            current = header.group(1).replace(" ", "") if header else None
            out.append(line)
            continue
        if current in tables:
            assert current is not None
            if line.strip() == LEARNED_MARK:
                has_mark.add(current)
            entry = _ENTRY.match(line)
            if entry:
                term = _unquote(entry.group(2))
                weights = tables[current]
                if term not in weights or term in written[current]:
                    continue  # removed by learning (or a duplicate line)
                written[current].add(term)
                old = float(entry.group(4))
                number = entry.group(4)
                if round(old, 2) != round(weights[term], 2):
                    number = format_weight(weights[term])
                out.append(
                    entry.group(1) + entry.group(2) + entry.group(3) + number + entry.group(5)
                )
                continue
        out.append(line)
    close_table()
    for name, weights in tables.items():
        missing = [t for t in weights if t not in written[name]]
        if missing:
            if out and out[-1].strip():
                out.append("")
            if name.startswith("categories."):
                code = name.split(".")[1]
                if f"[categories.{code}]" not in (line.strip() for line in out):
                    out += [f"[categories.{code}]", f"name = {_q(chinese_name(code))}", ""]
            out += [f"[{name}]", LEARNED_MARK, *(_entry(t, weights[t]) for t in missing), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _same(a: Lexicon, b: Lexicon) -> bool:
    def rounded(tables: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        return {k: {t: round(w, 2) for t, w in v.items()} for k, v in tables.items()}

    a_copy, b_copy = a.copy(), b.copy()
    same_tables = rounded(a_copy.weight_tables()) == rounded(b_copy.weight_tables())
    a_copy.urgent_always, a_copy.urgent_cues, a_copy.terms = {}, {}, {}
    b_copy.urgent_always, b_copy.urgent_cues, b_copy.terms = {}, {}, {}
    return same_tables and a_copy == b_copy


def render_lexicon(lexicon: Lexicon, original: str | None) -> str:
    """The text to write: the original file updated in place, or a fresh canonical dump."""
    if original is not None:
        updated = update_lexicon_text(original, lexicon)
        try:
            if _same(parse_lexicon(updated), lexicon):
                return updated
        except LexiconError:
            pass
    return dump_lexicon(lexicon)


def save_lexicon(lexicon: Lexicon, path: Path) -> None:
    """Write the lexicon to ``path``, keeping the existing file's comments when there is one."""
    original = path.read_text(encoding="utf-8") if path.exists() else None
    text = render_lexicon(lexicon, original)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
