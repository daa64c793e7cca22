"""Year-over-year history: each round's department and project results in an embedded SQLite file.

One database per district (`output/history.sqlite`, path from the campaign). Rows are keyed by
the round (year), the source file's hash and the project's position in it, never by codes a
department types (an empty 单位编码, two projects of one code, a department coded 合计 are each
their own row). Recording a department again for the same year (by its code, or the same file)
replaces its rows, so re-running a summary never duplicates anything. The schema is
versioned: `MIGRATIONS` lists every change in order, a database from an older version is
upgraded in place (each step in its own transaction), and one from a newer version is refused, as is
an SQLite file of another application (it is never migrated).
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


class HistoryError(Exception):
    """A history database the operator must look at (message in Chinese)."""


#: (version, what it does, SQL statements). Append only: a released step is never edited.
MIGRATIONS: list[tuple[int, str, tuple[str, ...]]] = [
    (1, "initial: department and project results per year", (
        """CREATE TABLE department_results (
               year INTEGER NOT NULL, dept_code TEXT NOT NULL, dept_name TEXT,
               projects INTEGER, budget REAL, executed REAL, execution_rate REAL,
               mean_score REAL, min_score REAL, recorded_at TEXT NOT NULL,
               PRIMARY KEY (year, dept_code))""",
        """CREATE TABLE project_results (
               year INTEGER NOT NULL, dept_code TEXT NOT NULL, project_code TEXT NOT NULL,
               project_name TEXT, budget REAL, executed REAL, execution_rate REAL,
               total_score REAL, grade TEXT,
               PRIMARY KEY (year, dept_code, project_code))""",
    )),
    (2, "initial budgets, finding counts and the source file; index by year", (
        "ALTER TABLE department_results ADD COLUMN initial_budget REAL",
        "ALTER TABLE department_results ADD COLUMN errors INTEGER",
        "ALTER TABLE department_results ADD COLUMN warnings INTEGER",
        "ALTER TABLE department_results ADD COLUMN source_file TEXT",
        "ALTER TABLE project_results ADD COLUMN initial_budget REAL",
        "CREATE INDEX project_results_dept ON project_results (dept_code, year)",
    )),
    (3, "rows keyed by the source file and the project's position, not by typed codes", (
        """CREATE TABLE department_results_v3 (
               year INTEGER NOT NULL, source_key TEXT NOT NULL, dept_code TEXT NOT NULL DEFAULT '',
               dept_name TEXT, projects INTEGER, initial_budget REAL, budget REAL, executed REAL,
               execution_rate REAL, mean_score REAL, min_score REAL, errors INTEGER, warnings INTEGER,
               source_file TEXT, recorded_at TEXT NOT NULL,
               PRIMARY KEY (year, source_key))""",
        """INSERT INTO department_results_v3 SELECT year, 'v2:' || dept_code, dept_code, dept_name, projects,
               initial_budget, budget, executed, execution_rate, mean_score, min_score, errors, warnings,
               source_file, recorded_at FROM department_results""",
        "DROP TABLE department_results",
        "ALTER TABLE department_results_v3 RENAME TO department_results",
        """CREATE TABLE project_results_v3 (
               year INTEGER NOT NULL, source_key TEXT NOT NULL, position INTEGER NOT NULL,
               dept_code TEXT NOT NULL DEFAULT '', project_code TEXT, project_name TEXT, initial_budget REAL,
               budget REAL, executed REAL, execution_rate REAL, total_score REAL, grade TEXT,
               PRIMARY KEY (year, source_key, position))""",
        """INSERT INTO project_results_v3 SELECT year, 'v2:' || dept_code, rowid, dept_code, project_code,
               project_name, initial_budget, budget, executed, execution_rate, total_score, grade
               FROM project_results""",
        "DROP TABLE project_results",
        "ALTER TABLE project_results_v3 RENAME TO project_results",
        "CREATE INDEX project_results_dept ON project_results (dept_code, year)",
        f"PRAGMA application_id = {0x50544B48}",  # "PTKH": perf-toolkit history
    )),
    (4, "department rows indexed by code (recording a round looks up each department's earlier rows by it)", (
        "CREATE INDEX department_results_code ON department_results (year, dept_code)",
    )),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]
#: Tables a history database of any version holds; a database with other tables is another program's.
_OUR_TABLES = {"schema_version", "department_results", "project_results", "sqlite_sequence"}

#: The row keys the caller gives: the source (file hash, or the department for one with no file) and the
#: project's position in it.
KEY_COLUMNS = ("source_key", "position")
DEPARTMENT_COLUMNS = ("dept_code", "dept_name", "projects", "initial_budget", "budget", "executed",
                      "execution_rate", "mean_score", "min_score", "errors", "warnings", "source_file")
PROJECT_COLUMNS = ("dept_code", "project_code", "project_name", "initial_budget", "budget", "executed",
                   "execution_rate", "total_score", "grade")


@dataclass
class History:
    """Results of the years before the current round (both frames have a `year` column)."""

    departments: pd.DataFrame
    projects: pd.DataFrame

    @property
    def years(self) -> list[int]:
        return sorted(int(y) for y in self.departments["year"].unique())

    @property
    def previous_year(self) -> int | None:
        """The latest earlier year: the one year-over-year columns compare against."""
        return self.years[-1] if self.years else None


def schema_version(conn: sqlite3.Connection) -> int:
    """The version of an open database (0 for a new, empty one)."""
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if not has_table:
        return 0
    return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Upgrade an open database step by step up to `target`; returns the version reached."""
    current = schema_version(conn)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if (current == 0 and tables) or not tables <= _OUR_TABLES:
        raise HistoryError("这个文件是其他程序的 SQLite 数据库，不是 perf-toolkit 的历史数据库，未作任何改动。"
                           "请在配置的 history 中改用另一个文件名（如 output/history.sqlite）。")
    if current > SCHEMA_VERSION:
        raise HistoryError(f"历史数据库的版本为 v{current}，比本工具支持的 v{SCHEMA_VERSION} 新。请升级 perf-toolkit 后再运行。")
    for version, _what, statements in MIGRATIONS:
        if current < version <= target:
            with _transaction(conn):
                conn.execute("CREATE TABLE IF NOT EXISTS schema_version "
                             "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
                for sql in statements:
                    conn.execute(sql)
                conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, _now()))
                conn.execute(f"PRAGMA user_version = {int(version)}")
            current = version
    return current


