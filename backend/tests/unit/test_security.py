"""app/core/security.py: argon2 passwords, access and stream tokens and what decoding refuses."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from app.core import security
from app.core.config import Settings
from app.core.security import (
    ExpiredToken,
    InvalidToken,
    create_access_token,
    create_stream_token,
    decode_token,
    hash_password,
    verify_password,
)
from tests.fixtures.server import make_settings

ACCESS = frozenset({"access"})
BOTH = frozenset({"access", "stream"})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, access_token_expire_minutes=7, stream_token_expire_seconds=42)


def _signed(settings: Settings, **claims: Any) -> str:
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


async def test_password_hash_is_argon2_and_hides_the_password() -> None:
    hashed = await hash_password("correct horse battery")
    assert hashed.startswith("$argon2")
    assert "correct horse battery" not in hashed
    assert await hash_password("correct horse battery") != hashed  # salted


async def test_verify_password_accepts_only_the_right_password() -> None:
    hashed = await hash_password("correct horse battery")
    assert await verify_password("correct horse battery", hashed)
    assert not await verify_password("correct horse batterY", hashed)
    assert not await verify_password("", hashed)


async def test_verify_password_without_a_hash_is_false() -> None:
    # The unknown-email path: still does the work, never succeeds.
    assert not await verify_password("anything at all", None)


def test_access_token_round_trips_with_its_user_and_scope(settings: Settings) -> None:
    user_id = uuid.uuid4()
    issued = create_access_token(settings, user_id)
    assert issued.expires_in == 7 * 60
    claims = decode_token(settings, issued.token, ACCESS)
    assert claims.user_id == user_id
    assert claims.scope == "access"


def test_token_lifetime_is_the_configured_one(settings: Settings) -> None:
    issued = create_stream_token(settings, uuid.uuid4())
    raw = jwt.decode(issued.token, settings.secret_key, algorithms=["HS256"])
    assert issued.expires_in == 42
    assert raw["exp"] - raw["iat"] in (42, 43)  # whole seconds: `exp` rounded up, `iat` down
    assert raw["scope"] == "stream"


def test_stream_token_is_refused_where_only_access_is_accepted(settings: Settings) -> None:
    token = create_stream_token(settings, uuid.uuid4()).token
    with pytest.raises(InvalidToken, match="scope"):
        decode_token(settings, token, ACCESS)
    assert decode_token(settings, token, BOTH).scope == "stream"


def test_expired_token_is_refused(settings: Settings) -> None:
    past = datetime.now(UTC) - timedelta(minutes=5)
    token = _signed(
        settings, sub=str(uuid.uuid4()), scope="access", iat=past, exp=past + timedelta(minutes=1)
    )
    with pytest.raises(InvalidToken, match="expired"):
        decode_token(settings, token, ACCESS)


def test_token_signed_with_another_key_is_refused(settings: Settings) -> None:
    other = make_settings(Path("."), secret_key="another-secret-entirely-" + "x" * 20)
    token = create_access_token(other, uuid.uuid4()).token
    with pytest.raises(InvalidToken, match="[Ss]ignature"):
        decode_token(settings, token, ACCESS)


@pytest.mark.parametrize(
    "token", ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0"]
)
def test_malformed_token_is_refused(settings: Settings, token: str) -> None:
    with pytest.raises(InvalidToken):
        decode_token(settings, token, BOTH)


@pytest.mark.parametrize(
    "claims",
    [
        {"scope": "access"},  # no subject
        {"sub": "not-a-uuid", "scope": "access"},
        {"sub": str(uuid.UUID(int=1))},  # no scope
        {"sub": str(uuid.UUID(int=1)), "scope": "admin"},
    ],
)
def test_token_with_missing_or_wrong_claims_is_refused(
    settings: Settings, claims: dict[str, Any]
) -> None:
    token = _signed(settings, exp=datetime.now(UTC) + timedelta(minutes=5), **claims)
    with pytest.raises(InvalidToken):
        decode_token(settings, token, BOTH)


def test_token_without_expiry_is_refused(settings: Settings) -> None:
    token = _signed(settings, sub=str(uuid.uuid4()), scope="access")
    with pytest.raises(InvalidToken, match="exp"):
        decode_token(settings, token, ACCESS)


def test_unsigned_token_is_refused(settings: Settings) -> None:
    claims = {
        "sub": str(uuid.uuid4()),
        "scope": "access",
        "exp": datetime.now(UTC) + timedelta(minutes=5),
    }
    token = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(InvalidToken):
        decode_token(settings, token, ACCESS)


def test_a_token_lives_at_least_its_whole_lifetime(settings: Settings) -> None:
    """JWT times are whole seconds: `exp` is rounded up, never cut down to the second."""
    for _ in range(20):
        issued_at = time.time()
        token = create_stream_token(settings, uuid.uuid4()).token
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        assert isinstance(exp, int)
        assert issued_at + settings.stream_token_expire_seconds <= exp
        assert exp < time.time() + settings.stream_token_expire_seconds + 1
        time.sleep(0.037)  # at different fractions of a second


def test_a_token_verified_before_is_still_refused_once_it_expires(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = create_stream_token(settings, uuid.uuid4())  # 42 s
    assert decode_token(settings, issued.token, BOTH).scope == "stream"
    later = time.time() + 43
    monkeypatch.setattr(security.time, "time", lambda: later)
    with pytest.raises(ExpiredToken):
        decode_token(settings, issued.token, BOTH)


def test_a_token_verified_under_one_key_is_refused_under_another(
    settings: Settings, tmp_path: Path
) -> None:
    issued = create_access_token(settings, uuid.uuid4())
    decode_token(settings, issued.token, ACCESS)
    other = make_settings(tmp_path, secret_key="another-key-" + "x" * 40)
    with pytest.raises(InvalidToken):
        decode_token(other, issued.token, ACCESS)
    with pytest.raises(InvalidToken):  # and the scope is checked at every use
        decode_token(settings, issued.token, frozenset({"stream"}))


def test_a_refused_token_stays_refused_and_the_verified_ones_are_bounded(
    settings: Settings,
) -> None:
    claims_of_one = create_access_token(settings, uuid.uuid4()).token.rsplit(".", 1)[0]
    signature_of_another = create_access_token(settings, uuid.uuid4()).token.rsplit(".", 1)[1]
    forged = f"{claims_of_one}.{signature_of_another}"
    for _ in range(2):
        with pytest.raises(InvalidToken):
            decode_token(settings, forged, ACCESS)
    for _ in range(security._VERIFIED_TOKENS_MAX + 10):
        decode_token(settings, create_stream_token(settings, uuid.uuid4()).token, BOTH)
    assert len(security._verified_tokens) == security._VERIFIED_TOKENS_MAX
