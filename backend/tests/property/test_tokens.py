"""Our token check never accepts what PyJWT refuses, and accepts every token we issue.

`decode_token` checks signatures itself (app/core/security.py, `_signed_claims`): PyJWT's own
`decode` cost 80-110 µs a request. PyJWT stays the reference: for tokens we issue, for tokens
signed with our key but any header and any claims, and for issued tokens with a byte changed,
whatever ours accepts PyJWT accepts, with the same claims.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.config import Settings
from app.core.security import (
    ExpiredToken,
    InvalidToken,
    TokenClaims,
    create_access_token,
    create_stream_token,
    decode_token,
)
from tests.fixtures.server import make_settings

BOTH = frozenset({"access", "stream"})
SETTINGS = make_settings(Path("."))


def _pyjwt(settings: Settings, token: str) -> TokenClaims | None:
    """PyJWT's verdict, with our claims' types on top: the claims, or None if refused."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=["HS256"],
            options={"require": ["exp", "sub", "scope"]},
        )
        return TokenClaims(user_id=uuid.UUID(claims["sub"]), scope=claims["scope"])
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _ours(settings: Settings, token: str) -> TokenClaims | None:
    try:
        return decode_token(settings, token, BOTH)
    except InvalidToken:
        return None


def _agree(token: str) -> TokenClaims | None:
    ours = _ours(SETTINGS, token)
    if ours is not None:
        assert _pyjwt(SETTINGS, token) == ours
    return ours


@given(st.uuids(), st.sampled_from([create_access_token, create_stream_token]))
def test_every_token_we_issue_is_accepted_by_both(user_id: uuid.UUID, issue: Any) -> None:
    token = issue(SETTINGS, user_id).token
    claims = _agree(token)
    assert claims is not None and claims.user_id == user_id


@given(
    st.uuids(),
    st.data(),
)
def test_an_issued_token_with_any_change_is_refused(
    user_id: uuid.UUID, data: st.DataObject
) -> None:
    token = create_access_token(SETTINGS, user_id).token
    at = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=3))
    changed = token[:at] + replacement + token[at + 1 :]
    if changed == token:
        return
    assert _agree(changed) is None


NOW = int(time.time())
CLAIM_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(NOW - 10_000, NOW + 10_000),
    st.floats(
        allow_nan=False, allow_infinity=False, min_value=NOW - 10_000, max_value=NOW + 10_000
    ),
    st.text(max_size=8),
    st.sampled_from(["access", "stream", "admin", str(uuid.UUID(int=7)), "not-a-uuid"]),
    st.lists(st.integers(), max_size=2),
)
CLAIM_NAMES = st.sampled_from(["sub", "scope", "exp", "iat", "jti", "nbf", "aud", "iss", "x"])
HEADERS = st.one_of(
    st.just({}),
    st.dictionaries(
        st.sampled_from(["typ", "kid", "cty", "crit", "b64"]),
        st.one_of(st.text(max_size=4), st.booleans(), st.just(["b64"])),
        max_size=2,
    ),
)


def _ours_now() -> dict[str, Any]:
    """Claims of our shape, fresh when the test runs (a long suite outlives a module's clock)."""
    now = int(time.time())
    return {
        "sub": str(uuid.UUID(int=7)),
        "scope": "access",
        "exp": now + 600,
        "iat": now,
        "jti": "j",
    }


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(CLAIM_NAMES, CLAIM_VALUES, max_size=3),
    st.sets(CLAIM_NAMES, max_size=2),
    HEADERS,
    st.sampled_from(["HS256", "none"]),
)
def test_a_token_signed_with_our_key_is_accepted_only_where_pyjwt_accepts_it(
    changes: dict[str, Any], removed: set[str], headers: dict[str, Any], algorithm: str
) -> None:
    """Claims of our own shape with a few changed, added or removed, under any header."""
    claims = {k: v for k, v in {**_ours_now(), **changes}.items() if k not in removed}
    try:
        token = jwt.encode(
            claims,
            None if algorithm == "none" else SETTINGS.secret_key,  # type: ignore[arg-type]
            algorithm=algorithm,
            headers=headers,
        )
    except (TypeError, ValueError, jwt.PyJWTError):
        return  # PyJWT cannot write it: nothing to compare
    accepted = _agree(token)
    if not changes and not removed and not headers and algorithm == "HS256":
        assert accepted is not None  # our own shape, untouched


def test_the_claims_of_our_own_shape_are_accepted_as_pyjwt_accepts_them() -> None:
    """Not vacuous: a hand-made token of our shape passes both, and an expired one neither."""
    user_id = uuid.uuid4()
    now = int(time.time())
    fresh = {"sub": str(user_id), "scope": "stream", "exp": now + 600, "iat": now - 5}
    token = jwt.encode(fresh, SETTINGS.secret_key, algorithm="HS256")
    assert _agree(token) == TokenClaims(user_id=user_id, scope="stream")
    expired = jwt.encode({**fresh, "exp": now - 1}, SETTINGS.secret_key, algorithm="HS256")
    with pytest.raises(ExpiredToken):
        decode_token(SETTINGS, expired, BOTH)
    assert _pyjwt(SETTINGS, expired) is None
