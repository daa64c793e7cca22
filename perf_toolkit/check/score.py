"""Scoring by the rule profile (rules.md §3), over all submissions at once.

Values are parsed once per cell into two DataFrames — one row per project, one
per indicator — and every rule is then a vectorised column expression. Scores
are kept exact; `round2` rounds once, half up, for display and grading.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import values
from ..model import AMOUNT_FIELDS, RATE_FIELDS, FieldPath, SourcedSubmission
from ..numbers import round2
from ..profile import Profile
from ..spec import (
    TAXONOMY,
    clean_label,
    level1_weight,
    normalise_direction,
    normalise_level1,
    normalise_level2,
    normalise_source,
)

#: Keywords that put a qualitative actual into a band, checked in this order
#: (部分达成 first: "基本完成" and "较好" must not read as 达成; 未达成 before 达成: "未完成",
#: and a negated 达成 word — "不符合规定", "效果不好" — is 未达成).
BAND_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("部分达成", ("部分", "基本", "一般", "较好")),
    ("未达成", ("未", "无效", "差", "没有", "尚未", "不到位", "不合规", "不及时", "不符合", "不满足", "不显著",
              "不明显", "不好", "不达", "不够", "不足", "不理想", "不规范", "不完善", "无明显")),
    ("达成", ("达成", "完成", "有效", "显著", "合规", "及时", "到位", "好", "达到", "满足", "符合", "实现")),
)


def qualitative_band(actual: object, target: object = "") -> str | None:
    """The band (达成/部分达成/未达成) a qualitative actual text falls in, or None if no rule fits."""
    text = clean_label(actual)
    if not text:
        return None
    if text == clean_label(target):
        return "达成"
    for band, words in BAND_KEYWORDS:
        if any(w in text for w in words):
            return band
    return None


@dataclass
class Scores:
    """Everything scored in one batch: one row per project and one per indicator."""

    projects: pd.DataFrame
    indicators: pd.DataFrame


# ------------------------------------------------------------------ parsing into rows


def _unknown(item: SourcedSubmission) -> dict[tuple, list]:
    """The amounts and indicator values of a submission that are unknown (formulas with no saved
    result): (p,) -> [(fund row, amount)], (p, i) -> [indicator field]."""
    out: dict[tuple, list] = {}
    for text in sorted(item.unknown):
        path = FieldPath.parse(text)
        if path.fund is not None and path.name in AMOUNT_FIELDS:
            out.setdefault((path.project,), []).append((path.fund, path.name))
        elif path.is_score_input:
            out.setdefault((path.project, path.indicator), []).append(path.name)
    return out


def _project_rows(items: Sequence[SourcedSubmission]) -> list[dict]:
    rows = []
    for s, item in enumerate(items):
        sub = item.submission
        unknown = _unknown(item)
        for p, project in enumerate(sub.projects):
            row = {
                "s": s, "p": p, "file": item.file, "year": sub.year,
                "dept_code": sub.department.code, "dept_name": sub.department.name,
                "code": project.code, "name": project.name, "unknown_amounts": unknown.get((p,), []),
            }
            sources = [normalise_source(fund.source) for fund in project.funds]
            row["fund_sources"] = sources  # canonical, None for a source the form does not have
            row["unknown_sources"] = [j for j, source in enumerate(sources) if source is None]
            for column in ("initial_budget", "adjusted_budget", "executed"):
                total, bad, by_source = 0.0, [], {}
                for j, (fund, source) in enumerate(zip(project.funds, sources, strict=True)):
                    amount, reason = values.parse_money(getattr(fund, column))
                    if reason:
                        bad.append((j, reason))
                    if source is not None:  # an alias (财政资金) adds to its source's figure; None: not filled
                        before = by_source.get(source)
                        by_source[source] = amount if before is None else before + (amount or 0.0)
                    total += amount or 0.0
                row[column] = total
                row[f"{column}_bad"] = bad
                row[f"{column}_by_source"] = by_source
            rows.append(row)
    return rows


def _classify(ind, year: int | None) -> dict:
    """Parse one indicator's target and actual and decide how it is scored."""
    typed_dir = normalise_direction(ind.direction)
    target = values.parse_value(ind.target, unit=ind.unit, year=year)
    actual = values.parse_value(ind.actual, unit=ind.unit, year=year)
    row = {
        "typed_direction": typed_dir, "direction_conflict": None, "direction_missing": False,
        "t_kind": target.kind, "a_kind": actual.kind, "t_unit": target.unit, "a_unit": actual.unit,
        "t_note": target.note, "a_note": actual.note, "A": np.nan, "B": np.nan, "strict": target.strict,
        "unit_mismatch": False, "unit_assumed": None, "percent_fixed": None, "scored_as": "none",
        "direction": typed_dir or "", "actual_band_text": False,
    }
    if typed_dir == "定性" or (typed_dir is None and target.kind == "text"):
        row["scored_as"] = "qual"
        row["direction"] = "定性"
        return row
    if target.kind == "date" or (target.kind == "number" and actual.kind == "date") or (
            target.kind == actual.kind == "number" and values.year_month(ind.target) and values.year_month(ind.actual)):
        return _classify_date(row, ind, target, actual)
    if target.kind != "number":
        # declared quantitative but the target has no number: scored by the actual's band if it has one
        row["scored_as"] = "qual" if target.kind == "text" else "none"
        return row
    direction = target.operator or typed_dir
    if target.operator and typed_dir and target.operator != typed_dir:
        row["direction_conflict"] = target.operator
    if direction is None:
        direction, row["direction_missing"] = "≥", True
    row["direction"] = direction
    if actual.kind == "number":
        a_num, b_num, a_unit, b_unit = target.number, actual.number, target.unit, actual.unit
        a_num, b_num, fixed = _fix_fraction_percent(ind, a_num, b_num, a_unit, b_unit)
        row["percent_fixed"] = fixed
        if fixed is None and bool(a_unit) != bool(b_unit):
            # a unit on one side only: the bare side is read in the other's unit, and a finding says so
            side, bare, like = ("actual", actual, target) if a_unit else ("target", target, actual)
            read = values.assume_unit(bare, like)
            row["unit_assumed"] = (side, read.unit_text.removeprefix(bare.unit_text))  # "9万" + "元"
            if side == "actual":
                b_num, b_unit = read.number, read.unit
            else:
                a_num, a_unit = read.number, read.unit
        if a_unit and b_unit and a_unit != b_unit:
            converted = values.convert(actual, a_unit)
            if converted is None:
                row["unit_mismatch"] = True
                return row
            b_num = converted
        row.update(scored_as="number", A=a_num, B=b_num)
    elif actual.kind == "text" and qualitative_band(ind.actual, ind.target):
        row["scored_as"], row["actual_band_text"] = "qual", True
    return row


