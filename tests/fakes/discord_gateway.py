"""The fake Discord gateway: a websocket speaking gateway v10 JSON, optionally zlib-stream.

One connection: HELLO, then IDENTIFY (a new session: READY and a GUILD_CREATE per guild) or
RESUME (the session's missed dispatches, then RESUMED); heartbeats are acknowledged. Dispatches
are numbered per session, filtered by the session's intents the way Discord filters them
(including blanked content without MESSAGE_CONTENT), and kept for resuming. Each connection has
one sender task, so frames leave in dispatch order and a zlib stream is never interleaved.
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
AUTHENTICATION_FAILED = 4004
BUFFERED_DISPATCHES = 10_000


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
        self.current: Session | None = None
        self._sessions: dict[str, Session] = {}
        self._connections: set[Connection] = set()
        self._accepting = asyncio.Event()  # cleared: new connections wait before HELLO
        self._accepting.set()

    @property
    def ready(self) -> bool:
        """True while a session is live on an open connection that got READY or RESUMED."""
        conn = self.current.connection if self.current else None
        return conn is not None and conn.ready and not conn.ws.closed

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
                    if self.current is session:
                        self.current = None
            conn.queue.put_nowait(None)
            await sender
            self._connections.discard(conn)
        return ws

    def dispatch(self, event: str, data: Payload) -> bool:
        """Send an event to the bot's session; False if its intents filter the event out."""
        session = self.current
        if session is None:
            raise RuntimeError(
                "no bot session on the fake gateway: start the client and await "
                "fake.wait_ready() before injecting events"
            )
        return self._dispatch(session, event, data)

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
        session = Session(uuid.uuid4().hex, d.get("token", ""), int(d.get("intents", 0)))
        self._sessions[session.id] = session
        if self.current is not None:
            self.current.ended = True
        self.current, conn.session, session.connection = session, session, conn
        ready = obj.ready(
            session.id,
            self.world.bot_user,
            self.world.guilds,
            resume_url=self._url(),
            application_id=self.world.bot_id,
        )
        self._dispatch(session, "READY", ready)
        for guild in self.world.guilds.values():
            self._dispatch(session, "GUILD_CREATE", guild.payload())
        await conn.queue.join()
        conn.ready = True

    async def _resume(self, conn: Connection, d: Payload) -> None:
        self.resumes.append(d)
        session = self._sessions.get(d.get("session_id", ""))
        if session is None or session.ended or d.get("token") != session.token:
            self._send(conn, {"op": INVALID_SESSION, "d": False})
            return
        self.current, conn.session, session.connection = session, session, conn
        last = int(d.get("seq") or 0)
        for seq, text in session.sent:
            if seq > last:
                conn.queue.put_nowait(text)
        self._dispatch(session, "RESUMED", {"_trace": ["fake-discord"]})
        await conn.queue.join()
        conn.ready = True
