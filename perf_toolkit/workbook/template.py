"""The standard workbook (自评填报表): blank, filled from a submission, or pre-filled from the budget.

One workbook per department and year: a guide sheet (填报说明), the department sheet
(单位信息) and one sheet per project laid out like the official 项目支出绩效自评表.
Every input cell carries a defined name from `spec` (sheet-local on project sheets, so
a sheet copied in Excel keeps them); computed cells hold formulas for Excel, WPS and
LibreOffice to show, and are never trusted by the toolkit. The bureau's budget file
(`read_budget_csv`) pre-fills and locks the money figures (`write_prefilled`).
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import os
import re
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils.datetime import to_excel
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.page import PageMargins

from .. import spec
from ..fsutil import atomic_write
from ..model import FUND_SOURCES, Fund, Project, Submission, Typed, submission_from_json
from ..profile import Band, Profile, load_profile
from ..text import display_width, safe_name
from .budget import BudgetLine

# ------------------------------------------------------------------ errors and input records


class WorkbookWriteError(ValueError):
    """Operator input the workbook writer cannot use (message in Chinese)."""


# ------------------------------------------------------------------ layout and styles

PROJECT_COLUMNS = "ABCDEFGHIJK"  # one per spec.INDICATOR_COLUMNS entry
#: 设定依据 (J) and 偏差原因 (K) hold sentences, often a whole 文件 citation: they get the width, so a real
#: row is 4-5 lines, not 9; 方向, 单位 and 分值 hold a symbol or two digits. The sheet still prints on
#: A4 landscape at about 80%.
WIDTHS = dict(zip(PROJECT_COLUMNS, (10, 12, 20, 11, 12, 10, 12, 7, 9, 46, 34), strict=True))
VALUE_SPAN = ("D", "K")  # value cells of the one-line fields on project sheets
BODY_MIN_ROWS, SPARE_ROWS, DUTY_MIN_ROWS = 15, 5, 12

_SIDE = Side(style="thin", color="000000")
BORDER = Border(left=_SIDE, right=_SIDE, top=_SIDE, bottom=_SIDE)
BODY = Font(name="宋体", size=10.5)
BOLD = Font(name="宋体", size=10.5, bold=True)
TITLE = Font(name="黑体", size=16, bold=True)
HINT = Font(name="宋体", size=10, color="595959")
GREY = PatternFill("solid", fgColor="D9D9D9")
LABEL = PatternFill("solid", fgColor="DDEBF7")
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
TOP_LEFT = Alignment(horizontal="left", vertical="top", wrap_text=True)
RIGHT = Alignment(horizontal="right", vertical="center", wrap_text=True)
UNLOCKED = Protection(locked=False)
MONEY_FORMAT, RATE_FORMAT, SCORE_FORMAT, DATE_FORMAT = "#,##0.00##", "0.00%", "0.00", "yyyy-mm-dd"
TEXT_FORMAT = "@"  # typed "100%" stays text, leading zeros of codes survive
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATE_RANGE = (to_excel(dt.date(2000, 1, 1)), to_excel(dt.date(2100, 12, 31)))
TEXT_INDICATOR_KEYS = {"level1", "level2", "name", "direction", "target", "unit", "actual", "basis",
                       "deviation_note"}


def _ref(sheet: str, cells: str) -> str:
    """An absolute reference to `cells` (e.g. "D3" or "D9:F9") on `sheet`, always quoted."""
    absolute = re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", cells)
    return "'" + sheet.replace("'", "''") + "'!" + absolute


def _clean_text(text: str) -> str:
    """Text that openpyxl can store: no XML-forbidden characters, no lone surrogates."""
    return re.sub(r"[\ud800-\udfff]", "\ufffd", ILLEGAL_CHARACTERS_RE.sub("", text))


def _row_height(texts: list[tuple[object, float]], minimum: float = 20.0) -> float:
    """A row height (points) that shows every (text, column width) without cutting it."""
    lines = 1
    for text, width in texts:
        if text is None or text == "":
            continue
        usable = max(width * 0.9 - 1, 2)  # a wrapped line breaks before the column's edge (no split words)
        count = sum(max(1, math.ceil(display_width(p, ambiguous_wide=True) / usable)) for p in str(text).split("\n"))
        lines = max(lines, count)
    return min(409.0, max(minimum, lines * 14.5 + 6))


def _span_width(first: str, last: str) -> float:
    return sum(WIDTHS[c] for c in PROJECT_COLUMNS[PROJECT_COLUMNS.index(first):PROJECT_COLUMNS.index(last) + 1])


class _Sheet:
    """Small helpers that style, merge, lock and name cells of one worksheet."""

    def __init__(self, ws, *, local_names: bool):
        self.ws, self.local = ws, local_names
        self.validations: dict[tuple, DataValidation] = {}

    def box(self, cells: str, value: object = None, *, font=BODY, fill=None, align=LEFT,
            fmt: str | None = None, border: bool = True, locked: bool = True) -> None:
        """Merge `cells` if a range, write `value` into its first cell and style every cell."""
        if ":" in cells:
            self.ws.merge_cells(cells)
        for row in self.ws[cells] if ":" in cells else ((self.ws[cells],),):
            for cell in row:
                cell.font, cell.alignment = font, align
                if border:
                    cell.border = BORDER
                if fill is not None:
                    cell.fill = fill
                if fmt:
                    cell.number_format = fmt
                if not locked:
                    cell.protection = UNLOCKED
        if value is not None:
            put(self.ws[cells.split(":")[0]], value)

    def label(self, cells: str, text: str, *, align=CENTRE) -> None:
        self.box(cells, text, font=BOLD, fill=LABEL, align=align)

    def computed(self, cells: str, formula: str, *, fmt: str | None = None, align=CENTRE) -> None:
        self.box(cells, None, fill=GREY, fmt=fmt, align=align)
        self.ws[cells.split(":")[0]].value = formula

    def name(self, name: str, cells: str) -> None:
        """Define `name` for `cells` of this sheet (sheet-local on project sheets, so copies keep it)."""
        defn = DefinedName(name, attr_text=_ref(self.ws.title, cells))
        if self.local:
            self.ws.defined_names[name] = defn
        else:
            self.ws.parent.defined_names[name] = defn

    def validate(self, cells: str, *, kind: str | None = None, formula1: str | None = None,
                 formula2: str | None = None, operator: str | None = None, prompt: str = "",
                 title: str = "", error: str = "", style: str = "stop") -> None:
        """Attach a data validation (or just an input message) to `cells`, sharing identical rules."""
        key = (kind, formula1, formula2, operator, prompt, title, error, style)
        dv = self.validations.get(key)
        if dv is None:
            dv = DataValidation(type=kind, formula1=formula1, formula2=formula2, operator=operator,
                                allow_blank=True, showErrorMessage=bool(kind), showInputMessage=bool(prompt),
                                errorStyle=style, errorTitle="输入有误" if kind else None,
                                error=error or None, promptTitle=(title or None) and title[:32],
                                prompt=prompt[:255] or None)
            self.validations[key] = dv
            self.ws.add_data_validation(dv)
        dv.add(cells)

    def protect(self) -> None:
        """Sheet protection on, no password; rows and columns stay formattable, rows insertable."""
        p = self.ws.protection
        p.sheet = True
        p.formatRows = p.formatColumns = p.insertRows = p.deleteRows = False


def put(cell, value: object, kind: str = "text") -> None:
    """Write a typed value: ISO dates as dates, numbers as numbers, text never as a formula."""
    if value is None or value == "":
        cell.value = None
        return
    if isinstance(value, bool):
        value = "TRUE" if value else "FALSE"
    if kind == "date" and isinstance(value, str) and ISO_DATE.match(value.strip()):
        try:
            cell.value = dt.date.fromisoformat(value.strip())
            cell.number_format = DATE_FORMAT
            return
        except ValueError:
            pass  # not a real date (2024-02-30): keep the text as typed
    if isinstance(value, (int, float)) and not (isinstance(value, float) and not math.isfinite(value)):
        cell.value = value
        return
    cell.value = _clean_text(str(value))
    cell.data_type = "s"  # "=…", "@…", "#DIV/0!" stay text


def _input(sh: _Sheet, cells: str, value: object, field: spec.Field | None = None, *,
           kind: str = "text", name: str | None = None, locked: bool = False, align=LEFT) -> None:
    """An input cell: white and unlocked, or grey and locked when the bureau pre-filled it."""
    kind = field.kind if field else kind
    fmt = {"date": DATE_FORMAT, "year": "0", "money": MONEY_FORMAT}.get(kind, TEXT_FORMAT)
    sh.box(cells, None, fill=GREY if locked else None, fmt=fmt, locked=locked,
           align=TOP_LEFT if kind == "longtext" else align)
    put(sh.ws[cells.split(":")[0]], value, kind)
    if field is not None:
        sh.name(field.name, cells.split(":")[0])
    elif name:
        sh.name(name, cells)
    if locked:
        return
    title = field.label if field else ""
    hint = field.hint if field else ""
    if kind == "date":
        sh.validate(cells, kind="date", operator="between", formula1=str(DATE_RANGE[0]),
                    formula2=str(DATE_RANGE[1]), title=title, prompt=hint or "日期，如 2024-05-08",
                    error="请填写日期，如 2024-05-08")
    elif kind == "year":
        sh.validate(cells, kind="whole", operator="between", formula1="2000", formula2="2100",
                    title=title, prompt=hint, error="请填写四位数字年份，如 2023")
    elif kind == "money":
        sh.validate(cells, kind="decimal", operator="greaterThanOrEqual", formula1="-1000000000",
                    title="金额（万元）", prompt="单位：万元，填写数字，如 45.08", error="请填写数字（单位：万元）",
                    style="warning")
    elif hint:
        sh.validate(cells, title=title, prompt=hint)


# ------------------------------------------------------------------ sheets


def _lists_sheet(wb: Workbook) -> None:
    """The hidden dropdown lists: 一级指标, 指标方向, each 一级's 二级 (INDIRECT by index), all 二级."""
    ws = wb.create_sheet(spec.LISTS_SHEET)
    sh = _Sheet(ws, local_names=False)
    level1 = list(spec.TAXONOMY)
    all_level2 = list(dict.fromkeys(x for v in spec.TAXONOMY.values() for x in v))
    columns = [("pt_list_level1", level1), ("pt_list_direction", list(spec.DIRECTIONS)),
               ("pt_list_level2", all_level2)]
    columns += [(f"pt_l2_{i}", list(v)) for i, v in enumerate(spec.TAXONOMY.values(), start=1)]
    for col, (name, items) in enumerate(columns, start=1):
        letter = PROJECT_COLUMNS[col - 1]
        for row, item in enumerate(items, start=1):
            put(ws.cell(row, col), item)
        sh.name(name, f"{letter}1:{letter}{len(items)}")
    ws.sheet_state = "hidden"
    sh.protect()


