"""The platform-neutral conversation engine: sessions, turns and their context windows.

No front end lives here: the Discord bot, the terminal chat and the HTTP API drive
conversations through `Engine`, so they behave the same. Only `situations` and `storage` are
imported below this package, never `discord`, `openai` or `aiohttp`.
"""

from bot.engine.attach import Binding
from bot.engine.context import Context
from bot.engine.core import Engine
from bot.engine.starting import Pinned, Started
from bot.engine.turn import Incoming, Turn

__all__ = ["Binding", "Context", "Engine", "Incoming", "Pinned", "Started", "Turn"]
