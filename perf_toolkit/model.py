"""The data model: a submission as departments report it, findings about it, and its scores.

Plain dataclasses with no I/O, on both sides of scoring. Values a person types (money,
targets, actuals, weights) are kept exactly as found (text or number); parsing them is the
job of `values`, judging them the job of `check`. After scoring, a project is one
`ScoredProject` that every later stage reads by attribute.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sys
from collections.abc import Callable, Hashable, Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from .fsutil import path_text
from .numbers import memoised, round2, round_half_up
from .text import MAX_CELL_TEXT, xml_safe
from .values import unused_indicator

if TYPE_CHECKING:
    from .profile import Profile

SCHEMA = "perf-toolkit/submission/v1"

#: The official form's 总分 (rules.md §1): what the budget weight and the indicator weights add up to.
FULL_MARKS = 100.0
#: How far a weight sum may be from FULL_MARKS (typed weights have two decimals at most).
WEIGHT_TOLERANCE = 0.01

#: A value as typed in a cell: text, a number, or nothing.
Typed = str | int | float | None


class FundSource(StrEnum):
    """The fund sources of the official form, in its row order (the value is the printed name)."""

    CURRENT = "当年财政拨款"
    CARRIED_OVER = "上年结转资金"
    OTHER = "其他资金"


#: The fund sources' names, in the form's row order.
FUND_SOURCES = tuple(s.value for s in FundSource)


# The submission's classes keep their fields in slots: a round holds every department's read (each
# unpickled from a worker or the round's read cache), and an attribute dict per instance was ~7 KB of it.
@dataclass(slots=True)
class Contact:
    name: str = ""
    phone: str = ""
    email: str = ""


@dataclass(slots=True)
class Department:
    code: str = ""
    name: str = ""
    supervisor: str = ""
    duties: list[str] = field(default_factory=list)
    evaluation_unit: str = ""
    evaluation_start: str = ""
    evaluation_end: str = ""
    report_date: str = ""
    contact: Contact = field(default_factory=Contact)


@dataclass(slots=True)
class Fund:
    source: str
    initial_budget: Typed = None
    adjusted_budget: Typed = None
    executed: Typed = None


@dataclass(slots=True)
class Indicator:
    level1: str = ""
    level2: str = ""
    name: str = ""
    direction: str = ""
    target: Typed = None
    unit: str = ""
    actual: Typed = None
    weight: Typed = None
    claimed_score: Typed = None
    basis: str = ""
    deviation_note: str = ""


#: Indicator fields kept as typed (text or number); the others are text.
TYPED_INDICATOR_FIELDS = frozenset({"target", "actual", "weight", "claimed_score"})

#: Indicator texts from a small vocabulary (一级, 二级, 指标性质, 计量单位): one copy of each shared by every read.
SHARED_INDICATOR_FIELDS = ("level1", "level2", "direction", "unit")

#: The amounts of a fund row (年初预算数, 全年预算数, 全年执行数); the execution rate is computed from the last two.
AMOUNT_FIELDS = ("initial_budget", "adjusted_budget", "executed")
RATE_FIELDS = ("adjusted_budget", "executed")


@dataclass(slots=True)
class Project:
    code: str = ""
    name: str = ""
    implementer: str = ""
    budget_document: str = ""
    funds: list[Fund] = field(default_factory=list)
    budget_note: str = ""
    goal: str = ""
    achievement: str = ""
    indicators: list[Indicator] = field(default_factory=list)
    deviation_reason: str = ""
    improvement: str = ""
    result_use: str = ""
    disclosure: str = ""
    other_notes: str = ""


@dataclass(slots=True)
class Submission:
    year: int | None = None
    department: Department = field(default_factory=Department)
    projects: list[Project] = field(default_factory=list)


def share_repeated_texts(submission: Submission) -> Submission:
    """One copy of each text a submission repeats (the same 评分依据 for every indicator, "无" in every
    说明, a project's texts copied to the next): a round holds every department's read, and pickling
    (a worker's pipe, the round's read cache) keeps one copy where the read has one."""
    seen: dict[str, str] = {}
    department = submission.department
    department.duties[:] = [seen.setdefault(d, d) if type(d) is str else d for d in department.duties]
    held = [department, department.contact]
    for project in submission.projects:
        held += [project, *project.funds, *project.indicators]
    for value in held:
        for name in value.__slots__:
            text = getattr(value, name)
            if type(text) is str and text:
                setattr(value, name, seen.setdefault(text, text))
    return submission


class FieldPath(tuple):
    """A field of a submission: ``("projects", 0, "indicators", 2, "actual")``, written
    ``projects[0].indicators[2].actual`` (the form findings, locations and JSON use)."""

    _TOKEN = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)|\[(\d+)\]")

    def __new__(cls, *parts: str | int) -> FieldPath:
        return super().__new__(cls, parts)

    @classmethod
    def parse(cls, text: str | None) -> FieldPath:
        """The path of its written form ("" → the empty path, the submission as a whole)."""
        return _parsed_path(text) if cls is FieldPath else cls(*_parsed_path(text))

    @classmethod
    def of(cls, project: int, *rest: str | int) -> FieldPath:
        """A field of project `project`: ``FieldPath.of(0, "indicators", 2, "actual")``."""
        return cls("projects", project, *rest)

    def __str__(self) -> str:
        out = ""
        for part in self:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out

    def __repr__(self) -> str:
        return f"FieldPath({str(self)!r})"

    def _index_after(self, name: str) -> int | None:
        for k in range(len(self) - 1):
            if self[k] == name and isinstance(self[k + 1], int):
                return self[k + 1]
        return None

    @property
    def project(self) -> int | None:
        """The index of the project the field is under (None: the department or the file)."""
        return self._index_after("projects") if self[:1] == ("projects",) else None

    @property
    def indicator(self) -> int | None:
        """The index of the indicator the field is under (None: not an indicator's field)."""
        return self._index_after("indicators") if self.project is not None else None

    @property
    def fund(self) -> int | None:
        return self._index_after("funds") if self.project is not None else None

    @property
    def name(self) -> str | None:
        """The field's own name (the last named part): "actual", "code", "indicators"."""
        return next((p for p in reversed(self) if isinstance(p, str)), None)

    @property
    def is_score_input(self) -> bool:
        """A field the project's score is computed from: a 全年预算数 or 全年执行数 of the budget block,
        or an indicator's 指标值, 实际完成值, 分值 or 自评得分. Unknown (a formula with no saved
        result), it leaves the project not scored."""
        if self.fund is not None:
            return self.name in RATE_FIELDS
        return self.indicator is not None and self.name in TYPED_INDICATOR_FIELDS

    def value_in(self, obj: object) -> object:
        """The value at this path in a submission (None if absent)."""
        for part in self:
            try:
                obj = obj[part] if isinstance(part, int) else getattr(obj, part)
            except (IndexError, AttributeError, TypeError):
                return None
        return obj


@memoised
def _parsed_path(text: str | None) -> FieldPath:
    """FieldPath.parse, remembered: a round parses the same few hundred paths 100,000s of times."""
    return FieldPath(*(int(i) if i else name for name, i in FieldPath._TOKEN.findall(text or "")))


def shared_text(text: object) -> object:
    """One copy of a text that recurs in every department (a field path, a sheet name, a cell, a finding's
    code): a round holds the same few thousand of them 1,000s of times, each read unpickled anew."""
    return sys.intern(text) if type(text) is str else text


@dataclass(frozen=True, slots=True)
class Location:
    """Where a value sits in a workbook, as a clerk would find it (make one with `location`)."""

    sheet: str | None = None
    cell: str | None = None

    def __reduce__(self):
        # pickled by its two values: a read holds ~700 of them and crosses a pipe, and the round's read
        # cache, pickled (~40 % faster to load)
        return Location, (self.sheet, self.cell)


#: The Locations made so far, one per place: every department's form has the same ~700 template cells.
#: Bounded: a place beyond it (a hostile file's far cells) is simply not shared.
_LOCATIONS: dict[tuple[object, object], Location] = {}
_SHARED_LOCATIONS = 1 << 16


def _one_shared(table: dict, bound: int, key: Hashable, make: Callable[[], Any]) -> Any:
    """The value `table` holds for `key`, made the first time; kept only while the table is under `bound`
    (beyond it, a value is simply not shared)."""
    found = table.get(key)
    if found is None:
        found = make()
        if len(table) < bound:
            table[key] = found
    return found


def location(sheet: str | None, cell: str | None) -> Location:
    """The Location of a cell, the one shared by every read that has it (Locations are values)."""
    found = _LOCATIONS.get((sheet, cell))  # `_one_shared` written out: ~700 calls a read unpickled
    if found is None:
        found = Location(shared_text(sheet), shared_text(cell))
        if len(_LOCATIONS) < _SHARED_LOCATIONS:
            _LOCATIONS[(found.sheet, found.cell)] = found
    return found


class _SharedDict(dict):
    """A mapping shared by every value with the same content: read-only, as changing it through one would
    change them all. Pickled and copied as a plain dict (unpickling shares it again)."""

    REFUSAL = ""  # why not, and how to get a copy of one's own (Chinese)

    def _read_only(self, *args: object, **kwargs: object) -> None:
        raise TypeError(self.REFUSAL)

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self):
        return dict, (dict(self),)


class SharedLocations(_SharedDict):
    """The locations of a read, shared by every read with the same (`shared_locations`)."""

    REFUSAL = "填报数据各字段的单元格位置（locations）由版式相同的文件共用，不能修改；请复制后再改：dict(sourced.locations)"


#: The locations of reads so far, one mapping per distinct content and order (every department of a layout
#: has the same ~700), by their items; bounded like `_LOCATIONS`.
_LAYOUTS: dict[tuple, SharedLocations] = {}
_SHARED_LAYOUTS = 1 << 10


def shared_locations(locations: dict[str, Location]) -> Mapping[str, Location]:
    """A read's field paths → places, the one mapping of that content (and order) the reads share."""
    if not locations:
        return locations
    items = tuple(locations.items())
    return _one_shared(_LAYOUTS, _SHARED_LAYOUTS, items, lambda: SharedLocations(items))


@dataclass
class SourcedSubmission:
    """A submission plus where each of its values came from.

    `locations` maps a field path such as ``projects[0].indicators[2].actual``
    to the sheet and cell it was read from; `overrides` holds values typed into
    cells the template computes (a total typed over its formula), keyed the
    same way (``projects[0].funds_total.adjusted_budget``,
    ``projects[0].execution_score``, ``projects[0].total_score``).
    `prefilled` holds the bureau's pre-filled budget figures recorded in the
    workbook, keyed by field path, to detect a department changing them.
    `unknown` holds the field paths whose cell is a formula the file saved no
    result for (its value in the submission is None, but nobody knows it).
    """

    submission: Submission
    file: str | None = None
    locations: Mapping[str, Location] = field(default_factory=dict)  # read: shared, read-only (`shared_locations`)
    overrides: dict[str, Typed] = field(default_factory=dict)
    prefilled: dict[str, Typed] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)

    def __getstate__(self) -> dict[str, Any]:
        # the locations as a plain dict: what the round's trusted unpickler rebuilds without naming a class
        return {**self.__dict__, "locations": dict(self.locations)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # unpickled (a worker's read, the round's read cache): its field paths and places shared with the
        # other reads' (`shared_text`, `location`), not a copy of them per file
        state["locations"] = shared_locations({shared_text(k): location(v.sheet, v.cell)
                                               for k, v in state["locations"].items()})
        for name in ("overrides", "prefilled"):
            state[name] = {shared_text(k): v for k, v in state[name].items()}
        state["unknown"] = {shared_text(k) for k in state["unknown"]}
        for project in state["submission"].projects:
            for fund in project.funds:
                fund.source = shared_text(fund.source)
            for indicator in project.indicators:
                for name in SHARED_INDICATOR_FIELDS:
                    setattr(indicator, name, shared_text(getattr(indicator, name)))
        self.__dict__.update(state)

    def indicators(self, p: int) -> list[tuple[int, Indicator]]:
        """Project p's indicators with their indexes, without the rows nobody used (`unused_indicator`:
        a placeholder "指标1" with weight 0); a row with a formula whose value is unknown is used."""
        unknown = {FieldPath.parse(path).indicator for path in self.unknown
                   if FieldPath.parse(path).project == p}
        return [(i, ind) for i, ind in enumerate(self.submission.projects[p].indicators)
                if i in unknown or not unused_indicator(ind)]

    def where(self, path: str | FieldPath) -> Location:
        """The location of a field path, or of its nearest located parent."""
        parts = path if isinstance(path, FieldPath) else FieldPath.parse(path)
        while parts:
            found = self.locations.get(str(parts))
            if found is not None:
                return found
            parts = FieldPath(*parts[:-1])
        return Location()


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in one file: a value, never an exception."""

    code: str
    severity: str
    message: str
    file: str | None = None
    sheet: str | None = None
    cell: str | None = None
    project: str | None = None  # the project's code, for people
    path: str | None = None  # the field it is about, e.g. "projects[0].indicators[2].actual", for programs
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)  # the message's figures, as data

    def __getstate__(self) -> list[Any]:
        # params as a plain dict: what the round's trusted unpickler rebuilds without naming a class
        return [dict(value) if name == "params" else value
                for name, value in zip(_FINDING_FIELDS, (getattr(self, n) for n in _FINDING_FIELDS), strict=True)]

    def __setstate__(self, state: list[Any]) -> None:
        # unpickled: the texts departments' findings repeat (code, severity, place, field, message) shared
        for name, value in zip(_FINDING_FIELDS, state, strict=True):
            if name == "params":
                value = shared_params(value)
            object.__setattr__(self, name, shared_text(value) if name in _SHARED_FINDING_FIELDS else value)

    @property
    def field_path(self) -> FieldPath:
        """The field it is about, parsed (the empty path for the file as a whole)."""
        return FieldPath.parse(self.path)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message, "file": self.file,
                "sheet": self.sheet, "cell": self.cell, "project": self.project, "path": self.path,
                "params": dict(self.params)}


class SharedParams(_SharedDict):
    """A finding's params shared by every finding with the same (`shared_params`)."""

    REFUSAL = "一条审核问题的参数（params）由同内容的问题共用，不能修改；请复制后再改：dict(finding.params)"


#: The params of findings made so far, one dict per distinct content (most are a label or a typed value
#: that recurs from department to department). Bounded, and smaller than `_LOCATIONS`: what recurs is met in the
#: first departments, and past a few thousand a table holds mostly params met once (see `numbers.memoised`).
_PARAMS: dict[tuple[Any, ...], Mapping[str, Any]] = {}
_SHARED_PARAMS = 1 << 12


def shared_params(params: dict[str, Any]) -> Mapping[str, Any]:
    """A finding's params (texts, numbers, flags), the one dict of that content that findings share."""
    try:  # keyed by type too (1, 1.0 and True are equal, and so are 0.0 and -0.0, but print apart)
        key = tuple((k, v.__class__, v.hex() if v.__class__ is float else v) for k, v in params.items())
        return _one_shared(_PARAMS, _SHARED_PARAMS, key,
                           lambda: SharedParams((shared_text(k), shared_text(v)) for k, v in params.items()))
    except TypeError:  # a value that is not hashable: not shared
        return params


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))
_SHARED_FINDING_FIELDS = frozenset({"code", "severity", "message", "sheet", "cell", "path"})


