"""The example round's outputs, compared as text projections with tests/golden/ (see its README).

One round on examples/inbox per session (`run_round`: its mails, mailbox and zip collected into the
store, then the round on each department's current version); each output file is
projected to text (never compared as bytes), the parts that vary between runs are replaced
by placeholders, and the text must equal the golden file of the same name plus “.txt”.
`pytest --update-golden` rewrites the golden files instead.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import difflib
import email
import email.policy
import io
import json
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from builders import ROOT
from docx import Document
from docx.table import Table, _Cell

from perf_toolkit.config import ROUND_DB, load_config
from perf_toolkit.mail.store import STORE_DIR
from perf_toolkit.profile import load_profile
from perf_toolkit.run import (
    FEEDBACK_DIR,
    LOCK_FILE,
    MARKUP_DIR,
    REPORT_JSON,
    REPORTS_DIR,
    SUMMARY_XLSX,
    run_round,
)

GOLDEN = Path(__file__).parent / "golden"
INBOX = ROOT / "examples" / "inbox"
CONFIG = ROOT / "examples" / "perf.toml"
GOLDENS = sorted(p.relative_to(GOLDEN).as_posix().removesuffix(".txt") for p in GOLDEN.rglob("*.txt"))
HISTORY = "history.sqlite"
NOT_PROJECTED = {LOCK_FILE, HISTORY, ROUND_DB}  # binary state, not a deliverable; any other new output needs a projection
DIFF_LINES = 60  # a longer diff is cut: the golden file and `--update-golden` show the rest


# ------------------------------------------------------------------ projections


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".12g")  # the last bits of a float vary with pandas/numpy versions
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _sheet_csv(ws) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in ws.iter_rows(values_only=True):
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue()


def _one_line(text: str) -> str:
    return text.replace("\t", "\\t").replace("\n", "\\n")


def _table_rows(table: Table) -> list[str]:
    """Each row's cell text, tab-separated, one entry per cell in the XML (not per grid column):
    a merged cell appears once, the cells a vertical merge continues into are empty."""
    return ["\t".join(_one_line(_Cell(tc, table).text) for tc in tr.tc_lst) for tr in table._tbl.tr_lst]


def project_report(path: Path) -> str:
    """The report's body in order: a line per non-empty paragraph, a line per table row."""
    lines = []
    for block in Document(path).iter_inner_content():
        if isinstance(block, Table):
            lines += _table_rows(block)
        elif block.text.strip():
            lines.append(_one_line(block.text))
    return "\n".join(lines) + "\n"


def project_table(path: Path) -> str:
    """Every table of the 自评表, row by row; a blank line between tables."""
    return "\n".join("\n".join(_table_rows(t)) + "\n" for t in Document(path).tables)


def project_summary(path: Path) -> str:
    """Every sheet's values as CSV under a “## sheet” heading."""
    wb = openpyxl.load_workbook(path)
    return "\n".join(f"## {ws.title}\n{_sheet_csv(ws)}" for ws in wb.worksheets)


def project_markup(path: Path) -> str:
    """The first (issues) sheet as CSV, then every comment as sheet, cell and text."""
    wb = openpyxl.load_workbook(path)
    comments = [f"{ws.title}\t{c.coordinate}\t{_one_line(c.comment.text)}"
                for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.comment]
    return f"## {wb.worksheets[0].title}\n{_sheet_csv(wb.worksheets[0])}\n## comments\n" + \
        "".join(line + "\n" for line in comments)


def project_json(path: Path) -> str:
    return json.dumps(json.loads(path.read_text(encoding="utf-8")), ensure_ascii=False, indent=2,
                      sort_keys=True) + "\n"


def project_draft(path: Path) -> str:
    """A mail draft as its recipient reads it: the decoded headers (not Date and Message-ID, new each run),
    the text, and each attachment's decoded name."""
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    lines = [f"{h}: {msg[h]}" for h in ("From", "To", "Cc", "Subject", "X-Unsent") if msg[h] is not None]
    lines += ["", msg.get_body(("plain",)).get_content().replace("\r\n", "\n").rstrip(), ""]
    lines += [f"附件: {part.get_filename()} ({part.get_content_type()})" for part in msg.iter_attachments()]
    return "\n".join(lines) + "\n"


def projector(name: str) -> Callable[[Path], str]:
    """The projection for an output, by its path relative to the output folder."""
    if name == REPORT_JSON:
        return project_json
    if name == SUMMARY_XLSX:
        return project_summary
    if name.startswith(f"{MARKUP_DIR}/") and name.endswith(".xlsx"):
        return project_markup
    if name.startswith(f"{REPORTS_DIR}/") and name.endswith(("-绩效自评报告.docx", "-审核附注.docx")):
        return project_report
    if name.startswith(f"{REPORTS_DIR}/") and name.endswith("-自评表.docx"):
        return project_table
    if name.startswith(f"{FEEDBACK_DIR}/") and name.endswith(".eml"):
        return project_draft
    raise KeyError(name)


# ------------------------------------------------------------------ the round and what varies between runs


