"""Marked-up copies built only when something changed: a re-run rewrites none, a changed workbook only
its own, a killed run leaves no row for a copy it did not write (the `marked` table in round.sqlite)."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
from builders import (
    clean_submission,
    faulty_submission,
    round_inbox,
    write_workbook,
)
from openpyxl import load_workbook

from perf_toolkit import run as run_module
from perf_toolkit.config import Campaign
from perf_toolkit.profile import load_profile
from perf_toolkit.run import MARKUP_DIR, run_round
from perf_toolkit.workbook import markup
from perf_toolkit.workbook.markup import REVIEW_SHEET


def round_once(folder: Path, out: Path) -> run_module.RoundResult:
    return run_round([folder], Campaign(output_dir=out), load_profile(), out, history=False)


def copies(out: Path) -> dict[str, int]:
    """Each marked-up copy's modification time (ns), by name."""
    return {p.name: p.stat().st_mtime_ns for p in (out / MARKUP_DIR).iterdir()}


def built(result: run_module.RoundResult) -> list[str]:
    """The copies this run wrote (not kept from an earlier one)."""
    return [m.path.name for m in result.markups if m.path is not None and not m.reused]


def marked_rows(out: Path) -> list[str]:
    return sorted(r[0] for r in sqlite3.connect(out / "round.sqlite").execute("SELECT file FROM marked"))


def review_text(path: Path) -> str:
    ws = load_workbook(path, read_only=True)[REVIEW_SHEET]
    return "\n".join(str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None)


def test_a_rerun_rewrites_no_copy_and_a_changed_workbook_only_its_own(tmp_path):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    first = round_once(folder, out)
    before = copies(out)
    assert len(before) == 2 == len(built(first))  # the clean department gets none
    assert len(marked_rows(out)) == 2

    again = round_once(folder, out)
    assert built(again) == [] and copies(out) == before  # not one copy rewritten
    assert [m.path for m in again.markups] == [m.path for m in first.markups]
    assert sum(m.reused for m in again.markups) == 2
    assert all(m.path.is_file() for m in again.markups if m.path is not None)

    changed = faulty_submission(actual="85")
    write_workbook(folder, "丙.xlsx", changed)
    third = round_once(folder, out)
    after = copies(out)
    unit = faulty_submission()["department"]["name"]
    [rewritten] = built(third)
    assert {n for n in after if after[n] != before.get(n)} == {rewritten}
    source = next(m.file for m in third.markups if m.path is not None and m.path.name == rewritten)
    department = next(r for r in third.evaluation.files if r.file == source).sourced.submission.department
    assert department.name == unit and unit in review_text(out / MARKUP_DIR / rewritten)
    assert len(marked_rows(out)) == 2  # one row per current version: the superseded one's row went


def test_a_fixed_workbook_loses_its_copy_and_its_row(tmp_path):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    round_once(folder, out)
    write_workbook(folder, "丙.xlsx", clean_submission(code="DC-NYNCJ", name="昆明市东川区农业农村局"))
    result = round_once(folder, out)
    assert built(result) == [] and len(copies(out)) == 1 == len(marked_rows(out))
    assert {m.path.name for m in result.markups if m.path is not None} == set(copies(out))


def test_a_deleted_copy_is_built_again(tmp_path):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    first = round_once(folder, out)
    gone = next(m.path for m in first.markups if m.path is not None)
    gone.unlink()
    again = round_once(folder, out)
    assert built(again) == [gone.name] and gone.is_file()


def test_a_run_killed_while_marking_leaves_no_row_for_the_copy_it_did_not_write(tmp_path, monkeypatch):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    round_once(folder, out)
    write_workbook(folder, "丙.xlsx", faulty_submission(actual="85"))

    def killed(path):
        raise KeyboardInterrupt  # the operator's Ctrl-C, just before the changed copy is written

    monkeypatch.setattr(markup, "atomic_write", killed)
    with pytest.raises(KeyboardInterrupt):
        round_once(folder, out)
    assert len(marked_rows(out)) == 1  # the changed department's row went before its copy was touched
    monkeypatch.undo()
    result = round_once(folder, out)
    assert len(built(result)) == 1 and len(marked_rows(out)) == 2


def test_a_round_plans_its_copies_once(tmp_path, monkeypatch):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    calls = []
    planned = markup.plan_markups

    def counted(*args, **kwargs):
        calls.append(1)
        return planned(*args, **kwargs)

    monkeypatch.setattr(markup, "plan_markups", counted)
    monkeypatch.setattr(run_module, "plan_markups", counted)
    result = round_once(folder, out)
    assert len(calls) == 1 and len(built(result)) == 2


def test_a_plan_given_is_the_plan_followed(tmp_path):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    evaluation = round_once(folder, out).evaluation
    plan = [dataclasses.replace(job, name=f"第{n}份.xlsx") if job else None
            for n, job in enumerate(markup.plan_markups(evaluation.files))]
    written = markup.write_markups(evaluation, tmp_path / "copies", plan=plan)
    assert sorted(m.path.name for m in written if m.path) == sorted(job.name for job in plan if job)
    with pytest.raises(ValueError):
        markup.write_markups(evaluation, tmp_path / "copies", plan=plan[1:])
