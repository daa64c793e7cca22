"""The 审核意见 sheet described once, as data, with its two writers.

markup.py's openpyxl route (the department's workbook loaded whole) writes the sheet as openpyxl
cells (`to_openpyxl`); patch.py's route writes its XML straight into the department's zip
(`to_xml`), which costs a fraction of building and saving openpyxl cells. Both take the same
`ReviewSheet` from `describe`, so the layout — rows, texts, formats, merged ranges, heights,
links, print setup — is kept in one place.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from copy import copy
from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import escape

from ..findings import SEVERITY_ZH, title
from ..model import Finding
from ..text import display_width, scrub
from .xlsx import a1

HEADERS = ("序号", "级别", "问题", "工作表", "单元格", "说明")
WIDTHS = (6, 7, 22, 10, 9, 72)  # Excel column units; a Chinese character takes two
ERROR_COLOUR, WARNING_COLOUR = "FFC7CE", "FFEB9C"  # Excel's own "bad" and "neutral" cell styles
GRID = "808080"  # the table's thin border
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
FOOTER = "第 &P 页，共 &N 页"
#: openpyxl's default font, as styles.xml holds it: the review sheet's base in a workbook that names none.
DEFAULT_FONT = ('<font><name val="Calibri"/><family val="2"/><color theme="1"/><sz val="11"/>'
                '<scheme val="minor"/></font>')

Options = tuple[tuple[str, object], ...]  # keyword arguments of an openpyxl Font/Alignment, hashable


@dataclass(frozen=True)
class Format:
    """A cell format: changes to the workbook's default font, a solid fill, the thin grey border, the alignment."""

    font: Options = ()
    fill: str | None = None  # RGB of a solid fill
    border: bool = False
    align: Options = ()


@dataclass(frozen=True)
class Cell:
    row: int
    column: int
    value: str | int  # text is always text (never a formula, whatever it starts with)
    format: Format


@dataclass(frozen=True)
class Link:
    """A cell's link to a place in the workbook."""

    ref: str
    location: str
    tooltip: str


@dataclass(frozen=True)
class ReviewSheet:
    name: str
    cells: tuple[Cell, ...]  # row by row, left to right
    heights: dict[int, float]  # row → points
    merges: tuple[str, ...]  # A1:F1 ranges, in the order they were made
    links: tuple[Link, ...]
    head: int  # the table's header row: printed on every page, the panes frozen below it
    last_row: int  # the print area's last row


def fill_colour(severity: str) -> str:
    """The mark of a level: light red for an error, light yellow for anything else."""
    return ERROR_COLOUR if severity == "error" else WARNING_COLOUR


def _height(texts: Iterable[tuple[str, float]], minimum: float = 20.0) -> float:
    """A row height (points) showing every (text, column width) wrapped, at 11-point type."""
    lines = 1
    for text, width in texts:
        usable = max(width - 2, 2)  # cell padding and the indent
        lines = max(lines, sum(max(1, math.ceil(display_width(p, ambiguous_wide=True) / usable))
                               for p in str(text).split("\n")))
    return min(409.0, max(minimum, lines * 15.5 + 6))


def _date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


WRAP: Options = (("wrap_text", True), ("vertical", "top"))
CENTRE: Options = (("horizontal", "center"), ("vertical", "center"), ("wrap_text", True))
LEFT: Options = (("horizontal", "left"), ("vertical", "center"), ("wrap_text", True), ("indent", 1))  # off the border
BOLD: Options = (("bold", True),)


