"""Small builders for submissions in tests (the example, and variants of it)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from perf_toolkit.model import SourcedSubmission, submission_from_dict

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_JSON = ROOT / "workbook_templates" / "示例-退役军人事务局.json"


def example_dict() -> dict:
    """The reference report's project as a submission dict (a fresh copy each call)."""
    return json.loads(EXAMPLE_JSON.read_text(encoding="utf-8"))


def indicator(name="指标", level1="产出指标", level2="数量指标", direction="≥", target="100", unit="",
              actual="100", weight=10, claimed=None, note="", basis="依据") -> dict:
    return {"level1": level1, "level2": level2, "name": name, "direction": direction, "target": target,
            "unit": unit, "actual": actual, "weight": weight, "claimed_score": claimed, "basis": basis,
            "deviation_note": note}


def funds(initial=100, adjusted=100, executed=100) -> list[dict]:
    return [
        {"source": "当年财政拨款", "initial_budget": initial, "adjusted_budget": adjusted, "executed": executed},
        {"source": "上年结转资金", "initial_budget": 0, "adjusted_budget": 0, "executed": 0},
        {"source": "其他资金", "initial_budget": 0, "adjusted_budget": 0, "executed": 0},
    ]


def standard_indicators(**first) -> list[dict]:
    """A valid 50/30/10 set whose first indicator can be overridden."""
    inds = [
        indicator("数量", weight=20),
        indicator("质量", level2="质量指标", weight=10),
        indicator("时效", level2="时效指标", weight=10),
        indicator("成本", level2="成本指标", weight=10),
        indicator("社会效益", level1="效益指标", level2="社会效益指标", weight=30),
        indicator("满意度", level1="满意度指标", level2="服务对象满意度指标", target="≥90%", unit="%",
                  actual="95%", weight=10),
    ]
    inds[0].update(first)
    return inds


def submission(indicators=None, fund_rows=None, year=2023, **project) -> dict:
    """A one-project submission dict: all defaults valid (the example's figures and texts, made
    consistent), anything overridable."""
    data = example_dict()
    p = data["projects"][0]
    p["funds"] = fund_rows if fund_rows is not None else funds()
    p["indicators"] = indicators if indicators is not None else standard_indicators()
    p["budget_note"] = ""
    # the example's own achievement speaks of 医疗保险 against 养老保险 targets (achievement-term-mismatch)
    p["achievement"] = "2023年共完成5名符合条件退役士兵养老保险补缴，共计费用（单位承担部分）2.94万元。"
    p.update(project)
    data["year"] = year
    return data


def sourced(data: dict, file: str = "单位.xlsx", locations=None) -> SourcedSubmission:
    return SourcedSubmission(submission_from_dict(copy.deepcopy(data)), file=file, locations=locations or {})


