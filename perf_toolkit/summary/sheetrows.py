"""A table sheet's data rows written as XML in one go, byte for byte as xlsxwriter writes them.

xlsxwriter keeps an object per cell and writes each through a few Python calls: for the
summary's big tables (问题清单, 指标明细) that is most of the summary's cost. A `StreamedSheet`
takes a table's data rows instead as one XML text made while the values are written:

- each text goes into the workbook's shared strings then and there, in the order xlsxwriter
  would have put it (so sharedStrings.xml is the same), and the cell holds its index;
- numbers and dates are written as xlsxwriter writes them (`%.16G`, its date conversion);
- a cell's style index is known only when the workbook is saved (xlsxwriter numbers formats
  in the order it first writes them): the rows hold `{k}` for the sheet's k-th format and
  the indexes are filled in when xlsxwriter reaches the rows, in the same order;
- the rows come in chunks, spooled to a temporary file of the sheet's own (where xlsxwriter
  keeps its temporary files) and read back a chunk at a time: the memory they take does not
  grow with the table.

What the sheet holds is what `write_string`/`write_number`/`write_datetime`/`write_blank`
and `set_row` would have made (tests/test_sheetrows.py compares the files part by part).
"""

from __future__ import annotations

import tempfile

from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet


class StreamedSheet(Worksheet):
    """A worksheet whose data rows below the cells written the ordinary way come as one XML text."""

    def __init__(self) -> None:
        super().__init__()
        self._spool = None  # the rows' XML, UTF-8, in chunks
        self._chunk_sizes: list[int] = []  # bytes
        self._row_formats: list[object] = []  # the formats in the order the rows first use them
        self._format_keys: dict[int, str] = {}

    def format_key(self, cell_format) -> str:
        """The placeholder of a cell format in the rows (numbered in the order of first use)."""
        key = self._format_keys.get(id(cell_format))
        if key is None:
            key = self._format_keys[id(cell_format)] = f"{{{len(self._row_formats)}}}"
            self._row_formats.append(cell_format)
        return key

    @property
    def shared_string(self):
        """text -> its index in the workbook's shared strings (added where write_string would add it)."""
        return self.str_table._get_shared_string_index

    def row_start(self, row: int, spans: str, height: float | None) -> str:
        """A <row> start tag as xlsxwriter writes it (`height` in points as set_row takes it, None: default)."""
        attributes = f'<row r="{row + 1}" spans="{spans}"'
        if height is not None:
            pixels = int(height * 4.0 / 3.0 + 0.5)
            if pixels != self.original_row_height or pixels != self.default_row_height:
                attributes += f' ht="{pixels * 0.75:.16g}" customHeight="1"'
        return attributes + ">"

    def add_rows(self, xml: str, last_row: int, last_col: int) -> None:
        """Rows (placeholders for formats) reaching down to `last_row`, across to `last_col`, after those added."""
        self._check_dimensions(last_row, last_col)
        if self._spool is None:
            self._spool = tempfile.TemporaryFile(dir=self.tmpdir)  # the folder xlsxwriter's parts go to
        data = xml.encode()
        self._spool.write(data)
        self._chunk_sizes.append(len(data))

    def _write_rows(self) -> None:
        if self._spool is None:
            super()._write_rows()
            return
        # the cells written the ordinary way (the header row) come first. xlsxwriter walks every row of the
        # sheet's dimensions and looks each up in its defaultdict of cells, leaving an empty dict a row (~130
        # bytes: 125 MiB for a million streamed rows) held until the workbook is done: it walks only down to
        # the last row it holds anything of (the streamed rows come after it)
        ordinary = max((*self.table, *self.row_info, *self.comments), default=self.dim_rowmin)
        whole = self.dim_rowmax
        self.dim_rowmax = min(whole, max(ordinary, self.dim_rowmin))
        try:
            super()._write_rows()
        finally:
            self.dim_rowmax = whole
        indexes = [f._get_xf_index() for f in self._row_formats]
        spool, write = self._spool, self.fh.write
        spool.seek(0)
        for size in self._chunk_sizes:
            xml = spool.read(size).decode().format(*indexes)
            if "{" in xml or "}" in xml:  # the rows hold numbers and indexes only: a brace is a bug
                raise AssertionError(f"{self.name}: a brace in the rows' XML besides the format placeholders")
            write(xml)
        self.discard_rows()

    def discard_rows(self) -> None:
        """Close the rows' spool (when the sheet is saved, or the workbook given up)."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None
            self._chunk_sizes = []


def column_names(first: int, count: int) -> list[str]:
    """The column letters of `count` columns from `first` (0-based)."""
    return [xl_col_to_name(c) for c in range(first, first + count)]