def _department_sheet(wb: Workbook, sub: Submission, locked: set[str]) -> None:
    ws = wb.create_sheet(spec.DEPARTMENT_SHEET)
    sh = _Sheet(ws, local_names=False)
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 18, 90
    sh.box("A1:B1", "单位信息", font=TITLE, align=CENTRE, border=False)
    ws.row_dimensions[1].height = 32
    dep = sub.department
    rows = [(spec.YEAR_FIELD, sub.year)]
    rows += [(f, _attr(dep, f.key)) for f in spec.DEPARTMENT_FIELDS]
    for r, (field, value) in enumerate(rows, start=2):
        sh.label(f"A{r}", field.label)
        _input(sh, f"B{r}", value, field, locked=field.key in locked)
        ws.row_dimensions[r].height = _row_height([(value, 90)], 22)
    first = len(rows) + 2
    count = max(DUTY_MIN_ROWS, len(dep.duties) + 3)
    last = first + count - 1
    sh.label(f"A{first}:A{last}", spec.DUTIES.label)
    for i in range(count):
        value = dep.duties[i] if i < len(dep.duties) else None
        _input(sh, f"B{first + i}", value, align=TOP_LEFT)
        ws.row_dimensions[first + i].height = _row_height([(value, 90)], 22)
    sh.name(spec.DUTIES.name, f"B{first}:B{last}")
    sh.validate(f"B{first}:B{last}", title=spec.DUTIES.label, prompt=spec.DUTIES.hint)
    ws[f"A{last + 2}"] = "注：单位信息中的单位名称、主管部门、填报人等会自动带入各项目表。"
    ws[f"A{last + 2}"].font = HINT
    _print_setup(ws, landscape=False, area=f"A1:B{last + 2}")
    sh.protect()


