"""Formulas typed into input cells: read as the result the file saved, or, with none saved, not scored.

Every case is a real workbook: the standard workbook with a formula typed over an input cell by
openpyxl (which saves no result, as any program that does not compute), or written into the
sheet's XML with its result the way Excel saves it (`builders.saved_formula`), or recalculated and
saved by LibreOffice. One inbox is evaluated once; each output is then opened and read back.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import subprocess
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from builders import example_dict, saved_formula
from click.testing import CliRunner

from perf_toolkit.check.evaluate import evaluate_paths
from perf_toolkit.cli import cli
from perf_toolkit.config import Campaign
from perf_toolkit.model import FundSource, submission_from_dict
from perf_toolkit.report.render import render_reports
from perf_toolkit.summary.consolidate import summarize
from perf_toolkit.summary.rollup import rollup
from perf_toolkit.workbook.guard import load_raw
from perf_toolkit.workbook.markup import score_lines
from perf_toolkit.workbook.read import read_workbook
from perf_toolkit.workbook.template import write_template

PENDING = "待核实"
# 项目1 of the standard workbook: D6 实施单位; row 10 当年财政拨款 (D 年初预算数, E 全年预算数, F 全年执行数);
# the second indicator on row 19 (G 实际完成值).
NO_RESULT_EXECUTED, SAVED_EXECUTED, NO_RESULT_ACTUAL, NO_RESULT_INITIAL = "甲局", "乙局", "丁局", "戊局"


def _department(folder: Path, name: str, code: str) -> Path:
    data = example_dict()
    data["department"].update(code=code, name=name)
    path = folder / f"{name}.xlsx"
    write_template(path, submission_from_dict(copy.deepcopy(data)))
    return path


def _typed(path: Path, **cells) -> None:
    """Type formulas over cells of 项目1 with openpyxl: no result is saved with them."""
    wb = openpyxl.load_workbook(path)
    for cell, formula in cells.items():
        wb["项目1"][cell] = formula
    wb.save(path)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("formulas") / "收件箱"
    folder.mkdir()
    _typed(_department(folder, NO_RESULT_EXECUTED, "A"), F10="=E10*0.9")
    saved_formula(_department(folder, SAVED_EXECUTED, "B"), "项目1", "F10", "E10*0.9", 2.646)
    _typed(_department(folder, NO_RESULT_ACTUAL, "D"), G19="=95%+5%")
    _typed(_department(folder, NO_RESULT_INITIAL, "E"), D10="=45+0.08", D6="=pt_dept_name")
    return folder


@pytest.fixture(scope="module")
def evaluation(inbox):
    return evaluate_paths([inbox])


def _project(evaluation, name: str):
    [project] = [p for p in evaluation.projects if p.department.name == name]
    return project


def _codes(project) -> list[tuple[str, str | None]]:
    return [(f.code, f.cell) for f in project.findings]


# ------------------------------------------------------------------ reading and scoring


def test_formula_with_saved_result_is_read_as_that_result_with_a_warning(evaluation):
    project = _project(evaluation, SAVED_EXECUTED)
    assert project.fund(FundSource.CURRENT).executed == 2.646
    assert project.scored and project.execution_rate == pytest.approx(0.9) and project.total_score == 99.0
    [finding] = [f for f in project.findings if f.code == "value-formula"]
    assert (finding.severity, finding.sheet, finding.cell) == ("warning", "项目1", "F10")
    assert "全年执行数" in finding.message and "2.646" in finding.message and "公式" in finding.message
    assert not project.has_errors


def test_formula_without_saved_result_in_executed_leaves_the_project_not_scored(evaluation):
    project = _project(evaluation, NO_RESULT_EXECUTED)
    assert not project.scored and not project.rate_known
    assert (project.execution_rate, project.execution_score, project.total_score, project.grade) == (
        None, None, None, PENDING)
    assert project.total.executed is None and project.total.adjusted_budget == 2.94
    assert project.indicator_score == 90.0  # the indicators are known: scored as usual
    [finding] = [f for f in project.findings if f.code == "value-unreadable"]
    assert (finding.severity, finding.cell, finding.path) == ("error", "F10", "projects[0].funds[0].executed")
    assert "没有保存" in finding.message and "待核实" in finding.message
    # nothing judged on the unknown rate; the budget cut (45.08 → 2.94, both known) still is
    codes = [code for code, _ in _codes(project)]
    assert "execution-low-unexplained" not in codes and "budget-missing" not in codes
    assert "budget-adjusted-unexplained" in codes


def test_formula_without_saved_result_in_an_actual_leaves_its_indicator_unscored(evaluation):
    project = _project(evaluation, NO_RESULT_ACTUAL)
    indicator = project.indicators[1]
    assert (indicator.scored, indicator.score, indicator.met, indicator.unknown) == (False, None, None, ("actual",))
    assert not project.scored and project.rate_known and project.execution_score == 10.0
    assert (project.indicator_score, project.total_score, project.grade) == (None, None, PENDING)
    assert project.level1_scores["产出指标"] is None and project.level1_scores["效益指标"] == 30.0
    # the reader's error says it all: not also "empty", "unmet" or "unparseable"
    assert [code for code, cell in _codes(project) if cell == "G19" or code.startswith("indicator-")] == [
        "value-unreadable"]


def test_formula_without_saved_result_in_initial_budget_or_a_text_keeps_the_score(evaluation):
    project = _project(evaluation, NO_RESULT_INITIAL)
    assert project.scored and (project.total_score, project.grade) == (100.0, "优")
    assert not project.column_known("initial_budget") and project.total.initial_budget is None
    found = {f.cell: f for f in project.findings if f.code == "value-unreadable"}
    assert set(found) == {"D10", "D6"}
    assert all("待核实" not in f.message for f in found.values())  # neither stops the score
    assert "budget-adjusted-unexplained" not in [code for code, _ in _codes(project)]  # the cut is not known


def test_check_json_says_not_scored(evaluation):
    files = {Path(r["file"]).stem: r for r in json.loads(json.dumps(evaluation.to_dict()))["files"]}
    pending = files[NO_RESULT_EXECUTED]["projects"][0]
    assert (pending["scored"], pending["total_score"], pending["grade"], pending["execution_rate"]) == (
        False, None, PENDING, None)
    assert pending["unknown"] == ["projects[0].funds[0].executed"]
    indicator = files[NO_RESULT_ACTUAL]["projects"][0]
    assert indicator["unknown"] == ["projects[0].indicators[1].actual"] and indicator["indicators"][1]["score"] is None
    assert (files[SAVED_EXECUTED]["projects"][0]["scored"], files[SAVED_EXECUTED]["projects"][0]["unknown"]) == (
        True, [])


def test_scan_tells_a_saved_result_from_none(tmp_path):
    path = _department(tmp_path, "单位", "X")
    saved_formula(path, "项目1", "F10", "E10*0.9", 2.646)
    saved_formula(path, "项目1", "F11", '""', "")  # a text result that is empty is still a result
    saved_formula(path, "项目1", "F12", "1/0", "#DIV/0!", error=True)
    saved_formula(path, "项目1", "E11", "E10*2")  # no result, as openpyxl saves it
    sheet = load_raw(path).sheet("项目1")
    assert {(10, 6), (11, 6), (12, 6), (11, 5)} <= sheet.formulas
    assert sheet.cached == {(10, 6): 2.646, (11, 6): ""} and sheet.errors == {(12, 6): "#DIV/0!"}
    read = read_workbook(path)
    funds = read.sourced.submission.projects[0].funds
    assert (funds[0].executed, funds[1].executed, funds[2].executed, funds[1].adjusted_budget) == (
        2.646, "", "#DIV/0!", None)
    assert sorted((f.code, f.cell) for f in read.findings) == [
        ("value-formula", "F10"), ("value-formula", "F11"), ("value-formula", "F12"), ("value-unreadable", "E11")]
    assert read.sourced.unknown == {"projects[0].funds[1].adjusted_budget"}


def test_workbook_recalculated_by_libreoffice_is_scored_from_its_saved_results(tmp_path, soffice, inbox):
    source = inbox / f"{NO_RESULT_EXECUTED}.xlsx"
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(tmp_path / "out"), str(source)],
                   check=True, capture_output=True, timeout=180)
    [project] = evaluate_paths([tmp_path / "out" / source.name]).projects
    assert project.scored and project.fund(FundSource.CURRENT).executed == 2.646
    assert (project.total_score, project.grade) == (99.0, "优")
    assert [(f.code, f.cell) for f in project.findings if f.severity == "error"] == []
    assert ("value-formula", "F10") in _codes(project)


# ------------------------------------------------------------------ every output says 待核实


def _text(path: Path) -> str:
    from docx import Document

    return "\n".join(p.text for p in Document(path).paragraphs)


def _rows(path: Path) -> list[list[str]]:
    """The 自评表's rows, each cell once (a merged cell repeats in python-docx)."""
    from docx import Document

    rows = []
    for table in Document(path).tables:
        for row in table.rows:
            cells = row.cells
            rows.append([c.text for k, c in enumerate(cells) if k == 0 or c._tc is not cells[k - 1]._tc])
    return rows


