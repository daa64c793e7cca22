"""Scoring by the national 2020 profile and its variants, on hand-computed numbers."""

from __future__ import annotations

import math

import pytest
from builders import example_dict, funds, indicator, sourced, standard_indicators, submission
from openpyxl import load_workbook

from perf_toolkit.check.evaluate import evaluate_paths, evaluate_submissions
from perf_toolkit.check.score import qualitative_band, score_submissions
from perf_toolkit.model import submission_from_dict
from perf_toolkit.numbers import round2, round_half_up
from perf_toolkit.profile import ProfileError, builtin_profile_text, load_profile
from perf_toolkit.spec import level1_weight, normalise_level1, normalise_level2
from perf_toolkit.workbook.template import write_template

NATIONAL = load_profile("national-2020")


def score_one(ind: dict, profile=NATIONAL, **project):
    """Score a project whose first indicator is `ind` (weight 20 unless given); return its row."""
    ind = {"weight": 20, **ind}
    scores = score_submissions([sourced(submission(standard_indicators(**ind), **project))], profile)
    return scores.indicators.iloc[0], scores.projects.iloc[0]


def codes(data: dict, profile=NATIONAL) -> list[str]:
    result = evaluate_submissions([sourced(data)], profile)
    return [f.code for f in result.findings]


# ------------------------------------------------------------------ the reference report


def test_example_scores_full_marks_with_its_mistakes_as_warnings():
    result = evaluate_submissions([sourced(example_dict())])
    project = result.to_dict()["files"][0]["projects"][0]
    assert project["budget_total"] == 2.94
    assert project["executed_total"] == 2.94
    assert project["initial_total"] == 45.08
    assert project["execution_rate"] == 1.0
    assert project["execution_score"] == 10.0
    assert project["total_score"] == 100.0
    assert project["grade"] == "优"
    assert [i["score"] for i in project["indicators"]] == [20, 10, 10, 10, 30, 10]
    assert {f["code"] for f in project["findings"]} == {
        "budget-adjusted-unexplained", "narrative-contradiction", "achievement-term-mismatch",
        "execution-indicator-duplicated"}
    assert all(f["severity"] == "warning" for f in project["findings"])
    adjusted = next(f for f in project["findings"] if f["code"] == "budget-adjusted-unexplained")
    assert "45.08" in adjusted["message"] and "2.94" in adjusted["message"]


# ------------------------------------------------------------------ budget execution


@pytest.mark.parametrize(
    ("adjusted", "executed", "rate", "score"),
    [
        (100, 86.2, 0.862, 8.62),  # 86.2 % -> 8.62 (forms often print 9: wrong)
        (100, 100, 1.0, 10.0),
        (100, 120, 1.2, 10.0),  # capped at the weight
        (2.94, 2.94, 1.0, 10.0),
        (3, 1, 1 / 3, 3.33),
        (100, 0, 0.0, 0.0),
    ],
)
def test_execution_rate_and_score(adjusted, executed, rate, score):
    _, proj = score_one({}, fund_rows=funds(adjusted, adjusted, executed))
    assert proj.execution_rate == pytest.approx(rate)
    assert round2(proj.execution_score) == score


def test_execution_sums_all_sources():
    rows = funds(10, 10, 5)
    rows[1].update(initial_budget=0, adjusted_budget="5万元", executed="50,000元")
    _, proj = score_one({}, fund_rows=rows)
    assert proj.adjusted_budget == pytest.approx(15)
    assert proj.executed == pytest.approx(10)
    assert round2(proj.execution_score) == 6.67


def test_budget_zero_gives_no_rate_and_zero_score():
    _, proj = score_one({}, fund_rows=funds(0, 0, 5))
    assert math.isnan(proj.execution_rate)
    assert proj.execution_score == 0


def test_budget_weight_twenty_profile():
    _, proj = score_one({}, load_profile("twenty-eighty"), fund_rows=funds(100, 100, 86.2))
    assert round2(proj.execution_score) == 17.24


# ------------------------------------------------------------------ quantitative indicators


