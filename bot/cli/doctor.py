"""`sessionbot doctor`: is this installation ready to run? One line per check, secrets never shown.

Checks the configuration, the database, the personas, the model endpoint (one request for a
single token) and, with DISCORD_TOKEN set, Discord. Exit status 0 only if nothing failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from bot.cli.output import out
from bot.config import LOGIN_REFUSED_ADVICE, MESSAGE_CONTENT_ADVICE, ConfigError, Settings
from bot.engine.chatmodel import ChatRequest
from bot.engine.errors import LLMError
from bot.runtime import open_model, open_store
from situations import check_directory
from storage.errors import StorageError

Level = Literal["ok", "warn", "fail"]

# Application flags: the Message Content intent is on (verified / unverified applications).
_MESSAGE_CONTENT_FLAGS: Final = (1 << 18) | (1 << 19)
_MODEL_TIMEOUT: Final = 20.0
_DISCORD_TIMEOUT: Final = 10.0


@dataclass(frozen=True)
class Finding:
    level: Level
    check: str
    detail: str
    hint: str | None = None


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "doctor",
        help="check the configuration, database, personas, model and Discord",
        description=(
            "Check that sessionbot can run here: the settings, the database (schema version and "
            "PRAGMA quick_check), every persona file, the model server (one request for a single "
            "token) and, with DISCORD_TOKEN set, the Discord token and the Message Content "
            "intent. One line per check: ok, warn or fail, with a hint after a failure. Exits 1 "
            "if any check failed."
        ),
    )
    parser.set_defaults(handler=run_doctor)


async def run_doctor(args: argparse.Namespace, settings: Settings) -> int:
    failed = False
    async for finding in _findings(settings):
        out(f"{finding.level:<4}  {finding.check}: {finding.detail}")
        if finding.hint and finding.level != "ok":
            out(f"      hint: {finding.hint}")
        failed = failed or finding.level == "fail"
    return 1 if failed else 0


async def _findings(settings: Settings) -> AsyncIterator[Finding]:
    """Every check's findings, in order, each as soon as it is known."""
    for finding in check_config(settings):
        yield finding
    yield await check_database(settings)
    for finding in await check_personas(settings):
        yield finding
    yield await check_model(settings)
    for finding in await check_discord(settings):
        yield finding


def _split(sentence: str) -> tuple[str, str | None]:
    """A sentence "what went wrong; what to do" as its detail and its hint."""
    detail, _, hint = sentence.partition("; ")
    return detail, hint.rstrip(".") or None


def check_config(settings: Settings) -> list[Finding]:
    """The settings loaded; the ones every command that chats needs are there and sound."""
    findings = []
    needed = [settings.chat_model, settings.api_key]
    if settings.api_token is not None:
        needed.append(settings.api_secret)
    for check in needed:
        try:
            check()
        except ConfigError as exc:
            findings.append(Finding("fail", "config", *_split(str(exc))))
    if not findings:
        server = settings.openai_base_url or "OpenAI"
        detail = f"settings loaded (model {settings.model}, server {server})"
        findings.append(Finding("ok", "config", detail))
    return findings


async def check_database(settings: Settings) -> Finding:
    path = settings.database_location()  # str() hides a URL's password
    if path.kind == "sqlite" and not await asyncio.to_thread(Path(path.target).exists):
        return Finding("warn", "database", f"{path} does not exist yet; it is created on first use")
    try:
        async with open_store(settings) as store:
            status = await store.status()
            problems = await store.quick_check()
    except ConfigError as exc:
        return Finding("fail", "database", str(exc), "check SESSIONBOT_DATABASE")
    except (StorageError, sqlite3.Error) as exc:
        return Finding("fail", "database", f"{path}: {exc}", "check SESSIONBOT_DATABASE")
    if problems != ["ok"]:
        shown = "; ".join(problems[:3])
        return Finding(
            "fail",
            "database",
            f"{path}: PRAGMA quick_check found problems: {shown}",
            "restore the file from a backup, or recover it with sqlite3's .recover",
        )
    return Finding(
        "ok",
        "database",
        f"{path}, schema version {status.schema_version}, quick_check ok, "
        f"{status.active_sessions} active session(s)",
    )


