"""An email address is one account however it is typed: Unicode composed (NFC) or decomposed
(NFD), upper or lower case, on registration and on login alike."""

from __future__ import annotations

import unicodedata

import pytest

from tests.fixtures.accounts import DEFAULT_PASSWORD, login, register
from tests.fixtures.server import AppFactory, assert_error

NFC = unicodedata.normalize("NFC", "rené@example.com")
NFD = unicodedata.normalize("NFD", "rené@example.com")


@pytest.mark.parametrize(
    ("registered_as", "logged_in_as"),
    [
        (NFD, NFD),  # the issue: registered and logged in with the very same string
        (NFD, NFC),
        (NFC, NFD),
        (NFD, NFD.upper()),
        ("Ada@Bücher.example", "ada@xn--bcher-kva.example"),  # the domain in either form
    ],
)
async def test_the_same_address_in_another_form_logs_in(
    app_factory: AppFactory, registered_as: str, logged_in_as: str
) -> None:
    async with app_factory() as h:
        await register(h.client, email=registered_as)
        assert await login(h.client, logged_in_as, DEFAULT_PASSWORD)


@pytest.mark.parametrize("second", [NFC, NFD, NFD.upper(), f"  {NFC}  "])
async def test_the_same_address_in_another_form_cannot_register_twice(
    app_factory: AppFactory, second: str
) -> None:
    async with app_factory() as h:
        await register(h.client, email=NFD)
        again = await h.client.post(
            "/api/v1/auth/register", json={"email": second, "password": DEFAULT_PASSWORD}
        )
        assert_error(again, 409, "email_taken")


async def test_the_profile_shows_the_address_in_its_composed_lower_case_form(
    app_factory: AppFactory,
) -> None:
    async with app_factory() as h:
        registered = await h.client.post(
            "/api/v1/auth/register",
            json={"email": NFD.replace("rené", "René"), "password": DEFAULT_PASSWORD},
        )
        assert registered.status_code == 201, registered.text
        assert registered.json()["email"] == NFC
        token = await login(h.client, NFD, DEFAULT_PASSWORD)
        me = await h.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["email"] == NFC


async def test_a_different_address_is_still_refused(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        await register(h.client, email=NFD)
        wrong = await h.client.post(
            "/api/v1/auth/token",
            data={"username": "rene@example.com", "password": DEFAULT_PASSWORD},
        )
        assert_error(wrong, 401, "invalid_credentials")
