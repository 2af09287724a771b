"""Answering interactions by Discord's rules, and the one place errors become replies.

The first response to an interaction must come within 3 seconds; anything slower is deferred
first and answered with a follow-up. Refusals and errors are always ephemeral: one sentence
that says what to do. Unexpected errors get an apology and a logged traceback with the
command, guild and user ids.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.engine.errors import DOMAIN_ERRORS, SessionbotError

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
APOLOGY = "Sorry, something went wrong on my side; it has been logged. Please try again later."


async def send(
    interaction: discord.Interaction[Any],
    content: str | None = None,
    *,
    ephemeral: bool = False,
    **kwargs: Any,
) -> None:
    """Respond, or follow up if the interaction was already answered or deferred."""
    kwargs.setdefault("allowed_mentions", NO_MENTIONS)
    if content is not None:
        kwargs["content"] = content
    if interaction.response.is_done():
        await interaction.followup.send(ephemeral=ephemeral, **kwargs)
    else:
        await interaction.response.send_message(ephemeral=ephemeral, **kwargs)


async def refuse(interaction: discord.Interaction[Any], sentence: str) -> None:
    """An ephemeral one-sentence refusal."""
    await send(interaction, sentence, ephemeral=True)


async def defer(interaction: discord.Interaction[Any], *, ephemeral: bool) -> None:
    """Acknowledge now (slow work follows); ephemerality is decided here, once."""
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)


def user_sentence(error: BaseException) -> str | None:
    """The sentence for an expected error, or None if the error is unexpected."""
    if isinstance(error, app_commands.CommandInvokeError):
        return user_sentence(error.original)
    if isinstance(error, app_commands.TransformerError):
        cause = error.__cause__
        expected = cause is not None and user_sentence(cause)
        return expected or f"{error.value!r} is not a valid value here; pick a suggestion."
    if isinstance(error, SessionbotError):
        return error.public_message
    if isinstance(error, DOMAIN_ERRORS):
        return str(error)
    if isinstance(error, app_commands.MissingPermissions):
        needed = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return f"You need the {needed} permission for this; ask a server admin."
    if isinstance(error, app_commands.BotMissingPermissions):
        needed = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return f"I need the {needed} permission here; ask a server admin to grant it."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in server channels only; run it in a server."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} seconds."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here; ask a server admin if you think you should."
    if isinstance(error, discord.Forbidden):
        return "Discord refused: I'm missing a permission in this channel; ask a server admin."
    return None


async def report_error(
    interaction: discord.Interaction[Any], error: BaseException, *, what: str | None = None
) -> None:
    """Turn any error of an interaction into an ephemeral reply (and a log line)."""
    command = what or (interaction.command.qualified_name if interaction.command else "?")
    sentence = user_sentence(error)
    if sentence is None:
        original = getattr(error, "original", error)
        log.error(
            "unexpected error in %s (guild %s, channel %s, user %s)",
            command,
            interaction.guild_id,
            interaction.channel_id,
            interaction.user.id,
            exc_info=original,
        )
        sentence = APOLOGY
    else:
        log.debug("refused %s for user %s: %s", command, interaction.user.id, sentence)
    try:
        await refuse(interaction, sentence)
    except discord.HTTPException:
        log.warning("could not tell user %s about an error in %s", interaction.user.id, command)
