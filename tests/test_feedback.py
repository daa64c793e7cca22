"""Feedback, reminders and receipts: composed from real workbooks, read back as .eml drafts, and delivered
through a real SMTP server on loopback (aiosmtpd), asserting on what it received."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import io
import pickle
import socket
import sqlite3
from dataclasses import replace
from email import policy
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from builders import (
    DC_ROSTER,
    broken_workbook,
    clean_submission,
    faulty_submission,
    round_inbox,
    warned_submission,
    write_workbook,
)
from click.testing import CliRunner
from conftest import require

from perf_toolkit.check.evaluate import evaluate_paths
from perf_toolkit.cli import cli
from perf_toolkit.config import PASSWORD_ENV, Campaign, MailSettings, RosterEntry
from perf_toolkit.mail.errors import MailError
from perf_toolkit.mail.feedback import FEEDBACK, RECEIPT, REMINDER, compose_feedback, write_drafts
from perf_toolkit.mail.rounddb import connect
from perf_toolkit.mail.send import send_all
from perf_toolkit.model import FileResult
from perf_toolkit.profile import load_profile
from perf_toolkit.run import run_round
from perf_toolkit.workbook.markup import write_markups

ROSTER = tuple(RosterEntry(*row) for row in DC_ROSTER)
SENDER = "东川区财政局绩效科 <jxk@dc.example.gov.cn>"
CC = "archive@dc.example.gov.cn"
DEADLINE = dt.date(2024, 5, 10)
NOW = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def campaign(port: int = 25, **mail) -> Campaign:
    settings = MailSettings(smtp=f"smtp://127.0.0.1:{port}", sender=SENDER, cc=(CC,))
    return Campaign(year=2023, bureau="昆明市东川区财政局", deadline=DEADLINE, roster=ROSTER,
                    mail=replace(settings, **mail))


def inbox(folder: Path) -> Path:
    """A round: one clean, one with a warning, one with errors, one unreadable, one department missing."""
    write_workbook(folder, "退役军人事务局.xlsx", clean_submission())
    write_workbook(folder, "东川区教育体育局-自评填报表.xlsx", warned_submission())
    write_workbook(folder, "东川区农业农村局-自评填报表.xlsx", faulty_submission())
    broken_workbook(folder, "东川区卫生健康局-自评填报表（附件损坏）.xlsx")
    return folder


def compose(folder: Path, round_: Campaign, out: Path, **kw):
    evaluation = evaluate_paths([folder], year=2023, roster=round_.roster, **kw)  # senders=
    markups = write_markups(evaluation, out, campaign=round_)
    return compose_feedback(evaluation, round_, markups, now=NOW), markups


def by_code(outgoing) -> dict:
    return {o.code: o for o in outgoing}


def body_of(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def attachment_name(part) -> str:
    """The name a client reading only Content-Type's RFC 2047 name would show."""
    return str(make_header(decode_header(part.get_param("name"))))


# ------------------------------------------------------------------ composing


def test_compose_one_mail_per_department_by_state(tmp_path):
    outgoing, _ = compose(inbox(tmp_path / "收件箱"), campaign(), tmp_path / "out")
    mails = by_code(outgoing)
    assert {c: o.kind for c, o in mails.items()} == {
        "DC-JYTYJ": FEEDBACK, "DC-NYNCJ": FEEDBACK, "DC-WSJKJ": FEEDBACK, "DC-MZJ": REMINDER}  # passed: no receipt
    faulty = mails["DC-NYNCJ"]
    assert faulty.recipients == ("nyncj@example.gov.cn",) and faulty.reason == ""
    assert faulty.subject == "【绩效自评】昆明市东川区农业农村局2023年度自评填报表审核意见（请于5月10日前修改后重新报送）"
    body = body_of(faulty.message)
    assert body.startswith("昆明市东川区农业农村局：")
    assert "请于2024年5月10日前改正全部错误" in body and body.endswith("\n\n昆明市东川区财政局\n2024年5月1日\n")
    errors, warnings = body.index("一、错误"), body.index("二、警告")
    assert errors < warnings and "〔项目1 I18〕未完成却给满分" in body[errors:warnings]
    assert "按评分规则核定总分" in body  # the bureau's total, as on the 审核意见 sheet
    assert f"详见附件《{faulty.attachment.name}》" in body
    unreadable = mails["DC-WSJKJ"]
    assert unreadable.attachment is None and "无法读取" in unreadable.subject
    assert "东川区卫生健康局-自评填报表（附件损坏）.xlsx" in body_of(unreadable.message)
    assert "1. 文件无法读取：文件已损坏" in body_of(unreadable.message)  # the title is not said twice
    reminder = mails["DC-MZJ"]
    assert reminder.subject == "【绩效自评】请昆明市东川区民政局于5月10日前报送2023年度项目支出绩效自评填报表"
    assert reminder.recipients == ("mzj@example.gov.cn",) and "尚未收到你单位的填报表" in body_of(reminder.message)


