"""The command line: exact output, exit codes, and `--json` equal to the library's report."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
from builders import EXAMPLE_JSON, ROOT, example_dict
from click.testing import CliRunner

from perf_toolkit.check.evaluate import evaluate_paths
from perf_toolkit.cli import cli

EXAMPLE_XLSX = ROOT / "workbook_templates" / "示例-退役军人事务局.xlsx"
INBOX = ROOT / "examples" / "inbox"


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def actual_cell(path: Path, name: str) -> str:
    """The A1 address of the 实际完成值 cell of the indicator called `name` on 项目1."""
    ws = openpyxl.load_workbook(path)["项目1"]
    for row in ws.iter_rows():
        for cell in row:
            if cell.value == name:
                headers = {c.value: c.column_letter for c in ws[17]}
                return f"{headers['实际完成值']}{cell.row}"
    raise AssertionError(name)


def test_score_json_on_example_gives_the_done_when_figures():
    result = run("score", EXAMPLE_XLSX, "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    project = report["files"][0]["projects"][0]
    assert (project["execution_rate"], project["budget_total"], project["executed_total"]) == (1.0, 2.94, 2.94)
    assert (project["total_score"], project["grade"]) == (100.0, "优")
    # the reference report's own mistakes, surfaced as warnings (ordered by cell)
    assert [f["code"] for f in report["files"][0]["findings"]] == [
        "budget-adjusted-unexplained", "achievement-term-mismatch", "execution-indicator-duplicated",
        "narrative-contradiction"]


def test_json_output_is_exactly_the_library_report(example_files):
    result = run("check", *example_files, "--json")
    assert json.loads(result.output) == evaluate_paths(example_files).to_dict()


def test_check_human_output_groups_by_file_and_exits_1_on_errors(example_files):
    result = run("check", *example_files)
    assert result.exit_code == 1
    out = result.output
    veterans = next(p for p in example_files if p.name == "东川区退役军人事务局-自评填报表.xlsx")
    assert "■ " + str(veterans) in out
    assert "警告  budget-adjusted-unexplained     项目1!D13" in out
    assert "（附件损坏）.xlsx（无法读取）" in out and "file-unreadable" in out
    assert out.rstrip().splitlines()[-1].startswith("合计：4 个文件，3 个项目；错误 ")


def test_check_lists_what_is_no_workbook_in_a_folder_of_mails():
    result = run("check", INBOX)
    assert "跳过 4 个文件（Foxmail导出-绩效自评.mbox、~$东川区教育体育局-自评填报表.xlsx、" in result.output


def test_check_exit_0_without_errors():
    assert run("check", EXAMPLE_XLSX).exit_code == 0


def test_usage_errors_exit_2_in_chinese(tmp_path):
    result = run("check")
    assert result.exit_code == 2 and "缺少参数" in result.output
    result = run("check", EXAMPLE_XLSX, "--profile", "nope")
    assert result.exit_code == 2 and "没有名为“nope”的评分规则" in result.output
    result = run("check", tmp_path / "missing.xlsx")
    assert result.exit_code == 2 and "不存在" in result.output


def test_template_fill_then_export_round_trips(tmp_path):
    out = tmp_path / "单位.xlsx"
    assert run("template", "--fill", EXAMPLE_JSON, "-o", out).exit_code == 0
    result = run("export", out, "-o", tmp_path / "back.json")
    assert result.exit_code == 0
    assert json.loads((tmp_path / "back.json").read_text(encoding="utf-8")) == example_dict() | {
        "schema": "perf-toolkit/submission/v1"}


def test_template_prefill_writes_one_workbook_per_department(tmp_path):
    csv = tmp_path / "预算.csv"
    csv.write_text("单位编码,单位名称,项目编码,项目名称,资金来源,年初预算数,全年预算数,全年执行数\n"
                   "A01,甲局,P1,项目一,当年财政拨款,10,12,11\nB02,乙局,P2,项目二,当年财政拨款,5,5,5\n",
                   encoding="utf-8")
    result = run("template", "--prefill", csv, "--year", "2023", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["A01-甲局-自评填报表.xlsx", "B02-乙局-自评填报表.xlsx"]


def test_score_writes_workbook(tmp_path):
    out = tmp_path / "评分.xlsx"
    result = run("score", EXAMPLE_XLSX, "-o", out)
    assert result.exit_code == 0 and out.is_file()
    ws = openpyxl.load_workbook(out)["项目得分"]
    header = [c.value for c in ws[1]]
    row = dict(zip(header, [c.value for c in ws[2]], strict=True))
    assert (row["总分"], row["等级"], row["执行率"]) == (100, "优", 1)


def test_help_is_chinese_for_every_command():
    for name, command in cli.commands.items():
        text = run(name, "--help").output
        assert "用法：" in text and "选项：" in text and "显示本帮助并退出" in text, name
        assert not re.search(r"\[OPTIONS\]|Usage|Options|INTEGER|PATH", text), name
        assert "示例" in (command.help or ""), f"{name} help has no example"


def test_done_when_edit_in_libreoffice_then_check(tmp_path, soffice):
    """A user opens the example in LibreOffice, types a wrong value, saves: check names the cell."""
    edited = tmp_path / "示例.xlsx"
    shutil.copy(EXAMPLE_XLSX, edited)
    cell = actual_cell(edited, "退役士兵满意度")
    wb = openpyxl.load_workbook(edited)
    wb["项目1"][cell] = "85%"
    wb.save(edited)
    out = tmp_path / "saved"
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to",
                    "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out), str(edited)],
                   check=True, capture_output=True, timeout=180)
    result = run("check", out / "示例.xlsx", "--json")
    assert result.exit_code == 1
    hits = {(f["code"], f["cell"]) for f in json.loads(result.output)["files"][0]["findings"]}
    note_cell = chr(ord(cell[0]) + 4) + cell[1:]  # 偏差原因分析及改进措施 is four columns right
    assert ("indicator-unmet-unexplained", note_cell) in hits
    assert ("score-full-but-unmet", chr(ord(cell[0]) + 2) + cell[1:]) in hits


def test_installed_entry_point_runs():
    exe = Path(sys.executable).with_name("perf-toolkit")
    assert exe.exists(), "perf-toolkit is not installed in this environment"
    proc = subprocess.run([str(exe), "score", str(EXAMPLE_XLSX), "--json"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["files"][0]["projects"][0]["grade"] == "优"
    proc = subprocess.run([sys.executable, "-m", "perf_toolkit", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and "perf-toolkit" in proc.stdout


def test_run_without_config_keeps_history_beside_its_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    shutil.copy(EXAMPLE_XLSX, inbox / "示例.xlsx")
    result = run("run", inbox, "-o", tmp_path / "结果")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "结果" / "history.sqlite").is_file()
    assert not (tmp_path / "output").exists()
    assert f"本轮结果已记入 {tmp_path / '结果' / 'history.sqlite'}" in result.output
    for name in ("审核结果.json", "汇总.xlsx"):
        assert (tmp_path / "结果" / name).is_file()
    # the report, the 自评表 and (the example has findings) the 审核附注
    assert len(list((tmp_path / "结果" / "自评报告").glob("*.docx"))) == 3


def test_outputs_into_new_folders_and_unwritable_paths_say_so_in_chinese(tmp_path):
    out = tmp_path / "新文件夹" / "下级" / "自评填报表.xlsx"
    assert run("template", "-o", out).exit_code == 0 and out.is_file()
    blocker = tmp_path / "是文件"
    blocker.write_text("x", encoding="utf-8")
    proc = subprocess.run([str(Path(sys.executable).with_name("perf-toolkit")), "template", "-o",
                           str(blocker / "x.xlsx")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("错误：无法读写文件") and ".tmp" not in proc.stderr and "Error" not in proc.stderr


def test_template_fill_takes_year_when_the_json_has_none(tmp_path):
    data = example_dict()
    data.pop("year")
    source = tmp_path / "无年度.json"
    source.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert run("template", "--fill", source, "--year", "2024", "-o", tmp_path / "x.xlsx").exit_code == 0
    assert json.loads(run("export", tmp_path / "x.xlsx").output)["year"] == 2024


def test_malformed_submission_json_is_an_operator_error(tmp_path):
    bad = tmp_path / "坏.json"
    bad.write_text('{"schema": "perf-toolkit/submission/v1", "projects": [1]}', encoding="utf-8")
    result = run("template", "--fill", bad, "-o", tmp_path / "x.xlsx")
    assert result.exit_code == 2 and "结构不对" in result.output
    result = run("check", bad, "--json")
    assert json.loads(result.output)["files"][0]["findings"][0]["code"] == "file-unreadable"


def test_run_prints_in_a_gbk_console(tmp_path):
    """A Chinese Windows console (GBK): the whole round prints, a character GBK lacks becomes "?"."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONIOENCODING": "gbk"}
    done = subprocess.run([sys.executable, "-m", "perf_toolkit", "run", str(ROOT / "examples" / "inbox"),
                           "--config", str(ROOT / "examples" / "perf.toml"), "-o", str(tmp_path / "out"),
                           "--no-history"],  # the example config keeps its history in the repository
                          capture_output=True, env=env, cwd=ROOT, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode("gbk", "replace")
    out = done.stdout.decode("gbk")
    assert "■ 收取" in out and "■ 反馈邮件" in out and "Foxmail导出-绩效自评.mbox ? 第2封邮件" in out
