"""The `score -o` workbook: every project's and indicator's score, as a flat table (xlsxwriter)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..fsutil import atomic_write
from ..model import Evaluation
from ..numbers import PENDING, round2, round_half_up
from ..workbook import marker

#: xlsxwriter options for any text that came from a department: never a formula, never a link.
SAFE_WRITER = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def _known(value: object, is_known: bool) -> object:
    """A figure, or 待核实 in its cell when it cannot be known yet (a formula with no saved result)."""
    return value if is_known else PENDING


def score_tables(result: Evaluation) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two tables of the scores workbook (pure)."""
    projects = pd.DataFrame([{
        "文件": p.file, "单位编码": p.department.code, "单位名称": p.department.name,
        "项目编码": p.code, "项目名称": p.name,
        **{column: _known(round2(getattr(p.total, attr)), p.column_known(attr)) for column, attr in (
            ("年初预算数（万元）", "initial_budget"), ("全年预算数（万元）", "adjusted_budget"),
            ("全年执行数（万元）", "executed"))},
        "执行率": _known(round_half_up(p.execution_rate, 4), p.rate_known),
        "预算执行得分": _known(round2(p.execution_score), p.rate_known),
        "指标得分": _known(round2(p.indicator_score), p.indicator_score is not None),
        "总分": _known(p.total_score, p.scored), "分值合计": _known(round2(p.total_weight), p.weights_known),
        "等级": p.grade,
    } for p in result.projects], columns=PROJECT_COLUMNS)
    indicators = pd.DataFrame([{
        "项目名称": p.name, "一级指标": i.level1, "二级指标": i.level2, "三级指标": i.name,
        "指标方向": i.direction, "年度指标值": _known(_text(i.submitted.target), i.value_known("target")),
        "实际完成值": _known(_text(i.submitted.actual), i.value_known("actual")),
        "分值": _known(round2(i.weight), i.value_known("weight")),
        "自评得分": _known(round2(i.claimed_score), i.value_known("claimed_score")),
        "得分": _known(round2(i.score), i.scored),
        "完成率": round_half_up(i.completion, 4),
    } for p in result.projects for i in p.indicators], columns=INDICATOR_COLUMNS)
    return projects, indicators


PROJECT_COLUMNS = ["文件", "单位编码", "单位名称", "项目编码", "项目名称", "年初预算数（万元）", "全年预算数（万元）",
                   "全年执行数（万元）", "执行率", "预算执行得分", "指标得分", "总分", "分值合计", "等级"]
INDICATOR_COLUMNS = ["项目名称", "一级指标", "二级指标", "三级指标", "指标方向", "年度指标值", "实际完成值", "分值",
                     "自评得分", "得分", "完成率"]


def _text(value: object) -> str:
    """A typed target or actual as text, as typed ("" when nothing was)."""
    return "" if value is None else str(value)


def write_scores(result: Evaluation, path: str | Path) -> Path:
    """Write the scores workbook atomically."""
    projects, indicators = score_tables(result)
    path = Path(path)
    with atomic_write(path) as fh:
        with pd.ExcelWriter(fh, engine="xlsxwriter", engine_kwargs={"options": SAFE_WRITER}) as writer:
            for name, frame in (("项目得分", projects), ("指标得分", indicators)):
                frame.to_excel(writer, sheet_name=name, index=False)
                sheet = writer.sheets[name]
                sheet.freeze_panes(1, 0)
                sheet.autofilter(0, 0, len(frame), len(frame.columns) - 1)
                for c, column in enumerate(frame.columns):
                    sheet.set_column(c, c, min(40, max(10, 2 * len(str(column)) + 2)))
            writer.book.set_custom_property(marker.PROPERTY, marker.stamp(marker.SCORES))
    return path
