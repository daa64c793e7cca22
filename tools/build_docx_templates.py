"""Build the two Word templates of `perf-toolkit report` with python-docx.

    .venv/bin/python tools/build_docx_templates.py [OUTPUT_DIR]

Writes 自评报告模板.docx and 自评表模板.docx into workbook_templates/ (or
OUTPUT_DIR). The output is byte-for-byte reproducible (fixed zip timestamps and
document dates), so a rebuild shows up in git only when this script changed.

Formatting lives in the templates' styles (正文, 标题, 标题 1–3, 落款, 表格文字…)
so a clerk changes it in Word once; the docxtpl tags ({{ … }}, {%p … %},
{%tr … %}) are the variables documented in docs/report-context.md. `{% vm EXPR %}`
in a table cell is perf-toolkit's own tag: the cell starts a vertical merge when
EXPR is true and continues the one above otherwise (see perf_toolkit/render.py).
"""

from __future__ import annotations

import datetime as dt
import io
import sys
import zipfile
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

ROOT = Path(__file__).resolve().parents[1]
REPORT_NAME = "自评报告模板.docx"
TABLE_NAME = "自评表模板.docx"
NOTES_NAME = "审核附注模板.docx"

LATIN = "Times New Roman"  # digits and Latin letters (GB/T 9704 practice)
FANGSONG, KAITI, HEITI, SONGTI, XIAOBIAOSONG = "仿宋_GB2312", "楷体_GB2312", "黑体", "宋体", "方正小标宋简体"
#: Word shows altName when a font is missing: Windows 10+ ships 仿宋/楷体 but not the _GB2312 ones.
ALT_NAMES = {FANGSONG: "仿宋", KAITI: "楷体", XIAOBIAOSONG: "宋体", HEITI: "SimHei", SONGTI: "SimSun"}
FIXED_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

# Styles kept from python-docx's default template (the rest is 800 KB of unused styles).
KEEP_STYLES = {"Normal", "Title", "Heading 1", "Heading 2", "Heading 3", "Header", "Footer", "Table Grid",
               "Default Paragraph Font", "Normal Table", "No List"}


# ------------------------------------------------------------------ low-level helpers


def set_fonts(element, east_asia: str, latin: str = LATIN) -> None:
    """Set explicit fonts on a style or run: theme fonts would override them in Word."""
    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:cs"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    # quotes “” and ： are "ambiguous" characters: the hint makes Word draw them with the CJK font
    fonts.set(qn("w:hint"), "eastAsia")


def paragraph_style(doc, name: str, *, base: str | None = "Normal", east_asia: str = FANGSONG,
                    size: float = 16, bold: bool = False, align=None, first_indent_chars: int | None = None,
                    line: float | None = None, before: float = 0, after: float = 0, keep_next: bool = False,
                    outline: int | None = None, latin: str = LATIN):
    """Create or reset a paragraph style with explicit fonts, size, indent and spacing."""
    styles = doc.styles
    style = styles[name] if name in [s.name for s in styles] else styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    if base is not None and name != base:
        style.base_style = styles[base]
    style.quick_style = True
    font = style.font
    font.size = Pt(size)
    font.bold = bold
    font.italic = False
    font.color.rgb = None
    set_fonts(style.element, east_asia, latin)
    pf = style.paragraph_format
    if align is not None:
        pf.alignment = align
    pf.space_before, pf.space_after = Pt(before), Pt(after)
    if line is not None:
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = Pt(line)
    else:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
    pf.keep_with_next = keep_next
    pf.widow_control = True
    if first_indent_chars is not None:
        indent_chars(style.element.get_or_add_pPr(), first_indent_chars, size)
    ppr = style.element.get_or_add_pPr()
    for old in ppr.findall(qn("w:outlineLvl")):
        ppr.remove(old)
    for old in ppr.findall(qn("w:pBdr")):  # the default Title has a blue rule under it
        ppr.remove(old)
    if outline is not None:
        lvl = OxmlElement("w:outlineLvl")
        lvl.set(qn("w:val"), str(outline))
        ppr.append(lvl)
    return style


