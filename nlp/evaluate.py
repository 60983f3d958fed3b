"""Labeled examples (JSON lines) and the metrics of ``haitang nlp eval``.

"unsure" is not a category: an example predicted "unsure" counts as a miss for its true category.
Macro-F1 averages the F1 of every category that occurs in the gold labels or the predictions.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from nlp.taxonomy import CATEGORY_CODES, UNSURE, chinese_name, is_category


@dataclass(frozen=True)
class Example:
    """One labeled message: the format of dev.jsonl and of stored corrections."""

    text: str
    category: str
    urgent: bool


class _Prediction(Protocol):
    @property
    def category(self) -> str: ...

    @property
    def urgent(self) -> bool: ...


class _Classifies(Protocol):
    def classify(self, text: str) -> _Prediction: ...


def parse_example(line: str, where: str = "") -> Example:
    """One JSON line ``{"text": ..., "category": ..., "urgent": ...}``."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object")
    text, category, urgent = data.get("text"), data.get("category"), data.get("urgent", False)
    if not isinstance(text, str) or not isinstance(category, str) or not isinstance(urgent, bool):
        raise ValueError(f"{where}: needs text (str), category (str), urgent (bool)")
    if not is_category(category):
        raise ValueError(f"{where}: unknown category {category!r}")
    return Example(text=text, category=category, urgent=urgent)


def read_examples(path: Path) -> list[Example]:
    """All examples of a JSON-lines file (blank lines are skipped)."""
    examples = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                examples.append(parse_example(line, f"{path}:{number}"))
    return examples


@dataclass(frozen=True)
class CategoryScore:
    code: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Report:
    total: int
    accuracy: float
    macro_f1: float
    per_category: tuple[CategoryScore, ...]
    urgent_precision: float
    urgent_recall: float
    urgent_support: int
    unsure_share: float
    confusions: tuple[tuple[str, str, int], ...]  # (gold, predicted, count), most frequent first


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score(
    gold: Sequence[Example],
    predicted: Sequence[tuple[str, bool]],
    top_confusions: int = 10,
) -> Report:
    """Metrics for predictions ``(category or "unsure", urgent)`` against gold examples."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    total = len(gold)
    correct = sum(g.category == p for g, (p, _) in zip(gold, predicted, strict=True))
    tp: Counter[str] = Counter()
    gold_count: Counter[str] = Counter()
    pred_count: Counter[str] = Counter()
    confusions: Counter[tuple[str, str]] = Counter()
    for g, (p, _) in zip(gold, predicted, strict=True):
        gold_count[g.category] += 1
        pred_count[p] += 1
        if g.category == p:
            tp[p] += 1
        else:
            confusions[(g.category, p)] += 1
    per_category = []
    for code in CATEGORY_CODES:
        if not gold_count[code] and not pred_count[code]:
            continue
        precision = _ratio(tp[code], pred_count[code])
        recall = _ratio(tp[code], gold_count[code])
        per_category.append(
            CategoryScore(code, precision, recall, _f1(precision, recall), gold_count[code])
        )
    macro = sum(c.f1 for c in per_category) / len(per_category) if per_category else 0.0
    urgent_tp = sum(g.urgent and u for g, (_, u) in zip(gold, predicted, strict=True))
    urgent_pred = sum(u for _, u in predicted)
    urgent_gold = sum(g.urgent for g in gold)
    ranked = sorted(confusions.items(), key=lambda item: (-item[1], item[0]))
    return Report(
        total=total,
        accuracy=_ratio(correct, total),
        macro_f1=macro,
        per_category=tuple(per_category),
        urgent_precision=_ratio(urgent_tp, urgent_pred),
        urgent_recall=_ratio(urgent_tp, urgent_gold),
        urgent_support=urgent_gold,
        unsure_share=_ratio(pred_count[UNSURE], total),
        confusions=tuple((g, p, n) for (g, p), n in ranked[:top_confusions]),
    )


def evaluate(classifier: _Classifies, examples: Iterable[Example]) -> Report:
    """Classify every example and score the results."""
    gold = list(examples)
    predicted = []
    for example in gold:
        result = classifier.classify(example.text)
        predicted.append((result.category, result.urgent))
    return score(gold, predicted)


def format_report(report: Report, title: str = "") -> str:
    """The human-readable report printed by ``haitang nlp eval``."""
    lines = []
    if title:
        lines.append(title)
    lines += [
        f"样本数 examples: {report.total}",
        f"准确率 accuracy: {report.accuracy:.3f}",
        f"宏平均 F1 macro-F1: {report.macro_f1:.3f}  (待分诊计为错误 / unsure counts as wrong)",
        f"紧急 精确率 urgent precision: {report.urgent_precision:.3f}",
        f"紧急 召回率 urgent recall: {report.urgent_recall:.3f}  (紧急样本 {report.urgent_support})",
        f"待分诊占比 unsure share: {report.unsure_share:.3f}",
        "",
        f"{'category':<12} {'中文':<6} {'P':>6} {'R':>6} {'F1':>6} {'n':>5}",
    ]
    for c in report.per_category:
        lines.append(
            f"{c.code:<12} {chinese_name(c.code):<6} "
            f"{c.precision:6.3f} {c.recall:6.3f} {c.f1:6.3f} {c.support:5d}"
        )
    lines.append("")
    lines.append("最常混淆 most confused (gold -> predicted: count):")
    if not report.confusions:
        lines.append("  (none)")
    for gold, pred, count in report.confusions:
        lines.append(f"  {gold} -> {pred}: {count}")
    return "\n".join(lines)
