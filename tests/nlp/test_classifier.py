"""The classifier's decisions on new sentences (none are copied from dev.jsonl)."""

from __future__ import annotations

import time
from dataclasses import FrozenInstanceError

import pytest

from nlp.classifier import Classification, Classifier, compile_pattern, is_pattern
from nlp.lexicon import Combo, Lexicon, LexiconError
from nlp.taxonomy import CATEGORY_CODES, UNSURE

EXAMPLES: list[tuple[str, str]] = [
    ("property", "物业费收了不少，可是保安晚上从来不巡逻，物业也不管"),
    ("property", "业委会开会选新物业公司，我们业主想知道投票怎么投"),
    ("property", "管理处的人态度很差，找他们登记个门禁卡还要等三天"),
    ("facilities", "单元楼的声控灯坏了半个月，晚上下楼全靠手机照明"),
    ("facilities", "小区门口的路面坑坑洼洼，下雨全是积水，推车都过不去"),
    ("facilities", "老楼六层没有电梯，大家想申请加装电梯"),
    ("sanitation", "垃圾桶两天没人清运，苍蝇乱飞，臭得不行"),
    ("sanitation", "河里漂着一层油污，还有死鱼，味道很难闻"),
    ("sanitation", "绿化带里的杂草快有半人高了，也没人修剪"),
    ("safety", "楼道里停满了电瓶车，还拉着插线板在充电"),
    ("safety", "有人冒充银行客服打电话骗老人转账，大家要注意防诈骗"),
    ("safety", "小区车棚里又丢了两辆自行车，监控也拍不到小偷"),
    ("elderly", "独居的王阿婆腿脚不便，想申请社区的老年助餐送餐上门"),
    ("elderly", "想给家里老人做适老化改造，卫生间装扶手"),
    ("elderly", "日间照料中心还有床位吗，我妈白天一个人在家没人照看"),
    ("health", "家庭医生签约以后，能不能每个月上门给我爸量血压"),
    ("health", "社区卫生服务中心哪天可以打流感疫苗"),
    ("health", "膝盖做完手术，附近有没有康复理疗的地方"),
    ("hardship", "家里收入很低，孩子生病花光了积蓄，想申请低保"),
    ("hardship", "残疾人两项补贴怎么申请，需要什么材料"),
    ("hardship", "孩子考上大学交不起学费，有没有助学金"),
    ("dispute", "楼上卫生间漏水漏到我家天花板，跟他们协商不成，想请社区调解"),
    ("dispute", "对门把杂物堆在公共走廊，说了几次还跟我吵架"),
    ("dispute", "婆媳矛盾越来越大，天天吵，想请老娘舅来说和"),
    ("noise", "楼上半夜还在拖椅子，咚咚咚的吵得睡不着"),
    ("noise", "广场舞的音响太响了，晚上九点多还在放"),
    ("noise", "工地夜间施工打桩，噪音扰民"),
    ("parking", "小区车位太少，晚上回来根本停不进去"),
    ("parking", "门口乱停车把路堵死了，公交车都开不过去"),
    ("parking", "共享单车把人行横道都堵住了，能不能划个停放点"),
    ("order", "一楼住户在院子里违章搭建了一间彩钢板房"),
    ("order", "路边流动摊贩占道经营，人行道都走不了"),
    ("order", "楼道墙上贴满了小广告，刚清理完又贴上了"),
    ("legal", "老板拖欠了我半年工资，想申请劳动仲裁"),
    ("legal", "父亲去世没有留遗嘱，房产继承怎么分"),
    ("legal", "想离婚，孩子的抚养权和抚养费怎么判，社区有律师吗"),
    ("employment", "失业半年了，社区有没有招聘会或者技能培训"),
    ("employment", "想开个小店创业，听说有创业补贴和创业贷款"),
    ("employment", "大学毕业还没找到工作，想找个就业见习岗位"),
    ("activity", "社区书法班还能报名吗，我想学写毛笔字"),
    ("activity", "暑假有没有给小学生的夏令营或者亲子活动"),
    ("activity", "想报名当志愿者，周末参加社区的志愿服务"),
    ("mental", "最近情绪很低落，晚上失眠，想找心理咨询师聊聊"),
    ("mental", "老伴走了以后我一个人在家，特别孤独，没人说话"),
    ("mental", "孩子厌学，整天不说话，想找青少年心理辅导"),
    ("affairs", "居住证到期了，续签要带什么材料"),
    ("affairs", "孩子出生了，怎么办出生登记和上户口"),
    ("affairs", "医保异地备案在手机上怎么办理"),
    ("other", "谢谢网格员上次帮忙，服务很好，给你们点赞"),
    ("other", "你好，请问这个机器人能做什么"),
    ("other", "建议社区公众号的通知字体放大一点"),
]


