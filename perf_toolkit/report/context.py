"""The words and numbers of one project's report: a pure function from scores to a plain dict.

`build_context` turns one scored project into the context the Word templates
render (every key is documented in docs/report-context.md). It composes the
sentences of the report here, in Python, so they read naturally for any number
of indicators — none in a category, qualitative, unmet, unreadable — and the
templates stay simple enough for a clerk to edit. Numbers come from the scores
only, rounded once for display (`round2`), so the report agrees with
`perf-toolkit score`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..config import DEFAULT, Campaign, placeholder
from ..model import FundSource, ScoredIndicator, ScoredProject
from ..numbers import (
    PENDING,
    budget_cut,
    known,
    money,
    percent,
    points,
    provisional,
    round2,
    share,
    weight_text,
)
from ..spec import FUND_ROWS, INDICATOR_COLUMNS, TAXONOMY
from ..text import clean_text
from ..values import meaningful_text

if TYPE_CHECKING:
    from ..profile import Profile

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
VERIFY = "【需核实】"
NOT_FILLED = "（未填写）"
UNKNOWN_AMOUNTS = "预算执行情况表中有金额是公式，文件中没有保存其计算结果，金额无法确定"
INDICATOR_LABELS = {key: label for key, label, _ in INDICATOR_COLUMNS}


# ------------------------------------------------------------------ text and number formats


def one_line(value: Any) -> str:
    """Clean text on a single line (names, labels): line breaks and tabs become spaces."""
    return re.sub(r"\s+", " ", clean_text(value))


def split_paragraphs(value: Any) -> list[str]:
    """Clean text split into its non-empty lines: each becomes a paragraph with its own indent."""
    return [line.strip() for line in clean_text(value).split("\n") if line.strip()]


def chinese_date(value: Any) -> str:
    """An ISO date as written in official documents (2024-05-08 → 2024年5月8日); other text as typed."""
    text = one_line(value)
    m = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?", text)
    if m:
        try:
            d = dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return text
        return f"{d.year}年{d.month}月{d.day}日"
    return text


def typed_value(raw: Any, unit: str = "") -> str:
    """A target or actual as the department typed it, with its unit when the value ends in a digit."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return ""
    if isinstance(raw, bool):
        raw = str(raw)
    if isinstance(raw, (int, float)):
        text = format(Decimal(repr(raw)).normalize(), "f") if isinstance(raw, float) else str(raw)
    else:
        text = chinese_date(raw)  # a date cell reads back as ISO text; documents write 2024年1月20日
    unit = one_line(unit)
    if text and unit and text[-1].isdigit() and not text.endswith(unit):
        text += unit
    return text


def _pts(text: str) -> str:
    """A score as a sentence says it: "8.62分", or 待核实."""
    return text if text == PENDING else f"{text}分"


def _wan(text: str) -> str:
    """An amount as a sentence says it: "2.94万元", or 待核实."""
    return text if text == PENDING else f"{text}万元"


def _stated(what: str, text: str, empty: str = "未填写") -> str:
    """"年度指标值为100%", "…未填写", or "…待核实" (a formula with no saved result)."""
    return f"{what}{empty}" if not text else f"{what}{text}" if text == PENDING else f"{what}为{text}"


def _sentence(text: str) -> str:
    """Text ending with a full stop (unless it already ends with punctuation)."""
    text = text.rstrip()
    return text if not text or text[-1] in "。！？；.!?;）)”" else text + "。"


def _strip_end(text: str) -> str:
    return text.rstrip("。；;，,.、 ")


def _strip_numbering(text: str) -> str:
    """A duty without the numbering the department typed (1. 1、 （1） ① 一、)."""
    return re.sub(r"^\s*(?:[（(]?\d{1,2}[)）.、．]|[（(][一二三四五六七八九十]{1,2}[)）]|[①-⑳]|"
                  r"[一二三四五六七八九十]{1,2}、)\s*", "", text)


def claimed_and_ruled(claimed: float | None, ruled: float | None) -> str:
    """A score as the outputs print it: the rule score, or both when the department claimed another
    ("自评18.00分，按规则核定16.00分"): a score is never changed silently. A rule score not known yet
    (None: the project is not scored) is 待核实, with nothing to compare the claim with."""
    if ruled is None:
        return PENDING
    if not _differs(claimed, ruled):
        return points(ruled)
    return f"自评{points(claimed)}分，按规则核定{points(ruled)}分"


def _differs(claimed: float | None, ruled: float | None) -> bool:
    """The department claimed another score than the rules give (only a known rule score is compared)."""
    return claimed is not None and ruled is not None and round2(claimed) != round2(ruled)


# ------------------------------------------------------------------ the context

