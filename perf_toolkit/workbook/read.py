"""Reading filled workbooks back into submissions: defined names first, printed labels as the fallback.

`guard` turns an untrusted file into a bounded grid of raw values (`RawWorkbook`) or a
`Rejection`; `extract_submission` (pure) finds the department sheet and the project
sheets, and reads every input by its defined name when the name still sits next to its
label, else by the label itself (spec labels and aliases). It never reads by fixed
coordinates alone and records where each value came from so every finding can name its
sheet and cell. A formula in an input cell is read as the result the file saved with it,
with a warning (`value-formula`); with no saved result (a file written by a program that
does not compute) its value is unknown: an error, and the field path goes to `unknown`.
Computed cells (totals, rate, score) are never read: the toolkit computes them itself.
A 年度指标值/实际完成值 that is a number in a cell formatted as a percentage reads as Excel shows
it (0.93 → "93%"); only .xlsx/.xlsm say which cells are (.xls/.xlsb/.ods give the bare number).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import spec
from ..findings import make
from ..fsutil import irregular_reason, path_text
from ..model import (
    FUND_SOURCES,
    SHARED_INDICATOR_FIELDS,
    TYPED_INDICATOR_FIELDS,
    FieldPath,
    Finding,
    Fund,
    Indicator,
    Location,
    Project,
    Skipped,
    SourcedSubmission,
    Submission,
    Typed,
    location,
    share_repeated_texts,
    shared_locations,
    shared_text,
    submission_to_dict,
)
from ..values import excel_percent_text, excel_serial_to_date
from .guard import MAX_CELL_TEXT, Limits, RawSheet, RawWorkbook, Rejection, load_raw, load_raw_many
from .marker import output_mark
from .xlsx import a1, col_number

Coord = tuple[int, int]
#: Where a project sheet's indicator table is: (header row, column map, first body row, last row of its name or 0).
Table = tuple[int, dict[str, int], int, int]


@dataclass
class WorkbookRead:
    """One file read: the submission with its locations (None when unreadable) and reader findings."""

    file: str
    sourced: SourcedSubmission | None
    findings: list[Finding]
    format: str | None = None
    sha256: str = ""


class ExportError(ValueError):
    """A workbook that cannot be exported (message in Chinese, for the operator)."""


# ------------------------------------------------------------------ discover

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")


def lock_file_reason(name: str) -> str | None:
    """Why a file of this name is an office program's lock file and no workbook (None: it is not one)."""
    if name.startswith("~$"):
        return "Office 临时锁定文件（文件名以 ~$ 开头，文件正在被打开时产生），已跳过"
    if name.startswith(".~lock.") and name.endswith("#"):
        return "LibreOffice/WPS 锁定文件，已跳过"
    return None


def _skip_reason(path: Path) -> str | None:
    reason = lock_file_reason(path.name)
    if reason is None and path.suffix.lower() in (".xlsx", ".xlsm"):
        mark = output_mark(path)  # the toolkit's own summary, score sheet or marked-up copy
        reason = mark.reason if mark else None
    return reason


def _undecodable_name(path: Path) -> str | None:
    """Why a file whose name is not UTF-8 (a zip unpacked on Chinese Windows, GBK bytes) is not read here:
    its name could not be printed or written into a report. `collect` and `run` take it (by content)."""
    if path_text(path.name) == path.name:
        return None
    return (f"文件名不是 UTF-8 编码（{path_text(path.name)}），已跳过；请重命名该文件，"
            "或用 perf-toolkit collect / run 收取（按文件内容认定单位）")


