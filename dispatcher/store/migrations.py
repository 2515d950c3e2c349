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

-- One row per import (also one that changed nothing): who, when, what.
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

_DISPATCH = """
-- A declared crisis or drill.
CREATE TABLE activations (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('crisis', 'drill')),
    title             TEXT NOT NULL,
    message           TEXT NOT NULL DEFAULT '',
    scope_json        TEXT NOT NULL,       -- {"areas": [], "units": [], "services": []}
    options_json      TEXT NOT NULL DEFAULT '{}',
    state             TEXT NOT NULL
        CHECK (state IN ('awaiting_approval', 'active', 'stood_down', 'cancelled')),
    idempotency_key   TEXT UNIQUE,
    reply_code        TEXT NOT NULL,       -- tells open activations apart in replies
    declared_by       TEXT NOT NULL,
    declared_at       INTEGER NOT NULL,
    approved_by       TEXT,
    approved_at       INTEGER,
    stood_down_by     TEXT,
    stood_down_at     INTEGER
) WITHOUT ROWID;
CREATE INDEX activations_state ON activations (state);

-- The units an activation covers, with what each needed when it was declared.
CREATE TABLE activation_units (
    activation_id     TEXT NOT NULL REFERENCES activations (id),
    unit_id           TEXT NOT NULL,
    name              TEXT NOT NULL,
    service           TEXT NOT NULL,
    area              TEXT NOT NULL,
    address           TEXT NOT NULL,
    needed            INTEGER NOT NULL,
    PRIMARY KEY (activation_id, unit_id)
) WITHOUT ROWID;

-- One person called to one unit in one activation, with snapshots of what it was made from.
CREATE TABLE callups (
    id                INTEGER PRIMARY KEY,
    activation_id     TEXT NOT NULL REFERENCES activations (id),
    person_id         TEXT NOT NULL,
    person_name       TEXT NOT NULL,
    department        TEXT NOT NULL,
    protected         INTEGER NOT NULL,
    sms_number        TEXT,                -- E.164 mobile, snapshot
    email             TEXT,                -- snapshot
    unit_id           TEXT NOT NULL,
    unit_name         TEXT NOT NULL,
    unit_address      TEXT NOT NULL,
    placement_kind    TEXT NOT NULL CHECK (placement_kind IN ('crisis', 'reserve', 'trained')),
    reply_code        TEXT NOT NULL,       -- short code when a person has several open call-ups
    state             TEXT NOT NULL
        CHECK (state IN ('awaiting', 'confirmed', 'declined', 'no_answer', 'failed')),
    eta_minutes       INTEGER,
    reason            TEXT,
    answered_at       INTEGER,
    first_answer_at   INTEGER,
    escalation_step   INTEGER NOT NULL DEFAULT 0,
    next_step_at      INTEGER,             -- when escalation next looks at it; NULL = nothing due
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (activation_id, person_id)      -- also the index for "the call-ups of activation X"
);
CREATE INDEX callups_sms_number ON callups (sms_number);
-- Coverage per unit (status, answers to a full unit, reserves): counted from the index alone.
CREATE INDEX callups_unit_state ON callups (activation_id, unit_id, state);
CREATE INDEX callups_next_step ON callups (next_step_at) WHERE next_step_at IS NOT NULL;

-- The outbox: every message to send, with an explicit state.
CREATE TABLE messages (
    id                INTEGER PRIMARY KEY,
    activation_id     TEXT REFERENCES activations (id),
    callup_id         INTEGER REFERENCES callups (id),
    channel           TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    purpose           TEXT NOT NULL,       -- callup, reminder, confirmation, stand_down, …
    recipient         TEXT NOT NULL,       -- E.164 number or e-mail address
    subject           TEXT,
    body              TEXT NOT NULL,
    html              TEXT,
    segments          INTEGER NOT NULL DEFAULT 0,
    state             TEXT NOT NULL CHECK (state IN (
        'queued', 'sending', 'sent', 'delivered',
        'failed_temporary', 'failed_permanent', 'cancelled')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER NOT NULL,
    claimed_at        INTEGER,
    unsure_since      INTEGER,             -- an attempt from then may have reached the provider:
                                           -- ask it before sending again
    provider_id       TEXT,
    provider_status   TEXT,
    error_code        TEXT,
    error_detail      TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    sent_at           INTEGER
);
CREATE INDEX messages_due ON messages (channel, next_attempt_at)
    WHERE state IN ('queued', 'failed_temporary');
CREATE INDEX messages_sending ON messages (state) WHERE state = 'sending';
CREATE UNIQUE INDEX messages_provider_id ON messages (provider_id) WHERE provider_id IS NOT NULL;
CREATE INDEX messages_callup ON messages (callup_id);

-- Status callbacks that arrived before the dispatcher had recorded the provider's id:
-- replayed as soon as it has (a callback can beat the commit of the hand-off's result).
CREATE TABLE early_status_reports (
    id            INTEGER PRIMARY KEY,
    provider_id   TEXT NOT NULL,
    status        TEXT NOT NULL,
    error_code    TEXT,
    received_at   INTEGER NOT NULL
);
CREATE INDEX early_status_reports_provider ON early_status_reports (provider_id);

-- Contacts that a provider refused for good: the roster administrators' list to fix.
CREATE TABLE contact_problems (
    person_id       TEXT NOT NULL,
    channel         TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    address         TEXT NOT NULL,
    error_code      TEXT NOT NULL,
    detail          TEXT NOT NULL,
    activation_id   TEXT,
    first_seen_at   INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    PRIMARY KEY (person_id, channel, address)
) WITHOUT ROWID;

-- What the sandbox channels "sent": nothing leaves the machine.
CREATE TABLE sandbox_messages (
    id            INTEGER PRIMARY KEY,
    channel       TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    recipient     TEXT NOT NULL,
    subject       TEXT,
    body          TEXT NOT NULL,
    html          TEXT,
    provider_id   TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL
);
CREATE INDEX sandbox_messages_recipient ON sandbox_messages (recipient, id);
"""

