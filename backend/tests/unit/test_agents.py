"""app/agents: the history budget, the chat and onboarding prompts, and answering with a model."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from app.agents.base import HistoryEntry, TurnContext, content_text, history_within_budget
from app.agents.conversational import ConversationalAgent, system_prompt
from app.agents.onboarding import OnboardingAgent
from app.core.config import DEFAULT_ONBOARDING_STEPS
from app.services.onboarding import (
    MAX_ANSWER_CHARS,
    OnboardingPosition,
    answered_in_a_row,
    clean_answer,
    greeting,
    known_answers,
)
from tests.fixtures.models import scripted_model

STEPS = DEFAULT_ONBOARDING_STEPS
HISTORY = [
    HistoryEntry("user", "first question"),  # 14 chars
    HistoryEntry("assistant", "first answer"),  # 12
    HistoryEntry("user", "second question"),  # 15
    HistoryEntry("assistant", "second answer"),  # 13
]


# History budget ------------------------------------------------------------------------------


def test_history_within_budget_keeps_everything_that_fits_oldest_first() -> None:
    kept = history_within_budget(HISTORY, 1000)
    assert [type(m) for m in kept] == [HumanMessage, AIMessage, HumanMessage, AIMessage]
    assert [m.content for m in kept] == [e.content for e in HISTORY]


def test_history_within_budget_drops_the_oldest_first() -> None:
    kept = history_within_budget(HISTORY, 15 + 13)
    assert [m.content for m in kept] == ["second question", "second answer"]
    assert [m.content for m in history_within_budget(HISTORY, 15 + 13 - 1)] == ["second answer"]


def test_history_within_budget_stops_at_the_first_entry_that_does_not_fit() -> None:
    # An older short entry after a long one is not kept: the history stays contiguous.
    history = [HistoryEntry("user", "hi"), HistoryEntry("assistant", "x" * 50)]
    assert history_within_budget(history, 10) == []
    assert history_within_budget(HISTORY, 0) == []


# The chat agent -----------------------------------------------------------------------------


def test_chat_messages_are_system_then_history_then_the_new_message() -> None:
    agent = ConversationalAgent(scripted_model(), history_char_budget=1000)
    messages = agent.build_messages(TurnContext(message="third question", history=HISTORY))
    assert isinstance(messages[0], SystemMessage)
    assert [m.content for m in messages[1:]] == [e.content for e in HISTORY] + ["third question"]
    assert isinstance(messages[-1], HumanMessage)


def test_chat_messages_respect_the_history_budget() -> None:
    agent = ConversationalAgent(scripted_model(), history_char_budget=13)
    messages = agent.build_messages(TurnContext(message="next", history=HISTORY))
    assert [m.content for m in messages[1:]] == ["second answer", "next"]


def test_chat_prompt_uses_what_onboarding_learned() -> None:
    profile = {
        "name": "Ada",
        "role": "compiler engineer",
        "goals": "faster builds",
        "style": "short and direct",
    }
    agent = ConversationalAgent(scripted_model(), history_char_budget=1000)
    context = TurnContext(message="hi", display_name="Tester", profile=profile)
    system, question = agent.build_messages(context)
    assert isinstance(system, SystemMessage) and question == HumanMessage("hi")
    prompt = str(system.content)
    assert "What you know about the user:" in prompt
    assert "- Their name: Ada" in prompt
    assert "- What they do: compiler engineer" in prompt
    assert "- What they want help with: faster builds" in prompt
    assert "- How they like answers: short and direct" in prompt
    assert "Follow their preferred answer style." in prompt
    assert "Tester" not in prompt  # what the user said their name is wins over the account


def test_chat_prompt_falls_back_to_the_display_name() -> None:
    prompt = system_prompt(TurnContext(message="hi", display_name="Grace", profile={"name": ""}))
    assert "- Their name: Grace" in prompt
    assert "preferred answer style" not in prompt


def test_chat_prompt_labels_unknown_profile_keys() -> None:
    prompt = system_prompt(TurnContext(message="hi", profile={"team": "infra"}))
    assert "- Team: infra" in prompt


def test_chat_prompt_without_a_profile_says_nothing_about_the_user() -> None:
    prompt = system_prompt(TurnContext(message="hi"))
    assert prompt.startswith("You are ChatStream")
    assert "What you know about the user" not in prompt


# The onboarding agent -----------------------------------------------------------------------


def test_onboarding_prompt_names_the_question_answered_and_the_next_one() -> None:
    agent = OnboardingAgent(scripted_model(), STEPS)
    prompt = agent.system_prompt(0, {})
    assert f'You asked: "{STEPS[0].question}"' in prompt
    assert f'"{STEPS[1].question}"' in prompt
    assert "last question" not in prompt
    assert "What the user has told you so far" not in prompt


def test_onboarding_prompt_lists_earlier_answers() -> None:
    agent = OnboardingAgent(scripted_model(), STEPS)
    prompt = agent.system_prompt(2, {"name": "Ada", "role": "engineer"})
    assert f"- {STEPS[0].question} Ada" in prompt
    assert f"- {STEPS[1].question} engineer" in prompt
    assert f'You asked: "{STEPS[2].question}"' in prompt
    assert f'"{STEPS[3].question}"' in prompt


def test_onboarding_prompt_on_the_last_step_says_it_was_the_last_question() -> None:
    agent = OnboardingAgent(scripted_model(), STEPS)
    prompt = agent.system_prompt(len(STEPS) - 1, {})
    assert "That was the last question" in prompt
    assert not any(f'"{step.question}"' in prompt for step in STEPS[:-1])


async def test_onboarding_reply_ends_with_the_next_question_exactly() -> None:
    agent = OnboardingAgent(scripted_model("Nice to meet you."), STEPS)
    for step in range(len(STEPS) - 1):
        context = TurnContext(message="an answer", onboarding_step=step)
        reply = await agent.respond(context)
        assert reply == f"Nice to meet you.\n\n{STEPS[step + 1].question}"


async def test_onboarding_reply_on_the_last_step_says_setup_is_complete() -> None:
    agent = OnboardingAgent(scripted_model("Thanks!"), STEPS)
    reply = await agent.respond(TurnContext(message="short", onboarding_step=len(STEPS) - 1))
    assert reply.startswith("Thanks!\n\n")
    assert "You're all set!" in reply
    assert not any(step.question in reply for step in STEPS)


async def test_onboarding_reply_asks_the_next_question_even_if_the_model_is_silent() -> None:
    agent = OnboardingAgent(scripted_model(""), STEPS)
    assert await agent.respond(TurnContext(message="Ada", onboarding_step=0)) == STEPS[1].question


def test_onboarding_messages_are_the_prompt_and_the_answer_only() -> None:
    agent = OnboardingAgent(scripted_model(), STEPS)
    context = TurnContext(message="Ada", history=HISTORY, onboarding_step=1, profile={})
    messages = agent.build_messages(context)
    assert [type(m) for m in messages] == [SystemMessage, HumanMessage]
    assert messages[1].content == "Ada"
    assert f'You asked: "{STEPS[1].question}"' in str(messages[0].content)


def test_onboarding_position_progress_and_completion() -> None:
    after = [OnboardingPosition(i, 4).after_answer() for i in range(4)]
    assert [p.progress for p in after] == [0.25, 0.5, 0.75, 1.0]
    assert [p.completed for p in after] == [False, False, False, True]
    assert OnboardingPosition(9, 4).step_index == 3  # past the end stays on the last step
    assert [OnboardingPosition(i, 4).progress for i in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert OnboardingPosition(1, 3).progress == 0.3333
    assert OnboardingPosition(1, 4, closed=True).completed  # marked complete in the database


def test_greeting_welcomes_by_name_and_asks_the_first_question_still_to_ask() -> None:
    text = greeting(STEPS, None, 0)
    assert text.startswith("Hi, and welcome!")
    assert "4 quick questions" in text
    assert text.endswith(STEPS[0].question)
    named = greeting(STEPS, "Ada", 1)  # registration already answered the name
    assert named.startswith("Hi Ada!")
    assert "3 quick questions" in named
    assert named.endswith(STEPS[1].question)
    assert "1 quick question." in greeting(STEPS, "Ada", 3)
    assert "all set" in greeting(STEPS, "Ada", 4)


def test_known_answers_take_the_name_from_registration_and_skip_only_leading_steps() -> None:
    assert known_answers(STEPS, "  Ada \n Lovelace ") == {"name": "Ada Lovelace"}
    assert known_answers(STEPS, None) == {}
    assert known_answers(STEPS[1:], "Ada") == {}  # no name question: nothing to skip
    assert answered_in_a_row(STEPS, {"name": "Ada"}) == 1
    assert answered_in_a_row(STEPS, {"role": "engineer"}) == 0  # a later answer is not skipped
    assert answered_in_a_row(STEPS, {"name": "Ada", "role": "x", "goals": "y", "style": "z"}) == 4


def test_clean_answer_collapses_whitespace_and_caps_length() -> None:
    assert clean_answer("  Ada \n\t Lovelace  ") == "Ada Lovelace"
    assert len(clean_answer("y" * (MAX_ANSWER_CHARS + 100))) == MAX_ANSWER_CHARS


# Answering ----------------------------------------------------------------------------------


def test_content_text_reads_strings_and_text_blocks() -> None:
    assert content_text("plain") == "plain"
    blocks = [{"type": "text", "text": "a"}, {"type": "image", "url": "x"}, "b"]
    assert content_text(blocks) == "ab"
    assert content_text(None) == ""


async def test_agent_streams_the_model_pieces_in_order() -> None:
    agent = ConversationalAgent(scripted_model("One two three."), history_char_budget=100)
    pieces = [p async for p in agent.stream_response(TurnContext(message="count"))]
    assert pieces == ["One ", "two ", "three."]
    assert await agent.respond(TurnContext(message="count")) == "One two three."


async def test_agent_replaces_lone_surrogates_so_every_chunk_can_be_encoded() -> None:
    agent = ConversationalAgent(scripted_model("ok \ud800 fine 🙂"), history_char_budget=100)
    pieces = [p async for p in agent.stream_response(TurnContext(message="x"))]
    text = "".join(pieces)
    assert text.encode("utf-8")  # no UnicodeEncodeError
    assert "\ud800" not in text and "🙂" in text
