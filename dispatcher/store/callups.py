"""Call-up rows: the snapshot each was made from, and their answer state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiosqlite

from dispatcher.domain.readiness import RefusedContact
from dispatcher.store.database import Database


@dataclass(frozen=True, slots=True)
class CallUpSnapshot:
    """A call-up with the activation facts its messages need."""

    id: int
    activation_id: str
    activation_kind: str
    activation_title: str
    activation_message: str
    activation_state: str
    person_id: str
    person_name: str
    protected: bool
    sms_number: str | None
    email: str | None
    unit_id: str
    unit_name: str
    unit_address: str
    placement_kind: str
    reply_code: str
    state: str


# The columns of a CallUpSnapshot, in field order, over `callups c JOIN activations a`.
SNAPSHOT_COLUMNS = (
    "c.id, c.activation_id, a.kind, a.title, a.message, a.state, c.person_id,"
    " c.person_name, c.protected, c.sms_number, c.email, c.unit_id, c.unit_name, c.unit_address,"
    " c.placement_kind, c.reply_code, c.state"
)
SNAPSHOT_WIDTH = 17
_SNAPSHOT_SQL = (
    f"SELECT {SNAPSHOT_COLUMNS} FROM callups c JOIN activations a ON a.id = c.activation_id"
)


def snapshot_from_row(row: Sequence[object]) -> CallUpSnapshot:
    """A snapshot from the first SNAPSHOT_WIDTH values of a row selected with SNAPSHOT_COLUMNS."""
    values = list(row[:SNAPSHOT_WIDTH])
    values[8] = bool(values[8])
    return CallUpSnapshot(*values)  # type: ignore[arg-type]  # columns in SNAPSHOT_COLUMNS order


async def snapshots(conn: aiosqlite.Connection, callup_ids: Iterable[int]) -> list[CallUpSnapshot]:
    ids = sorted(set(callup_ids))
    result: list[CallUpSnapshot] = []
    for start in range(0, len(ids), 500):  # stay far below SQLite's variable limit
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        async with conn.execute(f"{_SNAPSHOT_SQL} WHERE c.id IN ({marks})", chunk) as cursor:
            result.extend(snapshot_from_row(tuple(r)) for r in await cursor.fetchall())
    return result


async def channels_tried(
    conn: aiosqlite.Connection, callup_ids: Iterable[int], purpose: str
) -> dict[int, set[str]]:
    """For each call-up, the channels a message of this purpose was already queued on."""
    ids = sorted(set(callup_ids))
    tried: dict[int, set[str]] = {i: set() for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        async with conn.execute(
            f"SELECT callup_id, channel FROM messages WHERE purpose = ? AND callup_id IN ({marks})",
            (purpose, *chunk),
        ) as cursor:
            for callup_id, channel in await cursor.fetchall():
                tried[int(callup_id)].add(str(channel))
    return tried


async def with_live_callup_message(
    conn: aiosqlite.Connection, callup_ids: Iterable[int]
) -> set[int]:
    """The call-ups that still have a call-up message on its way or delivered on some channel
    (a refused e-mail does not undo an SMS that went out)."""
    ids = sorted(set(callup_ids))
    alive: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        async with conn.execute(
            "SELECT DISTINCT callup_id FROM messages WHERE purpose = 'callup'"
            " AND state NOT IN ('failed_permanent', 'cancelled')"
            f" AND callup_id IN ({marks})",
            chunk,
        ) as cursor:
            alive.update(int(r[0]) for r in await cursor.fetchall())
    return alive


async def mark_unreachable(
    conn: aiosqlite.Connection, callup_ids: Iterable[int], now_ms: int
) -> None:
    """Call-ups that no channel can reach end as `failed` (only while still awaiting)."""
    await conn.executemany(
        "UPDATE callups SET state = 'failed', next_step_at = NULL, updated_at = ?"
        " WHERE id = ? AND state = 'awaiting'",
        ((now_ms, callup_id) for callup_id in callup_ids),
    )


@dataclass(frozen=True, slots=True)
class ContactProblem:
    person_id: str
    channel: str
    address: str
    error_code: str
    detail: str
    activation_id: str | None


async def note_contact_problems(
    conn: aiosqlite.Connection, problems: Iterable[ContactProblem], now_ms: int
) -> None:
    """Put refused contacts on the roster administrators' list (once per address)."""
    await conn.executemany(
        "INSERT INTO contact_problems (person_id, channel, address, error_code, detail,"
        " activation_id, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (person_id, channel, address) DO UPDATE SET error_code = excluded.error_code,"
        " detail = excluded.detail, activation_id = excluded.activation_id,"
        " last_seen_at = excluded.last_seen_at",
        (
            (
                p.person_id,
                p.channel,
                p.address,
                p.error_code,
                p.detail,
                p.activation_id,
                now_ms,
                now_ms,
            )
            for p in problems
        ),
    )


async def refused_contacts(db: Database) -> list[RefusedContact]:
    """Every contact a provider refused for good, for the readiness report."""
    rows = await db.fetch_all(
        "SELECT person_id, channel, address, error_code, detail FROM contact_problems"
        " ORDER BY last_seen_at DESC"
    )
    return [RefusedContact(*tuple(r)) for r in rows]
