"""Tests for perf_toolkit.values: the tolerant parser of typed numbers, dates and units."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from perf_toolkit.values import (
    Value,
    assume_unit,
    comparable_units,
    convert,
    excel_percent_text,
    excel_serial_to_date,
    is_placeholder,
    meaningful_text,
    month_end,
    normalise_text,
    parse_money,
    parse_value,
    parse_weight,
    year_month,
)

D = dt.date

# ------------------------------------------------------------------ numbers

# (typed, number, unit, operator, strict)
NUMBERS = [
    # every example of rules.md §5
    ("45.08", 45.08, "", None, False),
    ("45.08万元", 450800.0, "元", None, False),
    ("450,800元", 450800.0, "元", None, False),
    ("１００％", 100.0, "%", None, False),
    ("≥90%", 90.0, "%", "≥", False),
    ("98%以上", 98.0, "%", "≥", False),
    ("不低于95%", 95.0, "%", "≥", False),
    ("小于5次", 5.0, "次", "≤", True),
    ("≤30万元", 300000.0, "元", "≤", False),
    ("1.2万亩", 12000.0, "亩", None, False),
    ("2.6亿元", 260000000.0, "元", None, False),
    ("204.46平方米", 204.46, "平方米", None, False),
    ("735人次", 735.0, "人次", None, False),
    ("0.95", 0.95, "", None, False),  # not turned into 95 %: the caller decides
    ("五人", 5.0, "人", None, False),
    # Chinese numerals
    ("一百二十", 120.0, "", None, False),
    ("两千", 2000.0, "", None, False),
    ("十五人", 15.0, "人", None, False),
    ("一百零五户", 105.0, "户", None, False),
    ("三万五千元", 35000.0, "元", None, False),
    ("零", 0.0, "", None, False),
    # signs, exponent, thousands, spaces, multipliers
    ("-5", -5.0, "", None, False),
    ("−5", -5.0, "", None, False),
    ("－5", -5.0, "", None, False),
    ("1e3", 1000.0, "", None, False),
    ("1,234,567.5元", 1234567.5, "元", None, False),
    ("45 万元", 450000.0, "元", None, False),
    (" ≥ 90 % ", 90.0, "%", "≥", False),
    ("3万", 30000.0, "", None, False),
    ("1.5千万元", 15000000.0, "元", None, False),
    ("3千克", 3.0, "千克", None, False),  # 千克 is a unit, not 千 × 克
    ("5公里", 5.0, "千米", None, False),
    ("10公斤", 10.0, "千克", None, False),
    ("7日", 7.0, "天", None, False),
    ("12个月", 12.0, "月", None, False),
    ("80㎡", 80.0, "平方米", None, False),
    ("95百分比", 95.0, "%", None, False),
    ("5个百分点", 5.0, "个百分点", None, False),
    ("≤500元/人", 500.0, "元/人", "≤", False),
    ("3艘", 3.0, "艘", None, False),  # an unlisted count unit is kept as typed
    # any unit text after the number is its unit, kept as typed when unlisted
    ("5厘米", 5.0, "厘米", None, False),
    ("≤300元/人·月", 300.0, "元/人·月", "≤", False),
    ("≤300元/人*月", 300.0, "元/人·月", "≤", False),  # one spelling of the compound unit
    ("≤300元/人×月", 300.0, "元/人·月", "≤", False),
    ("1.5万元/人·年", 15000.0, "元/人·年", None, False),
    ("10个工作日内", 10.0, "个工作日", "≤", False),
    ("3套设备", 3.0, "套设备", None, False),
    ("20cm", 20.0, "厘米", None, False),
    ("5‰", 5.0, "‰", None, False),
    ("20分", 20.0, "分", None, False),
    # operators before and after, strict ones, fillers
    ("＞＝90", 90.0, "", "≥", False),
    (">=90", 90.0, "", "≥", False),
    ("≧90%", 90.0, "%", "≥", False),
    ("≦10天", 10.0, "天", "≤", False),
    ("<=10", 10.0, "", "≤", False),
    (">90", 90.0, "", "≥", True),
    ("＞90", 90.0, "", "≥", True),
    ("<5", 5.0, "", "≤", True),
    ("＝100%", 100.0, "%", "=", False),
    ("═100%", 100.0, "%", "=", False),
    ("﹦100%", 100.0, "%", "=", False),
    ("等于100%", 100.0, "%", "=", False),
    ("不少于200人", 200.0, "人", "≥", False),
    ("至少3次", 3.0, "次", "≥", False),
    ("达到95%", 95.0, "%", "≥", False),
    ("大于90%", 90.0, "%", "≥", True),
    ("高于90%", 90.0, "%", "≥", True),
    ("超过100人", 100.0, "人", "≥", True),
    ("不高于5%", 5.0, "%", "≤", False),
    ("不超过30天", 30.0, "天", "≤", False),
    ("不多于3次", 3.0, "次", "≤", False),
    ("5%以内", 5.0, "%", "≤", False),
    ("5%以下", 5.0, "%", "≤", False),  # 以下 includes the number (民法典第1259条)
    ("低于5%", 5.0, "%", "≤", True),
    ("少于3次", 3.0, "次", "≤", True),
    ("控制在5%以内", 5.0, "%", "≤", False),
    ("30天内", 30.0, "天", "≤", False),
    ("≥90%以上", 90.0, "%", "≥", False),  # doubled: once
    ("大于90%以上", 90.0, "%", "≥", True),
    ("约100人", 100.0, "人", None, False),
    ("100人左右", 100.0, "人", None, False),
    ("全年累计完成735人次", 735.0, "人次", None, False),
    ("100%完成", 100.0, "%", None, False),
    ("90%以上(含)", 90.0, "%", "≥", False),
    ("45291", 45291.0, "", None, False),  # a number never becomes a date silently
    ("2023.12", 2023.12, "", None, False),  # a decimal, not a month
    ("5000年", 5000.0, "年", None, False),
]


@pytest.mark.parametrize(("typed", "number", "unit", "operator", "strict"), NUMBERS)
def test_parse_value_numbers(typed, number, unit, operator, strict):
    v = parse_value(typed)
    assert (v.kind, v.number, v.unit, v.operator, v.strict) == ("number", number, unit, operator, strict)
    assert v.text == typed.strip()
    assert v.note == ""


@pytest.mark.parametrize(
    ("raw", "column", "number", "unit"),
    [
        ("90", "%", 90.0, "%"),
        ("90", "％", 90.0, "%"),
        (90, "%", 90.0, "%"),
        ("45", "万元", 450000.0, "元"),
        (45.08, "万元", 450800.0, "元"),
        (0.95, "%", 0.95, "%"),  # no conversion of fractions
        ("3万", "人", 30000.0, "人"),
        ("3", "万人次", 30000.0, "人次"),
        ("90%", "万元", 90.0, "%"),  # a unit in the text wins over the column
        ("2.6亿元", "万元", 260000000.0, "元"),
        ("5", "公里", 5.0, "千米"),
        ("5", "满意度", 5.0, "满意度"),  # an unreadable column unit is kept as typed
        ("5", "—", 5.0, ""),
        (5, "", 5.0, ""),
        (-3, "", -3.0, ""),
    ],
)
def test_parse_value_column_unit_applies_when_text_has_none(raw, column, number, unit):
    v = parse_value(raw, unit=column)
    assert (v.kind, v.number, v.unit) == ("number", number, unit)


def test_parse_value_multiplier_twice_is_text():
    v = parse_value("3万", unit="万元")
    assert v.kind == "text" and v.number is None and "重复" in v.note


# ------------------------------------------------------------------ dates

# (typed, year, date, operator)
DATES = [
    ("2023年12月", None, D(2023, 12, 31), None),  # a target month means "by the end of"
    ("2023年2月", None, D(2023, 2, 28), None),
    ("2024年2月底", None, D(2024, 2, 29), None),
    ("12月底前", 2023, D(2023, 12, 31), "≤"),
    ("6月底前完成", 2023, D(2023, 6, 30), "≤"),
    ("12月", 2023, D(2023, 12, 31), None),
    ("2023-12-20", None, D(2023, 12, 20), None),
    ("2023/12/20", None, D(2023, 12, 20), None),
    ("2023.12.20", None, D(2023, 12, 20), None),
    ("2023年12月20日", None, D(2023, 12, 20), None),
    ("2023年12月20日前", None, D(2023, 12, 20), "≤"),
    ("12月20日", 2023, D(2023, 12, 20), None),
    ("2023-12-20T10:30:00", None, D(2023, 12, 20), None),
    ("2023-12-20 00:00:00", None, D(2023, 12, 20), None),
    ("2023-12", None, D(2023, 12, 31), None),
    ("2023年", None, D(2023, 12, 31), None),
    ("2023年底前", None, D(2023, 12, 31), "≤"),
    ("年底前", 2023, D(2023, 12, 31), "≤"),
    ("≤2023年12月", None, D(2023, 12, 31), "≤"),
    ("２０２３－１２－２０", None, D(2023, 12, 20), None),
]


@pytest.mark.parametrize(("typed", "year", "date", "operator"), DATES)
def test_parse_value_dates(typed, year, date, operator):
    v = parse_value(typed, year=year)
    assert (v.kind, v.date, v.operator, v.number) == ("date", date, operator, None)


@pytest.mark.parametrize(
    ("raw", "date"),
    [
        (D(2023, 12, 20), D(2023, 12, 20)),
        (dt.datetime(2023, 12, 20, 15, 30), D(2023, 12, 20)),
    ],
)
def test_parse_value_date_objects(raw, date):
    v = parse_value(raw)
    assert (v.kind, v.date) == ("date", date)
    assert v.text.startswith("2023-12-20")


@pytest.mark.parametrize(
    ("typed", "year", "note"),
    [
        ("12月底前", None, "缺少年份"),
        ("12月20日", None, "缺少年份"),
        ("年底前", None, "缺少年份"),
        ("2023-02-30", None, "日期无效"),
        ("13月", 2023, "日期无效"),
        ("2月30日", 2023, "日期无效"),
        ("2023年13月", None, "日期无效"),
        ("1850-01-01", None, "日期无效"),
    ],
)
def test_parse_value_broken_dates_are_text(typed, year, note):
    v = parse_value(typed, year=year)
    assert (v.kind, v.note, v.date) == ("text", note, None)


# ------------------------------------------------------------------ what is not a number

# (raw, kind, note)
NOT_NUMBERS = [
    (None, "empty", ""),
    ("", "empty", ""),
    ("   ", "empty", ""),
    ("\u3000", "empty", ""),
    ("#DIV/0!", "error", "Excel 错误值 #DIV/0!"),
    ("#N/A", "error", "Excel 错误值 #N/A"),
    ("#REF!", "error", "Excel 错误值 #REF!"),
    ("#VALUE!", "error", "Excel 错误值 #VALUE!"),
    ("#NAME?", "error", "Excel 错误值 #NAME?"),
    ("#NUM!", "error", "Excel 错误值 #NUM!"),
    ("#NULL!", "error", "Excel 错误值 #NULL!"),
    ("#SPILL!", "error", "Excel 错误值 #SPILL!"),
    ("#CALC!", "error", "Excel 错误值 #CALC!"),
    ("#div/0!", "error", "Excel 错误值 #DIV/0!"),
    ("Err:502", "error", "Excel 错误值 ERR:502"),
    ("NA", "text", "空值标记，不是数字"),
    ("N/A", "text", "空值标记，不是数字"),
    ("null", "text", "空值标记，不是数字"),
    ("None", "text", "空值标记，不是数字"),
    ("nan", "text", "空值标记，不是数字"),
    ("NaN", "text", "空值标记，不是数字"),
    (True, "text", "逻辑值，不是数字"),
    (False, "text", "逻辑值，不是数字"),
    (float("nan"), "text", "不是有效数字"),
    (float("inf"), "text", "不是有效数字"),
    ("5-10人", "text", "区间值，请填写单一数值"),
    ("90%-95%", "text", "区间值，请填写单一数值"),
    ("5~10", "text", "区间值，请填写单一数值"),
    ("5至10人", "text", "区间值，请填写单一数值"),
    ("按规定补缴到位", "text", "没有数字"),
    ("一般", "text", "没有数字"),  # Chinese numerals only before a known unit
    ("一次性", "text", "没有数字"),
    ("万元", "text", "没有数字"),
    ("—", "text", "没有数字"),
    ("≥", "text", "没有数字"),
    ("完成率98%，较上年提高", "text", "数字前后有无法识别的文字"),
    ("100余人", "text", "数字前后有无法识别的文字"),
    ("100%覆盖", "text", "数字前后有无法识别的文字"),  # a word after a % is no unit
    ("5/人", "text", "数字前后有无法识别的文字"),
    ("98%较上年提高2个百分点", "text", "包含多个数字"),
    ("4 508 00", "text", "包含多个数字"),  # spaced digits are not glued
    ("1,2", "text", "包含多个数字"),  # not a thousands group
    ("45,08", "text", "包含多个数字"),
    ("1万2千", "text", "包含多个数字"),
    ("≥90%以下", "text", "比较符号前后矛盾"),
    ("1e999", "text", "数值超出范围"),
    ("9" * 5000 + "万元", "text", "数值超出范围"),
    (10**400, "text", "数值超出范围"),
]


@pytest.mark.parametrize(("raw", "kind", "note"), NOT_NUMBERS)
def test_parse_value_unreadable(raw, kind, note):
    v = parse_value(raw)
    assert (v.kind, v.note, v.number, v.unit, v.operator) == (kind, note, None, "", None)


@pytest.mark.parametrize(
    "hostile",
    ["\x00", "\ud800", "约" * 5000 + "5", "1," * 3000, "≥" * 100, "\u202e95%", "=SUM(A1:A3)", "0x1F",
     "Infinity", "-inf", "1_000", "½", "²", "٣", "Ⅻ"],
)
def test_parse_value_hostile_text_never_raises(hostile):
    v = parse_value(hostile, unit="万元", year=2023)
    assert v.kind in ("number", "text", "empty", "error")
    assert v.kind != "number" or v.number == v.number  # never NaN
    assert isinstance(parse_money(hostile), tuple) and isinstance(parse_weight(hostile), tuple)


def test_parse_value_keeps_original_text():
    assert parse_value("  １００％ ").text == "１００％"
    assert parse_value(45.08).text == "45.08"


# ------------------------------------------------------------------ NFKC property

def _full_width(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


@pytest.mark.parametrize(
    "ascii_text",
    ["45.08", "450,800元", "≥90%", ">90", "=100%", "-5", "1e3", "2023-12-20", "2023/12/20",
     "#DIV/0!", "N/A", "5-10人", "≤30万元", "98%以上", "12月20日"],
)
def test_parse_value_full_width_same_as_ascii(ascii_text):
    fw = _full_width(ascii_text)
    assert fw != ascii_text
    a, b = parse_value(ascii_text, year=2023), parse_value(fw, year=2023)
    assert dataclasses.replace(a, text="") == dataclasses.replace(b, text="")
    assert b.text == fw


# ------------------------------------------------------------------ parse_money

@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (45.08, (45.08, "")),
        (2.94, (2.94, "")),
        (0, (0.0, "")),
        ("45.08", (45.08, "")),
        ("45.08万元", (45.08, "")),
        ("450,800元", (45.08, "")),
        ("４５０，８００元", (45.08, "")),
        ("１００", (100.0, "")),
        ("2.6亿元", (26000.0, "")),
        ("1千元", (0.1, "")),
        ("-5", (None, "金额不能为负数")),  # no budget is negative (issue 11)
        ("1e1000000", (None, "数值超出范围")),  # beyond Decimal's context: no crash
        ("1e999999999999999999999", (None, "数值超出范围")),
        ("2e9", (None, "金额超出预算可能的范围")),  # 2e13 元: no budget line is that large
        (-2.94, (None, "金额不能为负数")),
        ("", (None, "")),
        ("  ", (None, "")),
        (None, (None, "")),
        ("—", (0.0, "")),
        ("-", (0.0, "")),
        ("－", (0.0, "")),
        ("/", (0.0, "")),
        ("无", (0.0, "")),
        ("#DIV/0!", (None, "Excel 错误值 #DIV/0!")),
        ("NA", (None, "空值标记，不是数字")),
        ("5人", (None, "单位“人”不是金额单位")),
        ("95%", (None, "单位“%”不是金额单位")),
        ("≤30万元", (None, "金额不应带比较符号")),
        ("2023-12-01", (None, "是日期，不是金额")),
        (True, (None, "逻辑值，不是数字")),
        ("3万", (3.0, "")),  # "3万" in a money cell is 3 万元
        ("待定", (None, "没有数字")),
    ],
)
def test_parse_money_cases(raw, expected):
    assert parse_money(raw) == expected


def test_parse_money_in_yuan_form():
    assert parse_money("45.08万元", unit="元") == (450800.0, "")
    assert parse_money(450800, unit="元") == (450800.0, "")


@pytest.mark.parametrize("wan", ["45.08", "2.94", "0.01", "123456.789", "0.0001", "3"])
def test_parse_money_wan_equals_yuan(wan):
    yuan = Decimal(wan) * 10000
    assert parse_money(f"{wan}万元") == parse_money(f"{yuan}元") == parse_money(f"{yuan:,}元")
    assert parse_money(f"{wan}万元")[0] == float(wan)


# ------------------------------------------------------------------ parse_weight

@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (20, (20.0, "")),
        ("20", (20.0, "")),
        ("20分", (20.0, "")),
        ("２０", (20.0, "")),
        ("20.5", (20.5, "")),
        (" 10 分 ", (10.0, "")),
        ("", (None, "")),
        (None, (None, "")),
        ("—", (None, "")),  # the budget sub-rows print a dash in 分值/得分
        ("二十分", (20.0, "")),
        ("20%", (None, "分值的单位应为“分”，不是“%”")),
        ("≥20", (None, "分值不应带比较符号")),
        ("#REF!", (None, "Excel 错误值 #REF!")),
        ("满分", (None, "没有数字")),
        (True, (None, "逻辑值，不是数字")),
        (D(2023, 1, 1), (None, "是日期，不是分值")),
    ],
)
def test_parse_weight_cases(raw, expected):
    assert parse_weight(raw) == expected


# ------------------------------------------------------------------ convert / comparable_units

@pytest.mark.parametrize(
    ("typed", "to_unit", "expected"),
    [
        ("45.08万元", "万元", 45.08),
        ("450,800元", "万元", 45.08),
        ("2.6亿元", "万元", 26000.0),
        ("1千元", "元", 1000.0),
        ("1.2万亩", "公顷", 800.0),
        ("15亩", "平方米", 10000.0),
        ("3公顷", "亩", 45.0),
        ("1平方公里", "公顷", 100.0),
        ("5公里", "米", 5000.0),
        ("2吨", "公斤", 2000.0),
        ("500克", "千克", 0.5),
        ("95%", "百分比", 95.0),
        ("10天", "日", 10.0),
        ("5", "", 5.0),
        ("5万元/公里", "元/千米", 50000.0),
        ("5人", "人次", None),
        ("5人", "户", None),
        ("5个", "次", None),
        ("3月", "天", None),  # a date, not a number
        ("12个月", "天", None),  # 月 is not guessed as 30 天
        ("1年", "月", None),
        ("95%", "", None),
        ("5", "%", None),
        ("5个百分点", "%", None),
        ("5元", "人", None),
        ("5厘米", "米", 0.05),
        ("40毫米", "厘米", 4.0),
        ("5‰", "%", 0.5),
        ("400元/人*月", "元/人·月", 400.0),
        ("400元/人·月", "元/人", None),
        ("3套设备", "套", None),
    ],
)
def test_convert_within_families_only(typed, to_unit, expected):
    result = convert(parse_value(typed, year=2023), to_unit)
    assert result == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("bare", "like", "number", "unit", "unit_text"),
    [
        ("95", "≤90万元", 950000.0, "元", "万元"),  # 95 万元, never 95 元 against 900000 元
        ("9万", "≤90万元", 90000.0, "元", "万元"),  # a bare multiplier keeps its own 万
        ("95", "≥90%", 95.0, "%", "%"),
        ("120", "≥100人", 120.0, "人", "人"),
        ("2", "≥1.5亿元", 200000000.0, "元", "亿元"),
        ("5", "≥3公里", 5.0, "千米", "公里"),
    ],
)
def test_assume_unit_reads_a_bare_number_in_the_other_side_unit(bare, like, number, unit, unit_text):
    read = assume_unit(parse_value(bare), parse_value(like))
    assert (read.number, read.unit, read.unit_text) == (number, unit, unit_text)


@pytest.mark.parametrize(("bare", "like"), [("95人", "≤90万元"), ("95", "90"), ("完成", "90万元")])
def test_assume_unit_leaves_what_is_not_one_sided(bare, like):
    assert assume_unit(parse_value(bare), parse_value(like)) == parse_value(bare)


def test_column_unit_is_the_unit_as_written():
    v = parse_value("90", unit="万元")
    assert (v.number, v.unit, v.unit_text) == (900000.0, "元", "万元")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023.12", (2023, 12)),
        ("２０２３．１２", (2023, 12)),
        ("2023.1", (2023, 1)),  # text keeps what was typed
        ("≤2023.12", (2023, 12)),
        (2023.12, (2023, 12)),
        (2024.02, (2024, 2)),
        (2024.2, (2024, 2)),
        (2023.1, None),  # a number: typed 2023.1 or 2023.10, nobody can say
        ("2023.13", None),
        ("2023.0", None),
        ("1850.12", None),
        ("45.08", None),
        ("2023.125", None),
        (2023, None),
        (True, None),
        (None, None),
    ],
)
def test_year_month_of_a_decimal_typed_as_a_month(raw, expected):
    assert year_month(raw) == expected


def test_month_only_dates_and_month_end():
    assert parse_value("2023年12月").month_only and parse_value("2023-12").month_only
    assert parse_value("12月底前", year=2023).month_only and parse_value("2023年").month_only
    assert not parse_value("2023-12-20").month_only and not parse_value("2023年12月20日").month_only
    assert month_end(2024, 2) == D(2024, 2, 29) and month_end(2023, 12) == D(2023, 12, 31)


@pytest.mark.parametrize(("n", "text"), [(0.93, "93%"), (0.935, "93.5%"), (1, "100%"), (0, "0%"), (1.2, "120%"),
                                         (0.07, "7%"), (-0.05, "-5%"), (0.123456, "12.3456%")])
def test_excel_percent_text_as_the_clerk_reads_it(n, text):
    assert excel_percent_text(n) == text
    assert parse_value(text).number == pytest.approx(n * 100)


def test_convert_target_and_actual_compare_in_yuan():
    target, actual = parse_value("≥45万元"), parse_value("450,800元")
    assert target.unit == actual.unit == "元"
    assert actual.number >= target.number
    assert convert(actual, "万元") == 45.08


def test_convert_non_number_is_none():
    assert convert(Value("text", text="x"), "") is None
    assert convert(Value("empty"), "") is None


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("元", "万元", True),
        ("亿元", "千元", True),
        ("亩", "平方米", True),
        ("公顷", "平方公里", True),
        ("米", "公里", True),
        ("千克", "吨", True),
        ("天", "日", True),
        ("%", "百分比", True),
        ("%", "％", True),
        ("", "", True),
        ("人", "人", True),
        ("人", "人次", False),
        ("人", "户", False),
        ("个", "次", False),
        ("次", "件", False),
        ("天", "月", False),
        ("%", "", False),
        ("%", "个百分点", False),
        ("元", "亩", False),
        ("元/人", "万元/人", True),
        ("%", "‰", True),
        ("厘米", "米", True),
        ("元/人·月", "元/人*月", True),
        ("元/人·月", "元/人", False),
        ("人·月", "人", False),
    ],
)
def test_comparable_units_table(a, b, expected):
    assert comparable_units(a, b) is expected
    assert comparable_units(b, a) is expected


# ------------------------------------------------------------------ Excel serials

@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (1, D(1900, 1, 1)),
        (59, D(1900, 2, 28)),
        (60, None),  # Excel's fictitious 1900-02-29
        (61, D(1900, 3, 1)),
        (45291, D(2023, 12, 31)),
        (45291.75, D(2023, 12, 31)),  # the time of day is dropped
        (45280.0, D(2023, 12, 20)),
        (0, None),
        (-5, None),
        (10**12, None),
        (float("nan"), None),
        (True, None),
        (109574, D(2199, 12, 31)),
        (110000, None),  # after 2200
    ],
)
def test_excel_serial_to_date_1900_system(serial, expected):
    assert excel_serial_to_date(serial) == expected


def test_parse_value_serial_stays_number_until_asked():
    v = parse_value(45291)
    assert (v.kind, v.number) == ("number", 45291.0)
    assert excel_serial_to_date(v.number) == D(2023, 12, 31)


# ------------------------------------------------------------------ free text helpers

@pytest.mark.parametrize(
    ("raw", "expected"),
    [("１００％", "100%"), (" ≧ 90 % ", "≥90%"), ("4 508 00", "4 508 00"), ("450，800元", "450800元"),
     (None, ""), (95, "95")],
)
def test_normalise_text_cases(raw, expected):
    assert normalise_text(raw) == expected


@pytest.mark.parametrize(
    ("text", "placeholder", "meaningful"),
    [
        ("……", True, ""),
        ("...", True, ""),
        ("/", True, ""),
        (" — ", True, ""),
        ("0", True, ""),
        ("指标1", True, ""),
        ("指标一", True, ""),
        ("××", True, ""),
        ("待填", True, ""),
        ("请填写偏差原因", True, ""),
        ("", False, ""),
        (None, False, ""),
        ("无", False, ""),  # a legitimate answer to 其他需要说明的问题, but explains nothing
        ("无。", False, ""),
        ("暂无", False, ""),
        ("N/A", False, ""),
        ("原因", False, "原因"),
        ("无偏差", False, "无偏差"),
        (" 受疫情影响，部分对象未能按期完成 ", False, "受疫情影响，部分对象未能按期完成"),
        ("100", False, "100"),
    ],
)
def test_placeholder_and_meaningful_text(text, placeholder, meaningful):
    assert is_placeholder(text) is placeholder
    assert meaningful_text(text) == meaningful


@pytest.mark.parametrize(("raw", "amount"), [("40万", 40.0), ("四十万", 40.0), ("约四十万", 40.0), ("3亿", 30000.0),
                                            ("四十万元", 40.0)])
def test_money_multiplier_without_yuan_means_wan_yuan(raw, amount):
    assert parse_money(raw) == (amount, "")
