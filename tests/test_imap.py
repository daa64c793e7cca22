"""Reading departments' mails from an IMAP folder, against a real Dovecot on loopback (conftest `dovecot`)."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from email.message import EmailMessage

import pytest
from builders import example_dict
from mailservers import free_port

from perf_toolkit.config import PASSWORD_ENV
from perf_toolkit.mail import rounddb
from perf_toolkit.mail.errors import MailError
from perf_toolkit.mail.imap import (
    ImapAccount,
    decode_folder,
    encode_folder,
    imap_messages,
    mail_password,
    parse_imap_url,
)
from perf_toolkit.model import submission_from_dict
from perf_toolkit.workbook.template import write_template

FOLDER = "绩效自评"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def workbook(tmp_path_factory) -> bytes:
    """A filled standard workbook, as a department returns it."""
    path = tmp_path_factory.mktemp("wb") / "填报表.xlsx"
    write_template(path, submission_from_dict(example_dict()))
    return path.read_bytes()


def department_mail(n: int, workbook: bytes) -> bytes:
    """A department's reply: Chinese subject, sender name and attachment name (RFC 2231), the workbook attached."""
    msg = EmailMessage()
    msg["From"] = f"第{n}单位 <dept{n}@example.gov.cn>"
    msg["To"] = "czj@example.gov.cn"
    msg["Subject"] = f"第{n}单位2023年绩效自评表"
    msg["Message-ID"] = f"<dept{n}@example.gov.cn>"
    msg.set_content(f"第{n}单位的自评表见附件。")
    maintype, subtype = XLSX.split("/")
    msg.add_attachment(workbook, maintype=maintype, subtype=subtype, filename=f"第{n}单位绩效自评表.xlsx")
    return msg.as_bytes(policy=email.policy.SMTP)


@pytest.fixture
def db(tmp_path):
    conn = rounddb.connect(tmp_path / "out" / "round.sqlite")
    yield conn
    conn.close()


def fetch(account, db, folder=FOLDER, **options) -> list[tuple[str, bytes]]:
    return list(imap_messages(account.url(folder), account.password, db, **options))


def attachment(raw: bytes) -> tuple[str, bytes]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    part = next(msg.iter_attachments())
    return part.get_filename(), part.get_content()


# --- addresses and folder names ---

def test_parse_imap_url_reads_user_host_port_and_chinese_folder():
    assert parse_imap_url("imaps://czj@mail.example.gov.cn/绩效自评") == \
        ImapAccount(tls=True, user="czj", host="mail.example.gov.cn", port=993, folder="绩效自评")
    assert parse_imap_url("imap://czj%40qx.gov.cn@127.0.0.1:1430/%E7%BB%A9%E6%95%88%E8%87%AA%E8%AF%84/") == \
        ImapAccount(tls=False, user="czj@qx.gov.cn", host="127.0.0.1", port=1430, folder="绩效自评")
    # a clerk writes the mail address as the user name without encoding its @
    assert parse_imap_url("imaps://czj@163.com@imap.163.com/INBOX").user == "czj@163.com"


@pytest.mark.parametrize("url, says", [
    ("http://czj@mail.example.gov.cn/绩效自评", "imap:// 或 imaps://"),
    ("imaps://mail.example.gov.cn/绩效自评", "缺少用户名"),
    ("imaps://czj@mail.example.gov.cn", "缺少文件夹名称"),
    ("imaps://czj@mail.example.gov.cn:99999/绩效自评", "端口号"),
    ("imaps://czj@mail.example.gov.cn/绩效自评?x=1", "“?”"),
    ("imaps://czj%0D%0A@mail.example.gov.cn/绩效自评", "控制字符"),
])
def test_parse_imap_url_refuses_a_bad_address_in_chinese(url, says):
    with pytest.raises(MailError, match="不正确") as caught:
        parse_imap_url(url)
    assert says in str(caught.value) and url in str(caught.value)


def test_parse_imap_url_refuses_a_password_without_repeating_it():
    with pytest.raises(MailError, match="不能写密码") as caught:
        parse_imap_url("imaps://czj:Zz9-secret@mail.example.gov.cn/绩效自评")
    assert "Zz9-secret" not in str(caught.value) and PASSWORD_ENV in str(caught.value)


