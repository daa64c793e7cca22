"""Rule profiles: the scoring rules as data, loaded from TOML.

Provinces tune the national rules (budget weight 10 or 20, the reverse formula,
qualitative bands, grade bands, thresholds, execution-rate caps); a profile file
says which, so a new variant is a new TOML file, not new code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

DEFAULT_PROFILE = "national-2020"


class ProfileError(Exception):
    """A rule profile that cannot be used (for the operator: name, path or content is wrong)."""


@dataclass(frozen=True)
class Band:
    band: str  # 达成 | 部分达成 | 未达成
    label: str
    low: float  # fraction of the weight, inclusive
    high: float  # exclusive, except for the top band


@dataclass(frozen=True)
class ExecutionCap:
    below: float
    grade_max: str | None = None
    budget_score_zero: bool = False


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    budget_weight: float
    indicator_weights: str  # typed | split
    reverse_formula: str  # ratio | linear
    date_late: str  # days (points lost by days late over the window) | zero
    level1_weights: dict[str, float]
    bands: tuple[Band, ...]
    grades: tuple[tuple[str, float], ...]  # (grade, min), highest first
    execution_low: float = 0.9
    budget_adjusted: float = 0.2
    overachieved: float = 1.3
    score_tolerance: float = 0.1
    execution_note_max_chars: int = 0
    execution_caps: tuple[ExecutionCap, ...] = field(default=())
    date_late_window_days: int = 90  # a date this many days late (or more) earns nothing

    def grade(self, total: float) -> str:
        """The grade of a (rounded) total score."""
        for name, minimum in self.grades:
            if total >= minimum:
                return name
        return self.grades[-1][0]

    def band(self, name: str) -> Band:
        return next(b for b in self.bands if b.band == name)


def builtin_profiles() -> list[str]:
    """The names of the profiles shipped with the toolkit."""
    folder = resources.files("perf_toolkit") / "profiles"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def builtin_profile_text(name: str) -> str:
    """The TOML text of a shipped profile (to copy and tune)."""
    resource = resources.files("perf_toolkit") / "profiles" / f"{name}.toml"
    if not resource.is_file():
        raise ProfileError(f"没有名为“{name}”的评分规则。可用的有：{'、'.join(builtin_profiles())}")
    return resource.read_text(encoding="utf-8")


def load_profile(name_or_path: str | Path | None = None) -> Profile:
    """A profile by built-in name (national-2020, twenty-eighty, sichuan) or by TOML path."""
    spec = str(name_or_path or DEFAULT_PROFILE)
    if spec.endswith(".toml") or "/" in spec or "\\" in spec:
        path = Path(spec)
        if not path.is_file():
            raise ProfileError(f"找不到评分规则文件：{spec}")
        text = path.read_bytes()
    else:
        text = builtin_profile_text(spec).encode("utf-8")
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(f"评分规则文件 {spec} 格式有误：{exc}") from exc
    return _profile_from_dict(data, spec)


#: "ratio", the spelling of profiles written before the window rule, means the same thing: points lost when late.
_DATE_LATE_SPELLINGS = {"days": "days", "ratio": "days", "zero": "zero"}


def _positive_int(value: object, key: str, source: str) -> int:
    """A setting that must be a whole number of days above 0 (TOML gives an int; 90.0 or "90" is refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ProfileError(f"评分规则 {source} 有误：{key} 须为正整数（天数），现为“{value}”")
    return value


_NUMBER, _TEXT, _INT, _FLAG, _TABLE, _TABLES = "数字", "文字（加英文引号）", "整数", "true 或 false", "设置表", "设置表的列表（[[…]]）"
#: Every setting a profile may hold, by table ("" the top level), with the TOML type it must have.
_SCHEMA: dict[str, dict[str, str]] = {
    "": {"name": _TEXT, "title": _TEXT, "budget_weight": _NUMBER, "indicator_weights": _TEXT,
         "reverse_formula": _TEXT, "date_late": _TEXT, "date_late_window_days": _INT, "level1_weights": _TABLE,
         "qualitative_bands": _TABLES, "grades": _TABLES, "thresholds": _TABLE, "execution_caps": _TABLES},
    "thresholds": {"execution_low": _NUMBER, "budget_adjusted": _NUMBER, "overachieved": _NUMBER,
                   "score_tolerance": _NUMBER, "execution_note_max_chars": _INT},
    "qualitative_bands": {"band": _TEXT, "label": _TEXT, "low": _NUMBER, "high": _NUMBER},
    "grades": {"grade": _TEXT, "min": _NUMBER},
    "execution_caps": {"below": _NUMBER, "grade_max": _TEXT, "budget_score_zero": _FLAG},
}


def _is(value: object, kind: str) -> bool:
    if kind == _NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _TABLES:
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    return isinstance(value, {_TEXT: str, _FLAG: bool, _TABLE: dict}[kind])


def _check_types(data: dict, source: str) -> None:
    """Unknown settings and settings of the wrong TOML type are errors naming the key and the type
    (never a silent float("90") or an ignored misspelling)."""
    def check(table: dict, schema: dict[str, str], where: str) -> None:
        for key, value in table.items():
            name = f"{where}{key}"
            if key not in schema:
                raise ProfileError(f"评分规则 {source} 有误：无法识别的设置项 {name}")
            if not _is(value, schema[key]):
                raise ProfileError(f"评分规则 {source} 有误：{name} 应为{schema[key]}，现为“{value}”")
            if schema[key] == _TABLE and key in _SCHEMA:
                check(value, _SCHEMA[key], f"{key}.")
            elif schema[key] == _TABLES:
                for n, item in enumerate(value, start=1):
                    check(item, _SCHEMA[key], f"{key}[{n}].")
            elif key == "level1_weights":
                for k, v in value.items():
                    if not _is(v, _NUMBER):
                        raise ProfileError(f"评分规则 {source} 有误：level1_weights.{k} 应为{_NUMBER}，现为“{v}”")

    check(data, _SCHEMA[""], "")


def _profile_from_dict(data: dict, source: str) -> Profile:
    def need(cond: bool, what: str) -> None:
        if not cond:
            raise ProfileError(f"评分规则 {source} 有误：{what}")

    _check_types(data, source)
    try:
        thresholds = data.get("thresholds", {})
        bands = tuple(
            Band(str(b["band"]), str(b.get("label", b["band"])), float(b["low"]), float(b["high"]))
            for b in data["qualitative_bands"]
        )
        grades = tuple(
            sorted(((str(g["grade"]), float(g["min"])) for g in data["grades"]), key=lambda g: -g[1])
        )
        caps = tuple(
            ExecutionCap(float(c["below"]), c.get("grade_max"), bool(c.get("budget_score_zero", False)))
            for c in data.get("execution_caps", [])
        )
        profile = Profile(
            name=str(data.get("name", source)),
            title=str(data.get("title", data.get("name", source))),
            budget_weight=float(data["budget_weight"]),
            indicator_weights=str(data.get("indicator_weights", "typed")),
            reverse_formula=str(data.get("reverse_formula", "ratio")),
            date_late=_DATE_LATE_SPELLINGS.get(str(data.get("date_late", "days")), str(data.get("date_late"))),
            level1_weights={str(k): float(v) for k, v in data.get("level1_weights", {}).items()},
            bands=bands,
            grades=grades,
            execution_low=float(thresholds.get("execution_low", 0.9)),
            budget_adjusted=float(thresholds.get("budget_adjusted", 0.2)),
            overachieved=float(thresholds.get("overachieved", 1.3)),
            score_tolerance=float(thresholds.get("score_tolerance", 0.1)),
            execution_note_max_chars=int(thresholds.get("execution_note_max_chars", 0)),
            execution_caps=caps,
            date_late_window_days=_positive_int(data.get("date_late_window_days", 90), "date_late_window_days",
                                                source),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"评分规则 {source} 缺少或写错了设置项：{exc}") from exc
    need(profile.indicator_weights in ("typed", "split"), "indicator_weights 只能是 typed 或 split")
    need(profile.reverse_formula in ("ratio", "linear"), "reverse_formula 只能是 ratio 或 linear")
    need(profile.date_late in ("days", "zero"), "date_late 只能是 days（按逾期天数扣分）或 zero（逾期不得分）")
    need({b.band for b in bands} == {"达成", "部分达成", "未达成"}, "qualitative_bands 须有 达成/部分达成/未达成 三档")
    need(all(0 <= b.low < b.high <= 1 for b in bands), "qualitative_bands 的 low/high 须在 0 到 1 之间且 low < high")
    need(bool(grades) and grades[-1][1] <= 0, "grades 须从高到低列出，且最低一档的 min 为 0")
    need(0 < profile.budget_weight < 100, "budget_weight 须在 0 到 100 之间")
    if profile.indicator_weights == "split":
        need(bool(profile.level1_weights), "indicator_weights = split 时须列出 level1_weights")
    grade_names = {g for g, _ in grades}
    need(all(c.grade_max in (None, *grade_names) for c in caps), "execution_caps 的 grade_max 须是已定义的等级")
    return profile
