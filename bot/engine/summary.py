"""Summary folding: messages that leave the window live on, condensed, in the session summary.

A persona with `overflow: summarize` folds the messages that no longer fit into the session's
running summary with one model call, down to half the budget, so that the next turns need no
further call. The summary then rides along in the situation (see `context`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.engine.chatmodel import ChatModel, ChatRequest
from bot.engine.errors import EmptyReply, LLMError
from situations import AgentProfile
from storage import Message, Session, Store

log = logging.getLogger(__name__)

# At most this many messages are folded into a summary by one call.
FOLD_LIMIT = 200

SUMMARY_INSTRUCTIONS = (
    "You keep the running summary of a conversation. Merge the previous summary and the new "
    "messages into one concise summary in the third person: who is taking part, facts they "
    "shared, decisions, open questions and the emotional tone. Keep names. Answer with the "
    "summary only."
)


async def fold_history(
    store: Store,
    model: ChatModel,
    session: Session,
    profile: AgentProfile,
    *,
    before: int | None,
    default_model: str,
) -> int:
    """Fold the session's messages below id `before` into its summary with one model call.

    Returns how many messages were folded; 0 if there was nothing to fold or the model failed
    (the turn then goes on with the truncated context, and the next turn tries again).
    """
    folded = await store.recent_history(
        session.id, limit=FOLD_LIMIT, before=before, after=session.summarized_through
    )
    if not folded:
        return 0
    request = summary_request(session, folded, model=profile.model or default_model)
    try:
        text, _usage = await model.complete(request)
        if not text.strip():
            raise EmptyReply()
    except LLMError as exc:
        log.warning("could not summarize session %s: %s", session.id, exc)
        return 0
    await store.fold_summary(session.id, summary=text.strip(), through=folded[-1].id)
    log.info("session %s: folded %d messages into the summary", session.id, len(folded))
    return len(folded)


def summary_request(session: Session, folded: Sequence[Message], *, model: str) -> ChatRequest:
    """The request that merges the previous summary and `folded` into a new summary."""
    transcript = "\n".join(
        f"{message.author_name or message.role.value}: {message.content}" for message in folded
    )
    prompt = (
        f"Previous summary:\n{session.summary or '(none)'}\n\n"
        f"New messages:\n{transcript}\n\nWrite the updated summary."
    )
    return ChatRequest(
        messages=[
            {"role": "system", "content": SUMMARY_INSTRUCTIONS},
            {"role": "user", "content": prompt},
        ],
        model=model,
        temperature=0.2,
    )
