"""Simulated users: they type and press buttons through the sandbox control API only,
and read what they received, as a person would."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.standin.client import SandboxClient

Message = dict[str, Any]


def buttons(message: Message) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def callback_of(message: Message, text: str) -> str:
    markup = message.get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if button["text"] == text:
                return str(button["callback_data"])
    raise AssertionError(f"no button {text!r} on {message.get('text')!r}: {buttons(message)}")


@dataclass
class Pressed:
    """What a button press led to: the pressed message as it is now, new messages, the answer."""

    message: Message
    new: list[Message] = field(default_factory=list)
    answer: dict[str, Any] | None = None


class Person:
    def __init__(
        self,
        client: SandboxClient,
        user_id: int,
        first_name: str = "",
        outbox_delivered: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.client = client
        self.user_id = user_id
        self.first_name = first_name or f"用户{user_id}"
        # waits until the notices that are due have left the outbox (the paced sender delivers
        # them after the reply, so a quiet moment of the Bot API alone does not prove it)
        self.outbox_delivered = outbox_delivered

    async def messages(self) -> list[Message]:
        return await self.client.messages(self.user_id)

    async def bot_messages(self) -> list[Message]:
        return [m for m in await self.messages() if m["from"] == "bot"]

    async def last(self) -> Message:
        received = await self.bot_messages()
        assert received, "the bot has sent nothing"
        return received[-1]

    async def _settle(self) -> None:
        assert await self.client.wait_idle(quiet_ms=150, timeout_s=10), "the bot did not go quiet"
        if self.outbox_delivered is not None:
            await self.outbox_delivered()
            assert await self.client.wait_idle(quiet_ms=50, timeout_s=10), (
                "the bot did not go quiet"
            )

    async def send(self, text: str) -> list[Message]:
        """Type a message; returns the bot's messages that arrived after it."""
        sent = await self.client.send_text(self.user_id, text, first_name=self.first_name)
        await self._settle()
        return [m for m in await self.bot_messages() if m["message_id"] > sent["message_id"]]

    async def texts_after(self, text: str) -> list[str]:
        return [m["text"] for m in await self.send(text)]

    async def press(self, button_text: str, message: Message | None = None) -> Pressed:
        """Tap a button, on the given message or the newest bot message that has it."""
        if message is None:
            candidates = [m for m in await self.bot_messages() if button_text in buttons(m)]
            assert candidates, f"no message has a button {button_text!r}"
            message = candidates[-1]
        return await self.press_data(message, callback_of(message, button_text))

    async def press_data(self, message: Message, data: str, *, forge: bool = False) -> Pressed:
        last_id = max(m["message_id"] for m in await self.messages())
        pressed = await self.client.press(self.user_id, message["message_id"], data, forge=forge)
        await self._settle()
        everything = await self.messages()
        now = next((m for m in everything if m["message_id"] == message["message_id"]), message)
        answers = await self.client.callback_answers(self.user_id)
        answer = next(
            (a for a in answers if a["callback_query_id"] == pressed["callback_query_id"]), None
        )
        new = [m for m in everything if m["from"] == "bot" and m["message_id"] > last_id]
        return Pressed(message=now, new=new, answer=answer)

    async def commands(self) -> list[str]:
        return [c["command"] for c in await self.client.commands(self.user_id)]