#: The numbers of scores unpickled so far (weights, scores, rates recur from department to department), one
#: float object per value; bounded like `_PARAMS`.
_NUMBERS: dict[tuple[float, float], float] = {}
_SHARED_NUMBERS = 1 << 12
#: No fund amounts (most projects' unreadable and unknown amounts): one empty set, not one each.
NO_AMOUNTS: frozenset[tuple[FundSource, str]] = frozenset()


def shared_number(value: object) -> object:
    """One copy of a float that recurs in many departments' scores (any other value as it is)."""
    if value.__class__ is not float or value != value:  # NaN equals nothing: never found again
        return value
    key = (value, math.copysign(1.0, value))  # 0.0 and -0.0 are equal but print apart
    found = _NUMBERS.get(key)  # `_one_shared` written out: every number of every score unpickled
    if found is None:
        found = value
        if len(_NUMBERS) < _SHARED_NUMBERS:
            _NUMBERS[key] = found
    return found


def _shared_value(value: object) -> object:
    """A score's value unpickled (the round's check memo, a worker), shared where it recurs."""
    cls = value.__class__
    if cls is float:
        return shared_number(value)
    if cls is str:
        return shared_text(value)
    if cls is frozenset and not value:
        return NO_AMOUNTS
    if cls is dict:  # level1_scores: 一级 → score
        return {shared_text(k): shared_number(v) for k, v in value.items()}
    return value


