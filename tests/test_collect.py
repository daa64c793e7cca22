"""Collecting submissions: real mails, mailboxes and zips in, every input in exactly one state out.

Each test writes the files a bureau receives (.eml as Outlook and Foxmail write them, an mbox,
a Maildir, Windows zips with CP936 names, a zip bomb), runs `collect` or the inbox reader on
them, and opens what was stored and recorded.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import importlib.util
import io
import os
import sqlite3
import urllib.parse
import zipfile
from pathlib import Path

import pytest
from builders import ROOT, saved_by_office, submission
from click.testing import CliRunner

from perf_toolkit.check.evaluate import evaluate_paths
from perf_toolkit.cli import cli
from perf_toolkit.config import Campaign, RosterEntry
from perf_toolkit.mail.history import changed_cells, versions
from perf_toolkit.mail.inbox import Arrival, Ignored, InboxLimits, arrivals_from_message, read_sources
from perf_toolkit.mail.store import (
    ACCEPTED,
    DUPLICATE,
    REJECTED,
    SKIPPED,
    STORE_DIR,
    SUPERSEDED,
    collect,
    current_files,
    senders,
    submission_times,
)
from perf_toolkit.model import submission_from_dict
from perf_toolkit.workbook.markup import mark_workbook
from perf_toolkit.workbook.template import write_template

_spec = importlib.util.spec_from_file_location("make_examples", ROOT / "examples" / "make_examples.py")
examples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(examples)

NAME = "东川区教育体育局-自评填报表（修订）.xlsx"
XLSX = examples.XLSX_TYPE
ROSTER = (RosterEntry("DC-TYJRSWJ", "昆明市东川区退役军人事务局", email="tyjrswj@example.gov.cn"),
          RosterEntry("DC-JYTYJ", "昆明市东川区教育体育局", email="jytyj@example.gov.cn"))
CAMPAIGN = Campaign(year=2023, roster=ROSTER)


def workbook(tmp_path: Path, code: str = "DC-TYJRSWJ", name: str = "昆明市东川区退役军人事务局", **project) -> bytes:
    """The bytes of a filled standard workbook of department `code`."""
    data = submission(**project)
    data["department"].update(code=code, name=name)
    path = tmp_path / f".{code}-{len(list(tmp_path.glob('.*.xlsx')))}.xlsx"
    write_template(path, submission_from_dict(copy.deepcopy(data)), projects=1)
    return path.read_bytes()


def mail(attachments, *, sender="李明 <tyjrswj@example.gov.cn>", date="Wed, 08 May 2024 10:00:00 +0800",
         ident="m1") -> bytes:
    """A mail as a mail client writes it, with (Content-Disposition, type, bytes) attachments."""
    display, address = sender.split(" <")
    sender = f"=?UTF-8?B?{base64.b64encode(display.encode()).decode()}?= <{address}"
    return examples.mail_bytes(sender=sender, date=date, subject="报送自评表", body="请查收。", ident=ident,
                               attachments=attachments)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha(p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> bytes:
    return workbook(tmp_path_factory.mktemp("books"))


# ------------------------------------------------------------------ names in every encoding


def _q(text: str, charset: str) -> str:
    return "".join(f"={b:02X}" for b in text.encode(charset))


DISPOSITIONS = {
    "rfc2231-utf8": examples.rfc2231(NAME),
    "rfc2231-gbk": f"attachment; filename*=gbk''{urllib.parse.quote(NAME.encode('gbk'))}",
    "rfc2231-gb18030-continued": "attachment;\r\n filename*0*=gb18030''" + urllib.parse.quote(NAME[:6].encode("gb18030"))
                                 + ";\r\n filename*1*=" + urllib.parse.quote(NAME[6:].encode("gb18030")),
    "rfc2047-gb2312-holding-gbk": examples.encoded_word(NAME.replace("教育", "敎育"), "GBK").replace("GBK", "gb2312"),
    "rfc2047-gb18030-q": f'attachment; filename="=?GB18030?Q?{_q(NAME, "gb18030")}?="',
    "rfc2047-utf8": examples.encoded_word(NAME, "UTF-8"),
    "unknown-charset": f"attachment; filename*=x-klingon''{urllib.parse.quote(NAME.encode())}",
}


@pytest.mark.parametrize("kind", DISPOSITIONS)
def test_attachment_names_decode_in_every_encoding(book, kind):
    items = arrivals_from_message(mail([(DISPOSITIONS[kind], XLSX, book)]), "t.eml")
    expected = NAME.replace("教育", "敎育") if "holding-gbk" in kind else NAME
    assert [(type(i), i.name) for i in items] == [(Arrival, expected)]
    assert items[0].data == book and items[0].sender == "tyjrswj@example.gov.cn"
    assert items[0].mail_date == dt.datetime(2024, 5, 8, 10, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_raw_8bit_gbk_names_and_broken_words_never_crash(book):
    raw = mail([("attachment; filename=\"NAME\"", XLSX, book)]).replace(b"NAME", NAME.encode("gbk"))
    assert [i.name for i in arrivals_from_message(raw, "t.eml")] == [NAME]
    broken = mail([('attachment; filename="=?utf-8?B?5Lic5bed@@@?=.xlsx"', XLSX, book),
                   ("attachment; filename*=utf-8''%E4%B8%9C%ZZ.xlsx", XLSX, book)], ident="m2")
    items = arrivals_from_message(broken, "t.eml")
    assert len(items) == 2 and all(isinstance(i, Arrival) and i.name.endswith(".xlsx") for i in items)
    garbage = arrivals_from_message(b"\xff\xfe\x00 not a mail \x00" * 50, "x.eml")
    assert [(i.name, i.reason) for i in garbage] == [("（邮件正文）", "邮件中没有电子表格附件")]


@pytest.mark.parametrize(("header", "expected"), [
    ("Date: Wed, 08 May 2024 10:00:00 +0800", dt.datetime(2024, 5, 8, 2, tzinfo=dt.UTC)),
    ("Date: 8 May 2024 02:00:00 -0000", dt.datetime(2024, 5, 8, 2, tzinfo=dt.UTC)),
    ("Date: 下周三", None),
    ("Date: Wed, 08 May 2999 10:00:00 +0800", None),  # a wrong clock is no evidence
    ("X-No-Date: 1", None),
])
def test_mail_date_is_parsed_or_none(book, header, expected):
    raw = mail([(examples.rfc2231(NAME), XLSX, book)]).replace(b"Date: Wed, 08 May 2024 10:00:00 +0800",
                                                              header.encode("utf-8"))
    assert arrivals_from_message(raw, "t.eml")[0].mail_date == expected


def test_lock_files_and_non_workbook_attachments_are_skipped_with_a_reason(book):
    raw = mail([(examples.rfc2231("~$自评填报表.xlsx"), XLSX, b"\x04owner"),
                (examples.rfc2231("签名.png"), "image/png", b"\x89PNG...."),
                (examples.rfc2231("材料.rar"), "application/octet-stream", b"Rar!...."),
                (examples.rfc2231(NAME), XLSX, book)])
    items = arrivals_from_message(raw, "t.eml")
    reasons = {i.name: i.reason for i in items if isinstance(i, Ignored)}
    assert "临时锁定文件" in reasons["~$自评填报表.xlsx"]
    assert reasons["签名.png"] == "不是电子表格文件（扩展名“.png”），已跳过"
    assert "不支持的压缩格式（.rar）" in reasons["材料.rar"]
    assert [i.name for i in items if isinstance(i, Arrival)] == [NAME]


# ------------------------------------------------------------------ zips


def test_windows_zip_names_in_cp936_without_the_utf8_flag(tmp_path, book):
    path = tmp_path / "报送材料.zip"
    path.write_bytes(examples.windows_zip({f"材料/{NAME}": book, "说明.txt": "说明".encode("gbk")}))
    with zipfile.ZipFile(path) as zf:
        assert not any(i.flag_bits & 0x800 for i in zf.infolist())
    items = list(read_sources([path]))
    assert [(type(i), i.name) for i in items] == [(Arrival, NAME), (Ignored, "说明.txt")]
    assert items[0].data == book and items[0].within == f"报送材料.zip › 材料/{NAME}"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_nested_zip_attached_to_a_mail(book):
    inner = _zip({NAME: book})
    outer = examples.windows_zip({"内层.zip": inner})
    items = arrivals_from_message(mail([(examples.rfc2231("外层.zip"), "application/zip", outer)]), "t.eml")
    assert [(i.name, i.within) for i in items] == [(NAME, f"外层.zip › 内层.zip › {NAME}")]
    assert items[0].data == book


def test_zip_bombs_and_deep_nesting_end_as_ignored_with_a_chinese_reason(tmp_path, book):
    bomb = tmp_path / "炸弹.zip"
    bomb.write_bytes(_zip({"a.xlsx": b"\0" * (4 * 2**20)}))
    limits = InboxLimits(max_total_bytes=2**20)
    [item] = read_sources([bomb], limits=limits)
    assert isinstance(item, Ignored) and "压缩炸弹" in item.reason
    many = tmp_path / "很多.zip"
    many.write_bytes(_zip({f"{n}.xlsx": b"x" for n in range(30)}))
    [item] = read_sources([many], limits=InboxLimits(max_entries=10))
    assert isinstance(item, Ignored) and "压缩炸弹" in item.reason
    deep = book
    for n in range(5):
        deep = _zip({f"{n}.zip" if n else NAME: deep})
    nested = tmp_path / "套娃.zip"
    nested.write_bytes(deep)
    items = list(read_sources([nested]))
    assert len(items) == 1 and isinstance(items[0], Ignored) and "嵌套超过 3 层" in items[0].reason
    big = tmp_path / "大.zip"  # one member beyond the size of a workbook: never inflated past it
    big.write_bytes(_zip({"a.xlsx": b"\0" * (4 * 2**20)}))
    [item] = read_sources([big], limits=InboxLimits(max_file_bytes=2**20))
    assert isinstance(item, Ignored) and "过大" in item.reason
    broken = tmp_path / "坏.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    [item] = read_sources([broken])
    assert isinstance(item, Ignored) and "已损坏" in item.reason


# ------------------------------------------------------------------ mailboxes


def test_mbox_and_maildir_are_read_message_by_message(tmp_path, book):
    first = mail([(examples.rfc2231("甲.xlsx"), XLSX, book)], ident="a")
    second = mail([(examples.encoded_word("乙.xlsx"), XLSX, book + b"")], ident="b",
                  date="Thu, 09 May 2024 10:00:00 +0800")
    box = tmp_path / "导出.mbox"
    box.write_bytes(b"".join(b"From x@y Thu May  9 10:00:00 2024\n" + m.replace(b"\r\n", b"\n") + b"\n"
                             for m in (first, second)))
    names = [(i.name, i.within) for i in read_sources([box])]
    assert names == [("甲.xlsx", "第1封邮件 › 甲.xlsx"), ("乙.xlsx", "第2封邮件 › 乙.xlsx")]
    maildir = tmp_path / "Maildir"
    for part in ("cur", "new", "tmp"):
        (maildir / part).mkdir(parents=True)
    (maildir / "cur" / "1715133600.M1P1.host:2,S").write_bytes(first)
    (maildir / "new" / "1715220000.M2P2.host").write_bytes(second)
    found = list(read_sources([tmp_path / "Maildir"]))
    assert sorted(i.name for i in found) == ["乙.xlsx", "甲.xlsx"]
    # a folder holding a Maildir reads it as mail, not as loose files
    assert sorted(i.name for i in read_sources([tmp_path]) if isinstance(i, Arrival)) == \
        ["乙.xlsx", "乙.xlsx", "甲.xlsx", "甲.xlsx"]


# ------------------------------------------------------------------ collect


def test_collect_stores_bytes_records_every_input_and_leaves_sources_untouched(tmp_path, book):
    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    (inbox / "a.eml").write_bytes(mail([(examples.rfc2231(NAME), XLSX, book),
                                        (examples.rfc2231("照片.jpg"), "image/jpeg", b"\xff\xd8\xff")]))
    (inbox / "b.eml").write_bytes(mail([(examples.rfc2231("再发一次.xlsx"), XLSX, book)], ident="m2"))
    (inbox / "坏的.xlsx").write_bytes(book[:2000])
    (inbox / "~$坏的.xlsx").write_bytes(b"\x04owner")
    before = tree_hashes(inbox)
    out = tmp_path / "output"
    result = collect([inbox], CAMPAIGN, out)
    assert tree_hashes(inbox) == before
    states = {(e.name, e.state) for e in result.entries}
    assert states == {(NAME, ACCEPTED), ("照片.jpg", SKIPPED), ("再发一次.xlsx", DUPLICATE),
                      ("坏的.xlsx", REJECTED), ("~$坏的.xlsx", SKIPPED)}
    accepted = next(e for e in result.entries if e.state == ACCEPTED)
    assert accepted.stored == out / STORE_DIR / sha(book) / NAME and accepted.stored.read_bytes() == book
    assert (accepted.dept_code, accepted.sender) == ("DC-TYJRSWJ", "tyjrswj@example.gov.cn")
    duplicate = next(e for e in result.entries if e.state == DUPLICATE)
    assert NAME in duplicate.reason and duplicate.stored == accepted.stored
    rejected = next(e for e in result.entries if e.state == REJECTED)
    assert "已损坏" in rejected.reason
    assert len(result.new) == len(result.entries) == 5
    # the manifest in round.sqlite
    conn = sqlite3.connect(out / "round.sqlite")
    rows = conn.execute("SELECT name, sha256, sender, mail_date, state FROM received ORDER BY id").fetchall()
    assert (NAME, sha(book), "tyjrswj@example.gov.cn", "2024-05-08T10:00:00+08:00", ACCEPTED) in rows
    # running again adds nothing
    again = collect([inbox], CAMPAIGN, out)
    assert again.new == [] and {(e.name, e.state) for e in again.entries} == states
    assert conn.execute("SELECT count(*) FROM received").fetchone()[0] == 5
    assert tree_hashes(inbox) == before


def test_resubmission_newest_by_mail_date_not_by_mtime_or_order(tmp_path):
    old, new = workbook(tmp_path), workbook(tmp_path, budget_note="已更正。")
    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    # the newer mail is found first, and its file is the older one on disk
    (inbox / "1.eml").write_bytes(mail([(examples.rfc2231("更正.xlsx"), XLSX, new)], ident="n",
                                       date="Thu, 09 May 2024 11:40:00 +0800"))
    (inbox / "2.eml").write_bytes(mail([(examples.rfc2231("初报.xlsx"), XLSX, old)], ident="o",
                                       date="Mon, 06 May 2024 09:15:00 +0800"))
    os.utime(inbox / "1.eml", (1_600_000_000, 1_600_000_000))
    out = tmp_path / "output"
    result = collect([inbox], CAMPAIGN, out)
    state = {e.name: e for e in result.entries}
    assert state["更正.xlsx"].state == ACCEPTED and state["初报.xlsx"].state == SUPERSEDED
    assert state["初报.xlsx"].reason == "已被较新的“更正.xlsx”（邮件日期 2024-05-09 11:40）替代"
    files = current_files(out / "round.sqlite")
    assert [f.name for f in files] == ["更正.xlsx"]
    # a later mail with a newer version: the earlier current one is superseded, and said so
    (inbox / "3.eml").write_bytes(mail([(examples.rfc2231("第三版.xlsx"), XLSX,
                                         workbook(tmp_path, budget_note="第三次。"))], ident="t",
                                       date="Fri, 10 May 2024 08:00:00 +0800"))
    later = collect([inbox], CAMPAIGN, out)
    assert [e.name for e in later.new] == ["第三版.xlsx"]
    assert [(e.name, e.state) for e in later.changed] == []  # 更正.xlsx was met again: it is in entries
    assert {e.name: e.state for e in later.entries}["更正.xlsx"] == SUPERSEDED
    assert [f.name for f in current_files(out / "round.sqlite")] == ["第三版.xlsx"]


def test_missing_dates_fall_back_to_arrival_order(tmp_path):
    first, second = workbook(tmp_path), workbook(tmp_path, budget_note="后到。")
    out = tmp_path / "output"
    undated = [("x1", mail([(examples.rfc2231("先.xlsx"), XLSX, first)], ident="1", date="unknown")),
               ("x2", mail([(examples.rfc2231("后.xlsx"), XLSX, second)], ident="2", date="unknown"))]
    result = collect([], CAMPAIGN, out, messages=undated)
    assert {e.name: e.state for e in result.entries} == {"先.xlsx": SUPERSEDED, "后.xlsx": ACCEPTED}
    assert "收取时间" in next(e for e in result.entries if e.name == "先.xlsx").reason


def test_toolkit_outputs_are_skipped_wherever_found_and_the_output_folder_never_scanned(tmp_path, book):
    from perf_toolkit.summary.scoresheet import write_scores

    out = tmp_path / "output"
    inbox = tmp_path / "收件箱"
    (inbox / "往年").mkdir(parents=True)
    (inbox / "单位.xlsx").write_bytes(book)
    marked = mark_workbook(book, [], file_name="单位.xlsx")
    (inbox / "往年" / "单位-审核意见.xlsx").write_bytes(marked)
    evaluation = evaluate_paths([inbox / "单位.xlsx"])
    write_scores(evaluation, inbox / "评分.xlsx")
    mailed = mail([(examples.rfc2231("审核意见.xlsx"), XLSX, marked)], ident="fb")
    first = collect([inbox, out], CAMPAIGN, out, messages=[("sent", mailed)])
    reasons = {e.name: e.reason for e in first.entries if e.state == SKIPPED}
    assert reasons["单位-审核意见.xlsx"] == "本工具生成的审核意见表，不是单位报送的填报表，已跳过"
    assert reasons["审核意见.xlsx"] == reasons["单位-审核意见.xlsx"]
    assert "评分表" in reasons["评分.xlsx"]
    assert "输出文件夹" in reasons["output"]
    # the output folder inside the inbox: never scanned, so its stored copies are not received twice
    nested_out = inbox / "output"
    collect([inbox], CAMPAIGN, nested_out)
    again = collect([inbox], CAMPAIGN, nested_out)
    assert all(STORE_DIR not in e.origin for e in again.entries) and again.new == []
    # a marked-up copy the department saved again is its submission
    saved_by_office(inbox / "往年" / "单位-审核意见.xlsx")
    assert [i for i in read_sources([inbox / "往年"]) if isinstance(i, Arrival)]


def test_sender_mismatch_is_noted_in_collect_and_found_by_the_check(tmp_path, book):
    out = tmp_path / "output"
    raw = mail([(examples.rfc2231(NAME), XLSX, book)], sender="王芳 <JYTYJ@example.gov.cn>")
    result = collect([], CAMPAIGN, out, messages=[("imap://x/INBOX;UID=1", raw)])
    [entry] = result.entries
    assert [f.code for f in entry.findings] == ["sender-mismatch"]
    assert "昆明市东川区教育体育局" in entry.findings[0].message
    files = current_files(out / "round.sqlite")
    evaluation = evaluate_paths([f.path for f in files], roster=ROSTER, submitted_at=submission_times(files),
                                senders=senders(files))
    found = [f for f in evaluation.findings if f.code == "sender-mismatch"]
    assert [(f.sheet, f.cell) for f in found] == [("单位信息", "B3")]


def test_check_decides_the_current_version_by_given_mail_dates(tmp_path):
    old, new = tmp_path / "旧.xlsx", tmp_path / "新.xlsx"
    old.write_bytes(workbook(tmp_path))
    new.write_bytes(workbook(tmp_path, budget_note="已更正。"))
    os.utime(new, (1_600_000_000, 1_600_000_000))  # the corrected file is the older one on disk
    by_mtime = evaluate_paths([old, new])
    assert by_mtime.files[1].superseded_by == str(old)
    mailed = {str(old): dt.datetime(2024, 5, 6, 9, 15, tzinfo=dt.timezone(dt.timedelta(hours=8))),
              str(new): dt.datetime(2024, 5, 9, 11, 40, tzinfo=dt.timezone(dt.timedelta(hours=8)))}
    by_date = evaluate_paths([old, new], submitted_at=mailed)
    assert by_date.files[0].superseded_by == str(new) and by_date.files[1].superseded_by is None
    [message] = [f.message for f in by_date.files[0].findings if f.code == "superseded"]
    assert "（邮件日期 2024-05-06 09:15:00）" in message and "新.xlsx" in message


def test_a_rejected_file_stays_current_until_its_sender_sends_a_readable_one(tmp_path, book):
    out = tmp_path / "output"
    broken = mail([(examples.rfc2231("坏.xlsx"), XLSX, book[:1000])], ident="b", date="Mon, 06 May 2024 09:00:00 +0800")
    collect([], CAMPAIGN, out, messages=[("m1", broken)])
    assert [(f.name, f.state) for f in current_files(out / "round.sqlite")] == [("坏.xlsx", REJECTED)]
    fixed = mail([(examples.rfc2231("好.xlsx"), XLSX, book)], ident="g", date="Tue, 07 May 2024 09:00:00 +0800")
    collect([], CAMPAIGN, out, messages=[("m2", fixed)])
    assert [(f.name, f.state) for f in current_files(out / "round.sqlite")] == [("好.xlsx", ACCEPTED)]


# ------------------------------------------------------------------ history and the CLI


def test_history_lists_versions_and_the_cells_that_changed(tmp_path):
    old, new = workbook(tmp_path), workbook(tmp_path, budget_note="已更正。", goal="新的年度目标")
    out = tmp_path / "output"
    collect([], CAMPAIGN, out, messages=[
        ("m1", mail([(examples.rfc2231("初报.xlsx"), XLSX, old)], ident="1", date="Mon, 06 May 2024 09:15:00 +0800")),
        ("m2", mail([(examples.rfc2231("更正.xlsx"), XLSX, new)], ident="2", date="Thu, 09 May 2024 11:40:00 +0800"))])
    found = versions(out / "round.sqlite", "DC-TYJRSWJ")
    assert [(v.name, v.state) for v in found] == [("初报.xlsx", SUPERSEDED), ("更正.xlsx", ACCEPTED)]
    changes = changed_cells(found[0].stored, found[1].stored)
    assert [(c.sheet, c.cell, c.new) for c in changes] == [("项目1", "D13", "已更正。"), ("项目1", "D14", "新的年度目标")]
    assert changes[0].old is None and changes[1].old == submission()["projects"][0]["goal"]
    result = CliRunner().invoke(cli, ["history", "DC-TYJRSWJ", "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0
    assert "昆明市东川区退役军人事务局（DC-TYJRSWJ）本轮共收到 2 份：" in result.output
    assert "2024-05-06 09:15" in result.output and "已被替代" in result.output
    assert "■ 第1份 → 第2份：改动了 2 个单元格" in result.output
    assert ["项目1", "D13", "（空）", "已更正。"] in [line.split() for line in result.output.splitlines()]
    missing = CliRunner().invoke(cli, ["history", "DC-NONE", "-o", str(out)])
    assert missing.exit_code == 2 and "没有收到单位编码为“DC-NONE”" in missing.output


def test_collect_command_prints_every_input_and_totals(tmp_path, book):
    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    (inbox / "a.eml").write_bytes(mail([(examples.rfc2231(NAME), XLSX, book)]))
    (inbox / "说明.docx").write_bytes(b"PK\x03\x04")
    out = tmp_path / "output"
    result = CliRunner().invoke(cli, ["collect", str(inbox), "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["状态", "文件", "来源", "发件人", "邮件日期", "单位", "说明"]
    assert any(line.split()[:3] == ["已接收", NAME, "a.eml"] and "2024-05-08 10:00" in line for line in lines)
    assert any(line.split()[:2] == ["已跳过", "说明.docx"] for line in lines)
    assert "合计：2 份（其中新收到 2 份）：已接收 1，已被替代 0，重复 0，无法读取 0，已跳过 1。" in result.output
    again = CliRunner().invoke(cli, ["collect", str(inbox), "-o", str(out)], catch_exceptions=False)
    assert "（其中新收到 0 份）" in again.output and "此前已收取" in again.output


def test_collect_command_on_the_example_inbox(tmp_path):
    out = tmp_path / "x"
    result = CliRunner().invoke(cli, ["collect", str(ROOT / "examples" / "inbox"), "--config",
                                      str(ROOT / "examples" / "perf.toml"), "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0
    assert "合计：7 份（其中新收到 7 份）：已接收 3，已被替代 1，重复 0，无法读取 1，已跳过 2。" in result.output
    assert "已被较新的“东川区农业农村局-自评填报表.xlsx”（邮件日期 2024-05-09 11:40）替代" in result.output
    history = CliRunner().invoke(cli, ["history", "DC-NYNCJ", "--config", str(ROOT / "examples" / "perf.toml"),
                                       "-o", str(out)], catch_exceptions=False)
    assert "■ 第1份 → 第2份：改动了 1 个单元格" in history.output
    assert history.output.splitlines()[-1].split() == ["单位信息", "B2", "2022", "2023"]


def test_imap_sources_need_the_password_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("PERF_TOOLKIT_MAIL_PASSWORD", raising=False)
    result = CliRunner().invoke(cli, ["collect", "imaps://czj@127.0.0.1/绩效自评", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "PERF_TOOLKIT_MAIL_PASSWORD" in result.output
    nothing = CliRunner().invoke(cli, ["collect", "-o", str(tmp_path / "o")])
    assert nothing.exit_code == 2 and "[mail]" in nothing.output


def test_a_collect_stopped_while_reading_identifies_the_file_next_time(tmp_path, book):
    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    (inbox / NAME).write_bytes(book)
    out = tmp_path / "output"

    def stopped(paths):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        collect([inbox], CAMPAIGN, out, reader=stopped)  # stored and recorded, not yet read
    again = collect([inbox], CAMPAIGN, out)
    assert [(e.name, e.state, e.dept_code) for e in again.entries] == [(NAME, ACCEPTED, "DC-TYJRSWJ")]
    assert [f.dept_code for f in current_files(out / "round.sqlite")] == ["DC-TYJRSWJ"]


def test_copies_are_written_together_yet_recorded_in_arrival_order_and_only_once_complete(tmp_path, monkeypatch):
    from perf_toolkit.mail import store

    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    books = {f"{i:02d}.xlsx": workbook(tmp_path, budget_note=f"第{i}版。") for i in range(20)}
    for name, data in books.items():
        (inbox / name).write_bytes(data)
    (inbox / "03再发.xlsx").write_bytes(books["03.xlsx"])  # the same bytes again, right behind: 03's copy in flight
    out = tmp_path / "output"
    real = store._store

    def failing(target, data):
        if data == books["12.xlsx"]:
            raise OSError(28, "No space left on device")
        real(target, data)

    monkeypatch.setattr(store, "_store", failing)
    with pytest.raises(OSError):
        collect([inbox], CAMPAIGN, out)
    recorded = [r[0] for r in sqlite3.connect(out / "round.sqlite").execute("SELECT name FROM received ORDER BY id")]
    assert recorded == sorted([*(f"{i:02d}.xlsx" for i in range(12)), "03再发.xlsx"])  # in order, none past the failure
    monkeypatch.undo()
    result = collect([inbox], CAMPAIGN, out)
    assert [e.name for e in result.entries] == sorted([*books, "03再发.xlsx"])
    assert {e.name: e.state for e in result.entries}["03再发.xlsx"] == DUPLICATE
    for e in result.entries:
        assert e.stored.read_bytes() == books[e.name.replace("再发", "")]
