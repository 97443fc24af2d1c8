"""Onboarding: four questions, turn by turn; the answers then shape the chat assistant's prompt."""

from __future__ import annotations

import uuid

import httpx
from langchain_core.messages import HumanMessage, SystemMessage

from app.core.config import DEFAULT_ONBOARDING_STEPS
from app.db.models import OnboardingState
from tests.fixtures.accounts import bearer, new_client_id, new_user_token
from tests.fixtures.models import recording_model
from tests.fixtures.server import AppFactory, assert_error

ANSWERS = {
    "name": "Ada",
    "role": "compiler engineer",
    "goals": "faster builds",
    "style": "short and direct",
}


async def _onboarding_turn(client: httpx.AsyncClient, token: str, answer: str) -> httpx.Response:
    return await client.post(
        "/api/v1/chat/onboarding-message",
        json={"message": answer, "client_message_id": new_client_id()},
        headers=bearer(token),
    )


async def _greeting(client: httpx.AsyncClient, token: str, conversation_id: str) -> str:
    page = await client.get(
        f"/api/v1/chat/conversations/{conversation_id}/messages", headers=bearer(token)
    )
    assert page.status_code == 200, page.text
    [greeting] = page.json()["items"]
    assert greeting["role"] == "assistant" and greeting["status"] == "complete"
    content: str = greeting["content"]
    return content


async def test_a_new_account_without_a_name_is_first_asked_for_one(
    app_factory: AppFactory,
) -> None:
    async with app_factory() as h:
        token = await new_user_token(h.client, display_name=None)
        state = (await h.client.get("/api/v1/onboarding", headers=bearer(token))).json()
        assert [step["key"] for step in state["steps"]] == list(ANSWERS)
        assert [step["question"] for step in state["steps"]] == [
            s.question for s in DEFAULT_ONBOARDING_STEPS
        ]
        assert (state["current_step"], state["progress"], state["completed"]) == (0, 0.0, False)

        greeting = await _greeting(h.client, token, state["conversation_id"])
        assert greeting.startswith("Hi, and welcome!")
        assert "4 quick questions" in greeting
        assert greeting.endswith(DEFAULT_ONBOARDING_STEPS[0].question)

        conversations = (
            await h.client.get("/api/v1/chat/conversations", headers=bearer(token))
        ).json()["items"]
        assert [(c["id"], c["kind"]) for c in conversations] == [
            (state["conversation_id"], "onboarding")
        ]


async def test_the_name_given_at_registration_is_not_asked_again(app_factory: AppFactory) -> None:
    model = recording_model("Thank you!")
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client, display_name="  Ada  Lovelace ")
        state = (await h.client.get("/api/v1/onboarding", headers=bearer(token))).json()
        assert (state["current_step"], state["progress"], state["completed"]) == (1, 0.25, False)

        greeting = await _greeting(h.client, token, state["conversation_id"])
        assert greeting.startswith("Hi Ada Lovelace!")
        assert "3 quick questions" in greeting
        assert greeting.endswith(DEFAULT_ONBOARDING_STEPS[1].question)
        assert DEFAULT_ONBOARDING_STEPS[0].question not in greeting

        answers = (await h.client.get("/api/v1/onboarding/answers", headers=bearer(token))).json()
        assert answers["items"][0] == {
            "key": "name",
            "question": DEFAULT_ONBOARDING_STEPS[0].question,
            "answer": "Ada Lovelace",
        }

        # The first answer is taken as the answer to the second question, which knows the name.
        response = await _onboarding_turn(h.client, token, "compiler engineer")
        assert response.status_code == 200, response.text
        assert response.json()["onboarding"] == {"progress": 0.5, "completed": False}
        system = str(model.last_call[0].content)
        assert f'You asked: "{DEFAULT_ONBOARDING_STEPS[1].question}"' in system
        assert "What should I call you? Ada Lovelace" in system
        for answer in ("faster builds", "short"):
            assert (await _onboarding_turn(h.client, token, answer)).status_code == 200
        me = (await h.client.get("/api/v1/users/me", headers=bearer(token))).json()
        assert me["onboarding_completed"] is True


