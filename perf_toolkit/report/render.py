"""Word reports for every project: the 绩效自评报告 and the 自评表 (docxtpl), and their PDFs.

`build_context` (in report_context) is pure; this module does the I/O. A
template is read, patched and compiled once per process (`load_template`) and
every document is rendered from that compiled form straight into a new .docx
zip, so a batch pays docxtpl's parsing once, not once per document. The parent
only plans: each project's file names (from its printed names, not its
context). Workers (`workbook.pool`, each loading the templates once) get the
scored project, build and clean its context and render and write the
documents, so the bytes do not depend on the number of workers. The first
project is rendered in the parent before any file is written, so a template
error leaves no half-written output folder; a project that fails later fails
alone. `convert_to_pdf` runs one LibreOffice process per batch of files.
"""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docxtpl import DocxTemplate
from jinja2 import Environment, StrictUndefined, meta
from jinja2 import TemplateError as JinjaError
from lxml import etree

from ..config import DEFAULT, Campaign
from ..fsutil import TEMP_PREFIX, atomic_write
from ..model import Evaluation, ScoredProject
from ..text import MAX_NAME_BYTES, safe_name, scrub
from ..workbook import pool
from .context import CONTEXT_KEYS, build_context, printed_names

if TYPE_CHECKING:
    from ..profile import Profile

REPORT_TEMPLATE = "自评报告模板.docx"
TABLE_TEMPLATE = "自评表模板.docx"
NOTES_TEMPLATE = "审核附注模板.docx"
REPORT_SUFFIX = "绩效自评报告"
TABLE_SUFFIX = "自评表"
NOTES_SUFFIX = "审核附注"

__all__ = ["NOTES_TEMPLATE", "REPORT_TEMPLATE", "TABLE_TEMPLATE", "PdfError", "PreparedTemplate", "RenderedProject",
           "ReportJob", "ReportTemplateError", "Templates", "build_context", "check_template", "convert_to_pdf", "find_soffice",
           "load_template", "load_templates", "output_names", "plan_reports", "render_jobs",
           "render_reports", "report_context", "rendered_project", "safe_name", "template_path"]


class ReportTemplateError(Exception):
    """A report template that cannot be used (message in Chinese, for the operator)."""


class PdfError(Exception):
    """PDF conversion unavailable or failed (message in Chinese, for the operator)."""


def template_path(name: str) -> Path:
    """A bundled template: workbook_templates/ beside the package (repo), else inside it (installed data)."""
    package = Path(__file__).resolve().parents[1]
    for folder in (package.parent / "workbook_templates", package / "workbook_templates"):
        if (folder / name).is_file():
            return folder / name
    return package.parent / "workbook_templates" / name


# ------------------------------------------------------------------ templates


def _environment() -> Environment:
    # autoescape: a department's & < > </w:t> stay text; StrictUndefined: a template typo fails loudly
    return Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True,
                       finalize=lambda v: "" if v is None else v)


_VM_CELL = re.compile(r"<w:tc[ >](?:(?!<w:tc[ >]).)*?{%\s*vm\s+(?:(?!%}).)+?%}.*?</w:tc>", re.S)
_VM_TAG = re.compile(r"{%\s*vm\s+((?:(?!%}).)+?)\s*%}", re.S)
_TAGGED = re.compile(r"{{|{%|{#")
_PARAGRAPH = re.compile(r"<w:p(?: [^>]*)?>.*?</w:p>", re.S)  # as docxtpl's resolve_listing cuts paragraphs
_LISTING = re.compile("[\n\t\a\f]")  # what resolve_listing turns into breaks, tabs and paragraphs


