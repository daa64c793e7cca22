"""What arrived: the workbooks inside folders, mails (.eml, .mbox, Maildir) and zip archives.

Each input becomes an `Arrival` (a workbook's bytes with where and when it came) or an
`Ignored` (a lock file, a picture, a toolkit output, a zip bomb…, with the reason in
Chinese). Nothing here raises for a hostile or broken input, and nothing is written:
sources are only read.

Chinese names come in every encoding real mail and archives use: RFC 2047 words and RFC
2231 parameters in GB2312, GBK, GB18030 or UTF-8 (GB2312 and GBK decoded as their superset
GB18030, since mailers label GBK text as GB2312), raw 8-bit headers, and zip entries named
in CP936 without the UTF-8 flag (Windows' built-in zip).
"""

from __future__ import annotations

import datetime as dt
import email
import email.header
import email.utils
import io
import lzma
import mailbox
import os
import re
import struct
import urllib.parse
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from pathlib import Path

from ..fsutil import irregular_reason, path_text, read_bounded
from ..workbook.marker import output_mark
from ..workbook.read import WORKBOOK_SUFFIXES, lock_file_reason

MAIL_SUFFIXES = (".eml",)
MBOX_SUFFIXES = (".mbox", ".mbx")
ZIP_SUFFIXES = (".zip",)
OTHER_ARCHIVES = (".rar", ".7z", ".gz", ".tgz", ".tar", ".bz2", ".xz")
MAILDIR_PARTS = ("cur", "new", "tmp")
#: Charsets mailers use for Chinese, decoded as the superset that holds every character they label so.
_CHARSET_UPGRADE = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
                    "euc-cn": "gb18030", "csgb2312": "gb18030", "gb_2312-80": "gb18030", "ms936": "gb18030",
                    "x-euc-cn": "gb18030", "chinese": "gb18030"}
_MIME_SUFFIX = {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
                "application/vnd.ms-excel.sheet.macroenabled.12": ".xlsm",
                "application/vnd.ms-excel": ".xls", "application/zip": ".zip",
                "application/x-zip-compressed": ".zip", "message/rfc822": ".eml"}


@dataclass(frozen=True)
class InboxLimits:
    """Bounds on what one source may unpack to (zip bombs, huge mails end as `Ignored`)."""

    max_depth: int = 3  # zip in a zip in a zip (a zip attached to a mail is depth 1)
    max_entries: int = 1000  # members listed in all the zips of one source
    max_total_bytes: int = 512 * 2**20  # bytes unpacked from all the zips of one source
    max_file_bytes: int = 50 * 2**20  # one workbook (the reader's own limit)
    max_source_bytes: int = 1024 * 2**20  # one .eml, .mbox or .zip file, one mail


@dataclass(frozen=True)
class Arrival:
    """A workbook that arrived: its bytes and where, from whom and when it came."""

    data: bytes = field(repr=False)
    name: str  # its file name, decoded
    origin: str  # the source: a file path, or a mail's origin (IMAP URL, mbox path)
    message_id: str = ""
    sender: str = ""  # the mail's From address
    mail_date: dt.datetime | None = None  # the mail's Date (aware); None: no mail, or no usable Date
    order: int = 0  # arrival order within one read
    within: str = ""  # where inside the source, for people: "第2封邮件 › 资料.zip › 表.xlsx"
    key: str = ""  # the input's identity, the same on every run over the same source


@dataclass(frozen=True)
class Ignored:
    """An input that is no workbook to read, with the reason in Chinese."""

    name: str
    origin: str
    reason: str
    message_id: str = ""
    sender: str = ""
    mail_date: dt.datetime | None = None
    order: int = 0
    within: str = ""
    key: str = ""


Item = Arrival | Ignored


@dataclass(frozen=True)
class _Mail:
    """What a mail tells about every attachment in it."""

    origin: str
    key: str
    within: str = ""
    message_id: str = ""
    sender: str = ""
    mail_date: dt.datetime | None = None


