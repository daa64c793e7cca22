"""Tolerant parsing of what people type in self-evaluation workbooks (rules.md §5).

Pure functions, no I/O. Nothing is guessed silently: what cannot be read comes back as a
`Value` whose `kind` says so ("text", "error", "empty") and whose `note` says why in
Chinese, so the caller can raise a finding naming the cell. A text is read in steps:

1. Normalise: NFKC (full-width digits, ％ ， ． ＞ ＝), look-alikes (≧ ≦ ═ − …), >= <=;
   spaces go except between two digits ("4 508 00" stays three numbers); thousands
   commas go only in groups of three (450,800).
2. Excel error values (#DIV/0! …) are kind "error"; NA, N/A, null, None, nan are text.
3. Operator phrases and filler words are peeled off both ends (`_PRE`, `_POST`). The
   strict ones (> < 大于 高于 超过 多于 小于 低于 少于 不足 不到 不满) give ≥/≤ with
   ``strict=True``; 以上、以下、以内 include the number (民法典第一千二百五十九条).
   "≥90%以上" gives ≥ once; contradicting phrases ("≥90%以下") make the value text.
4. The rest must be one date, or exactly one number with an optional multiplier
   (十百千万亿) and unit. Chinese numerals (五人, 一百二十, 两千) count only before a
   known unit or nothing, so 一般 stays text. Fillers (约, 左右, 全年, 累计, 完成 …) are
   accepted, labels are not ("完成率98%" is text). Otherwise the note is
   "区间值，请填写单一数值", "没有数字", "包含多个数字" or "数字前后有无法识别的文字".
5. Units: any text after the number is its unit (厘米, 元/人·月, 艘 …): `_UNITS` maps known
   spellings to a canonical unit, an unlisted one is kept as typed and matches only itself
   (元/人*月 and 元/人·月 are one unit). Money is canonical in 元 (万元 ×1e4); other units keep
   their name (1.2万亩 is 12000 亩) and `convert` moves only within a `_FAMILIES` family
   (money, %/‰, area, length, mass): 人 and 次 never convert. `unit_text` keeps the unit as
   written, so `assume_unit` can read a bare "95" in the other side's 万元.
6. Dates: a month without a day is its last day (a target month means "by the end of"),
   `month_only` says so; "2023年"/"2023年底" is 31 December, "2023-12" a month but
   "2023.12" a decimal (`year_month` reads it as a month for a caller that knows the other
   side is a date); 前/以前/之前 give ≤. Without a year in the text `year` is used, else "缺少年份".

Numbers never become dates ("45291" stays a number: `excel_serial_to_date` is for a
caller that knows the other side is a date), and "0.95" stays 0.95 (not 95 %).
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import math
import re
import unicodedata
from dataclasses import dataclass, replace
from decimal import Decimal

from .numbers import memoised


@dataclass(frozen=True)
class Value:
    """A typed cell value split into operator, number (canonical unit) and unit."""

    kind: str  # "number" | "date" | "text" | "empty" | "error"
    number: float | None = None
    unit: str = ""
    operator: str | None = None  # "≥" | "≤" | "="
    date: dt.date | None = None
    text: str = ""  # the value as typed, stripped
    note: str = ""  # Chinese reason when kind is "text" or "error"
    strict: bool = False  # the operator excludes the number itself (>, <, 大于, 低于 …)
    unit_text: str = ""  # the unit as written after the number ("万元", a bare multiplier "万"), or the column's
    month_only: bool = False  # a date typed without a day ("2023年12月", "2023年底"): `date` is the month's last day


# ------------------------------------------------------------------ units (data)

_ONE = Decimal(1)
#: Count units: each is compatible only with itself.
_COUNT_UNITS = (*"人户个次件项家名位所座条台套场期批辆处篇份本册只头株棵盏间栋部类种张支块分",
                "人次", "户次", "家次", "车次", "架次", "批次", "台次", "台套", "场次", "班次",
                "课时", "学时", "人日", "工日", "工作日")
#: Unit spelling -> (canonical unit, factor to it). Money is canonical in 元.
_UNITS: dict[str, tuple[str, Decimal]] = {
    "": ("", _ONE),
    **{u: (u, _ONE) for u in _COUNT_UNITS},
    **{u: (u, _ONE) for u in ("元", "%", "‰", "个百分点", "平方米", "平方公里", "亩", "公顷", "米", "厘米",
                              "毫米", "千米", "千克", "克", "吨", "立方米", "天", "月", "年", "周", "小时", "分钟")},
    "千元": ("元", Decimal(10**3)), "万元": ("元", Decimal(10**4)), "亿元": ("元", Decimal(10**8)),
    "百分比": ("%", _ONE), "百分率": ("%", _ONE), "百分点": ("个百分点", _ONE),
    "平米": ("平方米", _ONE), "m2": ("平方米", _ONE), "平方千米": ("平方公里", _ONE),
    "km2": ("平方公里", _ONE), "hm2": ("公顷", _ONE), "m3": ("立方米", _ONE),
    "m": ("米", _ONE), "公里": ("千米", _ONE), "km": ("千米", _ONE), "cm": ("厘米", _ONE), "mm": ("毫米", _ONE),
    "公斤": ("千克", _ONE), "kg": ("千克", _ONE), "g": ("克", _ONE), "t": ("吨", _ONE),
    "日": ("天", _ONE), "个月": ("月", _ONE), "h": ("小时", _ONE),
}
#: Canonical units that convert into each other: (family, size in the family's base).
#: Time units are deliberately absent: 月 is not 30 天.
_FAMILIES: dict[str, tuple[str, Decimal]] = {
    "平方米": ("面积", _ONE), "亩": ("面积", Decimal(10000) / 15), "公顷": ("面积", Decimal(10**4)),
    "平方公里": ("面积", Decimal(10**6)),
    "米": ("长度", _ONE), "千米": ("长度", Decimal(1000)), "厘米": ("长度", Decimal("0.01")),
    "毫米": ("长度", Decimal("0.001")),
    "克": ("质量", Decimal("0.001")), "千克": ("质量", _ONE), "吨": ("质量", Decimal(1000)),
    "%": ("比率", _ONE), "‰": ("比率", Decimal("0.1")),
}
_MULTIPLIERS = {"十": 10, "百": 100, "千": 1000, "万": 10**4, "亿": 10**8}
#: Single characters that follow a number but are no unit (100余人, 5左右 …).
_NOT_UNIT = frozenset("余多来几整左右约近内前后上下及或以之共达的是为和与率")
#: An unlisted unit: letters and CJK with the separators of compound units (元/人·月, 人*次, m³).
_GENERIC_UNIT_RE = re.compile(r"[A-Za-z\u4e00-\u9fff][A-Za-z\u4e00-\u9fff/·²³]{0,11}")
#: The separators people type between the parts of a compound unit: one spelling (元/人*月 is 元/人·月).
_UNIT_SEPARATORS = str.maketrans({"*": "·", "×": "·", "・": "·", "•": "·", "‧": "·", "∙": "·", "⋅": "·"})

# ------------------------------------------------------------------ words (data)

#: Leading phrase -> (operator, strict); operator None for filler words.
_PRE: dict[str, tuple[str | None, bool]] = {
    **dict.fromkeys(("≥", "不低于", "不少于", "不小于", "大于等于", "大于或等于", "至少", "最少",
                     "达到", "达"), ("≥", False)),
    **dict.fromkeys(("大于", "高于", "超过", "多于", ">"), ("≥", True)),
    **dict.fromkeys(("≤", "不高于", "不超过", "不多于", "不大于", "小于等于", "小于或等于", "至多",
                     "最多", "控制在"), ("≤", False)),
    **dict.fromkeys(("小于", "低于", "少于", "不足", "不到", "不满", "<"), ("≤", True)),
    **dict.fromkeys(("=", "等于"), ("=", False)),
    **dict.fromkeys(("约", "大约", "近", "全年", "累计", "共计", "合计", "总计", "共", "实际",
                     "已完成", "完成", "实现", "预计", "平均"), (None, False)),
}
#: Trailing phrase -> (operator, strict). 前 makes "12月底前" a deadline (≤).
_POST: dict[str, tuple[str | None, bool]] = {
    **dict.fromkeys(("以上", "及以上", "或以上"), ("≥", False)),
    **dict.fromkeys(("以下", "及以下", "或以下", "以内", "之内", "内", "前", "以前", "之前"), ("≤", False)),
    **dict.fromkeys(("左右", "上下", "完成", "整", "(含)"), (None, False)),
}
_PRE_ORDER, _POST_ORDER = (sorted(d, key=len, reverse=True) for d in (_PRE, _POST))  # longest first

_EXCEL_ERRORS = frozenset({"#DIV/0!", "#N/A", "#REF!", "#VALUE!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!",
                           "#CALC!", "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!",
                           "#UNKNOWN!"})
_NULL_WORDS = frozenset({"NA", "N/A", "N.A.", "NULL", "NONE", "NAN", "NIL"})
#: What a clerk types for "nothing" in an amount or weight cell.
_DASHES = frozenset({"-", "--", "—", "——", "–", "―", "/", "\\", "无"})

_LOOKALIKES = str.maketrans({"≧": "≥", "⩾": "≥", "≦": "≤", "⩽": "≤", "═": "=", "﹦": "=", "−": "-",
                             "‐": "-", "‑": "-", "〜": "~"})
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER_RE = re.compile(rf"({_NUM})(.*)")
_CN_NUMBER_RE = re.compile(r"([零〇一二两三四五六七八九十百千万亿]+)(.*)")
_RANGE_RE = re.compile(rf"{_NUM}\D{{0,4}}?(?:-|~|至|到|—|–){_NUM}\D{{0,6}}")
_THOUSANDS_RE = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,])")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}

_TIME = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
#: Date shapes, tried in order. y/m/d groups; no y = the evaluation year; no d = the month's last day
#: (a target month means "by the end of"); yo = a year alone ("2023年底"), else a number of years.
_DATE_SHAPES = tuple(re.compile(p) for p in (
    rf"(?P<y>\d{{4}})(?P<sep>[-/.])(?P<m>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}}){_TIME}",
    r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]",
    r"(?P<y>\d{4})(?:年(?P<m>\d{1,2})月份?(?:底|末)?|[-/](?P<m2>\d{1,2}))",
    r"(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]",
    r"(?P<m>\d{1,2})月份?(?:底|末)?",
    r"(?P<yo>\d{4})年度?(?:底|末)?",
    r"(?:当|本)?年度?(?:底|末)?",
))


# ------------------------------------------------------------------ public API

OUT_OF_RANGE = "数值超出范围"
#: No budget line is larger: 10 万亿元 (a province's whole budget is far below). Above it is a typing accident.
MAX_AMOUNT_YUAN = 1e13
#: No 分值 or 得分 is larger (a form's total is 100; a typed 105 is read and flagged by the checks).
MAX_POINTS = 1000
#: Decimal exponents beyond this are no figure anybody typed (float's own range ends at 1e308).
_MAX_EXPONENT = 400


@memoised
def parse_value(raw, *, unit: str = "", year: int | None = None) -> Value:
    """Read a target, actual or amount as typed; `unit` is the 计量单位 column, `year` the evaluation year."""
    if raw is None:
        return Value("empty")
    if isinstance(raw, bool):
        return Value("text", text=str(raw), note="逻辑值，不是数字")
    if isinstance(raw, dt.datetime):
        return Value("date", date=raw.date(), text=raw.isoformat(sep=" "))
    if isinstance(raw, dt.date):
        return Value("date", date=raw, text=raw.isoformat())
    if isinstance(raw, int) and abs(raw) >= 10**300:  # beyond float, and str() refuses 4300+ digits
        return Value("text", note=OUT_OF_RANGE)
    if isinstance(raw, (int, float)):
        if not math.isfinite(raw):
            return Value("text", text=str(raw), note="不是有效数字")
        return _number(Decimal(repr(raw)), ("", _ONE), unit, None, False, str(raw))
    text = str(raw).strip()
    s = _normalise(text)
    if not s:
        return Value("empty", text=text)
    upper = s.upper()
    if upper in _EXCEL_ERRORS or re.fullmatch(r"ERR:\d{3}", upper):
        return Value("error", text=text, note=f"Excel 错误值 {upper}")
    if upper in _NULL_WORDS:
        return Value("text", text=text, note="空值标记，不是数字")
    core, ops = _peel(s)
    if len({op for op, _ in ops}) > 1:
        return Value("text", text=text, note="比较符号前后矛盾")
    operator, strict = (ops[0][0], any(st for _, st in ops)) if ops else (None, False)
    dated = _match_date(core, year)
    if dated is not None:
        day, note, month_only = dated
        if day is None:
            return Value("text", text=text, note=note)
        return Value("date", date=day, operator=operator, strict=strict, text=text, month_only=month_only)
    m = _NUMBER_RE.fullmatch(core)
    if m and (found := _unit_info(m[2])) is not None:
        num = _decimal(m[1])
        if num is None:
            return Value("text", text=text, note=OUT_OF_RANGE)
        return _number(num, found, unit, operator, strict, text, m[2])
    m = _CN_NUMBER_RE.fullmatch(core)
    if m and m[2] in _UNITS and (n := _cn_number(m[1])) is not None:
        return _number(Decimal(n), _UNITS[m[2]], unit, operator, strict, text, m[2])
    return Value("text", text=text, note=_why_unreadable(core))


def parse_money(raw, *, unit: str = "万元") -> tuple[float | None, str]:
    """An amount of the funds block in `unit` (the form's 万元), or (None, Chinese reason).

    An amount no budget can be (negative, or beyond `MAX_AMOUNT_YUAN`) is unreadable, with its reason."""
    if isinstance(raw, str) and _normalise(raw.strip()) in _DASHES:
        return 0.0, ""  # a dash in a money cell means "none" (documented convention)
    if isinstance(raw, str) and raw.strip().endswith(("万", "亿")):
        raw = raw.strip() + "元"  # "40万" / "四十万" in a money cell is 40 万元, as everyone reads it
    v = parse_value(raw, unit=unit)
    if v.kind != "number" or v.operator:
        return None, _not_plain(v, "金额")
    amount = convert(v, unit)
    if amount is None:
        return None, f"单位“{v.unit or '无'}”不是金额单位"
    if amount < 0:
        return None, "金额不能为负数"
    if v.number is not None and v.number > MAX_AMOUNT_YUAN:
        return None, "金额超出预算可能的范围"
    return amount, ""


def parse_weight(raw) -> tuple[float | None, str]:
    """A 分值 or 自评得分 as a number of points, or (None, Chinese reason); a dash is empty."""
    if isinstance(raw, str) and _normalise(raw.strip()) in _DASHES:
        return None, ""  # sub-rows of the budget block print "—" in 分值/得分
    v = parse_value(raw)
    if v.kind != "number" or v.operator:
        return None, _not_plain(v, "分值")
    if v.unit not in ("", "分"):
        return None, f"分值的单位应为“分”，不是“{v.unit}”"
    if v.number is not None and v.number < 0:
        return None, "分值不能为负数"
    if v.number is not None and v.number > MAX_POINTS:  # a typed total over 100 is still read, and checked
        return None, OUT_OF_RANGE
    return v.number, ""


def convert(value: Value, to_unit: str) -> float | None:
    """The number of `value` expressed in `to_unit`, None when not a number or the units do not convert."""
    if value.kind != "number" or value.number is None:
        return None
    (src, f_src), (dst, f_dst) = _unit_key(value.unit), _unit_key(to_unit)
    fam_src, base_src = _FAMILIES.get(src, (src, _ONE))
    fam_dst, base_dst = _FAMILIES.get(dst, (dst, _ONE))
    if fam_src != fam_dst:
        return None
    return float(Decimal(repr(value.number)) * f_src * base_src / (f_dst * base_dst))


def assume_unit(bare: Value, like: Value) -> Value:
    """`bare`, a number typed without a unit, read in the unit `like` was written in ("95" against
    "≤90万元" is 95 万元; "9万" against it is 9万元). The caller says so: never a silent ×10000."""
    if bare.kind != "number" or bare.number is None or bare.unit or like.kind != "number" or not like.unit:
        return bare
    if bare.unit_text:  # a bare multiplier ("9万"): the number is already in the canonical unit
        return replace(bare, unit=like.unit, unit_text=bare.unit_text + like.unit)
    canonical, factor = _unit_key(like.unit_text or like.unit)
    return replace(bare, number=float(Decimal(repr(bare.number)) * factor), unit=canonical,
                   unit_text=like.unit_text or like.unit)


def year_month(raw) -> tuple[int, int] | None:
    """(year, month) of a value typed as "2023.12" (text or number), for a caller that knows the other
    side is a date; None otherwise. A number 2023.1 may have been typed 2023.10: it is no month."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        return None
    if isinstance(raw, float):
        text = repr(raw)
        if text.endswith(".1"):
            return None  # 2023.1 or 2023.10: Excel kept no trailing zero, so nobody can say
    else:
        text = normalise_text(raw)
    m = re.fullmatch(r"(\d{4})\.(\d{1,2})", _peel(text)[0] if text else "")
    if not m or not 1900 <= int(m[1]) <= 2200 or not 1 <= int(m[2]) <= 12:
        return None
    return int(m[1]), int(m[2])


def month_end(year: int, month: int) -> dt.date:
    """The last day of a month (a month as a deadline means its end)."""
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def excel_percent_text(n: float) -> str:
    """A number in a cell formatted as a percentage, as the clerk reads it: 0.93 -> "93%", 0.935 -> "93.5%"."""
    return f"{format(Decimal(repr(n)).scaleb(2).normalize(), 'f')}%"


def comparable_units(a: str, b: str) -> bool:
    """Whether amounts in units `a` and `b` can be converted into each other."""
    return _family(a) == _family(b)


def excel_serial_to_date(n: float) -> dt.date | None:
    """The date of an Excel 1900-system serial (1900-02-29 bug included), None outside 1900..2200."""
    if isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n):
        return None
    days = math.floor(n)
    if not 1 <= days <= 200_000 or days == 60:  # 0 is "1900-01-00", 60 the non-existent 1900-02-29
        return None
    day = (dt.date(1899, 12, 31) if days < 60 else dt.date(1899, 12, 30)) + dt.timedelta(days=days)
    return day if day.year <= 2200 else None


