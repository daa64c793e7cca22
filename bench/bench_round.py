"""A whole round against a hand-written script and against the floors, on the same generated inputs.

    python bench/bench_round.py                    N = 200 departments
    python bench/bench_round.py --n 200 --n 1000   several sizes in one run
    python bench/bench_round.py --huge             adds N = 10,000 (hours; several GB of disk)
    options: --jobs J, --seed S, --json PATH (default output/bench.json), --skip-naive, --skip-floor

Each department is one workbook written by the real template writer: 5 projects × 8 indicators
from the bundled example, with messy values (full-width ％, 万元, “约”, blanks, text where a
number belongs, claimed scores that disagree), from a fixed seed so every run reads the same files.
For each N, three pipelines run in fresh child processes (their peak memory is their own):

- toolkit: `run_round` (collect into the store, check, reports, summary, marked-up copies,
  feedback drafts), timed per stage, with the peak memory of the process and of its workers;
- naive: the script a clerk's helper would write: pandas `read_excel(engine="openpyxl",
  sheet_name=None)` per workbook, a fresh `DocxTemplate` load-render-save per project (the
  report template; plain docxtpl cannot render the 自评表's merge tags), pandas `to_excel` summary;
- floor: every cell read with python-calamine alone, and as many .docx as the toolkit writes
  zipped from pre-rendered XML with `zipfile` alone.

Prints the ratios naive/toolkit (how many times faster the toolkit is) and toolkit/floor, the
cost per department, and writes everything to a JSON file. Not a test: this machine is shared
and noisy, so compare figures from one run only.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXAMPLE = ROOT / "workbook_templates" / "示例-退役军人事务局.json"
PROJECTS, INDICATORS = 5, 8
PIPELINES = ("toolkit", "naive", "floor")

# ------------------------------------------------------------------ the inputs


def _messy_number(rng: random.Random, value: float, unit: str = "") -> object:
    """A value as departments type it: mostly a number, sometimes text around one, sometimes nothing."""
    roll = rng.random()
    if roll < 0.70:
        return value
    if roll < 0.78:
        return f"{value:g}{unit}"
    if roll < 0.84:
        return f"约{value:g}"
    if roll < 0.90:
        return f"{value / 10000:g}万" if value >= 1000 else f"{value:g}"
    if roll < 0.95:
        return None
    return "已完成"


def _messy_percent(rng: random.Random, value: int) -> object:
    return rng.choice([f"{value}%", f"{value}％", value / 100, f"{value}", f"{value}%", "全部完成", None])


def department(n: int, seed: int):
    """Department n's submission: deterministic for (n, seed)."""
    from perf_toolkit.model import submission_from_dict

    rng = random.Random(seed * 1_000_003 + n)
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["department"]["code"] = f"BENCH-{n:05d}"
    data["department"]["name"] = f"东川区第{n}号预算单位"
    base = data["projects"][0]
    projects = []
    for p in range(PROJECTS):
        project = copy.deepcopy(base)
        project["code"] = f"530113-2023-{n:05d}-{p}"
        project["name"] = f"第{n}号单位{rng.choice(['民生保障', '基础设施', '公共服务', '专项补助'])}项目{p + 1}"
        budget = round(rng.uniform(2, 500), 2)
        for fund in project["funds"]:
            fund["initial_budget"] = budget if fund is project["funds"][0] else 0
            fund["adjusted_budget"] = budget if fund is project["funds"][0] else _messy_number(rng, 0)
            fund["executed"] = round(budget * rng.uniform(0.6, 1.05), 2) if fund is project["funds"][0] else 0
        indicators = [copy.deepcopy(project["indicators"][i % len(project["indicators"])]) for i in range(INDICATORS)]
        for i, ind in enumerate(indicators):
            ind["name"] = f"{ind['name']}（{i + 1}）"
            if ind["direction"] in ("≥", "≤", "="):
                ind["target"] = _messy_percent(rng, 100) if ind["unit"] == "%" else _messy_number(rng, 50, ind["unit"])
                ind["actual"] = (_messy_percent(rng, rng.randint(70, 105)) if ind["unit"] == "%"
                                 else _messy_number(rng, rng.randint(30, 60), ind["unit"]))
            ind["weight"] = rng.choice([10, 10, 10, "10", "10分", None])
            ind["claimed_score"] = rng.choice([ind["weight"], 10, 8, 9.5, None])
        project["indicators"] = indicators
        projects.append(project)
    data["projects"] = projects
    return submission_from_dict(data)


