"""The blocks of the 总览 sheet: key figures, grade and rate-band distributions, findings by severity and code.

Computed from a summary's row tables (`tables.Tables`), so the district summary and
the city roll-up get the same overview.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..findings import SEVERITY_ZH
from ..numbers import PENDING, difference, is_missing, mean, money_sum, ratio, share, weighted_mean
from .tables import (
    BUDGET,
    DISTRICT,
    GRADE,
    INITIAL,
    NAME,
    PROJECTS,
    RATE,
    RATE_BANDS,
    RULES,
    SCORE,
    SPENT,
    TOTAL,
    UNSCORED_RULE,
    FindingTally,
    LevelTally,
    Meta,
    Tables,
    points,
    rate_band,
)


def overview_frames(t: Tables, meta: Meta, previous: dict | None, result_use: int,
                    previous_year: int | None) -> dict[str, pd.DataFrame]:
    """The blocks of the 总览 sheet: key figures, grades, rate bands, findings by severity and by code."""
    p, c = t.projects, t.counts
    budget, spent = money_sum(p[BUDGET]), money_sum(p[SPENT])
    pending = int((p[GRADE] == PENDING).sum()) if len(p) else 0  # not scored: their figures are 待核实
    missing_names = _names(t.missing)
    tally = t.finding_tally()
    by_sev = {s: tally.levels.get(s, LevelTally()) for s in SEVERITY_ZH.values()}
    figures = [
        ("应报送单位数", c.expected, "报送名单中的单位" if c.expected is not None else "未配置报送名单"),
        ("已报送单位数", c.submitted, _submitted_note(c, t.unreadable)),
        ("未报送单位数", c.missing if c.expected is not None or c.missing else None, missing_names),
        ("收到文件数", c.files, f"无法读取 {c.unreadable} 个，被替代 {c.superseded} 个（见问题清单）"
         + (f"；另跳过 {c.skipped} 个临时文件或非表格文件" if c.skipped else "")),
        ("参评项目数", len(p), f"其中 {pending} 个暂不评分，得分待核实，见项目明细" if pending else ""),
        ("年初预算数合计（万元）", money_sum(p[INITIAL]), ""),
        ("全年预算数合计（万元）", budget, "调整后的全年预算数"),
        ("全年执行数合计（万元）", spent, ""),
        ("总体预算执行率", ratio(spent, budget), "全年执行数合计 ÷ 全年预算数合计"),
        ("平均得分（简单平均）", mean(p[SCORE]), "各项目总分的算术平均"),
        ("平均得分（按预算加权）", weighted_mean(p[SCORE], p[BUDGET]), "以全年预算数为权数"),
        ("错误数", by_sev["错误"].count, f"涉及 {len(by_sev['错误'].units)} 个单位"),
        ("警告数", by_sev["警告"].count, f"涉及 {len(by_sev['警告'].units)} 个单位"),
        ("列入结果应用的项目数", result_use,
         f"等级为{'、'.join(meta.grades[-2:])}或执行率低于{meta.threshold:.0%}"
         + (f"，或全年预算数比年初预算数调减超过{share(meta.budget_cut)}" if meta.budget_cut is not None else "")
         + ("，或得分待核实" if pending else "")),
    ]
    if previous is None:
        key = pd.DataFrame([(a, b, d) for a, b, d in figures], columns=["指标", "数值", "说明"])
    else:
        rows = []
        for label, value, note in figures:
            before = previous.get(label)
            change = None if is_missing(difference(value, before)) else difference(value, before)
            if change is not None and label.endswith("率"):
                change = points(change)  # a rate's change in 个百分点
            rows.append((label, value, before, change, note))
        key = pd.DataFrame(rows, columns=["指标", "本年", f"上年（{previous_year}年）", "变化", "说明"])
    return {
        "总览": key,
        "等级分布": _grade_block(p, meta.grades),
        "执行率分布": _band_block(p),
        "问题统计": _severity_block(tally),
        "问题代码统计": _code_block(tally),
        "口径说明": pd.DataFrame({"说明": [f"{n}. {text}" for n, text in
                                         enumerate(RULES + ((UNSCORED_RULE,) if pending else ()), 1)]}),
    }


def _submitted_note(c, unreadable: tuple[str, ...], limit: int = 12) -> str:
    """Who among the submitted is not on the roster, and whose files could not be read (must send again)."""
    notes = [f"其中名单外 {c.unknown} 个"] if c.unknown else []
    if c.unreadable_departments:
        names = "、".join(unreadable[:limit]) + ("等" if len(unreadable) > limit else "")
        notes.append(f"其中 {c.unreadable_departments} 个单位报送的文件无法读取、须重新报送" + (f"：{names}" if names else ""))
    return "；".join(notes)


def _names(missing: pd.DataFrame, limit: int = 12) -> str:
    if missing.empty:
        return ""
    labels = [f"{d}·{n}" if DISTRICT in missing else str(n)
              for d, n in zip(missing.get(DISTRICT, missing[NAME]), missing[NAME], strict=True)]
    return "、".join(labels[:limit]) + (f"等 {len(labels)} 个（见未报送单位）" if len(labels) > limit else "")


def _grade_block(p: pd.DataFrame, grades: tuple[str, ...]) -> pd.DataFrame:
    n, budget = len(p), money_sum(p[BUDGET])
    rows = []
    for g in (*grades, PENDING):
        mine = p[p[GRADE] == g]
        if g == PENDING and mine.empty:
            continue  # a row of its own only when some project is not scored
        money = money_sum(mine[BUDGET])
        rows.append({GRADE: g, PROJECTS: len(mine), "项目数占比": ratio(len(mine), n), BUDGET: money,
                     "金额占比": ratio(money, budget)})
    rows.append({GRADE: TOTAL, PROJECTS: n, "项目数占比": 1.0 if n else np.nan, BUDGET: budget,
                 "金额占比": 1.0 if budget > 0 else np.nan})
    return pd.DataFrame(rows)


def _band_block(p: pd.DataFrame) -> pd.DataFrame:
    bands = p[RATE].map(rate_band) if len(p) else pd.Series(dtype=object)
    n, budget = len(p), money_sum(p[BUDGET])
    rows = []
    pending = ((PENDING, "金额待核实（有金额是公式且文件中没有保存计算结果）"),) if (bands == PENDING).any() else ()
    for name, definition in RATE_BANDS + pending:
        mine = p[bands == name]
        money = money_sum(mine[BUDGET])
        rows.append({"执行率区间": name, PROJECTS: len(mine), "项目数占比": ratio(len(mine), n), BUDGET: money,
                     "范围": definition})
    rows.append({"执行率区间": TOTAL, PROJECTS: n, "项目数占比": 1.0 if n else np.nan, BUDGET: budget, "范围": ""})
    return pd.DataFrame(rows)


def _severity_block(tally: FindingTally) -> pd.DataFrame:
    """Findings by level: how many, the departments (an unreadable file names none) and files involved."""
    rows = []
    for sev in SEVERITY_ZH.values():
        mine = tally.levels.get(sev, LevelTally())
        rows.append({"级别": sev, "数量": mine.count, "涉及单位数": len(mine.units), "涉及文件数": len(mine.files)})
    everything = tally.levels.values()
    rows.append({"级别": TOTAL, "数量": tally.rows, "涉及单位数": len(set().union(*(m.units for m in everything))),
                 "涉及文件数": len(set().union(*(m.files for m in everything)))})
    return pd.DataFrame(rows)


def _code_block(tally: FindingTally) -> pd.DataFrame:
    columns = ["问题", "级别", "数量", "涉及单位数", "代码"]  # five: the 总览 sheet's columns; the code last
    if not tally.rows:
        return pd.DataFrame(columns=columns)
    rows = [{"问题": title, "代码": code, "级别": sev, "数量": mine.count, "涉及单位数": len(mine.units)}
            for (sev, title, code), mine in tally.codes.items()]
    frame = pd.DataFrame(rows, columns=columns)
    frame["_e"] = frame["级别"] != "错误"
    return frame.sort_values(["_e", "数量", "代码"], ascending=[True, False, True]).drop(columns="_e") \
        .reset_index(drop=True)
