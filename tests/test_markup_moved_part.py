"""The marked-up copy of a workbook whose workbook part is not at xl/workbook.xml (found through _rels/.rels,
as Excel finds it): LibreOffice opens it with the 审核意见 sheet first and every mark, and it carries the
toolkit's mark, made the fast way (patch.py) and the openpyxl way alike."""

from __future__ import annotations

import subprocess
import zipfile

import openpyxl
import pytest
from hostile.corpus import moved_workbook_part
from test_markup import colour, faulty, workbook
from test_markup_patch import both, save

from perf_toolkit.workbook import marker, patch
from perf_toolkit.workbook.markup import REVIEW_SHEET


@pytest.mark.parametrize("part", ["xl/main.xml", "wb/main.xml"])
def test_libreoffice_opens_the_marked_copy_of_a_moved_workbook_part_with_its_marks(tmp_path, soffice, part):
    moved = tmp_path / "换位置.xlsx"
    moved_workbook_part(workbook(tmp_path / "in", faulty()), moved, part)
    assert "xl/workbook.xml" not in zipfile.ZipFile(moved).namelist()
    patch.Package(moved.read_bytes()).check(REVIEW_SHEET)  # the fast way takes it (no Unsupported)
    fast, slow, findings = both(moved)
    marked = [(f.sheet, f.cell) for f in findings if f.cell]
    assert len(marked) >= 4
    for kind, data in (("fast", fast), ("slow", slow)):
        mark = marker.output_mark(data)
        assert mark is not None and mark.kind == marker.MARKUP, kind
        copy = save(tmp_path / kind, "换位置.xlsx", data)
        out = tmp_path / kind / "lo"
        done = subprocess.run([soffice, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                               "--norestore", "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out),
                               str(copy)], capture_output=True, text=True, timeout=180, check=False)
        assert (out / copy.name).is_file(), done.stderr
        wb = openpyxl.load_workbook(out / copy.name)  # what LibreOffice understood of it, written again
        assert wb.sheetnames[0] == REVIEW_SHEET, kind
        for sheet, cell in marked:
            assert colour(wb[sheet][cell]) and wb[sheet][cell].comment is not None, (kind, sheet, cell)
