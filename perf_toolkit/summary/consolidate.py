"""The district summary (绩效自评情况汇总, rules.md §7): every table of the summary workbook, as DataFrames.

`summary_frames()` is pure: an evaluated batch, the campaign (roster, thresholds) and the
earlier years' history in; one DataFrame per table out, with the Chinese column names of
the workbook. `overview` computes the 总览 blocks and `yoy` the year-over-year columns;
`summary_book.write_summary()` lays the frames out with xlsxwriter, and `rollup` rebuilds
the same tables one level up from district summaries (through `assemble()`).

The rules every figure follows (also printed on the 总览 sheet, `RULES`):
- Money is in 万元. Each amount is rounded to the cent (1 分 = 0.000001 万元) when it enters
  the summary, and every total is the exact sum of those amounts; the sheets display two
  decimals. So any column's sum equals its 合计 row and the 总览 figure to the cent.
- A project's score is its official total (rounded once, half up, to 2 decimals); means are
  taken over those. Rates are quotients of the amounts; the rate bands are decided on the
  rate as displayed (0.01 %).
- One file counts per department: of several readable files with the same 单位编码, the one
  modified last (file system mtime; ties: the later in input order) counts, the others are
  listed as superseded.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from .. import findings as catalogue
from ..check.evaluate import Evaluation, FileResult, ProjectEntry
from ..config import Campaign
from ..model import FUND_SOURCES, Finding
from ..numbers import number_or_none, round_half_up
from ..spec import TAXONOMY
from .history import History

SUMMARY_SCHEMA = "perf-toolkit/summary/v1"
LEVEL_DISTRICT, LEVEL_CITY = "区县", "全市"

# ------------------------------------------------------------------ column names (the workbook's)

DISTRICT = "区县"
CODE, NAME, IN_ROSTER = "单位编码", "单位名称", "名单内"
P_CODE, P_NAME = "项目编码", "项目名称"
INITIAL, BUDGET, SPENT = "年初预算数（万元）", "全年预算数（万元）", "全年执行数（万元）"
RATE, EXEC_SCORE, SCORE, GRADE = "执行率", "预算执行得分", "总分", "等级"
PROJECTS, MEAN, MIN_SCORE = "项目数", "平均得分", "最低得分"
ERRORS, WARNINGS, CODES, FLAGS = "错误数", "警告数", "问题", "标记"
FILE, MODIFIED, SUPERSEDED = "报送文件", "文件修改时间", "被替代的文件"
TOTAL = "合计"
PREV_RATE, RATE_CHANGE = "上年执行率", "执行率变化"

#: The sheets of the summary in workbook order; the first six tables are blocks of the 总览 sheet.
OVERVIEW_BLOCKS = ("总览", "等级分布", "执行率分布", "问题统计", "问题代码统计", "口径说明")
SHEETS = ("区县汇总", "部门汇总", "项目明细", "指标明细", "问题清单", "未报送单位", "结果应用", "历年对比", "元数据")

#: Execution-rate bands: (name, definition, test on the displayed rate r); NaN rates go to the last.
RATE_BANDS: tuple[tuple[str, str], ...] = (
    ("100%", "执行率 ≥ 100%（含超预算执行）"),
    ("90%–100%", "90% ≤ 执行率 < 100%"),
    ("80%–90%", "80% ≤ 执行率 < 90%"),
    ("60%–80%", "60% ≤ 执行率 < 80%"),
    ("60%以下", "0 < 执行率 < 60%"),
    ("0%", "执行率 = 0（有预算，无支出）"),
    ("无法计算", "全年预算数为空或为 0"),
)

RULES = (
    "金额单位为万元。每笔金额按分（0.000001万元）取整后计入汇总，各合计数为这些金额的精确合计，表中显示两位小数；任一列的合计与“合计”行、总览数值一致到分。",
    "执行率 = 全年执行数 ÷ 全年预算数；单位和全区的执行率按金额加权（执行数合计 ÷ 预算数合计）。",
    "项目得分为各项目的总分（按评分规则精确计算后四舍五入保留两位小数）；平均得分为这些得分的算术平均，加权平均以全年预算数为权数（不含全年预算数为0的项目）。",
    "执行率区间按显示的执行率（精确到0.01%）划分：" + "；".join(f"{n}：{d}" for n, d in RATE_BANDS) + "。",
    "同一单位报送多个文件时，以文件修改时间最新的一份计入汇总（修改时间相同时以排在后面的为准），其余列为“被替代”；无法读取的文件不计入已报送单位。",
    "问题数包括各单位计入汇总的文件、被替代提示和无法读取的文件。",
)


# ------------------------------------------------------------------ small numeric helpers


def cents(x) -> float | None:
    """An amount in 万元 rounded to the cent (6 decimals); None for nothing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round_half_up(float(x), 6)


