"""The words and numbers of one project's report: a pure function from scores to a plain dict.

`build_context` turns one scored project into the context the Word templates
render (every key is documented in docs/report-context.md). The report is the
department's document: its sentences say only what the department wrote and what
the rules compute, in the department's voice, and leave out what is missing.
Everything the bureau would say about it — missing parts, values that cannot be
verified, the department's scores where the rules give others, contradictions,
provisional totals — goes into `review_notes`, which the 审核附注 prints. Fixed
sentences live in the templates; the sentences composed here are the ones that
depend on the data (indicator lists, amounts by source, the conclusion). Numbers
come from the scores only, rounded once for display (`round2`), so the report
agrees with `perf-toolkit score`.
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
UNKNOWN_AMOUNTS = "预算执行情况表中有金额是公式，文件中没有保存其计算结果，金额无法确定"
#: The parts of the report a review note is about (the outline's headings, rules.md §6).
PART_BUDGET = "一（一）预算资金安排情况"
PART_TARGETS = "一（二）绩效目标下达情况"
PART_FUNDS = "二（一）资金投入情况分析"
PART_ACHIEVEMENT = "二（二）总体绩效目标完成情况分析"
PART_INDICATORS = "二（三）绩效指标完成情况分析"
PART_CONCLUSION = "二（四）自评结论"
PART_DEVIATION = "三（一）偏离绩效目标原因分析"
PART_IMPROVEMENT = "三（二）下一步改进措施"
PART_USE = "四、绩效自评结果拟应用和公开情况"
PART_GENERAL = "报告首段和落款"
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


def ruled_mark(differs: bool, pending: bool) -> str:
    """The visible mark of a figure that is not simply the department's own: the rules gave another
    score than it claimed (核定), or it rests on claimed scores nobody could verify (待核实). The
    审核附注 says why; a clean submission has no mark at all."""
    marks = [word for word, on in (("核定", differs), (PENDING, pending)) if on]
    return f"（{'，'.join(marks)}）" if marks else ""


def _on_its_line(mark: str) -> str:
    """A mark under the figure in a narrow table cell (docxtpl renders the newline as a line break)."""
    return "\n" + mark if mark else ""


def _differs(claimed: float | None, ruled: float | None) -> bool:
    """The department claimed another score than the rules give (only a known rule score is compared)."""
    return claimed is not None and ruled is not None and round2(claimed) != round2(ruled)


# ------------------------------------------------------------------ the title

#: Where a unit's or a project's name may break: after these (the end of a word in official names).
_BREAK_AFTER = ("省", "市", "州", "区", "县", "局", "委", "办", "厅", "院", "中心", "委员会", "经费", "资金",
                "补助", "补贴", "保险", "建设", "工程", "项目", "专项", "配套", "士兵", "学生", "农田", "服务")
TITLE_LINE_CHARS = 20  # 二号 (22 pt) characters on a 15.6 cm line


def _words(name: str) -> list[str]:
    """A name cut after the ends of words it shows (市, 区, 局, 经费 …); the pieces joined give the name."""
    pieces, start = [], 0
    for k in range(1, len(name)):
        if any(name[:k].endswith(end) for end in _BREAK_AFTER) and not name[k:].startswith(("项目", "支出")):
            pieces.append(name[start:k])
            start = k
    pieces.append(name[start:])
    return [p for p in pieces if p]


def _width(text: str) -> float:
    """Printed width in Chinese characters (Latin letters and digits are half as wide)."""
    return sum(0.5 if ord(ch) < 0x2E80 else 1.0 for ch in text)


def title_lines(unit: str, label: str, tail: str = "支出绩效自评报告", width: float = TITLE_LINE_CHARS) -> list[str]:
    """The title in as few lines as fit, broken only between words and as evenly as the words allow
    (the longest line as short as possible), so no word is split across lines. Between the unit and the
    project when that takes no more lines than breaking inside a name."""
    fine = _balanced(_words(unit) + _words(label) + [tail], width)
    coarse = _balanced([unit, label, tail], width)
    fits = all(_width(line) <= width for line in coarse)
    return coarse if fits and len(coarse) <= len(fine) else fine


def _balanced(words: list[str], width: float) -> list[str]:
    """`words` in the fewest lines of at most `width`, the longest line as short as possible (a word
    longer than a line gets a line of its own)."""
    n = len(words)
    # best[i] = (lines, longest line) for words[i:]; cut[i] = where the first of those lines ends
    best: list[tuple[int, float]] = [(0, 0.0)] * (n + 1)
    cut = [n] * (n + 1)
    for i in range(n - 1, -1, -1):
        best[i] = (n + 1, math.inf)
        for j in range(i + 1, n + 1):
            line = _width("".join(words[i:j]))
            if line > width and j > i + 1:
                break
            lines, longest = best[j]
            candidate = (lines + 1, max(line, longest))
            if candidate < best[i]:
                best[i], cut[i] = candidate, j
    out, i = [], 0
    while i < n:
        out.append("".join(words[i:cut[i]]))
        i = cut[i]
    return out


# ------------------------------------------------------------------ the context

#: Every top-level key of the context (a template may use these and only these).
CONTEXT_KEYS = frozenset({
    "year", "unit", "unit_code", "project_name", "project_code", "project_label", "title", "title_lines",
    "supervisor", "implementer", "bureau", "district", "notice_title", "notice_number", "notice", "portal",
    "evaluation_unit", "evaluation_window", "evaluation_start_cn", "evaluation_end_cn", "report_date_cn",
    "contact_name", "contact_phone", "contact_email", "profile_name", "profile_title", "budget_document", "goal",
    "achievement", "funds_total", "fund_rows", "initial_budget", "adjusted_budget", "executed", "execution_rate",
    "execution_score", "budget_weight", "indicator_score", "indicator_weight", "level1_scores", "total_score",
    "total_weight", "grade", "provisional", "grade_capped", "claimed_total", "claimed_grade", "total_cell",
    "grade_cell", "indicators", "indicator_groups", "table_rows", "show_weights", "findings", "has_errors",
    "budget_paragraphs", "duties", "section_no", "goal_paragraphs", "indicators_intro", "funds_paragraphs",
    "achievement_paragraphs", "indicators_summary", "conclusion", "deviation_paragraphs",
    "improvement_paragraphs", "result_use_paragraphs", "disclosure_paragraphs", "other_paragraphs",
    "review_notes", "has_review_notes",
})


def printed_names(scored: ScoredProject) -> tuple[str, str, str]:
    """The unit's name, the project's name and its code as the context has them (`unit`, `project_name`,
    `project_code`): what a batch names the documents by, without building the whole context."""
    return (one_line(scored.department.name) or "（单位名称未填写）",
            one_line(scored.submitted.name) or "（项目名称未填写）", one_line(scored.submitted.code))


def build_context(scored: ScoredProject, profile: Profile, campaign: Campaign = DEFAULT) -> dict[str, Any]:
    """The template context of one scored project (pure: no I/O). Keys: docs/report-context.md."""
    project, dep = scored.submitted, scored.department

    year = scored.year or campaign.year or placeholder("评价年度")
    unit, name, code = printed_names(scored)
    label = name if name.endswith("项目") else name + "项目"
    notice_title = one_line(campaign.fact("notice_title")).strip("《》")
    notice_number = one_line(campaign.fact("notice_number"))
    notice = (f"《{notice_title}》" if notice_title else "") + (f"（{notice_number}）" if notice_number else "")

    indicators = _indicators(scored.indicators, profile)
    groups = _groups(indicators, profile)
    ordered = [i for g in groups for i in g["items"]]
    for n, i in enumerate(ordered, start=1):
        i["number"] = n
        i["analysis"] = _analysis(n, i)

    funds = _funds(scored)
    weights_known = scored.weights_known
    claimed_grade = profile.grade(round2(scored.claimed_total)) if scored.claimed_total is not None else ""
    level1_scores = []
    for g in groups:
        if g["items"]:
            value = scored.level1_scores.get(g["level1"], g["score_value"])
            level1_scores.append({"level1": g["level1"], "score": known(points(value), value is not None),
                                  "weight": g["weight"]})
    start, end = chinese_date(dep.evaluation_start), chinese_date(dep.evaluation_end)
    total_score = known(points(scored.total_score), scored.scored)
    total_differs = _differs(scored.claimed_total, scored.total_score)
    total_mark = ruled_mark(total_differs, scored.provisional)
    ctx: dict[str, Any] = {
        "year": year,
        "unit": unit,
        "unit_code": one_line(dep.code),
        "project_name": name,
        "project_code": code,
        "project_label": label,
        "title": f"{unit}{label}支出绩效自评报告",
        "title_lines": "\n".join(title_lines(unit, label)),
        "supervisor": one_line(dep.supervisor) or unit,
        "implementer": one_line(project.implementer) or unit,
        "bureau": one_line(campaign.fact("bureau")),
        "district": one_line(campaign.fact("district")),
        "notice_title": notice_title,
        "notice_number": notice_number,
        "notice": notice,
        "portal": one_line(campaign.fact("portal")),
        "evaluation_unit": one_line(dep.evaluation_unit),
        "evaluation_window": f"于{start}至{end}" if start and end else f"于{start or end}" if start or end else "",
        "evaluation_start_cn": start,
        "evaluation_end_cn": end,
        "report_date_cn": chinese_date(dep.report_date) or end or "　　年　月　日",
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
        "total_score": total_score,
        "total_weight": known(weight_text(scored.total_weight), weights_known),
        "grade": scored.grade,
        "provisional": scored.provisional,
        "grade_capped": scored.grade_capped,
        "claimed_total": points(scored.claimed_total) if scored.claimed_total is not None else "",
        "claimed_grade": claimed_grade,
        # the 自评表's cells: what the rules compute, marked where it is not the department's own figure
        # (the department's figures are in the review notes)
        "total_cell": total_score + _on_its_line(total_mark),
        "grade_cell": f"{'等级' if total_differs else '自评等级'}：{scored.grade}{_on_its_line(total_mark)}",
        "indicators": ordered,
        "indicator_groups": groups,
        "table_rows": _table_rows(groups),
        # a 分值 column per indicator only where the rules have typed weights or the department typed some
        "show_weights": profile.indicator_weights == "typed"
        or any(r.submitted.weight is not None for r in scored.indicators),
        "findings": [_finding(f) for f in scored.shown],
        # the same rule as the JSON's `complete` (negated): an error of the project or of its file
        "has_errors": scored.has_errors,
    }
    notes: list[dict[str, str]] = []
    ctx.update(_narrative(ctx, scored, profile, notes))
    ctx["review_notes"] = [{"number": n, **note} for n, note in enumerate(notes, start=1)]
    ctx["has_review_notes"] = bool(notes)
    return ctx


def _note(notes: list[dict[str, str]], part: str, text: str) -> None:
    """One review note: what the bureau would say about a part of the report (printed in the 审核附注)."""
    notes.append({"part": part, "text": _sentence(text)})


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
        "score_cell": known(points(scored.execution_score), scored.rate_known)
        + _on_its_line(ruled_mark(_differs(scored.claimed_execution_score, scored.execution_score), False)),
    }
    return {"total": total, "rows": rows}


def _by_source(ctx: dict, column: str) -> str:
    """"，其中：当年财政拨款2.94万元，上年结转资金0.00万元，其他资金0.00万元" for one column: the sources
    with an amount (one not filled in or unreadable is left out; the review notes say so)."""
    parts = [f"{f['source']}{_wan(f[column])}" for f in ctx["fund_rows"] if f[column] not in ("无法识别", "—")]
    return "，其中：" + "，".join(parts) if parts else ""


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
            "score_mark": (mark := ruled_mark(_differs(r.claimed_score, r.score), r.scored and not r.verifiable)),
            "score_cell": known(points(r.score), r.scored) + _on_its_line(mark),
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
    if r.target_kind == "empty" or r.actual_kind == "empty" or not one_line(raw.actual):
        missing = "年度指标值" if r.target_kind == "empty" else "实际完成情况" if r.scored_as == "qual" else "实际完成值"
        why = f"{missing}未填写，无法判断完成情况"
    elif r.scored_as == "qual":
        why = f"实际完成情况“{one_line(raw.actual)}”无法对应评分档次"
    elif r.unit_mismatch:
        why = f"实际完成值的计量单位（{r.actual_unit}）与年度指标值（{r.target_unit}）不一致，无法换算"
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
    """"“补缴人数”，指标值为5人，分值20分，设定依据为：…" (what is not filled in is left out)."""
    parts = [f"“{i['name']}”"]
    if i["target"]:
        parts.append(_stated("指标值", i["target"]))
    parts.append(f"分值{_pts(i['weight'])}")
    if i["basis"]:
        parts.append(f"设定依据为：{i['basis']}")
    return "，".join(parts)
def _analysis(n: int, i: dict) -> str:
    """二（三）: one indicator's target against its actual, its status and its score by the rules."""
    done = "全年实际完成情况" if i["scored_as"] == "qual" else "全年实际完成值"
    parts = [_stated("年度指标值", i["target"])] if i["target"] else []
    if i["actual"]:
        parts.append(_stated(done, i["actual"]))
    weight = f"（分值{_pts(i['weight'])}）"
    # a score that is not the department's own says so inside the brackets: 得17.50分（核定，分值20分）
    score = f"得{_pts(i['score'])}" + (f"（{i['score_mark'][1:-1]}，{weight[1:]}" if i["score_mark"] else weight)
    if i["flag"] or i["score_value"] is None:  # not verifiable: the figures and the score, nothing judged
        status = ""
    elif i["scored_as"] == "qual":
        status = i["band_label"]
    elif i["met"]:
        status = f"超额完成（完成率{i['completion']}）" if i["overachieved"] else "已完成"
    else:
        rate = f"（完成率{i['completion']}）" if i["direction"] in ("≥", "=") and i["completion"] != "—" else ""
        status = f"未完成{rate}"
    text = f"{n}.三级指标“{i['name']}”（{i['level2']}）：" + "，".join([*parts, *([status] if status else []), score])
    text += "。"
    if i["deviation_note"]:
        unmet = i["flag"] or i["status"] in ("未完成", "部分达成", "未达成")
        text += ("偏差原因及改进措施：" if unmet else "说明：") + _sentence(i["deviation_note"])
    return text


