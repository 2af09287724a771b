"""`sessionbot chat`: a conversation in the terminal, on the same engine and store as the bot."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from contextlib import aclosing
from typing import TextIO

from bot.cli.args import add_meta_option, check_arguments, parse_meta, session_id
from bot.cli.output import CommandError, err, out
from bot.config import Settings
from bot.engine import Engine, Incoming
from bot.engine.errors import SessionbotError
from bot.runtime import open_engine
from storage import Session, SessionStatus
from storage.errors import SessionNotFound

QUIT = {"/quit", "/exit"}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "chat",
        help="talk to a persona in the terminal",
        description=(
            "Talk to a persona in the terminal. Reads one message per line from standard input, "
            "so it also works in pipes: printf 'hello\\n' | sessionbot chat --persona sara"
        ),
    )
    parser.add_argument("--persona", metavar="ID", help="persona for a new session")
    parser.add_argument("--session", metavar="UUID", type=session_id, help="resume this session")
    add_meta_option(parser, "metadata of a new session")
    parser.add_argument(
        "--tag", metavar="TAG", action="append", default=[], help="tag a new session (repeatable)"
    )
    parser.add_argument(
        "--name", metavar="NAME", help="your display name in the conversation (default: $USER)"
    )
    parser.set_defaults(handler=run_chat)


async def run_chat(args: argparse.Namespace, settings: Settings) -> int:
    metadata = parse_meta(args.meta)
    name = args.name or getpass.getuser() or "you"
    check_arguments(
        [("--name", name), ("--persona", args.persona), *(("--tag", tag) for tag in args.tag)]
    )
    async with open_engine(settings) as engine:
        session, greeting = await _open_session(engine, args, metadata, name)
        err(f"session {session.id} (persona {session.agent_id})")
        if greeting is not None:
            _write_reply_prefix(engine.persona_name(session))
            out(greeting)
        failures = await _converse(engine, session, name, interactive=sys.stdin.isatty())
        err(f"resume with: sessionbot chat --session {session.id}")
    return 1 if failures else 0


async def _open_session(
    engine: Engine, args: argparse.Namespace, metadata: dict[str, object], name: str
) -> tuple[Session, str | None]:
    """The resumed or new session, and the greeting of a new one."""
    if args.session is not None:
        if args.persona or args.meta or args.tag:
            raise CommandError(
                "--persona, --meta and --tag apply to new sessions only",
                hint="drop them, or leave out --session to start a new session",
                status=2,
            )
        try:
            session = await engine.session(args.session)
        except SessionNotFound as exc:
            hint = "list sessions with: sessionbot sessions list"
            raise CommandError(str(exc), hint=hint) from None
        if session.status is SessionStatus.ENDED:
            raise CommandError(
                f"session {session.id} has ended",
                hint="start a new one: sessionbot chat --persona " + session.agent_id,
            )
        return session, None
    started = await engine.start_session(
        persona_id=args.persona, user_id=name, metadata=metadata, tags=args.tag
    )
    greeting = started.greeting.content if started.greeting is not None else None
    return started.session, greeting


async def _converse(engine: Engine, session: Session, name: str, *, interactive: bool) -> int:
    """Answer each line of standard input; return how many replies failed."""
    failures = 0
    noted_window = False
    while True:
        line = await _read_line(sys.stdin, prompt="you> " if interactive else "")
        if line is None:
            if interactive:
                err("")  # end the prompt line
            return failures
        text = line.strip()
        if not text:
            continue
        if text in QUIT:
            return failures
        incoming = Incoming(content=text, author_name=name, author_id=name)
        try:
            turn = await engine.chat(session.id, incoming, place="terminal")
            _write_reply_prefix(engine.persona_name(session))
            async with aclosing(turn.stream()) as stream:
                async for delta in stream:
                    out(delta, end="")
            out()
            if turn.context is not None and turn.context.omitted and not noted_window:
                err("(note: older messages no longer fit the context; only the latest are sent)")
                noted_window = True
        except SessionbotError as exc:
            out()
            err(f"error: {exc}")
            failures += 1


def _write_reply_prefix(speaker: str) -> None:
    if sys.stdout.isatty():
        out(f"{speaker}> ", end="")


async def _read_line(stream: TextIO, *, prompt: str) -> str | None:
    """One line from `stream` without blocking the event loop; None at end of input."""
    if prompt:
        sys.stderr.write(prompt)
        sys.stderr.flush()
    line = await asyncio.to_thread(stream.readline)
    return line if line else None
