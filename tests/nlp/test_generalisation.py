"""The mechanisms that carry the classifier beyond its tuning sets: dialect and typo variants,
urgency as combinations of word groups, negation, hypotheticals, past and resolved events, sentence
windows, and the word boundaries computed without building jieba's words.

The sentences are new (none is copied from dev.jsonl, nlp_extra.jsonl or the nlp_fresh_* batches).
"""

from __future__ import annotations

import json
from itertools import accumulate
from pathlib import Path

import pytest

from nlp.classifier import Classifier
from nlp.lexicon import Combo, Lexicon, LexiconError, dump_lexicon, load_lexicon, parse_lexicon
from nlp.taxonomy import CATEGORY_CODES

DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
DEV = Path(__file__).resolve().parents[2] / "nlp" / "data" / "dev.jsonl"


# --- variants: typos, homophones, Wu dialect ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "standard"),
    [
        ("楼道里有股煤汽味", "楼道里有股煤气味"),
        ("好像着伙了", "好像着火了"),
        ("我爬弗起来了", "我爬不起来了"),
        ("一家头住在屋里厢", "一个人住在家里面"),
        ("燃气泄露了", "燃气泄漏了"),
        ("电梯G了", "电梯坏了"),
    ],
)
def test_variants_are_read_in_standard_form(
    classifier: Classifier, text: str, standard: str
) -> None:
    assert classifier.standardise(text) == standard


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("楼道里有股煤汽味，不晓得哪家的", "safety"),
        ("对面窗口冒黑烟，好像着伙了", "safety"),
        ("阿拉老头子脑埂了，嘴巴歪了讲不清爽", "health"),
        ("我跌了一跤爬弗起来了，屋里厢没人", "elderly"),
    ],
)
def test_typos_and_dialect_still_raise_urgency(
    classifier: Classifier, text: str, category: str
) -> None:
    result = classifier.classify(text)
    assert (result.category, result.urgent) == (category, True), result


def test_dialect_forms_reach_category_terms(classifier: Classifier) -> None:
    assert classifier.classify("楼上困弗着觉，打麻将打到半夜两点").category == "noise"
    assert classifier.classify("想寻点事体做做，保洁钟点工都好").category == "employment"


# --- urgency as combinations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category", "combo"),
    [
        ("我妈一个人住，从昨晚到现在打了好几个电话她都不接", "elderly", "老人联系不上"),
        ("隔壁阿婆好几天没看见了，敲门也没声音", "elderly", "老人多日未露面"),
        ("老伴瘫在床上，保姆今天没来，一天没吃没喝", "elderly", "老人无人照料"),
        ("下大雨，一楼家里进水了，已经没过脚背，还在涨", "facilities", ""),
        ("楼上把承重墙砸了，我家天花板裂了缝还在掉灰", "facilities", "房屋结构险情"),
        ("他说活着也是拖累家里，安眠药都准备好了", "mental", "轻生念头"),
        ("儿子发消息说对不起爸妈，然后就关机了", "mental", "告别后失联"),
        ("一条大狗见人就咬，刚咬了小孩的腿，还在楼下转", "", "动物伤人"),
    ],
)
def test_combinations_make_a_message_urgent(
    classifier: Classifier, text: str, category: str, combo: str
) -> None:
    result = classifier.classify(text)
    assert result.urgent, result
    if category:
        assert result.category == category, result
    if combo:
        assert result.urgent_cue is not None and combo in result.urgent_cue


def test_a_combo_points_to_its_category(classifier: Classifier) -> None:
    # "声音" is a noise term; the combo (an older person, not seen, for days) says elderly
    result = classifier.classify("隔壁好婆好几天没看见了，敲门也没声音")
    assert (result.category, result.urgent) == ("elderly", True)


def test_explicit_combos_ignore_hedges(classifier: Classifier) -> None:
    # gas + leaking is as explicit as "煤气味": "不急" does not calm it
    result = classifier.classify("不急，楼下店门口的液化气罐好像在漏，有嘶嘶声")
    assert (result.category, result.urgent) == ("safety", True)
    assert result.urgent_cue is not None and "燃气泄漏" in result.urgent_cue


