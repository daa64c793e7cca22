"""The reviewer's checks (rules.md §4): each a small generator of findings.

Checks read the scored frames (so every rule is computed once, in `score`) and
the submissions (for text); each finding carries the sheet and cell the reader
recorded for the field it is about. `CHECKS` lists them in report order.
A value nobody knows (a formula with no saved result, reported by the reader) is
not judged: no check of the budget block that needs an unknown amount's column, and
none about the values or scores of an indicator with an unknown value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from .. import findings, values
from ..model import FULL_MARKS, WEIGHT_TOLERANCE, FieldPath, Finding, SourcedSubmission
from ..numbers import Rate, budget_cut, percent, points, round2, weight_text
from ..profile import Profile
from ..spec import (
    DEPARTMENT_FIELDS,
    FUND_COLUMNS,
    INDICATOR_COLUMNS,
    LEVEL2_NAMES,
    PROJECT_FIELDS,
    TAXONOMY,
    YEAR_FIELD,
    normalise_direction,
)
from .score import Scores

#: An indicator that restates the budget execution rate, which is already scored on its own: the
#: share of the money spent, paid or disbursed, or the spending progress, in whatever words
#: (预算执行率, 资金支付完成率, 经费足额拨付率, 资金执行在预算范围内, 支出进度 …). Only a few words
#: of amount or period may stand between the money and the act (足额, 实际, 累计 …): 资金使用合规率,
#: 经费按规定执行率 and 资金拨付及时率 judge compliance or timing, not the amount. 资金到位率 (funds
#: received ÷ funds budgeted, a 过程 indicator of the 2020 framework) is the financing side, not
#: spending, and is not counted; 拨付到位率 (disbursed in full) is.
EXECUTION_INDICATOR = re.compile(
    r"(预算|资金|经费|项目|支出)(足额|实际|累计|全年|年度|总体|整体|当年)?"
    r"(支出|执行|支付|拨付|使用)(完成率|到位率|率|进度)"
    r"|(资金|经费|预算|支出)(执行|支出|使用)?(控制)?在预算(范围|额度)?[以之]?内"
    r"|(执行|支出|支付|拨付)进度"
    r"|^\s*执行率\s*$")
#: Phrases saying "no deviation" / "all done", contradicted when the numbers show otherwise.
NO_DEVIATION = ("未偏离", "无偏离", "没有偏离", "无偏差", "没有偏差", "未出现偏差", "全部完成", "均已完成",
                "全面完成", "均完成", "圆满完成")

INDICATOR_LABEL = {key: label for key, label, _ in INDICATOR_COLUMNS}
FUND_LABEL = dict(FUND_COLUMNS)


#: A finding and the index of the submission it is about.
Located = tuple[int, Finding]


@dataclass
class Context:
    items: Sequence[SourcedSubmission]
    scores: Scores
    profile: Profile
    year: int | None = None  # the round's evaluation year, when known

    # per-project views of the indicator frame, grouped once (checks run per project)

    @cached_property
    def known(self) -> pd.DataFrame:
        """The indicator rows whose values are all known (the others are not judged)."""
        ind = self.scores.indicators
        return ind[ind["unknown"].map(len).eq(0)] if not ind.empty else ind

    @cached_property
    def unmet(self) -> dict[tuple[int, int], list]:
        """(s, p) -> the project's unmet indicator rows, in order."""
        ind = self.known
        out: dict[tuple[int, int], list] = {}
        for row in _rows(ind[ind["met"].eq(False)] if not ind.empty else ind):
            out.setdefault((row.s, row.p), []).append(row)
        return out

    @cached_property
    def unknown_weights(self) -> set[tuple[int, int]]:
        """(s, p) of the projects with an indicator weight nobody knows."""
        return {(row.s, row.p) for row in _rows(self.scores.indicators) if "weight" in row.unknown}

    @cached_property
    def level1_weights(self) -> dict[tuple[int, int], dict[str, float]]:
        """(s, p) -> {一级指标: Σ weight}, in order of first appearance."""
        out: dict[tuple[int, int], dict[str, float]] = {}
        for row in _rows(self.scores.indicators):
            mine = out.setdefault((row.s, row.p), {})
            mine[row.level1] = mine.get(row.level1, 0.0) + row.weight
        return out

    @cached_property
    def claimed_sums(self) -> dict[tuple[int, int], float]:
        """(s, p) -> Σ claimed scores (missing claims count 0)."""
        ind = self.scores.indicators
        return {} if ind.empty else ind["claimed"].fillna(0).groupby([ind["s"], ind["p"]]).sum().to_dict()

    def at(self, s: int, path: str, code: str, project: str | None = None, *, cell_of: str | None = None,
           **params) -> Located:
        """A finding of submission `s` about `path`, located at the cell the reader recorded for `cell_of`
        (the cell the clerk must change, when it is not the field's own) or else for `path`."""
        item = self.items[s]
        return s, findings.make(code, item.where(cell_of or path), file=item.file, project=project, path=path,
                                **params)

    @cached_property
    def weight_rows(self) -> dict[tuple[int, int], list[tuple[int, str, bool]]]:
        """(s, p) -> (indicator index, 一级指标, weight typed) of each of the project's indicators."""
        out: dict[tuple[int, int], list[tuple[int, str, bool]]] = {}
        ind = self.scores.indicators
        if not ind.empty:
            for s, p, i, level1, typed in zip(ind["s"], ind["p"], ind["i"], ind["level1"], ind["typed_weight"].notna(),
                                              strict=True):
                out.setdefault((s, p), []).append((int(i), level1, bool(typed)))
        return out

    def weight_cell(self, s: int, p: int, level1s: frozenset[str] | None = None) -> str | None:
        """The path of the first weight typed in project (s, p) (else of its first indicator), under `level1s`
        if given: a weight finding sits on a weight to change, not on the table's first 一级 label."""
        mine = [r for r in self.weight_rows.get((s, p), []) if level1s is None or r[1] in level1s]
        rows = [r for r in mine if r[2]] or mine
        return f"{FieldPath.of(p)}.indicators[{min(r[0] for r in rows)}].weight" if rows else None


