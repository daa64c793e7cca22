"""Departments' mails from an IMAP folder, read-only: nothing is marked read, moved or deleted.

The folder is opened with EXAMINE and messages are fetched with BODY.PEEK[], so the bureau's
mailbox looks untouched afterwards. The round database remembers what was fetched (table
`imap_seen`: UIDVALIDITY + UID per account and folder), so the next run fetches only what is new;
a UID is recorded only once the caller has taken its message, so an interrupted run fetches it again.
The password is given by the caller (from the environment, see `mail_password`) and appears in no
message, log or exception.
"""

from __future__ import annotations

import base64
import datetime as dt
import imaplib
import os
import re
import socket
import sqlite3
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ..config import PASSWORD_ENV
from .errors import MailError
from .rounddb import ensure

#: The default port of each scheme (RFC 5092 for imap://; imaps:// is IMAP inside TLS).
PORTS = {"imap": 143, "imaps": 993}

SEEN_DDL = """
CREATE TABLE IF NOT EXISTS imap_seen (
    account TEXT NOT NULL,          -- user@host
    folder TEXT NOT NULL,           -- the folder as the operator named it
    uidvalidity INTEGER NOT NULL,   -- a new UIDVALIDITY means old UIDs say nothing: fetch all again
    uid INTEGER NOT NULL,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (account, folder, uidvalidity, uid)
);
"""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
EXAMPLE_URL = "imaps://用户名@imap.example.gov.cn/绩效自评"


