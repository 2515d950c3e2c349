"""Reading and replacing the roster in the store. (Filled in by the roster-import work.)"""

from __future__ import annotations

from dispatcher.domain.roster import Roster, RosterChanges
from dispatcher.store.database import Database


async def load_roster(db: Database) -> Roster:
    """The whole current roster from the database."""
    raise NotImplementedError


async def replace_roster(
    db: Database,
    roster: Roster,
    *,
    imported_by: str,
    source: str,
    warnings: int,
    imported_at_ms: int,
) -> RosterChanges:
    """Replace the whole roster with `roster` in one transaction; return what changed."""
    raise NotImplementedError