def test_every_category_has_examples() -> None:
    assert {code for code, _ in EXAMPLES} == set(CATEGORY_CODES)


def _shown_in(keyword: str, text: str) -> bool:
    """A reason shown to coordinators is in the text: "*声" ends a word, "…" is a gap, "#" a number."""
    word = keyword.lstrip("*")
    if is_pattern(word):
        return compile_pattern(word).search(text.lower()) is not None
    return word in text.lower()


@pytest.mark.parametrize(("expected", "text"), EXAMPLES)
def test_examples_per_category(classifier: Classifier, expected: str, text: str) -> None:
    result = classifier.classify(text)
    assert result.category == expected, result
    assert result.keywords, "the reason shown to coordinators must not be empty"
    assert all(_shown_in(keyword, text) for keyword in result.keywords), result.keywords
    assert 0.0 <= result.confidence <= 1.0


@pytest.mark.parametrize(
    ("text", "cue_part"),
    [
        ("救命！楼道里有很浓的煤气味", "煤气味"),
        ("3楼那家着火了，烟很大", "着火"),
        ("电梯被困，我和孩子关在里面出不来", "被困"),
        ("他说不想活了，刚才还在天台边上", "不想活"),
        ("观前街上有个小女孩一个人站着哭，说找不到爸爸了", "孩子遇险"),
    ],
)
def test_explicit_urgency(classifier: Classifier, text: str, cue_part: str) -> None:
    result = classifier.classify(text)
    assert result.urgent
    assert result.urgent_cue is not None and cue_part in result.urgent_cue


@pytest.mark.parametrize(
    "text",
    [
        "对门的李奶奶一个人住，已经三天没见她出门了，门口的报纸也没拿",
        "去敲了沈老伯家的门，敲了半天也没人应，他平时都在家",
        "独居的周阿婆电话从昨天打到现在都没人接",
        "暴雨下个不停，一楼家里已经进水了，水还在往上涨",
        "我爸有老年痴呆，早上出门到现在还没回来",
    ],
)
def test_implicit_urgency(classifier: Classifier, text: str) -> None:
    result = classifier.classify(text)
    assert result.urgent, result
    assert result.urgent_cue


def test_gas_is_safety_and_urgent(classifier: Classifier) -> None:
    result = classifier.classify("厨房里一股煤气味，好像是燃气管漏气了")
    assert (result.category, result.urgent) == ("safety", True)


def test_fire_lane_blocked_by_car_is_safety(classifier: Classifier) -> None:
    result = classifier.classify("有辆私家车天天停在消防通道上，消防车根本进不来")
    assert result.category == "safety"


def test_injured_elderly_person_is_health(classifier: Classifier) -> None:
    result = classifier.classify("楼下老伯摔了一跤，头上磕破了在流血")
    assert (result.category, result.urgent) == ("health", True)


def test_elderly_money_hardship_is_hardship(classifier: Classifier) -> None:
    result = classifier.classify("老人退休金很少，生活困难，想申请低保")
    assert result.category == "hardship"


def test_loneliness_is_mental(classifier: Classifier) -> None:
    result = classifier.classify("独居的老人说每天都很孤单，心里空落落的")
    assert result.category == "mental"


