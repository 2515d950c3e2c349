"""Status bodies, computed once per change: many wall screens polling cost one indexed read.

An activation's `revision` (bumped by triggers whenever a call-up or the activation changes
state, and when call-ups are added) says whether the cached body is still right; only
when it moved is the status counted again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from dispatcher.activation_views import status_json
from dispatcher.domain.coverage import compute_coverage
from dispatcher.store import activations, status
from dispatcher.store.database import Database


@dataclass(frozen=True, slots=True)
class StatusBody:
    revision: int
    body: bytes
    etag: str


class StatusCache:
    def __init__(self, db: Database, *, max_entries: int = 256) -> None:
        self._db = db
        self._max = max_entries
        self._entries: dict[str, StatusBody] = {}

    async def get(self, activation_id: str) -> StatusBody | None:
        """The current status body of an activation, or None if there is no such activation."""
        revision = await status.revision_of(self._db, activation_id)
        if revision is None:
            return None
        cached = self._entries.get(activation_id)
        if cached is not None and cached.revision == revision:
            return cached
        record = await activations.get_activation(self._db, activation_id)
        if record is None:
            return None
        tallies = await status.unit_tallies(self._db, activation_id)
        body = json.dumps(status_json(record, compute_coverage(tallies))).encode()
        # The revision read first: a change after it only makes the next poll count again.
        fresh = StatusBody(revision, body, status.etag_for(body))
        if len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))
        self._entries[activation_id] = fresh
        return fresh
