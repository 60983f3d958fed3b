"""The need categories of TAXONOMY.md (17 codes, in its order) and the "unsure" label."""

from __future__ import annotations

from typing import Final

# (code, 中文名) in the order of TAXONOMY.md.
CATEGORIES: Final[tuple[tuple[str, str], ...]] = (
    ("property", "物业服务"),
    ("facilities", "设施维修"),
    ("sanitation", "环境卫生"),
    ("safety", "安全隐患"),
    ("elderly", "养老助老"),
    ("health", "医疗健康"),
    ("hardship", "困难帮扶"),
    ("dispute", "邻里纠纷"),
    ("noise", "噪音扰民"),
    ("parking", "停车交通"),
    ("order", "市容秩序"),
    ("legal", "法律咨询"),
    ("employment", "就业创业"),
    ("activity", "文体活动"),
    ("mental", "心理关爱"),
    ("affairs", "政务办事"),
    ("other", "其他"),
)

CATEGORY_CODES: Final[tuple[str, ...]] = tuple(code for code, _ in CATEGORIES)

# Below the confidence threshold a ticket is not routed but triaged by a coordinator.
UNSURE: Final = "unsure"
UNSURE_NAME: Final = "待分诊"

_NAMES: Final[dict[str, str]] = {**dict(CATEGORIES), UNSURE: UNSURE_NAME}


def is_category(code: str) -> bool:
    """True for one of the 17 category codes ("unsure" is a label, not a category)."""
    return code in _NAMES and code != UNSURE


def is_label(code: str) -> bool:
    """True for a category code or "unsure": anything classify() may return."""
    return code in _NAMES


def chinese_name(code: str) -> str:
    """The Chinese name of a category code or of "unsure" (待分诊)."""
    try:
        return _NAMES[code]
    except KeyError:
        raise ValueError(f"unknown category code: {code!r}") from None


def category_index(code: str) -> int:
    """The position of a category in TAXONOMY order."""
    try:
        return CATEGORY_CODES.index(code)
    except ValueError:
        raise ValueError(f"unknown category code: {code!r}") from None
