"""Password hashing (argon2, off the event loop), the two kinds of JWT (access and stream) and
the opaque refresh tokens, of which only a hash is ever stored."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import time
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
    """The claims of a ChatStream token, each of its type. `_signed_claims` checks the signature;
    a correctly signed token whose `scope` is a list or whose `sub` is a number is still
    not one of ours, and is refused here like any other bad token."""

    model_config = ConfigDict(strict=True, frozen=True)

    sub: uuid.UUID = Field(strict=False)  # a UUID in its string form, nothing else
    scope: TokenScope
    exp: int | float
    iat: int | float | None = None
    jti: str | None = None


def decode_token(settings: Settings, token: str, accepted: frozenset[TokenScope]) -> TokenClaims:
    payload = _verified_payload(settings, token)
    if payload.scope not in accepted:
        raise InvalidToken(f"token scope {payload.scope!r} not accepted here")
    return TokenClaims(user_id=payload.sub, scope=payload.scope)


# Tokens verified already, by key and token. A client opens every stream of a session with the
# same token, and checking its signature and claims again was about 4% of an open's work on the
# event loop. What the check finds depends on the key and the token alone; the token's times
# are checked at every use. Bounded: the oldest goes first.
_VERIFIED_TOKENS_MAX = 4096
_verified_tokens: dict[tuple[str, str], TokenPayload] = {}


def _verified_payload(settings: Settings, token: str) -> TokenPayload:
    key = (settings.secret_key, token)
    payload = _verified_tokens.get(key)
    if payload is None:
        payload = _checked_payload(settings.secret_key, token)
        if len(_verified_tokens) >= _VERIFIED_TOKENS_MAX:
            del _verified_tokens[next(iter(_verified_tokens))]
        _verified_tokens[key] = payload
    try:
        # As PyJWT counts them: whole seconds, no leeway. Expired is worth saying (the client
        # refreshes) only of a token that is otherwise one of ours, as this one now is.
        now = time.time()
        if payload.iat is not None and int(payload.iat) > now:
            raise InvalidToken("The token is not yet valid (iat)")
        if int(payload.exp) <= now:
            _verified_tokens.pop(key, None)
            raise ExpiredToken("Signature has expired")
    except (ValueError, OverflowError) as exc:  # a time of NaN or infinity
        raise InvalidToken(str(exc)) from exc
    return payload


def _checked_payload(secret_key: str, token: str) -> TokenPayload:
    try:
        return TokenPayload.model_validate(_signed_claims(secret_key, token))
    except (ValidationError, ValueError, TypeError, OverflowError) as exc:
        # Any claim of the wrong type ends here: a 401, never an error further on.
        raise InvalidToken(str(exc)) from exc


# What `jwt.encode` makes of our claims: base64url without padding, this header, these claims.
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_HEADER_SEGMENT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"  # {"alg":"HS256","typ":"JWT"}
_CLAIMS = frozenset({"sub", "scope", "exp", "iat", "jti"})
_REQUIRED = ("exp", "sub", "scope")


def _signed_claims(secret_key: str, token: str) -> dict[str, object]:
    """The claims of a token we could have issued, its signature checked.

    PyJWT's `decode` took 80-110 µs here, most of it checking each character of the token in
    Python, on every stream opened and every request. This accepts only what `_issue` makes
    (a stricter set than PyJWT's: no other header, algorithm or claim), and a property test
    holds it to PyJWT's verdict on every token it accepts (tests/property/test_tokens.py).
    """
    segments = token.split(".")
    if len(segments) != 3 or not all(_SEGMENT.fullmatch(segment) for segment in segments):
        raise InvalidToken("Not enough segments or not base64url")
    header, claims, signature = segments
    expected = hmac.digest(secret_key.encode(), f"{header}.{claims}".encode("ascii"), "sha256")
    if not hmac.compare_digest(_base64url(expected), signature.encode("ascii")):
        raise InvalidToken("Signature verification failed")
    if header != _HEADER_SEGMENT:
        raise InvalidToken("Not a header of ours")
    decoded = json.loads(_unbase64url(claims))
    if not isinstance(decoded, dict) or not decoded.keys() <= _CLAIMS:
        raise InvalidToken("Not a set of claims of ours")
    for name in _REQUIRED:
        if name not in decoded:
            raise InvalidToken(f'Token is missing the "{name}" claim')
    if None in decoded.values():  # PyJWT refuses a null claim of any of these names
        raise InvalidToken("A claim is null")
    return decoded


def _base64url(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def _unbase64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def new_refresh_token() -> str:
    """An opaque, unguessable refresh token (256 bits): a random value, not a JWT, so that it
    means nothing without its row and a row can be revoked."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """What the database keeps of a refresh token. The token is random and long, so a fast hash
    is enough: a copy of the table lets no one present a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
