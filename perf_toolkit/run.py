"""A whole round in one call: collect → check → score → render → consolidate → feedback (`perf-toolkit run`).

One output folder per round, written under a lock so two runs cannot interleave
their files; every file inside is itself written atomically.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import hashlib
import io
import json
import os
import pickle
import zlib
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .check.evaluate import evaluate_paths
from .config import Campaign
from .fsutil import atomic_write
from .mail import rounddb
from .mail.feedback import Outgoing, compose_feedback, write_drafts
from .mail.store import CollectError, Collection, collect, current_files, senders, submission_times
from .model import Evaluation, FileResult, Finding, ScoredProject, Skipped, Submission
from .profile import Profile
from .progress import Progress
from .report.render import RenderedProject, ReportJob, load_templates, plan_reports, render_jobs
from .summary.consolidate import summarize
from .workbook.guard import Limits
from .workbook.markup import MarkupJob, MarkupResult, plan_markups, write_markups
from .workbook.read import WorkbookRead, discover, read_files

REPORT_JSON = "审核结果.json"
REPORTS_DIR = "自评报告"
SUMMARY_XLSX = "汇总.xlsx"
MARKUP_DIR = "审核意见"
FEEDBACK_DIR = "反馈邮件"
LOCK_FILE = ".perf-toolkit.lock"


class RoundLocked(Exception):
    """Another run is writing into the same output folder."""


@dataclass
class RoundResult:
    campaign: Campaign  # with the round's year (given, or the submissions' one year)
    collection: Collection  # every input of this run and its state (stored, superseded, skipped …)
    evaluation: Evaluation
    output: Path
    report_json: Path
    reports: list[RenderedProject]
    summary: Path
    frames: dict
    earlier: object  # history.History of the previous year, or None
    history: Path | None
    markups: list[MarkupResult] = field(default_factory=list)  # one per file; .path None when none was made
    outgoing: list[Outgoing] = field(default_factory=list)  # the round's mails (feedback, reminders, receipts)
    drafts: list[Path] = field(default_factory=list)  # their .eml drafts in 反馈邮件/


@contextmanager
def output_lock(folder: Path) -> Iterator[None]:
    """An exclusive, non-blocking lock on the output folder (released when the process ends)."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; atomic writes still protect each file
        yield
        return
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RoundLocked(f"另一个 perf-toolkit 正在向 {folder} 写入结果，请等它结束后再运行。") from exc
        yield
    finally:
        os.close(fd)


def run_round(sources: Iterable[str | Path], campaign: Campaign, profile: Profile, output: str | Path | None = None,
              *, pdf: bool = False, history: bool = True, jobs: int | None = None,
              messages: Iterable[tuple[str, bytes]] = (), progress: Progress | None = None) -> RoundResult:
    """Collect what arrived in `sources` (folders, files, mail, zips, imap:// folders) into the round's
    store, evaluate every stored version, then write the check report, the Word reports and the summary.

    Versions are dated by their mails (a file's modification time is no evidence); the round reads
    the store, never the sources, so what it scored is kept byte for byte. Without a year in the
    campaign the round's year is the submissions' one year; submissions of several years are a
    ConfigError, raised before any report is written. `progress` is told each stage (and times it).
    """
    output = Path(output) if output is not None else campaign.output_dir
    progress = progress if progress is not None else Progress()
    with output_lock(output):
        collection, evaluation = evaluate_round(sources, campaign, profile, output, jobs=jobs, messages=messages,
                                                progress=progress)
        campaign = campaign.with_year_of(r.submission.year for r in evaluation.counted)
        report_json = output / REPORT_JSON
        with progress.stage("审核结果", 1):
            with atomic_write(report_json) as fh:
                evaluation.write_json(fh)
        with progress.stage("报告"):
            reports = render_round_reports(evaluation, campaign, profile, output, pdf=pdf, jobs=jobs,
                                           progress=progress)
        summary = output / SUMMARY_XLSX
        history_path = campaign.history_in(output) if history else None
        with progress.stage("汇总", 1):
            frames, earlier = summarize(evaluation, campaign, summary, history_path=history_path)
        # the marked-up copies to send back; the folder is ours, so copies of since-fixed files go
        with progress.stage("审核意见", len(evaluation.files)):
            markups = write_round_markups(evaluation, campaign, profile, output, jobs=jobs, progress=progress)
        with progress.stage("反馈邮件"):
            outgoing = compose_feedback(evaluation, campaign, markups)
            drafts = write_drafts(outgoing, output / FEEDBACK_DIR, prune=True, db=campaign.round_db_in(output),
                                  jobs=jobs)
            progress.total(len(drafts))
    return RoundResult(campaign, collection, evaluation, output, report_json, reports, summary, frames, earlier,
                       history_path, markups, outgoing, drafts)