def money_sum(values: Iterable) -> float:
    """The exact sum of cent amounts (fsum, then the float noise dropped at the cent)."""
    return round_half_up(math.fsum(v for v in values if v is not None and not _isnan(v)), 6) or 0.0


def ratio(num: float, den: float) -> float:
    return num / den if den and den > 0 else np.nan


def displayed_rate(rate) -> float | None:
    """The rate as the sheets show it (0.01 % = 4 decimals of the fraction)."""
    return None if rate is None or _isnan(rate) else round_half_up(float(rate), 4)


def rate_band(rate) -> str:
    """The band (RATE_BANDS name) of an execution rate."""
    r = displayed_rate(rate)
    if r is None:
        return RATE_BANDS[-1][0]
    for (name, _), low in zip(RATE_BANDS[:4], (1.0, 0.9, 0.8, 0.6), strict=True):
        if r >= low:
            return name
    return RATE_BANDS[4][0] if r > 0 else RATE_BANDS[5][0]


def _isnan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)


def _mean(values: Iterable) -> float:
    v = [float(x) for x in values if x is not None and not _isnan(x)]
    return math.fsum(v) / len(v) if v else np.nan


def weighted_mean(scores: Iterable, weights: Iterable) -> float:
    """Σ(score × weight) ÷ Σweight over pairs with a score and a positive weight."""
    pairs = [(float(s), float(w)) for s, w in zip(scores, weights, strict=True)
             if s is not None and not _isnan(s) and w is not None and not _isnan(w) and w > 0]
    den = math.fsum(w for _, w in pairs)
    return math.fsum(s * w for s, w in pairs) / den if den > 0 else np.nan


# ------------------------------------------------------------------ the intake: which file counts


@dataclass
class Counts:
    """How many departments and files the summary covers (the 总览 and the 元数据 carry them)."""

    expected: int | None = None  # departments on the roster; None without a roster
    submitted: int = 0  # departments with a counted file (on the roster or not)
    unknown: int = 0  # of those, not on the roster
    missing: int = 0
    files: int = 0
    unreadable: int = 0
    superseded: int = 0
    skipped: int = 0  # lock files, hidden files, non-spreadsheets: never read

    LABELS = (("expected", "应报送单位数"), ("submitted", "已报送单位数"), ("unknown", "名单外单位数"),
              ("missing", "未报送单位数"), ("files", "收到文件数"), ("unreadable", "无法读取文件数"),
              ("superseded", "被替代文件数"), ("skipped", "跳过文件数"))


@dataclass
class Intake:
    """The files of a batch sorted out against the roster."""

    counted: list[int]  # indices into evaluation.files, one per department
    superseded: dict[int, int]  # superseded file -> the file that replaced it
    extra: dict[int, list[Finding]] = field(default_factory=dict)  # roster findings per file
    modified: dict[int, dt.datetime | None] = field(default_factory=dict)


def file_mtime(path: str) -> dt.datetime | None:
    """A file's modification time (local, to the second), None when it is not a file on disk."""
    try:
        return dt.datetime.fromtimestamp(os.stat(path).st_mtime).replace(microsecond=0)
    except (OSError, ValueError, OverflowError):
        return None


