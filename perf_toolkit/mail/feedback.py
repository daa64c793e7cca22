"""The mails the bureau sends back: feedback with the marked workbook, reminders, receipts.

For each department whose current submission has findings, a mail listing them (errors first, with
sheet and cell) with its marked workbook attached; for a department whose file cannot be read, a
mail saying so; for each roster department that sent nothing, a reminder; for a department with
no findings, a receipt "已通过审核" when the round asks for receipts ([mail] receipts). Each mail
carries a `version`: a hash of what it says about which file, so `send` can tell whether anything
changed since it was last sent.

The attachment's Chinese name is written the way Thunderbird writes it, which Outlook, Foxmail
and web mail all read: RFC 2231 (`filename*0*=utf-8''…`) in Content-Disposition and an RFC 2047
encoded word in the Content-Type `name`. Drafts (`write_drafts`) are .eml files marked
`X-Unsent: 1`, which Outlook opens as a message ready to send; without a configured sender they
have no From, and the mail client fills in its own account.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import functools
import hashlib
import itertools
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import cached_property
from pathlib import Path

from ..check.status import NOT_SUBMITTED, PASSED, UNREADABLE, department_status
from ..config import Campaign, placeholder
from ..findings import SEVERITY_ZH, title
from ..fsutil import atomic_write
from ..model import Evaluation, FileResult, Finding
from ..text import clean_text, safe_name
from ..workbook import pool
from ..workbook.markup import MarkupResult, score_lines
from .rounddb import connect, ensure

FEEDBACK, REMINDER, RECEIPT = "feedback", "reminder", "receipt"
#: What each kind of mail is called in file names and messages.
KIND_ZH = {FEEDBACK: "审核意见", REMINDER: "催报通知", RECEIPT: "审核通过回执"}
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
DEADLINE_MISSING = placeholder("报送截止日期")
#: CRLF line ends (what SMTP sends and an .eml file holds); header lines written here are kept as written
#: (the Content-Type of an .xlsx is 80 characters: refolding it would mangle the subtype)
POLICY = policy.SMTP.clone(refold_source="none")
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
_LINE = 76  # header and body lines, as RFC 2045 asks


@dataclass(frozen=True)
class Outgoing:
    """One mail to one department (or, with `reason`, why it cannot be sent)."""

    code: str  # the department's 单位编码 ("" when its file names none)
    name: str  # its name
    kind: str  # FEEDBACK, REMINDER or RECEIPT
    recipients: tuple[str, ...]  # To: addresses (empty: see reason)
    subject: str
    version: str  # a hash of what the mail says about which file: the same version is never sent twice
    file: str | None = None  # the submission it is about
    attachment: Path | None = None  # the marked workbook attached
    reason: str = ""  # why there is no recipient (Chinese); "" when it can be sent
    content: str = ""  # a hash of everything the mail holds but its date and Message-ID (a draft kept if equal)
    compose: Callable[[], EmailMessage] = field(default=EmailMessage, repr=False, compare=False)

    @cached_property
    def message(self) -> EmailMessage:
        """The mail, built once on first use (a draft kept from an earlier run needs none)."""
        return self.compose()


def compose_feedback(evaluation: Evaluation, campaign: Campaign, markups: Sequence[MarkupResult] = (), *,
                     now: dt.datetime | None = None) -> list[Outgoing]:
    """Every mail of the round's current state, in roster order (then departments not on the roster).

    `markups` are the marked workbooks (`write_markups`) to attach. The address a file was mailed
    from (`FileResult.sender`) is the last resort for a recipient.
    """
    now = now or dt.datetime.now().astimezone()
    marked = {m.file: m for m in markups}
    senders = {r.file: r.sender for r in evaluation.files}
    status = department_status(evaluation, campaign.roster)
    out = []
    for d in status.everyone:
        sender = parseaddr(senders.get(d.file or "", ""))[1]
        contact = d.result.submission.department.contact.email if d.result is not None else ""
        to, reason = _recipients(d.entry.email if d.entry else "", contact, sender)
        attachment = None
        if d.state == NOT_SUBMITTED:
            kind, texts = REMINDER, functools.partial(_reminder, d.name, campaign, now.date())
        elif d.state == PASSED:
            if not campaign.mail.receipts:
                continue
            kind, texts = RECEIPT, functools.partial(_receipt, d.name, d.result, campaign, now.date())
        else:
            kind = FEEDBACK
            result = d.result or next(r for r in evaluation.files if r.file == d.file)
            made = marked.get(result.file)
            attachment = made.path if made is not None and made.path is not None else None
            why_none = made.reason if made is not None and made.path is None else ""
            texts = functools.partial(_feedback, d.name, result, d.state, campaign, attachment, why_none, now.date())
        if reason:
            reason = f"{reason}，未生成{KIND_ZH[kind]}邮件"
        subject, body, version = texts()
        content = _version(subject, body, to, d.name, campaign.mail.sender, campaign.mail.cc,
                           _file_digest(attachment) if attachment is not None else None)
        out.append(Outgoing(d.code, d.name, kind, to, subject, version, d.file, attachment, reason, content,
                            _Compose(texts, campaign, to, d.name, now, attachment)))
    return out


@dataclass(frozen=True)
class _Compose:
    """How an Outgoing's mail is built once it is needed. Its texts are made again then, from the evaluation
    the round holds anyway: a round's bodies (each listing every finding of its department) are not all
    held at once, about 40 KB a department."""

    texts: Callable[[], tuple[str, str, str]]  # (subject, body, version)
    campaign: Campaign
    to: tuple[str, ...]
    name: str
    now: dt.datetime
    attachment: Path | None

    def __call__(self) -> EmailMessage:
        subject, body, _ = self.texts()
        return _message(subject, body, self.campaign, self.to, self.name, self.now, self.attachment)

    def portable(self) -> _Compose:
        """The same with its texts made: what a worker is sent (the texts, not the evaluation they come from)."""
        return dataclasses.replace(self, texts=functools.partial(_made, self.texts()))


def _made(texts: tuple[str, str, str]) -> tuple[str, str, str]:
    return texts


def _recipients(roster: str, contact: str, sender: str) -> tuple[tuple[str, ...], str]:
    """The To: addresses — the roster's 电子邮箱, else the submission's contact, else the mail's sender — or why none."""
    for source in (roster, contact, sender):
        found = tuple(a for a in re.split(r"[\s,;，；、]+", source or "") if a)
        good = tuple(dict.fromkeys(a for a in found if _ADDRESS.match(a)))
        if good:
            return good, ""
    return (), "没有收件地址（报送名单的电子邮箱、填报表的联系人邮箱、来信地址都没有有效的邮箱地址）"


