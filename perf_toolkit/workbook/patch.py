"""The marked-up copy at the cost of a write: the department's zip streamed through, only changed parts patched.

Loading a department's workbook with openpyxl to colour a few cells costs far more than
writing it (~190 ms a file, most of it building cell and merged-cell objects). Here the
department's zip is kept as its parts and only what the marks change is written into it:

- the marked cells (`Mark`s, made by markup.py): each gets a copy of its own cell format with
  the mark's fill (styles.xml grows by it), its `s` index changed in place;
- the comments and their VML drawings (written as openpyxl writes them), with the relationships
  and a <legacyDrawing> in the sheet;
- the 审核意见 sheet (review.py's XML writer; styles.xml grows by its formats), first in the
  workbook, with its print names;
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from defusedxml import ElementTree

from . import review
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
CUSTOM_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VT = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
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
    """A department's .xlsx as its zip parts, ready to receive the marks."""

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
        """Unsupported unless every sheet is in the plain form patched here (call before `apply`)."""
        for sheet in self.sheets:
            if sheet.name == review_sheet:
                raise Unsupported("a returned marked copy")
            xml = self.parts[sheet.part]
            _root_tag(xml, "worksheet")
            if b"<legacyDrawing" in xml:
                raise Unsupported("comments or controls of its own")
            sheet.merges = [m.decode() for m in re.findall(rb'<mergeCell\b[^>]*\bref="([^"]+)"', xml)]

    # ------------------------------------------------------------------ the transplant

    def apply(self, marks: Sequence[Mark], sheet: review.ReviewSheet, stamp: str) -> bytes:
        """The department's zip with `marks` made, `sheet` added first and the toolkit's `stamp` (marker.py)."""
        parts = dict(self.parts)
        taken = set(parts)
        content_types: list[str] = []
        styles = _Styles(parts[self.styles])
        by_sheet: dict[str, list[Mark]] = {}
        for mark in marks:
            by_sheet.setdefault(mark.sheet, []).append(mark)
        if set(by_sheet) - {s.name for s in self.sheets} or sheet.name in by_sheet:
            raise Unsupported("a mark on a sheet the workbook lacks")
        for own in self.sheets:
            xml = parts[own.part]
            mine = by_sheet.get(own.name, [])
            fills = {rc: review.fill_xml(mark.colour) for mark in mine for rc in mark.cells}  # a later mark wins
            if fills:
                xml = _restyle(xml, fills, styles)
            xml = re.sub(rb'\stabSelected="(?:1|true)"', b"", xml)
            if mine:
                xml = self._attach_comments(parts, taken, own.part, xml, _comments(mine), content_types)
            parts[own.part] = xml
        self._add_review_sheet(parts, taken, sheet, styles, content_types)
        parts[self.styles] = styles.patched()
        self._mark(parts, stamp, content_types)
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

    def _add_review_sheet(self, parts: dict[str, bytes], taken: set[str], sheet: review.ReviewSheet,
                          styles: _Styles, content_types: list[str]) -> None:
        sheet_xml = review.to_xml(sheet, styles.format_xf)
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
        name = escape(sheet.name, {'"': "&quot;"})
        entry = f'<sheet xmlns:r="{REL}" name="{name}" sheetId="{max(ids, default=0) + 1}" r:id="{rid}"/>'
        wb = re.sub(rb'(\slocalSheetId=")(\d+)"', lambda m: m.group(1) + b"%d\"" % (int(m.group(2)) + 1), wb)
        wb = re.sub(rb'(<workbookView\b[^>]*?\s)activeTab="\d+"', rb'\1activeTab="0"', wb)
        wb = re.sub(rb'(<workbookView\b[^>]*?\s)firstSheet="\d+"', rb'\1firstSheet="0"', wb)
        opening = re.search(rb"<sheets\s*>", wb)
        if opening is None:
            raise Unsupported("no <sheets>")
        wb = wb[:opening.end()] + entry.encode() + wb[opening.end():]
        names = review.defined_names(sheet)
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

    def _mark(self, parts: dict[str, bytes], stamp: str, content_types: list[str]) -> None:
        """The toolkit's mark: its custom property `stamp`, and core.xml's lastModifiedBy and modified."""
        from . import marker

        prop = (f'<property name="{marker.PROPERTY}" fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="2">'
                f'<vt:lpwstr xmlns:vt="{VT}">{escape(stamp)}</vt:lpwstr></property>').encode()
        custom = parts.get("docProps/custom.xml")
        if custom is None:
            parts["docProps/custom.xml"] = f'<Properties xmlns="{CUSTOM_NS}">'.encode() + prop + b"</Properties>"
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