def evaluate_round(sources: Iterable[str | Path], campaign: Campaign, profile: Profile, output: Path, *,
                   jobs: int | None = None, messages: Iterable[tuple[str, bytes]] = (),
                   progress: Progress | None = None) -> tuple[Collection | None, Evaluation]:
    """Collect what `sources` hold (none: what the store already has), then evaluate each department's
    current stored version, dated by its mail and checked against its sender. Call under `output_lock`."""
    progress = progress if progress is not None else Progress()
    sources = list(sources)
    db = campaign.round_db_in(output)
    with closing(_ReadCache(db, output, jobs=jobs)) as reads:
        with progress.stage("收取"):
            # collect reads each new workbook to learn its department: the check stage then finds it read
            collection = collect(sources, campaign, output, messages=messages, reader=reads.read) \
                if sources or messages else None
            stored = current_files(db)  # earlier versions: in the manifest, not scored
            progress.total(len(stored))
        if collection is None and not stored:
            raise CollectError(f"输出文件夹 {output} 中还没有收到任何填报表：请给出收件的文件夹、邮件或邮箱，"
                               "或先运行 perf-toolkit collect。")
        with progress.stage("审核", len(stored)):
            memo = _CheckMemo(reads.connected(), output, profile, campaign.expected_year)
            evaluation = evaluate_paths([f.path for f in stored], profile, jobs=jobs, year=campaign.expected_year,
                                        roster=campaign.roster, submitted_at=submission_times(stored),
                                        senders=senders(stored), reader=reads, memo=memo)
            memo.record(evaluation.files)
    return collection, evaluation


# ------------------------------------------------------------------ earlier reads

#: One row per stored version read before: the guarded reader's result, pickled. Only the reader's
#: result is kept (it depends on the file's bytes and the reader alone); scoring and every check run
#: again each time, so a changed profile, roster or year is always applied.
READ_DDL = """
CREATE TABLE IF NOT EXISTS reads (
    file TEXT PRIMARY KEY,  -- the stored version, relative to the output folder
    key TEXT NOT NULL,      -- sha256 of the file's bytes, the reader's code and limits
    data BLOB NOT NULL      -- zlib-compressed pickle of its WorkbookRead
);
"""