# ------------------------------------------------------------------ free text

#: Text left from the template or typed to fill a cell: dots, dashes, 指标1, xx, 待填 …
_PLACEHOLDER_RE = re.compile(r"[.。…·、,，\-—–_/\\*?？xX×]+|0|指标[\d一二三四五六七八九十]+|"
                             r"(?:请|在此)?填写.*|待(?:填|填写|补充|定)|示例.*")
#: Words that fill an explanation cell without explaining anything.
_NOTHING = frozenset({"无", "暂无", "没有", "不适用", "略", *_NULL_WORDS})


def normalise_text(raw) -> str:
    """A typed value as the parser sees it: NFKC, look-alike symbols mapped, spaces dropped."""
    return "" if raw is None else _normalise(str(raw).strip())


@memoised
def is_placeholder(text) -> bool:
    """Whether a text field holds a placeholder (……, /, 0, 指标1, 待填) rather than content; empty is not."""
    s = normalise_text(text)
    return bool(s) and _PLACEHOLDER_RE.fullmatch(s) is not None


def unused_indicator(indicator) -> bool:
    """A row of the indicator table nobody used: its name, target, actual and texts empty or placeholders
    ("指标1", "……"), no weight or score but 0 (the 一级/二级/方向 dropdowns may still be set). It is no
    indicator: not scored, not checked, not reported."""
    texts = (indicator.name, indicator.target, indicator.actual, indicator.basis, indicator.deviation_note)
    if any(meaningful_text(t) for t in texts):
        return False
    return all(v is None or v == 0 or str(v).strip() in ("", "0") for v in (indicator.weight, indicator.claimed_score))


