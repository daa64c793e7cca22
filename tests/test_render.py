"""Word reports: rendered from real submissions, opened back with python-docx and read."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from builders import ROOT, example_dict, funds, indicator, sourced, standard_indicators, submission
from click.testing import CliRunner
from docx import Document
from docx.shared import Cm, Pt
from lxml import etree

from perf_toolkit.check.evaluate import evaluate_paths, evaluate_submissions
from perf_toolkit.cli import cli
from perf_toolkit.config import DEFAULT, load_config
from perf_toolkit.model import submission_from_dict
from perf_toolkit.numbers import round2
from perf_toolkit.profile import load_profile
from perf_toolkit.report import render
from perf_toolkit.report.context import CONTEXT_KEYS, chinese_date, clean_text, money, percent, typed_value
from perf_toolkit.workbook.template import write_template

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
HOSTILE = 'A&B <b>粗</b> </w:t><w:t>注入 {{ title }} {% if x %} \x07响\x0c铃 \ud800孤 \u202e反 ﹝2019﹞'
HOSTILE_SHOWN = "A&B <b>粗</b> </w:t><w:t>注入 {{ title }} {% if x %} 响铃 孤 反 〔2019〕"


def evaluate(*datas):
    """Each submission as its own department (one department twice would be a resubmission)."""
    datas = [copy.deepcopy(d) for d in datas]
    for k, d in enumerate(datas[1:], start=1):
        d["department"]["code"] += f"-{k}"
    return evaluate_submissions([sourced(d, file=f"单位{k}.xlsx") for k, d in enumerate(datas)])


def context_of(evaluation, p: int = 0, *args):
    """The report context of the evaluation's p-th scored project."""
    return render.build_context(evaluation.projects[p], evaluation.profile, *args)


def rendered(tmp_path: Path, *datas, **kw) -> list[render.RenderedProject]:
    return render.render_reports(evaluate(*datas), tmp_path / "out", **kw)


def texts(path: Path) -> list[str]:
    return [p.text for p in Document(path).paragraphs if p.text.strip()]


def section(paragraphs: list[str], start: str, end: str | None) -> list[str]:
    """The paragraphs after the heading `start` and before the heading `end`."""
    i = paragraphs.index(start)
    j = paragraphs.index(end) if end else len(paragraphs)
    return paragraphs[i + 1:j]


def all_texts(path: Path) -> list[str]:
    """Every non-empty paragraph of a document, in its body and in its tables' cells."""
    doc = Document(path)
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return [p.text for p in doc.paragraphs if p.text.strip()] + [c for c in dict.fromkeys(cells) if c.strip()]


def table_grid(path: Path) -> list[list[tuple[str, str | None, int]]]:
    """Each row of the 自评表 (its two tables, one after the other) as (text, vMerge value, gridSpan) per
    physical cell, from the XML."""
    rows = []
    for tr in (tr for t in Document(path).tables for tr in t._tbl.iter(f"{W}tr")):
        row = []
        for tc in tr.iter(f"{W}tc"):
            vm = tc.find(f"{W}tcPr/{W}vMerge")
            span = tc.find(f"{W}tcPr/{W}gridSpan")
            text = "".join(t.text or "" for t in tc.iter(f"{W}t"))
            row.append((text, None if vm is None else vm.get(f"{W}val", "continue"),
                        1 if span is None else int(span.get(f"{W}val"))))
        rows.append(row)
    return rows


def mixed_submission() -> dict:
    """Unmet, overachieved, unparseable, qualitative in and out of the bands, no 满意度 indicator."""
    inds = [
        indicator("培训人次", target="≥500", unit="人次", actual="420", weight=20, note="受天气影响部分培训延期。"),
        indicator("覆盖乡镇数", target="10", unit="个", actual="15", weight=10),
        indicator("验收合格率", level2="质量指标", target="≥95%", unit="%", actual="约九成", weight=10),
        indicator("完成时限", level2="时效指标", target="2023年12月", actual="2023年11月", weight=10),
        indicator("群众知晓度", level1="效益指标", level2="社会效益指标", direction="定性", target="明显提高",
                  actual="部分提高", weight=20, claimed=13),
        indicator("生态改善", level1="效益指标", level2="生态效益指标", direction="定性", target="有所改善",
                  actual="还行吧", weight=20),
    ]
    return submission(indicators=inds, fund_rows=funds(100, 120, 50.5), budget_note="年中追加预算20万元。")


# ------------------------------------------------------------------ formats and context


def test_formats_round_half_up_and_read_as_printed():
    assert money(2.945) == "2.95" and money(0) == "0.00" and money(None) == "—"
    assert percent(0.0652) == "6.52%" and percent(1) == "100.00%" and percent(float("nan")) == "—"
    assert percent(0.123449) == "12.34%" and percent(0.123450) == "12.35%"
    assert chinese_date("2024-05-08") == "2024年5月8日" and chinese_date("2024年5月") == "2024年5月"
    assert typed_value(100, "%") == "100%" and typed_value("≥90%", "%") == "≥90%" and typed_value(45.0) == "45"
    assert typed_value("按规定补缴到位", "") == "按规定补缴到位"


def test_clean_text_removes_what_xml_forbids_and_keeps_lines():
    assert clean_text("a\x00b\x07c\x0bd\ud800e\u202ef\ufffe") == "abcdef"
    assert clean_text("一\r\n二\t三") == "一\n二\t三"
    assert clean_text("（厅字﹝2019﹞3号）") == "（厅字〔2019〕3号）"


def test_build_context_keys_are_the_documented_ones():
    ctx = context_of(evaluate(example_dict()), 0)
    assert set(ctx) == CONTEXT_KEYS
    doc = (ROOT / "docs" / "report-context.md").read_text(encoding="utf-8")
    undocumented = [k for k in CONTEXT_KEYS if f"`{k}`" not in doc]
    assert undocumented == []


