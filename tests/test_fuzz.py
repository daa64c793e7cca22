"""Property tests (issue 11): whatever a cell or a submission JSON holds, the reader's value parsing,
the JSON loader, the checker and the scorer never raise, and every score stays within [0, weight]."""

from __future__ import annotations

import datetime as dt
import json
import math

from builders import indicator, standard_indicators, submission
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perf_toolkit.check.evaluate import evaluate_submissions
from perf_toolkit.model import SubmissionFormatError, submission_from_dict, submission_from_json
from perf_toolkit.values import MAX_AMOUNT_YUAN, MAX_POINTS, parse_money, parse_value, parse_weight

#: What people (and hostile senders) type: numbers in every shape, units, operators, dates, junk.
_WORDS = st.sampled_from(["≥", "≤", ">", "<", "以上", "以下", "万元", "亿", "%", "‰", "人", "次", "年", "月", "日",
                          "1e1000000", "1e999999999999999999999", "-", "—", "NaN", "inf", "#DIV/0!", "约", "左右",
                          "一百二十", "两千", ".", ",", "至", "~", "\ud800", "\x00", "\u202e", "９５％", "2023-12-31"])
CELL_TEXT = st.lists(st.one_of(_WORDS, st.text(max_size=6), st.integers(-10**6, 10**6).map(str)),
                     max_size=5).map("".join)
CELL = st.one_of(st.none(), st.booleans(), st.integers(-(10**400), 10**400), st.floats(allow_nan=True),
                 st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)), CELL_TEXT, st.text(max_size=40))


@given(CELL, st.sampled_from(["", "万元", "%", "人", "元/人·月", "天"]))
@settings(max_examples=1500, deadline=None)
def test_value_parsing_never_raises_and_amounts_stay_possible(raw, unit):
    value = parse_value(raw, unit=unit, year=2023)
    assert value.kind in ("number", "date", "text", "empty", "error")
    assert value.number is None or math.isfinite(value.number)
    amount, reason = parse_money(raw)
    assert (amount is None) or (0 <= amount <= MAX_AMOUNT_YUAN / 1e4 and reason == "")
    weight, _ = parse_weight(raw)
    assert weight is None or 0 <= weight <= MAX_POINTS


JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=True), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=30)


@given(JSON_VALUE)
@settings(max_examples=500, deadline=None)
def test_submission_json_is_a_submission_or_a_format_error(data):
    for candidate in (data, {"schema": "perf-toolkit/submission/v1", **(data if isinstance(data, dict) else {"x": data})}):
        try:
            submission_from_json(json.dumps(candidate))
        except SubmissionFormatError:
            pass


@given(st.lists(st.tuples(CELL, CELL, CELL, CELL, st.sampled_from(["≥", "≤", "定性", "", "=", "x"])),
                min_size=1, max_size=6),
       st.tuples(CELL, CELL, CELL))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_checker_and_scorer_never_raise_and_scores_stay_within_the_weight(rows, amounts):
    inds = standard_indicators()
    for n, (target, actual, weight, claimed, direction) in enumerate(rows):
        typed = [v if not isinstance(v, (dt.date, bool)) else str(v) for v in (target, actual, weight, claimed)]
        if n < len(inds):
            inds[n].update(target=typed[0], actual=typed[1], weight=typed[2], claimed_score=typed[3], direction=direction)
        else:
            inds.append(indicator(f"指标{n}", target=typed[0], actual=typed[1], weight=typed[2], claimed=typed[3],
                                  direction=direction))
    data = submission(inds)
    fund = data["projects"][0]["funds"][0]
    for key, raw in zip(("initial_budget", "adjusted_budget", "executed"), amounts, strict=True):
        fund[key] = raw if not isinstance(raw, (dt.date, bool)) and not (isinstance(raw, int) and abs(raw) > 10**300) \
            else str(raw)[:50]
    evaluation = evaluate_submissions([_sourced(data)], year=2023)
    for project in evaluation.projects:
        assert project.total_score is None or project.total_score >= 0
        for i in project.indicators:
            assert i.score is None or -1e-9 <= i.score <= i.weight + 1e-9, (i.score, i.weight)


def _sourced(data: dict):
    from perf_toolkit.model import SourcedSubmission

    return SourcedSubmission(submission_from_dict(data), file="fuzz.xlsx")
