"""The marked-up copy at the cost of a write: the department's zip streamed through, only changed parts patched.

Loading a department's workbook with openpyxl to colour a few cells costs far more than
writing it (~190 ms a file, most of it building cell and merged-cell objects). Here
openpyxl only builds a *shadow*: an empty workbook with the department's sheet names,
merged ranges and default font, on which markup.py marks cells and builds the 审核意见
sheet exactly as it would on the real one. That shadow is small, so saving it is cheap;
its parts are then transplanted into the department's zip:

- the marked cells: each gets a copy of its own cell format with the shadow's fill (styles.xml
  grows by the fills, fonts, borders and formats the shadow used), its `s` index changed in place;
- the comments and their VML drawings, with the relationships and a <legacyDrawing> in the sheet;
- the 审核意见 sheet (shared strings made inline), first in the workbook, with its print names;
- the toolkit's mark (docProps/custom.xml, core.xml's lastModifiedBy and modified).

Every other part — and every other byte of a patched sheet — goes through unchanged. A
workbook whose parts do not have the plain form this expects (prefixed XML, rows or cells
without references, comments of its own, our sheet already there, macros) raises
`Unsupported`, and markup.py takes the openpyxl way instead.
"""

from __future__ import annotations

import datetime as dt
import io
import posixpath
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from defusedxml import ElementTree

from .xlsx import parse_a1

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_NS = {"m": MAIN, "r": REL, "p": PKG_REL, "ct": CT}
COMMENTS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CUSTOM_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
VML_TYPE = "application/vnd.openxmlformats-officedocument.vmlDrawing"
CUSTOM_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
#: What may follow <legacyDrawing> in a worksheet (CT_Worksheet's order): it goes before the first of these.
_AFTER_LEGACY = ("<legacyDrawingHF", "<drawingHF", "<picture", "<oleObjects", "<controls", "<webPublishItems",
                 "<tableParts", "<extLst", "</worksheet>")
_CELL = re.compile(rb"<c\b[^>]*?(?:/>|>.*?</c>)", re.S)
_ROW = re.compile(rb"<row\b[^>]*?(?:/>|>.*?</row>)", re.S)
_REF = re.compile(rb'\sr="([^"]*)"')
_STYLE = re.compile(rb'\ss="(\d+)"')
_XF = re.compile(r"<xf\b[^>]*?(?:/>|>.*?</xf>)", re.S)


class Unsupported(Exception):
    """A workbook this module does not patch (the caller takes the openpyxl way)."""


@dataclass
class _Sheet:
    name: str
    part: str  # zip member, e.g. xl/worksheets/sheet3.xml
    merges: list[str] = field(default_factory=list)


def _root_tag(xml: bytes, tag: str) -> None:
    """The part's root element is `tag` in the default namespace (no prefixes to keep straight)."""
    start = re.search(rb"<(?!\?|!)([^\s>/]+)", xml)
    if start is None or start.group(1) != tag.encode():
        raise Unsupported(f"root is not <{tag}>")


def _parse(xml: bytes):
    try:
        return ElementTree.fromstring(xml)
    except Exception as exc:
        raise Unsupported(f"XML: {exc}") from exc