def test_compose_receipts_only_when_configured(tmp_path):
    folder = inbox(tmp_path / "收件箱")
    outgoing, _ = compose(folder, campaign(receipts=True), tmp_path / "out")
    receipt = by_code(outgoing)["DC-TYJRSWJ"]
    assert receipt.kind == RECEIPT and receipt.subject == "【绩效自评】昆明市东川区退役军人事务局2023年度自评填报表已通过审核"
    assert "已通过审核" in body_of(receipt.message) and receipt.attachment is None


def test_compose_without_deadline_shows_a_placeholder_never_a_date(tmp_path):
    outgoing, _ = compose(inbox(tmp_path / "收件箱"), replace(campaign(), deadline=None), tmp_path / "out")
    for o in outgoing:
        assert "【待填写：报送截止日期】" in o.subject and "【待填写：报送截止日期】" in body_of(o.message)
        assert "5月10日" not in o.subject + body_of(o.message)


def test_compose_recipient_falls_back_to_contact_then_sender_else_reason(tmp_path):
    folder = tmp_path / "收件箱"
    write_workbook(folder, "教育体育局.xlsx", warned_submission(email="wangfang@jy.example.cn"))
    write_workbook(folder, "农业农村局.xlsx", faulty_submission(email=" "))
    write_workbook(folder, "卫生健康局.xlsx", faulty_submission("DC-WSJKJ", "昆明市东川区卫生健康局", email="无"))
    roster = tuple(replace(e, email="") for e in ROSTER)
    round_ = replace(campaign(), roster=roster)
    senders = {str(folder / "农业农村局.xlsx"): "赵强 <zhaoqiang@nync.example.cn>"}
    outgoing, _ = compose(folder, round_, tmp_path / "out", senders=senders)
    mails = by_code(outgoing)
    assert mails["DC-JYTYJ"].recipients == ("wangfang@jy.example.cn",)  # the submission's contact
    assert mails["DC-NYNCJ"].recipients == ("zhaoqiang@nync.example.cn",)  # the mail it came in
    assert mails["DC-WSJKJ"].recipients == () and "没有收件地址" in mails["DC-WSJKJ"].reason
    assert mails["DC-MZJ"].recipients == () and "催报通知" in mails["DC-MZJ"].reason
    drafts = write_drafts(outgoing, tmp_path / "drafts")
    assert sorted(p.name for p in drafts) == ["昆明市东川区农业农村局-审核意见.eml", "昆明市东川区教育体育局-审核意见.eml"]


def test_drafts_built_in_worker_processes_are_the_drafts_built_here(tmp_path, monkeypatch):
    # a round's thousand drafts are built in the worker pool (the email package takes ~6 ms a mail): the
    # same files, but the Message-ID each build makes anew; a failure is raised here as without workers
    from perf_toolkit.mail import feedback

    outgoing, _ = compose(inbox(tmp_path / "收件箱"), campaign(), tmp_path / "out")
    here = write_drafts(outgoing, tmp_path / "here")
    monkeypatch.setattr(feedback, "POOLED_DRAFTS", 1)
    pooled = write_drafts(outgoing, tmp_path / "pooled", jobs=2)

    def content(path: Path) -> list:
        """The mail as read: headers and parts, without what each build draws anew (Message-ID, boundary)."""
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        return [[(k, str(v)) for k, v in part.items() if k not in ("Message-ID", "Content-Type")]
                + [part.get_content_type(), part.get_filename(), part.get_payload(decode=True)]
                for part in msg.walk()]

    assert [p.name for p in pooled] == [p.name for p in here] and len(here) == 4
    assert all(content(a) == content(b) for a, b in zip(here, pooled, strict=True))
    attached = next(item for item in outgoing if item.attachment is not None)
    attached.attachment.unlink()  # the marked copy gone before its mail is built
    with pytest.raises(FileNotFoundError):
        write_drafts(outgoing, tmp_path / "gone", jobs=2)


