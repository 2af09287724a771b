"""The regenerate and swipe buttons (↻, ◀ n/N ▶): persistent components of a reply.

Their state is in their custom ids (the stored reply's id and how many Discord messages show
it), so they work after a restart; a click goes to the bot's `swipes` (see `swipes.py`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

import discord

from bot.discord_app.responses import NO_MENTIONS
from bot.discord_app.webhooks import Hooks
from bot.engine.regenerate import Swipe

if TYPE_CHECKING:
    from discord.abc import MessageableChannel

MAX_PARTS: Final = 99  # the most parts a custom id counts (a longer reply is not split so far)
SWIPE_ID = re.compile(
    r"sessionbot:swipe:(?P<op>regen|prev|next):(?P<reply>[0-9]{1,19}):(?P<parts>[0-9]{1,2})"
)
LABELS: Final = {"regen": "↻", "prev": "◀", "next": "▶"}


class Swiper(Protocol):
    async def clicked(
        self, interaction: discord.Interaction[Any], op: str, reply_id: int, parts: int
    ) -> None: ...


class HasSwipes(Protocol):
    swipes: Swiper


def swipe_id(op: str, reply_id: int, parts: int) -> str:
    return f"sessionbot:swipe:{op}:{reply_id}:{min(parts, MAX_PARTS)}"


class SwipeButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=SWIPE_ID):
    """↻, ◀ or ▶ under a reply; its state is in its custom id, so it survives restarts."""

    def __init__(self, op: str, reply_id: int, parts: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=LABELS[op],
                style=discord.ButtonStyle.secondary,
                custom_id=swipe_id(op, reply_id, parts),
            )
        )
        self.op = op
        self.reply_id = reply_id
        self.parts = parts

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SwipeButton:
        return cls(match["op"], int(match["reply"]), int(match["parts"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = cast(HasSwipes, interaction.client)
        await bot.swipes.clicked(interaction, self.op, self.reply_id, self.parts)


def swipe_view(reply_id: int, parts: int, swipe: Swipe) -> discord.ui.View | None:
    """↻ for a reply to a message; ◀ n/N ▶ when it has alternatives; None if neither."""
    view = discord.ui.View(timeout=None)
    if swipe.count > 1:
        view.add_item(SwipeButton("prev", reply_id, parts))
        view.add_item(
            discord.ui.Button(
                label=f"{swipe.index + 1}/{swipe.count}",
                disabled=True,
                custom_id=f"sessionbot:swipe:at:{reply_id}",
            )
        )
        view.add_item(SwipeButton("next", reply_id, parts))
    if swipe.reply.reply_to is not None:
        view.add_item(SwipeButton("regen", reply_id, parts))
    return view if view.children else None


class Placed(Protocol):
    """Where a message of ours is, without the message itself."""

    @property
    def channel(self) -> MessageableChannel: ...

    @property
    def webhook_id(self) -> int | None: ...

    @property
    def last(self) -> int: ...


async def clear_view(hooks: Hooks, placed: Placed) -> None:
    """Take the buttons from the message `placed.last` of ours, leaving its text alone."""
    hook = hooks.known(placed.webhook_id)
    if hook is None:
        message = discord.PartialMessage(channel=placed.channel, id=placed.last)
        await message.edit(view=None, allowed_mentions=NO_MENTIONS)
        return
    await _hook_view(hook, placed.channel, placed.last, None)


async def set_view(hooks: Hooks, message: discord.Message, view: discord.ui.View | None) -> None:
    """Put buttons on a message of ours (None takes them away), leaving its text alone."""
    hook = hooks.known(message.webhook_id)
    if hook is None:
        await message.edit(view=view, allowed_mentions=NO_MENTIONS)
        return
    await _hook_view(hook, message.channel, message.id, view)


async def _hook_view(
    hook: discord.Webhook,
    channel: MessageableChannel,
    message_id: int,
    view: discord.ui.View | None,
) -> None:
    """Set the buttons of a webhook's message (in a thread of the webhook's channel too)."""
    extra: dict[str, Any] = {}
    if channel.id != hook.channel_id:
        extra["thread"] = channel
    await hook.edit_message(message_id, view=view, **extra)
