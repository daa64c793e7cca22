"""atomic_write's leftovers: a killed writer's temporary file is removed by the next write into its folder;
a live writer's, a young one and any file not named as ours stay. read_bounded: the file, never more than its
cap, and never the cap's worth of memory for a small file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from perf_toolkit.fsutil import (
    STALE_TEMP_SECONDS,
    TEMP_PREFIX,
    atomic_write,
    read_bounded,
    remove_stale_temps,
)

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


def test_read_bounded_takes_the_files_size_in_memory_not_the_cap(tmp_path):
    """The inbox reads each file under a 1 GB cap: asked for the cap, read() allocated it for every file
    (untouched pages on Linux, a 1 GB commit on Windows that may fail)."""
    path = tmp_path / "填报表.xlsx"
    data = os.urandom(200_000)
    path.write_bytes(data)
    tracemalloc.start()
    try:
        assert read_bounded(path, 2**30) == data
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * len(data)


def test_read_bounded_refuses_a_file_over_its_cap_and_takes_one_at_it(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 1000)
    assert read_bounded(path, 1000) == b"x" * 1000
    with pytest.raises(OSError) as refused:
        read_bounded(path, 999)
    assert "上限" in str(refused.value)


@pytest.mark.parametrize("cap, whole", [(4 * 2**20, True), (2 * 2**20, False)])
def test_read_bounded_reads_on_when_the_file_grew_after_it_was_measured(tmp_path, monkeypatch, cap, whole):
    """fstat said 10 bytes, the file holds 3 MB (a mail client still writing it): all of it, or refused
    over the cap, never the first 10 bytes as if they were the file."""
    path = tmp_path / "growing.eml"
    data = os.urandom(3 * 2**20)
    path.write_bytes(data)
    real = os.fstat

    def measured_early(fd):
        info = real(fd)
        return os.stat_result((info.st_mode, *info[1:6], 10, *info[7:]))

    monkeypatch.setattr(os, "fstat", measured_early)
    if whole:
        assert read_bounded(path, cap) == data
    else:
        with pytest.raises(OSError):
            read_bounded(path, cap)