def discover(paths) -> tuple[list[Path], list[Skipped]]:
    """The workbooks to read among files and folders (recursive, sorted), and what was skipped and why."""
    found: list[Path] = []
    skipped: list[Skipped] = []
    seen: set[Path] = set()

    def take(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append(path)

    for given in paths:
        path = Path(given)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                hidden = sorted(d for d in dirs if d.startswith("."))
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for d in hidden:
                    skipped.append(Skipped(str(Path(root) / d), "隐藏文件夹，已跳过"))
                for name in sorted(files):
                    child = Path(root) / name
                    reason = lock_file_reason(name)
                    if reason is None and name.startswith("."):
                        reason = "隐藏文件，已跳过"
                    if reason is None and child.suffix.lower() not in WORKBOOK_SUFFIXES:
                        reason = f"不是电子表格文件（扩展名“{child.suffix or '无'}”），已跳过"
                    reason = reason or _undecodable_name(child) or irregular_reason(child, path) or _skip_reason(child)
                    if reason:
                        skipped.append(Skipped(str(child), reason))
                    else:
                        take(child)
        elif os.path.lexists(path):
            reason = _undecodable_name(path) or irregular_reason(path) or _skip_reason(path)
            if reason:
                skipped.append(Skipped(str(path), reason))
            else:
                take(path)  # named explicitly: always attempted, the guard sniffs its real format
        else:
            skipped.append(Skipped(str(path), "文件或文件夹不存在"))
    return found, skipped


# ------------------------------------------------------------------ the grid of one sheet


_REF = re.compile(r"^=?(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?$")


def parse_ref(ref: str) -> tuple[str, int, int, int, int] | None:
    """(sheet, min_row, min_col, max_row, max_col) of a defined name's reference; None if broken (#REF!)."""
    m = _REF.match(ref.strip())
    if not m:
        return None
    sheet = m[1].replace("''", "'") if m[1] is not None else m[2]
    r1, c1 = int(m[4]), col_number(m[3])
    r2, c2 = (int(m[6]), col_number(m[5])) if m[5] else (r1, c1)
    return sheet, min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


MERGE_CELL_BUDGET = 1_000_000


class _Grid:
    """A sheet's raw values with merge lookup and an index of its label texts."""

    def __init__(self, sheet: RawSheet):
        self.sheet = sheet
        coords = sheet.cells.keys() | sheet.formulas | sheet.errors.keys()
        self.max_row = max((r for r, _ in coords), default=0)
        self.max_col = max((c for _, c in coords), default=0)
        self.merge_of: dict[Coord, tuple[int, int, int, int]] = {}
        budget = MERGE_CELL_BUDGET  # a hostile file may declare huge or overlapping merges
        for rng in sheet.merged:
            r1, c1, r2, c2 = rng
            # beyond the last value a merge matters to nothing: clip it there
            r2, c2 = min(r2, max(self.max_row + 1, r1)), min(c2, max(self.max_col + 1, c1))
            budget -= (r2 - r1 + 1) * (c2 - c1 + 1)
            if budget < 0:
                break
            for r in range(r1, r2 + 1):
                for c in range(c1, c2 + 1):
                    self.merge_of[(r, c)] = rng
        self.texts: dict[str, list[Coord]] = {}
        for rc in sorted(sheet.cells):
            v = sheet.cells[rc]
            if isinstance(v, str):
                self.texts.setdefault(spec.clean_label(v), []).append(rc)

    def filled(self, rc: Coord) -> bool:
        return rc in self.sheet.cells or rc in self.sheet.formulas or rc in self.sheet.errors

    def text(self, rc: Coord) -> str | None:
        v = self.sheet.cells.get(rc)
        return spec.clean_label(v) if isinstance(v, str) else None

    def find(self, labels: set[str]) -> list[Coord]:
        """Cells whose cleaned text is one of `labels`, in reading order."""
        return sorted(rc for label in labels for rc in self.texts.get(label, ()))

    def merge_end(self, rc: Coord) -> int:
        rng = self.merge_of.get(rc)
        return rng[3] if rng else rc[1]

    def left_text(self, rc: Coord) -> str | None:
        """The text of the nearest filled cell left of `rc` (its label), None if that is no text."""
        rng = self.merge_of.get(rc)
        c = (rng[1] if rng else rc[1]) - 1
        while c >= 1:
            if self.filled((rc[0], c)):
                return self.text((rc[0], c))
            c -= 1
        return None

    def up_text(self, rc: Coord, steps: int = 3) -> str | None:
        """The first text above `rc` within a few rows (its column header), skipping numbers and formulas."""
        for r in range(rc[0] - 1, max(rc[0] - 1 - steps, 0), -1):
            top = self.merge_of.get((r, rc[1]))
            cell = (top[0], top[1]) if top else (r, rc[1])
            if self.text(cell) is not None:
                return self.text(cell)
        return None


# ------------------------------------------------------------------ labels

def _labels(label: str, aliases: tuple[str, ...] = ()) -> set[str]:
    return {spec.clean_label(x) for x in (label, *aliases)}


def _field_labels(f: spec.Field) -> tuple[set[str], set[str]]:
    """(the printed label, its aliases), searched in that order."""
    return _labels(f.label), _labels(f.label, f.aliases) - _labels(f.label)


FIELD_LABELS = {f.key: _field_labels(f) for f in spec.PROJECT_FIELDS}
DEPT_LABELS = {f.key: _field_labels(f) for f in (spec.YEAR_FIELD, *spec.DEPARTMENT_FIELDS)}
FUND_ROW_LABELS = [_labels(label, (source, *aliases)) for source, label, aliases in spec.FUND_ROWS]
FUND_COL_LABELS = [_labels(header) for _, header in spec.FUND_COLUMNS]
COLUMN_LABELS = {key: (_labels(header), _labels("", aliases) - {""}) for key, header, aliases in spec.INDICATOR_COLUMNS}
COLUMN_HEADERS = {key: header for key, header, _ in spec.INDICATOR_COLUMNS}
TOTAL_LABELS = _labels(spec.FUNDS_TOTAL_LABEL)
SECTION_LABELS = (set().union(*(a | b for a, b in FIELD_LABELS.values())) | _labels(spec.TOTAL_SCORE_LABEL)
                  | _labels(spec.GRADE_LABEL) | _labels(spec.GOAL_LABEL) | _labels(spec.FUNDS_TITLE) | TOTAL_LABELS)
#: Every label the template prints: a name landing on one of another field is a moved name.
KNOWN_LABELS = (SECTION_LABELS | set().union(*(a | b for a, b in DEPT_LABELS.values())) | _labels(spec.DUTIES.label)
                | set().union(*FUND_ROW_LABELS) | set().union(*FUND_COL_LABELS)
                | {x for a, b in COLUMN_LABELS.values() for x in a | b}
                | _labels(spec.EXECUTION_RATE_LABEL) | _labels(spec.EXECUTION_SCORE_LABEL)
                | _labels(spec.BUDGET_WEIGHT_LABEL) | _labels("主管部门", (spec.FORM_TITLE, spec.INDICATORS_TITLE,
                                                                         spec.WEIGHT_SUM_LABEL, spec.VERSION_LABEL))
                | {spec.clean_label(k + spec.WEIGHT_SUBTOTAL_SUFFIX) for k in spec.TAXONOMY})


def is_stop_label(text: str | None) -> bool:
    """A row label that ends the indicator table (总分, a narrative label, a 合计/小计 row)."""
    return bool(text) and (text in SECTION_LABELS or text.endswith(("合计", "小计")))


def _accept(found: str | None, expected: set[str]) -> bool:
    """Does a name's neighbouring label confirm it? Strict: a name moved by an edit that did not
    update it (openpyxl's insert_rows, a pasted block) must not be trusted."""
    return found is not None and found in expected


# ------------------------------------------------------------------ values


def plain(value: Any) -> Typed:
    """A raw cell value as the model keeps it: stripped text, int for integral numbers, ISO dates."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


def _text(value: Typed) -> str:
    return "" if value is None else str(value)


def _as_excel_shows(value: Typed) -> Typed:
    """A formula's saved number to the 15 significant digits Excel keeps of a typed one (2.94×0.9 is
    2.646, not 2.6460000000000004)."""
    if isinstance(value, float) and math.isfinite(value):
        return plain(float(f"{value:.15g}"))
    return value


class _Reader:
    """State of one extraction: the workbook, its names, and what has been found so far."""

    def __init__(self, raw: RawWorkbook, file: str):
        self.raw, self.file = raw, file
        self.findings: list[Finding] = []
        self.locations: dict[str, Location] = {}
        self.overrides: dict[str, Typed] = {}
        self.unknown: set[str] = set()
        self.grids = {s.name: _Grid(s) for s in raw.sheets}
        self.global_names: dict[str, str] = {}
        self.local_names: dict[str, dict[str, str]] = {}
        for n in raw.names:
            if n.sheet is None:
                self.global_names.setdefault(n.name, n.ref)
            else:
                self.local_names.setdefault(n.sheet, {}).setdefault(n.name, n.ref)
        self.use_names = True
        self.project_code: str | None = None
        # xls, xlsb and ods come through calamine, which gives a formula's cached value as if typed:
        # there a computed cell's value says nothing about an override.
        self.formulas_known = raw.format in ("xlsx", "xlsm")

    # -- names

    def named(self, grid: _Grid, name: str, local: bool) -> tuple[int, int, int, int] | None:
        """The range of a defined name on `grid`'s sheet, if it exists and is not broken."""
        if not self.use_names:
            return None
        names = self.local_names.get(grid.sheet.name, {}) if local else self.global_names
        parsed = parse_ref(names[name]) if name in names else None
        if parsed is None or parsed[0] != grid.sheet.name:
            return None
        return parsed[1:]

    # -- cells

    def locate(self, path: str, grid: _Grid, rc: Coord) -> None:
        self.locations[shared_text(path)] = location(grid.sheet.name, a1(rc))

    def value(self, grid: _Grid, rc: Coord | None, path: str, label: str) -> Typed:
        """An input cell's value; a formula there gives its saved result and a warning, or, with
        none saved, None, an error and the path in `unknown`."""
        if rc is None:
            return None
        self.locate(path, grid, rc)
        sheet = grid.sheet
        if rc in sheet.formulas:
            return self.formula_value(sheet, rc, path, label)
        if rc in sheet.errors:
            return sheet.errors[rc]
        return plain(sheet.cells.get(rc))

    def formula_value(self, sheet: RawSheet, rc: Coord, path: str, label: str) -> Typed:
        where = dict(file=self.file, project=self.project_code, path=path, label=label)
        if rc in sheet.errors or rc in sheet.cached:
            value = sheet.errors[rc] if rc in sheet.errors else _as_excel_shows(plain(sheet.cached[rc]))
            self.findings.append(make("value-formula", self.locations[path], value=_text(value), **where))
            return value
        self.unknown.add(path)
        consequence = "；本项目暂不评分，得分和等级为“待核实”" if FieldPath.parse(path).is_score_input else ""
        self.findings.append(make("value-unreadable", self.locations[path], value="公式",
                                  reason=f"单元格是公式，但文件中没有保存它的计算结果，无法知道它的值{consequence}",
                                  expect="数值或文字（直接填写，不要用公式；文件如由其他程序生成，"
                                         "也可先用 Excel 或 WPS 打开并保存，再提交）", **where))
        return None

    def computed(self, grid: _Grid, rc: Coord | None, path: str) -> None:
        """A computed cell: located; a literal typed over its formula is an override."""
        if rc is None:
            return
        self.locate(path, grid, rc)
        if rc in grid.sheet.cells and self.formulas_known:
            self.overrides[path] = plain(grid.sheet.cells[rc])

    @staticmethod
    def value_right(grid: _Grid, label_rc: Coord) -> Coord | None:
        """The value cell of a label: the first filled cell to its right (merge continuations are
        empty, so merges never shift it), else the cell just after the label; None when the next
        thing to the right is another label (a group heading such as 年度总体目标)."""
        row, start = label_rc[0], grid.merge_end(label_rc) + 1
        for c in range(label_rc[1] + 1, grid.max_col + 1):
            if grid.filled((row, c)):
                if grid.text((row, c)) in KNOWN_LABELS:
                    return (row, start) if start < c else None
                return (row, c)
        return (row, start)

    def field_cell(self, grid: _Grid, name: str, labels: tuple[set[str], set[str]], *, local: bool,
                   skip_rows: set[int] = frozenset()) -> Coord | None:
        """Where a one-cell field is: its defined name if its label confirms it, else next to its
        printed label (exact label before aliases)."""
        rng = self.named(grid, name, local)
        if rng is not None and _accept(grid.left_text(rng[:2]), labels[0] | labels[1]):
            return rng[:2]
        for group in labels:
            for rc in grid.find(group):
                cell = self.value_right(grid, rc) if rc[0] not in skip_rows else None
                if cell is not None:
                    return cell
        return None