def _rows(df: pd.DataFrame) -> Iterator:
    return df.itertuples(index=False) if not df.empty else iter(())


# ------------------------------------------------------------------ required values and readability


def check_required(ctx: Context) -> Iterator[Located]:
    for s, item in enumerate(ctx.items):
        sub = item.submission
        if sub.year is None:
            yield ctx.at(s, "year", "required-value", label=YEAR_FIELD.label, advice="请填写被评价的预算年度，如 2023。")
        elif ctx.year is not None and sub.year != ctx.year:
            yield ctx.at(s, "year", "year-mismatch", found=sub.year, expected=ctx.year)
        for field in DEPARTMENT_FIELDS:
            if field.required and not _get(sub.department, field.key).strip():
                yield ctx.at(s, f"department.{field.key}", "required-value", label=field.label)
        if not sub.projects:
            yield ctx.at(s, "projects", "required-value", label="项目", advice="至少填写一个项目。")
        seen: dict[str, int] = {}
        for p, project in enumerate(sub.projects):
            code = project.code
            for field in PROJECT_FIELDS:
                if field.required and not getattr(project, field.key).strip():
                    yield ctx.at(s, f"{FieldPath.of(p)}.{field.key}", "required-value", code, label=field.label)
            if code.strip() in seen:
                other = item.where(f"{FieldPath.of(seen[code.strip()])}.code")
                yield ctx.at(s, f"{FieldPath.of(p)}.code", "project-code-duplicated", code, value=code,
                             other=f"{other.sheet or ''}{other.cell or ''}" or "前面的项目")
            elif code.strip():
                seen[code.strip()] = p
            if not item.indicators(p):
                yield ctx.at(s, f"{FieldPath.of(p)}.indicators", "required-value", code, label="绩效指标",
                             advice="每个项目至少填写一条绩效指标。")
            for i, ind in item.indicators(p):
                base = f"{FieldPath.of(p)}.indicators[{i}]"
                keys = ["level1", "level2", "name", "target", "actual"]
                keys += ["weight"] if ctx.profile.indicator_weights == "typed" else []
                for key in keys:  # an unknown value (a formula) is reported by the reader, not as empty
                    if _blank(getattr(ind, key)) and f"{base}.{key}" not in item.unknown:
                        yield ctx.at(s, f"{base}.{key}", "required-value", code, label=INDICATOR_LABEL[key])