def _target(base: str, target: str) -> str:
    """A relationship's target as a zip member name."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), target))


def _rels_of(part: str) -> str:
    return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")


def _free(taken: set[str], pattern: str) -> str:
    """The first name pattern.format(n) not in taken (case-insensitively), added to it."""
    lowered = {t.lower() for t in taken}
    n = 1
    while pattern.format(n).lower() in lowered:
        n += 1
    taken.add(pattern.format(n))
    return pattern.format(n)


class Package:
    """A department's .xlsx as its zip parts, ready to receive a shadow's marks."""

    def __init__(self, data: bytes) -> None:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                self.infos = zf.infolist()
                self.parts = {i.filename: zf.read(i) for i in self.infos}
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as exc:
            raise Unsupported(f"zip: {exc}") from exc
        if len(self.parts) != len(self.infos):
            raise Unsupported("duplicate members")
        for name in ("[Content_Types].xml", "_rels/.rels", "docProps/core.xml"):
            if name not in self.parts:
                raise Unsupported(f"no {name}")
        types = self.parts["[Content_Types].xml"]
        if b"macroEnabled" in types or any(n.lower().endswith("vbaproject.bin") for n in self.parts):
            raise Unsupported("macros")
        self.workbook = self._office_document()
        _root_tag(self.parts[self.workbook], "workbook")
        wb_rels = _rels_of(self.workbook)
        rels = {r.get("Id"): r for r in _parse(self.parts.get(wb_rels, b"<x/>")).findall("p:Relationship", _NS)}
        self.sheets: list[_Sheet] = []
        for sheet in _parse(self.parts[self.workbook]).iterfind("m:sheets/m:sheet", _NS):
            rel = rels.get(sheet.get(f"{{{REL}}}id"))
            if rel is None:
                raise Unsupported("sheet without relationship")
            part = _target(self.workbook, rel.get("Target", ""))
            if part not in self.parts:
                raise Unsupported(f"missing {part}")
            self.sheets.append(_Sheet(sheet.get("name", ""), part))
        styles = [_target(self.workbook, r.get("Target", "")) for r in rels.values()
                  if r.get("Type", "").endswith("/styles")]
        if len(styles) != 1 or styles[0] not in self.parts:
            raise Unsupported("no styles part")
        self.styles = styles[0]
        _root_tag(self.parts[self.styles], "styleSheet")

    def _office_document(self) -> str:
        for rel in _parse(self.parts["_rels/.rels"]).findall("p:Relationship", _NS):
            if rel.get("Type", "").endswith("/officeDocument"):
                part = _target("", rel.get("Target", ""))
                if part in self.parts:
                    return part
        raise Unsupported("no workbook part")

    def check(self, review_sheet: str) -> None:
        """Unsupported unless every sheet is in the plain form patched here (call before the shadow)."""
        for sheet in self.sheets:
            if sheet.name == review_sheet:
                raise Unsupported("a returned marked copy")
            xml = self.parts[sheet.part]
            _root_tag(xml, "worksheet")
            if b"<legacyDrawing" in xml:
                raise Unsupported("comments or controls of its own")
            sheet.merges = [m.decode() for m in re.findall(rb'<mergeCell\b[^>]*\bref="([^"]+)"', xml)]

    # ------------------------------------------------------------------ the shadow

    def default_font(self):
        """The workbook's default font (of cell format 0) as an openpyxl Font, or None."""
        from openpyxl.styles import Font

        root = _parse(self.parts[self.styles])
        fonts = root.findall("m:fonts/m:font", _NS)
        first = root.find("m:cellXfs/m:xf", _NS)
        try:
            index = int(first.get("fontId", "0")) if first is not None else 0
            return Font.from_tree(fonts[index]) if fonts else None
        except (ValueError, IndexError, TypeError):
            return None

    def shadow(self, cells: Iterable[tuple[str, str | None]] = ()):
        """An empty openpyxl workbook with this one's sheet names and default font, and of its merged ranges
        those holding one of `cells` ((sheet, A1) pairs: where findings are; the others matter to no mark)."""
        from openpyxl import Workbook
        from openpyxl.utils.indexed_list import IndexedList
        from openpyxl.worksheet.cell_range import CellRange

        wanted: dict[str, list[tuple[int, int]]] = {}
        for sheet, cell in cells:
            rc = parse_a1(cell) if cell else None
            if rc is not None:
                wanted.setdefault(sheet, []).append(rc)
        wb = Workbook()
        wb.remove(wb.active)
        font = self.default_font()
        if font is not None:
            wb._fonts = IndexedList([font])
        for sheet in self.sheets:
            ws = wb.create_sheet(sheet.name)
            for ref in sheet.merges if sheet.name in wanted else ():
                first, _, last = ref.partition(":")
                top, bottom = parse_a1(first), parse_a1(last or first)
                if top is None or bottom is None:
                    continue
                if any(top[0] <= r <= bottom[0] and top[1] <= c <= bottom[1] for r, c in wanted[sheet.name]):
                    ws.merged_cells.add(CellRange(ref))  # the range only, never its cells
        return wb

    # ------------------------------------------------------------------ the transplant

    def apply(self, shadow, review_sheet: str) -> bytes:
        """The department's zip with the shadow's fills, comments, review sheet and mark in it."""
        theirs = _render(shadow)
        parts = dict(self.parts)
        taken = set(parts)
        content_types: list[str] = []
        styles = _Styles(parts[self.styles], theirs["xl/styles.xml"])
        shadow_sheets = [ws.title for ws in shadow.worksheets]
        if shadow_sheets[0] != review_sheet or shadow_sheets[1:] != [s.name for s in self.sheets]:
            raise Unsupported("shadow sheets differ")
        for ws, sheet in zip(shadow.worksheets[1:], self.sheets, strict=True):
            xml = parts[sheet.part]
            fills = {}
            for cell in ws._cells.values():
                if cell.has_style and cell._style.fillId:
                    fills[(cell.row, cell.column)] = cell._style.fillId
            if fills:
                xml = _restyle(xml, fills, styles)
            xml = re.sub(rb'\stabSelected="(?:1|true)"', b"", xml)
            comments = _comments(ws)
            if comments is not None:
                xml = self._attach_comments(parts, taken, sheet.part, xml, comments, content_types)
            parts[sheet.part] = xml
        self._add_review_sheet(parts, taken, theirs, styles, content_types)
        parts[self.styles] = styles.patched()
        self._mark(parts, theirs, content_types)
        if content_types:
            types = parts["[Content_Types].xml"]
            end = types.rindex(b"</Types>")
            parts["[Content_Types].xml"] = types[:end] + "".join(content_types).encode() + types[end:]
        return self._zip(parts)

    def _attach_comments(self, parts: dict[str, bytes], taken: set[str], sheet_part: str, xml: bytes,
                         comments: tuple[bytes, bytes], content_types: list[str]) -> bytes:
        comment_part = _free(taken, "xl/comments/comment{}.xml")
        vml_part = _free(taken, "xl/drawings/commentsDrawing{}.vml")
        parts[comment_part], parts[vml_part] = comments
        content_types.append(f'<Override PartName="/{comment_part}" ContentType="{COMMENTS_TYPE}"/>')
        if b'Extension="vml"' not in parts["[Content_Types].xml"] and not any(
                'Extension="vml"' in t for t in content_types):
            content_types.append(f'<Default Extension="vml" ContentType="{VML_TYPE}"/>')
        rels_part = _rels_of(sheet_part)
        existing = parts.get(rels_part)
        ids = set(re.findall(r'\bId="([^"]+)"', existing.decode("utf-8", "replace"))) if existing else set()
        if existing and b"/comments\"" in existing:
            raise Unsupported("comments of its own")
        comment_id, vml_id = _free(ids, "rIdPtComments{}"), _free(ids, "rIdPtNotes{}")
        new = (f'<Relationship Id="{comment_id}" Type="{REL}/comments" Target="/{comment_part}"/>'
               f'<Relationship Id="{vml_id}" Type="{REL}/vmlDrawing" Target="/{vml_part}"/>').encode()
        if existing:
            end = existing.rindex(b"</Relationships>")
            parts[rels_part] = existing[:end] + new + existing[end:]
        else:
            parts[rels_part] = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                                b'<Relationships xmlns="' + PKG_REL.encode() + b'">' + new + b"</Relationships>")
        taken.add(rels_part)
        at = min(i for i in (xml.find(tag.encode()) for tag in _AFTER_LEGACY) if i >= 0)
        return xml[:at] + f'<legacyDrawing xmlns:r="{REL}" r:id="{vml_id}"/>'.encode() + xml[at:]

    def _add_review_sheet(self, parts: dict[str, bytes], taken: set[str], theirs: dict[str, bytes],
                          styles: _Styles, content_types: list[str]) -> None:
        sheet_xml = _inline_strings(theirs["xl/worksheets/sheet1.xml"], theirs.get("xl/sharedStrings.xml"))
        sheet_xml = _STYLE.sub(lambda m: b' s="%d"' % styles.theirs_xf(int(m.group(1))), sheet_xml)
        sheet_xml = re.sub(rb'\sstyle="(\d+)"', lambda m: b' style="%d"' % styles.theirs_xf(int(m.group(1))),
                           sheet_xml)
        part = _free(taken, "xl/worksheets/sheet{}.xml")
        parts[part] = sheet_xml
        content_types.append(f'<Override PartName="/{part}" ContentType="{SHEET_TYPE}"/>')
        rels_part = _rels_of(self.workbook)
        rels = parts[rels_part]
        rid = _free(set(re.findall(r'\bId="([^"]+)"', rels.decode("utf-8", "replace"))), "rIdPtReview{}")
        end = rels.rindex(b"</Relationships>")
        parts[rels_part] = (rels[:end] + f'<Relationship Id="{rid}" Type="{REL}/worksheet" '
                            f'Target="/{part}"/>'.encode() + rels[end:])
        wb = parts[self.workbook]
        ids = [int(i) for i in re.findall(rb'<sheet\b[^>]*\ssheetId="(\d+)"', wb)]
        name = escape(self.review_name(theirs), {'"': "&quot;"})
        entry = f'<sheet xmlns:r="{REL}" name="{name}" sheetId="{max(ids, default=0) + 1}" r:id="{rid}"/>'
        wb = re.sub(rb'(\slocalSheetId=")(\d+)"', lambda m: m.group(1) + b"%d\"" % (int(m.group(2)) + 1), wb)
        wb = re.sub(rb'(<workbookView\b[^>]*?\s)activeTab="\d+"', rb'\1activeTab="0"', wb)
        wb = re.sub(rb'(<workbookView\b[^>]*?\s)firstSheet="\d+"', rb'\1firstSheet="0"', wb)
        opening = re.search(rb"<sheets\s*>", wb)
        if opening is None:
            raise Unsupported("no <sheets>")
        wb = wb[:opening.end()] + entry.encode() + wb[opening.end():]
        names = b"".join(re.findall(rb'<definedName\b[^>]*\slocalSheetId="0"[^>]*>.*?</definedName>',
                                    theirs["xl/workbook.xml"], re.S))
        if names:
            opening = re.search(rb"<definedNames\s*>", wb)
            if opening is not None:
                wb = wb[:opening.end()] + names + wb[opening.end():]
            elif b"<definedNames" in wb:
                raise Unsupported("definedNames")
            else:
                end = wb.index(b"</sheets>") + len(b"</sheets>")
                wb = wb[:end] + b"<definedNames>" + names + b"</definedNames>" + wb[end:]
        parts[self.workbook] = wb

    @staticmethod
    def review_name(theirs: dict[str, bytes]) -> str:
        first = _parse(theirs["xl/workbook.xml"]).find("m:sheets/m:sheet", _NS)
        return first.get("name")

    def _mark(self, parts: dict[str, bytes], theirs: dict[str, bytes], content_types: list[str]) -> None:
        """The toolkit's mark: the shadow's custom property, and core.xml's lastModifiedBy and modified."""
        from . import marker

        prop = re.search(rb"<property\b[^>]*\bname=\"" + marker.PROPERTY.encode() + rb"\".*?</property>",
                         theirs["docProps/custom.xml"], re.S).group(0)
        custom = parts.get("docProps/custom.xml")
        if custom is None:
            parts["docProps/custom.xml"] = theirs["docProps/custom.xml"]
            content_types.append(f'<Override PartName="/docProps/custom.xml" ContentType="{CUSTOM_TYPE}"/>')
            rels = parts["_rels/.rels"]
            ids = set(re.findall(r'\bId="([^"]+)"', rels.decode("utf-8", "replace")))
            end = rels.rindex(b"</Relationships>")
            parts["_rels/.rels"] = (rels[:end] + f'<Relationship Id="{_free(ids, "rIdPtCustom{}")}" '
                                    f'Type="{CUSTOM_REL}" Target="docProps/custom.xml"/>'.encode() + rels[end:])
        else:
            _root_tag(custom, "Properties")
            if not re.search(rb'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"',
                             custom):
                raise Unsupported("custom properties without the vt prefix")
            custom = re.sub(rb"<property\b[^>]*\bname=\"" + marker.PROPERTY.encode() + rb"\".*?</property>", b"",
                            custom, flags=re.S)
            pids = [int(p) for p in re.findall(rb'\spid="(\d+)"', custom)]
            prop = re.sub(rb'\spid="\d+"', b' pid="%d"' % (max(pids, default=1) + 1), prop, count=1)
            end = custom.rindex(b"</Properties>")
            parts["docProps/custom.xml"] = custom[:end] + prop + custom[end:]
        core = parts["docProps/core.xml"]
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        by = f"<cp:lastModifiedBy>{marker.AUTHOR}</cp:lastModifiedBy>".encode()
        core, found = re.subn(rb"<cp:lastModifiedBy\s*/>|<cp:lastModifiedBy>.*?</cp:lastModifiedBy>",
                              lambda _m: by, core, count=1, flags=re.S)
        core, dated = re.subn(rb"(<dcterms:modified\b[^>]*[^/]>).*?(</dcterms:modified>)",
                              lambda m: m.group(1) + now.encode() + m.group(2), core, count=1, flags=re.S)
        if b"</cp:coreProperties>" not in core:
            raise Unsupported("core properties")
        missing = (b"" if found else by) + (b"" if dated else (
            '<dcterms:modified xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:type="dcterms:W3CDTF">{now}</dcterms:modified>').encode())
        if missing:
            core = re.sub(rb"<dcterms:modified\b[^>]*/>", b"", core)
            end = core.rindex(b"</cp:coreProperties>")
            core = core[:end] + missing + core[end:]
        if b"xmlns:cp=" not in core or b"xmlns:dcterms=" not in core:
            raise Unsupported("core properties")
        parts["docProps/core.xml"] = core

    def _zip(self, parts: dict[str, bytes]) -> bytes:
        out = io.BytesIO()
        order = [i.filename for i in self.infos] + [n for n in parts if n not in self.parts]
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in order:
                info = zipfile.ZipInfo(name, date_time=dt.datetime.now().timetuple()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, parts[name], compresslevel=6)
        return out.getvalue()


