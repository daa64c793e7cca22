"""The mark every workbook the toolkit writes carries, so it is never read back as a submission.

The summary, the `score -o` sheet and the marked-up copies carry a custom document property
(docProps/custom.xml) naming what they are and when they were written; the blank standard
workbook does not (departments fill it and send it back). A scan recognises the mark by
reading one small part of the zip, without parsing the workbook.

A marked-up copy is the one output a department legitimately returns: it fixes the marked
cells and mails the copy back. Excel, WPS and LibreOffice rewrite docProps/core.xml
(lastModifiedBy, modified) when they save, so a copy still as the toolkit wrote it is
skipped, and a copy someone has saved since is a submission like any other.
"""

from __future__ import annotations

import datetime as dt
import io
import lzma
import os
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from defusedxml import ElementTree

#: The custom document property holding "<kind> <UTC time written>".
PROPERTY = "perf-toolkit-output"
#: core.xml lastModifiedBy of a copy the toolkit wrote; an office program that saves it puts its user there.
AUTHOR = "perf-toolkit"
SUMMARY, SCORES, MARKUP = "summary", "scores", "markup"
KIND_ZH = {SUMMARY: "汇总表", SCORES: "评分表（score -o）", MARKUP: "审核意见表"}
#: The summary's workbook-scoped defined name (summary/book.py writes it): it survives a save by any office
#: program, even one that drops the custom property.
SUMMARY_NAME = "perf_toolkit_summary"
#: Sheets only the toolkit's outputs have, all of them together: how an output is known once both marks are gone.
OUTPUT_SHEETS = {SUMMARY: frozenset({"部门汇总", "项目明细", "指标明细", "元数据"}),
                 SCORES: frozenset({"项目得分", "指标得分"})}
#: A marked-up copy saved this long after the stamp was saved again by someone (the save itself takes seconds).
RESAVED_AFTER = dt.timedelta(minutes=10)
_PART_LIMIT = 256 * 1024  # docProps parts are a few hundred bytes; a bigger one is not ours

_CUSTOM = "docProps/custom.xml"
_CORE = "docProps/core.xml"
_NS = {"cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
       "dcterms": "http://purl.org/dc/terms/",
       "op": "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"}


def stamp(kind: str, now: dt.datetime | None = None) -> str:
    """The property's value for an output of `kind` written now."""
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    return f"{kind} {when.strftime('%Y-%m-%dT%H:%M:%SZ')}"


@dataclass(frozen=True)
class OutputMark:
    kind: str
    written: dt.datetime | None
    untouched: bool  # nobody has saved the file since the toolkit wrote it
    by_content: bool = False  # the property was gone: known by its defined name or its sheets

    @property
    def reason(self) -> str:
        """Why a scan skips the file (Chinese)."""
        what = KIND_ZH.get(self.kind, "文件")
        how = "（文件属性中的标记已丢失，按其工作表认定）" if self.by_content else ""
        return f"本工具生成的{what}{how}，不是单位报送的填报表，已跳过"


def output_mark(source: str | os.PathLike | bytes) -> OutputMark | None:
    """The toolkit's mark on a workbook (path or bytes) when it should be skipped, else None.

    None also for anything that is not a readable zip: the reader reports those itself.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else Path(source)) as zf:
            custom = _part(zf, _CUSTOM)
            found = _property(custom) if custom is not None else None
            if found is None:
                return _by_content(zf)
            kind, _, when = found.partition(" ")
            written = _time(when)
            if kind != MARKUP:
                return OutputMark(kind, written, True)
            by, modified = _core(_part(zf, _CORE))
            untouched = by == AUTHOR and written is not None and modified is not None \
                and dt.timedelta(minutes=-1) <= modified - written <= RESAVED_AFTER
            return OutputMark(kind, written, True) if untouched else None
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, KeyError, EOFError,
            RuntimeError, NotImplementedError, zlib.error, lzma.LZMAError):  # a member's compressed data broken
        return None


def _by_content(zf: zipfile.ZipFile) -> OutputMark | None:
    """A summary or score sheet whose custom property is gone (a program that drops it saved the file):
    known by the summary's defined name, or by the sheets only that output has."""
    from .xlsx import local_name, workbook_part

    found = workbook_part(zf)
    root = _parse(_part(zf, found[0]) or b"") if found else None
    if root is None:
        return None
    sheets, names = set(), set()
    for el in root.iter():
        tag = local_name(el.tag)
        if tag == "sheet":
            sheets.add(el.get("name", ""))
        elif tag == "definedName":
            names.add(el.get("name", ""))
    if SUMMARY_NAME in names:
        return OutputMark(SUMMARY, None, True, by_content=True)
    kind = next((k for k, required in OUTPUT_SHEETS.items() if required <= sheets), None)
    return OutputMark(kind, None, True, by_content=True) if kind else None


def _part(zf: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > _PART_LIMIT or info.compress_size > _PART_LIMIT:
        return None
    with zf.open(info) as fh:
        return fh.read(_PART_LIMIT + 1)[:_PART_LIMIT]


def _parse(xml: bytes):
    try:
        return ElementTree.fromstring(xml)
    except Exception:  # defusedxml refuses entities; a malformed part is simply not ours
        return None


def _property(xml: bytes) -> str | None:
    root = _parse(xml)
    if root is None:
        return None
    for prop in root.findall("op:property", _NS):
        if prop.get("name") == PROPERTY:
            return "".join(prop.itertext()).strip()
    return None


def _core(xml: bytes | None) -> tuple[str | None, dt.datetime | None]:
    root = _parse(xml) if xml else None
    if root is None:
        return None, None
    by = root.findtext("cp:lastModifiedBy", default=None, namespaces=_NS)
    return (by.strip() if by else None), _time(root.findtext("dcterms:modified", default="", namespaces=_NS))


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def _time(text: str | None) -> dt.datetime | None:
    text = (text or "").strip()
    if not _ISO.match(text):
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