def shared_values(result: Any) -> Any:
    """A score just made (ScoredIndicator, ScoredProject, Amounts) with the values that recur shared, as
    unpickling shares them (it is changed in place: nobody holds it yet)."""
    _shared_values(result, _values(result))
    return result


def _values(self) -> list[Any]:
    """A frozen slotted result pickled by its fields' values (its `__getstate__`)."""
    return [getattr(self, f.name) for f in fields(self)]


def _shared_values(self, state: list[Any]) -> None:
    """A frozen slotted result unpickled with the values that recur shared (its `__setstate__`): a round
    holds every department's scores, unpickled from its check memo."""
    for f, value in zip(fields(self), state, strict=True):
        object.__setattr__(self, f.name, _shared_value(value))


# ---------------------------------------------------------------- scored results


@dataclass(frozen=True, slots=True)
class Amounts:
    """The three amounts of the budget block, in 万元: 年初预算数, 全年预算数, 全年执行数 (None: not filled,
    or not known: see `ScoredProject.unknown_amounts`)."""

    __getstate__, __setstate__ = _values, _shared_values

    initial_budget: float | None = 0.0
    adjusted_budget: float | None = 0.0
    executed: float | None = 0.0


@dataclass(frozen=True, slots=True)
class ScoredIndicator:
    """One indicator after scoring: what the department typed and what the rules make of it.

    An indicator with an unknown value (`unknown`: a formula with no saved result in its 指标值,
    实际完成值, 分值 or 自评得分) is not scored: its `score`, `completion` and `met` are None.
    """

    __getstate__, __setstate__ = _values, _shared_values

    index: int  # its position in the project's indicators (the field path's index)
    submitted: Indicator  # as typed
    level1: str  # 一级, normalised to the taxonomy's name where it matches
    level2: str
    direction: str  # as scored: ≥ ≤ = 定性, or "" when nobody can say
    scored_as: str  # "number", "date", "qual" (banded text) or "none" (could not be scored)
    weight: float  # the weight it is scored on
    claimed_score: float | None  # the department's own mark, when readable
    score: float | None  # by the rules, exact (round when printing); None when not scored
    completion: float | None  # actual ÷ target (≤: target ÷ actual); None when not comparable
    met: bool | None  # None: not scored, or a text the bands do not recognise
    band: str | None  # 达成 / 部分达成 / 未达成 for banded text
    overachieved: bool
    target_number: float | None  # the target as compared (in the target's unit; a date as its day number)
    actual_number: float | None  # the actual as compared, converted to the target's unit
    target_kind: str  # "number", "date", "text", "empty" or "error" (values.parse_value)
    actual_kind: str
    target_unit: str
    actual_unit: str
    unit_mismatch: bool
    findings: tuple[Finding, ...] = ()
    unknown: tuple[str, ...] = ()  # its fields whose values are unknown ("actual" …): not scored
    # False: the form does not show whether it was met (no readable number, units that cannot be
    # compared, a text outside the bands); its score is the claimed one, provisionally (待核实)
    verifiable: bool = True
    #: ("actual" | "target", unit): that value was typed without a unit and read in the other's ("95" as 万元)
    unit_assumed: tuple[str, str] | None = None
    #: ("actual" | "target", percent): that bare decimal was read as a percentage (0.95 against ≥90% is 95 %)
    percent_fixed: tuple[str, float] | None = None

    @property
    def name(self) -> str:
        return self.submitted.name

    @property
    def scored(self) -> bool:
        return not self.unknown

    def value_known(self, name: str) -> bool:
        """Is the value of its field `name` ("weight" …) known? An unknown 分值 makes `weight` only
        what scoring assumed; every output prints an unknown value as 待核实."""
        return name not in self.unknown


