"""getUpdates: offsets confirm and forget, limit, allowed_updates and long polling."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bot.standin import SandboxClient, StandIn
from tests.standin.helpers import TOKEN, RawApi


async def test_offset_confirms_updates(api: RawApi, sandbox: SandboxClient) -> None:
    first = await sandbox.send_text(1, "/start", first_name="甲")
    second = await sandbox.send_text(1, "一")
    third = await sandbox.send_text(2, "二")
    assert second["update_id"] == first["update_id"] + 1

    updates = await api.ok("getUpdates")
    assert [u["update_id"] for u in updates] == [
        first["update_id"],
        second["update_id"],
        third["update_id"],
    ]
    message = updates[0]["message"]
    assert message["text"] == "/start"
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert message["from"]["first_name"] == "甲" and message["from"]["is_bot"] is False
    assert message["chat"] == {"id": 1, "type": "private", "first_name": "甲"}
    assert updates[2]["message"]["chat"]["first_name"] == "用户2"

    # Without an offset nothing is confirmed.
    assert len(await api.ok("getUpdates")) == 3
    again = await api.ok("getUpdates", {"offset": second["update_id"]})
    assert [u["update_id"] for u in again] == [second["update_id"], third["update_id"]]
    assert len(await api.ok("getUpdates", {"limit": 1})) == 1
    assert await api.ok("getUpdates", {"offset": third["update_id"] + 1}) == []
    assert await api.ok("getUpdates") == []


async def test_negative_offset_forgets_older_updates(api: RawApi, sandbox: SandboxClient) -> None:
    ids = [(await sandbox.send_text(5, f"m{i}"))["update_id"] for i in range(4)]
    last_two = await api.ok("getUpdates", {"offset": -2})
    assert [u["update_id"] for u in last_two] == ids[2:]
    assert [u["update_id"] for u in await api.ok("getUpdates")] == ids[2:]


async def test_long_poll_waits_for_an_update(api: RawApi, sandbox: SandboxClient) -> None:
    started = time.monotonic()
    assert await api.ok("getUpdates", {"timeout": 1}) == []
    assert time.monotonic() - started >= 0.9

    async def later() -> None:
        await asyncio.sleep(0.2)
        await sandbox.send_text(9, "来了")

    started = time.monotonic()
    poll, _ = await asyncio.gather(api.ok("getUpdates", {"timeout": 5}), later())
    assert time.monotonic() - started < 3
    assert [u["message"]["text"] for u in poll] == ["来了"]


async def test_a_second_poller_ends_the_first_with_conflict(api: RawApi) -> None:
    first = asyncio.create_task(api.call("getUpdates", {"timeout": 5}))
    await asyncio.sleep(0.1)
    assert await api.ok("getUpdates", {"timeout": 0}) == []
    status, body = await first
    assert status == 409
    assert body["description"].startswith("Conflict: terminated by other getUpdates request")


async def test_allowed_updates_filter(
    api: RawApi, sandbox: SandboxClient, standin: StandIn
) -> None:
    sent = await sandbox.send_text(3, "菜单", first_name="丙")
    await api.ok(
        "sendMessage",
        {
            "chat_id": 3,
            "text": "选",
            "reply_markup": {"inline_keyboard": [[{"text": "好", "callback_data": "ok"}]]},
        },
    )
    await api.ok("getUpdates", {"offset": sent["update_id"] + 1})
    await sandbox.send_text(3, "文字")
    await sandbox.press(3, 2, "ok")
    updates = await api.ok("getUpdates", {"allowed_updates": ["callback_query"]})
    assert [list(u)[1] for u in updates] == ["callback_query"]
    assert standin.state.all_delivered()


async def test_photo_and_location_messages(
    api: RawApi, sandbox: SandboxClient, standin: StandIn
) -> None:
    await sandbox.send_photo(6, caption="现场照片")
    await sandbox.send_location(6, 31.3, 120.6)
    photo, location = [u["message"] for u in await api.ok("getUpdates")]
    assert photo["caption"] == "现场照片"
    size = photo["photo"][-1]
    assert (size["width"], size["height"]) == (64, 48)
    data = await sandbox.file(size["file_id"])
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    file = await api.ok("getFile", {"file_id": size["file_id"]})
    assert file["file_size"] == len(data)
    assert location["location"] == {"latitude": 31.3, "longitude": 120.6}
    views = await sandbox.messages(6)
    assert views[0]["has_photo"] is True and views[0]["photo_file_id"] == size["file_id"]
    assert views[1]["location"] == {"latitude": 31.3, "longitude": 120.6}


async def test_stop_releases_long_polls_and_restart_works() -> None:
    server = StandIn(TOKEN)
    await server.start()
    async with aiohttp.ClientSession() as session:
        api = RawApi(session, server.base_url)
        poll = asyncio.create_task(api.call("getUpdates", {"timeout": 30}))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await server.stop()
        status, body = await poll
        assert (status, body) == (200, {"ok": True, "result": []})
        assert time.monotonic() - started < 3
        await server.start()
        api.base_url = server.base_url
        started = time.monotonic()
        assert await api.ok("getUpdates", {"timeout": 1}) == []
        assert time.monotonic() - started >= 0.9
        await server.stop()


async def test_first_update_id_is_configurable() -> None:
    server = StandIn(TOKEN, first_update_id=1000)
    update, _ = server.state.user_message(1, text="hi")
    assert update.update_id == 1000
    assert server.state.user_message(1, text="again")[0].update_id == 1001
    seeded = StandIn(TOKEN, seed=3).state.user_message(1, text="hi")[0].update_id
    assert seeded == StandIn(TOKEN, seed=3).state.user_message(1, text="hi")[0].update_id
    assert seeded >= 100_000_000