# ------------------------------------------------------------------ department


def _year(reader: _Reader, grid: _Grid, rc: Coord | None) -> int | None:
    value = reader.value(grid, rc, "year", spec.YEAR_FIELD.label)
    if value is None or value == "":
        return None
    if isinstance(value, int) and 1900 < value < 3000:
        return value
    m = re.fullmatch(r"(\d{4})\s*年?度?", str(value))
    if m:
        return int(m[1])
    reader.findings.append(make("value-unreadable", reader.locations["year"], file=reader.file, path="year",
                                label=spec.YEAR_FIELD.label, value=value, reason="不是年份",
                                expect="四位数字年份，如 2023"))
    return None


def _date_text(value: Typed) -> str:
    """A date field: a number there is an Excel serial (a date pasted as a value); other values as text."""
    day = excel_serial_to_date(value) if isinstance(value, (int, float)) else None
    return day.isoformat() if day is not None else _text(value)


def _department(reader: _Reader, grid: _Grid, sub: Submission) -> None:
    rc = reader.field_cell(grid, spec.YEAR_FIELD.name, DEPT_LABELS["year"], local=False)
    sub.year = _year(reader, grid, rc)
    dep = sub.department
    for f in spec.DEPARTMENT_FIELDS:
        path = "department." + f.key
        rc = reader.field_cell(grid, f.name, DEPT_LABELS[f.key], local=False)
        value = reader.value(grid, rc, path, f.label)
        text = _date_text(value) if f.kind == "date" else _text(value)
        target = dep.contact if f.key.startswith("contact.") else dep
        setattr(target, f.key.split(".")[-1], text)
    first, last = _duties_range(reader, grid)
    if first is None:
        return
    reader.locate("department.duties", grid, first)
    # the range, then on below it while duties continue (rows typed under it), up to the next label
    r, empty, col = first[0], 0, first[1]
    while r <= grid.max_row and (r <= last or empty < 3):
        if r > last and col > 1 and grid.text((r, col - 1)) in KNOWN_LABELS:
            break
        if grid.filled((r, col)):
            empty = 0
            path = f"department.duties[{len(dep.duties)}]"
            value = reader.value(grid, (r, col), path, spec.DUTIES.label)
            if value in (None, ""):
                reader.locations.pop(path, None)  # a formula: reported, not a duty
            else:
                dep.duties.append(_text(value))
        else:
            empty += 1
        r += 1