# ------------------------------------------------------------------ the texts


def _date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _deadline(campaign: Campaign, *, short: bool = False) -> str:
    d = campaign.deadline
    if d is None:
        return DEADLINE_MISSING
    return f"{d.month}月{d.day}日" if short else _date(d)


def _year(campaign: Campaign) -> str:
    return f"{campaign.year}年度" if campaign.year else ""


def _signature(campaign: Campaign, today: dt.date) -> str:
    return f"\n\n{campaign.fact('bureau')}\n{_date(today)}\n"


def _where(f: Finding) -> str:
    if f.sheet and f.cell:
        return f"〔{f.sheet} {f.cell}〕"
    return f"〔{f.sheet}〕" if f.sheet else ""


def _listing(findings: Sequence[Finding]) -> str:
    """The findings, errors first, numbered, each with its sheet and cell."""
    parts = []
    for severity, heading in (("error", "必须改正"), ("warning", "请核实，确有问题的请改正或在说明栏中说明原因")):
        mine = [f for f in findings if f.severity == severity]
        if mine:
            lines = [f"{'一二'[len(parts)]}、{SEVERITY_ZH[severity]}（{len(mine)} 个，{heading}）"]
            lines += [f"  {n}. {_where(f)}{_titled(f)}" for n, f in enumerate(mine, 1)]
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _version(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() + ":" + path.name


def _file_label(result: FileResult) -> str:
    return clean_text(Path(result.file).name)


def _feedback(name: str, result: FileResult, state: str, campaign: Campaign, attachment: Path | None,
              no_copy: str, today: dt.date) -> tuple[str, str, str]:
    """(subject, body, version) of a feedback mail: the findings of the department's current file."""
    deadline, year = _deadline(campaign), _year(campaign)
    errors = sum(f.severity == "error" for f in result.findings)
    warnings = sum(f.severity == "warning" for f in result.findings)
    if state == UNREADABLE:
        subject = f"【绩效自评】{name}{year}自评填报表无法读取（请于{_deadline(campaign, short=True)}前重新报送）"
        lead = (f"你单位报送的《{_file_label(result)}》无法读取，未能审核。问题如下：\n\n{_listing(result.findings)}\n\n"
                f"请于{deadline}前重新报送可以打开的填报表（用 Excel 或 WPS 打开确认无误后另存为 .xlsx，"
                "回复本邮件并添加附件即可）。")
    else:
        subject = (f"【绩效自评】{name}{year}自评填报表审核意见"
                   f"（请于{_deadline(campaign, short=True)}前修改后重新报送）")
        if attachment is not None:
            copy = (f"详见附件《{attachment.name}》：有问题的单元格已标红（错误）或标黄（警告）并加批注，"
                    "首页“审核意见”工作表列出全部问题，点击单元格地址可以跳转。")
        else:
            copy = f"（{no_copy.removeprefix('未生成：')}，本邮件未附审核意见表。）" if no_copy else ""
        scores = score_lines(result)
        scored = "审核结果（按评分规则核定）：\n" + "\n".join(f"  {s}" for s in scores) + "\n\n" if scores else ""
        ask = ("请于{d}前改正全部错误、核实各项警告后重新报送（回复本邮件并附上修改后的填报表即可）。" if errors else
               "没有必须改正的错误；请核实以上警告，确有问题的请于{d}前改正后重新报送，无需修改的不必重新报送。")
        lead = (f"你单位报送的《{_file_label(result)}》经审核，发现问题 {errors + warnings} 个"
                f"（错误 {errors} 个、警告 {warnings} 个）。{copy}\n\n{scored}{_listing(result.findings)}\n\n"
                + ask.format(d=deadline))
    body = f"{name}：\n\n{lead}\n\n如有疑问，请与我局联系。{_signature(campaign, today)}"
    version = _version(FEEDBACK, result.sha256, [(f.code, f.severity, f.sheet, f.cell, f.message) for f in result.findings],
                       score_lines(result) if result.sourced is not None else [])
    return subject, body, version


def _reminder(name: str, campaign: Campaign, today: dt.date) -> tuple[str, str, str]:
    deadline, year = _deadline(campaign), _year(campaign)
    subject = f"【绩效自评】请{name}于{_deadline(campaign, short=True)}前报送{year}项目支出绩效自评填报表"
    notice = ""
    if campaign.notice_title.strip():
        number = f"（{campaign.notice_number.strip()}）" if campaign.notice_number.strip() else ""
        notice = f"按照《{campaign.notice_title.strip()}》{number}的要求，"
    body = (f"{name}：\n\n{notice}各单位应于{deadline}前报送{year}项目支出绩效自评填报表。"
            "截至目前，我局尚未收到你单位的填报表，请抓紧填报，按时报送（回复本邮件并添加填报表附件即可）。"
            "如已报送，请回复告知报送时间和发件邮箱，以便核查。\n\n如有疑问，请与我局联系。"
            f"{_signature(campaign, today)}")
    # one reminder per deadline: a new deadline (an extension) is a new reminder
    return subject, body, _version(REMINDER, campaign.year, campaign.deadline.isoformat() if campaign.deadline else "")


def _receipt(name: str, result: FileResult, campaign: Campaign, today: dt.date) -> tuple[str, str, str]:
    year = _year(campaign)
    subject = f"【绩效自评】{name}{year}自评填报表已通过审核"
    scores = score_lines(result)
    scored = "\n\n审核结果（按评分规则核定）：\n" + "\n".join(f"  {s}" for s in scores) if scores else ""
    body = (f"{name}：\n\n你单位报送的《{_file_label(result)}》已通过审核，未发现问题，无需重新报送。{scored}"
            f"\n\n如有疑问，请与我局联系。{_signature(campaign, today)}")
    return subject, body, _version(RECEIPT, result.sha256)


# ------------------------------------------------------------------ the message


def _message(subject: str, body: str, campaign: Campaign, to: tuple[str, ...], name: str, now: dt.datetime,
             attachment: Path | None) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    sender = campaign.mail.sender
    if sender:
        msg["From"] = sender
    if to:
        msg["To"] = [Address(display_name=name if len(to) == 1 else "", addr_spec=a) for a in to]
    if campaign.mail.cc:
        msg["Cc"] = ", ".join(campaign.mail.cc)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now if now.tzinfo else now.astimezone())
    domain = parseaddr(sender)[1].rpartition("@")[2] if sender else ""
    msg["Message-ID"] = make_msgid(domain=domain or None)
    msg.set_content(body, charset="utf-8", cte="base64")
    if attachment is not None:
        msg.make_mixed()
        msg.attach(attachment_part(attachment.name, attachment.read_bytes()))
    return msg


