"""Reading a server-sent event stream (text/event-stream) from an HTTP body as it arrives.

Only what a chat completions stream needs: the `data` of each event (other fields, `event`,
`id`, `retry`, and comments are skipped; an event without data is not reported), and telling
the HTTP transport's errors apart without importing the HTTP library, which differs between
versions of the SDK that sends the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

_TRANSPORT_MODULES = frozenset(
    {"aiohttp", "httpx", "httpx2", "httpcore", "httpcore2", "anyio", "ssl"}
)


class SSEDecoder:
    """Server-sent events to the `data` of each event, fed one block of the body at a time."""

    def __init__(self) -> None:
        self._rest = b""  # an unfinished line
        self._data: list[bytes] = []  # the data lines of the event being read

    def feed(self, block: bytes) -> list[bytes]:
        """The data of each event that `block` completes, in order."""
        text = self._rest + block if self._rest else block
        if b"\r" in text:  # CRLF or CR line ends; a final CR may be half of a CRLF
            held = text.endswith(b"\r")
            text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if held:
                text = text[:-1] + b"\r"
        lines = text.split(b"\n")
        self._rest = lines.pop()
        events: list[bytes] = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(self._data[0] if len(self._data) == 1 else b"\n".join(self._data))
                    self._data = []
            elif line.startswith(b"data:"):
                self._data.append(line[6:] if line[5:6] == b" " else line[5:])
        return events


async def drain(blocks: AsyncIterator[bytes], seconds: float) -> None:
    """Read the rest of a body (normally nothing) so that its connection can be reused; a body
    that does not end within `seconds`, or breaks, costs only the connection."""
    try:
        async with asyncio.timeout(seconds):
            async for _ in blocks:
                pass
    except TimeoutError:
        pass
    except Exception as exc:
        if not is_transport_error(exc):
            raise


def is_transport_error(exc: BaseException) -> bool:
    """Whether `exc` comes from the HTTP transport (raised while a body is read): the connection
    broke off or stalled. Matched by module, whichever HTTP library the SDK uses."""
    return type(exc).__module__.split(".")[0] in _TRANSPORT_MODULES


def is_timeout(exc: BaseException) -> bool:
    """Whether a transport error is a timeout (httpx names it so; aiohttp's are TimeoutErrors)."""
    return isinstance(exc, TimeoutError) or any(
        cls.__name__ == "TimeoutException" for cls in type(exc).__mro__
    )


def is_connection_failure(exc: BaseException) -> bool:
    """Whether the error underneath `exc` is a refused or dropped connection, though `exc`
    says timeout: the SDK's aiohttp transport reports aiohttp's connection errors as httpx2's
    ConnectTimeout, and only the aiohttp error it chains from tells the two apart."""
    cause: BaseException | None = exc
    while cause is not None:
        if any(
            cls.__name__ == "ClientConnectionError" and cls.__module__.startswith("aiohttp")
            for cls in type(cause).__mro__
        ):
            return not isinstance(cause, TimeoutError)
        cause = cause.__cause__ or cause.__context__
    return False
