"""Rendering situations within the limits of `situations.limits`, off the event loop.

A plain situation is returned as it is. A straight-line template (no loops, calls, macros or
assignments: see `sandbox.is_straight`) renders in this process, in time linear in its size.
Any other template renders in a worker process (`situations.render_worker`) that has a memory
limit; a render that takes longer than the time limit is stopped there, and if the worker does
not answer soon after, it is killed and the next render starts a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, Final

import jinja2

from situations.errors import TemplateError, TemplateLimitError
from situations.limits import MEMORY_BYTES, RENDER_SECONDS, too_slow
from situations.models import AgentProfile
from situations.render import TemplateVariables, sample_variables, template_error
from situations.sandbox import BoundedSandbox, encode_request, is_straight, render_bounded

__all__ = ["TemplateRenderer"]

log = logging.getLogger(__name__)

_STARTUP_SECONDS: Final = 30.0  # a cold start on a busy machine; the time limit starts after
_GRACE_SECONDS: Final = 0.5  # the worker stops a slow render itself; killed if not by then
_CACHED_TEMPLATES: Final = 256


class _WorkerGone(Exception):
    """The worker process exited or closed its output."""


class _Worker:
    """One render process and the pipes to it (JSON lines both ways)."""

    def __init__(self, seconds: float, memory: int) -> None:
        command = [sys.executable, "-P", "-m", "situations.render_worker", str(seconds)]
        self.process = subprocess.Popen(  # noqa: S603 (our interpreter, our module)
            [*command, str(memory)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_env()
        )
        self._input: IO[bytes] = _pipe(self.process.stdin)
        self._output = _pipe(self.process.stdout).fileno()
        self._poll = select.poll()
        self._poll.register(self._output, select.POLLIN)
        self._buffer = b""
        self._ready = False

    def ask(self, request: bytes, seconds: float) -> dict[str, Any] | None:
        """The worker's answer, or None if it gave none within ``seconds``."""
        if not self._ready:
            if self._line(time.monotonic() + _STARTUP_SECONDS) is None:
                raise _WorkerGone(f"it did not start within {_STARTUP_SECONDS:g} s")
            self._ready = True
        try:
            self._input.write(request)
            self._input.flush()
        except OSError as exc:
            raise _WorkerGone(str(exc)) from exc
        line = self._line(time.monotonic() + seconds)
        return None if line is None else dict(json.loads(line))

    def _line(self, deadline: float) -> bytes | None:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._poll.poll(remaining * 1000):
                return None
            chunk = os.read(self._output, 1 << 16)
            if not chunk:
                raise _WorkerGone(f"it exited with status {self.process.wait()}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                _pipe(pipe).close()


def _env() -> dict[str, str]:
    """The environment of the worker: ours, with this copy of `situations` first on its path
    (``-P`` keeps the working directory off it)."""
    root = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root if not path else os.pathsep.join([root, path])}


def _pipe(pipe: IO[bytes] | None) -> IO[bytes]:
    assert pipe is not None  # Popen made it: stdin and stdout are PIPE
    return pipe


