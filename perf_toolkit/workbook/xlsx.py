"""The .xlsx container: A1 references, and what calamine hides — a streaming scan of each worksheet.

calamine turns error values into '' and cannot say which cells hold formulas (it gives
their saved results as if typed, '' when a file has none), and its memory grows with the
used range (it aborts on a value at XFD1048576), so `guard` runs this scan first and
decides from it how to read the values.
Kept free of guard's types so the hot loop can be measured on its own.
"""

from __future__ import annotations

import functools
import posixpath
import re
import zipfile
from xml.parsers import expat

Coord = tuple[int, int]  # (row, column), 1-based


class Forbidden(Exception):
    """A DTD in an OOXML part: never legitimate, the door to entity bombs and XXE."""


A1 = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")


@functools.lru_cache(maxsize=4096)
def col_number(letters: str) -> int:
    """Column letters to a 1-based number ("AA" -> 27)."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def col_letters(n: int) -> str:
    """A 1-based column number to letters (16384 -> "XFD")."""
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def a1(rc: Coord) -> str:
    """The A1 reference of a (row, column) pair."""
    return f"{col_letters(rc[1])}{rc[0]}"


def parse_a1(ref: str | None) -> Coord | None:
    """(row, column) of an A1 reference ("$B$7" → (7, 2); of a range, its first cell); None if not one."""
    m = A1.fullmatch((ref or "").split(":")[0].strip())
    return (int(m[2]), col_number(m[1])) if m else None


def cell_order(ref: str | None) -> Coord:
    """(row, column) of a reference, for reading order; (0, 0) when there is none."""
    return parse_a1(ref) or (0, 0)


class Scan:
    """One streaming pass over a worksheet part: formulas (and which have a saved result), error values,
    merges, extent, data outside the area, and the cells formatted as a percentage (`percent_styles`:
    the style indices whose number format shows one, from `percent_styles(zf)`)."""

    def __init__(self, max_rows: int, max_cols: int, percent_styles: frozenset[str] = frozenset()):
        self.max_rows, self.max_cols = max_rows, max_cols
        self.percent_styles = percent_styles
        self.percent: set[Coord] = set()  # cells of the area whose number format shows a percentage (93%)
        self.in_percent = False
        self.formulas: set[Coord] = set()
        self.cached: set[Coord] = set()  # formula cells with a saved result (a writer that does not compute saves none)
        self.errors: dict[Coord, str] = {}
        self.merged: list[tuple[int, int, int, int]] = []
        self.outside_count, self.outside_first = 0, None
        self.last_row = self.last_col = 0  # the extent: the last row and column holding anything
        self._tags: dict[str, str] = {}  # "x:c" -> "c", cached: a callback per element is the hot path
        self.row = self.col = 0
        self.in_data = self.in_cell = False
        self.cell_type, self.filled, self.formula, self.text = "", False, False, []

    def parse(self, stream) -> Scan:
        """Feed a worksheet part through expat, refusing any DTD (OOXML never has one)."""
        p = expat.ParserCreate()
        p.buffer_text = True
        p.StartDoctypeDeclHandler = p.EntityDeclHandler = self._forbid
        p.StartElementHandler, p.EndElementHandler = self._start, self._end
        self._parser = p
        p.ParseFile(stream)
        return self

    def _forbid(self, *args):
        raise Forbidden("DTD in worksheet")

    def local_name(self, tag: str) -> str:
        local = self._tags.get(tag)
        if local is None:
            local = self._tags[tag] = tag.rpartition(":")[2]  # prefixes vary (x:c)
        return local

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        tag = self.local_name(tag)
        if self.in_cell:
            if tag == "f":
                self.formula = True
            elif tag in ("v", "is"):
                self.filled = True
                if tag == "v" and (self.cell_type == "e" or self.formula):  # <f> comes before <v>
                    self._parser.CharacterDataHandler = self.text.append
        elif tag == "c" and self.in_data:
            m = A1.fullmatch(attrs.get("r", ""))
            if m:  # r= is optional: without it a cell is the next one in its row
                self.row, self.col = int(m[2]), col_number(m[1])
            else:
                self.col += 1
            self.in_cell, self.cell_type = True, attrs.get("t", "n")
            self.in_percent = bool(self.percent_styles) and attrs.get("s") in self.percent_styles
            self.filled = self.formula = False
            self.text = []
        elif tag == "row" and self.in_data:
            r = attrs.get("r", "")
            self.row, self.col = (int(r) if r.isdigit() else self.row + 1), 0
        elif tag == "sheetData":
            self.in_data = True
        elif tag == "mergeCell":
            ends = [A1.fullmatch(x) for x in attrs.get("ref", "").split(":")]
            if all(ends) and len(ends) in (1, 2):
                (r1, c1), (r2, c2) = [(int(m[2]), col_number(m[1])) for m in (ends[0], ends[-1])]
                if r1 <= self.max_rows and c1 <= self.max_cols:
                    self.merged.append((r1, c1, r2, c2))

    def _end(self, tag: str) -> None:
        tag = self.local_name(tag)
        if tag == "v":
            self._parser.CharacterDataHandler = None
        elif tag == "c" and self.in_cell:
            self.in_cell = False
            if self.filled or self.formula:
                self._cell(self.row, self.col)
        elif tag == "sheetData":
            self.in_data = False

    def _cell(self, row: int, col: int) -> None:
        if row > self.last_row:
            self.last_row = row
        if col > self.last_col:
            self.last_col = col
        if row > self.max_rows or col > self.max_cols:
            self.outside_count += 1
            self.outside_first = self.outside_first or f"{col_letters(col)}{row}"
            return
        if self.in_percent and self.cell_type == "n":  # a number shown as a percentage
            self.percent.add((row, col))
        if self.formula:
            self.formulas.add((row, col))
            # a saved result: any text, or a string result (even ""); openpyxl writes an empty <v></v>
            if self.filled and (self.text or self.cell_type in ("str", "s", "inlineStr")):
                self.cached.add((row, col))
                if self.cell_type == "e":
                    self.errors[(row, col)] = "".join(self.text).strip()
        elif self.cell_type == "e":
            self.errors[(row, col)] = "".join(self.text).strip()


def local_name(tag: str) -> str:
    """"{namespace}name" -> "name": transitional and strict OOXML differ only there."""
    return tag.rpartition("}")[2]


#: Excel's built-in number formats that show a percentage: 9 is "0%", 10 is "0.00%".
_BUILTIN_PERCENT = frozenset({"9", "10"})
#: What in a format code is no format character: quoted text, escaped characters, [colour]/[$-804] parts.
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')


def is_percent_format(code: str) -> bool:
    """Whether a number format code shows a number as a percentage (a % outside quotes and escapes)."""
    return "%" in _FORMAT_LITERALS.sub("", code)


def percent_styles(zf: zipfile.ZipFile) -> frozenset[str]:
    """The cell style indices (the `s` of a cell, as text) whose number format shows a percentage.

    Read from the styles part (cellXfs → numFmtId → built-in 9/10 or a custom code with %), so a
    cell Excel shows as 93% can be read as 93 % whichever parser gives its value. Empty without one."""
    from defusedxml.ElementTree import fromstring

    part = "xl/styles.xml"
    if "xl/_rels/workbook.xml.rels" in zf.namelist():
        for el in fromstring(zf.read("xl/_rels/workbook.xml.rels")).iter():
            if local_name(el.tag) == "Relationship" and el.get("Type", "").endswith("/styles"):
                target = el.get("Target", "")
                part = target.lstrip("/") if target.startswith("/") else posixpath.normpath("xl/" + target)
    if part not in zf.namelist():
        return frozenset()
    root = fromstring(zf.read(part))
    percent_ids = set(_BUILTIN_PERCENT)
    styles: list[str | None] = []
    for el in root:
        name = local_name(el.tag)
        if name == "numFmts":
            percent_ids |= {f.get("numFmtId") for f in el if is_percent_format(f.get("formatCode", ""))}
            percent_ids -= {f.get("numFmtId") for f in el if not is_percent_format(f.get("formatCode", ""))}
        elif name == "cellXfs":
            styles = [xf.get("numFmtId", "0") for xf in el if local_name(xf.tag) == "xf"]
    return frozenset(str(i) for i, fmt in enumerate(styles) if fmt in percent_ids)


def book(zf: zipfile.ZipFile) -> tuple[list[tuple[str, str | None, bool]], list[tuple[str, str | None, str]]]:
    """Sheets (name, worksheet part or None for chart/dialog sheets, hidden) and defined names (name, sheet, ref)."""
    from defusedxml.ElementTree import fromstring

    rels = {}
    for el in fromstring(zf.read("xl/_rels/workbook.xml.rels")).iter():
        if local_name(el.tag) == "Relationship" and el.get("TargetMode") != "External":
            target = el.get("Target", "")
            part = target.lstrip("/") if target.startswith("/") else posixpath.normpath("xl/" + target)
            rels[el.get("Id")] = part if el.get("Type", "").endswith("/worksheet") else None
    sheets, local_names = [], []
    root = fromstring(zf.read("xl/workbook.xml"))
    for el in root.iter():
        if local_name(el.tag) == "sheet":
            rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), None)
            sheets.append((el.get("name", ""), rels.get(rid), el.get("state", "visible") != "visible"))
        elif local_name(el.tag) == "definedName":
            local_names.append(el)
    names = []
    for el in local_names:
        name, scope = el.get("name", ""), el.get("localSheetId")
        if name.startswith("_xlnm."):  # print areas, filters: Excel's own
            continue
        sheet = sheets[int(scope)][0] if scope and scope.isdigit() and int(scope) < len(sheets) else None
        names.append((name, sheet, (el.text or "").strip()))
    if len({name.casefold() for name, _, _ in sheets}) != len(sheets):  # Excel forbids it; readers would disagree
        raise ValueError("duplicate sheet names")
    return sheets, names


# ------------------------------------------------------------------ packages as other writers leave them

#: Where every parser looks for the workbook part, and its relationships.
WORKBOOK_PART, WORKBOOK_RELS = "xl/workbook.xml", "xl/_rels/workbook.xml.rels"
_OFFICE_DOCUMENT = "/officeDocument"
#: Content types of a workbook's main part: workbook, template, macro-enabled workbook or template.
_WORKBOOK_TYPES = ("spreadsheetml.sheet.main+xml", "spreadsheetml.template.main+xml",
                   "ms-excel.sheet.macroEnabled.main+xml", "ms-excel.template.macroEnabled.main+xml")
_SMALL_PART = 1 << 20  # _rels/.rels and [Content_Types].xml are a few KB


def _small_part(zf: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    return zf.read(info) if info.file_size <= _SMALL_PART and not info.flag_bits & 1 else None


def _rels_of(part: str) -> str:
    folder, _, name = part.rpartition("/")
    return f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels"


def _resolve(base: str, target: str) -> str:
    """A relationship target as a part name: absolute ("/xl/a.xml"), or relative to `base`'s folder."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), target))


