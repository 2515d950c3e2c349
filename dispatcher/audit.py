"""The audit log: who did what, when and from where. Append-only.

Every declaration, approval, stand-down, roster import, token creation and revocation,
and every read of a list of people (call-ups, readiness, exports) is recorded with
`record`. Where the action has a transaction, pass its connection so that the entry
commits (or rolls back) with the action; otherwise pass the `Database` right after the
action and the entry gets a transaction of its own. An entry never names a person: its
detail holds counts and ids of activations or tokens, so the log itself needs no masking
of protected people. Read with `GET /api/audit` (admin) or `dispatcher audit`.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from dispatcher.clock import from_millis, to_millis
from dispatcher.store import audit as store
from dispatcher.store.audit import AuditEntry
from dispatcher.store.database import Database

ACTIVATION_DECLARED = "activation.declared"
ACTIVATION_APPROVED = "activation.approved"
ACTIVATION_STOOD_DOWN = "activation.stood_down"
ROSTER_IMPORTED = "roster.imported"
TOKEN_CREATED = "token.created"  # noqa: S105 - an action's name, not a password
TOKEN_REVOKED = "token.revoked"  # noqa: S105 - an action's name, not a password
CALLUPS_READ = "callups.read"
READINESS_READ = "readiness.read"
EXPORT_READ = "export.read"

# A wall screen re-reads the same list every few seconds: such repeats of a read by the
# same actor are kept once per window, not thousands of times an hour.
COLLAPSED_READS = frozenset({CALLUPS_READ, READINESS_READ})
READ_WINDOW_MS = 10 * 60 * 1000

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, as the audit log records them: a token (over HTTP) or a command-line user.

    `source` is where from: the remote address of an HTTP request, `cli` for the command
    line, `internal` for code that acts on its own behalf (benchmarks, tests).
    """

    name: str
    token_id: int | None = None
    source: str = "cli"
    request_id: str | None = None

    @classmethod
    def command_line(cls) -> Actor:
        """The user running a `dispatcher` command: `cli:USER`."""
        try:
            user = getpass.getuser()
        # No USER/LOGNAME and no passwd entry (a bare container): still audit, nameless.
        except (OSError, KeyError):
            user = ""
        return cls(f"cli:{user}" if user else "cli", source="cli")


def as_actor(by: Actor | str) -> Actor:
    """An actor; a bare name (from code that predates actors) is an `internal` one."""
    return by if isinstance(by, Actor) else Actor(by, source="internal")


async def record(
    into: Database | aiosqlite.Connection,
    actor: Actor,
    action: str,
    *,
    at_ms: int,
    subject: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Append one entry; its id. `into`: the action's transaction, or the database.

    Repeated reads of the same list by the same actor within READ_WINDOW_MS are kept once
    (the earlier entry's id is returned).

    `detail` must be JSON-serialisable and must not name people (counts, ids of
    activations and tokens, file names).
    """
    fields: dict[str, Any] = {
        "at": at_ms,
        "actor": actor.name,
        "actor_token_id": actor.token_id,
        "action": action,
        "subject": subject,
        "detail": dict(detail or {}),
        "source": actor.source,
        "request_id": actor.request_id,
    }
    if isinstance(into, Database):
        async with into.transaction() as conn:
            return await _append(conn, fields)
    return await _append(into, fields)


async def _append(conn: aiosqlite.Connection, fields: dict[str, Any]) -> int:
    if fields["action"] in COLLAPSED_READS:
        earlier = await store.recent_same(
            conn,
            action=fields["action"],
            actor=fields["actor"],
            actor_token_id=fields["actor_token_id"],
            subject=fields["subject"],
            since_ms=fields["at"] - READ_WINDOW_MS,
        )
        if earlier is not None:
            return earlier  # the same list read again by the same actor: already on record
    return await store.append(conn, **fields)


def parse_since(text: str) -> int:
    """An ISO 8601 date or time as ms; a time without an offset is UTC. ValueError if bad."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"must be an ISO 8601 date or time, e.g. 2026-03-02T08:00:00+01:00, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_millis(moment)


def parse_limit(value: str | int) -> int:
    """A page size 1…MAX_LIMIT; ValueError otherwise."""
    try:
        limit = int(value)
    except ValueError:
        raise ValueError(f"must be a whole number 1–{MAX_LIMIT}, got {value!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"must be 1–{MAX_LIMIT}, got {limit}")
    return limit


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """An entry as the API and `dispatcher audit --json` show it; times ISO 8601, UTC."""
    return {
        "id": entry.id,
        "at": from_millis(entry.at).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "actor": entry.actor,
        "actor_token_id": entry.actor_token_id,
        "action": entry.action,
        "subject": entry.subject,
        "detail": entry.detail,
        "source": entry.source,
        "request_id": entry.request_id,
    }
