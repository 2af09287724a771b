"""Character cards (V1, V2, V3; JSON, PNG and .charx) in and out of persona files.

Platform-neutral: reads and writes bytes and files, never Discord or the engine.
"""

from situations.cards.errors import CardError
from situations.cards.files import (
    CardExists,
    Imported,
    avatar_image,
    export_card,
    import_card,
    persona_yaml,
    slug,
)
from situations.cards.parse import MAX_CARD_BYTES, Card, read_card

__all__ = [
    "MAX_CARD_BYTES",
    "Card",
    "CardError",
    "CardExists",
    "Imported",
    "avatar_image",
    "export_card",
    "import_card",
    "persona_yaml",
    "read_card",
    "slug",
]