def test_build_context_example_states_scores_the_reference_leaves_out():
    ctx = context_of(evaluate(example_dict()), 0, load_config(ROOT / "examples" / "perf.toml"))
    assert ctx["title"] == "昆明市东川区退役军人事务局退役士兵社会保险配套经费项目支出绩效自评报告"
    assert (ctx["execution_rate"], ctx["execution_score"], ctx["total_score"], ctx["grade"]) == \
        ("100.00%", "10.00", "100.00", "优")
    assert ctx["notice"] == "《昆明市东川区财政局关于开展东川区2023年度部门预算绩效自评工作的通知》（东财绩〔2024〕34号）"
    assert (ctx["evaluation_window"], ctx["evaluation_unit"]) == ("于2024年4月28日至2024年5月8日", "拥军优抚科")
    assert ctx["title_lines"] == "昆明市东川区退役军人事务局退役士兵\n社会保险配套经费项目支出绩效自评报告"
    assert ctx["conclusion"] == (
        "综合预算执行和绩效指标完成情况，本项目预算执行率100.00%，预算执行得分10.00分（分值10分）；"
        "绩效指标得分90.00分（分值90分），其中产出指标50.00分、效益指标30.00分、满意度指标10.00分；"
        "自评总分100.00分，自评等级为“优”。")
    assert ctx["budget_paragraphs"][1] == ("年度执行中预算调减42.14万元，全年预算数为2.94万元，其中：当年财政拨款"
                                           "2.94万元，上年结转资金0.00万元，其他资金0.00万元。")
    assert ctx["budget_paragraphs"][2] == "全年执行数2.94万元，占年初预算数的6.52%。"  # 2.94 of 45.08
    # what the bureau says about it is in the review notes, not in the department's report
    assert not [t for t in ctx["budget_paragraphs"] if "单位未" in t]
    assert ("一（一）预算资金安排情况", "全年预算数与年初预算数相差超过20%，单位未说明预算调整的原因和依据。") in \
        [(n["part"], n["text"]) for n in ctx["review_notes"]]
    assert (ctx["claimed_total"], ctx["total_cell"], ctx["grade_cell"]) == ("100.00", "100.00", "自评等级：优")
    assert [g["paragraphs"][0][:4] for g in ctx["indicator_groups"]] == ["数量指标", "社会效益", "服务对象"]
    assert ctx["indicator_groups"][0]["paragraphs"][1].startswith("质量指标：设置2个三级指标，①“经费足额拨付率”")


def test_report_without_config_of_another_district_and_year_borrows_nothing(tmp_path):
    moved = json.dumps(example_dict(), ensure_ascii=False)  # the example's own text, moved to another city
    data = json.loads(moved.replace("东川区", "南明区").replace("昆明市", "贵阳市").replace("东财", "南财"))
    data["year"] = 2022
    data["department"].update(code="520102001", name="贵阳市南明区第一中学", supervisor="贵阳市南明区教育局")
    data["projects"][0].update(name="校园安全改造", implementer="贵阳市南明区第一中学")
    data["projects"][0]["result_use"] = data["projects"][0]["disclosure"] = ""
    [r] = render.render_reports(evaluate(data), tmp_path / "out")
    text = "\n".join(texts(r.report)) + "\n".join(
        c.text for t in Document(r.table).tables for row in t.rows for c in row.cells)
    assert "东川" not in text and "昆明" not in text and "34号" not in text
    assert "2022年度" in text and "2023年度" not in text
    assert "根据《【待填写：通知标题】》（【待填写：通知文号】）要求" in text
    assert "【待填写：财政局名称】对贵阳市南明区第一中学2022年度" in text
    assert "【待填写：公开网站】" in text


def test_cli_without_config_warns_once_which_facts_are_placeholders(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(ROOT / "workbook_templates" / "示例-退役军人事务局.json"),
                                      "-o", str(tmp_path)])
    assert result.exit_code == 0
    assert result.stderr.count("【待填写") == 1 and "通知文号" in result.stderr


def test_build_context_uses_the_campaign_notice_and_portal(tmp_path):
    from dataclasses import replace

    campaign = replace(DEFAULT, notice_title="《某区财政局关于开展绩效自评的通知》", notice_number="某财绩〔2025〕1号",
                       portal="某区政府网站", bureau="某区财政局")
    data = example_dict()
    data["projects"][0]["disclosure"] = ""
    [r] = render.render_reports(evaluate(data), tmp_path, campaign=campaign)
    paras = texts(r.report)
    assert paras[1].startswith("根据《某区财政局关于开展绩效自评的通知》（某财绩〔2025〕1号）要求")
    # the department wrote nothing: the template's wording, and the 审核附注 says so
    assert section(paras, "（二）绩效自评结果公开情况", "五、其他需要说明的问题") == [
        "2023年度项目支出绩效自评报告将按照某区财政局的时间要求在某区政府网站公开，接受社会监督。"]
    assert any("单位未填写绩效自评结果公开情况" in t for t in all_texts(r.notes))


def test_build_context_unreadable_and_empty_amounts_are_said():
    data = submission(fund_rows=[{"source": "当年财政拨款", "initial_budget": "见附件", "adjusted_budget": 10,
                                  "executed": None}])
    ctx = context_of(evaluate(data), 0)
    first = ctx["fund_rows"][0]
    assert (first["initial"], first["adjusted"], first["executed"], first["rate"]) == ("无法识别", "10.00", "—", "—")
    assert [f["initial"] for f in ctx["fund_rows"][1:]] == ["0.00", "0.00"]  # sources not in the submission
    # the department's report leaves out what cannot be read or was not filled in; the notes say so
    assert "其中：上年结转资金0.00万元，其他资金0.00万元。" in ctx["budget_paragraphs"][0]
    assert "当年财政拨款" not in ctx["funds_paragraphs"][1]
    assert "当年财政拨款的年初预算数无法识别，报告中未写该项金额。" in [n["text"] for n in ctx["review_notes"]]


# ------------------------------------------------------------------ the report document