def _classify_date(row: dict, ind, target, actual) -> dict:
    """Dates as targets are `≤` on dates: met when the actual is not later. A number beside a date is a
    year-month ("2023.12") or an Excel serial; a month without a day (a target month is its end) makes
    the comparison one of months: both sides count as their month's last day. A and B are day numbers
    from the start of the target's year, so B − A is the number of days late."""
    row["direction"] = "≤"
    t_date, t_month = _date_of(target, ind.target)
    a_date, a_month = _date_of(actual, ind.actual)
    if t_date is None or a_date is None:
        row["scored_as"] = "none"
        return row
    if t_month or a_month:
        t_date, a_date = (values.month_end(d.year, d.month) for d in (t_date, a_date))
    start = dt.date(t_date.year, 1, 1)
    row.update(scored_as="date", A=float((t_date - start).days + 1), B=float((a_date - start).days + 1))
    return row


def _date_of(value, raw) -> tuple[dt.date | None, bool]:
    """(the date a target or actual stands for, whether it is a month without a day)."""
    if value.kind == "date":
        return value.date, value.month_only
    if value.kind != "number":
        return None, False
    month = values.year_month(raw)
    if month:
        return values.month_end(*month), True
    if value.unit or value.operator:  # "≥90%" is no date
        return None, False
    return values.excel_serial_to_date(value.number), False  # a date pasted as a number


def _fix_fraction_percent(ind, a: float, b: float, a_unit: str, b_unit: str):
    """A percent target met by `0.95`: read it as 95 %, and say so (never silently)."""
    def typed_percent(raw) -> bool:
        return "%" in values.normalise_text(raw) if isinstance(raw, str) else False

    if a_unit == "%" and b_unit in ("%", "") and a > 1.5 and 0 < b <= 1.5 and not typed_percent(ind.actual):
        return a, b * 100, ("actual", b * 100)
    if b_unit == "%" and a_unit in ("%", "") and b > 1.5 and 0 < a <= 1.5 and not typed_percent(ind.target):
        return a * 100, b, ("target", a * 100)
    return a, b, None


