"""The district summary (绩效自评情况汇总, rules.md §7): every table of the summary workbook, as DataFrames.

`summary_frames()` is pure: an evaluated batch, the campaign (roster, thresholds) and the
earlier years' history in; one DataFrame per table out, with the Chinese column names of
the workbook (named in `tables`). `overview` computes the 总览 blocks and `yoy` the
year-over-year columns; `book.write_summary()` lays the frames out with xlsxwriter, and
`rollup` rebuilds the same tables one level up from district summaries (through `assemble()`).

The rules every figure follows (also printed on the 总览 sheet, `RULES`):
- Money is in 万元. Each amount is rounded to the cent (1 分 = 0.000001 万元) when it enters
  the summary, and every total is the exact sum of those amounts; the sheets display two
  decimals. So any column's sum equals its 合计 row and the 总览 figure to the cent.
- A project's score is its official total (rounded once, half up, to 2 decimals); means are
  taken over those. Rates are quotients of the amounts; the rate bands are decided on the
  rate as displayed (0.01 %).
- One file counts per department (decided in the check stage, `check.intake`): the others
  are listed as superseded, by their notice only.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice

import numpy as np
import pandas as pd

from .. import __version__
from .. import findings as catalogue
from ..check.status import NOT_SUBMITTED, UNREADABLE, RoundStatus, department_status
from ..config import Campaign
from ..model import (
    REJECTED,
    SUPERSEDED,
    Evaluation,
    FileResult,
    Finding,
    FundSource,
    ScoredIndicator,
    ScoredProject,
)
from ..numbers import (
    PENDING,
    budget_cut,
    cents,
    mean,
    minimum,
    money,
    money_sum,
    percent,
    ratio,
    round_half_up,
    share,
    weight_text,
)
from ..spec import TAXONOMY
from . import history as db
from .book import paused_gc, write_summary
from .history import History
from .overview import overview_frames
from .tables import (
    BUDGET,
    CODE,
    CODES,
    DISTRICT,
    ERRORS,
    EXEC_SCORE,
    FILE,
    FLAGS,
    GRADE,
    IN_ROSTER,
    INITIAL,
    LEVEL_DISTRICT,
    MEAN,
    MIN_SCORE,
    MODIFIED,
    NAME,
    OVERVIEW_BLOCKS,
    P_CODE,
    P_NAME,
    PREV_RATE,
    PROJECTS,
    RATE,
    REPLACED_FILES,
    SCORE,
    SHEETS,
    SPENT,
    SUMMARY_SCHEMA,
    TOTAL,
    WARNINGS,
    WEIGHT_SUM,
    Counts,
    FindingTally,
    Meta,
    RowSource,
    Tables,
    displayed_rate,
)
from .yoy import add_year_over_year, history_sheet, previous_figures, total_change

# ------------------------------------------------------------------ the tables of one district


def _frame(rows: Iterable[dict]) -> pd.DataFrame:
    """Rows (dicts with the same keys) as a DataFrame, collected column by column and each column converted
    as `pd.DataFrame` converts it, one at a time: a province's 问题清单 has a million rows, and a dict held
    per row took ~1 GB on the way to its DataFrame; `pd.DataFrame(columns)` then held the lists, their
    arrays and one block at once (three copies of a large table)."""
    columns: dict[str, list] = {}
    for n, row in enumerate(rows):
        if n == 0:
            columns = {key: [] for key in row}
        elif row.keys() != columns.keys():
            raise ValueError(f"row {n} has other columns: {sorted(row.keys() ^ columns.keys())}")
        for column, value in zip(columns.values(), row.values(), strict=True):
            column.append(value)
    frame = pd.DataFrame(index=pd.RangeIndex(len(next(iter(columns.values()))) if columns else 0))
    for name in list(columns):
        frame[name] = columns.pop(name)  # each list let go once converted
    return frame


def _dept_order(campaign: Campaign) -> dict[str, int]:
    return {e.code: n for n, e in enumerate(campaign.roster)}


def _joined(codes: Iterable[str]) -> str:
    """The problems of a row as their short Chinese titles, each once, in order."""
    return "、".join(dict.fromkeys(catalogue.title(c) for c in codes if c))


def _known(value: object, is_known: bool) -> object:
    return value if is_known else PENDING


def _project_table(evaluation: Evaluation, campaign: Campaign, order: dict[str, int]) -> pd.DataFrame:
    """项目明细: one row per project; 错误数/警告数/问题 count the project's own findings (by field path).

    A figure not known (a formula with no saved result) shows 待核实. With a 全年预算数 or 全年执行数
    unknown, both columns are 待核实 in every source (and so stay out of every total and rate: a
    budget counted without its spending would lower the rate).
    """
    frame = _frame(_project_row(n, p, campaign, order) for n, p in enumerate(evaluation.counted_projects))
    if frame.empty:
        return pd.DataFrame(columns=[CODE, NAME, P_CODE, P_NAME, INITIAL, BUDGET, SPENT, RATE, EXEC_SCORE, SCORE,
                                     WEIGHT_SUM, GRADE, ERRORS, WARNINGS, CODES, FLAGS, FILE])
    frame = frame.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    # 成本指标 as its own 一级 exists only under the 2021 rules: show it only when used
    if "成本指标得分" in frame and not frame["成本指标得分"].map(lambda v: v == PENDING or bool(v)).any():
        frame = frame.drop(columns="成本指标得分")
    return frame


def _project_row(n: int, p: ScoredProject, campaign: Campaign, order: dict[str, int]) -> dict:
    """One row of 项目明细."""
    found, money = p.findings, p.rate_known
    row = {
        CODE: p.department.code.strip(), NAME: p.department.name, P_CODE: p.code, P_NAME: p.name,
        INITIAL: _known(cents(p.total.initial_budget), p.column_known("initial_budget")),
        BUDGET: _known(cents(p.total.adjusted_budget), money),
        SPENT: _known(cents(p.total.executed), money),
        RATE: _known(p.execution_rate if p.execution_rate is not None else np.nan, money),
        EXEC_SCORE: _known(round_half_up(p.execution_score), money),
    }
    for level1 in TAXONOMY:
        score = p.level1_scores[level1]
        row[f"{level1}得分"] = _known(round_half_up(score), score is not None)
    row.update({SCORE: _known(p.total_score, p.scored),
                WEIGHT_SUM: _known(round_half_up(p.total_weight), p.weights_known), GRADE: p.grade,
                ERRORS: sum(f.severity == "error" for f in found),
                WARNINGS: sum(f.severity == "warning" for f in found),
                CODES: _joined(f.code for f in found),
                FLAGS: _flags(p, campaign.low_execution_rate)})
    for source in FundSource:
        amounts = p.funds.get(source)
        row[f"{source}·全年预算数（万元）"] = _known(cents(amounts.adjusted_budget) if amounts else None, money)
        row[f"{source}·全年执行数（万元）"] = _known(cents(amounts.executed) if amounts else None, money)
    row[FILE] = p.file
    row["_order"] = (order.get(row[CODE], len(order)), row[CODE], n)
    return row


def _flags(p: ScoredProject, threshold: float) -> str:
    """What a reader of the row should notice: a project not scored, the execution rate, a capped grade,
    weights not adding up to 100 (what a known total is out of)."""
    r = displayed_rate(p.execution_rate)
    out = [] if p.scored else [UNSCORED]
    if p.provisional:
        out.append(f"总分和等级待核实（{len(p.unverified)}项指标无法核实，暂按自评得分计）")
    if p.rate_known:  # else the rate is not known either
        if r is None:
            out.append("执行率无法计算")
        elif r < threshold:
            out.append(f"执行率低于{threshold:.0%}")
        elif r > 1:
            out.append("超预算执行")
    if p.grade_capped:
        out.append("等级受执行率限制")
    if p.weight_sum_wrong and p.scored:  # beside a known total only (the 分值合计 column still shows the sum)
        out.append(f"分值合计{weight_text(p.total_weight)}分（不是100分）")
    return "；".join(out)


#: The columns of 指标明细 (an empty one has the first, the identifying ones, and the scores only).
INDICATOR_COLUMNS = [CODE, NAME, P_CODE, P_NAME, "一级指标", "二级指标", "三级指标", "指标方向", "年度指标值", "实际完成值",
                     "计量单位", "指标值（解析）", "完成值（解析）", "解析单位", "完成率", "分值", "得分", "自评得分", "是否达成",
                     "定性档次", CODES]
EMPTY_INDICATOR_COLUMNS = [CODE, NAME, P_CODE, P_NAME, "三级指标", "分值", "得分", CODES]
#: The columns of 问题清单: whose it is first (frozen on screen), the Chinese title and its text, the code last
FINDING_COLUMNS = ["级别", CODE, NAME, "问题", "说明", P_CODE, "文件", "工作表", "单元格", "类别", "代码"]


@dataclass(frozen=True)
class _Rows:
    """A large table as the items of its rows in their order and the row (a dict) of each item: made a chunk at a
    time when written (`source`), or at once (`frame`, as `summary_frames(deferred=False)` returns it)."""

    columns: list[str]  # those of `row`
    empty: list[str]  # the columns of the table without rows
    count: int
    items: Callable[[], Iterator[tuple]]
    row: Callable[..., dict]

    def source(self) -> RowSource:
        def chunks(start: int, stop: int, size: int) -> Iterator[pd.DataFrame]:
            listed = islice(self.items(), start, stop)  # the items skipped are not made into rows
            while batch := list(islice(listed, size)):
                yield _frame(self.row(*item) for item in batch)

        return RowSource(self.columns if self.count else self.empty, self.count, chunks)

    def frame(self) -> pd.DataFrame:
        if not self.count:
            return pd.DataFrame(columns=self.empty)
        return _frame(self.row(*item) for item in self.items())


def _indicator_rows(evaluation: Evaluation, projects: pd.DataFrame) -> _Rows:
    """指标明细: one row per indicator; 问题 lists the findings about that indicator (by field path).

    In the order of 项目明细 (a project by the last row with its 单位编码 和 项目编码), then by
    indicator; made in that order, a chunk at a time.
    """
    counted = evaluation.counted_projects
    position = {(c, p): n for n, (c, p) in enumerate(zip(projects[CODE], projects[P_CODE], strict=True))}
    placed = sorted(range(len(counted)),  # stable: projects at one position in their order
                    key=lambda n: position.get((counted[n].department.code.strip(), counted[n].code), len(position)))

    def items() -> Iterator[tuple]:
        for n in placed:
            p = counted[n]
            for i in sorted(p.indicators, key=lambda i: i.index):
                yield p, i

    def row(p: ScoredProject, i: ScoredIndicator) -> dict:
        return {
            CODE: p.department.code.strip(), NAME: p.department.name, P_CODE: p.code, P_NAME: p.name,
            "一级指标": i.level1, "二级指标": i.level2, "三级指标": i.name, "指标方向": i.direction,
            "年度指标值": _known(i.submitted.target, i.value_known("target")),
            "实际完成值": _known(i.submitted.actual, i.value_known("actual")), "计量单位": i.submitted.unit,
            "指标值（解析）": i.target_number, "完成值（解析）": i.actual_number,
            "解析单位": i.target_unit or i.actual_unit,
            "完成率": i.completion, "分值": _known(round_half_up(i.weight), i.value_known("weight")),
            "得分": _known(round_half_up(i.score), i.scored),
            "自评得分": _known(round_half_up(i.claimed_score), i.value_known("claimed_score")),
            "是否达成": "" if i.met is None else ("是" if i.met else "否"),
            "定性档次": i.band or "", CODES: _joined(f.code for f in i.findings),
        }

    return _Rows(INDICATOR_COLUMNS, EMPTY_INDICATOR_COLUMNS, sum(len(p.indicators) for p in counted), items, row)


def _finding_rows(files: list[FileResult], order: dict[str, int],
                  status: RoundStatus | None = None) -> tuple[_Rows, FindingTally]:
    """问题清单: every finding listed (counted files in full, superseded files by their notice only); an
    unreadable file under the department it was tied to (status). And its tally, counted in one pass.

    The rows' order: errors first, then by department (the roster's order, then by code; no department last),
    then as listed (by file, then as found): walked in that order, nothing a finding held to sort them.
    """
    tied = {f: (d.code, d.name) for d in (status.departments if status else ()) for f in d.unreadable}
    owners = [(r.submission.department.code.strip(), r.submission.department.name) if r.submission
              else tied.get(r.file, ("", "")) for r in files]  # each file's department (单位编码, 单位名称)
    ranks = sorted({(order.get(code, len(order)) if code else len(order) + 1, code) for code, _ in owners})
    rank = {code: n for n, (_, code) in enumerate(ranks)}
    by_rank: list[list[int]] = [[] for _ in ranks]  # the files of each department, in their order
    for i, (code, _) in enumerate(owners):
        by_rank[rank[code]].append(i)
    described: dict[tuple[str, str], tuple[str, str, str]] = {}  # (severity, code) -> 级别, 问题, 类别: looked up once

    def items() -> Iterator[tuple[int, Finding]]:
        for errors in (True, False):
            for department in by_rank:
                for i in department:
                    r = files[i]
                    superseded = r.state == SUPERSEDED
                    for f in r.findings:
                        if (f.severity == "error") is errors and (not superseded or f.code == "superseded"):
                            yield i, f

    def described_as(f: Finding) -> tuple[str, str, str]:
        key = (f.severity, f.code)
        found = described.get(key)
        if found is None:
            found = described[key] = (catalogue.SEVERITY_ZH.get(f.severity, f.severity), catalogue.title(f.code),
                                      catalogue.CATALOGUE[f.code].category if f.code in catalogue.CATALOGUE else "")
        return found

    def row(i: int, f: Finding) -> dict:
        code, name = owners[i]
        level, title, category = described_as(f)
        return {
            "级别": level, CODE: code, NAME: name, "问题": title, "说明": f.message, P_CODE: f.project or "",
            "文件": f.file or files[i].file, "工作表": f.sheet or "", "单元格": f.cell or "", "类别": category,
            "代码": f.code,
        }

    tally = FindingTally()
    for i, f in items():
        level, title, _ = described_as(f)
        tally.add(level, owners[i][0], f.file or files[i].file, title, f.code)
    return _Rows(FINDING_COLUMNS, FINDING_COLUMNS, tally.rows, items, row), tally


def _department_table(evaluation: Evaluation, projects: pd.DataFrame, problems: FindingTally,
                      campaign: Campaign, grades: tuple[str, ...], order: dict[str, int]) -> pd.DataFrame:
    """部门汇总: one row per counted file; projects and problems grouped once, not filtered per department."""
    roster = {e.code for e in campaign.roster}
    # each file's project rows as plain columns, grouped in one pass (a pandas group per department costs ~1 ms)
    figures = (INITIAL, BUDGET, SPENT, SCORE, GRADE)
    by_file: dict[tuple[str, str], list[list]] = {}
    for code, file, *values in zip(projects[CODE], projects[FILE], *(projects[c] for c in figures), strict=True):
        for column, value in zip(by_file.setdefault((code, file), [[] for _ in figures]), values, strict=True):
            column.append(value)
    replaced: dict[str, list[str]] = {}
    for r in evaluation.files:
        if r.superseded_by:
            replaced.setdefault(r.superseded_by, []).append(os.path.basename(r.file))
    rows = []
    for n, r in enumerate(evaluation.counted):
        dep = r.submission.department
        code = dep.code.strip()
        counts, key = (problems.by_unit, code) if code else (problems.by_file, r.file)  # else by the file's name
        row = {CODE: code, NAME: dep.name, IN_ROSTER: ("是" if code in roster else "否") if roster else "—"}
        row.update(_money_figures(*by_file.get((code, r.file), [[] for _ in figures]), grades=grades))
        row.update({ERRORS: counts[(key, "错误")], WARNINGS: counts[(key, "警告")],
                    FILE: r.file, MODIFIED: _wall_clock(r.submitted_at), REPLACED_FILES: "、".join(replaced.get(r.file, [])),
                    "_order": (order.get(code, len(order)), code, n)})
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=[CODE, NAME, IN_ROSTER, PROJECTS, INITIAL, BUDGET, SPENT, RATE, MEAN, MIN_SCORE,
                                     *grades, ERRORS, WARNINGS, FILE, MODIFIED, REPLACED_FILES])
    return pd.DataFrame(rows).sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def _wall_clock(when: dt.datetime | None) -> dt.datetime | None:
    """A time as the sheet shows it (Excel has no time zones): a mail's Date in its own wall-clock time."""
    return when.replace(tzinfo=None) if when is not None else None


