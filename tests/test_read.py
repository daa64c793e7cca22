"""Reading workbooks back: exact round trips, label fallback, locations, reader findings, discovery."""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess

import pytest
from builders import example_dict, saved_formula, standard_indicators, submission
from openpyxl import Workbook, load_workbook

from perf_toolkit import spec
from perf_toolkit.model import shared_params, submission_from_dict, submission_to_dict
from perf_toolkit.workbook.budget import read_budget_csv
from perf_toolkit.workbook.guard import DefinedName, RawSheet, RawWorkbook, Rejection
from perf_toolkit.workbook.read import (
    ExportError,
    discover,
    export_workbook,
    extract_submission,
    parse_ref,
    plain,
    read_workbook,
    read_workbooks,
)
from perf_toolkit.workbook.template import write_prefilled, write_template


def _write(tmp_path, data: dict, name: str = "单位.xlsx", **kw):
    return write_template(tmp_path / name, submission_from_dict(copy.deepcopy(data)), **kw)


def _round_trip(tmp_path, data: dict) -> dict:
    read = read_workbook(_write(tmp_path, data))
    assert read.findings == []
    return submission_to_dict(read.sourced.submission)


def _cells(read, *paths) -> list[str]:
    return [f"{read.sourced.locations[p].sheet}!{read.sourced.locations[p].cell}" for p in paths]


# ------------------------------------------------------------------ round trips


def test_read_workbook_round_trip_of_the_example_is_exact(tmp_path):
    assert _round_trip(tmp_path, example_dict()) == example_dict()


def _indicator(i: int, **kw) -> dict:
    base = {"level1": "产出指标", "level2": "数量指标", "name": f"指标{i}", "direction": "≥", "target": 100 + i,
            "unit": "人", "actual": 100 + i, "weight": 1, "claimed_score": 1, "basis": "", "deviation_note": ""}
    base.update(kw)
    return base


def _variant_several_projects() -> dict:
    data = example_dict()
    first = data["projects"][0]
    empty = dict(copy.deepcopy(first), code="P-EMPTY", name="无指标的项目", indicators=[])
    many = dict(copy.deepcopy(first), code="P-40", name="四十个指标", indicators=[_indicator(i) for i in range(40)])
    data["projects"] = [first, empty, many]
    return data


def _variant_awkward_values() -> dict:
    data = example_dict()
    p = data["projects"][0]
    p["indicators"] = [
        _indicator(1, target="≥90%", actual="按时完成", unit="%"),
        _indicator(2, target="=100", actual="@全部", weight=None, claimed_score=None),
        _indicator(3, target="45.08", actual="-3", unit="+", direction="定性"),
        _indicator(4, target="#DIV/0!", actual=0.35, weight=12.5, claimed_score=12.25),
        _indicator(5, name='A&B <c> "d" \'e\' 😀 ☃', basis="tab\tinside", deviation_note="第一行\n第二行\n\n第四行"),
        _indicator(6, target="2023-12-31", actual="2023年12月底前", direction="≤"),
    ]
    p["funds"][0].update(initial_budget="45.08", adjusted_budget=0.1, executed=None)
    p["funds"][1].update(initial_budget=1234567.8901, adjusted_budget="一百", executed=-5)
    p["code"] = "=001"
    p["name"] = "@项目"
    p["budget_note"] = "+说明"
    data["department"]["code"] = "001"
    data["department"]["contact"]["phone"] = "+86 871 6212 0000"
    data["department"]["report_date"] = "2024年5月8日"
    data["department"]["evaluation_start"] = "2024-02-29"
    return data


def _variant_long_texts() -> dict:
    data = example_dict()
    long = "长" * 3000 + "\n" + "text " * 300
    p = data["projects"][0]
    for key in ("goal", "achievement", "deviation_reason", "improvement", "result_use", "disclosure", "other_notes"):
        p[key] = f"{key}：{long}".strip()
    p["indicators"][0]["basis"] = long.strip()
    data["department"]["duties"] = [f"职责{i}：" + "很长的职责说明" * 20 for i in range(25)]
    return data


def _variant_sparse() -> dict:
    data = example_dict()
    data["year"] = None
    dep = data["department"]
    for key in ("supervisor", "evaluation_unit", "evaluation_start", "evaluation_end", "report_date"):
        dep[key] = ""
    dep["duties"] = []
    dep["contact"] = {"name": "", "phone": "", "email": ""}
    p = data["projects"][0]
    p["funds"] = [{"source": s, "initial_budget": None, "adjusted_budget": None, "executed": None}
                  for s in ("当年财政拨款", "上年结转资金", "其他资金")]
    p["indicators"] = [_indicator(1, weight=None, claimed_score=None, target=None, actual=None, unit="",
                                  direction="", level2="")]
    for key in ("implementer", "budget_document", "goal", "achievement", "other_notes"):
        p[key] = ""
    return data