def indent_chars(ppr, chars: int, size: float, right_chars: int = 0) -> None:
    """Indent in characters (firstLineChars, which Word scales) plus twips for other readers."""
    ind = ppr.get_or_add_ind()  # python-docx keeps the schema order of pPr children
    for attr in list(ind.attrib):
        del ind.attrib[attr]
    twips = str(int(chars * size * 20))
    ind.set(qn("w:firstLineChars"), str(chars * 100))
    ind.set(qn("w:firstLine"), twips)
    if right_chars:
        ind.set(qn("w:rightChars"), str(right_chars * 100))
        ind.set(qn("w:right"), str(int(right_chars * size * 20)))


#: pPr children that come after overflowPunct/autoSpaceDE/autoSpaceDN in the schema.
_PPR_AFTER = ("w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing",
              "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment",
              "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")


def chinese_typography(ppr) -> None:
    """No hanging punctuation (LibreOffice drops a hung comma from the PDF) and no extra space
    between Chinese and digits (official documents print 2024年5月8日 tight)."""
    anchor = next((child for child in ppr if child.tag in {qn(t) for t in _PPR_AFTER}), None)
    for tag in ("w:overflowPunct", "w:autoSpaceDE", "w:autoSpaceDN"):
        el = OxmlElement(tag)
        el.set(qn("w:val"), "0")
        if anchor is not None:
            anchor.addprevious(el)
        else:
            ppr.append(el)


def add_par(container, text: str, style: str, east_asia: str | None = None, latin: str = LATIN,
            keep_next: bool = False):
    """A paragraph of one run whose fonts are also set on the run itself."""
    par = container.add_paragraph(style=style)
    if keep_next:  # an introduction ending in "：" stays with what it introduces
        par.paragraph_format.keep_with_next = True
    if text:
        run = par.add_run(text)
        set_fonts(run._r, east_asia or style_east_asia(container, style), latin)
    return par


def style_east_asia(container, style: str) -> str:
    part = container.part if hasattr(container, "part") else container._parent.part
    fonts = part.document.styles[style].element.rPr.find(qn("w:rFonts"))
    return fonts.get(qn("w:eastAsia"))


def page_number_footer(doc, section, size: float = 14) -> None:
    """Footers "- N -" in 四号宋体: odd pages right, even pages left, one character in (GB/T 9704)."""
    for footer, align, side in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT, "w:right"),
                                (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT, "w:left")):
        footer.is_linked_to_previous = False
        par = footer.paragraphs[0]
        par.style = doc.styles["Footer"]
        par.alignment = align
        ind = par._p.get_or_add_pPr().get_or_add_ind()  # in schema order, before jc
        ind.set(qn(side), str(int(size * 20)))
        ind.set(qn(side + "Chars"), "100")
        _page_runs(par, size)


def _page_runs(par, size: float) -> None:
    def run(text=None, fld=None, instr=None):
        r = par.add_run(text or "")
        set_fonts(r._r, SONGTI, SONGTI)
        r.font.size = Pt(size)
        if fld:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), fld)
            r._r.append(el)
        if instr:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = instr
            r._r.append(el)

    run("- ")
    run(fld="begin")
    run(instr=" PAGE ")
    run(fld="separate")
    run("1")
    run(fld="end")
    run(" -")


def page_setup(doc, *, landscape: bool = False) -> None:
    """A4 with the official margins (turned with the page for a landscape form)."""
    section = doc.sections[0]
    top, bottom, left, right = Cm(3.7), Cm(3.5), Cm(2.8), Cm(2.6)
    if landscape:
        # the binding edge (portrait left) is the top of a landscape page (GB/T 9704 表格横排)
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Cm(29.7), Cm(21.0)
        top, bottom, left, right = Cm(2.8), Cm(2.6), Cm(3.5), Cm(3.7)
    else:
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.top_margin, section.bottom_margin = top, bottom
    section.left_margin, section.right_margin = left, right
    section.header_distance = Cm(1.5)
    # the page number sits 7 mm under the type area (GB/T 9704 7.5)
    section.footer_distance = bottom - Cm(0.7) - Pt(14)
    doc.settings.odd_and_even_pages_header_footer = True
    page_number_footer(doc, section)