#: Every top-level key of the context (a template may use these and only these).
CONTEXT_KEYS = frozenset({
    "year", "unit", "unit_code", "project_name", "project_code", "project_label", "title", "supervisor",
    "implementer", "bureau", "district", "notice_title", "notice_number", "notice", "portal", "evaluation_unit",
    "evaluation_start_cn", "evaluation_end_cn", "report_date_cn", "contact_name", "contact_phone",
    "contact_email", "profile_name", "profile_title", "budget_document", "goal", "achievement", "funds_total",
    "fund_rows", "initial_budget", "adjusted_budget", "executed", "execution_rate", "execution_score",
    "budget_weight", "indicator_score", "indicator_weight", "level1_scores", "total_score", "total_weight",
    "grade", "provisional", "grade_capped", "claimed_total", "claimed_grade", "total_cell", "grade_cell", "indicators",
    "indicator_groups", "table_rows", "findings", "has_errors",
    "opening", "budget_paragraphs", "targets_intro", "duties_intro", "duties", "goal_paragraphs",
    "indicators_intro", "funds_paragraphs", "achievement_intro", "achievement_paragraphs", "indicators_summary",
    "conclusion", "deviation_paragraphs", "improvement_paragraphs", "result_use_paragraphs",
    "disclosure_paragraphs", "other_paragraphs",
})


def build_context(scored: ScoredProject, profile: Profile, campaign: Campaign = DEFAULT) -> dict[str, Any]:
    """The template context of one scored project (pure: no I/O). Keys: docs/report-context.md."""
    project, dep = scored.submitted, scored.department

    year = scored.year or campaign.year or placeholder("评价年度")
    unit = one_line(dep.name) or "（单位名称未填写）"
    name = one_line(project.name) or "（项目名称未填写）"
    label = name if name.endswith("项目") else name + "项目"
    notice_title = one_line(campaign.fact("notice_title")).strip("《》")
    notice_number = one_line(campaign.fact("notice_number"))
    notice = (f"《{notice_title}》" if notice_title else "") + (f"（{notice_number}）" if notice_number else "")

    indicators = _indicators(scored.indicators, profile)
    groups = _groups(indicators, profile)
    ordered = [i for g in groups for i in g["items"]]
    for n, i in enumerate(ordered, start=1):
        i["number"] = n
        i["analysis"] = _analysis(n, i, profile)

    funds = _funds(scored)
    weights_known = scored.weights_known
    claimed_grade = profile.grade(round2(scored.claimed_total)) if scored.claimed_total is not None else ""
    total_differs = _differs(scored.claimed_total, scored.total_score)
    level1_scores = []
    for g in groups:
        if g["items"]:
            value = scored.level1_scores.get(g["level1"], g["score_value"])
            level1_scores.append({"level1": g["level1"], "score": known(points(value), value is not None),
                                  "weight": g["weight"]})
    ctx: dict[str, Any] = {
        "year": year,
        "unit": unit,
        "unit_code": one_line(dep.code),
        "project_name": name,
        "project_code": one_line(project.code),
        "project_label": label,
        "title": f"{unit}{label}支出绩效自评报告",
        "supervisor": one_line(dep.supervisor) or unit,
        "implementer": one_line(project.implementer) or unit,
        "bureau": one_line(campaign.fact("bureau")),
        "district": one_line(campaign.fact("district")),
        "notice_title": notice_title,
        "notice_number": notice_number,
        "notice": notice,
        "portal": one_line(campaign.fact("portal")),
        "evaluation_unit": one_line(dep.evaluation_unit),
        "evaluation_start_cn": chinese_date(dep.evaluation_start),
        "evaluation_end_cn": chinese_date(dep.evaluation_end),
        "report_date_cn": chinese_date(dep.report_date) or chinese_date(dep.evaluation_end) or "　　年　月　日",
        "contact_name": one_line(dep.contact.name),
        "contact_phone": one_line(dep.contact.phone),
        "contact_email": one_line(dep.contact.email),
        "profile_name": profile.name,
        "profile_title": one_line(profile.title),
        "budget_document": one_line(project.budget_document),
        "goal": clean_text(project.goal),
        "achievement": clean_text(project.achievement),
        "funds_total": funds["total"],
        "fund_rows": funds["rows"],
        "initial_budget": funds["total"]["initial"],
        "adjusted_budget": funds["total"]["adjusted"],
        "executed": funds["total"]["executed"],
        "execution_rate": funds["total"]["rate"],
        "execution_score": funds["total"]["score"],
        "budget_weight": weight_text(scored.budget_weight),
        "indicator_score": known(points(scored.indicator_score), scored.indicator_score is not None),
        "indicator_weight": known(weight_text(scored.indicator_weight), weights_known),
        "level1_scores": level1_scores,
        "total_score": known(points(scored.total_score), scored.scored),
        "total_weight": known(weight_text(scored.total_weight), weights_known),
        "grade": scored.grade,
        "provisional": scored.provisional,
        "grade_capped": scored.grade_capped,
        "claimed_total": points(scored.claimed_total) if scored.claimed_total is not None else "",
        "claimed_grade": claimed_grade,
        "total_cell": provisional(claimed_and_ruled(scored.claimed_total, scored.total_score), scored.provisional),
        "grade_cell": provisional(f"自评等级：{claimed_grade}；按规则核定：{scored.grade}"
                                  if total_differs and claimed_grade != scored.grade else f"自评等级：{scored.grade}",
                                  scored.provisional),
        "indicators": ordered,
        "indicator_groups": groups,
        "table_rows": _table_rows(groups),
        "findings": [_finding(f) for f in scored.shown],
        # the same rule as the JSON's `complete` (negated): an error of the project or of its file
        "has_errors": scored.has_errors,
    }
    ctx.update(_narrative(ctx, scored, profile))
    return ctx


