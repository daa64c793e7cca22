"""The checksum a summary carries in its 元数据 sheet, over the cells `rollup` reads back.

The writer records each cell as the reader will see it (a number as the text xlsxwriter
stores, an integral number as an int, a date to the second, an empty text as no cell), so
the checksum of an untouched file matches and a figure edited by hand does not. It proves
nothing against a forger (anyone can recompute it); it catches a hand edit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import operator
from collections.abc import Mapping

from ..text import MAX_CELL_TEXT

#: The sheets covered: those rollup reads back, and the 元数据 (minus the checksum row itself).
CHECKED_SHEETS = ("部门汇总", "项目明细", "指标明细", "问题清单", "未报送单位", "元数据")
#: A table longer than a sheet holds goes on in sheets named `part_name(name, 2)`, `part_name(name, 3)` …;
#: the checksum covers each right after the sheet it continues (a summary without them: as before).
PART_NAME = "{name}（续{k}）"
#: The 元数据 label of the checksum row.
LABEL = "校验值"
PREFIX = "sha256:"
#: The most a cell holds, in UTF-16 units as Excel counts (a character beyond U+FFFF, an emoji, is two).
MAX_TEXT = MAX_CELL_TEXT


def cell_text(text: str) -> str:
    """`text` as a cell keeps it: the writer writes this (never leaving the cut to xlsxwriter, whose rule
    differs between versions) and the checksum covers it."""
    if len(text) <= MAX_TEXT // 2:  # cannot be over, however many characters are wide
        return text
    units = 0
    for i, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > MAX_TEXT:
            return text[:i]
    return text

Cells = Mapping[tuple[int, int], object]  # (row, column), 1-based, as the guard reads them


def canonical(value: object, *, written: bool = False) -> str | None:
    """A cell value as text, the same on writing and on reading back; None for an empty cell.

    `written`: the value as handed to xlsxwriter (numbers pass through the text it stores).
    """
    if value is None:
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        when = value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())
        when = (when.replace(tzinfo=None) + dt.timedelta(microseconds=500_000)).replace(microsecond=0)
        return "d:" + when.isoformat(sep=" ")
    if isinstance(value, str):
        text = cell_text(value) if written else value
        return None if text == "" else "s:" + text
    try:
        number = float(value)  # numpy numbers too
    except (TypeError, ValueError):
        return "s:" + str(value)
    if math.isnan(number) or math.isinf(number):
        return None
    if written:
        number = float(f"{number:.16G}")
    return "n:" + (str(int(number)) if number.is_integer() and abs(number) < 2**53 else f"{number:.15g}")


def part_name(name: str, k: int) -> str:
    """The k-th sheet (k ≥ 2) of a table longer than a sheet holds."""
    return PART_NAME.format(name=name, k=k)


def parts(name: str, present) -> list[str]:
    """The sheets holding table `name` among the sheet names `present`: itself, then its continuations."""
    found = [name]
    while part_name(name, len(found) + 1) in present:
        found.append(part_name(name, len(found) + 1))
    return found


def digest(sheets: Mapping[str, Cells]) -> str:
    """The checksum of the covered sheets' cells (a sheet absent counts as empty), each table's
    continuation sheets right after it."""
    h = hashlib.sha256()
    for name in CHECKED_SHEETS:
        for part in parts(name, sheets):
            cells = sorted((rc, v) for rc, v in sheets.get(part, {}).items() if v is not None)
            h.update(json.dumps([part, cells], ensure_ascii=False).encode())
    return PREFIX + h.hexdigest()


def read_cells(cells: Cells) -> dict[tuple[int, int], str]:
    """The canonical cells of a sheet as the guard read it."""
    out = {}
    for rc, value in cells.items():
        text = canonical(value)
        if text is not None:
            out[rc] = text
    return out


def without_label(cells: Mapping[tuple[int, int], str], label_column: int = 1) -> dict[tuple[int, int], str]:
    """The 元数据 cells without the checksum's own row."""
    rows = {r for (r, c), v in cells.items() if c == label_column and v == "s:" + LABEL}
    return {rc: v for rc, v in cells.items() if rc[0] not in rows}


class SheetCells:
    """The cells of one covered sheet, hashed as they are written (see `Digest`): holds a chunk at most."""

    #: Cells held before they are hashed.
    CHUNK = 4096

    def __init__(self, hash_, name: str) -> None:
        self._hash = hash_
        #: ((row, column), canonical text), 1-based, not yet hashed: the writer may append here directly.
        self.cells: list[tuple[tuple[int, int], str]] = []
        self._last = (0, 0)
        self._separator = ""
        self._closed = False
        hash_.update(("[" + json.dumps(name, ensure_ascii=False) + ", [").encode())

    def add(self, r: int, c: int, value: object) -> None:
        """What the writer wrote at (r, c), 0-based as xlsxwriter counts."""
        if value.__class__ is str:  # most cells: the text itself (canonical's first case, inlined)
            if value:
                self.cells.append(((r + 1, c + 1), "s:" + cell_text(value)))
        else:
            text = canonical(value, written=True)
            if text is not None:
                self.cells.append(((r + 1, c + 1), text))
        if len(self.cells) >= self.CHUNK:
            self.flush()

    def flush(self) -> None:
        """Hash the cells held: the items `json.dumps` writes for them in `digest`, joined as it joins them."""
        cells = self.cells
        if not cells:
            return
        if self._closed:
            raise AssertionError("checksum: cells added to a sheet already hashed")
        keys = [rc for rc, _ in cells]
        if not (self._last < keys[0] and all(map(operator.lt, keys, keys[1:]))):
            raise AssertionError("checksum: cells not written in (row, column) order: the streamed digest "
                                 "would differ from checksum.digest")
        self._last = keys[-1]
        self._hash.update((self._separator + json.dumps(cells, ensure_ascii=False)[1:-1]).encode())
        self._separator = ", "
        cells.clear()

    def close(self) -> None:
        self.flush()
        self._closed = True
        self._hash.update(b"]]")


class Digest:
    """`digest` computed while the covered sheets are written, without holding their cells.

    The same value as `digest` over the same cells, provided the sheets come in CHECKED_SHEETS order
    (one not begun counts as empty) and each sheet's cells in (row, column) order: anything else raises.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._next = 0  # the index in CHECKED_SHEETS of the first sheet not begun
        self._parts = 1  # sheets begun of the table last begun (its continuations follow it)
        self._open: SheetCells | None = None

    def sheet(self, name: str) -> SheetCells:
        """Begin a covered sheet, or the next continuation of the one last begun (the one before is then complete)."""
        if self._next and name == part_name(CHECKED_SHEETS[self._next - 1], self._parts + 1):
            self._parts += 1
        else:
            index = CHECKED_SHEETS.index(name)
            if index < self._next:
                raise AssertionError(f"checksum: sheet {name} written out of CHECKED_SHEETS order")
            self._skip_to(index)
            self._next, self._parts = index + 1, 1
        if self._open is not None:
            self._open.close()
        self._open = SheetCells(self._hash, name)
        return self._open

    def value(self) -> str:
        """The checksum (no sheet may be begun after)."""
        self._skip_to(len(CHECKED_SHEETS))
        self._next = len(CHECKED_SHEETS)
        return PREFIX + self._hash.hexdigest()

    def _skip_to(self, index: int) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None
        for name in CHECKED_SHEETS[self._next:index]:
            SheetCells(self._hash, name).close()