async def check_personas(settings: Settings) -> list[Finding]:
    """Every persona file, each bad one with its file:line error; the default one must load."""
    directory = settings.personas
    if not await asyncio.to_thread(directory.is_dir):
        return [
            Finding(
                "fail",
                "personas",
                f"{directory} is not a directory",
                "set SESSIONBOT_PERSONAS to the directory of persona YAML files",
            )
        ]
    profiles, errors = await asyncio.to_thread(check_directory, directory)
    findings = [
        Finding(
            "fail",
            "personas",
            str(error),
            "fix the file; `sessionbot personas check` lists every error",
        )
        for error in errors
    ]
    ids = sorted(profile.id for profile in profiles)
    if settings.default_persona not in ids:
        findings.append(
            Finding(
                "fail",
                "personas",
                f"the default persona {settings.default_persona!r} is not loaded",
                "set SESSIONBOT_DEFAULT_PERSONA to one of: " + (", ".join(ids) or "none loaded"),
            )
        )
    if ids:
        findings.append(Finding("ok", "personas", f"{len(ids)} loaded ({', '.join(ids)})"))
    return findings


async def check_model(settings: Settings) -> Finding:
    """One request for a single token through the real client, with no retries."""
    try:
        name = settings.chat_model()
        settings.api_key()
    except ConfigError:
        return Finding("fail", "model", "not checked: the configuration above is incomplete")
    quick = settings.model_copy(
        update={"llm_retries": 0, "llm_timeout": min(settings.llm_timeout, _MODEL_TIMEOUT)}
    )
    request = ChatRequest(messages=[{"role": "user", "content": "ping"}], model=name, max_tokens=1)
    try:
        async with open_model(quick) as model:
            await model.complete(request)
    except LLMError as exc:
        return Finding("fail", "model", *_split(exc.user_message))
    return Finding("ok", "model", f"{name} answered at {settings.openai_base_url or 'OpenAI'}")


async def check_discord(settings: Settings) -> list[Finding]:
    """The bot token (`GET /users/@me`) and the Message Content intent (the app's flags)."""
    import aiohttp  # only this check needs it

    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        detail = "DISCORD_TOKEN is not set; skipped (only `sessionbot run` needs it)"
        return [Finding("warn", "discord", detail)]
    base = settings.discord_api_base
    headers = {"Authorization": f"Bot {token}", "User-Agent": "DiscordBot (sessionbot doctor)"}
    timeout = aiohttp.ClientTimeout(total=_DISCORD_TIMEOUT)
    try:
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
            async with http.get(f"{base}/users/@me") as response:
                me = await _discord_json(response, "GET /users/@me")
            if isinstance(me, Finding):
                return [me]
            async with http.get(f"{base}/applications/@me") as response:
                app = await _discord_json(response, "GET /applications/@me")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
        return [
            Finding(
                "fail",
                "discord",
                f"cannot reach Discord at {base}: {reason}",
                "check DISCORD_API_BASE and the network",
            )
        ]
    user = f"{me.get('username', '?')} (id {me.get('id', '?')})"
    found = [Finding("ok", "discord", f"token accepted for {user} at {base}")]
    found.append(app if isinstance(app, Finding) else _intent(app))
    return found


async def _discord_json(response: object, what: str) -> dict[str, object] | Finding:
    """The JSON object Discord answered, or the finding for a refusal."""
    import aiohttp

    assert isinstance(response, aiohttp.ClientResponse)
    if response.status == 401:
        return Finding(
            "fail", "discord", f"Discord refused DISCORD_TOKEN ({what}: 401)", LOGIN_REFUSED_ADVICE
        )
    if response.status != 200:
        return Finding(
            "fail",
            "discord",
            f"Discord answered {what} with HTTP {response.status}",
            "check DISCORD_API_BASE (a Discord-compatible server, or unset it)",
        )
    body = await response.json(content_type=None)
    if not isinstance(body, dict):
        return Finding(
            "fail",
            "discord",
            f"Discord's answer to {what} is not a JSON object",
            "check DISCORD_API_BASE (a Discord-compatible server, or unset it)",
        )
    return body


def _intent(app: dict[str, object]) -> Finding:
    flags = app.get("flags")
    if isinstance(flags, int) and flags & _MESSAGE_CONTENT_FLAGS:
        return Finding("ok", "discord intent", "the Message Content intent is on")
    return Finding(
        "fail",
        "discord intent",
        "the Message Content intent is off, so `sessionbot run` would be refused",
        MESSAGE_CONTENT_ADVICE,
    )
