"""Splitting a reply into Discord-sized messages without breaking words or code blocks.

Discord refuses messages over 2,000 characters. `split_reply` cuts a long text at the last
paragraph break that leaves a reasonably full message, else the last line break, else the last
space; a single word longer than the limit is the only thing ever cut in the middle. When a cut
falls inside a ``` code block, the part is closed with a fence and the next part reopens it with
the same language tag, so both render as code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

MESSAGE_LIMIT: Final = 2000
FENCE: Final = "```"
_CLOSE: Final = "\n" + FENCE
# A language tag directly after an opening fence, e.g. ```python
_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.\-]{1,20}(?=\n)")
# Prefer a boundary in the second half of the window, so that parts are not tiny.
_MIN_FILL: Final = 0.5


@dataclass(frozen=True)
class FenceState:
    """Whether a text ends inside a code block, and the language tag of that block."""

    open: bool = False
    language: str = ""

    @property
    def reopen(self) -> str:
        """The line that reopens the block in the next part ("" when no block is open)."""
        return f"{FENCE}{self.language}\n" if self.open else ""


def fence_state(text: str, start: FenceState | None = None) -> FenceState:
    """The fence state after `text`, starting from `start` (outside any block by default)."""
    state = start or FenceState()
    position = text.find(FENCE)
    while position != -1:
        after = position + len(FENCE)
        if state.open:
            state = FenceState()
        else:
            match = _LANGUAGE.match(text, after)
            state = FenceState(open=True, language=match.group(0) if match else "")
        position = text.find(FENCE, after)
    return state


def split_reply(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """`text` as parts of at most `limit` characters each (none empty), in order."""
    if limit < 40:
        raise ValueError("limit must be at least 40 characters")
    parts: list[str] = []
    rest = text
    state = FenceState()
    while True:
        candidate = state.reopen + rest
        if len(candidate) <= limit:
            _append(parts, candidate)
            return parts
        reopen = len(state.reopen)
        cut, skip = _cut(candidate, limit - len(_CLOSE), reopen)
        head = candidate[:cut]
        # The dropped separator is whitespace; it shows whether a fence line was complete.
        state = fence_state(candidate[reopen : cut + skip], state)
        if state.open:
            head = head.rstrip("\n") + _CLOSE
        _append(parts, head)
        rest = candidate[cut + skip :]


def _append(parts: list[str], part: str) -> None:
    if part.strip():
        parts.append(part)


def _cut(text: str, window: int, floor: int) -> tuple[int, int]:
    """Where to cut `text` so the head fits `window`: (cut index, separator length to drop).

    Paragraph, then line, then word boundaries; a boundary only counts past `floor` (the
    reopened fence), and the first two must leave the part at least half full.
    """
    for separator, needs_fill in (("\n\n", True), ("\n", True), (" ", False)):
        position = text.rfind(separator, floor + 1, window + 1)
        if position == -1:
            continue
        if needs_fill and position < window * _MIN_FILL:
            continue
        return position, len(separator)
    for separator in ("\n\n", "\n"):  # a short part is better than a broken word
        position = text.rfind(separator, floor + 1, window + 1)
        if position != -1:
            return position, len(separator)
    return window, 0
