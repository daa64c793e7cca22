"""The district summary workbook: every sheet read back with pandas/openpyxl and checked against the inputs."""

from __future__ import annotations

import datetime as dt
import json
import os
import zipfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from batches import batch, campaign, department, input_sum, sourced_batch
from builders import example_dict, funds, standard_indicators
from click.testing import CliRunner
from openpyxl.utils.escape import unescape

from perf_toolkit.check.evaluate import evaluate_paths, evaluate_submissions
from perf_toolkit.cli import cli
from perf_toolkit.config import load_config
from perf_toolkit.model import SourcedSubmission, submission_from_dict
from perf_toolkit.summary import history
from perf_toolkit.summary.book import write_summary
from perf_toolkit.summary.consolidate import history_records, summarize, summary_frames
from perf_toolkit.summary.tables import CODE, RATE_BANDS, SUMMARY_SCHEMA, rate_band

ROOT = Path(__file__).resolve().parents[1]
TABLE_SHEETS = ["部门汇总", "项目明细", "指标明细", "问题清单", "未报送单位", "结果应用"]


def sheet(path, name: str) -> pd.DataFrame:
    """A sheet as pandas reads it, header line breaks (for display) removed."""
    frame = pd.read_excel(path, sheet_name=name, engine="openpyxl")
    return frame.rename(columns=lambda c: str(c).replace("\n", ""))


def overview(path) -> dict[str, object]:
    """The 总览 key figures: label -> value (column B)."""
    ws = openpyxl.load_workbook(path)["总览"]
    out, on = {}, False
    for row in ws.iter_rows(min_col=1, max_col=3, values_only=True):
        if row[0] == "指标":
            on = True
        elif on and row[0] is None:
            break
        elif on:
            out[row[0]] = row[1]
    return out


def block(path, title: str) -> pd.DataFrame:
    """A table block of the 总览 sheet, found by its section title."""
    ws = openpyxl.load_workbook(path)["总览"]
    rows = [list(r) for r in ws.iter_rows(min_col=1, max_col=5, values_only=True)]
    start = next(n for n, r in enumerate(rows) if r[0] == title) + 1
    end = next((n for n in range(start, len(rows)) if rows[n][0] is None), len(rows))
    header = [str(h).replace("\n", "") if h else f"_{i}" for i, h in enumerate(rows[start])]
    return pd.DataFrame(rows[start + 1:end], columns=header)


def cents(x) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.000001"))


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    """12 departments (3 projects each) of a 14-department roster, summarised once for many tests."""
    folder = tmp_path_factory.mktemp("district")
    datas = batch(12, projects=3)
    evaluation = evaluate_submissions(sourced_batch(datas))
    frames = summary_frames(evaluation, campaign(12, 2))
    path = write_summary(frames, folder / "汇总.xlsx")
    return datas, frames, path


# ------------------------------------------------------------------ the sheets and their totals


def test_summary_has_every_sheet_in_order_and_a_hidden_marker(district):
    _, _, path = district
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["总览", *TABLE_SHEETS, "元数据"]
    assert wb["元数据"].sheet_state == "hidden" and wb.active.title == "总览"
    meta = {r[0]: r[1] for r in wb["元数据"].iter_rows(min_row=2, values_only=True)}
    assert meta["格式"] == SUMMARY_SCHEMA and meta["层级"] == "区县" and meta["年度"] == 2023
    assert wb.defined_names["perf_toolkit_summary"].attr_text == f'"{SUMMARY_SCHEMA}"'


def test_summary_totals_equal_the_inputs_to_the_cent(district):
    datas, _, path = district
    projects, departments = sheet(path, "项目明细"), sheet(path, "部门汇总")
    figures = overview(path)
    for column, label, source in (("全年预算数（万元）", "全年预算数合计（万元）", "adjusted_budget"),
                                  ("全年执行数（万元）", "全年执行数合计（万元）", "executed"),
                                  ("年初预算数（万元）", "年初预算数合计（万元）", "initial_budget")):
        expected = cents(input_sum(datas, source))
        rows = projects[projects["单位编码"] != "合计"]
        assert cents(sum(Decimal(str(v)) for v in rows[column])) == expected
        assert cents(projects[column].iloc[-1]) == expected  # the 合计 row
        assert cents(departments[column].iloc[-1]) == expected
        assert cents(departments[column].iloc[:-1].sum()) == expected
        assert cents(figures[label]) == expected
    budget, spent = input_sum(datas, "adjusted_budget"), input_sum(datas, "executed")
    assert figures["总体预算执行率"] == pytest.approx(float(spent / budget), abs=1e-12)