def _duties_range(reader: _Reader, grid: _Grid) -> tuple[Coord | None, int]:
    labels = _labels(spec.DUTIES.label)
    rng = reader.named(grid, spec.DUTIES.name, local=False)
    if rng is not None and rng[1] == rng[3] and _accept(grid.left_text(rng[:2]), labels):
        return rng[:2], rng[2]
    for rc in grid.find(labels):
        merge = grid.merge_of.get(rc)
        first = (rc[0], grid.merge_end(rc) + 1)
        return first, merge[2] if merge else rc[0]
    return None, 0


# ------------------------------------------------------------------ projects


@dataclass
class _FundsLayout:
    header_row: int | None
    cols: list[int | None]
    rows: list[int | None]
    total_row: int | None


def _funds_layout(reader: _Reader, grid: _Grid) -> _FundsLayout:
    rng = reader.named(grid, spec.FUNDS_NAME, local=True)
    if rng is not None and rng[2] - rng[0] == 2 and rng[3] - rng[1] == 2:
        rows = list(range(rng[0], rng[2] + 1))
        cols = list(range(rng[1], rng[3] + 1))
        if (all(_accept(grid.left_text((r, cols[0])), FUND_ROW_LABELS[i]) for i, r in enumerate(rows))
                and all(_accept(grid.up_text((rows[0], c), steps=4), FUND_COL_LABELS[j])
                        for j, c in enumerate(cols))):
            header = next((r for r in range(rows[0] - 1, 0, -1) if grid.text((r, cols[0])) in FUND_COL_LABELS[0]),
                          None)
            total = reader.named(grid, spec.FUNDS_TOTAL_NAME, local=True)
            total_row = total[0] if total and _accept(grid.left_text(total[:2]), TOTAL_LABELS) else None
            if total_row is None:
                total_row = next((rc[0] for rc in grid.find(TOTAL_LABELS)), None)
            return _FundsLayout(header, cols, rows, total_row)
    # by labels: column headers on one row, row labels on the left
    header_rc = grid.find(FUND_COL_LABELS[0]) or grid.find(FUND_COL_LABELS[1])
    header_row = header_rc[0][0] if header_rc else None
    cols: list[int | None] = []
    for labels in FUND_COL_LABELS:
        hits = [rc for rc in grid.find(labels) if header_row is None or rc[0] == header_row]
        cols.append(hits[0][1] if hits else None)
    below = header_row or 0
    rows: list[int | None] = []
    for labels in FUND_ROW_LABELS:
        hits = [rc for rc in grid.find(labels) if rc[0] > below]
        rows.append(hits[0][0] if hits else None)
    total = [rc for rc in grid.find(TOTAL_LABELS) if rc[0] > below]
    return _FundsLayout(header_row, cols, rows, total[0][0] if total else None)


