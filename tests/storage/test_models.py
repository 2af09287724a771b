"""Models: tag normalisation, Julep shape, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from storage import Message, Role, Session, SessionStatus, normalize_tags
from storage.models import format_timestamp, from_micros, to_micros


def make_session(**overrides: object) -> Session:
    fields: dict[str, object] = {
        "id": uuid4(),
        "agent_id": "sara",
        "user_id": "u1",
        "situation": "Be kind.",
        "metadata": {"a": 1},
        "created_at": datetime(2024, 4, 29, 7, 23, 48, 661868, tzinfo=UTC),
        "updated_at": datetime(2024, 4, 29, 7, 23, 48, tzinfo=UTC),
        "tags": ["x"],
        "status": SessionStatus.ACTIVE,
        "binding_key": "cli:me",
        "persona_version": "abc123",
        "summarized_through": 7,
    }
    fields.update(overrides)
    return Session.model_validate(fields)


def test_normalize_tags_strips_lowercases_joins_dedupes_and_sorts() -> None:
    raw = ["  Hello World ", "hello   world", "", "   ", "B", "a\tb", "b"]
    assert normalize_tags(raw) == ["a-b", "b", "hello-world"]


def test_normalize_tags_treats_a_bare_string_as_one_tag() -> None:
    assert normalize_tags("Deep Work") == ["deep-work"]


def test_normalize_tags_of_nothing_is_empty() -> None:
    assert normalize_tags([]) == []


def test_to_julep_has_the_julep_keys_in_order_and_nothing_internal() -> None:
    julep = make_session().to_julep()
    assert list(julep) == [
        "id", "user_id", "agent_id", "situation", "summary", "created_at", "updated_at",
        "metadata", "render_templates", "tags", "status",
    ]  # fmt: skip
    assert julep["status"] == "active"
    assert julep["summary"] is None


def test_to_julep_timestamps_are_utc_with_z_and_microseconds_only_when_non_zero() -> None:
    julep = make_session().to_julep()
    assert julep["created_at"] == "2024-04-29T07:23:48.661868Z"
    assert julep["updated_at"] == "2024-04-29T07:23:48Z"


def test_to_julep_metadata_is_a_copy() -> None:
    session = make_session(metadata={"nested": {"a": 1}})
    session.to_julep()["metadata"]["nested"]["a"] = 2
    assert session.metadata == {"nested": {"a": 1}}


def test_format_timestamp_converts_other_zones_to_utc() -> None:
    moment = datetime.fromisoformat("2024-04-29T09:23:48+02:00")
    assert format_timestamp(moment) == "2024-04-29T07:23:48Z"


def test_micros_round_trip_is_exact() -> None:
    moment = datetime(2031, 1, 2, 3, 4, 5, 999999, tzinfo=UTC)
    assert from_micros(to_micros(moment)) == moment


def test_sessions_are_frozen() -> None:
    session = make_session()
    with pytest.raises(ValidationError):
        session.summary = "changed"


def test_message_to_dict_reads_back_as_the_same_message() -> None:
    message = Message(
        id=3,
        session_id=uuid4(),
        role=Role.ASSISTANT,
        author_id=None,
        author_name="Sara",
        content="Hi ✓",
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        external_id="d-1",
        tokens=2,
        tokens_source="usage",
        reply_to=2,
    )
    assert Message.model_validate(message.to_dict()) == message
    assert message.to_dict()["created_at"] == "2024-01-01T00:00:00Z"
