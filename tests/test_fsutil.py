"""atomic_write's leftovers: a killed writer's temporary file is removed by the next write into its folder;
a live writer's, a young one and any file not named as ours stay."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from perf_toolkit.fsutil import STALE_TEMP_SECONDS, TEMP_PREFIX, atomic_write, remove_stale_temps

ROOT = Path(__file__).resolve().parents[1]
#: A writer that opens its output, says so, and then waits inside atomic_write until it is killed.
WRITER = """
import sys, time
from perf_toolkit.fsutil import atomic_write
with atomic_write(sys.argv[1]) as fh:
    fh.write(b"half")
    print("writing", flush=True)
    time.sleep(600)
"""


def _writer(target: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline() == "writing\n"
    return proc


def _temps(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX))


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_killed_writers_temp_file_goes_with_the_next_write_there_a_live_writers_stays(tmp_path):
    killed_dir = tmp_path / "汇总"
    killed_dir.mkdir()
    killed = _writer(killed_dir / "汇总表.xlsx")
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    [leftover] = _temps(killed_dir)
    live = _writer(killed_dir / "另一个.xlsx")
    try:
        [live_temp] = [p for p in _temps(killed_dir) if p != leftover]
        foreign = [killed_dir / f"{TEMP_PREFIX}notours.tmp", killed_dir / "报告.docx.tmp",
                   killed_dir / f"x{TEMP_PREFIX}0123456789ab.tmp"]
        young = killed_dir / f"{TEMP_PREFIX}0123456789ab.tmp"
        for path in foreign:
            path.write_bytes(b"not ours")
        young.write_bytes(b"a moment old")
        for path in (leftover, live_temp, *foreign):
            _age(path, STALE_TEMP_SECONDS + 3600)
        subprocess.run([sys.executable, "-c", "import sys\nfrom perf_toolkit.fsutil import atomic_write\n"
                        "with atomic_write(sys.argv[1]) as fh: fh.write(b'ok')", str(killed_dir / "新.xlsx")],
                       check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert not leftover.exists()
        assert live_temp.exists() and young.exists() and all(p.exists() for p in foreign)
        assert (killed_dir / "新.xlsx").read_bytes() == b"ok"
    finally:
        live.kill()
        live.wait()


def test_a_temp_file_stays_locked_until_its_rename_and_the_write_commits(tmp_path):
    with atomic_write(tmp_path / "a.xlsx") as fh:
        fh.write(b"data")
        [temp] = _temps(tmp_path)
        _age(temp, STALE_TEMP_SECONDS + 3600)
        assert remove_stale_temps(tmp_path) == []  # our own write in progress is not a leftover
    assert (tmp_path / "a.xlsx").read_bytes() == b"data" and _temps(tmp_path) == []
