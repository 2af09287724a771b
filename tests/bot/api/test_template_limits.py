"""A runaway situation template through the HTTP API: a 4xx with the reason within the time
limit, while the server keeps answering other requests."""

from __future__ import annotations

import asyncio
import time

from tests.bot.api.conftest import Api

RUNAWAY = "{% for i in range(60000) %}{% for j in range(60000) %}{% endfor %}{% endfor %}"


async def test_rendering_a_runaway_template_is_a_4xx_and_the_server_keeps_answering(
    api: Api,
) -> None:
    body = {"agent": "ada", "situation": RUNAWAY, "render_templates": True}
    created = await api.http.post("/sessions", json=body)
    assert created.status_code == 201
    session_id = created.json()["id"]

    start = time.perf_counter()
    render = asyncio.create_task(
        api.http.post(f"/sessions/{session_id}/render", json={"messages": []}, timeout=10)
    )
    listings = []
    while not render.done():
        began = time.perf_counter()
        response = await api.http.get("/sessions", timeout=1)
        listings.append(time.perf_counter() - began)
        assert response.status_code == 200
        await asyncio.sleep(0.05)
    response = await render
    assert time.perf_counter() - start < 10
    assert len(listings) > 5 and max(listings) < 1.0
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "situation_failed",
        "message": "Persona 'ada': situation template line 1: took longer than 1 s to render "
        "(the limit); look for a runaway loop or macro",
    }
    patched = await api.http.patch(
        f"/sessions/{session_id}", json={"situation": "{{ 'x' * 2*10**8 }}"}
    )
    assert patched.status_code == 200
    response = await api.http.post(f"/sessions/{session_id}/render", json={"messages": []})
    assert response.status_code == 409
    assert "'*' would make a value of 200,000,000 characters" in response.json()["error"]["message"]