@dataclass(frozen=True, slots=True)
class ScoredProject:
    """One project after scoring and checking: the one value report, summary, history and JSON read.

    An amount the file holds as a formula with no saved result is unknown (`unknown_amounts`): the
    total of its column is None. A project is not scored (`scored` False) when a value its score is
    computed from is unknown (`FieldPath.is_score_input`). Then what depends on it is None — with a
    全年预算数 or 全年执行数 the rate and the execution score; with an indicator value its score and its
    一级's — and so are the indicator and total scores; the grade is PENDING. Every output shows
    these as 待核实, never as 0 or 差.
    """

    __getstate__, __setstate__ = _values, _shared_values

    file: str  # the file it came from (as given)
    index: int  # its position in the submission's projects
    year: int | None  # the submission's evaluation year
    department: Department
    submitted: Project  # as typed (texts are read from here)
    funds: Mapping[FundSource, Amounts]  # per canonical source (aliases folded; unknown sources only in `total`)
    unreadable_amounts: frozenset[tuple[FundSource, str]]  # (source, "executed" …) typed but not readable
    total: Amounts  # 年度资金总额 (every fund row, readable amounts only; None only for an unknown amount)
    execution_rate: float | None  # executed ÷ adjusted budget; None without a budget, or not known
    budget_weight: float
    execution_score: float | None  # None: an amount is unknown
    indicator_weight: float  # Σ weights the indicators are scored on
    indicator_score: float | None  # None: an indicator is not scored
    level1_scores: Mapping[str, float | None]  # 一级 → Σ scores, every taxonomy 一级 present (None: not scored)
    total_score: float | None  # exact sum, rounded once to two decimals; None when not scored
    grade: str  # PENDING (待核实) when not scored
    grade_capped: bool  # the grade was lowered by an execution-rate cap of the profile
    indicators: tuple[ScoredIndicator, ...]
    findings: tuple[Finding, ...]  # its own (field path under the project), in report order
    file_findings: tuple[Finding, ...]  # its file's findings about no scored project (year, department …)
    unknown_amounts: frozenset[tuple[FundSource, str]] = NO_AMOUNTS  # formulas with no saved result
    # what the department claimed, where its form computes a score (None: nothing claimed there)
    claimed_execution_score: float | None = None  # typed over the form's formula
    claimed_total: float | None = None  # typed over the formula, else its budget score + Σ claimed scores

    @property
    def code(self) -> str:
        return self.submitted.code

    @property
    def name(self) -> str:
        return self.submitted.name

    @property
    def total_weight(self) -> float:
        """Budget weight + Σ indicator weights: what the total is out of (100 when the weights are right)."""
        return self.budget_weight + self.indicator_weight

    @property
    def weights_known(self) -> bool:
        """Every indicator's 分值 is known (else `total_weight` is only what scoring assumed: 待核实)."""
        return all(i.value_known("weight") for i in self.indicators)

    @property
    def weight_sum_wrong(self) -> bool:
        """Its known weights do not add up to 100 (`weight-sum-mismatch`): outputs state the sum beside the
        total (beside a known total only: a total that is 待核实 has nothing to be out of)."""
        return (bool(self.indicators) and self.weights_known
                and abs(self.total_weight - FULL_MARKS) > WEIGHT_TOLERANCE)

    @property
    def shown(self) -> tuple[Finding, ...]:
        """The file's findings and its own, in report order (what a report lists)."""
        return self.file_findings + self.findings

    @property
    def has_errors(self) -> bool:
        """An error of its own or of its file (a wrong year, a missing 单位编码): not complete."""
        return any(f.severity == "error" for f in self.shown)

    @property
    def rate_known(self) -> bool:
        """Every 全年预算数 and 全年执行数 is known, so are the rate and the execution score."""
        return all(c not in RATE_FIELDS for _, c in self.unknown_amounts)

    def column_known(self, column: str) -> bool:
        """No amount of this column ("executed" …) is unknown: its 年度资金总额 is known."""
        return all(c != column for _, c in self.unknown_amounts)

    @property
    def scored(self) -> bool:
        """Every value the score is computed from is known: the total and the grade are final."""
        return self.rate_known and all(i.scored for i in self.indicators)

    @property
    def unverified(self) -> tuple[ScoredIndicator, ...]:
        """Its indicators scored on their claimed scores because the form does not show their result."""
        return tuple(i for i in self.indicators if i.scored and not i.verifiable)

    @property
    def provisional(self) -> bool:
        """Scored, but on claimed scores for indicators nobody could verify: total and grade are 待核实."""
        return self.scored and bool(self.unverified)

    @property
    def unknown_paths(self) -> list[FieldPath]:
        """The fields whose unknown values keep the project from being scored, in form order."""
        funds = [FieldPath.of(self.index, "funds", FUND_SOURCES.index(s.value), c)
                 for s in FundSource for c in AMOUNT_FIELDS if (s, c) in self.unknown_amounts]
        return funds + [FieldPath.of(self.index, "indicators", i.index, name)
                        for i in self.indicators for name in i.unknown]

    def fund(self, source: FundSource) -> Amounts:
        """The amounts of one source (zero when the submission has no row for it)."""
        return self.funds.get(source, Amounts())