def rewrite_part(path, part: str, edit) -> None:
    """Rewrite one XML part of a workbook in place (`edit`: its text → the new text), the rest as it was."""
    import shutil
    import zipfile

    with zipfile.ZipFile(path) as zf:
        parts = {info: zf.read(info) for info in zf.infolist()}
    for info, data in parts.items():
        if info.filename == part:
            parts[info] = edit(data.decode("utf-8")).encode("utf-8")
    tmp = Path(str(path) + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in parts.items():
            out.writestr(info, data)
    shutil.move(tmp, path)


def saved_formula(path, sheet: str, cell: str, formula: str, result=None, *, error: bool = False) -> None:
    """Put a formula into `cell` of a written workbook the way Excel saves one: with its result
    (`result`, a number or text; an error value such as "#DIV/0!" with `error`), or, with `result`
    None, with none, as a program that does not compute (openpyxl) leaves it."""
    import re
    import zipfile
    from xml.sax.saxutils import escape

    from perf_toolkit.workbook.xlsx import book

    with zipfile.ZipFile(path) as zf:
        part = next(p for name, p, _ in book(zf)[0] if name == sheet)
    if result is None:
        value, kind = "", ""
    elif isinstance(result, str):
        value, kind = f"<v>{escape(result)}</v>", ' t="e"' if error else ' t="str"'
    else:
        value, kind = f"<v>{result!r}</v>", ""
    new = f'<c r="{cell}"\\1{kind}><f>{escape(formula)}</f>{value}</c>'

    def edit(xml: str) -> str:
        # the cell as openpyxl wrote it (its style kept, its type and value replaced)
        xml, n = re.subn(rf'<c r="{cell}"((?: s="\d+")?)(?: t="\w+")?(?:/>|>.*?</c>)', new, xml, count=1)
        assert n == 1, f"{sheet}!{cell} not found"
        return xml

    rewrite_part(path, part, edit)


def text_cell(path, sheet: str, cell: str, text: str) -> None:
    """Put `text` into `cell` of a written workbook as an inline string, whatever its length: Excel and
    openpyxl cut text at 32,767 characters, another program (or a hostile sender) need not."""
    import re
    import zipfile
    from xml.sax.saxutils import escape

    from perf_toolkit.workbook.xlsx import book

    with zipfile.ZipFile(path) as zf:
        part = next(p for name, p, _ in book(zf)[0] if name == sheet)

    def inline(m: re.Match) -> str:  # the cell as openpyxl wrote it, its style kept
        return f'<c r="{cell}"{m[1]} t="inlineStr"><is><t>{escape(text)}</t></is></c>'

    def edit(xml: str) -> str:
        xml, n = re.subn(rf'<c r="{cell}"((?: s="\d+")?)(?: t="\w+")?(?:/>|>.*?</c>)', inline, xml, count=1)
        assert n == 1, f"{sheet}!{cell} not found"
        return xml

    rewrite_part(path, part, edit)


def saved_by_office(path, user: str = "王芳", later_minutes: int = 60) -> None:
    """Rewrite a workbook's docProps/core.xml as Excel or WPS does when someone saves it: their name
    in lastModifiedBy and a later modified time (the rest of the file as it was)."""
    import datetime as dt
    import re

    def edit(xml: str) -> str:
        modified = re.search(r"<dcterms:modified[^>]*>([^<]+)<", xml)[1]
        when = dt.datetime.fromisoformat(modified.replace("Z", "+00:00")) + dt.timedelta(minutes=later_minutes)
        xml = re.sub(r"(<dcterms:modified[^>]*>)[^<]+", r"\g<1>" + when.strftime("%Y-%m-%dT%H:%M:%SZ"), xml)
        return re.sub(r"<cp:lastModifiedBy>[^<]*</cp:lastModifiedBy>", f"<cp:lastModifiedBy>{user}</cp:lastModifiedBy>", xml)

    rewrite_part(path, "docProps/core.xml", edit)


# ------------------------------------------------------------------ a round of departments (status, feedback)

#: The example district's roster (examples/报送名单.csv).
DC_ROSTER = (
    ("DC-TYJRSWJ", "昆明市东川区退役军人事务局", "李明", "tyjrswj@example.gov.cn"),
    ("DC-JYTYJ", "昆明市东川区教育体育局", "王芳", "jytyj@example.gov.cn"),
    ("DC-NYNCJ", "昆明市东川区农业农村局", "赵强", "nyncj@example.gov.cn"),
    ("DC-WSJKJ", "昆明市东川区卫生健康局", "陈静", "wsjkj@example.gov.cn"),
    ("DC-MZJ", "昆明市东川区民政局", "刘洋", "mzj@example.gov.cn"),
)


def of_department(data: dict, code: str, name: str, email: str = "") -> dict:
    """`data` as department `code`'s submission (its contact's email replaced when given)."""
    data["department"].update(code=code, name=name)
    if email:
        data["department"]["contact"]["email"] = email
    return data


def clean_submission(code="DC-TYJRSWJ", name="昆明市东川区退役军人事务局", **kw) -> dict:
    """No finding at all."""
    return of_department(submission(), code, name, **kw)


def warned_submission(code="DC-JYTYJ", name="昆明市东川区教育体育局", **kw) -> dict:
    """One warning (placeholder-text), no error."""
    return of_department(submission(goal="……"), code, name, **kw)


def faulty_submission(code="DC-NYNCJ", name="昆明市东川区农业农村局", actual="80", **kw) -> dict:
    """Errors and warnings (an unmet indicator claimed in full, a low rate unexplained …)."""
    data = submission(standard_indicators(actual=actual, claimed_score=20), fund_rows=funds(100, 70, 50))
    return of_department(data, code, name, **kw)


def write_workbook(folder: Path, name: str, data: dict, when: int | None = None) -> Path:
    """The standard workbook of `data` as `folder/name` (its modification time `when`, if given)."""
    import os

    from perf_toolkit.workbook.template import write_template

    folder.mkdir(parents=True, exist_ok=True)
    path = write_template(folder / name, submission_from_dict(copy.deepcopy(data)))
    if when is not None:
        os.utime(path, (when, when))
    return path


def broken_workbook(folder: Path, name: str, when: int | None = None) -> Path:
    """A file sent as a workbook whose bytes are no workbook (a transfer cut it short)."""
    import os

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"PK\x03\x04 not a whole zip: " + name.encode())  # each its own bytes
    if when is not None:
        os.utime(path, (when, when))
    return path


#: A round of three departments as they arrive: one clean, one with a warning, one with errors.
ROUND_DEPARTMENTS = {"甲.xlsx": clean_submission, "乙.xlsx": warned_submission, "丙.xlsx": faulty_submission}


def round_inbox(tmp_path: Path) -> Path:
    """A folder 收件箱 holding the three departments' workbooks of ROUND_DEPARTMENTS."""
    folder = tmp_path / "收件箱"
    for name, make in ROUND_DEPARTMENTS.items():
        write_workbook(folder, name, make())
    return folder