def intake(evaluation: Evaluation, campaign: Campaign) -> Intake:
    """Decide which file counts for each department, and make the roster findings."""
    files = evaluation.files
    modified = {i: file_mtime(r.file) for i, r in enumerate(files)}
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(files):
        if r.sourced is not None:
            code = r.sourced.submission.department.code.strip()
            groups.setdefault(code or f"#{i}", []).append(i)  # no code: a file is its own department
    roster = {e.code for e in campaign.roster}
    out = Intake([], {}, {}, modified)
    oldest = dt.datetime.min
    for members in groups.values():
        newest = max(members, key=lambda i: (modified[i] or oldest, i))
        out.counted.append(newest)
        item = files[newest].sourced
        for i in members:
            if i == newest:
                continue
            out.superseded[i] = newest
            when = modified[i].strftime("%Y-%m-%d %H:%M:%S") if modified[i] else "未知"
            out.extra.setdefault(i, []).append(catalogue.make(
                "superseded", files[i].sourced.where("department.code"), file=files[i].file,
                newer=os.path.basename(files[newest].file), modified=when))
        dep = item.submission.department
        if roster and dep.code.strip() not in roster:
            out.extra.setdefault(newest, []).append(catalogue.make(
                "department-unknown", item.where("department.code"), file=files[newest].file,
                dept_code=dep.code.strip() or "（未填）", dept_name=dep.name.strip() or "单位名称未填"))
    out.counted.sort()
    return out


# ------------------------------------------------------------------ the tables of one district


def _dept_order(campaign: Campaign) -> dict[str, int]:
    return {e.code: n for n, e in enumerate(campaign.roster)}


def _findings_of(files: list[FileResult], take: Intake) -> list[tuple[int, Finding]]:
    """Every finding the summary lists: counted files in full, superseded files by their notice only."""
    out = []
    for i, r in enumerate(files):
        own = [] if i in take.superseded else list(r.findings)
        out.extend((i, f) for f in own + take.extra.get(i, []))
    return out


def _joined(codes: Iterable[str]) -> str:
    """The problems of a row as their short Chinese titles, each once, in order."""
    return "、".join(dict.fromkeys(catalogue.title(c) for c in codes if c))


def _counted_projects(evaluation: Evaluation, take: Intake) -> list[ProjectEntry]:
    """The scored projects of the counted files, each with its rows and findings (grouped once)."""
    s_of_file = {evaluation.file_index(s): s for s in range(len(evaluation.items))}
    return [e for i in take.counted if i in s_of_file for e in evaluation.projects_of(s_of_file[i])]


def _project_table(evaluation: Evaluation, take: Intake, campaign: Campaign,
                   order: dict[str, int]) -> pd.DataFrame:
    """项目明细: one row per project; 错误数/警告数/问题 count the project's own findings (by field path)."""
    rows = []
    for entry in _counted_projects(evaluation, take):
        r, found = entry.row, entry.findings
        rate = r["execution_rate"]
        row = {
            CODE: str(r["dept_code"] or "").strip(), NAME: r["dept_name"], P_CODE: r["code"], P_NAME: r["name"],
            INITIAL: cents(r["initial_budget"]), BUDGET: cents(r["adjusted_budget"]), SPENT: cents(r["executed"]),
            RATE: float(rate) if not _isnan(float(rate)) else np.nan,
            EXEC_SCORE: round_half_up(r["execution_score"]),
        }
        for level1 in TAXONOMY:
            key = f"score_{level1}"
            if key in r:
                row[f"{level1}得分"] = round_half_up(r[key])
        row.update({SCORE: float(r["total_display"]), GRADE: r["grade"], ERRORS: sum(f.severity == "error" for f in found),
                    WARNINGS: sum(f.severity == "warning" for f in found),
                    CODES: _joined(f.code for f in found),
                    FLAGS: _flags(rate, bool(r["grade_capped"]), campaign.low_execution_rate)})
        for source in FUND_SOURCES:
            row[f"{source}·全年预算数（万元）"] = cents(r.get(f"adjusted_budget:{source}"))
            row[f"{source}·全年执行数（万元）"] = cents(r.get(f"executed:{source}"))
        row[FILE] = evaluation.files[entry.file].file
        row["_order"] = (order.get(row[CODE], len(order)), row[CODE], entry.s, entry.p)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=[CODE, NAME, P_CODE, P_NAME, INITIAL, BUDGET, SPENT, RATE, EXEC_SCORE, SCORE,
                                     GRADE, ERRORS, WARNINGS, CODES, FLAGS, FILE])
    frame = frame.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    # 成本指标 as its own 一级 exists only under the 2021 rules: show it only when used
    if "成本指标得分" in frame and not frame["成本指标得分"].fillna(0).any():
        frame = frame.drop(columns="成本指标得分")
    return frame


