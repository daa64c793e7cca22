"""Guards between an untrusted file and the spreadsheet parsers.

A department's file may be anything: a zip bomb, an encrypted workbook, an .xls
renamed .xlsx, a value at XFD1048576. python-calamine aborts the whole process
on some of these, so every file is sniffed, its container pre-checked, and then
parsed in a worker process with memory, CPU and wall-clock limits (`pool`: a few
long-lived workers, not a fork per file); what comes back is a bounded grid of
raw values (`RawWorkbook`) or a `Rejection`.

Values, the same whichever reader produced them: only rows 1..max_rows and
columns 1..max_cols are kept; formula cells are listed in `formulas` and never
in `cells`, their saved results (when the file has one) in `cached`, for the reader
to decide what a formula in an input cell is worth; error values are in `errors`;
'' is dropped; strings are exactly as typed; integral floats become int;
dates are date (datetime when a time is present). For .xlsx/.xlsm a scan
(`xlsx.Scan`) finds formulas, errors and the extent; .xls/.xlsb/.ods have no
such scan, so there formulas show their cached values and errors read as empty.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import io
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from ..text import MAX_CELL_TEXT
from . import pool
from . import xlsx as xs

Coord = tuple[int, int]  # (row, column), 1-based


@dataclass(frozen=True)
class Limits:
    """Resource bounds for reading one file (all configurable, small in tests)."""

    max_file_bytes: int = 50 * 2**20
    max_uncompressed_bytes: int = 256 * 2**20  # sum of the zip members' declared sizes
    max_members: int = 1000
    max_ratio: float = 200.0  # declared uncompressed / compressed, per member above ratio_min_bytes
    max_rows: int = 2000  # the area read on each sheet: rows 1..max_rows
    max_cols: int = 40  # columns A..(max_cols)
    memory_bytes: int = 2 * 2**30  # what each worker may map beyond what it started with (RLIMIT_AS)
    cpu_seconds: int = 60  # per file (a worker's RLIMIT_CPU is raised by this before each file)
    wall_seconds: float = 120.0  # per file
    ratio_min_bytes: int = 2**20  # small parts (styles, a tiny sheet) compress 300:1 harmlessly
    max_sheets: int = 300  # a department's form has a sheet per project: far more is no submission


@dataclass
class RawSheet:
    """The values of one sheet inside the read area, as the parser found them."""

    name: str
    cells: dict[Coord, Any] = field(default_factory=dict)  # non-empty literal values
    formulas: set[Coord] = field(default_factory=set)  # cells holding a formula (values not trusted)
    cached: dict[Coord, Any] = field(default_factory=dict)  # a formula cell's saved result ("" kept), if it has one
    errors: dict[Coord, str] = field(default_factory=dict)  # Excel error values, e.g. "#DIV/0!"
    percent: set[Coord] = field(default_factory=set)  # cells whose number format shows a percentage (.xlsx only)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # min_row, min_col, max_row, max_col
    outside_count: int = 0  # non-empty cells beyond the read area (not read)
    outside_first: str | None = None  # A1 reference of the first of them
    hidden: bool = False
    long_text: dict[Coord, int] = field(default_factory=dict)  # cells whose text was cut to MAX_CELL_TEXT: its length


@dataclass(frozen=True)
class DefinedName:
    name: str
    sheet: str | None  # the sheet a sheet-local name belongs to; None for workbook scope
    ref: str  # as stored, e.g. "'项目1'!$C$3" or "'项目1'!$A$20:$K$39"


@dataclass
class RawWorkbook:
    path: str
    format: str  # xlsx | xlsm | xls | xlsb | ods
    sheets: list[RawSheet] = field(default_factory=list)
    names: list[DefinedName] = field(default_factory=list)

    def sheet(self, name: str) -> RawSheet | None:
        return next((s for s in self.sheets if s.name == name), None)


@dataclass(frozen=True)
class Rejection:
    """Why a file could not be read at all, in Chinese, with what to do about it."""

    reason: str
    advice: str = ""
    detail: str = ""  # technical note for the operator's log (exception type, exit code); never shown to clerks


# ------------------------------------------------------------------ rejections

_RESAVE = "请用 Excel 或 WPS 打开后“另存为”Excel 工作簿（*.xlsx）再提交。"
_SUBMIT_XLSX = "请提交财政局下发的 Excel 填报表（.xlsx）。"
_UNZIP = "请解压后单独提交其中的 .xlsx 填报表。"
EMPTY = Rejection("文件是空的（0 字节）", "请重新保存填报表后再提交。")
ENCRYPTED = Rejection("文件设置了打开密码", "请取消密码后另存为 .xlsx 再提交。")
CORRUPT = Rejection("文件已损坏或不完整，压缩结构无法识别", "可能是下载或复制时中断，请重新保存后提交。")
RESOURCE = "文件解析时超出资源限制或导致解析程序崩溃，可能已损坏或含有异常数据"
_RESOURCE_ADVICE = "请用 Excel 打开检查，删除无关的内容后另存为 .xlsx 再提交。"
_MAGIC: tuple[tuple[bytes, Rejection], ...] = (
    (b"%PDF", Rejection("这是 PDF 文件，不是 Excel 工作簿", "请提交可编辑的 Excel 填报表（.xlsx），不要转换成 PDF。")),
    (b"{\\rtf", Rejection("这是 Word（RTF）文档，不是 Excel 工作簿", _SUBMIT_XLSX)),
    *((m, Rejection("这是图片文件，不是 Excel 工作簿", "请提交 Excel 填报表（.xlsx），不要提交截图或扫描件。"))
      for m in (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*")),
    *((m, Rejection("这是 RAR/7z/gzip 压缩包，不是 Excel 工作簿", _UNZIP))
      for m in (b"Rar!", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b")),
)
WORD = Rejection("这是 Word 文档，不是 Excel 工作簿", _SUBMIT_XLSX)
_ZIP_KINDS = {  # a member that identifies a non-workbook zip
    "word/document.xml": WORD,
    "ppt/presentation.xml": Rejection("这是 PowerPoint 演示文稿，不是 Excel 工作簿", _SUBMIT_XLSX),
}


def _resource(detail: str, note: str = "") -> Rejection:
    return Rejection(RESOURCE + note, _RESOURCE_ADVICE, detail)


def _sheets_refusal(parts: list[str | None], limits: Limits) -> Rejection | None:
    """Too many sheets, or several sheets sharing one sheet part (Excel never saves that; 3,000 names on one
    part would cost 3,000 projects and their documents): refused before any sheet is read."""
    if len(parts) > limits.max_sheets:
        return Rejection(f"工作簿中有 {len(parts)} 张工作表，超过每个文件 {limits.max_sheets} 张的上限",
                         "请每个单位只提交一份填报表，删除多余的工作表后另存为 .xlsx 再提交。", "too many sheets")
    worksheets = [p for p in parts if p is not None]
    shared = len(worksheets) - len(set(worksheets))
    if shared:
        return Rejection(f"工作簿结构异常：有 {shared} 张工作表与其他工作表指向同一份表格内容（Excel 保存的文件不会这样，"
                         "文件可能被其他程序改动过）", _RESAVE, "sheets sharing a part")
    return None


# ------------------------------------------------------------------ sniff and container


def sniff(path: str | os.PathLike, limits: Limits = Limits()) -> str | Rejection:
    """The workbook format by magic bytes (never by extension), or why it is not a readable workbook."""
    path = Path(path)
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):  # a pipe would block the open below, a device never end
        return Rejection("不是普通文件（命名管道、设备或套接字）", "请发送 Excel 填报表文件本身。")
    size = info.st_size
    if size == 0:
        return EMPTY
    if size > limits.max_file_bytes:
        return Rejection(f"文件大小 {size / 2**20:.1f} MB，超过 {limits.max_file_bytes / 2**20:.0f} MB 的上限",
                         "填报表通常只有几百 KB，请删除无关的工作表和图片后另存为 .xlsx 再提交。")
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        try:
            with zipfile.ZipFile(path) as zf:
                return _zip_kind(zf)
        except Exception as exc:  # zipfile raises many types on a damaged central directory
            return Rejection(CORRUPT.reason, CORRUPT.advice, type(exc).__name__)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        streams = _cfb_streams(path.read_bytes())
        if streams & {"EncryptionInfo", "EncryptedPackage"}:
            return ENCRYPTED
        if streams & {"Workbook", "Book"}:
            return "xls"
        if "WordDocument" in streams:
            return WORD
        return Rejection("这是旧版 Office 格式的文件，但不是 Excel 工作簿", _SUBMIT_XLSX)
    for magic, rejection in _MAGIC:
        if head.startswith(magic):
            return rejection
    return _text_kind(head)


def _zip_kind(zf: zipfile.ZipFile) -> str | Rejection:
    names = set(zf.namelist())
    workbook = xs.workbook_part(zf)  # at xl/workbook.xml, or wherever _rels/.rels says (Excel's way)
    if workbook is not None:
        return "xlsm" if workbook[1] else "xlsx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "mimetype" in names:
        if _small(zf, "mimetype").strip() == b"application/vnd.oasis.opendocument.spreadsheet":
            return "ods"
        return Rejection("这是 OpenDocument 文字或演示文档，不是电子表格", _SUBMIT_XLSX)
    for member, rejection in _ZIP_KINDS.items():
        if member in names:
            return rejection
    return Rejection("这是普通的 zip 压缩包，不是 Excel 工作簿", _UNZIP)


def _small(zf: zipfile.ZipFile, name: str) -> bytes:
    """A member's bytes if it is declared small: sniffing runs before the bomb check."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        return b""
    return zf.read(info) if info.file_size <= 65536 and not info.flag_bits & 1 else b""