def workbook_part(zf: zipfile.ZipFile) -> tuple[str, bool] | None:
    """(the workbook part, whether it is macro-enabled), or None when the package holds no workbook.

    Excel finds the workbook through the package's officeDocument relationship (_rels/.rels), not
    at a fixed name: a writer may put it elsewhere (xl/main.xml) and Excel still opens the file."""
    from defusedxml.ElementTree import fromstring

    names = set(zf.namelist())
    types = _small_part(zf, "[Content_Types].xml") or b""
    if WORKBOOK_PART in names:
        return WORKBOOK_PART, b"macroEnabled" in types or "xl/vbaProject.bin" in names
    rels = _small_part(zf, "_rels/.rels")
    if rels is None or not types:
        return None
    try:
        target = next((el.get("Target", "") for el in fromstring(rels).iter() if local_name(el.tag) == "Relationship"
                       and el.get("Type", "").endswith(_OFFICE_DOCUMENT)), None)
        overrides = {el.get("PartName", "").lstrip("/"): el.get("ContentType", "")
                     for el in fromstring(types).iter() if local_name(el.tag) == "Override"}
    except Exception:  # a damaged or hostile part: no workbook found this way
        return None
    part = _resolve("", target) if target else None
    kind = overrides.get(part or "", "")
    if part not in names or not kind.endswith(_WORKBOOK_TYPES):
        return None
    return part, "macroEnabled" in kind