def test_person_words_are_not_cancelled_by_a_past_marker(classifier: Classifier) -> None:
    # "之前" frames "我妈" too, but who it is does not change; "今天" ends the past frame
    result = classifier.classify("之前没出过这种事，我妈今天早上出门到现在还没回家，电话也打不通")
    assert (result.category, result.urgent) == ("elderly", True)


def test_a_now_marker_ends_the_past_frame(classifier: Classifier) -> None:
    assert classifier.classify("上次着火以后一直没修，今天插座又冒烟了").urgent
    assert not classifier.classify("上次插座冒烟以后换了新的，想问问电费怎么交").urgent


# --- negation, hypotheticals, past and resolved events -------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "如果家里煤气泄漏了，是打119还是打燃气公司电话？",
        "万一半夜着火了，楼道里这些纸箱怎么办",
        "我不是想自杀，就是最近压力大睡不好，想找人聊聊",
        "最近总是想哭，但我不会做傻事的，就是想找人说说话",
        "隔壁阿婆前天摔了一跤，去医院看过了没大碍，想请人帮她送几天饭",
        "电梯前几天困过人，修好了，想请人再检查一下",
        "卫生间太滑，我妈上个月差点滑倒，想装个扶手",
        "想问问120急救电话打通以后要说什么",
        "社区能不能办个讲座，教家长识别孩子的自残倾向",
        "老人摔倒了起不来怎么办，社区能不能教我们怎么扶",
        "我爸中风出院半年了，左手还是没力气，想做康复",
        "楼道的电线老化了，外皮都开裂了，有空叫人来看看",
    ],
)
def test_negated_hypothetical_past_or_resolved_is_not_urgent(
    classifier: Classifier, text: str
) -> None:
    result = classifier.classify(text)
    assert not result.urgent, result


def test_resolution_reaches_back_only_to_the_last_now(classifier: Classifier) -> None:
    # the child is out ("幸好"), but the open manhole is still there
    text = "路口的井盖翻开了，刚才一个小孩掉下去一条腿，幸好被拉上来了，请赶快来处理"
    assert classifier.classify(text).urgent


def test_self_harm_is_urgent_even_as_a_question(classifier: Classifier) -> None:
    result = classifier.classify("想问一下吃多少安眠药会死，我已经准备好了")
    assert (result.category, result.urgent) == ("mental", True)


def test_float_sums_reach_the_threshold(classifier: Classifier) -> None:
    small = classifier.with_lexicon(
        Lexicon(
            urgent_threshold=0.9,
            urgent_categories=("safety",),
            urgent_cues={"冒水": 0.3, "塌方": 0.3, "漏电": 0.3},
            terms={"safety": {"危房": 3.0}},
        )
    )
    assert small.classify("危房冒水塌方漏电").urgent  # 0.3 + 0.3 + 0.3 is 0.8999…


# --- sentence windows --------------------------------------------------------------------------


def _windowed(classifier: Classifier) -> Classifier:
    return classifier.with_lexicon(
        Lexicon(
            urgent_threshold=0.9,
            urgent_categories=("facilities",),
            urgent_cues={"冒水": 0.5, "塌方": 0.5},
            terms={"facilities": {"路面": 3.0}},
        )
    )


def test_weak_cues_in_distant_sentences_do_not_add_up(classifier: Classifier) -> None:
    small = _windowed(classifier)
    assert small.classify("路面冒水，塌方").urgent
    assert small.classify("路面冒水。那边塌方").urgent  # neighbouring sentences
    assert not small.classify("一号路面冒水。二号还好。三号一般。四号塌方").urgent


# --- the lexicon format ----------------------------------------------------------------------------

