"""A card's `mes_example` as example exchanges, and back.

`mes_example` holds blocks separated by `<START>`; inside a block, lines starting with
`{{user}}:` (or `<USER>:`) and `{{char}}:` (or `<BOT>:`) open a turn, and other lines continue
the turn above. A person's turn followed by the character's makes one exchange; text that does
not pair up is returned as leftover, for the situation.
"""

from __future__ import annotations

import re

__all__ = ["join_examples", "split_examples"]

_START = re.compile(r"^[ \t]*<START>[ \t]*$", re.IGNORECASE | re.MULTILINE)
_TURN = re.compile(r"^[ \t]*(?:\{\{\s*(user|char)\s*\}\}|<(USER|BOT)>):[ \t]?", re.IGNORECASE)


def split_examples(text: str) -> tuple[list[tuple[str, str]], str]:
    """The (user, character) pairs of `mes_example`, and the text that does not pair."""
    pairs: list[tuple[str, str]] = []
    leftover: list[str] = []
    for block in _START.split(text):
        turns, preamble = _turns(block)
        if preamble.strip():
            leftover.append(preamble.strip())
        index = 0
        while index < len(turns):
            who, said = turns[index]
            following = turns[index + 1] if index + 1 < len(turns) else None
            if who == "user" and following is not None and following[0] == "char":
                pairs.append((said, following[1]))
                index += 2
                continue
            leftover.append(_line(who, said))
            index += 1
    return pairs, "\n".join(leftover)


def _turns(block: str) -> tuple[list[tuple[str, str]], str]:
    turns: list[tuple[str, list[str]]] = []
    preamble: list[str] = []
    for line in block.split("\n"):
        match = _TURN.match(line)
        if match is not None:
            who = (match.group(1) or match.group(2)).lower()
            turns.append(("user" if who == "user" else "char", [line[match.end() :]]))
        elif turns:
            turns[-1][1].append(line)
        else:
            preamble.append(line)
    return [(who, "\n".join(lines).strip()) for who, lines in turns], "\n".join(preamble)


def _line(who: str, said: str) -> str:
    return f"{{{{{who}}}}}: {said}"


def join_examples(pairs: list[tuple[str, str]]) -> str:
    """Exchanges as `mes_example` text, one `<START>` block each."""
    return "".join(f"<START>\n{{{{user}}}}: {user}\n{{{{char}}}}: {char}\n" for user, char in pairs)
