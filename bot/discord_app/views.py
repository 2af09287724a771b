"""Components: the page buttons of `/session list`, the Retry button of a failed reply."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast
from uuid import UUID

import discord

from bot.discord_app.responses import refuse, report_error

log = logging.getLogger(__name__)

# load(cursor, page number) -> (the page's embed, the cursor of the page after it)
PageLoader = Callable[[str | None, int], Awaitable[tuple[discord.Embed, str | None]]]
RETRY_ID = re.compile(r"sessionbot:retry:(?P<session>[0-9a-f-]{36}):(?P<message>[0-9]{1,19})")


def retry_id(session_id: UUID, message_id: int) -> str:
    """The custom id of the Retry button that answers stored message `message_id` again."""
    return f"sessionbot:retry:{session_id}:{message_id}"


class Retrier(Protocol):
    async def retry(
        self, interaction: discord.Interaction[Any], session_id: UUID, message_id: int
    ) -> None: ...


class HasReplies(Protocol):
    replies: Retrier


class RetryButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=RETRY_ID):
    """Answers a stored message again; works across restarts (its state is in its custom id)."""

    def __init__(self, session_id: UUID, message_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Retry",
                style=discord.ButtonStyle.secondary,
                custom_id=retry_id(session_id, message_id),
            )
        )
        self.session_id = session_id
        self.message_id = message_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> RetryButton:
        return cls(UUID(match["session"]), int(match["message"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = cast(HasReplies, interaction.client)
        await bot.replies.retry(interaction, self.session_id, self.message_id)


def retry_view(session_id: UUID, message_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(RetryButton(session_id, message_id))
    return view


class PagerView(discord.ui.View):
    """Previous / Next buttons over pages that `load(cursor)` returns, for one user."""

    def __init__(
        self,
        *,
        owner_id: int,
        load: PageLoader,
        next_cursor: str | None,
        timeout: float = 600.0,
    ) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.load = load
        # The cursor that loads each page reached so far (None loads the first).
        self.cursors: list[str | None] = [None]
        if next_cursor is not None:
            self.cursors.append(next_cursor)
        self.page = 0
        self.interaction: discord.Interaction[Any] | None = None  # set once the list is shown
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page + 1 >= len(self.cursors)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await refuse(
            interaction, "These buttons belong to someone else's list; run `/session list`."
        )
        return False

    async def _show(self, interaction: discord.Interaction[Any], page: int) -> None:
        embed, next_cursor = await self.load(self.cursors[page], page + 1)
        self.page = page
        if next_cursor is not None and len(self.cursors) == page + 1:
            self.cursors.append(next_cursor)
        self._update_buttons()
        await interaction.response.edit_message(embed=embed, view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[PagerView]
    ) -> None:
        await self._show(interaction, max(self.page - 1, 0))

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[PagerView]
    ) -> None:
        await self._show(interaction, min(self.page + 1, len(self.cursors) - 1))

    async def on_timeout(self) -> None:
        """Take the buttons away when they stop working (the list itself stays)."""
        if self.interaction is not None:
            try:
                await self.interaction.edit_original_response(view=None)
            except discord.HTTPException as exc:
                log.debug("could not remove the page buttons: %s", exc)

    async def on_error(
        self,
        interaction: discord.Interaction[Any],
        error: Exception,
        item: discord.ui.Item[Any],
    ) -> None:
        await report_error(interaction, error, what="session list page")