def _utf16(head: bytes) -> str | None:
    """The UTF-16 codec an XML part is saved in, from its first bytes (a BOM, or "<" as two bytes); None: UTF-8."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if head.startswith(b"<\x00"):
        return "utf-16-le"
    if head.startswith(b"\x00<"):
        return "utf-16-be"
    return None


def _utf8(data: bytes, codec: str) -> bytes:
    """An XML part saved in UTF-16 (valid XML: some writers save so) re-encoded as UTF-8, declaration included."""
    return _DECLARED_ENCODING.sub(r'\1"UTF-8"', data.decode(codec), count=1).encode("utf-8")


_DECLARED_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*)(?:"[^"]*"|'[^']*')""")


def normalised(zf: zipfile.ZipFile) -> bytes | None:
    """The package rewritten the way every parser reads it, or None when it already is so.

    calamine finds the workbook only at xl/workbook.xml and reads XML only in UTF-8; Excel opens
    both a workbook part elsewhere (through _rels/.rels) and parts saved in UTF-16. Such a package
    is rewritten in memory (within the reader's limits): the workbook part and its relationships moved
    to their usual names, their targets made absolute, and every XML part re-encoded as UTF-8."""
    import io

    found = workbook_part(zf)
    part = found[0] if found else WORKBOOK_PART
    moved = part != WORKBOOK_PART
    xml_parts = [i for i in zf.infolist() if i.filename.endswith((".xml", ".rels"))]
    utf16 = {i.filename: codec for i in xml_parts if (codec := _utf16(_head(zf, i)))}
    if not moved and not utf16:
        return None
    renamed = {part: WORKBOOK_PART, _rels_of(part): WORKBOOK_RELS} if moved else {}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zo:
        for info in zf.infolist():
            name = info.filename
            if moved and name == WORKBOOK_PART:
                continue  # a decoy where the relationship does not point: Excel ignores it too
            data = zf.read(info)
            if name in utf16:
                data = _utf8(data, utf16[name])
            if moved and name == _rels_of(part):
                data = _absolute_targets(data, part)
            elif moved and name in ("_rels/.rels", "[Content_Types].xml"):
                data = data.replace(f'"{part}"'.encode(), f'"{WORKBOOK_PART}"'.encode()).replace(
                    f'"/{part}"'.encode(), f'"/{WORKBOOK_PART}"'.encode())
            zo.writestr(renamed.get(name, name), data)
    return out.getvalue()


def _head(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with zf.open(info) as fh:
        return fh.read(4)


def _absolute_targets(rels: bytes, part: str) -> bytes:
    """The workbook's relationships with internal targets made absolute, so they hold from its new place."""
    def absolute(m: re.Match) -> str:
        target = m[2]
        if target.startswith("/") or "://" in target:
            return m[0]
        return f'{m[1]}"/{_resolve(part, target)}"'
    return re.sub(r'(\bTarget\s*=\s*)"([^"]*)"', absolute, rels.decode("utf-8")).encode("utf-8")
