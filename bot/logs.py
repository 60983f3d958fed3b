"""Logging: details go to the log (stderr), never to a user."""

from __future__ import annotations

import logging
import os


def setup_logging(default_level: str = "INFO") -> None:
    level = os.environ.get("HAITANG_LOG_LEVEL", default_level).upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiogram logs every handled update at INFO; keep the console readable.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