def _cfb_streams(data: bytes) -> set[str]:
    """The names of interesting streams in an OLE2 compound file.

    Rather than walk the FAT, search for each name in UTF-16LE and accept a hit
    only where it has the shape of a CFB directory entry: entries are 128 bytes
    and sectors start at multiples of 512, so an entry starts at an offset
    divisible by 128, with its name length in bytes (terminator included) at
    +64 and its object type (1 storage, 2 stream) at +66. Cell text cannot
    fake that by accident, and the whole scan is a few `bytes.find` calls.
    """
    found = set()
    for name in ("EncryptionInfo", "EncryptedPackage", "Workbook", "Book", "WordDocument"):
        needle = (name + "\0").encode("utf-16-le")
        length = len(needle).to_bytes(2, "little")
        at = data.find(needle, 512)
        while at != -1:
            if at % 128 == 0 and data[at + 64:at + 66] == length and data[at + 66:at + 67] in (b"\x01", b"\x02"):
                found.add(name)
                break
            at = data.find(needle, at + 1)
    return found


def _text_kind(head: bytes) -> Rejection:
    for bom, encoding in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):  # some web systems export UTF-16 HTML
            head = head[2:].decode(encoding, "ignore").encode()
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<"):
        if b"urn:schemas-microsoft-com:office:spreadsheet" in text:
            return Rejection("这是 Excel 2003 XML 表格格式的文件，只是扩展名是 Excel 的", _RESAVE)
        return Rejection("这是网页（HTML/XML）格式的文件，多为业务系统“导出 Excel”生成，只是扩展名是 Excel 的", _RESAVE)
    if not re.search(rb"[\x00-\x08\x0e-\x1f]", head):  # UTF-8 and GBK text has no control bytes
        return Rejection("这是纯文本或 CSV 文件，不是 Excel 工作簿", "请在财政局下发的填报表中填写后保存为 .xlsx 再提交。")
    return Rejection("无法识别的文件格式，不是 Excel 工作簿", _RESAVE)


