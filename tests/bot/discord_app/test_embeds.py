"""What the embeds of /session list, /session info and /persona show."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from bot.discord_app.embeds import session_info_embed, session_list_embed, session_row
from storage import Session, SessionStatus

WHEN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def make_session(**fields: object) -> Session:
    values: dict[str, object] = {
        "id": uuid4(),
        "agent_id": "sara",
        "user_id": "42",
        "situation": "You are Sara.",
        "metadata": {},
        "created_at": WHEN,
        "updated_at": WHEN,
        "tags": ["wellbeing", "week-1"],
        "status": SessionStatus.ACTIVE,
        "binding_key": "discord:1:22",
        "persona_version": "v1",
        "summarized_through": None,
    }
    values.update(fields)
    return Session.model_validate(values)


def test_a_row_shows_persona_channel_tags_count_and_activity() -> None:
    row = session_row(make_session(), 12)
    assert row == (
        f"**sara** · <#22> · `wellbeing` `week-1` · 12 messages · <t:{int(WHEN.timestamp())}:R>"
    )


def test_rows_of_ended_dm_and_untagged_sessions() -> None:
    session = make_session(status=SessionStatus.ENDED, binding_key="discord:dm:9", tags=[])
    assert session_row(session, 1).startswith("**sara** (ended) · DM · no tags · 1 message ·")


def test_the_list_embed_has_title_rows_and_a_footer() -> None:
    sessions = [make_session(), make_session(agent_id="tutor")]
    counts = {sessions[0].id: 3}
    embed = session_list_embed(
        sessions, counts, title="Sessions in Test", filters="status all", page=2
    )
    assert embed.title == "Sessions in Test"
    assert embed.description is not None
    lines = embed.description.splitlines()
    assert lines[0].startswith("**sara**") and "3 messages" in lines[0]
    assert lines[1].startswith("**tutor**") and "0 messages" in lines[1]
    assert embed.footer.text == "Page 2 · status all"


def test_an_empty_list_says_so() -> None:
    embed = session_list_embed([], {}, title="t", filters="status all", page=1)
    assert embed.description == "No sessions match."


def test_info_shows_every_field() -> None:
    session = make_session(summary="Ana talked about sleep.")
    embed = session_info_embed(session, 7, "Sara")
    fields = {field.name: field.value for field in embed.fields}
    assert fields["ID"] == f"`{session.id}`"
    assert fields["Persona"] == "Sara (`sara`)"
    assert fields["Status"] == "active"
    assert fields["Messages"] == "7"
    assert fields["Tags"] == "`wellbeing` `week-1`"
    assert fields["Started by"] == "<@42>"
    assert fields["Summary"] == "Ana talked about sleep."
    assert fields["Created"] == f"<t:{int(WHEN.timestamp())}:f>"
