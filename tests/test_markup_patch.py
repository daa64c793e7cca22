"""The marked-up copy made by patching the department's zip (workbook/patch.py) is the copy openpyxl
would have made: the same fills, comments, 审核意见 sheet and mark, opened by LibreOffice, the rest
of the workbook untouched, and any workbook it does not handle made the openpyxl way."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
from builders import funds, saved_by_office, standard_indicators, submission
from test_markup import colour, faulty, workbook

from perf_toolkit.check.evaluate import evaluate_paths
from perf_toolkit.model import Finding
from perf_toolkit.workbook import marker, patch
from perf_toolkit.workbook.markup import AUTHOR, REVIEW_SHEET, mark_workbook, score_lines
from perf_toolkit.workbook.read import read_workbook

TODAY = dt.date(2024, 5, 20)


def both(path: Path) -> tuple[bytes, bytes, list]:
    """(patched copy, openpyxl copy, findings) of one workbook."""
    result = evaluate_paths([path]).files[0]
    kw = dict(file_name=path.name, unit="某单位", bureau="某区财政局", deadline=dt.date(2024, 5, 31), today=TODAY,
              scores=score_lines(result))
    data = path.read_bytes()
    return (mark_workbook(data, result.findings, **kw), mark_workbook(data, result.findings, patching=False, **kw),
            result.findings)


def save(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def picture(path: Path) -> dict:
    """What a person sees of a workbook: sheets, values, fills, comments, merges, print names, active sheet."""
    wb = openpyxl.load_workbook(path)
    seen = {"sheets": wb.sheetnames, "active": wb.active.title,
            "visible": [ws.sheet_state for ws in wb.worksheets],
            "names": sorted(wb.defined_names), "protected": [ws.protection.sheet for ws in wb.worksheets]}
    for ws in wb.worksheets:
        cells = {}
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None or colour(cell) or cell.comment is not None:
                    link = cell.hyperlink.location if cell.hyperlink is not None else None
                    cells[cell.coordinate] = (cell.value, colour(cell), cell.font.b, cell.font.sz,
                                              cell.comment and (cell.comment.text, cell.comment.author), link,
                                              cell.alignment.wrap_text, cell.border.left.style,
                                              cell.protection.locked, cell.number_format)
        seen[ws.title] = {"cells": cells, "merged": sorted(map(str, ws.merged_cells.ranges)),
                          "print": (ws.print_title_rows, str(ws.print_area)), "freeze": ws.freeze_panes,
                          "heights": {r: d.height for r, d in ws.row_dimensions.items() if d.height},
                          "widths": {c: d.width for c, d in ws.column_dimensions.items() if d.customWidth},
                          "selected": bool(ws.sheet_view.tabSelected), "validations": len(ws.data_validations.dataValidation)}
    return seen


def test_patched_copy_shows_what_the_openpyxl_copy_shows(tmp_path):
    fast, slow, findings = both(workbook(tmp_path / "in", faulty()))
    assert len(findings) >= 4
    fast_path, slow_path = save(tmp_path, "fast.xlsx", fast), save(tmp_path, "slow.xlsx", slow)
    assert picture(fast_path) == picture(slow_path)
    wb = openpyxl.load_workbook(fast_path)
    assert wb.sheetnames[0] == REVIEW_SHEET and wb.active.title == REVIEW_SHEET
    marked = [(f.sheet, f.cell) for f in findings if f.cell]
    assert all(colour(wb[s][c]) and wb[s][c].comment.author == AUTHOR for s, c in marked)


def test_patched_copy_keeps_every_other_part_byte_for_byte_and_carries_the_mark(tmp_path):
    path = workbook(tmp_path / "in", faulty())
    fast, _, _ = both(path)
    with zipfile.ZipFile(path) as before, zipfile.ZipFile(save(tmp_path, "fast.xlsx", fast)) as after:
        changed = {n for n in before.namelist() if before.read(n) != after.read(n)}
        assert changed <= {"[Content_Types].xml", "_rels/.rels", "docProps/core.xml", "xl/workbook.xml",
                           "xl/_rels/workbook.xml.rels", "xl/styles.xml"} | {
            n for n in before.namelist() if n.startswith("xl/worksheets/")}
        assert "xl/theme/theme1.xml" not in changed
    mark = marker.output_mark(fast)
    assert mark is not None and mark.kind == marker.MARKUP and mark.untouched


def test_patched_copy_reads_back_as_the_same_submission(tmp_path):
    path = workbook(tmp_path / "in", faulty())
    fast, _, findings = both(path)
    copy = save(tmp_path, "copy.xlsx", fast)
    saved_by_office(copy)  # the department saved it again: now it is a submission like any other
    assert read_workbook(copy).sourced.submission == read_workbook(path).sourced.submission
    assert sorted(f.code for f in evaluate_paths([copy]).files[0].findings) == sorted(f.code for f in findings)


def test_cells_rows_and_sheets_without_elements_are_added_in_order(tmp_path):
    # a cell the template never wrote (beyond the stored ones) and a row above and below stored rows
    path = workbook(tmp_path / "in", submission(standard_indicators(actual="80"), fund_rows=funds(100, 70, 50)))
    extra = [Finding(code="file-unreadable", severity="warning", message="测试单元格", sheet="项目1", cell=cell)
             for cell in ("Z200", "M1", "A1")]
    result = evaluate_paths([path]).files[0]
    fast = mark_workbook(path.read_bytes(), list(result.findings) + extra, file_name="x.xlsx", today=TODAY)
    slow = mark_workbook(path.read_bytes(), list(result.findings) + extra, file_name="x.xlsx", today=TODAY,
                         patching=False)
    assert picture(save(tmp_path, "f.xlsx", fast)) == picture(save(tmp_path, "s.xlsx", slow))
    ws = openpyxl.load_workbook(tmp_path / "f.xlsx")["项目1"]
    assert colour(ws["Z200"]) and colour(ws["M1"]) and ws["Z200"].comment.text.endswith("测试单元格")


def test_workbooks_the_patch_does_not_handle_are_made_the_openpyxl_way(tmp_path):
    path = workbook(tmp_path / "in", faulty())
    wb = openpyxl.load_workbook(path)
    wb["项目1"]["M3"].comment = openpyxl.comments.Comment("单位自己的批注", "王芳")
    wb.save(tmp_path / "own-comment.xlsx")
    with pytest.raises(patch.Unsupported):
        patch.Package((tmp_path / "own-comment.xlsx").read_bytes()).check(REVIEW_SHEET)
    fast, slow, _ = both(tmp_path / "own-comment.xlsx")
    assert picture(save(tmp_path, "a.xlsx", fast)) == picture(save(tmp_path, "b.xlsx", slow))
    assert openpyxl.load_workbook(tmp_path / "a.xlsx")["项目1"]["M3"].comment.text == "单位自己的批注"


def test_libreoffice_opens_the_patched_copy_with_its_marks(tmp_path, soffice):
    fast, _, findings = both(workbook(tmp_path / "in", faulty()))
    copy = save(tmp_path, "copy.xlsx", fast)
    out = tmp_path / "lo"
    done = subprocess.run([soffice, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                           "--norestore", "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out),
                           str(copy)], capture_output=True, text=True, timeout=180, check=False)
    assert (out / "copy.xlsx").is_file(), done.stderr
    wb = openpyxl.load_workbook(out / "copy.xlsx")  # what LibreOffice understood of it, written again
    assert wb.sheetnames[0] == REVIEW_SHEET
    for f in findings:
        if f.cell:
            assert colour(wb[f.sheet][f.cell]), f.cell
            assert wb[f.sheet][f.cell].comment is not None, f.cell
    assert any("审核意见" in str(c.value) for row in wb[REVIEW_SHEET].iter_rows() for c in row)
    shutil.rmtree(out)


def review_details(path: Path) -> dict:
    """Everything openpyxl reads back of the 审核意见 sheet (each cell's value and whole format, merges, links
    with their tooltips, heights, widths, panes, print setup) and of the comments (text, author, box size)."""
    wb = openpyxl.load_workbook(path)
    ws = wb[REVIEW_SHEET]
    cells = {c.coordinate: (c.value, c.data_type, repr(c.font), repr(c.fill), repr(c.border), repr(c.alignment),
                            c.number_format, c.hyperlink and (c.hyperlink.location, c.hyperlink.tooltip))
             for row in ws.iter_rows() for c in row if c.has_style or c.value is not None}
    setup = ws.page_setup
    notes = {(s.title, c.coordinate): (c.comment.text, c.comment.author, c.comment.width, c.comment.height)
             for s in wb.worksheets for row in s.iter_rows() for c in row if c.comment is not None}
    return {"cells": cells, "merged": sorted(map(str, ws.merged_cells.ranges)), "notes": notes,
            "heights": {r: d.height for r, d in ws.row_dimensions.items()},
            "widths": {c: d.width for c, d in ws.column_dimensions.items()},
            "panes": (ws.freeze_panes, ws.sheet_view.zoomScale, ws.sheet_view.tabSelected),
            "print": (ws.print_title_rows, str(ws.print_area), setup.paperSize, setup.orientation, setup.fitToWidth,
                      setup.fitToHeight, ws.sheet_properties.pageSetUpPr.fitToPage,
                      ws.print_options.horizontalCentered, ws.oddFooter.center.text),
            "dimensions": ws.dimensions}


def test_review_sheet_written_as_xml_reads_back_as_the_openpyxl_one(tmp_path):
    # the patch route writes the sheet's XML itself (review.to_xml): its part is not openpyxl's byte for byte
    # (text as UTF-8, merges in row order), so what openpyxl reads back of it must be the same in every detail,
    # with text that needs escaping, spaces at the ends, a carriage return and a formula-looking value
    path = workbook(tmp_path / "in", faulty())
    result = evaluate_paths([path]).files[0]
    odd = [Finding(code="file-unreadable", severity="warning", message=message, sheet="项目1", cell=cell)
           for message, cell in (("  前后有空格  ", "D3"), ("=SUM(A1:A2) <b>&amp;</b> \"引号\"", "D4"),
                                 ("第一行\r第二行\n第三行", "D5"), ("工作表的问题", None))]
    odd.append(Finding(code="file-unreadable", severity="error", message="它'表", sheet="不存在的表", cell="A1"))
    findings = list(result.findings) + odd
    kw = dict(file_name="单位<&>.xlsx", unit="某单位 ", bureau="某区财政局", deadline=dt.date(2024, 5, 31),
              today=TODAY, scores=score_lines(result))
    fast = save(tmp_path, "fast.xlsx", mark_workbook(path.read_bytes(), findings, **kw))
    slow = save(tmp_path, "slow.xlsx", mark_workbook(path.read_bytes(), findings, patching=False, **kw))
    with zipfile.ZipFile(fast) as zf:
        assert not any(n.startswith("xl/sharedStrings") for n in zf.namelist())  # inline strings, as openpyxl
    seen = review_details(fast)
    assert seen == review_details(slow)
    texts = [v[0] for v in seen["cells"].values()]
    assert "  前后有空格  " in texts and "第一行\r第二行\n第三行" in texts
    assert "=SUM(A1:A2) <b>&amp;</b> \"引号\"" in texts  # text, never a formula
    assert ("项目1", "D5") in seen["notes"] and "第一行\r第二行" in seen["notes"][("项目1", "D5")][0]
