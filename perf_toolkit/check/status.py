"""Where each department of the round stands: the states `status`, `summary`, `run` and `feedback` share.

One line per roster department: 未报送, 已报送-无法读取, 已报送-有错误, 已报送-有警告 or 已通过,
with the current version's file, its date and its counts. A department whose only file cannot be
read has submitted (it must be told to send it again), it is not missing: such a file names no
department in its content, so it is tied to a roster department by its file name (the 单位编码,
or the 单位名称 with or without its leading 市/区/县) or by the address it was mailed from — only
when exactly one department fits, and the line says how it was tied. A file nobody can tie is
listed as unidentified, never guessed. Departments whose files name a department not on the
roster are listed apart.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

from ..config import RosterEntry
from ..model import ACCEPTED, REJECTED, Evaluation, FileResult
from .intake import file_mtime

NOT_SUBMITTED = "未报送"
UNREADABLE = "已报送-无法读取"
HAS_ERRORS = "已报送-有错误"
HAS_WARNINGS = "已报送-有警告"
PASSED = "已通过"
#: Every state, in the order a clerk acts on them (who must still send something first).
STATES = (NOT_SUBMITTED, UNREADABLE, HAS_ERRORS, HAS_WARNINGS, PASSED)

#: How an unreadable file was tied to its department (shown beside its line).
BY_CODE, BY_NAME, BY_SENDER = "按文件名中的单位编码认定", "按文件名中的单位名称认定", "按发件人地址认定"

#: A leading administrative division (a 省, 市, 区 or 县 …) a file name may leave out of a department's name.
_DIVISION = re.compile(r"^.{2,}?(?:省|自治区|市|自治州|州|地区|盟|区|县|旗)")
_SHORTEST_NAME = 3  # characters: a shorter remainder (局, 中心) names no department


@dataclass(frozen=True)
class DepartmentStatus:
    """One department's standing in the round."""

    code: str
    name: str
    state: str  # one of STATES
    entry: RosterEntry | None = None  # its roster line; None: not on the roster
    file: str | None = None  # the current version: its counted file, else its newest unreadable file
    submitted_at: dt.datetime | None = None  # when the current version came (mail date, else file time)
    errors: int = 0
    warnings: int = 0
    unreadable: tuple[str, ...] = ()  # its files that could not be read, oldest first
    matched_by: str = ""  # how an unreadable file was tied to it ("" when its content names it)
    result: FileResult | None = None  # the counted file (None: nothing readable)
    newer_unreadable: str | None = None  # an unreadable file that came after the counted one

    @property
    def on_roster(self) -> bool:
        return self.entry is not None

    @property
    def submitted(self) -> bool:
        return self.state != NOT_SUBMITTED


@dataclass(frozen=True)
class Unidentified:
    """An unreadable file no department could be tied to (the bureau must look at it)."""

    file: str
    submitted_at: dt.datetime | None
    sender: str
    reason: str  # Chinese


@dataclass(frozen=True)
class RoundStatus:
    departments: tuple[DepartmentStatus, ...]  # the roster's departments, in roster order
    unlisted: tuple[DepartmentStatus, ...]  # departments a readable file names that are not on the roster
    unidentified: tuple[Unidentified, ...]  # unreadable files tied to no department

    @property
    def everyone(self) -> tuple[DepartmentStatus, ...]:
        return self.departments + self.unlisted

    def counts(self) -> dict[str, int]:
        """How many departments (roster and not) stand in each state, every state present."""
        out = dict.fromkeys(STATES, 0)
        for d in self.everyone:
            out[d.state] += 1
        return out

    def in_state(self, state: str) -> list[DepartmentStatus]:
        return [d for d in self.everyone if d.state == state]

    def of_file(self, file: str) -> DepartmentStatus | None:
        """The department a file counts for or was tied to (None: superseded, or nobody's)."""
        return next((d for d in self.everyone if d.file == file or file in d.unreadable), None)


