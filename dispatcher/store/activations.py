"""Activation rows: declaring one with all its call-ups and messages in one transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from dispatcher.store import outbox
from dispatcher.store.database import Database
from dispatcher.store.outbox import NewMessage


@dataclass(frozen=True, slots=True)
class ActivationRecord:
    id: str
    kind: str
    title: str
    message: str
    scope: dict[str, list[str]]
    options: dict[str, Any]
    state: str
    idempotency_key: str | None
    reply_code: str
    declared_by: str
    declared_at: int
    approved_by: str | None = None
    approved_at: int | None = None
    stood_down_by: str | None = None
    stood_down_at: int | None = None
    declared_by_token: int | None = None  # None: declared from the command line


@dataclass(frozen=True, slots=True)
class NewCallUp:
    """A call-up to insert: the snapshot of person and unit it is made from."""

    person_id: str
    person_name: str
    department: str
    protected: bool
    sms_number: str | None
    email: str | None
    unit_id: str
    unit_name: str
    unit_address: str
    placement_kind: str
    reply_code: str
    state: str = "awaiting"
    extra: dict[str, Any] = field(default_factory=dict)


_ACTIVATION_COLUMNS = (
    "id, kind, title, message, scope_json, options_json, state, idempotency_key, reply_code,"
    " declared_by, declared_at, approved_by, approved_at, stood_down_by, stood_down_at,"
    " declared_by_token"
)


def _activation(row: Sequence[Any]) -> ActivationRecord:
    values = list(row)
    values[4] = json.loads(values[4])
    values[5] = json.loads(values[5])
    return ActivationRecord(*values)


async def get_activation(db: Database, activation_id: str) -> ActivationRecord | None:
    row = await db.fetch_one(
        f"SELECT {_ACTIVATION_COLUMNS} FROM activations WHERE id = ?", (activation_id,)
    )
    return None if row is None else _activation(tuple(row))


async def find_by_idempotency_key(db: Database, key: str) -> ActivationRecord | None:
    row = await db.fetch_one(
        f"SELECT {_ACTIVATION_COLUMNS} FROM activations WHERE idempotency_key = ?", (key,)
    )
    return None if row is None else _activation(tuple(row))


async def list_activations(db: Database, *, limit: int = 200) -> list[ActivationRecord]:
    """Open activations first, then the newest."""
    rows = await db.fetch_all(
        f"SELECT {_ACTIVATION_COLUMNS} FROM activations"
        " ORDER BY state IN ('stood_down', 'cancelled'), declared_at DESC LIMIT ?",
        (limit,),
    )
    return [_activation(tuple(r)) for r in rows]


async def open_reply_codes(conn: aiosqlite.Connection) -> set[str]:
    async with conn.execute(
        "SELECT reply_code FROM activations WHERE state IN ('awaiting_approval', 'active')"
    ) as cursor:
        return {str(r[0]) for r in await cursor.fetchall()}


async def busy_people(conn: aiosqlite.Connection) -> frozenset[str]:
    """People with a call-up still awaiting or confirmed in an open activation."""
    async with conn.execute(
        "SELECT DISTINCT c.person_id FROM callups c JOIN activations a ON a.id = c.activation_id"
        " WHERE a.state = 'active' AND c.state IN ('awaiting', 'confirmed')"
    ) as cursor:
        return frozenset(str(r[0]) for r in await cursor.fetchall())


async def people_in_open_activations(conn: aiosqlite.Connection) -> frozenset[str]:
    """People with any call-up in an active activation: their next call-up needs a reply code
    (an answer could otherwise be meant for either)."""
    async with conn.execute(
        "SELECT DISTINCT c.person_id FROM callups c JOIN activations a ON a.id = c.activation_id"
        " WHERE a.state = 'active'"
    ) as cursor:
        return frozenset(str(r[0]) for r in await cursor.fetchall())


async def insert_activation(conn: aiosqlite.Connection, activation: ActivationRecord) -> None:
    await conn.execute(
        f"INSERT INTO activations ({_ACTIVATION_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            activation.id,
            activation.kind,
            activation.title,
            activation.message,
            json.dumps(activation.scope, ensure_ascii=False),
            json.dumps(activation.options, ensure_ascii=False),
            activation.state,
            activation.idempotency_key,
            activation.reply_code,
            activation.declared_by,
            activation.declared_at,
            activation.approved_by,
            activation.approved_at,
            activation.stood_down_by,
            activation.stood_down_at,
            activation.declared_by_token,
        ),
    )


@dataclass(frozen=True, slots=True)
class ActivationUnit:
    unit_id: str
    name: str
    service: str
    area: str
    address: str
    needed: int


async def insert_units(
    conn: aiosqlite.Connection, activation_id: str, units: Sequence[ActivationUnit]
) -> None:
    await conn.executemany(
        "INSERT INTO activation_units (activation_id, unit_id, name, service, area, address,"
        " needed) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ((activation_id, u.unit_id, u.name, u.service, u.area, u.address, u.needed) for u in units),
    )


async def replace_units(
    conn: aiosqlite.Connection, activation_id: str, units: Sequence[ActivationUnit]
) -> None:
    """The units of an activation that has no call-ups yet, planned again (on approval)."""
    await conn.execute("DELETE FROM activation_units WHERE activation_id = ?", (activation_id,))
    await insert_units(conn, activation_id, units)


async def insert_callups(
    conn: aiosqlite.Connection,
    activation_id: str,
    new_callups: Sequence[NewCallUp],
    first_messages: Sequence[NewMessage],
    now_ms: int,
    *,
    next_step_at: int | None = None,
) -> int:
    """Insert call-ups with ids we choose (we are the only writer) and their first messages.

    Each message's `callup_id` is the index of its call-up in `new_callups`. Returns the id
    given to the first call-up. `next_step_at` is when escalation first looks at the
    awaiting ones (`declarations.first_step_at`); None leaves them out of escalation.
    """
    async with conn.execute("SELECT COALESCE(MAX(id), 0) FROM callups") as cursor:
        row = await cursor.fetchone()
    first_id = (int(row[0]) if row is not None else 0) + 1
    await conn.executemany(
        "INSERT INTO callups (id, activation_id, person_id, person_name, department, protected,"
        " sms_number, email, unit_id, unit_name, unit_address, placement_kind, reply_code, state,"
        " next_step_at, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                first_id + index,
                activation_id,
                c.person_id,
                c.person_name,
                c.department,
                int(c.protected),
                c.sms_number,
                c.email,
                c.unit_id,
                c.unit_name,
                c.unit_address,
                c.placement_kind,
                c.reply_code,
                c.state,
                next_step_at if c.state == "awaiting" else None,
                now_ms,
                now_ms,
            )
            for index, c in enumerate(new_callups)
        ),
    )
    await outbox.enqueue(conn, first_messages, now_ms, callup_id_base=first_id)
    # New call-ups change the activation's status: one bump for the batch (the trigger on
    # callups only sees state updates, and one per inserted row would cost 100,000 updates).
    await conn.execute(
        "UPDATE activations SET revision = revision + 1 WHERE id = ?", (activation_id,)
    )
    return first_id


async def set_state(
    conn: aiosqlite.Connection, activation_id: str, state: str, **columns: Any
) -> None:
    assignments = ", ".join(f"{name} = ?" for name in columns)
    sql = (
        f"UPDATE activations SET state = ?{', ' + assignments if assignments else ''} WHERE id = ?"
    )
    await conn.execute(sql, (state, *columns.values(), activation_id))