@pytest.mark.parametrize(
    ("direction", "target", "actual", "unit", "expected", "met"),
    [
        ("≥", "100", "80", "", 16.0, False),  # 20 × 80/100
        ("≥", "100", "100", "", 20.0, True),
        ("≥", "≥90%", "85%", "%", 18.89, False),  # 20 × 85/90
        ("≥", "不低于95%", "96%", "%", 20.0, True),
        ("≤", "5", "8", "次", 12.5, False),  # 20 × 5/8
        ("≤", "≤30万元", "25万元", "", 20.0, True),
        ("≤", "30", "450,000元", "万元", 13.33, False),  # 20 × 30/45 (units converted)
        ("=", "12", "12", "个", 20.0, True),
        ("=", "12", "9", "个", 15.0, False),
        ("=", "0", "0", "起", 20.0, True),
        ("=", "0", "1", "起", 0.0, False),
        ("≥", "100", "-5", "", 0.0, False),  # negative counts as 0
        ("≥", "0", "0", "", 20.0, True),
        ("≥", "1.2万亩", "11000亩", "", 18.33, False),  # 20 × 11000/12000
        ("≥", "五人", "4人", "", 16.0, False),
    ],
)
def test_quantitative_scores(direction, target, actual, unit, expected, met):
    row, _ = score_one({"direction": direction, "target": target, "actual": actual, "unit": unit,
                        "deviation_note": "原因"})
    assert round2(row.score) == expected
    assert bool(row.met) is met


def test_reverse_linear_profile(tmp_path):
    text = builtin_profile_text("national-2020").replace('reverse_formula = "ratio"', 'reverse_formula = "linear"')
    path = tmp_path / "linear.toml"
    path.write_text(text, encoding="utf-8")
    linear = load_profile(str(path))
    row, _ = score_one({"direction": "≤", "target": "5", "actual": "8", "deviation_note": "原因"}, linear)
    assert round2(row.score) == 8.0  # 20 × (1 − 3/5)
    row, _ = score_one({"direction": "≤", "target": "5", "actual": "10", "deviation_note": "原因"}, linear)
    assert row.score == 0


def test_strict_operator_is_strict():
    row, _ = score_one({"direction": "≤", "target": "小于5次", "actual": "5次", "deviation_note": "原因"})
    assert row.met is False or row.met == False  # noqa: E712 — numpy bool
    row, _ = score_one({"direction": "≤", "target": "小于5次", "actual": "4次"})
    assert bool(row.met) is True and row.score == 20


def test_operator_in_target_overrides_direction_and_is_reported():
    data = submission(standard_indicators(direction="≤", target="≥90%", unit="%", actual="95%"))
    result = evaluate_submissions([sourced(data)])
    row = result.projects[0].indicators[0]
    assert row.direction == "≥" and row.score == 20
    assert "indicator-direction-conflict" in [f.code for f in result.findings]


def test_fraction_percent_is_read_as_percent_and_reported():
    row, _ = score_one({"target": "95%", "unit": "%", "actual": "0.95"})
    assert row.score == 20 and row.B == pytest.approx(95)
    data = submission(standard_indicators(target="95%", unit="%", actual="0.95"))
    assert "indicator-percent-ambiguous" in codes(data)


def test_unit_on_one_side_only_is_read_in_the_other_side_unit_and_reported():
    # "≤90万元" against "95": 95 万元, not 95 元 against 900000 元 (unmet: 20 × 90/95)
    row, _ = score_one({"direction": "≤", "target": "≤90万元", "actual": "95", "deviation_note": "原因"})
    assert row.scored_as == "number" and (row.A, row.B) == (900000, 950000)
    assert bool(row.met) is False and round2(row.score) == round2(20 * 90 / 95)
    assert tuple(row.unit_assumed) == ("actual", "万元")
    data = submission(standard_indicators(direction="≤", target="≤90万元", actual="95", deviation_note="原因"))
    result = evaluate_submissions([sourced(data)])
    found = [f for f in result.findings if f.code == "indicator-unit-assumed"]
    assert len(found) == 1 and found[0].severity == "warning"
    assert found[0].path.endswith("indicators[0].actual") and "“万元”" in found[0].message
    assert result.projects[0].indicators[0].unit_assumed == ("actual", "万元")
    # the bare side may be the target; a bare multiplier ("9万") keeps its own 万
    row, _ = score_one({"direction": "≥", "target": "100", "actual": "120人"})
    assert tuple(row.unit_assumed) == ("target", "人") and row.score == 20
    row, _ = score_one({"direction": "≤", "target": "≤90万元", "actual": "9万"})
    assert row.B == 90000 and tuple(row.unit_assumed) == ("actual", "元")