def describe(findings: Sequence[Finding], targets: dict[int, str], sheetnames: Collection[str], *, name: str,
             file_name: str, unit: str, bureau: str, deadline: dt.date | None, today: dt.date,
             scores: Sequence[str] = ()) -> ReviewSheet:
    """The sheet listing `findings` (in order), each linked to the cell `targets[id(finding)]` of its sheet."""
    last = a1((1, len(HEADERS)))[:-1]
    total = sum(WIDTHS)
    cells: list[Cell] = []
    heights: dict[int, float] = {}
    merges: list[str] = []
    links: list[Link] = []
    errors = sum(f.severity == "error" for f in findings)
    warns = sum(f.severity == "warning" for f in findings)

    def banner(row: int, text: str, *, font: Options = (), align: Options = WRAP, minimum: float = 20.0) -> None:
        merges.append(f"A{row}:{last}{row}")
        text = scrub(text)
        cells.append(Cell(row, 1, text, Format(font=font, align=align)))
        heights[row] = _height([(text, total)], minimum)

    banner(1, f"{scrub(unit).strip()}自评填报表审核意见", font=(("size", 16), ("bold", True)),
           align=(("horizontal", "center"), ("vertical", "center"), ("wrap_text", True)), minimum=32)
    facts = [f"填报表：{file_name}", f"审核日期：{_date(today)}"] + ([f"审核单位：{bureau}"] if bureau else [])
    banner(2, "　　".join(facts) + f"\n共发现问题 {errors + warns} 个：错误 {errors} 个、警告 {warns} 个。")
    row = 3
    if scores:  # the bureau's result, before the list of what to correct
        banner(row, "审核结果（按评分规则核定）：\n" + "\n".join(scores), font=BOLD)
        row += 1
    banner(row, "标红的单元格有错误，必须改正；标黄的单元格有警告，请核实，确有问题的请改正或在相应的说明栏中说明原因。"
                "在填报表中把鼠标移到标出的单元格上可以看到批注；点击下表“单元格”一栏可以跳转到该单元格。",
           font=(("color", "595959"),))
    head = row + 1
    heading = Format(font=BOLD, fill="D9D9D9", border=True, align=(("horizontal", "center"), ("vertical", "center")))
    cells.extend(Cell(head, c, text, heading) for c, text in enumerate(HEADERS, 1))
    heights[head] = 22
    link = Format(font=(("color", "0563C1"), ("underline", "single")), border=True, align=CENTRE)
    for n, f in enumerate(findings, 1):
        r = head + n
        values = [n, SEVERITY_ZH.get(f.severity, f.severity), title(f.code), f.sheet or "—", f.cell or "—", f.message]
        values = [scrub(v) if isinstance(v, str) else v for v in values]
        linked = bool(f.sheet and f.sheet in sheetnames and f.sheet != name)
        for c, value in enumerate(values, 1):
            if c == 2:  # the level, coloured as its cells are
                fmt = Format(fill=fill_colour(f.severity), border=True, align=CENTRE)
            elif c == 5 and linked:
                fmt = link
            else:
                fmt = Format(border=True, align=CENTRE if c in (1, 4, 5) else LEFT)
            cells.append(Cell(r, c, value, fmt))
        if linked:
            target = targets.get(id(f)) or "A1"  # a finding about a whole sheet: its first cell
            sheet = f.sheet.replace("'", "''")
            links.append(Link(a1((r, 5)), f"'{sheet}'!{target}", f"转到 {f.sheet}!{target}"))
        heights[r] = _height([(values[2], WIDTHS[2]), (values[5], WIDTHS[5])])
    end = head + len(findings)
    when = f"于{_date(deadline)}前" if deadline else ""
    banner(end + 2, f"请在本单位的原填报表中改正以上标出的单元格（也可以直接在本文件中改正），改正后{when}重新报送。"
                    "本文件中的颜色标记、批注和“审核意见”工作表只是审核提示，工具读取填报表时不读取这些内容，无需删除。",
           font=BOLD)
    if bureau:
        banner(end + 3, f"{bureau}\n{_date(today)}",
               align=(("horizontal", "right"), ("vertical", "top"), ("wrap_text", True)))
    return ReviewSheet(name, tuple(cells), heights, tuple(merges), tuple(links), head, end + (3 if bureau else 2))


# ------------------------------------------------------------------ openpyxl


def _openpyxl_style(base, fmt: Format) -> dict[str, object]:
    """The openpyxl style objects of `fmt` (font=…, fill=…, border=…, alignment=…), only those it sets."""
    from openpyxl.styles import Alignment, Border, PatternFill, Side

    styles: dict[str, object] = {}
    if fmt.font:
        font = copy(base)
        for key, value in fmt.font:
            setattr(font, key, value)
        styles["font"] = font
    if fmt.border:
        thin = Side(style="thin", color=GRID)
        styles["border"] = Border(left=thin, right=thin, top=thin, bottom=thin)
    if fmt.fill:
        styles["fill"] = PatternFill("solid", fgColor=fmt.fill)
    if fmt.align:
        styles["alignment"] = Alignment(**dict(fmt.align))
    return styles