def check_readable(ctx: Context) -> Iterator[Located]:
    """Money, weights, scores and dates that are there but cannot be read."""
    for row in _rows(ctx.scores.projects):
        for column, label in FUND_COLUMNS:
            for j, reason in getattr(row, f"{column}_bad"):
                fund = ctx.items[row.s].submission.projects[row.p].funds[j]
                yield ctx.at(row.s, f"{FieldPath.of(row.p)}.funds[{j}].{column}", "value-unreadable", row.code,
                             label=f"{fund.source}·{label}", value=getattr(fund, column), reason=reason,
                             expect="以万元为单位的金额，如 45.08")
        for j in row.unknown_sources:
            fund = ctx.items[row.s].submission.projects[row.p].funds[j]
            yield ctx.at(row.s, f"{FieldPath.of(row.p)}.funds[{j}].source", "value-unreadable", row.code,
                         label="资金来源", value=fund.source, reason="不是自评表中的资金来源，金额只计入年度资金总额",
                         expect="当年财政拨款、上年结转资金或其他资金")
    for row in _rows(ctx.scores.indicators):
        base = f"{FieldPath.of(row.p)}.indicators[{row.i}]"
        ind = ctx.items[row.s].submission.projects[row.p].indicators[row.i]
        for key, note in (("weight", row.weight_note), ("claimed_score", row.claimed_note)):
            if note:
                yield ctx.at(row.s, f"{base}.{key}", "value-unreadable", row.project_code,
                             label=INDICATOR_LABEL[key], value=getattr(ind, key), reason=note, expect="数字，如 10")
        if ind.direction.strip() and normalise_direction(ind.direction) is None:
            yield ctx.at(row.s, f"{base}.direction", "value-unreadable", row.project_code,
                         label=INDICATOR_LABEL["direction"], value=ind.direction, reason="不是可选的方向",
                         expect="≥、≤、= 或 定性")
    for s, item in enumerate(ctx.items):
        for field in DEPARTMENT_FIELDS:
            raw = _get(item.submission.department, field.key)
            if field.kind == "date" and raw.strip() and values.parse_value(raw).kind != "date":
                yield ctx.at(s, f"department.{field.key}", "value-unreadable", label=field.label, value=raw,
                             reason="不是日期", expect="日期，如 2024-05-08")


# ------------------------------------------------------------------ money


def check_budget(ctx: Context) -> Iterator[Located]:
    """The budget block; a check needing a column with an unknown amount (a formula with no saved
    result) is skipped: with 全年预算数 or 全年执行数 unknown, the rate and all judged on it are."""
    prof = ctx.profile
    for row in _rows(ctx.scores.projects):
        s, p, code = row.s, row.p, row.code
        item = ctx.items[s]
        project = item.submission.projects[p]
        note = values.meaningful_text(project.budget_note)
        budget, spent, initial = row.adjusted_budget, row.executed, row.initial_budget
        unreadable = bool(row.adjusted_budget_bad or row.executed_bad)
        unknown, rate_known = {c for _, c in row.unknown_amounts}, row.rate_known
        if rate_known and budget <= 0 and not unreadable and (spent > 0 or row.n_indicators > 0):
            why = f"已填写全年执行数 {weight_text(spent)} 万元" if spent > 0 else "项目设有绩效指标"
            yield ctx.at(s, f"{FieldPath.of(p)}.funds[0].adjusted_budget", "budget-missing", code, why=why)
        for column, label in FUND_COLUMNS:
            key = f"{FieldPath.of(p)}.funds_total.{column}"
            if key in item.overrides and column not in unknown:
                typed, _ = values.parse_money(item.overrides[key])
                computed = getattr(row, column)
                if typed is None or abs(typed - computed) > 0.005:
                    yield ctx.at(s, key, "budget-total-mismatch", code, label=label,
                                 typed=item.overrides[key], computed=(computed))
        if rate_known and budget > 0 and spent > budget + 0.005:
            yield ctx.at(s, f"{FieldPath.of(p)}.funds[0].executed", "execution-over-budget", code,
                         executed=(spent), budget=(budget), rate=Rate(spent / budget))
        rate = row.execution_rate
        if rate_known and budget > 0 and rate < prof.execution_low:
            if not note:
                yield ctx.at(s, f"{FieldPath.of(p)}.budget_note", "execution-low-unexplained", code,
                             rate=Rate(rate), threshold=Rate(prof.execution_low))
            elif prof.execution_note_max_chars and len(note) > prof.execution_note_max_chars:
                yield ctx.at(s, f"{FieldPath.of(p)}.budget_note", "execution-note-too-long", code,
                             threshold=Rate(prof.execution_low), limit=prof.execution_note_max_chars,
                             length=len(note))
        moved = (initial > 0 and abs(budget - initial) / initial > prof.budget_adjusted) or (
            initial == 0 and budget > 0 and not row.initial_budget_bad and _any_typed(project, "initial_budget"))
        if moved and not note and not unknown & {"initial_budget", "adjusted_budget"}:
            change = f"{percent(abs(budget - initial) / initial)}" if initial > 0 else "全部为年中新增"
            yield ctx.at(s, f"{FieldPath.of(p)}.budget_note", "budget-adjusted-unexplained", code,
                         adjusted=(budget), initial=(initial), change=change,
                         threshold=Rate(prof.budget_adjusted))
        key = f"{FieldPath.of(p)}.execution_score"
        if key in item.overrides and rate_known:
            typed, _ = values.parse_weight(item.overrides[key])
            computed = round2(row.execution_score)
            if typed is None or abs(typed - computed) > 0.005:
                yield ctx.at(s, key, "execution-score-mismatch", code, typed=item.overrides[key],
                             computed=points(computed), weight=(prof.budget_weight),
                             rate=Rate(rate) if budget > 0 else "无法计算")