def _header_col(grid: _Grid, row: int | None, labels: set[str]) -> int | None:
    if row is None:
        return None
    hits = [rc for rc in grid.find(labels) if rc[0] == row]
    return hits[0][1] if hits else None


def _header_map(grid: _Grid, row: int) -> dict[str, int]:
    """Indicator columns by header text on `row`: exact labels first, then aliases."""
    found: dict[str, int] = {}
    cells = [(c, grid.text((row, c))) for c in range(1, grid.max_col + 1)]
    for pass_ in (0, 1):
        for c, text in cells:
            if text is None or c in found.values():
                continue
            for key, labels in COLUMN_LABELS.items():
                if key not in found and text in labels[pass_]:
                    found[key] = c
                    break
    return found


def _indicator_header(reader: _Reader, grid: _Grid) -> Table | None:
    """(header row, column map, first body row, last row of the defined name or 0); computed once a sheet."""
    rng = reader.named(grid, spec.INDICATORS_NAME, local=True)
    if rng is not None and rng[0] > 1:
        cols = _header_map(grid, rng[0] - 1)
        if "name" in cols and len(cols) >= 3:
            return rng[0] - 1, cols, rng[0], rng[2]
    for rc in grid.find(COLUMN_LABELS["name"][0] | COLUMN_LABELS["name"][1]):
        cols = _header_map(grid, rc[0])
        if len(cols) >= 3:
            first = rc[0] + 1
            extra = _header_map(grid, first)  # a two-row header (指标性质 · 指标值 · 度量单位 under 年度指标值)
            if len(extra) >= 2:
                cols.update(extra)
                first += 1
            return rc[0], cols, first, 0
    return None


#: Indicator values read as Excel shows them when their cell is formatted as a percentage (.xlsx).
PERCENT_READ = frozenset({"target", "actual"})


