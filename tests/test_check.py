"""Every check of the reviewer's catalogue: the code, the severity, and the field it points at.

Each submission here is located with a fake map in which every field's "cell" is
its own path, so a finding's cell says exactly which field it blames. That every code
of the catalogue is produced at all, from a real workbook and at a real cell, is
test_finding_codes.py's `test_every_catalogue_code_is_produced_from_a_real_workbook`.
"""

from __future__ import annotations

import dataclasses

import pytest
from builders import example_dict, funds, indicator, sourced, standard_indicators, submission

from perf_toolkit import findings
from perf_toolkit.check.evaluate import evaluate_submissions
from perf_toolkit.model import FieldPath, Location, SourcedSubmission, submission_from_dict
from perf_toolkit.profile import load_profile


def located(data: dict, **extra) -> SourcedSubmission:
    """A submission whose every field path is 'located' at a cell named after the path."""
    item = sourced(data)
    paths = ["year", "projects"]
    sub = item.submission
    for f in dataclasses.fields(sub.department):
        paths.append(f"department.{f.name}")
    paths += [f"department.contact.{k}" for k in ("name", "phone", "email")]
    for p, project in enumerate(sub.projects):
        base = f"projects[{p}]"
        paths += [base, f"{base}.funds", f"{base}.indicators", f"{base}.execution_score", f"{base}.total_score"]
        paths += [f"{base}.{f.name}" for f in dataclasses.fields(project) if f.name not in ("funds", "indicators")]
        for column in ("initial_budget", "adjusted_budget", "executed"):
            paths.append(f"{base}.funds_total.{column}")
            paths += [f"{base}.funds[{j}].{column}" for j in range(len(project.funds))]
        for i, ind in enumerate(project.indicators):
            paths += [f"{base}.indicators[{i}].{f.name}" for f in dataclasses.fields(ind)]
    item.locations = {path: Location("表", path) for path in paths}
    for key, value in extra.items():
        setattr(item, key, value)
    return item


def found(item: SourcedSubmission, profile=None) -> list:
    return evaluate_submissions([item], profile).findings


def assert_finding(item, code, cell, profile=None):
    hits = [f for f in found(item, profile) if f.code == code]
    assert hits, f"no {code}; got {[(f.code, f.cell) for f in found(item, profile)]}"
    assert cell in [f.cell for f in hits], [f.cell for f in hits]
    assert all(f.severity == findings.CATALOGUE[code].severity for f in hits)
    assert all(f.message and f.file == "单位.xlsx" for f in hits)
    return hits


def first(**changes) -> dict:
    return submission(standard_indicators(**changes))


P0, I0 = "projects[0]", "projects[0].indicators[0]"


# ------------------------------------------------------------------ a clean submission stays clean


def test_clean_submission_has_no_findings():
    assert found(located(submission())) == []


def test_example_has_only_the_adjustment_warning_on_the_note_cell():
    hits = found(located(example_dict()))
    assert [(f.code, f.cell) for f in hits] == [("budget-adjusted-unexplained", f"{P0}.budget_note")]


# ------------------------------------------------------------------ the catalogue, code by code

