"""The marked-up workbook sent back to a department: its own workbook with every problem marked.

A copy of the department's .xlsx in which every cell a finding names is filled (light red
for errors, light yellow for warnings) and carries a comment listing its findings, with a
first sheet 审核意见 that lists every finding and links to its cell. The input is never
opened for writing: its bytes are read once and the copy is built in memory.

openpyxl loads the whole workbook, and a file the guarded reader survived can still make
it run away (a merge declared over the whole grid becomes billions of cell objects), so
each copy is built in an isolated, limited worker (`pool`, as the reader does); a file
that fails there is reported with its reason and the batch goes on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import math
import os
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import spec
from ..findings import CATALOGUE, SEVERITY_ZH, title
from ..fsutil import atomic_write
from ..model import Finding
from ..numbers import PENDING, points, round2
from ..text import display_width, safe_name, scrub
from . import marker, patch, pool, review
from .guard import Limits
from .xlsx import a1, parse_a1

if TYPE_CHECKING:
    from ..config import Campaign
    from ..model import Evaluation, FileResult

REVIEW_SHEET = spec.REVIEW_SHEET
SUFFIX = "审核意见"
AUTHOR = "区财政局审核"
MARKABLE_FORMATS = ("xlsx", "xlsm")
ERROR_COLOUR, WARNING_COLOUR = review.ERROR_COLOUR, review.WARNING_COLOUR
MERGE_FILL_LIMIT = 400  # cells of one merged range coloured; a bigger merge gets its first cell only
_NAME = re.compile(r"-" + SUFFIX + r"(-\d+)?\.xlsx$")


@dataclass
class MarkupResult:
    """One input file: the marked-up copy written, or why there is none (Chinese)."""

    file: str
    path: Path | None
    reason: str = ""  # for people (Chinese)
    detail: str = ""  # the technical cause when building the copy failed (for developers, never shown)
    reused: bool = False  # an incremental run found the copy current and kept it as it was


#: Why a copy could not be built when openpyxl fails on the workbook (the exception goes to `detail`).
BUILD_FAILED = "无法生成审核意见：文件含有本工具无法处理的内容（可能已损坏或格式特殊），请直接按审核结果通知单位修改"


@dataclass(frozen=True)
class _Failed:
    """A worker's answer when openpyxl failed on a workbook (picklable)."""

    detail: str


@dataclass(frozen=True)
class MarkupJob:
    """One copy to build: what a worker needs (picklable) and the name it is written under."""

    name: str  # the copy's file name in the output folder (markup_name)
    file: str
    sha256: str
    findings: tuple[Finding, ...]
    unit: str
    bureau: str
    deadline: dt.date | None
    today: dt.date
    scores: tuple[str, ...] = ()  # the bureau's total and grade of each project, one line each (score_lines)


# ------------------------------------------------------------------ public API


def write_markup(result: FileResult, out_dir: str | Path, *,
                 campaign: Campaign | None = None) -> Path | None:
    """Write the marked-up copy of one file into out_dir; None when it gets none (see write_markups)."""
    return _write([result], Path(out_dir), campaign, Limits(), 1, prune=False)[0].path


def write_markups(evaluation: Evaluation, out_dir: str | Path, *, campaign: Campaign | None = None,
                  limits: Limits = Limits(), jobs: int | None = None, prune: bool = False,
                  done: Callable[[MarkupResult], None] | None = None,
                  reuse: Callable[[MarkupJob], bool] = lambda job: False,
                  plan: Sequence[MarkupJob | None] | None = None) -> list[MarkupResult]:
    """A marked-up copy of every readable .xlsx/.xlsm with findings, one MarkupResult per file.

    `prune` removes earlier copies (our own “-审核意见.xlsx” names) that this batch did not
    write again, for a folder the toolkit owns (`run`), so a fixed file's stale copy is not sent back.
    `done` is told of each file once its copy is written (or refused), in order: progress.
    `reuse(job)` true: the copy already in the folder under `job.name` is kept as it is (an incremental
    run found it current); it is asked of every job before any copy is written.
    `plan`: `plan_markups(evaluation.files, campaign)` when the caller already made it (one entry a file).
    """
    return _write(evaluation.files, Path(out_dir), campaign, limits, jobs, prune=prune, done=done, reuse=reuse,
                  plan=plan)


def plan_markups(results: Iterable[FileResult], campaign: Campaign | None = None,
                 today: dt.date | None = None) -> list[MarkupJob | None]:
    """The copy each file gets, named uniquely in order; None for a file that gets none (see `_refusal`)."""
    today = today or dt.date.today()
    taken: set[str] = set()
    return [
        MarkupJob(markup_name(r.file, taken), r.file, r.sha256, tuple(r.findings),
                  r.sourced.submission.department.name, campaign.bureau if campaign else "",
                  campaign.deadline if campaign else None, today, score_lines(r))
        if not _refusal(r) else None
        for r in results
    ]


