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
from copy import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import spec
from ..findings import CATALOGUE, SEVERITY_ZH, title
from ..fsutil import atomic_write
from ..model import Finding
from ..numbers import PENDING, points, round2
from ..text import display_width, safe_name, scrub
from . import marker, patch, pool
from .guard import Limits
from .xlsx import a1, parse_a1

if TYPE_CHECKING:
    from ..config import Campaign
    from ..model import Evaluation, FileResult

REVIEW_SHEET = spec.REVIEW_SHEET
SUFFIX = "审核意见"
AUTHOR = "区财政局审核"
MARKABLE_FORMATS = ("xlsx", "xlsm")
ERROR_COLOUR, WARNING_COLOUR = "FFC7CE", "FFEB9C"  # Excel's own "bad" and "neutral" cell styles
HEADERS = ("序号", "级别", "问题", "工作表", "单元格", "说明")
WIDTHS = (6, 7, 22, 10, 9, 72)  # Excel column units; a Chinese character takes two
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
    package = _package(data) if patching else None  # the fast way: mark a shadow, patch its parts into the department's zip
    wb = package.shadow((f.sheet, f.cell) for f in findings) if package is not None else _loaded(data)
    ordered = sorted(findings, key=lambda f: f.severity != "error")  # stable: the report's order in a level
    targets = _mark_cells(wb, ordered)
    _review_sheet(wb, ordered, targets, file_name=file_name, unit=unit, bureau=bureau, deadline=deadline,
                  today=today or dt.date.today(), scores=scores)
    _mark_as_output(wb)
    if package is not None:
        try:
            return package.apply(wb, REVIEW_SHEET)
        except patch.Unsupported:
            return mark_workbook(data, findings, file_name=file_name, unit=unit, bureau=bureau, deadline=deadline,
                                 today=today, scores=scores, patching=False)
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


def _resolve(ws, cell: str | None) -> tuple[str, list[tuple[int, int]]] | None:
    """(the coordinate to comment on, the cells to colour) for a finding's cell; None if it names none."""
    rc = parse_a1(cell)
    if rc is None:
        return None
    row, col = rc
    if not (1 <= col <= 16384 and 1 <= row <= 1_048_576):
        return None
    for rng in ws.merged_cells.ranges:
        if rng.min_row <= row <= rng.max_row and rng.min_col <= col <= rng.max_col:
            top = (rng.min_row, rng.min_col)
            if rng.size["rows"] * rng.size["columns"] > MERGE_FILL_LIMIT:
                return a1(top), [top]
            return a1(top), [(r, c) for r, c in rng.cells]
    return a1(rc), [rc]


def _mark_cells(wb, findings: list[Finding]) -> dict[int, str]:
    """Colour and comment every cell a finding names; id(finding) → the coordinate it was marked at."""
    from openpyxl.comments import Comment
    from openpyxl.styles.cell_style import StyleArray

    by_cell: dict[tuple[str, str], tuple[list[tuple[int, int]], list[Finding]]] = {}
    targets: dict[int, str] = {}
    for f in findings:
        if not f.sheet or f.sheet not in wb.sheetnames or f.sheet == REVIEW_SHEET:
            continue
        where = _resolve(wb[f.sheet], f.cell)
        if where is None:
            continue
        coord, cells = where
        targets[id(f)] = coord
        by_cell.setdefault((f.sheet, coord), (cells, []))[1].append(f)
    fill_ids: dict[str, int] = {}  # a fill is hashed into the workbook's list once a level, not once a cell
    for (sheet, coord), (cells, mine) in by_cell.items():
        ws = wb[sheet]
        level = "error" if any(f.severity == "error" for f in mine) else "warning"
        if level not in fill_ids:
            fill_ids[level] = wb._fills.add(_fill(level))
        for r, c in cells:
            cell = ws.cell(r, c)
            if cell._style is None:
                cell._style = StyleArray()
            cell._style.fillId = fill_ids[level]
        lines = [f"【{SEVERITY_ZH.get(f.severity, f.severity)}】{title(f.code)}：{scrub(f.message)}" for f in mine]
        anchor = ws[coord]
        if anchor.comment is not None:  # the department's own note stays, below ours
            lines.append(f"（原批注）{anchor.comment.text}")
        text = "\n".join(lines)
        # 380 px holds about 30 Chinese characters of the 9-point comment font; 16 px a line, a margin
        wrapped = sum(max(1, math.ceil(display_width(line, ambiguous_wide=True) / 50))
                      for line in text.split("\n"))
        anchor.comment = Comment(text, AUTHOR, height=min(16 + 16 * wrapped, 900), width=380)
    return targets