def test_report_example_has_every_section_in_order(tmp_path):
    [r] = rendered(tmp_path, example_dict())
    assert r.report.name == "昆明市东川区退役军人事务局-退役士兵社会保险配套经费-绩效自评报告.docx"
    doc = Document(r.report)
    paras = texts(r.report)
    assert doc.paragraphs[0].style.name == "Title" and paras[0].endswith("项目支出绩效自评报告")
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings == [
        "一、绩效目标分解下达情况", "（一）预算资金安排情况", "（二）绩效目标下达情况", "1.部门职责",
        "2.2023年度绩效目标", "3.项目支出绩效指标", "二、绩效目标完成情况分析", "（一）资金投入情况分析",
        "（二）总体绩效目标完成情况分析", "（三）绩效指标完成情况分析", "（四）自评结论",
        "三、偏离绩效目标的原因和下一步改进措施", "（一）偏离绩效目标原因分析", "（二）下一步改进措施",
        "四、绩效自评结果拟应用和公开情况", "（一）绩效自评结果拟应用", "（二）绩效自评结果公开情况",
        "五、其他需要说明的问题"]
    duties = section(paras, "1.部门职责", "2.2023年度绩效目标")
    assert duties[0] == "昆明市东川区退役军人事务局的主要职责是："
    assert [d[:3] for d in duties[1:]] == ["（1）", "（2）", "（3）", "（4）"]
    analysis = section(paras, "（三）绩效指标完成情况分析", "（四）自评结论")
    assert analysis[0].startswith("本项目共设置6个三级指标，均已完成。指标得分合计90.00分")
    assert [a[:2] for a in analysis[1:]] == ["1.", "2.", "3.", "4.", "5.", "6."]
    assert "全年实际完成情况为已补缴到位，达成年度指标，得30.00分（分值30分）" in analysis[5]
    funds_text = "".join(section(paras, "（一）资金投入情况分析", "（二）总体绩效目标完成情况分析"))
    assert "全年执行数2.94万元" in funds_text and "预算执行率为100.00%" in funds_text
    assert section(paras, "五、其他需要说明的问题", None) == ["无。", "昆明市东川区退役军人事务局", "2024年5月8日"]
    assert doc.paragraphs[-1].style.name == "落款日期" and doc.paragraphs[-2].style.name == "落款"


def test_report_official_format_page_fonts_spacing_and_page_number(tmp_path):
    [r] = rendered(tmp_path, example_dict())
    doc = Document(r.report)
    sec = doc.sections[0]
    assert abs(sec.page_width - Cm(21)) < Cm(0.01) and abs(sec.page_height - Cm(29.7)) < Cm(0.01)
    margins = [sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin]
    assert all(abs(m - Cm(v)) < Cm(0.01) for m, v in zip(margins, (3.7, 3.5, 2.8, 2.6), strict=True))
    normal = doc.styles["Normal"]
    assert normal.font.size == Pt(16) and normal.paragraph_format.line_spacing == Pt(28)
    assert normal.paragraph_format.first_line_indent == Pt(32)
    expected = {"Normal": "仿宋_GB2312", "Title": "方正小标宋简体", "Heading 1": "黑体", "Heading 2": "楷体_GB2312",
                "Heading 3": "仿宋_GB2312"}
    for name, font in expected.items():
        fonts = doc.styles[name].element.rPr.find(f"{W}rFonts")
        assert fonts.get(f"{W}eastAsia") == font and fonts.get(f"{W}ascii") == "Times New Roman", name
    assert doc.styles["Title"].font.size == Pt(22) and doc.styles["Heading 3"].font.bold
    with zipfile.ZipFile(r.report) as z:
        styles = z.read("word/styles.xml").decode()
        body = etree.fromstring(z.read("word/document.xml"))
        footer = z.read("word/footer1.xml").decode()
    assert "Theme=" not in styles.replace("w:cstheme", "")  # theme fonts would override the named ones
    runs = [r for r in body.iter(f"{W}r") if r.find(f"{W}t") is not None]
    assert runs and all(r.find(f"{W}rPr/{W}rFonts").get(f"{W}eastAsia") for r in runs)
    assert "PAGE" in footer and "- " in footer and " -" in footer and 'w:eastAsia="宋体"' in footer
    assert 'w:val="28"' in footer  # 四号 = 14 pt


def test_report_hostile_text_renders_literally_and_opens(tmp_path):
    data = example_dict()
    project = data["projects"][0]
    project["name"] = "项目<甲>&乙"
    project["goal"] = HOSTILE
    project["indicators"][0]["name"] = HOSTILE
    data["department"]["duties"] = [HOSTILE]
    [r] = rendered(tmp_path, data)
    paras = texts(r.report)
    goal = section(paras, "2.2023年度绩效目标", "3.项目支出绩效指标")
    assert goal == [HOSTILE_SHOWN]
    assert any(p == "（1）" + HOSTILE_SHOWN + "。" for p in paras)
    assert paras[0].replace("\n", "") == "昆明市东川区退役军人事务局项目<甲>&乙项目支出绩效自评报告"
    cells = [c for row in table_grid(r.table) for c, _, _ in row]
    assert HOSTILE_SHOWN in cells and "项目<甲>&乙" in cells
    for path in (r.report, r.table):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.endswith(".xml"):
                    etree.fromstring(z.read(name))  # every part is well-formed XML
    with zipfile.ZipFile(r.report) as z:
        assert b"<w:pgSz" in z.read("word/document.xml")  # the page set-up survived


def test_report_unmet_qualitative_and_unparseable_are_said_not_hidden(tmp_path):
    [r] = rendered(tmp_path, mixed_submission())
    paras = texts(r.report)
    analysis = section(paras, "（三）绩效指标完成情况分析", "（四）自评结论")
    assert analysis[0].startswith("本项目共设置6个三级指标，其中已完成2个，部分达成1个，未完成1个，"
                                  "其余2个的完成情况见下。")
    by_name = {re.search(r"“(.+?)”", a)[1]: a for a in analysis[1:]}
    assert "未完成（完成率84.00%），得16.80分（分值20分）。偏差原因及改进措施：受天气影响部分培训延期。" \
        in by_name["培训人次"]
    assert "超额完成（完成率150.00%）" in by_name["覆盖乡镇数"] and "指标值可能设定偏低" not in by_name["覆盖乡镇数"]
    assert by_name["验收合格率"].startswith("3.三级指标") and "全年实际完成值为约九成，得" in by_name["验收合格率"]
    assert by_name["群众知晓度"].endswith("部分达成年度指标并具有一定效果，得13.00分（分值20分）。")
    # the report never speaks as the reviewer: the 审核附注 says what cannot be verified or is missing;
    # a figure that rests on a claimed score nobody verified carries only its visible mark
    assert not [t for t in paras if REVIEW_WORDS.search(t.replace("（待核实", "（"))]
    assert "得0.00分（待核实，分值10分）" in by_name["验收合格率"]
    notes = "\n".join(all_texts(r.notes))
    assert "指标“验收合格率”：实际完成值“约九成”无法识别为数值" in notes
    assert "指标“生态改善”：实际完成情况“" in notes and "无法对应评分档次，未填自评得分，暂按0分计（分值20分），待核实" in notes
    assert "指标“群众知晓度”未完全达到年度指标值，单位未说明偏差原因。" in notes
    assert "指标“覆盖乡镇数”实际完成值达到指标值的130%以上，指标值可能设定偏低，单位未作说明。" in notes
    groups = section(paras, "3.项目支出绩效指标", "二、绩效目标完成情况分析")
    assert "（3）满意度指标。本项目未设置满意度指标。" in groups
    deviation = section(paras, "（一）偏离绩效目标原因分析", "（二）下一步改进措施")
    # the example's "未偏离绩效目标" against unmet indicators and a low rate: the facts; the notes flag it
    assert deviation[1] == "未完全达到年度指标值的指标有2个："
    assert "单位称“未偏离”，但本项目有2个指标未完全达到年度指标值" in notes
    assert deviation[-1] == "预算执行率为42.08%，低于90%。原因：年中追加预算20万元。"


