"""Typed weights, the 一级 labels as the official form prints them, and weight sums other than 100,
each from a real workbook through scoring, checks and every output that states a total."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
from batches import campaign
from builders import indicator, submission
from click.testing import CliRunner
from docx import Document
from openpyxl import load_workbook

from perf_toolkit.check.evaluate import evaluate_paths
from perf_toolkit.cli import cli
from perf_toolkit.model import submission_from_dict
from perf_toolkit.profile import load_profile
from perf_toolkit.report.render import render_reports
from perf_toolkit.summary.consolidate import summarize
from perf_toolkit.workbook.template import write_template

TWENTY_EIGHTY = load_profile("twenty-eighty")


def written(tmp_path, data: dict, name: str = "单位.xlsx"):
    return write_template(tmp_path / name, submission_from_dict(copy.deepcopy(data)))


def codes(result) -> list[str]:
    return [f.code for f in result.findings]


def twenty_eighty_table() -> dict:
    """A 20/80 table whose department typed 20/20/10 · 20 · 10 (产出 50, not the profile's 40) and
    claimed each met indicator's full typed weight."""
    return submission([
        indicator("数量", weight=20, claimed=20), indicator("质量", level2="质量指标", weight=20, claimed=20),
        indicator("时效", level2="时效指标", weight=10, claimed=10),
        indicator("效益", level1="效益指标", level2="社会效益指标", weight=20, claimed=20),
        indicator("满意", level1="满意度指标", level2="服务对象满意度指标", weight=10, claimed=10),
    ])


def test_twenty_eighty_workbook_scores_each_met_indicator_at_its_typed_weight(tmp_path):
    result = evaluate_paths([written(tmp_path, twenty_eighty_table())], TWENTY_EIGHTY)
    project = result.projects[0]
    assert [i.weight for i in project.indicators] == [20, 20, 10, 20, 10]
    assert [i.score for i in project.indicators] == [20, 20, 10, 20, 10]
    assert project.execution_score == 20 and project.total_score == 100 and project.total_weight == 100
    # the department's own correct marks stand; only the 一级 split other than 40/30/10 is said
    [finding] = result.findings
    assert finding.code == "weight-nonstandard" and (finding.sheet, finding.cell) == ("项目1", "H18")  # a weight
    assert "产出指标50分、效益指标20分、满意度指标10分" in finding.message


def test_workbook_weights_adding_to_110_are_reported_scored_and_stated_in_every_output(tmp_path):
    data = submission([
        indicator("数量", weight=30), indicator("质量", level2="质量指标", weight=30),
        indicator("效益", level1="效益指标", level2="社会效益指标", weight=30),
        indicator("满意", level1="满意度指标", level2="服务对象满意度指标", weight=10),
    ])
    path = written(tmp_path, data)
    result = evaluate_paths([path])
    project = result.projects[0]
    assert project.total_score == 110 and project.total_weight == 110 and project.grade == "优"  # not capped
    assert sorted(codes(result)) == ["weight-nonstandard", "weight-sum-mismatch"]
    mismatch = next(f for f in result.findings if f.code == "weight-sum-mismatch")
    assert "共 110 分" in mismatch.message and mismatch.params["total"] == 110
    assert result.to_dict()["files"][0]["projects"][0]["total_weight"] == 110

    [rendered] = render_reports(result, tmp_path / "reports")
    report = [p.text for p in Document(rendered.report).paragraphs]
    conclusion = next(p for p in report if p.startswith("综合预算执行和绩效指标完成情况"))
    assert "自评总分110.00分（分值合计110分），自评等级为“优”" in conclusion
    total_row = [c.text for c in Document(rendered.table).tables[-1].rows[-1].cells]
    assert total_row[0] == "总分" and total_row[6:8] == ["110", "110.00"]

    summarize(result, campaign(), tmp_path / "汇总.xlsx")
    projects = pd.read_excel(tmp_path / "汇总.xlsx", sheet_name="项目明细", engine="openpyxl").rename(
        columns=lambda c: str(c).replace("\n", ""))
    row = projects.iloc[0]
    assert row["总分"] == 110 and row["分值合计"] == 110 and "分值合计110分（不是100分）" in row["标记"]

    shown = CliRunner().invoke(cli, ["score", str(path), "-o", str(tmp_path / "得分.xlsx")])
    assert "110.00（分值合计110）" in shown.output
    scores = pd.read_excel(tmp_path / "得分.xlsx", sheet_name="项目得分", engine="openpyxl").iloc[0]
    assert scores["总分"] == 110 and scores["分值合计"] == 110


def test_workbook_weights_adding_to_100_say_nothing_extra(tmp_path):
    result = evaluate_paths([written(tmp_path, submission())])
    project = result.projects[0]
    assert project.total_weight == 100 and not project.weight_sum_wrong
    [rendered] = render_reports(result, tmp_path / "reports")
    assert not any("分值合计100分" in p.text for p in Document(rendered.report).paragraphs)


@pytest.mark.parametrize("printed", ["产出指标(50分)", "产出指标（50分）", "产出指标 50分", "产出指标【50分】",
                                     "产出指标（50分）  ", "产出(50分)"])
def test_workbook_level1_printed_with_its_weight_reads_cleanly(tmp_path, printed):
    path = written(tmp_path, submission())  # 产出 rows 18–21 (20/10/10/10), 效益 22, 满意度 23
    wb = load_workbook(path)
    ws = wb["项目1"]
    for row in range(18, 22):
        ws[f"A{row}"] = printed
    ws["A22"], ws["A23"], ws["B23"] = "效果指标（30分）", "满意度指标 10分", "满意度指标"
    wb.save(path)
    result = evaluate_paths([path])
    assert result.findings == []
    project = result.projects[0]
    assert [i.level1 for i in project.indicators] == ["产出指标"] * 4 + ["效益指标", "满意度指标"]
    assert project.indicators[5].level2 == "服务对象满意度指标"
    assert [i.weight for i in project.indicators] == [20, 10, 10, 10, 30, 10]  # typed, as typed
    assert project.total_score == 100


def test_workbook_level1_header_weight_fills_only_untyped_indicators(tmp_path):
    path = written(tmp_path, twenty_eighty_table())
    wb = load_workbook(path)
    ws = wb["项目1"]
    for row in (18, 19, 20):
        ws[f"A{row}"] = "产出指标(50分)"
    ws["H20"] = ws["I20"] = None  # 时效: no typed weight, so it gets what 50 leaves after 20 + 20
    wb.save(path)
    result = evaluate_paths([path], TWENTY_EIGHTY)
    project = result.projects[0]
    assert [i.weight for i in project.indicators] == [20, 20, 10, 20, 10]
    assert project.total_score == 100
    assert codes(result) == ["weight-nonstandard"]


def test_cli_score_json_carries_the_weight_sum(tmp_path):
    data = submission([indicator("数量", weight=50), indicator("效益", level1="效益指标", level2="社会效益指标", weight=30)])
    shown = CliRunner().invoke(cli, ["score", str(written(tmp_path, data)), "--json"])
    project = json.loads(shown.output)["files"][0]["projects"][0]
    assert project["total_weight"] == 90 and project["total_score"] == 90


def test_weight_findings_sit_on_the_weights_to_change(tmp_path):
    """The sum on the first weight, the 一级 split on the first weight of the 一级 that is off, never on A18."""
    data = submission([
        indicator("数量", weight=25), indicator("质量", level2="质量指标", weight=25),
        indicator("效益", level1="效益指标", level2="社会效益指标", weight=30),
        indicator("满意", level1="满意度指标", level2="服务对象满意度指标", weight=5),
    ])
    result = evaluate_paths([written(tmp_path, data)])
    where = {f.code: (f.sheet, f.cell) for f in result.findings}
    assert where["weight-sum-mismatch"] == ("项目1", "H18")  # 分值 of the first indicator
    assert where["weight-nonstandard"] == ("项目1", "H21")  # 满意度指标's 5, the one off its standard 10
