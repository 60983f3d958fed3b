"""An explainable keyword classifier for needs: category, confidence, reasons and urgency.

How a message is read:

1. Full-width letters and digits become half-width, A-Z lower case; then the ``[variants]`` of the
   lexicon put typos, homophones and Wu dialect forms in their standard form ("煤汽" → "煤气",
   "着伙" → "着火", "弗" → "不", "一家头" → "一个人").
2. jieba's accurate-mode cut (HMM off), with the project's user dictionary and the lexicon's terms,
   supplies word boundaries. ``word_bounds`` computes exactly the boundaries of
   ``tokenizer.lcut(text, HMM=False)`` without building the words (a test checks it).
3. One pass of an Aho-Corasick automaton over the characters finds every lexicon term and marker.
   Longest matches win. A term that lines up with jieba's words counts in full, one that cuts
   through a jieba word counts less, and a one-character term counts only as a whole jieba word
   ("吵" yes, the 吵 inside "吵架" no). A pattern ``*声`` matches any word ending in 声, ``#个小时``
   any number of hours, ``攒…药`` the two words a few characters apart in one clause. Category
   terms and urgency cues are selected separately, so a long category term ("头晕站不起来") does
   not hide the cue inside it ("站不起来"); a word that only serves combinations does not hide a
   weighted cue either.
4. Each term adds its weights to its categories, and each combination that fires adds its
   ``boost`` to the category it names (an older person + not seen + for days says ``elderly`` even
   when "声音" is a noise term). The best category wins unless the evidence is thin or evenly split
   (confidence below ``unsure_threshold``): then the need is "unsure" and goes to a coordinator.
5. Urgency. A cue does not count when a negator comes shortly before it in its clause ("没有煤气味"),
   when a past or hypothetical marker comes earlier in its sentence with no "now" marker in between
   ("如果煤气泄漏了，…打119还是…", but "之前没这样过，今天…"), when an "after" marker follows it
   ("中风以后", "自残倾向"), or when a "resolved" marker follows it with no "now" in between
   ("摔了一跤，去医院看过了没大碍"). Words of the context groups (who or what: older people, gas,
   water) are never cancelled; only the words for what happens are. Words of the lasting groups
   (thoughts of suicide) are cancelled by negators only: "前两天说过不想活了" is still urgent.
   Habits ("一下雨就") cancel like past markers, except ``[urgent.always]`` cues: sparks every
   time it rains are a danger now.
   ``[urgent.always]`` cues and ``explicit`` combos (gas + leaking) are urgent in any category but
   a calm one (a relief application after a fire). ``[urgent.cues]`` (positive, or negative for
   chronic and administrative wording: 经常, 老化, 请问, 怎么申请) and the combos (a vulnerable
   person × incapacity, a person × unreachable × for a while, water × flooding × now, despair ×
   means…) add up unless a category where danger is not expected clearly won or a hedge ("不急",
   "有空再来") calms the message. They add up per window of two neighbouring sentences, so that a
   long visit note does not sum weak cues from unrelated households. When the whole message is
   not urgent, or urgent in a category where danger is not expected and no combo points to that
   category, the sentences holding the cues are read on their own: a question about a permit
   followed by "隔壁门缝里在冒烟" is urgent, and about the smoke.

The work on top of the cut is one or two dictionary lookups per character plus a little
bookkeeping per match.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from math import log
from pathlib import Path
from typing import Final, NamedTuple

import jieba

from nlp.lexicon import USER_DICT_PATH, Lexicon, LexiconError, load_lexicon
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

# Characters that end a sentence: urgency is scored per pair of neighbouring sentences, and past
# or hypothetical markers reach to the end of their sentence.
SENTENCE_BREAKS: Final = "。！？!?\n；;"
_SENTENCE_BREAK: Final = re.compile("[" + re.escape(SENTENCE_BREAKS) + "]+")
# Characters that separate the items of a list (households in a visit note): a "resolved" word
# does not reach back across them ("楼道里在冒火星子；16号门锁修好了").
_ITEM_BREAK: Final = re.compile("[；;\n]")

# Full-width letters and digits (ＫＴＶ, １２０) to half-width and A-Z to a-z: one character for one,
# so offsets in the normalised text are offsets in the original. Punctuation is left alone.
_NORMALISE: Final = {code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)}
_NORMALISE.update({code: code - 0xFEE0 for code in range(0xFF41, 0xFF5B)})
_NORMALISE.update({code: code - 0xFEE0 + 32 for code in range(0xFF21, 0xFF3B)})
_NORMALISE.update({code: code + 32 for code in range(ord("A"), ord("Z") + 1)})
_NEEDS_NORMALISING: Final = re.compile("[A-Z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")

_EPSILON: Final = 1e-9  # 0.3 + 0.3 + 0.3 reaches a threshold of 0.9

# jieba's block pattern for accurate mode (jieba.re_han_default) and the characters whose
# one-character words it merges into runs (jieba.re_eng)
_JIEBA_HAN: Final = jieba.re_han_default
_ASCII_ALNUM: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

_NOT_CATEGORY_WORDS: Final = ("不是", "并非", "并不是", "不属于", "不算")

# Patterns in the lexicon: "#" stands for a number ("#个小时": 两个小时, 五个多小时, 12个小时) and
# "…" for a short gap inside one clause ("攒…药": 攒了好多药), so that one entry covers the
# everyday variants of a phrase. A gap holds no negator: "开门…走" is not "开门没走".
PATTERN_NUMBER: Final = "#"
PATTERN_GAP: Final = "…"
GAP_MAX: Final = 6
_NUMBER: Final = "(?:[0-9]+|[〇零一二两三四五六七八九十百千几半]+)多?"
_NUMBER_BEFORE: Final = re.compile(_NUMBER + "$")
_GAP_CLASS: Final = "[^" + re.escape("".join(sorted(CLAUSE_BREAKS))) + "不没别未]"


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
_HYPO: Final = 256  # a hypothetical ("如果", "万一"): cancels cues after it in its sentence
_NOW: Final = 512  # "现在", "又", "今天": ends the reach of a past or hypothetical marker
_RESOLVED: Final = 1024  # "没大碍", "修好了": cancels the cues before it
_CONTEXT: Final = 2048  # only in combo groups naming who or what ("老人", "煤气"): never cancelled
_LASTING: Final = 4096  # words of despair: past and "resolved" markers do not cancel them
_HABIT: Final = 8192  # "一下雨就": a past marker for ordinary cues only
# a "now" word at most this many characters before a "resolved" word belongs to it ("现在已经好了")
_NOW_REACH: Final = 2
_URGENCY_FLAGS: Final = _NEG | _PAST | _HEDGE | _AFTER | _BLOCK | _HYPO | _NOW | _RESOLVED | _HABIT

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
    blocks: bool  # a weighted cue or a marker: hides overlapping cues (else only serves combos)
    counts: bool  # a weighted cue or a combo word: goes on to the urgency score
    pattern: re.Pattern[str] | None = None  # for "#" and "…" entries: the whole pattern
    lead_number: bool = False  # the pattern starts with "#" (its anchor follows the number)


def is_pattern(key: str) -> bool:
    """A lexicon entry with "#" (a number) or "…" (a short gap) in it."""
    return PATTERN_NUMBER in key or PATTERN_GAP in key


def pattern_anchor(key: str) -> str:
    """The literal text a pattern is found by: its first piece between "#" and "…"."""
    return re.split("[#…]", key.lstrip(PATTERN_NUMBER), maxsplit=1)[0]


def compile_pattern(key: str) -> re.Pattern[str]:
    """The regular expression of a lexicon pattern ("#个小时", "攒…药")."""
    chunks = key.split(PATTERN_GAP)
    if not pattern_anchor(key) or any(not chunk for chunk in chunks):
        raise LexiconError(
            f"{key!r}: a pattern needs words around each '…' and a word after a leading '#'"
        )
    gap = f"({_GAP_CLASS}{{0,{GAP_MAX}}}?)"  # a group, so that the gap can be left out
    return re.compile(
        gap.join(_NUMBER.join(re.escape(piece) for piece in chunk.split("#")) for chunk in chunks)
    )


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
        # (mask of the combo's group bits, urgency weight, name, category index or -1, boost,
        # explicit)
        self._combos: list[tuple[int, float, str, int, float, bool]] = []
        # words of the context groups (who or what) that no other named group uses for an event
        context_words = {w.lower() for name in lex.context_groups for w in lex.word_groups[name]}
        context_words -= {
            w.lower()
            for name, group in lex.word_groups.items()
            if name not in lex.context_groups
            for w in group
        }
        lasting_words = {w.lower() for name in lex.lasting_groups for w in lex.word_groups[name]}
        bit = 0
        for combo in lex.combos:
            mask = 0
            for group in combo.groups:
                words = lex.expand(group)
                for word in words:
                    bits[word.lower()] = bits.get(word.lower(), 0) | (1 << bit)
                mask |= 1 << bit
                bit += 1
            category = CATEGORY_CODES.index(combo.category) if combo.category else -1
            self._combos.append(
                (mask, combo.weight, combo.name, category, combo.boost, combo.explicit)
            )
        flags: dict[str, int] = {}
        for words, flag in (
            (lex.negators, _NEG),
            (lex.past_markers, _PAST),
            (lex.habits, _HABIT),
            (lex.hedges, _HEDGE),
            (lex.after_markers, _AFTER),
            (lex.hypotheticals, _HYPO),
            (lex.now_markers, _NOW),
            (lex.resolved_markers, _RESOLVED),
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
            if key in context_words:
                flag |= _CONTEXT
            if key in lasting_words:
                flag |= _LASTING
            pattern = compile_pattern(key) if not suffix and is_pattern(key) else None
            if suffix:
                cat_mode, cue_mode = (_END if cat_w else _NONE), _NONE
            elif pattern is not None:
                cat_mode = _FREE if cat_w else _NONE
                # a pattern set to 0 ("户口…在里面") or used as a marker blocks like any other
                weighted = cue_w or always_w or combo_w or flag & _URGENCY_FLAGS
                cue_mode = _FREE if weighted else _NONE
            else:
                single = len(key) == 1
                if cat_w:
                    cat_mode = _WHOLE if single else _FREE
                else:
                    cat_mode = _WHOLE if flag & (_NOT_CAT | _STOP) else _NONE
                if cue_w or always_w or combo_w or flag & _URGENCY_FLAGS == _BLOCK:
                    # a word set to 0 ("扶手断了") reaches as far as the cues it hides
                    cue_mode = _WHOLE if single else _FREE
                elif flag & _URGENCY_FLAGS:
                    cue_mode = _WHOLE if single else _START
                else:
                    cue_mode = _NONE
            if cat_mode or cue_mode:
                entries[key] = _Entry(
                    key,
                    cat_w,
                    always_w,
                    cue_w,
                    combo_w,
                    flag,
                    cat_mode,
                    cue_mode,
                    bool(cue_w or always_w or flag & _URGENCY_FLAGS),
                    bool(cue_w or always_w or combo_w),
                    pattern,
                    pattern is not None and key.startswith(PATTERN_NUMBER),
                )
        self._build_automaton(entries)
        self._compile_variants(lex.variants)
        self._gate = frozenset(CATEGORY_CODES.index(c) for c in lex.urgent_categories)
        self._calm = frozenset(CATEGORY_CODES.index(c) for c in CALM_CATEGORIES)
        # the category each combo points to ("急救车被车堵归停车" points to parking)
        self._combo_category = {
            combo.name: CATEGORY_CODES.index(combo.category)
            for combo in lex.combos
            if combo.category
        }
        # explicit combos written for a calm category ("欠薪老板正要跑路" is legal) still count there
        self._calm_combos = {
            combo.name: CATEGORY_CODES.index(combo.category)
            for combo in lex.combos
            if combo.explicit and combo.category in CALM_CATEGORIES
        }
        self._threshold = lex.unsure_threshold
        self._urgent_threshold = lex.urgent_threshold
        self._window = max(1, lex.negation_window)
        # Words that only serve combos match anywhere: they need not be cut whole, and leaving
        # them out keeps jieba's dictionary (and its cut) lean. A cue or marker without category
        # weights is left out too when a category term stands inside it, so that the term is
        # still cut whole ("调解" in the hedge "出面调解", "扶手" in "装扶手").
        plain_terms = {
            k for k, e in entries.items() if e.cats and len(k) >= 2 and e.cat_mode == _FREE
        }
        self._dictionary_words = tuple(
            k
            for k, e in entries.items()
            if len(k) >= 2
            and not e.flags & _SUFFIX
            and e.pattern is None
            and (e.cats or e.cue or e.always or e.flags & (_URGENCY_FLAGS | _NOT_CAT | _STOP))
            and (e.cats or not _contains_any(k, plain_terms))
        )

    def _compile_variants(self, variants: dict[str, str]) -> None:
        """Typo and dialect forms as one regex alternation, longest first."""
        self._variants = dict(variants)
        self._variant_pattern = (
            re.compile("|".join(re.escape(w) for w in sorted(variants, key=len, reverse=True)))
            if variants
            else None
        )

    def _apply_variants(self, text: str) -> str:
        """The text with every typo or dialect form of ``[variants]`` in its standard form."""
        pattern = self._variant_pattern
        if pattern is None or pattern.search(text) is None:
            return text
        variants = self._variants
        return pattern.sub(lambda match: variants[match.group()], text)

    def _build_automaton(self, entries: dict[str, _Entry]) -> None:
        """Aho-Corasick over the entry texts; a state's outputs are (length, entry)."""
        goto: list[dict[str, int]] = [{}]
        own: list[list[tuple[int, _Entry]]] = [[]]
        for key, entry in entries.items():
            if entry.pattern is not None:
                text = pattern_anchor(key)
            else:
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

    def standardise(self, text: str) -> str:
        """The text as ``classify`` reads it: normalised, typos and dialect forms standardised."""
        return self._apply_variants(self.normalise(text))

    def words(self, text: str) -> list[str]:
        """jieba's accurate-mode words with HMM new-word discovery (for learning new terms)."""
        return self.tokenizer.lcut(self.standardise(text))  # type: ignore[no-any-return]

    def tokens(self, text: str) -> list[str]:
        """The jieba tokens of a (normalised) text, cut as ``classify`` cuts it."""
        return self.tokenizer.lcut(self.standardise(text), HMM=False)  # type: ignore[no-any-return]

    def word_bounds(self, text: str) -> set[int]:
        """The offsets where the words of ``tokenizer.lcut(text, HMM=False)`` start and end.

        The same cut as jieba's accurate mode with HMM off: the same blocks, the same
        maximum-probability route over the tokenizer's dictionary (``get_DAG`` and ``calc`` folded
        into one right-to-left pass with the same arithmetic and tie-breaking), a run of
        one-character letters or digits kept as one word. Classification needs only the
        boundaries, and the cut is most of its time; a test checks this against ``lcut``.
        """
        tokenizer = self.tokenizer
        if not tokenizer.initialized:
            tokenizer.initialize()
        freq_of = tokenizer.FREQ.get
        log_total = log(tokenizer.total)
        bounds = {0}
        offset = 0
        for block in _JIEBA_HAN.split(text):
            size = len(block)
            if not size:
                continue
            if _JIEBA_HAN.match(block):
                score = [0.0] * (size + 1)
                last = list(range(size))  # last character of the best word starting here
                for k in range(size - 1, -1, -1):
                    best = -log_total + score[k + 1]  # an unknown character is a word
                    found = False
                    i = k
                    frag = block[k]
                    while True:
                        freq = freq_of(frag)
                        if freq is None:
                            break
                        if freq:
                            value = log(freq) - log_total + score[i + 1]
                            if not found or value >= best:  # ties go to the longer word
                                best, found = value, True
                                last[k] = i
                        i += 1
                        if i >= size:
                            break
                        frag = block[k : i + 1]
                    score[k] = best
                x = 0
                in_run = False  # inside a run of one-character letters or digits (one word)
                while x < size:
                    y = last[x] + 1
                    if y == x + 1 and block[x] in _ASCII_ALNUM:
                        if not in_run:
                            bounds.add(offset + x)
                            in_run = True
                    else:
                        bounds.add(offset + x)
                        in_run = False
                    x = y
            else:
                i = 0
                while i < size:
                    bounds.add(offset + i)
                    i += 2 if block.startswith("\r\n", i) else 1
            offset += size
            bounds.add(offset)
        return bounds

    def _scan(self, text: str) -> list[tuple[int, int, int, _Entry, int]]:
        """Every match as (-length, start, end, entry, gaps), where ``gaps`` is the bit mask of
        the characters standing in a "…" pattern's gaps (0 for any other match); once sorted,
        longest and leftmost come first."""
        delta, outputs = self._delta, self._outputs
        root = delta[0]
        hits: list[tuple[int, int, int, _Entry, int]] = []
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
                    if entry.pattern is None:
                        hits.append((-length, end - length, end, entry, 0))
                    else:
                        found = self._pattern_span(text, end - length, entry)
                        if found is not None:
                            start, stop, gaps = found
                            hits.append((start - stop, start, stop, entry, gaps))
        return hits

    @staticmethod
    def _pattern_span(text: str, anchor: int, entry: _Entry) -> tuple[int, int, int] | None:
        """Where a pattern whose anchor was found at ``anchor`` matches, if it does: (start, end,
        the bit mask of the characters in its "…" gaps)."""
        start = anchor
        if entry.lead_number:
            number = _NUMBER_BEFORE.search(text, max(0, anchor - 8), anchor)
            if number is None:
                return None
            start = number.start()
        assert entry.pattern is not None
        match = entry.pattern.match(text, start)
        if match is None:
            return None
        gaps = 0
        for group in range(1, (match.lastindex or 0) + 1):
            g_start, g_end = match.span(group)
            gaps |= ((1 << (g_end - g_start)) - 1) << g_start
        return start, match.end(), gaps

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
        if self._variant_pattern is not None and self._variant_pattern.search(norm):
            norm = self._apply_variants(norm)
        bounds = self.word_bounds(norm)
        hits = self._scan(norm)
        hits.sort()

        # Two selections over the same hits, so that a long category term ("头晕站不起来") does
        # not hide the urgency cue inside it ("站不起来") and vice versa. Longest matches win: a
        # category term inside a longer one does not count ("物业" in "物业费"), one that only
        # overlaps it does ("地下车库" and "车库收费"); cues may not overlap at all, so that
        # "差点打起来" (set to 0) blocks "打起来".
        taken_cat = taken_cue = taken_combo = 0
        cat_sel: list[tuple[int, _Entry, float]] = []
        cue_sel: list[tuple[int, int, _Entry]] = []
        not_cat_ends: list[int] = []
        hedges: list[int] = []  # starts of hedges
        negs: list[tuple[int, int]] = []  # (start, end) of negators
        # (start, kind): _PAST for a past or hypothetical marker, _HABIT for a habit, 0 for "now"
        frames: list[tuple[int, int]] = []
        resolved: list[int] = []  # starts of "resolved" markers
        nows: list[tuple[int, int]] = []  # (start, end) of "now" markers
        afters: set[int] = set()  # starts of "after" markers
        framed = False  # a past or hypothetical marker was found
        for neg_len, start, end, entry, gaps in hits:
            cat_mode, cue_mode = entry.cat_mode, entry.cue_mode
            span = ((1 << -neg_len) - 1) << start
            if gaps and not entry.blocks:
                # what stands in the gap of "门口…没拿" ("三天") still counts; a blocking pattern
                # blocks its gap too
                span &= ~gaps
            if cat_mode and taken_cat & span != span:
                if cat_mode == _FREE:
                    taken_cat |= span
                    if entry.pattern is not None:
                        factor = 1.0  # a pattern says itself how far it reaches
                    elif start in bounds:
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
            # A word that only serves combos ("到膝盖") does not hide a weighted cue inside or
            # across it ("膝盖"), but it does hide negators and other markers ("没" in "没人接").
            if (
                cue_mode
                and (
                    not (covered := (taken_cue if entry.blocks else taken_cue | taken_combo) & span)
                    # overlapping an earlier match is fine for a match of whole jieba words
                    # ("一直没" and "没人接" in "一直/没人/接"), not for one cutting through them
                    # ("没过" in "出没/过")
                    or (covered != span and start in bounds and end in bounds)
                )
                and (
                    cue_mode == _FREE or (start in bounds and (cue_mode == _START or end in bounds))
                )
            ):
                flags = entry.flags
                if entry.blocks:
                    taken_cue |= span
                    if flags & _URGENCY_FLAGS:
                        if flags & _HEDGE:
                            hedges.append(start)
                        if flags & _NEG:
                            negs.append((start, end))
                        if flags & (_PAST | _HYPO):
                            frames.append((start, _PAST))
                            framed = True
                        elif flags & _HABIT:
                            frames.append((start, _HABIT))
                            framed = True
                        if flags & _NOW:
                            frames.append((start, 0))
                            nows.append((start, end))
                        if flags & _RESOLVED:
                            resolved.append(start)
                        if flags & _AFTER:
                            afters.add(start)
                else:
                    taken_combo |= span
                if entry.counts:
                    cue_sel.append((start, end, entry))

        # urgency cues that still count: not negated, not in a past or hypothetical frame, not
        # resolved later on, not followed by "以后"
        breaks: list[int] = []
        live: list[tuple[int, int, _Entry]] = []  # (sentence, start, entry)
        if cue_sel:
            breaks = [m.end() for m in _SENTENCE_BREAK.finditer(norm) if m.end() < len(norm)]
            items = [m.start() for m in _ITEM_BREAK.finditer(norm)] if resolved else []
            if framed:
                frames.sort()
            for start, end, entry in cue_sel:
                sentence = bisect_right(breaks, start) if breaks else 0
                if entry.flags & _CONTEXT:
                    live.append((sentence, start, entry))
                    continue
                if afters and (end in afters or end + 1 in afters):
                    continue
                lasting = entry.flags & _LASTING
                if (
                    resolved
                    and not lasting
                    and any(
                        r > start
                        and not any(start < n and n_end < r - _NOW_REACH for n, n_end in nows)
                        and not any(start < i < r for i in items)
                        for r in resolved
                    )
                ):
                    # resolved later on, in the same item of a list, with no "now" in between
                    # ("现在没事了" and "现在已经放了支架" are themselves the resolution)
                    continue
                if (negs or framed) and self._cancelled(
                    norm,
                    start,
                    negs,
                    frames if framed and not lasting else [],
                    breaks,
                    sentence,
                    steady=entry.always > 0,
                ):
                    continue
                live.append((sentence, start, entry))

        # Soft cues and combos are scored per window of two neighbouring sentences, so that a
        # long visit note does not add up weak cues from unrelated households.
        if not live:
            windows = []
        elif breaks and any(item[0] != live[0][0] for item in live):
            live.sort(key=lambda item: (item[0], item[1]))
            last_sentence = live[-1][0]
            windows = [
                [e for sent, _, e in live if first <= sent <= first + 1]
                for first in range(max(1, last_sentence))
            ]
        else:
            windows = [[e for _, _, e in live]]
        best: tuple[float, list[tuple[float, str]], list[tuple[float, str]]] = (-9.0, [], [])
        combo_boost: dict[int, float] = {}
        always_cues: list[tuple[float, str]] = []
        seen_always: set[str] = set()
        for window in windows:
            window_result = self._window_score(window, combo_boost)
            if window_result[0] > best[0]:
                best = window_result
            for cue in window_result[2]:
                if cue[1] not in seen_always:
                    seen_always.add(cue[1])
                    always_cues.append(cue)

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
        for ci, boost in combo_boost.items():
            scores[ci] += boost
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
            keywords = _keywords(counted, top)
            category = CATEGORY_CODES[top] if confidence >= self._threshold else UNSURE

        # urgency
        urgent_cue, fired, total = self._decide(
            top, category, confidence, always_cues, best, hedged=bool(hedges)
        )
        if (
            (urgent_cue is None or self._routes_elsewhere(top, fired, combo_boost))
            and category != UNSURE
            and breaks
            and live
        ):
            # A message can be about two things ("想问问居住证怎么续签。还有个事，隔壁门缝里在冒烟"):
            # when the sentences holding the cues are, on their own, about a category where
            # danger is expected, they decide the category and the urgency (also when the
            # whole message was found urgent in a category where danger is not expected).
            local = self._local_top(cat_sel, live, breaks, top)
            if local is not None:
                l_top, l_conf, sentences = local
                l_category = CATEGORY_CODES[l_top]
                # a hedge elsewhere ("早上晚上都有空") is about the other matter
                l_hedged = any(bisect_right(breaks, h) in sentences for h in hedges)
                l_result = self._decide(
                    l_top, l_category, l_conf, always_cues, best, hedged=l_hedged
                )
                if l_result[0] is not None:
                    urgent_cue, fired, total = l_result
                    runner_up, category, top, confidence = category, l_category, l_top, l_conf
                    keywords = _keywords(counted, top)
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
            hedged=bool(hedges),
        )

    def _decide(
        self,
        top: int,
        category: str,
        confidence: float,
        always_cues: list[tuple[float, str]],
        best: tuple[float, list[tuple[float, str]], list[tuple[float, str]]],
        *,
        hedged: bool,
    ) -> tuple[str | None, list[tuple[float, str]], float]:
        """Whether the cues make the message urgent in ``category``: (the cue shown, the cues
        that fired, their total)."""
        fired: list[tuple[float, str]] = []
        total = 0.0
        calm_won = category != UNSURE and top in self._calm and confidence >= GATE_CONFIDENCE
        if calm_won:
            # Explicit cues do not count where a calm category clearly won (applying for relief
            # after a fire is not an emergency now), except combos written for that category.
            # A fired combo is labelled "name(words)".
            always_cues = [
                cue for cue in always_cues if self._calm_combos.get(_combo_name(cue[1])) == top
            ]
        if always_cues:
            strongest = max(always_cues)
            if strongest[0] >= self._urgent_threshold - _EPSILON:
                return strongest[1], [strongest], strongest[0]
        # Soft cues count unless a category where danger is not expected clearly won.
        gate_open = category == UNSURE or top in self._gate or confidence < GATE_CONFIDENCE
        if gate_open and not hedged and best[1]:
            total, fired = best[0], best[1]
            if calm_won:
                # explicit cues do not count in calm categories; take them out again
                calm = {key for _, key in best[2]}
                fired = [c for c in fired if c[1] not in calm]
                total -= sum(w for w, _ in best[2])
            if fired and total >= self._urgent_threshold - _EPSILON:
                return "+".join(term for _, term in fired), fired, total
        return None, fired, total

    def _routes_elsewhere(
        self, top: int, fired: list[tuple[float, str]], combo_boost: dict[int, float]
    ) -> bool:
        """Whether an urgent message found in ``top`` may still be routed by its cue sentences:
        ``top`` is a category where danger is not expected and no fired combo points to it
        ("急救车被车堵归停车" keeps a blocked ambulance with parking)."""
        return (
            top not in self._gate
            and top not in combo_boost
            and not any(self._combo_category.get(_combo_name(term)) == top for _, term in fired)
        )

    def _local_top(
        self,
        cat_sel: list[tuple[int, _Entry, float]],
        live: list[tuple[int, int, _Entry]],
        breaks: list[int],
        top: int,
    ) -> tuple[int, float, set[int]] | None:
        """The category of the sentences holding the urgency cues, read on their own, when it
        differs from ``top``, is one where danger is expected and is clear enough: (category,
        confidence, the sentences)."""
        cue_sentences = {sent for sent, _, e in live if e.cue > 0 or e.always > 0 or e.combo_bits}
        if not cue_sentences or len(cue_sentences) > len(breaks):
            return None  # the cues are in every sentence: the message is about one thing
        scores = [0.0] * len(CATEGORY_CODES)
        seen: set[str] = set()
        for start, entry, factor in cat_sel:
            if entry.key in seen or bisect_right(breaks, start) not in cue_sentences:
                continue
            seen.add(entry.key)
            for ci, weight in entry.cats:
                scores[ci] += weight * factor
        s1 = max(scores)
        local = scores.index(s1)
        if s1 <= 0 or local == top or local not in self._gate or local in self._calm:
            return None
        scores[local] = -1.0
        s2 = max(0.0, max(scores))
        confidence = (s1 / (s1 + s2)) * (s1 / (s1 + EVIDENCE_SCALE))
        return (local, confidence, cue_sentences) if confidence >= self._threshold else None

    def _window_score(
        self, window: list[_Entry], combo_boost: dict[int, float]
    ) -> tuple[float, list[tuple[float, str]], list[tuple[float, str]]]:
        """The urgency score of one window: (total, positive cues and combos that fired, the
        explicit cues among them). Fired combos add their category boost to ``combo_boost``."""
        fired: list[tuple[float, str]] = []
        explicit: list[tuple[float, str]] = []
        negative = 0.0
        combo_mask = 0
        combo_words: dict[int, str] = {}
        seen: set[str] = set()
        for entry in window:
            key = entry.key
            if key in seen:
                continue
            seen.add(key)
            if entry.combo_bits:
                new = entry.combo_bits & ~combo_mask
                combo_mask |= entry.combo_bits
                if new:
                    combo_words[new] = key
            if entry.always > 0:
                fired.append((entry.always, key))
                explicit.append((entry.always, key))
            if entry.cue > 0:
                fired.append((entry.cue, key))
            elif entry.cue < 0:
                negative += entry.cue  # chronic or administrative wording (经常, 请问, 怎么申请)
        if combo_mask:
            for mask, weight, name, category, boost, is_explicit in self._combos:
                if combo_mask & mask == mask:
                    words = [w for b, w in combo_words.items() if b & mask]
                    if weight:
                        fired.append((weight, _combo_label(name, words)))
                        if is_explicit:
                            explicit.append(fired[-1])
                    if category >= 0 and boost > combo_boost.get(category, 0.0):
                        combo_boost[category] = boost
        fired.sort(key=lambda c: -c[0])
        return sum(w for w, _ in fired) + negative, fired, explicit

    def _cancelled(
        self,
        text: str,
        start: int,
        negs: list[tuple[int, int]],
        frames: list[tuple[int, int]],
        breaks: list[int],
        sentence: int,
        *,
        steady: bool = False,
    ) -> bool:
        """A negator shortly before ``start`` in its clause, or a past or hypothetical marker
        (or, unless the cue is ``steady``, a habit) earlier in its sentence with no "now" marker
        in between."""
        if negs:
            clause = start
            while clause > 0 and text[clause - 1] not in CLAUSE_BREAKS:
                clause -= 1
            for n_start, n_end in negs:
                if clause <= n_start and n_end <= start and start - n_end <= self._window:
                    return True
        if frames:
            sentence_start = breaks[sentence - 1] if sentence else 0
            framed = False
            for position, kind in frames:
                if position >= start:
                    break
                if position >= sentence_start and not (kind == _HABIT and steady):
                    framed = kind != 0
            return framed
        return False


