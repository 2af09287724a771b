"""Templates cannot run away: size checks in the sandbox, and a worker process with time and
memory limits for templates with loops, calls and macros."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from situations import (
    TemplateError,
    TemplateLimitError,
    TemplateRenderer,
    TemplateVariables,
    render_situation,
)
from tests.situations.test_render import profile

NOW = datetime(2024, 4, 29, 7, 23, 48, tzinfo=UTC)
DAG = (  # two equal lists of 2**40 leaves, in 80 list objects
    "{% set ns = namespace(a=[1], b=[1]) %}{% for i in range(40) %}"
    "{% set ns.a = [ns.a, ns.a] %}{% set ns.b = [ns.b, ns.b] %}{% endfor %}"
)
RUNAWAYS = {
    "nested loops": "{% for i in range(60000) %}{% for j in range(60000) %}{% endfor %}"
    "{% endfor %}",
    "loops over huge ranges": "{% for i in range(100000) %}{% for j in range(100000) %}"
    "{% endfor %}{% endfor %}",
    "string multiplication": "{{ 'x' * 2*10**8 }}",
    "a huge power": "{{ 2 ** 100000000 }}",
    "replace doubling": "{% set s = 'ab' %}"
    + "{% set s = s.replace('', s) %}" * 6
    + "{{ s|length }}",
    "concat doubling": "{% set s = 'ab' %}" + "{% set s = s ~ s %}" * 40 + "{{ s|length }}",
    "namespace doubling": "{% set ns = namespace(s='ab') %}{% for i in range(60) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "padding": "{{ user|center(10**9) }}",
    "percent width": "{{ '%999999999d' % 1 }}",
    "format width": "{{ '{:>999999999}'.format(1) }}",
    "recursive macro": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "branching macro": "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
    "{% endmacro %}{{ f(60) }}",
    "long output": "{% for i in range(65536) %}{{ 'x' * 60000 }}{% endfor %}",
    "C-level comparison": DAG + "{{ ns.a == ns.b }}",
}
NORMAL = (
    "Hi {{ user }} in {{ place }}.{% for tag in metadata.tags %} #{{ tag|upper }}{% endfor %}\n"
    "{{ now.strftime('%A') }} {{ ['a', 'b']|join(', ') }}{% macro m(x) %}<{{ x }}>{% endmacro %}"
    "{{ m(persona) }}\n"
)


def variables() -> TemplateVariables:
    metadata = {"tags": ["maths", "exam"], "level": 2.5}
    return TemplateVariables(
        user="Ana", persona="Quill", place="#maths", metadata=metadata, now=NOW
    )


@pytest.fixture
def renderer() -> Iterator[TemplateRenderer]:
    with TemplateRenderer() as renderer:
        yield renderer


def resident_bytes() -> int:
    """The memory this process uses now (its resident set)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


class Ticker:
    """A task that wakes every 50 ms: the longest gap between its ticks, and the most memory
    this process used at any tick."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.baseline = self.peak = resident_bytes()

    async def run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.05)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            self.peak = max(self.peak, resident_bytes())
            last = now


@pytest.fixture
async def ticker() -> AsyncIterator[Ticker]:
    ticker = Ticker()
    task = asyncio.create_task(ticker.run())
    yield ticker
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_runaway_templates_are_stopped_while_the_loop_keeps_running(
    renderer: TemplateRenderer, ticker: Ticker
) -> None:
    start = time.perf_counter()
    reasons = {}
    for name, text in RUNAWAYS.items():
        with pytest.raises(TemplateError) as info:
            await renderer.render(profile(text), variables())
        reasons[name] = info.value.reason
    elapsed = time.perf_counter() - start
    assert elapsed < 10, reasons
    assert ticker.longest < 1.0, ticker.longest
    assert ticker.peak - ticker.baseline < 50 * 2**20
    assert "took longer than 1 s" in reasons["nested loops"]
    assert "took longer than 1 s" in reasons["branching macro"]
    assert "took longer than 1 s" in reasons["C-level comparison"]
    assert "range() would have 100,000 items" in reasons["loops over huge ranges"]
    assert reasons["string multiplication"] == (
        "'*' would make a value of 200,000,000 characters or items (the limit is 65,536)"
    )
    assert reasons["a huge power"].startswith("'**' would make a number of 100,000,000 bits")
    assert reasons["replace doubling"].startswith("replace() would make a value of")
    assert reasons["concat doubling"].startswith("made a value of 131,072 characters")
    assert reasons["padding"].startswith("center() would make a value of 1,000,000,000")
    assert "RecursionError" in reasons["recursive macro"]
    assert reasons["long output"] == (
        "the rendered text is longer than 65,536 characters (the limit)"
    )
    assert await renderer.render(profile(NORMAL), variables()) == render_situation(
        profile(NORMAL), variables()
    )


async def test_limits_are_limit_errors_and_other_failures_are_not(
    renderer: TemplateRenderer,
) -> None:
    with pytest.raises(TemplateLimitError):
        await renderer.render(profile(RUNAWAYS["nested loops"]), variables())
    with pytest.raises(TemplateLimitError):
        await renderer.render(profile(RUNAWAYS["string multiplication"]), variables())
    with pytest.raises(TemplateError) as info:
        await renderer.render(profile("{% for x in y %}{% endfor %}\n{{ 1 // 0 }}"), variables())
    assert not isinstance(info.value, TemplateLimitError)


async def test_the_worker_renders_exactly_what_rendering_in_process_gives(
    renderer: TemplateRenderer,
) -> None:
    texts = [NORMAL, "{% for i in range(3) %}{{ i }}{{ now }}{% endfor %}\n\n", "{{ metadata }}"]
    for text in texts:
        expected = render_situation(profile(text), variables())
        assert await renderer.render(profile(text), variables()) == expected
        assert renderer.render_blocking(profile(text), variables()) == expected
    assert renderer.worker_pid is not None


async def test_plain_and_straight_line_situations_never_start_the_worker(
    renderer: TemplateRenderer,
) -> None:
    plain = profile("{% for i in range(10**9) %}{% endfor %}").model_copy(
        update={"render_templates": False}
    )
    assert await renderer.render(plain, variables()) == plain.situation
    straight = "{{ user|title }} {% if metadata.level > 2 %}{{ date ~ ' ' ~ time }}{% endif %}"
    assert await renderer.render(profile(straight), variables()) == "Ana 2024-04-29 07:23"
    assert renderer.worker_pid is None


async def test_a_killed_worker_is_replaced_and_close_stops_it(renderer: TemplateRenderer) -> None:
    with pytest.raises(TemplateLimitError, match="took longer than 1 s"):
        await renderer.render(profile(RUNAWAYS["C-level comparison"]), variables())
    assert renderer.worker_pid is None  # killed: it did not stop by itself
    assert await renderer.render(profile(NORMAL), variables()) == render_situation(
        profile(NORMAL), variables()
    )
    pid = renderer.worker_pid
    assert pid is not None
    await renderer.aclose()
    assert renderer.worker_pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_the_worker_cannot_use_more_than_its_memory(renderer: TemplateRenderer) -> None:
    # Each value is under the size limit, but together they need far more than 256 MiB.
    text = (
        "{% set ns = namespace(all=[]) %}{% for i in range(60000) %}"
        "{% set ns.all = [ns.all, 'x' * 60000 ~ i] %}{% endfor %}"
    )
    with pytest.raises(TemplateLimitError, match="needed more than 256 MiB of memory"):
        await renderer.render(profile(text), variables())
    assert await renderer.render(profile("{{ range(3)|list }}"), variables()) == "[0, 1, 2]"
