"""Choosing the history for a context window, on stored messages built by hand (no store)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.engine.context import ContextPlan, conversation_order, plan_context, render_history
from bot.engine.tokens import MESSAGE_OVERHEAD
from situations import ContextSettings
from storage import Message, Role, TokensSource

SESSION = UUID("00000000-0000-4000-8000-000000000001")
WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
ROOMY = ContextSettings(max_messages=100, token_budget=100_000)


def message(
    id: int,
    role: Role = Role.ASSISTANT,
    *,
    content: str | None = None,
    author: str | None = "Ana",
    tokens: int = 10,
    source: TokensSource = "estimate",
    reply_to: int | None = None,
) -> Message:
    return Message(
        id=id,
        session_id=SESSION,
        role=role,
        author_id=None,
        author_name=author if role is Role.USER else None,
        content=f"message {id}" if content is None else content,
        created_at=WHEN,
        external_id=None,
        tokens=tokens,
        tokens_source=source,
        reply_to=reply_to,
    )


def ids(messages: list[Message] | tuple[Message, ...] | ContextPlan) -> list[int]:
    kept = messages.kept if isinstance(messages, ContextPlan) else messages
    return [m.id for m in kept]


# conversation_order ----------------------------------------------------------------------------


def test_a_reply_sits_right_after_the_message_it_answers() -> None:
    # Two people wrote before either reply was stored.
    stored = [
        message(1, Role.USER),
        message(2, Role.USER, author="Ben"),
        message(3, reply_to=1),
        message(4, reply_to=2),
    ]
    assert ids(conversation_order(stored, upto=None)) == [1, 3, 2, 4]


def test_the_order_does_not_depend_on_the_order_messages_are_given_in() -> None:
    stored = [message(4, reply_to=2), message(2, Role.USER), message(3, reply_to=1)]
    stored.append(message(1, Role.USER))
    assert ids(conversation_order(stored, upto=None)) == [1, 3, 2, 4]


def test_messages_still_waiting_for_their_reply_are_left_out() -> None:
    first = message(1, Role.USER)
    stored = [first, message(2, Role.USER, author="Ben"), message(3, Role.USER, author="Cy")]
    assert ids(conversation_order(stored, upto=first)) == [1]


def test_replies_to_answered_messages_stay_while_later_questions_wait() -> None:
    second = message(3, Role.USER)
    stored = [
        message(1, Role.USER),
        message(2, Role.USER),
        second,
        message(4, reply_to=1),  # answered 1
        message(5, Role.USER),  # arrived after the message being answered: waits
        message(6, reply_to=5),  # a reply to a waiting message is not seen either
    ]
    assert ids(conversation_order(stored, upto=second)) == [1, 4, 2, 3]


def test_a_greeting_keeps_its_place_by_id() -> None:
    stored = [message(1), message(2, Role.USER), message(3, reply_to=2)]
    assert ids(conversation_order(stored, upto=None)) == [1, 2, 3]


# plan_context ----------------------------------------------------------------------------------


def test_the_newest_message_is_kept_even_when_it_alone_is_over_budget() -> None:
    budget = ContextSettings(token_budget=100)
    candidates = [message(1, tokens=5), message(2, tokens=500)]

    plan = plan_context(candidates, settings=budget, fixed_tokens=0)

    assert ids(plan) == [2]
    assert plan.omitted == 1
    assert plan.tokens == 500


def test_oldest_messages_are_dropped_first() -> None:
    candidates = [message(i, tokens=30) for i in range(1, 11)]
    plan = plan_context(candidates, settings=ContextSettings(token_budget=100), fixed_tokens=0)
    assert ids(plan) == [8, 9, 10]
    assert plan.omitted == 7
    assert plan.tokens == 90


def test_whole_messages_only_and_nothing_older_after_the_first_that_does_not_fit() -> None:
    candidates = [message(1, tokens=10), message(2, tokens=80), message(3, tokens=30)]
    plan = plan_context(candidates, settings=ContextSettings(token_budget=100), fixed_tokens=0)
    # Message 1 would fit on its own, but the window is a contiguous run of the newest.
    assert ids(plan) == [3]
    assert plan.kept[0] == candidates[2]  # kept as stored, not shortened
    assert plan.omitted == 2


def test_a_window_that_fills_the_budget_exactly_keeps_every_message() -> None:
    candidates = [message(1, tokens=50), message(2, tokens=50)]
    plan = plan_context(candidates, settings=ContextSettings(token_budget=100), fixed_tokens=0)
    assert ids(plan) == [1, 2]
    assert plan.omitted == 0


def test_the_fixed_part_of_the_request_comes_out_of_the_budget() -> None:
    candidates = [message(i, tokens=30) for i in range(1, 6)]
    budget = ContextSettings(token_budget=100)
    assert ids(plan_context(candidates, settings=budget, fixed_tokens=0)) == [3, 4, 5]
    assert ids(plan_context(candidates, settings=budget, fixed_tokens=40)) == [4, 5]


def test_the_message_cap_applies_however_small_the_messages() -> None:
    candidates = [message(i, tokens=1) for i in range(1, 7)]
    plan = plan_context(candidates, settings=ContextSettings(max_messages=2), fixed_tokens=0)
    assert ids(plan) == [5, 6]
    assert plan.omitted == 4


def test_a_fraction_shrinks_both_the_cap_and_the_budget() -> None:
    candidates = [message(i, tokens=20) for i in range(1, 9)]
    few = ContextSettings(max_messages=4, token_budget=100_000)
    tight = ContextSettings(max_messages=100, token_budget=200)
    assert ids(plan_context(candidates, settings=few, fixed_tokens=0, fraction=0.5)) == [7, 8]
    half_budget = plan_context(candidates, settings=tight, fixed_tokens=0, fraction=0.5)
    assert ids(half_budget) == [4, 5, 6, 7, 8]


def test_user_lines_pay_for_the_author_name_and_server_counts_for_the_framing() -> None:
    estimated = plan_context([message(1, tokens=10)], settings=ROOMY, fixed_tokens=0)
    counted = plan_context([message(1, tokens=10, source="usage")], settings=ROOMY, fixed_tokens=0)
    named = plan_context([message(1, Role.USER, tokens=10)], settings=ROOMY, fixed_tokens=0)
    assert estimated.tokens == 10  # a stored estimate already includes the framing
    assert counted.tokens == 10 + MESSAGE_OVERHEAD
    assert named.tokens > 10  # "Ana: " is sent too


def test_no_candidates_is_an_empty_plan_with_no_cut() -> None:
    plan = plan_context([], settings=ROOMY, fixed_tokens=0)
    assert plan == ContextPlan(kept=[], omitted=0, tokens=0)
    assert plan.cut is None


def test_the_cut_is_the_lowest_id_kept_even_when_it_is_not_first() -> None:
    # In conversation order a reply (id 7) can come before a message stored earlier (id 6).
    kept = conversation_order(
        [message(5, Role.USER), message(6, Role.USER), message(7, reply_to=5)], upto=None
    )
    plan = plan_context(kept[1:], settings=ROOMY, fixed_tokens=0)
    assert ids(plan) == [7, 6]
    assert plan.cut == 6


@settings(max_examples=200, deadline=None)
@given(
    costs=st.lists(st.integers(min_value=0, max_value=400), max_size=30),
    max_messages=st.integers(min_value=1, max_value=40),
    token_budget=st.integers(min_value=100, max_value=3000),
    fixed=st.integers(min_value=0, max_value=200),
)
def test_the_plan_is_the_longest_newest_run_that_fits(
    costs: list[int], max_messages: int, token_budget: int, fixed: int
) -> None:
    candidates = [message(i, tokens=cost) for i, cost in enumerate(costs, start=1)]
    limits = ContextSettings(max_messages=max_messages, token_budget=token_budget)

    plan = plan_context(candidates, settings=limits, fixed_tokens=fixed)

    kept = len(plan.kept)
    assert list(plan.kept) == candidates[len(candidates) - kept :]  # a newest suffix
    assert plan.omitted == len(candidates) - kept
    assert plan.tokens == sum(costs[len(costs) - kept :])
    if candidates:
        assert kept >= 1
    if kept > 1:  # only the newest message may break a limit, and only on its own
        assert kept <= max_messages
        assert plan.tokens <= token_budget - fixed
    if 0 < kept < len(candidates):  # one more message would break a limit
        one_more = plan.tokens + costs[-kept - 1]
        assert kept == max_messages or one_more > token_budget - fixed


# render_history --------------------------------------------------------------------------------


def test_user_lines_carry_the_authors_name_and_replies_are_sent_as_stored() -> None:
    rendered = render_history(
        [
            message(1, Role.USER, content="hello", author="Ana"),
            message(2, content="Hi Ana."),
            message(3, Role.USER, content="and me", author="Ben"),
            message(4, Role.SYSTEM, content="The room goes quiet."),
        ]
    )
    assert rendered == [
        {"role": "user", "content": "Ana: hello"},
        {"role": "assistant", "content": "Hi Ana."},
        {"role": "user", "content": "Ben: and me"},
        {"role": "system", "content": "The room goes quiet."},
    ]


def test_a_user_line_without_a_name_says_user() -> None:
    rendered = render_history([message(1, Role.USER, content="hi", author=None)])
    assert rendered == [{"role": "user", "content": "user: hi"}]