# ------------------------------------------------------------------ money


def _funds(scored: ScoredProject) -> dict:
    """The budget block of the form: the 年度资金总额 row and one row per source."""
    rows = []
    for source, printed, _aliases in FUND_ROWS:
        amounts = scored.fund(FundSource(source))
        unreadable = {c for s, c in scored.unreadable_amounts if s == source}
        unknown = {c for s, c in scored.unknown_amounts if s == source}  # formulas with no saved result
        budget, spent = amounts.adjusted_budget, amounts.executed
        readable = not (unreadable | unknown) & {"adjusted_budget", "executed"}
        rate = spent / budget if readable and budget and spent is not None and budget > 0 else None
        shown = {c: PENDING if c in unknown else "无法识别" if c in unreadable else money(getattr(amounts, c))
                 for c in ("initial_budget", "adjusted_budget", "executed")}
        rows.append({
            "source": source, "label": printed, "initial": shown["initial_budget"],
            "adjusted": shown["adjusted_budget"], "executed": shown["executed"], "weight": "—",
            "rate": known(percent(rate), not unknown & {"adjusted_budget", "executed"}), "score": "—",
        })
    total = {
        "label": "年度资金总额", "weight": weight_text(scored.budget_weight),
        **{key: known(money(getattr(scored.total, c)), scored.column_known(c))
           for key, c in (("initial", "initial_budget"), ("adjusted", "adjusted_budget"), ("executed", "executed"))},
        "rate": known(percent(scored.execution_rate), scored.rate_known),
        "score": known(points(scored.execution_score), scored.rate_known),
        "claimed": points(scored.claimed_execution_score) if scored.claimed_execution_score is not None else "",
        "score_cell": claimed_and_ruled(scored.claimed_execution_score,
                                        scored.execution_score if scored.rate_known else None),
    }
    return {"total": total, "rows": rows}


def _by_source(ctx: dict, column: str) -> str:
    """"其中：当年财政拨款2.94万元，上年结转资金0.00万元，其他资金0.00万元" for one column."""
    parts = []
    for f in ctx["fund_rows"]:
        v = f[column]
        parts.append(f"{f['source']}金额无法识别" if v == "无法识别" else f"{f['source']}金额待核实" if v == PENDING
                     else f"{f['source']}未填写" if v == "—" else f"{f['source']}{v}万元")
    return "其中：" + "，".join(parts)


# ------------------------------------------------------------------ indicators


def _indicators(scored: tuple[ScoredIndicator, ...], profile) -> list[dict]:
    out = []
    for r in scored:
        raw = r.submitted
        note = clean_text(meaningful_text(raw.deviation_note))
        item = {
            "i": r.index, "level1": one_line(r.level1) or "（一级指标未填写）",
            "level2": one_line(r.level2) or "（二级指标未填写）", "name": one_line(raw.name) or "（三级指标名称未填写）",
            "direction": r.direction, "unit": one_line(raw.unit),
            **{key: _value_text(r, key) for key in ("target", "actual")},
            "weight": known(weight_text(r.weight), r.value_known("weight")),
            "weight_value": r.weight if r.value_known("weight") else None,
            "score": known(points(r.score), r.scored), "score_value": r.score,
            "claimed": points(r.claimed_score) if r.claimed_score is not None else "",
            "score_differs": _differs(r.claimed_score, r.score),
            "score_cell": provisional(claimed_and_ruled(r.claimed_score, r.score), r.scored and not r.verifiable),
            "met": r.met, "band": r.band, "band_label": profile.band(r.band).label if r.band else "",
            "completion": percent(r.completion), "scored_as": r.scored_as,
            "overachieved": r.overachieved, "basis": _strip_end(one_line(raw.basis)),
            "deviation_note": note, "flag": _flag(r),
        }
        item["status"] = _status(item)
        out.append(item)
    return out


