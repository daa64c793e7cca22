"""How much the guarded read costs against the bare readers, on realistic workbooks.

Run: python bench/bench_read.py [--files 50] [--rounds 5]

Generates department-like workbooks (4 project sheets, ~30 indicator rows x 12
columns, long Chinese texts, formulas, defined names, half the actuals numbers in %-formatted cells; written by xlsxwriter so
strings are shared as in Excel-saved files) in a temp dir, then, in one run,
times the same files through:
  (a)  openpyxl read-only, full read of the area
  (b)  bare python-calamine, every sheet to_python()
  (c)  guard.load_raw(isolate=False): sniff + container check + scan + calamine, in-process
  (d1) guard.load_raw_many(jobs=1): the isolated worker pool, one worker
  (d2) guard.load_raw_many(jobs=2): two workers
  (e)  guard.load_raw(isolate=True) called once per file: a pool of one worker per call
Each round reads all files once per method, in that order, so drift hits every
method alike. "ms/file" is a round's wall time / files, median over rounds (the
only figure a batch has); "median" is the median single-file time, where there is one.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openpyxl  # noqa: E402
import xlsxwriter  # noqa: E402
from python_calamine import CalamineWorkbook  # noqa: E402

from perf_toolkit.workbook.guard import Limits, RawWorkbook, load_raw, load_raw_many  # noqa: E402

LIMITS = Limits()
TEXT = ("本项目围绕退役军人服务保障体系建设，完成了区、街道、社区三级服务站点标准化改造，"
        "开展政策宣传、走访慰问、就业创业培训等工作，服务对象满意度稳步提升。")
LEVELS = [("产出指标", "数量指标"), ("产出指标", "质量指标"), ("产出指标", "时效指标"), ("产出指标", "成本指标"),
          ("效益指标", "社会效益指标"), ("效益指标", "可持续影响指标"), ("满意度指标", "服务对象满意度指标")]


def make_workbook(path: Path, rng: random.Random) -> None:
    """One department's file: 4 project sheets with a header block, a funds block and ~30 indicators."""
    wb = xlsxwriter.Workbook(path, {"strings_to_formulas": False, "strings_to_urls": False})
    percent, rate = wb.add_format({"num_format": "0%"}), wb.add_format({"num_format": "0.00%"})
    for p in range(1, 5):
        name = f"项目{p}"
        ws = wb.add_worksheet(name)
        ws.write_string(0, 0, "项目名称")
        ws.write_string(0, 1, f"退役军人服务保障项目（第{p}期）")
        wb.define_name(f"'{name}'!pt_project_name", f"='{name}'!$B$1")
        for i, label in enumerate(("预期目标", "实际完成情况", "偏离绩效目标的原因分析", "下一步改进措施")):
            ws.write_string(1 + i, 0, label)
            ws.write_string(1 + i, 1, TEXT * rng.randint(1, 4))
        for r in range(3):
            for c in range(3):
                ws.write_number(6 + r, 1 + c, round(rng.uniform(1, 500), 2))
        ws.write_formula(9, 1, "=SUM(B7:B9)")
        ws.write_formula(9, 2, "=SUM(C7:C9)")
        ws.write_formula(9, 3, "=IF(C10=0,0,D10/C10)", rate)
        headers = ["一级指标", "二级指标", "三级指标", "指标方向", "年度指标值", "计量单位", "实际完成值",
                   "分值", "自评得分", "指标设定依据", "偏差原因分析及改进措施", "备注"]
        for c, h in enumerate(headers):
            ws.write_string(11, c, h)
        rows = rng.randint(26, 34)
        for r in range(rows):
            level1, level2 = LEVELS[r % len(LEVELS)]
            row = [level1, level2, f"指标{r + 1}：{TEXT[:rng.randint(8, 30)]}", "≥", f"{rng.randint(80, 100)}%",
                   "%", f"{rng.randint(70, 100)}%"]
            for c, v in enumerate(row):
                ws.write_string(12 + r, c, v)
            if r % 2:  # an actual typed as a number in a cell formatted as %, as Excel shows 93%
                ws.write_number(12 + r, 6, rng.randint(70, 100) / 100, percent)
            ws.write_number(12 + r, 7, rng.choice((5, 10, 15)))
            ws.write_formula(12 + r, 8, f"=H{13 + r}*0.9")
            ws.write_string(12 + r, 9, TEXT[: rng.randint(20, 60)])
            ws.write_string(12 + r, 10, TEXT * rng.randint(0, 2))
            ws.write_string(12 + r, 11, "")
        wb.define_name(f"'{name}'!pt_indicators", f"='{name}'!$A$13:$L${12 + rows}")
    wb.close()


