"""One evaluation of a batch: read every file, score every project, run every check.

`check` and `score` (and later `report` and `summary`) all start here, so a
batch is read and scored once and every stage sees the same numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import findings as catalogue
from ..model import Finding, SourcedSubmission, SubmissionFormatError, submission_from_dict
from ..numbers import round2, round_half_up
from ..profile import Profile, load_profile
from ..workbook.guard import Limits
from ..workbook.xlsx import col_number
from .rules import check_submissions
from .score import Scores, score_submissions

if TYPE_CHECKING:
    from ..workbook.read import Skipped, WorkbookRead

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


#: The project (and indicator) a field path is under: "projects[1].indicators[2].actual" -> (1, 2).
_OWNER = re.compile(r"projects\[(\d+)\](?:\.indicators\[(\d+)\](?![^.\[]))?(?![^.\[])")


def path_owner(path: str | None) -> tuple[int | None, int | None]:
    """(project, indicator) a finding's field path is under; (None, None) for a file-level path."""
    m = _OWNER.match(path or "")
    if m is None:
        return None, None
    return int(m[1]), (int(m[2]) if m[2] is not None else None)


@dataclass
class ProjectEntry:
    """One scored project with its rows and findings, as every consumer needs it (see Evaluation.project)."""

    s: int  # index into Evaluation.items
    p: int  # the project's index in its submission
    file: int  # index into Evaluation.files
    row: dict  # the project's row of Scores.projects
    indicators: list[dict]  # its rows of Scores.indicators, in `i` order
    findings: list[Finding]  # its own findings (path under projects[p]), in report order
    by_indicator: dict[int, list[Finding]]  # i -> findings under projects[p].indicators[i]
    file_findings: list[Finding]  # the file-level findings of its file (shared by every project of the file)
    shown: list[Finding]  # file-level and own findings together, in report order (what a report lists)

    def indicator_findings(self, i: int) -> list[Finding]:
        """The findings about indicator `i` (not those about the indicator table as a whole)."""
        return self.by_indicator.get(i, [])

    @property
    def has_errors(self) -> bool:
        """An error of its own or of its file (a wrong year, a missing 单位编码): the JSON's `complete` is False."""
        return any(f.severity == "error" for f in self.shown)


@dataclass
class _Index:
    projects: dict[tuple[int, int], ProjectEntry]  # in Scores.projects order
    of_item: dict[int, list[ProjectEntry]]  # s -> its projects in Scores.projects order
    file_level: list[list[Finding]]  # per Evaluation.files index
    file_of: dict[int, int]  # s -> Evaluation.files index


@dataclass
class Evaluation:
    profile: Profile
    files: list[FileResult]
    skipped: list[Skipped]
    scores: Scores
    items: list[SourcedSubmission]  # the readable submissions, in file order (Scores' `s` index)

    @property
    def findings(self) -> list[Finding]:
        """Every finding of every file, in file order."""
        return [f for r in self.files for f in r.findings]

    @property
    def has_errors(self) -> bool:
        """Any file has an error."""
        return any(r.errors for r in self.files)

    @cached_property
    def _index(self) -> _Index:
        """Rows and findings grouped per project, once, on first use (an Evaluation is not changed after)."""
        return _build_index(self)

    def project(self, s: int, p: int) -> ProjectEntry:
        """Project `p` of submission `s`: its score rows and its findings (KeyError if not scored)."""
        return self._index.projects[(s, p)]

    def projects_of(self, s: int) -> list[ProjectEntry]:
        """The scored projects of submission `s`, in score order."""
        return self._index.of_item.get(s, [])

    def file_findings(self, k: int) -> list[Finding]:
        """The file-level findings of `files[k]`: no path, or a path under no scored project."""
        return self._index.file_level[k]

    def file_index(self, s: int) -> int:
        """The index into `files` of submission `s`."""
        return self._index.file_of[s]

    def counts(self) -> dict[str, int]:
        """Files, readable files, projects, errors, warnings and skipped paths of the batch."""
        return {
            "files": len(self.files),
            "readable": sum(r.sourced is not None for r in self.files),
            "projects": len(self.scores.projects),
            "errors": sum(r.errors for r in self.files),
            "warnings": sum(r.warnings for r in self.files),
            "skipped": len(self.skipped),
        }

    def to_dict(self) -> dict:
        """The report as the JSON of `check --json` / `score --json`.

        A project lists its own findings (path under the project); the file's other findings
        (year, department, template) are listed once, with the file. `complete` is False when the
        project or its file has an error — the same rule as the report's `has_errors`.
        """
        index = self._index
        s_of = {k: s for s, k in index.file_of.items()}
        files = [_file_dict(r, self.projects_of(s_of[k]) if k in s_of else [])
                 for k, r in enumerate(self.files)]
        return {
            "schema": REPORT_SCHEMA,
            "profile": self.profile.name,
            "summary": self.counts(),
            "files": files,
            "skipped": [{"path": k.path, "reason": k.reason} for k in self.skipped],
        }