def check_prefill(ctx: Context) -> Iterator[Located]:
    """The bureau's pre-filled figures, compared with what the department returned."""
    for s, item in enumerate(ctx.items):
        for path, original in item.prefilled.items():
            if path in item.unknown:
                continue  # a formula over the pre-filled figure: reported by the reader
            current = FieldPath.parse(path).value_in(item.submission)
            if not _same_value(original, current):
                yield ctx.at(s, path, "budget-prefill-changed", _project_code(item, path),
                             label=_path_label(item, path), prefilled=original,
                             value=current if current not in (None, "") else "空")


def _any_typed(project, column: str) -> bool:
    return any(not _blank(getattr(f, column)) for f in project.funds)


def _blank(value: object) -> bool:
    """Nothing typed: None, or text of white space only."""
    return value is None or (isinstance(value, str) and not value.strip())


# ------------------------------------------------------------------ weights and taxonomy


def check_weights(ctx: Context) -> Iterator[Located]:
    """Weights are scored as typed; a sum other than 100 and a 一级 split other than the profile's are
    reported (each on its own), so an over-weighted table is never silently scaled."""
    prof = ctx.profile
    for row in _rows(ctx.scores.projects):
        if row.n_indicators == 0 or (row.s, row.p) in ctx.unknown_weights:
            continue
        total = prof.budget_weight + row.indicator_weight
        where = f"{FieldPath.of(row.p)}.indicators"
        if abs(total - FULL_MARKS) > WEIGHT_TOLERANCE:
            yield ctx.at(row.s, where, "weight-sum-mismatch", row.code, cell_of=ctx.weight_cell(row.s, row.p),
                         budget_weight=(prof.budget_weight),
                         indicator_weights=(row.indicator_weight), total=(total))
        # a wrong sum does not hide a 一级 split that differs too: both are reported
        if not prof.level1_weights:
            continue
        found = ctx.level1_weights.get((row.s, row.p), {})
        # 成本指标 as its own 一级 (财预〔2021〕101号) was split out of 产出指标
        found_cmp = dict(found)
        if "成本指标" in found_cmp and "成本指标" not in prof.level1_weights:
            found_cmp["产出指标"] = found_cmp.get("产出指标", 0) + found_cmp.pop("成本指标")
        expected = prof.level1_weights
        tol = WEIGHT_TOLERANCE
        same = all(abs(found_cmp.get(k, 0) - v) <= tol for k, v in expected.items())
        # with no 满意度 indicator, its weight may be moved to 产出/效益 (moved, not added)
        moved = (found_cmp.get("满意度指标", 0) == 0 and "满意度指标" in expected
                 and abs(sum(found_cmp.values()) - sum(expected.values())) <= tol
                 and all(found_cmp.get(k, 0) >= v - tol for k, v in expected.items() if k != "满意度指标"))
        if not same and not moved:
            # on the first weight of a 一级 whose sum differs (产出指标 also holds a 成本指标 the profile lacks)
            off = {k for k in set(expected) | set(found_cmp)
                   if abs(found_cmp.get(k, 0) - expected.get(k, 0)) > tol}
            if "产出指标" in off and "成本指标" in found and "成本指标" not in expected:
                off.add("成本指标")
            yield ctx.at(row.s, where, "weight-nonstandard", row.code,
                         cell_of=ctx.weight_cell(row.s, row.p, frozenset(off)) or ctx.weight_cell(row.s, row.p),
                         found="、".join(f"{k}{weight_text(v)}分" for k, v in found.items()),
                         expected="、".join(f"{k}{weight_text(v)}分" for k, v in expected.items()))


def check_taxonomy(ctx: Context) -> Iterator[Located]:
    for row in _rows(ctx.scores.indicators):
        base = f"{FieldPath.of(row.p)}.indicators[{row.i}]"
        if row.level1 and row.level1 not in TAXONOMY:
            yield ctx.at(row.s, f"{base}.level1", "indicator-taxonomy", row.project_code,
                         reason=f"一级指标“{row.level1}”不在指标体系中（应为{'、'.join(TAXONOMY)}）")
        elif row.level2 and row.level2 not in LEVEL2_NAMES:
            yield ctx.at(row.s, f"{base}.level2", "indicator-taxonomy", row.project_code,
                         reason=f"二级指标“{row.level2}”不在指标体系中")
        elif row.level1 and row.level2 and row.level2 not in TAXONOMY[row.level1]:
            owner = "、".join(k for k, v in TAXONOMY.items() if row.level2 in v)
            yield ctx.at(row.s, f"{base}.level2", "indicator-taxonomy", row.project_code,
                         reason=f"二级指标“{row.level2}”不属于一级指标“{row.level1}”（应属于{owner}）")


