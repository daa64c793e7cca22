"""The data model: a submission as departments report it, and findings about it.

Plain dataclasses with no I/O. Values a person types (money, targets, actuals,
weights) are kept exactly as found (text or number); parsing them is the job of
`values`, judging them the job of `check` and `score`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

SCHEMA = "perf-toolkit/submission/v1"

#: A value as typed in a cell: text, a number, or nothing.
Typed = str | int | float | None

#: The fund sources of the official form, in its row order.
FUND_SOURCES = ("当年财政拨款", "上年结转资金", "其他资金")


@dataclass
class Contact:
    name: str = ""
    phone: str = ""
    email: str = ""


@dataclass
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


@dataclass
class Fund:
    source: str
    initial_budget: Typed = None
    adjusted_budget: Typed = None
    executed: Typed = None


@dataclass
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


@dataclass
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


@dataclass
class Submission:
    year: int | None = None
    department: Department = field(default_factory=Department)
    projects: list[Project] = field(default_factory=list)


@dataclass(frozen=True)
class Location:
    """Where a value sits in a workbook, as a clerk would find it."""

    sheet: str | None = None
    cell: str | None = None


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
    """

    submission: Submission
    file: str | None = None
    locations: dict[str, Location] = field(default_factory=dict)
    overrides: dict[str, Typed] = field(default_factory=dict)
    prefilled: dict[str, Typed] = field(default_factory=dict)

    def where(self, path: str) -> Location:
        """The location of a field path, or of its nearest located parent."""
        while path:
            if path in self.locations:
                return self.locations[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return Location()


@dataclass(frozen=True)
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- JSON (v1)


class SubmissionFormatError(ValueError):
    """A JSON document that is not a submission-v1 (for the operator)."""


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
    return Submission(year=year if isinstance(year, int) else None, department=department, projects=projects)


def submission_to_dict(submission: Submission) -> dict[str, Any]:
    """The JSON interchange form of a Submission, every key present."""
    out = {"schema": SCHEMA}
    out.update(asdict(submission))
    return out
