"""Writing the summary workbook with xlsxwriter: layout, number formats, charts, print set-up.

The frames come from `consolidate.summary_frames()` (or `rollup`); this module only lays
them out. Every text a department typed is written with `write_string` under SAFE_WRITER,
so `=…`, `+…`, `@…` or a URL stays text; numbers are written as values (never formulas,
so the file reads back the same in any reader, and in `rollup` through the guard).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from ..fsutil import atomic_write
from ..text import display_width
from ..workbook import marker
from . import checksum
from .scoresheet import SAFE_WRITER
from .sheetrows import StreamedSheet, column_names
from .tables import (
    CODE,
    DISTRICT,
    FILE,
    FLAGS,
    GRADE,
    LEVEL_CITY,
    NAME,
    OVERVIEW_BLOCKS,
    P_NAME,
    RATE,
    SUMMARY_SCHEMA,
    TOTAL,
    RowSource,
)

FONT = "宋体"
#: A workbook-scoped defined name holding the format marker (the hidden 元数据 sheet holds it too).
MARKER_NAME = marker.SUMMARY_NAME
MAX_WIDTH, MIN_WIDTH = 48, 6
GRADE_COLOURS = {"优": "#4E9A06", "良": "#3465A4", "中": "#F57900", "差": "#CC0000"}

_NUMBER_FORMATS = {
    "money": "#,##0.00", "pct": "0.00%", "pct_delta": "+0.00%;-0.00%;0.00%", "score": "0.00",
    "score_delta": "+0.00;-0.00;0.00", "points": "+0.00;-0.00;0.00",
    "points_label": '+0.00"个百分点";-0.00"个百分点";0.00"个百分点"', "int": "0", "int_delta": "+0;-0;0", "datetime": "yyyy-mm-dd hh:mm",
    "general": "General",
}


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off while a summary is built and written.

    Each cell makes a few small objects that hold no cycles; with the collector on, the
    collections they trigger rescan everything alive (the evaluation, the frames, the cells
    so far) and cost about as much as writing the cells. Reference counting still frees
    everything; the collector is back on (if it was) when the block ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def column_kind(name: str) -> str:
    """How a column (or a 总览 row) is formatted, from its Chinese name."""
    if name.endswith("（万元）"):
        return "money"
    if name.endswith("（个百分点）"):
        return "points"
    if name.endswith("变化"):
        return "pct_delta" if "率" in name else "score_delta"
    if name.endswith("率") or "占比" in name:
        return "pct"
    if "得分" in name or "总分" in name or name.startswith("分值"):
        return "score"
    if name.endswith("时间"):
        return "datetime"
    return "general"


def _figure_kind(label: str) -> str:
    kind = column_kind(label)
    return "int" if kind == "general" else kind


@functools.lru_cache(maxsize=1 << 16)  # the same names, codes and titles recur in every table
def text_width(text: str) -> int:
    """Display width of a text in column-width units: CJK characters count double (longest line)."""
    return display_width(text, ambiguous_wide=True)


def header_lines(name: str) -> list[str]:
    """A header's natural lines: the unit in brackets and a source prefix go on their own line."""
    for mark, keep_left in (("（", False), ("·", True)):
        if mark in name and not name.startswith(mark):
            left, right = name.split(mark, 1)
            return [left + mark, right] if keep_left else [left, mark + right]
    return [name]


def header_text(name: str, width: float) -> str:
    """The header as written: broken at its natural point when it does not fit on one line.

    Headers may therefore contain a line break: readers strip it (see rollup).
    """
    return "\n".join(header_lines(name)) if text_width(name) + 2 > width else name


def _blank(value) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, (float, np.floating)) and (math.isnan(value) or math.isinf(value))


def _shown(value, kind: str) -> str:
    """Roughly the text a cell shows (to size its column)."""
    if _blank(value):
        return ""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        v = float(value)
        if kind == "money":
            return f"{v:,.2f}"
        if kind in ("pct", "pct_delta"):
            return f"+{v * 100:.2f}%"
        if kind in ("score", "score_delta", "points"):
            return f"+{v:.2f}"
        return f"{v:g}"
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return "2024-05-08 12:00"
    return str(value)