def _vertical_merge(cell_match: re.Match) -> str:
    """`{% vm EXPR %}` in a cell: restart a vertical merge when EXPR is true, continue it otherwise.

    docxtpl's own `{% vm %}` merges a whole loop (loop.first); grouped rows (一级,
    then 二级 within it) need a condition per row, given by the context.
    """
    cell = cell_match.group(0)
    expr = _VM_TAG.search(cell).group(1)
    cell = _VM_TAG.sub("", cell, count=1)
    cell = re.sub(r"<w:vMerge(?: [^>]*)?/>", "", cell)
    vmerge = f'<w:vMerge w:val="{{% if {expr} %}}restart{{% else %}}continue{{% endif %}}"/>'
    anchor = None
    for pattern in (r"<w:gridSpan [^>]*/>", r"<w:tcW [^>]*/>", r"<w:tcPr>"):
        anchor = re.search(pattern, cell)
        if anchor:
            break
    if anchor is None:
        cell = re.sub(r"(<w:tc(?: [^>]*)?>)", r"\1<w:tcPr>" + vmerge.replace("\\", r"\\") + "</w:tcPr>", cell,
                      count=1)
    else:
        cell = cell[:anchor.end()] + vmerge + cell[anchor.end():]
    # a continued cell must be empty, or its text would show under the merged one
    return re.sub(r"(<w:t(?: [^>]*)?>)(.*?)(</w:t>)",
                  lambda m: f"{m.group(1)}{{% if {expr} %}}{m.group(2)}{{% endif %}}{m.group(3)}", cell, flags=re.S)


@dataclass
class _Part:
    member: str  # zip member name
    template: Any  # compiled jinja2 Template
    kind: str  # body | xml | raw
    prefix: bytes = b""
    suffix: bytes = b""


#: zlib's level for a rendered document's parts (see PreparedTemplate.render).
DOCUMENT_COMPRESSION = 1


