"""The checksum hashed while the summary is written (checksum.Digest) is checksum.digest over the same cells.

Summaries written by earlier versions carry checksum.digest's value, and rollup recomputes it
from the cells it reads: the streamed value must be the same to the byte, for every kind of value.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from perf_toolkit.summary import checksum

AWKWARD = ["", None, float("nan"), float("inf"), -0.0, 0.1, 1e-300, 1e300, 12345678901234567890.0, 2.0**53,
           10**30, -(10**20), np.int64(-4), np.float32(0.1), True, dt.datetime(2024, 5, 8, 9, 30, 15, 600_000),
           dt.date(2024, 1, 2), dt.datetime(2023, 12, 31, 23, 59, 59, 999_999), "😀" * 3, "emoji 👍🏽 组合",
           'quote " and \\ backslash', "ctl\x00\x01\x0b\x1f\x7f", "tab\tline\nbreak\r", "\u2028\u2029", "\ufffe",
           "{0}", "普通文字", "😀" * 20000, "a" * 40000, ("元组",)]


def cells_of(rows: int, columns: int, shift: int = 0) -> list[tuple[int, int, object]]:
    """Cells (0-based, in row then column order) cycling through the awkward values."""
    return [(r, c, AWKWARD[(r * columns + c + shift) % len(AWKWARD)]) for r in range(rows) for c in range(columns)]


def recorded(cells: list[tuple[int, int, object]]) -> dict[tuple[int, int], str]:
    """The cells as the checksum counted them before it was streamed (the old checksum.record)."""
    out = {}
    for r, c, value in cells:
        text = ("s:" + checksum.cell_text(value) if value else None) if value.__class__ is str else \
            checksum.canonical(value, written=True)
        if text is not None:
            out[(r + 1, c + 1)] = text
    return out


@pytest.mark.parametrize("chunk", [1, 5, 4096])
def test_the_streamed_digest_is_the_digest(chunk, monkeypatch):
    monkeypatch.setattr(checksum.SheetCells, "CHUNK", chunk)
    sheets = {  # 未报送单位 absent, 问题清单 begun but empty; rows and columns past 9 (sorted as numbers)
        "部门汇总": cells_of(3, 4), "项目明细": cells_of(12, 12, 7), "指标明细": cells_of(40, 11, 3),
        "问题清单": [], "元数据": cells_of(25, 2, 1),
    }
    digest = checksum.Digest()
    for name, cells in sheets.items():
        sheet = digest.sheet(name)
        for r, c, value in cells:
            sheet.add(r, c, value)
    streamed = digest.value()
    assert streamed == checksum.digest({name: recorded(cells) for name, cells in sheets.items()})
    assert streamed.startswith(checksum.PREFIX) and digest.value() == streamed


def test_no_sheet_at_all_is_the_digest_of_nothing():
    assert checksum.Digest().value() == checksum.digest({})


def test_cells_out_of_order_are_refused():
    for cells in ([(0, 1, "b"), (0, 0, "a")], [(1, 0, "b"), (0, 5, "a")], [(0, 0, "a"), (0, 0, "a")]):
        sheet = checksum.Digest().sheet("项目明细")
        for r, c, value in cells:
            sheet.add(r, c, value)
        with pytest.raises(AssertionError, match="order"):
            sheet.flush()
    sheet = checksum.Digest().sheet("项目明细")  # a later chunk going back
    sheet.add(5, 0, "a")
    sheet.flush()
    sheet.add(4, 0, "b")
    with pytest.raises(AssertionError, match="order"):
        sheet.flush()


def test_sheets_out_of_order_are_refused():
    digest = checksum.Digest()
    digest.sheet("指标明细")
    with pytest.raises(AssertionError, match="order"):
        digest.sheet("项目明细")
    with pytest.raises(AssertionError, match="order"):
        digest.sheet("指标明细")  # twice
    digest.value()
    with pytest.raises(AssertionError, match="order"):
        digest.sheet("元数据")  # after the value
    with pytest.raises(ValueError):
        checksum.Digest().sheet("结果应用")  # not covered


def test_a_sheet_already_hashed_takes_no_more_cells():
    digest = checksum.Digest()
    first = digest.sheet("部门汇总")
    digest.sheet("项目明细")
    first.add(0, 0, "迟到")
    with pytest.raises(AssertionError, match="already"):
        first.flush()
