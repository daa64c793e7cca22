"""The city roll-up: district summaries read back through the guard and summarised one level up."""

from __future__ import annotations

import os
import re
import shutil
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest
from batches import batch, campaign, input_sum, sourced_batch
from builders import funds, standard_indicators
from click.testing import CliRunner

from perf_toolkit.check.evaluate import evaluate_submissions
from perf_toolkit.cli import cli
from perf_toolkit.summary.book import write_summary
from perf_toolkit.summary.consolidate import summary_frames
from perf_toolkit.summary.rollup import read_summaries, rollup, rollup_frames

CITY = campaign(district="昆明市", bureau="昆明市财政局")


def sheet(path, name: str) -> pd.DataFrame:
    frame = pd.read_excel(path, sheet_name=name, engine="openpyxl")
    return frame.rename(columns=lambda c: str(c).replace("\n", ""))


def cents(x) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.000001"))


def district_summary(folder, name: str, count: int, seed: int, *, extra: int = 1, year: int = 2023):
    """A district summary file and the submissions it was made from."""
    datas = batch(count, seed=seed, year=year)
    frames = summary_frames(evaluate_submissions(sourced_batch(datas)),
                            campaign(count, extra, district=name, year=year))
    return write_summary(frames, folder / f"{name}汇总.xlsx"), datas


@pytest.fixture(scope="module")
def two_districts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rollup")
    a, datas_a = district_summary(folder, "东川区", 4, seed=1)
    b, datas_b = district_summary(folder, "盘龙区", 3, seed=2, extra=2)
    accepted, rejected = rollup([a, b], folder / "全市汇总.xlsx", CITY)
    assert [s.name for s in accepted] == ["东川区", "盘龙区"]
    return folder, (a, b), datas_a + datas_b, rollup_frames(accepted, CITY), rejected


def test_rollup_totals_equal_the_districts_sums(two_districts):
    folder, (a, b), datas, frames, rejected = two_districts
    assert rejected == []
    city = folder / "全市汇总.xlsx"
    for column, source in (("全年预算数（万元）", "adjusted_budget"), ("全年执行数（万元）", "executed")):
        expected = cents(input_sum(datas, source))
        per_district = [sheet(p, "部门汇总")[column].iloc[-1] for p in (a, b)]
        assert cents(sum(Decimal(str(v)) for v in per_district)) == expected
        for name in ("部门汇总", "项目明细", "区县汇总"):
            assert cents(sheet(city, name)[column].iloc[-1]) == expected
        districts = sheet(city, "区县汇总")
        assert [cents(v) for v in districts[column].iloc[:-1]] == [cents(v) for v in per_district]


def test_rollup_puts_the_district_first_everywhere(two_districts):
    folder, _, _, _, _ = two_districts
    city = folder / "全市汇总.xlsx"
    wb = openpyxl.load_workbook(city)
    assert wb.sheetnames == ["总览", "区县汇总", "部门汇总", "项目明细", "指标明细", "问题清单", "未报送单位", "结果应用",
                             "元数据"]
    for name in ("区县汇总", "部门汇总", "项目明细", "指标明细", "未报送单位"):
        assert str(wb[name]["A1"].value) == "区县", name
    d = sheet(city, "部门汇总")
    assert list(d["区县"].iloc[:-1]) == ["东川区"] * 4 + ["盘龙区"] * 3 and d["区县"].iloc[-1] == "合计"
    missing = sheet(city, "未报送单位")
    assert list(missing["区县"]) == ["东川区", "盘龙区", "盘龙区"]
    districts = sheet(city, "区县汇总").set_index("区县")
    assert districts.loc["东川区", "应报送单位数"] == 5 and districts.loc["盘龙区", "已报送单位数"] == 3
    assert districts.loc["合计", "项目数"] == 14 and districts.loc["合计", "未报送单位数"] == 3
    meta = {r[0]: r[1] for r in wb["元数据"].iter_rows(min_row=2, values_only=True)}
    assert meta["层级"] == "全市" and meta["名称"] == "昆明市" and meta["应报送单位数"] == 10