_ANSWERS = """
-- Every inbound message, understood or not, stored before anything is decided or answered.
CREATE TABLE inbound_messages (
    id            INTEGER PRIMARY KEY,
    provider_id   TEXT UNIQUE,                 -- Twilio's MessageSid; NULL for answer links
    channel       TEXT NOT NULL CHECK (channel IN ('sms', 'email_link')),
    sender        TEXT NOT NULL,               -- E.164 for SMS; "callup:ID" for answer links
    body          TEXT NOT NULL,
    meaning       TEXT NOT NULL,               -- yes, no, stop, start, help, unknown
    outcome       TEXT NOT NULL,               -- what it did: applied, code_needed, not_active, …
    callup_id     INTEGER,                     -- the call-up it was applied to
    reply         TEXT,                        -- the automatic reply sent back, if any
    received_at   INTEGER NOT NULL
);
CREATE INDEX inbound_messages_sender ON inbound_messages (sender, received_at);

-- The answer history of each call-up; the latest answer counts (call-ups hold it).
CREATE TABLE answers (
    id            INTEGER PRIMARY KEY,
    callup_id     INTEGER NOT NULL REFERENCES callups (id),
    inbound_id    INTEGER REFERENCES inbound_messages (id),
    answer        TEXT NOT NULL CHECK (answer IN ('yes', 'no')),
    eta_minutes   INTEGER,
    reason        TEXT,
    via           TEXT NOT NULL CHECK (via IN ('sms', 'email_link')),
    answered_at   INTEGER NOT NULL
);
CREATE INDEX answers_callup ON answers (callup_id, answered_at);

-- Numbers that asked for no more SMS (STOP, STOPP, Twilio's opt-out, error 21610).
CREATE TABLE opt_outs (
    phone          TEXT PRIMARY KEY,
    source         TEXT NOT NULL,
    opted_out_at   INTEGER NOT NULL
) WITHOUT ROWID;

-- Gap reports sent to the crisis team.
CREATE TABLE gap_reports (
    id             INTEGER PRIMARY KEY,
    activation_id  TEXT NOT NULL REFERENCES activations (id),
    kind           TEXT NOT NULL CHECK (kind IN ('periodic', 'covered')),
    summary        TEXT NOT NULL,
    sent_at        INTEGER NOT NULL
);
CREATE INDEX gap_reports_activation ON gap_reports (activation_id, sent_at);

-- A counter that changes whenever anything in an activation's status may have changed:
-- a status poll compares it and answers from its cache (or 304) without counting again.
ALTER TABLE activations ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER callups_revision AFTER UPDATE OF state ON callups
    WHEN OLD.state IS NOT NEW.state
BEGIN
    UPDATE activations SET revision = revision + 1 WHERE id = NEW.activation_id;
END;
CREATE TRIGGER activations_revision AFTER UPDATE OF state ON activations
    WHEN OLD.state IS NOT NEW.state
BEGIN
    UPDATE activations SET revision = revision + 1 WHERE id = NEW.id;
END;
"""

