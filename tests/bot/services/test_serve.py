"""`sessionbot serve` as a user runs it: a real subprocess, the synchronous julep SDK as the
client, a real SQLite file, the shipped personas and the fake OpenAI server (in a thread)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from julep import Julep

from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import SESSION_KEYS, TIMESTAMP

TOKEN = "serve-test-token-0123456789"
SERVING = re.compile(r"serving the HTTP API on (http://127\.0\.0\.1:\d+) \(Ctrl-C to stop\)")

# The documented Julep example, verbatim apart from the client's base_url and api_key.
EXAMPLE_SITUATION = """
You are Sara mental health professional, public speaker & renowned educator. You are licensed to be an intimacy and relationship coach. You are an NLP coach who is qualified to deal with trauma, self-perceptions
About you:
...
Important guidelines:
...
"""  # noqa: E501
EXAMPLE_USER_ID = "621ff51c-a813-4046-bfc6-ec425003e8c7"


@pytest.fixture
def env(shipped_env: dict[str, str]) -> dict[str, str]:
    return {**shipped_env, "SESSIONBOT_API_TOKEN": TOKEN}


class Server:
    """A running `sessionbot serve`; a thread keeps reading its stderr (so logging never
    blocks it on a full pipe) into `lines`."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self.started = threading.Event()
        self.url = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        with self.process.stderr:
            for line in self.process.stderr:
                self.lines.append(line)
                match = SERVING.search(line)
                if match is not None:
                    self.url = match.group(1)
                    self.started.set()
        self.started.set()

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        self.process.send_signal(signum)
        status = self.process.wait(timeout=20)
        self._reader.join(timeout=10)
        return status, "".join(self.lines)


def start(env: dict[str, str], *args: str) -> Server:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", *args],
        env=env,
        cwd=env["HOME"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = Server(process)
    if not server.started.wait(timeout=30) or not server.url:
        process.kill()
        process.wait(timeout=10)
        server._reader.join(timeout=10)
        raise AssertionError("serve did not start:\n" + "".join(server.lines))
    return server


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[Server]:
    running = start(env, "--port", "0")
    yield running
    if running.process.poll() is None:
        running.stop()


def test_the_documented_example_works_through_the_official_sdk(server: Server) -> None:
    with Julep(api_key=TOKEN, base_url=server.url) as client:
        agent = client.agents.get("sara")
        others = [
            client.sessions.create(agent=agent.id, metadata={"db_uuid": "12345"}),
            client.sessions.create(agent=agent.id, metadata={"db_uuid": 1234}),
            client.sessions.create(agent=agent.id),
        ]

        raw = client.sessions.with_raw_response.create(
            agent=agent.id,
            user=EXAMPLE_USER_ID,
            situation=EXAMPLE_SITUATION,
            metadata={"db_uuid": "1234"},
        )
        # The documented example spells them agent_id / user_id; julep 2.x's create() calls
        # them agent / user.
        raw_documented_spelling = client.sessions.with_raw_response.create(
            situation=EXAMPLE_SITUATION,
            metadata={"db_uuid": "1234"},
            extra_body={"agent_id": agent.id, "user_id": EXAMPLE_USER_ID},
        )
        listed = list(client.sessions.list(metadata_filter={"db_uuid": "1234"}))

    created = [raw.parse(), raw_documented_spelling.parse()]
    for response in (raw, raw_documented_spelling):
        assert response.http_response.status_code == 201
        shape = response.http_response.json()
        assert set(SESSION_KEYS) <= shape.keys()
        assert shape["user_id"] == EXAMPLE_USER_ID
        assert shape["agent_id"] == "sara"
        assert shape["situation"] == EXAMPLE_SITUATION
        assert shape["summary"] is None
        assert shape["metadata"]["db_uuid"] == "1234"  # next to sara.yaml's default metadata
        assert shape["render_templates"] is False
        assert TIMESTAMP.match(shape["created_at"]) and TIMESTAMP.match(shape["updated_at"])
    assert sorted(s.id for s in listed) == sorted(s.id for s in created)
    assert not {s.id for s in others} & {s.id for s in listed}
    assert all(s.created_at.tzinfo is not None for s in listed)


def test_chat_through_the_served_api_is_stored(server: Server, threaded_openai: FakeOpenAI) -> None:
    threaded_openai.queue_reply("Breathe in for four, out for six.")
    with Julep(api_key=TOKEN, base_url=server.url, max_retries=0) as client:
        session = client.sessions.create(agent="sara", user="ana")
        reply = client.sessions.chat(session.id, messages=[{"role": "user", "content": "help"}])
        history = client.sessions.history(session.id)

    assert reply.choices[0].message.content == "Breathe in for four, out for six."  # type: ignore[union-attr]
    assert [entry.role for entry in history.entries] == ["assistant", "user", "assistant"]


def test_sigterm_stops_the_server_cleanly(server: Server) -> None:
    status, stderr = server.stop(signal.SIGTERM)

    assert status == 0
    assert stderr.strip().endswith("stopped")
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/sessions", timeout=2)


def test_serve_refuses_to_start_without_a_token(env: dict[str, str]) -> None:
    del env["SESSIONBOT_API_TOKEN"]

    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("sessionbot: error: SESSIONBOT_API_TOKEN is not set")
    assert not Path(env["SESSIONBOT_DATABASE"]).exists()


def test_serve_refuses_a_short_token(env: dict[str, str]) -> None:
    env["SESSIONBOT_API_TOKEN"] = "tiny-tok"

    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"], env=env, capture_output=True, text=True, timeout=30
    )

    assert result.returncode == 2
    assert "SESSIONBOT_API_TOKEN is too short" in result.stderr
    assert "tiny-tok" not in result.stderr


def test_a_port_in_use_is_one_line_with_a_hint(env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env["SESSIONBOT_API_PORT"] = str(port)

        result = subprocess.run(
            [sys.executable, "-m", "bot", "serve"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in result.stderr
    assert "hint: choose another with --port or SESSIONBOT_API_PORT" in result.stderr