def test_a_composed_mail_holds_no_body_of_its_own_and_builds_the_same_one_each_time(tmp_path):
    # a province's round composes ~13,000 mails, each body listing every finding: held, about 40 KB a
    # department; the body is made again from the evaluation the round holds anyway when the mail is built
    outgoing, _ = compose(inbox(tmp_path / "收件箱"), campaign(), tmp_path / "out")
    faulty = by_code(outgoing)["DC-NYNCJ"]

    class Outside(pickle.Pickler):  # what the item holds beyond the evaluation and the round's config
        def persistent_id(self, obj):
            return id(obj) if isinstance(obj, (FileResult, Campaign)) else None

    own = io.BytesIO()
    Outside(own).dump(faulty)
    body = body_of(faulty.compose())
    assert len(body) > 300 and len(own.getvalue()) < 1500
    assert body_of(faulty.compose()) == body == body_of(faulty.message)


def test_drafts_open_as_mail_with_the_chinese_attachment_name_and_its_bytes(tmp_path):
    outgoing, markups = compose(inbox(tmp_path / "收件箱"), campaign(), tmp_path / "out")
    drafts = write_drafts(outgoing, tmp_path / "drafts")
    assert sorted(p.name for p in drafts) == sorted([
        "昆明市东川区教育体育局-审核意见.eml", "昆明市东川区农业农村局-审核意见.eml",
        "昆明市东川区卫生健康局-审核意见.eml", "昆明市东川区民政局-催报通知.eml"])
    # each mail is built for its draft and let go: a round's mails with their workbooks are never all held
    assert not any("message" in vars(item) for item in outgoing)
    draft = tmp_path / "drafts" / "昆明市东川区农业农村局-审核意见.eml"
    raw = draft.read_bytes()
    assert all(len(line) <= 80 for line in raw.split(b"\r\n")) and b"\n" not in raw.replace(b"\r\n", b"")
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["X-Unsent"] == "1"  # Outlook opens it as a mail to send
    assert str(msg["Subject"]) == "【绩效自评】昆明市东川区农业农村局2023年度自评填报表审核意见（请于5月10日前修改后重新报送）"
    assert msg["From"].addresses[0].addr_spec == "jxk@dc.example.gov.cn"
    assert msg["From"].addresses[0].display_name == "东川区财政局绩效科"
    assert msg["To"].addresses[0].addr_spec == "nyncj@example.gov.cn"
    assert msg["To"].addresses[0].display_name == "昆明市东川区农业农村局"
    assert str(msg["Cc"]) == CC and msg["Message-ID"].endswith("@dc.example.gov.cn>")
    assert email.utils.parsedate_to_datetime(msg["Date"]) == NOW
    (part,) = list(msg.iter_attachments())
    marked = next(m.path for m in markups if m.path and m.path.name == "东川区农业农村局-自评填报表-审核意见.xlsx")
    assert part.get_filename() == marked.name == attachment_name(part)  # RFC 2231 and RFC 2047 agree
    assert part.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert part.get_content() == marked.read_bytes()
    assert b"filename*0*=utf-8''" in raw and b'name="=?utf-8?b?' in raw


def test_version_changes_with_the_submission_only(tmp_path):
    folder = inbox(tmp_path / "收件箱")
    first = by_code(compose(folder, campaign(), tmp_path / "a")[0])
    again = by_code(compose(folder, campaign(), tmp_path / "b")[0])
    assert {c: o.version for c, o in first.items()} == {c: o.version for c, o in again.items()}
    write_workbook(folder, "东川区农业农村局-自评填报表.xlsx", faulty_submission(actual="70"))
    changed = by_code(compose(folder, campaign(), tmp_path / "c")[0])
    assert changed["DC-NYNCJ"].version != first["DC-NYNCJ"].version
    assert changed["DC-JYTYJ"].version == first["DC-JYTYJ"].version


def test_write_drafts_prunes_only_its_own_stale_drafts(tmp_path):
    folder = inbox(tmp_path / "收件箱")
    drafts = tmp_path / "drafts"
    write_drafts(compose(folder, campaign(), tmp_path / "a")[0], drafts)
    (drafts / "说明.eml").write_bytes(b"Subject: mine\r\n\r\nkept")
    write_workbook(folder, "东川区农业农村局-自评填报表.xlsx", clean_submission("DC-NYNCJ", "昆明市东川区农业农村局"))
    write_drafts(compose(folder, campaign(), tmp_path / "b")[0], drafts, prune=True)
    names = {p.name for p in drafts.iterdir()}
    assert "昆明市东川区农业农村局-审核意见.eml" not in names and "说明.eml" in names