def markup_name(file: str, taken: set[str]) -> str:
    """“{stem}-审核意见.xlsx”, made safe, unique (case-insensitively) against and added to `taken`."""
    stem = safe_name(Path(file).stem, "填报表", 150)
    candidates = itertools.chain([f"{stem}-{SUFFIX}.xlsx"], (f"{stem}-{SUFFIX}-{n}.xlsx" for n in range(2, 100_000)))
    name = next(c for c in candidates if c.casefold() not in taken)
    taken.add(name.casefold())
    return name


# ------------------------------------------------------------------ the batch


def score_lines(result: FileResult) -> tuple[str, ...]:
    """The bureau's total and grade of each project of a file, as the 审核意见 sheet states them: the
    department's own total beside it when the rules give another, and a word when errors keep it open;
    a project not scored (an unknown value) says so instead of a total."""
    lines = []
    for p in result.projects:
        name = scrub(p.name).strip() or "（未填写项目名称）"
        code = f"（{scrub(p.code).strip()}）" if p.code.strip() else ""
        if not p.scored:  # a value it is computed from is unknown: nothing to state or compare yet
            line = f"项目“{name}”{code}：有数值是公式且文件中没有保存其计算结果，暂不评分，总分和等级{PENDING}"
        else:
            line = f"项目“{name}”{code}：按评分规则核定总分 {points(p.total_score)} 分，等级“{p.grade}”"
            if p.claimed_total is not None and round2(p.claimed_total) != round2(p.total_score):
                line += f"（单位自评总分 {points(p.claimed_total)} 分）"
            if p.provisional:
                line += (f"，其中{len(p.unverified)}项指标的完成情况无法从填报内容核实、暂按自评得分计，"
                         f"总分和等级{PENDING}")
        line += "；有错误未改正，改正后重新核定。" if p.has_errors else "。"
        lines.append(line)
    return tuple(lines)


def _refusal(result: FileResult) -> str:
    """Why a file gets no copy, or "" when it gets one."""
    if result.sourced is None:
        why = next((CATALOGUE[f.code].title for f in result.findings if f.code in CATALOGUE), "无法读取")
        return f"未生成：文件未能按填报表读取（{why}），没有可标注的单元格，问题见审核结果"
    if result.format not in MARKABLE_FORMATS:
        kind = "填报数据 JSON" if result.format == "json" else f".{result.format or '未知'} 格式的文件"
        return f"未生成：{kind}无法在原表上标注，问题见审核结果；请单位改用 .xlsx 填报表"
    if not result.findings:
        return "未生成：没有发现问题，无需审核意见"
    return ""


def _write(results: Sequence[FileResult], out: Path, campaign: Campaign | None, limits: Limits,
           jobs: int | None, *, prune: bool, done: Callable[[MarkupResult], None] | None = None,
           reuse: Callable[[MarkupJob], bool] = lambda job: False,
           plan: Sequence[MarkupJob | None] | None = None) -> list[MarkupResult]:
    plan = plan_markups(results, campaign) if plan is None else plan
    if len(plan) != len(results):
        raise ValueError("the plan has one entry a file")
    kept = [job is not None and reuse(job) for job in plan]
    tasks = [pool.Task(job) if job is not None and not k else None for job, k in zip(plan, kept, strict=True)]
    work = sum(t is not None for t in tasks)
    if work:
        out.mkdir(parents=True, exist_ok=True)
    outcomes = pool.imap(_build, tasks, jobs=min(work or 1, jobs or os.cpu_count() or 1),
                          memory_bytes=limits.memory_bytes, cpu_seconds=limits.cpu_seconds,
                          wall_seconds=limits.wall_seconds,
                          retire=_gave_up)
    written: list[MarkupResult] = []
    for r, job, k, outcome in zip(results, plan, kept, outcomes, strict=True):
        if job is None:
            written.append(MarkupResult(r.file, None, _refusal(r)))
        elif k:
            written.append(MarkupResult(r.file, out / job.name, reused=True))
        elif isinstance(outcome, pool.Failure):
            note = {"wall": "超出处理时间", "cpu": "超出处理时间", "spawn": "处理程序无法启动"}.get(
                outcome.kind, "处理程序异常退出，多为内存不足")
            written.append(MarkupResult(r.file, None, f"无法生成审核意见：文件过大或含有异常内容（{note}）"))
        elif isinstance(outcome, str):
            written.append(MarkupResult(r.file, None, outcome))
        elif isinstance(outcome, _Failed):
            written.append(MarkupResult(r.file, None, BUILD_FAILED, outcome.detail))
        else:
            path = out / job.name
            with atomic_write(path) as fh:
                fh.write(outcome)
            written.append(MarkupResult(r.file, path))
        if done:
            done(written[-1])
    if prune and out.is_dir():
        _prune(out, {m.path.name.casefold() for m in written if m.path is not None})
    return written


