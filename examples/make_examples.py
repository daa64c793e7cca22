"""Regenerate the shipped example workbook and the example inbox (`make example`).

The inbox is what a bureau's mailbox looks like after a round: the reference
department's workbook, one with warnings, one with errors, an attachment that
arrived broken, and an Excel lock file left behind by someone who had it open.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from perf_toolkit.model import submission_from_dict
from perf_toolkit.workbook.template import write_template

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLE_JSON = ROOT / "workbook_templates" / "示例-退役军人事务局.json"
EXAMPLE_XLSX = ROOT / "workbook_templates" / "示例-退役军人事务局.xlsx"
INBOX = HERE / "inbox"

#: inbox file name -> JSON source
FILLED = {
    "示例-退役军人事务局.xlsx": EXAMPLE_JSON,
    "东川区教育体育局-自评填报表.xlsx": HERE / "sources" / "东川区教育体育局.json",
    "东川区农业农村局-自评填报表.xlsx": HERE / "sources" / "东川区农业农村局.json",
}
BROKEN = "东川区卫生健康局-自评填报表（附件损坏）.xlsx"
LOCK = "~$东川区教育体育局-自评填报表.xlsx"


def load(path: Path):
    return submission_from_dict(json.loads(path.read_text(encoding="utf-8")))


def main() -> int:
    write_template(EXAMPLE_XLSX, load(EXAMPLE_JSON), projects=1)
    if INBOX.exists():
        shutil.rmtree(INBOX)
    INBOX.mkdir()
    for name, source in FILLED.items():
        write_template(INBOX / name, load(source), projects=1)
    # an attachment cut off in transit: the first 3 KiB of a real workbook
    data = (INBOX / "东川区教育体育局-自评填报表.xlsx").read_bytes()
    (INBOX / BROKEN).write_bytes(data[:3072])
    # Excel's owner file: 162 bytes, the user name padded with spaces
    (INBOX / LOCK).write_bytes(b"\x04" + "王芳".encode("utf-16-le").ljust(53, b" ") + b"\x00" * 108)
    print(f"已生成示例工作簿 {EXAMPLE_XLSX.relative_to(ROOT)} 和示例收件箱 {INBOX.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
