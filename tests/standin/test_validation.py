"""Every Bot API request is held to the spec; refusals look like Telegram's and are recorded."""

from __future__ import annotations

from typing import Any

import pytest

from bot.standin import StandIn
from tests.standin.helpers import TOKEN, RawApi


def button(data: str, text: str = "按钮") -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": text, "callback_data": data}]]}


async def refused(api: RawApi, method: str, params: dict[str, Any], **kw: Any) -> str:
    status, body = await api.call(method, params, **kw)
    assert status == 400, body
    assert body["ok"] is False and body["error_code"] == 400
    description = body["description"]
    assert isinstance(description, str) and description.startswith("Bad Request: ")
    return description


async def test_callback_data_over_64_bytes_is_refused_and_recorded(
    api: RawApi, standin: StandIn, chat: int
) -> None:
    params = {"chat_id": chat, "text": "选", "reply_markup": button("x" * 65)}
    assert await refused(api, "sendMessage", params) == "Bad Request: BUTTON_DATA_INVALID"
    # 22 Chinese characters are 66 bytes in UTF-8, though only 22 characters.
    params["reply_markup"] = button("选" * 22)
    assert await refused(api, "sendMessage", params) == "Bad Request: BUTTON_DATA_INVALID"
    params["reply_markup"] = button("x" * 64)
    await api.ok("sendMessage", params)
    assert [v["description"] for v in standin.violations] == [
        "Bad Request: BUTTON_DATA_INVALID",
        "Bad Request: BUTTON_DATA_INVALID",
    ]
    assert standin.violations[0]["method"] == "sendMessage"
    assert standin.violations[0]["params"]["chat_id"] == chat


async def test_text_length_limit_counts_utf16_after_parsing(
    api: RawApi, standin: StandIn, chat: int
) -> None:
    description = await refused(api, "sendMessage", {"chat_id": chat, "text": "a" * 4097})
    assert description == "Bad Request: message is too long"
    sent = await api.ok("sendMessage", {"chat_id": chat, "text": "a" * 4096})
    assert len(sent["text"]) == 4096
    # 2048 emoji are 4096 UTF-16 units; one more is too long.
    await api.ok("sendMessage", {"chat_id": chat, "text": "😀" * 2048})
    await refused(api, "sendMessage", {"chat_id": chat, "text": "😀" * 2048 + "a"})
    # Tags do not count.
    await api.ok(
        "sendMessage", {"chat_id": chat, "text": f"<b>{'a' * 4096}</b>", "parse_mode": "HTML"}
    )
    assert len(standin.violations) == 2


async def test_empty_text(api: RawApi, chat: int) -> None:
    empty = "Bad Request: message text is empty"
    assert await refused(api, "sendMessage", {"chat_id": chat}) == empty
    assert await refused(api, "sendMessage", {"chat_id": chat, "text": "  \n"}) == empty
    params = {"chat_id": chat, "text": "<b></b>", "parse_mode": "HTML"}
    assert await refused(api, "sendMessage", params) == empty


async def test_caption_limit(api: RawApi, chat: int) -> None:
    params = {"chat_id": chat, "photo": ("a.png", b"\x89PNG\r\n\x1a\n"), "caption": "c" * 1025}
    description = await refused(api, "sendPhoto", params, encoding="multipart")
    assert description == "Bad Request: message caption is too long"
    params["caption"] = "c" * 1024
    _, body = await api.call("sendPhoto", params, encoding="multipart")
    assert body["ok"] is True and body["result"]["caption"] == "c" * 1024


async def test_missing_required_field(api: RawApi, standin: StandIn) -> None:
    assert await refused(api, "sendMessage", {"text": "hi"}) == "Bad Request: chat_id is empty"
    description = await refused(api, "answerCallbackQuery", {})
    assert description == "Bad Request: callback_query_id is empty"
    assert standin.violations[-1]["method"] == "answerCallbackQuery"