@dataclass(frozen=True)
class ImapAccount:
    """Where departments' mails arrive: imap://USER@HOST[:PORT]/FOLDER, or imaps:// for TLS."""

    tls: bool
    user: str
    host: str
    port: int
    folder: str  # as the operator wrote it (Unicode); sent to the server in modified UTF-7

    @property
    def scheme(self) -> str:
        return "imaps" if self.tls else "imap"

    @property
    def server(self) -> str:
        """The account as messages name it: imaps://user@host, with the port when it is not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == PORTS[self.scheme] else f":{self.port}"
        return f"{self.scheme}://{self.user}@{host}{port}"

    @property
    def key(self) -> str:
        """The mailbox owner as `imap_seen` records it (the same mailbox over imap:// or imaps://)."""
        return f"{self.user}@{self.host}"

    def origin(self, uidvalidity: int, uid: int) -> str:
        """One message's address (RFC 5092 form, folder left readable): where a stored file came from."""
        return f"{self}/;UIDVALIDITY={uidvalidity}/;UID={uid}"

    def __str__(self) -> str:
        return f"{self.server}/{self.folder}"


def parse_imap_url(url: str) -> ImapAccount:
    """The account of `imap://USER@HOST[:PORT]/FOLDER` or `imaps://…` (percent-encoding decoded)."""
    text = url.strip()
    shown = _without_password(text)

    def bad(why: str) -> MailError:
        return MailError(f"邮箱地址“{shown}”不正确：{why}。应写作 {EXAMPLE_URL}（imaps:// 为加密连接）。")

    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise bad("服务器地址或端口号有误") from None
    scheme = parts.scheme.lower()
    if scheme not in PORTS:
        raise bad("应以 imap:// 或 imaps:// 开头")
    userinfo, at, _ = parts.netloc.rpartition("@")
    if not at or not userinfo:
        raise bad("缺少用户名（服务器地址前的“用户名@”）")
    if ":" in userinfo:
        raise MailError(f"邮箱地址中不能写密码：请去掉“用户名:”后面的密码，把密码放在环境变量 {PASSWORD_ENV} 中。")
    if not parts.hostname:
        raise bad("缺少服务器地址")
    if parts.query or parts.fragment:
        raise bad("地址中不能有“?”或“#”部分")
    folder = unquote(parts.path.strip("/"))
    if not folder:
        raise bad("缺少文件夹名称（服务器地址后的“/文件夹”，收件箱写作 /INBOX）")
    if _CONTROL.search(folder):
        raise bad("文件夹名称中有控制字符")
    user = unquote(userinfo)
    if _CONTROL.search(user):
        raise bad("用户名中有控制字符")
    return ImapAccount(tls=scheme == "imaps", user=user, host=parts.hostname,
                       port=port or PORTS[scheme], folder=folder)


def _without_password(url: str) -> str:
    """The URL as it may be shown: a password someone wrote into it replaced by ***."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if sep and at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{userinfo}{at}{hostport}{slash}{path}" if sep else url


def encode_folder(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 §5.1.3): 绩效自评 → &f1516Jqbi8Q-."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            data = base64.b64encode("".join(run).encode("utf-16-be")).decode("ascii")
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            run.clear()

    for ch in name:
        if "\x20" <= ch <= "\x7e":
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def decode_folder(name: str) -> str:
    """A folder name from the server, readable; one that is not valid modified UTF-7 is shown as sent."""
    def shifted(match: re.Match[str]) -> str:
        if not match[1]:
            return "&"
        data = match[1].replace(",", "/")
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True).decode("utf-16-be")

    try:
        return re.sub(r"&([A-Za-z0-9+,]*)-", shifted, name)
    except (ValueError, UnicodeDecodeError):
        return name


def mail_password() -> str:
    """The mail password from the environment (PERF_TOOLKIT_MAIL_PASSWORD): never a file, never an argument."""
    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        raise MailError(f"没有邮箱密码：请先在环境变量 {PASSWORD_ENV} 中设置邮箱密码（或邮箱的授权码），"
                        f"如 Windows 命令提示符中 set {PASSWORD_ENV}=密码，PowerShell 中 $env:{PASSWORD_ENV}=\"密码\"。"
                        "密码不能写在配置文件或命令参数中。")
    return password


def imap_messages(url: str, password: str, conn: sqlite3.Connection, *, timeout: float = 30,
                  ssl_context: ssl.SSLContext | None = None,
                  skipped: list[tuple[str, str]] | None = None) -> Iterator[tuple[str, bytes]]:
    """(origin, raw message) for each message of the folder not fetched before, oldest UID first.

    `conn` is the round database; a message's UID is recorded (and committed) when the caller asks
    for the next one, i.e. once it has taken this one. A message the server cannot deliver is left
    out and, with `skipped` given, listed there as (origin, Chinese reason); the others still come.
    A bad address raises MailError at once; a server, login or folder problem raises MailError on
    the first iteration. `ssl_context` replaces the default verifying context (a test's own CA).
    """
    account = parse_imap_url(url)
    ensure(conn, SEEN_DDL)
    return _messages(account, password, conn, timeout, ssl_context, skipped)


def _messages(account: ImapAccount, password: str, conn: sqlite3.Connection, timeout: float,
              ssl_context: ssl.SSLContext | None, skipped: list[tuple[str, str]] | None,
              ) -> Iterator[tuple[str, bytes]]:
    client = _connect(account, timeout, ssl_context)
    fetched = 0
    try:
        _login(client, account, password)
        try:
            uidvalidity = _examine(client, account)
            seen = {uid for (uid,) in conn.execute(
                "SELECT uid FROM imap_seen WHERE account = ? AND folder = ? AND uidvalidity = ?",
                (account.key, account.folder, uidvalidity))}
            for uid in _search(client, account):
                if uid in seen:
                    continue
                origin = account.origin(uidvalidity, uid)
                raw, problem = _fetch(client, uid)
                if raw is None:
                    if skipped is not None:
                        skipped.append((origin, problem))
                    continue
                yield origin, raw
                fetched += 1
                with conn:
                    conn.execute("INSERT OR IGNORE INTO imap_seen VALUES (?, ?, ?, ?, ?)",
                                 (account.key, account.folder, uidvalidity, uid,
                                  dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
        except TimeoutError:
            raise MailError(f"邮件服务器 {account} 在 {timeout:g} 秒内没有应答，读取中断"
                            f"（已读取 {fetched} 封；再次运行会接着读取其余邮件）。") from None
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailError(f"与邮件服务器 {account} 的连接中断：{_reply(exc, password)}"
                            f"（已读取 {fetched} 封；再次运行会接着读取其余邮件）。") from None
    finally:
        _logout(client)


def _connect(account: ImapAccount, timeout: float, ssl_context: ssl.SSLContext | None) -> imaplib.IMAP4:
    where = f"{account.host}:{account.port}"
    try:
        if account.tls:
            # imaplib's own default context does not verify the certificate: always pass a verifying one
            context = ssl_context or ssl.create_default_context()
            return imaplib.IMAP4_SSL(account.host, account.port, ssl_context=context, timeout=timeout)
        return imaplib.IMAP4(account.host, account.port, timeout=timeout)
    except ssl.SSLCertVerificationError as exc:
        raise MailError(f"邮件服务器 {where} 的证书无法验证（{exc.verify_message}），为安全起见没有连接"
                        f"（{account}）。请核对服务器地址；单位内部服务器的自签名证书须先安装为本机信任的证书。") from None
    except ssl.SSLError as exc:
        raise MailError(f"与邮件服务器 {where} 建立加密连接失败（{exc.reason or exc}）（{account}）。"
                        "请核对端口：imaps:// 通常用 993 端口，未加密的 imap:// 通常用 143 端口。") from None
    except socket.gaierror:
        raise MailError(f"找不到邮件服务器 {account.host}（{account}）：请核对服务器地址，并确认网络已连通。") from None
    except ConnectionRefusedError:
        raise MailError(f"邮件服务器 {where} 拒绝连接（{account}）：请核对服务器地址和端口"
                        "（IMAP 通常为 143，IMAPS 为 993），并确认邮箱已开启 IMAP 服务。") from None
    except TimeoutError:
        raise MailError(f"连接邮件服务器 {where} 超时（{timeout:g} 秒）（{account}）：请核对服务器地址和端口，"
                        "以及网络或防火墙是否允许连接；若端口是加密端口，请用 imaps://。") from None
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailError(f"无法连接邮件服务器 {where}（{account}）：{exc}") from None


def _login(client: imaplib.IMAP4, account: ImapAccount, password: str) -> None:
    try:
        if (account.user + password).isascii() and not _CONTROL.search(password):
            client.login(account.user, password)
        else:  # LOGIN takes printable ASCII only; SASL PLAIN carries any UTF-8
            response = f"\0{account.user}\0{password}".encode()
            client.authenticate("PLAIN", lambda _challenge: response)
    except TimeoutError:
        raise MailError(f"登录邮件服务器 {account} 时服务器没有应答。") from None
    except (OSError, imaplib.IMAP4.error) as exc:
        hint = "" if account.tls else "；若服务器要求加密连接，请改用 imaps://"
        raise MailError(f"登录邮件服务器 {account.server} 失败（用户 {account.user}）：用户名或密码不正确，"
                        f"或邮箱未开启 IMAP 服务{hint}。服务器答复：{_reply(exc, password)}。"
                        f"密码取自环境变量 {PASSWORD_ENV}（有的邮箱要求填写授权码而不是登录密码）。") from None


def _examine(client: imaplib.IMAP4, account: ImapAccount) -> int:
    """Open the folder read-only (EXAMINE); its UIDVALIDITY."""
    status, data = client.select(_quoted(encode_folder(account.folder)), readonly=True)
    if status != "OK":
        names = _folder_names(client)
        listed = f"服务器上的文件夹有：{'、'.join(names)}。" if names else ""
        raise MailError(f"邮件服务器 {account.server} 上没有文件夹“{account.folder}”或无权打开"
                        f"（服务器答复：{_text(data)}）。请核对地址中的文件夹名称。{listed}")
    _, values = client.response("UIDVALIDITY")
    try:
        return int(values[0])
    except (TypeError, ValueError, IndexError):
        raise MailError(f"邮件服务器 {account} 没有给出文件夹的 UIDVALIDITY，无法记住哪些邮件已读取过。") from None


def _search(client: imaplib.IMAP4, account: ImapAccount) -> list[int]:
    status, data = client.uid("SEARCH", "ALL")
    if status != "OK":
        raise MailError(f"无法列出邮件服务器 {account} 中的邮件（服务器答复：{_text(data)}）。")
    return sorted({int(n) for line in data if line for n in line.split()})


def _fetch(client: imaplib.IMAP4, uid: int) -> tuple[bytes | None, str]:
    """One message's bytes without setting \\Seen, or None and why."""
    status, data = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
    if status == "OK":
        for item in data:
            # skip unsolicited FETCH responses (flag changes of other messages) the server may mix in
            if isinstance(item, tuple) and b"BODY[]" in item[0] and re.search(rb"\bUID %d\b" % uid, item[0]):
                return item[1], ""
        return None, "这封邮件在读取时已从服务器上删除或移走，未读取。"
    return None, f"服务器未能提供这封邮件（服务器答复：{_text(data)}），未读取。"


def _folder_names(client: imaplib.IMAP4, limit: int = 30) -> list[str]:
    """The folders the server lists, readable (for a message naming what exists)."""
    try:
        status, data = client.list()
    except (OSError, imaplib.IMAP4.error):
        return []
    names = []
    for line in data if status == "OK" else []:
        match = re.match(rb'\([^)]*\) (?:"(?:[^"\\]|\\.)*"|NIL) (.+)$', line) if isinstance(line, bytes) else None
        if match:
            name = match[1].decode("ascii", "replace")
            if name.startswith('"') and name.endswith('"'):
                name = re.sub(r"\\(.)", r"\1", name[1:-1])
            names.append(decode_folder(name))
    return sorted(names)[:limit]


def _quoted(name: str) -> str:
    """An IMAP quoted string (imaplib sends arguments as they are)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(data: list) -> str:
    """A server's answer as text."""
    return " ".join(d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d) for d in data if d) or "无"


def _reply(exc: BaseException, password: str) -> str:
    """The server's words inside an imaplib error, with the password blanked should it ever appear."""
    text = str(exc)
    match = re.search(r"\[b(['\"])(.*)\1\]", text)
    text = match[2] if match else text
    return text.replace(password, "***") if password else text


def _logout(client: imaplib.IMAP4) -> None:
    try:
        client.logout()
    except (OSError, imaplib.IMAP4.error):
        pass
