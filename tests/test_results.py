"""The typed results every stage after scoring reads: fund sources, resubmissions, parameters as data."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import os
from pathlib import Path

import openpyxl
import pytest
from builders import example_dict, funds, standard_indicators, submission
from click.testing import CliRunner
from docx import Document

import perf_toolkit as pt
from perf_toolkit.cli import cli
from perf_toolkit.config import Campaign, RosterEntry
from perf_toolkit.model import ACCEPTED, SUPERSEDED, FundSource


def write(folder: Path, name: str, data: dict, when: int | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = pt.write_template(folder / name, pt.submission_from_dict(copy.deepcopy(data)))
    if when is not None:
        os.utime(path, (when, when))
    return path


def alias_funds() -> list[dict]:
    """当年财政拨款 typed as 财政资金 (an alias of the official form), 上年结转 as 上年结转."""
    rows = funds(50, 45.08, 40.5)
    rows[0]["source"] = "财政资金"
    rows[1].update(source="上年结转", initial_budget=0, adjusted_budget=2, executed=1.5)
    return rows


def test_alias_fund_source_is_its_canonical_source_in_results_report_and_summary(tmp_path):
    data = submission(fund_rows=alias_funds())
    inbox = tmp_path / "in"
    (inbox).mkdir()
    (inbox / "单位.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = pt.evaluate_paths([inbox / "单位.json"])
    [project] = result.projects
    assert project.fund(FundSource.CURRENT).adjusted_budget == 45.08
    assert project.fund(FundSource.CARRIED_OVER).executed == 1.5
    assert round(project.total.adjusted_budget, 2) == 47.08
    assert not [f for f in result.findings if f.code == "value-unreadable"]

    [rendered] = pt.render_reports(result, tmp_path / "reports")
    text = "\n".join(p.text for p in Document(rendered.report).paragraphs)
    assert "其中：当年财政拨款45.08万元，上年结转资金2.00万元" in text
    cells = {c.text for t in Document(rendered.table).tables for row in t.rows for c in row.cells}
    assert {"45.08", "40.50", "2.00", "1.50"} <= cells

    pt.summarize(result, Campaign(year=2023), tmp_path / "汇总.xlsx", history_path=None)
    rows = list(openpyxl.load_workbook(tmp_path / "汇总.xlsx")["项目明细"].iter_rows(values_only=True))
    head = next(r for r in rows if r and "单位编码" in [str(x).replace("\n", "") for x in r if x])
    header = [str(x).replace("\n", "") if x else "" for x in head]
    first = rows[rows.index(head) + 1]
    assert first[header.index("当年财政拨款·全年预算数（万元）")] == 45.08
    assert first[header.index("上年结转资金·全年执行数（万元）")] == 1.5


def test_unknown_fund_source_is_a_finding_and_counts_only_in_the_total(tmp_path):
    rows = funds(10, 10, 10)
    rows[2]["source"] = "社会捐赠"
    rows[2].update(adjusted_budget=5, executed=5)
    result = pt.evaluate_submissions([pt.SourcedSubmission(pt.submission_from_dict(submission(fund_rows=rows)))])
    [project] = result.projects
    assert project.total.adjusted_budget == 15 and FundSource.OTHER not in project.funds
    [finding] = [f for f in result.findings if f.code == "value-unreadable"]
    assert finding.path == "projects[0].funds[2].source" and "社会捐赠" in finding.message
    assert finding.params["value"] == "社会捐赠"


def test_check_json_lists_superseded_for_two_files_of_one_department(tmp_path):
    inbox = tmp_path / "收件箱"
    older = write(inbox, "第一次报送.xlsx", example_dict(), when=1_700_000_000)
    newer = write(inbox, "修改后.xlsx", example_dict(), when=1_700_100_000)
    done = CliRunner().invoke(cli, ["check", str(inbox), "--json"], catch_exceptions=False)
    report = json.loads(done.output)
    by_file = {Path(f["file"]).name: f for f in report["files"]}
    old, new = by_file[older.name], by_file[newer.name]
    assert (old["state"], old["superseded_by"]) == (SUPERSEDED, str(newer))
    assert new["state"] == ACCEPTED and not any(f["code"] == "superseded" for f in new["findings"])
    [notice] = [f for f in old["findings"] if f["code"] == "superseded"]
    assert (notice["sheet"], notice["params"]["newer"]) == ("单位信息", newer.name) and notice["cell"]
    assert report["summary"]["superseded"] == 1


def test_roster_findings_reach_the_json_and_the_markup(tmp_path):
    inbox = tmp_path / "收件箱"
    write(inbox, "单位.xlsx", example_dict())
    result = pt.evaluate_paths([inbox], roster=[RosterEntry("999", "别的单位")])
    [unknown] = [f for f in result.findings if f.code == "department-unknown"]
    assert unknown.params["dept_code"] == example_dict()["department"]["code"]
    assert "department-unknown" in {f["code"] for f in result.to_dict()["files"][0]["findings"]}
    [marked] = pt.write_markups(result, tmp_path / "意见")
    review = openpyxl.load_workbook(marked.path).worksheets[0]
    assert any("不在本轮报送名单中" in str(c.value) for row in review.iter_rows() for c in row)


def test_scored_project_is_read_by_attribute_and_frozen():
    result = pt.evaluate_submissions([pt.SourcedSubmission(pt.submission_from_dict(example_dict()))])
    [project] = result.counted_projects
    assert (project.total_score, project.grade, project.execution_rate) == (100.0, "优", 1.0)
    assert project.level1_scores["产出指标"] == 50 and sum(i.score for i in project.indicators) == 90
    assert all(i.met is True for i in project.indicators)
    with pytest.raises(dataclasses.FrozenInstanceError):
        project.grade = "差"


def test_score_marks_the_projects_of_a_replaced_file(tmp_path):
    inbox = tmp_path / "收件箱"
    write(inbox, "第一次报送.xlsx", example_dict(), when=1_700_000_000)
    write(inbox, "修改后.xlsx", example_dict(), when=1_700_100_000)
    done = CliRunner().invoke(cli, ["score", str(inbox)], catch_exceptions=False)
    lines = [line for line in done.output.splitlines() if "退役士兵社会保险配套经费" in line]
    assert len(lines) == 2 and sum("（已被 修改后.xlsx 替代）" in line for line in lines) == 1


def _claims(*claimed) -> dict:
    """The builders' submission with claimed scores (None: left blank) on its six indicators."""
    data = submission()
    for ind, score in zip(data["projects"][0]["indicators"], claimed, strict=True):
        ind["claimed_score"] = score
    return data