def _combo_label(name: str, words: list[str]) -> str:
    """How a fired combo is shown as a reason: "name(word+word)"."""
    return f"{name}({'+'.join(words)})"


def _combo_name(label: str) -> str:
    """The combo's name in a reason made by ``_combo_label`` (or the cue itself)."""
    return label.split("(", 1)[0]


def _keywords(
    counted: list[tuple[str, float, tuple[tuple[int, float], ...]]], top: int
) -> tuple[str, ...]:
    """The terms that spoke for category ``top``, strongest first (the reasons shown)."""
    ranked = sorted(
        (-weight * factor, key) for key, factor, cats in counted for ci, weight in cats if ci == top
    )
    return tuple(dict.fromkeys(key for _, key in ranked))[:MAX_KEYWORDS]


# --- loading -----------------------------------------------------------------------------------


def _contains_any(word: str, terms: set[str]) -> bool:
    """Whether a shorter word of ``terms`` stands inside ``word``."""
    n = len(word)
    return any(word[i:j] in terms for i in range(n) for j in range(i + 2, n + 1) if j - i < n)


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
    """A classifier for a lexicon file (default: the packaged one).

    Call it once, in the composition root (the runner, the sandbox, a command), and share the
    result: handlers receive it by name as ``classifier``. There is no process-wide cache.
    """
    return build_classifier(load_lexicon(lexicon_path))
