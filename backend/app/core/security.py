"""Password hashing (argon2, off the event loop), the two kinds of JWT (access and stream) and
the opaque refresh tokens, of which only a hash is ever stored."""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt
from pwdlib import PasswordHash
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.config import Settings

TokenScope = Literal["access", "stream"]
_ALGORITHM = "HS256"
_password_hash = PasswordHash.recommended()
# Verifying against this keeps "unknown email" as slow as "wrong password".
_DUMMY_HASH = _password_hash.hash("chatstream-timing-equaliser")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_password_hash.hash, password)


async def verify_password(password: str, hashed: str | None) -> bool:
    if hashed is None:
        await asyncio.to_thread(_password_hash.verify, password, _DUMMY_HASH)
        return False
    return await asyncio.to_thread(_password_hash.verify, password, hashed)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: uuid.UUID
    scope: TokenScope


def _issue(settings: Settings, user_id: uuid.UUID, scope: TokenScope, ttl_s: int) -> IssuedToken:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "scope": scope,
        "iat": now,
        # JWT times are whole seconds, and a datetime would be cut down to the second: a token
        # of 1 s issued at x.9 would lapse 0.1 s later. Rounded up, it lives at least `ttl_s`.
        "exp": math.ceil((now + timedelta(seconds=ttl_s)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return IssuedToken(jwt.encode(claims, settings.secret_key, algorithm=_ALGORITHM), ttl_s)


def create_access_token(settings: Settings, user_id: uuid.UUID) -> IssuedToken:
    return _issue(settings, user_id, "access", settings.access_token_ttl_s)


def create_stream_token(settings: Settings, user_id: uuid.UUID) -> IssuedToken:
    return _issue(settings, user_id, "stream", settings.stream_token_expire_seconds)


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired, of the wrong shape, or of a scope not
    accepted here."""


class ExpiredToken(InvalidToken):
    """A token of ours, correctly signed, whose time is up: the client may refresh it."""


class TokenPayload(BaseModel):
    """The claims of a ChatStream token, each of its type. PyJWT checks the signature and the
    times; a correctly signed token whose `scope` is a list or whose `sub` is a number is still
    not one of ours, and is refused here like any other bad token."""

    model_config = ConfigDict(strict=True, frozen=True)

    sub: uuid.UUID = Field(strict=False)  # a UUID in its string form, nothing else
    scope: TokenScope
    exp: int | float
    iat: int | float | None = None
    jti: str | None = None


def decode_token(settings: Settings, token: str, accepted: frozenset[TokenScope]) -> TokenClaims:
    payload = _verified_payload(settings, token, verify_exp=True)
    if payload.scope not in accepted:
        raise InvalidToken(f"token scope {payload.scope!r} not accepted here")
    return TokenClaims(user_id=payload.sub, scope=payload.scope)


def _verified_payload(settings: Settings, token: str, *, verify_exp: bool) -> TokenPayload:
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[_ALGORITHM],
            options={"require": ["exp", "sub", "scope"], "verify_exp": verify_exp},
        )
        return TokenPayload.model_validate(claims)
    except jwt.ExpiredSignatureError as exc:
        # Expired is worth saying (the client refreshes) only of a token that is otherwise one
        # of ours: `"exp": true` is a claim of the wrong type, not an expired token.
        _verified_payload(settings, token, verify_exp=False)
        raise ExpiredToken(str(exc)) from exc
    except (jwt.PyJWTError, ValidationError, ValueError, TypeError) as exc:
        # Any claim of the wrong type ends here: a 401, never an error further on.
        raise InvalidToken(str(exc)) from exc


def new_refresh_token() -> str:
    """An opaque, unguessable refresh token (256 bits): a random value, not a JWT, so that it
    means nothing without its row and a row can be revoked."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """What the database keeps of a refresh token. The token is random and long, so a fast hash
    is enough: a copy of the table lets no one present a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