def _attr(obj: object, key: str) -> object:
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def _project_sheet(wb: Workbook, title: str, project: Project, *, body_rows: int, profile: Profile,
                   locked: set[str]) -> None:
    """One project sheet, laid out like the official 项目支出绩效自评表."""
    ws = wb.create_sheet(title)
    sh = _Sheet(ws, local_names=True)
    for col, width in WIDTHS.items():
        ws.column_dimensions[col].width = width
    fields = {f.key: f for f in spec.PROJECT_FIELDS}
    value_width = _span_width(*VALUE_SPAN)
    span = f"{VALUE_SPAN[0]}{{r}}:{VALUE_SPAN[1]}{{r}}"

    sh.box("A1:K1", spec.FORM_TITLE, font=TITLE, align=CENTRE, border=False)
    sh.box("A2:K2", None, font=BOLD, align=CENTRE, border=False)
    ws["A2"] = '="（"&IF(pt_year="","　　　",pt_year)&"年度）"'
    ws.row_dimensions[1].height, ws.row_dimensions[2].height = 30, 20

    def field_row(r: int, key: str, label_cells: str | None = None, minimum: float = 22) -> None:
        field = fields[key]
        sh.label(label_cells or f"A{r}:C{r}", field.label)
        value = getattr(project, key)
        _input(sh, span.format(r=r), value, field, locked=key in locked)
        ws.row_dimensions[r].height = _row_height([(value, value_width)], minimum)

    field_row(3, "code")
    field_row(4, "name")
    sh.label("A5:C5", "主管部门")
    sh.computed(span.format(r=5), '=IF(pt_supervisor<>"",""&pt_supervisor,""&pt_dept_name)', align=LEFT)
    ws.row_dimensions[5].height = 22
    field_row(6, "implementer")
    field_row(7, "budget_document")

    # budget block: header row 8, 年度资金总额 row 9, the three sources rows 10-12
    sh.label("A8:C8", spec.FUNDS_TITLE)
    for letter, (_, header) in zip("DEF", spec.FUND_COLUMNS, strict=True):
        sh.label(f"{letter}8", header)
    sh.label("G8", spec.BUDGET_WEIGHT_LABEL)
    sh.label("H8:I8", spec.EXECUTION_RATE_LABEL)
    sh.label("J8:K8", spec.EXECUTION_SCORE_LABEL)
    sh.label("A9:C9", spec.FUNDS_TOTAL_LABEL)
    for letter in "DEF":
        sh.computed(f"{letter}9", f'=IF(COUNT({letter}10:{letter}12)=0,"",SUM({letter}10:{letter}12))',
                    fmt=MONEY_FORMAT, align=RIGHT)
    sh.box("G9", profile.budget_weight, fill=GREY, align=CENTRE)
    sh.computed("H9:I9", '=IFERROR(F9/E9,"")', fmt=RATE_FORMAT)
    sh.computed("J9:K9", '=IFERROR(ROUND(MIN(G9,G9*H9),2),"")', fmt=SCORE_FORMAT)
    funds = _funds_in_order(project)
    for i, ((_, row_label, _aliases), fund) in enumerate(zip(spec.FUND_ROWS, funds, strict=True)):
        r = 10 + i
        sh.label(f"A{r}:C{r}", row_label)
        for letter, (attr, _) in zip("DEF", spec.FUND_COLUMNS, strict=True):
            _input(sh, f"{letter}{r}", getattr(fund, attr), kind="money", align=RIGHT,
                   locked=f"funds[{i}].{attr}" in locked)
        sh.box(f"G{r}", "—", fill=GREY, align=CENTRE)
        sh.computed(f"H{r}:I{r}", f'=IFERROR(F{r}/E{r},"")', fmt=RATE_FORMAT)
        sh.box(f"J{r}:K{r}", "—", fill=GREY, align=CENTRE)
    for r in range(8, 13):
        ws.row_dimensions[r].height = 30 if r == 8 else 22
    sh.name(spec.FUNDS_NAME, "D10:F12")
    sh.name(spec.FUNDS_TOTAL_NAME, "D9:F9")
    sh.name(spec.EXECUTION_RATE_NAME, "H9")
    sh.name(spec.EXECUTION_SCORE_NAME, "J9")

    field_row(13, "budget_note", minimum=45)
    sh.label("A14:A15", spec.GOAL_LABEL)
    field_row(14, "goal", "B14:C14", minimum=45)
    field_row(15, "achievement", "B15:C15", minimum=45)

    # indicators: title row 16, header row 17, body from row 18
    sh.box("A16:K16", spec.INDICATORS_TITLE, font=BOLD, fill=LABEL, align=CENTRE)
    ws.row_dimensions[16].height = 22
    for letter, (_, header, _aliases) in zip(PROJECT_COLUMNS, spec.INDICATOR_COLUMNS, strict=True):
        sh.label(f"{letter}17", header)
    ws.row_dimensions[17].height = 32
    first, last = 18, 18 + body_rows - 1
    keys = [key for key, _, _ in spec.INDICATOR_COLUMNS]
    for k in range(body_rows):
        r = first + k
        indicator = project.indicators[k] if k < len(project.indicators) else None
        texts = []
        for letter, key in zip(PROJECT_COLUMNS, keys, strict=True):
            value = getattr(indicator, key) if indicator else None
            fmt = TEXT_FORMAT if key in TEXT_INDICATOR_KEYS else "General"
            align = CENTRE if key in ("direction", "unit", "weight", "claimed_score") else LEFT
            sh.box(f"{letter}{r}", None, fmt=fmt, locked=False, align=align)
            put(ws[f"{letter}{r}"], value)
            texts.append((value, WIDTHS[letter]))
        ws.row_dimensions[r].height = _row_height(texts, 22)
    body = f"A{first}:K{last}"
    sh.name(spec.INDICATORS_NAME, body)
    _indicator_validations(sh, first, last)

    # weight sums, the 100-point check, 总分 and 等级
    r = last + 1
    col = {key: letter for letter, key in zip(PROJECT_COLUMNS, keys, strict=True)}
    rng = {k: f"${col[k]}${first}:${col[k]}${last}" for k in ("level1", "weight", "claimed_score")}
    # every computed cell stays blank until its inputs are typed (an empty sheet shows no 0, 差 or warning)
    for level1 in spec.TAXONOMY:
        sh.label(f"A{r}:G{r}", level1 + spec.WEIGHT_SUBTOTAL_SUFFIX, align=RIGHT)
        for letter, key in (("H", "weight"), ("I", "claimed_score")):
            sh.computed(f"{letter}{r}", f'=IF(COUNTIFS({rng["level1"]},"{level1}",{rng[key]},"<>")=0,"",'
                                        f'SUMIF({rng["level1"]},"{level1}",{rng[key]}))')
        ws.row_dimensions[r].height = 20
        r += 1
    usual = "、".join(f"{k}{v:g}分" for k, v in profile.level1_weights.items())
    sh.box(f"J{last + 1}:K{r - 1}", "左为分值、自评得分按一级指标的小计。" + (f"通常{usual}。" if usual else ""),
           font=HINT)
    sum_row = r
    sh.label(f"A{r}:G{r}", spec.WEIGHT_SUM_LABEL, align=RIGHT)
    for letter, key in (("H", "weight"), ("I", "claimed_score")):
        sh.computed(f"{letter}{r}", f'=IF(COUNT({rng[key]})=0,"",SUM({rng[key]}))')
    sh.box(f"J{r}:K{r}", None)
    ws.row_dimensions[r].height = 20
    r += 1
    sh.label(f"A{r}:G{r}", spec.WEIGHT_CHECK_LABEL + "（应为100）", align=RIGHT)
    sh.computed(f"H{r}:I{r}", f'=IF(H{sum_row}="","",G9+H{sum_row})')
    sh.computed(f"J{r}:K{r}", f'=IF(H{r}="","",IF(ROUND(H{r},2)=100,"分值合计为100，符合要求",'
                              f'"预算执行分值加各指标分值应等于100，请调整"))', align=LEFT)
    red = Font(name="宋体", size=10.5, bold=True, color="C00000")
    ws.conditional_formatting.add(f"H{r}:K{r}", FormulaRule(formula=[f'AND($H${r}<>"",ROUND($H${r},2)<>100)'],
                                                           font=red))
    ws.row_dimensions[r].height = 22
    r += 1
    sh.label(f"A{r}:G{r}", spec.TOTAL_SCORE_LABEL, align=RIGHT)
    # the total once both parts are there: 预算执行得分 alone would pass for a (failing) total
    sh.computed(f"H{r}:I{r}", f'=IF(OR(J9="",I{sum_row}=""),"",ROUND(J9+I{sum_row},2))', fmt=SCORE_FORMAT)
    sh.label(f"J{r}", spec.GRADE_LABEL)
    grade = f'"{profile.grades[-1][0]}"'
    for name, limit in reversed(profile.grades[:-1]):
        grade = f'IF(H{r}>={limit:g},"{name}",{grade})'
    sh.computed(f"K{r}", f'=IF(H{r}="","",{grade})')
    sh.name(spec.TOTAL_SCORE_NAME, f"H{r}")
    ws.row_dimensions[r].height = 24

    for key in ("deviation_reason", "improvement", "result_use", "disclosure", "other_notes"):
        r += 1
        field_row(r, key, minimum=45)
    r += 1
    ws[f"A{r}"] = '="填报人："&pt_contact_name&"　　联系电话："&pt_contact_phone&"　　（本表由单位信息自动带入）"'
    ws[f"A{r}"].font = HINT
    ws.merge_cells(f"A{r}:K{r}")
    _print_setup(ws, landscape=True, area=f"A1:K{r}", title_rows=f"{17}:{17}")
    sh.protect()


