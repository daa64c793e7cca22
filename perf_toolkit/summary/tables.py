"""The summary's vocabulary, shared by the district summary, its overview, year-over-year columns,
the workbook writer and the city roll-up: column names, sheets, rate bands, and the small
records (Meta, Counts, Tables, FindingTally) that travel between them. No logic beyond the rate bands
and the tally's counting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pandas as pd

from ..numbers import PENDING, round_half_up

SUMMARY_SCHEMA = "perf-toolkit/summary/v1"
LEVEL_DISTRICT, LEVEL_CITY = "区县", "全市"

# ------------------------------------------------------------------ column names (the workbook's)

DISTRICT = "区县"
CODE, NAME, IN_ROSTER = "单位编码", "单位名称", "名单内"
P_CODE, P_NAME = "项目编码", "项目名称"
INITIAL, BUDGET, SPENT = "年初预算数（万元）", "全年预算数（万元）", "全年执行数（万元）"
RATE, EXEC_SCORE, SCORE, GRADE = "执行率", "预算执行得分", "总分", "等级"
WEIGHT_SUM = "分值合计"  # what 总分 is out of: 100 unless the typed weights add up otherwise
PROJECTS, MEAN, MIN_SCORE = "项目数", "平均得分", "最低得分"
ERRORS, WARNINGS, CODES, FLAGS = "错误数", "警告数", "问题", "标记"
FILE, MODIFIED, REPLACED_FILES = "报送文件", "报送时间", "被替代的文件"
TOTAL = "合计"
PREV_RATE, RATE_CHANGE = "上年执行率", "执行率变化（个百分点）"

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
    "项目得分为各项目的总分（按评分规则精确计算后四舍五入保留两位小数；各指标按单位填写的分值计分，分值合计不是100分的项目不折算，“分值合计”列和“标记”列注明）；平均得分为这些得分的算术平均，加权平均以全年预算数为权数（不含全年预算数为0的项目）。",
    "执行率区间按显示的执行率（精确到0.01%）划分：" + "；".join(f"{n}：{d}" for n, d in RATE_BANDS) + "。",
    "同一单位报送多个文件时，以报送时间最新的一份计入汇总（邮件报送的按邮件日期，其他按文件修改时间；时间相同时以后收到的为准），其余列为“被替代”；"
    "报送的文件无法读取的单位（按文件名中的单位编码、单位名称或发件人地址认定）计为已报送，须重新报送，不计入部门汇总；认定不了单位的无法读取的文件只计入收到文件数。",
    "问题数包括各单位计入汇总的文件、被替代提示和无法读取的文件。",
)
#: Added to RULES when a project is not scored.
UNSCORED_RULE = ("暂不评分的项目（填报表中有数值是公式且文件中没有保存计算结果，值无法确定）：无法确定的金额、执行率、得分和等级"
                 "显示为“待核实”，不计入合计、执行率、平均得分和等级分布；全年预算数或全年执行数无法确定时，该项目的全年预算数和全年执行数都不计入合计。")


def points(change) -> float:
    """A change of rate (a difference of fractions) in 个百分点, to 0.01 (NaN stays NaN)."""
    value = round_half_up(change * 100, 2) if change == change else None
    return float("nan") if value is None else value


def displayed_rate(rate) -> float | None:
    """The rate as the sheets show it (0.01 % = 4 decimals of the fraction)."""
    return round_half_up(rate, 4)


def rate_band(rate) -> str:
    """The band (RATE_BANDS name) of an execution rate; 待核实 for a rate not known yet."""
    if isinstance(rate, str) and rate == PENDING:
        return PENDING
    r = displayed_rate(rate)
    if r is None:
        return RATE_BANDS[-1][0]
    for (name, _), low in zip(RATE_BANDS[:4], (1.0, 0.9, 0.8, 0.6), strict=True):
        if r >= low:
            return name
    return RATE_BANDS[4][0] if r > 0 else RATE_BANDS[5][0]


@dataclass
class Counts:
    """How many departments and files the summary covers (the 总览 and the 元数据 carry them)."""

    expected: int | None = None  # departments on the roster; None without a roster
    submitted: int = 0  # departments that sent something (on the roster or not), readable or not
    unknown: int = 0  # of those, not on the roster
    missing: int = 0
    unreadable_departments: int = 0  # of the submitted, those whose only files could not be read
    files: int = 0
    unreadable: int = 0
    superseded: int = 0
    skipped: int = 0  # lock files, hidden files, non-spreadsheets: never read

    LABELS = (("expected", "应报送单位数"), ("submitted", "已报送单位数"), ("unknown", "名单外单位数"),
              ("missing", "未报送单位数"),
              ("unreadable_departments", "文件无法读取单位数"), ("files", "收到文件数"), ("unreadable", "无法读取文件数"),
              ("superseded", "被替代文件数"), ("skipped", "跳过文件数"))

@dataclass(frozen=True)
class Meta:
    """What the summary is about (written to the 元数据 sheet, read back by rollup)."""

    level: str  # LEVEL_DISTRICT | LEVEL_CITY
    name: str  # the district (or city)
    year: int | None  # None: no readable submission said which year
    bureau: str
    profile: str
    grades: tuple[str, ...]
    threshold: float  # campaign.low_execution_rate
    budget_cut: float | None = None  # the profile's budget_adjusted: a larger cut goes to 结果应用 (None: not checked)

    @property
    def title(self) -> str:
        year = f"{self.year}年度" if self.year else "【待填写：评价年度】"
        return f"{self.name}{year}预算绩效自评情况汇总"


class RowSource:
    """A table never held whole: its rows made a chunk (a small DataFrame) at a time, in their final order, each
    time they are read (`summarize`'s largest tables, 指标明细 and 问题清单: a province's 问题清单 has a million
    rows). The writer reads it twice: the column widths, then the rows. `len()` is its row count, known beforehand.

    `chunks(start, stop, size)` makes rows start…stop-1 in chunks of at most `size` rows, each with `columns`.
    """

    def __init__(self, columns: list[str], rows: int,
                 chunks: Callable[[int, int, int], Iterator[pd.DataFrame]]) -> None:
        self.columns = list(columns)
        self._rows = rows
        self._chunks = chunks

    def __len__(self) -> int:
        return self._rows

    def chunks(self, size: int, start: int = 0, stop: int | None = None) -> Iterator[pd.DataFrame]:
        """Rows start…stop-1 (the end by default) in their order, at most `size` a chunk."""
        stop = self._rows if stop is None else min(stop, self._rows)
        made = 0
        for chunk in self._chunks(start, stop, size):
            if list(chunk.columns) != self.columns or not 0 < len(chunk) <= size:
                raise AssertionError(f"a chunk of {len(chunk)} rows with columns {list(chunk.columns)}")
            made += len(chunk)
            yield chunk
        if made != max(stop - start, 0):
            raise AssertionError(f"a table of {made} rows from {start} to {stop}, not the {self._rows} announced")


@dataclass
class LevelTally:
    """The findings of one level (错误, 警告 …): how many, the departments (non-blank codes) and files involved."""

    count: int = 0
    units: set = field(default_factory=set)
    files: set = field(default_factory=set)


@dataclass
class CodeTally:
    """The findings of one (level, title, code): how many, and the departments involved."""

    count: int = 0
    units: set = field(default_factory=set)


@dataclass
class FindingTally:
    """What the summary needs of its 问题清单 without the table: the 总览's counts by level and by code, and each
    department's and file's errors and warnings (部门汇总). Counted in the table's order (the codes keep the
    order they first appear in, as a groupby of the table would)."""

    levels: dict[str, LevelTally] = field(default_factory=dict)
    codes: dict[tuple[str, str, str], CodeTally] = field(default_factory=dict)  # (级别, 问题, 代码)
    by_unit: Counter = field(default_factory=Counter)  # (单位编码, 级别) -> findings
    by_file: Counter = field(default_factory=Counter)  # (文件, 级别) -> findings
    rows: int = 0

    def add(self, level: str, unit: object, file: object, title: object, code: object) -> None:
        """One row of the 问题清单. `unit` is its 单位编码 (with its 区县 in a city roll-up: a tuple), blank for
        none; a missing value (None) stands for a blank cell as pandas counts it (not a file, not a group)."""
        self.rows += 1
        counted = self.levels.get(level)
        if counted is None:
            counted = self.levels[level] = LevelTally()
        counted.count += 1
        involved = (unit[-1] if isinstance(unit, tuple) else unit) != ""
        if involved:
            counted.units.add(unit)
        if file is not None:
            counted.files.add(file)
        if level is not None and title is not None and code is not None:
            key = (level, title, code)
            by_code = self.codes.get(key)
            if by_code is None:
                by_code = self.codes[key] = CodeTally()
            by_code.count += 1
            if involved:
                by_code.units.add(unit)
        self.by_unit[(unit, level)] += 1
        self.by_file[(file, level)] += 1

    @classmethod
    def of_frame(cls, frame: pd.DataFrame) -> FindingTally:
        """The tally of a 问题清单 held whole (the city roll-up's, read back from district summaries)."""
        tally = cls()

        def values(column: str) -> list:
            return [None if _na(v) else v for v in frame[column].tolist()]

        units = values(CODE)
        if DISTRICT in frame:
            units = list(zip(values(DISTRICT), units, strict=True))
        for row in zip(values("级别"), units, values("文件"), values("问题"), values("代码"), strict=True):
            tally.add(*row)
        return tally


def _na(value: object) -> bool:
    return value is None or value is pd.NaT or value is pd.NA or (isinstance(value, float) and value != value)


@dataclass
class Tables:
    """The row tables of a summary before totals, overview and history are added."""

    projects: pd.DataFrame
    departments: pd.DataFrame
    indicators: pd.DataFrame | RowSource  # a RowSource: made a chunk at a time when written (`summarize`)
    findings: pd.DataFrame | RowSource
    missing: pd.DataFrame
    counts: Counts
    districts: pd.DataFrame | None = None  # the city level only
    unreadable: tuple[str, ...] = ()  # the departments whose files could not be read, by name (district level)
    tally: FindingTally | None = None  # of `findings`; None: counted from the frame

    def finding_tally(self) -> FindingTally:
        return self.tally if self.tally is not None else FindingTally.of_frame(self.findings)