def test_column_unit_applies_to_bare_values_without_a_finding():
    data = submission(standard_indicators(direction="≤", target="≤90", unit="万元", actual="95", deviation_note="原因"))
    result = evaluate_submissions([sourced(data)])
    assert "indicator-unit-assumed" not in [f.code for f in result.findings]
    one = result.projects[0].indicators[0]
    assert (one.target_number, one.actual_number, one.unit_assumed) == (900000, 950000, None)


@pytest.mark.parametrize(
    ("direction", "target", "actual", "score"),
    [
        ("≥", "≥5厘米", "4厘米", 16.0),  # any unit text is a unit
        ("≥", "≥5cm", "40毫米", 16.0),  # and converts inside its family
        ("≤", "≤300元/人·月", "400元/人*月", 15.0),  # one unit however the dot is typed
        ("≤", "≤1万元", "12500元", 16.0),  # 元 ↔ 万元
        ("≤", "≤0.1亿元", "1250万元", 16.0),
        ("≤", "≤5‰", "0.4%", 20.0),
        ("≥", "≥10个工作日", "8个工作日", 16.0),
    ],
)
def test_units_parse_and_compare(direction, target, actual, score):
    row, _ = score_one({"direction": direction, "target": target, "actual": actual, "deviation_note": "原因"})
    assert row.scored_as == "number" and not row.unit_mismatch and row.unit_assumed is None
    assert round2(row.score) == score


def test_counting_units_do_not_convert():
    data = submission(standard_indicators(target="≥100人", actual="120次", claimed_score=20))
    result = evaluate_submissions([sourced(data)])
    one = result.projects[0].indicators[0]
    assert one.unit_mismatch and one.scored_as == "none"
    found = [f.code for f in result.findings if f.path and f.path.startswith("projects[0].indicators[0]")]
    assert "indicator-unit-mismatch" in found and "indicator-unparseable" not in found  # one finding, not two


def test_overachievement_keeps_full_score_but_asks_why():
    row, _ = score_one({"target": "100", "actual": "130"})
    assert row.score == 20 and bool(row.overachieved)
    assert "indicator-overachieved-unexplained" in codes(submission(standard_indicators(target="100", actual="130")))
    assert "indicator-overachieved-unexplained" not in codes(
        submission(standard_indicators(target="100", actual="129")))
    assert "indicator-overachieved-unexplained" not in codes(
        submission(standard_indicators(target="100", actual="150", deviation_note="指标值设置偏低，下年调整")))


# ------------------------------------------------------------------ dates


def test_date_target_met_when_not_later():
    row, _ = score_one({"direction": "≤", "target": "2023年12月", "actual": "2023-11-20"})
    assert row.scored_as == "date" and row.score == 20


def test_date_target_late_scores_by_days_over_the_window():
    # a day target: 2023-12-31 against 2024-01-30 is 30 days late: 20 × (1 − 30/90)
    row, _ = score_one({"direction": "≤", "target": "2023-12-31", "actual": "2024-01-30", "deviation_note": "延误"})
    assert row.scored_as == "date" and row.B - row.A == 30
    assert round2(row.score) == round2(20 * (1 - 30 / 90)) == 13.33
    assert bool(row.met) is False and math.isnan(row.completion)  # a day count is no completion rate
    # the same lateness in another part of the year costs the same (no day-of-year ratio)
    row, _ = score_one({"direction": "≤", "target": "2023-03-01", "actual": "2023-03-31", "deviation_note": "延误"})
    assert round2(row.score) == 13.33
    # 90 days late or more: nothing
    row, _ = score_one({"direction": "≤", "target": "2023-01-01", "actual": "2023-04-01", "deviation_note": "延误"})
    assert row.score == 0


@pytest.mark.parametrize(
    ("target", "actual", "days_late", "score"),
    [
        ("2023.12", "2024年2月", 60, 6.67),  # a year-month, not the numbers 2023.12 and 2024.02
        ("2023年12月", "2024.2", 60, 6.67),
        ("2023.12", "2024.02", 60, 6.67),  # both year-months
        ("2023-12", "2024年1月", 31, 13.11),
        ("2023年12月", "2024-01-31", 31, 13.11),  # a month against a day: compared by month
        ("2023.12", "2023-12-28", 0, 20.0),
        ("2023-12-15", "2023年12月", 0, 20.0),  # by month: on time
        ("2023.12", "2023年11月", 0, 20.0),
        ("12月底前", "2023.12", 0, 20.0),
    ],
)
def test_year_month_dates_are_compared_by_month(target, actual, days_late, score):
    row, _ = score_one({"direction": "", "target": target, "actual": actual, "deviation_note": "原因"})
    assert row.scored_as == "date"
    assert max(0, row.B - row.A) == days_late
    assert round2(row.score) == score
    assert bool(row.met) is (days_late == 0)