# ------------------------------------------------------------------ a real SMTP server on loopback


class Keeper:
    """An aiosmtpd handler that keeps every message, refuses some recipients and cuts some mails off."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse: set[str] = set()
        self.cut: set[str] = set()  # mails to these: 421 and the connection closes

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.cut & set(envelope.rcpt_tos):
            return "421 4.3.0 closing connection"
        self.messages.append((list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.original_content, policy=policy.default)))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """(handler, port) of an aiosmtpd server on 127.0.0.1; missing aiosmtpd fails in CI."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        require(None, "aiosmtpd", "pip install 'aiosmtpd>=1.4' (the [test] extra)")
    handler = Keeper()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def deliver(folder: Path, round_: Campaign, out: Path, db: sqlite3.Connection, password: str = ""):
    outgoing, markups = compose(folder, round_, out)
    return send_all(outgoing, round_.mail, password, db), markups


def received(handler: Keeper) -> dict[str, tuple[list[str], email.message.EmailMessage]]:
    return {m["To"].addresses[0].addr_spec: (rcpt, m) for rcpt, m in handler.messages}


def test_send_delivers_each_mail_once_with_headers_and_attachment(tmp_path, smtp_server):
    handler, port = smtp_server
    folder, round_ = inbox(tmp_path / "收件箱"), campaign(port)
    db = connect(tmp_path / "round.sqlite")
    report, markups = deliver(folder, round_, tmp_path / "out", db)
    assert report.failed == [] and len(report.sent) == 4
    got = received(handler)
    assert set(got) == {"jytyj@example.gov.cn", "nyncj@example.gov.cn", "wsjkj@example.gov.cn", "mzj@example.gov.cn"}
    rcpt, msg = got["nyncj@example.gov.cn"]
    assert rcpt == ["nyncj@example.gov.cn", CC]
    assert str(msg["Subject"]) == "【绩效自评】昆明市东川区农业农村局2023年度自评填报表审核意见（请于5月10日前修改后重新报送）"
    assert msg["From"].addresses[0].addr_spec == "jxk@dc.example.gov.cn" and str(msg["Cc"]) == CC
    assert msg["X-Unsent"] is None  # only drafts carry it
    (part,) = list(msg.iter_attachments())
    marked = next(m.path for m in markups if m.path and m.path.name.startswith("东川区农业农村局"))
    assert part.get_filename() == "东川区农业农村局-自评填报表-审核意见.xlsx" == attachment_name(part)
    assert part.get_content() == marked.read_bytes()
    assert "尚未收到你单位的填报表" in body_of(got["mzj@example.gov.cn"][1])
    rows = db.execute("SELECT department, kind, recipient, role, message_id FROM sent ORDER BY id").fetchall()
    rows = [tuple(r) for r in rows]
    assert ("DC-NYNCJ", "feedback", "nyncj@example.gov.cn", "to", str(msg["Message-ID"]).strip()) in rows
    assert ("DC-NYNCJ", "feedback", CC, "cc", str(msg["Message-ID"]).strip()) in rows and len(rows) == 8
    # again: nothing changed, nothing sent
    report, _ = deliver(folder, round_, tmp_path / "out2", db)
    assert report.sent == [] and len(report.skipped) == 4 and len(handler.messages) == 4
    assert all("已发送过" in why for _, why in report.skipped)


def test_send_after_a_resubmission_sends_only_the_changed_mail(tmp_path, smtp_server):
    handler, port = smtp_server
    folder, round_ = inbox(tmp_path / "收件箱"), campaign(port, receipts=True)
    db = connect(tmp_path / "round.sqlite")
    deliver(folder, round_, tmp_path / "out", db)
    assert len(handler.messages) == 5  # with the receipt
    write_workbook(folder, "东川区农业农村局-自评填报表-修改.xlsx", faulty_submission(actual="90"), when=2_000_000_000)
    report, _ = deliver(folder, round_, tmp_path / "out2", db)
    assert [(d.item.code, d.item.kind) for d in report.sent] == [("DC-NYNCJ", FEEDBACK)]
    _, msg = handler.messages[-1]
    assert msg["To"].addresses[0].addr_spec == "nyncj@example.gov.cn"
    assert "东川区农业农村局-自评填报表-修改.xlsx" in body_of(msg)


