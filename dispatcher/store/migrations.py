"""Versioned schema migrations, applied in order at start-up; never edit one that has shipped.

Conventions for every table:
- times are INTEGER milliseconds since the Unix epoch, UTC (`*_at` columns);
- ids that people see are TEXT and come from the roster (`unit_id`, `person_id`);
- rows that record history (activations, call-ups, messages, replies, audit) carry
  snapshots of the roster data they were made from, never foreign keys into the roster,
  so that a re-import replaces the roster without touching history.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


_ROSTER = """
CREATE TABLE units (
    unit_id            TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    service            TEXT NOT NULL,
    area               TEXT NOT NULL,
    address            TEXT NOT NULL,
    crisis_need        INTEGER,            -- NULL: as many as are placed there
    training_capacity  INTEGER NOT NULL DEFAULT 2
) WITHOUT ROWID;

CREATE TABLE people (
    person_id          TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    phone              TEXT,               -- E.164
    phone_kind         TEXT NOT NULL CHECK (phone_kind IN ('mobile', 'fixed_line', 'none')),
    email              TEXT,
    role               TEXT NOT NULL
        CHECK (role IN ('admin', 'manager', 'politician', 'volunteer_politician')),
    pay_pct            REAL,
    department         TEXT NOT NULL,
    placement          TEXT REFERENCES units (unit_id),
    reserve_placement  TEXT REFERENCES units (unit_id),
    protected          INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX people_placement ON people (placement);
CREATE INDEX people_reserve_placement ON people (reserve_placement);
CREATE INDEX people_phone ON people (phone);

CREATE TABLE training_weeks (
    person_id   TEXT NOT NULL REFERENCES people (person_id) ON DELETE CASCADE,
    unit_id     TEXT NOT NULL REFERENCES units (unit_id) ON DELETE CASCADE,
    term        TEXT NOT NULL,             -- VT2026, HT2025
    week_start  TEXT NOT NULL,             -- ISO date of the week's Monday (or first day)
    PRIMARY KEY (person_id, week_start, unit_id)
) WITHOUT ROWID;
CREATE INDEX training_weeks_unit ON training_weeks (unit_id, week_start);

-- One row per import that changed the roster: who, when, what.
CREATE TABLE roster_imports (
    id              INTEGER PRIMARY KEY,
    imported_at     INTEGER NOT NULL,
    imported_by     TEXT NOT NULL,
    source          TEXT NOT NULL,         -- file names
    units_added     INTEGER NOT NULL,
    units_updated   INTEGER NOT NULL,
    units_removed   INTEGER NOT NULL,
    people_added    INTEGER NOT NULL,
    people_updated  INTEGER NOT NULL,
    people_removed  INTEGER NOT NULL,
    training_weeks  INTEGER NOT NULL,
    warnings        INTEGER NOT NULL
);

-- Access tokens: only a SHA-256 of the token is kept.
CREATE TABLE access_tokens (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'leader', 'admin')),
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    last_used_at  INTEGER
);

-- Small service-wide values (e.g. a generated signing key).
CREATE TABLE service_meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;
"""

MIGRATIONS: tuple[Migration, ...] = (Migration(1, "roster and access tokens", _ROSTER),)
