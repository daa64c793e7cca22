"""JSON → workbook → JSON is identical, for generated valid submissions (hypothesis).

A generated submission is written with `write_from_json` (what `template --fill` does), read
back with `export_workbook` (what `export` does), and must come back equal, key for key.
What cannot come back, by design, is left out of the generator (each stated where it is):
- text is stripped of surrounding white space when read (a clerk's stray spaces are noise), so
  generated text has none; characters XML 1.0 cannot hold (control characters other than tab and
  line breaks) are dropped when written, so generated text has none;
- an empty text in a value cell ("" for a target) is an empty cell, read back as None;
- a fund row with no amount is not exported, and fund rows come back in the form's order
  (当年财政拨款, 上年结转资金, 其他资金) under the form's names, so generated rows have at
  least one amount and are in that order;
- a number has at most 15 significant digits (what Excel keeps of a typed number);
- a 一级指标 that reads as a label of the rows after the table (总分, 偏离绩效目标的原因分析, a text
  ending in 合计 or 小计) ends the table: that is how the reader finds its end in any layout;
- a department date that is a real ISO date is written as a date and read back as the same ISO
  text; other text in a date field stays text.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perf_toolkit.model import FUND_SOURCES, SCHEMA
from perf_toolkit.spec import clean_label
from perf_toolkit.workbook.read import export_workbook, is_stop_label
from perf_toolkit.workbook.template import write_from_json

#: Characters a department's text really contains: CJK, full-width forms, the form's own symbols,
#: characters that mean something to Excel or XML (= + - @ # & < > " '), line breaks, emoji.
TRICKY = "=+-@#%&<>\"'\t\n\r ，。、；：（）【】《》“”‘’≥≤＞＜％０１２３．·—…￥$😀☃\u3000\u00a0"
ALPHABET = st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5),
    st.sampled_from(TRICKY),
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
)


def _stripped(text: str) -> bool:
    return text == text.strip()


TEXT = st.text(ALPHABET, min_size=1, max_size=30).filter(_stripped)
OPTIONAL_TEXT = st.one_of(st.just(""), TEXT)
NUMERIC_TEXT = st.from_regex(r"\A(≥|≤|>|<|不低于)?-?[0-9]{1,6}(\.[0-9]{1,4})?(%|％|万元|人次|亩|天)?(以上)?\Z")
#: Integers, and decimals of up to 15 significant digits (the precision Excel keeps of a typed number;
#: openpyxl writes 16, so a float of 17 digits such as 0.1 + 0.2 comes back as 0.3).
NUMBER = st.one_of(
    st.integers(min_value=-10**12, max_value=10**12),
    st.builds(lambda n, places: n / 10**places, st.integers(-10**12, 10**12), st.integers(1, 6)),
)
#: A value kept as typed (target, actual, weight, a fund amount): nothing, a number, numeric text or text.
TYPED = st.one_of(st.none(), NUMBER, NUMERIC_TEXT, TEXT)
DATE = st.one_of(st.just(""), st.dates(dt.date(1900, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat), TEXT)


@st.composite
def _funds(draw) -> list[dict]:
    sources = draw(st.lists(st.sampled_from(FUND_SOURCES), max_size=3, unique=True))
    rows = []
    for source in sorted(sources, key=FUND_SOURCES.index):
        amounts = draw(st.tuples(TYPED, TYPED, TYPED).filter(lambda t: any(v is not None for v in t)))
        rows.append({"source": source, **dict(zip(("initial_budget", "adjusted_budget", "executed"), amounts,
                                                  strict=True))})
    return rows


INDICATOR = st.fixed_dictionaries({
    "level1": OPTIONAL_TEXT.filter(lambda text: not is_stop_label(clean_label(text))), "level2": OPTIONAL_TEXT, "name": TEXT,
    "direction": st.one_of(st.sampled_from(["≥", "≤", "=", "定性", ""]), TEXT), "target": TYPED,
    "unit": OPTIONAL_TEXT, "actual": TYPED, "weight": TYPED, "claimed_score": TYPED, "basis": OPTIONAL_TEXT,
    "deviation_note": OPTIONAL_TEXT,
})

PROJECT = st.fixed_dictionaries({
    "code": TEXT, "name": TEXT, "implementer": OPTIONAL_TEXT, "budget_document": OPTIONAL_TEXT, "funds": _funds(),
    "budget_note": OPTIONAL_TEXT, "goal": OPTIONAL_TEXT, "achievement": OPTIONAL_TEXT,
    "indicators": st.lists(INDICATOR, min_size=1, max_size=8), "deviation_reason": OPTIONAL_TEXT,
    "improvement": OPTIONAL_TEXT, "result_use": OPTIONAL_TEXT, "disclosure": OPTIONAL_TEXT,
    "other_notes": OPTIONAL_TEXT,
})

SUBMISSION = st.fixed_dictionaries({
    "schema": st.just(SCHEMA),
    "year": st.one_of(st.none(), st.integers(2000, 2100)),
    "department": st.fixed_dictionaries({
        "code": TEXT, "name": TEXT, "supervisor": OPTIONAL_TEXT, "duties": st.lists(TEXT, max_size=4),
        "evaluation_unit": OPTIONAL_TEXT, "evaluation_start": DATE, "evaluation_end": DATE, "report_date": DATE,
        "contact": st.fixed_dictionaries({"name": OPTIONAL_TEXT, "phone": OPTIONAL_TEXT, "email": OPTIONAL_TEXT}),
    }),
    "projects": st.lists(PROJECT, min_size=1, max_size=3),
})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(SUBMISSION)
def test_export_of_a_filled_workbook_gives_back_the_json(data):
    with tempfile.TemporaryDirectory() as tmp:
        source, book = Path(tmp) / "in.json", Path(tmp) / "单位.xlsx"
        source.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        write_from_json(source, book)
        assert export_workbook(book) == data