def generate(n: int, seed: int, folder: Path) -> list[Path]:
    """N department workbooks in folder (kept between runs of the same N and seed)."""
    from perf_toolkit.workbook.template import write_template

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"东川区第{i}号预算单位-自评填报表.xlsx"
        if not path.exists():
            write_template(path, department(i, seed), projects=PROJECTS)
        paths.append(path)
    return paths


# ------------------------------------------------------------------ the pipelines (each in a child process)


class _Untimed:
    stages: list = []


def _peak_rss_mib() -> tuple[float, float]:
    import resource

    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def run_toolkit(inbox: Path, out: Path, jobs: int | None) -> dict:
    from perf_toolkit.config import Campaign
    from perf_toolkit.profile import load_profile
    from perf_toolkit.run import run_round

    try:
        from perf_toolkit.progress import Progress, peak_rss_mib
    except ImportError:  # a toolkit from before stage timing
        Progress, peak_rss_mib = _Untimed, _peak_rss_mib

    campaign = Campaign(year=2023, district="东川区", bureau="昆明市东川区财政局", output_dir=out)
    progress = Progress()
    start = time.perf_counter()
    try:
        result = run_round([inbox], campaign, load_profile(), out, jobs=jobs, progress=progress)
    except TypeError:  # a toolkit from before stage timing (to compare against): the total only
        result = run_round([inbox], campaign, load_profile(), out, jobs=jobs)
    total = time.perf_counter() - start
    own, workers = peak_rss_mib()
    return {"seconds": total, "peak_rss_mib": own, "worker_rss_mib": workers,
            "files": len(result.evaluation.files), "projects": len(result.evaluation.counted_projects),
            "documents": 2 * len(result.reports), "markups": sum(m.path is not None for m in result.markups),
            "stages": [{"stage": s.name, "items": s.items, "seconds": s.seconds, "peak_rss_mib": s.peak_rss_mib,
                        "worker_rss_mib": s.worker_rss_mib} for s in progress.stages]}


def _label_value(frame, label: str) -> object:
    """The value right of the first cell that reads `label` (how a hand-written script finds a field)."""
    for row in frame.itertuples(index=False):
        for j, cell in enumerate(row):
            if cell == label and j + 1 < len(row):
                return next((v for v in row[j + 1:] if v == v and v is not None), "")
    return ""


def run_naive(inbox: Path, out: Path) -> dict:
    import pandas as pd
    from docxtpl import DocxTemplate
    from jinja2 import ChainableUndefined, Environment

    from perf_toolkit.report.render import REPORT_TEMPLATE, template_path

    peak_rss_mib = _peak_rss_mib
    template = template_path(REPORT_TEMPLATE)
    out.mkdir(parents=True, exist_ok=True)
    stages, rows, projects = [], [], []
    start = time.perf_counter()
    for path in sorted(inbox.glob("*.xlsx")):
        sheets = pd.read_excel(path, engine="openpyxl", sheet_name=None, header=None)
        unit = _label_value(next(iter(sheets.values())), "单位名称")
        for name, frame in sheets.items():
            if "项目名称" not in frame.values:
                continue
            project = {"unit": str(unit), "sheet": name, "project_name": str(_label_value(frame, "项目名称")),
                       "project_code": str(_label_value(frame, "项目编码")), "goal": str(_label_value(frame, "年度目标"))}
            projects.append(project)
            rows.append({"单位": project["unit"], "项目": project["project_name"], "编码": project["project_code"]})
    stages.append(("read (pandas + openpyxl)", time.perf_counter() - start))
    mark = time.perf_counter()
    lenient = Environment(undefined=ChainableUndefined, autoescape=True)  # a script passes only the fields it has
    for k, project in enumerate(projects):
        tpl = DocxTemplate(template)
        tpl.render(project, lenient)
        tpl.save(out / f"{k:06d}-绩效自评报告.docx")
    stages.append(("render (DocxTemplate per project)", time.perf_counter() - mark))
    mark = time.perf_counter()
    pd.DataFrame(rows).to_excel(out / "汇总.xlsx", index=False)
    stages.append(("summary (pandas to_excel)", time.perf_counter() - mark))
    own, _ = peak_rss_mib()
    return {"seconds": time.perf_counter() - start, "peak_rss_mib": own, "projects": len(projects),
            "documents": len(projects), "stages": [{"stage": s, "seconds": t} for s, t in stages]}


