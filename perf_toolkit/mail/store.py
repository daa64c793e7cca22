"""Every received workbook kept byte for byte, and the manifest of every input (`collect`).

The store is content-addressed: `<output>/原件/<sha256>/<original name>`, written once,
atomically, never rewritten; sources are only read. The manifest (table `received` of the
round database) has one row per input: a workbook, or what was skipped. Each ends in exactly
one state:

- accepted: the department's current version (identified from the workbook's content);
- superseded: an older version of a department's submission, newest by the mail's Date,
  then by arrival (a file not from a mail is dated when it was first collected; file
  modification times are not evidence);
- duplicate: the same bytes were already received (from another mail or file);
- rejected: a workbook that cannot be read (the reason, in Chinese);
- skipped: no workbook (lock files, pictures, toolkit outputs, zip bombs…, with the reason).

Running `collect` again over the same sources adds nothing: an input is known by its
identity (path or message, and the place inside it) and its bytes.
"""

from __future__ import annotations

import collections
import concurrent.futures
import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..check.intake import mismatched_sender
from ..config import Campaign, ConfigError, RosterEntry
from ..fsutil import atomic_write
from ..model import Finding, Skipped
from ..text import safe_name
from ..workbook.read import WorkbookRead, read_workbooks
from .errors import MailError
from .inbox import Arrival, Ignored, InboxLimits, Item, arrivals_from_message, read_sources
from .rounddb import connect, ensure

STORE_DIR = "原件"
ACCEPTED, SUPERSEDED, DUPLICATE, REJECTED, SKIPPED = "accepted", "superseded", "duplicate", "rejected", "skipped"
STATES = (ACCEPTED, SUPERSEDED, DUPLICATE, REJECTED, SKIPPED)
STATE_ZH = {ACCEPTED: "已接收", SUPERSEDED: "已被替代", DUPLICATE: "重复", REJECTED: "无法读取", SKIPPED: "已跳过"}
IMAP_SCHEMES = ("imap://", "imaps://")

DDL = """
CREATE TABLE IF NOT EXISTS received (
    id INTEGER PRIMARY KEY,               -- arrival order over every run
    input_key TEXT NOT NULL,              -- the input's identity: file path or mail, and the place inside
    sha256 TEXT NOT NULL DEFAULT '',      -- of the workbook's bytes ('' for what was skipped)
    name TEXT NOT NULL,                   -- the file name as it arrived
    origin TEXT NOT NULL,                 -- the source: a path, or a mail's origin (IMAP URL, mailbox path)
    within TEXT NOT NULL DEFAULT '',      -- where inside the source (mail, zip), for people
    message_id TEXT NOT NULL DEFAULT '',
    sender TEXT NOT NULL DEFAULT '',      -- the mail's From address
    mail_date TEXT,                       -- the mail's Date (ISO 8601 with its offset); NULL when unknown
    arrived_at TEXT NOT NULL,             -- when collect first saw it (UTC, ISO 8601)
    stored TEXT NOT NULL DEFAULT '',      -- the copy in the store, relative to the output folder
    dept_code TEXT NOT NULL DEFAULT '',   -- from the workbook's content
    dept_name TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,                  -- accepted | superseded | duplicate | rejected | skipped
    reason TEXT NOT NULL DEFAULT '',      -- Chinese
    UNIQUE (input_key, sha256)
);
CREATE INDEX IF NOT EXISTS received_sha256 ON received (sha256);
CREATE INDEX IF NOT EXISTS received_dept ON received (dept_code);
"""


#: Reads workbooks as `read_workbooks` does: (the reads, what was skipped).
Reader = Callable[[list[Path]], tuple[list[WorkbookRead], list[Skipped]]]


class CollectError(Exception):
    """Something the operator must fix before collecting (message in Chinese)."""