# ------------------------------------------------------------------ comments


@dataclass(frozen=True)
class Mark:
    """A marked place of a sheet: the cell its comment is on, the cells coloured, their colour, the comment."""

    sheet: str
    coord: str
    cells: tuple[tuple[int, int], ...]
    colour: str  # RGB of the solid fill
    text: str
    author: str
    height: int  # the comment box, px
    width: int


#: The comment shape of the VML drawing, as openpyxl writes it (so Excel, WPS and LibreOffice show it alike).
_SHAPE = ('<ns0:shape xmlns:ns0="urn:schemas-microsoft-com:vml" xmlns:ns1="urn:schemas-microsoft-com:office:office" '
          'type="#_x0000_t202" style="position:absolute; margin-left:59.25pt;margin-top:1.5pt;width:{width}px;'
          'height:{height}px;z-index:1;visibility:hidden" fillcolor="#ffffe1" ns1:insetmode="auto" '
          'id="_x0000_s{id:04d}"><ns0:fill color2="#ffffe1"/><ns0:shadow color="black" obscured="t"/>'
          '<ns0:path ns1:connecttype="none"/><ns0:textbox style="mso-direction-alt:auto">'
          '<div style="text-align:left"/></ns0:textbox><ns2:ClientData '
          'xmlns:ns2="urn:schemas-microsoft-com:office:excel" ObjectType="Note"><ns2:MoveWithCells/>'
          '<ns2:SizeWithCells/><ns2:AutoFill>False</ns2:AutoFill><ns2:Row>{row}</ns2:Row>'
          '<ns2:Column>{column}</ns2:Column></ns2:ClientData></ns0:shape>')
_SHAPE_TYPE = ('<xml><ns0:shapelayout xmlns:ns0="urn:schemas-microsoft-com:office:office" '
               'xmlns:ns1="urn:schemas-microsoft-com:vml" ns1:ext="edit"><ns0:idmap ns1:ext="edit" data="1"/>'
               '</ns0:shapelayout><ns2:shapetype xmlns:ns2="urn:schemas-microsoft-com:vml" '
               'xmlns:ns3="urn:schemas-microsoft-com:office:office" id="_x0000_t202" coordsize="21600,21600" '
               'ns3:spt="202" path="m,l,21600r21600,l21600,xe"><ns2:stroke joinstyle="miter"/>'
               '<ns2:path gradientshapeok="t" ns3:connecttype="rect"/></ns2:shapetype>')


