"""The city roll-up: district summaries read back and summarised one level up (区县 first).

A district summary comes from another office, so it is untrusted input: it is read through
`guard.load_raw` (sniffed, size-checked, parsed in a limited child process), its format
marker, checksum (`checksum`, over the cells read back) and row counts are checked, and its
amounts must be numbers. A file that is not a summary of this format version, is a city
roll-up itself, or has been cut or edited is reported by name in Chinese and left out, as is
every file in a named folder that is not read (not .xlsx, a lock file, a subfolder); the
others are summarised.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..check.intake import file_mtime
from ..config import Campaign
from ..numbers import PENDING, mean, minimum, money_sum, number_or_none, ratio
from ..workbook.guard import Limits, RawSheet, RawWorkbook, Rejection, load_raw_many
from ..workbook.xlsx import col_letters
from . import checksum
from .consolidate import assemble
from .tables import (
    BUDGET,
    CODE,
    DISTRICT,
    ERRORS,
    GRADE,
    INITIAL,
    LEVEL_CITY,
    LEVEL_DISTRICT,
    MEAN,
    MIN_SCORE,
    NAME,
    P_CODE,
    P_NAME,
    PREV_RATE,
    PROJECTS,
    RATE,
    RATE_CHANGE,
    SCORE,
    SPENT,
    SUMMARY_SCHEMA,
    TOTAL,
    WARNINGS,
    Counts,
    Meta,
    Tables,
)

#: A summary is far bigger than a department's form: more rows and columns may be read.
ROLLUP_LIMITS = Limits(max_file_bytes=200 * 2**20, max_uncompressed_bytes=1024 * 2**20, max_rows=200_000,
                       max_cols=60, wall_seconds=600.0, cpu_seconds=300)

#: The sheets read back, with the columns each must have.
REQUIRED: dict[str, tuple[str, ...]] = {
    "部门汇总": (CODE, NAME, PROJECTS, INITIAL, BUDGET, SPENT),
    "项目明细": (CODE, NAME, P_CODE, P_NAME, INITIAL, BUDGET, SPENT, RATE, SCORE, GRADE),
    "指标明细": (CODE, NAME, P_CODE, P_NAME),
    "问题清单": ("级别", "代码", CODE, NAME, "说明"),
    "未报送单位": (CODE, NAME),
}
NUMERIC = (INITIAL, BUDGET, SPENT, RATE, SCORE, PROJECTS)
#: Year-over-year columns belong to each district's own history: not carried up.
DROPPED = {PREV_RATE, RATE_CHANGE, "上年平均得分", "平均得分变化", "上年总分", "总分变化"}


class SummaryFormatError(ValueError):
    """A file that is not a readable district summary (message in Chinese)."""


@dataclass
class DistrictSummary:
    """One district summary read back: its 元数据 and its row tables (合计 rows dropped)."""

    file: str
    meta: dict
    tables: dict[str, pd.DataFrame]

    @property
    def name(self) -> str:
        return str(self.meta.get("名称") or Path(self.file).stem)

    @property
    def year(self) -> int | None:
        try:
            return int(self.meta.get("年度"))
        except (TypeError, ValueError):
            return None


# ------------------------------------------------------------------ reading one summary


def _rows(sheet: RawSheet) -> tuple[list[str], list[list]]:
    """The header (row 1) and the data rows of a table sheet, as the guard read them."""
    last_col = max((c for _, c in sheet.cells), default=0)
    last_row = max((r for r, _ in sheet.cells), default=0)
    # header cells may be broken over lines for display (summary_book.header_text)
    header = [str(sheet.cells.get((1, c), "")).replace("\n", "").strip() for c in range(1, last_col + 1)]
    rows = [[sheet.cells.get((r, c)) for c in range(1, last_col + 1)] for r in range(2, last_row + 1)]
    return header, rows


def _table(raw: RawWorkbook, name: str, counted: dict) -> pd.DataFrame:
    if raw.sheet(name) is None:
        raise SummaryFormatError(f"缺少“{name}”工作表")
    header: list[str] = []
    rows: list[list] = []
    for part in checksum.parts(name, {s.name for s in raw.sheets}):  # a long table goes on in “（续2）” …
        sheet = raw.sheet(part)
        if sheet.outside_count:
            raise SummaryFormatError(f"“{part}”工作表超出读取范围（{sheet.outside_first} 等处），汇总表过大或被改动")
        if sheet.formulas or sheet.errors:  # this toolkit writes values only
            r, c = min(sheet.formulas | set(sheet.errors))
            raise SummaryFormatError(f"“{part}”工作表的 {col_letters(c)}{r} 等处含有公式，本工具生成的汇总表只含数值，可能被改动")
        head, more = _rows(sheet)
        if part != name and head != header:
            raise SummaryFormatError(f"“{part}”工作表的表头与“{name}”不同，汇总表可能被改动")
        header = header or head
        rows += more
    expected = counted.get(f"行数:{name}")
    if expected is not None and int(expected) != len(rows):
        raise SummaryFormatError(f"“{name}”工作表应有 {int(expected)} 行数据，实际读到 {len(rows)} 行，汇总表可能被改动")
    missing = [c for c in REQUIRED.get(name, ()) if c not in header]
    if missing and rows:
        raise SummaryFormatError(f"“{name}”工作表缺少列：{'、'.join(missing)}")
    frame = pd.DataFrame(rows, columns=header) if header else pd.DataFrame()
    frame = frame.loc[:, [c for c in frame.columns if c and c not in DROPPED]]
    if len(frame) and frame.columns[0] == CODE:
        frame = frame[frame[CODE].astype(str) != TOTAL]
    frame = frame.reset_index(drop=True)
    for column in NUMERIC:
        if column in frame:
            # a number, a blank, or 待核实 (a figure the district could not know: kept as it is)
            bad = frame[column].map(lambda v: v is not None and v != PENDING and not isinstance(v, (int, float)))
            if bad.any():
                n = int(bad.idxmax()) + 2
                raise SummaryFormatError(f"“{name}”工作表第 {n} 行“{column}”不是数字，汇总表可能被改动")
            if frame[column].eq(PENDING).any():
                frame[column] = frame[column].map(lambda v: np.nan if v is None else v)
            else:
                frame[column] = pd.to_numeric(frame[column], errors="coerce")
    for column in frame.columns:  # text columns: blanks as "" (as in a district's own frames)
        if column not in NUMERIC and not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype(object).map(lambda v: "" if v is None or v != v else v)
    return frame


def read_summary(path: str | Path, loaded: RawWorkbook | Rejection) -> DistrictSummary:
    """A district summary from what the guard read; SummaryFormatError (Chinese) when it is not one."""
    if isinstance(loaded, Rejection):
        raise SummaryFormatError(f"文件无法读取：{loaded.reason}")
    meta_sheet = loaded.sheet("元数据")
    if meta_sheet is None:
        raise SummaryFormatError("不是 perf-toolkit 生成的绩效自评汇总表（没有“元数据”工作表）")
    header, rows = _rows(meta_sheet)
    meta = {str(r[0]): r[1] for r in rows if len(r) >= 2 and r[0] is not None}
    found = meta.get("格式")
    if found != SUMMARY_SCHEMA:
        raise SummaryFormatError(f"汇总表格式为“{found or '未知'}”，本工具只能读取“{SUMMARY_SCHEMA}”格式的区县汇总表")
    if meta.get("层级") != LEVEL_DISTRICT:
        raise SummaryFormatError(f"这是{meta.get('层级') or '未知层级'}汇总表，不是区县汇总表，不能再次汇总")
    if "【待填写" in str(meta.get("名称") or "【待填写"):
        raise SummaryFormatError("汇总表没有写明区县名称（生成时未配置 district），无法分辨是哪个区县的；"
                                 "请在 perf.toml 中设置 district 后重新生成该区县的汇总表")
    tables = {name: _table(loaded, name, meta) for name in REQUIRED}
    _verify(loaded)  # after the checks that can say what exactly is wrong
    return DistrictSummary(str(path), meta, tables)


def _verify(raw: RawWorkbook) -> None:
    """The checksum in 元数据 matches the cells read back: SummaryFormatError when it is missing or not."""
    facts = raw.sheet("元数据")
    cells = checksum.read_cells(facts.cells)
    stated = [v for (r, c), v in facts.cells.items() if c == 2 and cells.get((r, 1)) == "s:" + checksum.LABEL]
    if not stated:
        raise SummaryFormatError("汇总表的“元数据”中没有校验值（由旧版本生成，或元数据被改动），无法确认数据未被改动；"
                                 "请区县用新版本重新生成汇总表")
    present = {s.name for s in raw.sheets}
    sheets = {part: checksum.read_cells(raw.sheet(part).cells) for name in checksum.CHECKED_SHEETS
              if name in present for part in checksum.parts(name, present)}
    sheets["元数据"] = checksum.without_label(cells)
    if checksum.digest(sheets) != str(stated[0]).strip():
        raise SummaryFormatError("汇总表的数据与生成时的校验值不符，生成后被改动过（如手工修改了数字、单位或元数据）；"
                                 "请使用区县生成的原汇总表，或请区县重新生成")


def read_summaries(paths: Iterable[str | Path], *, limits: Limits = ROLLUP_LIMITS, jobs: int | None = None,
                   year: int | None = None) -> tuple[list[DistrictSummary], list[tuple[str, str]]]:
    """Read district summaries; returns those accepted and (file, reason) for each one left out."""
    accepted: list[DistrictSummary] = []
    rejected: list[tuple[str, str]] = []
    with contextlib.closing(load_raw_many(list(paths), limits, jobs=jobs)) as results:
        for path, loaded in results:
            try:
                accepted.append(read_summary(path, loaded))
            except SummaryFormatError as exc:
                rejected.append((str(path), str(exc)))
            except Exception:  # an edited file can be odd in ways no check foresaw: never a crash
                # a fixed reason: the exception's (English) name and text mean nothing to the reader
                rejected.append((str(path), "汇总表内容异常，无法汇总，可能被改动。请使用区县生成的原汇总表"))
    found_years = sorted({s.year for s in accepted if s.year is not None})
    if year is None and len(found_years) > 1:  # never the year of whichever file sorts first
        rejected.extend((s.file, f"汇总表的评价年度不止一个（{'、'.join(map(str, found_years))}），无法确定本次汇总的年度；"
                                 "请在配置文件中设置 year") for s in accepted)
        accepted = []
    if accepted:
        year = year if year is not None else accepted[0].year
        for s in [s for s in accepted if s.year != year]:
            accepted.remove(s)
            rejected.append((s.file, f"评价年度为 {s.year}，与本次汇总的 {year} 年度不同"))
    groups: dict[str, list[DistrictSummary]] = {}
    for s in accepted:  # one summary per district and year
        groups.setdefault(s.name, []).append(s)
    kept = []
    for name, group in groups.items():
        newest = max(group, key=lambda x: file_mtime(x.file) or dt.datetime.min)
        if all(_same_content(newest, s) for s in group):  # copies of one summary: the newest file stands
            kept.append(newest)
            rejected.extend((s.file, f"与 {newest.file} 是同一份{name}汇总表（内容相同），已按 {newest.file} 汇总")
                            for s in group if s is not newest)
            continue
        for s in group:  # different summaries claim one district: nobody can say which is right
            others = "、".join(o.file for o in group if o is not s)
            rejected.append((s.file, f"与 {others} 都是{name}{s.year}年度的汇总表但内容不同，无法确定以哪一份为准，"
                                     "都未汇总；请删除错误的一份后重新汇总"))
    return kept, rejected


def _same_content(a: DistrictSummary, b: DistrictSummary) -> bool:
    """Two summaries hold the same rows (the generation time in 元数据 may differ)."""
    return all(a.tables[name].equals(b.tables[name]) for name in REQUIRED)


# ------------------------------------------------------------------ one level up


def _with_district(frames: Sequence[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    parts = [f.assign(**{DISTRICT: name})[[DISTRICT, *f.columns]] for name, f in frames if len(f.columns)]
    if not parts:
        return pd.DataFrame(columns=[DISTRICT])
    return pd.concat(parts, ignore_index=True)


def _district_row(s: DistrictSummary, grades: tuple[str, ...]) -> dict:
    p, f = s.tables["项目明细"], s.tables["问题清单"]
    budget, spent = money_sum(p[BUDGET]), money_sum(p[SPENT])
    expected = s.meta.get("应报送单位数")
    row = {DISTRICT: s.name, "应报送单位数": expected if isinstance(expected, int) else None,
           "已报送单位数": _submitted(s), "未报送单位数": len(s.tables["未报送单位"]), PROJECTS: len(p),
           INITIAL: money_sum(p[INITIAL]), BUDGET: budget, SPENT: spent, RATE: ratio(spent, budget),
           MEAN: mean(p[SCORE]), MIN_SCORE: minimum(p[SCORE]) if len(p) else None}
    for g in grades:
        row[g] = int((p[GRADE] == g).sum())
    row.update({ERRORS: int((f["级别"] == "错误").sum()), WARNINGS: int((f["级别"] == "警告").sum()),
                "汇总文件": s.file, "生成时间": s.meta.get("生成时间")})
    return row


def _submitted(s: DistrictSummary) -> int:
    """The district's submitted departments: as its summary counted them (departments whose files could not
    be read included), else its 部门汇总 rows (a summary written before that count existed)."""
    counted = s.meta.get("已报送单位数")
    return counted if isinstance(counted, int) else len(s.tables["部门汇总"])


def rollup_frames(summaries: Sequence[DistrictSummary], campaign: Campaign, *, name: str | None = None,
                  generated: dt.datetime | None = None) -> dict[str, pd.DataFrame]:
    """The city summary's frames from district summaries (pure)."""
    grades: list[str] = []
    for s in summaries:
        for g in str(s.meta.get("等级") or "优,良,中,差").split(","):
            if g and g not in grades:
                grades.append(g)
    grades_t = tuple(grades) or ("优", "良", "中", "差")
    tables = {key: _with_district([(s.name, s.tables[key]) for s in summaries]) for key in REQUIRED}
    counts = Counts(submitted=sum(_submitted(s) for s in summaries), missing=len(tables["未报送单位"]))
    expected = [s.meta.get("应报送单位数") for s in summaries]
    counts.expected = sum(expected) if expected and all(isinstance(e, int) for e in expected) else None
    for attr in ("unknown", "unreadable_departments", "files", "unreadable", "superseded", "skipped"):
        label = dict(Counts.LABELS)[attr]
        setattr(counts, attr, sum(int(s.meta.get(label) or 0) for s in summaries))
    districts = pd.DataFrame([_district_row(s, grades_t) for s in summaries])
    profiles = "、".join(dict.fromkeys(str(s.meta.get("评分规则") or "") for s in summaries)) or ""
    year = summaries[0].year if summaries else campaign.year
    # each district's threshold for budget cuts (its profile's); the lowest lists every cut a district would
    cuts = [c for s in summaries if (c := number_or_none(s.meta.get("预算调减阈值"))) is not None]
    meta = Meta(LEVEL_CITY, name or campaign.district, year or campaign.year, campaign.bureau, profiles, grades_t,
                campaign.low_execution_rate, min(cuts) if cuts else None)
    t = Tables(tables["项目明细"], tables["部门汇总"], tables["指标明细"], tables["问题清单"], tables["未报送单位"],
               counts, districts)
    return assemble(t, meta, None, generated=generated)


