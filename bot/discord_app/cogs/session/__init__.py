"""`/session ...`: start, attach, list, tag, untag, inspect, end and export channel sessions."""

from bot.discord_app.cogs.session._cog import SessionCog

__all__ = ["SessionCog"]
