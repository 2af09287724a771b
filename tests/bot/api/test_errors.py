"""Authentication, malformed and oversized bodies, wrong types and unknown ids: each is a JSON
error with the right status, and none of them changes anything."""

from __future__ import annotations

import logging
from uuid import UUID, uuid4

import julep
import pytest
from julep import AsyncJulep

from storage import ListQuery
from tests.bot.api.conftest import MAX_BODY, TOKEN, Api


async def session_count(api: Api) -> int:
    return len((await api.store.list_sessions(ListQuery(limit=1000))).items)


async def existing(api: Api) -> str:
    response = await api.http.post("/sessions", json={"agent": "ada", "metadata": {"v": 1}})
    assert response.status_code == 201
    return str(response.json()["id"])


REQUESTS = [
    ("POST", "/sessions", {"agent": "ada"}),
    ("GET", "/sessions", None),
    ("GET", "/sessions/{id}", None),
    ("PATCH", "/sessions/{id}", {"metadata": {"v": 2}}),
    ("PUT", "/sessions/{id}", {"metadata": {}}),
    ("POST", "/sessions/{id}", {"agent": "sara"}),
    ("DELETE", "/sessions/{id}", None),
    ("GET", "/sessions/{id}/history", None),
    ("DELETE", "/sessions/{id}/history", None),
    ("POST", "/sessions/{id}/chat", {"messages": [{"role": "user", "content": "hi"}]}),
    ("POST", "/sessions/{id}/render", {"messages": []}),
    ("GET", "/agents", None),
    ("GET", "/agents/ada", None),
    ("GET", "/no/such/route", None),
]


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-0123456789"])
async def test_without_the_right_token_every_endpoint_is_401_and_nothing_changes(
    api: Api, method: str, path: str, body: object, authorization: str | None
) -> None:
    session_id = await existing(api)
    before = await api.store.get_session(UUID(session_id))
    headers = {} if authorization is None else {"Authorization": authorization}

    response = await api.bare.request(
        method, path.format(id=session_id), json=body, headers=headers
    )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"
    assert TOKEN not in response.text
    assert await api.store.get_session(UUID(session_id)) == before
    assert await session_count(api) == 1
    assert await api.store.count_messages(UUID(session_id)) == 0
    assert api.fake.chat_requests == []


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        f"Basic {TOKEN}",
        "Bearer",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"bearer {TOKEN.upper()}",
        "Bearer ünïcode-tøken-0123456789".encode(),
    ],
)
async def test_malformed_or_near_miss_authorization_is_401(
    api: Api, authorization: str | bytes
) -> None:
    response = await api.bare.post(
        "/sessions", json={"agent": "ada"}, headers={"Authorization": authorization}
    )

    assert response.status_code == 401
    assert await session_count(api) == 0


async def test_the_bearer_scheme_is_case_insensitive(api: Api) -> None:
    response = await api.bare.get("/sessions", headers={"Authorization": f"bearer {TOKEN}"})

    assert response.status_code == 200


async def test_the_sdk_with_a_wrong_key_gets_authentication_error(api: Api) -> None:
    async with AsyncJulep(api_key="not-the-token", base_url=api.url, max_retries=0) as client:
        with pytest.raises(julep.AuthenticationError):
            await client.sessions.create(agent="ada")
    assert await session_count(api) == 0