class _Budget:
    """What one source may still unpack (shared by its nested zips)."""

    def __init__(self, limits: InboxLimits):
        self.limits = limits
        self.entries = limits.max_entries
        self.bytes = limits.max_total_bytes


# ------------------------------------------------------------------ sources


def read_sources(sources: Iterable[str | os.PathLike[str]], exclude: Iterable[str | os.PathLike[str]] = (), *,
                 limits: InboxLimits = InboxLimits()) -> Iterator[Item]:
    """Every workbook in folders, workbook files, .eml, .mbox, Maildir folders and .zip (nested),
    in order; what is not a workbook is an `Ignored`. Nothing under `exclude` (the output folder) is read."""
    excluded = [Path(e).resolve() for e in exclude]
    order = 0
    for given in sources:
        for item in _source(Path(given), excluded, limits):
            order += 1
            yield _ordered(item, order)


def _ordered(item: Item, order: int) -> Item:
    """The item with its place in the run, and its names printable (a file name that was not UTF-8)."""
    names = {k: path_text(item.__dict__[k]) for k in ("name", "origin", "key", "within")}
    return type(item)(**{**item.__dict__, **names, "order": order})


def _under(path: Path, excluded: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved == e or e in resolved.parents for e in excluded)


def _source(path: Path, excluded: list[Path], limits: InboxLimits) -> Iterator[Item]:
    origin = str(path)
    if not path.exists():
        yield Ignored(path.name or origin, origin, "文件或文件夹不存在", key=_key(path))
    elif _under(path, excluded):
        yield Ignored(path.name, origin, "本工具的输出文件夹（其中的文件不作为报送文件读取），已跳过", key=_key(path))
    elif path.is_dir():
        yield from _folder(path, excluded, limits)
    else:
        yield from _file(path, limits, named=True)


def _key(path: Path) -> str:
    return os.path.abspath(path)


def is_maildir(path: Path) -> bool:
    """A Maildir folder: cur and new (and usually tmp) beside each other."""
    return all((path / part).is_dir() for part in MAILDIR_PARTS[:2])


def _folder(path: Path, excluded: list[Path], limits: InboxLimits) -> Iterator[Item]:
    if is_maildir(path):
        yield from _maildir(path, limits)
        return
    for root, dirs, files in os.walk(path):
        here = Path(root)
        keep = []
        for d in sorted(dirs):
            child = here / d
            if _under(child, excluded):
                continue  # the output folder: never scanned, never listed
            if d.startswith("."):
                yield Ignored(d, str(child), "隐藏文件夹，已跳过", key=_key(child))
            elif is_maildir(child):
                yield from _maildir(child, limits)
            else:
                keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            child = here / name
            if name.startswith(".") and lock_file_reason(name) is None:
                yield Ignored(name, str(child), "隐藏文件，已跳过", key=_key(child))
            else:
                yield from _file(child, limits, named=False, root=path)


def _file(path: Path, limits: InboxLimits, *, named: bool, root: Path | None = None) -> Iterator[Item]:
    """One file on disk: a workbook, a mail, a mailbox, a zip, or something to skip; `root` is the folder
    it was found in (a link out of it is not followed)."""
    origin, key, name = str(path), _key(path), path.name
    suffix = path.suffix.lower()
    reason = lock_file_reason(name)
    if reason:
        yield Ignored(name, origin, reason, key=key)
        return
    irregular = irregular_reason(path, None if named else root)
    if irregular:
        yield Ignored(name, origin, irregular, key=key)
        return
    try:
        size = path.stat().st_size
        if size > limits.max_source_bytes:
            yield Ignored(name, origin, f"文件过大（{size / 2**20:.0f} MB），已跳过", key=key)
            return
        if suffix in MBOX_SUFFIXES or (not suffix and _starts_with(path, b"From ")):
            yield from _mbox(path, limits)
            return
        if suffix not in (*WORKBOOK_SUFFIXES, *MAIL_SUFFIXES, *ZIP_SUFFIXES):
            yield Ignored(name, origin, _not_a_workbook(name), key=key)
            return
        data = read_bounded(path, limits.max_source_bytes)
    except OSError as exc:
        yield Ignored(name, origin, f"无法读取（{exc.strerror or '读取失败'}）", key=key)
        return
    if suffix in MAIL_SUFFIXES:
        yield from arrivals_from_message(data, origin, limits=limits, key=key)
    else:
        yield from _attachment(data, name, _Mail(origin, key), _Budget(limits), depth=0)


