"""Issue 11: every command over the hostile corpus (tests/hostile/corpus.py) next to good files.

Per case: no traceback, an exit code from the documented set, the bad input named in a Chinese
message, the good files fully processed, the inputs byte-identical, nothing written outside the
output folder (an audit hook sees every write, since tests run as root), no output overwritten by
another, and every output re-opening. One run per command over the whole corpus keeps it short.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path

import openpyxl
import pytest
from builders import submission
from click.testing import CliRunner
from hostile.corpus import GOOD, build, snapshot

from perf_toolkit.cli import cli

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile("[\u4e00-\u9fff]")
#: No single command over the whole corpus may take longer (a hang fails, never blocks the suite).
BOUND_SECONDS = 240

_writes: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    """Every file opened for writing, renamed or removed while a command runs (see `watching_writes`)."""
    if _writes is None:
        return
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        mode, flags = args[1], args[2]
        if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)):
            _writes.append(os.fsdecode(args[0]))
    elif event in ("os.rename", "os.replace", "os.remove", "os.unlink", "os.rmdir", "shutil.rmtree"):
        _writes.extend(os.fsdecode(a) for a in args[1:2] if isinstance(a, (str, bytes, os.PathLike)))
        if event in ("os.remove", "os.unlink", "os.rmdir", "shutil.rmtree"):
            _writes.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


@contextmanager
def watching_writes():
    global _writes
    _writes = []
    try:
        yield _writes
    finally:
        _writes = None


@contextmanager
def bounded(seconds: int = BOUND_SECONDS):
    def expired(signum, frame):
        raise TimeoutError(f"command still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    inbox, json_dir, cases = build(folder)
    config = folder / "perf.toml"
    config.write_text('[campaign]\nyear = 2023\ndistrict = "测试区"\noutput = "输出"\n', encoding="utf-8")
    return folder, inbox, json_dir, cases, config, snapshot(inbox) | snapshot(json_dir)


def invoke(args: list[str], outputs: list[Path], folder: Path) -> tuple[int, str]:
    """Run a command in-process: no traceback, exit 0 or 1, every write under one of `outputs`."""
    with watching_writes() as writes, bounded():
        result = CliRunner().invoke(cli, args, catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args[0], "".join(__import__("traceback").format_exception(result.exception)))
    assert result.exit_code in (0, 1), (args, result.exit_code, result.output[-2000:])
    text = result.output
    assert "Traceback" not in text and "工具内部错误" not in text
    allowed = [o.resolve() for o in outputs]
    for w in writes:
        target = Path(os.path.abspath(w)).resolve()
        inside_output = any(target == a or a in target.parents for a in allowed)
        # library temporaries outside the round's folders are fine; nothing under the inputs or the repository
        assert inside_output or not (folder.resolve() in target.parents or ROOT in target.parents), (args[0], w)
    return result.exit_code, text


def _named(text: str, case) -> bool:
    """The case's file appears in the output on a line with Chinese text (its message or reason)."""
    return any(case.file in line and CJK.search(line.replace(case.file, "")) for line in text.splitlines())