def test_report_without_indicators_says_so_once(tmp_path):
    data = submission(indicators=[], fund_rows=funds(0, 0, 0))
    for key in ("evaluation_start", "evaluation_end", "report_date", "evaluation_unit"):
        data["department"][key] = ""
    [r] = rendered(tmp_path, data)
    paras = texts(r.report)
    assert section(paras, "3.项目支出绩效指标", "二、绩效目标完成情况分析") == ["本项目未设置绩效指标。"]
    assert "全年预算数为0，预算执行得分" in "".join(paras)
    assert "昆明市东川区退役军人事务局组织开展2023年度" in paras[1]
    assert paras[-1] == "　　年　月　日"  # a blank date to fill by hand
    assert ["本项目未设置绩效指标"] in [[c for c, _, _ in row if c][-1:] for row in table_grid(r.table)]


def test_report_long_and_multiline_texts_become_paragraphs(tmp_path):
    data = example_dict()
    data["projects"][0]["goal"] = "第一段。\n\n第二段。\n" + "很长的说明" * 400
    [r] = rendered(tmp_path, data)
    goal = section(texts(r.report), "2.2023年度绩效目标", "3.项目支出绩效指标")
    assert goal == ["第一段。", "第二段。", "很长的说明" * 400]


# ------------------------------------------------------------------ the 自评表


def test_table_layout_merges_and_numbers_equal_the_scores(tmp_path):
    data = mixed_submission()
    evaluation = evaluate(data)
    [r] = render.render_reports(evaluation, tmp_path / "out")
    doc = Document(r.table)
    sec = doc.sections[0]
    assert sec.page_width > sec.page_height and abs(sec.page_width - Cm(29.7)) < Cm(0.01)
    grid = table_grid(r.table)
    assert [c[0] for c in grid[0]] == ["项目名称", "退役士兵社会保险配套经费"] and grid[0][1][2] == 8
    budget = grid[2:7]
    assert [c[0] for c in budget[0]] == ["项目资金（万元）", "", "年初预算数", "全年预算数", "全年执行数", "分值",
                                         "执行率", "得分"]
    proj = evaluation.projects[0]
    assert [c[0] for c in budget[1]] == ["", "年度资金总额", "100.00", "120.00", "50.50", "10",
                                         f"{round2(proj.execution_rate * 100):.2f}%",
                                         f"{round2(proj.execution_score):.2f}"]
    assert [c[0] for c in budget[2]][-3:] == ["—", "42.08%", "—"] and budget[2][1][0] == "其中：当年财政拨款"
    assert [row[0][1] for row in budget] == ["restart", "continue", "continue", "continue", "continue"]
    header = next(i for i, row in enumerate(grid) if row[1][0] == "一级指标")
    # the header row repeats on every page: no merge crosses it; the rows under it merge among themselves
    assert grid[header][0] == ("绩效指标", None, 1)
    rows = grid[header + 1:-1]
    # the form prints the scores by the rules; an indicator nobody could verify keeps its claimed score,
    # marked 待核实 (the 审核附注 says why)
    assert [row[7][0] for row in rows] == [f"{round2(i.score):.2f}" + ("" if i.verifiable else "（待核实）")
                                           for i in proj.indicators]
    assert not all(i.verifiable for i in proj.indicators)
    assert [row[0][1] for row in rows] == ["restart"] + ["continue"] * 5
    assert [(row[1][0], row[1][1]) for row in rows] == [
        ("产出指标(50分)", "restart"), ("", "continue"), ("", "continue"), ("", "continue"),
        ("效益指标(40分)", "restart"), ("", "continue")]
    assert [(row[2][0], row[2][1]) for row in rows] == [
        ("数量指标", "restart"), ("", "continue"), ("质量指标", "restart"), ("时效指标", "restart"),
        ("社会效益指标", "restart"), ("生态效益指标", "restart")]
    assert rows[2][8][0] == ""  # the department's column: only what the department wrote
    total = grid[-1]
    assert total[0] == ("总分", None, 6)
    assert proj.provisional
    assert [c[0] for c in total[1:]] == ["100", f"{proj.total_score:.2f}（待核实）", f"自评等级：{proj.grade}（待核实）"]


def test_table_example_values_and_grade(tmp_path):
    [r] = rendered(tmp_path, example_dict())
    grid = table_grid(r.table)
    cells = [c[0] for row in grid for c in row]
    assert "（2023年度）" in texts(r.table)[1]
    assert {"退役士兵社会保险配套经费", "45.08", "2.94", "100.00%", "满意度指标(10分)", "服务对象满意度指标",
            "自评等级：优"} <= set(cells)
    assert [c[0] for c in grid[-1]] == ["总分", "100", "100.00", "自评等级：优"]


