"""The round's SQLite database (round.sqlite): each mail module creates and owns its own tables."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """The round database, created if needed; WAL so a reader never blocks the round, foreign keys on."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def ensure(conn: sqlite3.Connection, ddl: str) -> None:
    """Create a module's tables (`CREATE TABLE IF NOT EXISTS …` statements) if they are not there yet."""
    with conn:
        conn.executescript(ddl)
