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
from perf_toolkit.check.evaluate import evaluate_paths, evaluate_submissions
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


def test_example_reference_report_mistakes_are_surfaced_at_their_fields():
    """The reference report: budget cut 45.08 → 2.94 unexplained, yet "未偏离绩效目标"; 养老保险 targets,
    医疗保险 achieved; 经费足额拨付率 restating the execution rate."""
    hits = found(located(example_dict()))
    assert sorted((f.code, f.cell) for f in hits) == sorted([
        ("budget-adjusted-unexplained", f"{P0}.budget_note"),
        ("narrative-contradiction", f"{P0}.deviation_reason"),
        ("achievement-term-mismatch", f"{P0}.achievement"),
        ("execution-indicator-duplicated", f"{P0}.indicators[1].name"),
    ])
    assert all(f.severity == "warning" for f in hits)
    contradiction = next(f for f in hits if f.code == "narrative-contradiction")
    assert "未偏离" in contradiction.message and "45.08" in contradiction.message and "2.94" in contradiction.message
    assert "93.48%" in contradiction.message and contradiction.params["cut"] == 0.9348
    terms = next(f for f in hits if f.code == "achievement-term-mismatch")
    assert "“医疗保险”" in terms.message and "“养老保险”" in terms.message


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
    # on the weight the clerk changes (the first typed), not the table's first 一级 label
    ("weight-sum-mismatch", first(weight=15), f"{I0}.weight", {}, None),
    ("weight-nonstandard",
     submission([indicator("数", weight=60), indicator("效", "效益指标", "社会效益指标", weight=20),
                 indicator("满", "满意度指标", "服务对象满意度指标", weight=10)]), f"{I0}.weight", {}, None),
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


# ------------------------------------------------------------------ the execution rate restated

#: (三级指标, restates the budget execution rate?) — why each negative is not: see EXECUTION_INDICATOR.
EXECUTION_NAMES = [
    ("预算执行率", True), ("年度预算执行率", True), ("资金执行率", True), ("项目支出执行率", True),
    ("执行率", True), ("资金支付完成率", True), ("资金支付率", True), ("资金实际支付率", True),
    ("资金执行在预算范围内", True), ("项目支出控制在预算范围内", True), ("资金拨付率", True),
    ("经费足额拨付率", True), ("专项资金累计拨付率", True), ("资金拨付到位率", True), ("预算执行进度", True),
    ("支出进度", True), ("资金支出进度", True), ("资金支出率", True), ("资金使用率", True),
    ("资金到位率", False),  # funds received ÷ funds budgeted: the financing side, not spending
    ("配套资金到位率", False), ("资金使用合规率", False), ("资金拨付及时率", False), ("资助资金发放准确率", False),
    ("部分退役士兵基本养老保险补缴经费按规定执行率", False), ("专项资金管理制度执行率", False),
    ("财务制度执行率", False), ("政策执行到位率", False), ("成本控制在预算范围内", False), ("项目实施进度", False),
    ("工程项目完工率", False), ("预算编制准确率", False), ("补贴发放到位率", False), ("资助学生人次", False),
]


@pytest.fixture(scope="module")
def execution_names() -> dict[str, set[str]]:
    """Every name of EXECUTION_NAMES as the first indicator of its own file, checked in one batch."""
    items = []
    for n, (name, _) in enumerate(EXECUTION_NAMES):
        item = located(first(name=name))
        item.file = f"{n}.xlsx"
        items.append(item)
    result = evaluate_submissions(items)
    return {name: {f.code for f in r.findings if f.cell == f"{I0}.name"}
            for (name, _), r in zip(EXECUTION_NAMES, result.files, strict=True)}


@pytest.mark.parametrize(("name", "restated"), EXECUTION_NAMES, ids=[n for n, _ in EXECUTION_NAMES])
def test_execution_indicator_duplicated_recognises_the_rate_in_other_words(execution_names, name, restated):
    assert ("execution-indicator-duplicated" in execution_names[name]) is restated


# ------------------------------------------------------------------ narrative: a budget cut against "未偏离"


def _contradictions(data: dict) -> list:
    return [f for f in found(located(data)) if f.code == "narrative-contradiction"]


def test_narrative_contradiction_budget_cut_over_threshold_against_no_deviation():
    data = submission(fund_rows=funds(100, 70, 70), budget_note="政策调整，收回部分预算。")
    hits = _contradictions(data)
    assert [f.cell for f in hits] == [f"{P0}.deviation_reason"]
    assert "由年初的 100 万元调减为 70 万元（调减 30.00%，超过 20.00%）" in hits[0].message
    assert (hits[0].params["initial"], hits[0].params["adjusted"], hits[0].params["cut"]) == (100, 70, 0.3)