def _comments(marks: Sequence[Mark]) -> tuple[bytes, bytes]:
    """A sheet's (comments part, VML drawing) of `marks`, in cell order, as openpyxl writes them."""
    noted = sorted(marks, key=lambda m: parse_a1(m.coord) or (0, 0))
    authors: dict[str, int] = {}
    for mark in noted:
        authors.setdefault(mark.author, len(authors))
    out = [f'<comments xmlns="{MAIN}"><authors>']
    out.extend(f"<author>{review.text(a)}</author>" for a in authors)
    out.append("</authors><commentList>")
    for mark in noted:
        stripped = mark.text.strip()
        space = ' xml:space="preserve"' if stripped and stripped != mark.text else ""
        out.append(f'<comment ref="{mark.coord}" authorId="{authors[mark.author]}" shapeId="0"><text>'
                   f"<t{space}>{review.text(mark.text)}</t></text></comment>")
    out.append("</commentList></comments>")
    shapes = [_SHAPE_TYPE]
    for n, mark in enumerate(noted, 1026):
        row, column = parse_a1(mark.coord) or (1, 1)
        shapes.append(_SHAPE.format(width=mark.width, height=mark.height, id=n, row=row - 1, column=column - 1))
    shapes.append("</xml>")
    return "".join(out).encode("utf-8"), "".join(shapes).encode("utf-8")


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
    """The department's styles.xml, growing by the fills of the marks and the formats of the review sheet."""

    def __init__(self, ours: bytes) -> None:
        self.xml = ours.decode("utf-8")
        if re.search(r"<\w+:(?:fonts|fills|borders|cellXfs)\b", self.xml):
            raise Unsupported("prefixed styles")
        self.counts, self.added = {}, {}
        children = {}
        for tag, child in (("fonts", "font"), ("fills", "fill"), ("borders", "border"), ("cellXfs", "xf")):
            where = _section(self.xml, tag)
            if where is None:
                raise Unsupported(f"no {tag}")
            children[tag] = _children(self.xml[where[0]:where[1]], child)
            self.counts[tag] = len(children[tag])
            self.added[tag] = []
        self.xfs = children["cellXfs"]
        first = re.search(r'\sfontId="(\d+)"', self.xfs[0]) if self.xfs else None
        index = int(first.group(1)) if first else 0
        # the workbook's default font (of cell format 0), which the review sheet's fonts are made from
        self.font = children["fonts"][index] if index < len(children["fonts"]) else review.DEFAULT_FONT
        self._parts: dict[tuple[str, str], int] = {}
        self._formats: dict[review.Format, int] = {}
        self._restyled: dict[tuple[int, str], int] = {}

    def _part(self, tag: str, xml: str) -> int:
        """The index of the font/fill/border/xf `xml` among those added (added once)."""
        key = (tag, xml)
        if key not in self._parts:
            self._parts[key] = self.counts[tag] + len(self.added[tag])
            self.added[tag].append(xml)
        return self._parts[key]

    def format_xf(self, fmt: review.Format) -> int:
        """The index of the review sheet's cell format `fmt` (with its font, fill and border, added once)."""
        if fmt not in self._formats:
            try:
                parts = review.format_xml(self.font, fmt)
            except ValueError as exc:
                raise Unsupported(str(exc)) from exc
            ids = {"fontId": self._part("fonts", parts.font), "fillId": self._part("fills", parts.fill),
                   "borderId": self._part("borders", parts.border)}
            xf = re.sub(r'\b(fontId|fillId|borderId)="0"', lambda m: f'{m.group(1)}="{ids[m.group(1)]}"', parts.xf)
            self._formats[fmt] = self._part("cellXfs", xf)
        return self._formats[fmt]

    def restyled(self, style: int, fill_xml: str) -> int:
        """A copy of the department's cell format `style` with the fill `fill_xml`."""
        key = (style, fill_xml)
        if key not in self._restyled:
            if style >= len(self.xfs):
                style = 0
            xf = self.xfs[style] if self.xfs else '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            fill = self._part("fills", fill_xml)
            xf = re.sub(r'\sfillId="\d+"', "", xf, count=1)
            xf = re.sub(r'\sapplyFill="[^"]*"', "", xf, count=1)
            xf = re.sub(r"^<xf\b", f'<xf fillId="{fill}" applyFill="1"', xf)
            self._restyled[key] = self.counts["cellXfs"] + len(self.added["cellXfs"])
            self.added["cellXfs"].append(xf)
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


def _restyle(xml: bytes, fills: dict[tuple[int, int], str], styles: _Styles) -> bytes:
    """The sheet with each (row, column) in `fills` given its fill (XML), adding cells and rows it lacks."""
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


def _new_row(r: int, cells: dict[int, str], styles: _Styles) -> bytes:
    return (b'<row r="%d">' % r + b"".join(_cell_tag(c, r, styles.restyled(0, f)) for c, f in sorted(cells.items()))
            + b"</row>")


def _restyle_row(row: bytes, r: int, cells: dict[int, str], styles: _Styles) -> bytes:
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
