"""The standard workbook and the indicator vocabulary, declared as data.

The workbook writer (`template`) and the reader (`read`) both work from these
declarations, so a label or a defined name is spelled in one place only.
Labels are those printed on the official 项目支出绩效自评表 (rules.md §1);
`aliases` are variants seen in real files, used when the reader falls back to
header labels.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

from .numbers import memoised

#: Written into the workbook (defined name `pt_version`) and checked first when reading.
WORKBOOK_VERSION = "perf-toolkit/workbook/v1"

# ------------------------------------------------------------------ fields


@dataclass(frozen=True)
class Field:
    """One input cell of the workbook."""

    key: str  # attribute path on the model object: "name", "contact.phone"
    label: str  # label printed in the workbook
    name: str  # the defined name of the input cell
    required: bool = False
    kind: str = "text"  # text | longtext | date | year
    aliases: tuple[str, ...] = ()
    hint: str = ""  # input prompt shown when the cell is selected


YEAR_FIELD = Field("year", "评价年度", "pt_year", True, "year", hint="被评价的预算年度，如 2023")

DEPARTMENT_FIELDS: tuple[Field, ...] = (
    Field("code", "单位编码", "pt_dept_code", True, hint="财政局下发的单位编码"),
    Field("name", "单位名称", "pt_dept_name", True, aliases=("预算单位", "单位全称"), hint="单位全称"),
    Field("supervisor", "主管部门", "pt_supervisor"),
    Field("evaluation_unit", "自评组织科室", "pt_eval_unit", hint="如：拥军优抚科"),
    Field("evaluation_start", "自评开始日期", "pt_eval_start", kind="date", hint="如 2024-04-28"),
    Field("evaluation_end", "自评结束日期", "pt_eval_end", kind="date", hint="如 2024-05-08"),
    Field("report_date", "报告日期", "pt_report_date", kind="date", hint="自评报告落款日期"),
    Field("contact.name", "填报人", "pt_contact_name", aliases=("联系人",)),
    Field("contact.phone", "联系电话", "pt_contact_phone"),
    Field("contact.email", "电子邮箱", "pt_contact_email", aliases=("邮箱",)),
)

#: 部门职责: one responsibility per row of a one-column range.
DUTIES = Field("duties", "部门职责", "pt_duties", hint="每行填写一项职责")

PROJECT_FIELDS: tuple[Field, ...] = (
    Field("code", "项目编码", "pt_project_code", True),
    Field("name", "项目名称", "pt_project_name", True),
    Field("implementer", "实施单位", "pt_implementer"),
    Field("budget_document", "预算批复文件", "pt_budget_document",
          hint="如：《××区财政局2023年部门预算下达通知》（×财×〔2023〕10号）"),
    Field("budget_note", "预算调整及执行情况说明", "pt_budget_note", kind="longtext",
          hint="全年预算数与年初预算数差异较大、或执行率偏低时必须填写"),
    Field("goal", "预期目标", "pt_goal", kind="longtext", aliases=("年度总体目标", "年度目标")),
    Field("achievement", "实际完成情况", "pt_achievement", kind="longtext",
          aliases=("年度总体目标完成情况", "全年实际完成情况")),
    Field("deviation_reason", "偏离绩效目标的原因分析", "pt_deviation_reason", kind="longtext",
          aliases=("偏离绩效目标原因分析",)),
    Field("improvement", "下一步改进措施", "pt_improvement", kind="longtext"),
    Field("result_use", "绩效自评结果拟应用情况", "pt_result_use", kind="longtext"),
    Field("disclosure", "绩效自评结果公开情况", "pt_disclosure", kind="longtext"),
    Field("other_notes", "其他需要说明的问题", "pt_other_notes", kind="longtext"),
)

# ------------------------------------------------------------------ funds block

FUNDS_TITLE = "项目资金（万元）"
FUNDS_NAME = "pt_funds"  # 3 rows (FUND_ROWS) × 3 columns (FUND_COLUMNS), typed
FUNDS_TOTAL_NAME = "pt_funds_total"  # the 年度资金总额 row, 3 columns, computed
FUNDS_TOTAL_LABEL = "年度资金总额"

#: (model source, printed row label, aliases seen in real forms)
FUND_ROWS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("当年财政拨款", "其中：当年财政拨款", ("当年财政拨款", "其中：本年财政拨款", "本年财政拨款", "财政拨款", "财政资金")),
    ("上年结转资金", "上年结转资金", ("上年结转",)),
    ("其他资金", "其他资金", ()),
)
#: (model attribute, printed column header)
FUND_COLUMNS: tuple[tuple[str, str], ...] = (
    ("initial_budget", "年初预算数"),
    ("adjusted_budget", "全年预算数"),
    ("executed", "全年执行数"),
)
#: Computed cells of the budget block (formulas in the workbook, recomputed by the toolkit).
BUDGET_WEIGHT_LABEL = "分值"
EXECUTION_RATE_NAME, EXECUTION_RATE_LABEL = "pt_execution_rate", "执行率"
EXECUTION_SCORE_NAME, EXECUTION_SCORE_LABEL = "pt_execution_score", "得分"
TOTAL_SCORE_NAME, TOTAL_SCORE_LABEL = "pt_total_score", "总分"

# ------------------------------------------------------------------ indicators table

INDICATORS_NAME = "pt_indicators"  # the table body, one row per indicator

#: (model attribute, printed header, aliases seen in real forms), in column order.
INDICATOR_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("level1", "一级指标", ()),
    ("level2", "二级指标", ()),
    ("name", "三级指标", ("三级指标名称", "指标名称")),
    ("direction", "指标方向", ("指标性质",)),
    ("target", "年度指标值", ("指标值", "年度目标值", "预期指标值")),
    ("unit", "计量单位", ("度量单位", "单位")),
    ("actual", "实际完成值", ("全年实际值", "实际值", "实际完成情况")),
    ("weight", "分值", ("权重",)),
    ("claimed_score", "自评得分", ("得分",)),
    ("basis", "指标设定依据", ("设定依据", "指标依据")),
    ("deviation_note", "偏差原因分析及改进措施", ("未完成原因分析", "未完成原因", "偏差原因分析")),
)

# ------------------------------------------------------------------ vocabulary

#: 一级指标 → its 二级指标 (rules.md §2, 2021 成本指标 variants included).
TAXONOMY: dict[str, tuple[str, ...]] = {
    "产出指标": ("数量指标", "质量指标", "时效指标", "成本指标",
                "经济成本指标", "社会成本指标", "生态环境成本指标"),
    "效益指标": ("经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"),
    "满意度指标": ("服务对象满意度指标",),
    "成本指标": ("经济成本指标", "社会成本指标", "生态环境成本指标"),
}
LEVEL2_NAMES = frozenset(x for v in TAXONOMY.values() for x in v)
LEVEL1_ALIASES = {"效果指标": "效益指标"}
LEVEL2_ALIASES = {
    "环境效益指标": "生态效益指标",
    "生态环境效益指标": "生态效益指标",
    "服务对象满意度指标等": "服务对象满意度指标",
    "满意度指标": "服务对象满意度指标",
}

DIRECTIONS = ("≥", "≤", "=", "定性")
_DIRECTION_ALIASES = {
    "≥": "≥", "≧": "≥", ">=": "≥", "＞＝": "≥", ">": "≥", "＞": "≥", "正向": "≥", "大于等于": "≥",
    "不低于": "≥", "不少于": "≥",
    "≤": "≤", "≦": "≤", "<=": "≤", "＜＝": "≤", "<": "≤", "＜": "≤", "反向": "≤", "小于等于": "≤",
    "不高于": "≤", "不超过": "≤",
    "=": "=", "＝": "=", "═": "=", "﹦": "=", "等于": "=",
    "定性": "定性",
}


@memoised
def clean_label(text: object) -> str:
    """A label as compared: NFKC, no spaces, no trailing colon or asterisk."""
    s = unicodedata.normalize("NFKC", str(text or ""))
    s = re.sub(r"\s+", "", s)
    return s.strip(":：*＊")


def normalise_source(text: object) -> str | None:
    """The fund source (当年财政拨款 · 上年结转资金 · 其他资金) of a typed row label, None if unknown."""
    cleaned = clean_label(text)
    for source, label, aliases in FUND_ROWS:
        if cleaned in {clean_label(x) for x in (source, label, *aliases)}:
            return source
    return None


def normalise_direction(text: object) -> str | None:
    """The canonical direction (≥ ≤ = 定性) for a typed one, None when unknown or empty."""
    s = str(text or "").strip()
    if not s:
        return None
    if s in _DIRECTION_ALIASES:
        return _DIRECTION_ALIASES[s]
    head = re.split(r"[（(]", s)[0].strip()  # dropdown labels like "≥（正向，越大越好）"
    return _DIRECTION_ALIASES.get(head)


#: A weight printed after a label, as the official form prints its 一级 (rules.md §1): "产出指标(50分)",
#: "产出指标（50分）", "产出指标【50分】", "产出指标 50分" (after `clean_label`: NFKC, no spaces).
_LABEL_WEIGHT = re.compile(
    r"^(?P<label>.+?)(?:[(\[【〔](?:分值|权重)?[:：]?(?P<inner>\d+(?:\.\d+)?)分?[)\]】〕]|(?P<bare>\d+(?:\.\d+)?)分)$")


def label_weight(text: object) -> tuple[str, float | None]:
    """A label as compared (`clean_label`) without the weight printed after it, and that weight.

    "产出指标(50分)" → ("产出指标", 50.0); "数量指标" → ("数量指标", None).
    """
    s = clean_label(text)
    m = _LABEL_WEIGHT.match(s)
    if m is None:
        return s, None
    return m["label"], float(m["inner"] or m["bare"])


def _in_vocabulary(s: str, names: Collection[str], aliases: dict[str, str]) -> str:
    """`s` as the vocabulary spells it: an alias resolved, "指标" added when it was left off."""
    if s and not s.endswith("指标") and (s + "指标" in names or s + "指标" in aliases):
        s += "指标"
    return aliases.get(s, s)


def normalise_level1(text: object) -> str:
    """The taxonomy's name of a typed 一级 (printed weight, spaces, brackets and aliases resolved)."""
    return _in_vocabulary(label_weight(text)[0], TAXONOMY, LEVEL1_ALIASES)


