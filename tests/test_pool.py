"""The worker pool under both start methods: spawn (Windows has no fork) gives what fork gives."""

from __future__ import annotations

import os

import openpyxl
import pytest
from builders import broken_workbook, clean_submission, faulty_submission, write_workbook

from perf_toolkit.check.evaluate import evaluate_paths
from perf_toolkit.workbook import pool
from perf_toolkit.workbook.guard import Limits, load_raw_many
from perf_toolkit.workbook.markup import write_markups

SMALL = Limits(memory_bytes=1 * 2**30, wall_seconds=60)


def _imap(items, work, method):
    return list(pool.imap(work, items, jobs=2, memory_bytes=2**30, cpu_seconds=30, wall_seconds=60,
                          recycle_files=2, start_method=method))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_imap_results_in_order_and_a_dead_worker_costs_its_task(method):
    # builtins pickle by name: what a spawned worker needs; recycle_files=2 makes workers leave mid-batch
    items = [pool.Task(-1), "passes through", pool.Task(-2), pool.Task(-3), pool.Task(-4), pool.Task(5)]
    assert _imap(items, abs, method) == [1, "passes through", 2, 3, 4, 5]
    died = _imap([pool.Task(0), pool.Task(7), pool.Task(0)], os._exit, method)
    assert all(isinstance(x, pool.Failure) and x.kind == "died" for x in died)
    assert "7" in died[1].detail


def test_start_method_chosen_from_the_environment(monkeypatch):
    monkeypatch.delenv(pool.START_METHOD_ENV, raising=False)
    assert pool.choose_start_method() == "fork"  # Linux: fork where it exists
    assert pool.choose_start_method("spawn") == "spawn"
    monkeypatch.setenv(pool.START_METHOD_ENV, "spawn")
    assert pool.choose_start_method() == "spawn"
    monkeypatch.setenv(pool.START_METHOD_ENV, "teleport")
    with pytest.raises(ValueError, match="PERF_TOOLKIT_START_METHOD"):
        pool.choose_start_method()


def _batch(folder):
    return [write_workbook(folder, "甲.xlsx", clean_submission()),
            write_workbook(folder, "乙.xlsx", faulty_submission()),
            broken_workbook(folder, "丙.xlsx")]


def test_a_batch_under_spawn_reads_scores_and_marks_up_as_under_fork(tmp_path, monkeypatch):
    """A small round's reading, checking and marked-up copies through spawned workers equal the forked ones."""
    paths = _batch(tmp_path / "in")
    outcome = {}
    for method in ("fork", "spawn"):
        monkeypatch.setenv(pool.START_METHOD_ENV, method)
        raw = [result for _, result in load_raw_many(paths, SMALL, jobs=2)]
        evaluation = evaluate_paths(paths, limits=SMALL, jobs=2)
        marked = write_markups(evaluation, tmp_path / method, limits=SMALL, jobs=2)
        comments = {m.path.name: sorted((ws.title, c.coordinate, c.comment.text)
                                        for ws in openpyxl.load_workbook(m.path).worksheets
                                        for row in ws.iter_rows() for c in row if c.comment)
                    for m in marked if m.path is not None}
        findings = sorted((f.file, f.code, f.sheet, f.cell, f.message)
                          for r in evaluation.files for f in r.findings)
        outcome[method] = (raw, findings, comments)
    assert outcome["spawn"] == outcome["fork"]
    raw, findings, comments = outcome["spawn"]
    assert [type(r).__name__ for r in raw] == ["RawWorkbook", "RawWorkbook", "Rejection"]
    assert any(code == "file-unreadable" for _, code, *_ in findings)
    assert list(comments) and all(comments.values())  # 乙 has findings: its copy carries comments