def test_send_refused_recipient_is_reported_and_the_others_go(tmp_path, smtp_server):
    handler, port = smtp_server
    handler.refuse.add("jytyj@example.gov.cn")
    folder, round_ = inbox(tmp_path / "收件箱"), campaign(port)
    db = connect(tmp_path / "round.sqlite")
    report, _ = deliver(folder, round_, tmp_path / "out", db)
    assert [why for _, why in report.failed] == [
        "昆明市东川区教育体育局的审核意见：收件人 jytyj@example.gov.cn 被邮件服务器拒收（550 5.1.1 mailbox unavailable）"]
    got = received(handler)
    assert {"nyncj@example.gov.cn", "wsjkj@example.gov.cn", "mzj@example.gov.cn"} <= set(got)
    assert [rcpt for rcpt, m in handler.messages if "教育体育局" in str(m["Subject"])] == [[CC]]  # the copy went
    # the server takes the address again: only the department gets it now, the copy not twice
    handler.refuse.clear()
    report, _ = deliver(folder, round_, tmp_path / "out2", db)
    assert [(d.item.code, d.recipients) for d in report.sent] == [("DC-JYTYJ", ("jytyj@example.gov.cn",))]
    assert handler.messages[-1][0] == ["jytyj@example.gov.cn"]


def test_send_dropped_connection_is_reported_and_the_next_mail_goes(tmp_path, smtp_server):
    handler, port = smtp_server
    handler.cut.add("nyncj@example.gov.cn")
    folder, round_ = inbox(tmp_path / "收件箱"), campaign(port)
    db = connect(tmp_path / "round.sqlite")
    report, _ = deliver(folder, round_, tmp_path / "out", db)
    assert len(report.failed) == 1 and report.failed[0][0].code == "DC-NYNCJ"
    assert "昆明市东川区农业农村局的审核意见未发出" in report.failed[0][1] and "421" in report.failed[0][1]
    assert {"wsjkj@example.gov.cn", "mzj@example.gov.cn"} <= set(received(handler))  # sent after the drop
    handler.cut.clear()
    report, _ = deliver(folder, round_, tmp_path / "out2", db)  # not recorded, so sent now
    assert [d.item.code for d in report.sent] == ["DC-NYNCJ"]


def test_send_logs_in_only_with_a_user_and_never_shows_the_password(tmp_path):
    try:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult
    except ImportError:
        require(None, "aiosmtpd", "pip install 'aiosmtpd>=1.4' (the [test] extra)")
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret-pw", handled=False)

    handler = Keeper()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        folder = inbox(tmp_path / "收件箱")
        round_ = campaign(controller.port, smtp=f"smtp://jxk%40dc.example.gov.cn@127.0.0.1:{controller.port}")
        db = connect(tmp_path / "round.sqlite")
        with pytest.raises(MailError) as wrong:
            deliver(folder, round_, tmp_path / "out", db, password="wrong-password")
        assert "拒绝登录" in str(wrong.value) and "wrong-password" not in str(wrong.value)
        with pytest.raises(MailError) as chinese:
            deliver(folder, round_, tmp_path / "out", db, password="密码123")
        assert "非 ASCII" in str(chinese.value) and "密码123" not in str(chinese.value)
        assert handler.messages == []  # nothing sent before the login works
        report, _ = deliver(folder, round_, tmp_path / "out2", db, password="s3cret-pw")
        assert len(report.sent) == 4 and logins[-1] == ("jxk@dc.example.gov.cn", "s3cret-pw")
    finally:
        controller.stop()


def test_send_needs_a_sender_and_a_password_for_a_login(tmp_path):
    outgoing, _ = compose(inbox(tmp_path / "收件箱"), campaign(), tmp_path / "out")
    db = connect(tmp_path / "round.sqlite")
    with pytest.raises(MailError, match="没有 from"):
        send_all(outgoing, replace(campaign().mail, sender=""), "", db)
    with pytest.raises(MailError, match=PASSWORD_ENV):
        send_all(outgoing, replace(campaign().mail, smtp="smtps://jxk@127.0.0.1"), "", db)
    with pytest.raises(MailError, match="不能写密码"):
        send_all(outgoing, replace(campaign().mail, smtp="smtp://jxk:pw@127.0.0.1"), "pw", db)
    with pytest.raises(MailError, match="无法连接发信服务器"):
        send_all(outgoing, replace(campaign().mail, smtp=f"smtp://127.0.0.1:{free_port()}"), "", db)


# ------------------------------------------------------------------ the command


