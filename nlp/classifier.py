"""An explainable keyword classifier for needs: category, confidence, reasons and urgency.

How a message is read:

1. jieba cuts the text once, in accurate mode, with its own ``Tokenizer`` (not the module global)
   holding the project's user dictionary and every lexicon term. HMM new-word discovery is off:
   the cut only supplies word boundaries, and unknown names need no merging. The boundaries are
   kept.
2. One pass of an Aho-Corasick automaton over the characters finds every lexicon term, negator,
   hedge and time marker. Longest matches win. A term that lines up with jieba's words counts in
   full, one that cuts through a jieba word counts less, and a one-character term counts only as
   a whole jieba word ("吵" yes, the 吵 inside "吵架" no). A pattern ``*声`` matches any word
   ending in 声 (马达声, 叫声). Category terms and urgency cues are selected separately, so a long
   category term ("头晕站不起来") does not hide the cue inside it ("站不起来").
3. Each term adds its weights to its categories. The best category wins unless the evidence is
   thin or evenly split (confidence below ``unsure_threshold``): then the need is "unsure" and goes
   to a coordinator. The reasons shown are the matched terms of the winning category.
4. Urgency is a score. ``[urgent.always]`` cues (煤气味, 着火, 不想活…) are urgent in any category
   but a calm one (a relief application after a fire); ``[urgent.cues]`` (positive, or negative
   for chronic and administrative wording such as 经常, 请问, 怎么申请) and the implicit combos (an
   older person + not seen + for days) count unless a category where danger is not expected
   clearly won. A negator or hypothetical just before a cue ("没有煤气味", "万一着火"), a
   past-time marker earlier in its clause ("前阵子着了火") or an "after" marker right behind it
   ("中风以后") cancels it; a hedge ("不急", "有空再来") cancels everything but explicit cues.

The work on top of the jieba pass is one or two dictionary lookups per character plus a little
bookkeeping per match.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Final, NamedTuple

import jieba

from nlp.lexicon import USER_DICT_PATH, Lexicon, load_lexicon
from nlp.taxonomy import CATEGORY_CODES, UNSURE

jieba.setLogLevel(logging.WARNING)
logging.getLogger("jieba").setLevel(logging.WARNING)

MAX_KEYWORDS: Final = 6
# Weight of a term that lines up with jieba's words at one end only, or at neither end.
ONE_SIDE_WEIGHT: Final = 0.8
NO_SIDE_WEIGHT: Final = 0.5
# Scale of the evidence factor in the confidence: one term of this weight gives 1/2.
EVIDENCE_SCALE: Final = 1.0
# Category weights of a term right after "不是"/"并非" are multiplied by this.
NOT_CATEGORY_FACTOR: Final = 0.25
# Soft cues are ignored when a category without danger wins with at least this confidence.
GATE_CONFIDENCE: Final = 0.6
# Explicit cues are not urgent in these categories when they win with GATE_CONFIDENCE.
CALM_CATEGORIES: Final = frozenset({"hardship", "legal", "affairs", "employment", "activity"})

# Characters that end a clause: negation and past markers do not reach across them.
CLAUSE_BREAKS: Final = frozenset("，。！？；：,.!?;:、…~～\n\r\t ()（）【】[]「」“”\"'《》<>|/")

# Full-width letters and digits (ＫＴＶ, １２０) to half-width and A-Z to a-z: one character for one,
# so offsets in the normalised text are offsets in the original. Punctuation is left alone.
_NORMALISE: Final = {code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)}
_NORMALISE.update({code: code - 0xFEE0 for code in range(0xFF41, 0xFF5B)})
_NORMALISE.update({code: code - 0xFEE0 + 32 for code in range(0xFF21, 0xFF3B)})
_NORMALISE.update({code: code + 32 for code in range(ord("A"), ord("Z") + 1)})
_NEEDS_NORMALISING: Final = re.compile("[A-Z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")

_NOT_CATEGORY_WORDS: Final = ("不是", "并非", "并不是", "不属于", "不算")


@dataclass(frozen=True)
class Classification:
    """The decision on one message, with its reasons."""

    category: str  # a category code or "unsure"
    confidence: float  # in [0, 1]
    runner_up: str | None  # the second-best category code, if any other had evidence
    keywords: tuple[str, ...]  # the matched terms that decided the category, strongest first
    urgent: bool
    urgent_cue: str | None  # the cue (or cues joined by "+") that set the urgent flag

    def to_json_dict(self) -> dict[str, object]:
        """The line format of ``haitang nlp classify``."""
        return {
            "category": self.category,
            "urgent": self.urgent,
            "confidence": round(self.confidence, 3),
            "keywords": list(self.keywords),
        }


# entry kinds (bit flags)
_NEG: Final = 1
_PAST: Final = 2
_HEDGE: Final = 4
_NOT_CAT: Final = 8
_SUFFIX: Final = 16  # "*X": only counts at the end of a jieba word
_AFTER: Final = 32  # "以后" right after a cue: the event is over ("中风以后")
_BLOCK: Final = 64  # a cue set to 0 in the lexicon: blocks the cues inside it ("差点打起来")
_STOP: Final = 128  # a stop word: weightless, but blocks the terms inside it ("几声" is not "*声")
_URGENCY_FLAGS: Final = _NEG | _PAST | _HEDGE | _AFTER | _BLOCK

# how a match must line up with jieba's words, per selection
_NONE: Final = 0
_WHOLE: Final = 1  # a whole jieba word (one-character terms, "不是")
_START: Final = 2  # starts a jieba word (negators and time markers: "不是" is not in "是不是")
_END: Final = 3  # ends a longer jieba word (suffix patterns "*声")
_FREE: Final = 4  # anywhere; counts less when it cuts through jieba's words


class _Entry(NamedTuple):
    key: str  # the term as written in the lexicon ("*声" for a suffix pattern)
    cats: tuple[tuple[int, float], ...]  # (category index, weight)
    always: float  # urgent in any (non-calm) category
    cue: float  # adds to (or, negative, takes from) the urgency score in the gated categories
    combo_bits: int  # the combination groups this term belongs to
    flags: int
    cat_mode: int  # alignment rule in the category selection (_NONE: not a category term)
    cue_mode: int  # alignment rule in the urgency selection (_NONE: no urgency role)


@dataclass(frozen=True)
class Analysis:
    """Everything ``classify`` worked out; used by learning and for debugging."""

    classification: Classification
    scores: tuple[float, ...]  # per category, TAXONOMY order
    matched: tuple[str, ...]  # the lexicon terms found, in text order
    cues: tuple[str, ...]  # the urgency cues that counted (even if they fell short)
    urgency: float  # their total score (the flag needs urgent_threshold), 0 when gated
    hedged: bool


class Classifier:
    """Holds the jieba tokenizer and the compiled lexicon. ``classify`` is thread-safe."""

    def __init__(self, lexicon: Lexicon, tokenizer: jieba.Tokenizer) -> None:
        self.lexicon = lexicon
        self.tokenizer = tokenizer
        self._compile(lexicon)

    def with_lexicon(self, lexicon: Lexicon) -> Classifier:
        """A classifier for another lexicon sharing this one's tokenizer (used when learning)."""
        return Classifier(lexicon, self.tokenizer)

    # --- compilation ---------------------------------------------------------------------------

    def _compile(self, lex: Lexicon) -> None:
        stop = frozenset(w.lower() for w in lex.stopwords)
        cats: dict[str, dict[int, float]] = {}
        for ci, code in enumerate(CATEGORY_CODES):
            for term, weight in lex.terms.get(code, {}).items():
                key = term.lower()
                if key in stop or weight == 0:
                    continue
                slot = cats.setdefault(key, {})
                slot[ci] = slot.get(ci, 0.0) + weight
        always = {t.lower(): w for t, w in lex.urgent_always.items()}
        cues = {t.lower(): w for t, w in lex.urgent_cues.items()}
        bits: dict[str, int] = {}
        self._combos: list[tuple[int, float, str]] = []
        bit = 0
        for combo in lex.combos:
            mask = 0
            for group in combo.groups:
                for word in group:
                    bits[word.lower()] = bits.get(word.lower(), 0) | (1 << bit)
                mask |= 1 << bit
                bit += 1
            self._combos.append((mask, combo.weight, combo.name))
        flags: dict[str, int] = {}
        for words, flag in (
            (lex.negators, _NEG),
            (lex.past_markers, _PAST),
            (lex.hedges, _HEDGE),
            (lex.after_markers, _AFTER),
            (_NOT_CATEGORY_WORDS, _NOT_CAT),
        ):
            for word in words:
                flags[word.lower()] = flags.get(word.lower(), 0) | flag
        for key in set(cues) | set(always):
            if cues.get(key) == 0 or always.get(key) == 0:
                flags[key] = flags.get(key, 0) | _BLOCK
        for key in stop:
            if len(key) >= 2:
                flags[key] = flags.get(key, 0) | _STOP

        entries: dict[str, _Entry] = {}
        for key in sorted(set(cats) | set(always) | set(cues) | set(bits) | set(flags)):
            suffix = key.startswith("*") and len(key) > 1
            if not (key[1:] if suffix else key).strip():
                continue
            flag = flags.get(key, 0) | (_SUFFIX if suffix else 0)
            cat_w = tuple(sorted(cats.get(key, {}).items()))
            cue_w, always_w, combo_w = cues.get(key, 0.0), always.get(key, 0.0), bits.get(key, 0)
            if suffix:
                cat_mode, cue_mode = (_END if cat_w else _NONE), _NONE
            else:
                single = len(key) == 1
                if cat_w:
                    cat_mode = _WHOLE if single else _FREE
                else:
                    cat_mode = _WHOLE if flag & (_NOT_CAT | _STOP) else _NONE
                if cue_w or always_w or combo_w:
                    cue_mode = _WHOLE if single else _FREE
                elif flag & _URGENCY_FLAGS:
                    cue_mode = _WHOLE if single else _START
                else:
                    cue_mode = _NONE
            if cat_mode or cue_mode:
                entries[key] = _Entry(
                    key, cat_w, always_w, cue_w, combo_w, flag, cat_mode, cue_mode
                )
        self._build_automaton(entries)
        self._gate = frozenset(CATEGORY_CODES.index(c) for c in lex.urgent_categories)
        self._calm = frozenset(CATEGORY_CODES.index(c) for c in CALM_CATEGORIES)
        self._threshold = lex.unsure_threshold
        self._urgent_threshold = lex.urgent_threshold
        self._window = max(1, lex.negation_window)
        self._dictionary_words = tuple(
            k for k, e in entries.items() if len(k) >= 2 and not e.flags & _SUFFIX
        )

    def _build_automaton(self, entries: dict[str, _Entry]) -> None:
        """Aho-Corasick over the entry texts; a state's outputs are (length, entry)."""
        goto: list[dict[str, int]] = [{}]
        own: list[list[tuple[int, _Entry]]] = [[]]
        for key, entry in entries.items():
            text = key[1:] if entry.flags & _SUFFIX else key
            state = 0
            for ch in text:
                nxt = goto[state].get(ch)
                if nxt is None:
                    nxt = len(goto)
                    goto.append({})
                    own.append([])
                    goto[state][ch] = nxt
                state = nxt
            own[state].append((len(text), entry))
        fail = [0] * len(goto)
        outputs: list[tuple[tuple[int, _Entry], ...]] = [()] * len(goto)
        queue = list(goto[0].values())
        for state in queue:
            outputs[state] = tuple(own[state])
        head = 0
        while head < len(queue):
            state = queue[head]
            head += 1
            for ch, nxt in goto[state].items():
                queue.append(nxt)
                f = fail[state]
                while f and ch not in goto[f]:
                    f = fail[f]
                target = goto[f].get(ch, 0)
                fail[nxt] = target if target != nxt else 0
                outputs[nxt] = tuple(own[nxt]) + outputs[fail[nxt]]
        # Resolve the failure links into one dict per state (without the root's transitions,
        # which are tried second), so the scan does at most two lookups per character.
        delta: list[dict[str, int]] = [goto[0]] + [{} for _ in range(len(goto) - 1)]
        for state in queue:
            inherited = delta[fail[state]] if fail[state] else {}
            delta[state] = {**inherited, **goto[state]} if inherited else goto[state]
        self._delta = delta
        self._outputs = outputs

    def dictionary_words(self) -> tuple[str, ...]:
        """Lexicon terms worth adding to jieba's dictionary so that they are cut whole."""
        return self._dictionary_words

    # --- classification ------------------------------------------------------------------------

    @staticmethod
    def normalise(text: str) -> str:
        """Full-width letters and digits to half-width and A-Z to a-z, one character for one."""
        return text.translate(_NORMALISE)

    def words(self, text: str) -> list[str]:
        """jieba's accurate-mode words with HMM new-word discovery (for learning new terms)."""
        return self.tokenizer.lcut(self.normalise(text))  # type: ignore[no-any-return]

    def tokens(self, text: str) -> list[str]:
        """The jieba tokens of a (normalised) text, cut as ``classify`` cuts it."""
        return self.tokenizer.lcut(self.normalise(text), HMM=False)  # type: ignore[no-any-return]

    def _scan(self, text: str) -> list[tuple[int, int, int, _Entry]]:
        """Every match as (-length, start, end, entry): sorted, longest and leftmost come first."""
        delta, outputs = self._delta, self._outputs
        root = delta[0]
        hits: list[tuple[int, int, int, _Entry]] = []
        state = 0
        for end, ch in enumerate(text, 1):
            nxt = delta[state].get(ch)
            if nxt is None:
                nxt = root.get(ch)
                if nxt is None:
                    state = 0
                    continue
            state = nxt
            outs = outputs[state]
            if outs:
                for length, entry in outs:
                    hits.append((-length, end - length, end, entry))
        return hits

    def classify(self, text: str) -> Classification:
        """Classify one message: category (or "unsure"), confidence, reasons and urgency."""
        return self._run(text, False)[0]

    def analyse(self, text: str) -> Analysis:
        """Classify one message and keep the workings (for learning and debugging)."""
        _, details = self._run(text, True)
        assert details is not None
        return details

    def classify_many(self, texts: Iterable[str]) -> list[Classification]:
        return [self.classify(text) for text in texts]

    def _run(self, text: str, detail: bool) -> tuple[Classification, Analysis | None]:
        ncat = len(CATEGORY_CODES)
        if not text or not text.strip():
            empty = Classification(UNSURE, 0.0, None, (), False, None)
            return empty, Analysis(empty, (0.0,) * ncat, (), (), 0.0, False) if detail else None
        norm = text.translate(_NORMALISE) if _NEEDS_NORMALISING.search(text) else text
        bounds = set(accumulate(map(len, self.tokenizer.lcut(norm, HMM=False))))
        bounds.add(0)
        hits = self._scan(norm)
        hits.sort()

        # Two selections over the same hits, so that a long category term ("头晕站不起来") does
        # not hide the urgency cue inside it ("站不起来") and vice versa. Longest matches win: a
        # category term inside a longer one does not count ("物业" in "物业费"), one that only
        # overlaps it does ("地下车库" and "车库收费"); cues may not overlap at all, so that
        # "差点打起来" (set to 0) blocks "打起来".
        taken_cat = taken_cue = 0
        cat_sel: list[tuple[int, _Entry, float]] = []
        cue_sel: list[tuple[int, int, _Entry]] = []
        not_cat_ends: list[int] = []
        hedged = False
        negs: list[tuple[int, int]] = []  # (start, end) of negators
        pasts: list[int] = []  # starts of past-time markers
        afters: set[int] = set()  # starts of "after" markers
        for neg_len, start, end, entry in hits:
            cat_mode, cue_mode = entry.cat_mode, entry.cue_mode
            span = ((1 << -neg_len) - 1) << start
            if cat_mode and taken_cat & span != span:
                if cat_mode == _FREE:
                    taken_cat |= span
                    if start in bounds:
                        factor = 1.0 if end in bounds else ONE_SIDE_WEIGHT
                    else:
                        factor = ONE_SIDE_WEIGHT if end in bounds else NO_SIDE_WEIGHT
                    cat_sel.append((start, entry, factor))
                elif cat_mode == _WHOLE:
                    if start in bounds and end in bounds:
                        taken_cat |= span
                        if entry.cats:
                            cat_sel.append((start, entry, 1.0))
                        elif entry.flags & _NOT_CAT:
                            not_cat_ends.append(end)
                elif end in bounds and start not in bounds:  # _END
                    taken_cat |= span
                    cat_sel.append((start, entry, 1.0))
            if (
                cue_mode
                and not taken_cue & span
                and (
                    cue_mode == _FREE or (start in bounds and (cue_mode == _START or end in bounds))
                )
            ):
                taken_cue |= span
                flags = entry.flags
                if flags & _URGENCY_FLAGS:
                    if flags & _HEDGE:
                        hedged = True
                    if flags & _NEG:
                        negs.append((start, end))
                    if flags & _PAST:
                        pasts.append(start)
                    if flags & _AFTER:
                        afters.add(start)
                if entry.cue or entry.always or entry.combo_bits:
                    cue_sel.append((start, end, entry))

        # category
        scores = [0.0] * ncat
        counted: list[tuple[str, float, tuple[tuple[int, float], ...]]] = []
        seen: set[str] = set()
        for start, entry, factor in cat_sel:
            key = entry.key
            if key in seen:
                continue
            seen.add(key)
            if not_cat_ends and any(0 <= start - e <= 2 for e in not_cat_ends):
                factor *= NOT_CATEGORY_FACTOR
            if factor == 1.0:
                for ci, weight in entry.cats:
                    scores[ci] += weight
            else:
                for ci, weight in entry.cats:
                    scores[ci] += weight * factor
            counted.append((key, factor, entry.cats))
        s1 = max(scores)
        top = scores.index(s1)
        scores[top] = -1.0
        s2 = max(scores)
        second = scores.index(s2)
        scores[top] = s1
        keywords: tuple[str, ...] = ()
        runner_up: str | None = None
        if s1 <= 0:
            category, confidence = UNSURE, 0.0
        else:
            confidence = (s1 / (s1 + s2)) * (s1 / (s1 + EVIDENCE_SCALE))
            runner_up = CATEGORY_CODES[second] if s2 > 0 else None
            ranked = sorted(
                (-weight * factor, key)
                for key, factor, cats in counted
                for ci, weight in cats
                if ci == top
            )
            keywords = tuple(dict.fromkeys(k for _, k in ranked))[:MAX_KEYWORDS]
            category = CATEGORY_CODES[top] if confidence >= self._threshold else UNSURE

        # urgency
        always_cues: list[tuple[float, str]] = []
        soft_cues: list[tuple[float, str]] = []
        combo_mask = 0
        combo_words: dict[int, str] = {}
        seen.clear()
        for start, end, entry in cue_sel:
            key = entry.key
            if key in seen:
                continue
            seen.add(key)
            if afters and (end in afters or end + 1 in afters):
                continue
            if (negs or pasts) and self._cancelled(norm, start, negs, pasts):
                continue
            if entry.combo_bits:
                new = entry.combo_bits & ~combo_mask
                combo_mask |= entry.combo_bits
                if new:
                    combo_words[new] = key
            if entry.always or entry.cue:
                if entry.always:
                    always_cues.append((entry.always, key))
                if entry.cue:
                    soft_cues.append((entry.cue, key))

        fired: list[tuple[float, str]] = []
        urgent_cue: str | None = None
        total = 0.0
        if category != UNSURE and top in self._calm and confidence >= GATE_CONFIDENCE:
            always_cues = []  # e.g. applying for relief after a fire: not an emergency now
        if always_cues:
            always_cues.sort(reverse=True)
            if always_cues[0][0] >= self._urgent_threshold:
                urgent_cue = always_cues[0][1]
                fired = [always_cues[0]]
                total = always_cues[0][0]
        # Soft cues count unless a category where danger is not expected clearly won.
        gate_open = category == UNSURE or top in self._gate or confidence < GATE_CONFIDENCE
        if (
            urgent_cue is None
            and gate_open
            and not hedged
            and (soft_cues or always_cues or combo_mask)
        ):
            fired = [c for c in always_cues if c[0] > 0] + [c for c in soft_cues if c[0] > 0]
            for mask, weight, name in self._combos:
                if combo_mask & mask == mask:
                    words = [w for b, w in combo_words.items() if b & mask]
                    fired.append((weight, f"{name}({'+'.join(words)})"))
            # negative cues (经常, 请问, 怎么申请…) mark chronic or administrative messages
            total = sum(w for w, _ in fired) + sum(w for w, _ in soft_cues if w < 0)
            fired.sort(key=lambda c: -c[0])
            if fired and total >= self._urgent_threshold:
                urgent_cue = "+".join(term for _, term in fired)
        classification = Classification(
            category=category,
            confidence=round(min(1.0, max(0.0, confidence)), 4),
            runner_up=runner_up,
            keywords=keywords,
            urgent=urgent_cue is not None,
            urgent_cue=urgent_cue,
        )
        if not detail:
            return classification, None
        found = sorted(
            [(start, entry.key) for start, entry, _ in cat_sel]
            + [(start, entry.key) for start, _, entry in cue_sel]
        )
        return classification, Analysis(
            classification=classification,
            scores=tuple(scores),
            matched=tuple(dict.fromkeys(key for _, key in found)),
            cues=tuple(term for _, term in fired),
            urgency=total,
            hedged=hedged,
        )

    def _cancelled(
        self, text: str, start: int, negs: list[tuple[int, int]], pasts: list[int]
    ) -> bool:
        """A negator shortly before ``start`` or a past marker earlier in the same clause."""
        clause = start
        while clause > 0 and text[clause - 1] not in CLAUSE_BREAKS:
            clause -= 1
        for n_start, n_end in negs:
            if clause <= n_start and n_end <= start and start - n_end <= self._window:
                return True
        return any(clause <= p < start for p in pasts)


