from __future__ import annotations

import pytest

from nlp.taxonomy import (
    CATEGORIES,
    CATEGORY_CODES,
    UNSURE,
    category_index,
    chinese_name,
    is_category,
    is_label,
)


def test_seventeen_codes_in_taxonomy_order() -> None:
    assert CATEGORY_CODES == (
        "property",
        "facilities",
        "sanitation",
        "safety",
        "elderly",
        "health",
        "hardship",
        "dispute",
        "noise",
        "parking",
        "order",
        "legal",
        "employment",
        "activity",
        "mental",
        "affairs",
        "other",
    )
    assert len(CATEGORIES) == 17
    assert category_index("facilities") == 1


def test_chinese_names_and_unsure() -> None:
    assert chinese_name("property") == "物业服务"
    assert chinese_name("mental") == "心理关爱"
    assert chinese_name(UNSURE) == "待分诊"
    assert is_label(UNSURE) and not is_category(UNSURE)
    assert is_category("other")
    with pytest.raises(ValueError):
        chinese_name("weather")
