"""Small helpers the tests share: accounts, tokens, and waiting with a deadline."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

T = TypeVar("T")


@dataclass
class Account:
    """A registered, signed-in user."""

    email: str
    password: str
    id: str
    access_token: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.access_token)

    @property
    def uuid(self) -> uuid.UUID:
        return uuid.UUID(self.id)


async def new_account(
    client: httpx.AsyncClient, password: str = "correct horse battery"
) -> Account:
    details = await register(client, password=password)
    token = await login(client, details["email"], password)
    return Account(details["email"], password, details["id"], token)


async def stream_token(client: httpx.AsyncClient, account: Account) -> str:
    response = await client.post("/api/v1/chat/stream-token", headers=account.auth)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


async def register(
    client: httpx.AsyncClient,
    email: str | None = None,
    password: str = "correct horse battery",
    display_name: str | None = "Tester",
) -> dict[str, str]:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "display_name": display_name},
    )
    assert response.status_code == 201, response.text
    return {"email": email, "password": password, "id": response.json()["id"]}


async def login(client: httpx.AsyncClient, email: str, password: str) -> str:
    response = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def new_user_token(client: httpx.AsyncClient, **kwargs: str) -> str:
    account = await register(client, **kwargs)
    return await login(client, account["email"], account["password"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_client_id() -> str:
    return uuid.uuid4().hex


async def finish_onboarding(client: httpx.AsyncClient, token: str, steps: int = 4) -> None:
    for step in range(steps):
        response = await client.post(
            "/api/v1/chat/onboarding-message",
            json={"message": f"answer {step}", "client_message_id": new_client_id()},
            headers=bearer(token),
        )
        assert response.status_code == 200, response.text


async def poll_until(
    condition: Callable[[], bool], timeout_s: float = 10.0, interval_s: float = 0.01
) -> None:
    """Wait until `condition()` holds; fail after `timeout_s` (never a fixed sleep)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)


async def poll_value(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    timeout_s: float = 10.0,
    interval_s: float = 0.02,
) -> T:
    """Call `probe` until `accept(value)`; fail with the last value after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not accepted within {timeout_s} s; last value: {value!r}")
        await asyncio.sleep(interval_s)
