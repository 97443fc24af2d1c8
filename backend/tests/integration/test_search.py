"""Search over the user's own messages, on SQLite (FTS5) and PostgreSQL (tsvector): matches,
ranking, snippets, isolation between users, and query text that is never query syntax."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.accounts import Account, new_account, new_client_id
from tests.fixtures.models import scripted_model
from tests.fixtures.server import AppFactory, assert_error

pytestmark = pytest.mark.timeout(60)


async def _send(
    client: httpx.AsyncClient, account: Account, message: str, conversation_id: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "client_message_id": new_client_id()}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    response = await client.post("/api/v1/chat/message", json=body, headers=account.auth)
    assert response.status_code == 200, response.text
    turn: dict[str, Any] = response.json()
    return turn


async def _search(
    client: httpx.AsyncClient, account: Account, q: str, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/v1/chat/search", params={"q": q, **params}, headers=account.auth
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_search_finds_the_users_messages_by_word_prefix_in_any_case(
    app_factory: AppFactory,
) -> None:
    async with app_factory(model=scripted_model("Try a list comprehension.")) as h:
        account = await new_account(h.client)
        turn = await _send(h.client, account, "How do I flatten a list in Python?")
        await _send(h.client, account, "Mon Résumé est prêt")
        by_prefix = await _search(h.client, account, "pyth")
        by_case_and_accent = await _search(h.client, account, "RÉSUMÉ")
        both_words = await _search(h.client, account, "flatten python")
        answers = await _search(h.client, account, "comprehension")
        missing = await _search(h.client, account, "javascript")
    [hit] = by_prefix
    assert hit == {
        "conversation_id": turn["conversation_id"],
        "conversation_title": "How do I flatten a list in Python?",
        "message_id": turn["user_message"]["id"],
        "role": "user",
        "snippet": "How do I flatten a list in Python?",
        "created_at": turn["user_message"]["created_at"],
    }
    assert [h["snippet"] for h in by_case_and_accent] == ["Mon Résumé est prêt"]
    assert [h["message_id"] for h in both_words] == [turn["user_message"]["id"]]
    assert {h["role"] for h in answers} == {"assistant"} and len(answers) == 2
    assert missing == []


async def test_search_ranks_the_better_match_first_then_the_newer(
    app_factory: AppFactory,
) -> None:
    async with app_factory(model=scripted_model("Noted.")) as h:
        account = await new_account(h.client)
        weak = await _send(
            h.client,
            account,
            "Yesterday I walked to the market, bought bread, cheese, olives and one kiwi, "
            "then went home by the long road past the river and the old mill.",
        )
        strong = await _send(h.client, account, "Kiwi kiwi kiwi: the kiwi smoothie")
        older_tie = await _send(h.client, account, "Mango lassi recipe")
        newer_tie = await _send(h.client, account, "Mango lassi recipe")
        ranked = await _search(h.client, account, "kiwi")
        ties = await _search(h.client, account, "mango")
    assert [h["message_id"] for h in ranked] == [
        strong["user_message"]["id"],
        weak["user_message"]["id"],
    ]
    assert [h["message_id"] for h in ties] == [
        newer_tie["user_message"]["id"],
        older_tie["user_message"]["id"],
    ]


async def test_a_long_messages_snippet_is_the_text_around_the_match(
    app_factory: AppFactory,
) -> None:
    before = " ".join(f"filler{i}" for i in range(60))
    after = " ".join(f"padding{i}" for i in range(60))
    async with app_factory(model=scripted_model("Noted.")) as h:
        account = await new_account(h.client)
        await _send(h.client, account, f"{before}\nthe\tquokka   smiles\n{after}")
        [hit] = await _search(h.client, account, "quokka")
    snippet = hit["snippet"]
    assert "the quokka smiles" in snippet
    assert len(snippet) < 300
    assert "\n" not in snippet and "\ue000" not in snippet and "\ue001" not in snippet


async def test_search_never_shows_another_users_messages(app_factory: AppFactory) -> None:
    async with app_factory(model=scripted_model("Noted.")) as h:
        alice = await new_account(h.client)
        bob = await new_account(h.client)
        alices = await _send(h.client, alice, "The secret password is hunter2")
        await _send(h.client, bob, "My secret diary")
        for_alice = await _search(h.client, alice, "secret")
        for_bob = await _search(h.client, bob, "secret")
        bob_for_hunter = await _search(h.client, bob, "hunter2")
    assert [h["message_id"] for h in for_alice] == [alices["user_message"]["id"]]
    assert [h["snippet"] for h in for_bob] == ["My secret diary"]
    assert bob_for_hunter == []


# Query text, and whether the message "Kiwi smoothie, NEAR the content" holds all its words.
QUERY_SYNTAX = [
    ('"', False),
    ('"unterminated', False),
    ("*", False),
    ("kiwi*", True),
    ("NEAR(", True),
    ("NEAR(kiwi smoothie, 2)", False),
    ("NEAR(kiwi smoothie)", True),
    ("-kiwi", True),
    ("kiwi -smoothie", True),
    ("kiwi OR", False),
    ("AND", False),
    ("NOT kiwi", False),
    ("kiwi:*", True),
    ("content:kiwi", True),
    ("^kiwi", True),
    ("(kiwi", True),
    ("kiwi)", True),
    ("'", False),
    ("\\", False),
    ("!&|<->", False),
    ("kiwi & | smoothie", True),
    ("{kiwi}", True),
    ("🥝 kiwi", True),
    ("kiwi_smoothie", True),
    ("a" * 200, False),
]


@pytest.mark.parametrize(("q", "matches"), QUERY_SYNTAX)
async def test_query_syntax_in_the_users_text_is_only_words(
    app_factory: AppFactory, q: str, matches: bool
) -> None:
    async with app_factory(model=scripted_model("Noted.")) as h:
        account = await new_account(h.client)
        await _send(h.client, account, "Kiwi smoothie, NEAR the content")
        response = await h.client.get("/api/v1/chat/search", params={"q": q}, headers=account.auth)
    assert response.status_code == 200, response.text
    snippets = [hit["snippet"] for hit in response.json()["items"]]
    assert snippets == (["Kiwi smoothie, NEAR the content"] if matches else [])


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "a" * 201},
        {"q": "kiwi", "limit": 0},
        {"q": "k", "limit": 51},
    ],
    ids=["missing", "empty", "blank", "too-long", "limit-0", "limit-51"],
)
async def test_a_missing_blank_or_oversized_query_is_422(
    app_factory: AppFactory, params: dict[str, Any]
) -> None:
    async with app_factory(model=scripted_model("Noted.")) as h:
        account = await new_account(h.client)
        response = await h.client.get("/api/v1/chat/search", params=params, headers=account.auth)
    assert_error(response, 422, "validation_error")


async def test_limit_caps_the_hits_and_search_follows_renames_and_deletes(
    app_factory: AppFactory,
) -> None:
    async with app_factory(model=scripted_model("Noted.")) as h:
        account = await new_account(h.client)
        first = await _send(h.client, account, "zebra one")
        for word in ("two", "three", "four"):
            await _send(h.client, account, f"zebra {word}", first["conversation_id"])
        other = await _send(h.client, account, "zebra elsewhere")
        limited = await _search(h.client, account, "zebra", limit=2)
        renamed = await h.client.patch(
            f"/api/v1/chat/conversations/{first['conversation_id']}",
            json={"title": "Stripes"},
            headers=account.auth,
        )
        assert renamed.status_code == 200, renamed.text
        titled = await _search(h.client, account, "zebra one")
        deleted = await h.client.delete(
            f"/api/v1/chat/conversations/{other['conversation_id']}", headers=account.auth
        )
        assert deleted.status_code == 204, deleted.text
        remaining = await _search(h.client, account, "zebra")
    assert len(limited) == 2
    assert [h["conversation_title"] for h in titled] == ["Stripes"]
    assert len(remaining) == 4
    assert {h["conversation_id"] for h in remaining} == {first["conversation_id"]}


async def test_the_onboarding_conversation_is_searched_too(app_factory: AppFactory) -> None:
    async with app_factory(model=scripted_model("Noted.")) as h:
        account = await new_account(h.client)
        onboarding = await h.client.get(
            "/api/v1/chat/conversations", params={"kind": "onboarding"}, headers=account.auth
        )
        [conversation] = onboarding.json()["items"]
        greeting = await h.client.get(
            f"/api/v1/chat/conversations/{conversation['id']}/messages", headers=account.auth
        )
        first_word = greeting.json()["items"][0]["content"].split()[0]
        hits = await _search(h.client, account, first_word)
    assert conversation["id"] in {h["conversation_id"] for h in hits}