@dataclass(frozen=True)
class Received:
    """One input as the manifest records it."""

    id: int
    name: str
    origin: str
    within: str
    message_id: str
    sender: str
    mail_date: dt.datetime | None
    arrived_at: dt.datetime
    sha256: str
    stored: Path | None  # the copy in the store (absolute); None for what was skipped
    dept_code: str
    dept_name: str
    state: str
    reason: str
    new: bool = False  # first seen in this run
    findings: tuple[Finding, ...] = ()  # sender-mismatch

    @property
    def when(self) -> dt.datetime:
        """When it was submitted: the mail's Date, else when it was first collected."""
        return self.mail_date or self.arrived_at

    @property
    def state_zh(self) -> str:
        return STATE_ZH[self.state]


@dataclass
class Collection:
    """One `collect`: every input it met, in arrival order, with its state; and what it changed."""

    db_path: Path
    store: Path
    entries: list[Received] = field(default_factory=list)
    changed: list[Received] = field(default_factory=list)  # earlier inputs whose state this run changed

    @property
    def new(self) -> list[Received]:
        return [e for e in self.entries if e.new]

    def counts(self) -> dict[str, int]:
        """Inputs of this run per state (every state listed)."""
        return {s: sum(e.state == s for e in self.entries) for s in STATES}


@dataclass(frozen=True)
class StoredFile:
    """A stored workbook the check stage evaluates: each department's current version, and unreadable ones."""

    path: Path
    name: str
    mail_date: dt.datetime | None
    arrived_at: dt.datetime
    sender: str
    dept_code: str
    dept_name: str
    state: str  # accepted | rejected

    @property
    def submitted_at(self) -> dt.datetime:
        return self.mail_date or self.arrived_at


# ------------------------------------------------------------------ collect


def is_imap(source: str | os.PathLike[str]) -> bool:
    return str(source).lower().startswith(IMAP_SCHEMES)


def collect(sources: Iterable[str | os.PathLike[str]], campaign: Campaign, output_dir: str | os.PathLike[str], *,
            messages: Iterable[tuple[str, bytes]] = (), limits: InboxLimits | None = None,
            now: dt.datetime | None = None, reader: Reader = read_workbooks) -> Collection:
    """Store every workbook that arrived in `sources` (paths and imap:// URLs) and `messages`
    ((origin, raw mail) pairs), record every input in the manifest, and settle which version of
    each department is current. The output folder is never scanned.

    `reader` reads the newly stored workbooks to learn their departments (`read_workbooks`'s
    signature): `run` passes the one its check stage reads with, so each file is read once."""
    output = Path(output_dir)
    db_path = campaign.round_db_in(output)
    sources = list(sources)
    urls = [str(s) for s in sources if is_imap(s)]
    paths = [s for s in sources if not is_imap(s)]
    conn = connect(db_path)
    try:
        # each input is committed as it is stored; in WAL mode NORMAL syncs at checkpoints, not at every
        # commit: a power cut may lose the last rows (their files are then recorded again), never corrupt
        conn.execute("PRAGMA synchronous=NORMAL")
        ensure(conn, DDL)
        before = {r["id"]: r["state"] for r in conn.execute("SELECT id, state FROM received")}
        now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
        items = _items(paths, output, messages, urls, conn, limits or InboxLimits())
        seen, fresh = _record(conn, items, output, now)
        _identify(conn, output, fresh + _unidentified(conn, fresh), reader)
        _settle(conn)
        conn.commit()
        rows = {r["id"]: r for r in conn.execute("SELECT * FROM received")}
    finally:
        conn.close()
    roster = campaign.roster
    entries = [_received(rows[i], output, new=i not in before, roster=roster) for i in dict.fromkeys(seen)]
    changed = [_received(rows[i], output, roster=roster) for i, state in before.items()
               if i in rows and rows[i]["state"] != state and i not in seen]
    return Collection(db_path, output / STORE_DIR, entries, changed)