def check_container(path: str | os.PathLike, fmt: str, limits: Limits = Limits()) -> Rejection | None:
    """Refuse a zip whose central directory promises a bomb, encryption or odd names, before any inflating."""
    if fmt not in ("xlsx", "xlsm", "xlsb", "ods"):
        return None  # OLE2 .xls: the file size limit and the worker process are the only guards
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except Exception as exc:
        return Rejection(CORRUPT.reason, CORRUPT.advice, type(exc).__name__)
    bomb = Rejection("文件解压后的内容异常庞大（压缩比异常），疑似“压缩炸弹”或含有超大的隐藏内容", _RESOURCE_ADVICE)
    if len(infos) > limits.max_members:
        return Rejection(f"文件内部有 {len(infos)} 个部件，超过 {limits.max_members} 个的上限，结构异常", _RESOURCE_ADVICE)
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        return Rejection(bomb.reason, bomb.advice, f"declared {total} bytes uncompressed")
    seen: set[str] = set()
    for info in infos:
        if info.flag_bits & 1:
            return Rejection("文件内部的压缩部件被加密", "请取消加密后另存为 .xlsx 再提交。", info.filename)
        name = info.filename
        if name in seen or "\0" in name or name.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", name):
            return Rejection("文件内部的部件名称异常，可能是被篡改或恶意构造的文件", _RESAVE, repr(name))
        seen.add(name)
        if info.file_size > limits.ratio_min_bytes and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            return Rejection(bomb.reason, bomb.advice, f"{name}: {info.file_size}/{info.compress_size}")
    return None