# ------------------------------------------------------------------ the shadow's parts


def _render(shadow) -> dict[str, bytes]:
    """The shadow's parts that the transplant takes, named as a saved shadow would name them, made in memory
    with openpyxl's own writers: saving the whole shadow writes every sheet through a temporary file and
    zips it, only to be unzipped again."""
    from openpyxl.styles.stylesheet import write_stylesheet
    from openpyxl.workbook._writer import WorkbookWriter
    from openpyxl.worksheet._writer import WorksheetWriter
    from openpyxl.xml.functions import tostring

    review = shadow.worksheets[0]
    writer = WorksheetWriter(review, out=io.BytesIO())
    writer.write()  # first: the cell formats it uses are numbered in order, as in a saved shadow
    if writer._rels or review._comments:
        raise Unsupported("review sheet with relationships")
    return {
        "xl/worksheets/sheet1.xml": writer.read(),
        "xl/styles.xml": tostring(write_stylesheet(shadow)),
        "xl/workbook.xml": WorkbookWriter(shadow).write(),
        "docProps/custom.xml": tostring(shadow.custom_doc_props.to_tree()),
    }


def _comments(ws) -> tuple[bytes, bytes] | None:
    """A shadow sheet's (comments part, VML drawing), or None when it has no comments."""
    from openpyxl.comments.comment_sheet import CommentRecord, CommentSheet
    from openpyxl.xml.functions import tostring

    noted = [ws._cells[key] for key in sorted(ws._cells) if ws._cells[key]._comment is not None]
    if not noted:
        return None
    sheet = CommentSheet.from_comments([CommentRecord.from_cell(cell) for cell in noted])
    return tostring(sheet.to_tree()), sheet.write_shapes(None)