def _starts_with(path: Path, head: bytes) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(head)) == head


def _not_a_workbook(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in OTHER_ARCHIVES:
        return f"不支持的压缩格式（{suffix}），已跳过；请解压后发送 .xlsx 填报表，或改用 .zip 压缩"
    return f"不是电子表格文件（扩展名“{suffix or '无'}”），已跳过"


# ------------------------------------------------------------------ mailboxes


def _maildir(path: Path, limits: InboxLimits) -> Iterator[Item]:
    box = mailbox.Maildir(path, factory=None, create=False)
    try:
        keys = sorted(box.keys())
    except OSError as exc:
        yield Ignored(path.name, str(path), f"邮件文件夹无法读取（{exc.strerror}）", key=_key(path))
        return
    for n, k in enumerate(keys, start=1):
        try:
            raw = box.get_bytes(k)
        except (OSError, KeyError) as exc:
            yield Ignored(k, str(path), f"邮件无法读取（{exc}）", key=f"{_key(path)}#{k}")
            continue
        yield from arrivals_from_message(raw, str(path), limits=limits, key=f"{_key(path)}#{k}",
                                         within=f"第{n}封邮件")


def _mbox(path: Path, limits: InboxLimits) -> Iterator[Item]:
    # read here, not through mailbox.mbox: it opens the file for writing ("rb+"), and an input is never
    # opened so; its messages start at a "From " line, as mailbox's own reader splits them
    try:
        data = read_bounded(path, limits.max_source_bytes)
    except OSError as exc:
        yield Ignored(path.name, str(path), f"邮箱文件无法读取（{exc.strerror or '读取失败'}）", key=_key(path))
        return
    starts = [m.start() for m in re.finditer(rb"^From ", data, re.M)]
    if not starts:
        yield Ignored(path.name, str(path), "邮箱文件中没有邮件（没有以“From ”开头的邮件分隔行），已跳过", key=_key(path))
        return
    for n, (a, b) in enumerate(zip(starts, [*starts[1:], len(data)], strict=True), start=1):
        raw = data[a:b]
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""  # the envelope line is not part of the message
        ident = _message_id_of(raw) or f"#{n}"
        yield from arrivals_from_message(raw, str(path), limits=limits, key=f"{_key(path)}#{ident}",
                                         within=f"第{n}封邮件")


def _message_id_of(raw: bytes) -> str:
    m = re.search(rb"^Message-ID:[ \t]*(<[^>\r\n]{1,300}>)", raw[:65536], flags=re.I | re.M)
    return m[1].decode("ascii", "replace") if m else ""


# ------------------------------------------------------------------ one mail


def arrivals_from_message(raw: bytes, origin: str, *, limits: InboxLimits = InboxLimits(), key: str = "",
                          within: str = "") -> list[Item]:
    """The workbooks attached to one RFC 822 message (zip attachments unpacked), and what was skipped.

    `origin` names the message (an IMAP URL, a file path); `key` its identity when it differs
    (default: origin). A mail with no workbook at all is one `Ignored`, so it is still listed.
    """
    key = key or origin
    if len(raw) > limits.max_source_bytes:
        return [Ignored("（整封邮件）", origin, f"邮件过大（{len(raw) / 2**20:.0f} MB），已跳过", key=key,
                        within=within)]
    msg = email.message_from_bytes(raw, policy=policy.default)
    mail = _Mail(origin, key, within, _header_text(msg, "Message-ID").strip(), mail_sender(msg), mail_date(msg))
    budget = _Budget(limits)
    items: list[Item] = []
    for index, part in enumerate(_parts(msg)):
        name = attachment_name(part)
        if not name:
            suffix = _MIME_SUFFIX.get(part.get_content_type())
            if suffix is None:
                continue  # the body, an inline picture without a name: not an attachment
            name = f"未命名附件{index}{suffix}"
        part_mail = _Mail(mail.origin, f"{key}#part{index}", _join(within, name), mail.message_id, mail.sender,
                          mail.mail_date)
        try:
            data = _payload(part)
        except Exception:  # a payload no decoder understands: listed, the others go on
            items.append(_ignored(name, part_mail, "附件编码损坏，无法解码，已跳过"))
            continue
        if Path(name).suffix.lower() in MAIL_SUFFIXES:  # a mail attached as a file: its own attachments
            items.extend(arrivals_from_message(data, origin, limits=limits, key=part_mail.key,
                                               within=part_mail.within))
            continue
        items.extend(_attachment(data, name, part_mail, budget, depth=0))
    if not any(isinstance(i, Arrival) for i in items):
        items.append(Ignored("（邮件正文）", origin, "邮件中没有电子表格附件", mail.message_id, mail.sender,
                             mail.mail_date, within=within, key=f"{key}#mail"))
    return items


def _parts(msg: Message) -> Iterator[Message]:
    """The leaf parts of a message, forwarded mails' parts included."""
    try:
        for part in msg.walk():
            if not part.is_multipart():
                yield part
    except Exception:  # a structure the parser gives up on part-way: what was found stays
        return


def _payload(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _join(within: str, name: str) -> str:
    return f"{within} › {name}" if within else name


def _ignored(name: str, mail: _Mail, reason: str) -> Ignored:
    return Ignored(name, mail.origin, reason, mail.message_id, mail.sender, mail.mail_date, within=mail.within,
                   key=mail.key)


def _attachment(data: bytes, name: str, mail: _Mail, budget: _Budget, *, depth: int) -> Iterator[Item]:
    """One named blob: a workbook to keep, a zip to open, or something to skip."""
    suffix = Path(name).suffix.lower()
    reason = lock_file_reason(name)
    if reason:
        yield _ignored(name, mail, reason)
    elif suffix in ZIP_SUFFIXES or (not suffix and data[:4] == b"PK\x03\x04"):
        yield from _zip(data, name, mail, budget, depth=depth + 1)
    elif suffix not in WORKBOOK_SUFFIXES:
        yield _ignored(name, mail, _not_a_workbook(name))
    elif len(data) > budget.limits.max_file_bytes:
        yield _ignored(name, mail, f"文件过大（{len(data) / 2**20:.0f} MB，超过 "
                                   f"{budget.limits.max_file_bytes // 2**20} MB），已跳过")
    else:
        mark = output_mark(data)
        if mark is not None:
            yield _ignored(name, mail, mark.reason)
        else:
            yield Arrival(data, name, mail.origin, mail.message_id, mail.sender, mail.mail_date, within=mail.within,
                          key=mail.key)


# ------------------------------------------------------------------ zip archives


def _zip(data: bytes, name: str, mail: _Mail, budget: _Budget, *, depth: int) -> Iterator[Item]:
    if depth > budget.limits.max_depth:
        yield _ignored(name, mail, f"压缩包嵌套超过 {budget.limits.max_depth} 层，可能是恶意文件，已跳过")
        return
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        yield _ignored(name, mail, "压缩包已损坏或不是 zip 格式，无法打开，已跳过")
        return
    members = [i for i in infos if not i.filename.endswith("/")]  # not is_dir(): it raises on an empty name
    declared = sum(i.file_size for i in members)
    if len(infos) > budget.entries or declared > budget.bytes:
        yield _ignored(name, mail, f"压缩包过大（{len(infos)} 个文件，解压后 {declared / 2**20:.0f} MB），"
                                   "可能是恶意文件（压缩炸弹），已跳过")
        return
    budget.entries -= len(infos)
    listed = 0
    for item in _zip_members(zf, members, name, mail, budget, depth=depth):
        listed += 1
        yield item
    if not listed:  # an empty zip, or folders, dot files and __MACOSX only: still listed, with why
        yield _ignored(name, mail, "压缩包中没有文件，已跳过" if not members else
                       "压缩包中只有隐藏文件或 macOS 附加文件，没有电子表格，已跳过")


def _zip_members(zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], name: str, mail: _Mail, budget: _Budget, *,
                 depth: int) -> Iterator[Item]:
    for info in members:
        inner = zip_entry_name(info)
        short = re.split(r"[\\/]", inner)[-1] or inner or "（无名文件）"
        entry = _Mail(mail.origin, f"{mail.key}!{info.header_offset}", f"{mail.within or name} › {inner}",
                      mail.message_id, mail.sender, mail.mail_date)
        if short.startswith(".") or inner.startswith("__MACOSX/"):
            continue  # macOS resource forks and dot files: not anyone's submission
        if info.flag_bits & 0x1:
            yield _ignored(short, entry, "压缩包中的文件设有密码，无法读取；请取消密码后重新发送")
            continue
        suffix = Path(short).suffix.lower()
        if suffix not in (*WORKBOOK_SUFFIXES, *ZIP_SUFFIXES) or lock_file_reason(short):
            yield from _attachment(b"", short, entry, budget, depth=depth)  # named: skipped with its reason
            continue
        cap = min(budget.bytes, budget.limits.max_file_bytes if suffix in WORKBOOK_SUFFIXES else budget.bytes)
        try:
            with zf.open(info) as fh:
                content = fh.read(cap + 1)  # the declared size may lie: never read past the budget
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError, zlib.error,
                lzma.LZMAError):
            yield _ignored(short, entry, "压缩包中的文件已损坏，无法解压，已跳过")
            continue
        if len(content) > cap:
            yield _ignored(short, entry, "解压后过大，可能是恶意文件（压缩炸弹），已跳过")
            budget.bytes = 0
            continue
        budget.bytes -= len(content)
        yield from _attachment(content, short, entry, budget, depth=depth)


