"""The fake Discord drives the real, unmodified discord.py client end to end.

`MiniBot` is the smallest client that uses what sessionbot needs: the gateway (messages, DMs,
threads, interactions), REST (send, edit, typing, files, threads), an app-command tree with a
group, defer + follow-up, autocomplete and a button view. It is pointed at the fake exactly as
the bot must be in production: ``Route.BASE`` before login, the gateway URL from
``GET /gateway/bot`` into ``DiscordWebSocket.DEFAULT_GATEWAY`` in ``setup_hook``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import discord
import pytest
import yarl
from aiohttp import web
from discord import app_commands
from discord.gateway import DiscordWebSocket

from tests.fakes.discord_server import FakeDiscord, Permission

TOKEN = "test-token"


class Menu(discord.ui.View):
    def __init__(self, clicks: list[int]) -> None:
        super().__init__(timeout=60)
        self.clicks = clicks

    @discord.ui.button(label="OK", custom_id="menu:ok")
    async def ok(self, interaction: discord.Interaction, button: discord.ui.Button[Menu]) -> None:
        self.clicks.append(interaction.user.id)
        await interaction.response.edit_message(content="clicked", view=None)


class MiniBot(discord.Client):
    """A minimal client with the intents, commands and views sessionbot relies on."""

    def __init__(self, *, message_content: bool = True) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.dm_messages = True
        intents.message_content = message_content
        # guild_ready_timeout: on_ready fires this long after the last GUILD_CREATE (default 2 s).
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.messages: list[discord.Message] = []
        self.edits: list[discord.RawMessageUpdateEvent] = []
        self.deletes: list[discord.RawMessageDeleteEvent] = []
        self.threads: list[discord.Thread] = []
        self.clicks: list[int] = []
        self.ready_seen = asyncio.Event()
        self._add_commands()

    async def setup_hook(self) -> None:
        # The production wiring for the gateway: ask the configured REST base where it is.
        _, url, _ = await self.http.get_bot_gateway()
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        await self.tree.sync()

    async def on_ready(self) -> None:
        self.ready_seen.set()

    async def on_message(self, message: discord.Message) -> None:
        self.messages.append(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        self.edits.append(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.deletes.append(payload)

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.threads.append(thread)

    def _add_commands(self) -> None:
        @self.tree.command()
        async def ping(interaction: discord.Interaction) -> None:
            """Answer privately."""
            await interaction.response.send_message("pong", ephemeral=True)

        @self.tree.command()
        async def menu(interaction: discord.Interaction) -> None:
            """Show a button."""
            await interaction.response.send_message("pick one", view=Menu(self.clicks))

        @self.tree.command()
        @app_commands.default_permissions(manage_guild=True)
        async def purge(interaction: discord.Interaction) -> None:
            """Admins only."""
            await interaction.response.send_message("purged", ephemeral=True)

        note = app_commands.Group(name="note", description="Keep notes.")

        @note.command(name="add")
        @app_commands.describe(text="What to note.", private="Only you see the answer.")
        async def note_add(
            interaction: discord.Interaction, text: str, private: bool = False
        ) -> None:
            """Add a note."""
            await interaction.response.defer(ephemeral=private, thinking=True)
            await interaction.followup.send(f"noted: {text}")
            await interaction.followup.send("anything else?")

        @note_add.autocomplete("text")
        async def text_choices(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            words = ["milk", "mint", "bread"]
            return [app_commands.Choice(name=w, value=w) for w in words if w.startswith(current)]

        @note.command(name="who")
        @app_commands.describe(user="Whom to name.")
        async def note_who(interaction: discord.Interaction, user: discord.User) -> None:
            """Name a user."""
            await interaction.response.send_message(f"that is {user.name}")

        self.tree.add_command(note)


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, bot: MiniBot) -> AsyncIterator[MiniBot]:
    """Start `bot` against `fake` (REST base set before login), wait for on_ready, close it."""
    discord.http.Route.BASE = fake.api_base
    task = asyncio.create_task(bot.start(TOKEN))
    ready = asyncio.create_task(bot.ready_seen.wait())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=10, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()
            raise AssertionError("the client stopped before on_ready")
        assert ready in done, "on_ready did not fire within 10 s"
        yield bot
    finally:
        ready.cancel()
        await bot.close()
        await task


@dataclass
class World:
    guild: int
    general: int
    alice: int
    owner: int


@pytest.fixture
def world(fake_discord: FakeDiscord) -> World:
    owner = fake_discord.add_user("olga")
    guild = fake_discord.add_guild("Test Server", owner_id=owner)
    general = fake_discord.add_channel(guild, "general")
    fake_discord.add_channel(guild, "forum", type=15)
    alice = fake_discord.add_user("alice", guilds=[guild])
    return World(guild, general, alice, owner)


@pytest.fixture
async def bot(fake_discord: FakeDiscord, world: World) -> AsyncIterator[MiniBot]:
    async with running(fake_discord, MiniBot()) as client:
        yield client


async def received(fake: FakeDiscord, bot: MiniBot, message_id: int | str) -> discord.Message:
    """The message with this id once the client's on_message has seen it."""
    return await fake.wait_for(
        lambda: next((m for m in bot.messages if m.id == int(message_id)), None)
    )


