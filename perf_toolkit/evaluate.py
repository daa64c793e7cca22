"""One evaluation of a batch: read every file, score every project, run every check.

`check` and `score` (and later `report` and `summary`) all start here, so a
batch is read and scored once and every stage sees the same numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import findings as catalogue
from .check import check_submissions
from .guard import Limits
from .model import Finding, SourcedSubmission, SubmissionFormatError, submission_from_dict
from .profile import Profile, load_profile
from .score import Scores, round2, round_half_up, score_submissions

if TYPE_CHECKING:
    from .read import Skipped, WorkbookRead

REPORT_SCHEMA = "perf-toolkit/report/v1"


@dataclass
class FileResult:
    """One input file: how it was read and every finding about it."""

    file: str
    format: str | None
    sha256: str
    sourced: SourcedSubmission | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)


@dataclass
class Evaluation:
    profile: Profile
    files: list[FileResult]
    skipped: list[Skipped]
    scores: Scores
    items: list[SourcedSubmission]  # the readable submissions, in file order (Scores' `s` index)

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.files for f in r.findings]

    @property
    def has_errors(self) -> bool:
        return any(r.errors for r in self.files)

    def to_dict(self) -> dict:
        """The report as the JSON of `check --json` / `score --json`."""
        index = {id(item): s for s, item in enumerate(self.items)}
        projects: dict[int, list] = {}
        for row in self.scores.projects.itertuples(index=False):
            projects.setdefault(row.s, []).append(row)
        indicators: dict[tuple[int, int], list] = {}
        for row in self.scores.indicators.itertuples(index=False):
            indicators.setdefault((row.s, row.p), []).append(row)
        files = []
        for r in self.files:
            s = index.get(id(r.sourced)) if r.sourced is not None else None
            rows = projects.get(s, []) if s is not None else []
            files.append(_file_dict(r, [(row, indicators.get((s, row.p), [])) for row in rows]))
        return {
            "schema": REPORT_SCHEMA,
            "profile": self.profile.name,
            "summary": {
                "files": len(self.files),
                "readable": sum(r.sourced is not None for r in self.files),
                "projects": len(self.scores.projects),
                "errors": sum(r.errors for r in self.files),
                "warnings": sum(r.warnings for r in self.files),
                "skipped": len(self.skipped),
            },
            "files": files,
            "skipped": [{"path": k.path, "reason": k.reason} for k in self.skipped],
        }


def evaluate_submissions(items: Sequence[SourcedSubmission], profile: Profile | None = None, *,
                         year: int | None = None) -> Evaluation:
    """Score and check submissions already in memory (from JSON or a reader); `year` is the round's."""
    profile = profile or load_profile()
    files = [FileResult(item.file or "", None, "", item) for item in items]
    return _evaluate(files, [], profile, year)


def evaluate_paths(paths: Iterable[str | Path], profile: Profile | None = None, *,
                   limits: Limits = Limits(), jobs: int | None = None, year: int | None = None) -> Evaluation:
    """Read workbooks (and submission JSON files) from files and folders, then score and check them.

    `year` is the round's evaluation year (from the campaign): a submission for another year is an error.
    """
    from .read import read_workbooks  # the reader (and its parsers) only when files are read

    profile = profile or load_profile()
    paths = [Path(p) for p in paths]
    json_paths = [p for p in paths if p.suffix.lower() == ".json" and p.is_file()]
    others = [p for p in paths if p not in json_paths]
    reads, skipped = read_workbooks(others, limits=limits, jobs=jobs) if others else ([], [])
    files = [_from_read(r) for r in reads] + [_from_json(p) for p in json_paths]
    return _evaluate(files, skipped, profile, year)


def _evaluate(files: list[FileResult], skipped: list[Skipped], profile: Profile, year: int | None) -> Evaluation:
    items = [r.sourced for r in files if r.sourced is not None]
    scores = score_submissions(items, profile)
    readable = [r for r in files if r.sourced is not None]
    for r, found in zip(readable, check_submissions(items, scores, profile, year), strict=True):
        r.findings.extend(found)
    for r in files:
        r.findings.sort(key=_finding_order)
    return Evaluation(profile, files, skipped, scores, items)


def _from_read(read: WorkbookRead) -> FileResult:
    return FileResult(read.file, read.format, read.sha256, read.sourced, list(read.findings))


def _from_json(path: Path) -> FileResult:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        sourced = SourcedSubmission(submission_from_dict(data), file=str(path))
        return FileResult(str(path), "json", "", sourced)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, SubmissionFormatError) as exc:
        finding = catalogue.make("file-unreadable", file=str(path), reason=f"不是有效的填报数据 JSON（{exc}）",
                                 advice="请检查文件内容是否为 perf-toolkit/submission/v1 格式。")
        return FileResult(str(path), "json", "", None, [finding])


def _cell_order(cell: str | None) -> tuple[int, int]:
    if not cell:
        return (0, 0)
    letters = "".join(c for c in cell if c.isalpha())
    digits = "".join(c for c in cell if c.isdigit())
    col = 0
    for c in letters.upper():
        col = col * 26 + ord(c) - 64
    return (int(digits or 0), col)


def _finding_order(f: Finding) -> tuple:
    return (f.severity != "error", f.sheet or "", _cell_order(f.cell))


# ------------------------------------------------------------------ JSON


def _clean(x):
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return None
    if isinstance(x, np.generic):
        return x.item()
    return x


def _file_dict(r: FileResult, projects: list[tuple]) -> dict:
    """One file of the JSON report; `projects` pairs each project row with its indicator rows."""
    sub = r.sourced.submission if r.sourced is not None else None
    out = {
        "file": r.file,
        "format": r.format,
        "sha256": r.sha256,
        "readable": sub is not None,
        "year": sub.year if sub else None,
        "department": {"code": sub.department.code, "name": sub.department.name} if sub else None,
        "errors": r.errors,
        "warnings": r.warnings,
        "findings": [f.to_dict() for f in r.findings],
        "projects": [],
    }
    for row, mine in projects:
        project_findings = [f for f in r.findings if f.project == row.code and row.code]
        out["projects"].append({
            "code": row.code,
            "name": row.name,
            "initial_total": round2(row.initial_budget),
            "budget_total": round2(row.adjusted_budget),
            "executed_total": round2(row.executed),
            "execution_rate": round_half_up(_clean(row.execution_rate), 4),
            "execution_score": round2(row.execution_score),
            "indicator_score": round2(row.indicator_score),
            "level1_scores": {k[len("score_"):]: round2(v) for k, v in row._asdict().items()
                              if k.startswith("score_")},
            "total_score": row.total_display,
            "grade": row.grade,
            "grade_capped": bool(row.grade_capped),
            "complete": not any(f.severity == "error" for f in project_findings),
            "indicators": [
                {
                    "level1": i.level1, "level2": i.level2, "name": i.name, "direction": i.direction,
                    "target": _clean(i.target), "actual": _clean(i.actual), "unit": i.unit,
                    "weight": round2(i.weight), "claimed_score": round2(_clean(i.claimed)),
                    "score": round2(i.score), "completion": round_half_up(_clean(i.completion), 4),
                    "met": _clean(i.met), "band": i.band,
                }
                for i in mine
            ],
            "findings": [f.to_dict() for f in project_findings],
        })
    return out
