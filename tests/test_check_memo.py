"""A re-run scores and checks only the stored versions it has not checked before (the `checked` table in
round.sqlite), gives exactly the evaluation a fresh run gives, and checks everything again when the
profile or the round's year changes; the assumption it rests on (scores and checks of one submission do
not depend on the others in the batch) is tested on the example inbox and the test builders' files."""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path

import pytest
from builders import (
    ROUND_DEPARTMENTS,
    faulty_submission,
    of_department,
    round_inbox,
    submission,
    write_workbook,
)

from perf_toolkit import run as run_module
from perf_toolkit.check import evaluate as evaluate_module
from perf_toolkit.check.evaluate import _scored_projects
from perf_toolkit.check.rules import check_submissions
from perf_toolkit.check.score import score_submissions
from perf_toolkit.config import Campaign
from perf_toolkit.profile import load_profile
from perf_toolkit.run import run_round
from perf_toolkit.workbook.read import read_workbooks

EXAMPLE_SOURCES = Path(__file__).resolve().parent.parent / "examples" / "sources"


@pytest.fixture
def scored(monkeypatch) -> list[int]:
    """How many submissions each scoring call was given."""
    calls: list[int] = []
    real = evaluate_module.score_submissions

    def counting(items, profile):
        calls.append(len(items))
        return real(items, profile)

    monkeypatch.setattr(evaluate_module, "score_submissions", counting)
    return calls


def round_once(folder: Path, out: Path, **campaign) -> dict:
    return run_round([folder], Campaign(output_dir=out, **campaign), load_profile(), out,
                     history=False).evaluation.to_dict()


@pytest.mark.parametrize("stored_at_once", [run_module.STORED_AT_ONCE, 1])  # 1: stored while checking
def test_a_rerun_checks_only_what_changed_and_says_the_same(tmp_path, scored, monkeypatch, stored_at_once):
    monkeypatch.setattr(run_module, "STORED_AT_ONCE", stored_at_once)
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    first = round_once(folder, out)
    assert scored == [3]
    assert round_once(folder, out) == first and scored == [3]  # nothing scored again
    write_workbook(folder, "丙.xlsx", faulty_submission(actual="85"))
    third = round_once(folder, out)
    assert scored == [3, 1] and third != first
    fresh = round_once(folder, tmp_path / "fresh")  # the same inputs in a new folder: nothing kept
    assert scored[-1] == 3
    assert _without_paths(third, out) == _without_paths(fresh, tmp_path / "fresh")
    rows = sqlite3.connect(out / "round.sqlite").execute("SELECT count(*) FROM checked").fetchone()[0]
    assert rows == 3  # the superseded version's row went


def test_a_changed_profile_or_year_checks_everything_again(tmp_path, scored):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    round_once(folder, out)
    run_round([folder], Campaign(output_dir=out), load_profile("twenty-eighty"), out, history=False)
    round_once(folder, out, year=2023)
    assert scored == [3, 3, 3]


def test_a_corrupt_or_foreign_entry_is_checked_again(tmp_path, scored):
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    first = round_once(folder, out)
    with sqlite3.connect(out / "round.sqlite") as db:
        files = [f for (f,) in db.execute("SELECT file FROM checked ORDER BY file")]
        db.execute("UPDATE checked SET data = ? WHERE file = ?", (b"not zlib", files[0]))
        db.execute("UPDATE checked SET data = ? WHERE file = ?", (zlib.compress(b"\x80\x04K\x05."), files[1]))
    assert round_once(folder, out) == first and scored == [3, 2]


def test_one_submission_scores_and_checks_alike_alone_and_in_a_batch(tmp_path):
    batch = {name: make() for name, make in ROUND_DEPARTMENTS.items()}
    batch.update({source.stem + ".xlsx": json.loads(source.read_text(encoding="utf-8"))
                  for source in EXAMPLE_SOURCES.glob("*.json")})
    batch["往年.xlsx"] = of_department(submission(year=2022), "DC-MZJ", "昆明市东川区民政局")
    batch["单位不明.xlsx"] = faulty_submission(code="", actual="约80万元")
    for name, data in batch.items():
        write_workbook(tmp_path, name, data)
    reads, _ = read_workbooks([tmp_path], jobs=1)
    items = [r.sourced for r in reads if r.sourced is not None]
    assert len(items) == len(batch)
    profile = load_profile()

    def evaluated(batch):
        scores = score_submissions(batch, profile)
        return check_submissions(batch, scores, profile, 2023), _scored_projects(batch, scores, profile)

    together = evaluated(items)
    assert sum(map(len, together[0])) > 10  # findings to compare
    for k, item in enumerate(items):
        alone = evaluated([item])
        assert (alone[0][0], alone[1][0]) == (together[0][k], together[1][k]), item.file


def _without_paths(report: dict, out: Path) -> list[str]:
    """Each file's part of the check report, its folder left out, in file order (the store lists a
    version mailed later last; a fresh folder lists them as found)."""
    return sorted(json.dumps(f, ensure_ascii=False, sort_keys=True).replace(str(out), "OUT") for f in report["files"])


def test_a_large_batch_is_scored_in_chunks_with_the_same_results(tmp_path, scored, monkeypatch):
    # scoring frames grow with the batch (~1 GB for 10,000 departments at once): scored a chunk at a time,
    # the evaluation is the one a single batch gives
    folder, out = round_inbox(tmp_path), tmp_path / "out"
    whole = round_once(folder, out)
    monkeypatch.setattr(evaluate_module, "CHECK_CHUNK", 2)
    chunked = round_once(folder, tmp_path / "again")
    assert scored == [3, 2, 1]
    assert json.dumps(chunked, default=str).replace("again", "out") == json.dumps(whole, default=str)


def test_scores_kept_by_the_memo_come_back_equal_with_their_recurring_values_shared(tmp_path):
    # every department's scores are held to the end of a round: a weight, a score or a rate that recurs is
    # one float, an empty set of amounts one set, whether just scored or unpickled from the check memo
    import copy
    import math
    import pickle

    from perf_toolkit.model import NO_AMOUNTS, shared_number
    from perf_toolkit.run import _unpickled

    folder = tmp_path / "in"
    folder.mkdir()
    write_workbook(folder, "甲.xlsx", submission())
    write_workbook(folder, "乙.xlsx", of_department(submission(), "X02", "乙单位"))
    reads, _ = read_workbooks([folder], jobs=1)
    items = [r.sourced for r in reads]
    a, b = (projects[0] for projects in _scored_projects(items, score_submissions(items, load_profile()),
                                                          load_profile()))
    assert a.indicators[0].weight is b.indicators[0].weight and a.unknown_amounts is NO_AMOUNTS
    kept = _unpickled(zlib.compress(pickle.dumps([a, b])))  # as the round's check memo keeps them
    assert kept == [a, b] and copy.deepcopy(a) == a
    assert kept[0].indicators[0].weight is a.indicators[0].weight and kept[1].unreadable_amounts is NO_AMOUNTS
    assert kept[0].level1_scores == a.level1_scores and kept[0].total == a.total
    assert math.copysign(1.0, shared_number(-0.0)) == -1.0 and shared_number(0.0) is shared_number(0.0)
    assert math.isnan(shared_number(math.nan)) and shared_number(1) == 1 and type(shared_number(1)) is int
