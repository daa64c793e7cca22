"""The round by mail end to end, against a real Dovecot and a real SMTP server (aiosmtpd): collect from
an IMAP folder named 绩效自评 leaves every mail unread and in place and stores each workbook once;
`status` shows who stands where; `feedback --send` delivers the marked workbooks, receipts and
reminders once; a resubmission mailed later becomes the current version and only its mail goes again."""

from __future__ import annotations

import hashlib
import json

from click.testing import CliRunner
from test_collect import XLSX, examples, mail, workbook
from test_feedback import smtp_server  # noqa: F401 (the aiosmtpd fixture)

from perf_toolkit.cli import cli
from perf_toolkit.config import PASSWORD_ENV

FOLDER = "绩效自评"


def write_config(tmp_path, url: str, smtp_port: int):
    roster = tmp_path / "报送名单.csv"
    roster.write_text("单位编码,单位名称,联系人,电子邮箱\n"
                      "DC-TYJRSWJ,昆明市东川区退役军人事务局,李明,tyjrswj@example.gov.cn\n"
                      "DC-JYTYJ,昆明市东川区教育体育局,王芳,jytyj@example.gov.cn\n"
                      "DC-NYNCJ,昆明市东川区农业农村局,赵强,nyncj@example.gov.cn\n", encoding="utf-8")
    config = tmp_path / "perf.toml"
    config.write_text(f'[campaign]\nyear = 2023\ndistrict = "东川区"\nbureau = "昆明市东川区财政局"\n'
                      f'deadline = 2024-05-10\nroster = "报送名单.csv"\noutput = "out"\n'
                      f'[mail]\nimap = "{url}"\nsmtp = "smtp://127.0.0.1:{smtp_port}"\nfrom = "czj@example.gov.cn"\n'
                      f'receipts = true\n', encoding="utf-8")
    return config


def test_collect_from_imap_then_a_later_resubmission_becomes_current(tmp_path, imap_account, monkeypatch,
                                                                     smtp_server):  # noqa: F811
    handler, port = smtp_server
    monkeypatch.setenv(PASSWORD_ENV, imap_account.password)
    config = write_config(tmp_path, imap_account.url(FOLDER), port)
    first = workbook(tmp_path, budget_note="按进度执行（初稿）")
    other = workbook(tmp_path, code="DC-JYTYJ", name="昆明市东川区教育体育局")
    disposition = examples.rfc2231("东川区退役军人事务局-自评填报表.xlsx")
    imap_account.append(FOLDER, mail([(disposition, XLSX, first)], date="Mon, 06 May 2024 09:00:00 +0800",
                                     ident="a1"))
    imap_account.append(FOLDER, mail([(examples.rfc2231("教体局.xlsx"), XLSX, other)],
                                     sender="王芳 <jytyj@example.gov.cn>", ident="b1"))
    runner = CliRunner()

    done = runner.invoke(cli, ["collect", "--config", str(config)])
    assert done.exit_code == 0, done.output
    assert "合计：2 份（其中新收到 2 份）：已接收 2" in done.output
    assert all("\\Seen" not in flags for flags in imap_account.flags(FOLDER).values())
    assert len(imap_account.flags(FOLDER)) == 2  # nothing moved or deleted

    again = runner.invoke(cli, ["collect", "--config", str(config)])
    assert "合计：0 份" in again.output  # only what is new is fetched

    status = runner.invoke(cli, ["status", "--config", str(config)])
    assert status.exit_code == 0, status.output
    assert "合计：应报送 3 个单位；未报送 1 个" in status.output
    assert "未报送" in next(line for line in status.output.splitlines() if "DC-NYNCJ" in line)

    sent = runner.invoke(cli, ["feedback", "--config", str(config), "--send"])
    assert sent.exit_code == 0, sent.output
    assert sorted(rcpt[0] for rcpt, _ in handler.messages) == [
        "jytyj@example.gov.cn", "nyncj@example.gov.cn", "tyjrswj@example.gov.cn"]
    reminder = next(m for rcpt, m in handler.messages if rcpt == ["nyncj@example.gov.cn"])
    assert "催报" in str(reminder["Subject"]) or "尚未收到" in reminder.get_body(("plain",)).get_content()
    assert runner.invoke(cli, ["feedback", "--config", str(config), "--send"]).output.count("已发送 0 封邮件") == 1

    fixed = workbook(tmp_path, budget_note="按进度执行（更正稿）")
    imap_account.append(FOLDER, mail([(disposition, XLSX, fixed)], date="Thu, 09 May 2024 11:00:00 +0800",
                                     ident="a2"))
    ran = runner.invoke(cli, ["run", "--config", str(config), "--no-history"])
    assert ran.exit_code == 0, ran.output
    assert "合计：1 份（其中新收到 1 份）：已接收 1" in ran.output
    assert "此前收到的 东川区退役军人事务局-自评填报表.xlsx（昆明市东川区退役军人事务局）现为“已被替代”" in ran.output
    report = json.loads((tmp_path / "out" / "审核结果.json").read_text(encoding="utf-8"))
    stored = {f["department"]["code"]: f["sha256"] for f in report["files"]}
    assert stored == {"DC-TYJRSWJ": hashlib.sha256(fixed).hexdigest(), "DC-JYTYJ": hashlib.sha256(other).hexdigest()}
    handler.messages.clear()
    resent = runner.invoke(cli, ["feedback", "--config", str(config), "--send"])
    assert resent.exit_code == 0, resent.output
    assert [rcpt for rcpt, _ in handler.messages] == [["tyjrswj@example.gov.cn"]]  # only what changed goes
    history = runner.invoke(cli, ["history", "DC-TYJRSWJ", "--config", str(config)])
    assert "本轮共收到 2 份" in history.output and "初稿" in history.output and "更正稿" in history.output
    assert all("\\Seen" not in flags for flags in imap_account.flags(FOLDER).values())