def test_summary_funds_by_source_add_up_to_the_project_totals(district):
    _, _, path = district
    p = sheet(path, "项目明细")
    p = p[p["单位编码"] != "合计"]
    sources = [c for c in p.columns if c.endswith("·全年预算数（万元）")]
    assert len(sources) == 3
    assert np.allclose(p[sources].sum(axis=1), p["全年预算数（万元）"], atol=1e-6)
    ws = openpyxl.load_workbook(path)["项目明细"]
    letter = openpyxl.utils.get_column_letter(list(sheet(path, "项目明细").columns).index(sources[0]) + 1)
    assert ws.column_dimensions[letter].hidden  # folded away in a column group, one click to open


def test_summary_department_rows_match_their_projects(district):
    datas, _, path = district
    d = sheet(path, "部门汇总").set_index("单位编码")
    p = sheet(path, "项目明细")
    assert list(d.index[:-1]) == [f"D{n:03d}" for n in range(1, 13)] and d.index[-1] == "合计"
    for code in ("D001", "D007", "D012"):
        mine = p[p["单位编码"] == code]
        row = d.loc[code]
        assert row["项目数"] == len(mine) == 3
        assert row["平均得分"] == pytest.approx(mine["总分"].mean())
        assert row["最低得分"] == mine["总分"].min()
        assert row["执行率"] == pytest.approx(mine["全年执行数（万元）"].sum() / mine["全年预算数（万元）"].sum())
        assert sum(row[g] for g in "优良中差") == 3
        assert row["报送文件"] == f"{code}.xlsx" and row["名单内"] == "是"
    assert d.loc["合计", "项目数"] == 36 and sum(d.loc["合计", g] for g in "优良中差") == 36


def test_summary_grade_and_rate_blocks_add_up(district):
    _, frames, path = district
    grades = block(path, "二、项目等级分布")
    assert list(grades["等级"]) == ["优", "良", "中", "差", "合计"]
    p = sheet(path, "项目明细")
    p = p[p["单位编码"] != "合计"]
    for g in "优良中差":
        row = grades[grades["等级"] == g].iloc[0]
        assert row["项目数"] == (p["等级"] == g).sum()
        assert cents(row["全年预算数（万元）"]) == cents(p.loc[p["等级"] == g, "全年预算数（万元）"].sum())
    assert grades["项目数"].iloc[-1] == 36 and grades["项目数占比"].iloc[:-1].sum() == pytest.approx(1)
    assert {g for g in p["等级"]} >= {"优", "差"}
    bands = block(path, "三、预算执行率分布")
    assert list(bands["执行率区间"]) == [name for name, _ in RATE_BANDS] + ["合计"]
    assert bands["项目数"].iloc[:-1].sum() == 36
    expected = p["执行率"].map(rate_band).value_counts()
    for name, count in expected.items():
        assert bands.loc[bands["执行率区间"] == name, "项目数"].iloc[0] == count


@pytest.mark.parametrize(("rate", "band"), [
    (1.2, "100%"), (1.0, "100%"), (0.99996, "100%"), (0.99994, "90%–100%"), (0.9, "90%–100%"),
    (0.89999, "90%–100%"), (0.8999, "80%–90%"), (0.8, "80%–90%"), (0.6, "60%–80%"), (0.5999, "60%以下"),
    (0.00004, "0%"), (0.0001, "60%以下"), (0.0, "0%"), (float("nan"), "无法计算"), (None, "无法计算"),
])
def test_rate_band_edges_follow_the_displayed_rate(rate, band):
    assert rate_band(rate) == band


def test_summary_indicator_sheet_has_every_indicator_with_scores(district):
    datas, _, path = district
    ind = sheet(path, "指标明细")
    assert len(ind) == sum(len(p["indicators"]) for d in datas for p in d["projects"])
    first = datas[0]["projects"][0]["indicators"]
    mine = ind[ind["项目编码"] == "P001-1"]
    assert list(mine["三级指标"]) == [i["name"] for i in first]
    assert list(mine["分值"]) == [i["weight"] for i in first]
    assert (mine["得分"] <= mine["分值"]).all()
    project = sheet(path, "项目明细").set_index("项目编码").loc["P001-1"]
    assert mine["得分"].sum() + project["预算执行得分"] == pytest.approx(project["总分"], abs=0.01)


def test_summary_findings_sheet_lists_errors_first(district):
    _, frames, path = district
    problems = sheet(path, "问题清单")
    assert len(problems) == len(frames["问题清单"]) > 0
    levels = list(problems["级别"])
    assert levels == sorted(levels, key=lambda s: s != "错误")
    assert set(problems.columns) >= {"级别", "代码", "单位编码", "单位名称", "文件", "工作表", "单元格", "说明"}
    stats = block(path, "四、审核发现的问题").set_index("级别")
    assert stats.loc["错误", "数量"] == levels.count("错误") and stats.loc["合计", "数量"] == len(levels)
    figures = overview(path)
    assert figures["错误数"] == levels.count("错误") and figures["警告数"] == levels.count("警告")