@pytest.mark.parametrize("make", [_variant_several_projects, _variant_awkward_values, _variant_long_texts,
                                  _variant_sparse], ids=lambda f: f.__name__)
def test_read_workbook_round_trip_of_variants_is_exact(tmp_path, make):
    data = make()
    assert _round_trip(tmp_path, data) == data


def test_read_workbook_locations_name_sheet_and_cell(tmp_path):
    data = example_dict()
    data["projects"].append(dict(copy.deepcopy(data["projects"][0]), code="P2"))
    read = read_workbook(_write(tmp_path, data))
    assert _cells(read, "year", "department.code", "department.contact.phone", "department.duties",
                  "department.duties[3]") == ["单位信息!B2", "单位信息!B3", "单位信息!B11", "单位信息!B13",
                                              "单位信息!B16"]
    assert _cells(read, "projects[0]", "projects[0].code", "projects[0].funds", "projects[0].funds[1].executed",
                  "projects[0].budget_note", "projects[0].indicators", "projects[0].indicators[2].target",
                  "projects[0].indicators[5].deviation_note") == [
        "项目1!D3", "项目1!D3", "项目1!D10", "项目1!F11", "项目1!D13", "项目1!A18", "项目1!E20", "项目1!K23"]
    assert _cells(read, "projects[0].execution_score", "projects[0].total_score",
                  "projects[0].funds_total.adjusted_budget", "projects[0].execution_rate") == [
        "项目1!J9", "项目1!H39", "项目1!E9", "项目1!H9"]
    assert _cells(read, "projects[1].code", "projects[1].indicators[0].name") == ["项目2!D3", "项目2!C18"]
    assert read.sourced.overrides == {} and read.sourced.prefilled == {}
    assert read.format == "xlsx" and len(read.sha256) == 64


def test_read_workbook_blank_template_has_no_projects(tmp_path):
    read = read_workbook(write_template(tmp_path / "空白.xlsx", year=2024))
    assert read.findings == []
    assert read.sourced.submission.projects == [] and read.sourced.submission.year == 2024
    assert not any(k.startswith("projects") for k in read.sourced.locations)


# ------------------------------------------------------------------ label fallback


def test_read_workbook_without_defined_names_reads_by_labels(tmp_path):
    path = _write(tmp_path, example_dict())
    wb = load_workbook(path)
    for name in list(wb.defined_names):
        del wb.defined_names[name]
    for ws in wb.worksheets:
        for name in list(ws.defined_names):
            del ws.defined_names[name]
    wb.save(path)
    read = read_workbook(path)
    assert read.findings == []
    assert submission_to_dict(read.sourced.submission) == example_dict()
    assert _cells(read, "projects[0].total_score", "projects[0].execution_score", "projects[0].goal") == [
        "项目1!H39", "项目1!J9", "项目1!D14"]


def test_read_workbook_rows_inserted_above_the_table_are_read_by_labels(tmp_path):
    """openpyxl's insert_rows moves cells but not names or merges: a name whose label no longer
    sits beside it is not trusted, and the field is found by its label instead."""
    path = _write(tmp_path, example_dict())
    wb = load_workbook(path)
    wb["项目1"].insert_rows(16, 3)
    wb.save(path)
    read = read_workbook(path)
    assert submission_to_dict(read.sourced.submission) == example_dict()
    assert _cells(read, "projects[0].indicators[2].target", "projects[0].other_notes",
                  "projects[0].total_score", "projects[0].goal") == ["项目1!E23", "项目1!D47", "项目1!H42",
                                                                     "项目1!D14"]


def test_read_workbook_level1_merged_down_applies_to_every_row(tmp_path):
    path = _write(tmp_path, example_dict())
    wb = load_workbook(path)
    ws = wb["项目1"]
    ws["A19"] = ws["A20"] = None
    ws.merge_cells("A18:A20")
    ws["B22"] = None
    ws.merge_cells("B21:B22")  # 二级 merged over two rows whose 一级 differ
    wb.save(path)
    read = read_workbook(path)
    indicators = read.sourced.submission.projects[0].indicators
    assert [i.level1 for i in indicators[:3]] == ["产出指标"] * 3
    assert indicators[4].level2 == "时效指标"
    assert _cells(read, "projects[0].indicators[2].level1", "projects[0].indicators[2].name") == [
        "项目1!A18", "项目1!C20"]
    assert len(indicators) == 6