def test_claimed_total_is_what_the_form_shows_when_every_weighted_indicator_is_claimed(tmp_path):
    """The form's 总分: the budget score + Σ claimed scores; typed over its formula, the typed figure."""
    full = write(tmp_path / "a", "全.xlsx", _claims(18, 10, 10, 10, 30, 10))
    partly = write(tmp_path / "b", "缺.xlsx", _claims(20, None, 10, 10, 30, 10))
    typed = write(tmp_path / "c", "改.xlsx", _claims(20, 10, 10, 10, 30, 10))
    wb = openpyxl.load_workbook(typed)
    wb["项目1"]["H39"] = 95
    wb.save(typed)
    evaluation = pt.evaluate_paths([full, partly, typed])
    by_file = {Path(p.file).name: p for p in evaluation.projects}
    assert (by_file["全.xlsx"].claimed_total, by_file["全.xlsx"].total_score) == (98.0, 100.0)
    assert by_file["缺.xlsx"].claimed_total is None  # a form left partly blank claims no total
    assert by_file["改.xlsx"].claimed_total == 95.0
    report = evaluation.to_dict()
    assert [p["claimed_total"] for f in report["files"] for p in f["projects"]] == [98.0, None, 95.0]


def test_unverifiable_indicators_follow_one_rule_and_make_the_total_provisional_everywhere(tmp_path):
    """A quantitative actual with no number and a qualitative text outside the bands are treated alike:
    the claimed score within the weight, the total and grade 待核实; a placeholder row "指标1" with weight
    0 is no indicator at all."""
    inds = standard_indicators(actual="待验收", claimed_score=8)  # 数量, weight 20: no number to compare
    inds[4].update(direction="定性", target="明显提高", actual="有所提高", claimed_score=25)  # weight 30
    inds.append(dict(inds[0], name="指标1", target="", actual="", weight=0, claimed_score=None, basis="",
                     deviation_note="", direction=""))
    path = write(tmp_path / "in", "单位.xlsx", submission(inds))
    result = pt.evaluate_paths([path])
    [project] = result.projects
    assert [i.name for i in project.indicators] == ["数量", "质量", "时效", "成本", "社会效益", "满意度"]
    quantity, social = project.indicators[0], project.indicators[4]
    assert (quantity.verifiable, quantity.score, social.verifiable, social.score) == (False, 8.0, False, 25.0)
    assert project.unverified == (quantity, social) and project.provisional and project.scored
    assert project.total_score == 10 + 8 + 10 + 10 + 10 + 25 + 10
    assert {f.code for f in project.findings} >= {"indicator-unparseable", "qualitative-unrecognised"}

    [rendered] = pt.render_reports(result, tmp_path / "reports")
    text = "\n".join(p.text for p in Document(rendered.report).paragraphs)
    # the report states the total the rules give, marked provisional; the 审核附注 says why
    assert f"自评总分{project.total_score:.2f}分，自评等级为“{project.grade}”（待核实）。" in text
    notes = [c.text for t in Document(rendered.notes).tables for row in t.rows for c in row.cells]
    assert (f"2项指标（“数量”、“社会效益”）的完成情况无法从填报内容核实，暂按自评得分计，总分{project.total_score:.2f}分"
            f"和等级“{project.grade}”是暂定的，待核实。") in notes
    assert any("暂按自评得分8.00分计（分值20分），待核实" in c for c in notes) and "“指标1”" not in text
    cells = [c.text for t in Document(rendered.table).tables for row in t.rows for c in row.cells]
    assert f"{project.total_score:.2f}\n（待核实）" in cells and f"自评等级：{project.grade}\n（待核实）" in cells

    report = result.to_dict()["files"][0]["projects"][0]
    assert report["provisional"] is True and [i["verifiable"] for i in report["indicators"]] == [
        False, True, True, True, False, True]

    pt.summarize(result, Campaign(year=2023), tmp_path / "汇总.xlsx", history_path=None)
    rows = list(openpyxl.load_workbook(tmp_path / "汇总.xlsx")["项目明细"].iter_rows(values_only=True))
    assert any("总分和等级待核实（2项指标无法核实，暂按自评得分计）" in str(c) for r in rows for c in r if c)


