"""Access roles and tokens: the pure rules, and the store (hashes only, revocation, last use)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.clock import ManualClock
from dispatcher.domain.access import (
    TOKEN_PREFIX,
    AccessRole,
    clean_token_name,
    generate_token_secret,
    hash_token,
    parse_role,
)
from dispatcher.store.access_tokens import AccessTokens
from dispatcher.store.database import Database

VIEWER, LEADER, ADMIN = AccessRole.VIEWER, AccessRole.LEADER, AccessRole.ADMIN


# --- roles ---------------------------------------------------------------------------------


def test_roles_are_ordered_by_what_they_allow_not_alphabetically() -> None:
    assert VIEWER < LEADER < ADMIN
    assert ADMIN > LEADER > VIEWER
    assert LEADER <= LEADER >= LEADER
    assert sorted([ADMIN, VIEWER, LEADER]) == [VIEWER, LEADER, ADMIN]
    assert max(AccessRole) is ADMIN


@pytest.mark.parametrize(
    ("role", "required", "allowed"),
    [
        (VIEWER, VIEWER, True),
        (VIEWER, LEADER, False),
        (VIEWER, ADMIN, False),
        (LEADER, VIEWER, True),
        (LEADER, LEADER, True),
        (LEADER, ADMIN, False),
        (ADMIN, VIEWER, True),
        (ADMIN, LEADER, True),
        (ADMIN, ADMIN, True),
    ],
)
def test_a_role_allows_what_needs_it_or_less(
    role: AccessRole, required: AccessRole, allowed: bool
) -> None:
    assert role.allows(required) is allowed


def test_a_role_is_not_ordered_against_plain_values() -> None:
    with pytest.raises(TypeError):
        _ = VIEWER < 3


def test_parse_role_names_what_is_allowed() -> None:
    assert parse_role("leader") is LEADER
    for bad in ("Admin", "root", "", None, 1):
        with pytest.raises(ValueError, match="must be one of viewer, leader, admin"):
            parse_role(bad)


# --- token secrets and names ---------------------------------------------------------------


def test_token_secrets_are_random_prefixed_and_hashed_with_sha256() -> None:
    first, second = generate_token_secret(), generate_token_secret()
    assert first != second
    assert first.startswith(TOKEN_PREFIX)
    assert len(first) >= len(TOKEN_PREFIX) + 43  # 32 random bytes, base64url
    assert hash_token(first) == hashlib.sha256(first.encode()).hexdigest()
    assert hash_token(first) != hash_token(second)


def test_token_names_are_trimmed_and_checked() -> None:
    assert clean_token_name("  Dashboard i krisledningsrummet ") == "Dashboard i krisledningsrummet"
    assert clean_token_name("x" * 100) == "x" * 100
    for bad, message in [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("x" * 101, "at most 100 characters"),
        ("two\nlines", "control characters"),
    ]:
        with pytest.raises(ValueError, match=message):
            clean_token_name(bad)


# --- the store -----------------------------------------------------------------------------


@pytest.fixture
async def db(database_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(database_path)
    yield database
    await database.close()


@pytest.fixture
async def store(db: Database, clock: ManualClock) -> AsyncIterator[AccessTokens]:
    tokens = AccessTokens(db, clock)
    yield tokens
    await tokens.close()


async def test_a_created_token_authenticates_and_only_its_hash_is_stored(
    store: AccessTokens, db: Database, clock: ManualClock
) -> None:
    new = await store.create(" Vakthavande ", LEADER)
    assert (new.token.name, new.token.role, new.token.created_at) == (
        "Vakthavande",
        LEADER,
        clock.now(),
    )
    found = await store.authenticate(new.secret)
    assert found is not None
    assert (found.id, found.role) == (new.token.id, LEADER)
    rows = await db.fetch_all("SELECT * FROM access_tokens")
    assert [row["token_hash"] for row in rows] == [hash_token(new.secret)]
    assert all(new.secret not in str(value) for row in rows for value in tuple(row))


@pytest.mark.parametrize(
    "presented",
    ["", "kd_", "kd_not-a-real-token", "not-prefixed", "kd_" + "x" * 5000],
)
async def test_unknown_tokens_do_not_authenticate(store: AccessTokens, presented: str) -> None:
    await store.create("real", ADMIN)
    assert await store.authenticate(presented) is None


async def test_an_invalid_name_is_refused(store: AccessTokens) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        await store.create("  ", VIEWER)
    assert await store.all() == []


async def test_a_revoked_token_fails_at_once_and_revoking_twice_keeps_the_first_time(
    store: AccessTokens, clock: ManualClock
) -> None:
    new = await store.create("tablet", VIEWER)
    assert await store.authenticate(new.secret) is not None
    revoked = await store.revoke(new.token.id)
    assert revoked is not None
    assert revoked.revoked_at == clock.now()
    assert await store.authenticate(new.secret) is None

    clock.advance(timedelta(hours=1))
    again = await store.revoke(new.token.id)
    assert again is not None
    assert again.revoked_at == revoked.revoked_at


async def test_revoking_an_unknown_token_says_so(store: AccessTokens) -> None:
    assert await store.revoke(404) is None


async def test_all_lists_every_token_oldest_first_revoked_included(store: AccessTokens) -> None:
    first = await store.create("a", ADMIN)
    second = await store.create("b", VIEWER)
    await store.revoke(first.token.id)
    listed = await store.all()
    assert [(t.id, t.name, t.revoked) for t in listed] == [
        (first.token.id, "a", True),
        (second.token.id, "b", False),
    ]
    assert not hasattr(listed[0], "token_hash")
    assert set(listed[0].as_json()) == {
        "id",
        "name",
        "role",
        "created_at",
        "revoked_at",
        "last_used_at",
    }


async def test_last_use_is_written_at_most_once_a_minute_per_token(
    store: AccessTokens, clock: ManualClock
) -> None:
    start = clock.now()
    polled = await store.create("dashboard", VIEWER)
    other = await store.create("script", ADMIN)

    async def last_used(token_id: int) -> object:
        await store.flush()
        token = await store.get(token_id)
        assert token is not None
        return token.last_used_at

    assert await last_used(polled.token.id) is None
    await store.authenticate(polled.secret)
    assert await last_used(polled.token.id) == start

    clock.advance(timedelta(seconds=59))
    for _ in range(5):
        await store.authenticate(polled.secret)
    assert await last_used(polled.token.id) == start  # throttled: no write this minute

    await store.authenticate(other.secret)  # another token has its own minute
    assert await last_used(other.token.id) == clock.now()

    clock.advance(timedelta(seconds=1))
    await store.authenticate(polled.secret)
    assert await last_used(polled.token.id) == start + timedelta(minutes=1)


async def test_a_known_token_is_not_read_again_but_a_revocation_counts_at_once(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "t.sqlite3")
    tokens = AccessTokens(db, ManualClock(datetime(2026, 3, 2, tzinfo=UTC)))
    try:
        new = await tokens.create("väggskärm", AccessRole.VIEWER)
        assert await tokens.authenticate(new.secret) is not None
        async with db.transaction() as conn:  # behind the cache's back (another process)
            await conn.execute("UPDATE access_tokens SET name = 'renamed'")
        cached = await tokens.authenticate(new.secret)
        assert cached is not None and cached.name == "väggskärm"  # served from memory
        await tokens.revoke(new.token.id)  # through this process: at once
        assert await tokens.authenticate(new.secret) is None
    finally:
        await tokens.close()
        await db.close()
