"""One evaluation of a batch: read every file, score every project, run every check.

`check` and `score` (and then `report` and `summary`) all start here, so a batch is
read and scored once and every stage sees the same numbers. The result is typed
(`model.Evaluation` of `FileResult`s of `ScoredProject`s); pandas stays in here.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import pandas as pd

from .. import findings as catalogue
from .. import values
from ..config import RosterEntry
from ..model import (
    AMOUNT_FIELDS,
    Amounts,
    Evaluation,
    FieldPath,
    FileResult,
    Finding,
    FundSource,
    ScoredIndicator,
    ScoredProject,
    Skipped,
    SourcedSubmission,
    SubmissionFormatError,
    shared_values,
    submission_from_json,
)
from ..numbers import PENDING, number_or_none, round2
from ..profile import Profile, load_profile
from ..spec import TAXONOMY
from ..text import MAX_CELL_TEXT
from ..workbook.guard import Limits
from ..workbook.read import WorkbookRead, read_workbooks
from ..workbook.xlsx import cell_order
from .intake import check_intake
from .rules import check_submissions
from .score import Scores, score_submissions


class CheckMemo(Protocol):
    """Scores and check findings kept from an earlier run, per file: scoring and every check but intake
    depend on one submission, the profile and the year alone, so a file unchanged since is not redone."""

    def get(self, result: FileResult) -> tuple[list[Finding], list[ScoredProject]] | None: ...

    def put(self, result: FileResult, found: list[Finding], projects: list[ScoredProject]) -> None: ...


#: Submissions scored and checked together: the frames of a chunk are large (a row per indicator and per
#: amount, many columns), so a batch of 10,000 departments at once held ~1 GB of them; scores and checks of
#: one submission depend on it alone (`CheckMemo`), so chunks give the same results.
CHECK_CHUNK = 500

#: A submission JSON is a few KB; one this large is no submission (and is not read into memory).
MAX_JSON_BYTES = 20 * 2**20


def evaluate_submissions(items: Sequence[SourcedSubmission], profile: Profile | None = None, *,
                         year: int | None = None, roster: Sequence[RosterEntry] = ()) -> Evaluation:
    """Score and check submissions already in memory (from JSON or a reader); `year` is the round's."""
    files = [FileResult(item.file or "", None, "", item) for item in items]
    return _evaluate(files, [], profile or load_profile(), year, roster)


def evaluate_paths(paths: Iterable[str | Path], profile: Profile | None = None, *,
                   limits: Limits = Limits(), jobs: int | None = None, year: int | None = None,
                   roster: Sequence[RosterEntry] = (), submitted_at: Mapping[str, dt.datetime] | None = None,
                   senders: Mapping[str, str] | None = None,
                   reader: Callable[[list[Path]], tuple[list[WorkbookRead], list[Skipped]]] | None = None,
                   memo: CheckMemo | None = None) -> Evaluation:
    """Read workbooks (and submission JSON files) from files and folders, then score and check them.

    `year` is the round's evaluation year: a submission for another year is an error. With a
    `roster`, a department not on it is reported; without, only resubmissions are sorted out.
    `submitted_at` and `senders`, keyed by file path as given (FileResult.file), are when and
    from which address a file was mailed (the mail stage's manifest): the newest submission of a
    department counts, by its mail's Date where known, else by its modification time. `reader`
    stands in for `read_workbooks` (as `run` does to reuse earlier reads of unchanged files), `memo`
    keeps each file's scores and check findings for the next evaluation (`CheckMemo`).
    """
    paths = [Path(p) for p in paths]
    json_paths = [p for p in paths if p.suffix.lower() == ".json" and p.is_file()]
    others = [p for p in paths if p not in json_paths]
    if reader is None:
        def reader(paths: list[Path]) -> tuple[list[WorkbookRead], list[Skipped]]:
            return read_workbooks(paths, limits=limits, jobs=jobs)
    reads, skipped = reader(others) if others else ([], [])
    files = [_from_read(r) for r in reads] + [_from_json(p) for p in json_paths]
    return _evaluate(files, skipped, profile or load_profile(), year, roster, submitted_at, senders, memo)


