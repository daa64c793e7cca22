"""The round's own database (round.sqlite in the output folder): each mail module owns its tables.

Tables are created when first needed (`ensure`), so a module added later brings its table
with it; WAL lets `status` read while `collect` writes.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection to the round database, created (with its folder) on first use."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def ensure(conn: sqlite3.Connection, ddl: str) -> None:
    """Create a module's tables and indexes (statements of `CREATE … IF NOT EXISTS`)."""
    with conn:
        conn.executescript(ddl)
