"""Skip, and the settings page's API: the display name and onboarding answers, read and edited;
what is saved is what the next chat answer's system prompt says."""

from __future__ import annotations

import httpx

from app.core.config import DEFAULT_ONBOARDING_STEPS
from tests.fixtures.accounts import bearer, new_client_id, new_user_token
from tests.fixtures.models import recording_model
from tests.fixtures.server import AppFactory, assert_error

QUESTIONS = {step.key: step.question for step in DEFAULT_ONBOARDING_STEPS}


async def _onboarding_turn(client: httpx.AsyncClient, token: str, answer: str) -> httpx.Response:
    return await client.post(
        "/api/v1/chat/onboarding-message",
        json={"message": answer, "client_message_id": new_client_id()},
        headers=bearer(token),
    )


async def _chat_prompt(client: httpx.AsyncClient, token: str, model_calls: list[object]) -> str:
    """The system prompt of a new chat answer."""
    response = await client.post(
        "/api/v1/chat/message",
        json={"message": "Hello", "client_message_id": new_client_id()},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    call = model_calls[-1]
    assert isinstance(call, list)
    return str(call[0].content)


async def _answers(client: httpx.AsyncClient, token: str) -> dict[str, str | None]:
    response = await client.get("/api/v1/onboarding/answers", headers=bearer(token))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["key"], i["question"]) for i in items] == list(QUESTIONS.items())
    return {i["key"]: i["answer"] for i in items}


# Skip -------------------------------------------------------------------------------------------


async def test_skip_keeps_the_answers_so_far_and_is_idempotent(app_factory: AppFactory) -> None:
    async with app_factory(model=recording_model("Noted.")) as h:
        token = await new_user_token(h.client, display_name="Ada")
        assert (await _onboarding_turn(h.client, token, "compiler engineer")).status_code == 200

        skipped = await h.client.post("/api/v1/onboarding/skip", headers=bearer(token))
        assert skipped.status_code == 200, skipped.text
        state = skipped.json()
        assert state["completed"] is True
        assert (state["current_step"], state["progress"]) == (2, 0.5)  # where it was left

        again = await h.client.post("/api/v1/onboarding/skip", headers=bearer(token))
        assert again.status_code == 200 and again.json() == state

        me = (await h.client.get("/api/v1/users/me", headers=bearer(token))).json()
        assert me["onboarding_completed"] is True
        assert await _answers(h.client, token) == {
            "name": "Ada",
            "role": "compiler engineer",
            "goals": None,
            "style": None,
        }
        assert_error(await _onboarding_turn(h.client, token, "late"), 409, "onboarding_completed")


async def test_skip_after_finishing_changes_nothing(app_factory: AppFactory) -> None:
    async with app_factory(model=recording_model("Noted.")) as h:
        token = await new_user_token(h.client, display_name="Ada")
        for answer in ("engineer", "builds", "short"):
            assert (await _onboarding_turn(h.client, token, answer)).status_code == 200
        before = (await h.client.get("/api/v1/onboarding", headers=bearer(token))).json()
        skipped = await h.client.post("/api/v1/onboarding/skip", headers=bearer(token))
        assert skipped.status_code == 200 and skipped.json() == before
        assert before["completed"] is True and before["progress"] == 1.0


async def test_an_answer_written_while_skip_is_pressed_is_kept_and_onboarding_stays_done(
    app_factory: AppFactory,
) -> None:
    model = recording_model("Noted.")
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client, display_name="Ada")

        async def skip_meanwhile() -> None:
            response = await h.client.post("/api/v1/onboarding/skip", headers=bearer(token))
            assert response.status_code == 200, response.text

        model.on_call = skip_meanwhile
        assert (await _onboarding_turn(h.client, token, "compiler engineer")).status_code == 200
        state = (await h.client.get("/api/v1/onboarding", headers=bearer(token))).json()
        assert state["completed"] is True
        assert (await _answers(h.client, token))["role"] == "compiler engineer"


# Display name ----------------------------------------------------------------------------------