# ------------------------------------------------------------------ parse (runs in a worker)

#: Above this many cells in a sheet's used range, read it with openpyxl, which stops at max_row
#: (calamine allocates the whole range: 32 bytes a cell, and aborts on XFD1048576).
CALAMINE_CELL_BUDGET = 5_000_000


def _value(v: Any) -> Any:
    """One value as a clerk sees it, the same from calamine and openpyxl.

    Both give floats for every number: 3.0 is what a clerk typed as 3, so an
    integral float becomes an int. openpyxl gives a datetime at midnight where
    calamine gives a date: a midnight datetime becomes a date.
    """
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    if isinstance(v, datetime.datetime) and v.time() == datetime.time(0) and v.tzinfo is None:
        return v.date()
    return v


#: Excel's own limit on the text of one cell: a file Excel saved never holds more. Longer text (another
#: writer's, or a hostile file's 90 MB cell) is cut here, in the worker, so no caller holds a huge string.


def _fill(sheet: RawSheet, rows: Iterable[Iterable[Any]], limits: Limits, cached: set[Coord] = frozenset()) -> None:
    """Keep the literal values of the area (no formula, no error, no empty string), and the saved
    results of the formula cells in `cached` apart; text beyond MAX_CELL_TEXT is cut (`long_text`)."""
    skip = sheet.formulas | sheet.errors.keys()
    for r, row in enumerate(rows, 1):
        if r > limits.max_rows:
            break
        for c, v in enumerate(row, 1):
            if c > limits.max_cols:
                break
            if isinstance(v, str) and len(v) > MAX_CELL_TEXT:
                sheet.long_text[(r, c)] = len(v)
                v = v[:MAX_CELL_TEXT]
            if (r, c) in cached and (r, c) not in sheet.errors:
                sheet.cached[(r, c)] = "" if v is None else _value(v)
            elif v is not None and v != "" and (r, c) not in skip:
                sheet.cells[(r, c)] = _value(v)
    for rc in cached - sheet.cached.keys() - sheet.errors.keys():
        sheet.cached[rc] = ""  # a saved "" at the end of a row: past the range calamine gives


def _parse_xlsx(path: str, fmt: str, limits: Limits) -> RawWorkbook | Rejection:
    from python_calamine import CalamineWorkbook

    book = RawWorkbook(path, fmt)
    with zipfile.ZipFile(path) as zf:
        package = xs.normalised(zf)  # a workbook part elsewhere, UTF-16 parts: rewritten in memory

    def source():  # one handle per reader: they move the file position
        return io.BytesIO(package) if package is not None else open(path, "rb")

    with source() as fh, zipfile.ZipFile(fh) as zf:
        sheets, names = xs.book(zf)
        refused = _sheets_refusal([part for _, part, _ in sheets], limits)
        if refused:
            return refused
        book.names = [DefinedName(*n) for n in names]
        percent = xs.percent_styles(zf)
        scans = {}
        for name, part, hidden in sheets:
            if part is not None:
                with zf.open(part) as stream:
                    scans[name] = (xs.Scan(limits.max_rows, limits.max_cols, percent).parse(stream), hidden)
    with contextlib.ExitStack() as stack:
        cal = opx = None
        for name, (scan, hidden) in scans.items():
            sheet = RawSheet(name, formulas=scan.formulas, errors=scan.errors, merged=scan.merged, percent=scan.percent,
                             outside_count=scan.outside_count, outside_first=scan.outside_first, hidden=hidden)
            if scan.last_row * scan.last_col <= CALAMINE_CELL_BUDGET:
                cal = cal or CalamineWorkbook.from_filelike(stack.enter_context(source()))
                rows = cal.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=limits.max_rows)
            else:
                import openpyxl

                # a file object, not a name: openpyxl refuses names not ending in .xlsx; data_only: a
                # formula cell gives its saved result, as calamine does (the scan says which are formulas)
                opx = opx or openpyxl.load_workbook(stack.enter_context(source()), read_only=True,
                                                    keep_links=False, data_only=True)
                ws = opx[name]
                ws.reset_dimensions()  # else read-only mode trusts <dimension> and pads every row
                rows = ws.iter_rows(max_row=limits.max_rows, max_col=limits.max_cols, values_only=True)
            _fill(sheet, rows, limits, scan.cached)
            book.sheets.append(sheet)
    return book