class PreparedTemplate:
    """A .docx template read, patched and compiled once, rendered into new documents many times."""

    def __init__(self, data: bytes, name: str = "模板") -> None:
        self.name = name
        self.env = _environment()
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                self._members = [(info, zf.read(info.filename)) for info in zf.infolist()]
            tpl = DocxTemplate(io.BytesIO(data))
            docx = tpl.get_docx()
        except Exception as exc:  # python-docx/zipfile raise many types for a non-docx file
            raise ReportTemplateError(f"模板 {name} 不是有效的 Word 文档（.docx）：{exc}") from exc
        self._tpl = tpl
        members = {info.filename: data for info, data in self._members}
        self._signature_styles = _style_ids(members.get("word/styles.xml", b""), ("落款", "落款日期"))
        self._parts: list[_Part] = []
        self.variables: set[str] = set()
        # the body: rendered with the namespaces of the original document around it
        main = docx.part.partname.lstrip("/")
        text = members[main].decode("utf-8")
        start = re.search(r"<w:body[ >]", text)
        end = text.rfind("</w:body>")
        if start is None or end < 0:
            raise ReportTemplateError(f"模板 {name} 的正文结构无法识别，请用 Word 另存为 .docx 后重试。")
        self._parts.append(_Part(main, self._compile(tpl.get_xml(), True), "body",
                                 text[:start.start()].encode("utf-8"), text[end + len("</w:body>"):].encode("utf-8")))
        for rel in docx.part.rels.values():
            if rel.is_external or not rel.reltype.endswith(("/header", "/footer")):
                continue
            blob = rel.target_part.blob
            if _TAGGED.search(blob.decode("utf-8", "replace")):
                self._parts.append(_Part(rel.target_part.partname.lstrip("/"),
                                         self._compile(tpl.get_part_xml(rel.target_part), True), "xml"))
        core = "docProps/core.xml"
        if core in members and _TAGGED.search(members[core].decode("utf-8", "replace")):
            self._parts.append(_Part(core, self._compile(members[core].decode("utf-8"), False), "raw"))
        # docxtpl's column loops ({%tc for %}, {% hm %}) need its table-grid fix; plain templates do not
        plain = re.sub(r"<[^>]+>", "", text)
        self._needs_table_fix = re.search(r"{%-?\s*tc\s+for\b|{%\s*hm\s*%}", plain) is not None

    def _compile(self, xml: str, patch: bool):
        source = xml
        if patch:
            source = _VM_CELL.sub(_vertical_merge, self._tpl.patch_xml(xml))
            source = re.sub(r"<w:p([ >])", r"\n<w:p\1", source)  # as docxtpl: error lines point at paragraphs
        try:
            self.variables |= meta.find_undeclared_variables(self.env.parse(source))
            template = self.env.from_string(source)
        except JinjaError as exc:
            raise ReportTemplateError(f"模板 {self.name} 的标记有语法错误：{exc.message}"
                                f"（请检查 {{{{ }}}} 与 {{% %}} 是否成对、拼写是否正确）") from exc
        return template

    def _resolve_listing(self, paragraph: re.Match) -> str:
        """docxtpl's line breaks and tabs for one paragraph, only where it has some: the same result as over
        the whole document (it works paragraph by paragraph), without its regexes over every run."""
        text = paragraph.group(0)
        return self._tpl.resolve_listing(text) if _LISTING.search(text) else text

    def render(self, context: dict[str, Any]) -> bytes:
        """One document (the .docx bytes) for a context; raises ReportTemplateError on an undefined variable."""
        rendered: dict[str, bytes] = {}
        for part in self._parts:
            try:
                xml = part.template.render(context)
            except JinjaError as exc:
                raise ReportTemplateError(f"模板 {self.name} 渲染失败：{exc}") from exc
            if part.kind == "raw":
                rendered[part.member] = xml.encode("utf-8")
                continue
            xml = xml.replace("\n<w:p ", "<w:p ").replace("\n<w:p>", "<w:p>")  # the breaks _compile added
            xml = xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
            if "\n" in xml or "\t" in xml:  # a value with line breaks or tabs (\a \f are scrubbed)
                xml = _PARAGRAPH.sub(self._resolve_listing, xml)
            try:
                tree = etree.fromstring(xml)  # strict: a malformed result is an error, never "recovered"
            except etree.XMLSyntaxError as exc:
                raise ReportTemplateError(f"模板 {self.name} 生成的文档结构有误：{exc}") from exc
            if self._needs_table_fix:
                tree = self._tpl.fix_tables(etree.tostring(tree, encoding="unicode"))
            if part.kind == "body":
                _centre_signature(tree, *self._signature_styles)
                for n, pr in enumerate(tree.iter("{http://schemas.openxmlformats.org/drawingml/2006/"
                                                 "wordprocessingDrawing}docPr"), start=1001):
                    pr.set("id", str(n))
                rendered[part.member] = part.prefix + etree.tostring(tree, encoding="utf-8") + part.suffix
            else:
                rendered[part.member] = etree.tostring(tree, encoding="utf-8", xml_declaration=True,
                                                       standalone=True)
        out = io.BytesIO()
        # deflate's fastest level: half the time of the default (6) for documents ~12 % larger (14 KB, not 12.5)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for info, data in self._members:
                fresh = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                fresh.compress_type = zipfile.ZIP_DEFLATED
                fresh.external_attr = info.external_attr
                zf.writestr(fresh, rendered.get(info.filename, data), compresslevel=DOCUMENT_COMPRESSION)
        return out.getvalue()


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _style_ids(styles_xml: bytes, names: tuple[str, ...]) -> tuple[str | None, ...]:
    """The style ids of the paragraph styles named `names` (None for one the template lacks)."""
    if not styles_xml:
        return tuple(None for _ in names)
    found: dict[str, str] = {}
    for style in etree.fromstring(styles_xml).iter(f"{_W}style"):
        name = style.find(f"{_W}name")
        if name is not None:
            found[name.get(f"{_W}val")] = style.get(f"{_W}styleId")
    return tuple(found.get(n) for n in names)


def _text_width(text: str) -> float:
    """Printed width in Chinese characters (digits and Latin letters are half as wide)."""
    return sum(0.5 if ord(ch) < 0x2E80 else 1.0 for ch in text)