# ------------------------------------------------------------------ styles


def _section(xml: str, tag: str) -> tuple[int, int] | None:
    """(start, end) of the inner text of <tag ...>…</tag>, or None when it is absent or empty (<tag/>)."""
    start = re.search(rf"<{tag}\b[^>]*?(/?)>", xml)
    if start is None or start.group(1):
        return None
    end = xml.index(f"</{tag}>", start.end())
    return start.end(), end


def _children(inner: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}\b[^>]*?(?:/>|>.*?</{tag}>)", inner, re.S)


class _Styles:
    """The department's styles.xml, growing by what the shadow's cells use."""

    def __init__(self, ours: bytes, theirs: bytes) -> None:
        self.xml = ours.decode("utf-8")
        if re.search(r"<\w+:(?:fonts|fills|borders|cellXfs)\b", self.xml):
            raise Unsupported("prefixed styles")
        self.counts, self.added = {}, {}
        for tag, child in (("fonts", "font"), ("fills", "fill"), ("borders", "border"), ("cellXfs", "xf")):
            where = _section(self.xml, tag)
            if where is None:
                raise Unsupported(f"no {tag}")
            self.counts[tag] = len(_children(self.xml[where[0]:where[1]], child))
            self.added[tag] = []
        self.xfs = _children(self.xml[slice(*_section(self.xml, "cellXfs"))], "xf")
        their = theirs.decode("utf-8")
        self.their = {tag: _children(their[slice(*(_section(their, tag) or (0, 0)))], child)
                      for tag, child in (("fonts", "font"), ("fills", "fill"), ("borders", "border"),
                                         ("cellXfs", "xf"))}
        self._their_xf: dict[int, int] = {}
        self._their_part: dict[tuple[str, int], int] = {}
        self._restyled: dict[tuple[int, int], int] = {}

    def _their(self, tag: str, index: int) -> int:
        """The index, in the department's styles, of the shadow's font/fill/border `index` (added once)."""
        key = (tag, index)
        if key not in self._their_part:
            self._their_part[key] = self.counts[tag] + len(self.added[tag])
            self.added[tag].append(self.their[tag][index])
        return self._their_part[key]

    def _add_xf(self, xf: str) -> int:
        self.added["cellXfs"].append(xf)
        return self.counts["cellXfs"] + len(self.added["cellXfs"]) - 1

    def theirs_xf(self, index: int) -> int:
        """The department's index of the shadow's cell format `index` (with its font, fill and border)."""
        if index not in self._their_xf:
            xf = self.their["cellXfs"][index]
            if int(re.search(r'numFmtId="(\d+)"', xf).group(1)) >= 164:
                raise Unsupported("custom number format in the shadow")
            for tag, attr in (("fonts", "fontId"), ("fills", "fillId"), ("borders", "borderId")):
                xf = re.sub(rf'\b{attr}="(\d+)"', lambda m, t=tag, a=attr: f'{a}="{self._their(t, int(m.group(1)))}"',
                            xf)
            self._their_xf[index] = self._add_xf(xf)
        return self._their_xf[index]

    def restyled(self, style: int, their_fill: int) -> int:
        """A copy of the department's cell format `style` with the shadow's fill `their_fill`."""
        key = (style, their_fill)
        if key not in self._restyled:
            if style >= len(self.xfs):
                style = 0
            xf = self.xfs[style] if self.xfs else '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            fill = self._their("fills", their_fill)
            xf = re.sub(r'\sfillId="\d+"', "", xf, count=1)
            xf = re.sub(r'\sapplyFill="[^"]*"', "", xf, count=1)
            xf = re.sub(r"^<xf\b", f'<xf fillId="{fill}" applyFill="1"', xf)
            self._restyled[key] = self._add_xf(xf)
        return self._restyled[key]

    def patched(self) -> bytes:
        xml = self.xml
        for tag in ("fonts", "fills", "borders", "cellXfs"):  # each insertion leaves the others' offsets behind it
            if not self.added[tag]:
                continue
            start, end = _section(xml, tag)
            xml = xml[:end] + "".join(self.added[tag]) + xml[end:]
            count = self.counts[tag] + len(self.added[tag])
            opening = xml.rfind(f"<{tag}", 0, start)
            head = xml[opening:start]
            new_head = re.sub(r'\scount="\d+"', f' count="{count}"', head) if "count=" in head else head
            xml = xml[:opening] + new_head + xml[start:]
        return xml.encode("utf-8")


