"""The catalogue of finding codes: one place for every code, its severity and its message.

Codes are stable identifiers (documented in the README); messages are Chinese
templates that say what is wrong and how to fix it. Every finding the toolkit
produces is made here, by `make()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .model import Finding, Location, shared_params, shared_text
from .numbers import Rate, round_half_up, weight_text


@dataclass(frozen=True)
class Code:
    code: str
    severity: str
    category: str
    title: str  # a few Chinese words naming the problem, for tables where the message is too long
    template: str


_CODES = [
    # --- the file as a whole
    Code("file-unreadable", "error", "文件", "文件无法读取", "文件无法读取：{reason}。{advice}"),
    Code("template-unrecognised", "error", "文件", "不是标准填报表",
         "不是本工具下发的标准填报表（{reason}），无法按表格读取。请使用财政局下发的《自评填报表》重新填报。"),
    Code("template-version-unknown", "warning", "文件", "模板版本不符",
         "填报表版本标记为“{found}”，与当前版本“{expected}”不同，已按表头文字读取，请核对结果或改用最新模板。"),
    Code("data-outside-area", "warning", "文件", "填报区域外有内容",
         "表格填报区域以外有{count}个单元格有内容（如{first}），这些内容不会被读取。请把内容填到规定的单元格内。"),
    Code("text-too-long", "warning", "文件", "单元格文字超长",
         "{place}的文字有{length}个字符，超过 Excel 单元格最多 {limit} 个字符的上限，只读取了前 {limit} 个字符。"
         "请精简内容，详细材料可作为附件另行报送。"),
    Code("value-unreadable", "error", "取值", "数值无法识别",
         "“{label}”的值“{value}”无法识别（{reason}）。请填写{expect}。"),
    Code("value-formula", "warning", "取值", "输入单元格是公式",
         "“{label}”单元格是公式，已按其保存的计算结果“{value}”读取。请改为直接填写数值或文字，以免与公式引用的数据不一致。"),
    Code("year-mismatch", "error", "取值", "评价年度不符",
         "填报表的评价年度为 {found}，本轮自评的评价年度为 {expected}。请确认没有误用往年的填报表，并改正评价年度。"),
    Code("required-value", "error", "取值", "必填项为空", "“{label}”为必填项，不能为空。{advice}"),
    Code("project-code-duplicated", "error", "取值", "项目编码重复",
         "项目编码“{value}”在本单位的填报表中重复出现（另见{other}），每个项目的编码必须唯一。"),
    Code("budget-prefill-changed", "error", "资金", "预填预算数被改动",
         "“{label}”是财政局预填的数据（原值 {prefilled}），已被改为 {value}。请恢复原值；如数据确有误，请与财政局联系。"),
    # --- money
    Code("budget-missing", "error", "资金", "缺少全年预算数",
         "全年预算数为空或为0，但{why}，无法计算预算执行率。请填写调整后的全年预算数。"),
    Code("budget-total-mismatch", "error", "资金", "资金总额与分项之和不符",
         "年度资金总额“{label}”填写为 {typed}，与其中各项之和 {computed} 不一致。年度资金总额由公式自动计算，请勿手工改写。"),
    Code("execution-over-budget", "warning", "资金", "执行数超过预算数",
         "全年执行数 {executed} 万元超过全年预算数 {budget} 万元（执行率 {rate}）。请核对执行数，或在“预算调整及执行情况说明”中说明原因。"),
    Code("execution-low-unexplained", "error", "资金", "执行率偏低未说明",
         "预算执行率为 {rate}，低于 {threshold}，但“预算调整及执行情况说明”为空。请说明执行率偏低的原因。"),
    Code("execution-note-too-long", "warning", "资金", "执行情况说明过长",
         "预算执行率低于 {threshold}，执行情况说明应不超过{limit}字，现为{length}字。请精简。"),
    Code("budget-adjusted-unexplained", "warning", "资金", "预算调整未说明",
         "全年预算数 {adjusted} 万元与年初预算数 {initial} 万元相差 {change}，超过 {threshold}，但“预算调整及执行情况说明”为空。请说明预算调整的原因和依据。"),
    Code("execution-score-mismatch", "error", "资金", "预算执行得分有误",
         "预算执行得分填写为 {typed}，按规则应为 {computed}（{weight}分 × 执行率 {rate}，保留两位小数，不得取整）。"),
    # --- weights and taxonomy
    Code("weight-sum-mismatch", "error", "指标", "分值合计不等于100",
         "预算执行分值 {budget_weight} 加各项指标分值合计 {indicator_weights}，共 {total} 分，应为 100 分；总分按现有分值计算，不折算为 100 分。请调整各指标分值。"),
    Code("weight-nonstandard", "warning", "指标", "一级指标分值不标准",
         "一级指标分值为 {found}，与评分规则的标准分值 {expected} 不同。如无特殊要求，请按标准分值设置。"),
    Code("indicator-taxonomy", "error", "指标", "指标类别不规范", "{reason}。可选的指标类别见填报说明。"),
    Code("indicator-direction-missing", "warning", "指标", "未选指标方向",
         "未填写指标方向，且年度指标值中没有“≥”“≤”等符号，已按正向（≥）计分。请在“指标方向”中选择。"),
    Code("indicator-direction-conflict", "warning", "指标", "指标方向与符号矛盾",
         "指标方向选择为“{direction}”，而年度指标值“{target}”中的符号是“{operator}”，已按指标值中的符号计分。请统一。"),
    Code("indicator-unparseable", "error", "指标", "指标值无法识别",
         "{label}“{value}”中没有可识别的数值，无法计算完成情况{consequence}。请填写数值（可带单位，如“95%”“120人”）；定性指标请将方向选为“定性”。"),
    Code("indicator-unit-mismatch", "error", "指标", "计量单位不一致",
         "年度指标值的单位“{target_unit}”与实际完成值的单位“{actual_unit}”不一致且无法换算{consequence}。请使用相同的计量单位。"),
    Code("indicator-unit-assumed", "warning", "指标", "一侧未填计量单位",
         "{label}“{value}”没有填写计量单位，已按{other}“{other_value}”的单位“{unit}”计算。请补填计量单位；如两者单位确实不同，请改正。"),
    Code("indicator-kind-mismatch", "warning", "指标", "定性定量表述不一致",
         "{reason}。请让年度指标值和实际完成值的表述方式一致。"),
    Code("indicator-percent-ambiguous", "warning", "指标", "百分数写成小数",
         "{label}“{value}”看起来是小数形式的百分比，已按 {percent} 计算。请直接填写百分数（如“95%”）。"),
    Code("indicator-not-equal", "warning", "指标", "完成值与指标值不等",
         "指标方向为“=”，实际完成值 {actual} 与年度指标值 {target} 不相等。请核实或说明偏差原因。"),
    Code("indicator-negative-actual", "warning", "指标", "完成值为负数",
         "实际完成值 {actual} 为负数，按 0 计分。请核实。"),
    Code("indicator-unmet-unexplained", "error", "指标", "指标未完成未说明",
         "指标未完成（{detail}），但“偏差原因分析及改进措施”为空或只有占位内容。请分析未完成的原因并提出改进措施。"),
    Code("indicator-overachieved-unexplained", "warning", "指标", "超额完成未说明",
         "实际完成值达到年度指标值的 {ratio}（≥{threshold}），超额较多，可能指标值设置偏低。请在“偏差原因分析及改进措施”中说明。"),
    Code("execution-indicator-duplicated", "warning", "指标", "重复考核执行率",
         "三级指标“{name}”重复考核预算执行率（预算执行已单独计 {budget_weight} 分）。请改设其他产出或效益指标。"),
    # --- scores
    Code("score-exceeds-weight", "error", "得分", "自评得分超过分值", "自评得分 {claimed} 超过该指标分值 {weight}。"),
    Code("score-mismatch", "warning", "得分", "自评得分与规则不符",
         "自评得分 {claimed} 与按规则计算的得分 {computed} 相差超过 {tolerance} 分（{rule}）。请核对。"),
    Code("score-full-but-unmet", "error", "得分", "未完成却给满分",
         "指标未完成（{detail}），自评却给了满分 {claimed}。按规则应得 {computed} 分。"),
    Code("score-deducted-unexplained", "warning", "得分", "扣分未说明原因",
         "指标已完成，自评得分 {claimed} 却低于分值 {weight}，且未说明扣分原因。请补充说明或给满分。"),
    Code("qualitative-out-of-band", "error", "得分", "定性得分超出档次",
         "定性指标实际完成情况“{actual}”属于“{band}”档（{low}–{high}分），自评得分 {claimed} 不在该档内，已按 {computed} 分计。"),
    Code("qualitative-unrecognised", "warning", "得分", "定性完成情况需人工判断",
         "定性指标的实际完成情况“{actual}”无法判断属于哪一档（达成/部分达成/未达成），需人工复核；暂按自评得分 {computed} 分计，总分和等级待核实。"),
    Code("qualitative-score-missing", "warning", "得分", "定性指标未自评得分",
         "定性指标未填写自评得分，已按“{band}”档的{basis} {computed} 分计。请填写自评得分。"),
    Code("total-mismatch", "warning", "得分", "总分与各项之和不符",
         "总分填写为 {typed}，与预算执行得分和各指标自评得分之和 {computed} 不一致。总分由公式自动计算，请勿手工改写。"),
    # --- narrative
    Code("placeholder-text", "warning", "文字", "占位文字未替换", "“{label}”的内容“{value}”像是未替换的占位文字。请填写实际内容。"),
    Code("narrative-contradiction", "warning", "文字", "文字与数据矛盾",
         "“{label}”写有“{phrase}”，但{evidence}。请如实分析偏差原因。"),
    Code("achievement-term-mismatch", "warning", "文字", "完成情况与目标事项不符",
         "“实际完成情况”写的是“{found}”，而项目名称、年度目标和绩效指标中只有“{expected}”。请核实完成的是否是本项目的目标事项；如是笔误，请改正。"),
    # --- intake (the roster of one round)
    Code("department-unknown", "warning", "报送", "单位不在报送名单",
         "单位编码“{dept_code}”（{dept_name}）不在本轮报送名单中，已计入汇总。请核对单位编码是否填写正确；如该单位确需报送，请把它加入报送名单。"),
    Code("superseded", "warning", "报送", "被新报送的文件替代",
         "本单位另有更新的填报文件“{newer}”，本文件（{basis} {modified}）已被替代，不计入汇总。如应以本文件为准，请移除较新的文件后重新汇总。"),
    Code("sender-mismatch", "warning", "报送", "发件人与单位不符",
         "本文件由 {sender} 发来，报送名单中该邮箱属于“{sender_name}”（{sender_code}），而填报表的单位是“{dept_name}”（{dept_code}）。"
         "请核实是否代为报送，或单位编码填错。"),
]


CATALOGUE: dict[str, Code] = {c.code: c for c in _CODES}


SEVERITY_ZH = {"error": "错误", "warning": "警告"}


def title(code: str) -> str:
    """The short Chinese name of a code (the code itself if unknown)."""
    entry = CATALOGUE.get(code)
    return entry.title if entry else code


def make(code: str, where: Location | None = None, *, file: str | None = None,
         project: str | None = None, path: object = None, **params: object) -> Finding:
    """A finding of a catalogued code, its message filled from `params` (kept beside it as data);
    `path` is the field it is about (a FieldPath or its written form).

    A number prints as the forms write it (8.62, 10; a `Rate` as 43.83%; missing as —) and stays a
    number in `params`.
    """
    entry = CATALOGUE[code]
    message = entry.template.format(**{"advice": "", **{k: _shown(v) for k, v in params.items()}}).strip()
    where = where or Location()
    data = shared_params({k: _plain(v) for k, v in params.items() if k != "advice"})
    return Finding(code=code, severity=entry.severity, message=shared_text(message), file=file, sheet=where.sheet,
                   cell=where.cell, project=project, path=shared_text(str(path)) if path is not None else None,
                   params=data)


def _shown(value: object) -> object:
    if isinstance(value, Rate):
        return str(value)
    if isinstance(value, float) or value is None:
        return weight_text(value)
    return value


def _plain(value: object) -> object:
    """A parameter as JSON can hold it: text, a finite number (rounded as printed, rates to 0.01 %), a flag."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return round_half_up(value, 4 if isinstance(value, Rate) else 2) if math.isfinite(value) else None
    return str(value)