def test_read_workbook_copied_sheet_without_names_is_read_by_labels(tmp_path):
    path = _write(tmp_path, example_dict())
    wb = load_workbook(path)
    copy_ws = wb.copy_worksheet(wb["项目1"])  # openpyxl copies no names: labels must carry it
    copy_ws["D3"] = "P-COPY"
    wb.save(path)
    read = read_workbook(path)
    projects = read.sourced.submission.projects
    assert [p.code for p in projects] == ["530113-2023-001", "P-COPY"]
    assert projects[1].indicators == projects[0].indicators
    assert _cells(read, "projects[1].code") == [f"{copy_ws.title}!D3"]


# ------------------------------------------------------------------ reader findings


def test_read_workbook_formula_in_an_input_cell_is_unreadable(tmp_path):
    path = _write(tmp_path, example_dict())
    wb = load_workbook(path)
    wb["项目1"]["G19"] = "=95%+5%"
    wb.save(path)
    read = read_workbook(path)
    assert read.sourced.submission.projects[0].indicators[1].actual is None
    [finding] = read.findings
    assert (finding.code, finding.severity, finding.sheet, finding.cell) == ("value-unreadable", "error", "项目1", "G19")
    assert "实际完成值" in finding.message and "公式" in finding.message
    assert finding.project == "530113-2023-001" and finding.file == str(path)


def test_read_workbook_typed_values_over_formulas_are_overrides(tmp_path):
    path = _write(tmp_path, example_dict())
    wb = load_workbook(path)
    ws = wb["项目1"]
    ws["E9"], ws["J9"], ws["H39"] = 3, 9, "95"
    wb.save(path)
    read = read_workbook(path)
    assert read.sourced.overrides == {"projects[0].funds_total.adjusted_budget": 3,
                                      "projects[0].execution_score": 9, "projects[0].total_score": "95"}
    assert read.findings == []


def test_read_workbook_prefill_changed_is_visible(tmp_path):
    csv_text = ("单位编码,单位名称,项目编码,项目名称,资金来源,年初预算数,全年预算数,全年执行数\n"
                "D01,区教育局,P-001,学生资助,当年财政拨款,100,120.5,118\n"
                "D01,区教育局,P-002,校舍维修,当年财政拨款,50,50,40\n"
                "D02,区卫健局,P-101,疫苗接种,当年财政拨款,30,30,29\n"
                "D02,区卫健局,P-102,健康宣传,其他资金,5,5,5\n")
    (tmp_path / "b.csv").write_text(csv_text, encoding="utf-8")
    paths = write_prefilled(read_budget_csv(tmp_path / "b.csv"), tmp_path / "out", year=2023)
    wb = load_workbook(paths[0])
    wb["项目2"]["E10"] = 500  # the department raised its own budget
    wb.save(paths[0])
    read = read_workbook(paths[0])
    pre, sub = read.sourced.prefilled, read.sourced.submission
    assert pre["projects[1].funds[0].adjusted_budget"] == 50
    assert sub.projects[1].funds[0].adjusted_budget == 500
    assert pre["projects[0].funds[0].adjusted_budget"] == sub.projects[0].funds[0].adjusted_budget == 120.5
    assert pre["projects[1].code"] == "P-002" and pre["department.code"] == "D01"
    assert [p.code for p in sub.projects] == ["P-001", "P-002"]  # the blank 项目3 is skipped
    other = read_workbook(paths[1])
    assert other.sourced.prefilled["projects[1].funds[2].executed"] == 5


def test_read_workbook_version_marker_of_another_version_warns_and_reads_labels(tmp_path):
    path = _write(tmp_path, example_dict())
    wb = load_workbook(path)
    wb["填报说明"]["B20"] = "perf-toolkit/workbook/v0"
    wb.save(path)
    read = read_workbook(path)
    [finding] = read.findings
    assert (finding.code, finding.severity, finding.sheet, finding.cell) == (
        "template-version-unknown", "warning", "填报说明", "B20")
    assert "perf-toolkit/workbook/v0" in finding.message
    assert submission_to_dict(read.sourced.submission) == example_dict()


def test_read_workbook_not_a_template_is_unrecognised(tmp_path):
    wb = Workbook()
    wb.active.append(["姓名", "金额"])
    wb.active.append(["张三", 12])
    wb.save(tmp_path / "随便.xlsx")
    read = read_workbook(tmp_path / "随便.xlsx")
    assert read.sourced is None
    assert [f.code for f in read.findings] == ["template-unrecognised"]
    with pytest.raises(ExportError, match="不是本工具下发的标准填报表"):
        export_workbook(tmp_path / "随便.xlsx")


def test_read_workbook_rejected_file_is_unreadable(tmp_path):
    path = tmp_path / "假的.xlsx"
    path.write_text("这不是表格", encoding="utf-8")
    read = read_workbook(path)
    assert read.sourced is None and read.format is None
    [finding] = read.findings
    assert finding.code == "file-unreadable" and finding.file == str(path)
    assert len(read.sha256) == 64


