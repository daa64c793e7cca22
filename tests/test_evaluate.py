"""The evaluation's grouping: findings belong to projects and indicators by their field path, once."""

from __future__ import annotations

import copy
import json

from builders import sourced, standard_indicators, submission
from click.testing import CliRunner
from openpyxl import load_workbook

from perf_toolkit.check.evaluate import evaluate_paths, evaluate_submissions
from perf_toolkit.cli import cli
from perf_toolkit.model import FieldPath, submission_from_dict
from perf_toolkit.workbook.read import read_workbook
from perf_toolkit.workbook.template import write_template


def workbook(folder, data: dict, name: str = "单位.xlsx"):
    folder.mkdir(parents=True, exist_ok=True)
    return write_template(folder / name, submission_from_dict(copy.deepcopy(data)))


def two_projects(code_a: str = "P001", code_b: str = "P001") -> dict:
    """A clean first project and a second whose first indicator is missed and not explained (an error)."""
    data = submission()
    first = data["projects"][0]
    first["code"], first["name"] = code_a, "第一个项目"
    second = copy.deepcopy(first)
    second["code"], second["name"] = code_b, "第二个项目"
    second["indicators"] = standard_indicators(actual="50", deviation_note="")
    data["projects"] = [first, second]
    return data


def check_json(path) -> dict:
    """`check --json` on a real file, parsed back."""
    result = CliRunner().invoke(cli, ["check", str(path), "--json"], catch_exceptions=False)
    return json.loads(result.output)


def test_field_path_parses_the_owner_and_never_prefix_matches():
    def owner(text):
        path = FieldPath.parse(text)
        return path.project, path.indicator

    assert owner("projects[1].indicators[2].actual") == (1, 2)
    assert owner("projects[10].indicators[12]") == (10, 12)
    assert owner("projects[1]") == (1, None)
    assert owner("projects[10].budget_note") == (10, None)
    assert owner("projects[0].indicators") == (0, None)  # the table as a whole: the project's
    assert owner("projects[3].funds[0].executed") == (3, None)
    assert FieldPath.parse("projects[3].funds[0].executed").fund == 0
    for file_level in (None, "", "year", "department.code", "projects", "department.duties[2]"):
        assert owner(file_level) == (None, None), file_level


def test_field_path_round_trips_its_written_form():
    for text in ("projects[0].indicators[2].actual", "department.contact.name", "year", "projects[12]"):
        assert str(FieldPath.parse(text)) == text
    assert str(FieldPath.of(1, "indicators", 0, "weight")) == "projects[1].indicators[0].weight"
    assert FieldPath.parse("projects[0].name").value_in(submission_from_dict(submission())) == "退役士兵社会保险配套经费"


def test_json_projects_sharing_a_code_keep_only_their_own_findings(tmp_path):
    report = check_json(workbook(tmp_path, two_projects()))
    first, second = report["files"][0]["projects"]
    assert (first["name"], second["name"]) == ("第一个项目", "第二个项目")
    assert first["complete"] is True
    assert all(f["path"].startswith("projects[0]") for f in first["findings"])
    second_codes = {f["code"] for f in second["findings"]}
    assert second["complete"] is False
    assert {"indicator-unmet-unexplained", "project-code-duplicated"} <= second_codes
    assert all(f["path"].startswith("projects[1]") for f in second["findings"])


def test_json_project_with_an_empty_code_and_an_error_is_not_complete(tmp_path):
    report = check_json(workbook(tmp_path, two_projects("P001", "")))
    first, second = report["files"][0]["projects"]
    assert second["code"] == "" and second["complete"] is False
    assert {"required-value", "indicator-unmet-unexplained"} <= {f["code"] for f in second["findings"]}
    assert first["complete"] is True and not any(f["path"].startswith("projects[1]") for f in first["findings"])


def test_json_a_file_level_error_makes_every_project_incomplete(tmp_path):
    item = read_workbook(workbook(tmp_path, two_projects("P001", "P002"))).sourced
    evaluation = evaluate_submissions([item], year=2024)  # a 2023 workbook in the 2024 round
    report = json.loads(json.dumps(evaluation.to_dict(), ensure_ascii=False))
    [file] = report["files"]
    assert [f["path"] for f in file["findings"] if f["code"] == "year-mismatch"] == ["year"]
    assert [p["complete"] for p in file["projects"]] == [False, False]
    # listed once, with the file, not repeated under each project
    assert not any(f["code"] == "year-mismatch" for p in file["projects"] for f in p["findings"])
    assert [p.has_errors for p in evaluation.projects] == [True, True]
    assert [[f.code for f in p.file_findings] for p in evaluation.projects] == [["year-mismatch"]] * 2


