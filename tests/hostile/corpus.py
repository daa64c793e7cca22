"""The hostile-input corpus (issue 11): every case built here in code, next to good files.

`build(folder)` writes an inbox of hostile and careless inputs beside two good workbooks, plus
submission JSON files named on the command line, and returns the cases. Each case says which
file(s) it wrote and a word its Chinese message must contain, so tests/test_hostile.py can run
every command over the lot and check each case was named, not crashed on.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from builders import (
    clean_submission,
    funds,
    of_department,
    standard_indicators,
    submission,
    text_cell,
    write_workbook,
)

GOOD = ("good-甲.xlsx", "good-乙.xlsx")
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


@dataclass(frozen=True)
class Case:
    name: str
    file: str  # the file's name in the inbox (or the JSON file's name), as the toolkit prints it
    kind: str  # "value" (read, with a finding), "file" (unreadable or skipped), "json" (named on the command line)


def _dept(n: int, data: dict) -> dict:
    return of_department(data, f"DC-H{n:03d}", f"测试单位{n:03d}")


def _workbook_cases() -> list[tuple[str, dict]]:
    """Submissions whose values are hostile: each is read, scored and reported with findings."""
    def ind(**kw):
        return submission(standard_indicators(**kw))

    long_name = "超长项目名称" * 40
    two_long = submission()
    two_long["projects"].append(copy.deepcopy(two_long["projects"][0]))
    for p in two_long["projects"]:
        p["name"] = long_name
    return [
        ("target-1e1000000", ind(target="1e1000000")),
        ("target-huge-exponent", ind(target="1e999999999999999999999")),
        ("actual-5000-digits", ind(actual="9" * 5000)),
        ("target-5000-decimals", ind(target="0." + "0" * 5000 + "1")),
        ("weight-negative", ind(weight=-5)),
        ("weight-1e400", ind(weight="1e400")),
        ("claimed-1e1000000", ind(claimed_score="1e1000000")),
        ("actual-nan-text", ind(actual="nan")),
        ("target-bad-date", ind(target="9999-99-99")),
        ("amount-1e1000000", submission(fund_rows=funds("1e1000000", 100, 100))),
        ("amount-negative", submission(fund_rows=funds(-100, -100, -90))),
        ("amount-beyond-any-budget", submission(fund_rows=funds(2e9, 2e9, 2e9))),
        ("amount-infinity-text", submission(fund_rows=funds("inf", "Infinity", 100))),
        ("name-forbidden-chars", submission(name='项目/\\:*?"<>|名称')),
        ("name-windows-reserved", submission(name="CON")),
        ("two-projects-long-identical-names", two_long),
        ("text-controls-bidi", submission(goal="目标\u202e反转\u200b零宽")),
        ("dept-code-total-label", of_department(submission(), "合计", "合计局")),
    ]


def _zip(path: Path, members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _rewrite(src: Path, dst: Path, change) -> None:
    """A copy of workbook `src` with some members changed by `change(name, data) -> {name: data}`."""
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for info in zi.infolist():
            for name, data in change(info.filename, zi.read(info)).items():
                zo.writestr(name, data)


def utf16_parts(src: Path, dst: Path, parts: str = "xl/worksheets/sheet") -> None:
    """A copy of workbook `src` whose XML parts starting with `parts` are saved in UTF-16 (valid XML)."""
    def change(n, d):
        if n.startswith(parts) and n.endswith((".xml", ".rels")):
            text = d.decode("utf-8")
            d = text.replace('encoding="UTF-8"', 'encoding="UTF-16"', 1).encode("utf-16")
        return {n: d}
    _rewrite(src, dst, change)


def moved_workbook_part(src: Path, dst: Path, to: str = "xl/main.xml") -> None:
    """A copy of workbook `src` whose workbook part is at `to`, found through _rels/.rels as Excel does;
    moved to another folder, its relationships point back to xl/ (the worksheets stay where they were)."""
    folder, _, name = to.rpartition("/")
    rels = f"{folder}/_rels/{name}.rels"
    back = "../" * to.count("/") + "xl/"

    def change(n, d):
        if n == "_rels/.rels":
            d = d.replace(b"xl/workbook.xml", to.encode())
        if n == "[Content_Types].xml":
            d = d.replace(b"/xl/workbook.xml", b"/" + to.encode())
        if n == "xl/workbook.xml":
            return {to: d}
        if n == "xl/_rels/workbook.xml.rels":
            if folder != "xl":
                d = re.sub(rb'Target="(?!/)', b'Target="' + back.encode(), d)
            return {rels: d}
        return {n: d}
    _rewrite(src, dst, change)


def _file_cases(inbox: Path, template: Path, outside: Path) -> list[Case]:
    """Files that are no workbook, damaged or hostile containers, links and pipes: each rejected or skipped."""
    cases: list[Case] = []

    def add(name: str, file: str, write, kind: str = "file") -> None:
        write(inbox / file)
        cases.append(Case(name, file, kind))

    add("empty", "空文件.xlsx", lambda p: p.write_bytes(b""))
    add("random-bytes", "乱码.xlsx", lambda p: p.write_bytes(os.urandom(3000)))
    add("truncated-zip", "截断.xlsx", lambda p: p.write_bytes(template.read_bytes()[:2000]))
    add("plain-zip", "普通压缩包.xlsx", lambda p: _zip(p, {"readme.txt": b"hello"}))
    add("docx-renamed", "文档改名.xlsx", lambda p: _zip(p, {"[Content_Types].xml": b"<Types/>",
                                                        "word/document.xml": b"<w:document/>"}))
    add("html-renamed", "网页.xls", lambda p: p.write_bytes(b"<html><body><table><tr><td>1</td></tr></table>"
                                                            b"</body></html>"))
    add("csv-renamed", "表格.xlsx", lambda p: p.write_bytes("单位编码,单位名称\nA,甲\n".encode("gbk")))
    add("pdf-renamed", "扫描件.xlsx", lambda p: p.write_bytes(b"%PDF-1.7\n" + os.urandom(500)))
    add("ole2-garbage", "旧格式.xls", lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)))
    add("zip-bomb", "压缩炸弹.xlsx", lambda p: _zip(p, {"xl/workbook.xml": b"<workbook/>",
                                                     "xl/worksheets/sheet1.xml": b"<a>" + b" " * 30 * 2**20 + b"</a>"}))
    add("many-members", "成员过多.xlsx", lambda p: _zip(p, {"xl/workbook.xml": b"<workbook/>",
                                                        **{f"x/{i}.xml": b"" for i in range(1500)}},
                                                     zipfile.ZIP_STORED))
    add("traversal-member", "路径穿越.xlsx", lambda p: _zip(p, {"xl/workbook.xml": b"<workbook/>",
                                                          "../../evil.xml": b"<x/>", "/etc/passwd": b"x"}))

    def entity_bomb(p: Path) -> None:
        bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
                + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
                + ']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                '<row r="1"><c r="A1" t="inlineStr"><is><t>&i;</t></is></c></row></sheetData></worksheet>')
        _rewrite(template, p, lambda n, d: {n: bomb.encode() if n == "xl/worksheets/sheet1.xml" else d})
    add("xml-entity-bomb", "实体炸弹.xlsx", entity_bomb)

    def far_cell(p: Path) -> None:
        def change(n, d):
            if n == "xl/worksheets/sheet1.xml":
                d = d.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')
            return {n: d}
        _rewrite(template, p, change)
    add("far-cell", "远端单元格.xlsx", far_cell)

    def sheets_on_one_part(count: int):
        def write(p: Path) -> None:  # `count` more sheets, all pointing at 项目1's sheet part
            def change(n, d):
                if n == "xl/workbook.xml":
                    rid = re.search('name="项目1"[^>]*r:id="(rId\\d+)"', d.decode())[1]
                    sheets = "".join(f'<sheet xmlns:r="{R_NS}" name="复制{i}" sheetId="{i + 100}" r:id="{rid}"/>'
                                     for i in range(count))
                    d = d.replace(b"</sheets>", sheets.encode() + b"</sheets>")
                return {n: d}
            _rewrite(template, p, change)
        return write
    add("3000-sheets-one-part", "三千张表.xlsx", sheets_on_one_part(3000))
    add("sheets-sharing-a-part", "共用表格内容.xlsx", sheets_on_one_part(2))

    def huge_text(p: Path) -> None:  # 3 million characters (≈ 9 MB) in 预期目标; Excel would hold 32,767
        p.write_bytes(template.read_bytes())
        text_cell(p, "项目1", "D14", "".join(random.Random(11).choices("预算绩效目标完成情况资金拨付项目", k=3_000_000)))
    add("text-3m-chars-cell", "超长文字.xlsx", huge_text, kind="value")
    add("utf16-sheets", "UTF16.xlsx", lambda p: utf16_parts(template, p), kind="value")
    add("workbook-part-moved", "工作簿换位置.xlsx", lambda p: moved_workbook_part(template, p), kind="value")

    def duplicate_sheets(p: Path) -> None:
        def change(n, d):
            if n == "xl/workbook.xml":
                d = d.replace("name=\"填报说明\"".encode(), "name=\"单位信息\"".encode())
            return {n: d}
        _rewrite(template, p, change)
    add("duplicate-sheet-names", "重名工作表.xlsx", duplicate_sheets)
    add("lock-file", "~$good-甲.xlsx", lambda p: p.write_bytes(b"\x00" * 162))
    add("hidden-file", ".隐藏.xlsx", lambda p: p.write_bytes(template.read_bytes()))
    add("fifo", "管道.xlsx", lambda p: os.mkfifo(p))
    add("symlink-dev-zero", "零设备.xlsx", lambda p: os.symlink("/dev/zero", p))
    add("symlink-outside", "外部链接.xlsx", lambda p: os.symlink(outside, p))
    add("symlink-broken", "断开的链接.xlsx", lambda p: os.symlink(inbox / "不存在.xlsx", p))
    add("symlink-loop", "循环链接.xlsx", lambda p: (os.symlink(p.with_name("循环链接2.xlsx"), p),
                                                 os.symlink(p, p.with_name("循环链接2.xlsx"))))
    add("not-a-workbook-suffix", "说明.txt", lambda p: p.write_text("请查收", encoding="utf-8"))
    add("rar-archive", "打包.rar", lambda p: p.write_bytes(b"Rar!\x1a\x07\x00" + bytes(100)))
    return cases


def _mail_cases(inbox: Path, template: Path) -> list[Case]:
    """Mails, mailboxes and zips around workbooks: hostile names, broken encodings, nesting."""
    cases: list[Case] = []
    good = template.read_bytes()

    def eml(file: str, name: str, body: str) -> None:
        (inbox / file).write_bytes(body.encode("utf-8", "surrogateescape"))
        cases.append(Case(name, file, "file"))

    import base64
    attachment = base64.b64encode(good).decode()
    eml("穿越附件名.eml", "eml-traversal-attachment-name",
        "From: a@b.cn\r\nSubject: =?utf-8?b?5oql6YCB?=\r\nDate: Mon, 1 Apr 2024 10:00:00 +0800\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\n"
        "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"../../../etc/x.xlsx\"\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{attachment}\r\n--X--\r\n")
    eml("坏编码.eml", "eml-broken-base64-and-headers",
        "From: =?gb2312?b?!!!?= <>\r\nSubject: =?x-unknown?q?=FF?=\r\nDate: not a date\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=Y\r\n\r\n--Y\r\n"
        "Content-Type: application/vnd.ms-excel; name=\"=?utf-8?b?////?=\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n@@@not base64@@@\r\n--Y")
    eml("没有附件.eml", "eml-no-attachment", "From: a@b.cn\r\nSubject: hi\r\n\r\njust text\r\n")
    # found by fuzz/fuzz_mail.py (atheris): a charset name holding NUL bytes made the header decoder raise
    eml("字符集含空字节.eml", "eml-charset-with-nul",
        "From: =?\0\0\0\0gb2312?b?!!!?= <a@b.cn>\r\nSubject: =?\0utf-8?q?=FF?=\r\n\r\ntext\r\n")
    (inbox / "空邮箱.mbox").write_bytes(b"")  # found by fuzz/fuzz_mail.py: no "From " line made the split raise
    cases.append(Case("mbox-empty", "空邮箱.mbox", "file"))
    # found by fuzz/fuzz_mail.py: zlib.error escaped, from a zip's member and from a workbook's [Content_Types].xml (the
    # check for the toolkit's own outputs, also run on every workbook in a folder)
    (inbox / "坏压缩数据.zip").write_bytes(broken_deflate({"单位填报表.xlsx": good}, "单位填报表.xlsx"))
    cases.append(Case("zip-member-bad-deflate", "坏压缩数据.zip", "file"))
    with zipfile.ZipFile(template) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    (inbox / "类型部件损坏.xlsx").write_bytes(broken_deflate(parts, "[Content_Types].xml"))
    cases.append(Case("workbook-content-types-bad-deflate", "类型部件损坏.xlsx", "file"))
    # found by fuzz/fuzz_mail.py: an empty zip (or one of dot files and __MACOSX only) was listed nowhere
    _zip(inbox / "空压缩包.zip", {})
    cases.append(Case("zip-empty", "空压缩包.zip", "file"))
    _zip(inbox / "苹果附加文件.zip", {"__MACOSX/._表.xlsx": b"\0\5\26\7", ".DS_Store": b"Bud1"})
    cases.append(Case("zip-macos-files-only", "苹果附加文件.zip", "file"))
    # found by fuzz/fuzz_mail.py: a member with an empty name made zipfile's is_dir() raise
    (inbox / "无名成员.zip").write_bytes(unnamed_member_zip(b"PK\3\4"))
    cases.append(Case("zip-member-empty-name", "无名成员.zip", "file"))
    # found by fuzz/fuzz_mail.py: a raw 8-bit byte in an RFC 2231 file name (filename*=) made its decoding raise
    eml("文件名含原始字节.eml", "eml-rfc2231-name-raw-8bit",
        "From: a@b.cn\r\nSubject: hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=W\r\n\r\n"
        "--W\r\nContent-Type: application/octet-stream\r\n"
        "Content-Disposition: attachment; filename*=UTF-8''%E4%B8%9C\udcb8%E5.xlsx\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{attachment}\r\n--W--\r\n")
    (inbox / "截断.mbox").write_bytes(b"From a@b.cn Mon Apr  1 10:00:00 2024\nFrom: a@b.cn\nContent-Type: multipart/mixed; "
                                      b"boundary=Z\n\n--Z\nContent-Type: application/zip\n\nPK\x03\x04")
    cases.append(Case("mbox-truncated", "截断.mbox", "file"))
    import io
    inner = io.BytesIO()
    _zip(inner, {"../逃逸.xlsx": b"PK\x03\x04 broken", "正常/坏.xlsx": b"PK\x03\x04 broken"})
    nested = inner.getvalue()
    for _ in range(6):
        buffer = io.BytesIO()
        _zip(buffer, {"nested.zip": nested})
        nested = buffer.getvalue()
    (inbox / "深层嵌套.zip").write_bytes(nested)
    cases.append(Case("zip-nested-deep", "深层嵌套.zip", "file"))
    bomb = io.BytesIO()
    _zip(bomb, {"炸弹.xlsx": b"\0" * 60 * 2**20})
    (inbox / "压缩包炸弹.zip").write_bytes(bomb.getvalue())
    cases.append(Case("zip-of-bomb", "压缩包炸弹.zip", "file"))
    return cases


def broken_deflate(members: dict[str, bytes], broken: str) -> bytes:
    """A zip of `members` deflated, the deflate stream of member `broken` starting with a block of the reserved
    type (binary 11): the zip's directory is sound, decompressing that member fails (zlib.error)."""
    import io
    buffer = io.BytesIO()
    _zip(buffer, members)
    data = bytearray(buffer.getvalue())
    offset = zipfile.ZipFile(buffer).getinfo(broken).header_offset
    name_len, extra_len = struct.unpack("<HH", data[offset + 26:offset + 30])
    data[offset + 30 + name_len + extra_len] |= 0b110  # BTYPE = 11: "invalid block type"
    return bytes(data)