def base_document(title_property: str):
    """python-docx's default document, trimmed to the styles used, with CJK-safe defaults."""
    doc = Document()
    styles_el = doc.styles.element
    latent = styles_el.find(qn("w:latentStyles"))
    if latent is not None:
        styles_el.remove(latent)
    for style in list(doc.styles):
        if style.name not in KEEP_STYLES:
            styles_el.remove(style.element)
    defaults = styles_el.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    fonts = rpr.find(qn("w:rFonts"))
    for attr in list(fonts.attrib):
        del fonts.attrib[attr]
    fonts.set(qn("w:ascii"), LATIN)
    fonts.set(qn("w:hAnsi"), LATIN)
    fonts.set(qn("w:cs"), LATIN)
    fonts.set(qn("w:eastAsia"), FANGSONG)
    fonts.set(qn("w:hint"), "eastAsia")
    lang = rpr.find(qn("w:lang"))
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    ppr = defaults.find(qn("w:pPrDefault")).find(qn("w:pPr"))
    spacing = ppr.find(qn("w:spacing"))
    ppr.remove(spacing)
    _drop_extra_parts(doc)
    _font_table(doc)
    props = doc.core_properties
    props.title = title_property
    props.author = "perf-toolkit"
    props.comments = "由 perf-toolkit 生成的模板；花括号中的内容为数据标记，说明见 docs/report-context.md。"
    props.created = props.modified = FIXED_DATE
    props.last_modified_by = "perf-toolkit"
    props.revision = 1
    return doc


def _drop_extra_parts(doc) -> None:
    """Remove parts the default template carries but a report does not need."""
    package = doc.part.package
    drop = ("stylesWithEffects", "customXml", "thumbnail")
    for rel_id, rel in list(doc.part.rels.items()):
        if any(d in str(rel.target_ref) for d in drop):
            doc.part.rels.pop(rel_id)
    for rel_id, rel in list(package.rels.items()):
        if any(d in str(rel.target_ref) for d in drop):
            package.rels.pop(rel_id)
    numbering = [k for k, r in doc.part.rels.items() if r.reltype.endswith("/numbering")]
    for rel_id in numbering:
        doc.part.rels.pop(rel_id)