def to_openpyxl(wb, sheet: ReviewSheet) -> None:
    """Add `sheet` to the openpyxl workbook `wb`, first, as the selected sheet."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.hyperlink import Hyperlink
    from openpyxl.worksheet.properties import PageSetupProperties

    ws = wb.create_sheet(sheet.name, 0)
    base = ws.cell(1, 1).font  # the workbook's default font: a bare Font() would fall back to a serif
    for i, w in enumerate(WIDTHS, 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    made: dict[Format, object] = {}  # a format's style array, copied to every later cell that has it
    for c in sheet.cells:
        cell = ws.cell(c.row, c.column)
        cell.value = c.value
        if isinstance(c.value, str):
            cell.data_type = "s"
        style = made.get(c.format)
        if style is None:  # assigning style objects hashes them into the workbook's lists: once a format
            for attr, value in _openpyxl_style(base, c.format).items():
                setattr(cell, attr, value)
            made[c.format] = copy(cell._style)
        else:
            cell._style = copy(style)
    for row, height in sheet.heights.items():
        ws.row_dimensions[row].height = height
    for ref in sheet.merges:
        ws.merge_cells(ref)
    for link in sheet.links:
        ws[link.ref].hyperlink = Hyperlink(ref=link.ref, location=link.location, tooltip=link.tooltip)
    last = get_column_letter(len(HEADERS))
    ws.freeze_panes = ws.cell(sheet.head + 1, 1)
    ws.print_title_rows = f"{sheet.head}:{sheet.head}"
    ws.print_area = f"A1:{last}{sheet.last_row}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = FOOTER
    ws.sheet_view.zoomScale = 100
    for other in wb.worksheets:
        other.sheet_view.tabSelected = other is ws
    wb.active = 0


# ------------------------------------------------------------------ XML


@dataclass(frozen=True)
class FormatXml:
    """A format's parts as styles.xml holds them; `xf` names font, fill and border 0 (renumbered when added)."""

    font: str
    fill: str
    border: str
    xf: str


def _tostring(el) -> str:
    from openpyxl.xml.functions import tostring

    return tostring(el).decode("utf-8")


@lru_cache(maxsize=64)
def base_font(font_xml: str):
    """An openpyxl Font from a <font> element of a styles part (in its default namespace); ValueError if bad."""
    from defusedxml import ElementTree
    from openpyxl.styles import Font

    try:
        return Font.from_tree(ElementTree.fromstring(f'<fonts xmlns="{MAIN}">{font_xml}</fonts>')[0])
    except Exception as exc:  # a font openpyxl cannot take: the caller goes the openpyxl way
        raise ValueError(f"font: {exc}") from exc


@lru_cache(maxsize=256)
def format_xml(font_xml: str, fmt: Format) -> FormatXml:
    """`fmt` over the default font `font_xml` (see base_font) as styles.xml parts, serialised as openpyxl
    writes them (cached: a round's workbooks mostly share their default font)."""
    from openpyxl.styles import PatternFill
    from openpyxl.styles.borders import DEFAULT_BORDER
    from openpyxl.styles.cell_style import CellStyle

    base = base_font(font_xml)
    styles = _openpyxl_style(base, fmt)
    xf = CellStyle(numFmtId=0, fontId=0, fillId=0, borderId=0, xfId=0, quotePrefix=False, pivotButton=False)
    if "alignment" in styles:
        xf.alignment = styles["alignment"]
    return FormatXml(_tostring(styles.get("font", base).to_tree()), _tostring(styles.get("fill", PatternFill()).to_tree()),
                     _tostring(styles.get("border", DEFAULT_BORDER).to_tree()), _tostring(xf.to_tree()))