GROUPED = """\
[words]
past = ["之前"]
hypothetical = ["如果"]
now = ["今天"]

[variants]
"煤汽" = "煤气"

[groups]
who = ["老人", "阿婆"]
gone = ["不见了", "没回来"]

[urgent]
categories = ["elderly"]
context_groups = ["who"]

[[urgent.combo]]
name = "走失"
weight = 1.0
category = "elderly"
boost = 2.5
explicit = true
groups = [["@who", "老伯"], ["@gone"]]

[categories.elderly.terms]
"助餐" = 3
"""


def test_groups_variants_and_combo_fields_parse() -> None:
    lexicon = parse_lexicon(GROUPED)
    assert lexicon.variants == {"煤汽": "煤气"}
    assert lexicon.word_groups["who"] == ("老人", "阿婆")
    assert lexicon.context_groups == ("who",)
    combo = lexicon.combos[0]
    assert (combo.category, combo.boost, combo.explicit) == ("elderly", 2.5, True)
    assert lexicon.expand(combo.groups[0]) == ("老人", "阿婆", "老伯")
    assert parse_lexicon(dump_lexicon(lexicon)) == lexicon


def test_combo_category_boost_and_context(classifier: Classifier) -> None:
    small = classifier.with_lexicon(parse_lexicon(GROUPED))
    result = small.classify("之前那个阿婆今天不见了")
    assert (result.category, result.urgent) == ("elderly", True)
    assert small.classify("如果阿婆不见了怎么办").urgent is False
    assert small.classify("之前阿婆不见了").urgent is False  # no "now": the event is past


@pytest.mark.parametrize(
    "bad",
    [
        '[[urgent.combo]]\nname = "x"\ngroups = [["@nowhere"], ["a"]]\n',
        '[groups]\na = ["b"]\n[[urgent.combo]]\nname = "x"\ncategory = "weather"\ngroups = [["@a"]]\n',
        '[urgent]\ncontext_groups = ["nowhere"]\n',
        '[variants]\n"煤汽" = 3\n',
    ],
)
def test_bad_groups_and_variants_are_rejected(bad: str) -> None:
    with pytest.raises(LexiconError):
        parse_lexicon(bad)


def test_packaged_lexicon_uses_groups_and_variants() -> None:
    lexicon = load_lexicon()
    assert "煤汽" in lexicon.variants and "弗" in lexicon.variants
    assert {"older", "unreachable", "duration", "gas", "leak"} <= set(lexicon.word_groups)
    assert set(lexicon.context_groups) <= set(lexicon.word_groups)
    assert any(combo.explicit for combo in lexicon.combos)
    for combo in lexicon.combos:
        assert combo.category is None or combo.category in CATEGORY_CODES
        assert all(lexicon.expand(group) for group in combo.groups), combo.name


def test_old_style_combos_still_work() -> None:
    combo = Combo("老人多日未露面", 1.0, (("老人",), ("没见",), ("三天",)))
    assert combo.category is None and combo.boost == 0.0 and not combo.explicit


# --- word boundaries -------------------------------------------------------------------------------


def _texts() -> list[str]:
    texts = [json.loads(line)["text"] for line in DEV.read_text(encoding="utf-8").splitlines()]
    for path in sorted(DATA.glob("nlp_fresh_*.jsonl")):
        texts += [
            json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()
        ]
    return [
        *texts,
        "KTV太吵了 noise every night!!!",
        "a b\r\nc\r\r\n  x",
        "3幢402室 A座 b-2号 50% #1 & c.d",
        "\t\n\r\n，。hello世界 42 x",
        "😀😀🎉🙏",
        "电梯" * 30,
    ]


def test_word_bounds_match_jieba_lcut(classifier: Classifier) -> None:
    for text in _texts():
        norm = classifier.standardise(text)
        expected = set(accumulate(map(len, classifier.tokens(text)))) | {0}
        assert classifier.word_bounds(norm) == expected, text


# --- the fresh batches ---------------------------------------------------------------------------

