"""A message arriving at a place, in one round trip to the store: the place's active session,
whether the message is stored there already (a replay, or a duplicate) and, when the front end
has its text at hand, storing it in that session."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.engine.tokens import message_tokens
from bot.engine.turn import Incoming
from storage import Arrival, NewMessage

if TYPE_CHECKING:
    from bot.engine.core import Engine


async def arrive(
    engine: Engine, binding_key: str, external_id: str, storing: Incoming | None
) -> Arrival:
    """See `Engine.arrival`."""
    new = None
    if storing is not None:
        tokens = message_tokens(storing.content)
        new = NewMessage(storing.content, storing.author_id, storing.author_name, tokens)
    arrival = await engine.store.arrival(binding_key, external_id, store=new)
    if arrival.session is not None:  # its personas, read with it
        engine.cast.recent.put(arrival.session.id, list(arrival.others))
    if arrival.stored is not None:
        engine.events.message_stored()
    return arrival
