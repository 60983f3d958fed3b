"""Learning from coordinators' corrections."""

from __future__ import annotations

from pathlib import Path

from nlp.classifier import Classifier
from nlp.learn import Correction, content_words, fold_corrections
from nlp.lexicon import DEFAULT_LEXICON_PATH, load_lexicon, save_lexicon

# Invented local wording the packaged lexicon does not know.
WRONG = "阿拉弄堂里向个宕口老早就一塌糊涂哉"
CORRECTIONS = [
    Correction("阿拉弄堂里向个宕口老早就一塌糊涂哉", "sanitation", False),
    Correction("宕口一塌糊涂，的的了了", "sanitation", False),
    Correction("隔壁阿婆一个人在屋里向，喊伊也喊勿应，伊拉囡儿勿晓得", "elderly", True),
]


def test_learning_fixes_corrections(classifier: Classifier) -> None:
    base = load_lexicon()
    before = classifier.classify(WRONG)
    assert before.category != "sanitation"
    result = fold_corrections(base, CORRECTIONS, classifier.with_lexicon)
    learned = classifier.with_lexicon(result.lexicon)
    assert learned.classify(WRONG).category == "sanitation"
    assert learned.classify(CORRECTIONS[2].text).urgent
    assert result.remaining == 0
    assert result.changes
    # the input lexicon is not modified
    assert base == load_lexicon()


def test_learning_is_reproducible(classifier: Classifier) -> None:
    base = load_lexicon()
    first = fold_corrections(base, CORRECTIONS, classifier.with_lexicon)
    second = fold_corrections(load_lexicon(), CORRECTIONS, classifier.with_lexicon)
    assert first.lexicon == second.lexicon
    assert first.changes == second.changes


def test_stop_words_never_gain_weight(classifier: Classifier) -> None:
    base = load_lexicon()
    stop = set(base.stopwords) | set(base.negators)
    result = fold_corrections(base, CORRECTIONS, classifier.with_lexicon)
    gained = {c.term for c in result.changes if c.old is None or c.new > c.old}
    assert gained
    assert not gained & stop
    words = content_words(classifier, "的的了了，我们就是要说", base)
    assert not set(words) & stop


def test_wrong_urgency_is_unlearned(classifier: Classifier) -> None:
    base = load_lexicon()
    text = "楼下那个大坑差点让我摔进去，赶紧派人来看看"
    assert classifier.classify(text).urgent
    result = fold_corrections(
        base, [Correction(text, "facilities", False)], classifier.with_lexicon
    )
    assert not classifier.with_lexicon(result.lexicon).classify(text).urgent
    lowered = [c for c in result.changes if c.table in {"urgent.cues", "urgent.always"}]
    assert lowered and all(c.old is not None and c.new < c.old for c in lowered)


def test_unknown_categories_are_skipped(classifier: Classifier) -> None:
    result = fold_corrections(
        load_lexicon(), [Correction("随便说说", "weather", False)], classifier.with_lexicon
    )
    assert result.skipped == 1 and not result.changes


def test_learned_lexicon_is_written_readably(classifier: Classifier, tmp_path: Path) -> None:
    path = tmp_path / "lexicon.toml"
    path.write_text(DEFAULT_LEXICON_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    result = fold_corrections(load_lexicon(path), CORRECTIONS, classifier.with_lexicon)
    save_lexicon(result.lexicon, path)
    assert load_lexicon(path) == result.lexicon
    text = path.read_text(encoding="utf-8")
    assert "# 学习新增" in text
    assert '"一塌糊涂" = ' in text
