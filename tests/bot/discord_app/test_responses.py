"""The one error handler: domain errors become their sentence, anything else an apology + log."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import pytest
from discord import app_commands

from bot.discord_app.errors import NoSessionHere
from bot.discord_app.responses import APOLOGY, report_error, user_sentence
from bot.engine.errors import LLMUnavailable
from storage.errors import SessionNotFound


@dataclass
class Sent:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class FakeResponse:
    sent: Sent
    done: bool = False

    def is_done(self) -> bool:
        return self.done

    async def send_message(self, **kwargs: Any) -> None:
        self.sent.calls.append(("response", kwargs))


@dataclass
class FakeFollowup:
    sent: Sent

    async def send(self, **kwargs: Any) -> None:
        self.sent.calls.append(("followup", kwargs))


@dataclass
class FakeCommand:
    qualified_name: str


@dataclass
class FakeUser:
    id: int


class FakeInteraction:
    def __init__(self, *, done: bool = False) -> None:
        self.sent = Sent()
        self.response = FakeResponse(self.sent, done)
        self.followup = FakeFollowup(self.sent)
        self.command = FakeCommand("session export")
        self.guild_id = 111
        self.channel_id = 222
        self.user = FakeUser(333)


def invoke_error(error: Exception) -> app_commands.CommandInvokeError:
    command: Any = app_commands.Command(name="x", description="x", callback=_noop)
    return app_commands.CommandInvokeError(command, error)


async def _noop(interaction: Any) -> None:
    return None


def test_domain_errors_are_their_sentence_even_when_wrapped() -> None:
    assert user_sentence(invoke_error(NoSessionHere())) == str(NoSessionHere())
    missing = SessionNotFound(uuid4())
    assert user_sentence(invoke_error(missing)) == str(missing)
    # A model failure names no internal host to a channel: the operator reads it in the log.
    down = LLMUnavailable("The language model server at http://10.1.2.3:8000 is down.")
    assert user_sentence(down) == down.public_message
    assert "10.1.2.3" not in down.public_message and "10.1.2.3" in str(down)


def test_permission_errors_say_which_permission() -> None:
    error = app_commands.MissingPermissions(["manage_threads"])
    assert user_sentence(error) == (
        "You need the Manage Threads permission for this; ask a server admin."
    )


def test_unexpected_errors_have_no_sentence() -> None:
    assert user_sentence(invoke_error(KeyError("boom"))) is None


async def test_an_expected_error_is_an_ephemeral_sentence() -> None:
    interaction: Any = FakeInteraction()
    await report_error(interaction, invoke_error(NoSessionHere()))
    [(where, kwargs)] = interaction.sent.calls
    assert where == "response"
    assert kwargs["ephemeral"] is True
    assert kwargs["content"] == str(NoSessionHere())


async def test_an_unexpected_error_is_an_apology_and_a_logged_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    interaction: Any = FakeInteraction(done=True)  # deferred: the answer is a follow-up
    with caplog.at_level(logging.ERROR):
        await report_error(interaction, invoke_error(KeyError("boom")))
    [(where, kwargs)] = interaction.sent.calls
    assert where == "followup"
    assert kwargs["content"] == APOLOGY and kwargs["ephemeral"] is True
    [record] = caplog.records
    assert record.getMessage() == (
        "unexpected error in session export (guild 111, channel 222, user 333)"
    )
    assert record.exc_info is not None and isinstance(record.exc_info[1], KeyError)