def test_rollup_overview_counts_and_chart_by_district(two_districts):
    folder, _, _, frames, _ = two_districts
    key = frames["总览"].set_index("指标")["数值"]
    assert (key["应报送单位数"], key["已报送单位数"], key["未报送单位数"], key["参评项目数"]) == (10, 7, 3, 14)
    p = frames["项目明细"]
    assert key["平均得分（简单平均）"] == pytest.approx(p["总分"].iloc[:-1].mean())
    import zipfile

    with zipfile.ZipFile(folder / "全市汇总.xlsx") as zf:
        xml = [zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/charts/chart")]
    assert len(xml) == 3 and any("区县汇总" in x for x in xml)


def test_rollup_leaves_out_what_is_not_a_district_summary(tmp_path):
    good, datas = district_summary(tmp_path, "东川区", 2, seed=3)
    plain = tmp_path / "普通表格.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["单位编码", "单位名称"])
    wb.save(plain)
    other = tmp_path / "新版本.xlsx"
    wb = openpyxl.load_workbook(good)
    for row in wb["元数据"].iter_rows(min_row=2):
        if row[0].value == "格式":
            row[1].value = "perf-toolkit/summary/v9"
    wb.save(other)
    junk = tmp_path / "损坏.xlsx"
    junk.write_bytes(good.read_bytes()[:2000])
    accepted, rejected = read_summaries([plain, good, other, junk])
    assert [s.file for s in accepted] == [str(good)]
    reasons = dict(rejected)
    assert "不是 perf-toolkit 生成的绩效自评汇总表" in reasons[str(plain)]
    assert "perf-toolkit/summary/v9" in reasons[str(other)] and "perf-toolkit/summary/v1" in reasons[str(other)]
    assert "无法读取" in reasons[str(junk)]
    frames = rollup_frames(accepted, CITY)
    assert cents(frames["项目明细"]["全年预算数（万元）"].iloc[-1]) == cents(input_sum(datas, "adjusted_budget"))


def test_rollup_refuses_edited_city_and_other_year_files(tmp_path):
    good, _ = district_summary(tmp_path, "东川区", 2, seed=4)
    cut = tmp_path / "删行.xlsx"
    wb = openpyxl.load_workbook(good)
    wb["项目明细"].delete_rows(2)
    wb.save(cut)
    texted = tmp_path / "改数.xlsx"
    wb = openpyxl.load_workbook(good)
    ws = wb["项目明细"]
    column = [str(c.value).replace("\n", "") for c in ws[1]].index("全年预算数（万元）") + 1
    ws.cell(2, column).value = "=1+1"
    wb.save(texted)
    worded = tmp_path / "改成文字.xlsx"
    ws.cell(2, column).value = "一百万"
    wb.save(worded)
    old, _ = district_summary(tmp_path, "盘龙区", 2, seed=5, year=2022)
    city = tmp_path / "全市.xlsx"
    rollup([good], city, CITY)
    accepted, rejected = read_summaries([old, good])  # no year given: not the year of whichever sorts first
    assert accepted == [] and all("评价年度不止一个（2022、2023）" in r for _, r in rejected)
    accepted, rejected = read_summaries([good, cut, texted, worded, old, city], year=2023)
    assert [s.file for s in accepted] == [str(good)]
    reasons = dict(rejected)
    assert "应有" in reasons[str(cut)] and "实际读到" in reasons[str(cut)]
    assert "含有公式" in reasons[str(texted)]
    assert "第 2 行“全年预算数（万元）”不是数字" in reasons[str(worded)]
    assert "2022" in reasons[str(old)]
    assert "全市汇总表" in reasons[str(city)]


def test_rollup_two_different_summaries_of_one_district_are_both_refused_naming_each_other(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, _ = district_summary(tmp_path / "a", "东川区", 2, seed=6)
    second, _ = district_summary(tmp_path / "b", "东川区", 3, seed=7)
    accepted, rejected = read_summaries([second, first])
    assert accepted == []
    reasons = dict(rejected)
    assert set(reasons) == {str(first), str(second)}
    assert str(first) in reasons[str(second)] and "内容不同" in reasons[str(second)]


def test_rollup_the_same_summary_twice_counts_once_by_the_newer_copy(tmp_path):
    (tmp_path / "b").mkdir()
    older, _ = district_summary(tmp_path, "东川区", 2, seed=6)
    newer = tmp_path / "b" / older.name
    shutil.copy(older, newer)
    os.utime(older, (1_900_000_000, 1_900_000_000))
    os.utime(newer, (2_000_000_000, 2_000_000_000))
    accepted, rejected = read_summaries([newer, older])
    assert [s.file for s in accepted] == [str(newer)] and rejected[0][0] == str(older)
    assert "内容相同" in rejected[0][1]


def test_rollup_refuses_a_summary_that_names_no_district(tmp_path):
    unnamed, _ = district_summary(tmp_path, "", 2, seed=9)
    accepted, rejected = read_summaries([unnamed])
    assert accepted == [] and "没有写明区县名称" in rejected[0][1]


def test_rollup_command_reports_skipped_files_and_exit_codes(tmp_path):
    good, _ = district_summary(tmp_path, "东川区", 2, seed=8)
    junk = tmp_path / "说明.xlsx"
    junk.write_bytes(b"just text")
    runner = CliRunner()
    out = tmp_path / "out" / "全市汇总.xlsx"
    result = runner.invoke(cli, ["rollup", str(good), str(junk), "-o", str(out), "--name", "昆明市"])
    assert result.exit_code == 1, result.output
    assert f"已跳过 {junk}" in result.output and "已生成全市汇总表" in result.output and out.is_file()
    assert sheet(out, "区县汇总")["区县"].iloc[0] == "东川区"
    title = openpyxl.load_workbook(out)["总览"]["A1"].value
    assert title == "昆明市2023年度预算绩效自评情况汇总"
    result = runner.invoke(cli, ["rollup", str(tmp_path), "-o", str(tmp_path / "again.xlsx")])
    assert result.exit_code == 2 and "位于输入" in result.output  # inside an input: refused (issue 11)
    assert not (tmp_path / "again.xlsx").exists()
    result = runner.invoke(cli, ["rollup", str(tmp_path), "-o", str(tmp_path.parent / f"{tmp_path.name}-again.xlsx")])
    assert result.exit_code == 1 and "已生成全市汇总表" in result.output  # a folder: its .xlsx files
    result = runner.invoke(cli, ["rollup", str(junk), "-o", str(tmp_path / "none.xlsx")])
    assert result.exit_code == 2 and "没有可汇总的区县汇总表" in result.output
    assert not (tmp_path / "none.xlsx").exists()


def test_rollup_odd_edits_are_rejected_not_crashes(tmp_path):
    good, _ = district_summary(tmp_path, "东川区", 2, seed=9)
    renamed, doubled = tmp_path / "表头改名.xlsx", tmp_path / "表头重复.xlsx"
    wb = openpyxl.load_workbook(good)
    ws = wb["项目明细"]
    ws["B1"].value = ws["A1"].value  # 单位名称 renamed to 单位编码
    wb.save(renamed)
    wb = openpyxl.load_workbook(good)
    ws = wb["项目明细"]
    headers = [str(c.value).replace("\n", "") for c in ws[1]]
    ws.cell(1, headers.index("问题") + 1).value = "总分"  # a second 总分 column
    wb.save(doubled)
    accepted, rejected = read_summaries([renamed, doubled])
    reasons = dict(rejected)
    assert accepted == [] and reasons[str(renamed)] == "“项目明细”工作表缺少列：单位名称"
    assert "汇总表内容异常" in reasons[str(doubled)] and not re.search(r"[A-Za-z]", reasons[str(doubled)])


def test_rollup_of_nothing_usable_writes_nothing(tmp_path):
    from perf_toolkit.summary.rollup import NothingToRollUp

    (tmp_path / "不是汇总表.xlsx").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(NothingToRollUp, match="没有可汇总的区县汇总表"):
        rollup([tmp_path], tmp_path / "全市汇总.xlsx", CITY)
    assert not (tmp_path / "全市汇总.xlsx").exists()


def test_rollup_result_use_keeps_a_district_budget_cut(tmp_path):
    """A cut over the district's threshold (元数据 预算调减阈值) is listed one level up with its reason."""
    data = batch(1, seed=5)[0]
    data["projects"][0].update(code="CUT", funds=funds(45.08, 2.94, 2.94), indicators=standard_indicators())
    frames = summary_frames(evaluate_submissions(sourced_batch([data])), campaign(1, district="东川区"))
    district = write_summary(frames, tmp_path / "东川区汇总.xlsx")
    accepted, _ = read_summaries([district])
    use = rollup_frames(accepted, CITY)["结果应用"]
    cut = use[use["项目编码"] == "CUT"]
    assert list(cut["区县"]) == ["东川区"] and "调减 93.48%，超过 20%" in cut["列入原因"].iloc[0]


# ------------------------------------------------------------------ the checksum in 元数据


def test_summary_carries_a_checksum_that_matches_its_cells(tmp_path):
    good, _ = district_summary(tmp_path, "东川区", 3, seed=4)
    wb = openpyxl.load_workbook(good)
    facts = {row[0].value: row[1].value for row in wb["元数据"].iter_rows(min_row=2)}
    assert str(facts["校验值"]).startswith("sha256:") and len(facts["校验值"]) == len("sha256:") + 64
    resaved = tmp_path / "另存" / "东川区汇总.xlsx"  # opened and saved again, nothing changed: still matches
    resaved.parent.mkdir()
    wb.save(resaved)
    accepted, rejected = read_summaries([good, resaved])
    assert [s.name for s in accepted] == ["东川区"] and len(rejected) == 1 and "内容相同" in rejected[0][1]


@pytest.mark.parametrize("edit", ["figure", "name", "metadata", "checksum removed"])
def test_rollup_reports_a_summary_edited_by_hand(tmp_path, edit):
    good, _ = district_summary(tmp_path, "东川区", 3, seed=5)
    other, _ = district_summary(tmp_path, "盘龙区", 2, seed=6)
    edited = tmp_path / "edited" / "东川区汇总.xlsx"
    edited.parent.mkdir()
    wb = openpyxl.load_workbook(good)
    ws = wb["项目明细"]
    header = [str(c.value).replace("\n", "") for c in ws[1]]
    facts = wb["元数据"]
    labels = {row[0].value: row[0].row for row in facts.iter_rows(min_row=2)}
    if edit == "figure":  # a budget raised by hand: a number, the row count unchanged
        cell = ws.cell(2, header.index("全年预算数（万元）") + 1)
        cell.value = float(cell.value) + 100
    elif edit == "name":
        ws.cell(2, header.index("项目名称") + 1).value = "改过的项目名称"
    elif edit == "metadata":
        facts.cell(labels["低执行率阈值"], 2).value = 0.5
    else:
        facts.delete_rows(labels["校验值"])
    wb.save(edited)
    city = tmp_path / "全市汇总.xlsx"
    accepted, rejected = rollup([edited, other], city, CITY)
    assert [s.name for s in accepted] == ["盘龙区"]
    reasons = dict(rejected)
    assert list(reasons) == [str(edited)]
    expected = "没有校验值" if edit == "checksum removed" else "与生成时的校验值不符"
    assert expected in reasons[str(edited)]
    result = CliRunner().invoke(cli, ["rollup", str(edited), str(other), "-o", str(tmp_path / "全市2.xlsx")])
    assert result.exit_code == 1 and f"已跳过 {edited}：" in result.output


def test_rollup_names_every_file_of_a_folder_it_does_not_read(tmp_path):
    folder = tmp_path / "各区县"
    folder.mkdir()
    good, _ = district_summary(folder, "东川区", 2, seed=7)
    (folder / "说明.txt").write_text("不是汇总表", encoding="utf-8")
    (folder / "旧汇总.xls").write_bytes(b"old")
    (folder / "~$东川区汇总.xlsx").write_bytes(b"lock")
    (folder / "备份").mkdir()
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    accepted, rejected = rollup([folder], tmp_path / "全市汇总.xlsx", CITY)
    assert [s.file for s in accepted] == [str(good)]
    reasons = dict(rejected)
    assert set(reasons) == {str(folder / n) for n in ("说明.txt", "旧汇总.xls", "~$东川区汇总.xlsx", "备份")}
    assert "不是 .xlsx 文件" in reasons[str(folder / "说明.txt")] and "“.xls”" in reasons[str(folder / "旧汇总.xls")]
    assert "临时文件" in reasons[str(folder / "~$东川区汇总.xlsx")] and "子文件夹" in reasons[str(folder / "备份")]
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before  # inputs untouched


def test_a_text_longer_than_a_cell_in_emoji_still_matches_its_checksum(tmp_path):
    """A cell holds 32,767 UTF-16 units: 20,000 emoji (40,000 units) are cut to what the cell keeps, by the
    writer and the checksum alike, so the summary rolls up as written and nothing else is cut."""
    data = batch(1, seed=8)[0]
    data["projects"][0]["name"] = "项目" + "😀" * 20_000
    frames = summary_frames(evaluate_submissions(sourced_batch([data])), campaign(1, district="东川区"))
    district = write_summary(frames, tmp_path / "东川区汇总.xlsx")
    ws = openpyxl.load_workbook(district)["项目明细"]
    header = [str(c.value).replace("\n", "") for c in ws[1]]
    name = ws.cell(2, header.index("项目名称") + 1).value
    assert name == "项目" + "😀" * 16_382 and len(name.encode("utf-16-le")) // 2 == 32_766
    accepted, rejected = read_summaries([district])
    assert [s.name for s in accepted] == ["东川区"] and rejected == []


# ------------------------------------------------------------------ tables longer than a sheet


def test_a_table_longer_than_a_sheet_goes_on_in_continuation_sheets_and_rolls_up(tmp_path, monkeypatch):
    # Excel holds 1,048,576 rows a sheet and xlsxwriter drops a row beyond without a word: a province's
    # 问题清单 can be longer. Made small here: 3 rows a sheet (the header and 2 data rows).
    from perf_toolkit.summary import book, checksum

    datas = batch(6, seed=11)
    frames = summary_frames(evaluate_submissions(sourced_batch(datas)), campaign(6, 1, district="东川区"))
    monkeypatch.setattr(book, "MAX_SHEET_ROWS", 3)
    path = write_summary(frames, tmp_path / "东川区汇总.xlsx")
    wb = openpyxl.load_workbook(path)
    for name in ("项目明细", "指标明细", "问题清单"):
        frame = frames[name]
        parts = checksum.parts(name, wb.sheetnames)
        assert len(parts) == max(1, -(-len(frame) // 2)), name
        assert wb.sheetnames.index(parts[-1]) - wb.sheetnames.index(name) == len(parts) - 1  # side by side
        header = [c.value for c in wb[name][1]]
        rows = []
        for part in parts:
            ws = wb[part]
            assert [c.value for c in ws[1]] == header and ws.max_row <= 3, part
            rows += [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
        assert len(rows) == len(frame)  # every row, the 合计 (if any) last
        assert [r[0] for r in rows] == [None if v == "" else v for v in frame.iloc[:, 0]]
    assert len(checksum.parts("项目明细", wb.sheetnames)) > 2 and len(checksum.parts("指标明细", wb.sheetnames)) > 2
    # rollup reads every part back, and the checksum covers them: an edit in a continuation is caught
    district = read_summaries([path])[0][0]
    for name in ("项目明细", "指标明细", "问题清单"):
        assert len(district.tables[name]) == len(frames[name][frames[name].iloc[:, 0] != "合计"]), name
    edited = tmp_path / "改" / "东川区汇总.xlsx"
    edited.parent.mkdir()
    ws = wb[checksum.part_name("指标明细", 2)]
    ws.cell(2, 3).value = "改过的单位名称"
    wb.save(edited)
    accepted, rejected = read_summaries([edited])
    assert accepted == [] and "与生成时的校验值不符" in rejected[0][1]


def test_continuation_sheets_leave_the_checksum_of_a_summary_without_them_as_it_was():
    from perf_toolkit.summary import checksum

    cells = {"项目明细": {(1, 1): "s:单位编码", (2, 1): "n:3"}, "元数据": {(1, 1): "s:项目"}}
    streamed = checksum.Digest()
    for name in ("项目明细", "元数据"):
        sheet = streamed.sheet(name)
        for (r, c), v in sorted(cells[name].items()):
            sheet.cells.append(((r, c), v))
    assert streamed.value() == checksum.digest(cells)
    # with a continuation: the streamed digest and the one read back agree, and differ from without it
    more = {**cells, "项目明细（续2）": {(1, 1): "s:单位编码", (2, 1): "n:4"}}
    streamed = checksum.Digest()
    for name in ("项目明细", "项目明细（续2）", "元数据"):
        sheet = streamed.sheet(name)
        for (r, c), v in sorted(more[name].items()):
            sheet.cells.append(((r, c), v))
    assert streamed.value() == checksum.digest(more) != checksum.digest(cells)
    with pytest.raises(ValueError):  # a continuation after another table began: no sheet it may be
        bad = checksum.Digest()
        bad.sheet("项目明细")
        bad.sheet("指标明细")
        bad.sheet("项目明细（续2）")
