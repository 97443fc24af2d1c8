"""app/services/turns: storing, finding and retrying a turn, on a real SQLite file, without HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.core.config import Settings
from app.core.errors import (
    AccountGone,
    Conflict,
    ConversationNotFound,
    EmptyMessage,
    MessageTooLong,
    OnboardingAlreadyCompleted,
    UnstorableMessage,
)
from app.db.base import utcnow
from app.db.crud import onboarding as onboarding_crud
from app.db.models import ConversationKind, MessageStatus, Role
from app.db.session import Database
from app.schemas.auth import AuthUser, TokenUser, UserCreate
from app.services import accounts, turns
from tests.fixtures.server import make_settings


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    return make_settings(tmp_path, database_url=sqlite_url, max_message_chars=50)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database.from_url(settings.resolved_database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def user(db: Database, settings: Settings) -> AuthUser:
    data = UserCreate(email=f"{uuid.uuid4().hex[:8]}@example.com", password="long enough pw")
    created = await accounts.register(db, settings, data)
    return AuthUser.model_validate(created)


def _new_turn(
    user: AuthUser,
    text: str = "Hello there",
    *,
    client_message_id: str = "c-1",
    kind: ConversationKind = ConversationKind.CHAT,
    conversation_id: uuid.UUID | None = None,
) -> turns.NewTurn:
    return turns.NewTurn(
        user=user,
        kind=kind,
        text=text,
        client_message_id=client_message_id,
        conversation_id=conversation_id,
        model_name="scripted",
        assistant_id=uuid.uuid4(),
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", EmptyMessage),
        ("   \n\t", EmptyMessage),
        ("a\x00b", UnstorableMessage),
        ("x" * 51, MessageTooLong),
    ],
)
def test_validate_message_text_refuses_what_cannot_be_a_message(
    settings: Settings, text: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        turns.validate_message_text(text, settings)


def test_validate_message_text_keeps_a_message_at_the_limit(settings: Settings) -> None:
    assert turns.validate_message_text("x" * 50, settings) == "x" * 50


async def test_store_turn_writes_the_question_and_an_empty_answer(
    db: Database, settings: Settings, user: AuthUser
) -> None:
    new = _new_turn(user)
    record = await turns.store_turn(db, settings, new)
    assert record.created
    assert record.assistant_message.id == new.assistant_id
    question = await turns.load_message(db, record.user_message.id)
    answer = await turns.load_message(db, new.assistant_id)
    assert question is not None and answer is not None
    assert (question.role, question.content, question.status) == (
        Role.USER,
        "Hello there",
        MessageStatus.COMPLETE,
    )
    assert (answer.role, answer.content, answer.status) == (
        Role.ASSISTANT,
        "",
        MessageStatus.STREAMING,
    )
    assert answer.reply_to_id == question.id
    assert answer.created_at > question.created_at
    assert record.context.message == "Hello there"


async def test_find_turn_returns_the_stored_turn_for_a_repeated_id(
    db: Database, settings: Settings, user: AuthUser
) -> None:
    stored = await turns.store_turn(db, settings, _new_turn(user))
    _, found = await turns.find_turn(db, user, ConversationKind.CHAT, "Hello there", "c-1")
    assert found is not None and not found.created
    assert found.assistant_message.id == stored.assistant_message.id
    _, other = await turns.find_turn(db, user, ConversationKind.CHAT, "Hello there", "another id")
    assert other is None


async def test_a_sender_known_by_its_token_is_read_in_the_same_unit_as_the_look_up(
    db: Database, settings: Settings, user: AuthUser
) -> None:
    stored = await turns.store_turn(db, settings, _new_turn(user))
    account, found = await turns.find_turn(
        db, TokenUser(user.id), ConversationKind.CHAT, "Hello there", "c-1"
    )
    assert account == user
    assert found is not None and found.assistant_message.id == stored.assistant_message.id


async def test_a_sender_whose_account_is_gone_is_refused_with_a_401(db: Database) -> None:
    with pytest.raises(AccountGone) as refused:
        await turns.find_turn(db, TokenUser(uuid.uuid4()), ConversationKind.CHAT, "Hi", "c-1")
    assert refused.value.status_code == 401


async def test_a_repeated_id_with_other_text_is_a_conflict(
    db: Database, settings: Settings, user: AuthUser
) -> None:
    await turns.store_turn(db, settings, _new_turn(user))
    with pytest.raises(Conflict):
        await turns.find_turn(db, user, ConversationKind.CHAT, "Something else", "c-1")


async def test_storing_an_id_twice_is_reported_and_writes_nothing(
    db: Database, settings: Settings, user: AuthUser
) -> None:
    first = await turns.store_turn(db, settings, _new_turn(user))
    second = _new_turn(user)
    with pytest.raises(turns.SentMeanwhile):
        await turns.store_turn(db, settings, second)
    assert await turns.load_message(db, second.assistant_id) is None
    _, found = await turns.find_turn(db, user, ConversationKind.CHAT, "Hello there", "c-1")
    assert found is not None and found.assistant_message.id == first.assistant_message.id


async def test_a_later_turn_gets_the_conversation_so_far_as_history(
    db: Database, settings: Settings, user: AuthUser
) -> None:
    first = await turns.store_turn(db, settings, _new_turn(user, "First question"))
    conversation_id = first.user_message.conversation_id
    later = await turns.store_turn(
        db,
        settings,
        _new_turn(
            user, "Second question", client_message_id="c-2", conversation_id=conversation_id
        ),
    )
    assert later.user_message.conversation_id == conversation_id
    # The first answer is still empty, so only its question is history.
    assert [(h.role, h.content) for h in later.context.history] == [("user", "First question")]


async def test_someone_elses_conversation_is_not_found(
    db: Database, settings: Settings, user: AuthUser
) -> None:
    mine = await turns.store_turn(db, settings, _new_turn(user))
    other = AuthUser.model_validate(
        await accounts.register(
            db, settings, UserCreate(email="other@example.com", password="long enough pw")
        )
    )
    with pytest.raises(ConversationNotFound):
        await turns.store_turn(
            db,
            settings,
            _new_turn(other, conversation_id=mine.user_message.conversation_id),
        )


async def test_regenerate_replaces_the_failed_answer_with_a_new_empty_one(
    db: Database, settings: Settings, user: AuthUser
) -> None:
    stored = await turns.store_turn(db, settings, _new_turn(user))
    await turns.interrupt_answer(db, stored.assistant_message.id)
    new_id = uuid.uuid4()
    retried = await turns.regenerate_turn(
        db, settings, user, stored, assistant_id=new_id, model_name="scripted"
    )
    assert retried.created and retried.user_message.id == stored.user_message.id
    assert await turns.load_message(db, stored.assistant_message.id) is None
    answer = await turns.load_message(db, new_id)
    assert answer is not None and answer.status == MessageStatus.STREAMING
    assert answer.reply_to_id == stored.user_message.id
    _, found = await turns.find_turn(db, user, ConversationKind.CHAT, "Hello there", "c-1")
    assert found is not None and found.assistant_message.id == new_id


async def test_an_answer_that_is_not_failed_is_never_replaced(
    db: Database, settings: Settings, user: AuthUser
) -> None:
    stored = await turns.store_turn(db, settings, _new_turn(user))  # still streaming
    with pytest.raises(turns.SentMeanwhile):
        await turns.regenerate_turn(
            db, settings, user, stored, assistant_id=uuid.uuid4(), model_name="scripted"
        )
    assert await turns.load_message(db, stored.assistant_message.id) is not None


async def test_a_client_message_id_belongs_to_one_conversation_kind(
    db: Database, settings: Settings, user: AuthUser
) -> None:
    await turns.store_turn(db, settings, _new_turn(user))
    with pytest.raises(Conflict):
        await turns.find_turn(db, user, ConversationKind.ONBOARDING, "Hello there", "c-1")


async def test_an_onboarding_turn_answers_the_current_question(
    db: Database, settings: Settings, user: AuthUser
) -> None:
    record = await turns.store_turn(
        db, settings, _new_turn(user, "Ada", kind=ConversationKind.ONBOARDING)
    )
    assert record.onboarding_step == 0
    assert record.context.onboarding_step == 0
    # The greeting the account opened with is the history of the first answer.
    assert [h.role for h in record.context.history] == ["assistant"]


async def test_interrupt_orphaned_answers_ends_every_streaming_answer(
    db: Database, settings: Settings, user: AuthUser
) -> None:
    record = await turns.store_turn(db, settings, _new_turn(user))
    assert await turns.interrupt_orphaned_answers(db) == 1
    answer = await turns.load_message(db, record.assistant_message.id)
    assert answer is not None and answer.status == MessageStatus.INTERRUPTED
    assert await turns.interrupt_orphaned_answers(db) == 0


async def test_a_completed_onboarding_refuses_another_answer(
    db: Database, settings: Settings, user: AuthUser
) -> None:

    total = len(settings.onboarding_steps)
    for step in range(total):
        await db.run(
            lambda session, step=step: onboarding_crud.advance(  # type: ignore[misc]
                session,
                user_id=user.id,
                from_step=step,
                step_key=settings.onboarding_steps[step].key,
                answer="x",
                total_steps=total,
                now=utcnow(),
            )
        )
    with pytest.raises(OnboardingAlreadyCompleted):
        await turns.store_turn(
            db, settings, _new_turn(user, "More", kind=ConversationKind.ONBOARDING)
        )