def _prune(out: Path, keep: set[str]) -> None:
    """Remove our own earlier copies that this batch did not write again."""
    for path in out.iterdir():
        if path.is_file() and _NAME.search(path.name) and path.name.casefold() not in keep:
            path.unlink(missing_ok=True)


def _gave_up(answer: bytes | str | _Failed) -> bool:
    """A worker that refused or failed a copy leaves (module-level, so a spawned worker can unpickle it)."""
    return isinstance(answer, (str, _Failed))


def _build(job: MarkupJob) -> bytes | str | _Failed:
    """The marked-up copy's bytes, the reason there is none, or why openpyxl failed (in a worker; never raises)."""
    try:
        data = Path(job.file).read_bytes()
        if job.sha256 and hashlib.sha256(data).hexdigest() != job.sha256:
            return "未生成：文件在审核之后被改动过，请重新审核"
        return mark_workbook(data, job.findings, file_name=Path(job.file).name, unit=job.unit,
                             bureau=job.bureau, deadline=job.deadline, today=job.today, scores=job.scores)
    except Exception as exc:  # openpyxl raises many types on a hostile workbook; MemoryError included
        detail = scrub(str(exc)).strip()[:200]
        return _Failed(f"{type(exc).__name__}{': ' + detail if detail else ''}")


# ------------------------------------------------------------------ one workbook