def test_export_workbook_gives_the_json_dict(tmp_path):
    assert export_workbook(_write(tmp_path, example_dict())) == example_dict()


def test_export_workbook_omits_fund_rows_without_amounts(tmp_path):
    data = example_dict()
    data["projects"][0]["funds"] = [{"source": "上年结转资金", "initial_budget": None, "adjusted_budget": "3.5",
                                     "executed": None}]
    data["projects"].append(dict(copy.deepcopy(data["projects"][0]), code="P-NO-FUNDS", funds=[]))
    path = _write(tmp_path, data)
    # the form has a row per source all the same; the reader keeps them, with their cells
    assert [f.source for f in read_workbook(path).sourced.submission.projects[0].funds] == [
        "当年财政拨款", "上年结转资金", "其他资金"]
    assert export_workbook(path) == data


def test_read_workbook_indicator_named_like_a_label_is_an_indicator(tmp_path):
    data = example_dict()
    indicators = data["projects"][0]["indicators"]
    indicators[1].update(level1="", level2="", name="总分")  # a stop label, but not in the table's first column
    indicators[2].update(name="资金合计")
    assert export_workbook(_write(tmp_path, data)) == data


def test_read_workbooks_keeps_discovery_order(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _write(inbox, example_dict(), name="b.xlsx")
    (inbox / "a.xlsx").write_bytes(b"not a zip")
    (inbox / "~$b.xlsx").write_bytes(b"lock")
    reads, skipped = read_workbooks([inbox], jobs=2)
    assert [r.file for r in reads] == [str(inbox / "a.xlsx"), str(inbox / "b.xlsx")]
    assert reads[0].findings[0].code == "file-unreadable" and reads[1].sourced is not None
    assert [s.path for s in skipped] == [str(inbox / "~$b.xlsx")]


def test_reads_from_the_workers_share_what_every_form_repeats(tmp_path):
    """A round holds 1,000s of reads of one template: each unpickled from a worker shares its field paths,
    places, vocabulary and findings' texts with the others instead of holding a copy (issue 10, memory)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("a.xlsx", "b.xlsx"):
        _write(inbox, example_dict(), name=name)
    where = read_workbook(inbox / "a.xlsx").sourced.where("projects[0].indicators[0].actual")
    for name in ("a.xlsx", "b.xlsx"):  # a formula with its result: a finding with params in each read
        saved_formula(inbox / name, where.sheet, where.cell, "1+1", 2)
    (a, b), _ = read_workbooks([inbox], jobs=2)
    assert [f.code for f in a.findings] == ["value-formula"] and a.findings[0].params
    assert a.sourced.locations is b.sourced.locations and a.sourced.submission == b.sourced.submission
    first, second = a.sourced.submission.projects[0].indicators[0], b.sourced.submission.projects[0].indicators[0]
    assert first.level1 is second.level1 and first.level2 is second.level2
    assert [f.to_dict() for f in a.findings] == [{**f.to_dict(), "file": a.file} for f in b.findings]
    for mine, theirs in zip(a.findings, b.findings, strict=True):
        assert mine.message is theirs.message and mine.params is theirs.params and mine.path is theirs.path


def test_shared_params_keep_values_that_print_apart_apart():
    """1, 1.0 and True are equal in Python, and so are 0.0 and -0.0, but JSON prints each its own way."""
    kinds = [{"x": 1}, {"x": 1.0}, {"x": True}, {"x": 0.0}, {"x": -0.0}, {"y": 1}, {"x": 1, "y": 2}, {"y": 2, "x": 1}]
    shared = [shared_params(dict(p)) for p in kinds]
    assert [json.dumps(p) for p in shared] == [json.dumps(p) for p in kinds]
    assert shared_params({"x": 1}) is shared[0] and shared_params({"x": [1]}) == {"x": [1]}  # unhashable: its own


def test_shared_params_cannot_be_changed_and_stay_shared_through_the_round_cache():
    # one dict serves every finding with the same params: changing it through one finding would change the
    # others' data (and what the check report says of them), so it refuses, in Chinese
    import copy
    import pickle
    import zlib

    from perf_toolkit.findings import make
    from perf_toolkit.run import _unpickled

    a = make("file-unreadable", file="甲.xlsx", reason="文件已损坏")
    b = make("file-unreadable", file="乙.xlsx", reason="文件已损坏")
    assert a.params is b.params
    for change in (lambda p: p.__setitem__("reason", "改"), lambda p: p.update(reason="改"), lambda p: p.pop("reason"),
                   lambda p: p.clear(), lambda p: p.setdefault("x", 1), lambda p: p.__delitem__("reason")):
        with pytest.raises(TypeError, match="不能修改"):
            change(a.params)
    assert b.params == {"reason": "文件已损坏"}
    mine = dict(a.params)
    mine["reason"] = "改"  # a copy is the caller's own
    kept = _unpickled(zlib.compress(pickle.dumps([a, b])))  # as the round's read and check caches keep them
    assert kept == [a, b] and kept[0].params is a.params is kept[1].params
    assert copy.deepcopy(a) == a and copy.deepcopy(a).params is a.params


def test_a_read_kept_by_the_round_cache_comes_back_whole_and_without_an_attribute_dict(tmp_path):
    # the submission's classes keep their fields in slots (a read holds ~60 of them, every one unpickled):
    # pickling, the round's trusted unpickler, copies and the dataclass helpers work as before
    import dataclasses
    import pickle
    import zlib

    from perf_toolkit.model import Indicator, Submission
    from perf_toolkit.run import _unpickled

    read = read_workbook(_write(tmp_path, example_dict()))
    kept = _unpickled(zlib.compress(pickle.dumps(read)))
    assert kept == read and submission_to_dict(kept.sourced.submission) == submission_to_dict(read.sourced.submission)
    sub = kept.sourced.submission
    indicator = sub.projects[0].indicators[0]
    for value in (sub, sub.department, sub.department.contact, sub.projects[0], sub.projects[0].funds[0], indicator):
        assert not hasattr(value, "__dict__")
    assert indicator.level1 is read.sourced.submission.projects[0].indicators[0].level1  # shared on unpickling
    with pytest.raises(AttributeError):
        indicator.note = "临时"  # no field of the form: refused, not kept on the side
    assert copy.deepcopy(sub) == sub and dataclasses.replace(indicator, actual="90") != indicator
    assert [f.name for f in dataclasses.fields(Indicator)][:3] == ["level1", "level2", "name"]
    assert pickle.loads(pickle.dumps(Submission())) == Submission()


def test_a_read_holds_one_copy_of_each_text_its_form_repeats(tmp_path):
    # the same 评分依据 under every indicator, "无" in many 说明, a project's texts copied to the next: one
    # copy each, in the read and in what the round's read cache gives back (the values are unchanged)
    import pickle
    import zlib

    from perf_toolkit.run import _unpickled

    data = example_dict()
    data["projects"] = [data["projects"][0], {**copy.deepcopy(data["projects"][0]), "code": "530113-2023-002"}]
    for p in data["projects"]:
        for ind in p["indicators"]:
            ind["deviation_note"] = "无"
    read = read_workbook(_write(tmp_path, data))
    assert read.findings == [] and submission_to_dict(read.sourced.submission) == data
    for sub in (read.sourced.submission, _unpickled(zlib.compress(pickle.dumps(read))).sourced.submission):
        first, second = sub.projects
        assert first.goal == second.goal and first.goal is second.goal and first.code is not second.code
        notes = {id(i.deviation_note) for p in sub.projects for i in p.indicators}
        bases = {id(i.basis) for p in sub.projects for i in p.indicators if i.basis == first.indicators[0].basis}
        assert len(notes) == 1 and len(bases) == 1


def test_reads_of_one_layout_share_their_locations_which_cannot_be_changed(tmp_path):
    # ~700 field paths → cells, the same for every department of a layout: one mapping serves them all, so
    # changing it through one read would move the others' places; it refuses, in Chinese
    import pickle
    import zlib

    from perf_toolkit.model import Location, SourcedSubmission
    from perf_toolkit.run import _unpickled

    a, b = (read_workbook(_write(tmp_path, example_dict(), name=name)) for name in ("甲.xlsx", "乙.xlsx"))
    two = example_dict()
    two["projects"] *= 2
    other = read_workbook(_write(tmp_path, two, name="丙.xlsx"))  # another layout: two project sheets
    assert a.sourced.locations is b.sourced.locations and other.sourced.locations is not a.sourced.locations
    assert other.sourced.locations != a.sourced.locations
    for change in (lambda m: m.__setitem__("year", Location("表", "A1")), lambda m: m.update(year=None),
                   lambda m: m.pop("year"), lambda m: m.clear(), lambda m: m.__delitem__("year"),
                   lambda m: m.setdefault("x", None), lambda m: m.popitem()):
        with pytest.raises(TypeError, match="不能修改"):
            change(a.sourced.locations)
    mine = dict(a.sourced.locations)
    mine["year"] = Location("表", "A1")  # a copy is the caller's own
    assert copy.copy(a.sourced.locations) == a.sourced.locations and b.sourced.locations["year"] != mine["year"]
    kept = _unpickled(zlib.compress(pickle.dumps([a, b])))  # as the round's read cache keeps them
    assert kept == [a, b] and kept[0].sourced.locations is a.sourced.locations is kept[1].sourced.locations
    again = copy.deepcopy(a.sourced)
    assert again == a.sourced and again.locations is a.sourced.locations
    assert SourcedSubmission(a.sourced.submission).locations == {}  # built by hand (JSON, tests): its own dict


# ------------------------------------------------------------------ extraction from a hand-built grid


def _raw_form() -> RawWorkbook:
    """A department's own layout: other columns, aliases, a two-row header, merges, errors, no names."""
    dept = RawSheet("单位", cells={(1, 1): "单位编码：", (1, 2): " X01 ", (2, 1): "单位全称", (2, 2): "某局",
                                  (3, 1): "评价年度", (3, 2): "2023年", (4, 1): "自评开始日期", (4, 2): 45410,
                                  (5, 1): "报告日期", (5, 2): dt.datetime(2024, 5, 8, 0, 0)})
    cells = {(1, 1): "项目名称", (1, 3): "某项目", (2, 1): "项目编码", (2, 3): 530113,
             (3, 1): "项目资金（万元）", (3, 4): "年初预算数", (3, 5): "全年预算数", (3, 6): "全年执行数",
             (3, 8): "得分",
             (4, 1): "年度资金总额:", (5, 1): "其中：本年财政拨款", (5, 4): 10.0, (5, 5): 10, (5, 6): 9.5,
             (6, 1): "上年结转", (7, 1): "其他资金", (7, 6): "0",
             (9, 1): "一级指标", (9, 2): "二级指标", (9, 3): "三级指标", (9, 4): "年度指标值",
             (9, 7): "全年实际值", (9, 8): "分值", (9, 9): "得分", (9, 10): "未完成原因分析",
             (10, 4): "指标性质", (10, 5): "指标值", (10, 6): "度量单位",
             (11, 1): "产出指标(50分)", (11, 2): "数量指标", (11, 3): "人数", (11, 4): "≥", (11, 5): 5,
             (11, 6): "人", (11, 7): 5, (11, 8): 25, (11, 9): 25,
             (12, 2): "质量指标", (12, 3): "合格率", (12, 4): "≥", (12, 5): "95%", (12, 6): "%",
             (12, 8): 25, (12, 9): 20, (12, 10): "  部分不合格  ",
             (15, 1): "总分", (15, 8): 88, (16, 1): "偏离绩效目标原因分析", (16, 3): "无偏离"}
    project = RawSheet("某项目表", cells=cells, formulas={(4, 4), (4, 5), (4, 6), (4, 8)},
                       errors={(12, 7): "#DIV/0!"}, merged=[(11, 1, 12, 1), (1, 1, 1, 2), (9, 4, 9, 6)],
                       outside_count=2, outside_first="AZ5")
    return RawWorkbook("x.xlsx", "xlsx", sheets=[dept, project])


def test_extract_submission_reads_an_unnamed_layout_by_labels_and_aliases():
    sourced, findings = extract_submission(_raw_form(), "x.xlsx")
    sub = sourced.submission
    assert (sub.year, sub.department.code, sub.department.name) == (2023, "X01", "某局")
    assert (sub.department.evaluation_start, sub.department.report_date) == ("2024-04-28", "2024-05-08")
    [p] = sub.projects
    assert (p.code, p.name, p.deviation_reason) == ("530113", "某项目", "无偏离")
    assert [(f.initial_budget, f.adjusted_budget, f.executed) for f in p.funds] == [
        (10, 10, 9.5), (None, None, None), (None, None, "0")]
    first, second = p.indicators
    assert (first.level1, first.direction, first.target, first.unit, first.actual) == ("产出指标(50分)", "≥", 5, "人", 5)
    assert (second.level1, second.actual, second.claimed_score, second.deviation_note) == (
        "产出指标(50分)", "#DIV/0!", 20, "部分不合格")
    assert sourced.overrides == {"projects[0].total_score": 88}
    assert sourced.where("projects[0].indicators[1].actual") == sourced.locations["projects[0].indicators[1].actual"]
    assert _cells(type("R", (), {"sourced": sourced}), "projects[0].indicators[1].actual",
                  "projects[0].indicators[1].level1", "projects[0].funds[2].executed", "projects[0].execution_score",
                  "projects[0].funds_total.executed") == ["某项目表!G12", "某项目表!A11", "某项目表!F7",
                                                          "某项目表!H4", "某项目表!F4"]
    assert [(f.code, f.sheet, f.cell) for f in findings] == [("data-outside-area", "某项目表", "AZ5")]


def test_extract_submission_uses_names_and_distrusts_a_broken_one():
    raw = _raw_form()
    raw.names = [DefinedName("pt_project_code", "某项目表", "'某项目表'!$A$1"),  # lands on a label: not trusted
                 DefinedName("pt_project_name", "某项目表", "#REF!"),
                 DefinedName("pt_dept_code", None, "'单位'!$B$1")]
    sourced, _ = extract_submission(raw, "x.xlsx")
    assert sourced.submission.projects[0].code == "530113"
    assert sourced.submission.projects[0].name == "某项目"


def test_extract_submission_without_project_sheet_is_unrecognised():
    raw = RawWorkbook("x.xlsx", "xlsx", sheets=[RawSheet("单位信息", cells={(1, 1): "单位编码", (1, 2): "A",
                                                                          (2, 1): "单位名称", (2, 2): "B"})])
    sourced, findings = extract_submission(raw, "x.xlsx")
    assert sourced is None
    assert [f.code for f in findings] == ["template-unrecognised"] and "项目表" in findings[0].message


def test_parse_ref_handles_quotes_ranges_and_broken_refs():
    assert parse_ref("'项目1'!$C$5:$C$5") == ("项目1", 5, 3, 5, 3)
    assert parse_ref("'It''s'!$A$20:$K$39") == ("It's", 20, 1, 39, 11)
    assert parse_ref("Sheet1!B2") == ("Sheet1", 2, 2, 2, 2)
    assert parse_ref("#REF!") is None and parse_ref("'项目1'!#REF!") is None


def test_plain_values_as_the_model_keeps_them():
    assert plain("  ≥90% ") == "≥90%" and plain(3.0) == 3 and plain(2.5) == 2.5
    assert plain(dt.datetime(2024, 4, 28, 0, 0)) == "2024-04-28" and plain(dt.date(2024, 4, 28)) == "2024-04-28"
    assert plain(True) == "TRUE" and plain(None) is None


def test_rejection_in_extraction_path_gives_file_unreadable(tmp_path, monkeypatch):
    import perf_toolkit.workbook.read as read_module

    monkeypatch.setattr(read_module, "load_raw", lambda path, limits, **_: Rejection("文件已加密", "请去掉密码后重新保存"))
    read = read_module.read_workbook(tmp_path / "x.xlsx")
    [finding] = read.findings
    assert finding.code == "file-unreadable" and "文件已加密" in finding.message and "去掉密码" in finding.message


# ------------------------------------------------------------------ discover


def test_discover_skips_lock_hidden_and_other_files_recursively_in_stable_order(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / ".git").mkdir()
    for name in ("b.xlsx", "a.XLSX", "sub/c.ods", "sub/d.xls", "~$b.xlsx", ".~lock.a.xlsx#", ".hidden.xlsx",
                 "notes.txt", ".git/e.xlsx", "z.xlsb", "m.xlsm"):
        (inbox / name).write_bytes(b"x")
    found, skipped = discover([inbox])
    assert [p.relative_to(inbox).as_posix() for p in found] == ["a.XLSX", "b.xlsx", "m.xlsm", "z.xlsb",
                                                                "sub/c.ods", "sub/d.xls"]
    reasons = {str((tmp_path / s.path).relative_to(inbox).as_posix()): s.reason for s in skipped}
    assert set(reasons) == {"~$b.xlsx", ".~lock.a.xlsx#", ".hidden.xlsx", "notes.txt", ".git"}
    assert "锁定文件" in reasons["~$b.xlsx"] and "锁定文件" in reasons[".~lock.a.xlsx#"]
    assert "隐藏" in reasons[".hidden.xlsx"] and "扩展名" in reasons["notes.txt"]
    assert discover([inbox]) == (found, skipped)


def test_discover_named_files_are_attempted_in_given_order_but_locks_skipped(tmp_path):
    for name in ("b.xlsx", "a.txt", "~$a.xlsx"):
        (tmp_path / name).write_bytes(b"x")
    found, skipped = discover([tmp_path / "b.xlsx", tmp_path / "a.txt", tmp_path / "~$a.xlsx",
                               tmp_path / "b.xlsx", tmp_path / "missing.xlsx"])
    assert found == [tmp_path / "b.xlsx", tmp_path / "a.txt"]
    assert [(s.path, s.reason[:6]) for s in skipped] == [(str(tmp_path / "~$a.xlsx"), "Office"),
                                                         (str(tmp_path / "missing.xlsx"), "文件或文件夹")]


def test_spec_declares_the_layout_names_used_by_writer_and_reader():
    assert spec.VERSION_NAME == "pt_version" and spec.PREFILL_SHEET == "_prefill"


def test_extract_submission_from_calamine_formats_records_no_overrides():
    """xls/xlsb/ods give a formula's cached value as if typed: no override can be told from it."""
    raw = _raw_form()
    raw.format = "ods"
    sourced, _ = extract_submission(raw, "x.ods")
    assert sourced.overrides == {}
    assert sourced.locations["projects[0].total_score"].cell == "H15"


@pytest.mark.parametrize("fmt", ["ods", "xls"])
def test_read_workbook_saved_again_by_libreoffice_round_trips(tmp_path, fmt, soffice):
    path = _write(tmp_path, example_dict())
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--convert-to", fmt, "--outdir", str(tmp_path / "out"), str(path)],
                   check=True, capture_output=True, timeout=180)
    read = read_workbook(tmp_path / "out" / f"单位.{fmt}")
    assert read.format == fmt and read.findings == []
    assert submission_to_dict(read.sourced.submission) == example_dict()