def _fill(severity: str):
    """The mark of a level: light red for an error, light yellow for anything else."""
    from openpyxl.styles import PatternFill

    return PatternFill("solid", fgColor=ERROR_COLOUR if severity == "error" else WARNING_COLOUR)


# ------------------------------------------------------------------ the 审核意见 sheet


def _put(cell, value) -> None:
    """Write a value; text is always text (never a formula, whatever it starts with)."""
    if isinstance(value, str):
        cell.value = scrub(value)
        cell.data_type = "s"
    else:
        cell.value = value


def _height(texts: Iterable[tuple[str, float]], minimum: float = 20.0) -> float:
    """A row height (points) showing every (text, column width) wrapped, at 11-point type."""
    lines = 1
    for text, width in texts:
        usable = max(width - 2, 2)  # cell padding and the indent
        lines = max(lines, sum(max(1, math.ceil(display_width(p, ambiguous_wide=True) / usable))
                               for p in str(text).split("\n")))
    return min(409.0, max(minimum, lines * 15.5 + 6))


class _Formats:
    """Cell formats made once and copied: assigning a Font/Border/… to a cell hashes it into the workbook's
    style lists each time (most of the sheet's cost); a fresh cell given a copy of the first one's style
    array has the same format, and the lists grow in the same order."""

    def __init__(self) -> None:
        self._made: dict[object, object] = {}

    def apply(self, cell, key: object, **styles) -> None:
        """Give the fresh `cell` the format `key`, made from `styles` (font=…, border=…) on first use."""
        made = self._made.get(key)
        if made is None:
            for name, value in styles.items():
                setattr(cell, name, value)
            self._made[key] = copy(cell._style)
        else:
            cell._style = copy(made)


def _font(base, **changes):
    """A copy of `base` (a Font) with some attributes changed."""
    font = copy(base)
    for key, value in changes.items():
        setattr(font, key, value)
    return font