def _indicator_validations(sh: _Sheet, first: int, last: int) -> None:
    cells = {key: f"{letter}{first}:{letter}{last}"
             for letter, (key, _, _) in zip(PROJECT_COLUMNS, spec.INDICATOR_COLUMNS, strict=True)}
    sh.validate(cells["level1"], kind="list", formula1="pt_list_level1", title="一级指标",
                prompt="从下拉列表选择：" + "、".join(spec.TAXONOMY), error="请从下拉列表中选择一级指标")
    # 二级 follows 一级: the n-th 一级 has its list in the name pt_l2_n; all 二级 while 一级 is empty
    sh.validate(cells["level2"], kind="list",
                formula1=f'IF($A{first}="",pt_list_level2,INDIRECT("pt_l2_"&MATCH($A{first},pt_list_level1,0)))',
                title="二级指标", prompt="先选一级指标，再从下拉列表选择对应的二级指标",
                error="该二级指标不属于所选的一级指标，确定要这样填写吗？", style="warning")
    sh.validate(cells["name"], title="三级指标", prompt="具体的绩效指标名称，必填")
    sh.validate(cells["direction"], kind="list", formula1="pt_list_direction", title="指标方向",
                prompt="≥ 正向（越大越好）；≤ 反向（越小越好）；= 等于；定性 文字描述的指标",
                error="请从下拉列表中选择：≥、≤、=、定性")
    sh.validate(cells["target"], title="年度指标值", prompt="按批复的绩效目标填写，可带符号和单位，如“≥90%”“120人”“按时完成”")
    sh.validate(cells["actual"], title="实际完成值", prompt="按实际完成情况填写，表述方式与年度指标值一致，如“95%”“126人”")
    for key, title in (("weight", "分值"), ("claimed_score", "自评得分")):
        sh.validate(cells[key], kind="decimal", operator="between", formula1="0", formula2="100", title=title,
                    prompt="填写数字" + ("；不得超过该指标分值" if key == "claimed_score" else "；预算执行分值加各指标分值合计应为100"),
                    error="请填写0到100之间的数字")
    sh.validate(cells["deviation_note"], title="偏差原因分析及改进措施",
                prompt="指标未完成、超额完成较多或自评扣分时必须填写原因和改进措施")