def _indicator_rows(items: Sequence[SourcedSubmission]) -> list[dict]:
    rows = []
    for s, item in enumerate(items):
        year = item.submission.year
        unknown = _unknown(item)
        for p, project in enumerate(item.submission.projects):
            for i, ind in item.indicators(p):
                weight, weight_note = values.parse_weight(ind.weight)
                claimed, claimed_note = values.parse_weight(ind.claimed_score)
                level1, level2 = normalise_level1(ind.level1), normalise_level2(ind.level2)
                row = {
                    "s": s, "p": p, "i": i, "project_code": project.code,
                    "level1": level1, "level2": level2, "name": ind.name,
                    "target": ind.target, "actual": ind.actual, "unit": ind.unit,
                    "typed_weight": weight, "weight_note": weight_note, "header_weight": level1_weight(ind.level1),
                    "claimed": np.nan if claimed is None else claimed, "claimed_note": claimed_note,
                    "explained": bool(values.meaningful_text(ind.deviation_note)),
                    "band": None, "unknown": tuple(unknown.get((p, i), ())),
                }
                row.update(_classify(ind, year))
                if row["scored_as"] == "qual":
                    row["band"] = qualitative_band(ind.actual, ind.target)
                rows.append(row)
    return rows


# ------------------------------------------------------------------ vectorised rules