def _flags(rate, capped: bool, threshold: float) -> str:
    r = displayed_rate(rate)
    out = []
    if r is None:
        out.append("执行率无法计算")
    elif r < threshold:
        out.append(f"执行率低于{threshold:.0%}")
    elif r > 1:
        out.append("超预算执行")
    if capped:
        out.append("等级受执行率限制")
    return "；".join(out)


def _indicator_table(evaluation: Evaluation, take: Intake, projects: pd.DataFrame) -> pd.DataFrame:
    """指标明细: one row per indicator; 问题 lists the findings about that indicator (by field path)."""
    rows = []
    for entry in _counted_projects(evaluation, take):
        owner = entry.row
        dept_code = str(owner["dept_code"] or "").strip()
        for r in entry.indicators:
            met = r["met"]
            rows.append({
                CODE: dept_code, NAME: owner["dept_name"], P_CODE: owner["code"], P_NAME: owner["name"],
                "一级指标": r["level1"], "二级指标": r["level2"], "三级指标": r["name"], "指标方向": r["direction"],
                "年度指标值": r["target"], "实际完成值": r["actual"], "计量单位": r["unit"],
                "指标值（解析）": number_or_none(r["A"]), "完成值（解析）": number_or_none(r["B"]),
                "解析单位": r["t_unit"] or r["a_unit"] or "",
                "完成率": number_or_none(r["completion"]), "分值": round_half_up(r["weight"]),
                "得分": round_half_up(r["score"]), "自评得分": round_half_up(number_or_none(r["claimed"])),
                "是否达成": "" if met is None or _isnan(met) else ("是" if met else "否"),
                "定性档次": r["band"] or "", CODES: _joined(f.code for f in entry.indicator_findings(int(r["i"]))),
                "_order": (entry.s, entry.p, int(r["i"])),
            })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=[CODE, NAME, P_CODE, P_NAME, "三级指标", "分值", "得分", CODES])
    position = {(c, p): n for n, (c, p) in enumerate(zip(projects[CODE], projects[P_CODE], strict=True))}
    frame["_pos"] = [position.get((c, p), len(position)) for c, p in zip(frame[CODE], frame[P_CODE], strict=True)]
    return frame.sort_values(["_pos", "_order"], kind="stable").drop(columns=["_pos", "_order"]).reset_index(drop=True)


def _findings_table(files: list[FileResult], listed: list[tuple[int, Finding]],
                    order: dict[str, int]) -> pd.DataFrame:
    rows = []
    for n, (i, f) in enumerate(listed):
        sub = files[i].sourced.submission if files[i].sourced is not None else None
        code = sub.department.code.strip() if sub else ""
        rows.append({
            "级别": catalogue.SEVERITY_ZH.get(f.severity, f.severity), "问题": catalogue.title(f.code), "代码": f.code,
            "类别": catalogue.CATALOGUE[f.code].category if f.code in catalogue.CATALOGUE else "",
            CODE: code, NAME: sub.department.name if sub else "", P_CODE: f.project or "",
            "文件": f.file or files[i].file, "工作表": f.sheet or "", "单元格": f.cell or "", "说明": f.message,
            "_order": (f.severity != "error", order.get(code, len(order)) if code else len(order) + 1, code, n),
        })
    columns = ["级别", "问题", "代码", "类别", CODE, NAME, P_CODE, "文件", "工作表", "单元格", "说明"]
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(rows).sort_values("_order", kind="stable")[columns].reset_index(drop=True)