def zip_entry_name(info: zipfile.ZipInfo) -> str:
    """An entry's name as its author saw it: UTF-8 when flagged or recorded (Info-ZIP's unicode path
    field), else the bytes re-read as UTF-8 or, as Windows writes them, CP936 (GB18030)."""
    if info.flag_bits & 0x800:
        return info.filename
    unicode_path = _unicode_path_field(info.extra)
    if unicode_path:
        return unicode_path
    try:
        raw = info.filename.encode("cp437")  # zipfile decoded the name's bytes as CP437
    except UnicodeEncodeError:
        return info.filename
    if raw.isascii():
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _unicode_path_field(extra: bytes) -> str:
    """The UTF-8 name of Info-ZIP's Unicode Path extra field (0x7075), if present and whole."""
    pos = 0
    while pos + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4:pos + 4 + size]
        if kind == 0x7075 and len(body) > 5 and body[0] == 1:
            try:
                return body[5:].decode("utf-8")
            except UnicodeDecodeError:
                return ""
        pos += 4 + size
    return ""


# ------------------------------------------------------------------ headers


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Text from a mailer's bytes: its declared charset (GB2312/GBK read as GB18030), else UTF-8, else
    GB18030; never raises (an undecodable byte becomes U+FFFD)."""
    tried = []
    if charset:
        name = charset.strip().strip('"').lower()
        tried.append(_CHARSET_UPGRADE.get(name, name))
    tried += ["utf-8", "gb18030"]
    for encoding in tried:
        try:
            return data.decode(encoding)
        except (ValueError, LookupError):  # ValueError too: a charset name holding NUL is no codec's name
            continue
    return data.decode("gb18030", "replace")


def _raw_header(msg: Message, name: str) -> str:
    """A header's text as it was in the message (folding removed; 8-bit bytes as surrogate escapes)."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return re.sub(r"\r?\n[ \t]", " ", str(value)).strip()
    return ""


