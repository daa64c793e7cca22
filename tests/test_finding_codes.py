"""Every finding code, produced from a real workbook file and found where the clerk will look.

Each case writes one file (named after its code) the way a department would return it: the
standard workbook from `write_template`, edited with openpyxl where a clerk would type over
it, or a file that is no workbook at all. A batch of cases is written into one folder and
read, scored and checked by ONE `evaluate_paths` call; each case then asserts its code, the
severity the README's table gives it, the sheet and A1 cell the reader reports (and that the
written file holds the offending value there), and a Chinese message naming the value.

Batches (one fixture each): `national` (the default profile, no round year); `sichuan_2023`
(the sichuan profile and the round's year 2023: `execution-note-too-long`, `year-mismatch`);
`rostered` (a roster of departments: `department-unknown`, `superseded`); `mailed` (a roster with
mail addresses and the address each file was mailed from: `sender-mismatch`).
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from builders import ROOT, funds, indicator, saved_formula, standard_indicators, submission, text_cell
from openpyxl import Workbook, load_workbook

from perf_toolkit.check.evaluate import evaluate_paths
from perf_toolkit.config import RosterEntry
from perf_toolkit.findings import CATALOGUE
from perf_toolkit.model import Finding, submission_from_dict
from perf_toolkit.profile import load_profile
from perf_toolkit.workbook.budget import BudgetLine
from perf_toolkit.workbook.template import write_template

ROUND_YEAR = 2023
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: The README's 审核代码 table: code -> 错误 | 警告.
README_SEVERITY = dict(re.findall(r"^\| `([a-z-]+)` \| (错误|警告) \|", README, flags=re.M))
SEVERITY = {"错误": "error", "警告": "warning"}
CHINESE = re.compile(r"[\u4e00-\u9fff]")

# The example department (tests/builders.py) and the cells of the standard workbook it is written to.
DEPT_CODE, PROJECT_CODE = "DC-TYJRSWJ", "530113-2023-001"
DEPT, GUIDE, P1, P2 = "单位信息", "填报说明", "项目1", "项目2"
# 项目1: D3 项目编码, row 9 年度资金总额 (E9 全年预算数, J9 得分), row 10 当年财政拨款 (D/E/F: 年初 · 全年预算 · 执行),
# D13 预算调整及执行情况说明, D14 预期目标, D15 实际完成情况, first indicator on row 18 (A 一级 … G 实际完成值, I 自评得分,
# K 偏差原因), H39 总分 and D40 偏离绩效目标的原因分析 (15 indicator rows); 单位信息: B2 评价年度, B3 单位编码.

Build = Callable[[Path], None]


# ------------------------------------------------------------------ ways of writing a case file


def _write(path: Path, data: dict, **kw) -> None:
    write_template(path, submission_from_dict(copy.deepcopy(data)), **kw)


def filled(data: dict) -> Build:
    """The standard workbook filled with `data` (a submission dict)."""
    return lambda path: _write(path, data)


def typed(sheet: str, cell: str, value: Any, data: dict | None = None) -> Build:
    """The standard workbook (of `data`, else a valid submission), then `value` typed into `cell`."""

    def build(path: Path) -> None:
        _write(path, data or submission())
        wb = load_workbook(path)
        wb[sheet][cell] = value
        wb.save(path)

    return build


def formula(sheet: str, cell: str, text: str, result: Any) -> Build:
    """A valid standard workbook with a formula in `cell`, saved with its result as Excel saves it."""

    def build(path: Path) -> None:
        _write(path, submission())
        saved_formula(path, sheet, cell, text, result)

    return build


def long_text(sheet: str, cell: str, text: str) -> Build:
    """A valid standard workbook whose `cell` holds `text` beyond Excel's 32,767 characters."""

    def build(path: Path) -> None:
        _write(path, submission())
        text_cell(path, sheet, cell, text)

    return build


LONG_GOAL = "全年完成配套经费拨付" * 4000  # 40,000 characters


def first(**changes) -> dict:
    """A valid submission whose first indicator (row 18 of 项目1) has `changes`."""
    return submission(standard_indicators(**changes))


def all_claimed() -> dict:
    """A valid submission whose every indicator claims its full weight (总分 100)."""
    return submission([dict(i, claimed_score=i["weight"]) for i in standard_indicators()])


def truncated(path: Path) -> None:
    """A workbook cut off half-way, as a broken download or e-mail attachment leaves it."""
    _write(path, submission())
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])


def hand_made(path: Path) -> None:
    """A workbook of the department's own making: a list of projects, not the standard form."""
    wb = Workbook()
    wb.active.title = "项目清单"
    wb.active.append(["项目名称", "金额（万元）", "完成情况"])
    wb.active.append(["退役士兵社会保险配套经费", 2.94, "已完成"])
    wb.save(path)