def test_noise_core_is_noise(classifier: Classifier) -> None:
    result = classifier.classify("邻居家装修电钻声太吵了，跟他们说了也不听")
    assert result.category == "noise"


@pytest.mark.parametrize(
    ("urgent_text", "calm_text"),
    [
        ("楼道里有煤气味", "楼道里没有煤气味了，刚才检查过"),
        ("家里着火了", "万一着火了，楼道里的杂物会堵住路"),
        ("我爸中风了，嘴歪了说不出话", "我爸中风以后一直在做康复"),
        ("家里着火了，东西还在烧", "前阵子家里着了火，能申请临时救助吗"),
        ("房东带了人正在换我房门的锁，把我的东西往外扔", "房东说合同到期要换锁，这合法吗"),
    ],
)
def test_negation_hypothetical_and_past_cancel_urgency(
    classifier: Classifier, urgent_text: str, calm_text: str
) -> None:
    assert classifier.classify(urgent_text).urgent
    assert not classifier.classify(calm_text).urgent


@pytest.mark.parametrize(
    "text",
    [
        "单元门的闭门器坏了，不急，有空再来修一下",
        "楼道灯坏了，不着急，哪天方便来看看",
    ],
)
def test_hedges_keep_soft_cues_from_firing(classifier: Classifier, text: str) -> None:
    assert not classifier.classify(text).urgent


@pytest.mark.parametrize(
    "text",
    [
        "急急急！社区的包饺子活动还能报名吗",
        "救命，社保缴费的网页一直打不开，今天是最后一天了",
        "急死了，专家号怎么都挂不上",
    ],
)
def test_exclamations_in_calm_requests_are_not_urgent(classifier: Classifier, text: str) -> None:
    assert not classifier.classify(text).urgent


def test_not_category_words_reduce_weight(classifier: Classifier) -> None:
    plain = classifier.analyse("是物业的问题").scores
    negated = classifier.analyse("不是物业的问题").scores
    assert negated[0] < plain[0]


def test_result_fields_and_runner_up(classifier: Classifier) -> None:
    result = classifier.classify("楼上漏水到我家，还在楼道里乱堆杂物，说了也不听")
    assert isinstance(result, Classification)
    assert result.category in CATEGORY_CODES
    assert result.runner_up in CATEGORY_CODES
    assert result.runner_up != result.category
    with pytest.raises(FrozenInstanceError):
        result.category = "other"  # type: ignore[misc]


def test_no_evidence_is_unsure(classifier: Classifier) -> None:
    result = classifier.classify("嗯嗯，那个那个……")
    assert result.category == UNSURE
    assert result.confidence < classifier.lexicon.unsure_threshold
    assert result.keywords == ()


def test_evenly_split_evidence_is_unsure(classifier: Classifier) -> None:
    lexicon = Lexicon(
        unsure_threshold=0.3,
        terms={"facilities": {"电梯": 1.0, "路灯": 2.0}, "activity": {"合唱": 1.0}},
    )
    small = classifier.with_lexicon(lexicon)
    split = small.classify("电梯和合唱")
    assert split.category == UNSURE
    assert split.confidence == pytest.approx(0.25)
    assert split.runner_up is not None
    clear = small.classify("路灯和合唱")
    assert clear.category == "facilities"
    assert clear.runner_up == "activity"
    assert clear.confidence == pytest.approx((2 / 3) * (2 / 3), abs=1e-4)


def test_patterns_cover_numbers_and_short_gaps(classifier: Classifier) -> None:
    lexicon = Lexicon(
        urgent_threshold=1.0,
        urgent_categories=("elderly",),
        urgent_cues={"#个小时": 1.0, "攒…药": 1.0},
        terms={"elderly": {"老人": 1.0}},
    )
    small = classifier.with_lexicon(lexicon)
    for text in ("老人出门两个小时", "老人出门12个小时", "老人出门十几个小时", "老人攒了好多药"):
        assert small.classify(text).urgent, text
    # no number before the hours, a gap across a clause, a negator in the gap
    for text in ("老人出门个把小时", "老人攒钱，买药", "老人攒不到药"):
        assert not small.classify(text).urgent, text
    with pytest.raises(LexiconError):
        classifier.with_lexicon(Lexicon(urgent_cues={"…药": 1.0}))