async def test_the_display_name_is_edited_and_used_by_the_next_answer(
    app_factory: AppFactory,
) -> None:
    model = recording_model("Hi.")
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client, display_name=None)
        await h.client.post("/api/v1/onboarding/skip", headers=bearer(token))
        assert "Their name" not in await _chat_prompt(h.client, token, model.calls)

        response = await h.client.patch(
            "/api/v1/users/me", json={"display_name": "  Grace \n Hopper "}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        assert response.json()["display_name"] == "Grace Hopper"
        assert response.json()["onboarding_completed"] is True
        me = (await h.client.get("/api/v1/users/me", headers=bearer(token))).json()
        assert me["display_name"] == "Grace Hopper"
        assert "- Their name: Grace Hopper" in await _chat_prompt(h.client, token, model.calls)


async def test_a_blank_or_too_long_display_name_is_refused_and_the_old_one_kept(
    app_factory: AppFactory,
) -> None:
    async with app_factory() as h:
        token = await new_user_token(h.client, display_name="Ada")
        for body, words in (
            ({"display_name": " \n\t "}, "blank"),
            ({"display_name": "x" * 101}, "101 characters long; the limit is 100"),
            ({"display_name": None}, "valid string"),
            ({}, "required"),
        ):
            response = await h.client.patch("/api/v1/users/me", json=body, headers=bearer(token))
            error = assert_error(response, 422, "validation_error")
            assert words in error["message"], error
            assert error["details"][0]["loc"] == ["body", "display_name"]
        me = (await h.client.get("/api/v1/users/me", headers=bearer(token))).json()
        assert me["display_name"] == "Ada"
        assert (
            "x" * 100
            in (
                await h.client.patch(
                    "/api/v1/users/me", json={"display_name": "x" * 100}, headers=bearer(token)
                )
            ).text
        )


# Onboarding answers ----------------------------------------------------------------------------


async def test_edited_answers_shape_the_next_chat_answer(app_factory: AppFactory) -> None:
    model = recording_model("Sure.")
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client, display_name="Ada")
        for answer in ("compiler engineer", "faster builds", "short and direct"):
            assert (await _onboarding_turn(h.client, token, answer)).status_code == 200
        before = await _chat_prompt(h.client, token, model.calls)
        assert "- How they like answers: short and direct" in before

        edited = {"name": "Countess", "role": "poet", "style": "detailed, with\nexamples"}
        response = await h.client.put(
            "/api/v1/onboarding/answers", json={"answers": edited}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        expected = {
            "name": "Countess",
            "role": "poet",
            "goals": None,  # left out: no answer any more
            "style": "detailed, with examples",
        }
        assert {i["key"]: i["answer"] for i in response.json()["items"]} == expected
        assert await _answers(h.client, token) == expected

        prompt = await _chat_prompt(h.client, token, model.calls)
        assert "- Their name: Countess" in prompt
        assert "- What they do: poet" in prompt
        assert "- How they like answers: detailed, with examples" in prompt
        assert "compiler" not in prompt and "faster builds" not in prompt
        assert "What they want help with" not in prompt


async def test_bad_answers_are_refused_with_the_field_named_and_nothing_changes(
    app_factory: AppFactory,
) -> None:
    async with app_factory(model=recording_model("Noted.")) as h:
        token = await new_user_token(h.client, display_name="Ada")
        assert (await _onboarding_turn(h.client, token, "engineer")).status_code == 200
        before = await _answers(h.client, token)
        for answers, loc, words in (
            ({"name": "Ada", "role": "   "}, ["body", "answers", "role"], "blank"),
            (
                {"role": "y" * 501},
                ["body", "answers", "role"],
                "501 characters long; the limit is 500",
            ),
            ({"role": 7}, ["body", "answers", "role"], "valid string"),
        ):
            response = await h.client.put(
                "/api/v1/onboarding/answers", json={"answers": answers}, headers=bearer(token)
            )
            error = assert_error(response, 422, "validation_error")
            assert words in error["message"], error
            assert error["details"][0]["loc"] == loc
        unknown = await h.client.put(
            "/api/v1/onboarding/answers",
            json={"answers": {"name": "Ada", "shoe_size": "42"}},
            headers=bearer(token),
        )
        error = assert_error(unknown, 422, "validation_error")
        assert (
            "answers.shoe_size" in error["message"]
            and "name, role, goals, style" in (error["message"])
        )
        assert_error(
            await h.client.put("/api/v1/onboarding/answers", json={}, headers=bearer(token)),
            422,
            "validation_error",
        )
        assert await _answers(h.client, token) == before


async def test_one_user_never_reads_or_edits_another_users_profile(
    app_factory: AppFactory,
) -> None:
    model = recording_model("Noted.")
    async with app_factory(model=model) as h:
        ada = await new_user_token(h.client, display_name="Ada")
        assert (await _onboarding_turn(h.client, ada, "secret project")).status_code == 200
        eve = await new_user_token(h.client, display_name="Eve")

        eve_answers = await _answers(h.client, eve)
        assert "secret project" not in str(eve_answers) and "Ada" not in str(eve_answers)
        await h.client.put(
            "/api/v1/onboarding/answers", json={"answers": {"role": "spy"}}, headers=bearer(eve)
        )
        await h.client.patch(
            "/api/v1/users/me", json={"display_name": "Mallory"}, headers=bearer(eve)
        )
        await h.client.post("/api/v1/onboarding/skip", headers=bearer(eve))

        assert (await _answers(h.client, ada))["role"] == "secret project"
        me = (await h.client.get("/api/v1/users/me", headers=bearer(ada))).json()
        assert me["display_name"] == "Ada" and me["onboarding_completed"] is False

        for method, path, body in (
            ("GET", "/api/v1/onboarding/answers", None),
            ("PUT", "/api/v1/onboarding/answers", {"answers": {}}),
            ("PATCH", "/api/v1/users/me", {"display_name": "X"}),
            ("POST", "/api/v1/onboarding/skip", None),
        ):
            response = await h.client.request(method, path, json=body)
            assert_error(response, 401, "unauthorized")