def _indicators(reader: _Reader, grid: _Grid, i: int, project: Project, table: Table | None) -> None:
    """The indicator rows: from the header down to a section label in the first column or 3 empty rows past
    the table."""
    if table is None:
        return
    _, cols, first, name_last = table
    span = range(min(cols.values()), max(cols.values()) + 1)
    base = f"{FieldPath.of(i)}.indicators"
    reader.locate(base, grid, (first, cols.get("level1", min(cols.values()))))
    r, empty = first, 0
    while r <= grid.max_row:
        lead = next((c for c in span if grid.filled((r, c))), None)
        # the rows after the table are labelled in its first column: a 三级指标 named like a label is no end
        if lead == span[0] and is_stop_label(grid.text((r, lead))):
            break
        if lead is None:
            empty += 1
            if r > name_last and empty >= 3:
                break
            r += 1
            continue
        empty = 0
        k = len(project.indicators)
        values = {}
        for key, c in cols.items():
            rc = (r, c)
            merge = grid.merge_of.get(rc)
            if key in ("level1", "level2") and merge and merge[0] < r and not grid.filled(rc):
                rc = (merge[0], merge[1])  # a 一级/二级 merged down applies to every row of the merge
            label = COLUMN_HEADERS[key]
            value = reader.value(grid, rc, f"{base}[{k}].{key}", label)
            if key in PERCENT_READ and rc in grid.sheet.percent and isinstance(value, (int, float)):
                value = excel_percent_text(value)  # 0.93 in a cell Excel shows as 93% is what the clerk typed: 93%
            values[key] = value if key in TYPED_INDICATOR_FIELDS else _text(value)
            if key in SHARED_INDICATOR_FIELDS:
                values[key] = shared_text(values[key])
        reader.locate(f"{base}[{k}]", grid, (r, min(cols.values())))
        project.indicators.append(Indicator(**values))
        r += 1


def _project(reader: _Reader, grid: _Grid, i: int, table: Table | None) -> Project | None:
    """One project sheet (`table`: its indicator header), or None when all its inputs are empty (a blank 项目3)."""
    reader.project_code = None
    findings_before = len(reader.findings)
    p = str(FieldPath.of(i))
    project = Project()
    skip = {table[0]} if table else set()
    cells = {f.key: reader.field_cell(grid, f.name, FIELD_LABELS[f.key], local=True, skip_rows=skip)
             for f in spec.PROJECT_FIELDS}
    code = reader.value(grid, cells["code"], f"{p}.code", "项目编码")
    reader.project_code = _text(code) or None
    for f in spec.PROJECT_FIELDS:
        value = code if f.key == "code" else reader.value(grid, cells[f.key], f"{p}.{f.key}", f.label)
        setattr(project, f.key, _text(value))
    if cells["code"] is not None:
        reader.locate(p, grid, cells["code"])
    layout = _funds_layout(reader, grid)
    project.funds = [Fund(source) for source in FUND_SOURCES]
    first_money = None
    for j, (source_row, fund) in enumerate(zip(layout.rows, project.funds, strict=True)):
        for (attr, header), col in zip(spec.FUND_COLUMNS, layout.cols, strict=True):
            if source_row is None or col is None:
                continue
            rc = (source_row, col)
            first_money = first_money or rc
            setattr(fund, attr, reader.value(grid, rc, f"{p}.funds[{j}].{attr}", f"{spec.FUND_ROWS[j][1]}·{header}"))
        if source_row is not None and layout.cols[0] is not None:
            reader.locate(f"{p}.funds[{j}]", grid, (source_row, layout.cols[0]))
    if first_money:
        reader.locate(f"{p}.funds", grid, first_money)
    _computed(reader, grid, layout, p)
    _indicators(reader, grid, i, project, table)
    blank = (not any(_text(getattr(project, f.key)) for f in spec.PROJECT_FIELDS)
             and all(getattr(f, a) in (None, "") for f in project.funds for a, _ in spec.FUND_COLUMNS)
             and not project.indicators and len(reader.findings) == findings_before)
    if blank:
        for key in [k for k in reader.locations if k == p or k.startswith(p + ".") or k.startswith(p + "[")]:
            del reader.locations[key]
        for key in [k for k in reader.overrides if k.startswith(p + ".")]:
            del reader.overrides[key]
        return None
    return project