def attachment_part(filename: str, data: bytes, mime: tuple[str, str] = XLSX_TYPE) -> EmailMessage:
    """An attachment whose (Chinese) name every mail client reads: RFC 2231 filename*, RFC 2047 name."""
    words = Header(filename, "utf-8", maxlinelen=_LINE - 10).encode(splitchars=" ", maxlinelen=_LINE - 10)
    name = "\r\n ".join(words.split("\n "))
    lines = [f"Content-Type: {mime[0]}/{mime[1]};", f' name="{name}"',
             "Content-Disposition: attachment;", *_rfc2231("filename", filename),
             "Content-Transfer-Encoding: base64", ""]
    payload = base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")
    raw = "\r\n".join(lines) + "\r\n" + payload
    return message_from_bytes(raw.encode("ascii"), policy=POLICY)


def _rfc2231(param: str, value: str) -> list[str]:
    """` param*0*=utf-8''…;` continuation lines (RFC 2231 §3–4), each under the line limit; a character's
    %XX bytes stay in one line (some clients decode each line on its own)."""
    tokens = [c if re.match(r"[A-Za-z0-9!#$&+\-.^_`|~]", c) else "".join(f"%{b:02X}" for b in c.encode("utf-8"))
              for c in value]
    chunks, current = [], ""
    for token in tokens:
        if len(current) + len(token) > _LINE - 24:
            chunks.append(current)
            current = ""
        current += token
    chunks.append(current)
    lines = [f" {param}*{n}*={'utf-8' + chr(39) * 2 if n == 0 else ''}{chunk}" for n, chunk in enumerate(chunks)]
    return [line + (";" if n < len(lines) - 1 else "") for n, line in enumerate(lines)]