def _money_figures(initial: list, budget: list, spent: list, scores: list, grade: list, *,
                   grades: tuple[str, ...]) -> dict:
    """Projects, money, rate, mean/min score and grade counts of a group of projects (their column values)."""
    budget_total, spent_total = money_sum(budget), money_sum(spent)
    out = {PROJECTS: len(budget), INITIAL: money_sum(initial), BUDGET: budget_total, SPENT: spent_total,
           RATE: ratio(spent_total, budget_total), MEAN: mean(scores), MIN_SCORE: minimum(scores)}
    counted = Counter(grade)
    for g in grades:
        out[g] = counted[g]
    return out


def _missing_table(status: RoundStatus) -> pd.DataFrame:
    """未报送单位: the roster departments in the state 未报送 (one whose file is unreadable has submitted)."""
    rows = [{CODE: d.code, NAME: d.name, "联系人": d.entry.contact, "电子邮箱": d.entry.email}
            for d in status.departments if d.state == NOT_SUBMITTED]
    return pd.DataFrame(rows, columns=[CODE, NAME, "联系人", "电子邮箱"])


def summary_frames(evaluation: Evaluation, campaign: Campaign, history: History | None = None, *,
                   generated: dt.datetime | None = None, deferred: bool = False) -> dict[str, pd.DataFrame]:
    """Every table of the district summary (pure; `history` holds the years before campaign.year).

    Without a year in the campaign the round's year is the submissions' one year (several: ConfigError).
    `deferred`: 指标明细 and 问题清单, the largest, as `RowSource`s (for `write_summary`, which makes their
    rows a chunk at a time): neither is ever held whole; what the other tables and the 总览 need of the
    问题清单 comes from its tally (`FindingTally`), counted in one pass over the findings.
    """
    campaign = campaign.with_year_of(r.submission.year for r in evaluation.counted)
    grades = tuple(g for g, _ in evaluation.profile.grades)
    order = _dept_order(campaign)
    status = department_status(evaluation, campaign.roster)
    projects = _project_table(evaluation, campaign, order)
    problems, tally = _finding_rows(evaluation.files, order, status)
    departments = _department_table(evaluation, projects, tally, campaign, grades, order)
    indicators = _indicator_rows(evaluation, projects)
    indicators, problems = ((indicators.source(), problems.source()) if deferred
                            else (indicators.frame(), problems.frame()))
    missing = _missing_table(status)
    unreadable = status.in_state(UNREADABLE)
    roster = {e.code for e in campaign.roster}
    counts = Counts(
        expected=len(roster) if roster else None, submitted=len(departments) + len(unreadable),
        unknown=int((departments[IN_ROSTER] == "否").sum()) if len(departments) else 0, missing=len(missing),
        unreadable_departments=len(unreadable),
        files=len(evaluation.files), unreadable=sum(r.state == REJECTED for r in evaluation.files),
        superseded=sum(r.state == SUPERSEDED for r in evaluation.files), skipped=len(evaluation.skipped))
    meta = Meta(LEVEL_DISTRICT, campaign.fact("district"), campaign.year, campaign.fact("bureau"),
                evaluation.profile.title, grades, campaign.low_execution_rate, evaluation.profile.budget_adjusted)
    tables = Tables(projects, departments, indicators, problems, missing, counts,
                    unreadable=tuple(d.name for d in unreadable), tally=tally)
    return assemble(tables, meta, history, generated=generated)