def _print_setup(ws, *, landscape: bool, area: str, title_rows: str | None = None) -> None:
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.page_margins = PageMargins(left=0.45, right=0.45, top=0.6, bottom=0.6, header=0.3, footer=0.3)
    ws.print_options.horizontalCentered = True
    ws.print_area = area
    if title_rows:
        ws.print_title_rows = title_rows
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def guide_rows(*, year: int | None, profile: Profile | None = None, helpdesk: str = "") -> list[tuple[str, str]]:
    """The 填报说明 as (heading, text) rows, in plain Chinese, stating the rules of `profile`."""
    profile = profile or load_profile()
    bw = f"{profile.budget_weight:g}"
    year_text = f"{year}年度" if year else "本年度"
    grades = "；".join(f"{limit:g}分（含）以上为{name}" for name, limit in profile.grades[:-1])
    lowest_name, _ = profile.grades[-1]
    lowest_limit = profile.grades[-2][1] if len(profile.grades) > 1 else 0
    usual = "、".join(f"{k}{v:g}分" for k, v in profile.level1_weights.items())
    bands = "；".join(_band_text(b, top=b.high >= 1) for b in sorted(profile.bands, key=lambda b: -b.high))
    return [
        ("适用范围", f"本表用于{year_text}项目支出绩效自评。每个单位填写一个文件：“单位信息”表填写一次，"
                     "每个项目填写一张项目表（项目1、项目2……），一张表只填一个项目。"),
        ("哪些单元格要填", "白色带边框的单元格由单位填写。灰色单元格是公式自动计算的结果或财政局预填的数据，已锁定，"
                           "不能修改。浅蓝色单元格是栏目名称，请不要修改栏目名称，也不要删除固定的行和栏目。"),
        ("下拉选择", "“一级指标”“二级指标”“指标方向”请从下拉列表中选择（选中单元格后点右侧的小箭头）。"
                     "二级指标的可选项随一级指标变化，请先选一级指标。选中单元格时会显示填写提示。"),
        ("日期和年度", "日期请填写为“2024-05-08”的形式；评价年度填写四位数字，如 2023。"),
        ("增加项目", "项目不够时：右键点击一张空白项目表的标签 →“移动或复制”→ 勾选“建立副本”→ 确定，"
                     "再把新表重命名为“项目4”等。复制的表会自动带上读取所需的设置。未用的空白项目表可以保留，不会被读取。"),
        ("增加指标行", "绩效指标表已预留空行；不够时，请在表格中间选中整行，右键“插入”，不要在最后一行之下插入，"
                       "否则分值小计不包括新行。一级指标、二级指标请每行都填写，不要合并单元格。"),
        ("金额单位", "项目资金的金额单位为万元，填写数字（如 45.08），不要带“万元”等文字。"
                     "“年度资金总额”由各项资金自动汇总，不要手工填写。"),
        ("预算执行", f"执行率 = 全年执行数 ÷ 全年预算数；预算执行得分 = {bw}分 × 执行率，最高{bw}分，保留两位小数，"
                     "不得取整。全年预算数与年初预算数相差较大、或执行率偏低时，必须在“预算调整及执行情况说明”中写明原因。"),
        ("指标方向", "≥：正向指标，实际完成值越大越好（如覆盖率、满意度）；≤：反向指标，越小越好（如成本、投诉次数、"
                     "完成时限）；=：实际完成值应等于年度指标值；定性：用文字描述的指标（如“按规定补缴到位”）。"),
        ("指标值的写法", "年度指标值和实际完成值按实际填写，可带符号和单位，如“≥90%”“120人”“2023年12月底前”“按时完成”；"
                         "计量单位另填在“计量单位”栏。实际完成值的表述方式要与年度指标值一致。"),
        ("分值", f"预算执行分值为{bw}分；预算执行分值加各项指标分值合计必须等于100分，表中“{spec.WEIGHT_CHECK_LABEL}”"
                 "会自动检查。" + (f"通常{usual}。" if usual else "各指标分值由单位根据项目情况确定。")),
        ("定性指标评分", f"定性指标按三档自评：{bands}。"),
        ("偏差说明", f"指标未完成、超额完成较多（达到年度指标值的{profile.overachieved:.0%}及以上）或自评扣分时，"
                     "必须在“偏差原因分析及改进措施”中写明原因和改进措施。"),
        ("总分和等级", f"总分 = 预算执行得分 + 各指标自评得分，由公式自动计算。"
                       f"等级：{grades}；{lowest_limit:g}分以下为{lowest_name}。"),
        ("工作表保护", "各工作表已设保护，防止误改公式；工作表保护未设密码。调整行高、列宽和插入行不受影响。"
                       "确需修改锁定内容时，可点“审阅”→“撤销工作表保护”，改完后请恢复保护。财政局预填的数据不得修改，"
                       "如有错误请与财政局联系。"),
        ("文字较长时", "单元格已设自动换行，文字显示不全时可拖高行高。请不要在表格区域以外填写内容，区域以外的内容不会被读取。"),
        ("报送", "填写完成后保存为 .xlsx 格式（不要另存为 .xls、.et 格式，不要设置打开密码），按通知要求报送。"),
        ("联系方式", helpdesk or "填报中如有疑问，请联系区财政局预算绩效管理部门。"),
    ]