def run_floor(inbox: Path, out: Path, documents: int) -> dict:
    import zipfile

    from python_calamine import CalamineWorkbook

    from perf_toolkit.report.render import REPORT_TEMPLATE, template_path

    peak_rss_mib = _peak_rss_mib
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    cells = 0
    for path in sorted(inbox.glob("*.xlsx")):
        wb = CalamineWorkbook.from_path(str(path))
        for name in wb.sheet_names:
            cells += sum(len(row) for row in wb.get_sheet_by_name(name).to_python())
    read = time.perf_counter() - start
    with zipfile.ZipFile(template_path(REPORT_TEMPLATE)) as zf:  # "pre-rendered": the parts as they are
        members = [(info.filename, zf.read(info)) for info in zf.infolist()]
    mark = time.perf_counter()
    for k in range(documents):
        with zipfile.ZipFile(out / f"{k:06d}.docx", "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members:
                zf.writestr(name, data)
    write = time.perf_counter() - mark
    own, _ = peak_rss_mib()
    return {"seconds": read + write, "peak_rss_mib": own, "cells": cells, "documents": documents,
            "stages": [{"stage": "read every cell (calamine)", "seconds": read},
                       {"stage": "write documents (zipfile)", "seconds": write}]}


def child(args: argparse.Namespace) -> None:
    inbox, out = Path(args.inbox), Path(args.out)
    if args.part == "toolkit":
        result = run_toolkit(inbox, out, args.jobs)
    elif args.part == "naive":
        result = run_naive(inbox, out)
    else:
        result = run_floor(inbox, out, args.documents)
    print(json.dumps(result, ensure_ascii=False))


def _in_child(part: str, inbox: Path, out: Path, *extra: str) -> dict:
    cmd = [sys.executable, __file__, "--part", part, "--inbox", str(inbox), "--out", str(out), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{part} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ one size, the table, the JSON


def _pad(text: str, width: int) -> str:
    from perf_toolkit.text import display_width

    return text + " " * max(0, width - display_width(text))


def measure(n: int, args: argparse.Namespace, scratch: Path) -> dict:
    inbox = scratch / f"inbox-{n}-{args.seed}"
    start = time.perf_counter()
    generate(n, args.seed, inbox)
    print(f"\nN = {n} departments × {PROJECTS} projects × {INDICATORS} indicators "
          f"(inputs ready in {time.perf_counter() - start:.0f} s)")
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        results = {"toolkit": _in_child("toolkit", inbox, Path(tmp) / "toolkit", *jobs)}
        if not args.skip_naive:
            results["naive"] = _in_child("naive", inbox, Path(tmp) / "naive")
        if not args.skip_floor:
            results["floor"] = _in_child("floor", inbox, Path(tmp) / "floor",
                                         "--documents", str(results["toolkit"]["documents"]))
    tk = results["toolkit"]
    for name, result in results.items():
        print(f"  {name:<8} {result['seconds']:8.2f} s  {result['seconds'] / n * 1000:8.1f} ms/department  "
              f"peak RSS {result['peak_rss_mib']:6.0f} MiB"
              + (f" (largest worker {result['worker_rss_mib']:.0f} MiB)" if result.get("worker_rss_mib") else ""))
        for s in result["stages"]:
            items = f"{s['items']:6d} items" if "items" in s else " " * 12
            print(f"      {_pad(s['stage'], 34)} {s['seconds']:8.2f} s  {items}")
    ratios = {}
    if "naive" in results:
        ratios["naive/toolkit"] = results["naive"]["seconds"] / tk["seconds"]
        print(f"  toolkit is {ratios['naive/toolkit']:.2f}× the naive pipeline's speed (goal ≥ 5×)")
    if "floor" in results:
        ratios["toolkit/floor"] = tk["seconds"] / results["floor"]["seconds"]
        print(f"  toolkit takes {ratios['toolkit/floor']:.2f}× the floor (goal ≤ 3×)")
    return {"n": n, "seed": args.seed, "jobs": args.jobs or os.cpu_count(), "results": results, "ratios": ratios,
            "ms_per_department": {k: v["seconds"] / n * 1000 for k, v in results.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="departments (repeatable; default 200)")
    parser.add_argument("--huge", action="store_true", help="also N = 10,000")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--json", type=Path, default=ROOT / "output" / "bench.json")
    parser.add_argument("--scratch", type=Path, default=None, help="where inputs are kept (default: a temp dir)")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--part", choices=PIPELINES, help=argparse.SUPPRESS)
    parser.add_argument("--inbox", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--documents", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        child(args)
        return
    sizes = (args.n or [200]) + ([10_000] if args.huge else [])
    with tempfile.TemporaryDirectory(prefix="perf-bench-") as tmp:
        scratch = args.scratch or Path(tmp)
        runs = [measure(n, args, scratch) for n in sizes]
    if len(runs) > 1:
        print("\ncost per department (ms):", ", ".join(
            f"N={r['n']}: {r['ms_per_department']['toolkit']:.1f}" for r in runs))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"runs": runs}, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nwritten: {args.json}")


if __name__ == "__main__":
    main()
