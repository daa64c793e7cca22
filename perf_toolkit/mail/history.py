"""A department's versions in the round and the input cells that changed between two of them (`history`).

The cells compared are the standard workbook's input cells, as the reader locates them in
either version (by defined name or label), so a moved row is compared where it now is;
both files are parsed by the guarded, isolated reader.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..workbook.guard import RawWorkbook, Rejection, load_raw
from ..workbook.read import extract_submission, plain
from ..workbook.xlsx import cell_order, parse_a1
from .store import ACCEPTED, DUPLICATE, REJECTED, SUPERSEDED, Received, manifest

MAX_CHANGES = 500  # a list longer than this is cut (it would be a different workbook, not a correction)


@dataclass(frozen=True)
class CellChange:
    sheet: str
    cell: str
    old: object
    new: object


class CompareError(ValueError):
    """A version that cannot be read for comparison (message in Chinese)."""


def versions(db_path: str | os.PathLike[str], code: str) -> list[Received]:
    """A department's stored versions (duplicates and unreadable ones included), oldest first."""
    rows = [r for r in manifest(db_path) if r.dept_code == code.strip()
            and r.state in (ACCEPTED, SUPERSEDED, DUPLICATE, REJECTED)]
    return sorted(rows, key=lambda r: (r.when, r.id))


def changed_cells(old_path: str | os.PathLike[str], new_path: str | os.PathLike[str], *,
                  limit: int = MAX_CHANGES) -> list[CellChange]:
    """The input cells whose values differ between two versions, in sheet and reading order (at most `limit`)."""
    raws = [_raw(Path(p)) for p in (old_path, new_path)]
    cells: set[tuple[str, str]] = set()
    for raw in raws:
        sourced, _ = extract_submission(raw, raw.path)
        if sourced is not None:
            cells |= {(loc.sheet, loc.cell) for loc in sourced.locations.values() if loc.sheet and loc.cell}
    order = {s.name: i for i, s in enumerate(raws[1].sheets)} | {
        s.name: len(raws[1].sheets) + i for i, s in enumerate(raws[0].sheets) if s.name not in
        {t.name for t in raws[1].sheets}}
    changes = []
    for sheet, cell in sorted(cells, key=lambda c: (order.get(c[0], 1 << 30), cell_order(c[1]))):
        old, new = (_value(raw, sheet, cell) for raw in raws)
        if old != new:
            changes.append(CellChange(sheet, cell, old, new))
            if len(changes) >= limit:
                break
    return changes


def _raw(path: Path) -> RawWorkbook:
    loaded = load_raw(path)
    if isinstance(loaded, Rejection):
        raise CompareError(f"{path.name} 无法读取：{loaded.reason}")
    return loaded


def _value(raw: RawWorkbook, sheet: str, cell: str) -> object:
    grid, rc = raw.sheet(sheet), parse_a1(cell)
    if grid is None or rc is None:
        return None
    if rc in grid.formulas:
        return plain(grid.cached.get(rc))
    return plain(grid.errors.get(rc, grid.cells.get(rc)))
