"""The abuse limits in Discord: who is exempt, and the notice a refused person sees.

The engine's `Quota` decides; here a Discord message becomes its `Ask` (the person, the
server's key prefix, the stored tokens; members with Manage Server are exempt from the
per-person rate) and a refusal becomes one short notice, posted as a reply that pings no one,
once per window. The refused message stays stored and is recorded as refused, so neither
catch-up nor a restart answers it later; the person can simply send again.
"""

from __future__ import annotations

import logging
import math

import discord

from bot.discord_app.places import Place, guild_prefix
from bot.discord_app.replies import quietly, say
from bot.engine import Engine
from bot.engine.limits import Rate
from bot.engine.quota import Ask, Refusal
from storage import Message

log = logging.getLogger(__name__)

_PER = {60.0: "a minute", 3600.0: "an hour", 86400.0: "a day"}


def exempt(author: discord.abc.User) -> bool:
    """True for a server member with Manage Server (not held to the per-person rate)."""
    return isinstance(author, discord.Member) and author.guild_permissions.manage_guild


def ask_of(message: discord.Message, place: Place, stored: Message) -> Ask:
    """The stored message as the engine's limits see it."""
    return Ask(
        person=str(message.author.id),
        scope=None if place.is_dm else guild_prefix(place.guild_id),
        tokens=stored.tokens,
        exempt=exempt(message.author),
    )


async def admitted(engine: Engine, message: discord.Message, place: Place, stored: Message) -> bool:
    """True if the stored message may be answered now; else record the refusal and, once per
    window, tell the person why and when to try again."""
    refusal = await engine.admit(ask_of(message, place, stored))
    if refusal is None:
        return True
    log.info(
        "limit (%s) refused message %s of user %s in %s; retry in %.0f s",
        refusal.kind, message.id, message.author.id, place.key, refusal.wait,
    )  # fmt: skip
    await engine.refused(stored)
    if refusal.notify:
        reference = message.to_reference(fail_if_not_exists=False)
        await quietly(say(message.channel, notice(refusal), reference=reference))
    return False


def notice(refusal: Refusal) -> str:
    """The one line a refused person sees."""
    wait = f"Try again in {duration(refusal.wait)}."
    if refusal.kind == "tokens":
        budget = f"{refusal.daily_tokens:,} " if refusal.daily_tokens else ""
        return f"This server has used its {budget}tokens for today (UTC). {wait}"
    rate = refusal.rate
    assert rate is not None
    if refusal.kind == "server":
        return f"This server is sending messages faster than I can answer: {pace(rate)}. {wait}"
    return f"You're sending messages faster than I can answer: {pace(rate)} here. {wait}"


def pace(rate: Rate) -> str:
    """`20 a minute`, `5 an hour`, `3 every 90 s`."""
    per = _PER.get(rate.seconds)
    return f"{rate.count} {per}" if per else f"{rate.count} every {duration(rate.seconds)}"


def duration(seconds: float) -> str:
    """A short wait: `12 s`, `4 min`, `3 h 12 min` (rounded up, at least 1 s)."""
    whole = max(1, math.ceil(seconds))
    if whole < 120:
        return f"{whole} s"
    minutes = math.ceil(whole / 60)
    if minutes < 120:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"