def _department_table(evaluation: Evaluation, take: Intake, projects: pd.DataFrame, problems: pd.DataFrame,
                      campaign: Campaign, grades: tuple[str, ...], order: dict[str, int]) -> pd.DataFrame:
    """部门汇总: one row per counted file; projects and problems grouped once, not filtered per department."""
    roster = {e.code for e in campaign.roster}
    empty = projects.iloc[0:0]
    by_file = {key: group for key, group in projects.groupby([CODE, FILE], sort=False)} if len(projects) else {}
    levels = {"错误": ERRORS, "警告": WARNINGS}
    by_code: Counter = Counter()  # (单位编码, column) -> count; a file without a code counts by its name
    by_name: Counter = Counter()
    for code, file, level in zip(problems[CODE], problems["文件"], problems["级别"], strict=True):
        if level in levels:
            by_code[(code, levels[level])] += 1
            by_name[(file, levels[level])] += 1
    replaced: dict[int, list[str]] = {}
    for j, k in take.superseded.items():
        replaced.setdefault(k, []).append(os.path.basename(evaluation.files[j].file))
    rows = []
    for i in take.counted:
        r = evaluation.files[i]
        dep = r.sourced.submission.department
        code = dep.code.strip()
        counts, key = (by_code, code) if code else (by_name, r.file)
        row = {CODE: code, NAME: dep.name, IN_ROSTER: ("是" if code in roster else "否") if roster else "—"}
        row.update(_money_figures(by_file.get((code, r.file), empty), grades))
        row.update({ERRORS: counts[(key, ERRORS)], WARNINGS: counts[(key, WARNINGS)],
                    FILE: r.file, MODIFIED: take.modified.get(i), SUPERSEDED: "、".join(replaced.get(i, [])),
                    "_order": (order.get(code, len(order)), code, i)})
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=[CODE, NAME, IN_ROSTER, PROJECTS, INITIAL, BUDGET, SPENT, RATE, MEAN, MIN_SCORE,
                                     *grades, ERRORS, WARNINGS, FILE, MODIFIED, SUPERSEDED])
    return pd.DataFrame(rows).sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def _money_figures(projects: pd.DataFrame, grades: tuple[str, ...]) -> dict:
    """Projects, money, rate, mean/min score and grade counts of a group of project rows."""
    budget, spent = money_sum(projects[BUDGET]), money_sum(projects[SPENT])
    out = {PROJECTS: len(projects), INITIAL: money_sum(projects[INITIAL]), BUDGET: budget, SPENT: spent,
           RATE: ratio(spent, budget), MEAN: _mean(projects[SCORE]),
           MIN_SCORE: float(projects[SCORE].min()) if len(projects) else np.nan}
    for g in grades:
        out[g] = int((projects[GRADE] == g).sum())
    return out


def _missing_table(campaign: Campaign, submitted: set[str]) -> pd.DataFrame:
    rows = [{CODE: e.code, NAME: e.name, "联系人": e.contact, "电子邮箱": e.email}
            for e in campaign.roster if e.code not in submitted]
    return pd.DataFrame(rows, columns=[CODE, NAME, "联系人", "电子邮箱"])


# ------------------------------------------------------------------ shared by the district and the city


@dataclass(frozen=True)
class Meta:
    """What the summary is about (written to the 元数据 sheet, read back by rollup)."""

    level: str  # LEVEL_DISTRICT | LEVEL_CITY
    name: str  # the district (or city)
    year: int
    bureau: str
    profile: str
    grades: tuple[str, ...]
    threshold: float  # campaign.low_execution_rate

    @property
    def title(self) -> str:
        return f"{self.name}{self.year}年度预算绩效自评情况汇总"


@dataclass
class Tables:
    """The row tables of a summary before totals, overview and history are added."""

    projects: pd.DataFrame
    departments: pd.DataFrame
    indicators: pd.DataFrame
    findings: pd.DataFrame
    missing: pd.DataFrame
    counts: Counts
    districts: pd.DataFrame | None = None  # the city level only


