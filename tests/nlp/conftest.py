"""One classifier (jieba dictionary loaded once) shared by the whole NLP test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp.classifier import Classifier, load_classifier

EXTRA_SET = Path(__file__).resolve().parent.parent / "data" / "nlp_extra.jsonl"


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return load_classifier()