def _evaluate(files: list[FileResult], skipped: list[Skipped], profile: Profile, year: int | None,
              roster: Sequence[RosterEntry], submitted_at: Mapping[str, dt.datetime] | None = None,
              senders: Mapping[str, str] | None = None, memo: CheckMemo | None = None) -> Evaluation:
    readable = [r for r in files if r.sourced is not None]
    done = {id(r): memo.get(r) for r in readable} if memo is not None else {}
    todo = [r for r in readable if done.get(id(r)) is None]
    for start in range(0, len(todo), CHECK_CHUNK):  # scored and checked a chunk at a time (see CHECK_CHUNK)
        chunk = todo[start:start + CHECK_CHUNK]
        items = [r.sourced for r in chunk]
        scores = score_submissions(items, profile)
        for r, found, projects in zip(chunk, check_submissions(items, scores, profile, year),
                                      _scored_projects(items, scores, profile), strict=True):
            done[id(r)] = found, projects
            if memo is not None:
                memo.put(r, found, projects)
    for r in readable:
        r.findings.extend(done[id(r)][0])
    check_intake(files, roster, submitted_at=submitted_at, senders=senders)
    for r in files:
        r.findings.sort(key=_finding_order)
    for r in readable:  # each file's projects remade with their findings: the first made let go one file at a time
        r.projects = _with_findings(r, done.pop(id(r))[1])  # (held to the end of the check: ~11 KB a department)
    return Evaluation(profile, files, skipped, year)


def _from_read(read: WorkbookRead) -> FileResult:
    return FileResult(read.file, read.format, read.sha256, read.sourced, list(read.findings))


def _from_json(path: Path) -> FileResult:
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise SubmissionFormatError(f"文件大小超过 {MAX_JSON_BYTES // 2**20} MB 的上限")
        cut: dict[str, int] = {}
        sourced = SourcedSubmission(submission_from_json(path.read_text(encoding="utf-8"), cut=cut), file=str(path))
        findings = [catalogue.make("text-too-long", file=str(path), path=field, place=f"字段 {field}",
                                   length=length, limit=MAX_CELL_TEXT) for field, length in cut.items()]
        return FileResult(str(path), "json", "", sourced, findings)
    except (OSError, UnicodeDecodeError, SubmissionFormatError) as exc:
        finding = catalogue.make("file-unreadable", file=str(path), reason=f"不是有效的填报数据 JSON（{_json_problem(exc)}）",
                                 advice="请检查文件内容是否为 perf-toolkit/submission/v1 格式。")
        return FileResult(str(path), "json", "", None, [finding])


def _json_problem(exc: Exception) -> str:
    """What is wrong with a submission JSON file, in Chinese (the parser's English stays out)."""
    if isinstance(exc, SubmissionFormatError):
        return str(exc)  # already Chinese
    if isinstance(exc, UnicodeDecodeError):
        return "不是 UTF-8 编码的文本"
    return "文件无法打开"


def _finding_order(f: Finding) -> tuple:
    return (f.severity != "error", f.sheet or "", cell_order(f.cell))


# ------------------------------------------------------------------ frames → typed results


def _records(frame: pd.DataFrame, keys: list[str]) -> list[dict]:
    # plain dicts: itertuples over object columns costs a pandas lookup per cell
    return frame.sort_values(keys, kind="stable").to_dict("records") if not frame.empty else []


def _scored_projects(items: Sequence[SourcedSubmission], scores: Scores,
                     profile: Profile) -> list[list[ScoredProject]]:
    """Every scored project, per submission in score order (findings are attached afterwards)."""
    indicators: dict[tuple[int, int], list[ScoredIndicator]] = {}
    for r in _records(scores.indicators, ["s", "p", "i"]):
        s, p = int(r["s"]), int(r["p"])
        indicators.setdefault((s, p), []).append(_indicator(r, items[s].submission.projects[p].indicators[int(r["i"])]))
    out: list[list[ScoredProject]] = [[] for _ in items]
    for r in scores.projects.to_dict("records") if not scores.projects.empty else []:
        s, p = int(r["s"]), int(r["p"])
        item = items[s]
        out[s].append(_project(r, item, profile, tuple(indicators.get((s, p), ()))))
    return out


def _indicator(r: dict, typed) -> ScoredIndicator:
    met, known = r["met"], not r["unknown"]
    return shared_values(ScoredIndicator(
        index=int(r["i"]), submitted=typed, level1=r["level1"] or "", level2=r["level2"] or "",
        direction=r["direction"] or "", scored_as=r["scored_as"], weight=float(r["weight"]),
        claimed_score=number_or_none(r["claimed"]), score=float(r["score"]) if known else None,
        completion=_finite(r["completion"]) if known else None,
        met=None if met is None or _nan(met) or not known else bool(met), unknown=tuple(r["unknown"]),
        band=r["band"] if isinstance(r["band"], str) else None, overachieved=bool(r["overachieved"]),
        target_number=_finite(r["A"]), actual_number=_finite(r["B"]), target_kind=r["t_kind"],
        actual_kind=r["a_kind"], target_unit=r["t_unit"] or "", actual_unit=r["a_unit"] or "",
        unit_mismatch=bool(r["unit_mismatch"]), verifiable=bool(r["verifiable"]),
        unit_assumed=tuple(r["unit_assumed"]) if r["unit_assumed"] else None,
        percent_fixed=tuple(r["percent_fixed"]) if r["percent_fixed"] else None,
    ))