CASES = [
    # (code, submission dict, blamed field path, extra SourcedSubmission attributes, profile)
    ("required-value", first(actual=""), f"{I0}.actual", {}, None),
    ("required-value", first(name=""), f"{I0}.name", {}, None),
    ("required-value", first(weight=None), f"{I0}.weight", {}, None),
    ("required-value", submission(indicators=[]), f"{P0}.indicators", {}, None),
    ("required-value", submission(code=""), f"{P0}.code", {}, None),
    ("value-unreadable", submission(fund_rows=[{**funds()[0], "executed": "#DIV/0!"}, *funds()[1:]]),
     f"{P0}.funds[0].executed", {}, None),
    ("value-unreadable", first(weight="见附件"), f"{I0}.weight", {}, None),
    ("value-unreadable", first(direction="越多越好"), f"{I0}.direction", {}, None),
    ("budget-missing", submission(fund_rows=funds(0, 0, 5)), f"{P0}.funds[0].adjusted_budget", {}, None),
    ("execution-over-budget", submission(fund_rows=funds(100, 100, 120)), f"{P0}.funds[0].executed", {}, None),
    ("execution-low-unexplained", submission(fund_rows=funds(100, 100, 80)), f"{P0}.budget_note", {}, None),
    ("execution-note-too-long", submission(fund_rows=funds(100, 100, 80), budget_note="因" * 101),
     f"{P0}.budget_note", {}, load_profile("sichuan")),
    ("budget-adjusted-unexplained", submission(fund_rows=funds(100, 70, 70)), f"{P0}.budget_note", {}, None),
    ("budget-total-mismatch", submission(), f"{P0}.funds_total.adjusted_budget",
     {"overrides": {"projects[0].funds_total.adjusted_budget": 99}}, None),
    ("execution-score-mismatch", submission(fund_rows=funds(100, 100, 86.2), budget_note="结余"),
     f"{P0}.execution_score", {"overrides": {"projects[0].execution_score": 9}}, None),
    ("total-mismatch", submission(), f"{P0}.total_score", {"overrides": {"projects[0].total_score": 95}}, None),
    ("budget-prefill-changed", submission(), f"{P0}.funds[0].adjusted_budget",
     {"prefilled": {"projects[0].funds[0].adjusted_budget": 120}}, None),
    ("weight-sum-mismatch", first(weight=15), f"{P0}.indicators", {}, None),
    ("weight-nonstandard",
     submission([indicator("数", weight=60), indicator("效", "效益指标", "社会效益指标", weight=20),
                 indicator("满", "满意度指标", "服务对象满意度指标", weight=10)]), f"{P0}.indicators", {}, None),
    ("indicator-taxonomy", first(level1="其他指标"), f"{I0}.level1", {}, None),
    ("indicator-taxonomy", first(level2="社会效益指标"), f"{I0}.level2", {}, None),
    ("indicator-taxonomy", first(level2="规模指标"), f"{I0}.level2", {}, None),
    ("indicator-direction-missing", first(direction=""), f"{I0}.direction", {}, None),
    ("indicator-direction-conflict", first(direction="≤", target="≥100"), f"{I0}.direction", {}, None),
    ("indicator-unparseable", first(target="按时完成"), f"{I0}.target", {}, None),
    ("indicator-unparseable", first(actual="#DIV/0!"), f"{I0}.actual", {}, None),
    ("indicator-unparseable", first(actual="有所提高"), f"{I0}.actual", {}, None),
    ("indicator-unit-mismatch", first(target="100人", actual="100次"), f"{I0}.actual", {}, None),
    ("indicator-kind-mismatch", first(target="100%", unit="%", actual="已完成"), f"{I0}.actual", {}, None),
    ("indicator-kind-mismatch", first(direction="定性", target="按时完成", actual="100%", claimed_score=20),
     f"{I0}.actual", {}, None),
    ("indicator-percent-ambiguous", first(target="95%", unit="%", actual="0.96"), f"{I0}.actual", {}, None),
    ("indicator-not-equal", first(direction="=", target="12", actual="14"), f"{I0}.actual", {}, None),
    ("indicator-negative-actual", first(actual="-3", deviation_note="退款冲减"), f"{I0}.actual", {}, None),
    ("indicator-unmet-unexplained", first(actual="80"), f"{I0}.deviation_note", {}, None),
    ("indicator-unmet-unexplained", first(actual="80", deviation_note="/"), f"{I0}.deviation_note", {}, None),
    ("indicator-overachieved-unexplained", first(actual="140"), f"{I0}.deviation_note", {}, None),
    ("execution-indicator-duplicated", first(name="预算执行率"), f"{I0}.name", {}, None),
    ("score-exceeds-weight", first(claimed_score=25), f"{I0}.claimed_score", {}, None),
    ("score-mismatch", first(actual="80", claimed_score=18, deviation_note="原因"), f"{I0}.claimed_score", {},
     None),
    ("score-full-but-unmet", first(actual="80", claimed_score=20, deviation_note="原因"),
     f"{I0}.claimed_score", {}, None),
    ("score-deducted-unexplained", first(claimed_score=18), f"{I0}.claimed_score", {}, None),
    ("qualitative-out-of-band",
     first(direction="定性", target="按时完成", actual="基本完成", claimed_score=20, deviation_note="原因"),
     f"{I0}.claimed_score", {}, None),
    ("qualitative-unrecognised", first(direction="定性", target="按时完成", actual="有所改善", claimed_score=15),
     f"{I0}.actual", {}, None),
    ("qualitative-score-missing", first(direction="定性", target="按时完成", actual="已按时完成"),
     f"{I0}.claimed_score", {}, None),
    ("placeholder-text", submission(goal="……"), f"{P0}.goal", {}, None),
    ("placeholder-text", submission(goal="100"), f"{P0}.goal", {}, None),
    ("placeholder-text", first(name="指标1"), f"{I0}.name", {}, None),
    ("narrative-contradiction", submission(standard_indicators(actual="80", deviation_note="原因"),
                                           deviation_reason="本项目未偏离绩效目标。"), f"{P0}.deviation_reason", {},
     None),
    ("narrative-contradiction", first(actual="80", deviation_note="无偏差"), f"{I0}.deviation_note", {}, None),
]