async def test_completing_onboarding_turn_by_turn(app_factory: AppFactory) -> None:
    model = recording_model("Thank you!")
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client, display_name=None)
        me = (await h.client.get("/api/v1/users/me", headers=bearer(token))).json()
        assert me["onboarding_completed"] is False

        for step, answer in enumerate(ANSWERS.values()):
            response = await _onboarding_turn(h.client, token, f"  {answer} ")
            assert response.status_code == 200, response.text
            turn = response.json()
            progress = (step + 1) / 4
            assert turn["onboarding"] == {"progress": progress, "completed": step == 3}
            assert turn["user_message"]["content"] == f"  {answer} "
            reply = turn["assistant_message"]
            assert reply["status"] == "complete"
            if step < 3:  # each reply asks the next question, as configured
                assert reply["content"].endswith(DEFAULT_ONBOARDING_STEPS[step + 1].question)
            state = (await h.client.get("/api/v1/onboarding", headers=bearer(token))).json()
            assert (state["current_step"], state["progress"]) == (step + 1, progress)
            assert state["completed"] is (step == 3)

        # The model was asked about each question in turn, knowing the earlier answers.
        assert len(model.calls) == 4
        for step, call in enumerate(model.calls):
            system = str(call[0].content)
            assert f'You asked: "{DEFAULT_ONBOARDING_STEPS[step].question}"' in system
            assert ("Ada" in system) is (step > 0)

        user_id = uuid.UUID(me["id"])
        stored = await h.db.run(lambda session: session.get(OnboardingState, user_id))
        assert stored is not None
        assert stored.answers == ANSWERS
        assert stored.current_step == 4
        assert stored.completed_at is not None

        fifth = await _onboarding_turn(h.client, token, "one more thing")
        assert_error(fifth, 409, "onboarding_completed")
        assert len(model.calls) == 4

        me = (await h.client.get("/api/v1/users/me", headers=bearer(token))).json()
        assert me["onboarding_completed"] is True

        conversation_id = state["conversation_id"]
        page = await h.client.get(
            f"/api/v1/chat/conversations/{conversation_id}/messages", headers=bearer(token)
        )
        roles = [m["role"] for m in page.json()["items"]]
        assert roles == ["assistant"] + ["user", "assistant"] * 4  # the fifth left no trace


async def test_chat_prompt_uses_what_onboarding_learned(app_factory: AppFactory) -> None:
    model = recording_model("Sure.")
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client, display_name=None)
        for answer in ANSWERS.values():
            assert (await _onboarding_turn(h.client, token, answer)).status_code == 200

        response = await h.client.post(
            "/api/v1/chat/message",
            json={"message": "How do I speed up linking?", "client_message_id": new_client_id()},
            headers=bearer(token),
        )
        assert response.status_code == 200, response.text
        system, *rest = model.last_call
        assert isinstance(system, SystemMessage)
        prompt = str(system.content)
        assert "- Their name: Ada" in prompt
        assert "- What they do: compiler engineer" in prompt
        assert "- What they want help with: faster builds" in prompt
        assert "- How they like answers: short and direct" in prompt
        # A new chat carries none of the onboarding conversation's messages.
        assert rest == [HumanMessage("How do I speed up linking?")]


async def test_chat_before_onboarding_uses_the_display_name_only(app_factory: AppFactory) -> None:
    model = recording_model("Hi.")
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client, display_name="Grace")
        response = await h.client.post(
            "/api/v1/chat/message",
            json={"message": "Hello", "client_message_id": new_client_id()},
            headers=bearer(token),
        )
        assert response.status_code == 200, response.text
        prompt = str(model.last_call[0].content)
        assert "- Their name: Grace" in prompt
        assert "What they do" not in prompt
