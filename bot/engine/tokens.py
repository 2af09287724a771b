"""Offline token estimates: no tokenizer download, close enough to budget a context window.

BPE tokenizers give roughly one token per short word or punctuation mark and split long words
into pieces of four to six characters. The estimate follows that shape; when a server reports its
usage, the real count replaces the estimate for the reply.
"""

from __future__ import annotations

import re

_PIECES = re.compile(r"\w+|[^\w\s]", re.UNICODE)

# Each chat message costs a few tokens of framing (role, separators) on OpenAI-style servers.
MESSAGE_OVERHEAD = 4


def estimate_tokens(text: str) -> int:
    """Estimate how many tokens `text` takes, without a tokenizer."""
    total = 0
    for piece in _PIECES.findall(text):
        if piece.isascii():
            total += 1 + (len(piece) - 1) // 5
        else:
            # Non-Latin scripts take about one token per one or two characters.
            total += max(1, (len(piece) + 1) // 2)
    return total


def message_tokens(text: str) -> int:
    """Tokens a message of `text` costs in a context window, framing included."""
    return estimate_tokens(text) + MESSAGE_OVERHEAD