async def test_unknown_field(api: RawApi, chat: int) -> None:
    params = {"chat_id": chat, "text": "hi", "colour": "red"}
    assert await refused(api, "sendMessage", params) == 'Bad Request: unknown parameter "colour"'
    markup = button("ok")
    markup["inline_keyboard"][0][0]["colour"] = "red"
    nested = {"chat_id": chat, "text": "hi", "reply_markup": markup}
    description = await refused(api, "sendMessage", nested)
    assert 'unknown field "colour"' in description
    assert "reply_markup.inline_keyboard[0][0]" in description


async def test_wrong_types(api: RawApi, chat: int) -> None:
    description = await refused(api, "sendMessage", {"chat_id": chat, "text": 5})
    assert description == 'Bad Request: field "text" must be of type String'
    description = await refused(api, "getUpdates", {"limit": "ten"})
    assert description == 'Bad Request: field "limit" must be of type Integer'
    params = {"chat_id": chat, "text": "hi", "disable_notification": "yes"}
    description = await refused(api, "sendMessage", params)
    assert description == 'Bad Request: field "disable_notification" must be of type Boolean'
    params = {"chat_id": chat, "text": "hi", "reply_markup": {"inline_keyboard": [["x"]]}}
    description = await refused(api, "sendMessage", params)
    assert "reply_markup.inline_keyboard[0][0]" in description
    assert "InlineKeyboardButton" in description


async def test_strings_of_numbers_and_booleans_are_accepted(api: RawApi, chat: int) -> None:
    params = {"chat_id": str(chat), "text": "hi", "disable_notification": "true"}
    sent = await api.ok("sendMessage", params)
    assert sent["chat"]["id"] == chat


async def test_missing_required_nested_field(api: RawApi, chat: int) -> None:
    params = {
        "chat_id": chat,
        "text": "hi",
        "reply_markup": {"inline_keyboard": [[{"url": "https://a.b"}]]},
    }
    description = await refused(api, "sendMessage", params)
    assert 'field "text" is required' in description


@pytest.mark.parametrize(
    ("button_fields", "expected"),
    [
        ({}, "Text buttons are unallowed in the inline keyboard"),
        ({"callback_data": "a", "url": "https://example.org"}, "exactly one of the optional"),
        ({"callback_data": ""}, "BUTTON_DATA_INVALID"),
    ],
)
async def test_inline_button_needs_exactly_one_action(
    api: RawApi, chat: int, button_fields: dict[str, str], expected: str
) -> None:
    markup = {"inline_keyboard": [[{"text": "t", **button_fields}]]}
    description = await refused(
        api, "sendMessage", {"chat_id": chat, "text": "hi", "reply_markup": markup}
    )
    assert expected in description


async def test_union_reply_markup_types(api: RawApi, chat: int) -> None:
    keyboard = {
        "keyboard": [[{"text": "分享位置", "request_location": True}]],
        "resize_keyboard": True,
    }
    sent = await api.ok("sendMessage", {"chat_id": chat, "text": "hi", "reply_markup": keyboard})
    assert "reply_markup" not in sent  # Telegram only echoes inline keyboards
    await api.ok(
        "sendMessage", {"chat_id": chat, "text": "hi", "reply_markup": {"remove_keyboard": True}}
    )
    await api.ok(
        "sendMessage", {"chat_id": chat, "text": "hi", "reply_markup": {"force_reply": True}}
    )
    description = await refused(
        api,
        "sendMessage",
        {
            "chat_id": chat,
            "text": "hi",
            "reply_markup": {"keyboard": [[{"text": "a", "bogus": 1}]]},
        },
    )
    assert "KeyboardButton" in description and "bogus" in description


async def test_malformed_reply_markup_json(api: RawApi, chat: int) -> None:
    params = {"chat_id": str(chat), "text": "hi", "reply_markup": '{"inline_keyboard": ['}
    description = await refused(api, "sendMessage", params, encoding="form")
    assert description == "Bad Request: can't parse reply keyboard markup JSON object"


