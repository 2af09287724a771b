"""`/usage`: messages, replies and tokens over the last days, yours or the whole server's.

Always answered privately. `scope:server` needs Manage Server; `scope:me` counts what you
wrote here and the replies that answered you (in a DM: every DM of yours with the bot).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.cogs._common import require_permission
from bot.discord_app.errors import ServerOnly
from bot.discord_app.places import guild_prefix
from bot.discord_app.responses import defer, send
from bot.engine.usage import MAX_DAYS, Totals, UsageReport, usage_query

if TYPE_CHECKING:
    from bot.discord_app.bot import SessionBot

Interaction = discord.Interaction[Any]
Scope = Literal["me", "server"]
SHOWN = 10  # rows per table


class UsageCog(commands.Cog):
    """How much the personas are used."""

    def __init__(self, bot: SessionBot) -> None:
        self.bot = bot
        self.engine = bot.engine
        super().__init__()

    @app_commands.command()
    @app_commands.describe(
        scope="Your own usage here, or the whole server's (needs Manage Server)",
        days=f"How many days back to count (1 to {MAX_DAYS}, default 7)",
    )
    async def usage(
        self,
        interaction: Interaction,
        scope: Scope = "me",
        days: app_commands.Range[int, 1, MAX_DAYS] = 7,
    ) -> None:
        """Show messages, replies and tokens: yours, or the whole server's."""
        guild_id = interaction.guild_id
        if scope == "server":
            if guild_id is None:
                raise ServerOnly("Manage Server")
            require_permission(interaction, "manage_guild", "Manage Server")
        await defer(interaction, ephemeral=True)
        author = str(interaction.user.id) if scope == "me" else None
        query = usage_query(
            self.engine.clock(), days, key_prefix=guild_prefix(guild_id), author_id=author
        )
        report = await self.engine.usage(query, days)
        await send(interaction, self.describe(report, scope, guild_id), ephemeral=True)

    def describe(self, report: UsageReport, scope: Scope, guild_id: int | None) -> str:
        """The answer: the totals, then per persona (and per person for a server)."""
        days = "the last day" if report.days == 1 else f"the last {report.days} days"
        whose = "Your usage" if scope == "me" else "This server's usage"
        where = " in your DMs with me" if guild_id is None else (" here" if scope == "me" else "")
        lines = [f"**{whose}{where}, {days}:** {figures(report.total)}."]
        if report.personas:
            lines.append("**By persona**")
            lines += [
                f"{self._persona(agent_id)}: {figures(totals)}"
                for agent_id, totals in list(report.personas.items())[:SHOWN]
            ]
        if scope == "server" and report.people:
            lines.append("**By person**")
            lines += [
                f"<@{person}>: {figures(totals)}"
                for person, totals in list(report.people.items())[:SHOWN]
            ]
        return "\n".join(lines)

    def _persona(self, agent_id: str) -> str:
        profile = self.engine.find_persona(agent_id)
        return profile.name if profile is not None else agent_id


def figures(totals: Totals) -> str:
    """`3 messages, 3 replies, 1,234 tokens`."""
    return (
        f"{_count(totals.messages, 'message')}, {_count(totals.replies, 'reply', 'replies')}, "
        f"{_count(totals.tokens, 'token')}"
    )


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"
