"""Helpers for the users-and-security tests: cheap hashing and accounts made through the service.

argon2-cffi documents ``argon2.profiles.CHEAPEST`` as the profile for tests; the production
hasher (its defaults, ~80 ms here) is only used where a test is about the parameters.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, profiles

from ims_tui.db.engine import Store
from ims_tui.services import passwords, users
from ims_tui.services.actor import Actor

PASSWORD = "correct-horse"
PIN = "4711"
SETUP = Actor("setup-admin", "admin", "test")


def use_cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> PasswordHasher:
    hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    monkeypatch.setattr(passwords, "hasher", hasher)
    return hasher


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> PasswordHasher:
    return use_cheap_hasher(monkeypatch)


def add_user(store: Store, username: str, role: str = "picker", *, password: str = PASSWORD,
             badge: str | None = None, pin: str | None = None) -> None:
    users.add_user(store, SETUP, username, role, password, badge=badge, pin=pin)
