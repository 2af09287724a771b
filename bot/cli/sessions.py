"""`sessionbot sessions ...`: find, read, export, tag and end stored sessions."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.cli.args import add_meta_option, check_arguments, parse_meta, session_id
from bot.cli.output import CommandError, err, out, out_json, shorten, table, write_chunks
from bot.config import Settings
from bot.engine import Engine
from bot.engine.inspect import inspect_context, prompt_text, view_json
from bot.runtime import open_engine, open_store
from storage import ListQuery, Session, SessionStatus, Store, export_chunks
from storage.errors import SessionNotFound

STATUSES = {"active": SessionStatus.ACTIVE, "ended": SessionStatus.ENDED, "all": None}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "sessions", help="list, show, export, tag and end sessions", description="Sessions."
    )
    sub = parser.add_subparsers(dest="sessions_command", required=True, metavar="COMMAND")

    listing = sub.add_parser("list", help="list sessions, newest first")
    listing.add_argument(
        "--tag", action="append", default=[], help="only sessions with this tag (repeatable: all)"
    )
    add_meta_option(listing, "only sessions whose metadata has KEY equal to VALUE")
    listing.add_argument("--persona", metavar="ID", help="only sessions on this persona")
    listing.add_argument("--status", choices=sorted(STATUSES), default="all")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.add_argument("--json", action="store_true", help="Julep-shaped JSON instead of a table")
    listing.set_defaults(handler=list_sessions)

    show = sub.add_parser("show", help="a session's fields and its latest messages")
    show.add_argument("session", metavar="ID", type=session_id)
    show.add_argument("--messages", type=int, default=10, help="how many messages (default 10)")
    show.add_argument("--json", action="store_true", help="the session as Julep-shaped JSON")
    show.set_defaults(handler=show_session)

    export = sub.add_parser("export", help="a session and its whole history, as JSON or Markdown")
    export.add_argument("session", metavar="ID", type=session_id)
    export.add_argument("--format", choices=["json", "md"], default="json")
    export.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    export.set_defaults(handler=export_session)

    render = sub.add_parser(
        "render", help="what the model would be sent for the session's next reply"
    )
    render.add_argument("session", metavar="ID", type=session_id)
    render.add_argument(
        "--user", metavar="NAME", default="there", help="whom the templates address (`user`)"
    )
    render.add_argument(
        "--place", metavar="TEXT", default="terminal", help="the templates' `place` variable"
    )
    render.add_argument("--json", action="store_true", help="the messages and counts as JSON")
    render.set_defaults(handler=render_session)

    end = sub.add_parser("end", help="end a session (its history is kept)")
    end.add_argument("session", metavar="ID", type=session_id)
    end.set_defaults(handler=end_session)

    for name, verb in (("tag", "add"), ("untag", "remove")):
        cmd = sub.add_parser(name, help=f"{verb} tags on a session")
        cmd.add_argument("session", metavar="ID", type=session_id)
        cmd.add_argument("tags", nargs="+", metavar="TAG")
        cmd.set_defaults(handler=tag_session, tag_verb=verb)


async def list_sessions(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 1:
        raise CommandError("--limit must be at least 1", status=2)
    metadata_filter = parse_meta(args.meta)
    check_arguments([("--persona", args.persona), *(("--tag", tag) for tag in args.tag)])
    async with open_store(settings) as store:
        sessions = await _collect(store, args, metadata_filter)
        if args.json:
            out_json([session.to_julep() for session in sessions])
            return 0
        counts = await store.message_counts([session.id for session in sessions])
    if not sessions:
        err("no sessions match")
        return 0
    rows = [
        [
            str(s.id),
            s.agent_id,
            s.status.value,
            ",".join(s.tags),
            str(counts.get(s.id, 0)),
            _when(s),
            shorten(s.binding_key or "", 32),
        ]
        for s in sessions
    ]
    table(rows, ["ID", "PERSONA", "STATUS", "TAGS", "MESSAGES", "UPDATED", "WHERE"])
    return 0


async def _collect(
    store: Store, args: argparse.Namespace, metadata_filter: dict[str, Any]
) -> list[Session]:
    sessions: list[Session] = []
    cursor: str | None = None
    while len(sessions) < args.limit:
        query = ListQuery(
            metadata_filter=metadata_filter,
            tags_all=args.tag,
            agent_id=args.persona,
            status=STATUSES[args.status],
            limit=min(100, args.limit - len(sessions)),
            cursor=cursor,
        )
        page = await store.list_sessions(query)
        sessions.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return sessions


def _when(session: Session) -> str:
    return session.updated_at.strftime("%Y-%m-%d %H:%M")


async def _get(store: Store | Engine, ident: Any) -> Session:
    try:
        if isinstance(store, Engine):
            return await store.session(ident)
        return await store.get_session(ident)
    except SessionNotFound as exc:
        raise CommandError(str(exc), hint="list sessions with: sessionbot sessions list") from None


async def show_session(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        session = await _get(store, args.session)
        if args.json:
            out_json(session.to_julep())
            return 0
        count = await store.count_messages(session.id)
        history = await store.recent_history(session.id, limit=max(0, args.messages))
    out(f"id:        {session.id}")
    out(f"persona:   {session.agent_id} (version {session.persona_version or 'custom'})")
    out(f"user:      {session.user_id or '-'}")
    out(f"status:    {session.status.value}")
    out(f"where:     {session.binding_key or '-'}")
    out(f"tags:      {', '.join(session.tags) or '-'}")
    out(f"created:   {session.created_at.isoformat()}")
    out(f"updated:   {session.updated_at.isoformat()}")
    out(f"messages:  {count}")
    out(f"metadata:  {session.to_julep()['metadata']}")
    out(f"summary:   {session.summary or '-'}")
    if history:
        out(f"last {len(history)} message(s):")
        for message in history:
            author = message.author_name or message.role.value
            out(f"  [{message.created_at:%H:%M}] {author}: {shorten(message.content, 100)}")
    return 0


async def export_session(args: argparse.Namespace, settings: Settings) -> int:
    """Write the export as it is rendered, one batch of messages at a time (bounded memory)."""
    async with open_store(settings) as store:
        session = await _get(store, args.session)
        chunks = export_chunks(session, store.message_batches(session.id), args.format)
        if args.output is None:
            await write_chunks(chunks, sys.stdout)
            return 0
        try:
            handle = await asyncio.to_thread(args.output.open, "w", encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror}") from None
        try:
            await write_chunks(chunks, handle)
        finally:
            await asyncio.to_thread(handle.close)
    err(f"wrote {args.output}")
    return 0


async def render_session(args: argparse.Namespace, settings: Settings) -> int:
    """The exact prompt of the next reply, as `/session context` and the API's render show it."""
    check_arguments([("--user", args.user), ("--place", args.place)])
    async with open_engine(settings, watch=False) as engine:
        await _get(engine, args.session)
        view = await inspect_context(engine, args.session, place=args.place, user=args.user)
    if args.json:
        out_json(view_json(view))
    else:
        out(prompt_text(view), end="")
    return 0


async def end_session(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        await _get(store, args.session)
        session = await store.end_session(args.session)
    out(f"ended session {session.id}; its history is kept")
    return 0


async def tag_session(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        await _get(store, args.session)
        if args.tag_verb == "add":
            session = await store.retag(args.session, add=args.tags)
        else:
            session = await store.retag(args.session, remove=args.tags)
    out(f"session {session.id} tags: {', '.join(session.tags) or '(none)'}")
    return 0