def _band_text(band: Band, *, top: bool) -> str:
    high = f"{band.high:.0%}" if top else f"{band.high:.0%}（不含{band.high:.0%}）"
    return f"{band.label}，得分为该指标分值的{band.low:.0%}—{high}"


def _guide_sheet(wb: Workbook, *, year: int | None, profile: Profile, helpdesk: str) -> None:
    ws = wb.active
    ws.title = spec.GUIDE_SHEET
    sh = _Sheet(ws, local_names=False)
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 18, 100
    sh.box("A1:B1", "预算绩效自评填报表 · 填报说明", font=TITLE, align=CENTRE, border=False)
    ws.row_dimensions[1].height = 34
    r = 2
    for heading, text in guide_rows(year=year, profile=profile, helpdesk=helpdesk):
        sh.label(f"A{r}", heading)
        sh.box(f"B{r}", text)
        ws.row_dimensions[r].height = _row_height([(text, 100)], 22)
        r += 1
    sh.label(f"A{r}", spec.VERSION_LABEL)
    sh.box(f"B{r}", spec.WORKBOOK_VERSION, fill=GREY)
    sh.name(spec.VERSION_NAME, f"B{r}")
    ws.freeze_panes = "A2"
    _print_setup(ws, landscape=False, area=f"A1:B{r}")
    sh.protect()