def test_summary_result_use_lists_low_grades_and_low_rates(district):
    _, _, path = district
    p = sheet(path, "项目明细")
    p = p[p["单位编码"] != "合计"]
    expected = p[p["等级"].isin(["中", "差"]) | (p["执行率"].round(4) < 0.9) | p["执行率"].isna()]
    use = sheet(path, "结果应用")
    listed = use[use["单位编码"] != "合计"]
    assert sorted(listed["项目编码"]) == sorted(expected["项目编码"]) and len(listed) > 0
    assert cents(use["全年预算数（万元）"].iloc[-1]) == cents(listed["全年预算数（万元）"].sum())
    assert all(("等级为" in r) or ("执行率" in r) for r in listed["列入原因"])
    assert overview(path)["列入结果应用的项目数"] == len(listed)


def _cut_department(n: int, cuts: dict[str, tuple[float, float]]) -> dict:
    """Department n whose projects (code → initial, full-year budget) are fully spent and met."""
    data = department(n, projects=len(cuts))
    for p, (code, (initial, adjusted)) in zip(data["projects"], cuts.items(), strict=True):
        p.update(code=code, funds=funds(initial, adjusted, adjusted), indicators=standard_indicators())
    return data


def test_summary_result_use_lists_budget_cuts_over_the_profile_threshold(tmp_path):
    """The reference report's 45.08 → 2.94 (−93.48 %): a budget set far above the need, for next year's budget."""
    data = _cut_department(1, {"CUT": (45.08, 2.94), "SMALL": (100, 81), "RAISED": (100, 150)})
    frames = summary_frames(evaluate_submissions(sourced_batch([data])), campaign(1))
    path = write_summary(frames, tmp_path / "汇总.xlsx")
    use = sheet(path, "结果应用")
    listed = use[use["单位编码"] != "合计"]
    assert list(listed["项目编码"]) == ["CUT"]
    assert listed["列入原因"].iloc[0] == "全年预算数由年初的 45.08 万元调减为 2.94 万元，调减 93.48%，超过 20%"
    assert overview(path)["列入结果应用的项目数"] == 1
    meta = sheet(path, "元数据").set_index("项目")["值"]
    assert float(meta["预算调减阈值"]) == 0.2


# ------------------------------------------------------------------ roster


def test_summary_roster_expected_submitted_missing_and_unknown(tmp_path):
    datas = batch(3)
    stranger = department(9)  # D009: not on the roster
    round_ = campaign(3, 2)  # roster D001..D005
    evaluation = evaluate_submissions(sourced_batch([*datas, stranger]), roster=round_.roster)
    frames = summary_frames(evaluation, round_)
    path = write_summary(frames, tmp_path / "汇总.xlsx")
    figures = overview(path)
    assert (figures["应报送单位数"], figures["已报送单位数"], figures["未报送单位数"]) == (5, 4, 2)
    missing = sheet(path, "未报送单位")
    assert list(missing["单位编码"]) == ["D004", "D005"]
    assert list(missing["联系人"]) == ["联系人4", "联系人5"] and list(missing["电子邮箱"])[0] == "d4@example.gov.cn"
    d = sheet(path, "部门汇总").set_index("单位编码")
    assert d.loc["D009", "名单内"] == "否" and d.loc["D001", "名单内"] == "是"
    problems = sheet(path, "问题清单")
    unknown = problems[problems["代码"] == "department-unknown"]
    assert list(unknown["单位编码"]) == ["D009"] and list(unknown["级别"]) == ["警告"]
    assert "不在本轮报送名单中" in unknown["说明"].iloc[0]
    assert "测试区第4局、测试区第5局" in str(block(path, "一、总体情况").iloc[2, 2])


def test_summary_without_roster_counts_what_came(tmp_path):
    evaluation = evaluate_submissions(sourced_batch(batch(2)))
    frames = summary_frames(evaluation, campaign())
    assert "department-unknown" not in set(frames["问题清单"]["代码"])
    key = frames["总览"].set_index("指标")
    assert pd.isna(key.loc["应报送单位数", "数值"]) and key.loc["应报送单位数", "说明"] == "未配置报送名单"
    assert set(frames["部门汇总"]["名单内"].iloc[:-1]) == {"—"}
    write_summary(frames, tmp_path / "汇总.xlsx")
    assert sheet(tmp_path / "汇总.xlsx", "未报送单位").empty