def test_extract_submission_survives_huge_and_overlapping_merges():
    raw = _raw_form()
    raw.sheets[1].merged += [(1, 1, 1_048_576, 16_384)] * 50 + [(20, 1, 2000, 40)]
    sourced, _ = extract_submission(raw, "x.xlsx")
    assert sourced.submission.projects[0].code == "530113"


# ------------------------------------------------------------------ dates typed as numbers, reader finding paths


def test_read_date_serials_follow_excels_1900_calendar(tmp_path):
    path = _write(tmp_path, example_dict())
    locations = read_workbook(path).sourced.locations
    wb = load_workbook(path)
    for key, serial in (("evaluation_start", 59), ("report_date", 45410)):  # a date pasted as its number
        where = locations[f"department.{key}"]
        cell = wb[where.sheet][where.cell]
        cell.value, cell.number_format = serial, "General"  # a plain number, not a formatted date
    wb.save(path)
    dep = read_workbook(path).sourced.submission.department
    # below 61 Excel counts the non-existent 1900-02-29: serial 59 is 1900-02-28, not the 27th
    assert (dep.evaluation_start, dep.report_date) == ("1900-02-28", "2024-04-28")


def test_read_value_unreadable_findings_carry_their_field_path(tmp_path):
    path = _write(tmp_path, example_dict())
    locations = read_workbook(path).sourced.locations
    wb = load_workbook(path)
    for key in ("projects[0].funds[0].executed", "department.name"):
        where = locations[key]
        wb[where.sheet][where.cell] = "=1+1"
    wb.save(path)
    found = {f.path: f.code for f in read_workbook(path).findings}
    assert found == {"projects[0].funds[0].executed": "value-unreadable", "department.name": "value-unreadable"}