async def test_client_connects_identifies_and_caches_the_guild(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    assert bot.user is not None and bot.user.id == fake_discord.bot_id
    guild = bot.get_guild(world.guild)
    assert guild is not None and guild.name == "Test Server"
    assert [c.name for c in guild.channels] == ["general", "forum"]
    assert isinstance(guild.get_channel(world.general), discord.TextChannel)
    assert guild.owner_id == world.owner
    assert guild.me.guild_permissions.send_messages
    [identify] = fake_discord.gateway.identifies
    assert identify["token"] == TOKEN
    assert identify["intents"] == bot.intents.value
    assert fake_discord.gateway.compressions == ["zlib-stream"]
    assert fake_discord.gateway.heartbeats >= 1


async def test_user_messages_edits_and_deletes_reach_the_client(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    sent = await fake_discord.send_message(world.general, world.alice, "hello bot")
    message = await received(fake_discord, bot, sent["id"])
    assert message.content == "hello bot"
    assert message.author.id == world.alice
    assert message.guild is not None and message.guild.id == world.guild
    assert message.channel.id == world.general

    await fake_discord.edit_message(message.id, "hello again")
    edit = await fake_discord.wait_for(lambda: bot.edits)
    assert edit[0].message.content == "hello again"
    await fake_discord.delete_message(message.id)
    delete = await fake_discord.wait_for(lambda: bot.deletes)
    assert delete[0].message_id == message.id


async def test_without_message_content_intent_only_mentions_carry_text(
    fake_discord: FakeDiscord, world: World
) -> None:
    async with running(fake_discord, MiniBot(message_content=False)) as bot:
        plain = await fake_discord.send_message(world.general, world.alice, "secret")
        mention = f"<@{fake_discord.bot_id}> hi"
        pinged = await fake_discord.send_message(world.general, world.alice, mention)
        assert (await received(fake_discord, bot, plain["id"])).content == ""
        message = await received(fake_discord, bot, pinged["id"])
        assert message.content == mention
        assert bot.user in message.mentions


async def test_send_edit_and_typing_are_recorded(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    channel = bot.get_channel(world.general)
    assert isinstance(channel, discord.TextChannel)
    await channel.typing()
    content = f"hi <@{world.alice}> @everyone"
    message = await channel.send(content, allowed_mentions=discord.AllowedMentions.none())
    await message.edit(content="hi again")
    loud = await channel.send(f"hey <@{world.alice}>")

    quiet, noisy = fake_discord.sent_messages(world.general)
    assert quiet.allowed_mentions == {"parse": []}
    assert not quiet.pings()
    assert quiet.content == "hi again"
    assert [edit["content"] for edit in quiet.edits] == ["hi again"]
    assert quiet.payload["author"]["id"] == str(fake_discord.bot_id)
    assert noisy.pings().users == {world.alice}
    assert fake_discord.typing == [world.general]
    # Discord echoes the bot's own messages back over the gateway.
    assert (await received(fake_discord, bot, loud.id)).author == bot.user


async def test_replies_with_files_and_user_attachments(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    files = [("notes.txt", b"remember milk")]
    sent = await fake_discord.send_message(world.general, world.alice, "see", attachments=files)
    message = await received(fake_discord, bot, sent["id"])
    assert await message.attachments[0].read() == b"remember milk"

    upload = discord.File(io.BytesIO(b"# notes"), "notes.md")
    reply = await message.reply("got it", file=upload, mention_author=False)
    [recorded] = fake_discord.sent_messages(world.general)
    assert recorded.reply_to == message.id
    assert recorded.file("notes.md") == b"# notes"
    assert not recorded.pings()
    assert reply.attachments[0].filename == "notes.md"


async def test_too_long_or_empty_messages_are_refused_like_discord(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    channel = bot.get_channel(world.general)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert (too_long.value.status, too_long.value.code) == (400, 50035)
    with pytest.raises(discord.HTTPException) as empty:
        await channel.send("")
    assert empty.value.code == 50006
    assert fake_discord.sent_messages(world.general) == []


async def test_command_tree_sync_registers_commands_with_ids(
    fake_discord: FakeDiscord, bot: MiniBot
) -> None:
    commands = await fake_discord.wait_commands_synced()
    by_name = {c["name"]: c for c in commands}
    assert set(by_name) == {"ping", "menu", "purge", "note"}
    assert [o["name"] for o in by_name["note"]["options"]] == ["add", "who"]
    assert by_name["purge"]["default_member_permissions"] == str(Permission.MANAGE_GUILD)
    assert len({c["id"] for c in commands}) == 4
    assert [c.name for c in await bot.tree.fetch_commands()] == list(by_name)


async def test_slash_command_answers_ephemerally(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    run = await fake_discord.invoke_command("ping", channel_id=world.general, user_id=world.alice)
    response = await fake_discord.wait_response(run)
    assert response["type"] == 4
    assert response["data"]["content"] == "pong"
    assert response["data"]["flags"] == 64
    assert fake_discord.interaction_responses(run.id) == [response]
    assert fake_discord.sent_messages(world.general) == []
    assert fake_discord.sent_messages(world.general, include_ephemeral=True) == [run.original]


async def test_deferred_response_is_filled_by_the_first_followup(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    run = await fake_discord.invoke_command(
        "note add", {"text": "milk", "private": True}, channel_id=world.general, user_id=world.alice
    )
    response = await fake_discord.wait_response(run)
    assert response == {"type": 5, "data": {"flags": 64}}
    await fake_discord.wait_until(lambda: len(run.messages) == 2)
    first, second = run.messages
    assert (first.content, first.ephemeral, first.loading) == ("noted: milk", True, False)
    assert (second.content, second.ephemeral, second.via) == ("anything else?", False, "followup")


async def test_subcommand_options_are_typed_and_resolved(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    run = await fake_discord.invoke_command(
        "note",
        {"user": world.alice},
        subcommand="who",
        channel_id=world.general,
        user_id=world.owner,
    )
    response = await fake_discord.wait_response(run)
    assert response["data"]["content"] == "that is alice"
    with pytest.raises(ValueError, match="no option"):
        await fake_discord.invoke_command(
            "note who", {"nobody": 1}, channel_id=world.general, user_id=world.alice
        )


async def test_autocomplete_answers_with_choices(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    run = await fake_discord.invoke_autocomplete(
        "note add", {"text": "mi"}, "text", channel_id=world.general, user_id=world.alice
    )
    await fake_discord.wait_response(run)
    assert run.response_type == 8
    assert [c["value"] for c in run.choices] == ["milk", "mint"]


async def test_button_click_reaches_the_view_callback(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    run = await fake_discord.invoke_command("menu", channel_id=world.general, user_id=world.alice)
    await fake_discord.wait_response(run)
    assert run.original is not None and run.original.custom_ids() == ["menu:ok"]

    click = await fake_discord.invoke_component("menu:ok", run.original.id, user_id=world.alice)
    assert (await fake_discord.wait_response(click))["type"] == 7
    assert bot.clicks == [world.alice]
    assert (run.original.content, run.original.components) == ("clicked", [])


async def test_default_member_permissions_keep_commands_from_other_users(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    with pytest.raises(PermissionError, match="default_member_permissions"):
        await fake_discord.invoke_command("purge", channel_id=world.general, user_id=world.alice)
    run = await fake_discord.invoke_command("purge", channel_id=world.general, user_id=world.owner)
    assert (await fake_discord.wait_response(run))["data"]["content"] == "purged"


async def test_direct_messages_have_no_guild(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    dm = fake_discord.open_dm(world.alice)
    sent = await fake_discord.send_message(dm, world.alice, "hi in private")
    message = await received(fake_discord, bot, sent["id"])
    assert message.guild is None
    assert isinstance(message.channel, discord.DMChannel)
    await message.channel.send("hello")
    user = await bot.fetch_user(world.alice)
    await user.send("again")  # opens the DM over REST
    assert [m.content for m in fake_discord.sent_messages(dm)] == ["hello", "again"]

    run = await fake_discord.invoke_command("ping", channel_id=dm, user_id=world.alice)
    assert (await fake_discord.wait_response(run))["data"]["content"] == "pong"
    assert "guild_id" not in run.payload and run.user_id == world.alice


async def test_threads_created_by_users_and_by_the_client(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    thread_id = await fake_discord.create_thread(world.general, "alice's thread", world.alice)
    thread = await fake_discord.wait_for(lambda: bot.get_channel(thread_id))
    assert isinstance(thread, discord.Thread) and thread.parent_id == world.general
    sent = await fake_discord.send_message(thread_id, world.alice, "in the thread")
    message = await received(fake_discord, bot, sent["id"])
    assert message.channel == thread and message.guild is not None

    channel = bot.get_channel(world.general)
    assert isinstance(channel, discord.TextChannel)
    starter = await channel.send("topic")
    made = await starter.create_thread(name="from a message")
    private = await channel.create_thread(name="private", type=discord.ChannelType.private_thread)
    assert made.id == starter.id
    await made.join()
    assert fake_discord.channel(private.id)["type"] == 12
    await fake_discord.wait_until(lambda: len(bot.threads) == 3)
    await private.send("inside")
    assert [m.content for m in fake_discord.sent_messages(private.id)] == ["inside"]

    forum = next(c for c in fake_discord.guild(world.guild).channels.values() if c["type"] == 15)
    post = await fake_discord.create_thread(int(forum["id"]), "a post", world.alice, content="q?")
    assert (await received(fake_discord, bot, post)).content == "q?"


async def test_reconnect_resumes_and_replays_missed_events(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    await fake_discord.reconnect_gateway()
    sent = await fake_discord.send_message(world.general, world.alice, "during reconnect")
    assert (await received(fake_discord, bot, sent["id"])).content == "during reconnect"
    await fake_discord.wait_until(lambda: len(fake_discord.gateway.resumes) == 1)
    await fake_discord.wait_ready()
    assert len(fake_discord.gateway.identifies) == 1


async def test_a_second_client_connects_after_the_first_closes(
    fake_discord: FakeDiscord, world: World
) -> None:
    async with running(fake_discord, MiniBot()) as first:
        sent = await fake_discord.send_message(world.general, world.alice, "one")
        await received(fake_discord, first, sent["id"])
    assert not fake_discord.gateway.ready
    async with running(fake_discord, MiniBot()) as second:
        await fake_discord.wait_ready()
        sent = await fake_discord.send_message(world.general, world.alice, "two")
        assert (await received(fake_discord, second, sent["id"])).content == "two"
        run = await fake_discord.invoke_command(
            "ping", channel_id=world.general, user_id=world.alice
        )
        await fake_discord.wait_response(run)
    assert len(fake_discord.gateway.identifies) == 2
    assert len(fake_discord.command_syncs) == 2


async def test_unknown_routes_answer_404_and_are_recorded(
    fake_discord: FakeDiscord, bot: MiniBot
) -> None:
    route = discord.http.Route("GET", "/guilds/{guild_id}/bans", guild_id=1)
    with pytest.raises(discord.NotFound):
        await bot.http.request(route)
    assert [r.path for r in fake_discord.unknown_requests] == ["/api/v10/guilds/1/bans"]
    fake_discord.unknown_requests.clear()  # the fixture fails tests that leave any


async def test_no_request_of_a_normal_session_gets_a_5xx_or_a_retry(
    fake_discord: FakeDiscord, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiohttp warns once per process about a string key on a request, and pytest turns that
    # warning into an error: a fake that used one answered the first request of a run with a
    # 500, which discord.py retried. Forget the keys already warned about so a string key
    # would fail this test whatever ran before it.
    monkeypatch.setattr(web.BaseRequest, "_seen_str_keys", set(), raising=False)
    async with running(fake_discord, MiniBot()) as bot:
        channel = bot.get_channel(world.general)
        assert isinstance(channel, discord.TextChannel)
        sent = await fake_discord.send_message(world.general, world.alice, "hello")
        await received(fake_discord, bot, sent["id"])
        message = await channel.send("hi")
        await message.edit(content="hi again")
        run = await fake_discord.invoke_command(
            "note add", {"text": "milk"}, channel_id=world.general, user_id=world.alice
        )
        await fake_discord.wait_until(lambda: len(run.messages) == 2)
    assert fake_discord.server_errors == []
    answered = [(r.method, r.path, r.status) for r in fake_discord.requests]
    assert [a for a in answered if a[2] is None or a[2] >= 500] == []
    paths = [(method, path) for method, path, _ in answered]
    assert paths.count(("GET", "/api/v10/users/@me")) == 1, "the first request was retried"


async def test_a_late_interaction_response_is_refused(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    fake_discord.interaction_deadline = 0.0
    run = await fake_discord.invoke_command("ping", channel_id=world.general, user_id=world.alice)
    await fake_discord.wait_until(lambda: bool(run.rejected))
    assert run.callbacks == []


async def test_a_wrong_token_fails_login() -> None:
    async with FakeDiscord(token="right") as fake:
        discord.http.Route.BASE = fake.api_base
        bot = MiniBot()
        with pytest.raises(discord.LoginFailure):
            await bot.login("wrong")
        await bot.close()
