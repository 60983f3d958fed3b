"""The bundled spec, and the stand-in's own answers checked against it."""

from __future__ import annotations

from typing import Any

import pytest

from bot.standin import SandboxClient, StandIn
from bot.standin.spec import load_spec
from bot.standin.validation import BadRequest, RequestValidator
from tests.standin.helpers import RawApi


def test_spec_is_loaded_once_and_complete() -> None:
    spec = load_spec()
    assert spec is load_spec()
    assert spec.version.startswith("Bot API")
    assert spec.method("SENDMESSAGE") is spec.method("sendMessage")
    send = spec.method("sendMessage")
    assert send is not None and send.fields["text"].required
    assert len(spec.method_names) > 150
    scopes = spec.concrete_types("BotCommandScope")
    assert [spec.discriminator(t) for t in scopes][4] == ("type", "chat")


def test_response_checker_rejects_bad_objects() -> None:
    checker = RequestValidator(load_spec())
    with pytest.raises(BadRequest, match="unknown field"):
        checker.check_value({"id": 1, "type": "private", "mood": "ok"}, ("Chat",))
    with pytest.raises(BadRequest, match="is required"):
        checker.check_value({"id": 1}, ("Chat",))


async def test_answers_fit_the_spec(api: RawApi, sandbox: SandboxClient, chat: int) -> None:
    checker = RequestValidator(load_spec())
    markup = {"inline_keyboard": [[{"text": "好", "callback_data": "ok"}]]}
    sent = await api.ok(
        "sendMessage",
        {"chat_id": chat, "text": "<b>a</b>", "parse_mode": "HTML", "reply_markup": markup},
    )
    await sandbox.press(chat, sent["message_id"], "ok")
    await sandbox.send_photo(chat, caption="照片")
    await sandbox.send_location(chat, 31.3, 120.6)
    doc = await api.ok(
        "sendDocument", {"chat_id": str(chat), "document": ("a.txt", b"x")}, encoding="multipart"
    )
    answers: list[tuple[str, Any]] = [
        ("User", await api.ok("getMe")),
        ("Message", sent),
        ("Message", doc),
        (
            "Message",
            await api.ok("editMessageText", {"chat_id": chat, "message_id": 2, "text": "b"}),
        ),
        ("File", await api.ok("getFile", {"file_id": doc["document"]["file_id"]})),
        ("ChatFullInfo", await api.ok("getChat", {"chat_id": chat})),
        ("WebhookInfo", await api.ok("getWebhookInfo")),
        ("BotName", await api.ok("getMyName")),
        ("MenuButton", await api.ok("getChatMenuButton", {"chat_id": chat})),
    ]
    updates = await api.ok("getUpdates")
    assert len(updates) == 4
    answers += [("Update", u) for u in updates]
    for type_name, value in answers:
        checker.check_value(value, (type_name,), type_name)


async def test_every_spec_method_answers_json_without_crashing(
    api: RawApi, standin: StandIn
) -> None:
    for name in load_spec().method_names:
        status, body = await api.call(name, {})
        assert status in (200, 400, 403), (name, status, body)
        assert body["ok"] is (status == 200)
    assert all(v["error_code"] == 400 for v in standin.violations)


async def test_unexpected_errors_answer_500_json(
    api: RawApi, standin: StandIn, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom(request: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setitem(standin.api._handlers, "getme", boom)
    status, body = await api.call("getMe")
    assert (status, body) == (
        500,
        {"ok": False, "error_code": 500, "description": "Internal Server Error"},
    )
    assert "stand-in failed on getMe" in caplog.text
    assert (await api.ok("getWebhookInfo"))["url"] == ""