def mark_workbook(data: bytes, findings: Iterable[Finding], *, file_name: str, unit: str = "",
                  bureau: str = "", deadline: dt.date | None = None, today: dt.date | None = None,
                  scores: Sequence[str] = (), patching: bool = True) -> bytes:
    """The bytes of the workbook `data` with `findings` marked and the 审核意见 sheet first (in memory);
    `scores` are the lines stating the bureau's total and grade of each project (`score_lines`).
    `patching` False: always load the workbook in openpyxl (the slow way `patch` stands in for)."""
    findings = list(findings)
    ordered = sorted(findings, key=lambda f: f.severity != "error")  # stable: the report's order in a level
    today = today or dt.date.today()

    def sheet(names: Sequence[str], targets: dict[int, str]) -> review.ReviewSheet:
        return review.describe(ordered, targets, names, name=REVIEW_SHEET, file_name=file_name, unit=unit,
                               bureau=bureau, deadline=deadline, today=today, scores=scores)

    package = _package(data) if patching else None
    if package is not None:  # the fast way: the marks and the sheet written into the department's zip
        names = [s.name for s in package.sheets]
        merges = {s.name: s.merges for s in package.sheets}
        marks, targets = _marks(ordered, names, lambda name: _ranges(merges[name]), lambda name, coord: None)
        try:
            return package.apply(marks, sheet(names, targets), marker.stamp(marker.MARKUP))
        except patch.Unsupported:
            pass
    wb = _loaded(data)
    marks, targets = _marks(ordered, wb.sheetnames,
                            lambda name: [(r.min_row, r.min_col, r.max_row, r.max_col)
                                          for r in wb[name].merged_cells.ranges],
                            lambda name, coord: _note(wb[name], coord))
    _mark_cells(wb, marks)
    review.to_openpyxl(wb, sheet(wb.sheetnames, targets))
    _mark_as_output(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _package(data: bytes) -> patch.Package | None:
    """The workbook as zip parts to patch, or None when it is not in the plain form `patch` handles."""
    try:
        package = patch.Package(data)
        package.check(REVIEW_SHEET)
        return package
    except patch.Unsupported:
        return None


def _loaded(data: bytes):
    """The whole workbook in openpyxl, without our marks of an earlier round (a returned copy)."""
    from openpyxl import load_workbook

    with warnings.catch_warnings():  # "extension not supported" and the like: the copy is a courtesy
        warnings.simplefilter("ignore")
        wb = load_workbook(io.BytesIO(data))
    # a department may send the marked copy back: our old sheet and comments go, the new ones replace them
    if REVIEW_SHEET in wb.sheetnames:
        del wb[REVIEW_SHEET]
    for ws in wb.worksheets:
        for cell in list(ws._cells.values()):  # stored cells only: iter_rows would create the whole extent
            if cell.comment is not None and cell.comment.author == AUTHOR:
                cell.comment = None
    return wb


def _mark_as_output(wb) -> None:
    """The toolkit's mark (marker.py): a scan skips this copy until someone saves it again."""
    from openpyxl.packaging.custom import StringProperty

    props = wb.custom_doc_props
    props.props = [p for p in props.props if p.name != marker.PROPERTY]  # a returned copy: the old stamp goes
    props.append(StringProperty(name=marker.PROPERTY, value=marker.stamp(marker.MARKUP)))
    wb.properties.lastModifiedBy = marker.AUTHOR


Range = tuple[int, int, int, int]  # a merged range: min row, min column, max row, max column


def _ranges(refs: Iterable[str]) -> list[Range]:
    """Merged ranges from their A1:B2 references (a bad one left out: it marks nothing)."""
    found = []
    for ref in refs:
        first, _, last = ref.partition(":")
        top, bottom = parse_a1(first), parse_a1(last or first)
        if top is not None and bottom is not None:
            found.append((*top, *bottom))
    return found


def _resolve(merges: Iterable[Range], cell: str | None) -> tuple[str, tuple[tuple[int, int], ...]] | None:
    """(the coordinate to comment on, the cells to colour) for a finding's cell; None if it names none."""
    rc = parse_a1(cell)
    if rc is None:
        return None
    row, col = rc
    if not (1 <= col <= 16384 and 1 <= row <= 1_048_576):
        return None
    for min_row, min_col, max_row, max_col in merges:
        if min_row <= row <= max_row and min_col <= col <= max_col:
            top = (min_row, min_col)
            if (max_row - min_row + 1) * (max_col - min_col + 1) > MERGE_FILL_LIMIT:
                return a1(top), (top,)
            return a1(top), tuple((r, c) for r in range(min_row, max_row + 1) for c in range(min_col, max_col + 1))
    return a1(rc), (rc,)


def _note(ws, coord: str) -> str | None:
    """The department's own comment on a cell, if any."""
    cell = ws._cells.get(parse_a1(coord))  # stored cells only: never create one to ask
    return cell.comment.text if cell is not None and cell.comment is not None else None


def _marks(findings: list[Finding], sheetnames: Sequence[str], merges: Callable[[str], list[Range]],
           note: Callable[[str, str], str | None]) -> tuple[list[patch.Mark], dict[int, str]]:
    """One mark a cell that findings name (their comment, its colour), and id(finding) → the coordinate it
    was marked at; `merges(sheet)` are a sheet's merged ranges, `note(sheet, coord)` a cell's own comment."""
    by_cell: dict[tuple[str, str], tuple[tuple[tuple[int, int], ...], list[Finding]]] = {}
    targets: dict[int, str] = {}
    known: dict[str, list[Range]] = {}
    names = set(sheetnames)
    for f in findings:
        if not f.sheet or f.sheet not in names or f.sheet == REVIEW_SHEET:
            continue
        if f.sheet not in known:
            known[f.sheet] = merges(f.sheet)
        where = _resolve(known[f.sheet], f.cell)
        if where is None:
            continue
        coord, cells = where
        targets[id(f)] = coord
        by_cell.setdefault((f.sheet, coord), (cells, []))[1].append(f)
    marks = []
    for (sheet, coord), (cells, mine) in by_cell.items():
        level = "error" if any(f.severity == "error" for f in mine) else "warning"
        lines = [f"【{SEVERITY_ZH.get(f.severity, f.severity)}】{title(f.code)}：{scrub(f.message)}" for f in mine]
        own = note(sheet, coord)
        if own is not None:  # the department's own note stays, below ours
            lines.append(f"（原批注）{own}")
        text = "\n".join(lines)
        # 380 px holds about 30 Chinese characters of the 9-point comment font; 16 px a line, a margin
        wrapped = sum(max(1, math.ceil(display_width(line, ambiguous_wide=True) / 50))
                      for line in text.split("\n"))
        marks.append(patch.Mark(sheet, coord, cells, review.fill_colour(level), text, AUTHOR,
                                height=min(16 + 16 * wrapped, 900), width=380))
    return marks, targets


def _mark_cells(wb, marks: list[patch.Mark]) -> None:
    """Colour and comment the marked cells of the openpyxl workbook `wb`."""
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill
    from openpyxl.styles.cell_style import StyleArray

    fill_ids: dict[str, int] = {}  # a fill is hashed into the workbook's list once a colour, not once a cell
    for mark in marks:
        ws = wb[mark.sheet]
        if mark.colour not in fill_ids:
            fill_ids[mark.colour] = wb._fills.add(PatternFill("solid", fgColor=mark.colour))
        for r, c in mark.cells:
            cell = ws.cell(r, c)
            if cell._style is None:
                cell._style = StyleArray()
            cell._style.fillId = fill_ids[mark.colour]
        ws[mark.coord].comment = Comment(mark.text, mark.author, height=mark.height, width=mark.width)