async def test_the_token_is_never_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await api.http.get("/sessions")
    await api.bare.get("/sessions", headers={"Authorization": "Bearer guess-0123456789abcd"})

    assert TOKEN not in caplog.text
    assert "guess-0123456789abcd" not in caplog.text


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"{not json", "malformed_json"),
        (b'{"agent": "ada",}', "malformed_json"),
        (b'{"metadata": {"x": NaN}}', "malformed_json"),
        (b"", "malformed_body"),
        (b"[]", "malformed_body"),
        (b'"ada"', "malformed_body"),
        (b"\xff\xfe", "malformed_body"),
    ],
)
async def test_malformed_bodies_are_400(api: Api, content: bytes, code: str) -> None:
    response = await api.http.post(
        "/sessions", content=content, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert await session_count(api) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"agent": 5}, "agent"),
        ({"metadata": "db_uuid=1234"}, "metadata"),
        ({"metadata": ["a"]}, "metadata"),
        ({"render_templates": "yes"}, "render_templates"),
        ({"token_budget": "100"}, "token_budget"),
        ({"token_budget": 100}, "token_budget"),  # not the persona's budget
        ({"context_overflow": "drop"}, "context_overflow"),
        ({"system_template": "{{x}}"}, "system_template"),
        ({"tags": "vip"}, "tags"),
        ({"situation": ["a"]}, "situation"),
        ({"agnet": "ada"}, "agnet"),
        ({"situation": "Hi {{ nobody }}", "render_templates": True}, "situation"),
        ({"metadata": {"bad": "nul\u0000"}}, "metadata"),
    ],
)
async def test_wrong_types_are_422_naming_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    response = await api.http.post("/sessions", json=body)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert field in error["message"] or field == "metadata"
    assert await session_count(api) == 0


async def test_the_personas_own_context_settings_may_be_repeated(api: Api) -> None:
    response = await api.http.post(
        "/sessions",
        json={"agent": "sara", "token_budget": 4000, "context_overflow": "adaptive"},
    )

    assert response.status_code == 201
    assert response.json()["token_budget"] == 4000
    assert response.json()["context_overflow"] == "adaptive"


async def test_patch_with_wrong_types_changes_nothing(api: Api) -> None:
    session_id = await existing(api)
    before = await api.store.get_session(UUID(session_id))

    response = await api.http.patch(f"/sessions/{session_id}", json={"metadata": 3})

    assert response.status_code == 422
    assert await api.store.get_session(UUID(session_id)) == before


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"metadata": {}}),
        ("PUT", "", {}),
        ("DELETE", "", None),
        ("GET", "/history", None),
        ("DELETE", "/history", None),
        ("POST", "/chat", {"messages": [{"role": "user", "content": "hi"}]}),
        ("POST", "/render", {"messages": []}),
    ],
)
@pytest.mark.parametrize("ident", [str(uuid4()), "not-a-uuid", "1; DROP TABLE sessions"])
async def test_unknown_session_ids_are_404(
    api: Api, method: str, suffix: str, body: object, ident: str
) -> None:
    response = await api.http.request(method, f"/sessions/{ident}{suffix}", json=body)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "session_not_found"
    assert api.fake.chat_requests == []


async def test_the_sdk_raises_not_found_for_unknown_ids(client: AsyncJulep) -> None:
    with pytest.raises(julep.NotFoundError):
        await client.sessions.get(str(uuid4()))
    with pytest.raises(julep.NotFoundError):
        await client.sessions.delete(str(uuid4()))
    with pytest.raises(julep.NotFoundError):
        await client.agents.get("nobody")


async def test_a_declared_oversized_body_is_413_before_it_is_read(api: Api) -> None:
    big = {"agent": "ada", "situation": "x" * (MAX_BODY + 1)}

    response = await api.http.post("/sessions", json=big)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert await session_count(api) == 0


async def test_a_chunked_oversized_body_is_413(api: Api) -> None:
    async def chunks():  # no Content-Length: the limit applies while reading
        yield b'{"agent": "ada", "situation": "'
        for _ in range(MAX_BODY // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    response = await api.http.post("/sessions", content=chunks())

    assert response.status_code == 413
    assert await session_count(api) == 0


async def test_unknown_routes_and_methods_are_json_errors(api: Api) -> None:
    missing = await api.http.get("/nothing/here")
    wrong_method = await api.http.request("PATCH", "/agents")

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_errors_tell_the_sdk_not_to_retry(api: Api) -> None:
    response = await api.http.get(f"/sessions/{uuid4()}")

    assert response.headers["x-should-retry"] == "false"


async def test_reopening_an_ended_session_is_409(api: Api) -> None:
    session_id = await existing(api)
    await api.store.end_session(UUID(session_id))

    response = await api.http.patch(f"/sessions/{session_id}", json={"status": "active"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "session_ended"
