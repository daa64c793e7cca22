"""How much the guarded read costs against the bare readers, on realistic workbooks.

Run: python bench/bench_read.py [--files 50] [--rounds 5]

Generates department-like workbooks (4 project sheets, ~30 indicator rows x 12
columns, long Chinese texts, formulas, defined names; written by xlsxwriter so
strings are shared as in Excel-saved files) in a temp dir, then times per file:
  (a) openpyxl read-only, full read of the area
  (b) bare python-calamine, every sheet to_python()
  (c) guard.load_raw(isolate=False): sniff + container check + scan + calamine
  (d) guard.load_raw_many: one forked, rlimited child per file (jobs=1 and jobs=cpu_count)
Per-file medians over all files and rounds; (d) is a batch's wall time / files.
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

from perf_toolkit.guard import Limits, RawWorkbook, load_raw, load_raw_many  # noqa: E402

LIMITS = Limits()
TEXT = ("本项目围绕退役军人服务保障体系建设，完成了区、街道、社区三级服务站点标准化改造，"
        "开展政策宣传、走访慰问、就业创业培训等工作，服务对象满意度稳步提升。")
LEVELS = [("产出指标", "数量指标"), ("产出指标", "质量指标"), ("产出指标", "时效指标"), ("产出指标", "成本指标"),
          ("效益指标", "社会效益指标"), ("效益指标", "可持续影响指标"), ("满意度指标", "服务对象满意度指标")]


def make_workbook(path: Path, rng: random.Random) -> None:
    """One department's file: 4 project sheets with a header block, a funds block and ~30 indicators."""
    wb = xlsxwriter.Workbook(path, {"strings_to_formulas": False, "strings_to_urls": False})
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
        ws.write_formula(9, 3, "=IF(C10=0,0,D10/C10)")
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


def per_file(fn, paths: list[Path]) -> list[float]:
    times = []
    for path in paths:
        t = time.perf_counter()
        fn(path)
        times.append(time.perf_counter() - t)
    return times


def batch(paths: list[Path], jobs: int) -> float:
    t = time.perf_counter()
    results = list(load_raw_many(paths, LIMITS, jobs=jobs))
    elapsed = time.perf_counter() - t
    assert all(isinstance(r, RawWorkbook) for _, r in results)
    return elapsed / len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        rng = random.Random(2024)
        paths = [Path(tmp) / f"dept{i:02d}.xlsx" for i in range(args.files)]
        for path in paths:
            make_workbook(path, rng)
        size = statistics.median(p.stat().st_size for p in paths)
        timings: dict[str, list[float]] = {k: [] for k in ("a", "b", "c", "d1", "dN")}
        for fn in (read_openpyxl, read_calamine, read_guarded):  # warm imports and caches
            fn(paths[0])
        batch(paths[:2], 1)
        for _ in range(args.rounds):
            timings["a"] += per_file(read_openpyxl, paths)
            timings["b"] += per_file(read_calamine, paths)
            timings["c"] += per_file(read_guarded, paths)
            timings["d1"].append(batch(paths, 1))
            timings["dN"].append(batch(paths, cpus))
    med = {k: statistics.median(v) * 1000 for k, v in timings.items()}
    print(f"{args.files} workbooks (median {size / 1024:.0f} KiB), {args.rounds} rounds, {cpus} CPUs; "
          "per-file medians in ms")
    rows = [("a", "openpyxl read-only, area"), ("b", "calamine, bare"), ("c", "load_raw(isolate=False)"),
            ("d1", "load_raw_many, jobs=1"), ("dN", f"load_raw_many, jobs={cpus}")]
    for key, label in rows:
        print(f"  ({key:2}) {label:28} {med[key]:8.2f}")
    print(f"  ratios: (c)/(a) {med['c'] / med['a']:.2f}   (c)/(b) {med['c'] / med['b']:.2f}   "
          f"(d1)/(a) {med['d1'] / med['a']:.2f}   (dN)/(a) {med['dN'] / med['a']:.2f}")


if __name__ == "__main__":
    main()