def _value_text(r: ScoredIndicator, key: str) -> str:
    """A target or actual as typed, with how the rules read it when they had to assume: a decimal read
    as a percentage ("0.95（按95%计）", never "0.95%"), or a unit taken from the other side."""
    if key in r.unknown:
        return PENDING
    raw = getattr(r.submitted, key)
    if r.percent_fixed and r.percent_fixed[0] == key:
        return f"{typed_value(raw)}（按{weight_text(r.percent_fixed[1])}%计）"
    text = typed_value(raw, r.submitted.unit)
    if r.unit_assumed and r.unit_assumed[0] == key and text:
        return f"{text}（未填写计量单位，按“{r.unit_assumed[1]}”计）"
    return text


def _flag(r: ScoredIndicator) -> str:
    """Why an indicator could not be scored by the rules (empty when it could)."""
    raw = r.submitted
    if not r.scored:
        labels = "、".join(INDICATOR_LABELS[name] for name in r.unknown)
        return f"{labels}是公式，文件中没有保存其计算结果，值无法确定，得分待核实"
    if r.verifiable:
        return ""
    if r.scored_as == "qual":
        why = f"实际完成情况“{one_line(raw.actual) or '未填写'}”无法对应评分档次"
    elif r.unit_mismatch:
        why = f"实际完成值的计量单位（{r.actual_unit}）与年度指标值（{r.target_unit}）不一致，无法换算"
    elif r.target_kind == "empty" or r.actual_kind == "empty":
        why = "无法判断完成情况"  # the sentence around it already says which value is missing
    elif r.target_kind not in ("number", "date"):
        why = f"年度指标值“{one_line(raw.target)}”中没有可识别的数值，无法判断完成情况"
    else:
        why = f"实际完成值“{one_line(raw.actual)}”无法识别为数值，无法判断完成情况"
    return f"{why}，{_provisional_basis(r)}，{PENDING}"


def _provisional_basis(r: ScoredIndicator) -> str:
    """How an indicator nobody could verify was scored (the one rule: the claimed score, within its weight)."""
    weight = f"（分值{weight_text(r.weight)}分）"
    if r.claimed_score is None:
        return f"未填自评得分，暂按0分计{weight}"
    return f"暂按自评得分{points(r.score)}分计{weight}"


def _status(i: dict) -> str:
    if i["flag"]:
        return "需核实"
    if i["scored_as"] == "qual":
        return {"达成": "达成", "部分达成": "部分达成"}.get(i["band"], "未达成")
    if i["met"]:
        return "超额完成" if i["overachieved"] else "已完成"
    return "未完成"


def _level1_order(profile) -> list[str]:
    standard = list(profile.level1_weights) or ["产出指标", "效益指标", "满意度指标"]
    return standard + [k for k in TAXONOMY if k not in standard]


def _groups(indicators: list[dict], profile) -> list[dict]:
    """Indicators grouped by 一级 then 二级 (first appearance), standard 一级 always present."""
    order = _level1_order(profile)
    standard = list(profile.level1_weights) or order[:3]
    seen = list(dict.fromkeys(i["level1"] for i in indicators))
    level1s = [k for k in order if k in seen or k in standard] + [k for k in seen if k not in order]
    groups = []
    if not indicators:
        return []  # "本项目未设置绩效指标" says it all; no empty category list
    for n, level1 in enumerate(level1s, start=1):
        items = [i for i in indicators if i["level1"] == level1]
        level2s = []
        for level2 in dict.fromkeys(i["level2"] for i in items):
            level2s.append({"level2": level2, "items": [i for i in items if i["level2"] == level2]})
        weights, scores = [i["weight_value"] for i in items], [i["score_value"] for i in items]
        weight = None if None in weights else sum(weights)  # one not known: the 一级's is not either
        score = None if None in scores else sum(scores)
        groups.append({
            "label": f"（{n}）", "level1": level1, "count": len(items), "weight": known(weight_text(weight),
                                                                                       weight is not None),
            "score": known(points(score), score is not None), "score_value": score,
            "level2s": level2s, "items": [i for g in level2s for i in g["items"]],
        })
    for g in groups:
        g["heading"], g["paragraphs"] = _group_text(g)
    return groups