@memoised
def meaningful_text(text) -> str:
    """The stripped text when it says something, "" when empty, a placeholder or a bare 无/暂无."""
    s = "" if text is None else str(text).strip()
    bare = normalise_text(s).rstrip("。.")
    return "" if not bare or is_placeholder(s) or bare.upper() in _NOTHING else s


# ------------------------------------------------------------------ helpers


_SPACES_RE = re.compile(r"\s+")
_LONE_SPACES_RE = re.compile(r"(?<!\d)\s+|\s+(?!\d)")


@functools.lru_cache(maxsize=1 << 12)
def _normalise(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).translate(_LOOKALIKES)
    for a, b in ((">=", "≥"), ("=>", "≥"), ("<=", "≤"), ("=<", "≤")):
        s = s.replace(a, b)
    # Spaces between two digits separate numbers ("4 508 00"); all others go.
    s = _SPACES_RE.sub(" ", _LONE_SPACES_RE.sub("", s))
    return _THOUSANDS_RE.sub(lambda m: m[0].replace(",", ""), s)


def _peel(s: str) -> tuple[str, list[tuple[str, bool]]]:
    """Strip operator and filler phrases off both ends; return the core and the operators met."""
    ops: list[tuple[str, bool]] = []
    while True:
        pre = next((p for p in _PRE_ORDER if s.startswith(p) and len(s) > len(p)), None)
        post = None if pre else next((p for p in _POST_ORDER if s.endswith(p) and len(s) > len(p)), None)
        if pre is None and post is None:
            return s, ops
        op, strict = _PRE[pre] if pre else _POST[post]
        s = s[len(pre):] if pre else s[: -len(post)]
        if op:
            ops.append((op, strict))