def test_summary_newest_file_of_a_department_counts(tmp_path):
    old, new = department(1, seed=1), department(1, seed=2)
    files = [tmp_path / "新.json", tmp_path / "旧.json"]  # the newer file comes first in input order
    for path, data in zip(files, (new, old), strict=True):
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.utime(files[0], (2_000_000_000, 2_000_000_000))
    os.utime(files[1], (1_900_000_000, 1_900_000_000))
    items = [SourcedSubmission(submission_from_dict(d), file=str(f)) for f, d in zip(files, (new, old), strict=True)]
    frames = summary_frames(evaluate_submissions(items), campaign(1))
    d = frames["部门汇总"]
    assert d["报送文件"].iloc[0] == str(files[0]) and d["被替代的文件"].iloc[0] == "旧.json"
    assert d["报送时间"].iloc[0].year == 2033
    expected = cents(input_sum([new], "adjusted_budget"))
    assert cents(frames["项目明细"]["全年预算数（万元）"].iloc[-1]) == expected
    superseded = frames["问题清单"][frames["问题清单"]["代码"] == "superseded"]
    assert list(superseded["文件"]) == [str(files[1])] and "新.json" in superseded["说明"].iloc[0]
    key = frames["总览"].set_index("指标")
    assert key.loc["已报送单位数", "数值"] == 1 and "被替代 1 个" in key.loc["收到文件数", "说明"]


# ------------------------------------------------------------------ safety and layout


HOSTILE = ["=1+2", "+SUM(A1:A2)", "-2+3", "@cmd", "\tTAB开头", "\r回车开头", "http://example.com/x", "=HYPERLINK(\"x\")"]


def test_summary_text_that_looks_like_a_formula_stays_text(tmp_path):
    data = example_dict()
    data["department"]["name"] = HOSTILE[0]
    p = data["projects"][0]
    p["name"] = HOSTILE[1]
    p["code"] = HOSTILE[2]
    p["indicators"] = standard_indicators()
    for ind, text in zip(p["indicators"], HOSTILE[3:], strict=False):
        ind["name"] = text
    p["indicators"][5]["actual"] = HOSTILE[7]
    evaluation = evaluate_submissions([SourcedSubmission(submission_from_dict(data), file="@evil.xlsx")])
    path = write_summary(summary_frames(evaluation, campaign()), tmp_path / "汇总.xlsx")
    with zipfile.ZipFile(path) as zf:
        assert not any("<f>" in zf.read(n).decode("utf-8") for n in zf.namelist() if n.startswith("xl/worksheets/"))
        assert not any("hyperlink" in zf.read(n).decode("utf-8") for n in zf.namelist()
                       if n.startswith("xl/worksheets/sheet"))
    wb = openpyxl.load_workbook(path)
    seen = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                # a CR is stored as the OOXML escape _x000D_ (Excel decodes it; openpyxl leaves it to us)
                text = unescape(cell.value) if isinstance(cell.value, str) else None
                if text in HOSTILE:
                    seen[text] = cell.data_type
    assert seen == {text: "s" for text in HOSTILE}
    p_sheet = wb["项目明细"]
    assert p_sheet["B2"].value == HOSTILE[0] and p_sheet["C2"].value == HOSTILE[2] and p_sheet["D2"].value == HOSTILE[1]


def test_summary_layout_formats_freeze_filter_and_print(district):
    _, _, path = district
    wb = openpyxl.load_workbook(path)
    ws = wb["项目明细"]
    header = [str(c.value).replace("\n", "") for c in ws[1]]
    col = {name: i + 1 for i, name in enumerate(header)}
    assert ws.freeze_panes == "C2"  # the header row and the columns up to the unit name stay on screen
    last = ws.max_row
    assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(header))}{last - 1}"  # 合计 outside
    assert ws.cell(2, col["全年预算数（万元）"]).number_format == "#,##0.00"
    assert ws.cell(2, col["执行率"]).number_format == "0.00%"
    assert ws.cell(2, col["总分"]).number_format == "0.00"
    assert ws.cell(last, 1).value == "合计" and ws.cell(last, 1).font.b
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.print_title_rows == "$1:$1"
    rules = [r for rng in ws.conditional_formatting for r in rng.rules]
    assert any("<0.9" in (r.formula or [""])[0] for r in rules)  # low execution rates
    assert any(r.formula == ['"差"'] for r in rules) and any(r.formula == ['"中"'] for r in rules)
    letter = openpyxl.utils.get_column_letter(col["单位名称"])
    assert ws.column_dimensions[letter].width >= 2 * len("测试区第12局")  # CJK counts double
    for name in TABLE_SHEETS:
        sheet = wb[name]
        assert sheet.page_setup.orientation == "landscape"
        assert sheet.freeze_panes == ("D2" if name == "问题清单" else "C2")  # 级别 first in the problem list
        assert not sheet.sheet_properties.pageSetUpPr.fitToPage  # a legible scale, not shrunk to one page
        assert 80 <= (sheet.page_setup.scale or 100) <= 100  # 10 pt text prints at 8 pt or more
        breaks = [b.id for b in sheet.col_breaks.brk]
        if breaks:  # a wide table: pages across, each starting with the columns naming the row
            assert sheet.print_title_cols in ("$A:$B", "$A:$C", "$A:$D")