def test_report_and_table_show_pending_never_zero(evaluation, tmp_path):
    written = {w.department: w for w in render_reports(evaluation, tmp_path)}
    report, table = _text(written[NO_RESULT_EXECUTED].report), _rows(written[NO_RESULT_EXECUTED].table)
    assert written[NO_RESULT_EXECUTED].total_score is None and written[NO_RESULT_EXECUTED].grade == PENDING
    assert "全年执行数待核实" in report and "预算执行率和预算执行得分（分值10分）待核实" in report
    assert "自评总分和等级待核实" in report and "自评等级为" not in report
    notes = _text(written[NO_RESULT_EXECUTED].notes)  # why: in the 审核附注, not in the department's report
    assert "项目暂不评分" in notes or "项目暂不评分" in "".join(c for r in _rows(written[NO_RESULT_EXECUTED].notes)
                                                          for c in r)
    # 年度资金总额: 年初预算数, 全年预算数, 全年执行数, 分值, 执行率, 得分; then 当年财政拨款; the 总分 row
    assert next(r for r in table if "年度资金总额" in r)[-6:] == ["45.08", "2.94", PENDING, "10", PENDING, PENDING]
    assert next(r for r in table if "其中：当年财政拨款" in r)[-6:] == ["45.08", "2.94", PENDING, "—", PENDING, "—"]
    assert next(r for r in table if r[0] == "总分")[-2:] == [PENDING, "自评等级：待核实"]
    report = _text(written[NO_RESULT_ACTUAL].report)
    assert "全年实际完成值待核实" in report and "指标得分合计待核实" in report and "产出指标待核实" in report
    assert "指标值未填写" not in report and "实际完成值未填写" not in report


