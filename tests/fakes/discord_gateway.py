"""The fake Discord gateway: a websocket speaking gateway v10 JSON, optionally zlib-stream.

One connection per shard: HELLO, then IDENTIFY (a new session: READY and a GUILD_CREATE per
guild of its shard) or RESUME (the session's missed dispatches, then RESUMED); heartbeats are
acknowledged. Dispatches are numbered per session, filtered by the session's intents the way
Discord filters them (including blanked content without MESSAGE_CONTENT), and kept for resuming.
Each connection has one sender task, so frames leave in dispatch order and a zlib stream is never
interleaved.

Sharding as Discord documents it: an IDENTIFY with `shard: [id, count]` receives the events of
the guilds with `(guild_id >> 22) % count == id`, and direct messages arrive on shard 0. Without
`shard` a session is shard 0 of 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from tests.fakes import discord_objects as obj
from tests.fakes.discord_objects import Payload
from tests.fakes.discord_world import World

HELLO, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, REQUEST_MEMBERS = 10, 1, 2, 6, 7, 8
HEARTBEAT_ACK, INVALID_SESSION, DISPATCH, PRESENCE = 11, 9, 0, 3
AUTHENTICATION_FAILED, INVALID_SHARD = 4004, 4010
BUFFERED_DISPATCHES = 10_000
GUILD_OBJECT_EVENTS = frozenset({"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"})


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """The shard that receives a guild's events; direct messages (no guild) go to shard 0."""
    return 0 if guild_id is None else (guild_id >> 22) % shard_count


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    compress: str | None
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    session: Session | None = None
    ready: bool = False
    dropped: bool = False  # closed by the fake's `drop`: the session stays resumable
    _zlib: Any = None

    def encode(self, text: str) -> str | bytes:
        if self.compress != "zlib-stream":
            return text  # discord.py reads text frames whatever compression it asked for
        if self._zlib is None:
            self._zlib = zlib.compressobj()
        return bytes(self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH))


@dataclass(eq=False)
class Session:
    id: str
    token: str
    intents: int
    seq: int = 0
    sent: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=BUFFERED_DISPATCHES))
    connection: Connection | None = None
    ended: bool = False
    shard: tuple[int, int] = (0, 1)  # (shard id, shard count) from IDENTIFY


