"""Chat state: buttons pressed by users, edits, deletions, callback answers, commands, files."""

from __future__ import annotations

from typing import Any

import pytest

from bot.standin import SandboxClient, SandboxError, StandIn
from bot.standin.client import find_button
from tests.standin.helpers import RawApi

MENU = {
    "inline_keyboard": [
        [{"text": "报名", "callback_data": "join:1"}, {"text": "取消", "callback_data": "cancel"}],
        [{"text": "官网", "url": "https://example.org"}],
    ]
}


async def send_menu(api: RawApi, chat: int, text: str = "活动菜单") -> dict[str, Any]:
    result: dict[str, Any] = await api.ok(
        "sendMessage", {"chat_id": chat, "text": text, "reply_markup": MENU}
    )
    return result


async def test_press_a_real_button(api: RawApi, sandbox: SandboxClient, chat: int) -> None:
    menu = await send_menu(api, chat)
    await api.ok("getUpdates", {"offset": -1})
    await api.ok("getUpdates", {"offset": 10**10})
    message = await sandbox.last_bot_message(chat)
    assert message is not None
    data = find_button(message, "报名")
    assert data == "join:1"
    pressed = await sandbox.press(chat, menu["message_id"], data)
    (update,) = await api.ok("getUpdates")
    assert update["update_id"] == pressed["update_id"]
    query = update["callback_query"]
    assert query["id"] == pressed["callback_query_id"]
    assert query["data"] == "join:1"
    assert query["from"]["id"] == chat
    assert query["message"]["message_id"] == menu["message_id"]
    assert query["message"]["reply_markup"] == MENU
    assert query["chat_instance"]

    assert await api.ok(
        "answerCallbackQuery",
        {"callback_query_id": query["id"], "text": "已报名", "show_alert": True},
    )
    assert await sandbox.callback_answers(chat) == [
        {"callback_query_id": query["id"], "text": "已报名", "show_alert": True}
    ]
    # A second answer is refused as Telegram does; that is an error, not a violation.
    status, body = await api.call("answerCallbackQuery", {"callback_query_id": query["id"]})
    assert status == 400 and "query is too old" in body["description"]


async def test_press_a_missing_button_is_refused_unless_forged(
    api: RawApi, sandbox: SandboxClient, standin: StandIn, chat: int
) -> None:
    menu = await send_menu(api, chat)
    with pytest.raises(SandboxError) as caught:
        await sandbox.press(chat, menu["message_id"], "join:2")
    assert caught.value.status == 400
    assert "no inline button" in caught.value.message
    with pytest.raises(SandboxError) as caught:
        await sandbox.press(chat, 999, "join:1")
    assert caught.value.status == 400
    forged = await sandbox.press(chat, menu["message_id"], "join:2", forge=True)
    ghost = await sandbox.press(chat, 999, "x", forge=True)
    updates = await api.ok("getUpdates", {"offset": forged["update_id"]})
    assert [u["callback_query"]["data"] for u in updates] == ["join:2", "x"]
    assert updates[1]["update_id"] == ghost["update_id"]
    # A message the bot cannot see comes as an InaccessibleMessage (date 0).
    assert updates[1]["callback_query"]["message"]["date"] == 0
    assert standin.violations == []


async def test_edits_and_deletions_are_reflected(
    api: RawApi, sandbox: SandboxClient, chat: int
) -> None:
    menu = await send_menu(api, chat)
    message_id = menu["message_id"]
    edited = await api.ok(
        "editMessageText",
        {"chat_id": chat, "message_id": message_id, "text": "<b>已更新</b>", "parse_mode": "HTML"},
    )
    assert edited["text"] == "已更新" and "edit_date" in edited
    assert "reply_markup" not in edited  # editing without reply_markup drops the keyboard
    views = await sandbox.messages(chat)
    assert views[-1]["text"] == "已更新"
    assert views[-1]["edited"] is True and views[-1]["reply_markup"] is None
    assert views[-1]["entities"] == [{"type": "bold", "offset": 0, "length": 3}]

    keyboard = {"inline_keyboard": [[{"text": "确认", "callback_data": "ok"}]]}
    await api.ok(
        "editMessageReplyMarkup",
        {"chat_id": chat, "message_id": message_id, "reply_markup": keyboard},
    )
    assert (await sandbox.messages(chat))[-1]["reply_markup"] == keyboard

    assert await api.ok("deleteMessage", {"chat_id": chat, "message_id": message_id})
    views = await sandbox.messages(chat)
    assert [v["message_id"] for v in views] == [1]
    status, body = await api.call("deleteMessage", {"chat_id": chat, "message_id": message_id})
    assert (status, body["description"]) == (400, "Bad Request: message to delete not found")
    status, body = await api.call(
        "editMessageText", {"chat_id": chat, "message_id": message_id, "text": "x"}
    )
    assert (status, body["description"]) == (400, "Bad Request: message to edit not found")


async def test_not_modified_edit(api: RawApi, standin: StandIn, chat: int) -> None:
    menu = await send_menu(api, chat, "同样")
    params = {
        "chat_id": chat,
        "message_id": menu["message_id"],
        "text": "同样",
        "reply_markup": MENU,
    }
    status, body = await api.call("editMessageText", params)
    assert status == 400
    assert body["description"].startswith("Bad Request: message is not modified:")
    # Same text but the keyboard goes: that is a modification.
    del params["reply_markup"]
    assert (await api.ok("editMessageText", params))["text"] == "同样"
    status, body = await api.call(
        "editMessageReplyMarkup", {"chat_id": chat, "message_id": menu["message_id"]}
    )
    assert status == 400 and "not modified" in body["description"]
    assert standin.violations == []
    assert [e["method"] for e in standin.errors] == ["editMessageText", "editMessageReplyMarkup"]