def prefill_changed(path: Path) -> None:
    """A workbook the bureau pre-filled (全年预算数 100, locked) whose department typed 150 over it."""
    line = BudgetLine(DEPT_CODE, PROJECT_CODE, "退役士兵社会保险配套经费", "当年财政拨款", 100, 100, 100)
    write_template(path, submission_from_dict(submission()), prefill=[line])
    wb = load_workbook(path)
    wb[P1]["E10"] = 150
    wb.save(path)


def duplicated_project() -> dict:
    data = submission()
    data["projects"].append(dict(copy.deepcopy(data["projects"][0]), name="第二个项目"))
    return data


def other_department(code: str, name: str) -> dict:
    data = submission()
    data["department"].update(code=code, name=name)
    return data


def _set_mtime(path: Path, when: dt.datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


OLDER, NEWER = dt.datetime(2024, 5, 1, 9, 30), dt.datetime(2024, 5, 8, 16, 0)


def resubmitted(path: Path) -> None:
    """The department's first file (modified 2024-05-01) and, beside it, its corrected one (2024-05-08)."""
    _write(path, submission())
    newer = path.with_name("superseded-newer.xlsx")
    _write(newer, submission(budget_note="已更正。"))
    _set_mtime(path, OLDER)
    _set_mtime(newer, NEWER)


LONG_NOTE = "受项目实施进度影响，部分工程款未能在年内完成结算支付，剩余资金已按规定结转下年度继续使用。" * 3
SAVINGS_NOTE = "部分采购合同结余，已按规定收回。"


# ------------------------------------------------------------------ the cases


class Case(NamedTuple):
    code: str
    build: Build
    sheet: str | None  # where the clerk finds it (None: the file as a whole)
    cell: str | None
    shows: Any = None  # what the written workbook holds at `cell` (the offending value; None: empty)
    says: tuple[str, ...] = ()  # what the message must name (the value, the computed figure)
    batch: str = "national"


CASES = [
    # the file as a whole
    Case("file-unreadable", truncated, None, None, says=("已损坏",)),
    Case("template-unrecognised", hand_made, None, None, says=("单位信息",)),
    Case("template-version-unknown", typed(GUIDE, "B20", "perf-toolkit/workbook/v0"), GUIDE, "B20",
         "perf-toolkit/workbook/v0", ("perf-toolkit/workbook/v0", "perf-toolkit/workbook/v1")),
    Case("data-outside-area", typed(P1, "AP5", "补充说明见附件"), P1, "AP5", "补充说明见附件", ("1个", "AP5")),
    Case("text-too-long", long_text(P1, "D14", LONG_GOAL), P1, "D14", LONG_GOAL, ("D14", "40000", "32767")),
    # values
    Case("value-unreadable", typed(P1, "G18", "=95%+5%"), P1, "G18", "=95%+5%", ("实际完成值", "公式", "待核实")),
    Case("value-formula", formula(P1, "F10", "E10*0.95", 95), P1, "F10", "=E10*0.95", ("全年执行数", "95")),
    Case("year-mismatch", filled(submission(year=2022)), DEPT, "B2", 2022, ("2022", "2023"),
         batch="sichuan_2023"),
    Case("required-value", filled(other_department("", "昆明市东川区退役军人事务局")), DEPT, "B3", None, ("单位编码",)),
    Case("project-code-duplicated", filled(duplicated_project()), P2, "D3", PROJECT_CODE,
         (PROJECT_CODE, "项目1D3")),
    Case("budget-prefill-changed", prefill_changed, P1, "E10", 150, ("全年预算数", "100", "150")),
    # money
    Case("budget-missing", filled(submission(fund_rows=funds(0, 0, 5))), P1, "E10", 0, ("5 万元",)),
    Case("budget-total-mismatch", typed(P1, "E9", 99), P1, "E9", 99, ("全年预算数", "99", "100")),
    Case("execution-over-budget", filled(submission(fund_rows=funds(100, 100, 120))), P1, "F10", 120,
         ("120", "100", "120.00%")),
    Case("execution-low-unexplained", filled(submission(fund_rows=funds(100, 100, 80))), P1, "D13", None,
         ("80.00%", "90.00%")),
    Case("execution-note-too-long", filled(submission(fund_rows=funds(100, 100, 80), budget_note=LONG_NOTE)),
         P1, "D13", LONG_NOTE, ("90.00%", "100字", f"{len(LONG_NOTE)}字"), batch="sichuan_2023"),
    Case("budget-adjusted-unexplained", filled(submission(fund_rows=funds(100, 70, 70))), P1, "D13", None,
         ("70", "100", "30.00%", "20.00%")),
    Case("execution-score-mismatch",
         typed(P1, "J9", 9, submission(fund_rows=funds(100, 100, 86.2), budget_note=SAVINGS_NOTE)),
         P1, "J9", 9, ("9", "8.62", "86.20%")),
    # weights and taxonomy
    Case("weight-sum-mismatch", filled(first(weight=15)), P1, "H18", 15, ("85", "95")),
    Case("weight-nonstandard",
         filled(submission([indicator("数", weight=60), indicator("效", "效益指标", "社会效益指标", weight=20),
                            indicator("满", "满意度指标", "服务对象满意度指标", weight=10)])),
         P1, "H18", 60, ("产出指标60分", "产出指标50分")),
    Case("indicator-taxonomy", filled(first(level1="其他指标")), P1, "A18", "其他指标", ("其他指标",)),
    # indicator values
    Case("indicator-direction-missing", filled(first(direction="")), P1, "D18", None, ("≥",)),
    Case("indicator-direction-conflict", filled(first(direction="≤", target="≥100")), P1, "D18", "≤",
         ("≤", "≥100")),
    Case("indicator-unparseable", filled(first(target="按时完成")), P1, "E18", "按时完成",
         ("年度指标值", "按时完成")),
    Case("indicator-unit-mismatch", filled(first(target="100人", actual="100次")), P1, "G18", "100次",
         ("“人”", "“次”")),
    Case("indicator-unit-assumed", filled(first(direction="≤", target="≤90万元", actual="95", deviation_note="涨价")),
         P1, "G18", "95", ("“95”", "“万元”")),
    Case("indicator-kind-mismatch", filled(first(target="100%", unit="%", actual="已完成")), P1, "G18", "已完成",
         ("100%", "已完成")),
    Case("indicator-percent-ambiguous", filled(first(target="95%", unit="%", actual="0.96")), P1, "G18",
         "0.96", ("0.96", "96%")),
    Case("indicator-not-equal", filled(first(direction="=", target="12", actual="14")), P1, "G18", "14",
         ("14", "12")),
    Case("indicator-negative-actual", filled(first(actual="-3", deviation_note="退款冲减")), P1, "G18", "-3",
         ("-3",)),
    Case("indicator-unmet-unexplained", filled(first(actual="80")), P1, "K18", None, ("80", "16/20")),
    Case("indicator-overachieved-unexplained", filled(first(actual="140")), P1, "K18", None,
         ("140.00%", "130.00%")),
    Case("execution-indicator-duplicated", filled(first(name="预算执行率")), P1, "C18", "预算执行率",
         ("预算执行率", "10 分")),
    # claimed scores
    Case("score-exceeds-weight", filled(first(claimed_score=25)), P1, "I18", 25, ("25", "20")),
    Case("score-mismatch", filled(first(actual="80", claimed_score=18, deviation_note="部分对象未按期完成")),
         P1, "I18", 18, ("18", "16")),
    Case("score-full-but-unmet", filled(first(actual="80", claimed_score=20, deviation_note="部分对象未按期完成")),
         P1, "I18", 20, ("20", "16")),
    Case("score-deducted-unexplained", filled(first(claimed_score=18)), P1, "I18", 18, ("18", "20")),
    Case("qualitative-out-of-band",
         filled(first(direction="定性", target="按时完成", actual="基本完成", claimed_score=20, deviation_note="略有延误")),
         P1, "I18", 20, ("基本完成", "部分达成", "12–16", "20")),
    Case("qualitative-unrecognised", filled(first(direction="定性", target="按时完成", actual="有所改善",
                                                  claimed_score=15)), P1, "G18", "有所改善", ("有所改善", "15")),
    Case("qualitative-score-missing", filled(first(direction="定性", target="按时完成", actual="已按时完成")),
         P1, "I18", None, ("达成", "20")),
    Case("total-mismatch", typed(P1, "H39", 95, all_claimed()), P1, "H39", 95, ("95", "100")),
    # narrative
    Case("placeholder-text", filled(submission(goal="……")), P1, "D14", "……", ("预期目标", "……")),
    Case("narrative-contradiction",
         filled(submission(standard_indicators(actual="80", deviation_note="部分对象未按期完成"),
                           deviation_reason="本项目未偏离绩效目标。")),
         P1, "D40", "本项目未偏离绩效目标。", ("未偏离", "“数量”")),
    Case("achievement-term-mismatch",
         filled(submission(achievement="2023年共完成5名符合条件退役士兵医疗保险补缴，共计费用2.94万元。")),
         P1, "D15", "2023年共完成5名符合条件退役士兵医疗保险补缴，共计费用2.94万元。", ("医疗保险", "养老保险")),
    # the roster of the round (evaluate_paths(..., roster=...))
    Case("department-unknown", filled(other_department("DC-UNKNOWN", "昆明市东川区某某局")), DEPT, "B3",
         "DC-UNKNOWN", ("DC-UNKNOWN", "昆明市东川区某某局"), batch="rostered"),
    Case("superseded", resubmitted, DEPT, "B3", DEPT_CODE, ("superseded-newer.xlsx", "修改时间 2024-05-01"),
         batch="rostered"),
    # the mail it came in (evaluate_paths(..., senders=...)): sent from another department's address
    Case("sender-mismatch", filled(submission()), DEPT, "B3", DEPT_CODE,
         ("JYTYJ@example.gov.cn", "昆明市东川区教育体育局", "DC-JYTYJ", DEPT_CODE), batch="mailed"),
]

ROSTER = (RosterEntry(DEPT_CODE, "昆明市东川区退役军人事务局"),)
MAIL_ROSTER = (RosterEntry(DEPT_CODE, "昆明市东川区退役军人事务局", email="tyjrswj@example.gov.cn"),
               RosterEntry("DC-JYTYJ", "昆明市东川区教育体育局", email="王芳 <x@example.gov.cn>; jytyj@example.gov.cn"))


# ------------------------------------------------------------------ one evaluation per batch


class Batch(NamedTuple):
    folder: Path
    findings: dict[str, list[Finding]]  # file name -> its findings, from Evaluation.findings


def _evaluate_batch(tmp_path_factory, name: str, **kw) -> Batch:
    folder = tmp_path_factory.mktemp(name)
    for case in CASES:
        if case.batch == name:
            case.build(folder / f"{case.code}.xlsx")
    evaluation = evaluate_paths([folder], **{k: v(folder) if callable(v) else v for k, v in kw.items()})
    assert evaluation.skipped == []
    by_file: dict[str, list[Finding]] = {}
    for f in evaluation.findings:
        by_file.setdefault(Path(f.file).name, []).append(f)
    return Batch(folder, by_file)


@pytest.fixture(scope="module")
def national(tmp_path_factory) -> Batch:
    return _evaluate_batch(tmp_path_factory, "national")


@pytest.fixture(scope="module")
def sichuan_2023(tmp_path_factory) -> Batch:
    return _evaluate_batch(tmp_path_factory, "sichuan_2023", profile=load_profile("sichuan"), year=ROUND_YEAR)


@pytest.fixture(scope="module")
def rostered(tmp_path_factory) -> Batch:
    return _evaluate_batch(tmp_path_factory, "rostered", roster=ROSTER)


@pytest.fixture(scope="module")
def mailed(tmp_path_factory) -> Batch:
    return _evaluate_batch(tmp_path_factory, "mailed", roster=MAIL_ROSTER, senders=lambda folder: {
        str(folder / "sender-mismatch.xlsx"): "JYTYJ@example.gov.cn"})


def _hits(request, case: Case) -> list[Finding]:
    batch: Batch = request.getfixturevalue(case.batch)
    found = batch.findings.get(f"{case.code}.xlsx", [])
    hits = [f for f in found if f.code == case.code]
    assert hits, f"no {case.code}; got {[(f.code, f.sheet, f.cell) for f in found]}"
    return hits


def _at_cell(request, case: Case) -> Finding:
    hits = _hits(request, case)
    at = [f for f in hits if (f.sheet, f.cell) == (case.sheet, case.cell)]
    assert at, f"{case.code} not at {case.sheet}!{case.cell}; at {[(f.sheet, f.cell) for f in hits]}"
    return at[0]


IDS = [c.code for c in CASES]


# ------------------------------------------------------------------ the tests


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_workbook_reports_its_code_at_its_sheet_and_cell(request, case):
    finding = _at_cell(request, case)
    assert finding.severity == SEVERITY[README_SEVERITY[case.code]]
    if case.cell is not None:
        path = request.getfixturevalue(case.batch).folder / f"{case.code}.xlsx"
        wb = load_workbook(path, read_only=True)
        try:
            assert wb[case.sheet][case.cell].value == case.shows
        finally:
            wb.close()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_message_is_chinese_and_names_the_value(request, case):
    message = _at_cell(request, case).message
    assert CHINESE.search(message) and "{" not in message, message
    missing = [s for s in case.says if s not in message]
    assert not missing, f"{missing} not in {message}"


def test_superseded_is_reported_on_the_older_file_only(rostered):
    assert [f.code for f in rostered.findings["superseded.xlsx"]].count("superseded") == 1
    assert "superseded" not in [f.code for f in rostered.findings.get("superseded-newer.xlsx", [])]


def test_every_catalogue_code_is_produced_from_a_real_workbook():
    covered = {case.code for case in CASES}
    assert covered == set(CATALOGUE) == set(README_SEVERITY)
    assert len(IDS) == len(set(IDS))  # one file per code: the file name is the code