def _prefill_sheet(wb: Workbook, records: list[tuple[str, str, Typed]]) -> None:
    """The bureau's pre-filled values as (sheet, field, value) rows, so a change can be reported."""
    ws = wb.create_sheet(spec.PREFILL_SHEET)
    for col, header in enumerate(("工作表", "字段", "值"), start=1):
        ws.cell(1, col, header)
    for r, (sheet, key, value) in enumerate(records, start=2):
        put(ws.cell(r, 1), sheet)
        put(ws.cell(r, 2), key)
        put(ws.cell(r, 3), value)
    ws.sheet_state = "veryHidden"
    _Sheet(ws, local_names=False).protect()


# ------------------------------------------------------------------ the public writers


def _funds_in_order(project: Project) -> list[Fund]:
    """The project's funds as the three sources of the form, in FUND_ROWS order."""
    by_source: dict[str, Fund] = {}
    for fund in project.funds:
        source = spec.normalise_source(fund.source)
        if source is None:
            raise WorkbookWriteError(f"项目“{project.code or project.name}”的资金来源“{fund.source}”无法识别，"
                                f"应为：{'、'.join(FUND_SOURCES)}")
        if source in by_source:
            raise WorkbookWriteError(f"项目“{project.code or project.name}”的资金来源“{source}”重复出现")
        by_source[source] = fund
    return [by_source.get(s) or Fund(s) for s in FUND_SOURCES]


def _apply_prefill(sub: Submission, lines: list[BudgetLine]):
    """Merge budget lines into a copy of `sub`: (submission, department keys, {project index: keys})."""
    sub = copy.deepcopy(sub)
    if len({line.dept_code for line in lines}) > 1:
        raise WorkbookWriteError("一个填报表只能预填一个单位的数据，预算数据中包含多个单位编码")
    first = lines[0]
    sub.department.code = first.dept_code
    sub.department.name = next((x.dept_name for x in lines if x.dept_name), sub.department.name)
    dept_keys = {"department.code"} | ({"department.name"} if sub.department.name else set())
    by_code = {p.code: i for i, p in enumerate(sub.projects)}
    keys: dict[int, set[str]] = {}
    for line in lines:
        i = by_code.get(line.project_code)
        if i is None:
            i = by_code[line.project_code] = len(sub.projects)
            sub.projects.append(Project(code=line.project_code))
        project = sub.projects[i]
        project.name = line.project_name or project.name
        project.funds = _funds_in_order(project)
        j = FUND_SOURCES.index(spec.normalise_source(line.source) or line.source)
        keys.setdefault(i, {"code", "name"})
        for attr in ("initial_budget", "adjusted_budget", "executed"):
            value = getattr(line, attr)
            if value is not None:
                setattr(project.funds[j], attr, value)
                keys[i].add(f"funds[{j}].{attr}")
    return sub, dept_keys, keys


