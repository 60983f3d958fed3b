"""A real aiogram Bot talks to the stand-in: its encoding is accepted and answers parse."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.standin import SandboxClient, StandIn
from tests.standin.helpers import TOKEN


@pytest.fixture
async def bot(standin: StandIn) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(standin.base_url))
    bot = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    try:
        yield bot
    finally:
        await bot.session.close()


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=f"pick:{t}")] for t in labels]
    )


async def test_aiogram_round_trip(
    bot: Bot, standin: StandIn, sandbox: SandboxClient, chat: int
) -> None:
    me = await bot.get_me()
    assert me.username == "HaitangBot"
    assert me.id == 123456789

    sent = await bot.send_message(chat, "<b>你好</b>，请选择：", reply_markup=keyboard("甲", "乙"))
    assert isinstance(sent, Message)
    assert sent.text == "你好，请选择："
    assert sent.entities is not None and sent.entities[0].type == "bold"
    assert sent.reply_markup is not None
    assert sent.reply_markup.inline_keyboard[1][0].callback_data == "pick:乙"

    edited = await bot.edit_message_text(
        "已选择 <i>甲</i>", chat_id=chat, message_id=sent.message_id
    )
    assert isinstance(edited, Message)
    assert edited.text == "已选择 甲"
    assert edited.edit_date is not None
    assert edited.reply_markup is None

    doc = await bot.send_document(
        chat, BufferedInputFile(b"col1,col2\n1,2\n", filename="名单.csv"), caption="名单"
    )
    assert doc.document is not None
    assert doc.document.file_name == "名单.csv"
    assert doc.caption == "名单"
    file = await bot.get_file(doc.document.file_id)
    assert file.file_size == 14
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == b"col1,col2\n1,2\n"

    scope = BotCommandScopeChat(chat_id=chat)
    assert await bot.set_my_commands(
        [
            BotCommand(command="start", description="开始"),
            BotCommand(command="help", description="帮助"),
        ],
        scope=scope,
    )
    commands = await bot.get_my_commands(scope=scope)
    assert [c.command for c in commands] == ["start", "help"]
    assert [c["command"] for c in await sandbox.commands(chat)] == ["start", "help"]

    photo = await bot.send_photo(
        chat,
        BufferedInputFile(
            b"\x89PNG\r\n\x1a\n" + bytes(8) + b"\x00\x00\x00\x10\x00\x00\x00\x08", "p.png"
        ),
    )
    assert photo.photo is not None and photo.photo[-1].width == 16

    assert standin.violations == []
    shown = await sandbox.messages(chat)
    assert [m["from"] for m in shown] == ["user", "bot", "bot", "bot"]
    assert shown[1]["text"] == "已选择 甲" and shown[1]["edited"] is True
    assert shown[2]["document"]["file_name"] == "名单.csv"
    assert shown[3]["has_photo"] is True


async def test_aiogram_sees_telegram_errors(
    bot: Bot, standin: StandIn, sandbox: SandboxClient, chat: int
) -> None:
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(
            chat,
            "x",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="a", callback_data="x" * 65)]]
            ),
        )
    await sandbox.add_fault("sendMessage", 429, retry_after=3, count=1)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(chat, "hi")
    assert caught.value.retry_after == 3
    await sandbox.add_fault("sendMessage", 403, chat_id=chat)
    with pytest.raises(TelegramForbiddenError, match="blocked"):
        await bot.send_message(chat, "hi")
    sent = await bot.send_message(chat, "hi")
    assert sent.text == "hi"
    assert [v["description"] for v in standin.violations] == ["Bad Request: BUTTON_DATA_INVALID"]


async def test_dispatcher_polling_end_to_end(
    bot: Bot, standin: StandIn, sandbox: SandboxClient
) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        await message.answer(
            f"欢迎，{message.chat.first_name}！参数：{command.args}", reply_markup=keyboard("甲")
        )

    @router.callback_query(F.data.startswith("pick:"))
    async def pick(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"你选了 {query.data}")
        await query.answer("好的")

    dp = Dispatcher()
    dp.include_router(router)
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        await sandbox.send_text(31, "/start invite-abc", first_name="王芳")
        assert await sandbox.wait_idle(quiet_ms=200, timeout_s=10)
        reply = await sandbox.last_bot_message(31)
        assert reply is not None
        assert reply["text"] == "欢迎，王芳！参数：invite-abc"
        await sandbox.press(31, reply["message_id"], sandbox.find_button(reply, "甲"))
        assert await sandbox.wait_idle(quiet_ms=200, timeout_s=10)
        assert [m["text"] for m in await sandbox.messages(31)] == [
            "/start invite-abc",
            "你选了 pick:甲",
        ]
        answers = await sandbox.callback_answers(31)
        assert [a["text"] for a in answers] == ["好的"]
    finally:
        await dp.stop_polling()
        await polling
    assert await sandbox.violations() == []