@pytest.mark.parametrize("name, wire", [
    ("绩效自评", "&fullSIHqi8Q-"),
    ("INBOX", "INBOX"),
    ("R&D", "R&-D"),
    ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501's own example
    ("2023年 绩效", "2023&XnQ- &fullSA-"),
])
def test_folder_names_are_modified_utf7_both_ways(name, wire):
    assert encode_folder(name) == wire
    assert decode_folder(wire) == name


def test_folder_name_matches_utf7_apart_from_the_shift_character():
    # RFC 2152 UTF-7 of the same characters: "+" for "&", "/" for ","
    utf7 = "绩效自评".encode("utf-7").decode("ascii")
    assert encode_folder("绩效自评") == utf7.replace("+", "&").replace("/", ",")


def test_decode_folder_shows_a_name_that_is_not_modified_utf7_as_it_came():
    assert decode_folder("&Jjo!") == "&Jjo!"
    assert decode_folder("&2D3-") == "&2D3-"  # a lone surrogate is not text


def test_mail_password_comes_only_from_the_environment(monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(MailError, match=PASSWORD_ENV):
        mail_password()
    monkeypatch.setenv(PASSWORD_ENV, "口令 with spaces")
    assert mail_password() == "口令 with spaces"


# --- against the real server ---

def test_imap_messages_yields_each_mail_and_leaves_it_unread_in_place(imap_account, db, workbook):
    raws = [department_mail(n, workbook) for n in (1, 2, 3)]
    uids = [imap_account.append(FOLDER, raw) for raw in raws]
    validity = imap_account.uidvalidity(FOLDER)

    got = fetch(imap_account, db)

    assert [raw for _, raw in got] == raws  # byte for byte, oldest first
    server = f"imap://{imap_account.user}@127.0.0.1:{imap_account.server.port}"
    assert [origin for origin, _ in got] == [f"{server}/绩效自评/;UIDVALIDITY={validity}/;UID={u}" for u in uids]
    assert attachment(got[1][1]) == ("第2单位绩效自评表.xlsx", workbook)
    flags = imap_account.flags(FOLDER)
    assert sorted(flags) == uids and all("\\Seen" not in f and "\\Deleted" not in f for f in flags.values())


def test_imap_messages_fetches_only_what_is_new_on_the_next_run(imap_account, db, workbook):
    imap_account.append(FOLDER, department_mail(1, workbook))
    imap_account.append(FOLDER, department_mail(2, workbook))
    assert len(fetch(imap_account, db)) == 2

    assert fetch(imap_account, db) == []

    late = department_mail(3, workbook)
    uid = imap_account.append(FOLDER, late)
    got = fetch(imap_account, db)
    assert [(origin.rsplit("UID=", 1)[1], raw) for origin, raw in got] == [(str(uid), late)]
    assert "\\Seen" not in imap_account.flags(FOLDER)[uid]


def test_imap_messages_remembers_a_message_only_once_the_caller_took_it(imap_account, db, workbook):
    raws = [department_mail(n, workbook) for n in (1, 2, 3)]
    for raw in raws:
        imap_account.append(FOLDER, raw)

    messages = imap_messages(imap_account.url(FOLDER), imap_account.password, db)
    assert next(messages)[1] == raws[0]
    assert next(messages)[1] == raws[1]
    messages.close()  # the run stops (killed, or failed) while handling the second message

    assert [raw for _, raw in fetch(imap_account, db)] == raws[1:]


def test_imap_messages_fetches_everything_again_after_uidvalidity_changes(imap_account, db, workbook):
    first = department_mail(1, workbook)
    imap_account.append(FOLDER, first)
    old = imap_account.uidvalidity(FOLDER)
    assert len(fetch(imap_account, db)) == 1

    # the folder is deleted and made again (a server migration does the same): old UIDs mean nothing
    imap_account.delete(FOLDER)
    imap_account.create(FOLDER)
    imap_account.append(FOLDER, first)
    second = department_mail(2, workbook)
    imap_account.append(FOLDER, second)
    new = imap_account.uidvalidity(FOLDER)
    assert new != old

    got = fetch(imap_account, db)
    assert [raw for _, raw in got] == [first, second]
    assert all(f"UIDVALIDITY={new}/" in origin for origin, _ in got)
    assert fetch(imap_account, db) == []


def test_imap_messages_keeps_accounts_and_folders_apart(dovecot, db, workbook):
    one, other = dovecot.account(), dovecot.account()
    for account in (one, other):
        account.append(FOLDER, department_mail(1, workbook))
        account.append("其他", department_mail(2, workbook))

    assert len(fetch(one, db)) == 1
    assert len(fetch(other, db)) == 1
    assert len(fetch(one, db, folder="其他")) == 1
    assert fetch(one, db) == fetch(other, db) == []


def test_imap_messages_goes_on_past_a_message_that_vanished(imap_account, db, workbook):
    raws = [department_mail(n, workbook) for n in (1, 2, 3)]
    uids = [imap_account.append(FOLDER, raw) for raw in raws]
    skipped: list[tuple[str, str]] = []

    messages = imap_messages(imap_account.url(FOLDER), imap_account.password, db, skipped=skipped)
    assert next(messages)[1] == raws[0]
    imap_account.expunge(FOLDER, uids[1])  # another mail client deletes it meanwhile
    assert [raw for _, raw in messages] == [raws[2]]

    assert len(skipped) == 1 and skipped[0][0].endswith(f"UID={uids[1]}")
    assert "已从服务器上删除" in skipped[0][1]


@pytest.mark.parametrize("password", ["绩效-口令2023", 'pa"ss\\wo rd'])  # SASL PLAIN; LOGIN with quoting
def test_imap_messages_logs_in_with_any_password(dovecot, db, workbook, password):
    account = dovecot.account(password=password)
    raw = department_mail(1, workbook)
    account.append(FOLDER, raw)
    assert [r for _, r in fetch(account, db)] == [raw]


def test_imap_messages_wrong_password_is_a_chinese_error_without_the_password(imap_account, db):
    imap_account.append(FOLDER, b"Subject: x\r\n\r\nx\r\n")
    wrong = "Wr0ng-Pass"
    with pytest.raises(MailError) as caught:
        list(imap_messages(imap_account.url(FOLDER), wrong, db))
    message = str(caught.value)
    assert "登录邮件服务器" in message and "用户名或密码不正确" in message and imap_account.user in message
    assert wrong not in message and wrong not in repr(caught.value.__cause__) and caught.value.__suppress_context__


def test_imap_messages_missing_folder_names_it_and_the_folders_there(imap_account, db):
    imap_account.append(FOLDER, b"Subject: x\r\n\r\nx\r\n")
    with pytest.raises(MailError) as caught:
        fetch(imap_account, db, folder="绩效自评2024")
    message = str(caught.value)
    assert "没有文件夹“绩效自评2024”" in message and "127.0.0.1" in message
    assert "绩效自评" in message.split("服务器上的文件夹有：", 1)[1] and "INBOX" in message


def test_imap_messages_refused_connection_names_the_server(db):
    port = free_port()  # nothing listens there
    with pytest.raises(MailError, match=f"127.0.0.1:{port} 拒绝连接"):
        list(imap_messages(f"imap://czj@127.0.0.1:{port}/绩效自评", "pw", db))


def test_imap_messages_server_that_never_answers_is_a_timeout_error(db):
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(MailError, match=f"连接邮件服务器 127.0.0.1:{port} 超时"):
            list(imap_messages(f"imap://czj@127.0.0.1:{port}/绩效自评", "pw", db, timeout=0.5))


def test_imap_messages_over_tls_with_the_servers_certificate(imap_account, db, workbook):
    raw = department_mail(1, workbook)
    uid = imap_account.append(FOLDER, raw)
    got = list(imap_messages(imap_account.url(FOLDER, tls=True), imap_account.password, db,
                             ssl_context=imap_account.server.ssl_context()))
    assert [r for _, r in got] == [raw] and got[0][0].startswith("imaps://")
    # the same mailbox over imap:// afterwards: nothing new
    assert fetch(imap_account, db) == []
    assert "\\Seen" not in imap_account.flags(FOLDER)[uid]


def test_imap_messages_refuses_a_certificate_it_cannot_verify(imap_account, db):
    imap_account.append(FOLDER, b"Subject: x\r\n\r\nx\r\n")
    # the default context trusts the system's authorities only, not the test's self-signed certificate
    with pytest.raises(MailError, match="证书无法验证") as caught:
        list(imap_messages(imap_account.url(FOLDER, tls=True), imap_account.password, db))
    assert imap_account.password not in str(caught.value)


def test_imap_messages_tls_to_a_plain_port_is_a_clear_error(imap_account, db):
    url = imap_account.url(FOLDER).replace("imap://", "imaps://")  # imaps:// against the plain port
    with pytest.raises(MailError, match="建立加密连接失败"):
        list(imap_messages(url, imap_account.password, db, ssl_context=ssl.create_default_context()))