def test_reader_findings_go_to_their_project_by_path(tmp_path):
    path = workbook(tmp_path, two_projects("P001", "P002"))
    read = read_workbook(path)
    where = read.sourced.locations["projects[1].funds[0].executed"]
    wb = load_workbook(path)
    wb[where.sheet][where.cell] = "=1+1"  # a formula in an input cell: the reader reports it
    wb.save(path)
    evaluation = evaluate_paths([path])
    [unreadable] = [f for f in evaluation.findings if f.code == "value-unreadable"]
    assert unreadable.path == "projects[1].funds[0].executed"
    first, second = evaluation.projects
    assert unreadable in second.findings
    assert unreadable not in first.shown
    assert second.has_errors


def test_indicator_findings_are_per_indicator_and_the_table_ones_per_project(tmp_path):
    data = submission(indicators=standard_indicators(weight=25, actual="50", deviation_note=""))
    evaluation = evaluate_paths([workbook(tmp_path, data)])
    [project] = evaluation.projects
    assert [i.index for i in project.indicators] == list(range(6))
    own = {f.code for f in project.findings}
    assert "weight-sum-mismatch" in own
    assert "indicator-unmet-unexplained" in {f.code for f in project.indicators[0].findings}
    assert not any(f.code == "weight-sum-mismatch" for i in project.indicators for f in i.findings)
    assert all(i.findings == () for i in project.indicators[1:])


def test_projects_beyond_ten_are_not_confused_with_the_first(tmp_path):
    data = submission()
    base = data["projects"][0]
    data["projects"] = [dict(copy.deepcopy(base), code=f"P{n:02d}", name=f"项目{n}") for n in range(11)]
    data["projects"][10]["indicators"] = standard_indicators(actual="50", deviation_note="")
    evaluation = evaluate_submissions([sourced(data)])
    projects = evaluation.projects
    assert projects[1].findings == () and not projects[1].has_errors
    assert "indicator-unmet-unexplained" in {f.code for f in projects[10].findings}


def test_a_broken_submission_json_is_explained_in_chinese(tmp_path):
    broken, latin = tmp_path / "坏的.json", tmp_path / "编码.json"
    broken.write_text('{"schema": "perf-toolkit/submission/v1",', encoding="utf-8")
    latin.write_bytes('{"名称": "某局"}'.encode("gbk"))
    evaluation = evaluate_paths([broken, latin])
    messages = [r.findings[0].message for r in evaluation.files]
    assert all(r.sourced is None and r.findings[0].code == "file-unreadable" for r in evaluation.files)
    assert "第 1 行" in messages[0] and "UTF-8" in messages[1]
    assert not any(word in m for m in messages for word in ("Expecting", "codec", "Error"))


def test_json_text_beyond_a_cell_is_cut_to_it_with_a_text_too_long_warning_like_a_workbook_cell(tmp_path):
    data = submission()
    data["projects"][0]["goal"] = "完成目标" * 20_000  # 80,000 characters; a cell holds 32,767
    data["projects"][0]["indicators"][0]["deviation_note"] = "说明" * 20_000
    path = tmp_path / "长文字.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    [result] = evaluate_paths([path]).files
    project = result.sourced.submission.projects[0]
    assert project.goal == ("完成目标" * 20_000)[:32_767]
    assert len(project.indicators[0].deviation_note) == 32_767
    cut = {f.path: f for f in result.findings if f.code == "text-too-long"}
    assert set(cut) == {"projects[0].goal", "projects[0].indicators[0].deviation_note"}
    goal = cut["projects[0].goal"]
    assert goal.severity == "warning" and goal.file == str(path)
    assert goal.message.startswith("字段 projects[0].goal的文字有80000个字符") and "32767" in goal.message
    assert [f for f in evaluate_paths([path]).projects[0].findings if f.code == "text-too-long"]