def summary_frames(evaluation: Evaluation, campaign: Campaign, history: History | None = None, *,
                   generated: dt.datetime | None = None) -> dict[str, pd.DataFrame]:
    """Every table of the district summary (pure; `history` holds the years before campaign.year)."""
    grades = tuple(g for g, _ in evaluation.profile.grades)
    take = intake(evaluation, campaign)
    order = _dept_order(campaign)
    listed = _findings_of(evaluation.files, take)
    projects = _project_table(evaluation, take, campaign, order)
    problems = _findings_table(evaluation.files, listed, order)
    departments = _department_table(evaluation, take, projects, problems, campaign, grades, order)
    indicators = _indicator_table(evaluation, take, projects)
    missing = _missing_table(campaign, set(departments[CODE]))
    roster = {e.code for e in campaign.roster}
    counts = Counts(
        expected=len(roster) if roster else None, submitted=len(departments),
        unknown=int((departments[IN_ROSTER] == "否").sum()) if len(departments) else 0, missing=len(missing),
        files=len(evaluation.files), unreadable=sum(r.sourced is None for r in evaluation.files),
        superseded=len(take.superseded), skipped=len(evaluation.skipped))
    meta = Meta(LEVEL_DISTRICT, campaign.district, campaign.year, campaign.bureau, evaluation.profile.title,
                grades, campaign.low_execution_rate)
    tables = Tables(projects, departments, indicators, problems, missing, counts)
    return assemble(tables, meta, history, generated=generated)


def assemble(t: Tables, meta: Meta, history: History | None = None, *,
             generated: dt.datetime | None = None) -> dict[str, pd.DataFrame]:
    """The summary's frames from its row tables: overview blocks, totals rows, result use, history, metadata."""
    from .overview import overview_frames
    from .yoy import add_year_over_year, history_sheet, previous_figures

    previous = history.previous_year if history is not None else None
    low_grades = meta.grades[-2:]
    result_use = _result_use(t.projects, low_grades, meta.threshold)
    frames: dict[str, pd.DataFrame] = {}
    frames.update(overview_frames(t, meta, previous_figures(history), len(result_use), previous))
    projects, departments = t.projects, t.departments
    if previous is not None and meta.level == LEVEL_DISTRICT:
        projects, departments = add_year_over_year(projects, departments, history)
    if t.districts is not None:
        frames["区县汇总"] = with_total(t.districts, total_row(t.districts, t.projects, meta.grades))
    frames["部门汇总"] = with_total(departments, total_row(departments, t.projects, meta.grades, history))
    frames["项目明细"] = with_total(projects, total_row(projects, t.projects, meta.grades, history))
    frames["指标明细"] = t.indicators
    frames["问题清单"] = t.findings
    frames["未报送单位"] = t.missing
    frames["结果应用"] = with_total(result_use, total_row(result_use, pd.DataFrame(), ()))
    if previous is not None and meta.level == LEVEL_DISTRICT:
        frames["历年对比"] = history_sheet(departments, t.projects, history, meta.year)
    frames["元数据"] = _meta_frame(meta, t.counts, previous, frames, generated)
    return frames


def with_total(frame: pd.DataFrame, total: dict) -> pd.DataFrame:
    """A table with its 合计 row appended (only the columns the table has)."""
    if frame.empty:
        return frame
    row = {c: total.get(c) for c in frame.columns}
    return pd.concat([frame, pd.DataFrame([row], columns=frame.columns)], ignore_index=True)


#: Count columns a 合计 row sums (grade columns are added per summary).
COUNT_COLUMNS = (PROJECTS, ERRORS, WARNINGS, "应报送单位数", "已报送单位数", "名单外单位数", "未报送单位数")


def total_row(table: pd.DataFrame, projects: pd.DataFrame, grades: tuple[str, ...],
              history: History | None = None) -> dict:
    """The 合计 row of a table: money and counts summed, rate and scores over the underlying projects."""
    row: dict = {table.columns[0]: TOTAL} if len(table.columns) else {}
    for column in table.columns:
        if column.endswith("（万元）"):
            row[column] = money_sum(table[column])
        elif column in COUNT_COLUMNS or column in grades:
            values = pd.to_numeric(table[column], errors="coerce")
            row[column] = None if values.isna().any() else int(values.sum())
    if RATE in table and BUDGET in row and SPENT in row:
        row[RATE] = ratio(row[SPENT], row[BUDGET])
    if len(projects):
        row[MEAN] = _mean(projects[SCORE])
        row[MIN_SCORE] = float(projects[SCORE].min())
    if history is not None and history.previous_year is not None and PREV_RATE in table:
        from .yoy import total_change

        row.update(total_change(row, history))
    return row


