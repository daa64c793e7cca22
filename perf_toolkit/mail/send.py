"""Delivering the round's mails over SMTP, each version once.

`[mail] smtp = "smtp://USER@HOST:PORT"` (plain, or upgraded with STARTTLS when `starttls = true`)
or `smtps://…` (TLS from the start); login only when a USER is given, with the password from
the environment (the CLI reads PERF_TOOLKIT_MAIL_PASSWORD; it is never logged nor put in a message).
The `sent` table of the round database records every recipient each version went to; sending again
sends only what changed since: a mail whose version already reached all its To: recipients is skipped,
one that reached some of them goes again to the others only. A recipient the server refuses, or a
connection that drops, is reported (in Chinese) for that mail and the others still go.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import socket
import sqlite3
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

from ..config import PASSWORD_ENV, MailSettings
from .errors import MailError
from .feedback import KIND_ZH, Outgoing
from .rounddb import ensure

SENT_DDL = """
CREATE TABLE IF NOT EXISTS sent (
    id INTEGER PRIMARY KEY,
    department TEXT NOT NULL,      -- 单位编码 ('' when the file names none)
    name TEXT NOT NULL,            -- 单位名称
    kind TEXT NOT NULL,            -- feedback, reminder, receipt
    version TEXT NOT NULL,         -- Outgoing.version: what the mail said about which file
    recipient TEXT NOT NULL,       -- one address the server accepted
    role TEXT NOT NULL,            -- 'to' or 'cc'
    message_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    sent_at TEXT NOT NULL          -- ISO 8601, local time with offset
);
CREATE INDEX IF NOT EXISTS sent_version ON sent (department, kind, version);
"""

TIMEOUT = 60  # seconds for connecting and for each SMTP reply


@dataclass(frozen=True)
class Server:
    """Where and how to send, from the smtp:// URL."""

    host: str
    port: int
    user: str
    tls: bool  # smtps://: TLS from the first byte
    starttls: bool

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


def parse_smtp_url(url: str, starttls: bool = False) -> Server:
    """smtp://USER@HOST:PORT or smtps://… (USER optional, percent-encoded; no password in the URL)."""
    if not url:
        raise MailError("配置文件的 [mail] 中没有 smtp（发信服务器），无法发送。请填写如 smtp = \"smtps://用户名@smtp.example.gov.cn:465\"。")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise MailError(f"[mail] 中的 smtp 地址“{url}”格式不正确（端口应为数字）。") from exc
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailError(f"[mail] 中的 smtp 地址“{url}”格式不正确，应为 smtp://用户名@服务器:端口 或 smtps://用户名@服务器:端口。")
    if parts.password is not None:
        raise MailError(f"[mail] 的 smtp 地址中不能写密码：请把密码放在环境变量 {PASSWORD_ENV} 中。")
    tls = parts.scheme == "smtps"
    if tls and starttls:
        raise MailError("smtps:// 已经是加密连接，不能再设置 starttls = true；二者选一。")
    default = 465 if tls else (587 if starttls else 25)
    return Server(parts.hostname, port or default, unquote(parts.username or ""), tls, starttls)


@dataclass
class Delivery:
    item: Outgoing
    recipients: tuple[str, ...]  # every address the server accepted (To and Cc)
    message_id: str


@dataclass
class SendReport:
    sent: list[Delivery] = field(default_factory=list)
    skipped: list[tuple[Outgoing, str]] = field(default_factory=list)  # (mail, why, in Chinese)
    failed: list[tuple[Outgoing, str]] = field(default_factory=list)  # (mail, what went wrong, in Chinese)


def send_all(outgoing: Sequence[Outgoing], settings: MailSettings, password: str, db: sqlite3.Connection, *,
             ssl_context: ssl.SSLContext | None = None, now: dt.datetime | None = None) -> SendReport:
    """Send every mail not sent before (by department, kind and version) and record what went where.

    Raises MailError before anything is sent when the settings cannot work (no server, no sender,
    no password for a login, the server unreachable or refusing the login).
    """
    server = parse_smtp_url(settings.smtp, settings.starttls)
    sender = parseaddr(settings.sender)[1]
    if not sender:
        raise MailError("配置文件的 [mail] 中没有 from（发件人地址），无法发送。请填写如 from = \"绩效科 <jxk@example.gov.cn>\"。")
    if server.user and not password:
        raise MailError(f"发信服务器需要登录（用户 {server.user}），但没有密码：请先设置环境变量 {PASSWORD_ENV}。")
    ensure(db, SENT_DDL)
    report = SendReport()
    pending = []
    for item in outgoing:
        if item.reason:
            report.skipped.append((item, item.reason))
            continue
        done = _reached(db, item)
        to = tuple(a for a in item.recipients if a.casefold() not in done)
        if not to:
            report.skipped.append((item, f"这一版{KIND_ZH[item.kind]}已发送过，内容没有变化，未重复发送"))
            continue
        cc = tuple(a for a in settings.cc if a.casefold() not in done) if len(to) == len(item.recipients) else ()
        pending.append((item, to, cc))
    if not pending:
        return report
    connection = _Connection(server, password, ssl_context)
    connection.open()  # a wrong password or an unreachable server stops here, before any mail
    try:
        for item, to, cc in pending:
            _send_one(connection, item, sender, to, cc, db, report, now)
    finally:
        connection.close()
    return report


