"""Which file counts for each department, checked against the round's roster.

A department that sent several files counts once, by its newest file; the others are
superseded. Newest is by the time each file was submitted when the caller knows it (the
mail's Date, from the mail stage's manifest), else by the file's modification time. A
department code not on the roster is reported, and so is a file mailed from an address the
roster gives to another department. All are findings of the check stage, so `check --json`,
the marked-up workbooks and the summary all show them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence

from .. import findings as catalogue
from ..config import RosterEntry
from ..model import FileResult, Location

MAIL_DATE, MODIFIED = "邮件日期", "修改时间"


def file_mtime(path: str) -> dt.datetime | None:
    """A file's modification time (local, to the second), None when it is not a file on disk."""
    try:
        return dt.datetime.fromtimestamp(os.stat(path).st_mtime).replace(microsecond=0)
    except (OSError, ValueError, OverflowError):
        return None


def roster_addresses(entry: RosterEntry) -> set[str]:
    """The mail addresses a roster line gives its department (电子邮箱 may hold several), lower case."""
    return {a.lower() for a in re.split(r"[\s,;，；、]+", entry.email) if "@" in a}


def department_of_address(address: str, roster: Sequence[RosterEntry]) -> RosterEntry | None:
    """The roster department an address belongs to (the first, if the roster lists it twice)."""
    address = address.strip().lower()
    return next((e for e in roster if address and address in roster_addresses(e)), None)


def _comparable(when: dt.datetime) -> dt.datetime:
    """Aware, for comparing a mail's Date (aware) with a file's modification time (local, naive)."""
    return when if when.tzinfo is not None else when.astimezone()


def check_intake(files: Sequence[FileResult], roster: Sequence[RosterEntry] = (), *,
                 submitted_at: Mapping[str, dt.datetime] | None = None,
                 senders: Mapping[str, str] | None = None) -> None:
    """Mark superseded files and add the roster findings to the files they are about.

    `submitted_at` (keyed by FileResult.file) are the times files were submitted, a mail's Date;
    a file not in it is dated by its modification time. `senders` (same keys) are the addresses
    files were mailed from.
    """
    submitted_at, senders = submitted_at or {}, senders or {}
    when: dict[int, tuple[dt.datetime | None, str]] = {}
    for i, r in enumerate(files):
        given = submitted_at.get(r.file)
        when[i] = (given, MAIL_DATE) if given is not None else (file_mtime(r.file), MODIFIED)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(files):
        if r.sourced is not None:
            code = r.sourced.submission.department.code.strip()
            groups.setdefault(code or f"#{i}", []).append(i)  # no code: a file is its own department
    for i, r in enumerate(files):
        r.submitted_at, r.submitted_basis = when[i]
        r.sender = senders.get(r.file, "")
    known = {e.code for e in roster}
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    for members in groups.values():
        newest = max(members, key=lambda i: (_comparable(when[i][0]) if when[i][0] else oldest, i))
        for i in members:
            if i == newest:
                continue
            at, basis = when[i]
            files[i].superseded_by = files[newest].file
            files[i].findings.append(catalogue.make(
                "superseded", files[i].sourced.where("department.code"), file=files[i].file,
                path="department.code", newer=os.path.basename(files[newest].file), basis=basis,
                modified=at.strftime("%Y-%m-%d %H:%M:%S") if at else "未知"))
        item = files[newest].sourced
        dep = item.submission.department
        if known and dep.code.strip() not in known:
            files[newest].findings.append(catalogue.make(
                "department-unknown", item.where("department.code"), file=files[newest].file,
                path="department.code", dept_code=dep.code.strip() or "（未填）",
                dept_name=dep.name.strip() or "单位名称未填"))
    for r in files:
        if r.sourced is not None and r.file in senders:
            found = sender_mismatch(r, senders[r.file], roster)
            if found is not None:
                r.findings.append(found)


def sender_mismatch(result: FileResult, sender: str, roster: Sequence[RosterEntry]):
    """The `sender-mismatch` finding of a read file, at its 单位编码 cell."""
    dep = result.sourced.submission.department
    return mismatched_sender(sender, dep.code, dep.name, roster, result.sourced.where("department.code"),
                             file=result.file, path="department.code")


def mismatched_sender(sender: str, dept_code: str, dept_name: str, roster: Sequence[RosterEntry],
                      where: Location | None = None, **place: object):
    """The `sender-mismatch` finding when the roster gives `sender` to a department other than the one
    a workbook names (None when it does not); `place` is the finding's file and path."""
    owner = department_of_address(sender, roster)
    if owner is None or owner.code == dept_code.strip():
        return None
    return catalogue.make("sender-mismatch", where, sender=sender.strip(), sender_code=owner.code,
                          sender_name=owner.name, dept_code=dept_code.strip() or "（未填）",
                          dept_name=dept_name.strip() or "单位名称未填", **place)
