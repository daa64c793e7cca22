"""Reports rendered in worker processes and only when something changed: the same bytes with one
worker or two, a worker that dies costs only its project, and a re-run renders what changed."""

from __future__ import annotations

import os
import sqlite3
import zipfile
from pathlib import Path

import pytest
from builders import (
    faulty_submission,
    round_inbox,
    warned_submission,
    write_workbook,
)

from perf_toolkit import run as run_module
from perf_toolkit.check.evaluate import evaluate_paths
from perf_toolkit.config import Campaign
from perf_toolkit.profile import load_profile
from perf_toolkit.progress import Progress
from perf_toolkit.report import render
from perf_toolkit.run import REPORTS_DIR, run_round
from perf_toolkit.workbook import pool


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def documents(folder: Path) -> dict[str, int]:
    """Each document's modification time (ns), by name."""
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.suffix == ".docx"}


def round_once(folder: Path, out: Path, **kw) -> tuple[run_module.RoundResult, Progress]:
    progress = Progress()
    result = run_round([folder], Campaign(output_dir=out), load_profile(), out, history=False, progress=progress,
                       **kw)
    return result, progress


def rendered_count(progress: Progress) -> int:
    return next(s.items for s in progress.stages if s.name == "报告")


# ------------------------------------------------------------------ the pool


def test_one_worker_and_two_write_the_same_bytes_in_every_part(tmp_path):
    evaluation = evaluate_paths(sorted(round_inbox(tmp_path).iterdir()), load_profile())
    seen = {}
    for jobs in (1, 2):
        told = []
        results = render.render_reports(evaluation, tmp_path / f"j{jobs}", jobs=jobs, done=told.append)
        assert told == results and not any(r.failed for r in results)
        assert len(results) == len(evaluation.counted_projects) == 3
        seen[jobs] = {p.name: parts(p) for r in results for p in r.paths}
    assert seen[1].keys() == seen[2].keys() and any("审核附注" in n for n in seen[1])
    for name, one in seen[1].items():
        assert one.keys() == seen[2][name].keys()
        for part, data in one.items():  # the documents carry no time of their own: every part, byte for byte
            assert data == seen[2][name][part], (name, part)


@pytest.mark.skipif(not pool.ISOLATED, reason="workers need fork")
def test_a_worker_that_dies_costs_only_its_project(tmp_path, monkeypatch):
    evaluation = evaluate_paths(sorted(round_inbox(tmp_path).iterdir()), load_profile())
    out = tmp_path / "out"
    victim = evaluation.counted_projects[1]
    # an earlier document under the victim's name must not survive as if it were this run's
    plan = render.plan_reports(evaluation)
    out.mkdir()
    stale = render.rendered_project(plan[1], out).report
    stale.write_bytes(b"an earlier round's report")
    real, parent = render.PreparedTemplate.render, os.getpid()

    def dying(self, context):
        if os.getpid() != parent and context["unit"] == victim.department.name:
            os._exit(9)  # as a worker killed by the system would
        return real(self, context)

    monkeypatch.setattr(render.PreparedTemplate, "render", dying)
    results = render.render_reports(evaluation, out, jobs=2)
    assert [bool(r.failed) for r in results] == [False, True, False]
    assert "异常退出" in results[1].failed and results[1].paths == [] and not stale.exists()
    for r in (results[0], results[2]):
        assert r.report.is_file() and r.table.is_file() and parts(r.report)["word/document.xml"]


def test_a_template_error_is_raised_before_any_file_is_written(tmp_path, monkeypatch):
    evaluation = evaluate_paths(sorted(round_inbox(tmp_path).iterdir()), load_profile())

    def broken(self, context):
        raise render.ReportTemplateError("模板 x 渲染失败：'dict object' has no attribute 'nmae'")

    monkeypatch.setattr(render.PreparedTemplate, "render", broken)
    with pytest.raises(render.ReportTemplateError, match="渲染失败"):
        render.render_reports(evaluation, tmp_path / "out", jobs=2)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ incremental


def test_a_rerun_renders_nothing_and_a_changed_workbook_only_its_own_documents(tmp_path):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    first, progress = round_once(folder, out)
    assert rendered_count(progress) == len(first.reports) == 3
    before = documents(out / REPORTS_DIR)
    assert len(before) >= 6

    again, progress = round_once(folder, out)
    assert rendered_count(progress) == 0
    assert documents(out / REPORTS_DIR) == before  # not one file rewritten
    assert [r.report for r in again.reports] == [r.report for r in first.reports]
    assert [r.reused for r in first.reports] == [False] * 3 and [r.reused for r in again.reports] == [True] * 3

    summary_before = (out / run_module.SUMMARY_XLSX).stat().st_mtime_ns
    changed = warned_submission()
    changed["projects"][0]["goal"] = "完成全年退役士兵社会保险配套经费的足额发放"  # the warning fixed
    write_workbook(folder, "乙.xlsx", changed)
    third, progress = round_once(folder, out)
    assert rendered_count(progress) == 1 and sum(not r.reused for r in third.reports) == 1
    after = documents(out / REPORTS_DIR)
    unit = warned_submission()["department"]["name"]
    rewritten = {n for n in after if n not in before or after[n] != before[n]}
    assert rewritten and all(n.startswith(unit) for n in rewritten)
    assert {n for n in before if not n.startswith(unit)} <= {n for n in after if after[n] == before.get(n)}
    assert (out / run_module.SUMMARY_XLSX).stat().st_mtime_ns != summary_before  # the summary is always new
    notes = [n for n in before if n.startswith(unit) and "审核附注" in n]
    assert notes and not any(n in after for n in notes)  # the fixed warning's notes are gone with it
    table = sqlite3.connect(out / "round.sqlite").execute("SELECT count(*) FROM rendered").fetchone()[0]
    assert table == 3  # one row per current version: the superseded one's row went