def _font_table(doc) -> None:
    """Declare the official fonts with alternative names for machines that lack them."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    part = doc.part.part_related_by(RT.FONT_TABLE)
    from lxml import etree

    root = etree.fromstring(part.blob)
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    for font in list(root):
        if font.get(f"{{{w}}}name") not in ("Times New Roman", "Symbol"):
            root.remove(font)
    for name, alt in ALT_NAMES.items():
        font = etree.SubElement(root, f"{{{w}}}font", {f"{{{w}}}name": name})
        etree.SubElement(font, f"{{{w}}}altName", {f"{{{w}}}val": alt})
        etree.SubElement(font, f"{{{w}}}charset", {f"{{{w}}}val": "86"})  # GB2312
        etree.SubElement(font, f"{{{w}}}family", {f"{{{w}}}val": "modern" if name == HEITI else "roman"})
        etree.SubElement(font, f"{{{w}}}pitch", {f"{{{w}}}val": "variable"})
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def official_styles(doc) -> None:
    """The body, title and three heading levels of a Chinese official document (GB/T 9704)."""
    paragraph_style(doc, "Normal", base=None, size=16, line=28, first_indent_chars=2,
                    align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    chinese_typography(doc.styles["Normal"].element.get_or_add_pPr())
    paragraph_style(doc, "Title", east_asia=XIAOBIAOSONG, size=22, line=36, after=28,
                    align=WD_ALIGN_PARAGRAPH.CENTER, first_indent_chars=0, keep_next=True)
    paragraph_style(doc, "Heading 1", east_asia=HEITI, size=16, line=28, keep_next=True, outline=0)
    paragraph_style(doc, "Heading 2", east_asia=KAITI, size=16, line=28, keep_next=True, outline=1)
    paragraph_style(doc, "Heading 3", east_asia=FANGSONG, size=16, bold=True, line=28, keep_next=True, outline=2)
    paragraph_style(doc, "Footer", east_asia=SONGTI, latin=SONGTI, size=14, first_indent_chars=0)
    paragraph_style(doc, "Header", size=9, first_indent_chars=0)
    # the two Heading styles are based on Normal so they inherit the indent; the Title must not
    for name in ("Title", "Footer", "Header"):
        doc.styles[name].paragraph_format.first_line_indent = 0


def save_reproducible(doc, path: Path) -> None:
    """Save with fixed zip timestamps so a rebuild gives the same bytes."""
    buffer = io.BytesIO()
    doc.save(buffer)
    buffer.seek(0)
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            zout.writestr(fixed, zin.read(info.filename))
    path.write_bytes(out.getvalue())


# ------------------------------------------------------------------ the report


def loop(doc, tag: str) -> None:
    """A paragraph holding only a docxtpl paragraph tag ({%p … %}): removed when rendered."""
    add_par(doc, "{%p " + tag + " %}", "Normal")


def paragraphs(doc, var: str) -> None:
    """A body paragraph per item of a list of strings."""
    loop(doc, f"for t in {var}")
    add_par(doc, "{{ t }}", "Normal")
    loop(doc, "endfor")


def given_or(doc, var: str, fallback: str) -> None:
    """The department's paragraphs of `var`, or the template's wording when it wrote none."""
    loop(doc, f"if {var}")
    paragraphs(doc, var)
    loop(doc, "else")
    add_par(doc, fallback, "Normal")
    loop(doc, "endif")


def signature_styles(doc) -> None:
    """The unit and the date under it (GB/T 9704 7.3.5.1): the date 右空四字, the unit centred over the
    date (the renderer sets the unit's right indent from the two texts' widths)."""
    sig = paragraph_style(doc, "落款", size=16, line=28, align=WD_ALIGN_PARAGRAPH.RIGHT)
    indent_chars(sig.element.get_or_add_pPr(), 0, 16, right_chars=4)
    sig_date = paragraph_style(doc, "落款日期", base="落款", size=16, line=28, align=WD_ALIGN_PARAGRAPH.RIGHT)
    indent_chars(sig_date.element.get_or_add_pPr(), 0, 16, right_chars=4)
    sig_date.paragraph_format.keep_with_next = False
    sig.paragraph_format.keep_with_next = True


def build_report(path: Path) -> None:
    """The self-evaluation report: rules.md §6, section by section. Every fixed sentence is here (a
    clerk edits it in Word); the paragraphs composed from the data come from the context."""
    doc = base_document("{{ title }}")
    official_styles(doc)
    signature_styles(doc)
    page_setup(doc)

    # title_lines: the title broken between words into balanced lines
    add_par(doc, "{{ title_lines }}", "Title")
    add_par(doc, "根据{{ notice }}要求，{{ unit }}{{ evaluation_window }}组织{{ evaluation_unit }}开展{{ year }}年度"
                 "{{ project_label }}支出绩效自评工作，现将绩效自评工作开展情况报告如下：", "Normal")

    add_par(doc, "一、绩效目标分解下达情况", "Heading 1")
    add_par(doc, "（一）预算资金安排情况", "Heading 2")
    paragraphs(doc, "budget_paragraphs")
    add_par(doc, "（二）绩效目标下达情况", "Heading 2")
    add_par(doc, "{{ bureau }}对{{ unit }}{{ year }}年度{{ project_label }}支出绩效目标批复如下：", "Normal")
    # a part the department left empty is left out; section_no numbers the parts that are there
    loop(doc, "if duties")
    add_par(doc, "{{ section_no.duties }}.部门职责", "Heading 3")
    add_par(doc, "{{ unit }}的主要职责是：", "Normal", keep_next=True)
    loop(doc, "for d in duties")
    add_par(doc, "{{ d.label }}{{ d.text }}", "Normal")
    loop(doc, "endfor")
    loop(doc, "endif")
    loop(doc, "if goal_paragraphs")
    add_par(doc, "{{ section_no.goal }}.{{ year }}年度绩效目标", "Heading 3")
    paragraphs(doc, "goal_paragraphs")
    loop(doc, "endif")
    add_par(doc, "{{ section_no.indicators }}.项目支出绩效指标", "Heading 3")
    add_par(doc, "{{ indicators_intro }}", "Normal")
    loop(doc, "for g in indicator_groups")
    add_par(doc, "{{ g.heading }}", "Normal", keep_next=True)
    loop(doc, "for t in g.paragraphs")
    add_par(doc, "{{ t }}", "Normal")
    loop(doc, "endfor")
    loop(doc, "endfor")

    add_par(doc, "二、绩效目标完成情况分析", "Heading 1")
    add_par(doc, "（一）资金投入情况分析", "Heading 2")
    paragraphs(doc, "funds_paragraphs")
    add_par(doc, "（二）总体绩效目标完成情况分析", "Heading 2")
    loop(doc, "if achievement_paragraphs")
    add_par(doc, "根据{{ notice }}要求，对照{{ year }}年度项目支出绩效目标，全年工作完成情况如下：", "Normal")
    paragraphs(doc, "achievement_paragraphs")
    loop(doc, "else")
    add_par(doc, "对照{{ year }}年度项目支出绩效目标，各项绩效指标的完成情况见本部分（三）。", "Normal")
    loop(doc, "endif")
    add_par(doc, "（三）绩效指标完成情况分析", "Heading 2")
    add_par(doc, "{{ indicators_summary }}", "Normal")
    loop(doc, "for ind in indicators")
    add_par(doc, "{{ ind.analysis }}", "Normal")
    loop(doc, "endfor")
    add_par(doc, "（四）自评结论", "Heading 2")
    add_par(doc, "{{ conclusion }}", "Normal")

    add_par(doc, "三、偏离绩效目标的原因和下一步改进措施", "Heading 1")
    add_par(doc, "（一）偏离绩效目标原因分析", "Heading 2")
    paragraphs(doc, "deviation_paragraphs")
    add_par(doc, "（二）下一步改进措施", "Heading 2")
    given_or(doc, "improvement_paragraphs", "无。")

    add_par(doc, "四、绩效自评结果拟应用和公开情况", "Heading 1")
    add_par(doc, "（一）绩效自评结果拟应用", "Heading 2")
    given_or(doc, "result_use_paragraphs", "根据{{ year }}年度项目支出绩效自评情况，进一步掌握资金使用情况和取得的效果，"
             "总结项目管理经验，查找存在的问题和不足，作为以后年度预算安排和改进项目管理的重要依据。")
    add_par(doc, "（二）绩效自评结果公开情况", "Heading 2")
    given_or(doc, "disclosure_paragraphs", "{{ year }}年度项目支出绩效自评报告将按照{{ bureau }}的时间要求在"
             "{{ portal }}公开，接受社会监督。")

    add_par(doc, "五、其他需要说明的问题", "Heading 1")
    given_or(doc, "other_paragraphs", "无。")

    add_par(doc, "", "Normal")
    add_par(doc, "{{ unit }}", "落款")
    add_par(doc, "{{ report_date_cn }}", "落款日期")
    save_reproducible(doc, path)


# ------------------------------------------------------------------ the 自评表

#: Column widths (cm) of the nine-column grid; they add up to the landscape type area (22.5 cm).
TABLE_COLUMNS = (1.9, 2.8, 2.5, 4.7, 2.2, 2.2, 1.1, 1.7, 3.4)
TABLE_SIZE = 10.5  # 五号


def set_cell(cell, text: str, style: str = "表格文字", *, span_to=None, vmerge: str | None = None,
             align=None):
    """Write one cell (optionally merged to the right) and set its fonts, alignment and vMerge."""
    if span_to is not None:
        cell = cell.merge(span_to)
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    par = cell.paragraphs[0]
    par.style = cell.part.document.styles[style]
    if align is not None:
        par.alignment = align
    if text:
        run = par.add_run(text)
        set_fonts(run._r, style_east_asia(cell, style))
    if vmerge is not None:
        tcpr = cell._tc.get_or_add_tcPr()
        el = OxmlElement("w:vMerge")
        if vmerge == "restart":
            el.set(qn("w:val"), "restart")
        # vMerge must come right after gridSpan/tcW in tcPr (schema order)
        anchor = tcpr.find(qn("w:gridSpan"))
        if anchor is None:
            anchor = tcpr.find(qn("w:tcW"))
        if anchor is not None:
            anchor.addnext(el)
        else:
            tcpr.insert(0, el)
    return cell


def table_styles(doc) -> None:
    paragraph_style(doc, "Normal", base=None, size=TABLE_SIZE, first_indent_chars=0,
                    align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    chinese_typography(doc.styles["Normal"].element.get_or_add_pPr())
    paragraph_style(doc, "Title", east_asia=XIAOBIAOSONG, size=22, line=30, align=WD_ALIGN_PARAGRAPH.CENTER,
                    first_indent_chars=0, keep_next=True)
    paragraph_style(doc, "表格年度", east_asia=KAITI, size=16, line=24, after=4, align=WD_ALIGN_PARAGRAPH.CENTER,
                    first_indent_chars=0, keep_next=True)
    # exact 13 pt lines: CJK fonts' own line height (~1.45 em) would make every row a third taller
    paragraph_style(doc, "表格文字", size=TABLE_SIZE, line=13, align=WD_ALIGN_PARAGRAPH.CENTER,
                    first_indent_chars=0)
    # left, not justified: a line ending in a line break would be stretched across the cell
    paragraph_style(doc, "表格长文字", size=TABLE_SIZE, line=13, align=WD_ALIGN_PARAGRAPH.LEFT,
                    first_indent_chars=0)
    paragraph_style(doc, "表格栏目", east_asia=HEITI, size=TABLE_SIZE, line=13, align=WD_ALIGN_PARAGRAPH.CENTER,
                    first_indent_chars=0)
    paragraph_style(doc, "表注", size=12, line=18, before=4, first_indent_chars=0)
    # between the two tables of the form: 1 pt high, so they read as one
    paragraph_style(doc, "表间", size=1, line=1, first_indent_chars=0)
    paragraph_style(doc, "Footer", east_asia=SONGTI, latin=SONGTI, size=14, first_indent_chars=0)
    paragraph_style(doc, "Header", size=9, first_indent_chars=0)


def _cell_margins(table, top_bottom_cm: float = 0.04, sides_cm: float = 0.1) -> None:
    tblpr = table._tbl.tblPr
    mar = OxmlElement("w:tblCellMar")
    for side, value in (("top", top_bottom_cm), ("left", sides_cm), ("bottom", top_bottom_cm),
                        ("right", sides_cm)):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), str(int(Cm(value).twips)))
        el.set(qn("w:type"), "dxa")
        mar.append(el)
    tblpr.append(mar)


def _row(table, height_cm: float | None = None, *, split: bool = False):
    row = table.add_row()
    if height_cm:
        row.height = Cm(height_cm)  # a minimum ("at least"): long texts grow the row
    if not split:  # a short row never breaks across two pages; a long text row may
        row._tr.get_or_add_trPr().insert(0, OxmlElement("w:cantSplit"))
    return row.cells


def build_table(path: Path) -> None:
    """The official 项目支出绩效自评表 (rules.md §1) on a landscape A4 page."""
    doc = base_document("{{ project_name }}项目支出绩效自评表")
    table_styles(doc)
    page_setup(doc, landscape=True)

    add_par(doc, "项目支出绩效自评表", "Title")
    add_par(doc, "（{{ year }}年度）", "表格年度")
    table = _grid(doc, TABLE_COLUMNS)
    label, long = "表格栏目", "表格长文字"

    c = _row(table, 0.55)
    set_cell(c[0], "项目名称", label)
    set_cell(c[1], "{{ project_name }}", span_to=c[8])
    c = _row(table, 0.55)
    set_cell(c[0], "主管部门", label)
    set_cell(c[1], "{{ supervisor }}", span_to=c[3])
    set_cell(c[4], "实施单位", label)
    set_cell(c[5], "{{ implementer }}", span_to=c[8])

    # 项目资金（万元）: a header row, 年度资金总额 and the three 其中 rows
    c = _row(table, 0.55)
    set_cell(c[0], "项目资金（万元）", label, vmerge="restart")
    set_cell(c[1], "", label, span_to=c[2])
    for cell, text in zip(c[3:], ("年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分"), strict=True):
        set_cell(cell, text, label)
    c = _row(table, 0.55)
    set_cell(c[0], "", vmerge="continue")
    set_cell(c[1], "年度资金总额", label, span_to=c[2])
    # score_cell: the rule score, or the department's and the rule's when they differ
    for cell, key in zip(c[3:], ("initial", "adjusted", "executed", "weight", "rate", "score_cell"), strict=True):
        set_cell(cell, "{{ funds_total." + key + " }}")
    c = _row(table)
    set_cell(c[0], "", vmerge="continue")
    set_cell(c[1], "{%tr for f in fund_rows %}", span_to=c[8])
    c = _row(table, 0.55)
    set_cell(c[0], "", vmerge="continue")
    set_cell(c[1], "{{ f.label }}", span_to=c[2], align=WD_ALIGN_PARAGRAPH.LEFT)
    for cell, key in zip(c[3:], ("initial", "adjusted", "executed", "weight", "rate", "score"), strict=True):
        set_cell(cell, "{{ f." + key + " }}")
    c = _row(table)
    set_cell(c[0], "", vmerge="continue")
    set_cell(c[1], "{%tr endfor %}", span_to=c[8])

    # 年度总体目标: 预期目标 | 实际完成情况
    c = _row(table, 0.55)
    set_cell(c[0], "年度总体目标", label, vmerge="restart")
    set_cell(c[1], "预期目标", label, span_to=c[4])
    set_cell(c[5], "实际完成情况", label, span_to=c[8])
    c = _row(table, 1.0, split=True)
    set_cell(c[0], "", vmerge="continue")
    set_cell(c[1], "{{ goal }}", long, span_to=c[4])
    set_cell(c[5], "{{ achievement }}", long, span_to=c[8])

    # the indicators: a table of their own, so its column header repeats on every page (tblHeader);
    # two variants, with a 分值 column per indicator or without (rules that split the 一级 weights)
    add_par(doc, "", "表间")
    loop_table(doc, "if show_weights")
    indicator_table(doc, weights=True)
    loop_table(doc, "else")
    indicator_table(doc, weights=False)
    loop_table(doc, "endif")
    # kept with the 总分 row above it: the signature line never stands alone on a page
    add_par(doc, "填报人：{{ contact_name }}　　联系电话：{{ contact_phone }}　　填报日期：{{ report_date_cn }}", "表注")
    save_reproducible(doc, path)


def loop_table(doc, tag: str) -> None:
    """A paragraph tag between tables (removed when rendered), in the tiny 表间 style."""
    add_par(doc, "{%p " + tag + " %}", "表间")


def _header_row(row) -> None:
    """Repeat a table row at the top of every page the table runs onto."""
    trpr = row._tr.get_or_add_trPr()
    trpr.append(OxmlElement("w:tblHeader"))


def _keep_with_next(cells) -> None:
    for cell in cells:
        for par in cell.paragraphs:
            par.paragraph_format.keep_with_next = True


def indicator_table(doc, *, weights: bool) -> None:
    """绩效指标 rows: 一级/二级 merged vertically by perf-toolkit's {% vm EXPR %} tag; the 总分 row."""
    widths = TABLE_COLUMNS if weights else (*TABLE_COLUMNS[:3], TABLE_COLUMNS[3] + TABLE_COLUMNS[6],
                                             *TABLE_COLUMNS[4:6], *TABLE_COLUMNS[7:])
    table = _grid(doc, widths)
    label, long = "表格栏目", "表格长文字"
    last = len(widths) - 1
    heads = ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", *(["分值"] if weights else []), "得分",
             "偏差原因分析及改进措施"]
    # the header row repeats on every page; no merge may cross it (LibreOffice then repeats nothing), so
    # 绩效指标 heads the first column and the rows under it merge among themselves
    c = _row(table, 0.55)
    _header_row(table.rows[-1])
    set_cell(c[0], "绩效指标", label)
    for cell, text in zip(c[1:], heads, strict=True):
        set_cell(cell, text, label)
    c = _row(table)
    set_cell(c[1], "{%tr for row in table_rows %}", span_to=c[last])
    c = _row(table, 0.55)
    set_cell(c[0], "{% vm loop.first %}")
    values = ["{% vm row.level1_first %}{{ row.level1_label }}", "{% vm row.level2_first %}{{ row.level2 }}",
              "{{ row.name }}", "{{ row.target }}", "{{ row.actual }}", *(["{{ row.weight }}"] if weights else []),
              "{{ row.score_cell }}", "{{ row.note }}"]
    for k, (cell, text) in enumerate(zip(c[1:], values, strict=True)):
        set_cell(cell, text, long if k in (2, len(values) - 1) else "表格文字")
    c = _row(table)
    set_cell(c[1], "{%tr endfor %}", span_to=c[last])
    c = _row(table)
    set_cell(c[1], "{%tr if not table_rows %}", span_to=c[last])
    c = _row(table, 0.55)
    set_cell(c[1], "本项目未设置绩效指标", span_to=c[last])
    c = _row(table)
    set_cell(c[1], "{%tr endif %}", span_to=c[last])

    c = _row(table, 0.55)
    if weights:
        set_cell(c[0], "总分", label, span_to=c[5])
        set_cell(c[6], "{{ total_weight }}", label)
    else:
        set_cell(c[0], "总分", label, span_to=c[5])
    set_cell(c[last - 1], "{{ total_cell }}", label)
    set_cell(c[last], "{{ grade_cell }}", label)
    _keep_with_next(table.rows[-1].cells)