def _match_date(s: str, year: int | None) -> tuple[dt.date | None, str, bool] | None:
    """(date, "", no day given) for a date, (None, reason, …) for a broken one, None when `s` has no date shape."""
    for pattern in _DATE_SHAPES:
        m = pattern.fullmatch(s)
        if not m:
            continue
        g = m.groupdict()
        if g.get("yo") and not 1900 <= int(g["yo"]) <= 2200:
            return None  # "5000年" is a number of years, not a date
        explicit = g.get("y") or g.get("yo")
        y = int(explicit) if explicit else year
        if y is None:
            return None, "缺少年份", False
        month = int(g.get("m") or g.get("m2") or 12)
        try:  # calendar.IllegalMonthError is a ValueError too
            day = int(g["d"]) if g.get("d") else calendar.monthrange(y, month)[1]
            return (dt.date(y, month, day), "", not g.get("d")) if 1900 <= y <= 2200 else (None, "日期无效", False)
        except ValueError:
            return None, "日期无效", False
    return None


def _unit_info(t: str) -> tuple[str, Decimal] | None:
    """(canonical unit, factor) for a unit text with an optional 十/百/千/万/亿 multiplier, or None.

    Known spellings first, then per-unit costs (元/人), a multiplier (万亩), and any other unit-like
    text as a unit of its own (厘米 is listed, 人·月 is not): kept as typed, matching only itself."""
    t = t.translate(_UNIT_SEPARATORS)
    key = t.lower() if t.isascii() and len(t) > 1 else t  # KM, Kg; but a lone M is not 米
    if key in _UNITS:
        return _UNITS[key]
    if "/" in t:  # per-unit costs: 元/人, 万元/公里, 元/人·月
        num, _, den = t.partition("/")
        top, bottom = _unit_info(num), _unit_info(den)
        if top and bottom and top[0] and bottom[0] and bottom[1] == 1:
            return f"{top[0]}/{bottom[0]}", top[1]
        return None
    m = re.fullmatch(r"([十百千万亿]+)(.*)", t)
    if m and (rest := _unit_info(m[2])) is not None:
        return rest[0], rest[1] * math.prod(_MULTIPLIERS[c] for c in m[1])
    if t and t[0] not in _NOT_UNIT and _GENERIC_UNIT_RE.fullmatch(t) and t not in _PRE \
            and not any(t.endswith(p) for p in _POST):
        return t, _ONE  # an unlisted unit (艘, 人·月 …): compatible only with itself
    return None