def test_a_number_with_a_unit_is_never_read_as_a_date_serial():
    row, _ = score_one({"direction": "≥", "target": "≥90%", "actual": "2023-12-01"})
    assert row.scored_as == "none"  # not 1900-03-30 against 2023-12-01
    row, _ = score_one({"direction": "≤", "target": "2023-12-31", "actual": 45280})  # a date pasted as its serial
    assert row.scored_as == "date" and row.score == 20


def test_late_date_finding_states_the_window_rule():
    data = submission(standard_indicators(target="2023.12", actual="2024年2月", claimed_score=10))
    result = evaluate_submissions([sourced(data)])
    mismatch = next(f for f in result.findings if f.code == "score-mismatch")
    assert "晚于指标值60天" in mismatch.message and "÷90" in mismatch.message
    assert "indicator-unmet-unexplained" in [f.code for f in result.findings]
    assert result.projects[0].indicators[0].score == pytest.approx(20 / 3)


def test_date_late_window_from_the_profile(tmp_path):
    path = tmp_path / "window.toml"
    path.write_text(builtin_profile_text("national-2020").replace("date_late_window_days = 90",
                                                                   "date_late_window_days = 30"), encoding="utf-8")
    profile = load_profile(str(path))
    assert profile.date_late_window_days == 30
    row, _ = score_one({"direction": "≤", "target": "2023-12-01", "actual": "2023-12-16", "deviation_note": "延误"},
                       profile)
    assert round2(row.score) == 10.0  # 20 × (1 − 15/30)
    path.write_text(builtin_profile_text("national-2020").replace('date_late = "days"', 'date_late = "zero"'),
                    encoding="utf-8")
    row, _ = score_one({"direction": "≤", "target": "2023-12-01", "actual": "2023-12-02", "deviation_note": "延误"},
                       load_profile(str(path)))
    assert row.score == 0


@pytest.mark.parametrize("bad", ["0", "-5", "30.5", '"90"', "true"])
def test_date_late_window_must_be_a_positive_integer(tmp_path, bad):
    path = tmp_path / "bad.toml"
    path.write_text(builtin_profile_text("national-2020").replace("date_late_window_days = 90",
                                                                   f"date_late_window_days = {bad}"), encoding="utf-8")
    with pytest.raises(ProfileError, match="date_late_window_days (须为正整数|应为整数)"):
        load_profile(str(path))