def _grid(doc, widths):
    table = doc.add_table(rows=0, cols=len(widths))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    _cell_margins(table)
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Cm(width)
    return table


# ------------------------------------------------------------------ the 审核附注

NOTES_COLUMNS = (1.2, 5.2, 9.2)  # 15.6 cm: the portrait type area


def build_notes(path: Path) -> None:
    """The bureau's notes on one project's report (only written when there are any): what the report
    leaves out or cannot vouch for, and the review's findings. Not part of the department's report."""
    doc = base_document("{{ title }}审核附注")
    official_styles(doc)
    paragraph_style(doc, "副标题", east_asia=KAITI, size=16, line=28, after=12, align=WD_ALIGN_PARAGRAPH.CENTER,
                    first_indent_chars=0, keep_next=True)
    doc.styles["副标题"].paragraph_format.first_line_indent = 0
    for name, east_asia, align in (("表格文字", FANGSONG, WD_ALIGN_PARAGRAPH.CENTER),
                                   ("表格长文字", FANGSONG, WD_ALIGN_PARAGRAPH.LEFT),
                                   ("表格栏目", HEITI, WD_ALIGN_PARAGRAPH.CENTER)):
        paragraph_style(doc, name, east_asia=east_asia, size=12, line=18, align=align, first_indent_chars=0)
        doc.styles[name].paragraph_format.first_line_indent = 0
    signature_styles(doc)
    page_setup(doc)

    add_par(doc, "审核附注", "Title")
    add_par(doc, "{{ title_lines }}", "副标题")
    add_par(doc, "本附注由{{ bureau }}审核时生成，列出{{ unit }}{{ year }}年度{{ project_label }}支出绩效自评报告中"
                 "未写入或需要核实的事项，以及审核发现的问题，供单位修改和复核时参考，不属于自评报告的内容。", "Normal")
    add_par(doc, "一、报告中未写入或需核实的事项", "Heading 1")
    notes_table(doc, ("序号", "涉及部分", "说明"), "n in review_notes", ("{{ n.number }}", "{{ n.part }}", "{{ n.text }}"))
    add_par(doc, "二、审核发现的问题", "Heading 1")
    loop(doc, "if findings")
    notes_table(doc, ("级别", "位置", "说明"), "f in findings", ("{{ f.severity }}", "{{ f.where }}", "{{ f.message }}"))
    loop(doc, "else")
    add_par(doc, "未发现问题。", "Normal")
    loop(doc, "endif")
    save_reproducible(doc, path)


def notes_table(doc, heads, loop_expr: str, cells) -> None:
    """A three-column table with a repeated header row and one row per item of a loop."""
    table = _grid(doc, NOTES_COLUMNS)
    c = _row(table, 0.6)
    _header_row(table.rows[-1])
    for cell, text in zip(c, heads, strict=True):
        set_cell(cell, text, "表格栏目")
    c = _row(table)
    set_cell(c[0], "{%tr for " + loop_expr + " %}", span_to=c[2])
    c = _row(table, 0.6)
    for k, (cell, text) in enumerate(zip(c, cells, strict=True)):
        set_cell(cell, text, "表格长文字" if k == 2 else "表格文字")
    c = _row(table)
    set_cell(c[0], "{%tr endfor %}", span_to=c[2])


def main(argv: list[str]) -> int:
    """Build both templates into workbook_templates/ (or the folder given)."""
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "workbook_templates"
    out.mkdir(parents=True, exist_ok=True)
    build_report(out / REPORT_NAME)
    build_table(out / TABLE_NAME)
    build_notes(out / NOTES_NAME)
    print(f"已生成：{out / REPORT_NAME}\n已生成：{out / TABLE_NAME}\n已生成：{out / NOTES_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
