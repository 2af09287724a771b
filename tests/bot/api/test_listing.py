"""GET /sessions: Julep's metadata_filter, pagination and sorting, plus tag and persona filters."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from julep import AsyncJulep

from storage import ListQuery
from tests.bot.api.conftest import Api


async def make(api: Api, n: int, **fields: Any) -> list[str]:
    ids = []
    for _ in range(n):
        response = await api.http.post("/sessions", json={"agent": "ada", **fields})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def test_metadata_filter_returns_exactly_the_matching_sessions(
    client: AsyncJulep, api: Api
) -> None:
    wanted = await make(api, 3, metadata={"db_uuid": "1234"})
    await make(api, 2, metadata={"db_uuid": "12345"})
    await make(api, 1, metadata={"db_uuid": 1234})  # a number, not the string "1234"
    await make(api, 1, metadata={"other": "1234"})

    found = [s.id async for s in client.sessions.list(metadata_filter={"db_uuid": "1234"})]

    assert sorted(found) == sorted(wanted)


async def test_several_metadata_conditions_must_all_hold(client: AsyncJulep, api: Api) -> None:
    (both,) = await make(api, 1, metadata={"a": "1", "b": "2"})
    await make(api, 1, metadata={"a": "1", "b": "3"})

    page = await client.sessions.list(metadata_filter={"a": "1", "b": "2"})

    assert [s.id for s in page.items] == [both]


async def test_a_json_metadata_filter_matches_typed_values(api: Api) -> None:
    (number,) = await make(api, 1, metadata={"n": 7, "flag": True})
    await make(api, 1, metadata={"n": "7", "flag": True})

    response = await api.http.get("/sessions", params={"metadata_filter": '{"n": 7}'})

    assert [s["id"] for s in response.json()["items"]] == [number]


async def test_pages_walk_every_session_once_newest_first(client: AsyncJulep, api: Api) -> None:
    ids = await make(api, 7)

    first = await client.sessions.list(limit=3)
    assert [s.id for s in first.items] == ids[::-1][:3]
    walked = [s.id async for s in client.sessions.list(limit=3)]
    assert walked == ids[::-1]
    oldest = await client.sessions.list(limit=2, offset=1, direction="asc")
    assert [s.id for s in oldest.items] == ids[1:3]


async def test_sort_by_updated_at(client: AsyncJulep, api: Api) -> None:
    ids = await make(api, 3)
    await client.sessions.update(ids[0], metadata={"touched": True})

    page = await client.sessions.list(sort_by="updated_at", direction="desc")

    assert page.items[0].id == ids[0]


async def test_tag_agent_user_and_status_filters(api: Api) -> None:
    (tagged,) = await make(api, 1, tags=["vip", "eu"], user="ana")
    await make(api, 1, tags=["vip"], user="ben")
    (sara,) = [
        (await api.http.post("/sessions", json={"agent_id": "sara", "user_id": "ana"})).json()["id"]
    ]
    await api.store.end_session(UUID(sara))

    async def ids(**params: Any) -> list[str]:
        response = await api.http.get("/sessions", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(tag=["vip", "eu"]) == [tagged]
    assert await ids(agent_id="sara") == [sara]
    assert await ids(agent="sara", status="ended") == [sara]
    assert await ids(user="ana", agent="ada") == [tagged]
    assert sorted(await ids(user_id="ana")) == sorted([tagged, sara])
    assert await ids(status="active", user="ana") == [tagged]


@pytest.mark.parametrize(
    "value",
    [
        "' OR '1'='1",
        "1234'; DROP TABLE sessions; --",
        '") OR 1=1 --',
        "%",
        "*",
        "_",
        "[a]",
        "\\",
        "ünïcødé 🚀",
        "名前",
        "a\u200bb",
        "",
    ],
)
async def test_sql_like_and_unicode_filter_values_match_only_themselves(
    client: AsyncJulep, api: Api, value: str
) -> None:
    (exact,) = await make(api, 1, metadata={"k": value})
    await make(api, 1, metadata={"k": "1234"})
    await make(api, 1, metadata={"k": value + "x"})

    response = await api.http.get("/sessions", params={"metadata_filter.k": value})

    assert response.status_code == 200
    assert [s["id"] for s in response.json()["items"]] == [exact]
    if value:  # the SDK leaves out empty values
        page = await client.sessions.list(metadata_filter={"k": value})
        assert [s.id for s in page.items] == [exact]
    assert len((await api.store.list_sessions(ListQuery())).items) == 3  # nothing dropped


@pytest.mark.parametrize("key", ["db'uuid", "ключ", "a.b", "k; DROP TABLE sessions", "$.x"])
async def test_any_metadata_key_can_be_filtered(client: AsyncJulep, api: Api, key: str) -> None:
    (exact,) = await make(api, 1, metadata={key: "v"})
    await make(api, 1, metadata={"other": "v"})

    page = await client.sessions.list(metadata_filter={key: "v"})

    assert [s.id for s in page.items] == [exact]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"sort_by": "id"}, "sort_by"),
        ({"direction": "up"}, "direction"),
        ({"status": "open"}, "status"),
        ({"metdata_filter.db_uuid": "1"}, "metdata_filter.db_uuid"),
        ({"metadata_filter": "[1]"}, "metadata_filter"),
        ({"metadata_filter.": "x"}, "metadata_filter."),
    ],
)
async def test_bad_query_parameters_are_422_naming_them(
    api: Api, params: dict[str, str], field: str
) -> None:
    response = await api.http.get("/sessions", params=params)

    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


async def test_a_repeated_single_parameter_is_refused(api: Api) -> None:
    response = await api.http.get("/sessions?limit=1&limit=2")

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "limit"