class Gateway:
    """The websocket endpoint and the bot's gateway sessions."""

    def __init__(
        self,
        world: World,
        *,
        url: Callable[[], str],
        token: str | None,
        heartbeat_interval: float,
    ) -> None:
        self.world = world
        self._url = url
        self.token = token
        self.heartbeat_interval = heartbeat_interval
        self.identifies: list[Payload] = []
        self.resumes: list[Payload] = []
        self.presences: list[Payload] = []
        self.compressions: list[str | None] = []
        self.heartbeats = 0
        self._live: dict[int, Session] = {}  # the current session of each shard id
        self._sessions: dict[str, Session] = {}
        self._connections: set[Connection] = set()
        self._accepting = asyncio.Event()  # cleared: new connections wait before HELLO
        self._accepting.set()

    @property
    def current(self) -> Session | None:
        """The bot's session: shard 0's, or the only one (for a process holding other shards)."""
        if 0 in self._live or len(self._live) != 1:
            return self._live.get(0)
        return next(iter(self._live.values()))

    @property
    def ready(self) -> bool:
        """True while a session is live on an open connection that got READY or RESUMED."""
        return self.shard_ready(None)

    def shard_ready(self, shard_id: int | None) -> bool:
        """`ready` for one shard's session (None: the `current` one)."""
        session = self.current if shard_id is None else self._live.get(shard_id)
        conn = session.connection if session else None
        return conn is not None and conn.ready and not conn.ws.closed

    @property
    def shards(self) -> dict[int, Session]:
        """The live session of each shard id (ended ones are gone)."""
        return dict(self._live)

    @property
    def intents(self) -> int:
        if self.current is None:
            raise RuntimeError("no bot session on the fake gateway")
        return self.current.intents

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(ws, request.query.get("compress"))
        self.compressions.append(conn.compress)
        self._connections.add(conn)
        sender = asyncio.create_task(self._send_loop(conn))
        await self._accepting.wait()
        self._send(conn, {"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval}})
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._receive(conn, json.loads(msg.data))
        finally:
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                # A client that closes with 1000/1001 ends its session; others may resume.
                ending = ws.close_code in (WSCloseCode.OK, WSCloseCode.GOING_AWAY)
                if ending and not conn.dropped:
                    session.ended = True
                    if self._live.get(session.shard[0]) is session:
                        del self._live[session.shard[0]]
            conn.queue.put_nowait(None)
            await sender
            self._connections.discard(conn)
        return ws

    def dispatch(self, event: str, data: Payload) -> bool:
        """Send an event to the session of its shard; False if that shard has no session (the
        event is lost, as on Discord) or its intents filter the event out."""
        if not self._live:
            raise RuntimeError(
                "no bot session on the fake gateway: start the client and await "
                "fake.wait_ready() before injecting events"
            )
        session = self._live.get(self._shard_of(event, data))
        if session is None:
            return False
        return self._dispatch(session, event, data)

    def _shard_of(self, event: str, data: Payload) -> int:
        guild = data.get("id") if event in GUILD_OBJECT_EVENTS else data.get("guild_id")
        count = max(session.shard[1] for session in self._live.values())
        return shard_of(int(guild) if guild is not None else None, count)

    def send_op(self, op: int, d: Any = None) -> None:
        """Send a non-dispatch op (e.g. 7 RECONNECT) on the current connection."""
        conn = self.current.connection if self.current else None
        if conn is None:
            raise RuntimeError("no open gateway connection")
        self._send(conn, {"op": op, "d": d})

    async def flush(self) -> None:
        """Wait until everything dispatched so far has been written to the socket."""
        for conn in list(self._connections):
            await conn.queue.join()

    async def drop(self, code: int = 4000) -> None:
        """Close the bot's connection from Discord's side (4000: an error on its end). The
        session stays resumable: what is dispatched until the bot RESUMEs is replayed then,
        with its sequence numbers."""
        conn = self.current.connection if self.current else None
        if conn is None:
            raise RuntimeError("no open gateway connection")
        conn.ready, conn.dropped = False, True
        await conn.ws.close(code=code, message=b"fake Discord dropped the connection")

    def hold_connections(self) -> None:
        """Discord out of reach: a new connection gets no HELLO until `accept_connections()`
        (the bot stays down, with no session connected, while a test posts)."""
        self._accepting.clear()

    def accept_connections(self) -> None:
        self._accepting.set()

    def invalidate(self) -> None:
        """Send op 9 INVALID_SESSION (not resumable) and end the session, as Discord does when
        it drops a session: the bot closes and IDENTIFYs anew, and nothing is replayed."""
        session = self.current
        if session is None or session.connection is None:
            raise RuntimeError("no open gateway connection")
        session.ended = True
        self._send(session.connection, {"op": INVALID_SESSION, "d": False})

    async def close(self) -> None:
        self._accepting.set()
        for conn in list(self._connections):
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"fake Discord closing")

    # Internals.

    def _send(self, conn: Connection, message: Payload) -> None:
        conn.queue.put_nowait(json.dumps(message))

    async def _send_loop(self, conn: Connection) -> None:
        try:
            while (text := await conn.queue.get()) is not None:
                try:
                    frame = conn.encode(text)
                    if isinstance(frame, bytes):
                        await conn.ws.send_bytes(frame)
                    else:
                        await conn.ws.send_str(frame)
                except (ConnectionResetError, RuntimeError):
                    break  # the socket closed under us; a resume replays what was missed
                finally:
                    conn.queue.task_done()
            else:
                conn.queue.task_done()  # the end marker, so that `flush` never waits on it
        finally:
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:
                    conn.queue.get_nowait()
                    conn.queue.task_done()

    def _dispatch(self, session: Session, event: str, data: Payload) -> bool:
        visible = self._filter(session.intents, event, data)
        if visible is None:
            return False
        session.seq += 1
        text = json.dumps({"op": DISPATCH, "t": event, "s": session.seq, "d": visible})
        session.sent.append((session.seq, text))
        if session.connection is not None:
            session.connection.queue.put_nowait(text)
        return True

    def _filter(self, intents: int, event: str, data: Payload) -> Payload | None:
        if event.startswith("MESSAGE_"):
            direct = "guild_id" not in data
            need = obj.INTENT_DIRECT_MESSAGES if direct else obj.INTENT_GUILD_MESSAGES
            if not intents & need:
                return None
            if event == "MESSAGE_DELETE" or direct or intents & obj.INTENT_MESSAGE_CONTENT:
                return data
            bot = str(self.world.bot_id)
            author = data.get("author", {}).get("id")
            if author == bot or any(u["id"] == bot for u in data.get("mentions", [])):
                return data
            return data | {"content": "", "embeds": [], "attachments": [], "components": []}
        if event.startswith("GUILD_MEMBER"):
            return data if intents & obj.INTENT_GUILD_MEMBERS else None
        if event.startswith(("GUILD_", "CHANNEL_", "THREAD_")):
            return data if intents & obj.INTENT_GUILDS else None
        return data

    async def _receive(self, conn: Connection, message: Payload) -> None:
        op: Any = message.get("op")
        d: Any = message.get("d")
        if op == HEARTBEAT:
            self.heartbeats += 1
            self._send(conn, {"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            await self._identify(conn, d)
        elif op == RESUME:
            await self._resume(conn, d)
        elif op == PRESENCE:
            self.presences.append(d)
        elif op == REQUEST_MEMBERS and conn.session is not None:
            guild = self.world.guild(int(d["guild_id"]))
            chunk: Payload = {"guild_id": str(guild.id), "members": list(guild.members.values())}
            chunk |= {"chunk_index": 0, "chunk_count": 1, "nonce": d.get("nonce")}
            self._dispatch(conn.session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _identify(self, conn: Connection, d: Payload) -> None:
        self.identifies.append(d)
        if self.token is not None and d.get("token") != self.token:
            await conn.ws.close(code=AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        shard_id, shard_count = d.get("shard") or (0, 1)
        if not 0 <= shard_id < shard_count:
            await conn.ws.close(code=INVALID_SHARD, message=b"Invalid shard.")
            return
        session = Session(uuid.uuid4().hex, d.get("token", ""), int(d.get("intents", 0)))
        session.shard = (shard_id, shard_count)
        self._sessions[session.id] = session
        if (previous := self._live.get(shard_id)) is not None:
            previous.ended = True
        self._live[shard_id] = session
        conn.session, session.connection = session, conn
        guilds = [g for g in self.world.guilds if shard_of(g, shard_count) == shard_id]
        ready = obj.ready(
            session.id,
            self.world.bot_user,
            guilds,
            resume_url=self._url(),
            application_id=self.world.bot_id,
            shard=session.shard,
        )
        self._dispatch(session, "READY", ready)
        for guild_id in guilds:
            self._dispatch(session, "GUILD_CREATE", self.world.guilds[guild_id].payload())
        await conn.queue.join()
        conn.ready = True

    async def _resume(self, conn: Connection, d: Payload) -> None:
        self.resumes.append(d)
        session = self._sessions.get(d.get("session_id", ""))
        if session is None or session.ended or d.get("token") != session.token:
            self._send(conn, {"op": INVALID_SESSION, "d": False})
            return
        self._live[session.shard[0]] = session
        conn.session, session.connection = session, conn
        last = int(d.get("seq") or 0)
        for seq, text in session.sent:
            if seq > last:
                conn.queue.put_nowait(text)
        self._dispatch(session, "RESUMED", {"_trace": ["fake-discord"]})
        await conn.queue.join()
        conn.ready = True