def test_narrative_contradiction_names_every_piece_of_evidence():
    data = submission(standard_indicators(actual="80", deviation_note="原因"), fund_rows=funds(100, 50, 40),
                      budget_note="收回部分预算，余款结转。", achievement="全年任务全部完成。")
    hits = _contradictions(data)
    assert sorted(f.cell for f in hits) == sorted([f"{P0}.deviation_reason", f"{P0}.achievement"])
    message = hits[0].message
    assert "有1个指标未完成" in message and "预算执行率仅为 80.00%" in message and "调减 50.00%" in message
    assert {"unmet", "rate", "cut"} <= set(hits[0].params)


@pytest.mark.parametrize(("initial", "adjusted"), [(100, 81), (100, 80), (100, 150), (0, 70)],
                         ids=["cut-19%", "cut-20%-exactly", "raised-50%", "no-initial"])
def test_narrative_no_contradiction_without_a_cut_over_threshold(initial, adjusted):
    data = submission(fund_rows=funds(initial, adjusted, adjusted), budget_note="按政策调整预算。")
    assert _contradictions(data) == []


# ------------------------------------------------------------------ narrative: key terms of targets vs achievement

#: (goal, achievement, the pair flagged or None); the name and indicators are the builders' (养老保险).
TERM_CASES = [
    ("为退役士兵补缴基本养老保险。", "完成5名退役士兵医疗保险补缴。", "医疗保险"),
    ("为退役士兵补缴基本养老保险。", "完成5名退役士兵城乡居民养老保险补缴。", None),
    ("发放困难群众生活补助。", "发放交通补助12万元。", "交通补助"),
    ("发放困难群众生活补助。", "足额发放补助12万元。", None),  # a verb before the stem names no kind
    ("发放耕地地力保护补贴。", "发放地力补贴120万元。", None),  # the qualifier stands within the window
    ("发放耕地地力保护补贴。", "发放农机购置补贴120万元。", "购置补贴"),
    ("按时发放学生资助资金。", "发放资助资金331万元，结余资金按规定收回。", None),  # 结余 is no kind
    ("按时发放学生资助资金。", "发放奖励资金331万元。", "奖励资金"),
    ("按时发放学生资助资金。", "累计投入资金331万元。", None),
    ("落实社会保险补贴政策。", "发放养老保险补贴。", None),  # 社会保险 sets no kind of 保险
    ("解决部分退役士兵未参保问题。", "完成医疗保险补缴。", None),  # the goal names no 保险 at all
]


@pytest.mark.parametrize(("goal", "achievement", "flagged"), TERM_CASES,
                         ids=[f"{n}-{c[2] or 'none'}" for n, c in enumerate(TERM_CASES)])
def test_achievement_term_mismatch_same_stem_other_qualifier(goal, achievement, flagged):
    data = submission([indicator("数量", weight=50), indicator("效益", "效益指标", "社会效益指标", weight=30),
                       indicator("满意度", "满意度指标", "服务对象满意度指标", weight=10)],
                      name="困难群众帮扶经费", goal=goal, achievement=achievement)
    hits = [f for f in found(located(data)) if f.code == "achievement-term-mismatch"]
    assert [f.params["found"] for f in hits] == ([flagged] if flagged else [])
    if flagged:
        assert hits[0].cell == f"{P0}.achievement" and f"“{flagged}”" in hits[0].message


def test_achievement_term_mismatch_reads_the_indicator_names_as_targets():
    data = submission(standard_indicators(name="基本医疗保险参保率"), goal="做好退役士兵社会保险接续工作。",
                      achievement="完成医疗保险补缴5人。")
    assert "achievement-term-mismatch" not in [f.code for f in found(located(data))]
    data["projects"][0]["achievement"] = "完成失业保险补缴5人。"
    hits = [f for f in found(located(data)) if f.code == "achievement-term-mismatch"]
    assert [(f.params["found"], f.params["expected"]) for f in hits] == [("失业保险", "医疗保险")]


def test_example_inbox_other_departments_have_no_new_narrative_warnings(example_files):
    """The new rules flag the reference report's project and nothing in the other example departments."""
    result = evaluate_paths(example_files)
    new = {"achievement-term-mismatch", "execution-indicator-duplicated"}
    flagged = {(f.file.rsplit("/", 1)[-1], f.code) for f in result.findings if f.code in new}
    veterans = "东川区退役军人事务局-自评填报表.xlsx"
    assert flagged == {(veterans, "achievement-term-mismatch"), (veterans, "execution-indicator-duplicated")}
    cut = [f for f in result.findings if f.code == "narrative-contradiction" and "调减" in f.message]
    assert [f.file.rsplit("/", 1)[-1] for f in cut] == [veterans]