@dataclass(frozen=True, slots=True)
class Skipped:
    """A path not read at all, with the reason in Chinese."""

    path: str
    reason: str


#: What became of an input file: scored, replaced by a newer file of its department, or unreadable.
ACCEPTED, SUPERSEDED, REJECTED = "accepted", "superseded", "rejected"


@dataclass
class FileResult:
    """One input file: how it was read, every finding about it, and its scored projects."""

    file: str
    format: str | None
    sha256: str
    sourced: SourcedSubmission | None
    findings: list[Finding] = field(default_factory=list)
    projects: tuple[ScoredProject, ...] = ()
    superseded_by: str | None = None  # the newer file of the same department that counts instead
    submitted_at: dt.datetime | None = None  # the mail's Date, else the file's modification time (check_intake)
    submitted_basis: str = ""  # which of the two: 邮件日期 or 修改时间
    sender: str = ""  # the address it was mailed from ("" when it did not come by mail)

    @property
    def submission(self) -> Submission | None:
        return self.sourced.submission if self.sourced is not None else None

    @property
    def state(self) -> str:
        if self.sourced is None:
            return REJECTED
        return SUPERSEDED if self.superseded_by else ACCEPTED

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)


@dataclass
class Evaluation:
    """A batch read, scored and checked: every file with its findings and scored projects."""

    profile: Profile
    files: list[FileResult]
    skipped: list[Skipped] = field(default_factory=list)
    year: int | None = None  # the round's evaluation year, when given

    @property
    def findings(self) -> list[Finding]:
        """Every finding of every file, in file order."""
        return [f for r in self.files for f in r.findings]

    @property
    def has_errors(self) -> bool:
        return any(r.errors for r in self.files)

    @property
    def projects(self) -> list[ScoredProject]:
        """Every scored project of every readable file, superseded files included, in file order."""
        return [p for r in self.files for p in r.projects]

    @property
    def counted(self) -> list[FileResult]:
        """The files that count: readable and not replaced by a newer file of their department."""
        return [r for r in self.files if r.state == ACCEPTED]

    @property
    def counted_projects(self) -> list[ScoredProject]:
        return [p for r in self.counted for p in r.projects]

    def counts(self) -> dict[str, int]:
        """Files, readable files, projects, errors, warnings and skipped paths of the batch."""
        return {
            "files": len(self.files),
            "readable": sum(r.sourced is not None for r in self.files),
            "superseded": sum(r.state == SUPERSEDED for r in self.files),
            "projects": len(self.projects),
            "errors": sum(r.errors for r in self.files),
            "warnings": sum(r.warnings for r in self.files),
            "skipped": len(self.skipped),
        }

    def to_dict(self) -> dict[str, Any]:
        """The report as the JSON of `check --json` / `score --json` (schema perf-toolkit/report/v1).

        A project lists its own findings (path under the project); the file's other findings
        (year, department, template, roster) are listed once, with the file. `complete` is False
        when the project or its file has an error — the same rule as the report's `has_errors`.
        """
        return _printable(self._dict())

    def write_json(self, fh: BinaryIO) -> None:
        """`to_dict` as indented JSON (the layout of `json.dumps(…, ensure_ascii=False, indent=2)`), written
        file by file: a round's 审核结果.json runs to hundreds of MB, never held whole in memory."""
        envelope = self._dict(files=False)
        head, _, tail = _json(envelope).partition(b'"files": null')
        fh.write(head + b'"files": [')
        for k, r in enumerate(self.files):
            fh.write(b",\n    " if k else b"\n    ")
            fh.write(_json(_file_dict(r)).replace(b"\n", b"\n    "))  # raw newlines are layout: strings escape theirs
        fh.write((b"\n  ]" if self.files else b"]") + tail)

    def _dict(self, *, files: bool = True) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA,
            "profile": self.profile.name,
            "summary": self.counts(),
            "files": [_file_dict(r) for r in self.files] if files else None,
            "skipped": [{"path": k.path, "reason": k.reason} for k in self.skipped],
        }


