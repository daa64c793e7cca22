"""The round's own SQLite database (`round.sqlite` in the output folder): each mail module keeps its
tables there (received files, IMAP messages seen, mails sent), created when first needed."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating) the round database: write-ahead log, so a reader never blocks the writer; foreign keys on."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def ensure(conn: sqlite3.Connection, ddl: str) -> None:
    """Create a module's tables and indexes if they are not there yet (`CREATE … IF NOT EXISTS` statements)."""
    with conn:
        conn.executescript(ddl)
