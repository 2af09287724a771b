"""The one error of the card package: a card that cannot be read, written or mapped."""

from __future__ import annotations

__all__ = ["CardError"]


class CardError(Exception):
    """A card problem, as one line for the person importing it (the file is named by the caller)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