class _Workers:
    """The worker process (started when first needed) and the thread that talks to it.

    Holds no reference to its TemplateRenderer, so it can stop the worker when that is
    collected without being closed.
    """

    def __init__(self, seconds: float, memory: int) -> None:
        self.seconds = seconds
        self.memory = memory
        self.lock = threading.Lock()
        self.worker: _Worker | None = None
        self.executor: ThreadPoolExecutor | None = None

    def thread(self) -> ThreadPoolExecutor:
        with self.lock:
            if self.executor is None:
                self.executor = ThreadPoolExecutor(1, thread_name_prefix="template-render")
            return self.executor

    def render(self, persona_id: str, request: bytes) -> str:
        with self.lock:
            try:
                if self.worker is None:
                    self.worker = _Worker(self.seconds, self.memory)
                answer = self.worker.ask(request, self.seconds + _GRACE_SECONDS)
            except (OSError, _WorkerGone) as exc:
                self._discard()
                raise TemplateError(persona_id, f"the template renderer failed: {exc}") from None
            if answer is None:
                log.warning(
                    "persona %r: template render killed after %s s", persona_id, self.seconds
                )
                self._discard()
                raise TemplateLimitError(persona_id, too_slow(self.seconds))
            if answer.get("retire"):
                self._discard()
        if "text" in answer:
            return str(answer["text"])
        error = TemplateLimitError if answer["limit"] else TemplateError
        raise error(persona_id, answer["error"], answer["line"])

    def _discard(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def close(self) -> None:
        with self.lock:
            executor, self.executor = self.executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        with self.lock:
            self._discard()


class TemplateRenderer:
    """Renders situations within the time, memory and size limits (see the module docstring).

    The worker process starts on the first render that needs it; `close()` (or `aclose()`)
    stops it, and it is stopped too when the renderer is collected or the program exits.
    Safe to use from several threads; renders in the worker run one at a time.
    """

    def __init__(self, *, seconds: float = RENDER_SECONDS, memory: int = MEMORY_BYTES) -> None:
        self._environment = BoundedSandbox()
        self._straight: OrderedDict[str, jinja2.Template | None] = OrderedDict()
        self._straight_lock = threading.Lock()
        self._workers = _Workers(seconds, memory)
        self._finalizer = weakref.finalize(self, self._workers.close)

    @property
    def worker_pid(self) -> int | None:
        """The process id of the worker, while one runs."""
        worker = self._workers.worker
        return None if worker is None else worker.process.pid

    async def render(self, profile: AgentProfile, variables: TemplateVariables) -> str:
        """The situation for a session (see `render_situation`), without blocking the loop
        for longer than the time limit."""
        if not profile.render_templates:
            return profile.situation
        template = self._straight_template(profile)
        if template is not None:
            return self._render_here(profile, template, variables)
        request = _request(profile, variables)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._workers.thread(), self._workers.render, profile.id, request
        )

    def render_blocking(self, profile: AgentProfile, variables: TemplateVariables) -> str:
        """`render`, for code that runs in a thread of its own (e.g. loading persona files)."""
        if not profile.render_templates:
            return profile.situation
        template = self._straight_template(profile)
        if template is not None:
            return self._render_here(profile, template, variables)
        return self._workers.render(profile.id, _request(profile, variables))

    def check_limits(self, profile: AgentProfile) -> None:
        """Raise TemplateLimitError if rendering with sample values goes over a limit.

        Other failures (a metadata key the sample lacks, say) depend on the values and are
        not reported here.
        """
        try:
            self.render_blocking(profile, sample_variables(profile))
        except TemplateError as exc:
            if isinstance(exc, TemplateLimitError):
                raise

    def close(self) -> None:
        """Stop the worker process, if one runs; a later render starts a new one."""
        self._workers.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self._workers.close)

    def __enter__(self) -> TemplateRenderer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _straight_template(self, profile: AgentProfile) -> jinja2.Template | None:
        """The compiled template if it is straight-line, None if it must go to the worker."""
        source = profile.situation
        with self._straight_lock:
            if source in self._straight:
                self._straight.move_to_end(source)
                return self._straight[source]
        try:
            tree = self._environment.parse(source)
            template = self._environment.from_string(tree) if is_straight(tree) else None
        except Exception as exc:  # a syntax error
            raise template_error(profile.id, exc) from exc
        with self._straight_lock:
            self._straight[source] = template
            if len(self._straight) > _CACHED_TEMPLATES:
                self._straight.popitem(last=False)
        return template

    def _render_here(
        self, profile: AgentProfile, template: jinja2.Template, variables: TemplateVariables
    ) -> str:
        try:
            return render_bounded(template, variables.namespace())
        except Exception as exc:
            raise template_error(profile.id, exc) from exc


def _request(profile: AgentProfile, variables: TemplateVariables) -> bytes:
    try:
        return encode_request(profile.situation, variables.namespace())
    except (TypeError, ValueError) as exc:
        reason = f"the template's values cannot be sent to the renderer: {exc}"
        raise TemplateError(profile.id, reason) from exc