@pytest.mark.parametrize(("code", "data", "path", "extra", "profile"), CASES,
                         ids=[f"{c[0]}-{n}" for n, c in enumerate(CASES)])
def test_check_reports_code_at_field(code, data, path, extra, profile):
    assert_finding(located(data, **extra), code, path, profile)


def test_year_mismatch_against_the_round():
    item = located(submission(year=2022))
    hits = [f for f in evaluate_submissions([item], year=2023).findings if f.code == "year-mismatch"]
    assert [(f.cell, f.severity) for f in hits] == [("year", "error")] and "2022" in hits[0].message
    assert "year-mismatch" not in [f.code for f in evaluate_submissions([located(submission())], year=2023).findings]
    assert "year-mismatch" not in [f.code for f in found(located(submission(year=2022)))]  # no round year given


def test_project_code_duplicated_names_the_other_cell():
    data = submission()
    data["projects"].append(dict(data["projects"][0], name="第二个项目"))
    hits = assert_finding(located(data), "project-code-duplicated", "projects[1].code")
    assert "projects[0].code" in hits[0].message


def test_mixed_qualitative_bands_in_one_batch():
    """Recognised and unrecognised bands side by side (string and missing values in one column)."""
    inds = standard_indicators()
    inds[4].update(direction="定性", target="按时完成", actual="有所改善", claimed_score=25)
    inds[3].update(direction="定性", target="按时完成", actual="已按时完成", claimed_score=10)
    hits = found(located(submission(inds)))
    assert [(f.code, f.cell) for f in hits] == [("qualitative-unrecognised", "projects[0].indicators[4].actual")]


def test_weight_moved_from_satisfaction_is_not_nonstandard():
    data = submission([indicator("数", weight=60), indicator("效", "效益指标", "社会效益指标", weight=30)])
    assert "weight-nonstandard" not in [f.code for f in found(located(data))]


def test_met_indicator_with_explained_deduction_is_accepted():
    data = first(claimed_score=18, deviation_note="部分工作质量有待提高，自评扣2分")
    assert found(located(data)) == []


def test_unmet_explained_indicator_has_no_unmet_finding():
    data = first(actual="80", claimed_score=16, deviation_note="受疫情影响，部分对象未能按期完成")
    data["projects"][0]["deviation_reason"] = "数量指标受疫情影响未完成，已分析原因。"
    assert found(located(data)) == []


def test_example_reason_contradicts_an_unmet_indicator():
    data = first(actual="80", claimed_score=16, deviation_note="受疫情影响，部分对象未能按期完成")
    hits = [f for f in found(located(data)) if f.code == "narrative-contradiction"]
    assert [f.cell for f in hits] == ["projects[0].deviation_reason"] and "未偏离" in hits[0].message


def test_findings_of_two_files_stay_with_their_file():
    a, b = located(first(actual="80")), located(submission())
    b.file = "另一个.xlsx"
    result = evaluate_submissions([a, b])
    assert [r.errors for r in result.files] == [1, 0]
    assert {f.file for f in result.files[0].findings} == {"单位.xlsx"}


def test_field_path_value_in_resolves_paths():
    sub = submission_from_dict(example_dict())
    assert FieldPath.parse("projects[0].funds[0].adjusted_budget").value_in(sub) == 2.94
    assert FieldPath.parse("department.contact.name").value_in(sub) == "李明"
    assert FieldPath.parse("projects[5].code").value_in(sub) is None


def test_prefill_change_is_reported_once_per_file_not_per_project():
    data = submission()
    data["projects"] += [dict(data["projects"][0], code=f"P{n}") for n in (2, 3)]
    item = located(data, prefilled={"projects[0].funds[0].adjusted_budget": 120})
    assert [f.code for f in found(item)].count("budget-prefill-changed") == 1
    empty = located(submission(), prefilled={"department.code": "D-ORIGINAL"})
    empty.submission.projects = []
    assert "budget-prefill-changed" in [f.code for f in found(empty)]


def test_qualitative_score_missing_names_the_value_used():
    top = [f for f in found(located(first(direction="定性", target="按时完成", actual="已按时完成")))
           if f.code == "qualitative-score-missing"]
    middle = [f for f in found(located(first(direction="定性", target="按时完成", actual="基本完成",
                                             deviation_note="部分延误")))
              if f.code == "qualitative-score-missing"]
    assert "“达成”档的上限 20 分" in top[0].message
    assert "“部分达成”档的中间值 14 分" in middle[0].message
