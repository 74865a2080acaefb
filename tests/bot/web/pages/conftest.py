"""Helpers for the pages' tests: a therapist with a password, and a browser-like client that signs in."""
from __future__ import annotations

import re
from typing import Any

import pytest

from bot.storage.sign_ins import SignInRecords
from bot.web import keys
from bot.web.passwords import hash_password

PASSWORD_A = "correct horse battery staple A"
PASSWORD_B = "correct horse battery staple B"
_HASHES = {"t1": hash_password(PASSWORD_A), "t2": hash_password(PASSWORD_B)}


def csrf_of(page: str) -> str:
    """Return the CSRF token a page carries in its forms."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


async def set_passwords(app: Any) -> None:
    records = SignInRecords(app[keys.STORE].engine)
    for therapist_id, password_hash in _HASHES.items():
        await records.set_password(therapist_id, password_hash, app[keys.CLOCK]())


async def sign_in(client: Any, account: str = "t1", password: str = PASSWORD_A, next_page: str = "/") -> Any:
    """Sign in through the form as a browser does; return the response to the POST (not followed)."""
    form_page = await (await client.get("/sign-in")).text()
    data = {"csrf_token": csrf_of(form_page), "account": account, "password": password, "next": next_page}
    return await client.post("/sign-in", data=data, allow_redirects=False)


@pytest.fixture
async def pages_client(aiohttp_client: Any, settings: Any) -> Any:
    """Return a client of a started service whose therapists t1 and t2 have passwords."""
    from bot.web.app import create_app

    client = await aiohttp_client(create_app(settings))
    await set_passwords(client.app)
    return client
