"""Which file counts for each department, checked against the round's roster.

A department that sent several files counts once, by its newest file; the others are
superseded. A department code not on the roster is reported. Both are findings of the
check stage, so `check --json`, the marked-up workbooks and the summary all show them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence

from .. import findings as catalogue
from ..config import RosterEntry
from ..model import FileResult


def file_mtime(path: str) -> dt.datetime | None:
    """A file's modification time (local, to the second), None when it is not a file on disk."""
    try:
        return dt.datetime.fromtimestamp(os.stat(path).st_mtime).replace(microsecond=0)
    except (OSError, ValueError, OverflowError):
        return None


def check_intake(files: Sequence[FileResult], roster: Sequence[RosterEntry] = ()) -> None:
    """Mark superseded files and add the roster findings to the files they are about."""
    modified = {i: file_mtime(r.file) for i, r in enumerate(files)}
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(files):
        if r.sourced is not None:
            code = r.sourced.submission.department.code.strip()
            groups.setdefault(code or f"#{i}", []).append(i)  # no code: a file is its own department
    known = {e.code for e in roster}
    oldest = dt.datetime.min
    for members in groups.values():
        newest = max(members, key=lambda i: (modified[i] or oldest, i))
        for i in members:
            if i == newest:
                continue
            when = modified[i].strftime("%Y-%m-%d %H:%M:%S") if modified[i] else "未知"
            files[i].superseded_by = files[newest].file
            files[i].findings.append(catalogue.make(
                "superseded", files[i].sourced.where("department.code"), file=files[i].file,
                path="department.code", newer=os.path.basename(files[newest].file), modified=when))
        item = files[newest].sourced
        dep = item.submission.department
        if known and dep.code.strip() not in known:
            files[newest].findings.append(catalogue.make(
                "department-unknown", item.where("department.code"), file=files[newest].file,
                path="department.code", dept_code=dep.code.strip() or "（未填）",
                dept_name=dep.name.strip() or "单位名称未填"))
