"""Year-over-year columns and the 历年对比 sheet of the summary, from the history of earlier rounds.

The comparison year is the latest year recorded before the current one (normally the year
before). Departments are matched by 单位编码, projects by 单位编码 + 项目编码 (the name
when a project has no code). Changes are this year minus last year: rates in percentage
points (个百分点, in a column saying so), scores in points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..numbers import difference, money_sum, ratio, weighted_mean
from ..numbers import mean as mean_of
from .history import History
from .tables import (
    BUDGET,
    CODE,
    MEAN,
    NAME,
    P_CODE,
    P_NAME,
    PREV_RATE,
    PROJECTS,
    RATE,
    RATE_CHANGE,
    SCORE,
    SPENT,
    TOTAL,
    points,
)

PREV_MEAN, MEAN_CHANGE = "上年平均得分", "平均得分变化"
PREV_SCORE, SCORE_CHANGE = "上年总分", "总分变化"


def _previous(history: History) -> tuple[pd.DataFrame, pd.DataFrame]:
    year = history.previous_year
    d, p = history.departments, history.projects
    return d[d["year"] == year], p[p["year"] == year]


def add_year_over_year(projects: pd.DataFrame, departments: pd.DataFrame,
                       history: History) -> tuple[pd.DataFrame, pd.DataFrame]:
    """项目明细 and 部门汇总 with last year's rate and score and the change (new frames)."""
    d_prev, p_prev = _previous(history)
    by_dept = d_prev.set_index("dept_code")
    departments = departments.copy()
    rates = departments[CODE].map(by_dept["execution_rate"]) if len(departments) else pd.Series(dtype=float)
    means = departments[CODE].map(by_dept["mean_score"]) if len(departments) else pd.Series(dtype=float)
    departments[PREV_RATE] = rates.astype(float)
    departments[RATE_CHANGE] = [points(difference(a, b)) for a, b in zip(departments[RATE], rates, strict=True)]
    departments[PREV_MEAN] = means.astype(float)
    departments[MEAN_CHANGE] = [difference(a, b) for a, b in zip(departments[MEAN], means, strict=True)]
    by_project = p_prev.set_index(["dept_code", "project_code"])
    projects = projects.copy()
    keys = [(c, pc or pn) for c, pc, pn in zip(projects[CODE], projects[P_CODE], projects[P_NAME], strict=True)]
    p_rates = [by_project["execution_rate"].get(k, np.nan) for k in keys]
    p_scores = [by_project["total_score"].get(k, np.nan) for k in keys]
    projects[PREV_RATE] = pd.Series(p_rates, index=projects.index, dtype=float)
    projects[RATE_CHANGE] = [points(difference(a, b)) for a, b in zip(projects[RATE], p_rates, strict=True)]
    projects[PREV_SCORE] = pd.Series(p_scores, index=projects.index, dtype=float)
    projects[SCORE_CHANGE] = [difference(a, b) for a, b in zip(projects[SCORE], p_scores, strict=True)]
    return projects, departments


def total_change(row: dict, history: History) -> dict:
    """Last year's overall rate and mean score for a 合计 row, and the change."""
    d_prev, p_prev = _previous(history)
    rate = ratio(money_sum(d_prev["executed"]), money_sum(d_prev["budget"]))
    mean = mean_of(p_prev["total_score"])
    return {PREV_RATE: rate, RATE_CHANGE: points(difference(row.get(RATE), rate)),
            PREV_MEAN: mean, MEAN_CHANGE: difference(row.get(MEAN), mean)}


def previous_figures(history: History | None) -> dict | None:
    """Last year's key figures under the 总览 labels (None without history)."""
    if history is None or history.previous_year is None:
        return None
    d_prev, p_prev = _previous(history)
    budget, spent = money_sum(d_prev["budget"]), money_sum(d_prev["executed"])
    initial = d_prev["initial_budget"]
    return {
        "已报送单位数": len(d_prev),
        "参评项目数": int(d_prev["projects"].fillna(0).sum()),
        "年初预算数合计（万元）": None if initial.isna().any() else money_sum(initial),
        "全年预算数合计（万元）": budget,
        "全年执行数合计（万元）": spent,
        "总体预算执行率": ratio(spent, budget),
        "平均得分（简单平均）": mean_of(p_prev["total_score"]),
        "平均得分（按预算加权）": weighted_mean(p_prev["total_score"], p_prev["budget"]),
    }


def history_sheet(departments: pd.DataFrame, projects: pd.DataFrame, history: History, year: int) -> pd.DataFrame:
    """历年对比: one row per department, per year its projects, budget, rate and mean score; a 合计 row."""
    current = departments[departments[CODE] != TOTAL]
    now = pd.DataFrame({"year": year, "dept_code": current[CODE], "dept_name": current[NAME],
                        "projects": current[PROJECTS], "budget": current[BUDGET], "executed": current[SPENT],
                        "mean_score": current[MEAN]})
    allyears = pd.concat([history.departments[list(now.columns)], now], ignore_index=True)
    years = sorted(int(y) for y in allyears["year"].unique())
    names = allyears.sort_values("year").groupby("dept_code")["dept_name"].last()
    order = list(dict.fromkeys([*current[CODE], *sorted(set(allyears["dept_code"]) - set(current[CODE]))]))
    by_key = {key: group for key, group in allyears.groupby(["year", "dept_code"], sort=False)}  # once, not per row
    empty = allyears.iloc[0:0]
    rows = []
    for code in order:
        row = {CODE: code, NAME: names.get(code, "")}
        for y in years:
            row.update(_year_columns(y, by_key.get((y, code), empty), None))
        rows.append(row)
    total = {CODE: TOTAL, NAME: ""}
    for y in years:  # the year's mean is over its projects, as in the 总览
        scores = projects[SCORE] if y == year else history.projects.loc[history.projects["year"] == y, "total_score"]
        total.update(_year_columns(y, allyears[allyears["year"] == y], scores))
    return pd.DataFrame([*rows, total])


def _year_columns(y: int, rows: pd.DataFrame, project_scores: pd.Series | None) -> dict:
    budget, spent = money_sum(rows["budget"]), money_sum(rows["executed"])
    if project_scores is not None:
        mean = mean_of(project_scores)
    elif len(rows) == 1:
        mean = rows["mean_score"].iloc[0]
    else:
        mean = np.nan
    return {f"{y}年{PROJECTS}": int(rows["projects"].fillna(0).sum()) if len(rows) else None,
            f"{y}年{BUDGET}": budget if len(rows) else None,
            f"{y}年{SPENT}": spent if len(rows) else None,
            f"{y}年{RATE}": ratio(spent, budget) if len(rows) else np.nan,
            f"{y}年平均得分": mean}