# ------------------------------------------------------------------ indicator values


def check_indicator_values(ctx: Context) -> Iterator[Located]:
    for row in _rows(ctx.known):
        base, code = f"{FieldPath.of(row.p)}.indicators[{row.i}]", row.project_code
        declared_number = row.typed_direction in ("≥", "≤", "=")
        if row.direction_missing:
            yield ctx.at(row.s, f"{base}.direction", "indicator-direction-missing", code)
        if row.direction_conflict:
            yield ctx.at(row.s, f"{base}.direction", "indicator-direction-conflict", code,
                         direction=row.typed_direction, target=row.target, operator=row.direction_conflict)
        if row.t_kind == "error" or (declared_number and row.t_kind == "text"):
            yield ctx.at(row.s, f"{base}.target", "indicator-unparseable", code, label="年度指标值",
                         value=row.target, consequence=_provisional(row))
            if row.a_kind == "number":
                yield ctx.at(row.s, f"{base}.actual", "indicator-kind-mismatch", code,
                             reason=f"年度指标值“{row.target}”是文字，实际完成值“{row.actual}”却是数值")
            continue
        if row.t_kind in ("number", "date") and row.typed_direction != "定性":
            if row.a_kind == "error" or (row.a_kind == "text" and not row.actual_band_text) or (
                    row.scored_as == "none" and row.a_kind != "empty" and not row.unit_mismatch):
                yield ctx.at(row.s, f"{base}.actual", "indicator-unparseable", code, label="实际完成值",
                             value=row.actual, consequence=_provisional(row))
            elif row.actual_band_text:
                yield ctx.at(row.s, f"{base}.actual", "indicator-kind-mismatch", code,
                             reason=f"年度指标值“{row.target}”是数值，实际完成值“{row.actual}”却是文字，已按定性指标计分")
        elif row.scored_as == "qual":
            if row.a_kind == "number":
                yield ctx.at(row.s, f"{base}.actual", "indicator-kind-mismatch", code,
                             reason=f"这是定性指标，实际完成值“{row.actual}”却是数值")
            elif row.a_kind == "error":
                yield ctx.at(row.s, f"{base}.actual", "indicator-unparseable", code, label="实际完成值",
                             value=row.actual, consequence=_provisional(row))
        if row.unit_mismatch:
            yield ctx.at(row.s, f"{base}.actual", "indicator-unit-mismatch", code,
                         target_unit=row.t_unit or "无", actual_unit=row.a_unit or "无",
                         consequence=_provisional(row))
        if row.unit_assumed:
            side, unit = row.unit_assumed
            other = "target" if side == "actual" else "actual"
            yield ctx.at(row.s, f"{base}.{side}", "indicator-unit-assumed", code, label=INDICATOR_LABEL[side],
                         value=getattr(row, side), other=INDICATOR_LABEL[other], other_value=getattr(row, other),
                         unit=unit)
        if row.percent_fixed:
            side, percent = row.percent_fixed
            key = "actual" if side == "actual" else "target"
            yield ctx.at(row.s, f"{base}.{key}", "indicator-percent-ambiguous", code,
                         label=INDICATOR_LABEL[key], value=getattr(row, key), percent=f"{weight_text(percent)}%")
        if row.scored_as == "number":
            if row.direction == "=" and row.A != 0 and not np.isclose(row.A, row.B):
                yield ctx.at(row.s, f"{base}.actual", "indicator-not-equal", code,
                             actual=row.actual, target=row.target)
            if row.B < 0:
                yield ctx.at(row.s, f"{base}.actual", "indicator-negative-actual", code, actual=row.actual)


def _provisional(row) -> str:
    """What an indicator nobody can verify from the form is scored at (the one rule: its claimed score)."""
    if row.verifiable:
        return ""
    return f"，暂按自评得分 {weight_text(row.score)} 分计，总分和等级待核实"


def _unmet_detail(row) -> str:
    if row.scored_as == "qual":
        return f"实际完成情况“{row.actual}”属于“{row.band}”档"
    return f"年度指标值 {row.target}，实际完成值 {row.actual}，按规则得 {weight_text(row.score)}/{weight_text(row.weight)} 分"


