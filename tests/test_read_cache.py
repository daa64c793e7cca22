"""A re-run reads only the stored versions it has not read before (the `reads` table in round.sqlite);
an entry that is corrupt or tampered with is read again, never trusted."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path

import pytest
from builders import (
    broken_workbook,
    faulty_submission,
    round_inbox,
    write_workbook,
)

from perf_toolkit import run as run_module
from perf_toolkit.config import Campaign
from perf_toolkit.profile import load_profile
from perf_toolkit.run import run_round
from perf_toolkit.workbook import read as read_module


@pytest.fixture
def reads(monkeypatch) -> list[list[str]]:
    """The paths each call of the reader was given."""
    calls: list[list[str]] = []
    real = run_module.read_files

    def counting(paths, **kw):
        calls.append([Path(p).name for p in paths])
        return real(paths, **kw)

    monkeypatch.setattr(run_module, "read_files", counting)
    return calls


def round_once(folder: Path, out: Path) -> dict:
    return run_round([folder], Campaign(output_dir=out), load_profile(), out, history=False).evaluation.to_dict()


def entries(out: Path) -> list[tuple[str, str]]:
    return sorted(sqlite3.connect(out / "round.sqlite").execute("SELECT file, key FROM reads").fetchall())


def test_a_rerun_reads_nothing_again_and_a_changed_workbook_only_itself(tmp_path, reads):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    first = round_once(folder, out)
    assert [len(c) for c in reads] == [3] and len(entries(out)) == 3
    again = round_once(folder, out)
    assert len(reads) == 1 and again == first  # nothing read, the same evaluation
    write_workbook(folder, "丙.xlsx", faulty_submission(actual="85"))
    third = round_once(folder, out)
    assert [len(c) for c in reads] == [3, 1] and third != first
    assert len(entries(out)) == 3  # the superseded version's entry went
    assert round_once(folder, out) == third and len(reads) == 2


def test_a_rerun_does_not_look_into_stored_versions_it_read_before(tmp_path, monkeypatch):
    # a kept read says the file was a department's workbook: no need to open it again to see whether it
    # is one of the toolkit's own outputs (~1 ms a file on every re-run)
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    first = round_once(folder, out)
    looked: list[str] = []
    real = run_module.discover

    def recording(paths):
        looked.extend(Path(p).name for p in paths)
        return real(paths)

    monkeypatch.setattr(run_module, "discover", recording)
    assert round_once(folder, out) == first and looked == []
    write_workbook(folder, "丙.xlsx", faulty_submission(actual="85"))
    round_once(folder, out)
    assert len(looked) == 1  # the new version only (collect read it: run's check stage finds it in the memo)


def test_a_round_reads_each_new_workbook_once_for_collect_and_check(tmp_path, monkeypatch):
    """collect reads a new workbook to learn its department; the check stage reuses that read."""
    parsed: list[str] = []
    real = read_module.load_raw_many

    def counting(paths, *args, **kw):
        parsed.extend(Path(p).name for p in paths)
        return real(paths, *args, **kw)

    monkeypatch.setattr(read_module, "load_raw_many", counting)
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    broken_workbook(folder, "丁.xlsx")
    result = run_round([folder], Campaign(output_dir=out), load_profile(), out, history=False)
    assert sorted(parsed) == sorted(p.name for p in folder.iterdir())  # each once, the broken one too
    assert len(result.evaluation.files) == 4 and len(entries(out)) == 3
    assert [r.state for r in result.evaluation.files].count("rejected") == 1


def test_a_corrupt_entry_is_read_again(tmp_path, reads):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    first = round_once(folder, out)
    with sqlite3.connect(out / "round.sqlite") as db:
        db.execute("UPDATE reads SET data = ? WHERE rowid = (SELECT min(rowid) FROM reads)", (b"\x78\x9cnot zlib",))
    assert round_once(folder, out) == first and [len(c) for c in reads] == [3, 1]


def _pickled_call(module: str, name: str, argument: str) -> bytes:
    """A protocol-4 pickle that calls module.name(argument) when loaded (what a tampered entry would do)."""
    def text(s: str) -> bytes:
        data = s.encode()
        return b"\x8c" + bytes([len(data)]) + data

    return b"\x80\x04" + text(module) + text(name) + b"\x93" + text(argument) + b"\x85R."


def test_a_tampered_entry_runs_no_code_and_is_read_again(tmp_path, reads):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    first = round_once(folder, out)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    payloads = [_pickled_call("perf_toolkit.run", "os.remove", str(victim)),  # a dotted name to a function
                _pickled_call("os", "remove", str(victim))]  # a module outside the toolkit
    with sqlite3.connect(out / "round.sqlite") as db:
        files = [f for f, _ in entries(out)]
        for file, payload in zip(files, payloads, strict=False):
            db.execute("UPDATE reads SET data = ? WHERE file = ?", (zlib.compress(payload), file))
    assert round_once(folder, out) == first
    assert victim.read_text() == "keep me" and [len(c) for c in reads] == [3, 2]


def test_a_run_killed_while_reading_stores_no_entry_for_it(tmp_path, monkeypatch):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    round_once(folder, out)
    before = entries(out)
    write_workbook(folder, "丙.xlsx", faulty_submission(actual="85"))

    def killed(paths, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "read_files", killed)
    with pytest.raises(KeyboardInterrupt):
        round_once(folder, out)
    assert entries(out) == before  # nothing stored for the new version, nothing lost for the others
    monkeypatch.undo()
    round_once(folder, out)
    assert len(entries(out)) == 3 and entries(out) != before


def test_an_unreadable_file_is_tried_again_each_run(tmp_path, reads):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    broken_workbook(folder, "丁.xlsx")
    round_once(folder, out)
    assert [len(c) for c in reads] == [4] and len(entries(out)) == 3  # no entry vouches for a refusal
    round_once(folder, out)
    assert reads[1] == ["丁.xlsx"]