_AUDIT = """
-- Who declared (the token; NULL from the command line), so that a second leader approves.
ALTER TABLE activations ADD COLUMN declared_by_token INTEGER;

-- The audit log: append-only. Who did what, when and from where; never changed or deleted
-- (the triggers refuse UPDATE, DELETE and an INSERT that would replace a row, even in raw SQL).
CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    actor           TEXT NOT NULL,         -- the token's name, or cli:USER
    actor_token_id  INTEGER,               -- NULL from the command line
    action          TEXT NOT NULL,         -- activation.declared, callups.read, …
    subject         TEXT,                  -- e.g. the activation id
    detail_json     TEXT NOT NULL DEFAULT '{}',
    source          TEXT NOT NULL,         -- the remote address, or cli
    request_id      TEXT
);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_repeats ON audit_log (action, actor, at);  -- collapsing repeated reads
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_overwrite BEFORE INSERT ON audit_log
    WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
"""

_RECORDED_TRAINING = """
-- Training weeks recorded by hand (`dispatcher training add`), kept apart from the imported
-- training_weeks so that a roster re-import does not erase them. No foreign keys into the
-- roster, for the same reason: a week counts while its person and unit are in the roster.
-- A removal keeps the row (removed_at, removed_by): who recorded and removed what stays known.
CREATE TABLE recorded_training_weeks (
    id           INTEGER PRIMARY KEY,
    person_id    TEXT NOT NULL,
    unit_id      TEXT NOT NULL,
    term         TEXT NOT NULL,            -- VT2026, HT2025: the term of week_start
    week_start   TEXT NOT NULL,            -- ISO date of the week's Monday
    recorded_by  TEXT NOT NULL,
    recorded_at  INTEGER NOT NULL,
    removed_by   TEXT,
    removed_at   INTEGER
);
CREATE UNIQUE INDEX recorded_training_weeks_current
    ON recorded_training_weeks (person_id, week_start, unit_id) WHERE removed_at IS NULL;
"""

_DRILL_SCHEDULES = """
-- Scheduled drills: the truth about when each runs (APScheduler only wakes the runner).
-- One-off (`run_at`) or cron (`cron`, Europe/Stockholm); `next_run_at` is NULL once done.
CREATE TABLE drill_schedules (
    id                  INTEGER PRIMARY KEY,
    title               TEXT NOT NULL,
    scope_json          TEXT NOT NULL DEFAULT '{}',
    message             TEXT NOT NULL DEFAULT '',
    announced           INTEGER NOT NULL DEFAULT 0,
    options_json        TEXT NOT NULL DEFAULT '{}',
    run_at              INTEGER,
    cron                TEXT,
    state               TEXT NOT NULL
        CHECK (state IN ('scheduled', 'done', 'cancelled', 'missed')),
    next_run_at         INTEGER,
    last_run_at         INTEGER,
    last_activation_id  TEXT,
    last_missed_at      INTEGER,
    created_by          TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    CHECK ((run_at IS NULL) <> (cron IS NULL))
);
CREATE INDEX drill_schedules_due ON drill_schedules (next_run_at) WHERE state = 'scheduled';
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "roster and access tokens", _ROSTER),
    Migration(2, "activations, call-ups and the outbox", _DISPATCH),
    Migration(3, "answers, opt-outs, gap reports and status revisions", _ANSWERS),
    Migration(4, "approvals and the audit log", _AUDIT),
    Migration(5, "training weeks recorded by hand", _RECORDED_TRAINING),
    Migration(6, "scheduled drills", _DRILL_SCHEDULES),
)