def _clean_unit(unit: str) -> str:
    """A unit column's text as a unit: NFKC, no spaces or brackets; "" for a dash."""
    u = re.sub(r"\s+", "", unicodedata.normalize("NFKC", unit or "")).strip("()[]")
    return "" if u in _DASHES else u


def _unit_key(unit: str) -> tuple[str, Decimal]:
    """A unit column's (canonical unit, factor); unrecognised text is kept as its own unit."""
    u = _clean_unit(unit)
    if not u:
        return "", _ONE
    return _unit_info(u) or (u.translate(_UNIT_SEPARATORS), _ONE)


def _not_plain(v: Value, what: str) -> str:
    """Why `v` is no plain number for a 金额/分值 cell ("" for an empty cell)."""
    if v.kind == "date":
        return f"是日期，不是{what}"
    if v.kind != "number":
        return v.note
    return f"{what}不应带比较符号" if v.operator else ""


def _family(unit: str) -> str:
    canonical = _unit_key(unit)[0]
    return _FAMILIES.get(canonical, (canonical,))[0]


def _number(num: Decimal, found: tuple[str, Decimal], column: str, operator: str | None,
            strict: bool, text: str, unit_text: str = "") -> Value:
    """A number Value in its canonical unit; the column's unit applies when the text has none."""
    unit, factor = found
    if not unit:  # the text has no unit of its own: the 计量单位 column applies
        col_unit, col_factor = _unit_key(column)
        if factor != 1 and col_factor != 1:
            return Value("text", text=text, note=f"数值中的倍数与计量单位“{column}”重复")
        unit, factor = col_unit, factor * col_factor
        if col_unit:
            unit_text += _clean_unit(column)
    number = float(num * factor)  # _decimal bounded num: no Decimal overflow here
    if not math.isfinite(number):
        return Value("text", text=text, note=OUT_OF_RANGE)
    return Value("number", number=number, unit=unit, operator=operator, strict=strict, text=text,
                 unit_text=unit_text)



