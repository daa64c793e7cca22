"""The history database: versioned migrations, idempotent recording, loading earlier years."""

from __future__ import annotations

import copy
import sqlite3
from contextlib import closing

import openpyxl
import pandas as pd
import pytest
from builders import example_dict
from click.testing import CliRunner

from perf_toolkit.cli import cli
from perf_toolkit.model import submission_from_dict
from perf_toolkit.summary import history
from perf_toolkit.summary.history import SCHEMA_VERSION, HistoryError
from perf_toolkit.workbook.template import write_template


def departments(*rows) -> pd.DataFrame:
    base = {"dept_name": "甲局", "projects": 1, "initial_budget": 10.0, "budget": 10.0, "executed": 9.0,
            "execution_rate": 0.9, "mean_score": 88.5, "min_score": 88.5, "errors": 0, "warnings": 1,
            "source_file": "a.xlsx"}
    return pd.DataFrame([{**base, **r} for r in rows])


def projects(*rows) -> pd.DataFrame:
    base = {"project_name": "项目", "initial_budget": 10.0, "budget": 10.0, "executed": 9.0, "execution_rate": 0.9,
            "total_score": 88.5, "grade": "良"}
    return pd.DataFrame([{**base, **r} for r in rows])


def table(path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def test_connect_creates_the_latest_schema(tmp_path):
    path = tmp_path / "sub" / "history.sqlite"
    with closing(history.connect(path)) as conn:
        assert history.schema_version(conn) == SCHEMA_VERSION == 4
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = {r[1] for r in conn.execute("PRAGMA table_info(department_results)")}
        # a department's earlier rows are found by its code through an index, not a scan of every row (a
        # province records ~13,000 departments: a scan each made recording quadratic)
        plan = " ".join(str(r[-1]) for r in conn.execute("EXPLAIN QUERY PLAN " + history.EARLIER_ROWS, (2023, "D1")))
    assert "department_results_code" in plan and "SCAN" not in plan
    assert {"year", "source_key", "dept_code", "initial_budget", "errors", "warnings", "source_file"} <= columns
    assert [v for v, _ in table(path, "SELECT version, applied_at FROM schema_version ORDER BY version")] == [1, 2, 3, 4]


def test_v1_database_is_upgraded_with_its_data_kept(tmp_path):
    path = tmp_path / "history.sqlite"
    with closing(history.connect(path, target=1)) as conn:
        assert history.schema_version(conn) == 1
        conn.execute("INSERT INTO department_results (year, dept_code, dept_name, projects, budget, executed, "
                     "execution_rate, mean_score, min_score, recorded_at) "
                     "VALUES (2022, 'D001', '甲局', 2, 100.5, 90.25, 0.898, 91.5, 85, '2023-05-01T10:00:00')")
        conn.execute("INSERT INTO project_results VALUES (2022, 'D001', 'P1', '项目一', 100.5, 90.25, 0.898, 91.5, '优')")
        columns = {r[1] for r in conn.execute("PRAGMA table_info(department_results)")}
        assert "errors" not in columns
    found = history.load(path)  # connect() upgrades
    with closing(sqlite3.connect(path)) as conn:
        assert history.schema_version(conn) == SCHEMA_VERSION
    d = found.departments.iloc[0]
    assert (d.year, d.dept_code, d.dept_name, d.budget, d.executed, d.mean_score) == (2022, "D001", "甲局", 100.5,
                                                                                      90.25, 91.5)
    assert pd.isna(d.errors) and pd.isna(d.initial_budget)  # columns added by v2 are empty for old rows
    p = found.projects.iloc[0]
    assert (p.project_code, p.total_score, p.grade) == ("P1", 91.5, "优")


def test_record_twice_replaces_instead_of_duplicating(tmp_path):
    path = tmp_path / "history.sqlite"
    history.record(path, 2023, departments({"dept_code": "D001"}, {"dept_code": "D002"}),
                   projects({"dept_code": "D001", "project_code": "P1"}, {"dept_code": "D001", "project_code": "P2"},
                            {"dept_code": "D002", "project_code": "Q1"}))
    # D001 re-submitted: P2 dropped, P1 changed; D002 not in this run: kept as it was
    history.record(path, 2023, departments({"dept_code": "D001", "mean_score": 70.0}),
                   projects({"dept_code": "D001", "project_code": "P1", "total_score": 70.0}))
    assert table(path, "SELECT dept_code, mean_score FROM department_results ORDER BY dept_code") == [
        ("D001", 70.0), ("D002", 88.5)]
    assert table(path, "SELECT dept_code, project_code, total_score FROM project_results ORDER BY 1, 2") == [
        ("D001", "P1", 70.0), ("D002", "Q1", 88.5)]


def test_record_keeps_years_apart_and_load_before_filters(tmp_path):
    path = tmp_path / "history.sqlite"
    for year, score in ((2021, 60.0), (2022, 70.0), (2023, 80.0)):
        history.record(path, year, departments({"dept_code": "D001", "mean_score": score}),
                       projects({"dept_code": "D001", "project_code": "P1", "total_score": score}))
    earlier = history.load(path, before=2023)
    assert earlier.years == [2021, 2022] and earlier.previous_year == 2022
    assert list(earlier.projects["total_score"]) == [60.0, 70.0]
    assert history.years(path) == [2021, 2022, 2023]
    assert history.load(path, before=2021) is None
    assert history.load(tmp_path / "none.sqlite") is None
    assert not (tmp_path / "none.sqlite").exists()  # loading never creates a database


def test_record_failure_rolls_back_the_whole_round(tmp_path):
    path = tmp_path / "history.sqlite"
    bad = projects({"dept_code": "D001", "project_code": "P1", "grade": ["not", "storable"]})
    with pytest.raises(sqlite3.Error):
        history.record(path, 2023, departments({"dept_code": "D001"}), bad)
    assert table(path, "SELECT COUNT(*) FROM department_results") == [(0,)]


def test_record_keeps_departments_of_empty_duplicate_or_total_codes_apart(tmp_path):
    """Issue 11: rows are keyed by the source file and the position, never by typed codes."""
    path = tmp_path / "history.sqlite"
    history.record(path, 2023,
                   departments({"dept_code": "", "source_key": "h1"}, {"dept_code": "", "source_key": "h2"},
                               {"dept_code": "合计", "source_key": "h3"}),
                   projects({"dept_code": "", "project_code": "P1", "source_key": "h1", "position": 0},
                            {"dept_code": "", "project_code": "P1", "source_key": "h1", "position": 1},
                            {"dept_code": "", "project_code": "P1", "source_key": "h2", "position": 0},
                            {"dept_code": "合计", "project_code": "P1", "source_key": "h3", "position": 0}))
    assert table(path, "SELECT COUNT(*) FROM department_results") == [(3,)]
    assert table(path, "SELECT COUNT(*) FROM project_results") == [(4,)]
    history.record(path, 2023, departments({"dept_code": "", "source_key": "h1", "mean_score": 50.0}),
                   projects({"dept_code": "", "project_code": "P1", "source_key": "h1", "position": 0}))
    assert table(path, "SELECT source_key, mean_score FROM department_results ORDER BY 1") == [
        ("h1", 50.0), ("h2", 88.5), ("h3", 88.5)]  # the same file again replaces itself only
    assert table(path, "SELECT COUNT(*) FROM project_results") == [(3,)]


def test_summary_records_every_department_and_project(tmp_path):
    """Two departments without a code, two projects of one code, a department coded 合计: all in the history."""
    inbox = tmp_path / "inbox"
    data = copy.deepcopy(example_dict())
    data["department"]["code"] = ""
    data["projects"].append(copy.deepcopy(data["projects"][0]))  # the same project code twice
    inbox.mkdir()
    write_template(inbox / "a.xlsx", submission_from_dict(data), projects=2)
    data["department"]["name"] = "乙局"
    write_template(inbox / "b.xlsx", submission_from_dict(data), projects=2)
    data["department"].update(code="合计", name="合计局")
    write_template(inbox / "c.xlsx", submission_from_dict(data), projects=2)
    db = tmp_path / "h.sqlite"
    result = CliRunner().invoke(cli, ["summary", str(inbox), "-o", str(tmp_path / "out" / "汇总.xlsx"),
                                      "--history", str(db)])
    assert result.exit_code == 0, result.output
    assert table(db, "SELECT COUNT(*) FROM department_results") == [(3,)]
    assert table(db, "SELECT COUNT(*) FROM project_results") == [(6,)]
    assert table(db, "SELECT COUNT(*) FROM department_results WHERE dept_code = '合计'") == [(1,)]


def test_another_programs_sqlite_file_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "app.sqlite"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers VALUES (1, '张三')")
        conn.commit()
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="其他程序的 SQLite 数据库"):
        history.record(path, 2023, departments({"dept_code": "D001"}), projects())
    with pytest.raises(HistoryError, match="其他程序"):
        history.load(path)
    assert path.read_bytes() == before


