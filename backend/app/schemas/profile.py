"""Request and response bodies for what the user can edit about themselves: the display name and
the onboarding answers that shape the assistant's system prompt."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from app.core.text import has_lone_surrogate

DISPLAY_NAME_MAX_CHARS = 100  # the users.display_name column
ANSWER_MAX_CHARS = 500
# A character that is neither whitespace nor a control character: what `one_line` keeps, so
# the schema's own statement that a blank value is refused.
VISIBLE_TEXT_PATTERN = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def one_line(text: str) -> str:
    """Text as a prompt and a form show it: control characters (invisible; PostgreSQL cannot
    store a NUL) dropped, runs of whitespace, newlines too, folded into one space."""
    text = "".join(c for c in text if c.isspace() or unicodedata.category(c) != "Cc")
    return " ".join(text.split())


def _checked(text: str, what: str, max_chars: int) -> str:
    cleaned = one_line(text)
    if not cleaned:
        raise PydanticCustomError("blank", f"The {what} is blank.")
    if len(cleaned) > max_chars:
        raise PydanticCustomError(
            "too_long",
            "The {what} is {length} characters long; the limit is {limit}.",
            {"what": what, "length": len(cleaned), "limit": max_chars},
        )
    if has_lone_surrogate(cleaned):
        raise PydanticCustomError(
            "invalid_text", f"The {what} contains half of a UTF-16 surrogate pair."
        )
    return cleaned


def _display_name(text: str) -> str:
    return _checked(text, "display name", DISPLAY_NAME_MAX_CHARS)


def _answer(text: str) -> str:
    return _checked(text, "answer", ANSWER_MAX_CHARS)


DisplayName = Annotated[
    str,
    Field(
        description=f"At most {DISPLAY_NAME_MAX_CHARS} characters once control characters are "
        "dropped and whitespace folded (runs of it become one space); blank is refused.",
        json_schema_extra={"pattern": VISIBLE_TEXT_PATTERN},
    ),
    AfterValidator(_display_name),
]
Answer = Annotated[
    str,
    Field(
        description=f"At most {ANSWER_MAX_CHARS} characters once control characters are dropped "
        "and whitespace folded; blank is refused (leave the key out instead).",
        json_schema_extra={"pattern": VISIBLE_TEXT_PATTERN},
    ),
    AfterValidator(_answer),
]


class UserUpdate(BaseModel):
    display_name: DisplayName


class OnboardingAnswerRead(BaseModel):
    key: str
    question: str
    answer: str | None = Field(description="null: not answered (skipped, or not reached yet).")


class OnboardingAnswers(BaseModel):
    items: list[OnboardingAnswerRead] = Field(description="One per onboarding question, in order.")


class OnboardingAnswersUpdate(BaseModel):
    answers: dict[str, Answer] = Field(
        description="Every answer the user keeps, by question key: the keys are this "
        "deployment's onboarding questions (ONBOARDING_STEPS), as GET /onboarding/answers lists "
        "them; another key is a 422. A question left out has no answer afterwards."
    )