def _group_text(g: dict) -> tuple[str, list[str]]:
    """一（二）3: "（1）产出指标。…" and one paragraph per 二级 with each 三级's value and basis."""
    if not g["items"]:
        return f"{g['label']}{g['level1']}。本项目未设置{g['level1']}。", []
    names = "、".join(x["level2"] for x in g["level2s"])
    n2 = len(g["level2s"])
    kinds = f"{names}{n2}个二级指标" if n2 > 1 else names
    heading = f"{g['label']}{g['level1']}（分值{_pts(g['weight'])}）。下设{kinds}，共{g['count']}个三级指标："
    paragraphs = []
    for x in g["level2s"]:
        items = x["items"]
        if len(items) == 1:
            paragraphs.append(f"{x['level2']}：设置三级指标{_setting(items[0])}。")
        else:
            parts = [f"{CIRCLED[k] if k < len(CIRCLED) else f'({k + 1})'}{_setting(i)}"
                     for k, i in enumerate(items)]
            paragraphs.append(f"{x['level2']}：设置{len(items)}个三级指标，" + "；".join(parts) + "。")
    return heading, paragraphs


def _setting(i: dict) -> str:
    target = _stated("指标值", i["target"])
    basis = f"设定依据为：{i['basis']}" if i["basis"] else "设定依据未填写"
    return f"“{i['name']}”，{target}，分值{_pts(i['weight'])}，{basis}"


def _analysis(n: int, i: dict, profile) -> str:
    """二（三）: one indicator's target against its actual, its status and score."""
    flag = VERIFY if i["flag"] else ""
    target = _stated("年度指标值", i["target"])
    actual_word = "全年实际完成情况" if i["scored_as"] == "qual" else "全年实际完成值"
    actual = _stated(actual_word, i["actual"])
    weight = f"（分值{_pts(i['weight'])}）"
    score = (f"自评{i['claimed']}分，按规则核定{i['score']}分{weight}" if i["score_differs"]
             else f"得{i['score']}分{weight}")
    text = f"{n}.{flag}三级指标“{i['name']}”（{i['level2']}）：{target}，{actual}，"
    if i["flag"] and i["score_value"] is None:  # not scored (an unknown value): no score to state
        text += f"{i['flag']}{weight}。"
    elif i["flag"]:  # scored provisionally: the flag says on what
        text += f"{i['flag']}。"
    elif i["scored_as"] == "qual":
        text += f"{i['band_label']}，{score}。"
    elif i["met"]:
        if i["overachieved"]:
            text += f"超额完成（完成率{i['completion']}），{score}。"
            if not i["deviation_note"]:
                text += (f"实际完成值达到指标值的{share(profile.overachieved)}以上，"
                         "指标值可能设定偏低，单位未作说明。")
        else:
            text += f"已完成，{score}。"
    else:
        rate = f"（完成率{i['completion']}）" if i["direction"] in ("≥", "=") and i["completion"] != "—" else ""
        text += f"未完成{rate}，{score}。"
    unmet = i["flag"] or i["status"] in ("未完成", "部分达成", "未达成")
    if i["deviation_note"]:
        text += ("偏差原因及改进措施：" if unmet else "说明：") + _sentence(i["deviation_note"])
    elif unmet and not i["flag"]:
        text += "单位未说明偏差原因。"
    return text


def _table_rows(groups: list[dict]) -> list[dict]:
    """The indicator rows of the 自评表, with the flags that merge 一级/二级 cells vertically."""
    rows = []
    for g in groups:
        first1 = True
        for x in g["level2s"]:
            first2 = True
            for i in x["items"]:
                note = "；".join(t for t in (VERIFY + i["flag"] if i["flag"] else "", i["deviation_note"]) if t)
                rows.append({
                    "level1_first": first1, "level2_first": first2, "level1": g["level1"],
                    "level1_label": f"{g['level1']}({_pts(g['weight'])})", "level2": x["level2"],
                    "name": i["name"], "target": i["target"], "actual": i["actual"], "weight": i["weight"],
                    "score": i["score"], "claimed": i["claimed"], "score_cell": i["score_cell"],
                    "status": i["status"], "note": note,
                })
                first1 = first2 = False
    return rows


def _finding(f) -> dict:
    """A finding as the report lists it."""
    where = f"{f.sheet}!{f.cell}" if f.sheet and f.cell else (f.sheet or "")
    return {"code": f.code, "severity": f.severity, "message": clean_text(f.message), "where": where}


# ------------------------------------------------------------------ narrative