def test_report_example_surfaces_the_reference_reports_own_mistakes():
    """The cut 45.08 → 2.94 against "未偏离绩效目标", and 医疗保险 achieved against 养老保险 targets."""
    ctx = context_of(evaluate(example_dict()), 0)
    notes = [(n["part"], n["text"]) for n in ctx["review_notes"]]
    assert ("二（二）总体绩效目标完成情况分析",
            "完成情况写的是“医疗保险”，项目名称、年度目标和绩效指标写的是“养老保险”，二者不一致。") in notes
    assert ("三（一）偏离绩效目标原因分析", "单位称“未偏离”，但本项目全年预算数由年初的45.08万元调减为2.94万元，"
            "调减93.48%，二者不符。") in notes
    assert ctx["deviation_paragraphs"][1:] == ["全年预算数由年初的45.08万元调减为2.94万元，调减93.48%，超过20%。"]


def test_report_budget_cut_is_a_deviation_even_when_the_department_says_nothing():
    data = submission(fund_rows=funds(100, 60, 60), budget_note="政策调整，收回部分预算。", deviation_reason="",
                      achievement="全年任务全部完成。")
    ctx = context_of(evaluate(data), 0)
    assert ctx["deviation_paragraphs"] == [
        "全年预算数由年初的100.00万元调减为60.00万元，调减40.00%，超过20%。原因：政策调整，收回部分预算。"]
    notes = [n["text"] for n in ctx["review_notes"]]
    assert "单位未填写偏离绩效目标的原因分析，报告中只列出偏离的情况。" in notes
    assert ("完成情况称“全部完成”，但本项目全年预算数由年初的100.00万元调减为60.00万元，调减40.00%，二者不符。"
            in notes)
    clean = context_of(evaluate(submission(deviation_reason="")), 0)
    assert clean["deviation_paragraphs"] == ["本项目预算执行和各项绩效指标均达到年度目标，未偏离绩效目标。"]


def test_build_context_no_initial_budget_sentence_without_an_adjustment():
    ctx = context_of(evaluate(submission(fund_rows=funds(100, 100, 80), budget_note="结余收回。")), 0)
    assert not [t for t in ctx["budget_paragraphs"] if "占年初预算数" in t]
    raised = context_of(evaluate(submission(fund_rows=funds(100, 120, 110), budget_note="追加。")), 0)
    assert "全年执行数110.00万元，占年初预算数的110.00%。" in raised["budget_paragraphs"]


def claimed_everywhere(first_actual: str) -> dict:
    """Every indicator claims its full weight; the first (20 points, target 100) has `first_actual`."""
    inds = [dict(i, claimed_score=i["weight"]) for i in submission()["projects"][0]["indicators"]]
    inds[0].update(actual=first_actual, deviation_note="部分对象未按期完成。")
    return submission(inds)


def test_report_and_table_print_rule_scores_and_the_notes_both_where_they_differ(tmp_path):
    """The department claims 20 for an indicator the rules score 16: the documents print the rule's 16
    marked 核定, the 审核附注 both (a score is never changed silently)."""
    [r] = rendered(tmp_path, claimed_everywhere("80"))
    paragraphs = texts(r.report)
    analysis = next(t for t in paragraphs if t.startswith("1.三级指标“数量”"))
    assert "未完成（完成率80.00%），得16.00分（核定，分值20分）。" in analysis
    assert any(t.startswith("2.三级指标“质量”") and "已完成，得10.00分（分值10分）" in t for t in paragraphs)
    conclusion = next(t for t in paragraphs if t.startswith("综合预算执行和绩效指标完成情况"))
    assert conclusion.endswith("；总分96.00分，等级为“优”（核定）。")  # not the department's own total
    grid = table_grid(r.table)
    header = next(i for i, row in enumerate(grid) if row[1][0] == "一级指标")
    scores = [row[7][0] for row in grid[header + 1:-1]]
    assert scores == ["16.00（核定）", "10.00", "10.00", "10.00", "30.00", "10.00"]
    assert [c[0] for c in grid[-1]] == ["总分", "100", "96.00（核定）", "等级：优（核定）"]
    notes = all_texts(r.notes)
    assert "指标“数量”：单位自评20.00分，按规则核定16.00分，报告中写核定得分。" in notes
    assert ("单位自评总分100.00分（自评等级“优”），按规则核定总分96.00分，核定等级“优”，报告和自评表中写核定的总分和等级。"
            in notes)


def test_table_grade_cell_is_the_rule_grade_and_the_notes_give_both(tmp_path):
    [r] = rendered(tmp_path, claimed_everywhere("30"))  # the rules: 6 of 20, total 86 (良); claimed 100 (优)
    assert [c[0] for c in table_grid(r.table)[-1]] == ["总分", "100", "86.00（核定）", "等级：良（核定）"]
    assert any("（自评等级“优”），按规则核定总分86.00分，核定等级“良”" in t for t in all_texts(r.notes))


def test_table_budget_score_typed_over_its_formula_shows_both(tmp_path):
    """A 预算执行得分 rounded to 9 by hand (86.2 %): the form's row and 二（一） state 9 and 8.62."""
    path = write_template(tmp_path / "单位.xlsx", submission_from_dict(
        submission(fund_rows=funds(100, 100, 86.2), budget_note="结余收回。")))
    wb = openpyxl.load_workbook(path)
    wb["项目1"]["J9"] = 9
    wb.save(path)
    evaluation = evaluate_paths([path])
    assert evaluation.projects[0].claimed_execution_score == 9
    [r] = render.render_reports(evaluation, tmp_path / "out")
    assert table_grid(r.table)[3][-1][0] == "8.62（核定）"
    assert any("预算执行得分8.62分（分值10分）" in t for t in texts(r.report))
    assert any("单位自评预算执行得分9.00分，按规则核定8.62分" in t for t in all_texts(r.notes))


# ------------------------------------------------------------------ batch, names, templates


def test_render_writes_two_documents_per_project_atomically(tmp_path):
    second = example_dict()
    second["projects"].append(dict(second["projects"][0], code="530113-2023-002", name="退役士兵/社保:补贴?"))
    results = rendered(tmp_path, example_dict(), second)
    out = tmp_path / "out"
    assert len(results) == 3
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")]
    # the example's own mistakes give each project a 审核附注 beside its report and form
    assert len(names) == 9 and "昆明市东川区退役军人事务局-退役士兵_社保_补贴_-自评表.docx" in names
    # the same project twice (two files): the second is told apart by its code
    assert results[1].report.name == ("昆明市东川区退役军人事务局-退役士兵社会保险配套经费-530113-2023-001"
                                      "-绩效自评报告.docx")