class _Styles:
    """The workbook's cell formats, made once (xlsxwriter formats are workbook-global)."""

    def __init__(self, wb: xlsxwriter.Workbook):
        self.wb = wb
        self._cache: dict[tuple, object] = {}
        base = {"font_name": FONT, "font_size": 10, "valign": "vcenter"}
        self.base = base
        self.title = wb.add_format({**base, "bold": True, "font_size": 16})
        self.subtitle = wb.add_format({**base, "font_color": "#555555"})
        self.section = wb.add_format({**base, "bold": True, "font_size": 12})
        self.header = wb.add_format({**base, "bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True,
                                     "align": "center"})
        self.note = wb.add_format({**base, "text_wrap": True, "valign": "top"})
        self.bad = wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
        self.warn = wb.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700"})

    def cell(self, kind: str, *, total: bool = False, wrap: bool = False, center: bool = False):
        key = (kind, total, wrap, center)
        if key not in self._cache:
            spec = {**self.base, "border": 1, "num_format": _NUMBER_FORMATS[kind]}
            if wrap:
                spec["text_wrap"] = True
            if center:
                spec["align"] = "center"
            if total:
                spec.update(bold=True, bg_color="#F2F2F2", top=2)
            self._cache[key] = self.wb.add_format(spec)
        return self._cache[key]


def _put(ws, r: int, c: int, value, fmt) -> object:
    """Write one value by its type; text always as text (never a formula or a link). Returns what was written."""
    written = _written(value)
    if written is None:
        ws.write_blank(r, c, None, fmt)
    elif written.__class__ is str:
        ws.write_string(r, c, written, fmt)
    elif written.__class__ is float:
        ws.write_number(r, c, written, fmt)
    else:
        ws.write_datetime(r, c, written, fmt)
    return written


