"""Hostile and ordinary files through perf_toolkit.workbook.guard, each built here with its expected outcome."""

from __future__ import annotations

import datetime as dt
import hashlib
import mmap
import os
import random
import re
import struct
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.workbook.defined_name import DefinedName as OpxName

from perf_toolkit.workbook import guard
from perf_toolkit.workbook.guard import (
    DefinedName,
    Limits,
    RawWorkbook,
    Rejection,
    check_container,
    load_raw,
    load_raw_many,
    sniff,
)

SMALL = Limits(memory_bytes=1 * 2**30, wall_seconds=30)

# ------------------------------------------------------------------ fixtures built in code


def normal_workbook(path: Path) -> Path:
    """The ordinary case: names of both scopes, merges, a formula, an error, dates, rich text, a hidden sheet."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "项目1"
    ws["A1"] = "项目名称"
    ws["B1"] = "  社区退役军人服务站建设 "
    ws["A2"] = "全年预算数"
    ws["B2"] = 120.0
    ws["C2"] = 0
    ws["D2"] = 95.5
    ws["E2"] = True
    ws["B3"] = "=B2*C2"
    ws["C3"] = "#DIV/0!"
    ws["C3"].data_type = "e"
    ws["B4"] = dt.date(2024, 4, 28)
    ws["C4"] = dt.datetime(2024, 5, 8, 14, 30)
    ws["B5"] = CellRichText(["完成", TextBlock(InlineFont(b=True), "率"), "≥95%"])
    ws.merge_cells("A7:C8")
    ws["A7"] = "合并"
    hidden = wb.create_sheet("参数")
    hidden.sheet_state = "hidden"
    hidden["A1"] = "pt_version"
    wb.defined_names["pt_project_name"] = OpxName("pt_project_name", attr_text="'项目1'!$B$1")
    ws.defined_names["pt_budget"] = OpxName("pt_budget", attr_text="'项目1'!$B$2:$D$2")
    wb.save(path)
    return path


_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_RELS_NS = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def raw_xlsx(path: Path, sheet_xml: str, shared: str = "", date1904: bool = False, extra: dict | None = None) -> Path:
    """An xlsx written part by part, for what openpyxl never writes (prefixes, missing r=, shared rich text)."""
    parts = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>',
        "_rels/.rels": f'<Relationships {_RELS_NS}><Relationship Id="rId1" '
        f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook {_NS} xmlns:r="{_REL}"><workbookPr date1904="{int(date1904)}"/>'
        '<sheets><sheet name="数据" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships {_RELS_NS}>'
        f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="/xl/worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
        f'<Relationship Id="rId3" Type="{_REL}/styles" Target="styles.xml"/></Relationships>',
        "xl/styles.xml": f'<styleSheet {_NS}><fonts count="1"><font/></fonts><fills count="1"><fill/></fills>'
        '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>',
        "xl/sharedStrings.xml": f"<sst {_NS}>{shared}</sst>",
        "xl/worksheets/sheet1.xml": sheet_xml,
        **(extra or {}),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return path


def minimal_ods(path: Path, table: str, names: str = "") -> Path:
    """An ODS by hand: the mimetype member first and stored, then one content.xml."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{table}{names}</office:spreadsheet></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("META-INF/manifest.xml",
                    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                    '<manifest:file-entry manifest:full-path="/" '
                    'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>')
        zf.writestr("content.xml", content)
    return path


def cfb(path: Path, streams: list[str]) -> Path:
    """A minimal but well-formed OLE2 compound file: header, one FAT sector, one directory sector."""
    end, free, nostream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFF
    header = bytearray(b"\xff" * 512)
    header[:76] = bytes(76)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)  # versions, byte order, 512-byte sectors
    struct.pack_into("<IIIIIIII", header, 44, 1, 1, 0, 4096, end, 0, end, 0)  # 1 FAT sector; directory at 1
    struct.pack_into("<I", header, 76, 0)  # DIFAT[0]: the FAT is sector 0
    fat = struct.pack("<II", 0xFFFFFFFD, end) + struct.pack("<I", free) * 126
    directory = b""
    entries = [("Root Entry", 5)] + [(s, 2) for s in streams]
    for i, (name, kind) in enumerate(entries + [("", 0)] * (4 - len(entries))):
        entry = bytearray(128)
        raw = (name + "\0").encode("utf-16-le") if name else b""
        entry[: len(raw)] = raw
        right = i + 1 if 0 < i < len(entries) - 1 else nostream
        child = 1 if i == 0 and len(entries) > 1 else nostream
        struct.pack_into("<HBBIII", entry, 64, len(raw), kind, 1, nostream, right, child)
        struct.pack_into("<IQ", entry, 116, end, 0)  # start sector, size
        directory += entry
    path.write_bytes(bytes(header) + fat + directory)
    return path


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def rejected(result: object, *words: str) -> Rejection:
    assert isinstance(result, Rejection), result
    for word in words:
        assert word in result.reason + result.advice, result
    return result


