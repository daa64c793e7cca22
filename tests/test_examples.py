"""The shipped examples stay in step with their JSON sources and the current template."""

from __future__ import annotations

import importlib.util
import json

from builders import ROOT

from perf_toolkit import spec
from perf_toolkit.workbook.guard import load_raw
from perf_toolkit.workbook.read import export_workbook

spec_ = importlib.util.spec_from_file_location("make_examples", ROOT / "examples" / "make_examples.py")
make_examples = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(make_examples)


def test_inbox_workbooks_export_to_their_sources():
    for name, source in make_examples.FILLED.items():
        expected = json.loads(source.read_text(encoding="utf-8"))
        expected.pop("_note", None)
        assert export_workbook(make_examples.INBOX / name) == expected, name


def test_inbox_workbooks_carry_the_current_template_version():
    for name in make_examples.FILLED:
        raw = load_raw(make_examples.INBOX / name)
        versions = [n for n in raw.names if n.name == spec.VERSION_NAME]
        assert versions, name
        sheet, cell = versions[0].ref.split("!")
        guide = raw.sheet(sheet.strip("'"))
        row, col = int(cell.replace("$", "").lstrip("ABCDEFGHIJ")), 2
        assert guide.cells[(row, col)] == spec.WORKBOOK_VERSION, name


def test_inbox_holds_a_broken_attachment_and_a_lock_file():
    assert (make_examples.INBOX / make_examples.BROKEN).stat().st_size == 3072
    assert (make_examples.INBOX / make_examples.LOCK).stat().st_size == 162