def _date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _review_sheet(wb, findings: list[Finding], targets: dict[int, str], *, file_name: str, unit: str,
                  bureau: str, deadline: dt.date | None, today: dt.date, scores: Sequence[str] = ()) -> None:
    from openpyxl.styles import Alignment, Border, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.hyperlink import Hyperlink
    from openpyxl.worksheet.properties import PageSetupProperties

    ws = wb.create_sheet(REVIEW_SHEET, 0)
    base = ws.cell(1, 1).font  # the workbook's default font: a bare Font() would fall back to a serif
    last = get_column_letter(len(HEADERS))
    total = sum(WIDTHS)
    for i, w in enumerate(WIDTHS, 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    thin = Side(style="thin", color="808080")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")
    left = Alignment(horizontal="left", vertical="center", wrap_text=True, indent=1)  # off the border
    centre = Alignment(horizontal="center", vertical="center", wrap_text=True)
    formats = _Formats()
    errors = sum(f.severity == "error" for f in findings)
    warns = sum(f.severity == "warning" for f in findings)

    def banner(row: int, text: str, *, font=None, align=wrap, minimum: float = 20.0) -> None:
        ws.merge_cells(f"A{row}:{last}{row}")
        _put(ws.cell(row, 1), text)
        ws.cell(row, 1).alignment = align
        if font is not None:
            ws.cell(row, 1).font = font
        ws.row_dimensions[row].height = _height([(text, total)], minimum)

    banner(1, f"{scrub(unit).strip()}自评填报表审核意见", font=_font(base, size=16, bold=True),
           align=Alignment(horizontal="center", vertical="center", wrap_text=True), minimum=32)
    facts = [f"填报表：{file_name}", f"审核日期：{_date(today)}"] + ([f"审核单位：{bureau}"] if bureau else [])
    banner(2, "　　".join(facts) + f"\n共发现问题 {errors + warns} 个：错误 {errors} 个、警告 {warns} 个。")
    row = 3
    if scores:  # the bureau's result, before the list of what to correct
        banner(row, "审核结果（按评分规则核定）：\n" + "\n".join(scores), font=_font(base, bold=True))
        row += 1
    banner(row, "标红的单元格有错误，必须改正；标黄的单元格有警告，请核实，确有问题的请改正或在相应的说明栏中说明原因。"
              "在填报表中把鼠标移到标出的单元格上可以看到批注；点击下表“单元格”一栏可以跳转到该单元格。",
           font=_font(base, color="595959"))
    head = row + 1
    for c, text in enumerate(HEADERS, 1):
        cell = ws.cell(head, c)
        _put(cell, text)
        formats.apply(cell, "head", font=_font(base, bold=True), border=border,
                      fill=PatternFill("solid", fgColor="D9D9D9"),
                      alignment=Alignment(horizontal="center", vertical="center"))
    ws.row_dimensions[head].height = 22
    link_font = _font(base, color="0563C1", underline="single")
    for n, f in enumerate(findings, 1):
        r = head + n
        coord = targets.get(id(f))
        values = [n, SEVERITY_ZH.get(f.severity, f.severity), title(f.code), f.sheet or "—", f.cell or "—",
                  scrub(f.message)]
        linked = bool(f.sheet and f.sheet in wb.sheetnames and f.sheet != REVIEW_SHEET)
        for c, value in enumerate(values, 1):
            cell = ws.cell(r, c)
            _put(cell, value)
            if c == 2:  # the level, coloured as its cells are
                formats.apply(cell, ("level", f.severity), border=border, alignment=centre, fill=_fill(f.severity))
            elif c == 5 and linked:
                formats.apply(cell, "link", border=border, alignment=centre, font=link_font)
            else:
                formats.apply(cell, ("plain", c in (1, 4, 5)), border=border, alignment=centre if c in (1, 4, 5) else left)
        if linked:
            target = coord or "A1"  # a finding about a whole sheet: its first cell
            sheet = f.sheet.replace("'", "''")
            link = ws.cell(r, 5)
            link.hyperlink = Hyperlink(ref=link.coordinate, location=f"'{sheet}'!{target}",
                                       tooltip=f"转到 {f.sheet}!{target}")
        ws.row_dimensions[r].height = _height([(values[2], WIDTHS[2]), (values[5], WIDTHS[5])])
    end = head + len(findings)
    when = f"于{_date(deadline)}前" if deadline else ""
    banner(end + 2, f"请在本单位的原填报表中改正以上标出的单元格（也可以直接在本文件中改正），改正后{when}重新报送。"
                    "本文件中的颜色标记、批注和“审核意见”工作表只是审核提示，工具读取填报表时不读取这些内容，无需删除。",
           font=_font(base, bold=True))
    if bureau:
        banner(end + 3, f"{bureau}\n{_date(today)}",
               align=Alignment(horizontal="right", vertical="top", wrap_text=True))
    ws.freeze_panes = ws.cell(head + 1, 1)
    ws.print_title_rows = f"{head}:{head}"
    ws.print_area = f"A1:{last}{end + (3 if bureau else 2)}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.sheet_view.zoomScale = 100
    for other in wb.worksheets:
        other.sheet_view.tabSelected = other is ws
    wb.active = 0
