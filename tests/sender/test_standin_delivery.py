"""The stand-in's delivery extras: optional flood limits, delivery counts, groups, migration."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.standin import RateLimits, SandboxClient, SandboxError, StandIn
from bot.standin.delivery import RateLimiter, is_send_method
from tests.standin.helpers import TOKEN, RawApi

USER = 4242
OTHER = 4343
GROUP = -1001234567890


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    server = StandIn(TOKEN, seed=7)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def api(standin: StandIn) -> AsyncIterator[RawApi]:
    async with aiohttp.ClientSession() as session:
        yield RawApi(session, standin.base_url)


@pytest.fixture
async def sandbox(standin: StandIn) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(standin.base_url) as client:
        await client.add_user(USER)
        await client.add_user(OTHER)
        yield client


def test_the_limiter_counts_overall_per_chat_and_per_group() -> None:
    limiter = RateLimiter(RateLimits(overall_per_s=4, per_chat_per_s=1, burst=2, group_per_min=3))
    assert [limiter.admit(1, 0.0), limiter.admit(1, 0.1)] == [None, None]
    assert limiter.admit(1, 0.2) == 1, "the burst of two is spent"
    assert limiter.admit(1, 0.2) == 1, "a refused send uses no capacity"
    assert limiter.admit(2, 0.3) is None and limiter.admit(3, 0.4) is None
    assert limiter.admit(4, 0.5) == 1, "four in the last second"
    assert limiter.admit(4, 1.01) is None, "the first one left the window"
    assert limiter.admit(1, 1.2) is None, "a token came back after a second"
    for at in (10.0, 11.0, 12.0):
        assert limiter.admit(-5, at) is None
    assert limiter.admit(-5, 13.0) == 57, "three in a minute for a group"
    assert limiter.admit(-6, 13.0) is None, "another group has its own minute"
    assert limiter.admit(-5, 70.0) is None


def test_sending_methods() -> None:
    assert all(map(is_send_method, ["sendMessage", "sendPhoto", "copyMessage", "SENDDOCUMENT"]))
    assert not any(map(is_send_method, ["sendChatAction", "editMessageText", "getUpdates"]))


async def test_limits_are_off_unless_asked_for(
    api: RawApi, sandbox: SandboxClient, standin: StandIn
) -> None:
    assert standin.limits is None
    for n in range(10):
        await api.ok("sendMessage", {"chat_id": USER, "text": f"#{n}"})
    stats = await sandbox.stats()
    assert stats == {"delivered": {str(USER): 10}, "429": 0, "calls": 10, "sends": 10}


async def test_limits_answer_429_in_telegrams_shape(
    api: RawApi, sandbox: SandboxClient, standin: StandIn
) -> None:
    shown = await sandbox.set_limits(per_chat_per_s=1, burst=2)
    assert shown == {"overall_per_s": 30.0, "per_chat_per_s": 1.0, "burst": 2, "group_per_min": 20}
    await api.ok("sendMessage", {"chat_id": USER, "text": "一"})
    await api.ok("sendMessage", {"chat_id": USER, "text": "二"})
    status, body = await api.call("sendMessage", {"chat_id": USER, "text": "三"})
    assert (status, body) == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    )
    await api.ok("sendMessage", {"chat_id": OTHER, "text": "其他人不受影响"})
    await api.ok("sendChatAction", {"chat_id": USER, "action": "typing"})
    assert [m["text"] for m in await sandbox.messages(USER)] == ["一", "二"]
    stats = await sandbox.stats()
    assert stats["429"] == 1 and stats["delivered"] == {str(USER): 2, str(OTHER): 1}
    assert stats["sends"] == 4 and stats["calls"] == 5
    assert (await sandbox.calls("sendMessage"))[2]["outcome"] == "limit 429"
    assert await sandbox.violations() == [] and standin.errors == []

    await sandbox.clear_limits()
    await api.ok("sendMessage", {"chat_id": USER, "text": "三"})
    await sandbox.reset_stats()
    assert await sandbox.stats() == {"delivered": {}, "429": 0, "calls": 0, "sends": 0}


async def test_overall_and_group_limits(
    api: RawApi, sandbox: SandboxClient, standin: StandIn
) -> None:
    standin.set_limits(RateLimits(overall_per_s=3, group_per_min=2))
    group = await sandbox.add_group(GROUP, "悬桥社区群")
    assert group == {"id": GROUP, "type": "supergroup", "title": "悬桥社区群"}
    await api.ok("sendMessage", {"chat_id": GROUP, "text": "一"})
    await api.ok("sendMessage", {"chat_id": GROUP, "text": "二"})
    status, body = await api.call("sendMessage", {"chat_id": GROUP, "text": "三"})
    assert status == 429 and 59 <= body["parameters"]["retry_after"] <= 60
    await api.ok("sendMessage", {"chat_id": USER, "text": "第三条"})
    status, body = await api.call("sendMessage", {"chat_id": OTHER, "text": "第四条"})
    assert (status, body["parameters"]) == (429, {"retry_after": 1})
    assert (await sandbox.stats())["429"] == 2


async def test_limit_requests_are_checked(sandbox: SandboxClient) -> None:
    for body in ({"burst": 0}, {"overall_per_s": "fast"}, {"per_second": 3}, {"burst": 1.5}):
        with pytest.raises(SandboxError) as refused:
            await sandbox._request("POST", "/sandbox/limits", body=body)
        assert refused.value.status == 400
    with pytest.raises(SandboxError):
        await sandbox.add_group(42)


async def test_groups_receive_messages_and_unknown_groups_are_not_found(
    api: RawApi, sandbox: SandboxClient, standin: StandIn
) -> None:
    await sandbox.add_group(-77, "楼组长群")
    sent = await api.ok(
        "sendMessage", {"chat_id": -77, "text": "<b>通知</b>", "parse_mode": "HTML"}
    )
    assert sent["chat"] == {"id": -77, "type": "group", "title": "楼组长群"}
    assert [m["text"] for m in await sandbox.messages(-77)] == ["通知"]
    status, body = await api.call("sendMessage", {"chat_id": -78, "text": "hi"})
    assert (status, body["description"]) == (400, "Bad Request: chat not found")
    status, body = await api.call("sendMessage", {"chat_id": 99, "text": "hi"})
    assert status == 403, "private chats still need the user to have started the bot"


async def test_a_fault_can_announce_a_supergroup_migration(
    api: RawApi, sandbox: SandboxClient
) -> None:
    fault = await sandbox.add_fault("sendMessage", 400, chat_id=-77, migrate_to_chat_id=GROUP)
    assert fault["migrate_to_chat_id"] == GROUP
    status, body = await api.call("sendMessage", {"chat_id": -77, "text": "hi"})
    assert (status, body) == (
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": {"migrate_to_chat_id": GROUP},
        },
    )
    with pytest.raises(SandboxError, match="error_code 400"):
        await sandbox.add_fault("sendMessage", 403, migrate_to_chat_id=GROUP)
