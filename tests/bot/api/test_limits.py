"""What a request may carry: JSON nesting, integer range and valid Unicode are checked at the door,
each refusal is a 4xx naming the limit or the field, and nothing refused is stored."""

from __future__ import annotations

from uuid import uuid4

import pytest

from bot.api.errors import from_domain
from storage import ListQuery
from storage.errors import InvalidMetadata, InvalidText
from tests.bot.api.conftest import Api

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def nested(depth: int) -> bytes:
    """A JSON value whose arrays nest `depth` levels deep."""
    return b"[" * depth + b"]" * depth


async def new_session(api: Api) -> str:
    response = await api.http.post("/sessions", json={"agent": "ada"})
    assert response.status_code == 201
    return str(response.json()["id"])


async def stored_sessions(api: Api) -> int:
    return len((await api.store.list_sessions(ListQuery(limit=1000))).items)


@pytest.mark.parametrize(
    "body",
    [
        nested(1000),
        b'{"metadata": {"a": ' + nested(490) + b"}}",
        b'{"metadata": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b"}",
        b'{"tags": ' + nested(33) + b"}",
        b"[" * 60_000,  # deep and never closed
    ],
)
async def test_bodies_nested_deeper_than_32_levels_are_400_naming_the_limit(
    api: Api, body: bytes
) -> None:
    response = await api.http.post("/sessions", content=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "too_deep"
    assert "the limit is 32 levels" in error["message"]
    assert await stored_sessions(api) == 0


async def test_brackets_inside_strings_do_not_count_and_32_levels_are_accepted(api: Api) -> None:
    deepest = b"[" * 30 + b"]" * 30  # with the body and metadata objects: 32 levels
    text = b'"' + b"[" * 200 + b'\\"{"'
    body = b'{"metadata": {"deep": ' + deepest + b', "text": ' + text + b"}}"

    response = await api.http.post("/sessions", content=body)

    assert response.status_code == 201, response.text
    assert response.json()["metadata"]["text"] == "[" * 200 + '"{'


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"metadata": {"n": 9223372036854775808}}', "metadata"),
        (b'{"metadata": {"n": -9223372036854775809}}', "metadata"),
        (b'{"metadata": {"n": ' + b"1" * 5000 + b"}}", "metadata"),
        (b'{"metadata": {"n": [-' + b"9" * 30 + b"]}}", "metadata"),
        (b'{"token_budget": ' + b"7" * 5000 + b"}", "token_budget"),
        (b'{"metadata": {"x": 1e400}}', "metadata"),
    ],
)
async def test_numbers_outside_the_signed_64_bit_range_are_refused_naming_the_field(
    api: Api, body: bytes, field: str
) -> None:
    response = await api.http.post("/sessions", content=body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == field
    assert await stored_sessions(api) == 0


async def test_the_edges_of_the_64_bit_range_are_kept(api: Api) -> None:
    body = b'{"metadata": {"low": -9223372036854775808, "high": 9223372036854775807}}'

    response = await api.http.post("/sessions", content=body)

    assert response.status_code == 201
    metadata = response.json()["metadata"]
    assert (metadata["low"], metadata["high"]) == (-(2**63), 2**63 - 1)


@pytest.mark.parametrize(
    "query",
    [
        {"metadata_filter": '{"n": ' + "1" * 30 + "}"},
        {"metadata_filter": '{"n": ' + "1" * 5000 + "}"},
        {"metadata_filter": '{"n": ' + "[" * 40 + "]" * 40 + "}"},
        {"metadata_filter.n": "1" * 30},
    ],
)
async def test_metadata_filters_with_huge_integers_or_deep_values_are_4xx(
    api: Api, query: dict[str, str]
) -> None:
    await new_session(api)

    response = await api.http.get("/sessions", params=query)

    if "metadata_filter.n" in query:  # compared as the string it is
        assert response.status_code == 200
        assert response.json()["items"] == []
    else:
        assert 400 <= response.status_code < 500
        assert response.json()["error"]["field"] == "metadata_filter"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"situation": "a\\ud800b"}', "situation"),
        (b'{"user": "\\udfff"}', "user"),
        (b'{"metadata": {"\\ud800": 1}}', "metadata"),
        (b'{"metadata": {"k": ["ok", "\\ud83d"]}}', "metadata"),
        (b'{"tags": ["fine", "\\ud800"]}', "tags"),
        (b'{"agent": "ada", "\\ud800": 1}', None),
    ],
)
async def test_text_that_is_not_valid_unicode_is_422_and_nothing_is_stored(
    api: Api, body: bytes, field: str | None
) -> None:
    response = await api.http.post("/sessions", content=body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error.get("field") == field
    assert "unpaired surrogate" in error["message"]
    assert await stored_sessions(api) == 0


async def test_chat_content_that_is_not_valid_unicode_is_422_and_nothing_is_stored(
    api: Api,
) -> None:
    session_id = await new_session(api)
    before = await api.store.count_messages(session_id)  # type: ignore[arg-type]
    body = b'{"messages": [{"role": "user", "content": "hi \\ud800"}]}'

    response = await api.http.post(f"/sessions/{session_id}/chat", content=body)

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "messages"
    assert await api.store.count_messages(session_id) == before  # type: ignore[arg-type]
    assert api.fake.chat_requests == []


@pytest.mark.parametrize(
    "query",
    ["tag=%ED%A0%80", "tag=%ff", "metadata_filter.%ff=1", "agent=a%C3", "metadata_filter.k=%E2%82"],
)
async def test_query_strings_that_do_not_decode_to_utf8_are_422(api: Api, query: str) -> None:
    response = await api.http.get(f"/sessions?{query}")

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_query"
    assert "UTF-8" in error["message"]


async def test_well_encoded_non_ascii_query_values_still_work(api: Api) -> None:
    response = await api.http.post("/sessions", json={"agent": "ada", "tags": ["café"]})
    assert response.status_code == 201

    listed = await api.http.get("/sessions?tag=caf%C3%A9")

    assert listed.status_code == 200
    assert len(listed.json()["items"]) == 1


@pytest.mark.parametrize("path", ["/sessions/%ED%A0%80", "/agents/%ff", f"/sessions/{uuid4()}%ff"])
async def test_paths_that_are_not_utf8_are_4xx(api: Api, path: str) -> None:
    response = await api.http.get(path)

    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"]


@pytest.mark.parametrize(
    ("error", "field"),
    [
        (InvalidMetadata("metadata['n'] is too deep"), "metadata"),
        (InvalidText("user", "is bad"), "user"),
    ],
)
def test_the_stores_refusals_of_values_are_422_naming_the_field(
    error: InvalidMetadata | InvalidText, field: str
) -> None:
    api_error = from_domain(error)

    assert api_error.status == 422
    assert api_error.field == field
    assert api_error.message == str(error)