def _computed(reader: _Reader, grid: _Grid, layout: _FundsLayout, p: str) -> None:
    total = reader.named(grid, spec.FUNDS_TOTAL_NAME, local=True)
    if total is not None and total[2] == total[0] and total[3] - total[1] == 2 \
            and _accept(grid.left_text(total[:2]), TOTAL_LABELS):
        total_cells = [(total[0], c) for c in range(total[1], total[3] + 1)]
    elif layout.total_row is not None:
        total_cells = [(layout.total_row, c) if c else None for c in layout.cols]
    else:
        total_cells = [None, None, None]
    for (attr, _), rc in zip(spec.FUND_COLUMNS, total_cells, strict=True):
        reader.computed(grid, rc, f"{p}.funds_total.{attr}")
    if total_cells[0] is not None:
        reader.locate(f"{p}.funds_total", grid, total_cells[0])
    row = total_cells[0][0] if total_cells[0] else layout.total_row
    for name, label, key, override in (
            (spec.EXECUTION_RATE_NAME, spec.EXECUTION_RATE_LABEL, "execution_rate", False),
            (spec.EXECUTION_SCORE_NAME, spec.EXECUTION_SCORE_LABEL, "execution_score", True)):
        rng = reader.named(grid, name, local=True)
        labels = _labels(label)
        if rng is not None and rng[0] == row and _accept(grid.up_text(rng[:2]), labels):
            rc = rng[:2]
        else:
            col = _header_col(grid, layout.header_row, labels)
            rc = (row, col) if row and col else None
        if override:
            reader.computed(grid, rc, f"{p}.{key}")
        elif rc is not None:
            reader.locate(f"{p}.{key}", grid, rc)
    rc = reader.field_cell(grid, spec.TOTAL_SCORE_NAME, (_labels(spec.TOTAL_SCORE_LABEL), set()), local=True)
    reader.computed(grid, rc, f"{p}.total_score")


# ------------------------------------------------------------------ the workbook


def _version(reader: _Reader) -> None:
    """Check the version marker; another version's names are not trusted (labels only)."""
    found: tuple[_Grid, Coord] | None = None
    ref = parse_ref(reader.global_names.get(spec.VERSION_NAME, ""))
    if ref and ref[0] in reader.grids:
        found = reader.grids[ref[0]], ref[1:3]
    else:
        for grid in reader.grids.values():
            cell = next((reader.value_right(grid, rc) for rc in grid.find(_labels(spec.VERSION_LABEL))), None)
            if cell is not None:
                found = grid, cell
                break
    if found is None:
        return
    grid, rc = found
    marker = plain(grid.sheet.cells.get(rc))
    if marker is None or marker == spec.WORKBOOK_VERSION:
        return
    reader.use_names = False
    reader.findings.append(make("template-version-unknown", location(grid.sheet.name, a1(rc)), file=reader.file,
                                found=marker, expected=spec.WORKBOOK_VERSION))


_RESERVED_SHEETS = {spec.GUIDE_SHEET, spec.LISTS_SHEET, spec.PREFILL_SHEET, spec.REVIEW_SHEET}


def _department_grid(reader: _Reader) -> _Grid | None:
    ref = parse_ref(reader.global_names.get(spec.DEPARTMENT_FIELDS[0].name, "")) if reader.use_names else None
    if ref and ref[0] in reader.grids:
        return reader.grids[ref[0]]
    keys = [a | b for a, b in (DEPT_LABELS["code"], DEPT_LABELS["name"], DEPT_LABELS["year"])]
    candidates = [g for name, g in reader.grids.items() if name not in _RESERVED_SHEETS]
    candidates.sort(key=lambda g: g.sheet.name != spec.DEPARTMENT_SHEET)
    return next((g for g in candidates if sum(bool(g.find(k)) for k in keys) >= 2), None)


def _is_project_sheet(reader: _Reader, grid: _Grid, table: Table | None) -> bool:
    if reader.use_names and spec.PROJECT_FIELDS[0].name in reader.local_names.get(grid.sheet.name, {}):
        return True
    has_id = bool(grid.find(FIELD_LABELS["code"][0] | FIELD_LABELS["name"][0]))
    has_body = bool(grid.find(TOTAL_LABELS) or grid.find(_labels(spec.FUNDS_TITLE))
                    or table is not None)
    return has_id and has_body


def _prefilled(reader: _Reader, project_sheets: dict[str, int], codes: dict[str, int]) -> dict[str, Typed]:
    """The bureau's recorded pre-filled values, keyed by the field paths they now have."""
    sheet = reader.raw.sheet(spec.PREFILL_SHEET)
    if sheet is None:
        return {}
    rows: dict[int, dict[int, Any]] = {}
    for (r, c), v in sheet.cells.items():
        if r > 1:
            rows.setdefault(r, {})[c] = v
    records = [(str(row.get(1, "")), str(row.get(2, "")), plain(row.get(3))) for _, row in sorted(rows.items())]
    recorded_codes = {s: _text(v) for s, k, v in records if k == "code"}
    out: dict[str, Typed] = {}
    for sheet_name, key, value in records:
        if key.startswith("department."):
            out[key] = value
            continue
        i = project_sheets.get(sheet_name)
        if i is None:
            i = codes.get(recorded_codes.get(sheet_name, ""))
        if i is not None and key:
            out[f"projects[{i}].{key}"] = value
    return out