# --- loading -----------------------------------------------------------------------------------

_lock = threading.Lock()
_shared: dict[Path | None, Classifier] = {}


def new_tokenizer(user_dict: Path | None = USER_DICT_PATH) -> jieba.Tokenizer:
    """A jieba tokenizer of its own (not the module global) with the project's user dictionary."""
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    if user_dict is not None and user_dict.exists():
        # jieba leaves a file it opens itself unclosed (a ResourceWarning): hand it ours.
        with user_dict.open("rb") as words:
            tokenizer.load_userdict(words)
    return tokenizer


def build_classifier(lexicon: Lexicon, user_dict: Path | None = USER_DICT_PATH) -> Classifier:
    """A new classifier with its own tokenizer; jieba's dictionary is loaded now (~1 s)."""
    tokenizer = new_tokenizer(user_dict)
    classifier = Classifier(lexicon, tokenizer)
    for word in classifier.dictionary_words():
        if not any(ch in CLAUSE_BREAKS for ch in word):
            tokenizer.add_word(word)
    # warm up jieba's regexes and our automaton so that the first real message is fast
    classifier.classify("海棠先锋今天走访了独居老人，楼道里有煤气味。")
    return classifier


def load_classifier(lexicon_path: Path | None = None) -> Classifier:
    """The classifier for a lexicon file (default: the packaged one), loaded once and shared."""
    key = lexicon_path.resolve() if lexicon_path is not None else None
    with _lock:
        classifier = _shared.get(key)
        if classifier is None:
            classifier = build_classifier(load_lexicon(lexicon_path))
            _shared[key] = classifier
        return classifier