def test_summary_shows_pending_and_keeps_it_out_of_totals(evaluation, tmp_path):
    out, db = tmp_path / "汇总.xlsx", tmp_path / "history.sqlite"
    summarize(evaluation, Campaign(year=2023), out, history_path=db)
    frame = _sheet(out, "项目明细")
    projects, total = frame.set_index("单位名称"), frame[frame["单位编码"] == "合计"].iloc[0]
    pending = projects.loc[NO_RESULT_EXECUTED]
    assert (pending["全年执行数（万元）"], pending["执行率"], pending["总分"], pending["等级"]) == (PENDING,) * 4
    assert "暂不评分" in pending["标记"]
    assert (projects.loc[NO_RESULT_ACTUAL, "总分"], projects.loc[NO_RESULT_ACTUAL, "产出指标得分"]) == (PENDING, PENDING)
    assert projects.loc[NO_RESULT_INITIAL, "年初预算数（万元）"] == PENDING
    # totals and means over what is known: 甲局's budget and spending are both left out
    assert total["全年预算数（万元）"] == pytest.approx(2.94 * 3)
    assert total["全年执行数（万元）"] == pytest.approx(2.646 + 2.94 + 2.94)
    assert total["年初预算数（万元）"] == pytest.approx(45.08 * 3)  # 戊局's is not known: 甲局's is
    overview = [row for row in openpyxl.load_workbook(out)["总览"].iter_rows(values_only=True)]
    figures = {row[0]: row[1] for row in overview[:overview.index(("二、项目等级分布", None, None, None, None))]}
    assert figures["平均得分（简单平均）"] == pytest.approx((99 + 100) / 2)
    grades = overview[overview.index(("二、项目等级分布", None, None, None, None)):]
    assert next(row for row in grades if row[0] == PENDING)[1] == 2  # its own row of the grade distribution
    used = _sheet(out, "结果应用").set_index("单位名称")
    assert {NO_RESULT_EXECUTED, NO_RESULT_ACTUAL} <= set(used.index)
    assert used.loc[NO_RESULT_EXECUTED, "总分"] == PENDING and "待核实" in used.loc[NO_RESULT_EXECUTED, "列入原因"]
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT dept_code, grade FROM project_results"))
        scores = dict(conn.execute("SELECT dept_code, total_score FROM project_results"))
    assert (rows["A"], scores["A"], rows["B"], scores["B"]) == (PENDING, None, "优", 99.0)


def test_rollup_keeps_a_districts_pending_projects(evaluation, tmp_path):
    district = tmp_path / "东川区汇总.xlsx"
    summarize(evaluation, Campaign(year=2023, district="东川区"), district, history_path=None)
    accepted, rejected = rollup([district], tmp_path / "全市.xlsx", Campaign(year=2023, district="昆明市"))
    assert rejected == [] and len(accepted) == 1
    projects = _sheet(tmp_path / "全市.xlsx", "项目明细").set_index("单位名称")
    assert (projects.loc[NO_RESULT_EXECUTED, "总分"], projects.loc[NO_RESULT_EXECUTED, "等级"]) == (PENDING, PENDING)


