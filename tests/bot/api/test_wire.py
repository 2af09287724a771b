"""Malformed HTTP on a real socket: raw bytes reach aiohttp's parser, and neither the answers nor
the log ever contain the token; a body that never arrives is not waited for forever."""

from __future__ import annotations

import asyncio
import logging
import re
import time

import pytest

from bot.api import create_app, listening
from storage import ListQuery
from tests.bot.api.conftest import MAX_BODY, TOKEN, Api

CANARY = TOKEN.encode()
"""The API token, planted in every malformed request below: it must appear nowhere."""


async def exchange(port: int, raw: bytes, *, wait: float = 5.0) -> bytes:
    """Send `raw` to 127.0.0.1:port; return the response once it is complete (by its
    Content-Length), or what arrived before the server closed or `wait` seconds passed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        received = b""
        deadline = time.monotonic() + wait
        while not _complete(received) and (left := deadline - time.monotonic()) > 0:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), left)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
        return received
    finally:
        writer.close()
        await writer.wait_closed()


def _complete(received: bytes) -> bool:
    head, found, body = received.partition(b"\r\n\r\n")
    length = re.search(rb"\r\nContent-Length: (\d+)", head, re.IGNORECASE)
    return bool(found and length and len(body) >= int(length.group(1)))


def request(authorization: bytes, *, target: bytes = b"/sessions") -> bytes:
    return (
        b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: " + authorization + b"\r\nConnection: close\r\n\r\n"
    )


MALFORMED = {
    "nul after the token": request(b"Bearer " + CANARY + b"\x00"),
    "nul inside the token": request(b"Bearer " + CANARY[:5] + b"\x00" + CANARY[5:]),
    "0xff before the token": request(b"Bearer \xff" + CANARY),
    "0xff after the token": request(b"Bearer " + CANARY + b"\xff"),
    "non-ascii letter": request(b"Bearer " + CANARY + "é".encode()),
    "lone carriage return": request(b"Bearer " + CANARY + b"\rX-Other: 1"),
    "carriage return at the end": request(b"Bearer " + CANARY + b"\r"),
    "bare line feed": request(b"Bearer " + CANARY + b"\nX-Other: 1"),
    "vertical tab": request(b"Bearer " + CANARY + b"\x0b"),
    "delete character": request(b"Bearer " + CANARY + b"\x7f"),
    "escape sequence": request(b"Bearer \x1b[31m" + CANARY),
    "folded header": request(b"Bearer\r\n " + CANARY),
    "overlong header": request(b"Bearer " + CANARY * 400),
    "bad percent-encoding": request(b"Bearer %zz" + CANARY + b"%"),
    "bad percent-encoding in the path": request(
        b"Bearer " + CANARY, target=b"/sessions/%zz%ff?tag=%ff&%zz=%ED%A0%80"
    ),
    "token in a malformed request line": request(b"Bearer x", target=b"/\x00" + CANARY),
    "token as a header name": (
        b"GET /sessions HTTP/1.1\r\nHost: x\r\n" + CANARY + b"\x00: 1\r\n\r\n"
    ),
    "two authorization headers": request(b"Bearer " + CANARY + b"\r\nAuthorization: Basic x"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_malformed_headers_never_echo_or_log_the_token(
    api: Api, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    caplog.set_level(logging.DEBUG)
    port = int(api.url.rsplit(":", 1)[1])

    answer = await exchange(port, MALFORMED[name])

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split(b" ")[1] in {b"400", b"401", b"404", b"422"}, answer
    assert CANARY not in answer
    assert b"\r\nServer: sessionbot\r\n" in rest
    assert b"aiohttp" not in answer
    assert b"Python" not in answer
    assert CANARY.decode() not in caplog.text
    for record in caplog.records:
        assert CANARY.decode() not in record.getMessage()
        assert record.levelno < logging.WARNING, record.getMessage()


async def test_answers_name_the_server_without_versions(api: Api) -> None:
    for response in (await api.http.get("/sessions"), await api.bare.get("/nowhere")):
        assert response.headers["Server"] == "sessionbot"


async def test_a_body_shorter_than_its_content_length_is_408_and_the_connection_closes(
    api: Api,
) -> None:
    app = create_app(api.engine, token=TOKEN, max_body=MAX_BODY, body_timeout=0.5)
    async with listening(app, host="127.0.0.1", port=0) as bound:
        started = time.monotonic()
        answer = await exchange(
            bound.port,
            b"POST /sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + CANARY
            + b'\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"agent":',
            wait=15.0,
        )
        elapsed = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"body_timeout" in answer
    assert b"\r\nConnection: close\r\n" in answer
    assert 0.5 <= elapsed < 3.0
    assert (await api.store.list_sessions(ListQuery())).items == []