def assemble(t: Tables, meta: Meta, history: History | None = None, *,
             generated: dt.datetime | None = None) -> dict[str, pd.DataFrame]:
    """The summary's frames from its row tables: overview blocks, totals rows, result use, history, metadata."""
    previous = history.previous_year if history is not None else None
    low_grades = meta.grades[-2:]
    result_use = _result_use(t.projects, low_grades, meta.threshold, meta.budget_cut)
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
COUNT_COLUMNS = (PROJECTS, ERRORS, WARNINGS, "应报送单位数", "已报送单位数", "名单外单位数", "未报送单位数",
                 "文件无法读取单位数")


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
        row[MEAN] = mean(projects[SCORE])
        row[MIN_SCORE] = minimum(projects[SCORE])
    if history is not None and history.previous_year is not None and PREV_RATE in table:
        row.update(total_change(row, history))
    return row


def _result_use(projects: pd.DataFrame, low_grades: tuple[str, ...], threshold: float,
                cut_threshold: float | None = None) -> pd.DataFrame:
    """Projects for 结果应用: a low grade, an execution rate under the threshold (or none at all), or a
    full-year budget cut from the initial one by more than `cut_threshold` (the budget was set far above
    the need: next year's should follow what was spent); and those not scored (待核实), to be decided
    once their figures are known. An amount that is 待核实 judges nothing."""
    rows = []
    group = [DISTRICT] if DISTRICT in projects else []
    for r in projects.to_dict("records"):
        reasons = []
        if r[GRADE] in low_grades:
            reasons.append(f"等级为“{r[GRADE]}”")
        if r[GRADE] == PENDING:  # listed to be followed up: the bureau cannot judge it yet
            reasons.append(UNSCORED + "，核实后确定")
        shown = displayed_rate(r[RATE])
        if r[RATE] != PENDING:
            if shown is None:
                reasons.append("执行率无法计算（全年预算数为空或为0）")
            elif shown < threshold:
                reasons.append(f"执行率 {shown:.2%} 低于 {threshold:.0%}")
        cut = budget_cut(r[INITIAL], r[BUDGET])  # None when either is 待核实 (text)
        if cut_threshold is not None and cut is not None and cut > cut_threshold:
            reasons.append(f"全年预算数由年初的 {money(r[INITIAL])} 万元调减为 {money(r[BUDGET])} 万元，"
                           f"调减 {percent(cut)}，超过 {share(cut_threshold)}")
        if reasons:
            rows.append({**{c: r[c] for c in group}, CODE: r[CODE], NAME: r[NAME], P_CODE: r[P_CODE],
                         P_NAME: r[P_NAME], BUDGET: r[BUDGET], SPENT: r[SPENT], RATE: r[RATE], SCORE: r[SCORE],
                         GRADE: r[GRADE], "列入原因": "；".join(reasons), "处理意见": ""})
    return pd.DataFrame(rows, columns=[*group, CODE, NAME, P_CODE, P_NAME, BUDGET, SPENT, RATE, SCORE, GRADE,
                                       "列入原因", "处理意见"])