def _items(paths: list, output: Path, messages: Iterable[tuple[str, bytes]], urls: list[str], conn,
           limits: InboxLimits) -> Iterator[Item]:
    yield from read_sources(paths, exclude=(output,), limits=limits)
    for origin, raw in messages:
        yield from arrivals_from_message(raw, origin, limits=limits)
    for url in urls:
        yield from _imap_items(url, conn, limits)


def _imap_items(url: str, conn, limits: InboxLimits) -> Iterator[Item]:
    """The mails of an IMAP folder not fetched before (mail/imap.py, read-only); a message the server
    could not deliver is listed as skipped, with its reason."""
    from .imap import imap_messages, mail_password

    skipped: list[tuple[str, str]] = []
    try:
        for origin, raw in imap_messages(url, mail_password(), conn, skipped=skipped):
            yield from arrivals_from_message(raw, origin, limits=limits)
    except MailError as exc:
        raise CollectError(str(exc)) from exc
    for origin, reason in skipped:
        yield Ignored("（整封邮件）", origin, reason, key=origin)


#: Stored copies written at once: each is synced (file and folder) before its row vouches for it, and
#: a file system commits concurrent syncs together (200 copies: 1.5 s one by one, 0.1 s eight at a time).
STORE_WRITERS = 8


def _record(conn, items: Iterable[Item], output: Path, now: dt.datetime) -> tuple[list[int], list[int]]:
    """Insert the inputs not seen before (stored, or skipped); (ids of every input met, ids to identify).

    Rows go in in arrival order, each once its copy is completely written and synced: a run stopped
    at any moment leaves no row for a copy it did not finish (such a copy is recorded next time)."""
    seen, fresh = [], []
    queue: collections.deque[tuple[int | None, dict | None, concurrent.futures.Future | None]] = collections.deque()
    pending: dict[str, dict] = {}  # digest -> the values of its first copy, queued but not yet recorded

    def flush(keep: int) -> None:
        while len(queue) > keep:
            known, values, written = queue.popleft()
            if values is None:
                seen.append(known)
                continue
            if written is not None:
                written.result()  # the copy is complete (or its error is raised here)
                if pending.get(values["sha256"]) is values:
                    del pending[values["sha256"]]
            cursor = conn.execute(f"INSERT INTO received ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                                  tuple(values.values()))
            seen.append(cursor.lastrowid)
            if values["state"] == ACCEPTED:
                fresh.append(cursor.lastrowid)
            conn.commit()  # each input recorded as soon as it is stored: an interrupted run resumes cleanly

    with concurrent.futures.ThreadPoolExecutor(STORE_WRITERS) as writers:
        for item in items:
            digest = hashlib.sha256(item.data).hexdigest() if isinstance(item, Arrival) else ""
            key = item.key or item.origin
            row = conn.execute("SELECT id FROM received WHERE input_key = ? AND sha256 = ?", (key, digest)).fetchone()
            if row is not None:
                queue.append((row["id"], None, None))
                flush(STORE_WRITERS * 2)
                continue
            values = dict(input_key=key, sha256=digest, name=item.name, origin=item.origin, within=item.within,
                          message_id=item.message_id, sender=item.sender,
                          mail_date=item.mail_date.isoformat() if item.mail_date else None, arrived_at=now.isoformat())
            written = None
            if isinstance(item, Ignored):
                values.update(state=SKIPPED, reason=item.reason)
            else:
                first = pending.get(digest) or conn.execute(
                    "SELECT * FROM received WHERE sha256 = ? AND stored != '' ORDER BY id LIMIT 1", (digest,)).fetchone()
                if first is not None:
                    values.update(state=DUPLICATE, stored=first["stored"], dept_code=first["dept_code"],
                                  dept_name=first["dept_name"], reason=_same_as(first))
                else:
                    relative = _store_path(digest, item)
                    values.update(state=ACCEPTED, stored=relative.as_posix(), dept_code="", dept_name="")
                    written = writers.submit(_store, output / relative, item.data)
                    pending[digest] = values
            queue.append((None, values, written))
            flush(STORE_WRITERS * 2)
        flush(0)
    return seen, fresh


def _same_as(first) -> str:
    source = f"{first['origin']}{' › ' + first['within'] if first['within'] else ''}"
    return f"与已收到的“{first['name']}”（{source}）内容完全相同"


def _store_path(digest: str, item: Arrival) -> Path:
    """Where a workbook's bytes are kept, relative to the output folder."""
    return Path(STORE_DIR) / digest / safe_name(item.name, fallback="填报表" + Path(item.name).suffix)


def _store(target: Path, data: bytes) -> None:
    """Write the bytes into the store once."""
    if not target.exists():
        with atomic_write(target) as fh:
            fh.write(data)


def _unidentified(conn, fresh: list[int]) -> list[int]:
    """Stored versions an earlier collect recorded but was stopped before it read them."""
    return [r["id"] for r in conn.execute("SELECT id FROM received WHERE state = ? AND stored != '' "
                                          "AND dept_code = '' ORDER BY id", (ACCEPTED,)) if r["id"] not in fresh]


def _identify(conn, output: Path, ids: list[int], reader: Reader = read_workbooks) -> None:
    """Read the newly stored workbooks (one guarded batch): the department, or why it cannot be read."""
    if not ids:
        return
    rows = [conn.execute("SELECT id, stored FROM received WHERE id = ?", (i,)).fetchone() for i in ids]
    reads, skipped = reader([output / r["stored"] for r in rows])
    by_file = {read.file: read for read in reads}
    reasons = {s.path: s.reason for s in skipped}
    for r in rows:
        file = str(output / r["stored"])
        read = by_file.get(file)
        if read is None:
            conn.execute("UPDATE received SET state = ?, reason = ? WHERE id = ?",
                         (REJECTED, reasons.get(file, "无法读取"), r["id"]))
        elif read.sourced is None:
            reason = "；".join(f.message for f in read.findings if f.severity == "error") or "无法读取"
            conn.execute("UPDATE received SET state = ?, reason = ? WHERE id = ?", (REJECTED, reason, r["id"]))
        else:
            dep = read.sourced.submission.department
            conn.execute("UPDATE received SET dept_code = ?, dept_name = ? WHERE id = ?",
                         (dep.code.strip(), dep.name.strip(), r["id"]))
        # a duplicate recorded in this run before its original was read takes its department
        conn.execute("UPDATE received SET dept_code = (SELECT dept_code FROM received WHERE id = ?), "
                     "dept_name = (SELECT dept_name FROM received WHERE id = ?) WHERE sha256 = (SELECT sha256 FROM "
                     "received WHERE id = ?) AND state = ?", (r["id"], r["id"], r["id"], DUPLICATE))
    conn.commit()


def _settle(conn) -> None:
    """Per department, the newest stored version is accepted and the others superseded.

    A version's date is the newest of its arrivals (the same bytes mailed again count as sent again).
    """
    rows = conn.execute("SELECT * FROM received WHERE state IN (?, ?, ?)", (ACCEPTED, SUPERSEDED, DUPLICATE)).fetchall()
    newest: dict[str, tuple[dt.datetime, int]] = {}
    for r in rows:
        when = (_when(r), r["id"])
        newest[r["sha256"]] = max(newest.get(r["sha256"], when), when)
    versions = [r for r in rows if r["state"] in (ACCEPTED, SUPERSEDED)]
    groups: dict[str, list] = {}
    for r in versions:
        groups.setdefault(r["dept_code"] or f"#{r['sha256']}", []).append(r)
    for members in groups.values():
        current = max(members, key=lambda r: newest[r["sha256"]])
        for r in members:
            if r["id"] == current["id"]:
                conn.execute("UPDATE received SET state = ?, reason = '' WHERE id = ?", (ACCEPTED, r["id"]))
            else:
                when = _shown(newest[current["sha256"]][0], current["mail_date"] is not None)
                conn.execute("UPDATE received SET state = ?, reason = ? WHERE id = ?",
                             (SUPERSEDED, f"已被较新的“{current['name']}”（{when}）替代", r["id"]))


def _when(row) -> dt.datetime:
    return _parse(row["mail_date"]) or _parse(row["arrived_at"])


def _parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    when = dt.datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _shown(when: dt.datetime, mailed: bool) -> str:
    return f"{'邮件日期' if mailed else '收取时间'} {format_time(when)}"


def format_time(when: dt.datetime | None) -> str:
    """A time as a clerk reads it: a mail's own wall-clock time; a collect time in local time."""
    if when is None:
        return "—"
    return when.strftime("%Y-%m-%d %H:%M") if when.utcoffset() != dt.timedelta(0) else \
        when.astimezone().strftime("%Y-%m-%d %H:%M")


def _received(row, output: Path, *, new: bool = False, roster: tuple[RosterEntry, ...] = ()) -> Received:
    found = None
    if row["state"] in (ACCEPTED, SUPERSEDED, DUPLICATE) and row["sender"] and row["dept_code"]:
        found = mismatched_sender(row["sender"], row["dept_code"], row["dept_name"] or "", roster,
                                  file=str(output / row["stored"]))
    return Received(row["id"], row["name"], row["origin"], row["within"], row["message_id"], row["sender"],
                    _parse(row["mail_date"]), _parse(row["arrived_at"]), row["sha256"],
                    output / row["stored"] if row["stored"] else None, row["dept_code"], row["dept_name"],
                    row["state"], row["reason"], new, (found,) if found else ())


# ------------------------------------------------------------------ what the check stage reads


def manifest(db_path: str | os.PathLike[str]) -> list[Received]:
    """Every input ever recorded, in arrival order ([] when nothing was collected yet)."""
    db_path = Path(db_path)
    if not db_path.is_file():
        return []
    conn = connect(db_path)
    try:
        ensure(conn, DDL)
        return [_received(r, db_path.parent) for r in conn.execute("SELECT * FROM received ORDER BY id")]
    finally:
        conn.close()


def current_files(db_path: str | os.PathLike[str]) -> list[StoredFile]:
    """The stored workbooks the round evaluates: each department's current version, and each unreadable
    workbook not since followed by a readable one from the same sender (a department whose only file
    is broken has submitted, and must be told)."""
    rows = manifest(db_path)
    accepted = [r for r in rows if r.state == ACCEPTED]
    out = list(accepted)
    for r in rows:
        if r.state != REJECTED or r.stored is None:
            continue
        later = [a for a in accepted if r.sender and a.sender == r.sender and (a.when, a.id) > (r.when, r.id)]
        if not later and all(o.stored != r.stored for o in out):
            out.append(r)
    out.sort(key=lambda r: r.id)
    return [StoredFile(r.stored, r.name, r.mail_date, r.arrived_at, r.sender, r.dept_code, r.dept_name, r.state)
            for r in out]


def submission_times(files: Iterable[StoredFile]) -> dict[str, dt.datetime]:
    """`evaluate_paths(submitted_at=…)` for stored files: when each was submitted."""
    return {str(f.path): f.submitted_at for f in files}


def senders(files: Iterable[StoredFile]) -> dict[str, str]:
    """`evaluate_paths(senders=…)` for stored files: the address each was mailed from."""
    return {str(f.path): f.sender for f in files if f.sender}


def settings_sources(campaign: Campaign, given: Iterable[str]) -> list[str]:
    """The sources of a collect: those given, else the round's IMAP folder ([mail] imap)."""
    given = list(given)
    if given:
        return given
    if campaign.mail.imap:
        return [campaign.mail.imap]
    raise ConfigError("没有指定要收取的文件夹、文件或邮箱；请给出路径，或在 perf.toml 的 [mail] 中设置 imap。")