def _centre_signature(tree, unit_style: str | None, date_style: str | None) -> None:
    """GB/T 9704 7.3.5.1: the unit centred over the date (which is 右空四字, from its style): the unit's
    right indent is the date's plus half the difference of their widths."""
    if not unit_style or not date_style:
        return
    pars = list(tree.iter(f"{_W}p"))
    styles = [_pstyle(p) for p in pars]  # once each
    for k, (unit, date) in enumerate(zip(pars, pars[1:], strict=False)):
        if styles[k] != unit_style or styles[k + 1] != date_style:
            continue
        unit_text = "".join(t.text or "" for t in unit.iter(f"{_W}t"))
        date_text = "".join(t.text or "" for t in date.iter(f"{_W}t"))
        chars = max(0.0, 4 + (_text_width(date_text) - _text_width(unit_text)) / 2)
        ppr = unit.find(f"{_W}pPr")
        ind = ppr.find(f"{_W}ind")
        if ind is None:
            ind = etree.Element(f"{_W}ind")
            after = [ppr.find(f"{_W}{tag}") for tag in ("jc", "textDirection", "textAlignment", "outlineLvl", "rPr")]
            anchor = next((a for a in after if a is not None), None)
            if anchor is not None:
                anchor.addprevious(ind)
            else:
                ppr.append(ind)
        ind.set(f"{_W}rightChars", str(round(chars * 100)))
        ind.set(f"{_W}right", str(round(chars * 16 * 20)))  # 三号 (16 pt) characters in twips


def _pstyle(par) -> str | None:
    style = par.find(f"{_W}pPr/{_W}pStyle")
    return None if style is None else style.get(f"{_W}val")


_CACHE: dict[tuple[str, int, int], PreparedTemplate] = {}