# ------------------------------------------------------------------ sheets


def _restyle(xml: bytes, fills: dict[tuple[int, int], int], styles: _Styles) -> bytes:
    """The sheet with each (row, column) in `fills` given the shadow's fill, adding cells and rows it lacks."""
    data = re.search(rb"<sheetData\s*/>|<sheetData\b[^>]*>(.*?)</sheetData>", xml, re.S)
    if data is None:
        raise Unsupported("no sheetData")
    by_row: dict[int, dict[int, int]] = {}
    for (r, c), fill in fills.items():
        by_row.setdefault(r, {})[c] = fill
    inner = data.group(1) or b""
    pieces, last, seen = [], 0, set()
    bottom = max(by_row)  # the last marked row
    for m in _ROW.finditer(inner):
        ref = _REF.search(m.group(0)[:m.group(0).index(b">") + 1])
        if ref is None:
            raise Unsupported("row without a reference")
        r = int(ref.group(1))
        before = sorted(x for x in by_row if x < r and x not in seen)  # rows with no element of their own
        if before or r in by_row:
            pieces.append(inner[last:m.start()])
            pieces.extend(_new_row(x, by_row[x], styles) for x in before)
            seen.update(before)
            pieces.append(_restyle_row(m.group(0), r, by_row[r], styles) if r in by_row else m.group(0))
            seen.add(r)
            last = m.end()
        if r >= bottom:  # every marked row is placed: the rest of the sheet goes through unread
            break
    pieces.append(inner[last:])
    tail = b"".join(_new_row(r, by_row[r], styles) for r in sorted(set(by_row) - seen))
    body = b"".join(pieces) + tail
    return xml[:data.start()] + b"<sheetData>" + body + b"</sheetData>" + xml[data.end():]


