"""Regenerate the shipped example workbook and the example inbox (`make example`).

The inbox is what reaches a bureau after a round, as it reaches it: a mail saved from the
mail client (.eml, the workbook's Chinese name RFC 2231-encoded, as Outlook writes it), a
mailbox exported from Foxmail (.mbox, names as GBK encoded words) holding one department's
first workbook and its corrected resubmission (the newer mail first: its Date decides, not
its place), a zip made with Windows' built-in "send to compressed folder" (entry names in
CP936, no UTF-8 flag) with a note beside the workbook, an attachment that arrived broken,
and an Excel lock file left behind by someone who had it open. `perf-toolkit collect
examples/inbox` finds the workbooks in all of them.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import shutil
import sys
import urllib.parse
import zipfile
from pathlib import Path

from perf_toolkit.model import submission_from_dict
from perf_toolkit.workbook.template import write_template

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLE_JSON = ROOT / "workbook_templates" / "示例-退役军人事务局.json"
EXAMPLE_XLSX = ROOT / "workbook_templates" / "示例-退役军人事务局.xlsx"
INBOX = HERE / "inbox"

#: each department's workbook (its file name as the department named it) -> JSON source
FILLED = {
    "东川区退役军人事务局-自评填报表.xlsx": EXAMPLE_JSON,
    "东川区教育体育局-自评填报表.xlsx": HERE / "sources" / "东川区教育体育局.json",
    "东川区农业农村局-自评填报表.xlsx": HERE / "sources" / "东川区农业农村局.json",
}
BROKEN = "东川区卫生健康局-自评填报表（附件损坏）.xlsx"
LOCK = "~$东川区教育体育局-自评填报表.xlsx"
EML = "报送2023年度绩效自评表（东川区教育体育局）.eml"
MBOX = "Foxmail导出-绩效自评.mbox"
ZIP = "东川区退役军人事务局报送材料.zip"
NOTE = "情况说明.txt"
#: the resubmitting department's first workbook: last year's form (评价年度 2022), corrected in the second mail
FIRST_YEAR = 2022
BUREAU = f"=?UTF-8?B?{base64.b64encode('东川区财政局绩效科'.encode()).decode()}?= <jxk@example.gov.cn>"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def load(path: Path):
    return submission_from_dict(json.loads(path.read_text(encoding="utf-8")))


def workbook_bytes(source: Path, **changes) -> bytes:
    """The standard workbook filled from a JSON source (with top-level `changes`), as bytes."""
    data = json.loads(source.read_text(encoding="utf-8"))
    data.pop("_note", None)
    data.update(copy.deepcopy(changes))
    buffer = io.BytesIO()
    tmp = INBOX / ".tmp.xlsx"
    write_template(tmp, submission_from_dict(data), projects=1)
    buffer.write(tmp.read_bytes())
    tmp.unlink()
    return buffer.getvalue()


def rfc2231(name: str) -> str:
    """A Content-Disposition naming an attachment the RFC 2231 way (Outlook, Thunderbird)."""
    return f"attachment; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"


def encoded_word(name: str, charset: str = "GBK") -> str:
    """A Content-Disposition naming an attachment with an RFC 2047 encoded word (Foxmail, 163, QQ mail)."""
    return f'attachment; filename="=?{charset}?B?{base64.b64encode(name.encode(charset)).decode()}?="'


def mail_bytes(*, sender: str, date: str, subject: str, body: str, ident: str,
               attachments: list[tuple[str, str, bytes]]) -> bytes:
    """A MIME mail as a mail client writes it: (Content-Disposition, content type, bytes) per attachment."""
    boundary = f"----=_Part_{ident}"
    words = base64.b64encode(subject.encode("utf-8")).decode()
    lines = [f"From: {sender}", f"To: {BUREAU}", f"Subject: =?UTF-8?B?{words}?=", f"Date: {date}",
             f"Message-ID: <{ident}@mail.example.gov.cn>", "MIME-Version: 1.0",
             f'Content-Type: multipart/mixed; boundary="{boundary}"', "", f"--{boundary}",
             "Content-Type: text/plain; charset=UTF-8", "Content-Transfer-Encoding: base64", "",
             base64.encodebytes(body.encode("utf-8")).decode().rstrip("\n")]
    for disposition, kind, data in attachments:
        lines += [f"--{boundary}", f"Content-Type: {kind}", "Content-Transfer-Encoding: base64",
                  f"Content-Disposition: {disposition}", "", base64.encodebytes(data).decode().rstrip("\n")]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode("ascii")


class _WindowsName(zipfile.ZipInfo):
    """An entry named as Windows' built-in zip names it: CP936 bytes, no UTF-8 flag."""

    def _encodeFilenameFlags(self):  # noqa: N802 (zipfile's own name)
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def windows_zip(entries: dict[str, bytes]) -> bytes:
    """A zip whose entry names are CP936 without the UTF-8 flag (Windows Explorer's "compressed folder")."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            info = _WindowsName(name, date_time=(2024, 5, 7, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buffer.getvalue()


def main() -> int:
    write_template(EXAMPLE_XLSX, load(EXAMPLE_JSON), projects=1)
    if INBOX.exists():
        shutil.rmtree(INBOX)
    INBOX.mkdir()
    veterans, education, agriculture = (workbook_bytes(source) for source in FILLED.values())
    names = list(FILLED)
    # a mail saved from Outlook: the workbook's Chinese name RFC 2231-encoded
    (INBOX / EML).write_bytes(mail_bytes(
        sender="=?UTF-8?B?546L6Iqz?= <jytyj@example.gov.cn>", date="Tue, 07 May 2024 16:20:00 +0800",
        subject="报送2023年度绩效自评表（东川区教育体育局）", body="绩效科：\n附件为我局2023年度项目支出绩效自评填报表，请审核。\n王芳",
        ident="jytyj-20240507", attachments=[(rfc2231(names[1]), XLSX_TYPE, education)]))
    # a mailbox exported from Foxmail: the corrected resubmission first, then the first submission
    first = workbook_bytes(FILLED[names[2]], year=FIRST_YEAR)
    corrected = mail_bytes(
        sender="=?GBK?B?1dTHvw==?= <nyncj@example.gov.cn>", date="Thu, 09 May 2024 11:40:00 +0800",
        subject="【更正】东川区农业农村局绩效自评表", body="绩效科：\n上次误用了去年的表，现重新报送，以此为准。\n赵强",
        ident="nyncj-20240509", attachments=[(encoded_word(names[2]), XLSX_TYPE, agriculture)])
    original = mail_bytes(
        sender="=?GBK?B?1dTHvw==?= <nyncj@example.gov.cn>", date="Mon, 06 May 2024 09:15:00 +0800",
        subject="东川区农业农村局绩效自评表", body="绩效科：\n报送我局自评表，请查收。\n赵强",
        ident="nyncj-20240506", attachments=[(encoded_word(names[2]), XLSX_TYPE, first)])
    (INBOX / MBOX).write_bytes(b"".join(
        b"From nyncj@example.gov.cn Thu May  9 11:40:00 2024\n" + m.replace(b"\r\n", b"\n") + b"\n"
        for m in (corrected, original)))
    # Windows' compressed folder: CP936 names, the workbook and a note
    (INBOX / ZIP).write_bytes(windows_zip({
        names[0]: veterans, NOTE: "退役士兵社会保险配套经费项目的佐证材料已另行报送。\r\n".encode("gbk")}))
    # an attachment cut off in transit: the first 3 KiB of a real workbook
    (INBOX / BROKEN).write_bytes(education[:3072])
    # Excel's owner file: 162 bytes, the user name padded with spaces
    (INBOX / LOCK).write_bytes(b"\x04" + "王芳".encode("utf-16-le").ljust(53, b" ") + b"\x00" * 108)
    print(f"已生成示例工作簿 {EXAMPLE_XLSX.relative_to(ROOT)} 和示例收件箱 {INBOX.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
