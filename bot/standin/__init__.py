"""A Telegram Bot API stand-in for tests and the local sandbox.

``StandIn`` serves the Bot API (validated strictly against the bundled spec) plus a control
API under ``/sandbox/``; ``SandboxClient`` drives the control API over HTTP. See
docs/sandbox.md.
"""

from bot.standin.client import SandboxClient, SandboxError
from bot.standin.delivery import RateLimits
from bot.standin.server import StandIn

__all__ = ["RateLimits", "SandboxClient", "SandboxError", "StandIn"]