def _project(r: dict, item: SourcedSubmission, profile: Profile,
             indicators: tuple[ScoredIndicator, ...]) -> ScoredProject:
    sub, p = item.submission, int(r["p"])
    project = sub.projects[p]
    funds = {
        source: shared_values(Amounts(*(r[f"{c}_by_source"].get(source.value) for c in AMOUNT_FIELDS)))
        for source in FundSource if any(source.value in r[f"{c}_by_source"] for c in AMOUNT_FIELDS)
    }
    sources = r["fund_sources"]  # canonical, per fund row (scoring normalised them once)
    unreadable = frozenset((FundSource(sources[j]), c) for c in AMOUNT_FIELDS for j, _ in r[f"{c}_bad"]
                           if sources[j] is not None)
    unknown = frozenset((FundSource(sources[j]), c) for j, c in r["unknown_amounts"] if sources[j] is not None)
    if unknown:  # an amount nobody knows: its source's and its column's totals are not known either
        funds = {source: shared_values(replace(a, **{c: None for s, c in unknown if s == source}))
                 for source, a in funds.items()}
    rate_known, scored = bool(r["rate_known"]), bool(r["scored"])
    pending = {i.level1 for i in indicators if not i.scored}  # 一级 whose score is not known
    execution_score = float(r["execution_score"]) if rate_known else None
    claimed_execution, claimed_total = _claimed(item, p, indicators, execution_score)
    return shared_values(ScoredProject(
        file=item.file or "", index=p, year=sub.year, department=sub.department, submitted=project,
        funds=funds, unreadable_amounts=unreadable, unknown_amounts=unknown,
        total=shared_values(Amounts(*(None if c in {column for _, column in unknown} else float(r[c])
                                      for c in AMOUNT_FIELDS))),
        execution_rate=_finite(r["execution_rate"]) if rate_known else None, budget_weight=profile.budget_weight,
        execution_score=execution_score,
        indicator_weight=float(r["indicator_weight"]),
        indicator_score=float(r["indicator_score"]) if not pending else None,
        level1_scores={level1: None if level1 in pending else float(r[f"score_{level1}"]) for level1 in TAXONOMY},
        total_score=round2(r["total_score"]) if scored else None, grade=str(r["grade"]) if scored else PENDING,
        grade_capped=bool(r["grade_capped"]) and scored, indicators=indicators, findings=(), file_findings=(),
        claimed_execution_score=claimed_execution, claimed_total=claimed_total,
    ))


def _claimed(item: SourcedSubmission, p: int, indicators: tuple[ScoredIndicator, ...],
             execution_score: float | None) -> tuple[float | None, float | None]:
    """The department's own budget score and total, as its form shows them (the outputs print both
    when the rules differ): a number typed over the formula, else what the formula gives (the budget
    score + Σ claimed scores). A total is claimed only when every indicator that carries weight has a
    claimed score: a form left partly blank claims no total (the bureau's score is then the only one), nor
    does one whose budget score neither is typed nor can be computed (an amount is unknown)."""
    def typed(name: str) -> float | None:
        raw = item.overrides.get(str(FieldPath.of(p, name)))
        return values.parse_weight(raw)[0] if raw is not None else None

    claimed_execution, total = typed("execution_score"), typed("total_score")
    claims = [i.claimed_score for i in indicators if i.claimed_score is not None]
    weighted = [i for i in indicators if i.weight > 0]
    if total is None and claims and all(i.claimed_score is not None for i in weighted):
        budget = claimed_execution if claimed_execution is not None else round2(execution_score)
        total = budget + math.fsum(claims) if budget is not None else None
    return claimed_execution, total


def _with_findings(r: FileResult, projects: list[ScoredProject]) -> tuple[ScoredProject, ...]:
    """Each project with its own findings (by field path) and its file's other findings, grouped once."""
    by_index = {p.index: p for p in projects}
    own: dict[int, list[Finding]] = {p.index: [] for p in projects}
    of_indicator: dict[tuple[int, int], list[Finding]] = {}
    file_level = []
    for f in r.findings:
        path = f.field_path
        if path.project in by_index:
            own[path.project].append(f)
            if path.indicator is not None:
                of_indicator.setdefault((path.project, path.indicator), []).append(f)
        else:  # the file as a whole, or a project that was not scored
            file_level.append(f)
    out = []
    for p in projects:
        indicators = tuple(
            replace(i, findings=tuple(of_indicator.get((p.index, i.index), ()))) for i in p.indicators)
        out.append(replace(p, indicators=indicators, findings=tuple(own[p.index]),
                            file_findings=tuple(file_level)))
    return tuple(out)


def _nan(x: object) -> bool:
    return isinstance(x, float) and math.isnan(x)


def _finite(x: object) -> float | None:
    value = number_or_none(x)
    return value if value is not None and math.isfinite(value) else None