def config_file(folder: Path, port: int) -> Path:
    roster = folder / "报送名单.csv"
    roster.write_text("单位编码,单位名称,联系人,电子邮箱\n" + "".join(f"{','.join(row)}\n" for row in DC_ROSTER),
                      encoding="utf-8")
    config = folder / "perf.toml"
    config.write_text(f'''[campaign]
year = 2023
district = "东川区"
bureau = "昆明市东川区财政局"
deadline = 2024-05-10
roster = "报送名单.csv"
output = "output"

[mail]
smtp = "smtp://127.0.0.1:{port}"
from = "{SENDER}"
cc = ["{CC}"]
''', encoding="utf-8")
    return config


def test_feedback_command_writes_drafts_then_sends_once(tmp_path, smtp_server, monkeypatch):
    handler, port = smtp_server
    folder = inbox(tmp_path / "收件箱")
    config = config_file(tmp_path, port)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    runner = CliRunner()
    result = runner.invoke(cli, ["feedback", str(folder), "--config", str(config)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "output" / "反馈邮件"
    assert f"已生成 4 封邮件草稿，保存在 {out}/" in result.output
    assert {p.name for p in out.glob("*.eml")} == {
        "昆明市东川区教育体育局-审核意见.eml", "昆明市东川区农业农村局-审核意见.eml",
        "昆明市东川区卫生健康局-审核意见.eml", "昆明市东川区民政局-催报通知.eml"}
    assert (out / "东川区农业农村局-自评填报表-审核意见.xlsx").is_file() and handler.messages == []
    result = runner.invoke(cli, ["feedback", str(folder), "--config", str(config), "--send"])
    assert result.exit_code == 0, result.output
    assert "已发送 4 封邮件：" in result.output and "昆明市东川区民政局  催报通知  → mzj@example.gov.cn" in result.output
    assert len(handler.messages) == 4 and (tmp_path / "output" / "round.sqlite").is_file()
    result = runner.invoke(cli, ["feedback", str(folder), "--config", str(config), "--send"])
    assert "已发送 0 封邮件" in result.output and "未重复发送 4 封（已发送过，内容没有变化）" in result.output
    assert len(handler.messages) == 4
    handler.refuse.add("mzj@example.gov.cn")
    broken_workbook(folder, "dc-mzj.xlsx")  # 民政局 now sent something unreadable: feedback instead of the reminder
    result = runner.invoke(cli, ["feedback", str(folder), "--config", str(config), "--send"])
    assert result.exit_code == 1 and "发送失败 1 处：" in result.output
    assert "收件人 mzj@example.gov.cn 被邮件服务器拒收" in result.output


# ------------------------------------------------------------------ drafts kept across runs


def test_a_rerun_keeps_the_drafts_whose_mail_is_the_same_and_builds_no_mail_for_them(tmp_path, monkeypatch):
    from perf_toolkit.mail import feedback as feedback_module

    built: list[str] = []
    real = feedback_module._message

    def counting(subject, *args):
        built.append(subject)
        return real(subject, *args)

    monkeypatch.setattr(feedback_module, "_message", counting)
    folder, out = round_inbox(tmp_path), tmp_path / "out"

    def round_once():
        return run_round([folder], Campaign(output_dir=out), load_profile(), out, history=False)

    first = round_once()
    assert len(first.drafts) == 2 and len(built) == 2
    before = {p.name: p.read_bytes() for p in first.drafts}
    second = round_once()
    assert [p.name for p in second.drafts] == [p.name for p in first.drafts] and len(built) == 2  # none built
    assert {p.name: p.read_bytes() for p in second.drafts} == before  # kept, Date and Message-ID included
    changed = next(p for p in first.drafts if "农业农村局" in p.name)
    write_workbook(folder, "丙.xlsx", faulty_submission(actual="85"))
    third = round_once()
    after = {p.name: p.read_bytes() for p in third.drafts}
    assert len(built) == 3 and after[changed.name] != before[changed.name]
    assert all(after[n] == b for n, b in before.items() if n != changed.name)
    assert b"85" in base64.b64decode(b"".join(_body_lines(after[changed.name])))
    (out / "反馈邮件" / changed.name).unlink()  # a draft deleted by hand is written again
    round_once()
    assert len(built) == 4 and (out / "反馈邮件" / changed.name).is_file()
    run_round([folder], Campaign(output_dir=out, mail=MailSettings(sender="czj@example.gov.cn")), load_profile(),
              out, history=False)
    assert len(built) == 6  # another sender: every mail is another mail


def _body_lines(eml: bytes) -> list[bytes]:
    """The base64 lines of the text part of a draft."""
    message = email.message_from_bytes(eml, policy=email.policy.default)
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload().encode("ascii").split()
