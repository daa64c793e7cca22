"""Each roster department's state, from real workbooks: every state, unreadable files tied by name, code or
sender (or to nobody), departments not on the roster; the summary and `status` use the same states."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from builders import (
    DC_ROSTER,
    broken_workbook,
    clean_submission,
    faulty_submission,
    warned_submission,
    write_workbook,
)
from click.testing import CliRunner

from perf_toolkit.check.evaluate import evaluate_paths
from perf_toolkit.check.status import (
    BY_CODE,
    BY_NAME,
    BY_SENDER,
    HAS_ERRORS,
    HAS_WARNINGS,
    NOT_SUBMITTED,
    PASSED,
    STATES,
    UNREADABLE,
    department_status,
    name_keys,
)
from perf_toolkit.cli import cli
from perf_toolkit.config import Campaign, RosterEntry
from perf_toolkit.summary.consolidate import summary_frames

ROSTER = tuple(RosterEntry(*row) for row in DC_ROSTER)
clean, warned, faulty = clean_submission, warned_submission, faulty_submission
workbook, broken = write_workbook, broken_workbook


def status_of(folder: Path, roster=ROSTER, **kwargs):
    evaluation = evaluate_paths([folder], year=2023, roster=roster, **kwargs)  # submitted_at=, senders=
    return evaluation, department_status(evaluation, roster)


def test_status_every_state_one_line_per_roster_department(tmp_path):
    inbox = tmp_path / "收件箱"
    workbook(inbox, "退役军人事务局.xlsx", clean())
    workbook(inbox, "教育体育局.xlsx", warned())
    workbook(inbox, "农业农村局.xlsx", faulty())
    broken(inbox, "东川区卫生健康局-自评填报表（附件损坏）.xlsx")
    _, status = status_of(inbox)
    by_code = {d.code: d for d in status.departments}
    assert [d.code for d in status.departments] == [e.code for e in ROSTER]  # roster order
    assert {c: d.state for c, d in by_code.items()} == {
        "DC-TYJRSWJ": PASSED, "DC-JYTYJ": HAS_WARNINGS, "DC-NYNCJ": HAS_ERRORS, "DC-WSJKJ": UNREADABLE,
        "DC-MZJ": NOT_SUBMITTED}
    assert status.counts() == dict.fromkeys(STATES, 1)
    faulty_line = by_code["DC-NYNCJ"]
    assert faulty_line.errors > 0 and Path(faulty_line.file).name == "农业农村局.xlsx"
    assert faulty_line.submitted_at == dt.datetime.fromtimestamp(os.stat(faulty_line.file).st_mtime).replace(microsecond=0)
    assert by_code["DC-JYTYJ"].errors == 0 and by_code["DC-JYTYJ"].warnings == 1
    health = by_code["DC-WSJKJ"]
    assert health.submitted and health.matched_by == BY_NAME and health.errors == 1  # file-unreadable
    assert Path(health.file).name == "东川区卫生健康局-自评填报表（附件损坏）.xlsx"
    assert by_code["DC-MZJ"].file is None and not by_code["DC-MZJ"].submitted
    assert status.unlisted == () and status.unidentified == ()


def test_status_unreadable_file_tied_by_code_or_sender_else_unidentified(tmp_path):
    inbox = tmp_path / "收件箱"
    by_code = broken(inbox, "dc-mzj 自评表.xlsx")  # the code, case aside, as a token
    by_sender = broken(inbox, "附件1.xlsx")
    nobody = broken(inbox, "新建 Microsoft Excel 工作表.xlsx")
    senders = {str(by_sender): "卫健局 <WSJKJ@example.gov.cn>", str(nobody): "someone@example.com"}
    _, status = status_of(inbox, senders=senders)
    states = {d.code: (d.state, d.matched_by, d.file) for d in status.departments}
    assert states["DC-MZJ"] == (UNREADABLE, BY_CODE, str(by_code))
    assert states["DC-WSJKJ"] == (UNREADABLE, BY_SENDER, str(by_sender))
    assert [u.file for u in status.unidentified] == [str(nobody)]
    assert status.unidentified[0].sender == "someone@example.com"
    assert "无法认定" in status.unidentified[0].reason


def test_status_unreadable_file_matching_two_departments_is_not_guessed(tmp_path):
    inbox = tmp_path / "收件箱"
    broken(inbox, "农业农村局和民政局合报.xlsx")
    _, status = status_of(inbox)
    assert all(d.state == NOT_SUBMITTED for d in status.departments)
    assert "多个单位" in status.unidentified[0].reason


def test_status_without_roster_nothing_is_tied(tmp_path):
    inbox = tmp_path / "收件箱"
    workbook(inbox, "a.xlsx", clean())
    broken(inbox, "东川区卫生健康局.xlsx")
    _, status = status_of(inbox, roster=())
    assert status.departments == () and [d.state for d in status.unlisted] == [PASSED]
    assert "没有配置报送名单" in status.unidentified[0].reason


def test_status_department_not_on_roster_listed_apart(tmp_path):
    inbox = tmp_path / "收件箱"
    workbook(inbox, "外单位.xlsx", clean("DC-XXX", "昆明市东川区某某局"))
    _, status = status_of(inbox)
    assert [(d.code, d.state, d.on_roster) for d in status.unlisted] == [("DC-XXX", HAS_WARNINGS, False)]
    assert status.unlisted[0].result.findings[0].code == "department-unknown"
    assert all(d.state == NOT_SUBMITTED for d in status.departments)


def test_status_current_version_is_the_newest_and_dated_by_submitted_at(tmp_path):
    inbox = tmp_path / "收件箱"
    old = workbook(inbox, "教育体育局-第一次.xlsx", faulty("DC-JYTYJ", "昆明市东川区教育体育局"), when=1_700_000_000)
    new = workbook(inbox, "教育体育局-第二次.xlsx", clean("DC-JYTYJ", "昆明市东川区教育体育局"), when=1_700_100_000)
    mailed = dt.datetime(2024, 5, 6, 9, 30)
    _, status = status_of(inbox, submitted_at={str(new): mailed})
    line = next(d for d in status.departments if d.code == "DC-JYTYJ")
    assert (line.file, line.state, line.submitted_at) == (str(new), PASSED, mailed)
    assert str(old) not in (line.file,)


def test_status_newer_unreadable_file_beside_a_counted_one_is_noted(tmp_path):
    inbox = tmp_path / "收件箱"
    counted = workbook(inbox, "农业农村局.xlsx", faulty(), when=1_700_000_000)
    later = broken(inbox, "东川区农业农村局-修改后.xlsx", when=1_700_100_000)
    _, status = status_of(inbox)
    line = next(d for d in status.departments if d.code == "DC-NYNCJ")
    assert (line.state, line.file, line.unreadable, line.newer_unreadable) == (
        HAS_ERRORS, str(counted), (str(later),), str(later))


def test_name_keys_drop_leading_divisions_only():
    assert name_keys("昆明市东川区卫生健康局") == ["昆明市东川区卫生健康局", "东川区卫生健康局", "卫生健康局"]
    assert name_keys("昆明市东川区城市管理局") == ["昆明市东川区城市管理局", "东川区城市管理局", "城市管理局"]
    assert name_keys("东川区局") == ["东川区局"]  # a remainder under three characters names nothing


def test_summary_missing_sheet_uses_the_states(tmp_path):
    inbox = tmp_path / "收件箱"
    workbook(inbox, "退役军人事务局.xlsx", clean())
    broken(inbox, "东川区卫生健康局-自评填报表.xlsx")
    evaluation = evaluate_paths([inbox], year=2023, roster=ROSTER)
    frames = summary_frames(evaluation, Campaign(year=2023, roster=ROSTER))
    assert list(frames["未报送单位"]["单位编码"]) == ["DC-JYTYJ", "DC-NYNCJ", "DC-MZJ"]  # 卫生健康局 has submitted
    key = frames["总览"].set_index("指标")
    assert (key.loc["已报送单位数", "数值"], key.loc["未报送单位数", "数值"]) == (2, 3)
    assert "1 个单位报送的文件无法读取" in key.loc["已报送单位数", "说明"]
    assert "昆明市东川区卫生健康局" in key.loc["已报送单位数", "说明"]
    unreadable = frames["问题清单"][frames["问题清单"]["代码"] == "file-unreadable"]
    assert list(unreadable["单位编码"]) == ["DC-WSJKJ"]  # listed under the department it was tied to
    meta = frames["元数据"].set_index("项目")["值"]
    assert meta["文件无法读取单位数"] == 1


def test_status_command_prints_the_roster_in_chinese(tmp_path):
    inbox = tmp_path / "收件箱"
    workbook(inbox, "农业农村局.xlsx", faulty())
    broken(inbox, "东川区卫生健康局.xlsx")
    broken(inbox, "无名.xlsx")
    roster = tmp_path / "报送名单.csv"
    roster.write_text("单位编码,单位名称,联系人,电子邮箱\n" + "".join(
        f"{e.code},{e.name},{e.contact},{e.email}\n" for e in ROSTER), encoding="utf-8")
    config = tmp_path / "perf.toml"
    config.write_text('year = 2023\ndistrict = "东川区"\nroster = "报送名单.csv"\noutput = "out"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["status", str(inbox), "--config", str(config)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "东川区2023年度项目支出绩效自评报送情况"
    row = next(line for line in lines if "DC-WSJKJ" in line)
    assert UNREADABLE in row and "东川区卫生健康局.xlsx" in row and BY_NAME in row
    assert NOT_SUBMITTED in next(line for line in lines if "DC-MZJ" in line)
    assert HAS_ERRORS in next(line for line in lines if "DC-NYNCJ" in line)
    assert ("合计：应报送 5 个单位；未报送 3 个，已报送-无法读取 1 个，已报送-有错误 1 个，已报送-有警告 0 个，"
            "已通过 0 个。") in lines
    assert any(line.startswith("  无名.xlsx") and "无法认定" in line for line in lines)


def test_status_command_without_sources_reads_the_store_and_says_when_it_is_empty(tmp_path):
    config = tmp_path / "perf.toml"
    config.write_text('year = 2023\noutput = "out"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["status", "--config", str(config)])
    assert result.exit_code == 2 and "还没有收到任何填报表" in result.output
    inbox = tmp_path / "收件箱"
    workbook(inbox, "农业农村局.xlsx", faulty())
    assert CliRunner().invoke(cli, ["collect", str(inbox), "--config", str(config)]).exit_code == 0
    result = CliRunner().invoke(cli, ["status", "--config", str(config)])  # what was collected before
    assert result.exit_code == 0 and HAS_ERRORS in next(line for line in result.output.splitlines()
                                                        if "DC-NYNCJ" in line)
