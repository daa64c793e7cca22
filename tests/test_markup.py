"""The marked-up workbook sent back to a department: marks on the exact cells, the 审核意见 sheet,
the input untouched, and a copy that reads back as the same submission."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import re
import zipfile
from pathlib import Path

import openpyxl
from builders import funds, saved_by_office, standard_indicators, submission
from click.testing import CliRunner

from perf_toolkit.check.evaluate import evaluate_paths
from perf_toolkit.cli import cli
from perf_toolkit.config import Campaign
from perf_toolkit.findings import CATALOGUE
from perf_toolkit.model import submission_from_dict
from perf_toolkit.profile import load_profile
from perf_toolkit.run import MARKUP_DIR, run_round
from perf_toolkit.workbook.markup import (
    AUTHOR,
    ERROR_COLOUR,
    REVIEW_SHEET,
    WARNING_COLOUR,
    write_markup,
    write_markups,
)
from perf_toolkit.workbook.read import read_workbook
from perf_toolkit.workbook.template import write_template

LEVEL = {"error": "错误", "warning": "警告"}


def faulty() -> dict:
    """Errors and warnings, two of them (an error and a warning) on the same cell (预算调整及执行情况说明).

    Its department is not the clean example's, so a batch of both is two departments, not a resubmission.
    """
    data = submission(standard_indicators(actual="80", claimed_score=20), fund_rows=funds(100, 70, 50),
                      goal="……")
    data["department"]["code"] = "599001"
    return data


def workbook(folder: Path, data: dict, name: str = "单位.xlsx") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_template(folder / name, submission_from_dict(copy.deepcopy(data)))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def colour(cell) -> str:
    return cell.fill.fgColor.rgb[-6:] if cell.fill and cell.fill.fill_type == "solid" else ""


def marked(tmp_path: Path, data: dict | None = None):
    """(input path, its FileResult, the marked-up copy's path)."""
    path = workbook(tmp_path / "in", data or faulty())
    result = evaluate_paths([path]).files[0]
    campaign = Campaign(bureau="某区财政局", deadline=dt.date(2024, 5, 31))
    out = write_markup(result, tmp_path / "out", campaign=campaign)
    return path, result, out


def comment_boxes(path: Path) -> dict[tuple[int, int], tuple[int, int]]:
    """(row, column) → (width, height) in px of every comment box in the file's VML drawings."""
    boxes = {}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.endswith(".vml"):
                vml = z.read(name).decode("utf-8")
                shapes = re.findall(r"width:(\d+)px;height:(\d+)px.*?Row>(\d+)<.*?Column>(\d+)<", vml)
                for w, h, r, c in shapes:
                    boxes[(int(r) + 1, int(c) + 1)] = (int(w), int(h))
    return boxes


def review_rows(ws) -> list[list]:
    header = next(r for r in range(1, 10) if ws.cell(r, 1).value == "序号")
    rows = []
    for r in range(header + 1, ws.max_row + 1):
        if not isinstance(ws.cell(r, 1).value, int):
            break
        rows.append([ws.cell(r, c).value for c in range(1, 7)] + [ws.cell(r, 5).hyperlink])
    return rows


# ------------------------------------------------------------------ the marks on the department's sheets


def test_markup_comments_and_fills_every_finding_cell(tmp_path):
    _, result, out = marked(tmp_path)
    assert out == tmp_path / "out" / "单位-审核意见.xlsx"
    wb = openpyxl.load_workbook(out)
    cells = {(f.sheet, f.cell) for f in result.findings if f.cell}
    assert len(cells) >= 4 and {s for s, _ in cells} == {"项目1"}
    boxes = comment_boxes(out)
    for sheet, cell in cells:
        mine = [f for f in result.findings if (f.sheet, f.cell) == (sheet, cell)]
        comment = wb[sheet][cell].comment
        assert comment is not None and comment.author == AUTHOR, (sheet, cell)
        expected = [f"【{LEVEL[f.severity]}】{CATALOGUE[f.code].title}：{f.message}"
                    for f in sorted(mine, key=lambda f: f.severity != "error")]
        assert comment.text.split("\n") == expected
        width, height = boxes[(wb[sheet][cell].row, wb[sheet][cell].column)]
        assert width >= 300 and height >= 16 * (len(expected) + 1)  # sized for its text
        worst = ERROR_COLOUR if any(f.severity == "error" for f in mine) else WARNING_COLOUR
        assert colour(wb[sheet][cell]) == worst, (sheet, cell)


def test_markup_error_wins_over_warning_on_a_shared_merged_cell(tmp_path):
    path, result, out = marked(tmp_path)
    note = read_workbook(path).sourced.locations["projects[0].budget_note"]
    codes = [f.code for f in result.findings if (f.sheet, f.cell) == (note.sheet, note.cell)]
    assert codes == ["execution-low-unexplained", "budget-adjusted-unexplained"]
    ws = openpyxl.load_workbook(out)[note.sheet]
    assert colour(ws[note.cell]) == ERROR_COLOUR
    text = ws[note.cell].comment.text
    assert text.startswith("【错误】执行率偏低未说明：") and "\n【警告】预算调整未说明：" in text
    merge = next(r for r in ws.merged_cells.ranges if note.cell in r)
    assert merge.coord.startswith(f"{note.cell}:")  # a merged box: marked on the first cell, which shows


def test_markup_keeps_protection_visibility_and_leaves_the_input_alone(tmp_path):
    path = workbook(tmp_path / "in", faulty())
    before = sha(path)
    result = evaluate_paths([path]).files[0]
    out = write_markup(result, tmp_path / "out")
    assert sha(path) == before
    original, copy_ = openpyxl.load_workbook(path), openpyxl.load_workbook(out)
    assert copy_.sheetnames == [REVIEW_SHEET, *original.sheetnames]
    for name in original.sheetnames:
        a, b = original[name], copy_[name]
        assert b.protection.sheet == a.protection.sheet, name
        assert (b.protection.formatRows, b.protection.insertRows, b.protection.deleteRows) == (
            a.protection.formatRows, a.protection.insertRows, a.protection.deleteRows)
        assert b.sheet_state == a.sheet_state, name
    assert any(original[n].protection.sheet for n in original.sheetnames)
    assert copy_.active.title == REVIEW_SHEET
    assert [ws.title for ws in copy_.worksheets if ws.sheet_view.tabSelected] == [REVIEW_SHEET]


def test_markup_copy_reads_back_as_the_same_submission_and_findings(tmp_path):
    path, result, out = marked(tmp_path)
    original, again = read_workbook(path), read_workbook(out)
    assert again.sourced.submission == original.sourced.submission
    assert again.sourced.locations == original.sourced.locations
    assert again.sourced.overrides == original.sourced.overrides
    # as written it is the toolkit's output, never a submission; once the department has saved it, it is one
    as_written = evaluate_paths([out])
    assert as_written.files == [] and "审核意见表" in as_written.skipped[0].reason
    saved_by_office(out)
    codes = [(f.code, f.sheet, f.cell) for f in evaluate_paths([out]).files[0].findings]
    assert codes == [(f.code, f.sheet, f.cell) for f in result.findings]


# ------------------------------------------------------------------ the 审核意见 sheet


def test_markup_review_sheet_lists_findings_errors_first_with_links(tmp_path):
    _, result, out = marked(tmp_path)
    ws = openpyxl.load_workbook(out)[REVIEW_SHEET]
    unit = result.sourced.submission.department.name
    assert ws["A1"].value == f"{unit}自评填报表审核意见"
    errors, warnings = result.errors, result.warnings
    assert errors and warnings
    assert "审核日期：" in ws["A2"].value and f"错误 {errors} 个、警告 {warnings} 个" in ws["A2"].value
    assert "审核单位：某区财政局" in ws["A2"].value
    assert ws["A3"].value.startswith("审核结果（按评分规则核定）：\n")
    header = [ws.cell(5, c).value for c in range(1, 7)]
    assert header == ["序号", "级别", "问题", "工作表", "单元格", "说明"]
    rows = review_rows(ws)
    expected = sorted(result.findings, key=lambda f: f.severity != "error")
    assert [r[:6] for r in rows] == [
        [n, LEVEL[f.severity], CATALOGUE[f.code].title, f.sheet, f.cell, f.message]
        for n, f in enumerate(expected, 1)]
    levels = [r[1] for r in rows]
    assert levels == sorted(levels, key=lambda x: x != "错误")
    for row, f in zip(rows, expected, strict=True):
        assert row[6].location == f"'{f.sheet}'!{f.cell}"
        assert colour(ws.cell(5 + row[0], 2)) == (ERROR_COLOUR if f.severity == "error" else WARNING_COLOUR)
    tail = [ws.cell(r, 1).value for r in range(6 + len(rows), ws.max_row + 1) if ws.cell(r, 1).value]
    assert any("原填报表" in t and "重新报送" in t and "2024年5月31日前" in t and "不读取" in t for t in tail)
    assert ws.freeze_panes == "A6"
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1
    assert ws["F6"].alignment.wrap_text and ws.column_dimensions["F"].width > 40


def test_markup_review_sheet_states_the_bureau_total_and_grade_of_each_project(tmp_path):
    """Two projects: one whose claimed scores the rules change (both totals stated), one with an error."""
    indicators = [dict(i, claimed_score=i["weight"]) for i in standard_indicators()]
    indicators[0].update(claimed_score=18, deviation_note="部分工作质量有待提高，自评扣2分")
    data = submission(indicators)
    second = copy.deepcopy(data["projects"][0])
    second.update(code="P-2", name="第二个项目", indicators=standard_indicators(actual=""))
    data["projects"].append(second)
    _, result, out = marked(tmp_path, data)
    first, other = result.projects
    assert (first.total_score, first.claimed_total, first.has_errors, other.has_errors) == (100.0, 98.0, False, True)
    text = openpyxl.load_workbook(out)[REVIEW_SHEET]["A3"].value
    assert text.split("\n") == [
        "审核结果（按评分规则核定）：",
        "项目“退役士兵社会保险配套经费”（530113-2023-001）：按评分规则核定总分 100.00 分，等级“优”"
        "（单位自评总分 98.00 分）。",
        f"项目“第二个项目”（P-2）：按评分规则核定总分 {other.total_score:.2f} 分，等级“{other.grade}”"
        f"，其中{len(other.unverified)}项指标的完成情况无法从填报内容核实、暂按自评得分计，总分和等级待核实"
        "；有错误未改正，改正后重新核定。",
    ]


def test_markup_finding_without_cell_is_listed_with_a_dash(tmp_path):
    path = workbook(tmp_path / "in", faulty())
    result = evaluate_paths([path]).files[0]
    cell_less = result.findings[0].__class__("year-mismatch", "error", "评价年度不符（测试）", result.file, None, None)
    result.findings.append(cell_less)
    ws = openpyxl.load_workbook(write_markup(result, tmp_path / "out"))[REVIEW_SHEET]
    row = next(r for r in review_rows(ws) if r[5] == "评价年度不符（测试）")
    assert row[3:5] == ["—", "—"] and row[6] is None
    assert ws["A2"].value.count(f"错误 {result.errors} 个")


def test_markup_finding_inside_a_merged_box_is_marked_on_its_first_cell(tmp_path):
    path = workbook(tmp_path / "in", faulty())
    result = evaluate_paths([path]).files[0]
    note = read_workbook(path).sourced.locations["projects[0].budget_note"]  # D13, merged across to K13
    inner = f"{chr(ord(note.cell[0]) + 2)}{note.cell[1:]}"
    result.findings.append(result.findings[0].__class__("placeholder-text", "warning", "合并格内（测试）",
                                                        result.file, note.sheet, inner))
    wb = openpyxl.load_workbook(write_markup(result, tmp_path / "out"))
    assert "【警告】占位文字未替换：合并格内（测试）" in wb[note.sheet][note.cell].comment.text
    row = next(r for r in review_rows(wb[REVIEW_SHEET]) if r[5] == "合并格内（测试）")
    assert row[4] == inner and row[6].location == f"'{note.sheet}'!{note.cell}"


def test_markup_hostile_text_stays_text(tmp_path):
    data = submission(standard_indicators(actual="=1+1"))
    data["department"]["name"] = "=HYPERLINK(\"http://x\",\"局\")"
    path, result, out = marked(tmp_path, data)
    actual = read_workbook(path).sourced.locations["projects[0].indicators[0].actual"]
    assert any((f.sheet, f.cell) == (actual.sheet, actual.cell) for f in result.findings)
    wb = openpyxl.load_workbook(out)
    cell = wb[actual.sheet][actual.cell]
    assert (cell.value, cell.data_type) == ("=1+1", "s") and "“=1+1”" in cell.comment.text
    title = wb[REVIEW_SHEET]["A1"]
    assert title.data_type == "s" and title.value.startswith("=HYPERLINK(")
    with zipfile.ZipFile(out) as z:
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml


# ------------------------------------------------------------------ files that get none, and batches


def test_markup_none_for_unreadable_clean_and_json_files_with_a_reason(tmp_path):
    inbox = tmp_path / "in"
    workbook(inbox, submission(), "无问题.xlsx")
    (inbox / "坏的.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    (inbox / "数据.json").write_text(json.dumps(faulty(), ensure_ascii=False), encoding="utf-8")
    evaluation = evaluate_paths([inbox, inbox / "数据.json"])
    results = {Path(m.file).name: m for m in write_markups(evaluation, tmp_path / "out")}
    assert set(results) == {"无问题.xlsx", "坏的.xlsx", "数据.json"}
    assert all(m.path is None for m in results.values())
    assert "没有发现问题" in results["无问题.xlsx"].reason
    assert "未能按填报表读取" in results["坏的.xlsx"].reason
    assert "JSON" in results["数据.json"].reason and results["数据.json"].reason.startswith("未生成")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert write_markup(evaluation.files[0], tmp_path / "out") is None


def test_markup_hostile_workbook_fails_alone_and_the_batch_goes_on(tmp_path):
    good = workbook(tmp_path / "a", faulty(), "甲.xlsx")
    source = workbook(tmp_path / "b", faulty(), "乙.xlsx")
    bad = tmp_path / "b" / "坏样式.xlsx"
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(bad, "w") as o:
        for info in z.infolist():  # the reader ignores styles; openpyxl chokes on this one
            o.writestr(info, b"<styleSheet xmlns='http://schemas.openxmlformats.org/spreadsheetml/2006/main'>"
                             b"<cellXfs><xf numFmtId='abc'/></cellXfs></styleSheet>"
                       if info.filename == "xl/styles.xml" else z.read(info))
    source.unlink()
    evaluation = evaluate_paths([good, bad])
    assert all(r.sourced is not None and r.findings for r in evaluation.files)
    results = write_markups(evaluation, tmp_path / "out")
    assert results[0].path is not None and results[0].path.is_file()
    assert results[1].path is None and results[1].reason.startswith("无法生成审核意见：")
    # the reason is for a clerk: Chinese, no exception name; the technical cause is kept apart
    assert not re.search(r"[A-Za-z]", results[1].reason) and results[1].detail


def test_markup_refuses_a_file_changed_since_it_was_checked(tmp_path):
    evaluation = evaluate_paths([workbook(tmp_path / "in", faulty())])
    workbook(tmp_path / "in", submission(goal="改过了"))  # the department's newer file, same name
    [outcome] = write_markups(evaluation, tmp_path / "out")
    assert outcome.path is None and "审核之后被改动" in outcome.reason


def test_markup_names_are_safe_and_unique_when_stems_collide(tmp_path):
    first = workbook(tmp_path / "甲", faulty(), "单位.xlsx")
    second = workbook(tmp_path / "乙", faulty(), "单位.XLSX")
    results = write_markups(evaluate_paths([first, second]), tmp_path / "out")
    assert [m.path.name for m in results] == ["单位-审核意见.xlsx", "单位-审核意见-2.xlsx"]


def test_markup_of_a_returned_marked_copy_replaces_the_old_marks(tmp_path):
    _, _, out = marked(tmp_path)
    saved_by_office(out)  # the department opened the copy, fixed nothing, saved it and mailed it back
    again = evaluate_paths([out]).files[0]
    second = write_markup(again, tmp_path / "again")
    wb = openpyxl.load_workbook(second)
    assert wb.sheetnames.count(REVIEW_SHEET) == 1 and wb.sheetnames[0] == REVIEW_SHEET
    for f in again.findings:
        if f.cell:
            assert "原批注" not in wb[f.sheet][f.cell].comment.text
    assert len(review_rows(wb[REVIEW_SHEET])) == len(again.findings)


# ------------------------------------------------------------------ the CLI and the round


def test_check_markup_option_writes_copies(tmp_path):
    inbox = tmp_path / "收件箱"
    workbook(inbox, faulty(), "有问题.xlsx")
    workbook(inbox, submission(), "无问题.xlsx")
    out = tmp_path / "意见"
    result = CliRunner().invoke(cli, ["check", str(inbox), "--markup", str(out)], catch_exceptions=False)
    assert result.exit_code == 1
    assert f"已为 1 个有问题的填报表生成审核意见，保存在 {out}/，可直接发回各单位" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["有问题-审核意见.xlsx"]
    result = CliRunner().invoke(cli, ["check", str(inbox), "--json", "--markup", str(tmp_path / "j")],
                                catch_exceptions=False)
    assert json.loads(result.stdout)["summary"]["files"] == 2
    assert (tmp_path / "j" / "有问题-审核意见.xlsx").is_file()
    assert "--markup 文件夹" in CliRunner().invoke(cli, ["check", "--help"]).output


def test_run_round_writes_markups_and_removes_stale_ones(tmp_path):
    inbox = tmp_path / "收件箱"
    workbook(inbox, faulty(), "有问题.xlsx")
    workbook(inbox, submission(), "无问题.xlsx")
    folder = tmp_path / "out" / MARKUP_DIR
    folder.mkdir(parents=True)
    (folder / "无问题-审核意见.xlsx").write_bytes(b"stale")  # from a round before the department fixed it
    (folder / "说明.txt").write_text("keep", encoding="utf-8")
    campaign = Campaign(history_path=tmp_path / "history.sqlite")
    result = run_round([inbox], campaign, load_profile(), tmp_path / "out", history=False)
    made = [m for m in result.markups if m.path is not None]
    assert [m.path.name for m in made] == ["有问题-审核意见.xlsx"]
    assert sorted(p.name for p in folder.iterdir()) == ["有问题-审核意见.xlsx", "说明.txt"]
    assert openpyxl.load_workbook(made[0].path).sheetnames[0] == REVIEW_SHEET