class _ReadCache:
    """`read_workbooks` that reuses the read of a file whose bytes and reader are unchanged.

    An entry is used only if its key matches, it unpickles with nothing but the toolkit's own classes
    and a few plain standard types (`_TrustedUnpickler`), and it names the same file and sha256; any
    other entry (corrupt, from another version, tampered) is ignored and the file read again. A file
    read once in this run (by `collect`, to learn its department) is not even looked up again, and one
    with a usable entry is not looked into (it was a department's workbook, not the toolkit's output).
    Calling it (the check stage, with every current version) also drops the entries of other versions.
    """

    def __init__(self, db: Path, output: Path, *, jobs: int | None = None, limits: Limits = Limits()):
        self.db, self.output, self.jobs, self.limits = db, output, jobs, limits
        self.base = hashlib.sha256("\n".join([_code_digest("workbook"), repr(limits)]).encode()).hexdigest()
        self.conn = None
        self.memo: dict[str, WorkbookRead] = {}  # read in this run, by path

    def connected(self):
        if self.conn is None:  # only once there is something to read: no round database made for nothing
            self.conn = rounddb.connect(self.db)
            rounddb.ensure(self.conn, READ_DDL)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __call__(self, paths: list[Path]) -> tuple[list[WorkbookRead], list[Skipped]]:
        return self.read(paths, prune=True)

    def read(self, paths: list[Path], *, prune: bool = False) -> tuple[list[WorkbookRead], list[Skipped]]:
        """The reads of `paths` (discovered as `read_workbooks` does); `prune`: `paths` are all the versions
        worth keeping, drop the entries of every other."""
        conn = self.connected()
        known = {row["file"]: row["key"] for row in conn.execute("SELECT file, key FROM reads")} \
            if prune or any(str(p) not in self.memo for p in paths) else {}
        found: dict[Path, WorkbookRead] = {}
        files: list[Path] = []
        skipped: list[Skipped] = []
        for given in paths:
            path = Path(given)
            kept = self.memo.get(str(path)) or self._kept(path, known)
            if kept is not None:  # a workbook read before: not looked into again
                files.append(path)
                found[path] = kept
                continue
            more, why = discover([path])
            skipped += why
            for each in more:  # a folder's workbooks (a file given is looked up above already)
                files.append(each)
                kept = None if each == path else self.memo.get(str(each)) or self._kept(each, known)
                if kept is not None:
                    found[each] = kept
        files = list(dict.fromkeys(files))
        missing = [p for p in files if p not in found]
        fresh = read_files(missing, limits=self.limits, jobs=self.jobs) if missing else []
        by_file = {r.file: r for r in fresh}
        with conn:
            if prune:
                current = {_relative(str(p), self.output) for p in files}
                conn.executemany("DELETE FROM reads WHERE file = ?", [(f,) for f in known if f not in current])
            kept = [by_file[str(p)] for p in missing if _keepable(by_file.get(str(p)))]
            conn.executemany(  # pickled one at a time: a batch's pickles are never all held
                "INSERT OR REPLACE INTO reads (file, key, data) VALUES (?, ?, ?)",
                ((_relative(r.file, self.output), self._key(r.sha256), zlib.compress(pickle.dumps(r), 1))
                 for r in kept))
        reads = [found.get(p) or by_file.get(str(p)) for p in files]
        self.memo.update((r.file, r) for r in reads if r is not None)
        return [r for r in reads if r is not None], skipped

    def _kept(self, path: Path, known: dict[str, str]) -> WorkbookRead | None:
        """The kept read of a file whose bytes and reader are unchanged, or None (nothing to check it against:
        not hashed here, the reader does). `known`: the key of each kept read, by file."""
        file = _relative(str(path), self.output)
        if file not in known:
            return None
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return None  # the reader says what is wrong with it
        if known[file] != self._key(digest):
            return None
        read = _unpickled(_data(self.conn, "reads", file))
        return read if isinstance(read, WorkbookRead) and read.file == str(path) and read.sha256 == digest else None

    def _key(self, digest: str) -> str:
        """An entry's key: the file's sha256 (as the reader hashed it), the reader's code and limits."""
        return hashlib.sha256(f"{self.base}\n{digest}".encode()).hexdigest()


#: One row per stored version scored and checked before: its check findings (intake's apart) and scored
#: projects, pickled without the submission they point at (rebound to the fresh read on use).
CHECKED_DDL = """
CREATE TABLE IF NOT EXISTS checked (
    file TEXT PRIMARY KEY,  -- the stored version, relative to the output folder
    key TEXT NOT NULL,      -- sha256 of the file's path and bytes, the reader's and checker's code, the profile, the year
    data BLOB NOT NULL      -- zlib-compressed pickle of (findings, projects)
);
"""