def _reached(db: sqlite3.Connection, item: Outgoing) -> set[str]:
    """The addresses (casefolded) this version of this mail already reached."""
    rows = db.execute("SELECT recipient FROM sent WHERE department = ? AND kind = ? AND version = ?",
                      (item.code, item.kind, item.version))
    return {r[0].casefold() for r in rows}


def _send_one(connection: _Connection, item: Outgoing, sender: str, to: tuple[str, ...], cc: tuple[str, ...],
              db: sqlite3.Connection, report: SendReport, now: dt.datetime | None) -> None:
    who = f"{item.name or item.code}的{KIND_ZH[item.kind]}"
    try:
        refused = connection.send(item, sender, to + cc)
    except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused
        for address, (code, text) in exc.recipients.items():
            report.failed.append((item, f"{who}：收件人 {address} 被邮件服务器拒收（{code} {_text(text)}）"))
        return
    except smtplib.SMTPResponseException as exc:
        report.failed.append((item, f"{who}未发出：邮件服务器拒绝（{exc.smtp_code} {_text(exc.smtp_error)}）"))
        return
    except (smtplib.SMTPException, OSError) as exc:
        report.failed.append((item, f"{who}未发出：与邮件服务器的连接中断（{_why(exc)}），下次发送时会重发"))
        return
    for address, (code, text) in refused.items():
        report.failed.append((item, f"{who}：收件人 {address} 被邮件服务器拒收（{code} {_text(text)}）"))
    accepted = tuple(a for a in to + cc if a not in refused)
    when = (now or dt.datetime.now().astimezone()).isoformat(timespec="seconds")
    message_id = str(item.message["Message-ID"]).strip()
    with db:
        db.executemany(
            "INSERT INTO sent (department, name, kind, version, recipient, role, message_id, subject, sent_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(item.code, item.name, item.kind, item.version, a, "to" if a in to else "cc", message_id, item.subject,
              when) for a in accepted])
    report.sent.append(Delivery(item, accepted, message_id))


def _text(raw: bytes | str) -> str:
    return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).strip()


def _why(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "服务器断开了连接"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "等待服务器响应超时"
    if isinstance(exc, ssl.SSLError):
        return f"加密连接失败：{exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "服务器拒绝连接，请核对服务器地址和端口"
    if isinstance(exc, ConnectionError) and exc.args and isinstance(exc.args[0], str):
        return exc.args[0]  # reconnecting failed: MailError's Chinese text
    if isinstance(exc, socket.gaierror):
        return "找不到该服务器，请核对服务器地址"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


class _Connection:
    """One SMTP session, opened again after a drop (a mail that was under way when it dropped is reported)."""

    def __init__(self, server: Server, password: str, ssl_context: ssl.SSLContext | None) -> None:
        self.server, self._password, self._context = server, password, ssl_context
        self._smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        s = self.server
        try:
            if s.tls:
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=TIMEOUT,
                                        context=self._context or ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=TIMEOUT)
            try:
                if s.starttls:
                    smtp.starttls(context=self._context or ssl.create_default_context())
                if s.user:
                    smtp.login(s.user, self._password)
            except BaseException:
                smtp.close()
                raise
        except UnicodeEncodeError:  # smtplib sends user and password as ASCII only
            raise MailError(f"发信服务器 {s.label} 的用户名或密码中有汉字等非 ASCII 字符，smtplib 无法登录；"
                            "请改用只含英文字母、数字和符号的密码（如邮箱的客户端授权码）。") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(f"发信服务器 {s.label} 拒绝登录（用户 {s.user}）：请核对用户名和环境变量 {PASSWORD_ENV} 中的密码"
                            f"（服务器答复：{exc.smtp_code} {_text(exc.smtp_error)}）。") from None
        except smtplib.SMTPNotSupportedError as exc:
            need = "STARTTLS" if s.starttls else "登录（AUTH）"
            raise MailError(f"发信服务器 {s.label} 不支持{need}，请核对 [mail] 的 smtp 和 starttls 设置。") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"无法连接发信服务器 {s.label}：{_why(exc)}。") from None
        self._smtp = smtp

    def send(self, item: Outgoing, sender: str, recipients: tuple[str, ...]) -> dict:
        """Send one mail over the session (reopened if it dropped); the recipients the server refused."""
        if self._smtp is None or self._smtp.sock is None:  # dropped (or closed by smtplib after a 421)
            self._drop()
            try:
                self.open()
            except MailError as exc:
                raise ConnectionError(str(exc)) from None
        try:
            return self._smtp.send_message(item.message, from_addr=sender, to_addrs=list(recipients))
        except (smtplib.SMTPServerDisconnected, OSError):
            self._drop()
            raise
        except smtplib.SMTPRecipientsRefused:
            self._reset()
            raise

    def _reset(self) -> None:
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._drop()