def _table_rows(groups: list[dict]) -> list[dict]:
    """The indicator rows of the 自评表, with the flags that merge 一级/二级 cells vertically."""
    rows = []
    for g in groups:
        first1 = True
        for x in g["level2s"]:
            first2 = True
            for i in x["items"]:
                rows.append({
                    "level1_first": first1, "level2_first": first2, "level1": g["level1"],
                    "level1_label": f"{g['level1']}({_pts(g['weight'])})", "level2": x["level2"],
                    "name": i["name"], "target": i["target"], "actual": i["actual"], "weight": i["weight"],
                    "score": i["score"], "claimed": i["claimed"], "score_cell": i["score_cell"],
                    # the department's column holds the department's words only
                    "status": i["status"], "note": i["deviation_note"],
                })
                first1 = first2 = False
    return rows


def _finding(f) -> dict:
    """A finding as the report lists it."""
    where = f"{f.sheet}!{f.cell}" if f.sheet and f.cell else (f.sheet or "")
    return {"code": f.code, "severity": "错误" if f.severity == "error" else "警告", "message": clean_text(f.message),
            "where": where}


# ------------------------------------------------------------------ narrative


def _narrative(ctx: dict, scored: ScoredProject, profile, notes: list[dict[str, str]]) -> dict[str, Any]:
    """Every composed sentence of the report outside the indicator lists; what the bureau would say
    about them goes to `notes`."""
    project, dep = scored.submitted, scored.department
    year, unit, label = ctx["year"], ctx["unit"], ctx["project_label"]
    out: dict[str, Any] = {}

    if not ctx["evaluation_window"]:
        _note(notes, PART_GENERAL, "单位未填写自评工作的起止时间，首段未写时间")
    if not one_line(dep.report_date):
        _note(notes, PART_GENERAL, f"单位未填写报告日期，落款日期{'取自评结束日期' if ctx['evaluation_end_cn'] else '留空待手填'}")

    # 一（一）
    document = ctx["budget_document"]
    initial, adjusted = scored.total.initial_budget, scored.total.adjusted_budget
    lead = f"根据{document}文件，批复{unit}{year}年{label}" if document else f"{unit}{year}年{label}"
    budget = [f"{lead}年初预算数{_wan(ctx['initial_budget'])}{_by_source(ctx, 'initial')}。"]
    if not document:
        _note(notes, PART_BUDGET, "单位未填写预算批复文件")
    for f in ctx["fund_rows"]:
        for column, word in (("initial", "年初预算数"), ("adjusted", "全年预算数"), ("executed", "全年执行数")):
            if f[column] == "无法识别":
                _note(notes, PART_BUDGET, f"{f['source']}的{word}无法识别，报告中未写该项金额")
    compared = scored.column_known("initial_budget") and scored.column_known("adjusted_budget")
    if not compared:
        budget.append(f"{_stated('全年预算数', _wan(ctx['adjusted_budget']))}{_by_source(ctx, 'adjusted')}。")
        _note(notes, PART_BUDGET, f"{UNKNOWN_AMOUNTS}，报告中写作“{PENDING}”")
    elif round2(adjusted) == round2(initial):
        budget.append(f"年度执行中未调整预算，全年预算数为{money(adjusted)}万元。")
    else:
        change = "调增" if adjusted > initial else "调减"
        budget.append(f"年度执行中预算{change}{money(abs(adjusted - initial))}万元，全年预算数为"
                      f"{money(adjusted)}万元{_by_source(ctx, 'adjusted')}。")
        spent_readable = (not any(c == "executed" for _, c in scored.unreadable_amounts)
                          and scored.column_known("executed"))
        if initial > 0 and spent_readable:  # the rate is on the adjusted budget: say what it means for the initial
            budget.append(f"全年执行数{money(scored.total.executed)}万元，占年初预算数的"
                          f"{percent(scored.total.executed / initial)}。")
    budget_note = split_paragraphs(meaningful_text(project.budget_note))
    if budget_note:
        budget.append("预算调整及执行情况说明：" + _sentence(budget_note[0]))
        budget.extend(_sentence(t) for t in budget_note[1:])
    elif compared and initial > 0 and abs(adjusted - initial) / initial > profile.budget_adjusted:
        _note(notes, PART_BUDGET, f"全年预算数与年初预算数相差超过{share(profile.budget_adjusted)}，"
                                  "单位未说明预算调整的原因和依据")
    out["budget_paragraphs"] = budget

    # 一（二）: a part the department left empty is left out, the parts after it numbered on
    duties = [_strip_numbering(d) for d in (clean_text(x) for x in dep.duties)]
    duties = [d for d in duties if d]
    out["duties"] = [{"label": f"（{n}）", "text": _strip_end(one_line(d)) + "。"} for n, d in enumerate(duties, start=1)]
    out["goal_paragraphs"] = split_paragraphs(project.goal)
    present = [k for k, there in (("duties", duties), ("goal", out["goal_paragraphs"]), ("indicators", True)) if there]
    out["section_no"] = {k: present.index(k) + 1 if k in present else 0 for k in ("duties", "goal", "indicators")}
    if not duties:
        _note(notes, PART_TARGETS, "单位未填写部门职责，报告中省略“部门职责”一节")
    if not out["goal_paragraphs"]:
        _note(notes, PART_TARGETS, "单位未填写年度绩效目标，报告中省略“年度绩效目标”一节")
    n = len(ctx["indicators"])
    if n:
        out["indicators_intro"] = (f"本项目共设置{n}个三级指标，分值合计{_pts(ctx['indicator_weight'])}"
                                   "（预算执行率另计" + ctx["budget_weight"] + "分），按一级、二级指标分述如下：")
    else:
        out["indicators_intro"] = "本项目未设置绩效指标。"
        _note(notes, PART_TARGETS, "单位未设置绩效指标，指标得分计0分")
    for what, missing in (("指标值", [i for i in ctx["indicators"] if not i["target"]]),
                          ("设定依据", [i for i in ctx["indicators"] if not i["basis"]])):
        if missing:
            _note(notes, PART_TARGETS, f"以下指标未填写{what}，报告中未写：" + _names(missing))

    # 二（一）
    funds = [
        f"资金收入情况：{year}年{label}全年预算数{_wan(ctx['adjusted_budget'])}{_by_source(ctx, 'adjusted')}。",
        f"资金支出情况：{year}年{label}全年执行数{_wan(ctx['executed'])}{_by_source(ctx, 'executed')}。",
    ]
    rate = scored.execution_rate
    bw = ctx["budget_weight"]
    execution_score = _pts(ctx["execution_score"])
    if _differs(scored.claimed_execution_score, scored.execution_score) and scored.rate_known:
        _note(notes, PART_FUNDS, f"单位自评预算执行得分{ctx['funds_total']['claimed']}分，按规则核定"
                                 f"{ctx['execution_score']}分（分值×预算执行率，保留两位小数），报告中写核定得分")
    if not scored.rate_known:
        funds.append(f"预算执行情况：预算执行率和预算执行得分（分值{bw}分）{PENDING}。")
    elif rate is None:  # no budget
        funds.append(f"预算执行情况：全年预算数为0，预算执行得分{execution_score}（分值{bw}分）。")
    elif rate > 1:
        funds.append(f"预算执行情况：全年执行数超过全年预算数，预算执行率为{ctx['execution_rate']}，"
                     f"预算执行得分按分值计{execution_score}（分值{bw}分）。")
    else:
        low = f"，低于{share(profile.execution_low)}" if rate < profile.execution_low else ""
        funds.append(f"预算执行情况：预算执行率为{ctx['execution_rate']}{low}，按“分值×预算执行率”计算，"
                     f"预算执行得分{execution_score}（分值{bw}分）。")
    out["funds_paragraphs"] = funds

    # 二（二）
    out["achievement_paragraphs"] = split_paragraphs(project.achievement)
    if not out["achievement_paragraphs"]:
        _note(notes, PART_ACHIEVEMENT, "单位未填写年度总体目标实际完成情况，报告中只引述各指标的完成情况")
    said = _finding_on(scored, "narrative-contradiction", "achievement")
    if said is not None:
        _note(notes, PART_ACHIEVEMENT, f"完成情况称“{said.params.get('phrase', '')}”，但本项目"
                                       f"{'，'.join(_deviations(ctx, scored, profile))}，二者不符")
    for f in _findings_on(scored, "achievement-term-mismatch", "achievement"):
        _note(notes, PART_ACHIEVEMENT, f"完成情况写的是“{f.params.get('found', '')}”，项目名称、年度目标和绩效指标"
                                       f"写的是“{f.params.get('expected', '')}”，二者不一致")

    # 二（三）
    out["indicators_summary"] = _summary(ctx)
    for i in ctx["indicators"]:
        where = f"指标“{i['name']}”"
        if i["flag"]:
            _note(notes, PART_INDICATORS, f"{where}：{i['flag']}")
        elif i["score_differs"]:
            _note(notes, PART_INDICATORS, f"{where}：单位自评{i['claimed']}分，按规则核定{i['score']}分，报告中写核定得分")
        if not i["actual"] and not i["flag"]:
            _note(notes, PART_INDICATORS, f"{where}：单位未填写实际完成值")
        if i["status"] in ("未完成", "部分达成", "未达成") and not i["deviation_note"]:
            _note(notes, PART_INDICATORS, f"{where}未完全达到年度指标值，单位未说明偏差原因")
        if i["overachieved"] and not i["deviation_note"]:
            _note(notes, PART_INDICATORS, f"{where}实际完成值达到指标值的{share(profile.overachieved)}以上，"
                                          "指标值可能设定偏低，单位未作说明")

    # 二（四）
    parts = "、".join(f"{x['level1']}{_pts(x['score'])}" for x in ctx["level1_scores"])
    rate_text = (f"预算执行率{ctx['execution_rate']}" if rate is not None or not scored.rate_known
                 else "全年预算数为0")
    indicator_text = (f"绩效指标得分{_pts(ctx['indicator_score'])}（分值{_pts(ctx['indicator_weight'])}），其中{parts}"
                      if parts else "未设置绩效指标，指标得分0.00分")
    # weights that do not add up to 100 are scored as typed: the total says what it is out of
    out_of = f"（分值合计{ctx['total_weight']}分）" if scored.weight_sum_wrong else ""
    if not scored.scored:  # no total to state
        total = f"自评总分和等级{PENDING}"
        _note(notes, PART_CONCLUSION, "有数值是公式且文件中没有保存其计算结果，项目暂不评分，总分和等级待核实")
    else:
        capped = "受预算执行率限制，" if ctx["grade_capped"] else ""
        differs = _differs(scored.claimed_total, scored.total_score)
        mark = ruled_mark(differs, scored.provisional)
        own = "" if differs else "自评"  # a total the rules changed is not the department's own
        total = f"{own}总分{ctx['total_score']}分{out_of}，{capped}{own}等级为“{ctx['grade']}”{mark}"
        if _differs(scored.claimed_total, scored.total_score):
            _note(notes, PART_CONCLUSION, f"单位自评总分{ctx['claimed_total']}分（自评等级“{ctx['claimed_grade']}”），"
                                          f"按规则核定总分{ctx['total_score']}分，核定等级“{ctx['grade']}”，"
                                          "报告和自评表中写核定的总分和等级")
    if scored.provisional:
        _note(notes, PART_CONCLUSION, f"{len(scored.unverified)}项指标（{_names(scored.unverified)}）的完成情况无法从"
                                      f"填报内容核实，暂按自评得分计，总分{ctx['total_score']}分和等级“{ctx['grade']}”"
                                      f"是暂定的，{PENDING}")
    if scored.weight_sum_wrong:
        _note(notes, PART_CONCLUSION, f"预算执行分值与各指标分值合计为{ctx['total_weight']}分，不等于100分；"
                                      "总分按所填分值计算，未折算")
    out["conclusion"] = (f"综合预算执行和绩效指标完成情况，本项目{rate_text}，预算执行得分{execution_score}"
                         f"（分值{bw}分）；{indicator_text}；{total}。")

    # 三
    deviation = split_paragraphs(meaningful_text(project.deviation_reason))
    said = _finding_on(scored, "narrative-contradiction", "deviation_reason")
    if said is not None:  # the department says 未偏离 while the figures below say otherwise
        _note(notes, PART_DEVIATION, f"单位称“{said.params.get('phrase', '')}”，但本项目"
                                     f"{'，'.join(_deviations(ctx, scored, profile))}，二者不符")
    unmet = [i for i in ctx["indicators"] if not i["flag"] and i["status"] in ("未完成", "部分达成", "未达成")]
    low_rate = rate is not None and rate < profile.execution_low
    cut = _cut(scored, profile)
    if unmet:
        deviation.append(f"未完全达到年度指标值的指标有{len(unmet)}个：")
        for k, i in enumerate(unmet, start=1):
            done = "实际完成情况" if i["scored_as"] == "qual" else "实际完成值"
            figures = "，".join(t for t in (_stated("年度指标值", i["target"]) if i["target"] else "",
                                           _stated(done, i["actual"]) if i["actual"] else "") if t)
            reason = _sentence(i["deviation_note"]) if i["deviation_note"] else ""
            deviation.append(f"（{k}）“{i['name']}”" + (f"：{figures}。" if figures else "。") + reason)
    budget_reason = meaningful_text(project.budget_note)
    if low_rate:
        deviation.append(f"预算执行率为{ctx['execution_rate']}，低于{share(profile.execution_low)}。"
                         + (f"原因：{_sentence(one_line(budget_reason))}" if budget_reason else ""))
        if not budget_reason:
            _note(notes, PART_DEVIATION, f"预算执行率低于{share(profile.execution_low)}，单位未说明原因")
    if cut is not None:
        deviation.append(f"{_cut_text(ctx, cut)}，超过{share(profile.budget_adjusted)}。"
                         + (f"原因：{_sentence(one_line(budget_reason))}" if budget_reason else ""))
    if not meaningful_text(project.deviation_reason) and (unmet or low_rate or cut is not None):
        _note(notes, PART_DEVIATION, "单位未填写偏离绩效目标的原因分析，报告中只列出偏离的情况")
    if not deviation:
        unverified = any(i["flag"] for i in ctx["indicators"])
        deviation = ["本项目预算执行未偏离年度目标。" if unverified
                     else "本项目预算执行和各项绩效指标均达到年度目标，未偏离绩效目标。"]
    out["deviation_paragraphs"] = deviation
    out["improvement_paragraphs"] = split_paragraphs(meaningful_text(project.improvement))
    if not out["improvement_paragraphs"]:
        _note(notes, PART_IMPROVEMENT, "单位未填写下一步改进措施，报告中按模板的默认文字写")

    # 四、五: what the department left empty is written with the template's wording
    out["result_use_paragraphs"] = split_paragraphs(meaningful_text(project.result_use))
    out["disclosure_paragraphs"] = split_paragraphs(meaningful_text(project.disclosure))
    for key, what in (("result_use_paragraphs", "绩效自评结果拟应用情况"), ("disclosure_paragraphs", "绩效自评结果公开情况")):
        if not out[key]:
            _note(notes, PART_USE, f"单位未填写{what}，报告中按模板的默认文字写")
    out["other_paragraphs"] = split_paragraphs(project.other_notes)
    return out