def test_read_unreadable_year_finding_is_about_the_year(tmp_path):
    path = _write(tmp_path, example_dict())
    where = read_workbook(path).sourced.locations["year"]
    wb = load_workbook(path)
    wb[where.sheet][where.cell] = "去年"
    wb.save(path)
    [finding] = read_workbook(path).findings
    assert (finding.code, finding.path, finding.cell) == ("value-unreadable", "year", where.cell)


# ------------------------------------------------------------------ cells formatted as a percentage


def test_read_number_in_a_percent_formatted_cell_as_excel_shows_it(tmp_path):
    """0.93 in a cell Excel shows as 93% is 93%, whatever the format's decimals; other formats are left alone."""
    path = _write(tmp_path, submission(standard_indicators(target="≥90%", actual="95%")))
    wb = load_workbook(path)
    ws = wb["项目1"]
    cases = {  # cell -> (value, number format, read as)
        "G18": (0.93, "0%", "93%"),
        "G19": (0.935, "0.0%", "93.5%"),
        "G20": (1, "0.00%", "100%"),
        "G21": (0.93, '"完成"0.00"%"', 0.93),  # a quoted % shows no percentage
        "G22": (0.93, "General", 0.93),
        "E22": (0.9, "[Red]0%;[Blue]-0%", "90%"),
    }
    for cell, (value, fmt, _) in cases.items():
        ws[cell].value, ws[cell].number_format = value, fmt
    ws["G23"].number_format = "0%"  # a text typed into a % cell stays the text
    wb.save(path)
    read = read_workbook(path)
    inds = read.sourced.submission.projects[0].indicators
    got = {"G18": inds[0].actual, "G19": inds[1].actual, "G20": inds[2].actual, "G21": inds[3].actual,
           "G22": inds[4].actual, "E22": inds[4].target}
    assert got == {cell: shown for cell, (_, _, shown) in cases.items()}
    assert inds[5].actual == "95%"


def test_read_percent_formatted_formula_result_reads_as_shown(tmp_path):
    path = _write(tmp_path, example_dict())
    wb = load_workbook(path)
    wb["项目1"]["G18"].number_format = "0%"
    wb.save(path)
    saved_formula(path, "项目1", "G18", "=186/200", 0.93)
    read = read_workbook(path)
    assert read.sourced.submission.projects[0].indicators[0].actual == "93%"
    assert [f.code for f in read.findings] == ["value-formula"]