def extract_submission(raw: RawWorkbook, file: str) -> tuple[SourcedSubmission | None, list[Finding]]:
    """Read a submission out of a raw workbook (pure): names first, labels as fallback, with locations."""
    reader = _Reader(raw, file)
    for sheet in raw.sheets:
        if sheet.outside_count:
            reader.findings.append(make("data-outside-area", Location(sheet.name, sheet.outside_first),
                                        file=file, count=sheet.outside_count, first=sheet.outside_first))
        for rc, length in sorted(sheet.long_text.items()):
            reader.findings.append(make("text-too-long", Location(sheet.name, a1(rc)), file=file, cell=a1(rc),
                                        place=f"单元格{a1(rc)}", length=length, limit=MAX_CELL_TEXT))
    _version(reader)
    dept = _department_grid(reader)
    candidates = [g for name, g in reader.grids.items() if name not in _RESERVED_SHEETS and g is not dept]
    tables = {g.sheet.name: _indicator_header(reader, g) for g in candidates}  # once a sheet, passed on
    project_grids = [g for g in candidates if _is_project_sheet(reader, g, tables[g.sheet.name])]
    if dept is None or not project_grids:
        reason = "找不到“单位信息”表" if dept is None else "找不到项目表（项目1、项目2……）"
        reader.findings.append(make("template-unrecognised", Location(), file=file, reason=reason))
        return None, reader.findings
    sub = Submission()
    _department(reader, dept, sub)
    sheets_index: dict[str, int] = {}
    for grid in project_grids:
        project = _project(reader, grid, len(sub.projects), tables[grid.sheet.name])
        if project is not None:
            sheets_index[grid.sheet.name] = len(sub.projects)
            sub.projects.append(project)
    share_repeated_texts(sub)
    codes = {p.code: i for i, p in reversed(list(enumerate(sub.projects))) if p.code}
    sourced = SourcedSubmission(sub, file=file, locations=shared_locations(reader.locations), overrides=reader.overrides,
                                prefilled=_prefilled(reader, sheets_index, codes), unknown=reader.unknown)
    return sourced, reader.findings


# ------------------------------------------------------------------ files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


def _result(path, loaded: RawWorkbook | Rejection | WorkbookRead) -> WorkbookRead:
    if isinstance(loaded, WorkbookRead):  # extracted in the worker already
        return loaded
    file = str(path)
    if isinstance(loaded, Rejection):
        finding = make("file-unreadable", Location(), file=file, reason=loaded.reason, advice=loaded.advice)
        return WorkbookRead(file, None, [finding], None, _sha256(Path(path)))
    return _extracted(file, loaded)


def _extracted(file: str, raw: RawWorkbook) -> WorkbookRead:
    """A parsed book's submission, found where it was parsed (`load_raw_many`'s `finish`: in the worker,
    in parallel and under the guard's limits; only the read crosses back, never the raw grid)."""
    sourced, findings = extract_submission(raw, file)
    return WorkbookRead(file, sourced, findings, raw.format, _sha256(Path(file)))


def read_workbook(path, *, limits: Limits = Limits(), isolate: bool = True) -> WorkbookRead:
    """Read one workbook (any format the guard accepts) into a sourced submission and reader findings;
    isolate=False parses in-process (the fuzz targets: thousands of inputs a second, crashes seen)."""
    return _result(path, load_raw(path, limits, isolate=isolate))


def read_workbooks(paths, *, limits: Limits = Limits(), jobs: int | None = None,
                   ) -> tuple[list[WorkbookRead], list[Skipped]]:
    """Discover and read many workbooks in parallel children; results in discovery order."""
    files, skipped = discover(paths)
    return read_files(files, limits=limits, jobs=jobs), skipped


def read_files(files: list[Path], *, limits: Limits = Limits(), jobs: int | None = None) -> list[WorkbookRead]:
    """Read workbooks already `discover`ed, in parallel children (where each is also extracted); in order."""
    return [_result(path, loaded) for path, loaded in load_raw_many(files, limits, jobs=jobs, finish=_extracted)]


def export_workbook(path) -> dict:
    """The submission-v1 JSON dict of a filled workbook; ExportError when it cannot be read at all.

    The form always has a row per fund source; a row with no amount typed is left out, so a
    submission written with `template --fill` exports back to the same JSON.
    """
    result = read_workbook(path)
    if result.sourced is None:
        messages = "；".join(f.message for f in result.findings if f.severity == "error")
        raise ExportError(f"{path}：{messages or '无法读取'}")
    data = submission_to_dict(result.sourced.submission)
    for project in data["projects"]:
        project["funds"] = [f for f in project["funds"]
                            if any(f[attr] not in (None, "") for attr, _ in spec.FUND_COLUMNS)]
    return data