def _result_use(projects: pd.DataFrame, low_grades: tuple[str, ...], threshold: float) -> pd.DataFrame:
    """Projects for 结果应用: a low grade, or an execution rate under the threshold (or none at all)."""
    rows = []
    group = [DISTRICT] if DISTRICT in projects else []
    for r in projects.to_dict("records"):
        reasons = []
        if r[GRADE] in low_grades:
            reasons.append(f"等级为“{r[GRADE]}”")
        shown = displayed_rate(r[RATE])
        if shown is None:
            reasons.append("执行率无法计算（全年预算数为空或为0）")
        elif shown < threshold:
            reasons.append(f"执行率 {shown:.2%} 低于 {threshold:.0%}")
        if reasons:
            rows.append({**{c: r[c] for c in group}, CODE: r[CODE], NAME: r[NAME], P_CODE: r[P_CODE],
                         P_NAME: r[P_NAME], BUDGET: r[BUDGET], SPENT: r[SPENT], RATE: r[RATE], SCORE: r[SCORE],
                         GRADE: r[GRADE], "列入原因": "；".join(reasons), "处理意见": ""})
    return pd.DataFrame(rows, columns=[*group, CODE, NAME, P_CODE, P_NAME, BUDGET, SPENT, RATE, SCORE, GRADE,
                                       "列入原因", "处理意见"])


def _meta_frame(meta: Meta, counts: Counts, previous: int | None, frames: dict[str, pd.DataFrame],
                generated: dt.datetime | None) -> pd.DataFrame:
    generated = generated or dt.datetime.now().replace(microsecond=0)
    rows = [("格式", SUMMARY_SCHEMA), ("层级", meta.level), ("名称", meta.name), ("年度", meta.year),
            ("财政局", meta.bureau), ("评分规则", meta.profile), ("等级", ",".join(meta.grades)),
            ("低执行率阈值", meta.threshold)]
    rows += [(label, getattr(counts, attr)) for attr, label in Counts.LABELS]
    rows += [("对比年度", previous), ("生成时间", generated.isoformat(sep=" ")), ("工具版本", __version__)]
    rows += [(f"行数:{name}", len(frame)) for name, frame in frames.items() if name in SHEETS]
    return pd.DataFrame(rows, columns=["项目", "值"])


def history_records(frames: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The department and project rows to record in the history database (history.py's columns)."""
    d = frames["部门汇总"]
    d = d[d[CODE] != TOTAL]
    departments = pd.DataFrame({
        "dept_code": d[CODE], "dept_name": d[NAME], "projects": d[PROJECTS], "initial_budget": d[INITIAL],
        "budget": d[BUDGET], "executed": d[SPENT], "execution_rate": d[RATE], "mean_score": d[MEAN],
        "min_score": d[MIN_SCORE], "errors": d[ERRORS], "warnings": d[WARNINGS], "source_file": d[FILE],
    })
    p = frames["项目明细"]
    p = p[p[CODE] != TOTAL]
    projects = pd.DataFrame({
        "dept_code": p[CODE], "project_code": [c or n for c, n in zip(p[P_CODE], p[P_NAME], strict=True)],
        "project_name": p[P_NAME], "initial_budget": p[INITIAL], "budget": p[BUDGET], "executed": p[SPENT],
        "execution_rate": p[RATE], "total_score": p[SCORE], "grade": p[GRADE],
    })
    return departments.reset_index(drop=True), projects.reset_index(drop=True)


# ------------------------------------------------------------------ writing and recording


def write_summary(frames: dict[str, pd.DataFrame], path) -> Path:
    """Write the summary workbook atomically (the layout lives in summary_book)."""
    from .book import write_summary as write

    return write(frames, path)


def summarize(evaluation: Evaluation, campaign: Campaign, output, *,
              history_path=None) -> tuple[dict[str, pd.DataFrame], History | None]:
    """The `summary` command: frames (compared with earlier years), the workbook, then the round recorded.

    `history_path` None means no history at all (neither read nor written).
    """
    from . import history as db

    earlier = db.load(history_path, before=campaign.year) if history_path is not None else None
    frames = summary_frames(evaluation, campaign, earlier)
    write_summary(frames, output)
    if history_path is not None:
        db.record(history_path, campaign.year, *history_records(frames))
    return frames, earlier