class NothingToRollUp(SummaryFormatError):
    """Not one district summary could be used: nothing is written."""


def summary_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """The summaries named: files as given, folders by their .xlsx; and (file, reason) for every other
    entry of a folder (Office lock files, hidden files, other files, subfolders), so none goes unnamed."""
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        for entry in sorted(path.iterdir()):
            if entry.name.startswith("~$"):
                skipped.append((str(entry), "Office 打开文件时生成的临时文件，不是汇总表"))
            elif entry.name.startswith("."):
                skipped.append((str(entry), "隐藏文件，不读取"))
            elif entry.is_dir():
                skipped.append((str(entry), "子文件夹，不读取其中的文件；需要时请单独列出"))
            elif entry.suffix.lower() != ".xlsx":
                skipped.append((str(entry), f"不是 .xlsx 文件（扩展名“{entry.suffix or '无'}”），汇总表应为 .xlsx 文件"))
            else:
                files.append(entry)
    return files, skipped


def rollup(paths: Iterable[str | Path], output: str | Path, campaign: Campaign, *, name: str | None = None,
           year: int | None = None, limits: Limits = ROLLUP_LIMITS,
           jobs: int | None = None) -> tuple[list[DistrictSummary], list[tuple[str, str]]]:
    """Read district summaries (files or folders) and write the city summary.

    Returns the summaries used and (file, reason) for each left out; NothingToRollUp when none
    could be used, in which case nothing is written.
    """
    from .book import write_summary

    files, skipped = summary_files(paths)
    summaries, rejected = read_summaries(files, limits=limits, jobs=jobs, year=year)
    rejected = skipped + rejected
    if not summaries:
        raise NothingToRollUp("没有可汇总的区县汇总表。" + "；".join(f"{f}：{r}" for f, r in rejected[:3]))
    write_summary(rollup_frames(summaries, campaign, name=name), output)
    return summaries, rejected
