"""Request and response bodies for accounts and tokens."""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator


class UserCreate(BaseModel):
    email: EmailStr = Field(
        description="An address that can receive mail: special-use domains (.test, .local, "
        ".localhost, .invalid, .onion, .arpa) and quoted local parts are refused (422). One "
        "account per address, whatever its case or Unicode form."
    )
    password: str = Field(min_length=8, max_length=256)
    display_name: str | None = Field(default=None, max_length=100)

    @field_validator("display_name")
    @classmethod
    def _strip_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Control characters other than whitespace (NUL, ESC, ...) are invisible in a name, and
        # PostgreSQL cannot store a NUL at all: dropped. Whitespace folds to single spaces.
        value = "".join(c for c in value if c.isspace() or unicodedata.category(c) != "Cc")
        value = " ".join(value.split())
        return value or None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str | None
    created_at: datetime
    onboarding_completed: bool = False


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class StreamToken(BaseModel):
    token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class TokenUser:
    """The user a valid token names, before the request has read the account (it may be gone)."""

    id: uuid.UUID


class AuthUser(BaseModel):
    """The authenticated user of a request: a snapshot, so no session outlives the lookup."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: uuid.UUID
    email: str
    display_name: str | None
    created_at: datetime