def test_hostile_corpus_through_every_command(corpus):
    folder, inbox, json_dir, cases, config, before = corpus
    assert len(cases) >= 60
    jsons = sorted(str(p) for p in json_dir.glob("*.json"))
    inbox_cases = [c for c in cases if c.kind != "json"]

    # check: every file and every JSON named, with a Chinese reason; the good files read clean
    code, text = invoke(["check", str(inbox), *jsons, "--json"], [], folder)
    report = json.loads(text)  # valid JSON and valid UTF-8, whatever the file names were
    entries = {Path(f["file"]).name: f for f in report["files"]}
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    for case in cases:
        assert case.file in entries or case.file in skipped, case
        if case.file in skipped:
            assert CJK.search(skipped[case.file]), case
        elif case.kind != "value" and not entries[case.file]["readable"]:
            f = entries[case.file]
            messages = [x["message"] for x in f["findings"]] + [x["message"] for p in f["projects"]
                                                                for x in p["findings"]]
            assert messages and all(CJK.search(m) for m in messages), case
    for good in GOOD:
        assert entries[good]["readable"] and entries[good]["projects"], good
        assert not [x for x in entries[good]["findings"] if x["severity"] == "error"], entries[good]["findings"]

    # collect: every input of the inbox ends in one state, named with its reason
    collected = folder / "收取"
    code, text = invoke(["collect", str(inbox), "-o", str(collected), "--config", str(config)], [collected], folder)
    for case in inbox_cases:
        assert case.file in text, case

    # run: the round completes; the good files get their reports; every output re-opens
    out = folder / "输出"
    code, text = invoke(["run", str(inbox), "--config", str(config)], [out], folder)
    assert code == 0, text[-3000:]
    reports = sorted((out / "自评报告").glob("*.docx"))
    for good in ("昆明市东川区退役军人事务局", "昆明市东川区第二好单位"):
        assert any(good in r.name for r in reports), good
    names = [r.name for r in reports]
    assert len(names) == len(set(names))  # no output overwrote another
    import docx
    for r in reports:
        docx.Document(r)
    openpyxl.load_workbook(out / "汇总.xlsx", read_only=True).close()
    for copy in (out / "审核意见").glob("*.xlsx"):
        openpyxl.load_workbook(copy, read_only=True).close()
    json.loads((out / "审核结果.json").read_text(encoding="utf-8"))

    # summary with its history; then a second time: the history keeps every row, once
    second = folder / "汇总二"
    args = ["summary", str(inbox), "-o", str(second / "汇总.xlsx"), "--history", str(second / "h.sqlite"),
            "--config", str(config)]
    invoke(args, [second], folder)
    invoke(args, [second], folder)
    openpyxl.load_workbook(second / "汇总.xlsx", read_only=True).close()

    # export: each readable workbook to JSON; an export onto its own input is refused
    exported = folder / "导出"
    for case in [c for c in cases if c.kind == "value"]:
        target = exported / (case.name + ".json")
        code, text = invoke(["export", str(inbox / case.file), "-o", str(target)], [exported], folder)
        json.loads(target.read_text(encoding="utf-8"))
    result = CliRunner().invoke(cli, ["export", str(inbox / GOOD[0]), "-o", str(inbox / GOOD[0])])
    assert result.exit_code == 2 and "就是输入" in result.output

    # rollup: the district summary with hostile ones beside it, each skipped file named
    edited = folder / "改过的汇总.xlsx"
    wb = openpyxl.load_workbook(out / "汇总.xlsx")
    wb["项目明细"].delete_rows(2)
    wb.save(edited)
    city = folder / "全市"
    code, text = invoke(["rollup", str(out / "汇总.xlsx"), str(edited), str(inbox / GOOD[0]), str(inbox / "乱码.xlsx"),
                         "-o", str(city / "全市汇总.xlsx"), "--name", "测试市"], [city], folder)
    assert code == 1
    for skipped_file in (edited, inbox / GOOD[0], inbox / "乱码.xlsx"):
        assert f"已跳过 {skipped_file}" in text
    openpyxl.load_workbook(city / "全市汇总.xlsx", read_only=True).close()

    # the inputs are byte for byte as they were
    assert snapshot(inbox) | snapshot(json_dir) == before


