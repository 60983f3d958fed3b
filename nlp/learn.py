"""Fold coordinators' corrections into the lexicon weights, deterministically.

A perceptron over the readable lexicon: each correction (text, category, urgent) is classified
with the current weights; when the category is wrong, the content words of the text gain weight
in the right category and the keywords that misled the classifier lose weight in the wrong one.
When urgency is missed, the text's content words gain a little urgency weight; when urgency was
raised wrongly, the cues that raised it lose weight. Passes repeat (in the order given) until every
correction is classified as corrected or ``max_epochs`` is reached.

Guarantees: no I/O; the same lexicon and corrections give the same weights; stop words (and
negators, hedges, hypotheticals, time and "resolved" markers, digits and punctuation) never gain
weight; weights stay in
[0, ``max_weight``] and are rounded to two decimals, so the lexicon file stays readable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from nlp.classifier import Analysis, Classifier
from nlp.evaluate import Example
from nlp.lexicon import Lexicon
from nlp.taxonomy import UNSURE, is_category

# A correction has the same shape as a labeled example (dev.jsonl).
Correction = Example

CATEGORY_RATE: Final = 0.5
URGENT_RATE: Final = 0.25
MAX_WEIGHT: Final = 5.0
MAX_CUE: Final = 1.0
MAX_EPOCHS: Final = 5

_CONTENT: Final = re.compile(r"[\u4e00-\u9fff]|[a-z]{2,}")


@dataclass(frozen=True)
class WeightChange:
    table: str  # "categories.<code>.terms", "urgent.cues" or "urgent.always"
    term: str
    old: float | None  # None: a new term
    new: float


@dataclass(frozen=True)
class LearnResult:
    lexicon: Lexicon
    changes: tuple[WeightChange, ...]  # one per changed (table, term), first-change order
    epochs: int
    remaining: int  # corrections still classified differently after the last pass
    skipped: int  # corrections with an unknown category


def content_words(classifier: Classifier, text: str, lexicon: Lexicon) -> list[str]:
    """The words of a text that may carry weight: jieba tokens minus stop and function words."""
    banned = {
        w.lower()
        for w in (
            *lexicon.stopwords,
            *lexicon.negators,
            *lexicon.hedges,
            *lexicon.past_markers,
            *lexicon.habits,
            *lexicon.after_markers,
            *lexicon.hypotheticals,
            *lexicon.now_markers,
            *lexicon.resolved_markers,
        )
    }
    words: list[str] = []
    for token in classifier.words(text):
        token = token.strip()
        if len(token) < 2 or token in banned or not _CONTENT.search(token):
            continue
        if token not in words:
            words.append(token)
    return words


def fold_corrections(
    lexicon: Lexicon,
    corrections: Sequence[Correction],
    make_classifier: Callable[[Lexicon], Classifier],
    *,
    category_rate: float = CATEGORY_RATE,
    urgent_rate: float = URGENT_RATE,
    max_epochs: int = MAX_EPOCHS,
) -> LearnResult:
    """A new lexicon with the corrections folded in (the given lexicon is not changed)."""
    lex = lexicon.copy()
    first_seen: dict[tuple[str, str], float | None] = {}
    usable = [c for c in corrections if is_category(c.category)]
    skipped = len(corrections) - len(usable)

    def set_weight(table: str, weights: dict[str, float], term: str, value: float) -> None:
        key = (table, term)
        if key not in first_seen:
            first_seen[key] = weights.get(term)
        weights[term] = round(value, 2)

    classifier = make_classifier(lex)
    epochs = 0
    remaining = 0
    for epoch in range(max_epochs):
        epochs = epoch + 1
        changed = False
        remaining = 0
        for correction in usable:
            analysis: Analysis = classifier.analyse(correction.text)
            result = analysis.classification
            wrong_category = result.category != correction.category
            wrong_urgency = result.urgent != correction.urgent
            if not (wrong_category or wrong_urgency):
                continue
            remaining += 1
            changed = True
            words = content_words(classifier, correction.text, lex)
            if wrong_category:
                table = f"categories.{correction.category}.terms"
                gold = lex.terms.setdefault(correction.category, {})
                for word in words:
                    set_weight(
                        table, gold, word, min(MAX_WEIGHT, gold.get(word, 0.0) + category_rate)
                    )
                if result.category != UNSURE:
                    table = f"categories.{result.category}.terms"
                    wrong = lex.terms.setdefault(result.category, {})
                    for term in result.keywords:
                        if term in wrong and wrong[term] > 0:
                            set_weight(table, wrong, term, max(0.0, wrong[term] - category_rate))
            if wrong_urgency:
                if correction.urgent:
                    cues = lex.urgent_cues
                    for word in words:
                        if word in lex.urgent_always:
                            continue
                        current = cues.get(word, 0.0)
                        if current < 0:
                            new = min(0.0, current + urgent_rate)
                        else:
                            new = min(MAX_CUE, current + urgent_rate)
                        set_weight("urgent.cues", cues, word, new)
                else:
                    for term in analysis.cues:
                        if term in lex.urgent_always:
                            value = lex.urgent_always[term]
                            set_weight(
                                "urgent.always", lex.urgent_always, term, value - urgent_rate
                            )
                        elif term in lex.urgent_cues:
                            value = lex.urgent_cues[term]
                            if value > 0:
                                new = max(0.0, value - urgent_rate)
                                set_weight("urgent.cues", lex.urgent_cues, term, new)
            classifier = make_classifier(lex)
        if not changed:
            remaining = 0
            break
    else:
        # count what is still wrong after the last pass
        remaining = sum(
            1
            for c in usable
            if (r := classifier.classify(c.text)).category != c.category or r.urgent != c.urgent
        )
    tables = lex.weight_tables()
    changes = tuple(
        WeightChange(table, term, old, tables[table][term])
        for (table, term), old in first_seen.items()
        if old is None or round(old, 2) != tables[table][term]
    )
    return LearnResult(
        lexicon=lex, changes=changes, epochs=epochs, remaining=remaining, skipped=skipped
    )