def _narrative(ctx: dict, scored: ScoredProject, profile) -> dict[str, Any]:
    """Every sentence of the report outside the indicator lists."""
    project, dep = scored.submitted, scored.department
    year, unit, label = ctx["year"], ctx["unit"], ctx["project_label"]
    out: dict[str, Any] = {}

    window = ""
    start, end = ctx["evaluation_start_cn"], ctx["evaluation_end_cn"]
    if start and end:
        window = f"于{start}至{end}"
    elif start or end:
        window = f"于{start or end}"
    organiser = f"组织{ctx['evaluation_unit']}开展" if ctx["evaluation_unit"] else "组织开展"
    basis = f"根据{ctx['notice']}要求，"
    out["opening"] = (f"{basis}{unit}{window}{organiser}{year}年度{label}支出绩效自评工作，"
                      "现将绩效自评工作开展情况报告如下：")

    # 一（一）
    document = ctx["budget_document"]
    initial, adjusted = scored.total.initial_budget, scored.total.adjusted_budget
    lead = f"根据{document}文件，批复{unit}{year}年{label}" if document else f"{unit}{year}年{label}"
    budget = [f"{lead}年初预算数{_wan(ctx['initial_budget'])}，{_by_source(ctx, 'initial')}。"]
    compared = scored.column_known("initial_budget") and scored.column_known("adjusted_budget")
    if not compared:
        budget.append(f"{_stated('全年预算数', _wan(ctx['adjusted_budget']))}，{_by_source(ctx, 'adjusted')}。"
                      f"{UNKNOWN_AMOUNTS}，需核实。")
    elif round2(adjusted) == round2(initial):
        budget.append(f"年度执行中未调整预算，全年预算数为{money(adjusted)}万元。")
    else:
        change = "调增" if adjusted > initial else "调减"
        budget.append(f"年度执行中预算{change}{money(abs(adjusted - initial))}万元，全年预算数为"
                      f"{money(adjusted)}万元，{_by_source(ctx, 'adjusted')}。")
        spent_readable = (not any(c == "executed" for _, c in scored.unreadable_amounts)
                          and scored.column_known("executed"))
        if initial > 0 and spent_readable:  # the rate is on the adjusted budget: say what it means for the initial
            budget.append(f"全年执行数{money(scored.total.executed)}万元，占年初预算数的"
                          f"{percent(scored.total.executed / initial)}。")
    note = split_paragraphs(meaningful_text(project.budget_note))
    if note:
        budget.append("预算调整及执行情况说明：" + _sentence(note[0]))
        budget.extend(_sentence(t) for t in note[1:])
    elif compared and initial > 0 and abs(adjusted - initial) / initial > profile.budget_adjusted:
        budget.append("单位未说明预算调整的原因和依据。")
    if not document:
        budget.append("（单位未填写预算批复文件。）")
    out["budget_paragraphs"] = budget

    # 一（二）
    bureau = ctx["bureau"]
    out["targets_intro"] = f"{bureau}对{unit}{year}年度{label}支出绩效目标批复如下："
    duties = [_strip_numbering(d) for d in (clean_text(x) for x in dep.duties)]
    duties = [d for d in duties if d]
    out["duties"] = [{"label": f"（{n}）", "text": _strip_end(one_line(d)) + "。"} for n, d in enumerate(duties, start=1)]
    out["duties_intro"] = f"{unit}的主要职责是：" if duties else f"{unit}未填写部门职责。"
    out["goal_paragraphs"] = split_paragraphs(project.goal) or ["单位未填写年度绩效目标。"]
    n = len(ctx["indicators"])
    if n:
        out["indicators_intro"] = (f"本项目共设置{n}个三级指标，分值合计{_pts(ctx['indicator_weight'])}"
                                   "（预算执行率另计" + ctx["budget_weight"] + "分），按一级、二级指标分述如下：")
    else:
        out["indicators_intro"] = "本项目未设置绩效指标。"

    # 二（一）
    funds = [
        f"资金收入情况：{year}年{label}全年预算数{_wan(ctx['adjusted_budget'])}，{_by_source(ctx, 'adjusted')}。",
        f"资金支出情况：{year}年{label}全年执行数{_wan(ctx['executed'])}，{_by_source(ctx, 'executed')}。",
    ]
    rate = scored.execution_rate
    bw = ctx["budget_weight"]
    execution_score = (f"自评{ctx['funds_total']['claimed']}分，按规则核定{ctx['execution_score']}分"
                       if _differs(scored.claimed_execution_score, scored.execution_score)
                       else _pts(ctx["execution_score"]))
    if not scored.rate_known:
        funds.append(f"预算执行情况：{UNKNOWN_AMOUNTS}，预算执行率和预算执行得分（分值{bw}分）待核实。")
    elif rate is None:  # no budget
        funds.append(f"预算执行情况：全年预算数为0，无法计算预算执行率，预算执行得分{execution_score}"
                     f"（分值{bw}分）。")
    elif rate > 1:
        funds.append(f"预算执行情况：全年执行数超过全年预算数，预算执行率为{ctx['execution_rate']}，"
                     f"预算执行得分按分值计{execution_score}（分值{bw}分）。")
    else:
        low = f"，低于{share(profile.execution_low)}" if rate < profile.execution_low else ""
        funds.append(f"预算执行情况：预算执行率为{ctx['execution_rate']}{low}，按“分值×预算执行率”计算，"
                     f"预算执行得分{execution_score}（分值{bw}分）。")
    out["funds_paragraphs"] = funds

    # 二（二）
    out["achievement_intro"] = f"根据{ctx['notice']}要求，对照" + \
        f"{year}年度项目支出绩效目标，全年工作完成情况如下："
    achievement = split_paragraphs(project.achievement) or ["单位未填写年度总体目标实际完成情况。"]
    said = _finding_on(scored, "narrative-contradiction", "achievement")
    if said is not None:
        achievement.append(f"{VERIFY}完成情况称“{said.params.get('phrase', '')}”，但本项目"
                           f"{'，'.join(_deviations(ctx, scored, profile))}，详见三（一）。")
    for f in _findings_on(scored, "achievement-term-mismatch", "achievement"):
        achievement.append(f"{VERIFY}完成情况写的是“{f.params.get('found', '')}”，项目名称、年度目标和绩效指标写的是"
                           f"“{f.params.get('expected', '')}”，二者不一致。")
    out["achievement_paragraphs"] = achievement

    # 二（三）
    out["indicators_summary"] = _summary(ctx)

    # 二（四）
    parts = "、".join(f"{x['level1']}{_pts(x['score'])}" for x in ctx["level1_scores"])
    rate_text = (f"预算执行率{ctx['execution_rate']}" if rate is not None or not scored.rate_known
                 else "预算执行率无法计算（全年预算数为0）")
    indicator_text = (f"绩效指标得分{_pts(ctx['indicator_score'])}（分值{_pts(ctx['indicator_weight'])}），其中{parts}"
                      if parts else "未设置绩效指标，指标得分0.00分")
    # weights that do not add up to 100 are scored as typed: the total says what it is out of
    out_of = f"（分值合计{ctx['total_weight']}分）" if scored.weight_sum_wrong else ""
    if not scored.scored:  # no total to state, to compare with the claimed one or to put beside a weight sum
        total = "有数值是公式且文件中没有保存其计算结果，暂不评分，自评总分和等级待核实"
    elif _differs(scored.claimed_total, scored.total_score):
        capped = (f"受预算执行率限制，核定等级为“{ctx['grade']}”" if ctx["grade_capped"]
                  else f"核定等级为“{ctx['grade']}”")
        total = (f"单位自评总分{ctx['claimed_total']}分（自评等级“{ctx['claimed_grade']}”），"
                 f"按规则核定总分{ctx['total_score']}分{out_of}，{capped}")
    else:
        capped = (f"受预算执行率限制，自评等级为“{ctx['grade']}”" if ctx["grade_capped"]
                  else f"自评等级为“{ctx['grade']}”")
        total = f"自评总分{ctx['total_score']}分{out_of}，{capped}"
    if scored.provisional:  # the figures above rest on claimed scores: the sentence says which and why
        names = "、".join(f"“{one_line(i.name) or '未命名指标'}”" for i in scored.unverified)
        total += (f"。其中{len(scored.unverified)}项指标（{names}）的完成情况无法从填报内容核实，暂按自评得分计，"
                  f"总分和等级{PENDING}")
    out["conclusion"] = (f"综合预算执行和绩效指标完成情况，本项目{rate_text}，预算执行得分{execution_score}"
                         f"（分值{bw}分）；{indicator_text}；{total}。")

    # 三
    deviation = split_paragraphs(meaningful_text(project.deviation_reason))
    said = _finding_on(scored, "narrative-contradiction", "deviation_reason")
    if said is not None:  # the department says 未偏离 while the figures below say otherwise
        deviation.append(f"{VERIFY}单位称“{said.params.get('phrase', '')}”，与以下情况不符：")
    unmet = [i for i in ctx["indicators"] if i["flag"] or i["status"] in ("未完成", "部分达成", "未达成")]
    low_rate = rate is not None and rate < profile.execution_low
    cut = _cut(scored, profile)
    if unmet:
        deviation.append(f"未完全达到年度指标值的指标共{len(unmet)}个，情况如下：")
        for k, i in enumerate(unmet, start=1):
            reason = _sentence(i["deviation_note"]) if i["deviation_note"] else (
                _sentence(i["flag"]) if i["flag"] else "单位未说明偏差原因。")
            done = "实际完成情况" if i["scored_as"] == "qual" else "实际完成值"
            deviation.append(f"（{k}）“{i['name']}”：{_stated('年度指标值', i['target'], '为（未填写）')}，"
                             f"{_stated(done, i['actual'], '为（未填写）')}。{reason}")
    if low_rate:
        note = meaningful_text(project.budget_note)
        deviation.append(f"预算执行率为{ctx['execution_rate']}，低于{share(profile.execution_low)}。"
                         + (f"原因：{_sentence(one_line(note))}" if note else "单位未说明执行率偏低的原因。"))
    if cut is not None:
        note = meaningful_text(project.budget_note)
        deviation.append(f"{_cut_text(ctx, cut)}，超过{share(profile.budget_adjusted)}。"
                         + (f"原因：{_sentence(one_line(note))}" if note else "单位未说明预算调减的原因。"))
    if not deviation:
        deviation = ["本项目预算执行和各项绩效指标均达到年度目标，未偏离绩效目标。"]
    elif not meaningful_text(project.deviation_reason) and (unmet or low_rate or cut is not None):
        deviation.insert(0, "单位未填写偏离绩效目标的原因分析。")
    out["deviation_paragraphs"] = deviation
    out["improvement_paragraphs"] = split_paragraphs(meaningful_text(project.improvement)) or \
        ["单位未填写下一步改进措施。"]

    # 四、五
    out["result_use_paragraphs"] = split_paragraphs(meaningful_text(project.result_use)) or [
        f"根据{year}年度项目支出绩效自评情况，进一步掌握资金使用情况和取得的效果，总结项目管理经验，"
        "查找存在的问题和不足，作为以后年度预算安排和改进项目管理的重要依据。"]
    portal = ctx["portal"]
    out["disclosure_paragraphs"] = split_paragraphs(meaningful_text(project.disclosure)) or [
        f"{year}年度项目支出绩效自评报告将按照{bureau}的时间要求在{portal}公开，接受社会监督。"]
    out["other_paragraphs"] = split_paragraphs(project.other_notes) or ["无。"]
    return out


