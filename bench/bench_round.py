"""A whole round at district scale: read, score, check, render and summarise N departments.

    python bench/bench_round.py [N]      (default 200 departments, 2 projects of 8 indicators each)

Prints each stage's wall time, per department, and the peak memory of this process and of
the reading workers, all from one run. Workbooks are generated with the real template
writer from the example submission, varied so every department differs.
"""

from __future__ import annotations

import copy
import resource
import sys
import tempfile
import time
from pathlib import Path

from perf_toolkit.check.evaluate import evaluate_paths
from perf_toolkit.config import Campaign
from perf_toolkit.model import submission_from_dict
from perf_toolkit.profile import load_profile
from perf_toolkit.report.render import render_reports
from perf_toolkit.summary.consolidate import summarize
from perf_toolkit.workbook.template import write_template

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "workbook_templates" / "示例-退役军人事务局.json"


def department(n: int):
    import json

    sub = submission_from_dict(json.loads(EXAMPLE.read_text(encoding="utf-8")))
    sub.department.code, sub.department.name = f"D{n:04d}", f"第{n}号单位"
    base = sub.projects[0]
    sub.projects = []
    for p in range(2):
        project = copy.deepcopy(base)
        project.code, project.name = f"{n:04d}-{p}", f"第{n}号单位项目{p + 1}"
        project.funds[0].adjusted_budget = 10 + n % 7
        project.funds[0].executed = 10 + n % 7 - (n % 3)
        project.indicators = (project.indicators + copy.deepcopy(project.indicators[:2]))[:8]
        project.indicators[0].actual = f"{90 + n % 11}%"
        sub.projects.append(project)
    return sub


def timed(label: str, fn, n: int):
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    print(f"  {label:<28} {seconds:7.2f} s   {seconds / n * 1000:7.1f} ms/department")
    return value


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        inbox, out = Path(tmp) / "inbox", Path(tmp) / "out"
        inbox.mkdir()
        print(f"{n} departments x 2 projects x 8 indicators")
        timed("write workbooks (template)", lambda: [write_template(inbox / f"{i:04d}.xlsx", department(i))
                                                      for i in range(n)], n)
        profile = load_profile()
        result = timed("read + score + check", lambda: evaluate_paths([inbox], profile), n)
        assert len(result.projects) == 2 * n, "every project scored"
        timed("render reports (.docx)", lambda: render_reports(result, out / "reports"), n)
        timed("summary workbook", lambda: summarize(result, Campaign(), out / "汇总.xlsx"), n)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  peak memory: this process {own:.0f} MiB, largest reading worker {workers:.0f} MiB")


if __name__ == "__main__":
    main()