def read_openpyxl(path: Path) -> int:
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    n = 0
    for ws in wb.worksheets:
        ws.reset_dimensions()
        for row in ws.iter_rows(max_row=LIMITS.max_rows, max_col=LIMITS.max_cols, values_only=True):
            n += sum(v is not None for v in row)
    wb.close()
    return n


def read_calamine(path: Path) -> int:
    wb = CalamineWorkbook.from_path(path)
    return sum(len(wb.get_sheet_by_name(name).to_python()) for name in wb.sheet_names)


def read_guarded(path: Path) -> int:
    book = load_raw(path, LIMITS, isolate=False)
    assert isinstance(book, RawWorkbook), book
    return sum(len(s.cells) for s in book.sheets)


def read_isolated(path: Path) -> int:
    book = load_raw(path, LIMITS)
    assert isinstance(book, RawWorkbook), book
    return sum(len(s.cells) for s in book.sheets)


def one_by_one(fn):
    """A method that reads the files one call at a time: (round wall time, each file's time)."""
    def run(paths: list[Path]) -> tuple[float, list[float]]:
        times = []
        start = time.perf_counter()
        for path in paths:
            t = time.perf_counter()
            fn(path)
            times.append(time.perf_counter() - t)
        return time.perf_counter() - start, times
    return run


def pool(jobs: int):
    """The whole batch through load_raw_many: (round wall time, no single-file times)."""
    def run(paths: list[Path]) -> tuple[float, list[float]]:
        start = time.perf_counter()
        results = list(load_raw_many(paths, LIMITS, jobs=jobs))
        elapsed = time.perf_counter() - start
        assert [p for p, _ in results] == paths and all(isinstance(r, RawWorkbook) for _, r in results)
        return elapsed, []
    return run


METHODS = {
    "a": ("openpyxl read-only, area", one_by_one(read_openpyxl)),
    "b": ("calamine, bare", one_by_one(read_calamine)),
    "c": ("guarded, in-process", one_by_one(read_guarded)),
    "d1": ("isolated pool, jobs=1", pool(1)),
    "d2": ("isolated pool, jobs=2", pool(2)),
    "e": ("load_raw(isolate=True) each", one_by_one(read_isolated)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]  # other processes on the machine skew every figure: say so
    with tempfile.TemporaryDirectory() as tmp:
        rng = random.Random(2024)
        paths = [Path(tmp) / f"dept{i:02d}.xlsx" for i in range(args.files)]
        for path in paths:
            make_workbook(path, rng)
        size = statistics.median(p.stat().st_size for p in paths)
        for _, run in METHODS.values():  # warm imports, caches and the page cache
            run(paths[:2])
        rounds: dict[str, list[float]] = {k: [] for k in METHODS}
        singles: dict[str, list[float]] = {k: [] for k in METHODS}
        for _ in range(args.rounds):
            for key, (_, run) in METHODS.items():
                elapsed, times = run(paths)
                rounds[key].append(elapsed / len(paths))
                singles[key] += times
    per_file = {k: statistics.median(v) * 1000 for k, v in rounds.items()}
    print(f"{args.files} workbooks (median {size / 1024:.0f} KiB), {args.rounds} rounds, {os.cpu_count()} CPUs, "
          f"load average {load_before:.2f} before; times in ms")
    print(f"  {'':4} {'':30} {'ms/file':>8} {'median':>8}")
    for key, (label, _) in METHODS.items():
        median = f"{statistics.median(singles[key]) * 1000:8.2f}" if singles[key] else f"{'-':>8}"
        print(f"  ({key:2}) {label:30} {per_file[key]:8.2f} {median}")
    ratios = [("c", "a"), ("c", "b"), ("d1", "a"), ("d2", "a"), ("d1", "c"), ("d2", "c")]
    print("  ratios of ms/file: " + "   ".join(f"({x})/({y}) {per_file[x] / per_file[y]:.2f}" for x, y in ratios))
    print(f"  isolation costs {per_file['d1'] - per_file['c']:.2f} ms/file over in-process (jobs=1)")


if __name__ == "__main__":
    main()