def _written(value) -> object:
    """What a cell holds for a value: None (a blank cell), a text (as a cell keeps it), a float or a datetime."""
    if _blank(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "是" if value else "否"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return pd.Timestamp(value).to_pydatetime()
    return checksum.cell_text(str(value))

#: Widest a column grows before its text wraps (most text columns wrap at MAX_WIDTH).
WIDE_COLUMNS = {"说明": 56, "列入原因": 30, "问题": 30, FLAGS: 20, NAME: 24, P_NAME: 28, "三级指标": 28}
FIXED_WIDTHS = {"处理意见": 30}


def _distinct(values: pd.Series) -> list:
    """One value of each kind a column shows alike (to size it without sizing every cell).

    Equal values show alike, except 0.0 and -0.0 (which Python and numpy take as equal): a
    negative zero is kept apart. Values of different types are kept apart (1, 1.0 and True).
    """
    array = values.to_numpy()
    if array.dtype.kind in "iu":
        return np.unique(array).tolist()
    if array.dtype.kind == "f":
        found = array[np.isfinite(array)]
        out = np.unique(found).tolist()
        if np.any((found == 0) & np.signbit(found)):
            out.append(-0.0)
        return out
    listed = array.tolist() if array.dtype.kind == "O" else values.tolist()
    seen: dict = {}
    try:
        for v in listed:
            key = (v.__class__, v, math.copysign(1.0, v)) if v.__class__ is float else (v.__class__, v)
            if key not in seen:
                seen[key] = v
    except TypeError:  # a value that cannot be hashed: size every cell
        return listed
    return list(seen.values())


def _widths(columns: list, kinds: list[str], chunks: Iterable[pd.DataFrame]) -> list[tuple[float, bool]]:
    """(width, wrap) per column: the widest value, the header allowed to wrap on two lines, capped.

    The values come a chunk of rows at a time (a column's widest is the widest of its chunks' widest).
    """
    widest = [0] * len(columns)
    sized = [c for c, column in enumerate(columns) if column not in FIXED_WIDTHS]
    for chunk in chunks:
        for c in sized:
            found = max((text_width(_shown(v, kinds[c])) for v in _distinct(chunk.iloc[:, c])), default=0)
            widest[c] = max(widest[c], found)
    out = []
    for column, values in zip(columns, widest, strict=True):
        if column in FIXED_WIDTHS:
            out.append((FIXED_WIDTHS[column], True))
            continue
        parts = header_lines(column)
        header = max(text_width(p) for p in parts) if len(parts) > 1 else math.ceil(text_width(column) / 2) + 1
        width = max(values, header, MIN_WIDTH) + 2
        cap = WIDE_COLUMNS.get(column, MAX_WIDTH)
        out.append((min(width, cap), width > cap))
    return out


def _lines(text: str, width: float) -> int:
    """How many lines a wrapped text takes in a column of `width`."""
    return _text_lines(str(text), width)


@functools.lru_cache(maxsize=1 << 16)
def _text_lines(text: str, width: float) -> int:
    per_line = max(width - 2, 1)
    return sum(max(1, math.ceil(text_width(part) / per_line)) for part in str(text).split("\n"))


def _table(ws, styles: _Styles, frame: pd.DataFrame, row: int = 0, col: int = 0, *,
           widths: list[float] | None = None, sized: list[tuple[float, bool]] | None = None,
           record: checksum.SheetCells | None = None) -> int:
    """Write a table with its header at `row`; a last row labelled 合计 gets the total style. Returns the next row.

    Column widths are set from the content (or `sized`) unless `widths` (the sheet's existing widths) is given.
    """
    kinds = [column_kind(str(c)) for c in frame.columns]
    if widths is None and sized is None:
        sized = _widths(list(frame.columns), kinds, [frame])
    end, _ = _rows(ws, styles, list(frame.columns), len(frame), _chunks(frame), row, col, widths=widths,
                   sized=sized, record=record)
    return end


def _chunks(table: pd.DataFrame | RowSource, start: int = 0, stop: int | None = None) -> Iterator[pd.DataFrame]:
    """A table's rows start…stop-1 (the end by default), ROWS_PER_CHUNK at a time (a RowSource's made then)."""
    if isinstance(table, RowSource):
        yield from table.chunks(ROWS_PER_CHUNK, start, stop)
        return
    stop = len(table) if stop is None else min(stop, len(table))
    for first in range(start, stop, ROWS_PER_CHUNK):
        yield table.iloc[first:min(first + ROWS_PER_CHUNK, stop)]


def _rows(ws, styles: _Styles, names: list, n: int, chunks: Iterable[pd.DataFrame], row: int = 0, col: int = 0, *,
          widths: list[float] | None = None, sized: list[tuple[float, bool]] | None = None,
          record: checksum.SheetCells | None = None) -> tuple[int, bool]:
    """`_table` of a table with columns `names` and `n` rows, which come in chunks (never all held: a chunk is
    written and let go). Returns the next row and whether the last row was written as a 合计 row.

    Row heights are set where text wraps: LibreOffice does not grow rows on opening a file.
    `record` takes the cells written, as the checksum counts them (a covered sheet is written by one call).
    """
    kinds = [column_kind(str(c)) for c in names]
    if widths is not None:
        sized = [(w, True) for w in widths[col:col + len(names)]]
    lines = 1
    for c, (name, (width, _)) in enumerate(zip(names, sized, strict=True)):
        text = header_text(str(name), width)
        ws.write_string(row, col + c, text, styles.header)
        if record is not None:
            record.add(row, col + c, text)
        lines = max(lines, _lines(text, width))
        if widths is None:
            ws.set_column(col + c, col + c, width)
    ws.set_row(row, 14 * lines + 4)
    has_total = False
    wrapped = [c for c, (_, wrap) in enumerate(sized) if wrap]
    # short codes, grades and counts read better centred (and never touch the next column's text)
    centred = [kinds[c] == "general" and width <= 10 and not wrap for c, (width, wrap) in enumerate(sized)]
    formats = [styles.cell(kinds[c], wrap=sized[c][1], center=centred[c]) for c in range(len(kinds))]
    total_formats = [styles.cell(kinds[c], total=True, wrap=sized[c][1], center=centred[c] and c != 0)
                     for c in range(len(kinds))]
    last = row + n
    streamed = isinstance(ws, StreamedSheet) and last < ws.xls_rowmax and col + len(kinds) <= ws.xls_colmax
    first = row + 1
    for part in chunks:  # a chunk of rows at a time: nothing held for every cell
        columns = [part.iloc[:, c].tolist() for c in range(len(names))]
        # rows whose wrapped text takes more than a line grow: CJK fonts need 15 pt a line (LibreOffice clips at 13.5)
        lines = [[_text_lines(_shown(v, kinds[c]), sized[c][0]) for v in columns[c]] for c in wrapped]
        heights = list(map(max, *lines) if len(lines) > 1 else lines[0] if lines else [1] * len(part))
        if first + len(part) - 1 == last:  # the last chunk: it ends in 合计 or not
            has_total = str(part.iloc[-1, 0]) == TOTAL
        total = total_formats if has_total else None
        if streamed:
            _stream_rows(ws, columns, heights, formats, total, first, col, record)
        else:
            _write_rows(ws, columns, heights, formats, total, first, col, record)
        if record is not None:
            record.flush()
        first += len(part)
    if first != last + 1:
        raise AssertionError(f"a table of {first - row - 1} rows written, not the {n} announced")
    return last + 1, has_total


def _write_rows(ws, columns: list[list], heights: list[int], formats: list, total_formats: list | None,
                first: int, col: int, record: checksum.SheetCells | None) -> None:
    """Rows of `_table` from row `first` written the ordinary way (total_formats: the last is its 合计 row)."""
    for r, height in enumerate(heights, start=first):
        if height > 1:
            ws.set_row(r, 15 * height + 3)
    write_string, write_number = ws.write_string, ws.write_number
    last = first + len(heights) - 1
    for r, values in enumerate(zip(*columns, strict=True), start=first):
        fmts = total_formats if total_formats is not None and r == last else formats
        for c, value in enumerate(values):
            kind = value.__class__  # the common types written directly, the same way `_put` writes them
            if kind is str:
                written = checksum.cell_text(value)
                write_string(r, col + c, written, fmts[c])
            elif kind is float and value - value == 0:  # finite
                write_number(r, col + c, value, fmts[c])
                written = value
            else:
                written = _put(ws, r, col + c, value, fmts[c])
            if record is not None:
                record.add(r, col + c, written)


def _stream_rows(ws: StreamedSheet, columns: list[list], heights: list[int], formats: list, total_formats: list | None,
                 first: int, col: int, record: checksum.SheetCells | None) -> None:
    """Rows of `_table` from row `first` as XML: the cells `_put` would write, the heights it would set."""
    width = len(columns)
    names = column_names(col, width)
    spans = f"{col + 1}:{col + width}"
    keys = [ws.format_key(f) for f in formats] if _has_plain_rows(len(heights), total_formats) else []
    shared, convert_date = ws.shared_string, ws._convert_date_time
    parts: list[str] = []
    append = parts.append
    recorded = record.cells if record is not None else None  # the text cells go there directly
    last = first + len(heights) - 1
    for r, (values, height) in enumerate(zip(zip(*columns, strict=True), heights, strict=True), start=first):
        if total_formats is not None and r == last:
            keys = [ws.format_key(f) for f in total_formats]
        append(ws.row_start(r, spans, 15 * height + 3 if height > 1 else None))
        number = str(r + 1)
        for c, value in enumerate(values):
            kind = value.__class__  # the common types first, as `_put` writes them
            if kind is str:
                written = checksum.cell_text(value)
                append(f'<c r="{names[c]}{number}" s="{keys[c]}" t="s"><v>{shared(written)}</v></c>')
                if recorded is not None:
                    if written:  # SheetCells.add's first case (`written` is already as a cell keeps it)
                        recorded.append(((r + 1, col + c + 1), "s:" + written))
                    continue
            elif kind is float and value - value == 0:  # finite
                written = value
                append(f'<c r="{names[c]}{number}" s="{keys[c]}"><v>{value:.16G}</v></c>')
            else:
                written = _written(value)
                if written is None:
                    append(f'<c r="{names[c]}{number}" s="{keys[c]}"/>')
                elif written.__class__ is str:
                    append(f'<c r="{names[c]}{number}" s="{keys[c]}" t="s"><v>{shared(written)}</v></c>')
                elif written.__class__ is float:
                    append(f'<c r="{names[c]}{number}" s="{keys[c]}"><v>{written:.16G}</v></c>')
                else:  # a date: the number xlsxwriter's write_datetime stores
                    append(f'<c r="{names[c]}{number}" s="{keys[c]}"><v>{convert_date(written):.16G}</v></c>')
            if record is not None:
                record.add(r, col + c, written)
        append("</row>")
    if parts:
        ws.add_rows("".join(parts), last, col + width - 1)


#: Rows `_table` takes at a time (a streamed sheet spools each chunk's XML).
ROWS_PER_CHUNK = 1000


def _has_plain_rows(rows: int, total_formats: list | None) -> bool:
    """Whether a table has rows in the plain (not the 合计) style."""
    return rows > (0 if total_formats is None else 1)


#: The printable width of an A4 landscape page between the margins, in pixels (96 dpi): 11.69 in − 2 × 0.4 in.
PAGE_PIXELS = int((11.69 - 0.8) * 96) - 16
#: The smallest print scale (%): the 10 pt text prints at no less than 8 pt.
MIN_SCALE, MAX_SCALE = 80, 100
#: Columns holding a file: the sheets show its name (where it was kept on the bureau's disk says nothing).
FILE_COLUMNS = (FILE, "文件", "汇总文件")


#: Pixels per unit of column width as Excel draws it (Calibri 11), where the bureau prints. LibreOffice
#: draws the same with Calibri's metric twin Carlito (`make install-pdf` installs it); without it, it falls
#: back to a wider font (about 9.4) and breaks pages of its own.
CHAR_PIXELS = 7


def column_pixels(width: float) -> int:
    """A column's printed width at 100 %, in pixels at 96 dpi (in the widest common rendering)."""
    return 0 if width <= 0 else int(width * CHAR_PIXELS + 0.5) + 5


@dataclass(frozen=True)
class PrintLayout:
    """How a wide sheet prints: a scale, the columns repeated on every page, where pages break."""

    scale: int
    key_columns: int  # the first columns, up to the unit name: repeated on every page and frozen
    breaks: tuple[int, ...]  # 0-based column indices each starting a new page

    @property
    def pages_wide(self) -> int:
        return len(self.breaks) + 1


def print_layout(widths: list[float], key_columns: int, page: int = PAGE_PIXELS) -> PrintLayout:
    """The largest scale (≥ MIN_SCALE) and fewest pages across that print every column legibly.

    `widths` are the printed widths (0 for a hidden column); a page holds the key columns and
    as many of the next as fit; the scale is the largest that needs no more pages than MIN_SCALE does.
    """
    pixels = [column_pixels(w) for w in widths]
    key = sum(pixels[:key_columns])

    def breaks_at(scale: int) -> list[int]:
        room = page * 100 / scale
        out, used = [], sum(pixels[:key_columns])
        for c in range(key_columns, len(pixels)):
            if used + pixels[c] > room and used > key:
                out.append(c)
                used = key
            used += pixels[c]
        return out

    fewest = len(breaks_at(MIN_SCALE))
    for scale in range(MAX_SCALE, MIN_SCALE - 1, -5):
        breaks = breaks_at(scale)
        if len(breaks) <= fewest:
            if not breaks:  # one page across: as large as it fits
                scale = max(MIN_SCALE, min(MAX_SCALE, int(page * 100 / max(sum(pixels), 1))))
            return PrintLayout(scale, key_columns, tuple(breaks))
    return PrintLayout(MIN_SCALE, key_columns, tuple(breaks_at(MIN_SCALE)))


def _page(ws, title: str, sheet: str, *, header_rows: int | None = 0, landscape: bool = True,
          layout: PrintLayout | None = None) -> None:
    """A4, header rows (and the key columns) repeated, page numbers; printed at a legible scale.

    Without a `layout` the sheet is fitted to the page width (the 总览 and the hidden 元数据).
    """
    if landscape:
        ws.set_landscape()
    ws.set_paper(9)
    if layout is None:
        ws.fit_to_pages(1, 0)
    else:
        ws.set_print_scale(layout.scale)
        if layout.breaks:
            ws.set_v_pagebreaks(list(layout.breaks))
        if layout.breaks and layout.key_columns:
            ws.repeat_columns(0, layout.key_columns - 1)
    ws.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
    if header_rows is not None:
        ws.repeat_rows(0, header_rows)
    label = f"{title} · {sheet}".replace("&", "&&")
    ws.set_header(f'&C&"-,Bold"&11{label}', {"margin": 0.3})
    ws.set_footer("&C第 &P 页，共 &N 页", {"margin": 0.3})


def key_columns(columns: list[str], labels: tuple[str, ...] = (NAME, DISTRICT)) -> int:
    """How many first columns say whose row it is: up to the first of `labels` found (else the first column).

    Frozen on screen up to the unit name; repeated on printed pages up to the project name.
    """
    for label in labels:
        if label in columns:
            return columns.index(label) + 1
    return 1 if columns else 0


def file_name(value: object) -> object:
    """A file's name without its folders (either separator), other values as they are."""
    if isinstance(value, str) and value:
        return re.split(r"[\\/]", value)[-1]
    return value


def _file_names(values: pd.Series, names: dict[str, object]) -> pd.Series:
    """`file_name` of each value, equal paths sharing one name (`names`: the names found so far, by path)."""

    def name(value: object) -> object:
        if value.__class__ is not str:
            return file_name(value)
        found = names.get(value)
        if found is None:
            found = names[value] = file_name(value)
        return found

    return values.map(name)


#: The sheets the 总览 charts draw from (`_rate_chart`).
CHARTED_SHEETS = ("部门汇总", "区县汇总")


#: The rows a sheet holds in Excel and WPS (a row more is lost, and xlsxwriter drops it without a word).
MAX_SHEET_ROWS = 1_048_576


def _sheet_parts(name: str, rows: int) -> list[tuple[str, int, int]]:
    """A table's sheets of at most MAX_SHEET_ROWS rows, its header on each: (“问题清单”, 0, 1048575),
    (“问题清单（续2）”, 1048575, …) …"""
    per_sheet = MAX_SHEET_ROWS - 1
    if rows <= per_sheet:
        return [(name, 0, rows)]
    return [(name if k == 1 else checksum.part_name(name, k), start, min(start + per_sheet, rows))
            for k, start in enumerate(range(0, rows, per_sheet), start=1)]


def _table_sheet(wb, styles: _Styles, name: str, table: pd.DataFrame | RowSource, start: int, stop: int, title: str,
                 meta: dict, record: checksum.SheetCells | None = None) -> None:
    """The sheet of a table's rows start…stop-1. Its rows are read twice, a chunk at a time: for the column widths
    (and so the wrapped rows' heights), then to be written."""
    # a sheet a chart draws from stays with xlsxwriter: it caches the chart's values from the cells it holds
    ws = wb.add_worksheet(name, worksheet_class=Worksheet if name in CHARTED_SHEETS else StreamedSheet)
    columns = [str(c) for c in table.columns]
    files = [c for c in FILE_COLUMNS if c in columns]
    names: dict[str, object] = {}  # a file's name by its path (a file's findings repeat its path on every row)

    def chunks() -> Iterator[pd.DataFrame]:
        for chunk in _chunks(table, start, stop):
            yield chunk.assign(**{c: _file_names(chunk[c], names) for c in files}) if files else chunk

    kinds = [column_kind(c) for c in columns]
    sized = _widths(columns, kinds, chunks())
    if len(columns):
        end, has_total = _rows(ws, styles, columns, stop - start, chunks(), sized=sized, record=record)
    else:
        end, has_total = 1, False
    data_last = end - 1 - has_total
    keys = key_columns(columns)
    ws.freeze_panes(1, keys if CODE in columns or DISTRICT in columns else 0)
    if len(columns):
        ws.autofilter(0, 0, max(data_last, 0), len(columns) - 1)
    printed = [width for width, _ in sized]
    for c, column in enumerate(columns):
        if "·" in column:  # funds by source: a collapsed column group, one click to open
            ws.set_column(c, c, 14, None, {"level": 1, "hidden": True})
            printed[c] = 0
    _highlights(ws, styles, name, columns, data_last, meta)
    _page(ws, title, name, layout=print_layout(printed, key_columns(columns, (P_NAME, NAME, DISTRICT))))


def _highlights(ws, styles: _Styles, name: str, columns: list[str], last: int, meta: dict) -> None:
    """Conditional formats: low rates and low grades; errors and unmet indicators."""
    if last < 1:
        return
    low = str(meta.get("等级", "")).split(",")[-2:]
    threshold = float(meta.get("低执行率阈值", 0.9))
    if RATE in columns:
        c = columns.index(RATE)
        ref = xlsxwriter.utility.xl_rowcol_to_cell(1, c, col_abs=True)
        ws.conditional_format(1, c, last, c, {"type": "formula", "format": styles.bad,
                                              "criteria": f"=AND(ISNUMBER({ref}),{ref}<{threshold})"})
    if GRADE in columns:
        c = columns.index(GRADE)
        for grade, fmt in zip(low, (styles.warn, styles.bad), strict=False):
            ws.conditional_format(1, c, last, c, {"type": "cell", "criteria": "==", "value": f'"{grade}"',
                                                  "format": fmt})
    for column, bad in (("级别", "错误"), ("是否达成", "否")):
        if column in columns:
            c = columns.index(column)
            ws.conditional_format(1, c, last, c, {"type": "cell", "criteria": "==", "value": f'"{bad}"',
                                                  "format": styles.bad})


# ------------------------------------------------------------------ 总览


OVERVIEW_WIDTHS = [34, 15, 15, 17, 36]


def _overview(wb, styles: _Styles, frames: dict[str, pd.DataFrame], meta: dict, title: str) -> None:
    ws = wb.add_worksheet("总览")
    for c, width in enumerate(OVERVIEW_WIDTHS):
        ws.set_column(c, c, width)
    ws.merge_range(0, 0, 0, 4, title, styles.title)
    ws.set_row(0, 28)
    ws.merge_range(1, 0, 1, 4, f"{meta.get('财政局', '')} · 评分规则：{meta.get('评分规则', '')} · "
                   f"生成时间：{meta.get('生成时间', '')}", styles.subtitle)
    row, anchors = 3, {}
    sections = (("总览", "一、总体情况"), ("等级分布", "二、项目等级分布"), ("执行率分布", "三、预算执行率分布"),
                ("问题统计", "四、审核发现的问题"), ("问题代码统计", "五、问题按类型统计"), ("口径说明", "六、口径说明"))
    for key, heading in sections:
        ws.write_string(row, 0, heading, styles.section)
        ws.set_row(row, 20)
        row += 1
        anchors[key] = row
        frame = frames[key]
        if key == "总览":
            row = _key_figures(ws, styles, frame, row)
        elif key == "口径说明":
            for text in frame["说明"]:
                ws.merge_range(row, 0, row, 4, str(text), styles.note)
                ws.set_row(row, 13.5 * _lines(text, sum(OVERVIEW_WIDTHS)) + 3)
                row += 1
        else:
            row = _table(ws, styles, frame, row, widths=OVERVIEW_WIDTHS)
        row += 1
    # the charts below the tables, each block on a page of its own (never cut by a page break)
    ws.set_h_pagebreaks(_charts(wb, ws, frames, meta, anchors, row + 1))
    tables = sum(column_pixels(w) for w in OVERVIEW_WIDTHS)
    scale = max(MIN_SCALE, min(MAX_SCALE, PAGE_PIXELS * 100 // tables))
    _page(ws, title, "总览", header_rows=None, layout=PrintLayout(scale, 0, ()))
    ws.activate()


#: The format of a change (this year − last year) for each kind of figure; money changes stay money.
_DELTA_KINDS = {"pct": "points_label", "score": "score_delta", "int": "int_delta"}  # a rate's change in 个百分点


def _key_figures(ws, styles: _Styles, frame: pd.DataFrame, row: int) -> int:
    """The key figures: each row formatted by its label; the 说明 column spans to column E."""
    columns = list(frame.columns)
    last = len(columns) - 1
    for c, name in enumerate(columns):
        if c == last and c < 4:
            ws.merge_range(row, c, row, 4, name, styles.header)
        else:
            ws.write_string(row, c, name, styles.header)
    for r, values in enumerate(frame.itertuples(index=False, name=None), start=row + 1):
        kind = _figure_kind(str(values[0]))
        ws.write_string(r, 0, str(values[0]), styles.cell("general"))
        for c in range(1, last):
            delta = c == 3 and last == 4  # the 变化 column of a year-over-year overview
            _put(ws, r, c, values[c], styles.cell(_DELTA_KINDS.get(kind, kind) if delta else kind))
        note = "" if _blank(values[last]) else str(values[last])
        wide = 36 if last == 4 else 66
        if last < 4:
            ws.merge_range(r, last, r, 4, note, styles.cell("general", wrap=True))
        else:
            ws.write_string(r, last, note, styles.cell("general", wrap=True))
        if text_width(note) > wide:
            ws.set_row(r, 14 * math.ceil(text_width(note) / wide) + 2)
    return row + len(frame) + 1


#: Rows a 288-pixel chart covers at the default row height (20 pixels), and a row of space after it.
CHART_ROWS = 16


def _charts(wb, ws, frames: dict[str, pd.DataFrame], meta: dict, anchors: dict[str, int], row: int) -> list[int]:
    """Native charts from `row` down: grades and rate bands on one page, the rate by department (or
    district) on the next; returns the rows a new page must start at, so no chart is cut in print."""
    at = row
    grades = frames["等级分布"]
    n = len(grades) - 1  # without 合计
    if n > 0:
        first = anchors["等级分布"] + 1
        chart = wb.add_chart({"type": "column"})
        chart.add_series({
            "name": "项目数", "categories": ["总览", first, 0, first + n - 1, 0],
            "values": ["总览", first, 1, first + n - 1, 1], "data_labels": {"value": True},
            "points": [{"fill": {"color": GRADE_COLOURS.get(g, "#729FCF")}} for g in grades[GRADE].iloc[:n]],
        })
        _style_chart(chart, "项目等级分布（个）", grades["项目数"].iloc[:n])
        ws.insert_chart(at, 0, chart)
        at += CHART_ROWS
    bands = frames["执行率分布"]
    n = len(bands) - 1
    if n > 0:
        first = anchors["执行率分布"] + 1
        chart = wb.add_chart({"type": "column"})
        chart.add_series({"name": "项目数", "categories": ["总览", first, 0, first + n - 1, 0],
                          "values": ["总览", first, 1, first + n - 1, 1], "data_labels": {"value": True},
                          "fill": {"color": "#3465A4"}})
        _style_chart(chart, "预算执行率分布（项目数）", bands["项目数"].iloc[:n])
        ws.insert_chart(at, 0, chart)
        at += CHART_ROWS
    breaks = [row] if at > row else []
    if _rate_chart(wb, ws, frames, meta, at):
        breaks.append(at)
    return breaks


def _rate_chart(wb, ws, frames: dict[str, pd.DataFrame], meta: dict, row: int) -> bool:
    """The rate of each department (or district) as a bar chart at `row`; False when there is none."""
    city = meta.get("层级") == LEVEL_CITY and "区县汇总" in frames
    sheet = "区县汇总" if city else "部门汇总"
    table = frames.get(sheet)
    if table is None or table.empty or RATE not in table:
        return False
    n = len(table) - (1 if str(table.iloc[-1, 0]) == TOTAL else 0)
    label = DISTRICT if city else NAME
    cat, val = list(table.columns).index(label), list(table.columns).index(RATE)
    chart = wb.add_chart({"type": "bar"})
    chart.add_series({"name": RATE, "categories": [sheet, 1, cat, n, cat], "values": [sheet, 1, val, n, val],
                      "data_labels": {"value": True, "num_format": _NUMBER_FORMATS["pct"]}, "fill": {"color": "#3465A4"},
                      "gap": 60})
    _style_chart(chart, f"各{'区县' if city else '单位'}预算执行率")
    chart.set_x_axis({"num_format": "0%", "min": 0, "major_gridlines": {"visible": True, "line": {"color": "#DDDDDD"}},
                      "num_font": {"name": FONT, "size": 9}})
    chart.set_y_axis({"reverse": True, "num_font": {"name": FONT, "size": 9}})
    # a bar per row: readable up to ~130 departments; beyond that the bars thin out rather than vanish
    chart.set_size({"width": 576, "height": max(200, min(70 + (24 if n <= 40 else 18) * n, 2400))})
    ws.insert_chart(row, 0, chart)
    return True


def _style_chart(chart, title: str, counts: pd.Series | None = None) -> None:
    chart.set_title({"name": title, "name_font": {"name": FONT, "size": 11, "bold": True}})
    chart.set_legend({"none": True})
    chart.set_x_axis({"num_font": {"name": FONT, "size": 9}})
    y_axis = {"num_font": {"name": FONT, "size": 9}, "min": 0,
              "major_gridlines": {"visible": True, "line": {"color": "#DDDDDD"}}}
    if counts is not None:  # whole numbers of projects: no 0.5 steps
        top = max(int(pd.to_numeric(counts, errors="coerce").fillna(0).max()), 1)
        y_axis.update(num_format="0", major_unit=max(1, math.ceil(top / 6)))
    chart.set_y_axis(y_axis)
    chart.set_size({"width": 576, "height": 288})


# ------------------------------------------------------------------ the workbook


def write_summary(frames: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Write the summary workbook atomically (总览 with charts, one sheet per table, hidden 元数据).

    A table may be a `RowSource`: its rows made a chunk at a time as its sheet is written, never held whole.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(zip(frames["元数据"]["项目"], frames["元数据"]["值"], strict=True))
    title = f"{meta.get('名称', '')}{meta.get('年度', '')}年度预算绩效自评情况汇总"
    with paused_gc(), atomic_write(path) as fh:
        wb = xlsxwriter.Workbook(fh, {**SAFE_WRITER, "default_date_format": "yyyy-mm-dd hh:mm"})
        try:
            _write_book(wb, frames, meta, title)
        finally:  # the streamed rows' spools, whether the workbook was saved or given up
            for ws in wb.worksheets():
                if isinstance(ws, StreamedSheet):
                    ws.discard_rows()
                ws.__dict__.clear()
            # the workbook's sheets hold it (its add_format …): a cycle only a full collection frees (a scan of
            # everything alive, the evaluation too); its cells and shared strings are freed now instead
            wb.__dict__.clear()
    text_width.cache_clear()  # memos of this write (their texts are mostly the tables')
    _text_lines.cache_clear()
    return path


def _write_book(wb, frames: dict[str, pd.DataFrame], meta: dict, title: str) -> None:
    wb.set_properties({"title": title, "subject": SUMMARY_SCHEMA, "author": str(meta.get("财政局", "")),
                       "comments": "由 perf-toolkit 生成"})
    wb.set_custom_property(marker.PROPERTY, marker.stamp(marker.SUMMARY))
    styles = _Styles(wb)
    _overview(wb, styles, frames, meta, title)
    digest = checksum.Digest()  # the covered sheets come in CHECKED_SHEETS order (it raises otherwise)
    for name in list(frames):
        if name in OVERVIEW_BLOCKS or name == "元数据":
            continue
        table = frames[name]
        for part, start, stop in _sheet_parts(name, len(table)):
            _table_sheet(wb, styles, part, table, start, stop, title, meta,
                         digest.sheet(part) if name in checksum.CHECKED_SHEETS else None)
    ws = wb.add_worksheet("元数据")
    facts = frames["元数据"].astype({"值": object})
    end = _table(ws, styles, facts, record=digest.sheet("元数据"))
    # the checksum of what rollup reads back, in a last row of its own (not part of what it covers)
    ws.write_string(end, 0, checksum.LABEL, styles.cell("general"))
    ws.write_string(end, 1, digest.value(), styles.cell("general"))
    ws.hide()
    wb.define_name(MARKER_NAME, f'="{SUMMARY_SCHEMA}"')
    wb.close()
