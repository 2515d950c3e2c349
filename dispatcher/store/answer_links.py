"""The answer-link key, and what the e-mail answer page shows about a call-up.

The key is `service.secret_key` when configured; otherwise 32 random bytes made once and
kept in `service_meta`, so links in e-mails already sent keep working after a restart
(and the command line and the service sign alike). Changing the key breaks old links.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from dispatcher.store.database import Database

KEY_NAME = "answer_link_key"


async def answer_link_key(db: Database, configured: str) -> bytes:
    """The key that signs answer links: the configured secret, else the stored one (made once)."""
    if configured:
        return configured.encode("utf-8")
    row = await db.fetch_one("SELECT value FROM service_meta WHERE key = ?", (KEY_NAME,))
    if row is None:
        async with db.transaction() as conn:  # two processes starting at once agree on one
            await conn.execute(
                "INSERT INTO service_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (KEY_NAME, secrets.token_hex(32)),
            )
            async with conn.execute(
                "SELECT value FROM service_meta WHERE key = ?", (KEY_NAME,)
            ) as cursor:
                row = await cursor.fetchone()
    assert row is not None
    return bytes.fromhex(str(row[0]))


@dataclass(frozen=True, slots=True)
class LinkedCallUp:
    """A call-up as its answer page shows it."""

    callup_id: int
    activation_id: str
    activation_kind: str
    activation_title: str
    activation_state: str
    unit_name: str
    unit_address: str
    state: str  # awaiting, confirmed, declined, no_answer, failed
    eta_minutes: int | None
    reason: str | None
    last_answer: str | None  # "yes" or "no": the latest recorded answer, by any channel

    @property
    def open(self) -> bool:
        """Whether an answer can still be given (the activation is active)."""
        return self.activation_state == "active"


async def linked_callup(db: Database, activation_id: str, person_id: str) -> LinkedCallUp | None:
    """The call-up of this person in this activation (read only: the page's GET writes nothing)."""
    row = await db.fetch_one(
        "SELECT c.id, a.id, a.kind, a.title, a.state, c.unit_name, c.unit_address, c.state,"
        " c.eta_minutes, c.reason,"
        " (SELECT answer FROM answers WHERE callup_id = c.id"
        "   ORDER BY answered_at DESC, id DESC LIMIT 1)"
        " FROM callups c JOIN activations a ON a.id = c.activation_id"
        " WHERE c.activation_id = ? AND c.person_id = ?",
        (activation_id, person_id),
    )
    return None if row is None else LinkedCallUp(*tuple(row))