@pytest.mark.parametrize("given, expected", [
    ('a\\b/c:d*e?f"g<h>i|j', "a_b_c_d_e_f_g_h_i_j"),
    ("  名称. . ", "名称"),
    ("CON", "_CON"), ("nul.txt", "_nul.txt"), ("com1", "_com1"),
    ("\u202e反转\x00控制\n换行", "反转控制 换行"),
    ("", "未命名"), ("...", "未命名"),
])
def test_safe_name_is_safe_on_windows_and_in_zips(given, expected):
    assert render.safe_name(given) == expected


def test_safe_name_caps_bytes_and_output_names_stay_unique():
    long = render.safe_name("很" * 300)
    assert len(long.encode("utf-8")) <= render.MAX_NAME_BYTES and long == "很" * (render.MAX_NAME_BYTES // 3)
    names = render.output_names([("单位", "项目", "A1"), ("单位", "项目", "A1"), ("单位", "项目", ""),
                                 ("单位", "PROJ", ""), ("单位", "proj", "")])
    assert names == ["单位-项目", "单位-项目-A1", "单位-项目-2", "单位-PROJ", "单位-proj-2"]
    full = render.output_names([("单" * 100, "项" * 100, "X")])[0] + "-绩效自评报告.docx"
    assert len(full.encode("utf-8")) + len(".x.0123456789ab.tmp") < 255


def test_templates_are_prepared_once_and_render_the_same_bytes():
    path = render.template_path(render.REPORT_TEMPLATE)
    first = render.load_template(path)
    assert render.load_template(path) is first
    ctx = context_of(evaluate(example_dict()), 0)
    assert first.render(ctx) == first.render(ctx)


def test_builtin_templates_use_only_context_variables():
    for name in (render.REPORT_TEMPLATE, render.TABLE_TEMPLATE):
        tpl = render.load_template(render.template_path(name))
        assert tpl.variables and tpl.variables <= CONTEXT_KEYS
        render.check_template(tpl)


def test_shipped_templates_are_what_the_generator_builds(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "tools" / "build_docx_templates.py"), str(tmp_path)], check=True,
                   capture_output=True)
    for name in (render.REPORT_TEMPLATE, render.TABLE_TEMPLATE):
        assert (tmp_path / name).read_bytes() == render.template_path(name).read_bytes(), name


def custom_template(path: Path, *lines: str) -> Path:
    doc = Document()
    for line in lines:
        doc.add_paragraph(line)
    doc.save(path)
    return path


def test_custom_template_with_unknown_variable_fails_naming_it_and_writes_nothing(tmp_path):
    bad = custom_template(tmp_path / "我的模板.docx", "{{ title }}", "{{ projct_name }}",
                          "{%p for i in indicators %}", "{{ i.name }}{{ foo }}", "{%p endfor %}")
    result = CliRunner().invoke(cli, ["report", str(ROOT / "workbook_templates" / "示例-退役军人事务局.json"),
                                      "-o", str(tmp_path / "out"), "--template", str(bad)])
    assert result.exit_code == 2
    assert "模板 我的模板.docx 中有无法识别的变量：{{ foo }}、{{ projct_name }}" in result.output
    assert not (tmp_path / "out").exists()


def test_custom_template_attribute_typo_fails_before_any_file(tmp_path):
    bad = custom_template(tmp_path / "t.docx", "{%p for i in indicators %}", "{{ i.nmae }}", "{%p endfor %}")
    with pytest.raises(render.ReportTemplateError, match="渲染失败"):
        render.render_reports(evaluate(example_dict(), mixed_submission()), tmp_path / "out", report_template=bad)
    assert not (tmp_path / "out").exists()


def test_custom_template_that_is_not_a_docx_is_refused(tmp_path):
    fake = tmp_path / "fake.docx"
    fake.write_text("not a zip", encoding="utf-8")
    with pytest.raises(render.ReportTemplateError, match="不是有效的 Word 文档"):
        render.load_template(fake)


def test_custom_template_renders_context_values(tmp_path):
    good = custom_template(tmp_path / "简表.docx", "{{ unit }}：{{ project_name }}", "总分{{ total_score }}，{{ grade }}",
                           "{%p for i in indicators %}", "{{ i.number }}.{{ i.name }} {{ i.status }}", "{%p endfor %}")
    [r] = rendered(tmp_path, example_dict(), report_template=good)
    paras = texts(r.report)
    assert paras[:2] == ["昆明市东川区退役军人事务局：退役士兵社会保险配套经费", "总分100.00，优"]
    assert paras[2] == "1.享受基本养老保险补缴的退役士兵人数的应补尽补率 已完成" and len(paras) == 8


def test_cli_report_writes_reports_and_lists_them(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(ROOT / "workbook_templates" / "示例-退役军人事务局.json"),
                                      "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        f"已为 1 个项目生成绩效自评报告和自评表（Word 文件），保存在 {tmp_path}：",
        "  昆明市东川区退役军人事务局-退役士兵社会保险配套经费（总分 100.00，等级 优）"]
    assert sorted(p.name.rsplit("-", 1)[-1] for p in tmp_path.iterdir()) == ["审核附注.docx", "绩效自评报告.docx",
                                                                          "自评表.docx"]


def test_cli_report_pdf_without_soffice_fails_before_writing(tmp_path, monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    monkeypatch.setattr(render, "_SOFFICE_PLACES", ())
    result = CliRunner().invoke(cli, ["report", str(ROOT / "workbook_templates" / "示例-退役军人事务局.json"),
                                      "-o", str(tmp_path / "out"), "--pdf"])
    assert result.exit_code == 2
    assert "未找到 LibreOffice（soffice），无法生成 PDF" in result.output and "make install-pdf" in result.output
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ PDF (LibreOffice)


def test_pdf_conversion_of_a_batch_has_pages_and_the_title(tmp_path, soffice, poppler):
    results = rendered(tmp_path, example_dict(), mixed_submission(), pdf=True)
    for r in results:
        assert r.report_pdf.is_file() and r.table_pdf.is_file()
        info = subprocess.run(["pdfinfo", str(r.report_pdf)], capture_output=True, text=True).stdout
        pages = int(re.search(r"Pages:\s+(\d+)", info)[1])
        assert 4 <= pages <= 12
        report_text = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(r.report_pdf), "-"],
                                                        capture_output=True, text=True).stdout)
        assert r.department + r.project in report_text and "项目支出绩效自评报告" in report_text
        assert "自评等级为“" in report_text and "-1-" in report_text
        table_text = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(r.table_pdf), "-"],
                                                       capture_output=True, text=True).stdout)
        assert "项目支出绩效自评表" in table_text and f"自评等级：{r.grade}" in table_text
    example_table = subprocess.run(["pdfinfo", str(results[0].table_pdf)], capture_output=True, text=True).stdout
    assert re.search(r"Pages:\s+1\b", example_table)  # the example's 自评表 fits one landscape page
    fonts = subprocess.run(["pdffonts", str(results[0].report_pdf)], capture_output=True, text=True).stdout
    assert "CJK" in fonts  # drawn with a CJK font, not a Latin fallback