# ------------------------------------------------------------------ drafts

DRAFT_SUFFIX = ".eml"
_DRAFT = re.compile(r"-(" + "|".join(KIND_ZH.values()) + r")(-\d+)?\.eml$")


def draft_bytes(item: Outgoing) -> bytes:
    """The mail as an .eml draft: the message marked unsent, so Outlook opens it ready to send.

    A mail not built yet is built for the draft only (not kept on `item`): a round's drafts, each with its
    workbook attached, are written one at a time, never all held."""
    message = item.__dict__.get("message") or item.compose()
    head, blank, body = message.as_bytes(policy=POLICY).partition(b"\r\n\r\n")
    return head + b"\r\nX-Unsent: 1" + blank + body  # the last header, as adding it to a copy would place it


#: One row per draft written into the drafts folder of a round: a draft whose mail would hold the same
#: (`Outgoing.content`) is kept as it is. The row goes before the draft is rewritten, in after it is written.
DRAFTED_DDL = """
CREATE TABLE IF NOT EXISTS drafted (
    name TEXT PRIMARY KEY,  -- the draft's file name in the folder
    content TEXT NOT NULL   -- Outgoing.content of the mail it holds
);
"""


#: Drafts built in worker processes from this many on (fewer: not worth starting them).
POOLED_DRAFTS = 32
_DRAFT_LIMITS = {"memory_bytes": 2**30, "cpu_seconds": 60, "wall_seconds": 120.0, "recycle_files": 1000}


