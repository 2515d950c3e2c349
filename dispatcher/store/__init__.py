"""The embedded store: SQLite through aiosqlite. The database is the only source of truth."""
