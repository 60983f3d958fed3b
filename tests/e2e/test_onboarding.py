"""Issue 2: onboarding, consent, invites and roles, through real long polling."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import select

from bot.sandbox import Sandbox
from handlers import texts
from services.clock import ManualClock
from services.errors import Refusal
from storage.models import InviteCode, Role, User
from tests.e2e.people import Person, buttons

PersonMaker = Callable[..., Person]
INVITE_LINK = re.compile(r"https://t\.me/HaitangBot\?start=(inv_[A-Za-z0-9]+)")
RESIDENT_MENU = ["report", "mytickets", "events", "subscribe", "public", "me", "help"]
COORDINATOR_MENU = [
    "inbox",
    "task",
    "taskboard",
    "coverage",
    "event",
    "events",
    "broadcast",
    "broadcasts",
    "stats",
    "report",
    "invite",
    "me",
    "help",
]


async def stored_user(sandbox: Sandbox, telegram_id: int) -> User | None:
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        return (await session.exec(select(User).where(User.telegram_id == telegram_id))).first()


async def test_resident_onboarding_from_start_to_profile(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    resident = person(5101, "钱阿姨")
    [notice] = await resident.send("/start")
    assert "我们保存" in notice["text"] and "谁能看到" in notice["text"]
    assert buttons(notice) == ["同意", "不同意"]
    assert await stored_user(sandbox, 5101) is None, "nothing is stored before consent"

    agreed = await resident.press("同意")
    assert agreed.message["reply_markup"] is None, "the notice's buttons are gone"
    [choose_street] = agreed.new
    assert "请选择您所在的街道" in choose_street["text"]
    assert buttons(choose_street) == ["平江街道", "双塔街道"]

    street = await resident.press("平江街道")
    assert "请选择您所在的社区（平江街道）" in street.message["text"]
    assert buttons(street.message) == ["悬桥社区", "钮家巷社区", "« 重新选择街道"]

    chosen = await resident.press("悬桥社区")
    assert "已为您登记在 平江街道 · 悬桥社区" in chosen.message["text"]
    assert chosen.answer is not None

    [me] = await resident.send("/me")
    assert "身份：居民" in me["text"] and "社区：悬桥社区" in me["text"]
    assert "同意使用说明：2026年11月24日 10:00" in me["text"], "shown in Asia/Shanghai"
    assert await resident.commands() == RESIDENT_MENU


async def test_declining_consent_stores_nothing(sandbox: Sandbox, person: PersonMaker) -> None:
    visitor = person(5102)
    await visitor.send("/start")
    declined = await visitor.press("不同意")
    assert declined.message["text"] == texts.CONSENT_DECLINED
    assert declined.message["reply_markup"] is None
    assert await stored_user(sandbox, 5102) is None

    [reply] = await visitor.send("/me")
    assert reply["text"] == texts.NOT_REGISTERED
    [reply] = await visitor.send("我家楼道灯坏了")
    assert reply["text"] == texts.NOT_REGISTERED
    assert await visitor.commands() == ["start"]


async def test_station_deep_link_binds_the_community(sandbox: Sandbox, person: PersonMaker) -> None:
    resident = person(5103)
    [notice] = await resident.send("/start st_st02")
    agreed = await resident.press("同意", notice)
    assert any("已为您登记在 双塔街道 · 滚绣坊社区" in m["text"] for m in agreed.new)
    user = await stored_user(sandbox, 5103)
    assert user is not None and user.role == Role.resident and user.community_id is not None


async def test_unknown_station_code_falls_back_to_choosing(person: PersonMaker) -> None:
    resident = person(5104)
    first, notice = await resident.send("/start st_nope99")
    assert first["text"] == texts.STATION_UNKNOWN
    agreed = await resident.press("同意", notice)
    assert "请选择您所在的街道" in agreed.new[-1]["text"]


async def test_a_volunteer_joins_by_invite_and_is_bound_to_a_grid(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    coordinator = person(3001, "张书记")
    [prompt] = await coordinator.send("/invite")
    assert "请选择志愿者负责的网格" in prompt["text"]
    assert buttons(prompt) == ["第1网格", "第2网格", "第3网格"]
    grid = await coordinator.press("第2网格", prompt)
    assert buttons(grid.message) == ["1 次", "5 次", "20 次"]
    made = await coordinator.press("1 次", grid.message)
    link = INVITE_LINK.search(made.message["text"])
    assert link, made.message["text"]
    assert "可以使用 1 次" in made.message["text"]

    newcomer = person(5201, "小陈")
    [notice] = await newcomer.send(f"/start {link.group(1)}")
    assert buttons(notice) == ["同意", "不同意"]
    joined = await newcomer.press("同意", notice)
    welcome = joined.new[-1]["text"]
    assert "您现在是海棠先锋志愿者" in welcome and "悬桥社区 · 第2网格" in welcome

    [help_reply] = await newcomer.send("/help")
    assert "/invite" not in help_reply["text"] and "/me" in help_reply["text"]
    [me] = await newcomer.send("/me")
    assert "身份：海棠先锋志愿者" in me["text"] and "网格：第2网格" in me["text"]
    user = await stored_user(sandbox, 5201)
    assert user is not None and user.role == Role.volunteer

    # The single-use link is spent now.
    [refused] = await person(5202).send(f"/start {link.group(1)}")
    assert refused["text"] == texts.REFUSALS[Refusal.invite_used_up]


async def test_typed_invite_and_expiry(
    sandbox: Sandbox, person: PersonMaker, clock: ManualClock
) -> None:
    coordinator = person(3001, "张书记")
    [made] = await coordinator.send("/invite volunteer 3 5")
    link = INVITE_LINK.search(made["text"])
    assert link and "可以使用 5 次" in made["text"] and "第3网格" in made["text"]

    [bad] = await coordinator.send("/invite volunteer 9")
    assert bad["text"] == "没有找到这个网格，请核对网格号。"
    [usage] = await coordinator.send("/invite everyone")
    assert usage["text"] == texts.INVITE_USAGE

    clock.advance(timedelta(hours=73))
    [expired] = await person(5203).send(f"/start {link.group(1)}")
    assert expired["text"] == texts.REFUSALS[Refusal.invite_expired]
    assert await stored_user(sandbox, 5203) is None


async def test_invite_guessing_is_limited(person: PersonMaker, clock: ManualClock) -> None:
    guesser = person(5204)
    for attempt in range(5):
        [reply] = await guesser.send(f"/start inv_WRONG{attempt}")
        assert reply["text"] == texts.REFUSALS[Refusal.invite_unknown]
    [blocked] = await guesser.send("/start inv_WRONG9")
    assert blocked["text"] == "尝试次数太多了，请 10 分钟后再试。"
    clock.advance(timedelta(minutes=11))
    [again] = await guesser.send("/start inv_WRONG10")
    assert again["text"] == texts.REFUSALS[Refusal.invite_unknown]


async def test_help_and_menu_differ_by_role(person: PersonMaker) -> None:
    resident, volunteer, coordinator = person(1001), person(2001), person(3001)
    [r] = await resident.send("/help")
    [v] = await volunteer.send("/help")
    [c] = await coordinator.send("/help")
    assert "/invite" in c["text"] and "/invite" not in r["text"] and "/invite" not in v["text"]
    assert r["text"].splitlines()[0] == texts.HELP_HEADER
    assert await coordinator.commands() == COORDINATOR_MENU
    assert await resident.commands() == RESIDENT_MENU


async def test_residents_cannot_invite_even_with_a_forged_button(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    resident = person(1001)
    [reply] = await resident.send("/invite")
    assert reply["text"] == texts.INVITE_NONE_ALLOWED
    [hello] = await resident.send("/me")
    forged = await resident.press_data(hello, "iv:volunteer:1:1", forge=True)
    assert forged.answer is not None and forged.answer["text"] == "抱歉，您没有这项操作的权限。"
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        assert (await session.exec(select(InviteCode))).all() == []


async def test_a_coordinator_cannot_invite_to_another_community(
    sandbox: Sandbox, person: PersonMaker
) -> None:
    coordinator = person(3002)  # 刘书记, 钮家巷社区
    [prompt] = await coordinator.send("/invite")
    # Grid id 1 belongs to 悬桥社区, not to this coordinator's community.
    forged = await coordinator.press_data(prompt, "iv:volunteer:1:1", forge=True)
    assert forged.answer is not None and forged.answer["show_alert"] is True
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        assert (await session.exec(select(InviteCode))).all() == []


async def test_double_tap_on_consent_registers_once(sandbox: Sandbox, person: PersonMaker) -> None:
    resident = person(5105)
    [notice] = await resident.send("/start")
    data = "cs:1:"
    first = await resident.press_data(notice, data)
    second = await resident.press_data(notice, data, forge=True)
    assert "请选择您所在的街道" in first.new[-1]["text"]
    assert second.answer is not None
    assert sandbox.session_factory is not None
    async with sandbox.session_factory() as session:
        users = (await session.exec(select(User).where(User.telegram_id == 5105))).all()
    assert len(users) == 1


async def test_unknown_commands_stray_photos_and_stale_buttons_get_friendly_answers(
    person: PersonMaker, client: object
) -> None:
    resident = person(1001)
    [reply] = await resident.send("/frobnicate")
    assert reply["text"] == texts.UNKNOWN_COMMAND
    await resident.client.send_photo(1001)
    assert await resident.client.wait_idle(quiet_ms=150, timeout_s=10)
    assert (await resident.last())["text"] == texts.PHOTO_WITHOUT_REPORT
    stale = await resident.press_data(await resident.last(), "zz:old", forge=True)
    assert stale.answer is not None and stale.answer["text"] == texts.BUTTON_EXPIRED
