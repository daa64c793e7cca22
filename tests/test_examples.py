"""The shipped examples stay in step with their JSON sources and the current template."""

from __future__ import annotations

import importlib.util
import json
import mailbox
import zipfile
from email.utils import parsedate_to_datetime

from builders import ROOT

from perf_toolkit import spec
from perf_toolkit.workbook.guard import load_raw
from perf_toolkit.workbook.read import export_workbook

spec_ = importlib.util.spec_from_file_location("make_examples", ROOT / "examples" / "make_examples.py")
make_examples = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(make_examples)


def _collected(example_files) -> dict:
    return {p.name: p for p in example_files}


def test_inbox_workbooks_export_to_their_sources(example_files):
    collected = _collected(example_files)
    for name, source in make_examples.FILLED.items():
        expected = json.loads(source.read_text(encoding="utf-8"))
        expected.pop("_note", None)
        assert export_workbook(collected[name]) == expected, name


def test_inbox_workbooks_carry_the_current_template_version(example_files):
    collected = _collected(example_files)
    for name in make_examples.FILLED:
        raw = load_raw(collected[name])
        versions = [n for n in raw.names if n.name == spec.VERSION_NAME]
        assert versions, name
        sheet, cell = versions[0].ref.split("!")
        guide = raw.sheet(sheet.strip("'"))
        row, col = int(cell.replace("$", "").lstrip("ABCDEFGHIJ")), 2
        assert guide.cells[(row, col)] == spec.WORKBOOK_VERSION, name


def test_inbox_holds_a_broken_attachment_and_a_lock_file():
    assert (make_examples.INBOX / make_examples.BROKEN).stat().st_size == 3072
    assert (make_examples.INBOX / make_examples.LOCK).stat().st_size == 162


def test_inbox_holds_a_mail_a_mailbox_with_a_resubmission_and_a_windows_zip():
    inbox = make_examples.INBOX
    assert b"filename*=UTF-8''" in (inbox / make_examples.EML).read_bytes()
    box = mailbox.mbox(inbox / make_examples.MBOX, create=False)
    dates = [parsedate_to_datetime(m["Date"]) for m in box]
    assert len(dates) == 2 and dates[0] > dates[1]  # the corrected resubmission first
    with zipfile.ZipFile(inbox / make_examples.ZIP) as zf:
        assert all(not i.flag_bits & 0x800 and not i.filename.isascii() for i in zf.infolist())
        assert {i.filename.encode("cp437").decode("gbk") for i in zf.infolist()} == {
            "东川区退役军人事务局-自评填报表.xlsx", make_examples.NOTE}