def test_a_pattern_set_to_zero_blocks_the_cues_inside_it(classifier: Classifier) -> None:
    lexicon = Lexicon(
        urgent_threshold=0.5,
        urgent_categories=("legal",),
        urgent_cues={"还在里面": 0.6, "户口…在里面": 0.0},
        terms={"legal": {"房东": 1.0}},
    )
    small = classifier.with_lexicon(lexicon)
    assert small.classify("房东还在里面，门打不开").urgent
    # the registration is still "in" the flat: nobody is trapped
    assert not small.classify("房东户口还在里面不肯迁").urgent


def test_a_word_set_to_zero_blocks_even_when_it_starts_inside_a_word(
    classifier: Classifier,
) -> None:
    # jieba cuts "楼梯扶手/断/了": "扶手断了" starts inside a word, as the cue "手断了" does
    lexicon = Lexicon(
        urgent_threshold=0.5,
        urgent_categories=("facilities",),
        urgent_cues={"手断了": 0.8, "扶手断了": 0.0},
        terms={"facilities": {"楼梯": 1.0}},
    )
    small = classifier.with_lexicon(lexicon)
    assert not small.classify("楼梯扶手断了一截，老人只能扶墙").urgent
    assert small.classify("楼梯上摔了，手断了").urgent


def test_words_in_the_gap_of_a_pattern_still_count(classifier: Classifier) -> None:
    lexicon = Lexicon(
        urgent_threshold=1.0,
        urgent_categories=("elderly",),
        word_groups={"not_seen": ("门口…没拿",), "duration": ("#天",)},
        combos=(
            Combo(name="not seen for days", weight=1.0, groups=(("@not_seen",), ("@duration",))),
        ),
        terms={"elderly": {"老太": 1.0}},
    )
    small = classifier.with_lexicon(lexicon)
    # "三天" stands in the gap of "门口…没拿" and still counts as a duration
    assert small.classify("老太家门口的牛奶三天没拿了").urgent
    assert not small.classify("老太家门口的牛奶没拿").urgent


def test_a_resolution_stays_within_its_item_of_a_list(classifier: Classifier) -> None:
    # one household's sparks are not resolved by another household's repaired lock
    note = "走访：4楼一切正常；12幢楼道里有人拉线充电，刚路过看到在冒火星子；16号门锁修好了。"
    assert classifier.classify(note).urgent
    assert not classifier.classify("12幢楼道里刚才冒火星子，电工来过已经修好了。").urgent


def test_thoughts_of_suicide_stay_urgent_when_told_as_past(classifier: Classifier) -> None:
    told = classifier.classify("他妈妈说他前两天讲过活着没意思，不如死了算了，家里人很担心")
    assert told.urgent and told.category == "mental"
    jump = classifier.classify("他妈妈说他前两天说过想从楼顶跳下去，请心理老师尽快来")
    assert jump.urgent and jump.category == "mental"
    # a fire that is over is not urgent: only the despair words last
    assert not classifier.classify("前两天楼下着过火，现在想问问墙什么时候刷").urgent
    assert not classifier.classify("他说他不是不想活，就是最近太累").urgent


def test_an_explicit_combo_written_for_a_calm_category_counts_there(classifier: Classifier) -> None:
    # legal is a calm category (urgency words there are usually about the past), but wages
    # walking out of the gate tonight are an emergency the lexicon names for legal itself
    now = classifier.classify("包工头今晚要跑路了，欠我们三个月工钱，我们现在在门口拦着")
    assert (now.category, now.urgent) == ("legal", True)
    assert not classifier.classify("老板跑了，欠了三个月工钱，想申请劳动仲裁").urgent