class _CheckMemo:
    """The `CheckMemo` of a round: a stored version's scores and findings are reused while its bytes,
    the toolkit's reading and checking code, the profile and the round's year are the same; an entry
    that does not unpickle to exactly that (`_TrustedUnpickler`) is ignored and the file checked again."""

    def __init__(self, conn, output: Path, profile: Profile, year: int | None):
        self.conn, self.output = conn, output
        self.base = hashlib.sha256("\n".join([_code_digest("workbook", "check"), repr(profile), repr(year)]).encode()
                                   ).hexdigest()
        rounddb.ensure(conn, CHECKED_DDL)
        self.known = {row["file"]: row["key"] for row in conn.execute("SELECT file, key FROM checked")}
        self.rows: list[tuple[str, str, bytes]] = []

    def _key(self, result: FileResult) -> str:
        return hashlib.sha256(f"{self.base}\n{result.file}\n{result.sha256}".encode()).hexdigest()  # paths are in findings

    def get(self, result: FileResult) -> tuple[list[Finding], list[ScoredProject]] | None:
        file = _relative(result.file, self.output)
        if not result.sha256 or self.known.get(file) != self._key(result):
            return None
        kept = _unpickled(_data(self.conn, "checked", file))
        submission = result.sourced.submission
        if not (isinstance(kept, tuple) and len(kept) == 2 and all(isinstance(f, Finding) for f in kept[0])
                and all(isinstance(p, ScoredProject) and p.index < len(submission.projects) for p in kept[1])):
            return None
        try:
            return list(kept[0]), [_bound(p, submission) for p in kept[1]]
        except (IndexError, TypeError, AttributeError):  # an entry that fits another submission
            return None

    def put(self, result: FileResult, found: list[Finding], projects: list[ScoredProject]) -> None:
        if result.sha256:
            loose = [dataclasses.replace(p, department=None, submitted=None, indicators=tuple(
                dataclasses.replace(i, submitted=None) for i in p.indicators)) for p in projects]
            self.rows.append((_relative(result.file, self.output), self._key(result),
                              zlib.compress(pickle.dumps((found, loose)), 1)))
            if len(self.rows) >= STORED_AT_ONCE:
                self._store()

    def record(self, files: Iterable[FileResult]) -> None:
        """Store what `put` queued and forget the versions no longer evaluated."""
        current = {_relative(r.file, self.output) for r in files}
        with self.conn:
            self.conn.executemany("DELETE FROM checked WHERE file = ?", [(f,) for f in self.known if f not in current])
        self._store()

    def _store(self) -> None:
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO checked (file, key, data) VALUES (?, ?, ?)", self.rows)
        self.rows.clear()


#: Kept scores are stored this many at a time while a round is checked (a batch's are never all held).
STORED_AT_ONCE = 200


def _data(conn, table: str, file: str) -> bytes | None:
    """The pickled entry of `file` in a cache table (`reads`, `checked`), fetched when its key matched:
    the keys of every entry are read at once, their data one at a time."""
    row = conn.execute(f"SELECT data FROM {table} WHERE file = ?", (file,)).fetchone()
    return row["data"] if row is not None else None


def _bound(project: ScoredProject, submission: Submission) -> ScoredProject:
    """A kept project pointing at the fresh read of its submission again."""
    typed = submission.projects[project.index]
    return dataclasses.replace(project, department=submission.department, submitted=typed, indicators=tuple(
        dataclasses.replace(i, submitted=typed.indicators[i.index]) for i in project.indicators))


def _keepable(read: WorkbookRead | None) -> bool:
    """Only a file read as a submission is kept: a refusal may be passing (a worker out of time on a busy
    machine), so an unreadable file is tried again each run."""
    return read is not None and read.sourced is not None and bool(read.sha256)


