"""The process that renders situation templates, under a memory limit and a time limit.

Started by `situations.renderer.TemplateRenderer` as ``python -P -m situations.render_worker
SECONDS MEMORY_BYTES``. It speaks JSON lines: it writes ``{"ready": true}`` once started, then
answers each request ``{"source", "namespace"}`` with ``{"text"}`` or
``{"error", "line", "limit"}`` (and ``"retire": true`` when it should be replaced). It exits
when its input closes.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
from collections import OrderedDict
from types import FrameType
from typing import IO, Any, Final

import jinja2

from situations.limits import TemplateLimit, too_slow
from situations.sandbox import BoundedSandbox, decode_namespace, describe, render_bounded

__all__ = ["main", "serve"]

_CACHED_TEMPLATES: Final = 128


class _Renderer:
    """Compiled templates by source (least recently used dropped first), rendered on a timer."""

    def __init__(self, seconds: float, memory: int) -> None:
        self.seconds = seconds
        self.memory = memory
        self.environment = BoundedSandbox()
        self.templates: OrderedDict[str, jinja2.Template] = OrderedDict()

    def template(self, source: str) -> jinja2.Template:
        template = self.templates.get(source)
        if template is None:
            template = self.environment.from_string(source)
            self.templates[source] = template
            if len(self.templates) > _CACHED_TEMPLATES:
                self.templates.popitem(last=False)
        self.templates.move_to_end(source)
        return template

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        try:
            template = self.template(request["source"])
            text = render_bounded(template, decode_namespace(request["namespace"]))
        except MemoryError as exc:
            reason = f"needed more than {self.memory // 2**20} MiB of memory (the limit)"
            # Freed memory is not all given back, so this process should not serve again.
            return {"error": reason, "line": describe(exc)[1], "limit": True, "retire": True}
        except Exception as exc:
            reason, line = describe(exc)
            return {"error": reason, "line": line, "limit": isinstance(exc, TemplateLimit)}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return {"text": text}


def serve(renderer: _Renderer, requests: IO[bytes], answers: IO[bytes]) -> None:
    """Answer requests until the input closes."""
    answers.write(b'{"ready": true}\n')
    answers.flush()
    for line in requests:
        answer = renderer.answer(json.loads(line))
        answers.write(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
        answers.flush()


def main(argv: list[str]) -> None:
    seconds, memory = float(argv[0]), int(argv[1])

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise TemplateLimit(too_slow(seconds))

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which stops us
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    answers = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write to the answer stream
    serve(_Renderer(seconds, memory), sys.stdin.buffer, answers)


if __name__ == "__main__":
    main(sys.argv[1:])
