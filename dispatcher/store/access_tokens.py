"""Access tokens in the store: create, list, revoke, and authenticate a presented token.

Only the SHA-256 of a token is stored, and a presented token is found by its hash. The
time a token was last used is kept to the minute: dashboards poll every few seconds, so
each token's `last_used_at` is written at most once per `LAST_USED_RESOLUTION`, in the
background, so that a request never waits behind a long write (a roster import).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from dispatcher.clock import Clock, from_millis, to_millis
from dispatcher.domain.access import (
    AccessRole,
    AccessToken,
    clean_token_name,
    could_be_token,
    generate_token_secret,
    hash_token,
)
from dispatcher.store.database import Database

LAST_USED_RESOLUTION = timedelta(minutes=1)

_COLUMNS = "id, name, role, created_at, revoked_at, last_used_at"
AUTH_CACHE_SECONDS = 5.0
_AUTH_CACHE_ENTRIES = 1024

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just created: the only time its secret exists outside the caller's hands."""

    token: AccessToken
    secret: str


class AccessTokens:
    """The `access_tokens` table. Call `close()` before closing the database."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        last_used_resolution: timedelta = LAST_USED_RESOLUTION,
    ) -> None:
        self._db = db
        self._clock = clock
        self._resolution = last_used_resolution
        self._last_recorded: dict[int, datetime] = {}
        self._pending: set[asyncio.Task[None]] = set()
        # Live tokens seen lately, by hash: a wall screen polling every few seconds costs no
        # database read for its token. A revocation here drops the entry at once; one made by
        # another process (the command line) takes effect within AUTH_CACHE_SECONDS.
        self._recent: dict[str, tuple[AccessToken, float]] = {}

    async def create(self, name: str, role: AccessRole) -> NewToken:
        """Store a new token; ValueError if the name is not usable (see `clean_token_name`)."""
        name = clean_token_name(name)
        secret = generate_token_secret()
        created_at = to_millis(self._clock.now())
        async with self._db.transaction() as connection:
            cursor = await connection.execute(
                "INSERT INTO access_tokens (name, role, token_hash, created_at)"
                " VALUES (?, ?, ?, ?)",
                (name, role.value, hash_token(secret), created_at),
            )
            token_id = cursor.lastrowid
        assert token_id is not None  # an INSERT into a rowid table always sets it
        token = AccessToken(token_id, name, role, from_millis(created_at), None, None)
        return NewToken(token, secret)

    async def all(self) -> list[AccessToken]:
        """Every token, revoked ones included, oldest first."""
        rows = await self._db.fetch_all(f"SELECT {_COLUMNS} FROM access_tokens ORDER BY id")
        return [_token(row) for row in rows]

    async def get(self, token_id: int) -> AccessToken | None:
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM access_tokens WHERE id = ?", (token_id,)
        )
        return None if row is None else _token(row)

    async def revoke(self, token_id: int) -> AccessToken | None:
        """Revoke a token at once; None if there is no such token. Revoking twice is harmless
        and keeps the first revocation time."""
        self._recent = {h: v for h, v in self._recent.items() if v[0].id != token_id}
        async with self._db.transaction() as connection:
            await connection.execute(
                "UPDATE access_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (to_millis(self._clock.now()), token_id),
            )
            async with connection.execute(
                f"SELECT {_COLUMNS} FROM access_tokens WHERE id = ?", (token_id,)
            ) as cursor:
                row = await cursor.fetchone()
        return None if row is None else _token(row)

    async def authenticate(self, secret: str) -> AccessToken | None:
        """The live (not revoked) token with this secret, or None; notes that it was used."""
        if not could_be_token(secret):
            return None
        token_hash = hash_token(secret)
        now = time.monotonic()
        cached = self._recent.get(token_hash)
        if cached is not None and now - cached[1] < AUTH_CACHE_SECONDS:
            self._note_use(cached[0].id)
            return cached[0]
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM access_tokens WHERE token_hash = ?", (token_hash,)
        )
        if row is None or row["revoked_at"] is not None:
            self._recent.pop(token_hash, None)
            return None
        token = _token(row)
        if len(self._recent) >= _AUTH_CACHE_ENTRIES:
            self._recent.clear()
        self._recent[token_hash] = (token, now)
        self._note_use(token.id)
        return token

    async def flush(self) -> None:
        """Wait until every pending `last_used_at` write is done."""
        while self._pending:
            await asyncio.gather(*self._pending)

    async def close(self) -> None:
        await self.flush()

    def _note_use(self, token_id: int) -> None:
        now = self._clock.now()
        last = self._last_recorded.get(token_id)
        if last is not None and now - last < self._resolution:
            return
        self._last_recorded[token_id] = now
        task = asyncio.create_task(self._record_use(token_id, to_millis(now)))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _record_use(self, token_id: int, used_at: int) -> None:
        try:
            async with self._db.transaction() as connection:
                await connection.execute(
                    "UPDATE access_tokens SET last_used_at = ?"
                    " WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                    (used_at, token_id, used_at),
                )
        # A lost "last used" time must never fail a request; it is only informative.
        # (aiosqlite raises ValueError once its connection is closed.)
        except (sqlite3.Error, ValueError) as error:
            log.warning("token last use not recorded", token_id=token_id, error=str(error))


def _token(row: sqlite3.Row) -> AccessToken:
    return AccessToken(
        id=int(row["id"]),
        name=str(row["name"]),
        role=AccessRole(row["role"]),
        created_at=from_millis(row["created_at"]),
        revoked_at=_maybe_time(row["revoked_at"]),
        last_used_at=_maybe_time(row["last_used_at"]),
    )


def _maybe_time(millis: int | None) -> datetime | None:
    return None if millis is None else from_millis(millis)