def _decimal(text: str) -> Decimal | None:
    """The Decimal of a number's text, None when its exponent is beyond any figure (1e1000000 would
    overflow Decimal's context and 1e99999999999999999999 its construction)."""
    try:
        num = Decimal(text)
    except ArithmeticError:
        return None
    return num if not num or abs(num.adjusted()) <= _MAX_EXPONENT else None


def _cn_number(s: str) -> int | None:
    """A Chinese numeral (一百二十, 两千, 十五, 三万五千) as an int; None for 二三 or a bare 万."""
    if s in ("零", "〇"):
        return 0
    if not any(c in _CN_DIGITS or c == "十" for c in s):
        return None
    total = section = 0
    num: int | None = None
    for c in s:
        if c in _CN_DIGITS:
            if num is not None:
                return None  # 二三 is "two or three", not a number
            num = _CN_DIGITS[c] or None  # 零 only marks a gap (一百零五)
        elif c in "十百千":
            section += (1 if num is None else num) * _MULTIPLIERS[c]
            num = None
        elif c == "万":
            total += (section + (num or 0)) * 10**4
            section, num = 0, None
        else:  # 亿
            total = (total + section + (num or 0)) * 10**8
            section, num = 0, None
    return total + section + (num or 0)


def _why_unreadable(core: str) -> str:
    if _RANGE_RE.fullmatch(core):
        return "区间值，请填写单一数值"
    count = len(re.findall(r"\d+(?:\.\d+)?", core))
    if count == 0:
        return "没有数字"
    return "包含多个数字" if count > 1 else "数字前后有无法识别的文字"