def _json(value: Any) -> bytes:
    """Indented JSON by orjson (the round's JSON, ~10× the standard library's indenting encoder); a value
    orjson refuses (a name that was not UTF-8, surrogate-escaped) is made printable first, as to_dict does."""
    option = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError:
        return orjson.dumps(_printable(value), option=option)


def _printable(value: Any) -> Any:
    """Every text as printable UTF-8: a file name that was not UTF-8 comes surrogate-escaped from the disk."""
    if isinstance(value, str):
        return path_text(value)
    if isinstance(value, list):
        return [_printable(v) for v in value]
    if isinstance(value, dict):
        return {k: _printable(v) for k, v in value.items()}
    return value


REPORT_SCHEMA = "perf-toolkit/report/v1"


def _file_dict(r: FileResult) -> dict[str, Any]:
    sub = r.submission
    return {
        "file": r.file,
        "format": r.format,
        "sha256": r.sha256,
        "readable": sub is not None,
        "state": r.state,
        "superseded_by": r.superseded_by,
        "year": sub.year if sub else None,
        "department": {"code": sub.department.code, "name": sub.department.name} if sub else None,
        "errors": r.errors,
        "warnings": r.warnings,
        "findings": [f.to_dict() for f in r.findings],
        "projects": [_project_dict(p) for p in r.projects],
    }