def check_indicator_results(ctx: Context) -> Iterator[Located]:
    for row in _rows(ctx.scores.indicators):
        base, code = f"{FieldPath.of(row.p)}.indicators[{row.i}]", row.project_code
        known = not row.unknown  # an indicator with an unknown value is neither met nor unmet
        if known and row.met is False and not row.explained:
            yield ctx.at(row.s, f"{base}.deviation_note", "indicator-unmet-unexplained", code,
                         detail=_unmet_detail(row))
        if known and row.overachieved and not row.explained:
            yield ctx.at(row.s, f"{base}.deviation_note", "indicator-overachieved-unexplained", code,
                         ratio=Rate(row.B / row.A), threshold=Rate(ctx.profile.overachieved))
        if EXECUTION_INDICATOR.search(row.name or ""):
            yield ctx.at(row.s, f"{base}.name", "execution-indicator-duplicated", code, name=row.name,
                         budget_weight=(ctx.profile.budget_weight))


# ------------------------------------------------------------------ claimed scores


def check_scores(ctx: Context) -> Iterator[Located]:
    tol = ctx.profile.score_tolerance
    for row in _rows(ctx.known):
        base, code = f"{FieldPath.of(row.p)}.indicators[{row.i}]", row.project_code
        where, claimed, weight, rule = f"{base}.claimed_score", row.claimed, row.weight, row.score
        if row.scored_as == "qual":
            if row.a_kind == "number":
                continue  # reported as indicator-kind-mismatch; the claimed score stands
            if row.band is None:
                yield ctx.at(row.s, f"{base}.actual", "qualitative-unrecognised", code, actual=row.actual,
                             computed=(rule))
                continue
            if np.isnan(claimed):
                top = max(ctx.profile.bands, key=lambda b: b.high).band
                yield ctx.at(row.s, where, "qualitative-score-missing", code, band=row.band, computed=(rule),
                             basis="上限" if row.band == top else "中间值")
                continue
        if np.isnan(claimed):
            continue
        if claimed > weight + 1e-9:
            yield ctx.at(row.s, where, "score-exceeds-weight", code, claimed=(claimed), weight=(weight))
        elif row.scored_as == "qual":
            if not (row.band_low - 1e-9 <= claimed <= row.band_cap + 1e-9):
                band = ctx.profile.band(row.band)
                yield ctx.at(row.s, where, "qualitative-out-of-band", code, actual=row.actual, band=band.band,
                             low=(row.band_low), high=(band.high * weight), claimed=(claimed),
                             computed=(rule))
        elif row.scored_as in ("number", "date"):
            if row.met is False and claimed >= weight - 1e-9 and rule < weight - 1e-9:
                yield ctx.at(row.s, where, "score-full-but-unmet", code, detail=_unmet_detail(row),
                             claimed=(claimed), computed=(rule))
            elif row.met is True and claimed < weight - 1e-9:
                if not row.explained:
                    yield ctx.at(row.s, where, "score-deducted-unexplained", code, claimed=(claimed),
                                 weight=(weight))
            elif abs(claimed - rule) > tol + 1e-9:
                yield ctx.at(row.s, where, "score-mismatch", code, claimed=(claimed), computed=(rule),
                             tolerance=(tol), rule=_rule_text(row, ctx.profile))
    for row in _rows(ctx.scores.projects):
        item = ctx.items[row.s]
        key = f"{FieldPath.of(row.p)}.total_score"
        if key not in item.overrides or not row.scored:
            continue
        typed, _ = values.parse_weight(item.overrides[key])
        exec_key = f"{FieldPath.of(row.p)}.execution_score"
        exec_typed = values.parse_weight(item.overrides[exec_key])[0] if exec_key in item.overrides else None
        computed = (exec_typed if exec_typed is not None else round2(row.execution_score)) + float(
            ctx.claimed_sums.get((row.s, row.p), 0.0))
        if typed is None or abs(typed - computed) > tol + 1e-9:
            yield ctx.at(row.s, key, "total-mismatch", row.code, typed=item.overrides[key], computed=(computed))


def _rule_text(row, profile: Profile) -> str:
    if row.scored_as == "date":
        if profile.date_late == "zero":
            return "完成时间晚于指标值，不得分"
        window = profile.date_late_window_days
        return f"完成时间晚于指标值{weight_text(row.B - row.A)}天，按逾期天数计分：分值×(1−逾期天数÷{window})"
    if row.direction == "≤":
        return ("反向指标：分值×指标值÷实际值" if profile.reverse_formula == "ratio"
                else "反向指标：分值×(1−(实际值−指标值)÷指标值)")
    return "正向指标：分值×实际值÷指标值" if row.direction == "≥" else "等于指标：按正向计分"


