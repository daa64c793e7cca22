"""The round's stages on stderr (a live line on a terminal, plain lines in a log, nothing with --quiet),
their times, and a round whose results do not depend on how many workers made them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from builders import clean_submission, faulty_submission, warned_submission, write_workbook
from click.testing import CliRunner
from test_markup_patch import picture

from perf_toolkit.cli import cli
from perf_toolkit.config import Campaign
from perf_toolkit.profile import load_profile
from perf_toolkit.progress import Progress, StreamProgress
from perf_toolkit.run import MARKUP_DIR, REPORTS_DIR, run_round

STAGES = ["收取", "审核", "审核结果", "报告", "汇总", "审核意见", "反馈邮件"]


def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "收件箱"
    folder.mkdir()
    for name, data in (("甲.xlsx", clean_submission()), ("乙.xlsx", warned_submission()),
                       ("丙.xlsx", faulty_submission())):
        write_workbook(folder, name, data)
    return folder


def test_run_shows_each_stage_on_stderr_and_nothing_with_quiet(tmp_path):
    folder = inbox(tmp_path)
    shown = CliRunner().invoke(cli, ["run", str(folder), "-o", str(tmp_path / "out"), "--no-history"])
    assert shown.exit_code == 0, shown.output
    for stage in STAGES:
        assert f"[{stage}] 完成" in shown.stderr
    assert "用时合计" in shown.stderr and "\r" not in shown.stderr  # not a terminal: plain lines
    assert "[审核]" not in shown.stdout and "■ 审核" in shown.stdout
    quiet = CliRunner().invoke(cli, ["run", str(folder), "-o", str(tmp_path / "out2"), "--no-history", "-q"])
    assert quiet.exit_code == 0 and "完成" not in quiet.stderr and "用时" not in quiet.stderr
    assert quiet.stdout.replace(str(tmp_path / "out2"), "OUT") == shown.stdout.replace(str(tmp_path / "out"), "OUT")


def test_live_line_counts_items_and_estimates_the_time_left():
    stream = io.StringIO()
    progress = StreamProgress(stream, live=True, every=0)
    with progress.stage("报告", 4):
        progress.advance()
        progress.advance()
    text = stream.getvalue()
    assert "\r\x1b[2K[报告] 2/4" in text and "项/秒" in text and "预计还需" in text
    assert text.endswith("[报告] 完成 4 项，用时 0.0 秒\n") or "[报告] 完成 2 项" in text
    assert [s.name for s in progress.stages] == ["报告"] and progress.stages[0].items == 2


def test_round_stages_are_timed_and_results_are_the_same_with_one_or_two_workers(tmp_path):
    folder = inbox(tmp_path)
    outputs = {}
    for jobs in (1, 2):
        progress = Progress()
        out = tmp_path / f"j{jobs}"
        result = run_round([folder], Campaign(output_dir=out), load_profile(), out, jobs=jobs, history=False,
                           progress=progress)
        assert [s.name for s in progress.stages] == STAGES and all(s.seconds >= 0 for s in progress.stages)
        assert progress.stages[1].items == 3 and progress.stages[3].items == len(result.reports)
        outputs[jobs] = out
    reports = sorted(p.name for p in (outputs[1] / REPORTS_DIR).iterdir())
    assert reports == sorted(p.name for p in (outputs[2] / REPORTS_DIR).iterdir()) and reports
    for name in reports:  # Word documents: byte for byte
        assert (outputs[1] / REPORTS_DIR / name).read_bytes() == (outputs[2] / REPORTS_DIR / name).read_bytes()
    markups = sorted(p.name for p in (outputs[1] / MARKUP_DIR).iterdir())
    assert markups == sorted(p.name for p in (outputs[2] / MARKUP_DIR).iterdir()) and len(markups) == 2
    for name in markups:  # workbooks carry the time they were written: the same picture, the same parts
        one, two = outputs[1] / MARKUP_DIR / name, outputs[2] / MARKUP_DIR / name
        assert picture(one) == picture(two)
        with zipfile.ZipFile(one) as a, zipfile.ZipFile(two) as b:
            assert a.namelist() == b.namelist()
            assert all(a.read(n) == b.read(n) for n in a.namelist() if not n.startswith("docProps/"))