# ------------------------------------------------------------------ findings of a project


def findings_template(path: Path) -> Path:
    return custom_template(path, "{{ project_name }}", "{%p if has_errors %}", "有错误", "{%p endif %}",
                           "{%p for f in findings %}", "问题：{{ f.code }}", "{%p endfor %}")


def two_projects(code_a: str, code_b: str) -> dict:
    """A clean first project and a second whose first indicator is missed and not explained (an error)."""
    data = submission()
    first = data["projects"][0]
    first["code"], first["name"] = code_a, "第一个项目"
    second = dict(first, code=code_b, name="第二个项目",
                  indicators=[dict(i) for i in data["projects"][0]["indicators"]])
    second["indicators"][0].update(actual="50", deviation_note="")
    data["projects"] = [first, second]
    return data


def test_report_projects_sharing_a_code_list_only_their_own_findings(tmp_path):
    results = render.render_reports(evaluate(two_projects("P001", "P001")), tmp_path / "out",
                                    report_template=findings_template(tmp_path / "审核.docx"))
    first, second = (texts(r.report) for r in results)
    assert first == ["第一个项目"] and results[0].has_errors is False
    assert second[:2] == ["第二个项目", "有错误"] and results[1].has_errors is True
    assert {"问题：indicator-unmet-unexplained", "问题：project-code-duplicated"} <= set(second)


def test_report_a_file_level_error_makes_every_project_has_errors_as_json_complete(tmp_path):
    evaluation = evaluate_submissions([sourced(two_projects("P001", "P002"))], year=2024)  # a 2023 form
    results = render.render_reports(evaluation, tmp_path / "out",
                                    report_template=findings_template(tmp_path / "审核.docx"))
    for r in results:
        paras = texts(r.report)
        assert r.has_errors and "有错误" in paras and "问题：year-mismatch" in paras
    assert "问题：indicator-unmet-unexplained" not in texts(results[0].report)
    contexts = [context_of(evaluation, p) for p in (0, 1)]
    report = evaluation.to_dict()
    assert [c["has_errors"] for c in contexts] == [not p["complete"] for p in report["files"][0]["projects"]] \
        == [True, True]


# ------------------------------------------------------------------ values as the clerk typed and saw them


def _indicator_row(path: Path, name: str) -> list[str]:
    """The texts of the 自评表 row of the indicator `name`, from its name on (name, target, actual …)."""
    row = next([c[0] for c in row] for row in table_grid(path) if any(c[0] == name for c in row))
    return row[row.index(name):]


def test_percent_formatted_cell_is_printed_as_excel_shows_it(tmp_path):
    """0.93 in a cell formatted '0%' is 93% in the report and the 自评表, and nobody is told it was a decimal."""
    data = submission(indicators=[
        indicator("满意度", level1="满意度指标", level2="服务对象满意度指标", target="≥90%", actual="95%", weight=10),
        indicator("数量", weight=50), indicator("社会效益", level1="效益指标", level2="社会效益指标", weight=30),
    ])
    path = write_template(tmp_path / "单位.xlsx", submission_from_dict(data))
    wb = openpyxl.load_workbook(path)
    wb["项目1"]["G18"].value, wb["项目1"]["G18"].number_format = 0.93, "0%"
    wb.save(path)
    evaluation = evaluate_paths([path])
    assert "indicator-percent-ambiguous" not in [f.code for f in evaluation.findings]
    assert evaluation.projects[0].indicators[0].score == 10
    [r] = render.render_reports(evaluation, tmp_path / "out")
    analysis = next(t for t in texts(r.report) if "三级指标“满意度”" in t and "全年实际完成值" in t)
    assert "全年实际完成值为93%" in analysis and "0.93" not in analysis
    assert _indicator_row(r.table, "满意度")[1:3] == ["≥90%", "93%"]


def test_decimal_typed_for_a_percentage_is_printed_as_typed_with_how_it_was_read(tmp_path):
    """0.95 typed in a plain cell against ≥90% (unit column %): scored as 95 % with its finding,
    printed "0.95（按95%计）", never "0.95%"."""
    data = submission(indicators=[
        indicator("满意度", level1="满意度指标", level2="服务对象满意度指标", target="≥90", unit="%",
                  actual=0.95, weight=10),
        indicator("数量", weight=50), indicator("社会效益", level1="效益指标", level2="社会效益指标", weight=30),
    ])
    evaluation = evaluate(data)
    assert "indicator-percent-ambiguous" in [f.code for f in evaluation.findings]
    [r] = render.render_reports(evaluation, tmp_path / "out")
    analysis = next(t for t in texts(r.report) if "三级指标“满意度”" in t and "全年实际完成值" in t)
    assert "全年实际完成值为0.95（按95%计）" in analysis and "0.95%" not in analysis
    assert _indicator_row(r.table, "满意度")[2] == "0.95（按95%计）"