def _build_index(ev: Evaluation) -> _Index:
    """One pass over the score frames and one over the findings (no per-project filtering)."""
    # items are the readable files' submissions in file order (see _evaluate): the s-th readable file is item s
    file_of = dict(enumerate(k for k, r in enumerate(ev.files) if r.sourced is not None))
    indicators: dict[tuple[int, int], list[dict]] = {}
    if not ev.scores.indicators.empty:
        # plain dicts: itertuples over object columns costs a pandas lookup per cell
        for r in ev.scores.indicators.sort_values(["s", "p", "i"], kind="stable").to_dict("records"):
            indicators.setdefault((int(r["s"]), int(r["p"])), []).append(r)
    projects: dict[tuple[int, int], ProjectEntry] = {}
    of_item: dict[int, list[ProjectEntry]] = {}
    rows = ev.scores.projects.to_dict("records") if not ev.scores.projects.empty else []
    for r in rows:
        s, p = int(r["s"]), int(r["p"])
        entry = ProjectEntry(s, p, file_of[s], r, indicators.get((s, p), []), [], {}, [], [])
        projects[(s, p)] = entry
        of_item.setdefault(s, []).append(entry)
    file_level: list[list[Finding]] = [[] for _ in ev.files]
    s_of_file = {k: s for s, k in file_of.items()}
    for k, r in enumerate(ev.files):
        s = s_of_file.get(k)
        mine = of_item.get(s, []) if s is not None else []
        for f in r.findings:
            p, i = path_owner(f.path)
            entry = projects.get((s, p)) if s is not None and p is not None else None
            if entry is None:  # the file as a whole (or a project that was not scored)
                file_level[k].append(f)
                for e in mine:
                    e.file_findings.append(f)
                    e.shown.append(f)
                continue
            entry.findings.append(f)
            entry.shown.append(f)
            if i is not None:
                entry.by_indicator.setdefault(i, []).append(f)
    return _Index(projects, of_item, file_level, file_of)


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
    from ..workbook.read import read_workbooks  # the reader (and its parsers) only when files are read

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
        finding = catalogue.make("file-unreadable", file=str(path), reason=f"不是有效的填报数据 JSON（{_json_problem(exc)}）",
                                 advice="请检查文件内容是否为 perf-toolkit/submission/v1 格式。")
        return FileResult(str(path), "json", "", None, [finding])


def _json_problem(exc: Exception) -> str:
    """What is wrong with a submission JSON file, in Chinese (the parser's English stays out)."""
    if isinstance(exc, SubmissionFormatError):
        return str(exc)  # already Chinese
    if isinstance(exc, json.JSONDecodeError):
        return f"第 {exc.lineno} 行第 {exc.colno} 列不符合 JSON 语法"
    if isinstance(exc, UnicodeDecodeError):
        return "不是 UTF-8 编码的文本"
    return "文件无法打开"


_CELL = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")


def _cell_order(cell: str | None) -> tuple[int, int]:
    """(row, column) of a cell reference, for reading order; (0, 0) when there is none."""
    m = _CELL.match(cell or "")
    return (int(m[2]), col_number(m[1])) if m else (0, 0)


def _finding_order(f: Finding) -> tuple:
    return (f.severity != "error", f.sheet or "", _cell_order(f.cell))


# ------------------------------------------------------------------ JSON


def _clean(x):
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return None
    if isinstance(x, np.generic):
        return x.item()
    return x


def _file_dict(r: FileResult, projects: list[ProjectEntry]) -> dict:
    """One file of the JSON report, with its scored projects (their own findings by field path)."""
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
    for entry in projects:
        row = entry.row
        out["projects"].append({
            "code": row["code"],
            "name": row["name"],
            "initial_total": round2(row["initial_budget"]),
            "budget_total": round2(row["adjusted_budget"]),
            "executed_total": round2(row["executed"]),
            "execution_rate": round_half_up(_clean(row["execution_rate"]), 4),
            "execution_score": round2(row["execution_score"]),
            "indicator_score": round2(row["indicator_score"]),
            "level1_scores": {k[len("score_"):]: round2(v) for k, v in row.items() if k.startswith("score_")},
            "total_score": _clean(row["total_display"]),
            "grade": row["grade"],
            "grade_capped": bool(row["grade_capped"]),
            "complete": not entry.has_errors,
            "indicators": [
                {
                    "level1": i["level1"], "level2": i["level2"], "name": i["name"], "direction": i["direction"],
                    "target": _clean(i["target"]), "actual": _clean(i["actual"]), "unit": i["unit"],
                    "weight": round2(i["weight"]), "claimed_score": round2(_clean(i["claimed"])),
                    "score": round2(i["score"]), "completion": round_half_up(_clean(i["completion"]), 4),
                    "met": _clean(i["met"]), "band": i["band"],
                }
                for i in entry.indicators
            ],
            "findings": [f.to_dict() for f in entry.findings],
        })
    return out
