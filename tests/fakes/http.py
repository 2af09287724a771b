"""The parts of a fake HTTP server that know nothing about the API it fakes.

`FakeHTTPServer` runs an aiohttp app on 127.0.0.1 with a free port, records every request,
offers waits for tests, hangs that end cleanly at shutdown, and a thread runner for synchronous
or subprocess tests. `tests.fakes.openai_server` and `tests.fakes.discord_server` build on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Self, TypeVar

from aiohttp import web

Outcome = Literal["pending", "answered", "failed", "hung", "complete", "disconnected", "broken"]

T = TypeVar("T")

#: Bodies up to this size are accepted (Discord allows uploads of 25 MiB and more).
MAX_BODY = 64 * 1024 * 1024


@dataclass
class UploadedFile:
    """One file part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One request as the server saw it.

    `headers` has lower-case names. `body` is the parsed JSON body (None if there was none or it
    was not JSON). A multipart body leaves its text fields in `form` and its files in `files`.
    `outcome` is updated while the request is handled: "answered" (plain JSON reply), "failed"
    (a scripted or validation error), "hung", "complete" (a stream sent to the end),
    "disconnected" (the client went away mid-stream), "broken" (the fake cut it). `status` is
    the HTTP status sent, for servers that record it (None until the response starts);
    `injected` the status of a scripted fault answered instead of the real one, if any.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    outcome: Outcome = "pending"
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    files: list[UploadedFile] = field(default_factory=list)
    status: int | None = None
    injected: int | None = None  # the status of a fault the fake answered with instead
    at: float = field(default_factory=time.monotonic)  # when it arrived (monotonic seconds)


class FakeHTTPServer:
    """Base for fake HTTP servers: an aiohttp app on 127.0.0.1 with a free port.

    Subclasses implement `add_routes` and call `record` at the top of each handler. Use the
    instance as an async context manager on the running loop, or `in_thread()` from synchronous
    code. Handlers that wait with `hold` or `pause` end as soon as the server closes, so a hung
    request never outlives the test.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing: asyncio.Event | None = None

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash) once started."""
        if self._port is None:
            raise RuntimeError("the fake server is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the fake server is not started")
        return self._port

    async def start(self) -> Self:
        app = web.Application(client_max_size=MAX_BODY)
        self.add_routes(app)
        self._closing = asyncio.Event()
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]
        return self

    async def close(self) -> None:
        """Stop the server; handlers waiting in `hold`/`pause` return first."""
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, *args: Any, **kwargs: Any) -> Iterator[Self]:
        """Run a started server on its own event loop in a thread (for sync/subprocess tests).

        Arguments go to the constructor. Knobs and `requests` can be used from the calling
        thread between requests.
        """
        server = cls(*args, **kwargs)
        ready = threading.Event()
        stop: list[Callable[[], None]] = []
        failure: list[BaseException] = []

        async def serve() -> None:
            stopped = asyncio.Event()
            loop = asyncio.get_running_loop()
            try:
                await server.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                raise

            def request_stop() -> None:
                loop.call_soon_threadsafe(stopped.set)

            stop.append(request_stop)
            ready.set()
            try:
                await stopped.wait()
            finally:
                await server.close()

        thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
        thread.start()
        ready.wait(timeout=10)
        if failure:
            thread.join(timeout=10)
            raise failure[0]
        if not stop:
            raise RuntimeError("the fake server did not start within 10 s")
        try:
            yield server
        finally:
            stop[0]()
            thread.join(timeout=10)

    async def record(self, request: web.Request) -> RecordedRequest:
        """Store the request (headers, query, parsed body or multipart parts); return the record."""
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            headers={name.lower(): value for name, value in request.headers.items()},
            body=None,
            query=dict(request.query),
        )
        if request.content_type.startswith("multipart/"):
            for name, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    value.file.close()
                    upload = UploadedFile(name, value.filename, value.content_type, data)
                    recorded.files.append(upload)
                else:
                    recorded.form[name] = str(value)
        else:
            raw = await request.read()
            if raw:
                with contextlib.suppress(ValueError):
                    recorded.body = json.loads(raw)
        self.requests.append(recorded)
        return recorded

    # The helpers below take `timeout` (ASYNC109) and poll (ASYNC110) on purpose: they are test
    # conveniences over arbitrary state, and a failed wait should read as an assertion.
    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 5.0) -> T:  # noqa: ASYNC109
        """Poll `predicate` until it returns something truthy and return that value.

        Fails the test (AssertionError) after `timeout` seconds.
        """
        try:
            async with asyncio.timeout(timeout):
                while not (value := predicate()):  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
        except TimeoutError:
            raise AssertionError(f"condition not met within {timeout} s") from None
        assert value is not None
        return value

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Poll `predicate` until it is true; fail the test after `timeout` seconds."""
        await self.wait_for(predicate, timeout)

    async def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:  # noqa: ASYNC109
        """Wait until at least `n` requests have arrived; return all recorded so far."""
        await self.wait_until(lambda: len(self.requests) >= n, timeout)
        return list(self.requests)

    async def hold(self) -> None:
        """Wait until the server closes (a request that never gets an answer)."""
        assert self._closing is not None
        await self._closing.wait()

    async def pause(self, seconds: float) -> bool:
        """Sleep `seconds`; return False early if the server is closing."""
        assert self._closing is not None
        if seconds <= 0:
            return not self._closing.is_set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._closing.wait()
        return not self._closing.is_set()