def test_newer_schema_is_refused_in_chinese(tmp_path):
    path = tmp_path / "history.sqlite"
    with closing(history.connect(path)) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'later')")
    with pytest.raises(HistoryError, match="v99.*请升级"):
        history.connect(path)


def test_a_file_that_is_not_a_database_is_a_history_error(tmp_path):
    path = tmp_path / "history.sqlite"
    path.write_bytes(b"PK\x03\x04 this is a zip, not sqlite" * 100)
    with pytest.raises(HistoryError, match="无法打开"):
        history.load(path)
    assert path.read_bytes().startswith(b"PK")  # left as it was


# ------------------------------------------------------------------ the round's year, without a config


def _workbook(folder, year: int, code: str):
    data = copy.deepcopy(example_dict())
    data["year"] = year
    data["department"]["code"] = code
    folder.mkdir(parents=True, exist_ok=True)
    return write_template(folder / f"{code}.xlsx", submission_from_dict(data))


def test_summary_without_config_files_history_under_the_submissions_year(tmp_path):
    _workbook(tmp_path / "inbox", 2020, "D1")
    db = tmp_path / "history.sqlite"
    done = CliRunner().invoke(cli, ["summary", str(tmp_path / "inbox"), "-o", str(tmp_path / "汇总.xlsx"),
                                    "--history", str(db)])
    assert done.exit_code == 0, done.output
    assert history.years(db) == [2020]
    overview = openpyxl.load_workbook(tmp_path / "汇总.xlsx")["总览"]
    title = next(c.value for row in overview.iter_rows() for c in row if c.value)
    assert title == "【待填写：区县名称】2020年度预算绩效自评情况汇总"


def test_summary_without_config_of_several_years_asks_for_the_year(tmp_path):
    _workbook(tmp_path / "inbox", 2020, "D1")
    _workbook(tmp_path / "inbox", 2019, "D2")
    db = tmp_path / "history.sqlite"
    args = ["summary", str(tmp_path / "inbox"), "-o", str(tmp_path / "汇总.xlsx"), "--history", str(db)]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 2 and "2019、2020" in done.output and "--year" in done.output
    assert not db.exists() and not (tmp_path / "汇总.xlsx").exists()
    done = CliRunner().invoke(cli, [*args, "--year", "2020"])
    assert done.exit_code == 0 and history.years(db) == [2020]  # the 2019 workbook is a year-mismatch error