def decode_words(text: str) -> str:
    """A header value with RFC 2047 encoded words decoded (charsets upgraded), raw 8-bit bytes re-read."""
    try:
        chunks = email.header.decode_header(text)
    except Exception:  # a malformed encoded word: taken as plain text
        chunks = [(text, None)]
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8", "surrogateescape")
        out.append(decode_bytes(chunk, charset))
    return "".join(out)


def _header_text(msg: Message, name: str) -> str:
    raw = _raw_header(msg, name)
    return decode_words(raw) if raw else ""


def mail_sender(msg: Message) -> str:
    """The From address (lower-case), "" when there is none."""
    _, address = email.utils.parseaddr(_header_text(msg, "From"))
    return address.strip().lower()


def mail_date(msg: Message, now: dt.datetime | None = None) -> dt.datetime | None:
    """The mail's Date (aware; "-0000" as UTC); None when missing, unreadable or in the future."""
    raw = _raw_header(msg, "Date")
    if not raw:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    if when.year < 1990 or when > now + dt.timedelta(days=1):
        return None  # a wrong clock is no evidence of which version is newer
    return when


_PARAM = re.compile(r"""(?:^|;)\s*([A-Za-z0-9_\-]+)(\*(?:\d+\*?)?)?\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)""")


def _params(header: str) -> dict[str, str]:
    """RFC 2231-aware parameters of a header: name -> decoded value (continuations joined)."""
    pieces: dict[str, list[tuple[int, bool, str]]] = {}
    for m in _PARAM.finditer(header):
        name, star, value = m[1].lower(), m[2] or "", m[3].strip()
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1] if value.endswith('"') and len(value) > 1 else value[1:])
        index = int(re.sub(r"\D", "", star) or 0) if star else 0
        pieces.setdefault(name, []).append((index, star.endswith("*"), value))
    out = {}
    for name, parts in pieces.items():
        parts.sort(key=lambda p: p[0])
        if any(extended for _, extended, _ in parts):
            charset, data = "", b""
            for n, (_, extended, value) in enumerate(parts):
                if extended:
                    if n == 0 and value.count("'") >= 2:
                        charset, _, value = value.split("'", 2)
                    data += urllib.parse.unquote_to_bytes(value.encode("utf-8", "surrogateescape"))  # raw 8-bit kept
                else:
                    data += value.encode("utf-8", "surrogateescape")
            out[name] = decode_bytes(data, charset or None)
        else:
            out[name] = decode_words("".join(v for _, _, v in parts))
    return out


def attachment_name(part: Message) -> str:
    """An attachment's file name, decoded from any encoding mailers use; "" for a part without one."""
    for header, param in (("Content-Disposition", "filename"), ("Content-Type", "name")):
        raw = _raw_header(part, header)
        if raw:
            value = _params(raw).get(param, "").strip()
            if value:
                return _clean_name(value)
    try:  # the library's own reading, for anything the above did not find
        return _clean_name(part.get_filename() or "")
    except Exception:
        return ""


def _clean_name(name: str) -> str:
    """A file name without its path and without characters no file name may hold."""
    name = name.replace("\x00", "").strip()
    name = re.split(r"[\\/]", name)[-1]
    return "".join(c for c in name if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF).strip()
