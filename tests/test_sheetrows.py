"""The summary's table rows written as XML (sheetrows.py) hold exactly what xlsxwriter's own cells held.

The same frames are written twice — every sheet through xlsxwriter's cells, and the table
sheets through `StreamedSheet` — and the two files compared: every part byte for byte (the
save time in docProps apart), and read back cell by cell with calamine and openpyxl.
"""

from __future__ import annotations

import datetime as dt
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest
from batches import batch, campaign, sourced_batch
from python_calamine import CalamineWorkbook

from perf_toolkit.check.evaluate import evaluate_submissions
from perf_toolkit.summary import book, rollup, sheetrows
from perf_toolkit.summary.consolidate import summary_frames

#: Parts that carry the time the file was saved.
TIMED_PARTS = {"docProps/core.xml", "docProps/custom.xml"}
HOSTILE_TEXTS = ["=SUM(A1:A2)", "+1", "@x", "http://example.com", " 前后有空格 ", "tab\there", "ctl\x01\x0b\x1f",
                 "_x0041_ 转义", "<b>&amp;\"'</b>", "换行\n第二行", "😀" * 20000, "", "{0}{1}", "\ufffe\uffff"]


def frames_with_everything() -> dict[str, pd.DataFrame]:
    """A realistic district summary, its 问题清单 also holding every kind of value a cell can get."""
    frames = summary_frames(evaluate_submissions(sourced_batch(batch(12, projects=3))), campaign(12, 2))
    findings = pd.concat([frames["问题清单"]] * 10, ignore_index=True)  # more rows than odd values
    odd = [*HOSTILE_TEXTS, np.nan, float("inf"), None, pd.NaT, pd.NA, True, np.bool_(False), 3, np.int64(-4),
           np.float32(0.1), -0.0, 1e-300, 12345678901234567890.0, dt.datetime(2024, 5, 8, 9, 30, 15, 600_000),
           dt.date(2024, 1, 2), pd.Timestamp("2023-12-31 23:59:59"), ("元组",)]
    column = findings.columns[-1]
    values = findings[column].astype(object).tolist()
    for i, value in enumerate(odd):
        values[i % len(values)] = value
    findings[column] = pd.Series(values, index=findings.index, dtype=object)
    frames["问题清单"] = findings
    frames["指标明细"] = frames["指标明细"].iloc[:0]  # a table with no rows
    return frames


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same frames written by xlsxwriter's cells alone and with the streamed rows."""
    folder = tmp_path_factory.mktemp("sheetrows")
    frames = frames_with_everything()
    streamed = book.write_summary(frames, folder / "streamed.xlsx")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(book, "CHARTED_SHEETS", tuple(frames))  # every sheet the ordinary way
        plain = book.write_summary(frames, folder / "plain.xlsx")
    return plain, streamed


def test_every_part_is_the_same_bytes(both):
    plain, streamed = (zipfile.ZipFile(p) for p in both)
    assert plain.namelist() == streamed.namelist()
    differing = [n for n in plain.namelist() if n not in TIMED_PARTS and plain.read(n) != streamed.read(n)]
    assert differing == []
    sheet = streamed.read("xl/worksheets/sheet5.xml").decode()  # 问题清单: the rows are there, text as shared strings
    assert sheet.count("<row ") > 40 and 't="s"' in sheet and "<f>" not in sheet