def unnamed_member_zip(data: bytes) -> bytes:
    """A stored zip of one member whose name is empty (zipfile cannot write one), built byte by byte."""
    import zlib
    crc, n = zlib.crc32(data), len(data)
    local = struct.pack("<4s5H3L2H", b"PK\3\4", 20, 0, 0, 0, 0, crc, n, n, 0, 0) + data
    central = struct.pack("<4s6H3L5H2L", b"PK\1\2", 20, 20, 0, 0, 0, 0, crc, n, n, 0, 0, 0, 0, 0, 0, 0)
    end = struct.pack("<4s4H2LH", b"PK\5\6", 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + end


def _json_cases(folder: Path) -> list[Case]:
    """Submission JSON files, named on the command line (a folder scan reads only workbooks)."""
    base = json.dumps(of_department(submission(), "DC-JSON", "JSON测试单位"), ensure_ascii=True)
    texts = {
        "json-deep-200000": "[" * 200_000 + "]" * 200_000,
        "json-5000-digit-int": base.replace('"year": 2023', '"year": ' + "9" * 5000),
        "json-5000-digit-amount": base.replace('"initial_budget": 100', '"initial_budget": ' + "7" * 5000),
        "json-lone-surrogate": base.replace(json.dumps("JSON测试单位", ensure_ascii=True),
                                            '"\\ud800\\u0000\\u001f名"'),
        "json-nan-infinity": base.replace('"initial_budget": 100', '"initial_budget": NaN')
                                 .replace('"executed": 100', '"executed": Infinity'),
        "json-not-an-object": "[1, 2, 3]",
        "json-wrong-schema": json.dumps({"schema": "other/v9"}),
        "json-lists-for-objects": json.dumps({**json.loads(base), "department": [1, 2], "projects": {"a": 1}}),
        "json-syntax-error": base[:-10],
        "json-bool-year": base.replace('"year": 2023', '"year": true'),
    }
    cases = []
    for name, text in texts.items():
        (folder / f"{name}.json").write_text(text, encoding="utf-8")
        cases.append(Case(name, f"{name}.json", "json"))
    (folder / "json-not-utf8.json").write_bytes(base.replace("昆明", "??").encode("utf-8") + "\n昆明".encode("gbk"))
    cases.append(Case("json-not-utf8", "json-not-utf8.json", "json"))
    return cases


def build(folder: Path) -> tuple[Path, Path, list[Case]]:
    """(inbox, json folder, cases): the inbox holds the good workbooks and every file case."""
    inbox, json_dir, spare = folder / "收件箱", folder / "json", folder / "外部"
    for d in (inbox, json_dir, spare):
        d.mkdir(parents=True)
    write_workbook(inbox, GOOD[0], clean_submission())
    write_workbook(inbox, GOOD[1], of_department(submission(), "DC-GOOD2", "昆明市东川区第二好单位"))
    template = write_workbook(spare, "模板.xlsx", _dept(0, submission()))
    outside = write_workbook(spare, "外部.xlsx", _dept(999, submission()))
    cases = []
    for n, (name, data) in enumerate(_workbook_cases(), start=1):
        file = f"{name}.xlsx"
        write_workbook(inbox, file, data if data["department"]["code"] == "合计" else _dept(n, data))
        cases.append(Case(name, file, "value"))
    cases += _file_cases(inbox, template, outside)
    cases += _mail_cases(inbox, template)
    raw = os.path.join(os.fsencode(inbox), "单位填报".encode("gbk") + b".xlsx")
    with open(raw, "wb") as fh:
        fh.write(template.read_bytes())
    cases.append(Case("non-utf8-file-name", "单位填报.xlsx", "file"))
    long = "很长的文件名" * 13 + ".xlsx"  # 239 bytes: with a temp suffix beyond 255
    write_workbook(inbox, long, _dept(500, submission()))
    cases.append(Case("file-name-239-bytes", long, "value"))
    cases += _json_cases(json_dir)
    return inbox, json_dir, cases


def snapshot(folder: Path) -> dict[str, tuple[str, bytes | str]]:
    """Every entry under `folder` as it is (links not followed, pipes not opened): to prove nothing changed."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            if os.path.islink(path):
                out[path] = ("link", os.readlink(path))
            elif os.path.isfile(path):
                with open(path, "rb") as fh:
                    out[path] = ("file", fh.read())
            else:
                out[path] = ("other", str(struct.pack("<I", st.st_mode & 0o170000)))
    return out
