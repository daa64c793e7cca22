"""The `score -o` workbook: every project's and indicator's score, as a flat table (xlsxwriter)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..check.evaluate import Evaluation
from ..fsutil import atomic_write
from ..numbers import round2, round_half_up

#: xlsxwriter options for any text that came from a department: never a formula, never a link.
SAFE_WRITER = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def score_tables(result: Evaluation) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two tables of the scores workbook (pure)."""
    proj, ind = result.scores.projects, result.scores.indicators
    files = {s: item.file for s, item in enumerate(result.items)}
    projects = pd.DataFrame({
        "文件": proj["s"].map(files),
        "单位编码": proj["dept_code"], "单位名称": proj["dept_name"],
        "项目编码": proj["code"], "项目名称": proj["name"],
        "年初预算数（万元）": proj["initial_budget"].map(round2),
        "全年预算数（万元）": proj["adjusted_budget"].map(round2),
        "全年执行数（万元）": proj["executed"].map(round2),
        "执行率": proj["execution_rate"].map(lambda x: round_half_up(x, 4)),
        "预算执行得分": proj["execution_score"].map(round2),
        "指标得分": proj["indicator_score"].map(round2),
        "总分": proj["total_display"], "等级": proj["grade"],
    })
    names = proj.set_index(["s", "p"])["name"]
    indicators = pd.DataFrame({
        "项目名称": [names.get((s, p)) for s, p in zip(ind["s"], ind["p"], strict=True)],
        "一级指标": ind["level1"], "二级指标": ind["level2"], "三级指标": ind["name"],
        "指标方向": ind["direction"], "年度指标值": ind["target"].astype(str),
        "实际完成值": ind["actual"].astype(str), "分值": ind["weight"].map(round2),
        "自评得分": ind["claimed"].map(round2), "得分": ind["score"].map(round2),
        "完成率": ind["completion"].map(lambda x: round_half_up(x, 4)),
    })
    return projects, indicators


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
    return path