def _project_dict(p: ScoredProject) -> dict[str, Any]:
    return {
        "code": p.code,
        "name": p.name,
        "initial_total": round2(p.total.initial_budget),
        "budget_total": round2(p.total.adjusted_budget),
        "executed_total": round2(p.total.executed),
        "funds": {source.value: {"initial_budget": round_half_up(amounts.initial_budget, 6),
                                 "adjusted_budget": round_half_up(amounts.adjusted_budget, 6),
                                 "executed": round_half_up(amounts.executed, 6)}
                  for source, amounts in p.funds.items()},
        "execution_rate": round_half_up(p.execution_rate, 4),
        "execution_score": round2(p.execution_score),
        "indicator_score": round2(p.indicator_score),
        "level1_scores": {k: round2(v) for k, v in p.level1_scores.items()},
        "total_score": p.total_score,
        "total_weight": round2(p.total_weight) if p.weights_known else None,
        "claimed_total": round2(p.claimed_total),
        "grade": p.grade,
        "grade_capped": p.grade_capped,
        "scored": p.scored,
        "provisional": p.provisional,
        "unknown": [str(path) for path in p.unknown_paths],
        "complete": not p.has_errors,
        "indicators": [
            {
                "level1": i.level1, "level2": i.level2, "name": i.name, "direction": i.direction,
                "target": i.submitted.target, "actual": i.submitted.actual, "unit": i.submitted.unit,
                "weight": round2(i.weight), "claimed_score": round2(i.claimed_score), "score": round2(i.score),
                "completion": round_half_up(i.completion, 4), "met": i.met, "band": i.band,
                "verifiable": i.verifiable,
            }
            for i in p.indicators
        ],
        "findings": [f.to_dict() for f in p.findings],
    }


# ---------------------------------------------------------------- JSON (v1)


class SubmissionFormatError(ValueError):
    """A JSON document that is not a submission-v1 (for the operator)."""


#: A submission-v1 is 5 levels deep (document → projects → project → indicators → indicator); far deeper
#: is no submission, and Python's JSON parser would recurse until it fails.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_NESTING = re.compile(r"[\[\]{}]")