@lru_cache(maxsize=8)
def fill_xml(colour: str) -> str:
    """A solid fill of `colour` as styles.xml holds it."""
    from openpyxl.styles import PatternFill

    return _tostring(PatternFill("solid", fgColor=colour).to_tree())


def text(value: str) -> str:
    """Element text escaped as lxml writes it (a carriage return kept as one, not read back as a line feed)."""
    return escape(value, {"\r": "&#13;"})


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _number(value: float) -> str:
    return f"{value:.16g}"


def to_xml(sheet: ReviewSheet, xf: Callable[[Format], int]) -> bytes:
    """The worksheet part of `sheet`; `xf(format)` is the cell format's index in the workbook's styles."""
    last_col = len(HEADERS)
    top = a1((sheet.head + 1, 1))
    out = [f'<worksheet xmlns="{MAIN}"><sheetPr><outlinePr summaryBelow="1" summaryRight="1"/>'
           f'<pageSetUpPr fitToPage="1"/></sheetPr><dimension ref="A1:{a1((sheet.last_row, last_col))}"/>'
           f'<sheetViews><sheetView tabSelected="1" zoomScale="100" workbookViewId="0">'
           f'<pane ySplit="{sheet.head}" topLeftCell="{top}" activePane="bottomLeft" state="frozen"/>'
           f'<selection pane="bottomLeft" activeCell="A1" sqref="A1"/></sheetView></sheetViews>'
           f'<sheetFormatPr baseColWidth="8" defaultRowHeight="15"/><cols>']
    out.extend(f'<col width="{w}" customWidth="1" min="{i}" max="{i}"/>' for i, w in enumerate(WIDTHS, 1))
    out.append("</cols><sheetData>")
    row = None
    for c in sheet.cells:
        if c.row != row:
            if row is not None:
                out.append("</row>")
            row = c.row
            height = sheet.heights.get(row)
            out.append(f'<row r="{row}" ht="{_number(height)}" customHeight="1">' if height is not None
                       else f'<row r="{row}">')
        ref = a1((c.row, c.column))
        if isinstance(c.value, str):
            space = ' xml:space="preserve"' if c.value != c.value.strip() else ""
            out.append(f'<c r="{ref}" s="{xf(c.format)}" t="inlineStr"><is><t{space}>{text(c.value)}</t></is></c>')
        else:
            out.append(f'<c r="{ref}" s="{xf(c.format)}" t="n"><v>{c.value}</v></c>')
    if row is not None:
        out.append("</row>")
    out.append("</sheetData>")
    if sheet.merges:
        out.append(f'<mergeCells count="{len(sheet.merges)}">')
        out.extend(f'<mergeCell ref="{ref}"/>' for ref in sheet.merges)
        out.append("</mergeCells>")
    if sheet.links:
        out.append("<hyperlinks>")
        out.extend(f'<hyperlink ref="{link.ref}" location="{_attr(link.location)}" tooltip="{_attr(link.tooltip)}"/>'
                   for link in sheet.links)
        out.append("</hyperlinks>")
    out.append('<printOptions horizontalCentered="1"/>'
               '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
               '<pageSetup orientation="landscape" paperSize="9" fitToHeight="0" fitToWidth="1"/>'
               f'<headerFooter><oddHeader></oddHeader><oddFooter>{escape("&C" + FOOTER)}</oddFooter>'
               '<evenHeader></evenHeader><evenFooter></evenFooter><firstHeader></firstHeader>'
               '<firstFooter></firstFooter></headerFooter></worksheet>')
    return "".join(out).encode("utf-8")


def defined_names(sheet: ReviewSheet) -> bytes:
    """The sheet's print titles and print area, as workbook.xml's <definedName>s (the sheet first: index 0)."""
    quoted = "'" + escape(sheet.name.replace("'", "''")) + "'"
    last = a1((sheet.last_row, len(HEADERS)))
    col, row = re.match(r"([A-Z]+)(\d+)", last).groups()
    return (f'<definedName name="_xlnm.Print_Titles" localSheetId="0">{quoted}!${sheet.head}:${sheet.head}'
            f'</definedName><definedName name="_xlnm.Print_Area" localSheetId="0">{quoted}!$A$1:${col}${row}'
            "</definedName>").encode()