def test_print_layout_splits_wide_tables_at_a_legible_scale():
    from perf_toolkit.summary.book import MIN_SCALE, PAGE_PIXELS, column_pixels, print_layout

    narrow = print_layout([10, 20, 12, 12], key_columns=2)
    assert narrow.breaks == () and narrow.scale == 100
    wide = print_layout([10, 24] + [12] * 40, key_columns=2)
    assert wide.scale >= MIN_SCALE and wide.pages_wide > 1
    edges = [2, *wide.breaks, 42]
    key = column_pixels(10) + column_pixels(24)
    for start, stop in zip(edges, edges[1:], strict=False):  # every page (key columns included) fits at the scale
        assert (key + column_pixels(12) * (stop - start)) * wide.scale / 100 <= PAGE_PIXELS
    hidden = print_layout([10, 24] + [0] * 40 + [12], key_columns=2)  # hidden columns take no room
    assert hidden.breaks == ()


def test_summary_charts_are_native_excel_charts(district):
    _, _, path = district
    with zipfile.ZipFile(path) as zf:
        charts = sorted(n for n in zf.namelist() if n.startswith("xl/charts/chart"))
        xml = [zf.read(n).decode("utf-8") for n in charts]
    assert len(charts) == 3
    assert sum("<c:barChart>" in x and '<c:barDir val="col"/>' in x for x in xml) == 2
    assert sum('<c:barDir val="bar"/>' in x for x in xml) == 1
    assert any("部门汇总" in x for x in xml)  # rate by department plots the 部门汇总 sheet
    overview = openpyxl.load_workbook(path)["总览"]
    assert len(overview._charts) == 3
    # below the tables, in the printed columns, each block starting a page: no chart is cut in print
    last_table_row = overview.max_row
    anchors = sorted(c.anchor._from.row for c in overview._charts)  # 0-based
    assert all(c.anchor._from.col == 0 for c in overview._charts)
    assert anchors[0] >= last_table_row and anchors[1] - anchors[0] >= 15
    assert [b.id for b in overview.row_breaks.brk] == [anchors[0], anchors[2]]  # a break after row id (1-based)


def test_summary_write_is_atomic(tmp_path, district):
    _, frames, _ = district
    path = tmp_path / "汇总.xlsx"
    path.write_bytes(b"previous good file")
    broken = dict(frames)
    broken["元数据"] = pd.DataFrame({"项目": ["格式"]})  # no 值 column: the writer fails
    with pytest.raises(KeyError):
        write_summary(broken, path)
    assert path.read_bytes() == b"previous good file"
    assert [p.name for p in tmp_path.iterdir()] == ["汇总.xlsx"]


def test_summary_of_nothing_readable_still_writes(tmp_path):
    bad = tmp_path / "坏.xlsx"
    bad.write_bytes(b"not a workbook")
    evaluation = evaluate_paths([bad])
    path = write_summary(summary_frames(evaluation, campaign(2)), tmp_path / "汇总.xlsx")
    figures = overview(path)
    assert (figures["已报送单位数"], figures["参评项目数"], figures["未报送单位数"]) == (0, 0, 2)
    problems = sheet(path, "问题清单")
    assert list(problems["代码"]) == ["file-unreadable"] and problems["文件"].iloc[0] == bad.name  # the name, not the path


# ------------------------------------------------------------------ real workbooks, history, CLI


def test_summary_from_real_workbooks_written_by_the_template(tmp_path):
    from perf_toolkit.workbook.template import write_template

    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    datas = batch(4, projects=2)
    # department 2's first project: one indicator missed and not explained (an error pinned on its row)
    datas[1]["projects"][0]["indicators"] = standard_indicators(name="开工项目数", actual="50", deviation_note="")
    for data in datas:
        write_template(inbox / f"{data['department']['name']}.xlsx", submission_from_dict(data))
    evaluation = evaluate_paths([inbox])
    assert len(evaluation.counted) == 4
    path = write_summary(summary_frames(evaluation, campaign(4, 1)), tmp_path / "汇总.xlsx")
    figures = overview(path)
    assert figures["已报送单位数"] == 4 and figures["未报送单位数"] == 1 and figures["参评项目数"] == 8
    assert cents(figures["全年预算数合计（万元）"]) == cents(input_sum(datas, "adjusted_budget"))
    d = sheet(path, "部门汇总")
    assert set(d["报送文件"].iloc[:-1]) == {f"{x['department']['name']}.xlsx" for x in datas}  # names
    assert d["报送时间"].iloc[:-1].notna().all()
    problems = sheet(path, "问题清单")
    unmet = problems[(problems["代码"] == "indicator-unmet-unexplained") & (problems["单位编码"] == "D002")]
    assert len(unmet) == 1 and unmet["工作表"].iloc[0] == "项目1" and unmet["单元格"].iloc[0][0].isalpha()
    ind = sheet(path, "指标明细")
    row = ind[(ind["单位编码"] == "D002") & (ind["三级指标"] == "开工项目数")]
    assert len(row) == 1 and "指标未完成未说明" in row["问题"].iloc[0]
    assert row["完成率"].iloc[0] == pytest.approx(0.5) and row["是否达成"].iloc[0] == "否"


