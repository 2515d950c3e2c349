"""A status poll counts again only when the activation's revision moved."""

from __future__ import annotations

from pathlib import Path

from dispatcher.status_cache import StatusCache
from dispatcher.store import activations
from dispatcher.store.activations import ActivationRecord, ActivationUnit, NewCallUp
from dispatcher.store.database import Database
from dispatcher.store.outbox import NewMessage


async def test_body_is_reused_until_something_changes(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        record = ActivationRecord(
            "A1", "crisis", "Storm", "", {}, {}, "active", None, "B3", "test", 0
        )
        callup = NewCallUp(
            "P1", "Anna", "Ekonomi", False, "+46701", None, "U1", "Sol", "Väg 1", "crisis", ""
        )
        async with db.transaction() as conn:
            await activations.insert_activation(conn, record)
            await activations.insert_units(
                conn, "A1", [ActivationUnit("U1", "Sol", "s", "a", "v", 1)]
            )
            await activations.insert_callups(
                conn, "A1", [callup], [NewMessage("A1", 0, "sms", "callup", "+46701", "x")], 0
            )
        cache = StatusCache(db)
        first = await cache.get("A1")
        assert first is not None
        assert await cache.get("A1") is first  # nothing changed: not counted again

        async with db.transaction() as conn:
            await conn.execute("UPDATE callups SET state = 'confirmed'")
        changed = await cache.get("A1")
        assert changed is not None and changed is not first
        assert changed.etag != first.etag
        assert b'"confirmed": 1' in changed.body

        async with db.transaction() as conn:  # an update that changes no state: same body
            await conn.execute("UPDATE callups SET updated_at = 5")
        assert await cache.get("A1") is changed

        async with db.transaction() as conn:
            await activations.set_state(conn, "A1", "stood_down")
        stood_down = await cache.get("A1")
        assert stood_down is not None and b"stood_down" in stood_down.body
        assert await cache.get("missing") is None
    finally:
        await db.close()