def test_every_cell_reads_back_the_same(both):
    plain, streamed = both
    a, b = CalamineWorkbook.from_path(str(plain)), CalamineWorkbook.from_path(str(streamed))
    assert a.sheet_names == b.sheet_names
    for name in a.sheet_names:
        assert a.get_sheet_by_name(name).to_python() == b.get_sheet_by_name(name).to_python(), name
    a, b = openpyxl.load_workbook(plain), openpyxl.load_workbook(streamed)
    for x, y in zip(a.worksheets, b.worksheets, strict=True):
        assert (x.title, x.freeze_panes, x.auto_filter.ref, x.max_row, x.max_column) == \
               (y.title, y.freeze_panes, y.auto_filter.ref, y.max_row, y.max_column)
        assert sorted(map(str, x.merged_cells.ranges)) == sorted(map(str, y.merged_cells.ranges))
        assert {k: d.height for k, d in x.row_dimensions.items()} == {k: d.height for k, d in y.row_dimensions.items()}
        assert {k: (d.width, d.hidden) for k, d in x.column_dimensions.items()} == \
               {k: (d.width, d.hidden) for k, d in y.column_dimensions.items()}
        assert [(str(r.sqref), [c.formula for c in r.rules]) for r in x.conditional_formatting] == \
               [(str(r.sqref), [c.formula for c in r.rules]) for r in y.conditional_formatting]
        assert (x.page_setup.scale, x.print_title_rows, x.print_title_cols) == \
               (y.page_setup.scale, y.print_title_rows, y.print_title_cols)
        for row_x, row_y in zip(x.iter_rows(), y.iter_rows(), strict=True):
            for p, q in zip(row_x, row_y, strict=True):
                assert (p.value, p.data_type, p.number_format, p.font.b, p.fill.fgColor.rgb, p.alignment.wrap_text,
                        p.border.top.style) == \
                       (q.value, q.data_type, q.number_format, q.font.b, q.fill.fgColor.rgb, q.alignment.wrap_text,
                        q.border.top.style), (x.title, p.coordinate)
    findings = b["问题清单"]
    texts = {c.value for row in findings.iter_rows(min_row=2) for c in row if isinstance(c.value, str)}
    assert "=SUM(A1:A2)" in texts and "换行\n第二行" in texts  # text stays text


def test_rollup_checks_the_streamed_summary_and_sees_an_edit(tmp_path):
    frames = summary_frames(evaluate_submissions(sourced_batch(batch(4, projects=3))), campaign(4, district="东川区"))
    streamed = book.write_summary(frames, tmp_path / "汇总.xlsx")
    edited = tmp_path / "改数.xlsx"
    wb = openpyxl.load_workbook(streamed)
    ws = wb["项目明细"]  # a streamed sheet
    ws.cell(2, [str(c.value).replace("\n", "") for c in ws[1]].index("全年预算数（万元）") + 1).value = 1.5
    wb.save(edited)
    accepted, rejected = rollup.read_summaries([streamed, edited], jobs=1)
    assert [str(path) for path, _ in rejected] == [str(edited)], rejected
    assert "校验值" in rejected[0][1]
    assert len(accepted) == 1


def test_rows_in_many_chunks_are_the_same_bytes(tmp_path, monkeypatch):
    """Rows spooled a few at a time (the last chunk short, the 合计 row in a chunk of its own or not)."""
    frames = frames_with_everything()
    plain = zipfile.ZipFile(book.write_summary(frames, tmp_path / "one-chunk.xlsx"))
    for rows in (1, 3, 7):
        monkeypatch.setattr(book, "ROWS_PER_CHUNK", rows)
        chunked = zipfile.ZipFile(book.write_summary(frames, tmp_path / f"chunked-{rows}.xlsx"))
        assert [n for n in plain.namelist() if n not in TIMED_PARTS and plain.read(n) != chunked.read(n)] == []


def test_the_spools_are_closed_when_the_workbook_fails(tmp_path, monkeypatch):
    spools = []

    def spool(**options):
        spools.append(sheetrows_tempfile(**options))
        return spools[-1]

    def broken(*args):
        raise RuntimeError("写到一半")

    sheetrows_tempfile = sheetrows.tempfile.TemporaryFile
    monkeypatch.setattr(sheetrows.tempfile, "TemporaryFile", spool)
    monkeypatch.setattr(book, "_highlights", lambda ws, styles, name, *args: broken() if name == "结果应用" else None)
    with pytest.raises(RuntimeError, match="写到一半"):
        book.write_summary(frames_with_everything(), tmp_path / "坏.xlsx")
    assert spools and all(f.closed for f in spools)
    assert not (tmp_path / "坏.xlsx").exists()
