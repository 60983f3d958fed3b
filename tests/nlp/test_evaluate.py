"""Metrics of `haitang nlp eval`."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp.classifier import Classifier
from nlp.evaluate import (
    Example,
    evaluate,
    format_report,
    parse_example,
    read_examples,
    score,
)
from nlp.lexicon import DEV_SET_PATH


def test_score_counts_unsure_as_wrong() -> None:
    gold = [
        Example("a", "noise", False),
        Example("b", "noise", True),
        Example("c", "parking", False),
        Example("d", "parking", True),
    ]
    predicted = [("noise", False), ("unsure", True), ("parking", True), ("noise", False)]
    report = score(gold, predicted)
    assert report.accuracy == pytest.approx(0.5)
    noise = next(c for c in report.per_category if c.code == "noise")
    parking = next(c for c in report.per_category if c.code == "parking")
    assert noise.precision == pytest.approx(0.5) and noise.recall == pytest.approx(0.5)
    assert parking.precision == pytest.approx(1.0) and parking.recall == pytest.approx(0.5)
    assert report.macro_f1 == pytest.approx((0.5 + 2 / 3) / 2)
    assert report.unsure_share == pytest.approx(0.25)
    assert report.urgent_precision == pytest.approx(0.5)
    assert report.urgent_recall == pytest.approx(0.5)
    assert ("noise", "unsure", 1) in report.confusions
    assert ("parking", "noise", 1) in report.confusions
    text = format_report(report)
    assert "macro-F1" in text and "unsure" in text and "parking -> noise: 1" in text


def test_perfect_and_empty() -> None:
    gold = [Example("a", "legal", False)]
    assert score(gold, [("legal", False)]).macro_f1 == 1.0
    empty = score([], [])
    assert empty.total == 0 and empty.accuracy == 0.0


def test_parse_example_validates() -> None:
    example = parse_example('{"text": "吵", "category": "noise", "urgent": false}')
    assert example == Example("吵", "noise", False)
    for bad in ["[]", "{", '{"text": "x", "category": "weather", "urgent": false}']:
        with pytest.raises(ValueError):
            parse_example(bad)


def test_packaged_dev_set_matches_the_shared_format() -> None:
    examples = read_examples(DEV_SET_PATH)
    assert len(examples) == 255
    assert sum(e.urgent for e in examples) == 40


def test_extra_set_is_new_text(tmp_path: Path) -> None:
    from tests.nlp.conftest import EXTRA_SET

    extra = read_examples(EXTRA_SET)
    dev = {e.text for e in read_examples(DEV_SET_PATH)}
    assert len(extra) >= 300
    assert not dev & {e.text for e in extra}
    assert {e.category for e in extra} == {e.category for e in read_examples(DEV_SET_PATH)}


def test_quality_floors_on_dev_and_extra(classifier: Classifier) -> None:
    """A guard against lexicon edits that break things (the targets are measured by the CLI)."""
    from tests.nlp.conftest import EXTRA_SET

    for path, floor in ((DEV_SET_PATH, 0.95), (EXTRA_SET, 0.9)):
        report = evaluate(classifier, read_examples(path))
        assert report.macro_f1 >= floor, path
        assert report.urgent_recall >= 0.95, path
        assert report.urgent_precision >= 0.9, path
        assert report.unsure_share <= 0.05, path