def _findings_on(scored: ScoredProject, code: str, field: str) -> list:
    """The project's findings of `code` about its own field `field` (not an indicator's)."""
    return [f for f in scored.findings
            if f.code == code and f.field_path.indicator is None and f.field_path.name == field]


def _finding_on(scored: ScoredProject, code: str, field: str):
    found = _findings_on(scored, code, field)
    return found[0] if found else None


def _cut(scored: ScoredProject, profile) -> float | None:
    """The share of the initial budget cut, when over the profile's threshold and both amounts are readable
    and known."""
    if any(c in ("initial_budget", "adjusted_budget") for _, c in scored.unreadable_amounts | scored.unknown_amounts):
        return None
    cut = budget_cut(scored.total.initial_budget, scored.total.adjusted_budget)
    return cut if cut is not None and cut > profile.budget_adjusted else None


def _cut_text(ctx: dict, cut: float) -> str:
    return (f"全年预算数由年初的{ctx['initial_budget']}万元调减为{ctx['adjusted_budget']}万元，"
            f"调减{percent(cut)}")


def _deviations(ctx: dict, scored: ScoredProject, profile) -> list[str]:
    """What in the figures departs from the targets, in a few words each (for a sentence)."""
    out = []
    unmet = sum(i["status"] in ("未完成", "部分达成", "未达成") for i in ctx["indicators"])
    if unmet:
        out.append(f"有{unmet}个指标未完全达到年度指标值")
    rate = scored.execution_rate
    if rate is not None and rate < profile.execution_low:
        out.append(f"预算执行率为{ctx['execution_rate']}，低于{share(profile.execution_low)}")
    cut = _cut(scored, profile)
    if cut is not None:
        out.append(_cut_text(ctx, cut))
    return out