def _parse_calamine(path: str, fmt: str, limits: Limits) -> RawWorkbook | Rejection:
    """xls, xlsb, ods: no scan is possible, so formulas show their cached values and errors read as empty."""
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    book = RawWorkbook(path, fmt, names=_ods_names(path) if fmt == "ods" else [])
    with open(path, "rb") as f:
        cal = CalamineWorkbook.from_filelike(f)
    refused = _sheets_refusal([None] * len(cal.sheets_metadata), limits)
    if refused:
        return refused
    for meta in cal.sheets_metadata:
        if meta.typ != SheetTypeEnum.WorkSheet:
            continue
        data = cal.get_sheet_by_name(meta.name)
        sheet = RawSheet(meta.name, hidden=meta.visible != SheetVisibleEnum.Visible)
        rows = data.to_python(skip_empty_area=False)
        _fill(sheet, rows, limits)
        for r, row in enumerate(rows, 1):
            for c in range(1 if r > limits.max_rows else limits.max_cols + 1, len(row) + 1):
                if row[c - 1] != "":
                    sheet.outside_count += 1
                    sheet.outside_first = sheet.outside_first or f"{xs.col_letters(c)}{r}"
        sheet.merged = [(a + 1, b + 1, c + 1, d + 1) for (a, b), (c, d) in data.merged_cell_ranges or []
                        if a < limits.max_rows and b < limits.max_cols]
        book.sheets.append(sheet)
    return book


_ODS_REF = re.compile(r"\$?('(?:[^']|'')+'|[^.':]+)\.(\$?[A-Z]+\$?\d+)(?::\$?(?:'(?:[^']|'')+'|[^.':]+)?\.(\$?[A-Z]+\$?\d+))?")


def _ods_names(path: str) -> list[DefinedName]:
    """ODS named ranges as Excel-style refs ("$表1.$A$1" -> "'表1'!$A$1"), sheet-local ones scoped."""
    from defusedxml.ElementTree import iterparse

    names, tables = [], []
    with zipfile.ZipFile(path) as zf, zf.open("content.xml") as stream:
        for event, el in iterparse(stream, events=("start", "end")):
            tag = xs.local_name(el.tag)
            if tag == "table" and event == "start":
                tables.append(next((v for k, v in el.attrib.items() if xs.local_name(k) == "name"), ""))
            elif tag == "table":
                tables.pop()
                el.clear()  # content.xml may be large; keep memory flat
            elif tag == "named-range" and event == "end":
                attrs = {xs.local_name(k): v for k, v in el.attrib.items()}
                m = _ODS_REF.fullmatch(attrs.get("cell-range-address", ""))
                ref = attrs.get("cell-range-address", "")
                if m:
                    sheet = m[1][1:-1].replace("''", "'") if m[1].startswith("'") else m[1]
                    ref = f"'{sheet}'!{m[2]}" + (f":{m[3]}" if m[3] else "")
                names.append(DefinedName(attrs.get("name", ""), tables[-1] if tables else None, ref))
    return names


def _explain(exc: BaseException) -> Rejection:
    """An exception from any parser, said in plain words (the type goes to `detail` for the operator)."""
    from python_calamine import CalamineError, PasswordError

    detail = f"{type(exc).__name__}: {exc}"[:300]
    if isinstance(exc, MemoryError):
        return _resource(detail, "（内存不足）")
    if isinstance(exc, PasswordError) or "password" in str(exc).lower():
        return Rejection(ENCRYPTED.reason, ENCRYPTED.advice, detail)
    import zlib

    what = "文件结构异常"
    if isinstance(exc, xs.Forbidden) or type(exc).__module__.startswith("defusedxml"):
        what = "内部含有不允许的 XML 声明，可能是恶意构造的文件"
    elif isinstance(exc, (zipfile.BadZipFile, zlib.error, EOFError)):
        what = "压缩数据损坏"
    elif isinstance(exc, expat.ExpatError) or type(exc).__name__ == "ParseError":
        what = "内部 XML 格式错误"
    elif isinstance(exc, KeyError):
        what = "缺少必需的内部部件"
    elif isinstance(exc, CalamineError):
        what = "解析程序报告文件结构错误"
    return Rejection(f"文件内容已损坏，无法解析（{what}）", _RESAVE, detail)