class _TrustedUnpickler(pickle.Unpickler):
    """Rebuilds only the toolkit's own data classes and plain standard values: a tampered entry can
    name no function to call (no dotted names, no module outside the toolkit but the values below)."""

    SAFE = {("datetime", "date"), ("datetime", "datetime"), ("datetime", "time"), ("datetime", "timedelta"),
            ("datetime", "timezone"), ("decimal", "Decimal"), ("builtins", "set"), ("builtins", "frozenset")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.SAFE:
            return super().find_class(module, name)
        if module.split(".")[0] == "perf_toolkit" and "." not in name:
            found = super().find_class(module, name)
            if isinstance(found, type) and (dataclasses.is_dataclass(found) or issubclass(found, enum.Enum)):
                return found
        raise pickle.UnpicklingError(f"{module}.{name}")


def _unpickled(data: bytes | None) -> object | None:
    """An earlier read, or None when the entry cannot be trusted to be one."""
    try:
        return _TrustedUnpickler(io.BytesIO(zlib.decompress(data))).load()
    except Exception:  # a corrupt or foreign entry is read again, never trusted
        return None


# ------------------------------------------------------------------ incremental outputs

#: One row per stored version whose outputs in one folder of the round are complete and current (a table
#: per folder: `rendered` for 自评报告/, `marked` for 审核意见/). A row is deleted before its department's
#: outputs are rewritten and inserted only once all of them are written, so a run killed at any moment
#: leaves no row that vouches for files it did not finish.
CURRENT_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    file TEXT PRIMARY KEY,  -- the stored version, relative to the output folder
    key TEXT NOT NULL,      -- sha256 of all its outputs depend on (see render_round_reports, write_round_markups)
    outputs TEXT NOT NULL   -- JSON list of the file names written for it in the folder
);
"""
RENDERED, MARKED = "rendered", "marked"


class _Current:
    """Which stored versions' outputs in `folder` are current, by the rows of `table`: one that records
    the same key and whose files all exist. Rows of every other version go before any file is touched;
    `written` queues a row once a version's outputs are all written, `record` stores the queue."""

    def __init__(self, conn, table: str, output: Path, folder: Path, keys: dict[str, str]):
        self.conn, self.table, self.keys = conn, table, keys
        rounddb.ensure(conn, CURRENT_DDL.format(table=table))
        known = {row["file"]: (row["key"], json.loads(row["outputs"]))
                 for row in conn.execute(f"SELECT * FROM {table}")}
        self.relative = {file: _relative(file, output) for file in keys}
        self.fresh = {file for file, key in keys.items() if self.relative[file] in known
                      and known[self.relative[file]][0] == key
                      and all((folder / n).is_file() for n in known[self.relative[file]][1])}
        vouched = {self.relative[file] for file in self.fresh}
        with conn:
            conn.executemany(f"DELETE FROM {table} WHERE file = ?", [(f,) for f in known if f not in vouched])
        conn.execute("PRAGMA synchronous=NORMAL")  # a row lost to a power cut only means writing again
        self.rows: list[tuple[str, str, str]] = []

    def written(self, file: str, names: list[str]) -> None:
        self.rows.append((self.relative[file], self.keys[file], json.dumps(names, ensure_ascii=False)))
        if len(self.rows) >= 50:
            self.record()

    def record(self) -> None:
        with self.conn:
            self.conn.executemany(f"INSERT OR REPLACE INTO {self.table} (file, key, outputs) VALUES (?, ?, ?)",
                                  self.rows)
        self.rows.clear()