def _built_draft(item: Outgoing) -> bytes | BaseException:
    """`draft_bytes` in a worker: the bytes, or what it raised (handed back to be raised where it is written)."""
    try:
        return draft_bytes(item)
    except Exception as exc:  # raised again in the caller's process, as without workers
        return exc


def _drafts(items: Sequence[Outgoing], jobs: int | None):
    """Each item's draft bytes, in order: built in workers for a large batch (~6 ms of the email package's
    time a mail, the attachment encoded), in this process otherwise or when a worker could not build one."""
    workers = min(len(items) // POOLED_DRAFTS, jobs or os.cpu_count() or 1)
    if workers < 2:
        yield from map(draft_bytes, items)
        return
    tasks = (pool.Task(_portable(item)) for item in items)  # made as workers take them: not all texts at once
    built = pool.imap(_built_draft, tasks, jobs=workers, **_DRAFT_LIMITS)
    for item, data in zip(items, built, strict=True):
        if isinstance(data, pool.Failure):
            data = draft_bytes(item)  # the worker died or ran out of time: here, as without workers
        if isinstance(data, BaseException):
            raise data
        yield data


def _portable(item: Outgoing) -> Outgoing:
    """The item as a worker gets it: its mail's texts made here, so no evaluation crosses the pipe."""
    compose = item.compose
    return dataclasses.replace(item, compose=compose.portable()) if isinstance(compose, _Compose) else item


def write_drafts(outgoing: Sequence[Outgoing], folder: str | Path, *, prune: bool = False,
                 db: str | Path | None = None, jobs: int | None = None) -> list[Path]:
    """Write each sendable mail as “单位名称-审核意见.eml” (atomically); mails without a recipient are not
    written (their reason is listed by the caller). `prune` removes our earlier drafts not written again,
    for a folder the toolkit owns, so a department that has since passed gets no stale feedback. With
    the round database `db`, a draft already in the folder with the same content is kept (its date is
    the day it was first written), so a re-run rewrites only the drafts whose mail changed. A large
    batch's mails are built in up to `jobs` worker processes (default: one per CPU)."""
    folder = Path(folder)
    taken: set[str] = set()
    named = []
    for item in outgoing:
        if item.reason:
            continue
        stem = f"{safe_name(item.name or item.code, '未知单位', 150)}-{KIND_ZH[item.kind]}"
        numbered = (f"{stem}-{n}{DRAFT_SUFFIX}" for n in range(2, 10_000))  # lazily, not 10,000 names a draft
        name = next(c for c in itertools.chain([f"{stem}{DRAFT_SUFFIX}"], numbered) if c.casefold() not in taken)
        taken.add(name.casefold())
        named.append((name, item))
    conn = connect(db) if db is not None else None
    try:
        kept: dict[str, str] = {}
        if conn is not None:
            ensure(conn, DRAFTED_DDL)
            kept = {r["name"]: r["content"] for r in conn.execute("SELECT name, content FROM drafted")}
        changed = [(name, item) for name, item in named
                   if not (kept.get(name) == item.content and (folder / name).is_file())]
        for (name, item), data in zip(changed, _drafts([item for _, item in changed], jobs), strict=True):
            if conn is not None:
                with conn:
                    conn.execute("DELETE FROM drafted WHERE name = ?", (name,))
            with atomic_write(folder / name) as fh:
                fh.write(data)
            if conn is not None:
                with conn:
                    conn.execute("INSERT INTO drafted (name, content) VALUES (?, ?)", (name, item.content))
        if conn is not None:
            with conn:
                conn.executemany("DELETE FROM drafted WHERE name = ?",
                                 [(n,) for n in kept if n.casefold() not in taken])
    finally:
        if conn is not None:
            conn.close()
    if prune and folder.is_dir():
        for path in folder.iterdir():
            if path.is_file() and _DRAFT.search(path.name) and path.name.casefold() not in taken:
                path.unlink(missing_ok=True)
    return [folder / name for name, _ in named]


def _titled(f: Finding) -> str:
    """A finding as one line of the mail: its title, then its message (once, when the message starts with it)."""
    message = clean_text(f.message)
    return message if message.startswith(title(f.code)) else f"{title(f.code)}：{message}"
