"""Times as people type them in Chinese: "2026-11-28 14:00", "11月28日 14:00", "明天下午3点",
"周六下午2点", "下周一上午九点半".

`parse_local_time` reads the words in the user's time zone and returns an aware UTC datetime,
or None when it cannot tell what time is meant. It does not judge whether the time is in the
past: the caller decides what is acceptable.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

__all__ = ["parse_local_time"]

_DIGITS: Final = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_NUM: Final = r"[0-9零〇一二两三四五六七八九十]{1,3}"
_WEEKDAYS: Final = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_RELATIVE_DAYS: Final = (
    ("大后天", 3),
    ("后天", 2),
    ("明天", 1),
    ("明日", 1),
    ("明早", 1),
    ("明晚", 1),
    ("今天", 0),
    ("今日", 0),
    ("今早", 0),
    ("今晚", 0),
)
# Words for the part of the day; the afternoon and evening ones move 1-11 o'clock by 12 hours.
_PERIODS: Final = (
    "凌晨",
    "清晨",
    "早晨",
    "早上",
    "上午",
    "中午",
    "下午",
    "傍晚",
    "晚上",
    "夜里",
    "夜间",
    "今早",
    "明早",
    "今晚",
    "明晚",
    "早",
    "晚",
)
_AFTERNOON: Final = frozenset({"下午", "傍晚", "晚上", "夜里", "夜间", "今晚", "明晚", "晚"})

_FULL_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_MONTH_DAY = re.compile(rf"({_NUM})\s*月\s*({_NUM})\s*[日号]?")
_SLASH_DATE = re.compile(r"(?<![\d:])(\d{1,2})\s*[-/]\s*(\d{1,2})(?![\d:])")
_WEEKDAY = re.compile(r"(下下个?|下个?|本|这个?|这)?\s*(?:周|星期|礼拜)([一二三四五六日天七1-7])")
_CLOCK = re.compile(r"(\d{1,2})\s*[:：]\s*(\d{2})")
_HOUR = re.compile(rf"({_NUM})\s*[点时](?:\s*(半|一刻|三刻|{_NUM})\s*分?)?")
_PERIOD = re.compile("|".join(_PERIODS))


def _number(text: str) -> int | None:
    """1-3 Arabic digits, or a Chinese numeral up to 99 (十一, 二十三, 两)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1:
            return None
        high = _DIGITS.get(tens, -1) if tens else 1
        low = _DIGITS.get(ones, -1) if ones else 0
        return None if high < 0 or low < 0 else high * 10 + low
    if len(text) == 1:
        return _DIGITS.get(text)
    if len(text) == 2 and text[0] in "零〇":  # 零五 (minutes)
        return _DIGITS.get(text[1])
    return None


def _normalise(text: str) -> str:
    # Full-width digits and colon to ASCII.
    table = {code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)}
    table[0xFF1A] = ord(":")
    return text.translate(table).strip()


# How a date was given: not at all, as a date, or as a bare weekday ("周六": the next one).
_NONE, _FIXED, _NEXT_WEEKDAY = "none", "fixed", "weekday"


def _date_part(text: str, today: date) -> tuple[date | None, str, str] | None:
    """(the date or None, how it was given, the rest of the text); None when a date was
    written but is impossible."""
    match = _FULL_DATE.search(text)
    if match:
        year, month, mday = (int(g) for g in match.groups())
        try:
            return date(year, month, mday), _FIXED, _cut(text, match)
        except ValueError:
            return None
    match = _MONTH_DAY.search(text)
    if match:
        return _year_less(
            today, _number(match.group(1)), _number(match.group(2)), _cut(text, match)
        )
    match = _WEEKDAY.search(text)
    if match:
        prefix = (match.group(1) or "").replace(" ", "")
        weekday = _WEEKDAYS.get(match.group(2))
        if weekday is None:
            weekday = int(match.group(2)) - 1
        monday = today - timedelta(days=today.weekday())
        if not prefix:  # 周六: the next one, today included
            upcoming = today + timedelta(days=(weekday - today.weekday()) % 7)
            return upcoming, _NEXT_WEEKDAY, _cut(text, match)
        weeks = 2 if prefix.startswith("下下") else 1 if prefix.startswith("下") else 0
        # 本周 / 这周: this week's, even if it has passed
        return monday + timedelta(days=7 * weeks + weekday), _FIXED, _cut(text, match)
    for word, days in _RELATIVE_DAYS:
        at = text.find(word)
        if at >= 0:
            # 明早 / 今晚 also say the part of the day: leave that for the time.
            rest = text[:at] + text[at + len(word) :]
            if word[-1] in "早晚":
                rest = text[:at] + word[-1] + text[at + len(word) :]
            return today + timedelta(days=days), _FIXED, rest
    match = _SLASH_DATE.search(text)
    if match:
        return _year_less(today, int(match.group(1)), int(match.group(2)), _cut(text, match))
    return None, _NONE, text