def test_habits_calm_ordinary_cues_but_not_sparks(classifier: Classifier) -> None:
    # "一下雨就" says it happens every time: a chronic leak, not an emergency now; sparks every
    # time it rains are still a danger now
    assert not classifier.classify("阳台顶一下雨就漏水，麻烦看看").urgent
    sparks = classifier.classify("电线搭在晾衣杆上，一下雨就冒火花")
    assert (sparks.category, sparks.urgent) == ("safety", True)


def test_an_emergency_told_in_passing_decides_the_category(classifier: Classifier) -> None:
    # the first sentence is a calm question; the sentences with the cues are about a fire
    question = "居住证续签要带什么材料？"
    assert classifier.classify(question).category == "affairs"
    both = classifier.classify(question + "还有个事，隔壁门缝里在往外冒烟，敲了半天没人应")
    assert (both.category, both.urgent) == ("safety", True)


def test_an_urgent_message_is_routed_by_its_cue_sentences(classifier: Classifier) -> None:
    # found urgent as a whole, but in a category where danger is not expected: the sentences
    # with the cues (an older person not back) decide where it goes
    text = (
        "请问老年大学书法班还招人吗？另外楼下陆阿婆早上出门买菜到现在没回来，她有点糊涂，手机也没带"
    )
    result = classifier.classify(text)
    assert (result.category, result.urgent) == ("elderly", True)
    # a combo written for the category keeps it there: a landlord throwing a tenant out is legal
    landlord = classifier.classify(
        "房东现在带着两个人在把我屋里的东西往楼下扔！合同还有四个月才到期，我该怎么办"
    )
    assert (landlord.category, landlord.urgent) == ("legal", True)


def test_a_marker_does_not_hide_a_category_term_inside_it(classifier: Classifier) -> None:
    # "出面调解" is a hedge (a request for mediation, not an emergency); jieba must still cut
    # "调解" whole so that the dispute term counts in full
    text = "三个子女为谁照顾老母亲吵个不停，想请社区出面调解"
    assert text.index("调解") in classifier.word_bounds(text)
    assert classifier.classify(text).category == "dispute"


def test_overlapping_whole_words_both_count(classifier: Classifier) -> None:
    # "一直没" (chronic) and "没人接" (cannot be reached) share a character
    result = classifier.classify("我爸82了一个人住，从早上打电话到现在一直没人接")
    assert result.urgent and result.category == "elderly"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\n",
        "😀😀🎉🙏",
        "hello, is anyone there? my LIFT is broken",
        "KTV太吵了 noise every night!!!",
        "１２０救护车还没来，ＫＴＶ门口有人晕倒了",
        "电梯" * 5000,
        "今天走访7幢402，" + "一切正常。" * 2000,
    ],
)
def test_robust_inputs(classifier: Classifier, text: str) -> None:
    result = classifier.classify(text)
    assert result.category == UNSURE or result.category in CATEGORY_CODES
    assert 0.0 <= result.confidence <= 1.0
    assert isinstance(result.urgent, bool)


def test_robust_inputs_give_sensible_answers(classifier: Classifier) -> None:
    assert classifier.classify("").category == UNSURE
    assert classifier.classify("😀😀🎉🙏").category == UNSURE
    assert classifier.classify("KTV太吵了 noise every night!!!").category == "noise"
    full_width = classifier.classify("１２０救护车还没来，ＫＴＶ门口有人晕倒了")
    assert full_width.urgent and full_width.category == "health"
    long_text = "楼下垃圾桶臭死了。" * 1200
    assert len(long_text) > 10_000
    assert classifier.classify(long_text).category == "sanitation"


def test_first_classification_is_fast(classifier: Classifier) -> None:
    began = time.perf_counter()
    classifier.classify("刚搬来的新住户想问问垃圾分类的投放时间")
    assert time.perf_counter() - began < 0.2


def test_json_line_format(classifier: Classifier) -> None:
    data = classifier.classify("楼道灯坏了").to_json_dict()
    assert set(data) == {"category", "urgent", "confidence", "keywords"}
    assert data["category"] == "facilities"
    assert data["urgent"] is False