def _weights(ind: pd.DataFrame, profile: Profile) -> pd.Series:
    """Each indicator's weight: as typed, always (the department's typed weights were approved with
    its targets, rules.md §3). An indicator with no typed weight gets an equal share of what its 一级's
    weight leaves after the typed ones (never below 0); that 一级 weight is the one printed in the
    一级 label ("产出指标(50分)", the form's own header), else, in a split profile, the profile's.

    Split: 成本指标 as its own 一级 (财预〔2021〕101号) shares 产出指标's weight, and the weight of a
    standard 一级 the project has no indicator in (typically 满意度指标) moves to the ones it has, in
    proportion. With neither a printed nor a profile weight, an untyped indicator weighs 0 (and a
    typed profile reports the empty cell).
    """
    typed = ind["typed_weight"].astype(float)
    if ind.empty:
        return typed.fillna(0.0)
    header = ind["header_weight"].astype(float)
    standard = profile.level1_weights if profile.indicator_weights == "split" else {}
    fold_cost = ind["level1"].eq("成本指标") & header.isna() & bool(standard) & ("成本指标" not in standard)
    group = ind["level1"].where(~fold_cost, "产出指标")
    keys = [ind["s"], ind["p"], group]
    level_weight = header.groupby(keys).transform("first")  # the first weight printed in the 一级's labels
    if standard:
        scaled = group.map(standard).astype(float)
        first_of_group = ~pd.DataFrame({"s": ind["s"], "p": ind["p"], "g": group}).duplicated()
        present = scaled.where(first_of_group, 0.0).fillna(0.0).groupby([ind["s"], ind["p"]]).transform("sum")
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = scaled * np.where(present > 0, sum(standard.values()) / present, 0.0)
        level_weight = level_weight.fillna(scaled)
    untyped = typed.isna()
    left = (level_weight - typed.fillna(0.0).groupby(keys).transform("sum")).clip(lower=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = left / untyped.groupby(keys).transform("sum")
    return typed.fillna(share).fillna(0.0)


def _quantitative(ind: pd.DataFrame, profile: Profile) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(score, met, completion) for number and date indicators; NaN elsewhere."""
    w, a, b = ind["weight"], ind["A"], ind["B"].clip(lower=0)  # a negative actual counts as 0
    d, strict = ind["direction"], ind["strict"].astype(bool)
    is_date = ind["scored_as"].eq("date")
    up = d.isin(["≥", "="]) & ~is_date
    with np.errstate(divide="ignore", invalid="ignore"):
        met_up = np.where(strict, b > a, b >= a)
        met_up = np.where(d.eq("=") & (a == 0), b <= 0, met_up)
        met_down = np.where(strict, b < a, b <= a)
        met = np.where(up, met_up, met_down)
        # unmet with A ≤ 0 only happens for a strict target ("大于0") or "=" with A = 0: nothing earned
        ratio_up = np.where(a > 0, np.minimum(b / a, 1.0), 0.0)
        if profile.reverse_formula == "linear":
            ratio_down = np.where(a > 0, np.clip(1 - (b - a) / a, 0.0, 1.0), 0.0)
        else:
            ratio_down = np.where(b > 0, np.minimum(a / b, 1.0), 0.0)
        # a late date loses its points over the profile's window of days (B − A is the days late)
        late = 0.0 if profile.date_late == "zero" else np.clip(1 - (b - a) / profile.date_late_window_days, 0.0, 1.0)
        ratio_down = np.where(is_date, late, ratio_down)
        ratio = np.where(met, 1.0, np.where(up, ratio_up, ratio_down))
        completion = np.where(up, np.where(a > 0, b / a, np.where(met, 1.0, 0.0)),
                              np.where(b > 0, a / b, 1.0))
        completion = np.where(is_date, np.nan, completion)  # a day count is no rate of completion
    quant = ind["scored_as"].isin(["number", "date"])
    score = pd.Series(np.where(quant, w * ratio, np.nan), index=ind.index)
    return score, pd.Series(np.where(quant, met, None), index=ind.index), \
        pd.Series(np.where(quant, completion, np.nan), index=ind.index)


def _qualitative(ind: pd.DataFrame, profile: Profile) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(score, band low points, band cap points) for qualitative indicators; NaN elsewhere."""
    w, claimed = ind["weight"], ind["claimed"]
    low = ind["band"].map({b.band: b.low for b in profile.bands}).astype(float) * w
    top = max(profile.bands, key=lambda b: b.high).band
    # the band's upper bound is exclusive except for the top band: the cap is one cent below it
    high = ind["band"].map({b.band: b.high for b in profile.bands}).astype(float) * w
    cap = np.where(ind["band"].eq(top), high, high - 0.01)
    default = np.where(ind["band"].eq(top), high, (low + high) / 2)
    in_band = np.where(claimed.isna(), default, np.clip(claimed, low, cap))
    score = np.where(ind["scored_as"].eq("qual") & ind["band"].notna(), in_band, np.nan)
    return pd.Series(score, index=ind.index), low, pd.Series(cap, index=ind.index)


def _score_indicators(ind: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """Every indicator's score. One rule for what cannot be verified from the form, quantitative or
    qualitative alike (a value with no readable number, units that cannot be compared, a text outside
    the bands): it earns the department's claimed score, within its weight (0 when none is claimed),
    provisionally: its project's total and grade are 待核实 until the bureau verifies it."""
    ind["weight"] = _weights(ind, profile)
    q_score, met, completion = _quantitative(ind, profile)
    l_score, band_low, band_cap = _qualitative(ind, profile)
    ind["band_low"], ind["band_cap"] = band_low, band_cap
    ind["verifiable"] = ind["scored_as"].isin(["number", "date"]) | (
        ind["scored_as"].eq("qual") & ind["band"].notna())
    provisional = ind["claimed"].clip(lower=0).fillna(0.0)
    ruled = q_score.fillna(l_score).clip(lower=0)
    ind["score"] = np.minimum(ruled.where(ind["verifiable"], provisional).fillna(0.0), ind["weight"])
    # a qualitative indicator is met in the top band; with no band nobody can say yet
    qual_met = ind["band"].map(lambda band: None if band is None else band == "达成")
    ind["met"] = met.where(ind["scored_as"].ne("qual"), qual_met)
    ind["met"] = ind["met"].where(ind["scored_as"].ne("none"), None)
    ind["completion"] = completion
    ind["overachieved"] = (
        ind["scored_as"].eq("number") & ind["direction"].isin(["≥", "="]) & (ind["A"] > 0)
        & (ind["B"] >= profile.overachieved * ind["A"])
    )
    return ind


def _score_projects(proj: pd.DataFrame, ind: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    bw = profile.budget_weight
    budget, spent = proj["adjusted_budget"], proj["executed"]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = pd.Series(np.where(budget > 0, spent / budget, np.nan), index=proj.index)
    proj["execution_rate"] = rate
    proj["execution_score"] = (bw * rate.clip(lower=0, upper=1)).fillna(0.0)
    grade_cap = pd.Series([None] * len(proj), index=proj.index, dtype=object)
    for cap in sorted(profile.execution_caps, key=lambda c: c.below):
        hit = rate < cap.below
        if cap.budget_score_zero:
            proj.loc[hit, "execution_score"] = 0.0
        if cap.grade_max:
            grade_cap = grade_cap.where(~(hit & grade_cap.isna()), cap.grade_max)
    keys = ["s", "p"]
    sums = ind.groupby(keys)[["score", "weight"]].sum() if not ind.empty else None
    for column in ("score", "weight"):
        proj[f"indicator_{column}"] = (
            proj.set_index(keys).index.map(sums[column]).fillna(0.0).to_numpy() if sums is not None else 0.0
        )
    for level1 in TAXONOMY:
        part = ind[ind["level1"] == level1].groupby(keys)["score"].sum() if not ind.empty else None
        proj[f"score_{level1}"] = (
            proj.set_index(keys).index.map(part).fillna(0.0).to_numpy() if part is not None else 0.0
        )
    proj["n_indicators"] = proj.set_index(keys).index.map(
        ind.groupby(keys).size() if not ind.empty else {}).fillna(0).astype(int).to_numpy()
    # not scored: a score input is unknown (a formula with no saved result); the rules skip what depends on it
    proj["rate_known"] = proj["unknown_amounts"].map(lambda cells: all(c not in RATE_FIELDS for _, c in cells))
    pending = ind[ind["unknown"].map(len) > 0].groupby(keys).size() if not ind.empty else {}
    proj["indicators_known"] = proj.set_index(keys).index.map(pending).isna() if len(pending) else True
    proj["scored"] = proj["rate_known"] & proj["indicators_known"]
    # not capped at 100: weights that add up to more are reported and scored as typed (rules.md §3)
    proj["total_score"] = proj["execution_score"] + proj["indicator_score"]
    proj["total_display"] = proj["total_score"].map(round2)
    grade = proj["total_display"].map(profile.grade)
    rank = {g: n for n, (g, _) in enumerate(profile.grades)}
    proj["grade"] = [
        g if cap is None or rank[g] >= rank[cap] else cap for g, cap in zip(grade, grade_cap, strict=True)
    ]
    proj["grade_capped"] = grade_cap.notna() & (proj["grade"] != grade)
    return proj


def score_submissions(items: Sequence[SourcedSubmission], profile: Profile) -> Scores:
    """Score every project and indicator of a batch of submissions by `profile`."""
    proj = _frame(_project_rows(items), _PROJECT_COLUMNS, _PROJECT_NUMBERS)
    ind = _frame(_indicator_rows(items), _INDICATOR_COLUMNS, _INDICATOR_NUMBERS)
    ind = _score_indicators(ind, profile)
    proj = _score_projects(proj, ind, profile)
    return Scores(projects=proj, indicators=ind)


def _frame(rows: list[dict], columns: list[str], numbers: tuple[str, ...]) -> pd.DataFrame:
    """Rows as a DataFrame of Python objects (a typed value stays itself: no NaN for None, no
    string dtype inference), with only the numeric columns made float."""
    frame = pd.DataFrame(rows, dtype=object)
    for column in columns:
        if column not in frame:
            frame[column] = pd.Series(dtype=object)
    for column in frame.columns:
        if column in ("s", "p", "i"):
            frame[column] = frame[column].astype(int)
        elif column in numbers:
            frame[column] = frame[column].astype(float)
    return frame


_PROJECT_NUMBERS = ("initial_budget", "adjusted_budget", "executed")
_INDICATOR_NUMBERS = ("typed_weight", "header_weight", "claimed", "A", "B")
_PROJECT_COLUMNS = ["s", "p", "file", "year", "dept_code", "dept_name", "code", "name", "unknown_amounts",
                    "initial_budget", "adjusted_budget", "executed"]
_INDICATOR_COLUMNS = ["s", "p", "i", "project_code", "level1", "level2", "name", "target", "actual", "unit",
                      "typed_weight", "weight_note", "header_weight", "claimed", "claimed_note", "explained", "band",
                      "typed_direction", "direction_conflict", "direction_missing", "t_kind", "a_kind",
                      "t_unit", "a_unit", "t_note", "a_note", "A", "B", "strict", "unit_mismatch",
                      "unit_assumed", "percent_fixed", "scored_as", "direction", "actual_band_text", "unknown"]