#: Why a project is marked and listed although it has no score (its row shows 待核实).
UNSCORED = "暂不评分：有数值是公式且文件中没有保存计算结果，得分待核实"


def _meta_frame(meta: Meta, counts: Counts, previous: int | None, frames: dict[str, pd.DataFrame],
                generated: dt.datetime | None) -> pd.DataFrame:
    generated = generated or dt.datetime.now().replace(microsecond=0)
    rows = [("格式", SUMMARY_SCHEMA), ("层级", meta.level), ("名称", meta.name), ("年度", meta.year),
            ("财政局", meta.bureau), ("评分规则", meta.profile), ("等级", ",".join(meta.grades)),
            ("低执行率阈值", meta.threshold), ("预算调减阈值", meta.budget_cut)]
    rows += [(label, getattr(counts, attr)) for attr, label in Counts.LABELS]
    rows += [("对比年度", previous), ("生成时间", generated.isoformat(sep=" ")), ("工具版本", __version__)]
    rows += [(f"行数:{name}", len(frame)) for name, frame in frames.items() if name in SHEETS]
    return pd.DataFrame(rows, columns=["项目", "值"])


def history_records(frames: dict[str, pd.DataFrame], hashes: Mapping[str, str] | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The department and project rows to record in the history database (history.py's columns), keyed by
    each source file's hash (`hashes`: file → sha256) and each project's position in it."""
    hashes = hashes or {}

    def source_key(file, code) -> str:
        file = "" if file is None or (isinstance(file, float) and math.isnan(file)) else str(file)
        return hashes.get(file) or (f"file:{file}" if file else f"code:{code or ''}")

    d = _without_total(frames["部门汇总"])
    departments = pd.DataFrame({
        "source_key": [source_key(f, c) for f, c in zip(d[FILE], d[CODE], strict=True)],
        "dept_code": d[CODE], "dept_name": d[NAME], "projects": d[PROJECTS], "initial_budget": d[INITIAL],
        "budget": d[BUDGET], "executed": d[SPENT], "execution_rate": d[RATE], "mean_score": d[MEAN],
        "min_score": d[MIN_SCORE], "errors": d[ERRORS], "warnings": d[WARNINGS], "source_file": d[FILE],
    })
    p = _without_total(frames["项目明细"])

    def number(column: str) -> pd.Series:  # 待核实 is recorded as no figure (NULL); the grade says 待核实
        return pd.to_numeric(p[column].where(p[column] != PENDING), errors="coerce")

    keys = [source_key(f, c) for f, c in zip(p[FILE], p[CODE], strict=True)]
    projects = pd.DataFrame({
        "source_key": keys, "position": pd.Series(keys, dtype=object).groupby(keys).cumcount().to_numpy(),
        "dept_code": p[CODE], "project_code": [c or n for c, n in zip(p[P_CODE], p[P_NAME], strict=True)],
        "project_name": p[P_NAME], "initial_budget": number(INITIAL), "budget": number(BUDGET),
        "executed": number(SPENT), "execution_rate": number(RATE), "total_score": number(SCORE), "grade": p[GRADE],
    })
    return departments.reset_index(drop=True), projects.reset_index(drop=True)


def _without_total(frame: pd.DataFrame) -> pd.DataFrame:
    """A table without its 合计 row: the last row `with_total` appended, not any row whose code reads 合计
    (a department may be coded so)."""
    if frame.empty or frame.iloc[-1][CODE] != TOTAL or not _blank(frame.iloc[-1][FILE]):
        return frame
    return frame.iloc[:-1]


def _blank(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x == ""


# ------------------------------------------------------------------ writing and recording


def summarize(evaluation: Evaluation, campaign: Campaign, output, *,
              history_path=None) -> tuple[dict[str, pd.DataFrame], History | None]:
    """The `summary` command: frames (compared with earlier years), the workbook, then the round recorded.

    `history_path` None means no history at all (neither read nor written). Returns the 总览's blocks,
    未报送单位 and 元数据 (what the command prints; the row tables are in the workbook, and
    `summary_frames()` makes them all): the largest tables are never held whole (their rows made a chunk
    at a time as they are written).
    """
    campaign = campaign.with_year_of(r.submission.year for r in evaluation.counted)
    if campaign.year is None:  # nothing readable: no year to compare with or to record under
        history_path = None
    earlier = db.load(history_path, before=campaign.year) if history_path is not None else None
    with paused_gc():
        frames = summary_frames(evaluation, campaign, earlier, deferred=True)
    write_summary(frames, output)
    if history_path is not None:
        hashes = {r.file: r.sha256 for r in evaluation.files if r.sha256}
        db.record(history_path, campaign.year, *history_records(frames, hashes))
    return {name: frames[name] for name in (*OVERVIEW_BLOCKS, "未报送单位", "元数据")}, earlier