def _code_digest(*stages: str) -> str:
    """The version and the source of the stages' code and of the shared top-level modules (model, spec,
    findings, values …): a changed writer or reader writes again, even unreleased."""
    digest = hashlib.sha256(__version__.encode())
    for stage in ("", *stages):
        for path in sorted((Path(__file__).parent / stage).glob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _base_key(campaign: Campaign, profile: Profile, *parts: str) -> str:
    """What every department's outputs of a stage depend on alike: the config, the profile and `parts`."""
    return hashlib.sha256("\n".join([repr(dataclasses.replace(campaign, output_dir=Path("."))), repr(profile),
                                      *parts]).encode("utf-8")).hexdigest()


def render_round_reports(evaluation: Evaluation, campaign: Campaign, profile: Profile, output: Path, *,
                         pdf: bool = False, jobs: int | None = None,
                         progress: Progress | None = None) -> list[RenderedProject]:
    """The round's Word reports in output/自评报告/, rendering only departments whose documents are not current.

    A department's documents are current when the round database records them under the same key: the
    sha256 of its stored file's bytes, of its findings (what the round adds to the file: its mail's date
    and sender, the roster, the other submissions), of its documents' names, of the templates' bytes, the
    config, the profile, the PDF switch and the toolkit's version and reader, check and report code. The
    contexts are a function of these (the scores of the bytes, the profile, the year and the code), so
    the key needs none built: the workers build them only for what is rendered.
    Documents of a department whose submission disappeared or was superseded are removed, as are their rows.
    Call under `output_lock`; `progress` counts the projects rendered.
    """
    progress = progress if progress is not None else Progress()
    out = output / REPORTS_DIR
    templates = load_templates(check=False)  # checked by render_jobs, if anything is to be rendered
    planned = plan_reports(evaluation, campaign)
    base = _base_key(campaign, profile, _code_digest("workbook", "check", "report"), templates.digest, str(pdf))
    per_file: dict[str, list[ReportJob]] = collections.defaultdict(list)
    for job in planned:
        per_file[job.project.file].append(job)
    results = {r.file: r for r in evaluation.counted}
    keys = {file: _department_key(base, results[file], jobs_of) for file, jobs_of in per_file.items()}
    with closing(rounddb.connect(campaign.round_db_in(output))) as conn:
        current = _Current(conn, RENDERED, output, out, keys)
        fresh = current.fresh
        remaining = collections.Counter(job.project.file for job in planned if job.project.file not in fresh)
        progress.total(sum(remaining.values()))
        written: dict[str, list[str]] = collections.defaultdict(list)
        failed: set[str] = set()

        def done(r: RenderedProject) -> None:
            if r.file in fresh:
                return
            progress.advance()
            if r.failed:
                failed.add(r.file)
            written[r.file].extend(p.name for p in r.paths)
            remaining[r.file] -= 1
            if not remaining[r.file]:  # its names let go once recorded (kept, they were ~25 MB at 10,000)
                names = written.pop(r.file)
                if r.file not in failed:
                    current.written(r.file, names)

        reports = render_jobs(planned, out, templates, profile=profile, campaign=campaign, pdf=pdf, workers=jobs,
                              reuse=lambda job: job.project.file in fresh, done=done, prune=True)
        current.record()
    return reports


def _department_key(base: str, result: FileResult, jobs: list[ReportJob]) -> str:
    """The key of one stored version's documents (see render_round_reports): no context needed."""
    digest = hashlib.sha256(f"{base}\n{result.sha256}\n".encode())
    digest.update(_findings_text(result.findings).encode("utf-8", "surrogatepass"))
    for job in jobs:
        digest.update(f"\n{job.project.index}\x1e{job.name}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def write_round_markups(evaluation: Evaluation, campaign: Campaign, profile: Profile, output: Path, *,
                        jobs: int | None = None, progress: Progress | None = None) -> list[MarkupResult]:
    """The round's marked-up copies in output/审核意见/, building only those that are not current.

    A copy is current when the round database records it under the same key: the sha256 of its stored
    file's bytes, of what it prints (its name, findings, department, bureau, deadline and score lines),
    the config, the profile and the toolkit's version and workbook code. An unchanged copy keeps the
    review date it was first built on: it says when the bureau reviewed that version, and a re-run
    changes nothing in that review. Copies of versions that get none any more are removed, as are their
    rows. Call under `output_lock`; `progress` counts the files.
    """
    progress = progress if progress is not None else Progress()
    out = output / MARKUP_DIR
    base = _base_key(campaign, profile, _code_digest("workbook"))
    plan = plan_markups(evaluation.files, campaign)
    keys = {job.file: _markup_key(base, job) for job in plan if job is not None}
    with closing(rounddb.connect(campaign.round_db_in(output))) as conn:
        current = _Current(conn, MARKED, output, out, keys)

        def done(m: MarkupResult) -> None:
            progress.advance()
            if m.path is not None and not m.reused and m.file in keys:
                current.written(m.file, [m.path.name])

        markups = write_markups(evaluation, out, campaign=campaign, jobs=jobs, prune=True, done=done,
                                reuse=lambda job: job.file in current.fresh, plan=plan)
        current.record()
    return markups


def _markup_key(base: str, job: MarkupJob) -> str:
    printed = {f.name: getattr(job, f.name) for f in dataclasses.fields(job) if f.name != "today"}  # the first build's
    printed.update(file=Path(job.file).name, findings=_findings_text(job.findings))  # (asdict: 5 ms a job)
    text = json.dumps(printed, ensure_ascii=False, default=str)
    return hashlib.sha256(f"{base}\n{text}".encode("utf-8", "surrogatepass")).hexdigest()


def _findings_text(findings) -> str:
    """Every field of findings but the file's path, for a key (the row names the file; a moved output
    folder is no change), params as typed (repr keeps 1 and "1" apart)."""
    return repr([(f.code, f.severity, f.message, f.sheet, f.cell, f.project, f.path, dict(f.params))
                 for f in findings])


def _relative(file: str, output: Path) -> str:
    """A stored version's path as recorded: relative to the output folder, which may be moved as a whole."""
    try:
        return Path(file).resolve().relative_to(output.resolve()).as_posix()
    except ValueError:
        return Path(file).resolve().as_posix()