# ------------------------------------------------------------------ ordinary workbooks


def test_load_raw_normal_workbook_values_names_formulas_errors(tmp_path):
    path = normal_workbook(tmp_path / "正常.xlsx")
    book = load_raw(path, SMALL)
    assert isinstance(book, RawWorkbook) and book.format == "xlsx"
    assert [s.name for s in book.sheets] == ["项目1", "参数"]
    sheet = book.sheet("项目1")
    assert sheet.cells[(1, 2)] == "  社区退役军人服务站建设 "  # kept exactly as typed
    assert sheet.cells[(2, 2)] == 120 and type(sheet.cells[(2, 2)]) is int
    assert sheet.cells[(2, 3)] == 0 and type(sheet.cells[(2, 3)]) is int
    assert sheet.cells[(2, 4)] == 95.5 and sheet.cells[(2, 5)] is True
    assert sheet.formulas == {(3, 2)} and (3, 2) not in sheet.cells
    assert sheet.errors == {(3, 3): "#DIV/0!"} and (3, 3) not in sheet.cells
    assert sheet.cells[(4, 2)] == dt.date(2024, 4, 28)
    assert sheet.cells[(4, 3)] == dt.datetime(2024, 5, 8, 14, 30)
    assert sheet.cells[(5, 2)] == "完成率≥95%"
    assert sheet.merged == [(7, 1, 8, 3)]
    assert not sheet.hidden and book.sheet("参数").hidden
    assert sheet.outside_count == 0 and sheet.outside_first is None
    assert set(book.names) == {DefinedName("pt_project_name", None, "'项目1'!$B$1"),
                               DefinedName("pt_budget", "项目1", "'项目1'!$B$2:$D$2")}


def test_load_raw_openpyxl_fallback_matches_calamine(tmp_path, monkeypatch):
    path = normal_workbook(tmp_path / "a.xlsx")
    by_calamine = load_raw(path, isolate=False)
    monkeypatch.setattr(guard, "CALAMINE_CELL_BUDGET", 0)  # every sheet too big for calamine
    by_openpyxl = load_raw(path, isolate=False)
    assert by_openpyxl == by_calamine


def test_load_raw_xlsxwriter_cached_zero_is_a_formula_and_rich_string_joined(tmp_path):
    path = tmp_path / "xw.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("项目1")
    ws.write_number("A1", 3)
    ws.write_formula("B1", "=A1*2")  # xlsxwriter caches 0 here
    ws.write_rich_string("A2", "偏差", wb.add_format({"bold": True}), "原因", "分析")
    ws.write_string("A3", "=不是公式")
    wb.close()
    sheet = load_raw(path, isolate=False).sheet("项目1")
    assert sheet.cells == {(1, 1): 3, (2, 1): "偏差原因分析", (3, 1): "=不是公式"}
    assert sheet.formulas == {(1, 2)}