# ------------------------------------------------------------------ narrative


def check_narrative(ctx: Context) -> Iterator[Located]:
    """Texts left as placeholders; "未偏离"/"全部完成" against the figures (unmet indicators, a low rate, a
    budget cut over the profile's threshold); an achievement naming another kind of thing than the targets."""
    projects = {(row.s, row.p): row for row in _rows(ctx.scores.projects)}
    for s, item in enumerate(ctx.items):
        for p, project in enumerate(item.submission.projects):
            code = project.code
            for field in PROJECT_FIELDS:
                text = getattr(project, field.key)
                if values.is_placeholder(text) or (field.key == "goal" and _only_number(text)):
                    yield ctx.at(s, f"{FieldPath.of(p)}.{field.key}", "placeholder-text", code,
                                 label=field.label, value=text)
            for i, one in item.indicators(p):
                for key in ("name", "basis", "deviation_note"):
                    text = getattr(one, key)
                    if values.is_placeholder(text):
                        yield ctx.at(s, f"{FieldPath.of(p)}.indicators[{i}].{key}", "placeholder-text", code,
                                     label=INDICATOR_LABEL[key], value=text)
            unmet = ctx.unmet.get((s, p), [])
            evidence, figures = _deviation_evidence(projects.get((s, p)), unmet, ctx.profile)
            for key, label in (("deviation_reason", "偏离绩效目标的原因分析"), ("achievement", "实际完成情况")):
                phrase = _said(getattr(project, key))
                if phrase and evidence:
                    yield ctx.at(s, f"{FieldPath.of(p)}.{key}", "narrative-contradiction", code, label=label,
                                 phrase=phrase, evidence="，".join(evidence), **figures)
            for row in unmet:
                phrase = _said(project.indicators[row.i].deviation_note)
                if phrase:
                    yield ctx.at(s, f"{FieldPath.of(p)}.indicators[{row.i}].deviation_note",
                                 "narrative-contradiction", code, label="偏差原因分析及改进措施", phrase=phrase,
                                 evidence=f"该指标未完成（{_unmet_detail(row)}）")
            targets = [project.name, project.goal, *(one.name for one in project.indicators)]
            for found, named in term_mismatches(targets, project.achievement):
                yield ctx.at(s, f"{FieldPath.of(p)}.achievement", "achievement-term-mismatch", code,
                             found=found, expected="、".join(named))


def _deviation_evidence(row, unmet: list, profile: Profile) -> tuple[list[str], dict]:
    """What in the numbers says the project deviated from its targets: sentences, and their figures. An
    unknown amount (a formula with no saved result) says nothing: no rate or cut judged on it."""
    evidence: list[str] = []
    figures: dict = {}
    if unmet:
        evidence.append(f"有{len(unmet)}个指标未完成（如“{unmet[0].name}”）")
        figures["unmet"] = len(unmet)
    if row is None:
        return evidence, figures
    rate = row.execution_rate
    if row.rate_known and not np.isnan(rate) and rate < profile.execution_low:
        evidence.append(f"预算执行率仅为 {percent(rate)}")
        figures["rate"] = Rate(rate)
    initial, budget = row.initial_budget, row.adjusted_budget
    cut = budget_cut(initial, budget)
    unknown = {c for _, c in row.unknown_amounts} & {"initial_budget", "adjusted_budget"}
    if (not (row.initial_budget_bad or row.adjusted_budget_bad or unknown) and cut is not None
            and cut > profile.budget_adjusted):
        evidence.append(f"全年预算数由年初的 {weight_text(initial)} 万元调减为 {weight_text(budget)} 万元"
                        f"（调减 {percent(cut)}，超过 {percent(profile.budget_adjusted)}）")
        figures.update(initial=float(initial), adjusted=float(budget), cut=Rate(cut))
    return evidence, figures


# ------------------------------------------------------------------ key terms: goal and indicators vs achievement

#: Stems of the things a project pays for whose two preceding characters name the kind
#: (养老保险 · 医疗保险, 生活补助 · 交通补助, 资助资金 · 奖励资金). 项目 is left out: what stands
#: before it is mostly a verb or a pronoun (完成该项目, 本项目), not a kind.
TERM_STEMS = ("保险", "补贴", "补助", "津贴", "救助", "资金")
#: Two characters before a stem that name no kind: the umbrella (社会保险), levels and channels of
#: money (中央资金, 结余资金), and the verbs and adverbs that precede the thing paid (发放补贴, 足额补助).
NOT_A_KIND = frozenset((
    "社会 财政 专项 配套 结余 结转 上级 中央 省级 市级 区级 县级 本级 地方 项目 预算 相关 有关 各类 各项 剩余 "
    "全部 部分 上述 发放 补缴 缴纳 领取 申领 享受 落实 拨付 支付 兑付 兑现 给予 购买 参加 办理 安排 下达 使用 "
    "提供 获得 申请 补发 核发 足额 按时 及时 到位 统筹 整合 共计 合计 累计 人均 每人 投入 筹措 筹集 争取 收回 "
    "节约 盘活 下拨 预拨 到账 用于 完成 实现 支持 扶持 申报 审核 审批 核实 核定 清算 结算 支出").split())