def test_outputs_onto_inputs_are_refused(corpus, tmp_path):
    folder, inbox, json_dir, cases, config, before = corpus
    good = inbox / GOOD[0]
    runner = CliRunner()
    for args in (["summary", str(inbox), "-o", str(good)],
                 ["summary", str(good), "-o", str(good)],
                 ["score", str(inbox), "-o", str(inbox / "评分.xlsx")],
                 ["check", str(inbox), "--markup", str(inbox / "意见")],
                 ["report", str(inbox), "-o", str(inbox / "报告")],
                 ["run", str(inbox), "-o", str(inbox / "输出")],
                 ["collect", str(inbox), "-o", str(inbox)],
                 ["rollup", str(good), str(inbox / GOOD[1]), "-o", str(good)],
                 ["template", "--fill", str(json_dir / "json-bool-year.json"), "-o", str(json_dir / "json-bool-year.json")]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2 and "输入" in result.output and "另选" in result.output, (args, result.output)
    assert snapshot(inbox) | snapshot(json_dir) == before


def test_prefill_never_overwrites_a_returned_workbook(tmp_path):
    budget = tmp_path / "预算.csv"
    budget.write_text("单位编码,单位名称,项目编码,项目名称,资金来源,年初预算数,全年预算数,全年执行数\n"
                      "D1,甲局,P1,项目一,当年财政拨款,10,10,9\n", encoding="utf-8")
    out = tmp_path / "下发"
    result = CliRunner().invoke(cli, ["template", "--prefill", str(budget), "--year", "2023", "-o", str(out)])
    assert result.exit_code == 0, result.output
    returned = next(out.glob("*.xlsx"))
    returned.write_bytes(b"filled in by the department")
    result = CliRunner().invoke(cli, ["template", "--prefill", str(budget), "--year", "2023", "-o", str(out)])
    assert result.exit_code == 2 and "同名文件" in result.output
    assert returned.read_bytes() == b"filled in by the department"


# ------------------------------------------------------------------ typed configuration and table files


@pytest.mark.parametrize(("body", "words"), [
    ("campaign = 5", ("campaign", "设置表", "整数")),
    ("year = 2023.9", ("year", "应为整数", "2023.9")),
    ('district = ["东川区", "盘龙区"]', ("district", "应为文字", "列表")),
    ('deadline = "2024-05-10"', ("deadline", "应为日期")),
    ('low_execution_rate = "0.9"', ("low_execution_rate", "应为数字")),
    ("[mail]\nstarttls = 1", ("starttls", "true 或 false")),
])
def test_config_wrong_types_name_the_key_and_the_type(tmp_path, body, words):
    from perf_toolkit.config import ConfigError, load_config

    path = tmp_path / "perf.toml"
    path.write_text(f'output = "out"\n{body}\n' if body.startswith("campaign") else f"{body}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert all(w in str(caught.value) for w in words), str(caught.value)


def test_config_profile_file_is_beside_the_config_not_the_current_folder(tmp_path, monkeypatch):
    from perf_toolkit.config import load_config
    from perf_toolkit.profile import builtin_profile_text, load_profile

    (tmp_path / "round").mkdir()
    (tmp_path / "round" / "my.toml").write_text(builtin_profile_text("sichuan"), encoding="utf-8")
    (tmp_path / "my.toml").write_text("not = [valid", encoding="utf-8")  # another my.toml where we stand
    (tmp_path / "round" / "perf.toml").write_text('[campaign]\nprofile = "my.toml"\noutput = "out"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    campaign = load_config(Path("round") / "perf.toml")
    assert Path(campaign.profile) == Path("round") / "my.toml"
    assert load_profile(campaign.profile).name == load_profile("sichuan").name


@pytest.mark.parametrize(("change", "words"), [
    (("budget_weight = 10", 'budget_weight = "10"'), ("budget_weight", "应为数字")),
    (("budget_weight = 10", "budget_weight = 10\nbudget_wieght = 20"), ("无法识别", "budget_wieght")),
    (("overachieved = 1.3", 'overachieved = "1.3"'), ("thresholds.overachieved", "应为数字")),
])
def test_profile_wrong_types_and_unknown_keys_name_the_key(tmp_path, change, words):
    from perf_toolkit.profile import ProfileError, builtin_profile_text, load_profile

    text = builtin_profile_text("national-2020")
    assert change[0] in text
    path = tmp_path / "p.toml"
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    assert all(w in str(caught.value) for w in words), str(caught.value)


def test_roster_with_an_unclosed_quote_names_the_line(tmp_path):
    from perf_toolkit.config import ConfigError, load_roster

    path = tmp_path / "名单.csv"
    path.write_text('单位编码,单位名称\nD1,"甲局\nD2,乙局\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="引号没有闭合"):
        load_roster(path)


def test_budget_file_naming_one_code_two_ways_is_refused(tmp_path):
    from perf_toolkit.workbook.budget import BudgetFileError, read_budget_csv

    path = tmp_path / "预算.csv"
    path.write_text("单位编码,单位名称,项目编码,项目名称,资金来源,年初预算数,全年预算数,全年执行数\n"
                    "D1,甲局,P1,项目一,当年财政拨款,10,10,9\nD1,乙局,P2,项目二,当年财政拨款,10,10,9\n", encoding="utf-8")
    with pytest.raises(BudgetFileError, match="单位名称.*不一致"):
        read_budget_csv(path)


def test_atomic_write_takes_a_255_byte_name(tmp_path):
    from perf_toolkit.fsutil import atomic_write

    name = "名" * 83 + ".xl"  # 252 bytes
    with atomic_write(tmp_path / name) as fh:
        fh.write(b"x")
    assert (tmp_path / name).read_bytes() == b"x" and len(list(tmp_path.iterdir())) == 1


# ------------------------------------------------------------------ packages as other writers leave them


@pytest.mark.parametrize("variant", ["utf16-sheets", "utf16-every-part", "moved-in-xl", "moved-to-another-folder",
                                     "moved-and-utf16"])
def test_packages_excel_opens_read_as_the_original(tmp_path, variant):
    """A workbook whose parts are UTF-16 or whose workbook part is not at xl/workbook.xml reads exactly as
    the workbook it was made from (it used to read as empty, or as “a plain zip”)."""
    from builders import write_workbook
    from hostile.corpus import moved_workbook_part, utf16_parts

    from perf_toolkit.workbook.read import read_workbook

    original = write_workbook(tmp_path, "原件.xlsx", submission(goal="全年完成配套经费拨付"))
    path, step = tmp_path / f"{variant}.xlsx", tmp_path / "step.xlsx"
    if variant == "utf16-sheets":
        utf16_parts(original, path)
    elif variant == "utf16-every-part":
        utf16_parts(original, path, parts="")
    elif variant == "moved-in-xl":
        moved_workbook_part(original, path)
    elif variant == "moved-to-another-folder":
        moved_workbook_part(original, path, to="book/main/wb.xml")
    else:
        moved_workbook_part(original, step, to="book/wb.xml")
        utf16_parts(step, path, parts="")
    expected, got = read_workbook(original), read_workbook(path)
    assert got.format == "xlsx" and got.sourced is not None, got.findings
    assert got.sourced.submission == expected.sourced.submission
    assert got.sourced.submission.projects[0].goal == "全年完成配套经费拨付"
    assert [f.code for f in got.findings] == [f.code for f in expected.findings]


def test_a_docx_is_still_no_workbook_when_found_through_its_relationships(tmp_path):
    """Only a part whose content type is a workbook's counts: a Word document stays “a Word document”."""
    from perf_toolkit.workbook.guard import sniff

    path = tmp_path / "文档.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                    'wordprocessingml.document.main+xml"/></Types>')
        zf.writestr("_rels/.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                    'officeDocument" Target="word/document.xml"/></Relationships>')
        zf.writestr("word/document.xml", "<w:document/>")
    assert "Word" in sniff(path).reason


# ------------------------------------------------------------------ huge text cells


def test_huge_text_cell_is_cut_in_the_worker_with_a_finding(tmp_path):
    """A cell of 2 million characters (Excel holds 32,767): the text that leaves the reader's worker is
    cut to the limit, so neither the main process nor a document ever holds the huge string, and a
    warning names the sheet and cell."""
    from builders import text_cell, write_workbook

    from perf_toolkit.workbook.guard import MAX_CELL_TEXT, load_raw
    from perf_toolkit.workbook.read import read_workbook

    path = write_workbook(tmp_path, "单位.xlsx", submission())
    text = "".join(random.Random(5).choices("全年完成配套经费拨付工作", k=2_000_000))  # random: no “zip bomb”
    text_cell(path, "项目1", "D15", text)
    raw = load_raw(path)
    longest = max(len(v) for s in raw.sheets for v in s.cells.values() if isinstance(v, str))
    assert longest == MAX_CELL_TEXT == 32_767
    assert raw.sheet("项目1").long_text == {(15, 4): 2_000_000}
    read = read_workbook(path)
    assert read.sourced.submission.projects[0].achievement == text[:MAX_CELL_TEXT]
    [finding] = [f for f in read.findings if f.code == "text-too-long"]
    assert (finding.sheet, finding.cell, finding.severity) == ("项目1", "D15", "warning")
    assert "2000000" in finding.message and "32767" in finding.message


# ------------------------------------------------------------------ disk full


@pytest.fixture
def disk_full(monkeypatch):
    """Call it to fill the disk: from then on the file atomic_write opens takes 100 bytes, then every write
    fails with ENOSPC, as a real full disk answers; other files (pytest's own) write as usual."""
    import errno
    import io

    class FullDisk(io.FileIO):
        def write(self, data) -> int:
            if self.tell() < 100:
                return super().write(bytes(data)[:100 - self.tell()])
            raise OSError(errno.ENOSPC, "No space left on device")

    real = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        if "w" in mode and sys._getframe(1).f_globals.get("__name__") == "perf_toolkit.fsutil":
            raw = FullDisk(fd, "wb")
            return raw if kwargs.get("buffering", args[0] if args else -1) == 0 else io.BufferedWriter(raw)
        return real(fd, mode, *args, **kwargs)

    return lambda: monkeypatch.setattr(os, "fdopen", fdopen)


def test_disk_full_names_the_file_and_leaves_the_old_one(tmp_path, disk_full):
    from perf_toolkit.fsutil import atomic_write

    target = tmp_path / "汇总.xlsx"
    target.write_bytes(b"the previous good summary")
    disk_full()
    with pytest.raises(OSError) as caught, atomic_write(target) as fh:
        fh.write(b"x" * 100_000)
    assert caught.value.filename == str(target) and caught.value.errno == __import__("errno").ENOSPC
    assert target.read_bytes() == b"the previous good summary"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["汇总.xlsx"]  # no temporary file left


@pytest.mark.parametrize("command", ["summary", "export", "score"])
def test_disk_full_in_a_command_says_so_in_chinese_naming_the_file(tmp_path, monkeypatch, capsys, command,
                                                                   disk_full):
    """Through the console entry point: exit 2, “磁盘空间不足” and the output's name; nothing under that name."""
    from builders import clean_submission, write_workbook

    from perf_toolkit.cli import main

    inbox = tmp_path / "收件箱"
    good = write_workbook(inbox, "单位.xlsx", clean_submission())
    out = tmp_path / "输出" / {"summary": "汇总.xlsx", "export": "单位.json", "score": "评分.xlsx"}[command]
    args = {"summary": ["summary", str(inbox), "--year", "2023"], "export": ["export", str(good)],
            "score": ["score", str(inbox)]}[command]
    monkeypatch.setattr(sys, "argv", ["perf-toolkit", *args, "-o", str(out)])
    disk_full()
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert "磁盘空间不足" in err and str(out) in err and "工具内部错误" not in err, err
    assert not out.exists() and [p.name for p in out.parent.iterdir()] == []


def test_a_write_failure_a_library_swallowed_is_never_committed(tmp_path, disk_full):
    from perf_toolkit.fsutil import atomic_write

    target = tmp_path / "报告.docx"
    target.write_bytes(b"the previous good report")
    disk_full()
    with pytest.raises(OSError) as caught, atomic_write(target) as fh:
        try:
            fh.write(b"x" * 1000)
        except OSError:
            pass  # as some writer libraries do
        fh.write(b"the end")
    assert caught.value.filename == str(target)
    assert target.read_bytes() == b"the previous good report" and len(list(tmp_path.iterdir())) == 1


# ------------------------------------------------------------------ the toolkit's outputs submitted as departments


def _without(src: Path, dst: Path, drop: str = "docProps/custom.xml", edit=None) -> None:
    """A copy of `src` without part `drop` (a program that keeps no custom properties saved it), `edit`ing
    xl/workbook.xml if given."""
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for info in zi.infolist():
            data = zi.read(info)
            if info.filename == "xl/workbook.xml" and edit:
                data = edit(data)
            if info.filename != drop:
                zo.writestr(info, data)


def test_a_summary_submitted_as_a_department_is_skipped_even_without_its_mark(tmp_path):
    """汇总.xlsx (or the score sheet) in the inbox, as written, or saved by a program that dropped the custom
    property, or also the defined name: each is skipped with a reason, never read as a department."""
    from builders import clean_submission, write_workbook

    made = tmp_path / "made"
    write_workbook(made / "in", "单位.xlsx", clean_submission())
    for args in (["summary", str(made / "in"), "--year", "2023", "-o", str(made / "汇总.xlsx")],
                 ["score", str(made / "in"), "-o", str(made / "评分.xlsx")]):
        assert CliRunner().invoke(cli, args).exit_code in (0, 1)
    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    (inbox / "汇总.xlsx").write_bytes((made / "汇总.xlsx").read_bytes())
    _without(made / "汇总.xlsx", inbox / "汇总-无属性.xlsx")
    _without(made / "汇总.xlsx", inbox / "汇总-无属性无名称.xlsx",
             edit=lambda d: re.sub(rb"<definedName name=\"perf_toolkit_summary\">[^<]*</definedName>", b"", d))
    _without(made / "评分.xlsx", inbox / "评分-无属性.xlsx")
    department = write_workbook(inbox, "单位-含项目明细表.xlsx", clean_submission())
    wb = openpyxl.load_workbook(department)
    wb.create_sheet("项目明细")  # one of the summary's sheets, not all of them: still a department
    wb.save(department)

    result = CliRunner().invoke(cli, ["check", str(inbox), "--json"])
    report = json.loads(result.output)
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert [Path(f["file"]).name for f in report["files"]] == ["单位-含项目明细表.xlsx"]
    assert "本工具生成的汇总表" in skipped["汇总.xlsx"] and "丢失" not in skipped["汇总.xlsx"]
    for name in ("汇总-无属性.xlsx", "汇总-无属性无名称.xlsx"):
        assert "本工具生成的汇总表" in skipped[name] and "按其工作表认定" in skipped[name], skipped[name]
    assert "评分表" in skipped["评分-无属性.xlsx"]