def test_summary_two_years_of_history(tmp_path):
    db = tmp_path / "history.sqlite"
    last = batch(3, year=2022, seed=7)
    last_eval = evaluate_submissions(sourced_batch(last))
    summarize(last_eval, campaign(3, year=2022), tmp_path / "2022.xlsx", history_path=db)
    assert not any(n == "历年对比" for n in openpyxl.load_workbook(tmp_path / "2022.xlsx").sheetnames)
    this = batch(3, year=2023, seed=8)
    this_eval = evaluate_submissions(sourced_batch(this))
    frames, earlier = summarize(this_eval, campaign(3), tmp_path / "2023.xlsx", history_path=db)
    assert earlier.previous_year == 2022
    # what the command prints is returned; the row tables are in the workbook (made and freed one at a time)
    assert set(frames) == {"总览", "等级分布", "执行率分布", "问题统计", "问题代码统计", "口径说明", "未报送单位", "元数据"}
    path = tmp_path / "2023.xlsx"
    assert "历年对比" in openpyxl.load_workbook(path).sheetnames
    frames_2022 = summary_frames(last_eval, campaign(3, year=2022))
    d22 = frames_2022["部门汇总"].set_index("单位编码")
    d = sheet(path, "部门汇总").set_index("单位编码")
    for code in ("D001", "D002", "D003"):
        assert d.loc[code, "上年执行率"] == pytest.approx(d22.loc[code, "执行率"])
        points = (d.loc[code, "执行率"] - d22.loc[code, "执行率"]) * 100  # 个百分点, to 0.01
        assert d.loc[code, "执行率变化（个百分点）"] == pytest.approx(points, abs=0.005)
        assert d.loc[code, "上年平均得分"] == pytest.approx(d22.loc[code, "平均得分"])
        assert d.loc[code, "平均得分变化"] == pytest.approx(d.loc[code, "平均得分"] - d22.loc[code, "平均得分"])
    assert d.loc["合计", "上年执行率"] == pytest.approx(d22.loc["合计", "执行率"])
    p = sheet(path, "项目明细").set_index("项目编码")
    p22 = frames_2022["项目明细"].set_index("项目编码")
    assert p.loc["P002-1", "上年总分"] == pytest.approx(p22.loc["P002-1", "总分"])
    assert p.loc["P002-1", "总分变化"] == pytest.approx(p.loc["P002-1", "总分"] - p22.loc["P002-1", "总分"])
    compare = sheet(path, "历年对比").set_index("单位编码")
    assert compare.loc["D001", "2022年执行率"] == pytest.approx(d22.loc["D001", "执行率"])
    assert compare.loc["D001", "2023年执行率"] == pytest.approx(d.loc["D001", "执行率"])
    assert cents(compare.loc["合计", "2022年全年预算数（万元）"]) == cents(input_sum(last, "adjusted_budget"))
    assert cents(compare.loc["合计", "2023年全年预算数（万元）"]) == cents(input_sum(this, "adjusted_budget"))
    key = block(path, "一、总体情况").set_index("指标")
    assert list(key.columns[:3]) == ["本年", "上年（2022年）", "变化"]
    assert key.loc["参评项目数", "上年（2022年）"] == 6
    # a re-run of 2023 replaces, never duplicates
    summarize(evaluate_submissions(sourced_batch(this)), campaign(3), tmp_path / "2023.xlsx", history_path=db)
    found = history.load(db)
    assert len(found.departments) == 6 and len(found.projects) == 12
    records = history_records(summary_frames(this_eval, campaign(3), earlier))
    assert list(records[0]["dept_code"]) == ["D001", "D002", "D003"]


