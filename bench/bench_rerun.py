"""An incremental re-run against a full run, on the inputs of bench_round.py (same seed, same N).

    python bench/bench_rerun.py --n 200 --scratch /tmp/rp [--jobs J]

Three `run_round`s into one output folder, each in a fresh process (as an operator runs them): the full
run, a re-run with nothing changed, and a re-run after one department sent a changed workbook. Prints
each run's total and its 报告 stage (projects rendered), and each re-run as a share of the full run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_round  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--scratch", type=Path, required=True)
    args = parser.parse_args()
    source = bench_round.generate(args.n, args.seed, args.scratch / f"inbox-{args.n}-{args.seed}")
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    with tempfile.TemporaryDirectory(dir=args.scratch) as tmp:
        inbox, out = Path(tmp) / "inbox", Path(tmp) / "out"
        inbox.mkdir()
        for path in source:
            shutil.copy2(path, inbox / path.name)
        runs = {}
        for label in ("full", "unchanged", "one changed"):
            if label == "one changed":  # department 0 sends a new version (another seed's values)
                from perf_toolkit.workbook.template import write_template

                (inbox / source[0].name).unlink()
                write_template(inbox / source[0].name, bench_round.department(0, args.seed + 1),
                               projects=bench_round.PROJECTS)
            cmd = [sys.executable, bench_round.__file__, "--part", "toolkit", "--inbox", str(inbox), "--out", str(out),
                   *jobs]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            runs[label] = json.loads(done.stdout.strip().splitlines()[-1])
    full = runs["full"]["seconds"]
    for label, result in runs.items():
        stages = {s["stage"]: s for s in result["stages"]}
        print(f"{label:<12} {result['seconds']:7.2f} s  ({result['seconds'] / full:6.1%} of the full run)  "
              f"报告 {stages['报告']['seconds']:6.2f} s, {stages['报告']['items']} projects rendered")
        print("             " + ", ".join(f"{s['stage']} {s['seconds']:.2f}" for s in result["stages"]))


if __name__ == "__main__":
    main()
