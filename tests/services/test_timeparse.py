"""Times as people type them, read in Suzhou's time zone (now: Tuesday 2026-11-24 10:00)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from services.timeparse import parse_local_time

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Suzhou


def local(text: str, now: datetime = NOW, **kwargs: time) -> str | None:
    moment = parse_local_time(text, now, TZ, **kwargs)
    if moment is None:
        return None
    assert moment.tzinfo is UTC
    return moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28 14:00", "2026-11-28 14:00"),
        ("2026/12/01 08:05", "2026-12-01 08:05"),
        ("2027年1月3日 9:30", "2027-01-03 09:30"),
        ("11月28日 14:00", "2026-11-28 14:00"),
        ("11月28号下午3点前", "2026-11-28 15:00"),
        ("十一月二十八日下午两点", "2026-11-28 14:00"),
        ("12/1 9:30", "2026-12-01 09:30"),
        ("明天下午3点", "2026-11-25 15:00"),
        ("明天 15:00", "2026-11-25 15:00"),
        ("后天上午十点半", "2026-11-26 10:30"),
        ("明晚七点一刻", "2026-11-25 19:15"),
        ("今晚12点", "2026-11-25 00:00"),
        ("中午1点", "2026-11-24 13:00"),
        ("周六下午2点", "2026-11-28 14:00"),
        ("星期天 10:00", "2026-11-29 10:00"),
        ("下周六上午9点", "2026-12-05 09:00"),
        ("下下周一上午9点", "2026-12-07 09:00"),
        # Today is Tuesday: a plain 周二 is today while the time is ahead, else next week.
        ("周二上午11点", "2026-11-24 11:00"),
        ("周二上午9点", "2026-12-01 09:00"),
        # 本周 is this week's, even when it has passed (the caller decides).
        ("本周一上午9点", "2026-11-23 09:00"),
        # A time alone: today, or tomorrow once it has passed.
        ("14:00", "2026-11-24 14:00"),
        ("9:00", "2026-11-25 09:00"),
        ("晚上8点半", "2026-11-24 20:30"),
        # A month and day that passed this year is next year's.
        ("3月1日 9点", "2027-03-01 09:00"),
        ("１１月２８日 １４：００", "2026-11-28 14:00"),
    ],
)
def test_understood(text: str, expected: str) -> None:
    assert local(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "随便",
        "明天",
        "后天下午",
        "2026年2月30日 9点",
        "11月31日 9点",
        "25:00",
        "明天下午3点61分",
    ],
)
def test_not_understood(text: str) -> None:
    assert local(text) is None


def test_a_date_alone_takes_the_default_time() -> None:
    assert local("11月28日", default_time=time(18, 0)) == "2026-11-28 18:00"
    assert local("明天", default_time=time(18, 0)) == "2026-11-25 18:00"
    assert local("11月28日") is None


def test_the_local_date_decides_near_midnight() -> None:
    # 2026-11-24 17:00 UTC is already Wednesday the 25th, 01:00 in Suzhou.
    late = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    assert local("明天上午9点", late) == "2026-11-26 09:00"
    assert local("周三下午2点", late) == "2026-11-25 14:00"


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError):
        parse_local_time("明天下午3点", datetime(2026, 11, 24, 10, 0), TZ)