#: A character that makes the two before a stem the end of a phrase, not a qualifier (该笔资金, 的补贴).
FUNCTION_CHARS = frozenset("的了和与及或等为对在以将已共该本此各其这那每笔批些个名元万亿年月日次户")
#: How far before a stem in the goal or indicators the achievement's qualifier may stand
#: (耕地地力保护补贴 names 地力补贴).
TERM_WINDOW = 6


def _kinds(text: str, stem: str) -> list[str]:
    """The qualifiers of `stem` in `text`: the two Chinese characters right before it, when they name a kind."""
    out = []
    for m in re.finditer(stem, text):
        q = text[max(0, m.start() - 2):m.start()]
        if (len(q) == 2 and all("\u4e00" <= c <= "\u9fff" and c not in FUNCTION_CHARS for c in q)
                and q not in NOT_A_KIND):
            out.append(q)
    return out


def term_mismatches(targets: Sequence[str], achievement: str) -> list[tuple[str, list[str]]]:
    """Kinds the achievement names that the targets (name, goal, indicator names) do not.

    For each stem of TERM_STEMS the targets qualify with a kind: every qualifier+stem of the
    achievement whose qualifier stands nowhere in the TERM_WINDOW characters before that stem in
    the targets, as (its pair, the targets' pairs). A stem the targets name without a kind
    (社会保险, 资金) sets nothing to disagree with.
    """
    texts = [str(t or "") for t in targets]
    out = []
    for stem in TERM_STEMS:
        named = list(dict.fromkeys(q + stem for t in texts for q in _kinds(t, stem)))
        if not named:
            continue
        windows = [t[max(0, m.start() - TERM_WINDOW):m.start()] for t in texts for m in re.finditer(stem, t)]
        for q in dict.fromkeys(_kinds(str(achievement or ""), stem)):
            if not any(q in w for w in windows):
                out.append((q + stem, named))
    return out


def _said(text: str) -> str | None:
    return next((phrase for phrase in NO_DEVIATION if phrase in (text or "")), None)


def _only_number(text: str) -> bool:
    return bool(re.fullmatch(r"[\d.,，%％\s]+", text or "")) and bool(text.strip())


# ------------------------------------------------------------------ the catalogue of checks

CHECKS: tuple[Callable[[Context], Iterator[Located]], ...] = (
    check_required,
    check_readable,
    check_budget,
    check_prefill,
    check_weights,
    check_taxonomy,
    check_indicator_values,
    check_indicator_results,
    check_scores,
    check_narrative,
)


def check_submissions(items: Sequence[SourcedSubmission], scores: Scores, profile: Profile,
                      year: int | None = None) -> list[list[Finding]]:
    """Every finding of every check over a scored batch, one list per submission.

    `year` is the round's evaluation year: a submission for another year is reported.
    """
    ctx = Context(items, scores, profile, year)
    out: list[list[Finding]] = [[] for _ in items]
    for check in CHECKS:
        for s, finding in check(ctx):
            out[s].append(finding)
    return out


# ------------------------------------------------------------------ field paths


def _get(obj: object, dotted: str) -> str:
    value = FieldPath.parse(dotted).value_in(obj)
    return "" if value is None else str(value)


def _same_value(a: object, b: object) -> bool:
    ma, mb = values.parse_money(a)[0], values.parse_money(b)[0]
    if ma is not None and mb is not None:
        return abs(ma - mb) <= 0.005
    return str(a or "").strip() == str(b or "").strip()


def _project_code(item: SourcedSubmission, path: str) -> str | None:
    p = FieldPath.parse(path).project
    return item.submission.projects[p].code if p is not None and p < len(item.submission.projects) else None


def _path_label(item: SourcedSubmission, path: str) -> str:
    field = FieldPath.parse(path)
    if field.fund is not None:
        fund = FieldPath(*field[:-1]).value_in(item.submission)
        return f"{getattr(fund, 'source', '')}·{FUND_LABEL.get(field.name, field.name)}"
    return next((f.label for f in PROJECT_FIELDS if f.key == field.name), field.name)
