"""The bureau's budget figures (CSV or xlsx): read, checked, one line per project and fund source.

`template --prefill` writes them into each department's workbook and locks them;
the checker reports a department that changed them (`budget-prefill-changed`).
This is the bureau's own file, so a malformed one is an error for the operator
(naming the row and column), not a finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..fsutil import TableFileError, read_table
from ..model import FUND_SOURCES
from ..spec import clean_label, normalise_source


class BudgetFileError(ValueError):
    """A malformed budget file: the message names the row and column."""


@dataclass(frozen=True)
class BudgetLine:
    """One row of the bureau's budget file: one fund source of one project."""

    dept_code: str
    project_code: str
    project_name: str
    source: str
    initial_budget: float | None
    adjusted_budget: float | None
    executed: float | None
    dept_name: str = ""



BUDGET_HEADERS = {"单位编码": "dept_code", "单位名称": "dept_name", "项目编码": "project_code",
                  "项目名称": "project_name", "资金来源": "source", "年初预算数": "initial_budget",
                  "全年预算数": "adjusted_budget", "全年执行数": "executed"}
MONEY_KEYS = ("initial_budget", "adjusted_budget", "executed")


def _budget_rows(path: Path) -> list[list[object]]:
    try:
        return read_table(path, "预算数据文件")
    except TableFileError as exc:
        raise BudgetFileError(str(exc)) from exc


def _money(value: object, row: int, column: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        try:
            number = float(str(value).strip().replace(",", "").replace("，", ""))
        except ValueError:
            raise BudgetFileError(f"预算数据第{row}行“{column}”列的值“{value}”不是数字（单位：万元）") from None
    if not math.isfinite(number):
        raise BudgetFileError(f"预算数据第{row}行“{column}”列的值“{value}”不是有效数字")
    return int(number) if number.is_integer() else number


def read_budget_csv(path) -> list[BudgetLine]:
    """Read the bureau's budget file (CSV in UTF-8/GB18030, or .xlsx), one line per project and source."""
    path = Path(path)
    rows = _budget_rows(path)
    start = next((i for i, row in enumerate(rows) if any(str(v or "").strip() for v in row)), None)
    if start is None:
        raise BudgetFileError(f"预算数据文件 {path.name} 是空的")
    columns: dict[str, int] = {}
    for j, header in enumerate(rows[start]):
        key = BUDGET_HEADERS.get(clean_label(header))
        if key and key not in columns:
            columns[key] = j
    missing = [h for h, k in BUDGET_HEADERS.items() if k != "dept_name" and k not in columns]
    if missing:
        raise BudgetFileError(f"预算数据文件 {path.name} 第{start + 1}行（表头）缺少列：{'、'.join(missing)}")
    header_of = {k: h for h, k in BUDGET_HEADERS.items()}
    lines, seen, owners = [], {}, {}
    names: dict[str, tuple[str, int]] = {}  # department code -> (its name, the row that named it)
    for i, row in enumerate(rows[start + 1:], start=start + 2):
        cell = {k: (row[j] if j < len(row) else None) for k, j in columns.items()}
        if not any(str(v or "").strip() for v in cell.values()):
            continue
        text = {k: str(cell.get(k) or "").strip() for k in ("dept_code", "dept_name", "project_code",
                                                           "project_name", "source")}
        for key in ("dept_code", "project_code", "project_name", "source"):
            if not text[key]:
                raise BudgetFileError(f"预算数据第{i}行“{header_of[key]}”列为空")
        source = normalise_source(text["source"])
        if source is None:
            raise BudgetFileError(f"预算数据第{i}行“资金来源”列的值“{text['source']}”无法识别，"
                                  f"应为：{'、'.join(FUND_SOURCES)}")
        owner = owners.setdefault(text["project_code"], (text["dept_code"], text["project_name"], i))
        if owner[:2] != (text["dept_code"], text["project_name"]):
            raise BudgetFileError(f"预算数据第{i}行：项目编码“{text['project_code']}”与第{owner[2]}行的单位编码"
                                  f"或项目名称不一致")
        named = names.setdefault(text["dept_code"], (text["dept_name"], i))
        if text["dept_name"] and named[0] and named[0] != text["dept_name"]:
            raise BudgetFileError(f"预算数据第{i}行：单位编码“{text['dept_code']}”的单位名称“{text['dept_name']}”"
                                  f"与第{named[1]}行的“{named[0]}”不一致")
        if text["dept_name"] and not named[0]:
            names[text["dept_code"]] = (text["dept_name"], i)
        key = (text["project_code"], source)
        if key in seen:
            raise BudgetFileError(f"预算数据第{i}行与第{seen[key]}行重复（同一项目的同一资金来源）")
        seen[key] = i
        money = {k: _money(cell[k], i, header_of[k]) for k in MONEY_KEYS}
        lines.append(BudgetLine(text["dept_code"], text["project_code"], text["project_name"], source,
                                dept_name=text["dept_name"], **money))
    if not lines:
        raise BudgetFileError(f"预算数据文件 {path.name} 没有数据行")
    return lines