def test_documents_of_a_department_that_disappeared_are_removed(tmp_path):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    round_once(folder, out)
    # the same department renames its project: a new version whose documents have other names
    renamed = faulty_submission()
    renamed["projects"][0]["name"] = "改名后的项目"
    write_workbook(folder, "丙.xlsx", renamed)
    result, progress = round_once(folder, out)
    assert rendered_count(progress) == 1
    names = set(documents(out / REPORTS_DIR))
    assert names == {p.name for r in result.reports for p in r.paths}  # nothing else survives
    assert any("改名后的项目" in n for n in names)
    old = faulty_submission()
    assert not any(n.startswith(f"{old['department']['name']}-{old['projects'][0]['name']}") for n in names)


def test_a_run_killed_while_rendering_leaves_no_entry_for_what_it_did_not_finish(tmp_path, monkeypatch):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    round_once(folder, out)
    changed = faulty_submission(actual="85")
    write_workbook(folder, "丙.xlsx", changed)
    real = run_module.render_jobs

    def killed(jobs, output_dir, templates, **kw):
        def done(r):
            raise KeyboardInterrupt  # the operator's Ctrl-C, right after the first file was written

        return real(jobs, output_dir, templates, **{**kw, "done": done})

    monkeypatch.setattr(run_module, "render_jobs", killed)
    with pytest.raises(KeyboardInterrupt):
        round_once(folder, out)
    rows = sqlite3.connect(out / "round.sqlite").execute("SELECT file FROM rendered").fetchall()
    assert len(rows) == 2  # the changed department's row went before its files were touched
    monkeypatch.setattr(run_module, "render_jobs", real)
    result, progress = round_once(folder, out)
    assert rendered_count(progress) == 1 and not any(r.failed for r in result.reports)


def test_a_deleted_document_is_rendered_again(tmp_path):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    first, _ = round_once(folder, out)
    first.reports[0].table.unlink()
    _, progress = round_once(folder, out)
    assert rendered_count(progress) == 1 and first.reports[0].table.is_file()


class Recording(Progress):
    """Every count a stage reaches, as the operator's progress line would show it."""

    def __init__(self):
        super().__init__()
        self.counts: dict[str, list[int]] = {}

    def updated(self):
        self.counts.setdefault(self._name, []).append(self._done)


def test_reports_and_marked_up_copies_advance_one_item_at_a_time(tmp_path):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    progress = Recording()
    result = run_round([folder], Campaign(output_dir=out), load_profile(), out, history=False, progress=progress)
    assert [c for c in progress.counts["报告"] if c] == [1, 2, 3] == list(range(1, len(result.reports) + 1))
    assert [c for c in progress.counts["审核意见"] if c] == [1, 2, 3]


def test_what_the_round_adds_to_an_unchanged_file_renders_its_department_again(tmp_path):
    """The key holds no context: a finding the round adds (the mail's sender, the roster, the other
    submissions) to a file whose bytes did not change must still render that department's documents again."""
    import dataclasses

    from perf_toolkit import findings

    folder, out = round_inbox(tmp_path), tmp_path / "out"
    campaign, profile = Campaign(output_dir=out), load_profile()

    def evaluated():
        return evaluate_paths(sorted(folder.iterdir()), profile)

    first = run_module.render_round_reports(evaluated(), campaign, profile, out, jobs=1)
    assert not any(r.reused for r in first)
    assert all(r.reused for r in run_module.render_round_reports(evaluated(), campaign, profile, out, jobs=1))

    evaluation = evaluated()
    target = evaluation.counted[0]
    extra = findings.make("sender-mismatch", file=target.file, sender="someone@example.com", sender_name="别的单位",
                          sender_code="999", dept_name=target.submission.department.name, dept_code="001")
    target.findings.append(extra)
    target.projects = tuple(dataclasses.replace(p, file_findings=(*p.file_findings, extra)) for p in target.projects)
    again = run_module.render_round_reports(evaluation, campaign, profile, out, jobs=1)
    assert [r.reused for r in again] == [r.file != target.file for r in again]
    notes = next(r.notes for r in again if r.file == target.file)
    assert notes is not None and "someone@example.com" in parts(notes)["word/document.xml"].decode("utf-8")