def department_status(evaluation: Evaluation, roster: Sequence[RosterEntry] = ()) -> RoundStatus:
    """Every roster department's state, the departments not on it, and the files tied to nobody.

    Each file is dated as the check stage dated it (its mail's Date, else its modification time) and
    tied to a department by its content, else (an unreadable file) by its name or its sender.
    """
    times = {r.file: r.submitted_at or file_mtime(r.file) for r in evaluation.files}
    counted: dict[str, FileResult] = {}
    unlisted_files: list[FileResult] = []
    codes = {e.code for e in roster}
    for r in evaluation.files:
        if r.state != ACCEPTED:
            continue
        code = r.submission.department.code.strip()
        if code and code in codes:
            counted[code] = r
        else:
            unlisted_files.append(r)
    tied: dict[str, list[tuple[str, str]]] = {}  # code → [(file, how)]
    unidentified = []
    for r in evaluation.files:
        if r.state != REJECTED:
            continue
        sender = parseaddr(r.sender)[1]
        entry, how, why = _tie(r.file, sender, roster)
        if entry is None:
            unidentified.append(Unidentified(r.file, times[r.file], sender, why))
        else:
            tied.setdefault(entry.code, []).append((r.file, how))
    departments = []
    for e in roster:
        mine = sorted(tied.get(e.code, []), key=lambda t: (times[t[0]] or dt.datetime.min))
        unreadable = tuple(f for f, _ in mine)
        r = counted.get(e.code)
        if r is not None:
            newer = unreadable[-1] if unreadable and _later(times[unreadable[-1]], times[r.file]) else None
            departments.append(_readable(r, e, times[r.file], unreadable, newer))
        elif mine:
            last = unreadable[-1]
            departments.append(DepartmentStatus(e.code, e.name, UNREADABLE, e, last, times[last],
                                                errors=_result(evaluation, last).errors,
                                                unreadable=unreadable, matched_by=mine[-1][1]))
        else:
            departments.append(DepartmentStatus(e.code, e.name, NOT_SUBMITTED, e))
    unlisted = tuple(_readable(r, None, times[r.file]) for r in unlisted_files)
    return RoundStatus(tuple(departments), unlisted, tuple(unidentified))


def _readable(r: FileResult, entry: RosterEntry | None, when: dt.datetime | None,
              unreadable: tuple[str, ...] = (), newer: str | None = None) -> DepartmentStatus:
    dep = r.submission.department
    state = HAS_ERRORS if r.errors else HAS_WARNINGS if r.warnings else PASSED
    return DepartmentStatus(dep.code.strip(), (entry.name if entry else "") or dep.name.strip(), state, entry, r.file,
                            when, r.errors, r.warnings, unreadable, "", r, newer)


def _result(evaluation: Evaluation, file: str) -> FileResult:
    return next(r for r in evaluation.files if r.file == file)


def _later(a: dt.datetime | None, b: dt.datetime | None) -> bool:
    return a is not None and b is not None and a > b


def name_keys(name: str) -> list[str]:
    """The forms of a department's name a file name may carry: the name, then without each leading
    administrative division (某市某区卫生健康局 → 某区卫生健康局 → 卫生健康局)."""
    keys, rest = [name.strip()], name.strip()
    while (m := _DIVISION.match(rest)) and len(rest) - m.end() >= _SHORTEST_NAME:
        rest = rest[m.end():]
        keys.append(rest)
    return [k for k in keys if k]


def _tie(file: str, sender: str, roster: Sequence[RosterEntry]) -> tuple[RosterEntry | None, str, str]:
    """(the roster department an unreadable file belongs to, how it was told, or why none could be)."""
    if not roster:
        return None, "", "文件无法读取，且没有配置报送名单，无法认定是哪个单位报送的"
    stem = Path(file).name.casefold()
    by_code = [e for e in roster if len(e.code) >= 3 and re.search(
        rf"(?<![0-9a-z]){re.escape(e.code.casefold())}(?![0-9a-z])", stem)]
    if len(by_code) == 1:
        return by_code[0], BY_CODE, ""
    by_name = []
    for e in roster:
        others = [o.name for o in roster if o is not e]
        usable = [k for k in name_keys(e.name) if not any(k in o for o in others)]  # a key naming one department
        if any(k.casefold() in stem for k in usable):
            by_name.append(e)
    if len(by_name) == 1:
        return by_name[0], BY_NAME, ""
    if sender:
        by_sender = [e for e in roster if e.email and e.email.strip().casefold() == sender.casefold()]
        if len(by_sender) == 1:
            return by_sender[0], BY_SENDER, ""
    if len(by_code) > 1 or len(by_name) > 1:
        return None, "", "文件无法读取，文件名与报送名单中的多个单位相符，无法认定是哪个单位报送的"
    return None, "", ("文件无法读取，文件名" + ("和发件人地址" if sender else "") + "与报送名单中的单位都对不上，"
                      "无法认定是哪个单位报送的")