def submission_from_json(text: str, *, cut: dict[str, int] | None = None) -> Submission:
    """A Submission from submission-v1 JSON text. Anything else is a SubmissionFormatError with a Chinese
    reason, never another exception: bad syntax, nesting deeper than a submission, a number too long to
    be a value (Python refuses 4300+ digits). Text loses what no document can hold (lone surrogates, NUL,
    control characters) and is cut to what an Excel cell holds (MAX_CELL_TEXT), as the workbook reader
    does: each cut string's field path and length go into `cut` when given, for the caller's finding."""
    depth = deepest = 0
    for m in _JSON_NESTING.finditer(_JSON_STRING.sub("", text)):
        depth += 1 if m[0] in "[{" else -1
        deepest = max(deepest, depth)
    if deepest > MAX_JSON_DEPTH:
        raise SubmissionFormatError(f"嵌套层数为 {deepest}，远超填报数据的结构")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionFormatError(f"第 {exc.lineno} 行第 {exc.colno} 列不符合 JSON 语法") from exc
    except (ValueError, RecursionError) as exc:  # an integer of 4300+ digits
        raise SubmissionFormatError("含有位数过多、无法作为数值的数字") from exc
    return submission_from_dict(_clean_json(data, "", {} if cut is None else cut))


def _clean_json(value: Any, path: str, cut: dict[str, int]) -> Any:
    """JSON data with every string safe for a document and no longer than a cell (depth is bounded by
    submission_from_json); `path` is where `value` sits (projects[0].goal), `cut` collects what was cut."""
    if isinstance(value, str):
        if len(value) > MAX_CELL_TEXT:
            cut[path] = len(value)
            value = value[:MAX_CELL_TEXT]
        return xml_safe(value)
    if isinstance(value, list):
        return [_clean_json(v, f"{path}[{i}]", cut) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {(key := xml_safe(k[:MAX_CELL_TEXT])): _clean_json(v, f"{path}.{key}" if path else key, cut)
                for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**300:
        return str(value)[:20] + "…"  # no figure; the value's own check says it cannot be read
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _typed(value: Any) -> Typed:
    if value is None or isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return value
    return str(value)


def submission_from_dict(data: dict[str, Any]) -> Submission:
    """Build a Submission from the JSON interchange form (keys beginning with _ ignored).

    Anything not shaped like a submission-v1 (a list where an object belongs, …) is a
    SubmissionFormatError, never another exception.
    """
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise SubmissionFormatError(f"不是 {SCHEMA} 格式的填报数据（缺少或不符的 schema 字段）")
    try:
        return _submission(data)
    except (AttributeError, TypeError) as exc:
        raise SubmissionFormatError(
            f"{SCHEMA} 数据的结构不对：department、contact 和每个项目、资金、指标应为对象（{{…}}），"
            "projects、duties、funds、indicators 应为列表（[…]）") from exc


def _submission(data: dict[str, Any]) -> Submission:
    dep = data.get("department") or {}
    contact = dep.get("contact") or {}
    department = Department(
        code=_text(dep.get("code")),
        name=_text(dep.get("name")),
        supervisor=_text(dep.get("supervisor")),
        duties=[_text(d) for d in dep.get("duties") or []],
        evaluation_unit=_text(dep.get("evaluation_unit")),
        evaluation_start=_text(dep.get("evaluation_start")),
        evaluation_end=_text(dep.get("evaluation_end")),
        report_date=_text(dep.get("report_date")),
        contact=Contact(**{f.name: _text(contact.get(f.name)) for f in fields(Contact)}),
    )
    projects = []
    for p in data.get("projects") or []:
        funds = [
            Fund(
                source=_text(f.get("source")),
                initial_budget=_typed(f.get("initial_budget")),
                adjusted_budget=_typed(f.get("adjusted_budget")),
                executed=_typed(f.get("executed")),
            )
            for f in p.get("funds") or []
        ]
        indicators = [
            Indicator(
                **{
                    f.name: (_typed if f.name in TYPED_INDICATOR_FIELDS else _text)(i.get(f.name))
                    for f in fields(Indicator)
                }
            )
            for i in p.get("indicators") or []
        ]
        text_keys = [f.name for f in fields(Project) if f.name not in ("funds", "indicators")]
        projects.append(
            Project(funds=funds, indicators=indicators, **{k: _text(p.get(k)) for k in text_keys})
        )
    year = data.get("year")
    year = year if isinstance(year, int) and not isinstance(year, bool) and abs(year) < 10**6 else None
    return Submission(year=year, department=department, projects=projects)


def submission_to_dict(submission: Submission) -> dict[str, Any]:
    """The JSON interchange form of a Submission, every key present."""
    out = {"schema": SCHEMA}
    out.update(asdict(submission))
    return out
