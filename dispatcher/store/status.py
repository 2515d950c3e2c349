"""Read models for an activation's status: counts per unit and state, and call-up lists."""

from __future__ import annotations

import hashlib
import sqlite3
from collections import defaultdict

from dispatcher.domain.coverage import UnitTally
from dispatcher.store.database import Database


async def unit_tallies(db: Database, activation_id: str) -> list[UnitTally]:
    """Call-ups per unit and state, one grouped query (an index covers it)."""
    rows = await db.fetch_all(
        "SELECT u.unit_id, u.name, u.needed, c.state, COUNT(c.id)"
        " FROM activation_units u LEFT JOIN callups c"
        "  ON c.activation_id = u.activation_id AND c.unit_id = u.unit_id"
        " WHERE u.activation_id = ? GROUP BY u.unit_id, c.state",
        (activation_id,),
    )
    names: dict[str, tuple[str, int]] = {}
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for unit_id, name, needed, state, count in rows:
        names[unit_id] = (name, int(needed))
        if state is not None:
            counts[unit_id][state] = int(count)
    return [
        UnitTally(unit_id, name, needed, counts.get(unit_id, {}))
        for unit_id, (name, needed) in names.items()
    ]


async def callup_rows(db: Database, activation_id: str) -> list[sqlite3.Row]:
    """Every call-up of an activation with its latest call-up message's channel and state."""
    return await db.fetch_all(
        "SELECT c.id, c.person_id, c.person_name, c.department, c.protected, c.unit_id,"
        " c.unit_name, c.placement_kind, c.state, c.eta_minutes, c.reason, c.answered_at,"
        " m.channel AS channel, m.state AS message_state, m.error_code AS error_code"
        " FROM callups c LEFT JOIN messages m ON m.id = ("
        "  SELECT id FROM messages WHERE callup_id = c.id AND purpose = 'callup'"
        "  ORDER BY id DESC LIMIT 1)"
        " WHERE c.activation_id = ? ORDER BY c.unit_name, c.person_name, c.id",
        (activation_id,),
    )


def etag_for(body: bytes) -> str:
    """A strong ETag for a response body: it changes exactly when the body changes."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


async def revision_of(db: Database, activation_id: str) -> int | None:
    """The activation's status revision (changes whenever its status may have changed)."""
    row = await db.fetch_one("SELECT revision FROM activations WHERE id = ?", (activation_id,))
    return None if row is None else int(row[0])