def test_summary_command_on_the_example_inbox(tmp_path, example_files):
    out, db = tmp_path / "汇总.xlsx", tmp_path / "h.sqlite"
    result = CliRunner().invoke(cli, ["summary", *map(str, example_files), "--config",
                                      str(ROOT / "examples" / "perf.toml"), "-o", str(out), "--history", str(db),
                                      "-j", "2"])
    assert result.exit_code == 0, result.output
    assert f"已生成汇总表：{out}" in result.output and "未报送" in result.output
    roster = load_config(ROOT / "examples" / "perf.toml").roster
    figures = overview(out)
    assert figures["应报送单位数"] == len(roster)
    missing = set(sheet(out, "未报送单位")["单位编码"])
    assert "DC-MZJ" in missing and "DC-TYJRSWJ" not in missing
    assert history.years(db) == [2023]


def test_summary_command_no_history_and_bad_history(tmp_path, monkeypatch):
    data = tmp_path / "a.json"
    data.write_text(json.dumps(department(1), ensure_ascii=False), encoding="utf-8")
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)  # without --config and -o: output/ under the working folder
    result = runner.invoke(cli, ["summary", str(data), "--no-history"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "output" / "汇总.xlsx").is_file() and not (tmp_path / "output" / "history.sqlite").exists()
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not sqlite" * 200)
    result = runner.invoke(cli, ["summary", str(data), "-o", str(tmp_path / "x.xlsx"), "--history", str(bad)])
    assert result.exit_code == 2 and "历史数据库" in result.output


# ------------------------------------------------------------------ findings per project and per indicator


def _summary_of_workbook(tmp_path, data: dict) -> Path:
    from perf_toolkit.workbook.template import write_template

    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    write_template(inbox / "单位.xlsx", submission_from_dict(data))
    evaluation = evaluate_paths([inbox])
    return write_summary(summary_frames(evaluation, campaign(1)), tmp_path / "汇总.xlsx")


def test_summary_projects_sharing_a_code_count_only_their_own_findings(tmp_path):
    data = department(1, projects=2)
    first, second = data["projects"]
    second["code"] = first["code"]
    second["indicators"] = standard_indicators(name="开工项目数", actual="50", deviation_note="")
    path = _summary_of_workbook(tmp_path, data)
    p = sheet(path, "项目明细")
    p = p[p["单位编码"] != "合计"]
    assert list(p["项目编码"]) == [first["code"]] * 2
    clean, faulty = p.iloc[0], p.iloc[1]
    assert clean["项目名称"] == first["name"] and faulty["项目名称"] == second["name"]
    assert clean["错误数"] == 0 and (pd.isna(clean["问题"]) or "指标未完成未说明" not in clean["问题"])
    assert faulty["错误数"] >= 2 and "指标未完成未说明" in faulty["问题"] and "项目编码重复" in faulty["问题"]
    d = sheet(path, "部门汇总")
    assert d["错误数"].iloc[0] == p["错误数"].sum()  # no file-level error here: the projects' errors are all


def test_summary_weight_sum_mismatch_is_the_projects_not_indicator_ones(tmp_path):
    data = department(1, projects=1)
    data["projects"][0]["indicators"] = standard_indicators(weight=25)  # 10 + 95 = 105 points
    path = _summary_of_workbook(tmp_path, data)
    p = sheet(path, "项目明细")
    assert "分值合计不等于100" in p["问题"].iloc[0]
    ind = sheet(path, "指标明细")
    assert len(ind) == 6 and ind["三级指标"].iloc[0] == "数量"
    assert not any(isinstance(v, str) and "分值合计不等于100" in v for v in ind["问题"])


def test_summary_columns_sized_by_what_each_distinct_value_shows(tmp_path):
    """Columns are sized from their distinct values: -0.0 equals 0.0 but shows a sign (“+-0.00%”), and is
    sized as shown, whichever comes first; values of different types stay apart."""
    evaluation = evaluate_submissions([SourcedSubmission(submission_from_dict(example_dict()), file="a.xlsx")])
    frames = summary_frames(evaluation, campaign())

    def width(rates: list[float]) -> float:
        frames["结果应用"] = pd.DataFrame({"项目名称": ["农村公路养护项目"] * len(rates), "执行率": rates})
        path = write_summary(frames, tmp_path / f"汇总{len(rates)}-{rates[0]}.xlsx")
        return openpyxl.load_workbook(path)["结果应用"].column_dimensions["B"].width

    signed = width([-0.0])
    assert width([0.0, -0.0]) == width([-0.0, 0.0]) == signed > width([0.0, 0.0])  # one character wider


def many_findings_batch() -> list[dict]:
    """Departments with errors and warnings of several codes, some without a code, one sent twice (superseded)."""
    datas = batch(30, year=2023, seed=8, projects=3)
    for n, data in enumerate(datas):
        if n % 3 == 0:
            data["projects"][0]["indicators"] = standard_indicators(weight=25)
        if n % 4 == 1:
            data["projects"][1]["funds"][0]["executed"] = -5
        if n % 5 == 2:
            data["projects"][2]["indicators"][1]["target"] = ""
        if n % 7 == 3:
            data["department"]["code"] = ""
    datas.append(datas[5] | {"department": dict(datas[5]["department"])})
    return datas


def _differing_parts(a_path, b_path) -> list[str]:
    stamped = {"docProps/core.xml", "docProps/custom.xml"}  # the time of writing
    with zipfile.ZipFile(a_path) as a, zipfile.ZipFile(b_path) as b:
        assert a.namelist() == b.namelist()
        return [n for n in a.namelist() if n not in stamped and a.read(n) != b.read(n)]


@pytest.mark.parametrize(("rows_per_chunk", "rows_per_sheet"), [(1000, None), (7, None), (1, None), (5, 40)])
def test_streamed_tables_write_the_same_workbook(tmp_path, monkeypatch, rows_per_chunk, rows_per_sheet):
    """指标明细 and 问题清单 made a chunk of rows at a time as they are written (never whole) give the workbook
    made from the tables at once, part by part; also in many chunks, and over continuation sheets."""
    from perf_toolkit.summary import book
    from perf_toolkit.summary.tables import RowSource

    evaluation = evaluate_submissions(sourced_batch(many_findings_batch()))
    when = dt.datetime(2024, 5, 8, 12, 0)
    streamed = summary_frames(evaluation, campaign(25, 2), generated=when, deferred=True)
    assert isinstance(streamed["指标明细"], RowSource) and isinstance(streamed["问题清单"], RowSource)
    whole = summary_frames(evaluation, campaign(25, 2), generated=when)
    assert len(streamed["指标明细"]) == len(whole["指标明细"]) > 0
    assert len(streamed["问题清单"]) == len(whole["问题清单"]) > 50
    assert set(whole["问题清单"]["级别"]) == {"错误", "警告"} and (whole["问题清单"][CODE] == "").any()
    for name in streamed:
        if not isinstance(streamed[name], RowSource):
            pd.testing.assert_frame_equal(streamed[name], whole[name], obj=name)
    monkeypatch.setattr(book, "ROWS_PER_CHUNK", rows_per_chunk)
    if rows_per_sheet:
        monkeypatch.setattr(book, "MAX_SHEET_ROWS", rows_per_sheet)
    write_summary(streamed, tmp_path / "streamed.xlsx")
    write_summary(whole, tmp_path / "whole.xlsx")
    assert _differing_parts(tmp_path / "streamed.xlsx", tmp_path / "whole.xlsx") == []
    if rows_per_sheet:
        assert len(openpyxl.load_workbook(tmp_path / "streamed.xlsx", read_only=True).sheetnames) > 12
    # the sources can be read again (the writer reads them twice: widths, then rows), each time the same rows
    for name in ("指标明细", "问题清单"):
        again = pd.concat(list(streamed[name].chunks(1000)), ignore_index=True)
        assert again.astype(str).equals(whole[name].astype(str)), name


def test_streamed_tables_are_never_made_whole(tmp_path, monkeypatch):
    """Writing the summary makes 指标明细 and 问题清单 a chunk of ROWS_PER_CHUNK rows at a time, twice (widths, rows)."""
    from perf_toolkit.summary import book, consolidate

    evaluation = evaluate_submissions(sourced_batch(many_findings_batch()))
    frames = summary_frames(evaluation, campaign(25, 2), deferred=True)
    made: list[int] = []
    frame = consolidate._frame

    def counted(rows):
        out = frame(rows)
        made.append(len(out))
        return out

    monkeypatch.setattr(consolidate, "_frame", counted)
    monkeypatch.setattr(book, "ROWS_PER_CHUNK", 7)
    write_summary(frames, tmp_path / "汇总.xlsx")
    assert made and max(made) <= 7
    assert sum(made) == 2 * (len(frames["指标明细"]) + len(frames["问题清单"]))


def test_finding_tally_counts_what_the_table_lists():
    """The 问题清单's tally counted from the evaluation (never the table) is the one counted from the table."""
    from perf_toolkit.check.status import department_status
    from perf_toolkit.summary import consolidate
    from perf_toolkit.summary.tables import FindingTally

    evaluation = evaluate_submissions(sourced_batch(many_findings_batch()))
    table = summary_frames(evaluation, campaign(25, 2))["问题清单"]
    _, tally = consolidate._finding_rows(evaluation.files, consolidate._dept_order(campaign(25, 2)),
                                         department_status(evaluation, campaign(25, 2).roster))
    assert tally == FindingTally.of_frame(table) and tally.rows == len(table)
    assert list(tally.codes) == list(FindingTally.of_frame(table).codes)  # in the order the table lists them
    assert tally.levels["错误"].count == (table["级别"] == "错误").sum()