def level1_weight(text: object) -> float | None:
    """The weight printed in a typed 一级 ("产出指标(50分)" → 50), None when none is printed."""
    return label_weight(text)[1]


def normalise_level2(text: object) -> str:
    """The taxonomy's name of a typed 二级 (as `normalise_level1`; a weight printed there is not used)."""
    return _in_vocabulary(label_weight(text)[0], LEVEL2_NAMES, LEVEL2_ALIASES)

# ------------------------------------------------------------------ workbook layout (template and read)

VERSION_NAME = "pt_version"  # workbook-scoped defined name of the version marker cell
VERSION_LABEL = "模板版本"  # its label on the guide sheet (fallback when the name is lost)
GUIDE_SHEET = "填报说明"
DEPARTMENT_SHEET = "单位信息"
PROJECT_SHEET_PREFIX = "项目"  # project sheets are 项目1, 项目2, … (copies keep their local names)
LISTS_SHEET = "_lists"  # hidden: dropdown lists
PREFILL_SHEET = "_prefill"  # very hidden: the bureau's pre-filled values (sheet, field, value)
REVIEW_SHEET = "审核意见"  # added by the bureau's marked-up copy (markup.py); never data
FORM_TITLE = "项目支出绩效自评表"
GOAL_LABEL = "年度总体目标"  # groups 预期目标 / 实际完成情况
INDICATORS_TITLE = "绩效指标"
WEIGHT_SUBTOTAL_SUFFIX = "分值小计"  # "产出指标分值小计", … rows below the indicator table
WEIGHT_SUM_LABEL = "指标分值合计"
WEIGHT_CHECK_LABEL = "预算执行分值与指标分值合计"
GRADE_LABEL = "等级"