def _parse(path: str, fmt: str, limits: Limits) -> RawWorkbook | Rejection:
    """Parse completely or reject: nothing a parser raises gets past here."""
    try:
        book = (_parse_xlsx if fmt in ("xlsx", "xlsm") else _parse_calamine)(path, fmt, limits)
    except Exception as exc:  # MemoryError and RecursionError included
        return _explain(exc)
    if isinstance(book, Rejection):
        return book
    if not book.sheets:  # Excel cannot save a workbook without a worksheet: this one is damaged
        return Rejection("文件中没有可读取的工作表", _RESAVE, "no worksheet")
    return book


# ------------------------------------------------------------------ isolation


def _precheck(path: Path, limits: Limits) -> str | Rejection:
    """sniff + check_container in the parent: cheap, bounded, and they decide whether a worker is needed."""
    try:
        fmt = sniff(path, limits)
        return fmt if isinstance(fmt, Rejection) else check_container(path, fmt, limits) or fmt
    except OSError as exc:
        return Rejection("文件无法打开", "请确认文件存在且可以读取。", f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        return _explain(exc)


#: A worker leaves (a fresh one is forked when needed) after this many files, or once its heap grew
#: this much since it started, so that fragmentation and anything a parser leaks cannot build up.
RECYCLE_FILES = 50
RECYCLE_RSS_GROWTH = 256 * 2**20


def _answer(outcome: RawWorkbook | Rejection | pool.Failure, limits: Limits) -> RawWorkbook | Rejection:
    """What a worker answered, or, when it failed on the file, the file's Rejection."""
    if not isinstance(outcome, pool.Failure):
        return outcome
    if outcome.kind == "wall":
        return _resource("wall-clock timeout", f"（解析超过 {limits.wall_seconds:g} 秒）")
    if outcome.kind == "cpu":
        return _resource("RLIMIT_CPU", f"（CPU 时间超过 {limits.cpu_seconds} 秒）")
    if outcome.kind == "spawn":
        return _resource(outcome.detail)
    return _resource(outcome.detail, "（解析程序异常退出，多为内存不足）")


def _parse_task(task: tuple[str, str], limits: Limits, finish: Callable[[str, RawWorkbook], Any] | None = None,
                ) -> Any:
    """A worker's task: (path, format) parsed under `limits`, then `finish(path, book)` when it parsed
    (module-level, so a spawned worker can unpickle it)."""
    book = _parse(*task, limits)
    return book if finish is None or isinstance(book, Rejection) else finish(task[0], book)


def _rejected(result: RawWorkbook | Rejection) -> bool:
    """A parser that failed half-way may leave state behind (a heap near RLIMIT_AS after MemoryError): retire."""
    return isinstance(result, Rejection)


def load_raw_many(paths: Iterable[str | os.PathLike], limits: Limits = Limits(), *, jobs: int | None = None,
                  finish: Callable[[str, RawWorkbook], Any] | None = None) -> Iterator[tuple[Path, Any]]:
    """Read many files in up to `jobs` long-lived isolated worker processes; results come in input order.

    `finish(path, book)` (module-level: it is pickled to spawned workers) runs in the worker on each
    parsed book, under the same limits, and its result comes back instead of the book: work on the
    book then runs in parallel and only its (smaller) result crosses the pipe. A Rejection stays one.
    """
    paths = [Path(p) for p in paths]

    def tasks() -> Iterator[Rejection | pool.Task]:  # lazy: a file is pre-checked when a worker has room for it
        for path in paths:
            fmt = _precheck(path, limits)
            yield fmt if isinstance(fmt, Rejection) else pool.Task((str(path), fmt))

    outcomes = pool.imap(
        functools.partial(_parse_task, limits=limits, finish=finish), tasks(), jobs=jobs or os.cpu_count() or 1,
        memory_bytes=limits.memory_bytes, cpu_seconds=limits.cpu_seconds, wall_seconds=limits.wall_seconds,
        recycle_files=RECYCLE_FILES, recycle_rss=RECYCLE_RSS_GROWTH, retire=_rejected)
    with contextlib.closing(outcomes):  # closing this generator stops the workers at once
        for path, outcome in zip(paths, outcomes, strict=True):
            yield path, _answer(outcome, limits)


def load_raw(path: str | os.PathLike, limits: Limits = Limits(), *, isolate: bool = True) -> RawWorkbook | Rejection:
    """Read one workbook completely or say why not; isolate=False parses in-process (benchmarks, debugging)."""
    if isolate:
        with contextlib.closing(load_raw_many([path], limits, jobs=1)) as results:
            return next(results)[1]
    fmt = _precheck(Path(path), limits)
    return fmt if isinstance(fmt, Rejection) else _parse(str(path), fmt, limits)
