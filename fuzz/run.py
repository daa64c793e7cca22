"""`make fuzz`: every atheris target for a bounded time, seeded from the hostile corpus and the example inbox.

    python fuzz/run.py --seconds 60 [--work output/fuzz] [--only xlsx json eml mbox zip]

Seeds are built once into WORK/seeds/<format>/ (tests/hostile/corpus.py's cases and examples/inbox, files up
to 256 KB); what libFuzzer learns stays in WORK/corpus/<format>/ for the next run; a crashing input is
saved as WORK/crashes/<format>-crash-… (turn it into a case in tests/hostile/corpus.py, then fix it).
Prints, per target, the inputs run, the time and whether it crashed; exits 1 if any target crashed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
#: format -> (script, the suffixes of seed files)
TARGETS = {
    "xlsx": ("fuzz_reader.py", (".xlsx", ".xlsm", ".xls")),
    "json": ("fuzz_reader.py", (".json",)),
    "eml": ("fuzz_mail.py", (".eml",)),
    "mbox": ("fuzz_mail.py", (".mbox",)),
    "zip": ("fuzz_mail.py", (".zip",)),
}
MAX_SEED_BYTES = 256 * 2**10


def build_seeds(folder: Path) -> None:
    """Regular files of the hostile corpus and the example inbox, sorted by format into folder/<format>/."""
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]
    from hostile.corpus import build

    with tempfile.TemporaryDirectory() as tmp:
        inbox, json_dir, _ = build(Path(tmp) / "corpus")
        sources = [*inbox.rglob("*"), *json_dir.rglob("*"), *(ROOT / "examples" / "inbox").rglob("*")]
        for fmt in TARGETS:
            (folder / fmt).mkdir(parents=True, exist_ok=True)
        for n, path in enumerate(sorted(sources)):
            st = os.lstat(path)
            fmt = next((f for f, (_, s) in TARGETS.items() if path.suffix.lower() in s), None)
            if fmt and stat.S_ISREG(st.st_mode) and 0 < st.st_size <= MAX_SEED_BYTES:
                shutil.copyfile(path, folder / fmt / f"seed{n:03d}{path.suffix.lower()}")


def run_target(fmt: str, seconds: int, work: Path) -> tuple[int, bool, float, str]:
    """(inputs run, crashed, seconds taken, the crash's last lines) of one target."""
    script, _ = TARGETS[fmt]
    corpus = work / "corpus" / fmt
    corpus.mkdir(parents=True, exist_ok=True)
    (work / "crashes").mkdir(exist_ok=True)
    args = [sys.executable, str(HERE / script), fmt, f"-max_total_time={seconds}", "-timeout=30",
            "-rss_limit_mb=3072", "-max_len=262144", "-print_final_stats=1",
            f"-artifact_prefix={work / 'crashes'}/{fmt}-", str(corpus), str(work / "seeds" / fmt)]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="perf-toolkit-fuzz-",
                                     dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as scratch:
        done = subprocess.run(args, capture_output=True, text=True, errors="replace",
                              env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]),
                                   "PERF_TOOLKIT_FUZZ_SCRATCH": scratch})
    taken = time.monotonic() - started
    (work / f"{fmt}.log").write_text(done.stderr + done.stdout, encoding="utf-8")
    runs = re.findall(r"stat::number_of_executed_units: (\d+)", done.stderr)
    if not runs:  # a crash ends before the final stats: the last progress line says how far it got
        runs = re.findall(r"^#(\d+)\s", done.stderr, re.M)
    crashed = done.returncode != 0
    tail = "\n".join(done.stderr.strip().splitlines()[-25:]) if crashed else ""
    return int(runs[-1]) if runs else 0, crashed, taken, tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="per target")
    parser.add_argument("--work", type=Path, default=ROOT / "output" / "fuzz")
    parser.add_argument("--only", nargs="*", choices=list(TARGETS), default=list(TARGETS))
    options = parser.parse_args()
    work = options.work.resolve()
    if not (work / "seeds").is_dir():
        build_seeds(work / "seeds")
    failed = False
    for fmt in options.only:
        runs, crashed, taken, tail = run_target(fmt, options.seconds, work)
        print(f"{fmt:5} {runs:>9} inputs in {taken:6.0f} s  {'CRASH (see ' + str(work / (fmt + '.log')) + ')' if crashed else 'no crash'}")
        if crashed:
            print(tail)
        failed |= crashed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
