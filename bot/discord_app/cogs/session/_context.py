"""`/session context`: what the model would be sent for the next reply, only to the caller."""

from __future__ import annotations

import io
from typing import Any

import discord

from bot.discord_app.embeds import COLOUR, shorten
from bot.discord_app.places import place_name
from bot.discord_app.responses import defer, send
from bot.engine import Engine
from bot.engine.inspect import ContextView, inspect_context, prompt_text
from storage import Session

Interaction = discord.Interaction[Any]
SITUATION_PREVIEW = 900  # characters of the rendered situation shown in the embed


async def send_context(engine: Engine, interaction: Interaction, session: Session) -> None:
    """A short embed, plus `context-<id>.txt` with every message the model would get.

    The templates see the caller as the person being answered and this channel as the place,
    exactly as they would for the caller's next message here.
    """
    await defer(interaction, ephemeral=True)
    view = await inspect_context(
        engine,
        session.id,
        place=place_name(interaction.channel),
        user=interaction.user.display_name,
    )
    data = io.BytesIO(prompt_text(view).encode("utf-8"))
    file = discord.File(data, filename=f"context-{session.id}.txt")
    await send(interaction, embed=context_embed(view), file=file, ephemeral=True)


def context_embed(view: ContextView) -> discord.Embed:
    """Budget, history kept and left out, and the start of the rendered situation."""
    context = view.context
    embed = discord.Embed(
        title=f"What {view.persona} sees next",
        description=f"```\n{_fenced(context.messages[0]['content'])}\n```",
        colour=COLOUR,
    )
    embed.add_field(
        name="Tokens", value=f"about {context.tokens:,} of {view.token_budget:,} (estimated)"
    )
    embed.add_field(name="Model", value=f"`{context.request.model}`")
    history = f"{view.kept} of {view.stored} message(s) fit (at most {view.max_messages})"
    if view.left_out:
        history += f"; {view.left_out} older left out"
    embed.add_field(name="History", value=history, inline=False)
    embed.add_field(name="Summary", value="yes" if view.session.summary else "none")
    embed.add_field(name="Example exchanges", value=str(view.examples))
    embed.set_footer(text="The attached file holds the whole prompt; your next message follows it.")
    return embed


def _fenced(situation: str) -> str:
    """The situation's start, safe inside a code block (a ``` in it would close the block)."""
    return shorten(situation, SITUATION_PREVIEW).replace("```", "`\u200b`\u200b`")