def test_load_raw_handwritten_parts_prefixes_missing_refs_shared_rich_text(tmp_path):
    shared = ('<si><r><rPr><b/></rPr><t>红</t></r><r><t xml:space="preserve">色 </t></r></si>'
              "<si><t>普通文本</t></si>")
    sheet_xml = (
        '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>'
        '<x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="B1" t="s"><x:v>1</x:v></x:c>'
        '<x:c r="C1" t="inlineStr"><x:is><x:t>内联</x:t></x:is></x:c></x:row>'
        '<x:row><x:c t="b"><x:v>1</x:v></x:c><x:c t="b"><x:v>0</x:v></x:c><x:c t="e"><x:v>#REF!</x:v></x:c>'
        '<x:c><x:f>1+1</x:f><x:v>2</x:v></x:c><x:c s="1"><x:v>45410</x:v></x:c></x:row>'
        '<x:row r="4"><x:c r="B4" s="1"/></x:row>'  # formatted but empty: not data
        '</x:sheetData><x:mergeCells count="1"><x:mergeCell ref="A5:B6"/></x:mergeCells></x:worksheet>'
    )
    path = raw_xlsx(tmp_path / "raw.xlsx", sheet_xml, shared)
    sheet = load_raw(path, isolate=False).sheet("数据")
    assert sheet.cells == {(1, 1): "红色 ", (1, 2): "普通文本", (1, 3): "内联", (2, 1): True, (2, 2): False,
                           (2, 5): dt.date(2024, 4, 28)}
    assert sheet.errors == {(2, 3): "#REF!"} and sheet.formulas == {(2, 4)}
    assert sheet.merged == [(5, 1, 6, 2)]


def test_load_raw_date1904_system(tmp_path):
    sheet_xml = f'<worksheet {_NS}><sheetData><row r="1"><c r="A1" s="1"><v>366</v></c><c r="B1" s="1"><v>43948</v></c></row></sheetData></worksheet>'
    path = raw_xlsx(tmp_path / "mac.xlsx", sheet_xml, date1904=True)
    assert load_raw(path, isolate=False).sheet("数据").cells == {(1, 1): dt.date(1905, 1, 1), (1, 2): dt.date(2024, 4, 28)}


def test_load_raw_outside_area_counted_not_read(tmp_path):
    path = normal_workbook(tmp_path / "a.xlsx")
    sheet = load_raw(path, Limits(max_rows=4, max_cols=2), isolate=False).sheet("项目1")
    assert set(sheet.cells) == {(1, 1), (1, 2), (2, 1), (2, 2), (4, 2)} and sheet.formulas == {(3, 2)}
    assert sheet.errors == {}  # C3 lies outside
    assert sheet.outside_count == 7 and sheet.outside_first == "C2"  # C2 D2 E2 C3 C4 B5 A7
    assert sheet.merged == []


def test_load_raw_value_at_xfd1048576_read_within_area_parent_survives(tmp_path):
    path = normal_workbook(tmp_path / "far.xlsx")
    wb = openpyxl.load_workbook(path)
    wb["项目1"]["XFD1048576"] = "很远"
    wb.save(path)
    book = load_raw(path, Limits(memory_bytes=1 * 2**30, wall_seconds=30))
    sheet = book.sheet("项目1")
    assert sheet.cells[(1, 2)] == "  社区退役军人服务站建设 " and sheet.formulas == {(3, 2)}
    assert sheet.outside_count == 1 and sheet.outside_first == "XFD1048576"


def test_load_raw_input_bytes_and_mtime_unchanged(tmp_path):
    path = normal_workbook(tmp_path / "a.xlsx")
    before = fingerprint(path)
    assert isinstance(load_raw(path, SMALL), RawWorkbook)
    assert isinstance(load_raw(path, isolate=False), RawWorkbook)
    assert fingerprint(path) == before


def test_load_raw_ods_values_and_named_range(tmp_path):
    text = '<table:table-cell office:value-type="string"><text:p>{}</text:p></table:table-cell>'
    number = '<table:table-cell office:value-type="float" office:value="{0}"><text:p>{0}</text:p></table:table-cell>'
    table = ('<table:table table:name="项目1"><table:table-row>' + text.format("项目名称") + number.format("120")
             + "</table:table-row><table:table-row><table:table-cell/>" + number.format("95.5")
             + "</table:table-row></table:table>")
    names = ('<table:named-expressions><table:named-range table:name="pt_budget" '
             'table:base-cell-address="$项目1.$B$1" table:cell-range-address="$项目1.$B$1:.$B$2"/>'
             "</table:named-expressions>")
    path = minimal_ods(tmp_path / "表.xls", table, names)  # extension lies on purpose
    assert sniff(path) == "ods"
    book = load_raw(path, SMALL)
    assert book.format == "ods"
    assert book.sheet("项目1").cells == {(1, 1): "项目名称", (1, 2): 120, (2, 2): 95.5}
    assert book.names == [DefinedName("pt_budget", None, "'项目1'!$B$1:$B$2")]