def _names(items) -> str:
    """“甲”、“乙” for indicators (context dicts or ScoredIndicators)."""
    return "、".join(f"“{i['name'] if isinstance(i, dict) else one_line(i.name) or '未命名指标'}”" for i in items)


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
        return "本项目未设置绩效指标，指标得分计0.00分。"
    done = sum(i["status"] in ("已完成", "超额完成", "达成") for i in inds)
    partial = sum(i["status"] == "部分达成" for i in inds)
    undone = sum(i["status"] in ("未完成", "未达成") for i in inds)
    other = sum(i["status"] == "需核实" for i in inds)
    n = len(inds)
    if done == n:
        counts = "均已完成" if n > 1 else "已完成"
    else:
        bits = [f"已完成{done}个"] if done else []
        bits += [f"部分达成{partial}个"] if partial else []
        bits += [f"未完成{undone}个"] if undone else []
        bits += [f"其余{other}个的完成情况见下"] if other and bits else []
        counts = "其中" + "，".join(bits) if bits else ""
    parts = "、".join(f"{x['level1']}{_pts(x['score'])}" for x in ctx["level1_scores"])
    return (f"本项目共设置{n}个三级指标" + (f"，{counts}" if counts else "") + f"。指标得分合计{_pts(ctx['indicator_score'])}"
            f"（分值{_pts(ctx['indicator_weight'])}），其中{parts}。各指标完成情况如下：")


__all__ = ["build_context", "chinese_date", "printed_names", "clean_text", "money", "percent", "points", "title_lines",
           "typed_value", "weight_text"]