def _year_less(
    today: date, month: int | None, day: int | None, rest: str
) -> tuple[date | None, str, str] | None:
    """A month and day without a year: this year's, or next year's if it has passed."""
    if month is None or day is None:
        return None
    try:
        moment = date(today.year, month, day)
    except ValueError:
        return None
    if moment < today:
        try:
            moment = date(today.year + 1, month, day)
        except ValueError:  # 2月29日
            return None
    return moment, _FIXED, rest


def _cut(text: str, match: re.Match[str]) -> str:
    return text[: match.start()] + " " + text[match.end() :]


class _Unreadable(ValueError):
    """A date or time is written but cannot be read."""


def _time_part(text: str) -> tuple[int, int] | None:
    """(hour, minute), the hour possibly 24; None when no time is written."""
    period_match = _PERIOD.search(text)
    period = period_match.group(0) if period_match else ""
    match = _CLOCK.search(text)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
    else:
        match = _HOUR.search(text)
        if not match:
            if period:
                raise _Unreadable(text)  # 明天下午: which hour?
            return None
        hour, minute = _read_number(match.group(1)), _minutes(match.group(2))
    afternoon = period in _AFTERNOON or (period == "中午" and hour <= 3)
    if afternoon and 1 <= hour <= 11:
        hour += 12
    elif period == "凌晨" and hour == 12:
        hour = 0
    elif period in _AFTERNOON and hour == 12:
        hour = 24  # 晚上12点: midnight at the end of that day
    if not (0 <= hour <= 24 and 0 <= minute <= 59) or (hour == 24 and minute):
        raise _Unreadable(text)
    return hour, minute


def _read_number(text: str) -> int:
    value = _number(text)
    if value is None:
        raise _Unreadable(text)
    return value


def _minutes(words: str | None) -> int:
    if not words:
        return 0
    return {"半": 30, "一刻": 15, "三刻": 45}.get(words) or _read_number(words)


def parse_local_time(
    text: str, now: datetime, tz: ZoneInfo, *, default_time: time | None = None
) -> datetime | None:
    """The moment `text` names, read in `tz` relative to `now` (aware); aware UTC, or None.

    A date without a time takes `default_time` (None: not understood). A time without a date
    is today's, or tomorrow's if it has already passed today. "周六" is the next Saturday
    (today if it is Saturday and the time is still ahead); "本周六" this week's, "下周六" next
    week's (weeks start on Monday). A month and day without a year that has passed this year
    is next year's.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    text = _normalise(text)
    if not text:
        return None
    local_now = now.astimezone(tz)
    parsed = _date_part(text, local_now.date())
    if parsed is None:
        return None
    day, given, rest = parsed
    try:
        clock = _time_part(rest)
    except _Unreadable:
        return None
    if clock is None:
        if day is None or default_time is None:
            return None
        clock = (default_time.hour, default_time.minute)
    hour, minute = clock
    base = day or local_now.date()
    # Aware arithmetic keeps the wall clock: hour 24 is the next day's midnight.
    moment = datetime.combine(base, time(0, 0), tzinfo=tz) + timedelta(hours=hour, minutes=minute)
    if moment <= local_now:
        if given == _NONE:
            moment += timedelta(days=1)
        elif given == _NEXT_WEEKDAY:
            moment += timedelta(days=7)
    return moment.astimezone(UTC)