def write_template(path, submission: Submission | None = None, *, projects: int = 3, year: int | None = None,
                   profile: Profile | None = None, prefill: list[BudgetLine] | None = None,
                   helpdesk: str = "") -> Path:
    """Write the standard workbook: blank, filled from `submission`, and/or pre-filled from budget lines.

    The rule profile sets the budget weight, the grade formula and the rules the 填报说明 states.
    """
    profile = profile or load_profile()
    sub = copy.deepcopy(submission) if submission is not None else Submission()
    if sub.year is None:
        sub.year = year
    dept_keys: set[str] = set()
    project_keys: dict[int, set[str]] = {}
    if prefill:
        sub, dept_keys, project_keys = _apply_prefill(sub, prefill)
    wb = Workbook()
    _guide_sheet(wb, year=sub.year, profile=profile, helpdesk=helpdesk)
    _department_sheet(wb, sub, {k.split(".", 1)[1] for k in dept_keys})
    count = max(len(sub.projects), projects, 1)
    records: list[tuple[str, str, Typed]] = [
        (spec.DEPARTMENT_SHEET, key, _attr(sub, key)) for key in sorted(dept_keys)]
    for i in range(count):
        title = f"{spec.PROJECT_SHEET_PREFIX}{i + 1}"
        project = sub.projects[i] if i < len(sub.projects) else Project()
        body_rows = max(BODY_MIN_ROWS, len(project.indicators) + SPARE_ROWS)
        locked = project_keys.get(i, set())
        _project_sheet(wb, title, project, body_rows=body_rows, profile=profile, locked=locked)
        for key in sorted(locked, key=_key_order):
            records.append((title, key, _project_value(project, key)))
    _lists_sheet(wb)
    if records:
        _prefill_sheet(wb, records)
    wb.active = 0
    out = Path(path)
    with atomic_write(out) as handle:
        wb.save(handle)
    return out


def write_from_json(json_path, path, *, projects: int = 1, year: int | None = None, profile: Profile | None = None,
                    helpdesk: str = "") -> Path:
    """`template --fill`: the workbook filled from a submission-v1 JSON file (`year` when it has none)."""
    source = Path(json_path)
    try:
        submission = submission_from_json(source.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise WorkbookWriteError(f"无法读取填报数据文件 {source}：{exc.strerror}") from exc
    except ValueError as exc:  # not a submission-v1 (SubmissionFormatError), or not UTF-8
        raise WorkbookWriteError(f"填报数据文件 {source.name} 不是有效的 submission-v1 JSON：{exc}") from exc
    return write_template(path, submission, projects=projects, year=year, profile=profile, helpdesk=helpdesk)


def _key_order(key: str) -> tuple:
    return (key not in ("code", "name"), key)


def _project_value(project: Project, key: str) -> Typed:
    if key in ("code", "name"):
        return getattr(project, key)
    match = re.fullmatch(r"funds\[(\d)\]\.(\w+)", key)
    return getattr(project.funds[int(match.group(1))], match.group(2))


def write_prefilled(lines: list[BudgetLine], out_dir, *, year: int, profile: Profile | None = None,
                    helpdesk: str = "") -> list[Path]:
    """One pre-filled workbook per department of the budget lines; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[BudgetLine]] = {}
    for line in lines:
        groups.setdefault(line.dept_code, []).append(line)
    targets, taken = [], set()
    for code, group in groups.items():
        dept_name = next((x.dept_name for x in group if x.dept_name), "")
        stem = safe_name("-".join(x for x in (code, dept_name, "自评填报表") if x), "未命名单位")
        # two codes can make one safe name ("D/1", "D:1"): never overwrite a department's workbook
        name = next(n for n in (stem, *(f"{stem}-{k}" for k in range(2, 10_000))) if n.casefold() not in taken)
        taken.add(name.casefold())
        targets.append((out / f"{name}.xlsx", group))
    present = [t.name for t, _ in targets if os.path.lexists(t)]
    if present:  # a department may have returned its filled copy under the same name: nothing is overwritten
        raise WorkbookWriteError(f"文件夹 {out} 中已有 {'、'.join(present[:3])}{'等' if len(present) > 3 else ''}"
                                 f" {len(present)} 个同名文件，未生成任何预填表（以免覆盖已填报的表）。请换一个空文件夹。")
    return [write_template(t, year=year, profile=profile, prefill=group, helpdesk=helpdesk) for t, group in targets]