def _summary(ctx: dict) -> str:
    inds = ctx["indicators"]
    if not inds:
        return "本项目未设置绩效指标，无法进行指标完成情况分析，指标得分计0.00分。"
    done = sum(i["status"] in ("已完成", "超额完成", "达成") for i in inds)
    partial = sum(i["status"] == "部分达成" for i in inds)
    undone = sum(i["status"] in ("未完成", "未达成") for i in inds)
    check = sum(i["status"] == "需核实" for i in inds)
    n = len(inds)
    if done == n:
        counts = "均已完成" if n > 1 else "已完成"
    else:
        bits = [f"已完成{done}个"] if done else []
        bits += [f"部分达成{partial}个"] if partial else []
        bits += [f"未完成{undone}个"] if undone else []
        bits += [f"{check}个需核实（无法按规则计分）"] if check else []
        counts = "其中" + "，".join(bits)
    parts = "、".join(f"{x['level1']}{_pts(x['score'])}" for x in ctx["level1_scores"])
    return (f"本项目共设置{n}个三级指标，{counts}。指标得分合计{_pts(ctx['indicator_score'])}"
            f"（分值{_pts(ctx['indicator_weight'])}），其中{parts}。各指标完成情况如下：")


__all__ = ["build_context", "chinese_date", "clean_text", "money", "percent", "points",
           "typed_value", "weight_text"]