TUNED_BATCHES = (
    "visits",
    "elders",
    "wechat",
    "family",
    "hardneg",
    "final",
    "residents",
    "volunteers",
    "urgency",
    "mixed",
    "urgency2",
    # held out in the second session, scored there as totals only; tuned on since
    "holdout",
    "holdout2",
    "holdout3",
    # the third session's batches: summer and storms, older people's speech-to-text with Suzhou
    # words, grid workers' report register, and the hard edges of urgency
    "summer",
    "voice",
    "gridlogs",
    "edges",
    # held out in the third session and scored there as totals only; tuned on since
    "holdout4",
    "holdout5",
    "holdout6",
    # a week of one street office's messages; volunteers' notes after their rounds
    "street",
    "pioneers",
    # held out in the fourth session (winter; messages of every length), scored there as totals
    # only; tuned on since
    "holdout7",
    "holdout8",
    # the fifth session's batches: messages sent at night, younger senders and the working city,
    # the old town's lanes and courtyard houses
    "night",
    "renters",
    "oldtown",
    # short messages typed in a hurry
    "short",
    # asking how to get things done, and the pressing needs such questions can hide
    "services",
    # family and landlords who live elsewhere, worried about someone who lives here
    "afar",
    # urgency look-alikes (40% urgent); bodies and care described in lay words
    "lookalikes",
    "care",
    # long messages: voice transcripts, forwarded notes, visit records of several households
    "longnotes",
    # held out in the fifth session (an ordinary week, Spring Festival, new estates), scored
    # there as totals only; tuned on since
    "holdout9",
    "holdout10",
    "holdout11",
    # held out in the fifth session to the end (late spring; autumn in three communities),
    # scored there as totals only; tuned on since
    "holdout12",
    "holdout13",
    # the sixth session's batches: plum rain and a typhoon; residents with disabilities and their
    # carers; things that cannot wait (45% urgent), told indirectly
    "storms",
    "carers",
    "cantwait",
    # emergencies mentioned in passing; young families; neighbours noticing something wrong;
    # money, work and housing (scams, wages, evictions, cut-offs)
    "inpassing",
    "youngfamilies",
    "nextdoor",
    "money",
    # held out in the sixth session (early winter in 沧浪, a 金阊 volunteers' channel, a month
    # around 虎丘 and 留园), scored there as totals only; tuned on since
    "holdout14",
    "holdout15",
    "holdout16",
    # the seventh session's batches: building works and tradespeople; people living alone;
    # school children and teenagers; oblique and understated messages (35% urgent)
    "building",
    "alone",
    "school",
    "oblique",
    # homes and stairwells: kitchens, gas, heaters, wiring, water, doors, pets
    "homes",
    # bodies and minds in lay words; streets, canals, markets and courtyards out of doors
    "symptoms",
    "outdoors",
    # volunteers' visit notes and grid workers' daily logs in note-taking style
    "visitnotes",
)
# scored as totals only, never looked at line by line, never tuned on
HELD_OUT_BATCHES = ("holdout17", "holdout18", "holdout19")


def test_fresh_batches_are_new_text() -> None:
    from nlp.evaluate import read_examples
    from tests.nlp.conftest import EXTRA_SET

    seen = {e.text for e in read_examples(DEV)} | {e.text for e in read_examples(EXTRA_SET)}
    for name in (*TUNED_BATCHES, *HELD_OUT_BATCHES):
        batch = read_examples(DATA / f"nlp_fresh_{name}.jsonl")
        texts = {e.text for e in batch}
        assert len(texts) == len(batch), name
        assert not seen & texts, name
        seen |= texts


def test_quality_floors_on_the_tuned_fresh_batches(classifier: Classifier) -> None:
    """A guard for the batches the lexicon was tuned on after their first (honest) scoring.

    The held-out batches have no floor on purpose: they were scored once, with the finished
    lexicon, as the estimate of the classifier on new text, and must not become tuning targets.
    """
    from nlp.evaluate import evaluate, read_examples

    examples = [
        e for name in TUNED_BATCHES for e in read_examples(DATA / f"nlp_fresh_{name}.jsonl")
    ]
    report = evaluate(classifier, examples)
    assert report.macro_f1 >= 0.93
    assert report.urgent_recall >= 0.97
    assert report.urgent_precision >= 0.9
    assert report.unsure_share <= 0.05
