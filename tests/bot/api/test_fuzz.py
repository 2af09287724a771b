"""Fuzzing request bodies and query strings against the real server: whatever arrives, the answer
is never a 5xx, and every session stored along the way stays readable."""

from __future__ import annotations

import json
from urllib.parse import quote
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bot.api.conftest import Api

# Text of any code points, lone surrogates and NUL included.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=20)
NAMES = st.sampled_from(["ada", "sara", "tutor", "nobody", "", "ADA"])
INTEGERS = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-(10**40), 10**40))
SCALARS = st.one_of(st.none(), st.booleans(), INTEGERS, st.floats(allow_nan=False), ANY_TEXT)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(ANY_TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)
MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant", "system"]),
        "content": st.one_of(ANY_TEXT, JSON),
    },
    optional={"name": st.one_of(ANY_TEXT, JSON)},
)
SESSION_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "agent": st.one_of(NAMES, JSON),
        "user": st.one_of(ANY_TEXT, JSON),
        "situation": st.one_of(ANY_TEXT, st.just("Hi {{ user_name }} {{ nope }}"), JSON),
        "render_templates": st.one_of(st.booleans(), JSON),
        "metadata": st.one_of(st.dictionaries(ANY_TEXT, JSON, max_size=4), JSON),
        "tags": st.one_of(st.lists(ANY_TEXT, max_size=4), JSON),
        "token_budget": st.one_of(INTEGERS, JSON),
        "context_overflow": st.one_of(st.sampled_from(["truncate", "adaptive", "x"]), JSON),
        "status": st.one_of(st.sampled_from(["active", "ended"]), JSON),
        "messages": st.one_of(st.lists(MESSAGE, max_size=3), JSON),
        "stream": st.just(False),
    },
)
BODIES = st.one_of(
    SESSION_FIELDS,
    st.dictionaries(ANY_TEXT, JSON, max_size=3),
    JSON,
)
RAW_BODIES = st.one_of(
    BODIES.map(lambda body: json.dumps(body).encode()),
    st.binary(max_size=64),
    st.integers(1, 2000).map(lambda depth: b'{"metadata": ' + b"[" * depth + b"]" * depth + b"}"),
    st.integers(15, 6000).map(lambda digits: b'{"metadata": {"n": ' + b"9" * digits + b"}}"),
)
ENDPOINTS = st.sampled_from(
    [
        ("POST", "/sessions"),
        ("POST", "/sessions/{id}"),
        ("POST", "/sessions/{new}"),
        ("PUT", "/sessions/{id}"),
        ("PATCH", "/sessions/{id}"),
        ("POST", "/sessions/{id}/render"),
        ("POST", "/sessions/{id}/chat"),
    ]
)
QUERY_NAMES = st.one_of(
    st.sampled_from(
        [
            *("limit", "offset", "sort_by", "direction", "tag", "agent", "user_id", "status"),
            *("metadata_filter", "metadata_filter.k", "metadata_filter.", "unknown"),
        ]
    ),
    ANY_TEXT.map(lambda key: "metadata_filter." + key),
)
QUERY_VALUES = st.one_of(
    ANY_TEXT,
    INTEGERS.map(str),
    JSON.map(lambda value: json.dumps(value)),
    st.dictionaries(ANY_TEXT, JSON, max_size=3).map(lambda value: json.dumps(value)),
)


def fuzz(examples: int) -> settings:
    """Many examples against one server per test function (its fixture is shared on purpose)."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.fixture
async def session_id(api: Api) -> str:
    """One session that every example of a test works on."""
    created = await api.http.post("/sessions", json={"agent": "ada"})
    return str(created.json()["id"])


def encode(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


async def assert_sessions_readable(api: Api, session_id: str) -> None:
    """The listing shapes every stored session; the one just written is read on its own too."""
    listed = await api.http.get("/sessions", params={"limit": "1000"})
    assert listed.status_code == 200, listed.text
    one = await api.http.get(f"/sessions/{session_id}")
    assert one.status_code == 200, one.text


@fuzz(2000)
@given(endpoint=ENDPOINTS, body=RAW_BODIES, new=st.uuids())
async def test_no_body_gets_a_5xx(
    api: Api, session_id: str, endpoint: tuple[str, str], body: bytes, new: UUID
) -> None:
    method, path = endpoint
    target = path.format(id=session_id, new=new)

    response = await api.http.request(method, target, content=body)

    assert response.status_code < 500, (target, body, response.text)
    if response.status_code in (200, 201) and target.count("/") < 3:
        await assert_sessions_readable(api, response.json()["id"])


@fuzz(1500)
@given(pairs=st.lists(st.tuples(QUERY_NAMES, QUERY_VALUES), max_size=4), agents=st.booleans())
async def test_no_query_string_gets_a_5xx(
    api: Api, pairs: list[tuple[str, str]], agents: bool
) -> None:
    query = "&".join(f"{encode(name)}={encode(value)}" for name, value in pairs)

    response = await api.http.get(f"/{'agents' if agents else 'sessions'}?{query}")

    assert response.status_code < 500, (query, response.text)