def test_date_late_older_spelling_ratio_is_the_window_rule(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text(builtin_profile_text("national-2020").replace('date_late = "days"', 'date_late = "ratio"')
                    .replace("date_late_window_days = 90", ""), encoding="utf-8")
    profile = load_profile(str(path))
    assert (profile.date_late, profile.date_late_window_days) == ("days", 90)
    path.write_text(builtin_profile_text("national-2020").replace('date_late = "days"', 'date_late = "later"'),
                    encoding="utf-8")
    with pytest.raises(ProfileError, match="date_late 只能是 days"):
        load_profile(str(path))


def test_date_target_without_year_uses_evaluation_year():
    row, _ = score_one({"direction": "", "target": "12月底前", "actual": "2023年12月20日"})
    assert row.scored_as == "date" and row.score == 20


# ------------------------------------------------------------------ qualitative


@pytest.mark.parametrize(
    ("actual", "band"),
    [("已补缴到位", "达成"), ("按规定补缴到位", "达成"), ("基本完成", "部分达成"), ("效果较好", "部分达成"),
     ("未完成", "未达成"), ("效果较差", "未达成"), ("有所改善", None), ("", None)],
)
def test_qualitative_band(actual, band):
    assert qualitative_band(actual, "按规定补缴到位") == band


@pytest.mark.parametrize(
    ("actual", "claimed", "expected"),
    [
        ("已完成", 28, 28),  # in band [24, 30]
        ("已完成", None, 30),  # no claim: top of the top band
        ("基本完成", 20, 20),  # in band [18, 24)
        ("基本完成", 30, 23.99),  # above the band: its cap
        ("基本完成", None, 21),  # no claim: middle of the band
        ("未完成", 10, 10),
        ("未完成", 25, 17.99),
        ("有所改善", 25, 25),  # no band: the claim stands, a person reviews
        ("有所改善", None, 0),
    ],
)
def test_qualitative_scores(actual, claimed, expected):
    row, _ = score_one({"direction": "定性", "target": "按规定完成", "actual": actual, "weight": 30,
                        "claimed_score": claimed, "deviation_note": "说明"})
    assert round2(row.score) == expected


def test_old_band_profile(tmp_path):
    text = builtin_profile_text("national-2020").replace("low = 0.6\nhigh = 0.8", "low = 0.5\nhigh = 0.8").replace(
        "low = 0.0\nhigh = 0.6", "low = 0.0\nhigh = 0.5")
    path = tmp_path / "old.toml"
    path.write_text(text, encoding="utf-8")
    row, _ = score_one({"direction": "定性", "target": "完成", "actual": "基本完成", "weight": 10,
                        "claimed_score": 5.5, "deviation_note": "说明"}, load_profile(path))
    assert row.score == 5.5  # inside [50 %, 80 %) of the older forms


# ------------------------------------------------------------------ totals and grades


@pytest.mark.parametrize(
    ("first_actual", "total", "grade"),
    [("100", 100.0, "优"), ("50", 90.0, "优"), ("49.95", 89.99, "良"), ("0", 80.0, "良")],
)
def test_total_and_grade_boundaries(first_actual, total, grade):
    _, proj = score_one({"target": "100", "actual": first_actual, "deviation_note": "原因"})
    assert proj.total_display == total
    assert proj.grade == grade


def test_rounding_is_half_up_once():
    assert round_half_up(2.675) == 2.68  # float 2.675 is 2.67499999…; the form shows 2.68
    assert round_half_up(0.125) == 0.13
    assert round_half_up(0.86245, 4) == 0.8625
    assert round2(None) is None


def test_execution_cap_limits_grade(tmp_path):
    text = builtin_profile_text("national-2020") + '\n[[execution_caps]]\nbelow = 0.6\ngrade_max = "中"\n'
    path = tmp_path / "capped.toml"
    path.write_text(text, encoding="utf-8")
    _, proj = score_one({}, load_profile(path), fund_rows=funds(100, 100, 50), budget_note="年底资金未拨付")
    assert proj.total_display == 95.0 and proj.grade == "中" and bool(proj.grade_capped)


def test_split_weights_share_level1_weight():
    profile = load_profile("twenty-eighty")
    inds = [indicator("数量", weight=None), indicator("质量", level2="质量指标", weight=None),
            indicator("效益", level1="效益指标", level2="社会效益指标", weight=None),
            indicator("满意", level1="满意度指标", level2="服务对象满意度指标", weight=None)]
    scores = score_submissions([sourced(submission(inds))], profile)
    assert list(scores.indicators["weight"]) == [20, 20, 30, 10]
    assert scores.projects.iloc[0].total_display == 100


def test_profile_errors_are_chinese(tmp_path):
    with pytest.raises(ProfileError, match="没有名为"):
        load_profile("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nbudget_weight = 10\nreverse_formula = "cubic"\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="缺少或写错"):
        load_profile(bad)


def test_batch_scores_many_submissions_at_once():
    items = [sourced(submission(standard_indicators(actual=str(a)), fund_rows=funds(100, 100, e)), f"{a}.xlsx")
             for a, e in [(100, 100), (50, 90), (0, 10)]]
    scores = score_submissions(items, NATIONAL)
    assert list(scores.projects["total_display"]) == [100.0, 89.0, 71.0]
    assert list(scores.projects["grade"]) == ["优", "良", "中"]


def test_strict_target_equal_or_zero_is_unmet_without_a_free_full_score():
    row, _ = score_one({"direction": "≥", "target": "大于0", "actual": "0", "deviation_note": "原因"})
    assert bool(row.met) is False and row.score == 0
    row, _ = score_one({"direction": "≥", "target": ">90%", "unit": "%", "actual": "90%", "claimed_score": 20,
                        "deviation_note": "原因"})
    assert bool(row.met) is False and row.score == 20  # 20 × 90/90: the formula, not a reward
    found = [f.code for f in evaluate_submissions([sourced(submission(standard_indicators(
        direction="≥", target=">90%", unit="%", actual="90%", claimed_score=20)))]).findings]
    assert "indicator-unmet-unexplained" in found and "score-full-but-unmet" not in found


@pytest.mark.parametrize("actual", ["不符合相关规定", "效果不好", "不满足需求", "不够及时", "效果不显著"])
def test_negated_achievement_words_are_not_achieved(actual):
    assert qualitative_band(actual, "符合规定") == "未达成"


def test_split_weights_move_an_absent_level1_and_fold_cost_into_output():
    profile = load_profile("twenty-eighty")  # 产出 40, 效益 30, 满意度 10
    inds = [indicator("数量", weight=None), indicator("成本", level1="成本指标", level2="经济成本指标", weight=None),
            indicator("效益", level1="效益指标", level2="社会效益指标", weight=None)]
    result = evaluate_submissions([sourced(submission(inds))], profile)
    weights = [round2(i.weight) for i in result.projects[0].indicators]
    assert weights == [22.86, 22.86, 34.29]  # 产出 40 and 效益 30 scaled to 80: 45.71 shared by two, 34.29
    assert result.projects[0].total_score == 100
    assert "weight-sum-mismatch" not in [f.code for f in result.findings]


def test_percent_rounds_the_fraction_once_half_up():
    from perf_toolkit.numbers import percent

    assert percent(0.43825) == "43.83%" and percent(525.9 / 1200) == "43.83%" and percent(None) == "—"


# ------------------------------------------------------------------ typed weights, 一级 header weights, sums


def _weights_and_codes(inds: list[dict], profile=NATIONAL) -> tuple[list[float], list[str]]:
    result = evaluate_submissions([sourced(submission(inds))], profile)
    return [round2(i.weight) for i in result.projects[0].indicators], [f.code for f in result.findings]


def test_split_weights_untyped_share_what_the_typed_leave_in_their_level1():
    weights, found = _weights_and_codes([
        indicator("数量", weight=30), indicator("质量", level2="质量指标", weight=None),
        indicator("时效", level2="时效指标", weight=None),
        indicator("效益", level1="效益指标", level2="社会效益指标", weight=None),
        indicator("满意", level1="满意度指标", level2="服务对象满意度指标", weight=None)], load_profile("twenty-eighty"))
    assert weights == [30, 5, 5, 30, 10] and found == []  # 产出 40: 30 typed, 10 left for two


def test_split_weights_typed_over_their_level1_leave_nothing_and_are_reported():
    weights, found = _weights_and_codes([
        indicator("数量", weight=45), indicator("质量", level2="质量指标", weight=None),
        indicator("效益", level1="效益指标", level2="社会效益指标", weight=None),
        indicator("满意", level1="满意度指标", level2="服务对象满意度指标", weight=None)], load_profile("twenty-eighty"))
    assert weights == [45, 0, 30, 10]  # typed 45 stays; never a negative share
    assert sorted(found) == ["weight-nonstandard", "weight-sum-mismatch"]


def test_level1_header_weight_fills_untyped_but_never_overrides_typed():
    weights, _ = _weights_and_codes([
        indicator("数量", level1="产出指标（50分）", weight=30), indicator("质量", level1="产出指标（50分）", weight=None),
        indicator("时效", level1="产出指标（50分）", weight=None),
        indicator("效益", level1="效益指标(30分)", level2="社会效益指标", weight=40),
        indicator("满意", level1="满意度指标(10分)", level2="服务对象满意度指标", weight=None)], load_profile("twenty-eighty"))
    assert weights == [30, 10, 10, 40, 10]


def test_level1_header_weight_in_a_typed_profile_scores_but_the_empty_weight_is_still_reported():
    inds = standard_indicators()
    for ind in inds[:4]:
        ind["level1"] = "产出指标(50分)"
    inds[1]["weight"] = None  # 质量: 50 − 20 − 10 − 10 = 10 left
    weights, found = _weights_and_codes(inds)
    assert weights == [20, 10, 10, 10, 30, 10]
    assert found == ["required-value"]


def test_weights_over_100_are_scored_as_typed_and_the_total_is_not_capped():
    inds = standard_indicators(weight=30)  # 产出 60: the sum is 110
    result = evaluate_submissions([sourced(submission(inds))])
    project = result.projects[0]
    assert project.total_score == 110 and project.total_weight == 110 and project.weight_sum_wrong
    assert project.indicators[0].score == 30 and project.grade == "优"
    assert sorted(f.code for f in result.findings) == ["weight-nonstandard", "weight-sum-mismatch"]


def test_weights_moved_from_an_absent_satisfaction_level1_must_still_add_up():
    _, found = _weights_and_codes([indicator("数量", weight=70),
                                   indicator("效益", level1="效益指标", level2="社会效益指标", weight=30)])
    assert sorted(found) == ["weight-nonstandard", "weight-sum-mismatch"]  # 110: not a move of 满意度's 10


@pytest.mark.parametrize(("typed", "level1", "weight"), [
    ("产出指标(50分)", "产出指标", 50), ("产出指标（50分）", "产出指标", 50), ("产出指标 50分", "产出指标", 50),
    ("产出指标【50分】", "产出指标", 50), ("  产出指标（分值：50分） ", "产出指标", 50), ("产出指标(12.5)", "产出指标", 12.5),
    ("效果指标(30分)", "效益指标", 30), ("效果", "效益指标", None), ("满意度指标", "满意度指标", None),
    ("产出指标2", "产出指标2", None),
])
def test_level1_labels_as_printed_on_the_official_form(typed, level1, weight):
    assert normalise_level1(typed) == level1 and level1_weight(typed) == weight


@pytest.mark.parametrize(("typed", "level2"), [
    ("满意度指标", "服务对象满意度指标"), ("满意度", "服务对象满意度指标"), ("服务对象满意度指标等", "服务对象满意度指标"),
    ("环境效益指标", "生态效益指标"), ("环境效益", "生态效益指标"), ("数量指标（20分）", "数量指标"), ("数量 ", "数量指标"),
])
def test_level2_labels_as_printed_on_the_official_form(typed, level2):
    assert normalise_level2(typed) == level2


# ------------------------------------------------------------------ the same, from a workbook as returned


def test_units_percentages_and_dates_read_from_a_real_workbook(tmp_path):
    """Each case typed into the standard workbook, read back, scored and checked in one batch."""
    cases = [  # (name, direction, target, actual, weight)
        ("成本", "≤", "≤90万元", "95", 10),
        ("长度", "≥", "≥5厘米", "4厘米", 10),
        ("人均", "≤", "≤300元/人·月", "400元/人*月", 10),
        ("资金", "≤", "≤1万元", "12500元", 10),
        ("人次", "≥", "≥100人", "120次", 10),
        ("完工", "≤", "2023.12", "2024年2月", 10),
        ("按时", "≤", "2023年12月", "2023-12-20", 10),
        ("满意度", "≥", "≥90%", "95%", 20),  # the actual becomes 0.93 in a cell formatted 0%
    ]
    inds = [indicator(name, direction=d, target=t, actual=a, weight=w, note="原因") for name, d, t, a, w in cases]
    path = write_template(tmp_path / "单位.xlsx", submission_from_dict(submission(inds)))
    wb = load_workbook(path)
    wb["项目1"]["G25"].value, wb["项目1"]["G25"].number_format = 0.93, "0%"  # row 18 + 7
    wb.save(path)
    result = evaluate_paths([path])
    got = {i.name: i for i in result.projects[0].indicators}
    assert round2(got["成本"].score) == round2(10 * 90 / 95) and got["成本"].unit_assumed == ("actual", "万元")
    assert (got["长度"].score, got["人均"].score, got["资金"].score) == (8.0, 7.5, 8.0)
    assert got["人次"].unit_mismatch and got["人次"].scored_as == "none"
    assert got["完工"].scored_as == "date" and round2(got["完工"].score) == 3.33  # 60 days late: 10 × (1 − 60/90)
    assert got["按时"].scored_as == "date" and got["按时"].score == 10
    assert got["满意度"].submitted.actual == "93%" and got["满意度"].score == 20
    where = {f.code: f.cell for f in result.findings if f.code.startswith("indicator-")}
    assert where["indicator-unit-assumed"] == "G18" and where["indicator-unit-mismatch"] == "G22"
    assert "indicator-percent-ambiguous" not in where and "indicator-unparseable" not in where