def test_score_command_table_and_workbook_show_pending(inbox, tmp_path):
    result = CliRunner().invoke(cli, ["score", str(inbox), "-o", str(tmp_path / "得分.xlsx")],
                                catch_exceptions=False)
    assert result.exit_code == 1  # the files with no saved result have errors
    [line] = [x for x in result.output.splitlines() if x.startswith(NO_RESULT_EXECUTED)]
    assert line.split()[-6:] == ["待核实", "待核实", "待核实", "90.00", "待核实", "待核实"]
    scores = pd.read_excel(tmp_path / "得分.xlsx", sheet_name="项目得分", engine="openpyxl").set_index("单位名称")
    assert (scores.loc[NO_RESULT_EXECUTED, "总分"], scores.loc[NO_RESULT_EXECUTED, "等级"]) == (PENDING, PENDING)
    assert scores.loc[SAVED_EXECUTED, "总分"] == 99


def _sheet(path: Path, name: str) -> pd.DataFrame:
    frame = pd.read_excel(path, sheet_name=name, engine="openpyxl")
    return frame.rename(columns=lambda c: str(c).replace("\n", ""))


def test_formula_without_saved_result_in_a_weight_is_not_judged_and_prints_pending(tmp_path):
    path = _department(tmp_path, "单位", "W")
    _typed(path, H18="=10+10")  # 分值 of the first indicator
    evaluation = evaluate_paths([path])
    [project] = evaluation.projects
    assert not project.scored and project.indicators[0].unknown == ("weight",)
    assert "weight-sum-mismatch" not in [f.code for f in evaluation.findings]  # the sum is not known
    [written] = render_reports(evaluation, tmp_path / "out")
    report = _text(written.report)
    assert "分值合计待核实（预算执行率另计10分）" in report and "（1）产出指标（分值待核实）" in report
    assert next(r for r in _rows(written.table) if "享受基本养老保险补缴的退役士兵人数的应补尽补率" in r)[-4:-1] == [
        "100%", PENDING, PENDING]


def test_not_scored_project_compares_no_claimed_total_and_states_no_weight_sum_beside_it(tmp_path):
    """Weights adding up to 110 and a typed 总分 of 105 on a project whose 全年执行数 has no saved result:
    its total is 待核实 everywhere, never "自评105.00分，按规则核定待核实" nor "待核实（分值合计110分）"."""
    data = example_dict()
    data["projects"][0]["indicators"][0].update(weight=30, claimed_score=30)  # 10 + 30+10+10+10+30+10 = 110
    path = tmp_path / "收件箱" / "单位.xlsx"
    path.parent.mkdir()
    write_template(path, submission_from_dict(data))
    _typed(path, F10="=E10*0.9", H39=105)  # H39: the 总分, typed over its formula
    evaluation = evaluate_paths([path])
    [project] = evaluation.projects
    assert (project.scored, project.total_score, project.grade, project.claimed_total) == (False, None, PENDING, 105.0)
    assert project.weight_sum_wrong and project.total_weight == 110
    assert "weight-sum-mismatch" in [f.code for f in project.findings]  # the sum itself is still reported
    [written] = render_reports(evaluation, tmp_path / "out")
    report = _text(written.report)
    assert "自评总分和等级待核实" in report
    assert "按规则核定" not in report and "单位自评总分" not in report and "分值合计110" not in report
    table = _rows(written.table)
    assert next(r for r in table if r[0] == "总分")[-3:] == ["110", PENDING, "自评等级：待核实"]
    assert not any("按规则核定" in cell for row in table for cell in row)
    [line] = score_lines(evaluation.files[0])
    assert "总分和等级待核实" in line and "105" not in line and "—" not in line
    result = CliRunner().invoke(cli, ["score", str(path)], catch_exceptions=False)
    [row] = [x for x in result.output.splitlines() if x.startswith("昆明市东川区退役军人事务局")]
    assert row.split()[-2:] == [PENDING, PENDING] and "分值合计" not in row
    summarize(evaluation, Campaign(year=2023), tmp_path / "汇总.xlsx", history_path=None)
    summary = _sheet(tmp_path / "汇总.xlsx", "项目明细").iloc[0]
    assert (summary["总分"], summary["分值合计"]) == (PENDING, 110)
    assert "暂不评分" in summary["标记"] and "分值合计" not in summary["标记"]
