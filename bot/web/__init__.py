"""The sandbox chat page: a Telegram-like chat in the browser over the stand-in's control API.

``mount_chat_page(app, personas)`` adds it to the stand-in's aiohttp application before it
starts; ``persona_loader(session_factory)`` lists the users to play from the database.
"""

from bot.web.page import mount_chat_page, render_page
from bot.web.personas import (
    MAIN_PERSONA_IDS,
    PersonaSource,
    PersonaView,
    load_personas,
    persona_loader,
)

__all__ = [
    "MAIN_PERSONA_IDS",
    "PersonaSource",
    "PersonaView",
    "load_personas",
    "mount_chat_page",
    "persona_loader",
    "render_page",
]