def connect(path: str | Path, *, target: int = SCHEMA_VERSION) -> sqlite3.Connection:
    """Open (creating the folder and file if needed) and upgrade a history database."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, isolation_level=None)  # transactions are explicit
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, target)
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"历史数据库 {path} 无法打开（{exc}）。如文件已损坏，请从备份恢复或改用新的文件。") from exc
    return conn


#: The rows a department recorded earlier under its code (indexed: a province records ~13,000 departments, and
#: a scan per department made recording quadratic, ~9 s at 10,000).
EARLIER_ROWS = "SELECT source_key FROM department_results WHERE year = ? AND dept_code = ?"


def record(path: str | Path, year: int, departments: pd.DataFrame, projects: pd.DataFrame) -> None:
    """Store one round's results: each department of `departments` replaces its earlier rows for `year`
    (those of its code, when it has one, and those of the same source).

    `departments` has DEPARTMENT_COLUMNS and `source_key`; `projects` has PROJECT_COLUMNS, `source_key` and
    `position` (a caller without keys gets one per department code, and positions in row order); all in
    one transaction. No row is lost to a code typed twice or left empty.
    """
    now = _now()
    departments, projects = _keyed(departments, projects)
    with closing(connect(path)) as conn, _transaction(conn):
        for row in departments.to_dict("records"):
            code, key = str(row["dept_code"] or ""), str(row["source_key"])
            old = {key} | ({r[0] for r in conn.execute(EARLIER_ROWS, (year, code))} if code else set())
            for k in old:
                conn.execute("DELETE FROM project_results WHERE year = ? AND source_key = ?", (year, k))
                conn.execute("DELETE FROM department_results WHERE year = ? AND source_key = ?", (year, k))
            values = [_plain(row.get(c)) for c in DEPARTMENT_COLUMNS]
            conn.execute(
                f"INSERT INTO department_results (year, source_key, {', '.join(DEPARTMENT_COLUMNS)}, recorded_at) "
                f"VALUES (?, ?, {', '.join('?' * len(DEPARTMENT_COLUMNS))}, ?)", [year, key, *values, now])
        keys = set(departments["source_key"].astype(str))
        for row in projects.to_dict("records"):
            if str(row["source_key"]) not in keys:
                continue  # a project is recorded only with its department
            values = [_plain(row.get(c)) for c in PROJECT_COLUMNS]
            conn.execute(
                f"INSERT INTO project_results (year, source_key, position, {', '.join(PROJECT_COLUMNS)}) "
                f"VALUES (?, ?, ?, {', '.join('?' * len(PROJECT_COLUMNS))})",
                [year, str(row["source_key"]), int(row["position"]), *values])


def _keyed(departments: pd.DataFrame, projects: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frames with their row keys; where the caller gave none, the department code keys the source."""
    departments, projects = departments.copy(), projects.copy()
    for frame in (departments, projects):
        if "source_key" not in frame:
            codes = frame["dept_code"] if "dept_code" in frame else pd.Series("", index=frame.index)
            frame["source_key"] = "code:" + codes.fillna("").astype(str)
    if "position" not in projects:
        projects["position"] = projects.groupby("source_key").cumcount() if len(projects) else []
    return departments, projects


def load(path: str | Path, before: int | None = None) -> History | None:
    """Every recorded year (only those before `before` when given), or None when there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    with closing(connect(path)) as conn:
        where, args = ("WHERE year < ?", (before,)) if before is not None else ("", ())
        departments = pd.read_sql_query(
            f"SELECT year, {', '.join(DEPARTMENT_COLUMNS)} FROM department_results {where} "
            "ORDER BY year, dept_code", conn, params=args)
        projects = pd.read_sql_query(
            f"SELECT year, {', '.join(PROJECT_COLUMNS)} FROM project_results {where} "
            "ORDER BY year, dept_code, project_code", conn, params=args)
    if departments.empty:
        return None
    return History(departments, projects)


def years(path: str | Path) -> list[int]:
    """The years recorded in a database."""
    found = load(path)
    return found.years if found else []


# ------------------------------------------------------------------ helpers


class _transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception (a half-recorded round never stays)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind, value, tb) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def _plain(x):
    """A value SQLite stores: NaN as NULL, numpy scalars as Python numbers."""
    if x is None:
        return None
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float) and math.isnan(x):
        return None
    return x