async def test_bad_html(api: RawApi, standin: StandIn, chat: int) -> None:
    params = {"chat_id": chat, "text": "<foo>hi</foo>", "parse_mode": "HTML"}
    description = await refused(api, "sendMessage", params)
    assert (
        description
        == 'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 0'
    )
    params["text"] = "1 < 2"
    await refused(api, "sendMessage", params)
    params["text"] = "<b>未闭合"
    await refused(api, "sendMessage", params)
    # Without parse_mode the same text is fine.
    sent = await api.ok("sendMessage", {"chat_id": chat, "text": "<foo>hi</foo>"})
    assert sent["text"] == "<foo>hi</foo>"
    assert len(standin.violations) == 3
    params = {"chat_id": chat, "text": "hi", "parse_mode": "BBCode"}
    assert await refused(api, "sendMessage", params) == "Bad Request: unsupported parse_mode"


async def test_bad_html_caption(api: RawApi, chat: int) -> None:
    params = {
        "chat_id": chat,
        "photo": ("a.png", b"\x89PNG"),
        "caption": "<i>x",
        "parse_mode": "HTML",
    }
    description = await refused(api, "sendPhoto", params, encoding="multipart")
    assert description.startswith("Bad Request: can't parse entities: Can't find end tag")


async def test_unknown_method_and_wrong_token(api: RawApi, standin: StandIn) -> None:
    status, body = await api.call("sendTelepathy", {"chat_id": 1})
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    status, body = await api.call("getMe", token="1:wrong")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    assert [(v["method"], v["error_code"]) for v in standin.violations] == [
        ("sendTelepathy", 404),
        ("getMe", 401),
    ]


async def test_method_names_are_case_insensitive(api: RawApi) -> None:
    me = await api.ok("GETME")
    assert me["is_bot"] is True and me["username"] == "HaitangBot"


@pytest.mark.parametrize("encoding", ["json", "form", "multipart", "query"])
async def test_every_encoding_is_parsed(api: RawApi, chat: int, encoding: str) -> None:
    markup = button("go")
    params: dict[str, Any] = {"chat_id": str(chat), "text": "编码", "reply_markup": markup}
    if encoding == "query":
        params["reply_markup"] = '{"inline_keyboard": [[{"text": "按钮", "callback_data": "go"}]]}'
    sent = await api.ok("sendMessage", params, encoding=encoding)
    assert sent["text"] == "编码"
    assert sent["reply_markup"] == markup


async def test_commands_are_validated(api: RawApi) -> None:
    bad = {"commands": [{"command": "Start!", "description": "开始"}]}
    assert await refused(api, "setMyCommands", bad) == "Bad Request: BOT_COMMAND_INVALID"
    scope = {"type": "galaxy"}
    good = {"commands": [{"command": "start", "description": "开始"}], "scope": scope}
    description = await refused(api, "setMyCommands", good)
    assert 'type "galaxy"' in description


async def test_other_spec_methods_validate_then_answer_true(
    api: RawApi, standin: StandIn, chat: int
) -> None:
    assert await api.ok("setMessageReaction", {"chat_id": chat, "message_id": 1}) is True
    call = standin.calls[-1]
    assert call["method"] == "setMessageReaction" and call["implemented"] is False
    await refused(api, "setMessageReaction", {"chat_id": chat})


async def test_chat_action_values(api: RawApi, chat: int) -> None:
    assert await api.ok("sendChatAction", {"chat_id": chat, "action": "typing"}) is True
    description = await refused(api, "sendChatAction", {"chat_id": chat, "action": "dancing"})
    assert description == "Bad Request: wrong parameter action in request"


async def test_unparseable_bodies_are_violations(api: RawApi, standin: StandIn) -> None:
    url = f"{standin.base_url}/bot{TOKEN}/sendMessage"
    bodies = [
        ("application/json", b"{not json"),
        ("application/json", b"[1, 2]"),
        ("multipart/form-data; boundary=zzz", b"--zzz\r\nContent-Disposition: form-data\r\n\r\nx"),
    ]
    for content_type, data in bodies:
        async with api.session.post(
            url, data=data, headers={"Content-Type": content_type}
        ) as response:
            assert response.status == 400
            body = await response.json()
            assert body["ok"] is False and body["description"].startswith("Bad Request: ")
    assert len(standin.violations) == 3