def load_template(path: str | Path) -> PreparedTemplate:
    """A template prepared once per process (cached by path, size and modification time)."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise ReportTemplateError(f"找不到模板文件：{path}") from exc
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _CACHE:
        _CACHE[key] = PreparedTemplate(path.read_bytes(), path.name)
    return _CACHE[key]


def check_template(template: PreparedTemplate, known: Iterable[str] = CONTEXT_KEYS) -> None:
    """Fail with a Chinese message naming every variable the context does not provide."""
    unknown = sorted(template.variables - set(known))
    if unknown:
        names = "、".join(f"{{{{ {v} }}}}" for v in unknown)
        raise ReportTemplateError(f"模板 {template.name} 中有无法识别的变量：{names}。"
                            "可用的变量见 docs/report-context.md；请改正拼写后重试，未生成任何文件。")


# ------------------------------------------------------------------ file names

def output_names(projects: Sequence[tuple[str, str, str]]) -> list[str]:
    """A unique base name "{单位}-{项目}" per (unit, project, code), case-insensitively unique."""
    taken: set[str] = set()
    names = []
    units: dict[str, str] = {}  # a department's projects share its unit: made safe once
    for unit, project, code in projects:
        u = units.get(unit) or units.setdefault(unit, safe_name(unit, "未命名单位", 60))
        base = f"{u}-{safe_name(project, '未命名项目', MAX_NAME_BYTES - len(u.encode('utf-8')) - 1)}"
        if base.casefold() not in taken:
            name = base
        else:  # then with its code, then numbered (lazily: a list costs more than the render)
            coded = (f"{base}-{safe_name(code, '', 40)}",) if code else ()
            numbered = (f"{base}-{n}" for n in range(2, 10_000))
            name = next(c for c in itertools.chain(coded, numbered) if c.casefold() not in taken)
        taken.add(name.casefold())
        names.append(name)
    return names


# ------------------------------------------------------------------ batch

#: The suffixes of the documents a batch writes (what `prune` may remove in a folder the toolkit owns).
_OURS = re.compile(rf"-(?:{REPORT_SUFFIX}|{TABLE_SUFFIX}|{NOTES_SUFFIX})\.(?:docx|pdf)$", re.I)


@dataclass(slots=True)
class RenderedProject:
    """The documents written for one project: in `folder`, each named `name` and its kind.

    A round holds one for every project until it ends: the paths are made when asked for, not kept (three
    Paths a project were most of the report stage's memory at 10,000 departments)."""

    file: str
    department: str
    project: str
    code: str
    total_score: float | None  # None: not scored (the grade is 待核实)
    grade: str  # as printed (marked 待核实 when provisional)
    has_errors: bool
    folder: Path
    name: str  # the documents' base name, unique in the batch
    pdf: bool = False  # each document has its PDF beside it
    provisional: bool = False  # the total rests on claimed scores nobody could verify
    has_notes: bool = False  # it has a 审核附注 (only when the review has something to say)
    failed: str = ""  # why this project's documents could not be written (Chinese); then none of them exists
    reused: bool = False  # an incremental run found its documents current and kept them

    def _document(self, suffix: str, extension: str = ".docx") -> Path:
        return _document(self.folder, self.name, suffix, extension)

    @property
    def report(self) -> Path:
        return self._document(REPORT_SUFFIX)

    @property
    def table(self) -> Path:
        return self._document(TABLE_SUFFIX)

    @property
    def notes(self) -> Path | None:
        return self._document(NOTES_SUFFIX) if self.has_notes else None

    @property
    def report_pdf(self) -> Path | None:
        return self._document(REPORT_SUFFIX, ".pdf") if self.pdf else None

    @property
    def table_pdf(self) -> Path | None:
        return self._document(TABLE_SUFFIX, ".pdf") if self.pdf else None

    @property
    def notes_pdf(self) -> Path | None:
        return self._document(NOTES_SUFFIX, ".pdf") if self.pdf and self.has_notes else None

    @property
    def paths(self) -> list[Path]:
        """Every file written for the project (none when it failed)."""
        if self.failed:
            return []
        return [p for p in (self.report, self.table, self.notes, self.report_pdf, self.table_pdf, self.notes_pdf)
                if p is not None]


@dataclass(frozen=True)
class Templates:
    """The three templates of a batch, checked: their paths (a worker loads each once) and their bytes' digest."""

    report: Path
    table: Path
    notes: Path
    digest: str  # sha256 over the three files' bytes: part of an incremental run's cache key


@dataclass
class ReportJob:
    """One project's documents before they are rendered: the scored project, its file base name and the
    names it prints. Its context is built where it is rendered (a worker), not in the planning process."""

    project: ScoredProject
    name: str  # the documents' base name, unique in the batch
    unit: str  # as the context prints them (`unit`, `project_name`, `project_code`)
    project_name: str
    project_code: str


def load_templates(report_template: str | Path | None = None, table_template: str | Path | None = None,
                   notes_template: str | Path | None = None, *, check: bool = True) -> Templates:
    """The batch's templates (the bundled ones where none is given), loaded and checked in this process.

    `check=False`: only their paths and digest (`render_jobs` loads and checks them when it has something
    to render, so an incremental run with nothing to render compiles none).
    """
    paths = [Path(given or template_path(default)) for given, default in
             ((report_template, REPORT_TEMPLATE), (table_template, TABLE_TEMPLATE), (notes_template, NOTES_TEMPLATE))]
    digest = hashlib.sha256()
    for path in paths:
        if check:
            check_template(load_template(path))
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError as exc:
            raise ReportTemplateError(f"找不到模板文件：{path}") from exc
    return Templates(*paths, digest.hexdigest())


def plan_reports(evaluation: Evaluation, campaign: Campaign = DEFAULT) -> list[ReportJob]:
    """A job per counted project (projects of a superseded file get none), with names unique in the batch.

    Only the names are worked out here (cheap); the contexts are built by whoever renders.
    """
    projects = evaluation.counted_projects
    printed = [tuple(scrub(t) for t in printed_names(p)) for p in projects]
    names = output_names(printed)
    return [ReportJob(p, n, *texts) for p, n, texts in zip(projects, names, printed, strict=True)]


def report_context(project: ScoredProject, profile: Profile, campaign: Campaign = DEFAULT) -> dict[str, Any]:
    """The context the templates render for one project: `build_context`, every string cleaned once more."""
    return _clean_context(build_context(project, profile, campaign))


def _has_notes(context: dict[str, Any]) -> bool:
    """Whether the project gets a 审核附注: the review has notes, or there are findings to list."""
    return bool(context["has_review_notes"] or context["findings"])


def _clean_context(value: Any) -> Any:
    """Every string of the context cleaned once more: a custom template may print any of them."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _clean_context(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_context(v) for v in value]
    return value


def _document(folder: Path, name: str, suffix: str, extension: str = ".docx") -> Path:
    """A project's document of one kind (`suffix`) in `folder`, its base name `name`."""
    return folder / f"{name}-{suffix}{extension}"


def _document_paths(job: ReportJob, out: Path) -> tuple[Path, Path, Path]:
    """The report, the 自评表 and the 审核附注 `job` writes into `out`."""
    return tuple(_document(out, job.name, suffix) for suffix in (REPORT_SUFFIX, TABLE_SUFFIX, NOTES_SUFFIX))


def rendered_project(job: ReportJob, out: Path, *, pdf: bool = False, failed: str = "", reused: bool = False,
                     has_notes: bool = False) -> RenderedProject:
    """What `job` writes into `out` (or has written: an incremental run reuses it without rendering);
    `has_notes`: it has a 审核附注 (the renderer says so, from the context)."""
    return RenderedProject(job.project.file, job.unit, job.project_name, job.project_code,
                           job.project.total_score, scrub(job.project.grade), job.project.has_errors, out, job.name,
                           pdf=pdf, provisional=job.project.provisional, has_notes=has_notes, failed=failed,
                           reused=reused)


@dataclass(frozen=True)
class _Shared:
    """What every task of a batch shares (picklable, sent to each worker once): the templates' paths,
    the profile and the campaign the contexts are built with."""

    templates: tuple[Path, Path, Path]
    profile: Profile
    campaign: Campaign


@dataclass(frozen=True)
class _Task:
    """What a worker needs for one project (picklable): the scored project and the files to write."""

    project: ScoredProject
    report: Path
    table: Path
    notes: Path


def _render_task(shared: _Shared, task: _Task) -> tuple[str, bool]:
    """Build one project's context and render and write its documents (in a worker): ("" when done, else
    why not, in Chinese; whether it has a 审核附注). Never raises."""
    try:
        context = report_context(task.project, shared.profile, shared.campaign)
    except Exception as exc:  # a value the context cannot print: this project only
        return f"生成报告内容失败：{type(exc).__name__}: {scrub(str(exc))[:200]}", False
    has_notes = _has_notes(context)
    try:
        report_tpl, table_tpl, notes_tpl = (load_template(p) for p in shared.templates)  # once per worker
        documents = [(task.report, report_tpl.render(context)), (task.table, table_tpl.render(context)),
                     (task.notes, notes_tpl.render(context) if has_notes else None)]
        for path, data in documents:
            if data is not None:
                with atomic_write(path) as fh:
                    fh.write(data)
            else:  # an earlier round's notes on a project now clean
                path.unlink(missing_ok=True)
        return "", has_notes
    except ReportTemplateError as exc:
        return str(exc), False
    except Exception as exc:  # a full disk, a path the system refuses …: this project only
        return f"写入失败：{type(exc).__name__}: {scrub(str(exc))[:200]}", False


#: Per project, in a worker: generous (a document renders in a few ms); a worker that overruns dies alone.
_LIMITS = {"memory_bytes": 2 * 2**30, "cpu_seconds": 60, "wall_seconds": 300.0, "recycle_files": 1000}


def render_jobs(jobs: Sequence[ReportJob], output_dir: str | Path, templates: Templates, *, profile: Profile,
                campaign: Campaign = DEFAULT, pdf: bool = False, workers: int | None = None,
                reuse: Callable[[ReportJob], bool] = lambda job: False,
                done: Callable[[RenderedProject], None] | None = None, prune: bool = False) -> list[RenderedProject]:
    """Build the jobs' contexts (with `profile` and `campaign`) and render and write their documents in up
    to `workers` processes (default: the CPU count).

    The first job is rendered here first, so a template error is raised before any file is written.
    A job that fails later (its worker died, a value the template cannot print, a full disk) comes back
    with `failed` set and its files removed; the batch goes on. `reuse(job)` true: its files are kept
    as they are (an incremental run found them current; it has a 审核附注 when that file is there).
    `done` is told of each project once its files (and PDFs) exist, in order. `prune` removes our
    documents in the folder that no job names.
    """
    out = Path(output_dir)
    paths = (templates.report, templates.table, templates.notes)
    soffice = find_soffice() if pdf else None
    fresh = [not reuse(job) for job in jobs]
    todo = [job for job, f in zip(jobs, fresh, strict=True) if f]
    if todo:
        first = report_context(todo[0].project, profile, campaign)
        for path in paths:  # a template error fails the batch before anything is written
            template = load_template(path)
            check_template(template)
            template.render(first)
        out.mkdir(parents=True, exist_ok=True)
    tasks = (pool.Task(_Task(job.project, *_document_paths(job, out))) if f else None  # made as a worker has room
             for job, f in zip(jobs, fresh, strict=True))  # (a list held three Paths a project: ~65 MB at 10,000)
    outcomes = pool.imap(functools.partial(_render_task, _Shared(paths, profile, campaign)), tasks,
                         jobs=max(1, min(workers or os.cpu_count() or 1, len(todo))), **_LIMITS)
    results: list[RenderedProject] = []
    waiting: list[RenderedProject] = []  # written, their PDFs not yet
    for job, f, outcome in zip(jobs, fresh, outcomes, strict=True):
        if isinstance(outcome, pool.Failure):
            failed, has_notes = ("生成报告的进程异常退出（" + {"wall": "超出处理时间", "cpu": "超出处理时间",
                                                    "spawn": "无法启动"}.get(outcome.kind, "多为内存不足") + "）"), False
        elif f:
            failed, has_notes = outcome
        else:  # current: what an earlier run wrote
            failed, has_notes = "", _document(out, job.name, NOTES_SUFFIX).is_file()
        r = rendered_project(job, out, pdf=pdf, failed=failed, reused=not f, has_notes=has_notes)
        if r.failed:  # no document of an earlier run may stand for this one
            for path in _document_paths(job, out):
                path.unlink(missing_ok=True)
        results.append(r)
        if soffice and f and not r.failed:
            waiting.append(r)
        elif done:
            done(r)
    if waiting:
        convert_to_pdf([p for r in waiting for p in (r.report, r.table, r.notes) if p is not None], out,
                       soffice=soffice)
        for r in waiting:
            if done:
                done(r)
    if prune and out.is_dir():
        keep = {p.name.casefold() for r in results for p in (r.report, r.table, r.notes, r.report_pdf, r.table_pdf,
                                                            r.notes_pdf) if p is not None and not r.failed}
        for path in out.iterdir():
            leftover = path.name.startswith(TEMP_PREFIX)  # a killed run's temporary file
            if path.is_file() and (leftover or _OURS.search(path.name) and path.name.casefold() not in keep):
                path.unlink(missing_ok=True)
    return results


def render_reports(evaluation: Evaluation, output_dir: str | Path, *, campaign: Campaign = DEFAULT,
                   report_template: str | Path | None = None, table_template: str | Path | None = None,
                   notes_template: str | Path | None = None, pdf: bool = False, jobs: int | None = None,
                   done: Callable[[RenderedProject], None] | None = None) -> list[RenderedProject]:
    """Write a report and a 自评表 (.docx, optionally .pdf) per scored project into output_dir, and a
    审核附注 for a project the review has something to say about (a clean one gets none).

    Projects of a superseded file (its department sent a newer one) get none: only what counts.
    Rendered in up to `jobs` processes; the bytes do not depend on how many.
    """
    templates = load_templates(report_template, table_template, notes_template)
    return render_jobs(plan_reports(evaluation, campaign), output_dir, templates, profile=evaluation.profile,
                       campaign=campaign, pdf=pdf, workers=jobs, done=done)


# ------------------------------------------------------------------ PDF

_SOFFICE_PLACES = ("/usr/bin/soffice", "/usr/local/bin/soffice", "/opt/libreoffice/program/soffice",
                   "/Applications/LibreOffice.app/Contents/MacOS/soffice",
                   r"C:\Program Files\LibreOffice\program\soffice.exe")

#: The official fonts are rarely installed on a server: let fontconfig draw them with free CJK fonts
#: of the same kind (宋/仿宋/楷 → serif, 黑 → sans) instead of a Latin fallback.
_FONT_ALIASES = {
    "方正小标宋简体": ("FZXiaoBiaoSong-B05S", "Noto Serif CJK SC", "Source Han Serif SC"),
    "仿宋_GB2312": ("仿宋", "FangSong", "Noto Serif CJK SC", "Source Han Serif SC"),
    "楷体_GB2312": ("楷体", "KaiTi", "AR PL UKai CN", "Noto Serif CJK SC"),
    "黑体": ("SimHei", "Noto Sans CJK SC", "Source Han Sans SC"),
    "宋体": ("SimSun", "Noto Serif CJK SC", "Source Han Serif SC"),
    "Times New Roman": ("Liberation Serif", "DejaVu Serif"),
}


def find_soffice() -> str:
    """The LibreOffice program, or PdfError saying how to install it."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found:
        return found
    for place in _SOFFICE_PLACES:
        if Path(place).is_file():
            return place
    raise PdfError("未找到 LibreOffice（soffice），无法生成 PDF。请先安装：Debian/Ubuntu 运行 "
                   "`make install-pdf`（即 apt-get install libreoffice-writer-nogui fonts-noto-cjk），"
                   "Windows/macOS 从 libreoffice.org 安装；或去掉 --pdf 只生成 Word 文档。")


def _fontconfig(folder: Path) -> dict[str, str]:
    """Environment for soffice with the CJK font aliases (Linux fontconfig only)."""
    system = Path("/etc/fonts/fonts.conf")
    if os.environ.get("FONTCONFIG_FILE") or not system.is_file():
        return {}
    aliases = "".join(
        f"<alias binding=\"same\"><family>{name}</family><prefer>"
        + "".join(f"<family>{f}</family>" for f in prefer) + "</prefer></alias>"
        for name, prefer in _FONT_ALIASES.items()
    )
    conf = folder / "fonts.conf"
    conf.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                    f'<include ignore_missing="yes">{system}</include>{aliases}</fontconfig>', encoding="utf-8")
    return {"FONTCONFIG_FILE": str(conf)}


def convert_to_pdf(paths: Sequence[str | Path], output_dir: str | Path, *, soffice: str | None = None,
                   batch: int = 100) -> dict[Path, Path]:
    """Convert .docx files to PDF with one LibreOffice process per `batch` files; returns {docx: pdf}."""
    soffice = soffice or find_soffice()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    given = [Path(p) for p in paths]
    result: dict[Path, Path] = {}
    with tempfile.TemporaryDirectory(prefix="perf-toolkit-lo-") as home, \
            tempfile.TemporaryDirectory(prefix=".pdf-", dir=out) as staging:
        env = {**os.environ, "HOME": home, **_fontconfig(Path(home))}
        profile = (Path(home) / "profile").as_uri()  # private: never touches or waits for the user's LibreOffice
        for k in range(0, len(given), batch):
            chunk = given[k:k + batch]
            cmd = [soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore", "--nolockcheck",
                   "--nologo", "--nodefault", "--convert-to", "pdf:writer_pdf_Export", "--outdir", staging,
                   *(str(p.resolve()) for p in chunk)]
            try:
                done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120 + 15 * len(chunk),
                                      stdin=subprocess.DEVNULL, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise PdfError(f"LibreOffice 转换 PDF 失败：{exc}") from exc
            missing = [p for p in chunk if not (Path(staging) / f"{p.stem}.pdf").is_file()]
            if missing:
                detail = (done.stderr or done.stdout or "").strip().splitlines()[-3:]
                raise PdfError(f"LibreOffice 未能转换 {len(missing)} 个文件（如 {missing[0].name}）："
                               + ("；".join(detail) or f"退出码 {done.returncode}"))
            for p in chunk:
                staged, target = Path(staging) / f"{p.stem}.pdf", out / f"{p.stem}.pdf"
                with atomic_write(target) as fh:
                    fh.write(staged.read_bytes())
                result[p] = target
    return result