def test_report_json_written_file_by_file_is_the_dict_indented_as_json_dumps_does(tmp_path):
    """`write_json` (the round's 审核结果.json) writes what json.dumps(to_dict(), indent=2) writes, also
    for a file whose name is not UTF-8 (surrogate-escaped from the disk, printed as GB18030) and for
    texts with quotes, backslashes and line breaks."""
    folder = tmp_path / "in"
    write(folder, "甲.xlsx", submission())
    write(folder, "乙.xlsx", submission(code="DC-Y-01", budget_note='执行约85％，"引号"\\反斜杠\n换行\u2028'))
    gbk_name = os.fsdecode("丙局.xlsx".encode("gbk"))
    write(folder, gbk_name, submission(code="DC-X-01"))
    (folder / "坏.xlsx").write_bytes(b"PK\x03\x04 not a zip")
    evaluation = pt.evaluate_paths([folder], pt.load_profile())
    assert len(evaluation.skipped) == 1 and len(evaluation.files) == 3  # the GBK name: skipped, listed
    expected = json.dumps(evaluation.to_dict(), ensure_ascii=False, indent=2)
    out = io.BytesIO()
    evaluation.write_json(out)
    assert out.getvalue().decode("utf-8") == expected
    assert "丙局.xlsx" in expected and "\\udc" not in expected
    empty = pt.evaluate_paths([], pt.load_profile())
    out = io.BytesIO()
    empty.write_json(out)
    assert out.getvalue().decode("utf-8") == json.dumps(empty.to_dict(), ensure_ascii=False, indent=2)