# ------------------------------------------------------------------ sniffing


def test_sniff_by_content_not_extension(tmp_path):
    assert sniff(normal_workbook(tmp_path / "改名.xls")) == "xlsx"
    macro = raw_xlsx(tmp_path / "m.xlsx", f"<worksheet {_NS}/>", extra={"xl/vbaProject.bin": b"\0" * 64})
    assert sniff(macro) == "xlsm"
    xlsb = tmp_path / "b.xlsx"
    with zipfile.ZipFile(xlsb, "w") as zf:
        zf.writestr("xl/workbook.bin", b"\x83\x01\x00")
    assert sniff(xlsb) == "xlsb"
    rejected(load_raw(xlsb, SMALL), "文件内容已损坏")  # sniffed as xlsb, broken inside: rejected in the child


def test_sniff_empty_file(tmp_path):
    (tmp_path / "空.xlsx").write_bytes(b"")
    rejected(sniff(tmp_path / "空.xlsx"), "空的")


def test_sniff_too_big(tmp_path):
    path = tmp_path / "大.xlsx"
    path.write_bytes(b"PK\x03\x04" + bytes(3000))
    rejected(load_raw(path, Limits(max_file_bytes=2000)), "超过", "MB")


def test_sniff_random_bytes(tmp_path):
    path = tmp_path / "乱码.xlsx"
    path.write_bytes(random.Random(7).randbytes(5000))
    rejected(load_raw(path, SMALL), "无法识别")


def test_sniff_docx_renamed_xlsx(tmp_path):
    import docx

    path = tmp_path / "自评报告.xlsx"
    docx.Document().save(path)
    rejected(load_raw(path, SMALL), "Word")


def test_sniff_html_renamed_xls(tmp_path):
    path = tmp_path / "导出.xls"
    path.write_text('<html xmlns:x="urn:schemas-microsoft-com:office:excel"><body><table><tr><td>项目</td></tr>'
                    "</table></body></html>", encoding="utf-8")
    rejected(load_raw(path, SMALL), "网页", "另存为")


def test_sniff_csv_renamed_xlsx_utf8_and_gbk(tmp_path):
    for encoding in ("utf-8-sig", "gbk"):
        path = tmp_path / f"{encoding}.xlsx"
        path.write_bytes("项目名称,全年预算数\n社区服务站,120\n".encode(encoding))
        rejected(load_raw(path, SMALL), "CSV")


def test_sniff_pdf_image_rar(tmp_path):
    for name, head, word in (("a.xlsx", b"%PDF-1.7\n", "PDF"), ("b.xlsx", b"\x89PNG\r\n\x1a\n", "图片"),
                             ("c.xlsx", b"Rar!\x1a\x07\x01\x00", "压缩包")):
        (tmp_path / name).write_bytes(head + bytes(100))
        rejected(sniff(tmp_path / name), word)


def test_sniff_ole2_encrypted_workbook(tmp_path):
    path = cfb(tmp_path / "加密.xlsx", ["EncryptionInfo", "EncryptedPackage"])
    result = rejected(load_raw(path, SMALL), "打开密码", "取消密码后另存为 .xlsx")
    assert result == guard.ENCRYPTED


def test_sniff_ole2_kinds(tmp_path):
    assert sniff(cfb(tmp_path / "old.xlsx", ["Workbook"])) == "xls"
    rejected(sniff(cfb(tmp_path / "old.doc", ["WordDocument"])), "Word")
    # the name as data at an offset that cannot be a directory entry does not count
    unaligned = tmp_path / "text.xls"
    data = cfb(tmp_path / "plain.xls", ["Workbook"]).read_bytes() + b"\0" * 3 + "EncryptionInfo\0".encode("utf-16-le")
    unaligned.write_bytes(data)
    assert sniff(unaligned) == "xls"
    rejected(load_raw(tmp_path / "old.xlsx", SMALL), "没有可读取的工作表")  # an empty Workbook stream