def test_unit_on_one_side_only_is_named_in_the_report_and_table(tmp_path):
    """"≤90万元" against "95": scored as 95 万元 (unmet), and the documents say the unit was assumed."""
    data = submission(indicators=[
        indicator("成本", level2="成本指标", direction="≤", target="≤90万元", actual="95", weight=50,
                  note="材料涨价"),
        indicator("社会效益", level1="效益指标", level2="社会效益指标", weight=30),
        indicator("满意度", level1="满意度指标", level2="服务对象满意度指标", weight=10),
    ])
    evaluation = evaluate(data)
    assert [f.code for f in evaluation.findings if f.code.startswith("indicator-unit")] == ["indicator-unit-assumed"]
    [r] = render.render_reports(evaluation, tmp_path / "out")
    analysis = next(t for t in texts(r.report) if "三级指标“成本”" in t and "全年实际完成值" in t)
    assert "全年实际完成值为95（未填写计量单位，按“万元”计）" in analysis
    assert "未完成" in analysis and "47.37分" in analysis  # 50 × 90/95
    assert _indicator_row(r.table, "成本")[2] == "95（未填写计量单位，按“万元”计）"


# ------------------------------------------------------------------ the department's document and the 审核附注


#: What only the reviewer says (a provisional figure's mark "（待核实）" aside, see below).
REVIEW_WORDS = re.compile("需核实|待核实|单位未|未填写|按规则核定")


def test_clean_submission_gives_a_clean_report_and_no_notes(tmp_path):
    [r] = rendered(tmp_path, submission())
    assert r.notes is None and not list((tmp_path / "out").glob("*审核附注*"))
    assert not [t for t in all_texts(r.report) + all_texts(r.table) if REVIEW_WORDS.search(t)]


def test_sparse_submission_report_omits_the_gaps_and_the_notes_list_every_one(tmp_path):
    data = submission(indicators=[indicator("补缴人数", target="5", unit="人", actual="", weight=20, basis=""),
                                  *standard_indicators()[1:]],
                      goal="", achievement="", improvement="", result_use="", disclosure="", budget_document="")
    data["department"].update(duties=[], evaluation_start="", evaluation_end="", report_date="")
    [r] = rendered(tmp_path, data)
    paras = texts(r.report)
    # the empty 实际完成值 makes its indicator and so the total provisional: marked, nothing more said
    assert not [t for t in all_texts(r.report) if REVIEW_WORDS.search(t.replace("（待核实", "（"))]
    assert any("得0.00分（待核实，分值20分）" in t for t in paras)
    headings = [p.text for p in Document(r.report).paragraphs if p.style.name == "Heading 3"]
    assert headings == ["1.项目支出绩效指标"]  # 部门职责 and 年度绩效目标 left out, the rest numbered on
    assert "设置三级指标“补缴人数”，指标值为5人，分值20分。" in "".join(paras)  # no 设定依据 clause
    assert section(paras, "（二）下一步改进措施", "四、绩效自评结果拟应用和公开情况") == ["无。"]
    notes = "\n".join(all_texts(r.notes))
    for gap in ("单位未填写自评工作的起止时间", "单位未填写报告日期", "单位未填写预算批复文件", "单位未填写部门职责",
                "单位未填写年度绩效目标", "以下指标未填写设定依据，报告中未写：“补缴人数”",
                "单位未填写年度总体目标实际完成情况", "指标“补缴人数”：实际完成值未填写",
                "单位未填写下一步改进措施", "单位未填写绩效自评结果拟应用情况", "单位未填写绩效自评结果公开情况"):
        assert gap in notes, gap
    assert "审核发现的问题" in notes and "“实际完成值”为必填项，不能为空。" in notes


def test_title_breaks_between_words_in_balanced_lines(tmp_path):
    from perf_toolkit.report.context import title_lines

    assert title_lines("昆明市东川区农业农村局", "高标准农田建设项目") == [
        "昆明市东川区农业农村局", "高标准农田建设项目支出绩效自评报告"]
    assert title_lines("昆明市东川区退役军人事务局", "退役士兵社会保险配套经费项目") == [
        "昆明市东川区退役军人事务局退役士兵", "社会保险配套经费项目支出绩效自评报告"]
    assert title_lines("某局", "某项目") == ["某局某项目支出绩效自评报告"]
    [r] = rendered(tmp_path, submission())
    title = Document(r.report).paragraphs[0]
    assert title.text == "昆明市东川区退役军人事务局退役士兵\n社会保险配套经费项目支出绩效自评报告"


def test_signature_centres_the_unit_over_the_date_four_characters_in(tmp_path):
    [r] = rendered(tmp_path, submission())
    doc = Document(r.report)
    unit, date = doc.paragraphs[-2], doc.paragraphs[-1]
    assert (unit.text, date.text) == ("昆明市东川区退役军人事务局", "2024年5月8日")
    assert doc.styles["落款日期"].element.pPr.find(f"{W}ind").get(f"{W}rightChars") == "400"  # 右空四字
    # 13 characters over a date 6 wide: the unit reaches (13 − 6) / 2 characters past the date's end
    assert unit._p.pPr.find(f"{W}ind").get(f"{W}rightChars") == "50"
    assert not [p for p in doc.paragraphs[-3:] if not p.text.strip()][1:]  # no blank lines after it


def test_table_header_row_repeats_and_rows_do_not_split(tmp_path):
    [r] = rendered(tmp_path, submission())
    tables = Document(r.table).tables
    assert len(tables) == 2
    rows = tables[1]._tbl.tr_lst
    assert rows[0].find(f"{W}trPr/{W}tblHeader") is not None
    assert [c.text for c in tables[1].rows[0].cells][:2] == ["绩效指标", "一级指标"]
    assert all(tr.find(f"{W}trPr/{W}cantSplit") is not None for tr in rows)
    # the 总分 row keeps with the 填报人 line under the table
    assert all(p.paragraph_format.keep_with_next for c in tables[1].rows[-1].cells for p in c.paragraphs)


def test_table_has_no_weight_column_under_rules_that_split_the_weights(tmp_path):
    inds = [dict(i, weight=None) for i in standard_indicators()]
    evaluation = evaluate_submissions([sourced(submission(indicators=inds))], load_profile("twenty-eighty"))
    [r] = render.render_reports(evaluation, tmp_path / "out")
    header = next(row for row in table_grid(r.table) if row[1][0] == "一级指标")
    assert "分值" not in [c[0] for c in header] and "得分" in [c[0] for c in header]
    typed = evaluate_submissions([sourced(submission())], load_profile("twenty-eighty"))
    [r] = render.render_reports(typed, tmp_path / "typed")  # the department typed weights: they are printed
    assert "分值" in [c[0] for c in next(row for row in table_grid(r.table) if row[1][0] == "一级指标")]