def _cell_tag(column: int, row: int, style: int) -> bytes:
    from .xlsx import a1

    return b'<c r="%s" s="%d"/>' % (a1((row, column)).encode(), style)


def _new_row(r: int, cells: dict[int, int], styles: _Styles) -> bytes:
    return (b'<row r="%d">' % r + b"".join(_cell_tag(c, r, styles.restyled(0, f)) for c, f in sorted(cells.items()))
            + b"</row>")


def _restyle_row(row: bytes, r: int, cells: dict[int, int], styles: _Styles) -> bytes:
    if row.endswith(b"/>"):  # <row .../>: no cells yet
        head = row[:-2] + b">"
        return head + b"".join(_cell_tag(c, r, styles.restyled(0, f)) for c, f in sorted(cells.items())) + b"</row>"
    head_end = row.index(b">") + 1
    head, body = row[:head_end], row[head_end:-len(b"</row>")]
    pieces, last, done = [], 0, set()
    for m in _CELL.finditer(body):
        tag_end = m.group(0).index(b">") + 1
        start_tag = m.group(0)[:tag_end]
        ref = _REF.search(start_tag)
        if ref is None:
            raise Unsupported("cell without a reference")
        rc = parse_a1(ref.group(1).decode("ascii", "replace"))
        if rc is None or rc[0] != r:
            raise Unsupported("cell reference outside its row")
        c = rc[1]
        for missing in sorted(x for x in cells if x < c and x not in done):
            pieces.append(body[last:m.start()])
            last = m.start()
            pieces.append(_cell_tag(missing, r, styles.restyled(0, cells[missing])))
            done.add(missing)
        if c in cells:
            old = _STYLE.search(start_tag)
            new = styles.restyled(int(old.group(1)) if old else 0, cells[c])
            if old:
                start_tag = start_tag[:old.start()] + b' s="%d"' % new + start_tag[old.end():]
            else:
                start_tag = start_tag[:2] + b' s="%d"' % new + start_tag[2:]
            pieces.append(body[last:m.start()])
            pieces.append(start_tag + m.group(0)[tag_end:])
            last = m.end()
            done.add(c)
    pieces.append(body[last:])
    pieces.extend(_cell_tag(c, r, styles.restyled(0, cells[c])) for c in sorted(set(cells) - done))
    return head + b"".join(pieces) + b"</row>"


def _inline_strings(sheet: bytes, shared: bytes | None) -> bytes:
    """The shadow's review sheet with its shared strings written inline (the department's table stays as it is)."""
    if shared is None:
        return sheet
    strings = ["".join(si.itertext()) for si in _parse(shared).findall("m:si", _NS)]

    def inline(m: re.Match) -> bytes:
        start = m.group(1).replace(b' t="s"', b' t="inlineStr"')
        text = escape(strings[int(m.group(2))]).encode("utf-8")
        return start + b'<is><t xml:space="preserve">' + text + b"</t></is></c>"

    return re.sub(rb'(<c\b[^>]*\st="s"[^>]*>)<v>(\d+)</v></c>', inline, sheet)