def test_sniff_truncated_zip(tmp_path):
    data = normal_workbook(tmp_path / "a.xlsx").read_bytes()
    path = tmp_path / "截断.xlsx"
    path.write_bytes(data[: len(data) // 2])
    rejected(load_raw(path, SMALL), "损坏或不完整")


def test_sniff_plain_zip_is_not_a_workbook(tmp_path):
    path = tmp_path / "材料.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("自评表.xlsx", b"PK")
        zf.writestr("说明.txt", "见附件")
    rejected(load_raw(path, SMALL), "zip", "解压")


# ------------------------------------------------------------------ container


def test_check_container_zip_bomb_rejected_before_parsing(tmp_path, monkeypatch):
    path = raw_xlsx(tmp_path / "bomb.xlsx", f"<worksheet {_NS}/>", extra={"xl/media/zeros.bin": bytes(8 * 2**20)})
    limits = Limits(max_uncompressed_bytes=6 * 2**20)
    monkeypatch.setattr(guard, "_parse", lambda *a: pytest.fail("parsed a bomb"))
    rejected(check_container(path, "xlsx", limits), "压缩炸弹")
    rejected(load_raw(path, limits, isolate=False), "压缩炸弹")
    assert path.stat().st_size < 100_000


def test_check_container_ratio_only_for_large_members(tmp_path):
    small = raw_xlsx(tmp_path / "small.xlsx", f"<worksheet {_NS}/>", extra={"xl/a.bin": bytes(500_000)})
    assert check_container(small, "xlsx", Limits()) is None  # 500 KB of zeros: 1000:1 but harmless
    big = raw_xlsx(tmp_path / "big.xlsx", f"<worksheet {_NS}/>", extra={"xl/a.bin": bytes(3 * 2**20)})
    rejected(check_container(big, "xlsx", Limits()), "压缩比异常")


def test_check_container_many_members(tmp_path):
    extra = {f"xl/media/image{i}.png": b"x" for i in range(30)}
    path = raw_xlsx(tmp_path / "many.xlsx", f"<worksheet {_NS}/>", extra=extra)
    rejected(load_raw(path, Limits(max_members=20), isolate=False), "个部件")


def test_check_container_encrypted_member(tmp_path):
    path = normal_workbook(tmp_path / "enc.xlsx")
    data = bytearray(path.read_bytes())
    for sig, flag_at in ((b"PK\x01\x02", 8), (b"PK\x03\x04", 6)):  # central directory and local headers
        at = data.find(sig)
        while at != -1:
            data[at + flag_at] |= 1
            at = data.find(sig, at + 4)
    path.write_bytes(bytes(data))
    rejected(load_raw(path, SMALL), "加密")


def test_check_container_absurd_member_name(tmp_path):
    path = raw_xlsx(tmp_path / "odd.xlsx", f"<worksheet {_NS}/>", extra={"../../etc/passwd": "x"})
    rejected(load_raw(path, SMALL), "部件名称异常")


def test_load_raw_dtd_entity_bomb_in_sheet_rejected(tmp_path):
    lol = ('<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
           f'<worksheet {_NS}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&b;</t></is></c></row>'
           "</sheetData></worksheet>")
    path = raw_xlsx(tmp_path / "lol.xlsx", lol)
    rejected(load_raw(path, SMALL), "不允许的 XML 声明")


# ------------------------------------------------------------------ isolation


def test_load_raw_many_parser_abort_rejected_next_file_read(tmp_path, monkeypatch):
    far = normal_workbook(tmp_path / "far.xlsx")
    wb = openpyxl.load_workbook(far)
    wb["项目1"]["XFD1048576"] = "很远"
    wb.save(far)
    ok = normal_workbook(tmp_path / "ok.xlsx")
    # force calamine onto the huge sheet (the forked child inherits this): it asks for 512 GiB and aborts
    monkeypatch.setattr(guard, "CALAMINE_CELL_BUDGET", 10**18)
    results = list(load_raw_many([far, ok, far], Limits(memory_bytes=1 * 2**30, wall_seconds=30), jobs=2))
    assert [p.name for p, _ in results] == ["far.xlsx", "ok.xlsx", "far.xlsx"]
    first = rejected(results[0][1], "超出资源限制或导致解析程序崩溃")
    assert first.detail.startswith("child exit code")
    assert isinstance(results[1][1], RawWorkbook) and results[1][1].sheet("项目1").cells[(2, 2)] == 120
    rejected(results[2][1], "超出资源限制")


@pytest.fixture(scope="module")
def big_workbook(tmp_path_factory) -> Path:
    """A large but legal workbook (600,000 numbers): seconds to parse, a few hundred KB on disk."""
    rows = "".join(f'<row r="{r}">' + "".join(f'<c r="{c}{r}"><v>{r}.5</v></c>' for c in "ABCDEFGHIJ") + "</row>"
                   for r in range(1, 60_001))
    return raw_xlsx(tmp_path_factory.mktemp("big") / "big.xlsx", f"<worksheet {_NS}><sheetData>{rows}</sheetData></worksheet>")


MEMORY_LIMIT_SCRIPT = """
import os, sys
from pathlib import Path
from perf_toolkit.workbook.guard import Limits, RawWorkbook, Rejection, load_raw_many
big, small = sys.argv[1:3]
# 24 MiB on top of what the forked child starts with (the big one needs ~60)
big, small = (r for _, r in load_raw_many([Path(big), Path(small)], Limits(memory_bytes=24 * 2**20,
                                                                          wall_seconds=30)))
print(type(big).__name__, getattr(big, "reason", ""), type(small).__name__, sep="\\t")
"""


LARGE_PARENT_SCRIPT = """
import mmap, sys
from pathlib import Path
from perf_toolkit.workbook.guard import Limits, load_raw_many
# a parent as large as a big round's (address space mapped, not touched): 3 GiB, more than a worker's budget
held = mmap.mmap(-1, 3 * 2**30)
results = [r for _, r in load_raw_many([Path(p) for p in sys.argv[1:]], Limits(memory_bytes=2**30, wall_seconds=60),
                                       jobs=2)]
print(*(type(r).__name__ for r in results), sep="\\t")
"""


def test_workers_of_a_parent_larger_than_their_budget_still_read(tmp_path):
    # A forked worker inherits the parent's address space: its memory budget is on top of that, or a round
    # large enough (thousands of departments held in memory) would find every file "超出资源限制".
    import subprocess
    import sys

    paths = [normal_workbook(tmp_path / f"{n}.xlsx") for n in range(3)]
    done = subprocess.run([sys.executable, "-c", LARGE_PARENT_SCRIPT, *map(str, paths)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["RawWorkbook"] * 3


def test_load_raw_many_memory_limit_then_next_file_read(tmp_path, big_workbook):
    # In a fresh interpreter: a long-lived test process has freed memory its forked child could reuse
    # without growing its address space, and the limit would then never be reached.
    import subprocess
    import sys

    small = normal_workbook(tmp_path / "small.xlsx")
    done = subprocess.run([sys.executable, "-c", MEMORY_LIMIT_SCRIPT, str(big_workbook), str(small)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    kind, reason, small_kind = done.stdout.rstrip("\n").split("\t")
    assert (kind, small_kind) == ("Rejection", "RawWorkbook") and "超出资源限制" in reason


def test_load_raw_many_wall_timeout_then_next_file_read(tmp_path, big_workbook):
    small = normal_workbook(tmp_path / "small.xlsx")
    results = dict(load_raw_many([big_workbook, small], Limits(wall_seconds=0.3), jobs=1))
    rejected(results[big_workbook], "超出资源限制", "秒")
    assert isinstance(results[small], RawWorkbook)


def test_load_raw_many_closed_early_leaves_no_child(tmp_path, big_workbook):
    import multiprocessing

    small = normal_workbook(tmp_path / "small.xlsx")
    batch = load_raw_many([small, big_workbook, big_workbook], SMALL, jobs=3)
    path, book = next(batch)
    assert path == small and isinstance(book, RawWorkbook)
    assert len(multiprocessing.active_children()) == 2  # both big files still parsing
    batch.close()
    assert multiprocessing.active_children() == []


def test_load_raw_many_parent_raises_leaves_no_worker(tmp_path, big_workbook, monkeypatch):
    import multiprocessing

    small = normal_workbook(tmp_path / "small.xlsx")
    with pytest.raises(RuntimeError, match="调用方"):  # the caller fails while the big files are parsing
        for _ in load_raw_many([small, big_workbook, big_workbook], SMALL, jobs=3):
            raise RuntimeError("调用方出错")
    assert multiprocessing.active_children() == []
    real = guard._precheck

    def precheck(path, limits):
        if path == small:
            raise RuntimeError("预检出错")
        return real(path, limits)

    monkeypatch.setattr(guard, "_precheck", precheck)
    with pytest.raises(RuntimeError, match="预检"):  # the pre-check fails while a worker parses the big file
        list(load_raw_many([big_workbook, small], SMALL, jobs=1))
    assert multiprocessing.active_children() == []


def copies(tmp_path: Path, *names: str) -> list[Path]:
    """The normal workbook under each name: pre-checked for real in the parent, parsed by a stub in the worker."""
    data = normal_workbook(tmp_path / "原件.xlsx").read_bytes()
    for name in names:
        (tmp_path / name).write_bytes(data)
    return [tmp_path / name for name in names]


def stub_parse(monkeypatch, behave=lambda name: None) -> None:
    """Replace the parser (forked workers inherit it) by one whose answer names the process that parsed."""
    def parse(path, fmt, limits):
        result = behave(Path(path).stem)
        return result if result is not None else RawWorkbook(path, str(os.getpid()))
    monkeypatch.setattr(guard, "_parse", parse)


def burn_cpu(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_load_raw_many_one_worker_reads_many_files(tmp_path, monkeypatch):
    paths = copies(tmp_path, *(f"f{i}.xlsx" for i in range(6)))
    stub_parse(monkeypatch)
    results = list(load_raw_many(paths, SMALL, jobs=1))
    assert [p for p, _ in results] == paths
    assert len({book.format for _, book in results}) == 1  # not a fork per file
    assert results[0][1].format != str(os.getpid())  # and not in this process


def test_load_raw_many_worker_recycled_after_n_files(tmp_path, monkeypatch):
    paths = copies(tmp_path, *(f"f{i}.xlsx" for i in range(5)))
    stub_parse(monkeypatch)
    monkeypatch.setattr(guard, "RECYCLE_FILES", 2)
    pids = [book.format for _, book in load_raw_many(paths, SMALL, jobs=1)]
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4] and pids[0] != pids[4]


def test_load_raw_many_worker_recycled_when_memory_grew(tmp_path, monkeypatch):
    paths = copies(tmp_path, "a.xlsx", "b.xlsx", "c.xlsx")
    kept = []
    def grow(name):  # 8 MiB of new pages, touched and never freed (a bytes object could reuse pages the
        # worker inherited from a long-lived parent, already resident: its RSS would not grow)
        pages = mmap.mmap(-1, 8 * 2**20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        pages.write(b"\1" * len(pages))
        kept.append(pages)

    stub_parse(monkeypatch, grow)
    monkeypatch.setattr(guard, "RECYCLE_RSS_GROWTH", 4 * 2**20)
    pids = [book.format for _, book in load_raw_many(paths, SMALL, jobs=1)]
    assert len(set(pids)) == 3


def test_load_raw_many_worker_replaced_after_rejection_or_death(tmp_path, monkeypatch):
    paths = copies(tmp_path, "ok1.xlsx", "bad.xlsx", "ok2.xlsx", "oom.xlsx", "ok3.xlsx")

    def behave(name):
        if name == "bad":  # rejected by the parser: the worker may hold a half-built state
            return Rejection("文件内容已损坏", detail=str(os.getpid()))
        if name == "oom":
            raise MemoryError  # escapes the parser stub: the worker dies
        return None

    stub_parse(monkeypatch, behave)
    results = list(load_raw_many(paths, SMALL, jobs=1))
    assert [p for p, _ in results] == paths
    ok1, bad, ok2, oom, ok3 = (r for _, r in results)
    assert bad.detail == ok1.format != ok2.format != ok3.format
    assert rejected(oom, "超出资源限制或导致解析程序崩溃").detail == "child exit code 1"
    assert isinstance(ok3, RawWorkbook)


def test_load_raw_many_cpu_limit_is_per_file_and_sigxcpu_rejects(tmp_path, monkeypatch):
    import signal

    # 7 x 0.3 s: more than any single allowance (at most 2 s with cpu_seconds=1), so the budget must be reset per file
    names = [f"work{i}" for i in range(7)]
    paths = copies(tmp_path, *(f"{n}.xlsx" for n in names), "spin.xlsx", "after.xlsx")
    stub_parse(monkeypatch, lambda name: burn_cpu(10**9 if name == "spin" else 0.3 if name in names else 0))
    # a caller that ignores SIGXCPU must not make a runaway file run on to the wall clock
    monkeypatch.setattr(guard, "RECYCLE_FILES", 100)
    previous = signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    try:
        results = [r for _, r in load_raw_many(paths, Limits(cpu_seconds=1, wall_seconds=20), jobs=1)]
    finally:
        signal.signal(signal.SIGXCPU, previous)
    assert all(isinstance(r, RawWorkbook) for r in results[:7]) and len({r.format for r in results[:7]}) == 1
    assert rejected(results[7], "CPU 时间超过 1 秒").detail == "RLIMIT_CPU"
    assert isinstance(results[8], RawWorkbook) and results[8].format != results[0].format


def test_load_raw_missing_file(tmp_path):
    rejected(load_raw(tmp_path / "不存在.xlsx", SMALL), "无法打开")


def test_load_raw_duplicate_sheet_names_rejected(tmp_path):
    workbook = (f'<workbook {_NS} xmlns:r="{_REL}"><sheets><sheet name="数据" sheetId="1" r:id="rId1"/>'
                '<sheet name="数据" sheetId="2" r:id="rId1"/></sheets></workbook>')
    path = raw_xlsx(tmp_path / "dup.xlsx", f"<worksheet {_NS}/>", extra={"xl/workbook.xml": workbook})
    rejected(load_raw(path, SMALL), "文件内容已损坏")


def test_load_raw_fuzzed_bytes_always_a_value(tmp_path):
    data = normal_workbook(tmp_path / "a.xlsx").read_bytes()
    rng = random.Random(2024)
    paths = []
    for i in range(24):
        mutant = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            mutant[rng.randrange(len(mutant))] = rng.randrange(256)
        paths.append(tmp_path / f"fuzz{i}.xlsx")
        paths[-1].write_bytes(bytes(mutant))
    for path, result in load_raw_many(paths, SMALL, jobs=2):
        assert isinstance(result, (RawWorkbook, Rejection)), path
        if isinstance(result, Rejection):
            assert "Traceback" not in result.reason and any("\u4e00" <= ch <= "\u9fff" for ch in result.reason)


def test_load_raw_many_without_fork_parses_in_process(tmp_path, monkeypatch):
    """Where fork/setrlimit do not exist (Windows) the batch still reads, in the caller's process."""
    from perf_toolkit.workbook import pool

    monkeypatch.setattr(pool, "ISOLATED", False)
    ok = normal_workbook(tmp_path / "ok.xlsx")
    (tmp_path / "bad.xlsx").write_bytes(b"not a workbook")
    results = dict(load_raw_many([ok, tmp_path / "bad.xlsx"]))
    assert isinstance(results[ok], RawWorkbook) and results[ok].sheet("项目1").cells[(2, 2)] == 120
    rejected(results[tmp_path / "bad.xlsx"], "")


def _sheets_on_one_part(src: Path, dst: Path, count: int) -> Path:
    """A copy of `src` whose workbook.xml lists `count` more sheets, all pointing at the first sheet's part."""
    ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for info in zi.infolist():
            data = zi.read(info)
            if info.filename == "xl/workbook.xml":
                rid = re.search(r'<sheet [^>]*r:id="(rId\d+)"', data.decode())[1]
                more = "".join(f'<sheet xmlns:r="{ns}" name="复制{i}" sheetId="{i + 100}" r:id="{rid}"/>'
                               for i in range(count))
                data = data.replace(b"</sheets>", more.encode() + b"</sheets>")
            zo.writestr(info.filename, data)
    return dst


def test_load_raw_thousands_of_sheets_on_one_part_refused_before_reading(tmp_path):
    src = normal_workbook(tmp_path / "n.xlsx")
    result = load_raw(_sheets_on_one_part(src, tmp_path / "3000.xlsx", 3000), SMALL, isolate=False)
    assert isinstance(result, Rejection)
    assert "3002 张工作表，超过每个文件 300 张的上限" in result.reason


def test_load_raw_sheets_sharing_one_part_refused(tmp_path):
    src = normal_workbook(tmp_path / "n.xlsx")
    assert not isinstance(load_raw(src, SMALL, isolate=False), Rejection)
    result = load_raw(_sheets_on_one_part(src, tmp_path / "shared.xlsx", 2), SMALL, isolate=False)
    assert isinstance(result, Rejection)
    assert "有 2 张工作表与其他工作表指向同一份表格内容" in result.reason