async def test_edit_caption_and_user_messages(api: RawApi, chat: int) -> None:
    status, body = await api.call(
        "editMessageText", {"chat_id": chat, "message_id": 1, "text": "x"}
    )
    assert (status, body["description"]) == (400, "Bad Request: message can't be edited")
    photo = await api.ok(
        "sendPhoto",
        {"chat_id": str(chat), "photo": ("p.png", b"\x89PNG\r\n\x1a\n"), "caption": "旧"},
        encoding="multipart",
    )
    edited = await api.ok(
        "editMessageCaption",
        {"chat_id": chat, "message_id": photo["message_id"], "caption": "新"},
    )
    assert edited["caption"] == "新"
    status, body = await api.call(
        "editMessageText", {"chat_id": chat, "message_id": photo["message_id"], "text": "x"}
    )
    assert body["description"] == "Bad Request: there is no text in the message to edit"
    # The same photo again by file_id.
    again = await api.ok("sendPhoto", {"chat_id": chat, "photo": photo["photo"][0]["file_id"]})
    assert again["photo"][0]["file_id"] == photo["photo"][0]["file_id"]
    status, body = await api.call("sendPhoto", {"chat_id": chat, "photo": "nonsense"})
    assert status == 400 and "wrong file identifier" in body["description"]


async def test_documents_are_stored_and_served(
    api: RawApi, sandbox: SandboxClient, standin: StandIn, chat: int
) -> None:
    content = "姓名,电话\n张三,123\n".encode()
    sent = await api.ok(
        "sendDocument",
        {"chat_id": str(chat), "document": ("报表.csv", content)},
        encoding="multipart",
    )
    document = sent["document"]
    assert document["file_name"] == "报表.csv" and document["file_size"] == len(content)
    view = (await sandbox.messages(chat))[-1]["document"]
    assert view == {
        "file_id": document["file_id"],
        "file_name": "报表.csv",
        "mime_type": "text/csv",
    }
    assert await sandbox.file(document["file_id"]) == content
    # Re-sending by file_id keeps the bytes and name.
    again = await api.ok("sendDocument", {"chat_id": chat, "document": document["file_id"]})
    assert again["document"]["file_name"] == "报表.csv"
    assert standin.violations == []


async def test_messages_to_strangers_and_replies(api: RawApi, chat: int) -> None:
    status, body = await api.call("sendMessage", {"chat_id": 777, "text": "hi"})
    assert status == 403 and body["description"].startswith("Forbidden:")
    status, body = await api.call("sendMessage", {"chat_id": "@somebody", "text": "hi"})
    assert (status, body["description"]) == (400, "Bad Request: chat not found")
    reply = await api.ok(
        "sendMessage", {"chat_id": chat, "text": "回复", "reply_parameters": {"message_id": 1}}
    )
    assert reply["reply_to_message"]["text"] == "/start"
    status, body = await api.call(
        "sendMessage", {"chat_id": chat, "text": "回复", "reply_parameters": {"message_id": 99}}
    )
    assert body["description"] == "Bad Request: message to be replied not found"


async def test_commands_per_scope(api: RawApi, sandbox: SandboxClient, chat: int) -> None:
    assert await sandbox.commands(chat) == []
    default = [{"command": "start", "description": "开始"}]
    await api.ok("setMyCommands", {"commands": default})
    assert await sandbox.commands(chat) == default
    mine = [{"command": "admin", "description": "管理"}]
    scope = {"type": "chat", "chat_id": chat}
    await api.ok("setMyCommands", {"commands": mine, "scope": scope})
    assert await sandbox.commands(chat) == mine
    assert await sandbox.commands(chat + 1) == default
    assert await api.ok("getMyCommands", {"scope": scope}) == mine
    assert await api.ok("getMyCommands") == default
    await api.ok("deleteMyCommands", {"scope": scope})
    assert await sandbox.commands(chat) == default
    await api.ok("setChatMenuButton", {"chat_id": chat, "menu_button": {"type": "commands"}})
    assert await api.ok("getChatMenuButton", {"chat_id": chat}) == {"type": "commands"}


async def test_control_api_refuses_malformed_requests(api: RawApi, standin: StandIn) -> None:
    session = api.session
    base = standin.base_url
    cases: list[tuple[str, str, Any]] = [
        ("POST", "/sandbox/send", "not json"),
        ("POST", "/sandbox/send", [1, 2]),
        ("POST", "/sandbox/send", {"text": "hi"}),
        ("POST", "/sandbox/send", {"user_id": "1", "text": "hi"}),
        ("POST", "/sandbox/send", {"user_id": 1}),
        ("POST", "/sandbox/send", {"user_id": 1, "text": "hi", "photo": True}),
        ("POST", "/sandbox/send", {"user_id": 1, "location": {"latitude": 100, "longitude": 0}}),
        ("POST", "/sandbox/press", {"user_id": 1, "message_id": 1}),
        ("POST", "/sandbox/faults", {"method": "sendMessage", "error_code": 418}),
        ("POST", "/sandbox/faults", {"method": "noSuchMethod", "error_code": 429}),
        ("GET", "/sandbox/chats/abc/messages", None),
        ("GET", "/sandbox/idle?quiet_ms=soon", None),
    ]
    for method, path, body in cases:
        kwargs: dict[str, Any] = {}
        if isinstance(body, str):
            kwargs["data"] = body
        elif body is not None:
            kwargs["json"] = body
        async with session.request(method, base + path, **kwargs) as response:
            assert response.status == 400, (path, body)
            payload = await response.json()
            assert isinstance(payload["error"], str) and payload["error"], payload