@dataclasses.dataclass
class ExampleRound:
    out: Path
    outputs: list[str]  # paths relative to `out` that have a projection
    unprojected: list[str]  # other files written, outside NOT_PROJECTED
    replacements: list[tuple[str, str]]  # (text, placeholder), applied in order
    updated: bool = False  # --update-golden: the golden files were just rewritten from this round

    def projection(self, name: str) -> str:
        text = projector(name)(self.out / name)
        for old, new in self.replacements:
            text = text.replace(old, new)
        return text


def _summary_checksums(out: Path) -> list[str]:
    """The 校验值 in the 元数据 of each summary written."""
    import openpyxl

    found = []
    for path in out.glob("*.xlsx"):  # the summaries, not the departments' workbooks kept in 原件/
        wb = openpyxl.load_workbook(path, read_only=True)
        if "元数据" in wb.sheetnames:
            found += [str(row[1]) for row in wb["元数据"].iter_rows(values_only=True) if row and row[0] == "校验值"]
        wb.close()
    return found


def _volatile(out: Path, started: dt.datetime, finished: dt.datetime) -> list[tuple[str, str]]:
    """What legitimately differs between two runs of the same round, most specific first."""
    stamp = "%Y-%m-%d %H:%M:%S"
    seconds = int((finished - started).total_seconds())
    mtimes = {dt.datetime.fromtimestamp(p.stat().st_mtime).strftime(stamp) for p in INBOX.rglob("*")}
    hashes = sorted(p.name for p in (out / STORE_DIR).iterdir())  # change whenever `make example` rewrites the inbox
    return [
        *((c, "<checksum>") for c in _summary_checksums(out)),  # covers the 生成时间, so changes with it
        *((h, "<sha256>") for h in hashes),  # the store's folder of each workbook: its content's hash
        (str(out), "<out>"),  # the tmp output folder
        (str(ROOT), "<repo>"),  # where the clone is: input paths in the findings and the summary
        *((m, "<mtime>") for m in sorted(mtimes)),  # the inbox files' mtimes (checkout time): 部门汇总
        *(((started + dt.timedelta(seconds=s)).strftime(stamp), "<now>") for s in range(seconds + 1)),  # 生成时间
        *((f"{d.year}年{d.month}月{d.day}日", "<today>")  # 审核日期 of the marked-up copies
          for d in sorted({started.date(), finished.date()})),
    ]


@pytest.fixture(scope="session")
def example_round(tmp_path_factory, request) -> ExampleRound:
    """The whole round on the example inbox, once per session (history in the tmp folder, so fresh)."""
    out = tmp_path_factory.mktemp("round") / "output"
    campaign = dataclasses.replace(load_config(CONFIG), history_path=out / HISTORY)
    started = dt.datetime.now().replace(microsecond=0)
    run_round([INBOX], campaign, load_profile(campaign.profile), out)
    finished = dt.datetime.now()
    outputs, unprojected = [], []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        name = path.relative_to(out).as_posix()
        if name.startswith(f"{STORE_DIR}/"):
            continue  # the received workbooks themselves, byte for byte (tests/test_collect.py)
        try:
            projector(name)
            outputs.append(name)
        except KeyError:
            if name not in NOT_PROJECTED:
                unprojected.append(name)
    result = ExampleRound(out, outputs, unprojected, _volatile(out, started, finished),
                          updated=request.config.getoption("--update-golden"))
    if result.updated:
        _rewrite_goldens(result)
    return result


def _rewrite_goldens(result: ExampleRound) -> None:
    for stale in GOLDEN.rglob("*.txt"):
        stale.unlink()
    for name in result.outputs:
        path = GOLDEN / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.projection(name), encoding="utf-8", newline="\n")


def _diff(expected: str, actual: str, name: str) -> str:
    lines = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), f"golden/{name}.txt",
                                      f"output/{name}", n=2, lineterm=""))
    if len(lines) > DIFF_LINES:
        lines = lines[:DIFF_LINES] + [f"... {len(lines) - DIFF_LINES} more diff lines"]
    return "\n".join(lines)


# ------------------------------------------------------------------ tests


def test_golden_files_name_every_output(example_round):
    assert example_round.unprojected == [], "new outputs: give them a projection in test_golden.projector"
    missing = sorted(set(example_round.outputs) - set(GOLDENS))
    stale = sorted(set(GOLDENS) - set(example_round.outputs))
    if (missing or stale) and not example_round.updated:
        pytest.fail(f"outputs without a golden file: {missing}; golden files without an output: {stale}. "
                    "Run `pytest --update-golden` and review the new golden files.", pytrace=False)


@pytest.mark.parametrize("name", GOLDENS)
def test_golden_projection_matches(example_round, name):
    if name not in example_round.outputs:
        if example_round.updated:
            pytest.skip(f"{name} is no longer an output; its golden file was removed")
        pytest.fail(f"the round no longer writes {name} (golden/{name}.txt)", pytrace=False)
    actual = example_round.projection(name)
    expected = (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")
    if actual != expected:
        pytest.fail(f"{name} differs from its golden file; if the change is intended, run "
                    f"`pytest --update-golden` and review the diff like code.\n{_diff(expected, actual, name)}",
                    pytrace=False)
