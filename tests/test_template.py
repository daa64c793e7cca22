"""The standard workbook writer: structure, names, validations, protection, print set-up, budget pre-fill."""

from __future__ import annotations

import datetime as dt
import os
import subprocess

import pytest
from builders import EXAMPLE_JSON, ROOT, example_dict, indicator, submission
from openpyxl import Workbook, load_workbook

from perf_toolkit import spec
from perf_toolkit.model import submission_from_dict, submission_to_dict
from perf_toolkit.profile import load_profile
from perf_toolkit.workbook.budget import BudgetFileError, BudgetLine, read_budget_csv
from perf_toolkit.workbook.read import read_workbook
from perf_toolkit.workbook.template import (
    WorkbookWriteError,
    guide_rows,
    write_from_json,
    write_prefilled,
    write_template,
)

EXAMPLE_XLSX = ROOT / "workbook_templates" / "示例-退役军人事务局.xlsx"
BUDGET_CSV = """单位编码,单位名称,项目编码,项目名称,资金来源,年初预算数,全年预算数,全年执行数
D01,区教育局,P-001,学生资助,当年财政拨款,100,120.5,118
D01,区教育局,P-001,学生资助,上年结转资金,,10,9.5
D01,区教育局,P-002,校舍维修,当年财政拨款,50,50,
D02,区卫健局/疾控,P-101,疫苗接种,当年财政拨款,30,30,29
D02,区卫健局/疾控,P-102,健康宣传,其他资金,"1,005",5,5
"""


def _example_workbook(tmp_path):
    path = write_template(tmp_path / "单位.xlsx", submission_from_dict(example_dict()))
    return path, load_workbook(path)


def _names(ws) -> dict[str, str]:
    return {name: defn.attr_text for name, defn in ws.defined_names.items()}


def _validation(ws, cell: str):
    return next(dv for dv in ws.data_validations.dataValidation if cell in dv.sqref)


def test_write_template_blank_has_guide_department_and_project_sheets(tmp_path):
    path = write_template(tmp_path / "空白.xlsx", year=2023)
    wb = load_workbook(path)
    assert wb.sheetnames == ["填报说明", "单位信息", "项目1", "项目2", "项目3", "_lists"]
    assert wb["_lists"].sheet_state == "hidden"
    assert wb.active.title == "填报说明"
    ref = wb.defined_names[spec.VERSION_NAME].attr_text
    assert ref == "'填报说明'!$B$20"
    guide = wb["填报说明"]
    assert guide["B20"].value == spec.WORKBOOK_VERSION and guide["A20"].value == spec.VERSION_LABEL
    texts = " ".join(str(c.value) for row in guide.iter_rows() for c in row if c.value)
    for phrase in ("工作表保护未设密码", "移动或复制", "万元", "指标方向", "80%—100%", "灰色单元格", "2023年度"):
        assert phrase in texts
    assert wb["单位信息"]["B2"].value == 2023
    assert wb["项目1"]["A1"].value == spec.FORM_TITLE


def test_write_template_project_count_is_the_larger_of_data_and_request(tmp_path):
    data = example_dict()
    data["projects"] = [dict(data["projects"][0], code=f"P{i}") for i in range(5)]
    wb = load_workbook(write_template(tmp_path / "a.xlsx", submission_from_dict(data), projects=3))
    assert [s for s in wb.sheetnames if s.startswith("项目")] == [f"项目{i}" for i in range(1, 6)]
    wb = load_workbook(write_template(tmp_path / "b.xlsx", projects=7))
    assert wb.sheetnames.count("项目7") == 1 and "项目8" not in wb.sheetnames


def test_write_template_department_names_are_workbook_scoped(tmp_path):
    _, wb = _example_workbook(tmp_path)
    names = {name: defn.attr_text for name, defn in wb.defined_names.items()}
    assert names[spec.YEAR_FIELD.name] == "'单位信息'!$B$2"
    assert names["pt_dept_code"] == "'单位信息'!$B$3"
    assert names["pt_contact_email"] == "'单位信息'!$B$12"
    first, last = names[spec.DUTIES.name].split("!")[1].replace("$", "").split(":")
    assert first == "B13" and int(last[1:]) - int(first[1:]) + 1 >= 12
    ws = wb["单位信息"]
    assert ws["B3"].value == "DC-TYJRSWJ"
    assert [ws[f"B{r}"].value for r in range(13, 17)] == example_dict()["department"]["duties"]
    assert not wb["项目1"].defined_names.get("pt_dept_code")


def test_write_template_project_names_are_sheet_local(tmp_path):
    path = write_template(tmp_path / "a.xlsx", projects=2)
    wb = load_workbook(path)
    for title in ("项目1", "项目2"):
        names = _names(wb[title])
        assert names["pt_project_code"] == f"'{title}'!$D$3"
        assert names[spec.FUNDS_NAME] == f"'{title}'!$D$10:$F$12"
        assert names[spec.FUNDS_TOTAL_NAME] == f"'{title}'!$D$9:$F$9"
        assert names[spec.EXECUTION_RATE_NAME] == f"'{title}'!$H$9"
        assert names[spec.EXECUTION_SCORE_NAME] == f"'{title}'!$J$9"
        assert names[spec.INDICATORS_NAME] == f"'{title}'!$A$18:$K$32"
        assert {f.name for f in spec.PROJECT_FIELDS} <= names.keys()
        assert spec.TOTAL_SCORE_NAME in names
    assert "pt_project_code" not in wb.defined_names
    # the localSheetId written to the file is the sheet's own index
    import zipfile

    xml = zipfile.ZipFile(path).read("xl/workbook.xml").decode()
    assert '<definedName name="pt_project_code" localSheetId="2">' in xml
    assert '<definedName name="pt_project_code" localSheetId="3">' in xml


def test_write_template_labels_match_the_official_form(tmp_path):
    _, wb = _example_workbook(tmp_path)
    ws = wb["项目1"]
    assert [ws[f"{c}8"].value for c in "DEFGHJ"] == ["年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分"]
    assert [ws[f"A{r}"].value for r in range(8, 14)] == [
        "项目资金（万元）", "年度资金总额", "其中：当年财政拨款", "上年结转资金", "其他资金", "预算调整及执行情况说明"]
    assert [ws.cell(17, c).value for c in range(1, 12)] == [h for _, h, _ in spec.INDICATOR_COLUMNS]
    assert ws["G10"].value == "—" and ws["J10"].value == "—"
    assert ws["B14"].value == "预期目标" and ws["B15"].value == "实际完成情况"


def test_write_template_formulas_in_computed_cells(tmp_path):
    _, wb = _example_workbook(tmp_path)
    ws = wb["项目1"]
    assert ws["D9"].value == '=IF(COUNT(D10:D12)=0,"",SUM(D10:D12))'
    assert ws["F9"].value == '=IF(COUNT(F10:F12)=0,"",SUM(F10:F12))'
    assert ws["G9"].value == 10
    assert ws["H9"].value == '=IFERROR(F9/E9,"")'
    assert ws["J9"].value == '=IFERROR(ROUND(MIN(G9,G9*H9),2),"")'
    total = ws.defined_names[spec.TOTAL_SCORE_NAME].attr_text.split("!")[1].replace("$", "")
    assert ws[total].value.startswith('=IF(OR(J9="",')
    row = int(total[1:])
    assert ws[f"A{row}"].value == "总分" and ws[f"J{row}"].value == "等级"
    grade = ws[f"K{row}"].value
    assert all(x in grade for x in ('>=90,"优"', '>=80,"良"', '>=60,"中"', '"差"'))
    assert ws["D5"].value.startswith("=IF(pt_supervisor")
    labels = [ws[f"A{r}"].value for r in range(33, 39)]
    assert labels[:4] == [k + spec.WEIGHT_SUBTOTAL_SUFFIX for k in spec.TAXONOMY]
    assert ws["H33"].value == ('=IF(COUNTIFS($A$18:$A$32,"产出指标",$H$18:$H$32,"<>")=0,"",'
                               'SUMIF($A$18:$A$32,"产出指标",$H$18:$H$32))')
    assert ws["H37"].value == '=IF(COUNT($H$18:$H$32)=0,"",SUM($H$18:$H$32))'
    assert ws["H38"].value == '=IF(H37="","",G9+H37)'
    assert "100" in labels[5] and "100" in ws["J38"].value


def test_write_template_protection_without_password(tmp_path):
    _, wb = _example_workbook(tmp_path)
    for ws in wb.worksheets:
        assert ws.protection.sheet is True and not ws.protection.password
    ws = wb["项目1"]
    assert ws.protection.formatRows is False and ws.protection.formatColumns is False
    assert ws.protection.insertRows is False and ws.protection.formatCells is True
    for cell in ("D3", "D4", "D6", "D7", "D10", "F12", "D13", "D14", "A18", "K32", "D40"):
        assert ws[cell].protection.locked is False, cell
    for cell in ("A3", "D5", "D9", "E9", "F9", "G9", "H9", "J9", "A17", "H33", "H39", "K39"):
        assert ws[cell].protection.locked is True, cell
    for cell in ("D5", "D9", "H9", "J9", "H39"):
        assert ws[cell].fill.fgColor.rgb.endswith("D9D9D9") and str(ws[cell].value).startswith("=")
    assert ws["D3"].fill.fill_type is None and ws["D3"].border.left.style == "thin"
    assert ws["A17"].font.b and ws["A17"].alignment.horizontal == "center"


def test_write_template_data_validations(tmp_path):
    _, wb = _example_workbook(tmp_path)
    ws = wb["项目1"]
    level1 = _validation(ws, "A18")
    assert level1.type == "list" and level1.formula1 == "pt_list_level1" and "A32" in level1.sqref
    level2 = _validation(ws, "B25")
    assert level2.type == "list" and 'INDIRECT("pt_l2_"&MATCH($A18,pt_list_level1,0))' in level2.formula1
    direction = _validation(ws, "D18")
    assert direction.type == "list" and direction.formula1 == "pt_list_direction"
    assert _validation(ws, "H20").type == "decimal" and _validation(ws, "D10").type == "decimal"
    assert _validation(ws, "D7").prompt == spec.PROJECT_FIELDS[3].hint
    dept = wb["单位信息"]
    assert _validation(dept, "B7").type == "date" and _validation(dept, "B2").type == "whole"
    lists = wb["_lists"]
    assert [lists.cell(r, 1).value for r in range(1, 5)] == list(spec.TAXONOMY)
    assert [lists.cell(r, 2).value for r in range(1, 5)] == list(spec.DIRECTIONS)
    assert wb.defined_names["pt_l2_3"].attr_text == "'_lists'!$F$1:$F$1"
    assert lists["F1"].value == "服务对象满意度指标"


def test_write_template_print_setup(tmp_path):
    _, wb = _example_workbook(tmp_path)
    for ws in wb.worksheets[:3]:
        assert int(ws.page_setup.paperSize) == 9  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage is True
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
        assert ws.print_area
    ws = wb["项目1"]
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$17:$17"
    assert wb["单位信息"].page_setup.orientation == "portrait"
    assert ws.column_dimensions["C"].width >= 20 and ws["C18"].alignment.wrap_text
    assert ws.row_dimensions[18].height > 60  # the long 指标设定依据 text is not cut off
    assert ws["A18"].font.name == "宋体"


def test_write_template_text_is_never_a_formula(tmp_path):
    data = example_dict()
    ind = data["projects"][0]["indicators"][0]
    ind.update(target="=1+1", actual="@SUM(A1)", unit="-", basis="+86", deviation_note="#DIV/0!")
    path = write_template(tmp_path / "a.xlsx", submission_from_dict(data))
    ws = load_workbook(path)["项目1"]
    assert [ws[f"{c}18"].value for c in "EGFJK"] == ["=1+1", "@SUM(A1)", "-", "+86", "#DIV/0!"]
    assert all(ws[f"{c}18"].data_type == "s" for c in "EGFJK")


def test_write_template_dates_numbers_and_text_keep_their_types(tmp_path):
    data = example_dict()
    data["department"]["report_date"] = "2024年5月8日"  # not ISO: stays text
    data["projects"][0]["funds"][1]["initial_budget"] = "45.08"
    path = write_template(tmp_path / "a.xlsx", submission_from_dict(data))
    wb = load_workbook(path)
    dept = wb["单位信息"]
    assert dept["B7"].value == dt.datetime(2024, 4, 28) and dept["B7"].number_format == "yyyy-mm-dd"
    assert dept["B9"].value == "2024年5月8日"
    ws = wb["项目1"]
    assert ws["D10"].value == 45.08 and ws["D11"].value == "45.08" and ws["D11"].data_type == "s"
    assert ws["H18"].value == 20 and ws["E18"].value == "100%"


def test_write_template_tables_grow_with_the_data(tmp_path):
    data = example_dict()
    data["department"]["duties"] = [f"职责{i}" for i in range(20)]
    data["projects"][0]["indicators"] = data["projects"][0]["indicators"] * 7  # 42 indicators
    wb = load_workbook(write_template(tmp_path / "a.xlsx", submission_from_dict(data)))
    body = wb["项目1"].defined_names[spec.INDICATORS_NAME].attr_text
    assert body == "'项目1'!$A$18:$K$64"  # 42 + 5 spare rows
    duties = wb.defined_names[spec.DUTIES.name].attr_text
    assert duties == "'单位信息'!$B$13:$B$35"


def test_write_template_rejects_an_unknown_fund_source(tmp_path):
    data = example_dict()
    data["projects"][0]["funds"][2]["source"] = "社会捐赠"
    with pytest.raises(WorkbookWriteError, match="社会捐赠"):
        write_template(tmp_path / "a.xlsx", submission_from_dict(data))
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_write_template_funds_in_form_order_whatever_the_json_order(tmp_path):
    data = example_dict()
    data["projects"][0]["funds"].reverse()
    ws = load_workbook(write_template(tmp_path / "a.xlsx", submission_from_dict(data)))["项目1"]
    assert [ws["D10"].value, ws["E10"].value, ws["F10"].value] == [45.08, 2.94, 2.94]


def test_write_template_replaces_the_output_atomically(tmp_path):
    target = tmp_path / "a.xlsx"
    target.write_bytes(b"old")
    write_template(target, projects=1)
    assert load_workbook(target).sheetnames[0] == "填报说明"
    assert [p.name for p in tmp_path.iterdir()] == ["a.xlsx"]


def test_write_from_json_fills_the_example(tmp_path):
    path = write_from_json(EXAMPLE_JSON, tmp_path / "例.xlsx")
    assert submission_to_dict(read_workbook(path).sourced.submission) == example_dict()
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(WorkbookWriteError, match="bad.json"):
        write_from_json(bad, tmp_path / "x.xlsx")


def test_guide_rows_state_weight_and_bands():
    rows = dict(guide_rows(year=2024, profile=load_profile("twenty-eighty")))
    assert "20分 × 执行率" in rows["预算执行"] and "2024年度" in rows["适用范围"]
    assert "90分（含）以上为优" in rows["总分和等级"]


def test_example_workbook_is_committed_and_reads_back_as_the_example_json():
    assert EXAMPLE_XLSX.exists()
    read = read_workbook(EXAMPLE_XLSX)
    assert read.findings == []
    assert submission_to_dict(read.sourced.submission) == example_dict()


# ------------------------------------------------------------------ the budget file


def test_read_budget_csv_utf8_bom_gb18030_and_xlsx_agree(tmp_path):
    (tmp_path / "bom.csv").write_bytes(BUDGET_CSV.encode("utf-8-sig"))
    (tmp_path / "gbk.csv").write_bytes(BUDGET_CSV.encode("gb18030"))
    wb = Workbook()
    import csv
    import io

    for row in csv.reader(io.StringIO(BUDGET_CSV)):
        wb.active.append([float(v) if v.replace(".", "").isdigit() else v for v in row])
    wb.save(tmp_path / "budget.xlsx")
    lines = read_budget_csv(tmp_path / "bom.csv")
    assert read_budget_csv(tmp_path / "gbk.csv") == lines
    assert read_budget_csv(tmp_path / "budget.xlsx")[:4] == lines[:4]
    assert lines[0] == BudgetLine("D01", "P-001", "学生资助", "当年财政拨款", 100, 120.5, 118, dept_name="区教育局")
    assert lines[1].initial_budget is None and lines[2].executed is None
    assert lines[4].initial_budget == 1005


@pytest.mark.parametrize(("text", "message"), [
    ("单位编码,项目编码,项目名称,资金来源,年初预算数,全年预算数\n", "缺少列：全年执行数"),
    (BUDGET_CSV.replace("120.5", "一百"), "第2行“全年预算数”列的值“一百”不是数字"),
    (BUDGET_CSV.replace("上年结转资金", "捐赠"), "第3行“资金来源”列的值“捐赠”无法识别"),
    (BUDGET_CSV + "D01,区教育局,P-001,学生资助,当年财政拨款,1,1,1\n", "第7行与第2行重复"),
    (BUDGET_CSV.replace("D01,区教育局,P-002", "D01,区教育局,"), "第4行“项目编码”列为空"),
    (BUDGET_CSV + "D09,别的单位,P-001,学生资助,其他资金,1,1,1\n", "第7行：项目编码“P-001”与第2行"),
    ("", "是空的"),
])
def test_read_budget_csv_malformed_names_row_and_column(tmp_path, text, message):
    path = tmp_path / "budget.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BudgetFileError, match=message):
        read_budget_csv(path)


def test_write_prefilled_one_locked_workbook_per_department(tmp_path):
    (tmp_path / "budget.csv").write_text(BUDGET_CSV, encoding="utf-8")
    paths = write_prefilled(read_budget_csv(tmp_path / "budget.csv"), tmp_path / "out", year=2023)
    assert [p.name for p in paths] == ["D01-区教育局-自评填报表.xlsx", "D02-区卫健局_疾控-自评填报表.xlsx"]
    wb = load_workbook(paths[0])
    assert wb["_prefill"].sheet_state == "veryHidden"
    assert wb["单位信息"]["B3"].value == "D01" and wb["单位信息"]["B3"].protection.locked is True
    ws = wb["项目1"]
    assert (ws["D3"].value, ws["D4"].value) == ("P-001", "学生资助")
    for cell in ("D3", "D4", "D10", "E10", "F10", "E11", "F11"):
        assert ws[cell].protection.locked is True and ws[cell].fill.fgColor.rgb.endswith("D9D9D9"), cell
    assert ws["D11"].protection.locked is False  # the bureau gave no figure: the department fills it
    assert ws["D6"].protection.locked is False
    assert wb["项目2"]["D3"].value == "P-002" and wb["项目3"]["D3"].value is None
    records = [tuple(c.value for c in row) for row in wb["_prefill"].iter_rows(min_row=2)]
    assert ("项目1", "funds[0].adjusted_budget", 120.5) in records
    assert ("单位信息", "department.code", "D01") in records


# ------------------------------------------------------------------ LibreOffice (fixtures in conftest.py)


def test_example_workbook_formulas_compute_in_libreoffice(tmp_path, soffice):
    path, _ = _example_workbook(tmp_path)
    out = tmp_path / "calc"
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(out), str(path)],
                   check=True, capture_output=True, timeout=180)
    ws = load_workbook(out / path.name, data_only=True)["项目1"]
    assert ws["H9"].value == 1 and ws["J9"].value == 10
    assert ws["H39"].value == 100 and ws["K39"].value == "优"
    assert ws["H38"].value == 100 and ws["A2"].value == "（2023年度）"
    assert ws["D5"].value == "昆明市东川区退役军人事务局"


def test_blank_workbook_computes_nothing_until_typed_in_libreoffice(tmp_path, soffice):
    """An empty project sheet shows no 0.00, no 差, no red warning; typed weights off 100 get the warning."""
    blank = write_template(tmp_path / "blank.xlsx", projects=1, year=2023)
    data = submission([indicator("数", weight=40, claimed=None), indicator("效", "效益指标", "社会效益指标", weight=30,
                                                                         claimed=None)], fund_rows=[])
    partial = write_template(tmp_path / "partial.xlsx", submission_from_dict(data), year=2023)
    out = tmp_path / "calc"
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(out), str(blank), str(partial)],
                   check=True, capture_output=True, timeout=180)
    ws = load_workbook(out / blank.name, data_only=True)["项目1"]
    computed = ["D9", "E9", "F9", "H9", "J9", "H10", "H33", "I33", "H37", "I37", "H38", "J38", "H39", "K39"]
    assert {c: ws[c].value for c in computed if ws[c].value not in (None, "")} == {}
    ws = load_workbook(out / partial.name, data_only=True)["项目1"]
    assert ws["H33"].value == 40 and ws["H34"].value == 30 and ws["H35"].value in (None, "")  # no 满意度 typed
    assert ws["H38"].value == 80 and "请调整" in ws["J38"].value
    assert ws["I37"].value in (None, "") and ws["H39"].value in (None, "") and ws["K39"].value in (None, "")


UNO_CHECK = r'''
import subprocess, sys, time, uno
from com.sun.star.beans import PropertyValue
path, profile, pipe, soffice = sys.argv[1:5]
proc = subprocess.Popen([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--invisible",
                         "--nologo", "--norestore", f"--accept=pipe,name={pipe};urp;"])
try:
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    for _ in range(240):
        try:
            ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            break
        except Exception:
            time.sleep(0.5)
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    hidden = PropertyValue()
    hidden.Name, hidden.Value = "Hidden", True
    doc = desktop.loadComponentFromURL("file://" + path, "_blank", 0, (hidden,))
    sheet = doc.Sheets.getByName("项目1")
    sheet.unprotect("")
    for cell, text in (("B18", "社会效益指标"), ("B19", "质量指标"), ("B25", "数量指标"), ("A26", "效益指标"),
                       ("B26", "数量指标"), ("A27", "满意度指标"), ("B27", "服务对象满意度指标"), ("D28", "正向"),
                       ("A29", "其他指标")):
        sheet.getCellRangeByName(cell).setString(text)
    sheet.showInvalid()  # LibreOffice circles every cell its validation rejects
    circles = [sheet.DrawPage.getByIndex(i).Position for i in range(sheet.DrawPage.Count)]
    for name in ("B18", "B19", "B25", "B26", "B27", "D28", "A29"):
        pos = sheet.getCellRangeByName(name).Position
        hit = any(abs(c.X - pos.X) < 400 and abs(c.Y - pos.Y) < 400 for c in circles)
        print(name, "invalid" if hit else "valid")
    doc.close(True)
finally:
    try:
        desktop.terminate()
    except Exception:
        pass
    try:
        proc.wait(timeout=30)
    except Exception:
        proc.kill()
'''


def test_dependent_level2_dropdown_validates_in_libreoffice(tmp_path, soffice, uno_python):
    path, _ = _example_workbook(tmp_path)
    script = tmp_path / "check.py"
    script.write_text(UNO_CHECK, encoding="utf-8")
    # the UNO pipe name is machine-wide: another test run at the same time must not answer on it
    pipe = f"pt{os.getpid()}{tmp_path.name}"
    out = subprocess.run([uno_python, str(script), str(path), str(tmp_path / "profile"), pipe, soffice],
                         capture_output=True, text=True, timeout=300)
    verdicts = dict(line.split() for line in out.stdout.splitlines() if line.count(" ") == 1)
    assert verdicts == {"B18": "invalid", "B19": "valid", "B25": "valid", "B26": "invalid", "B27": "valid",
                        "D28": "invalid", "A29": "invalid"}, out.stderr[-2000:]


def test_profile_sets_budget_weight_grade_formula_and_guide(tmp_path):
    from perf_toolkit.profile import builtin_profile_text

    text = builtin_profile_text("twenty-eighty").replace("min = 90", "min = 85").replace("min = 80", "min = 70")
    (tmp_path / "local.toml").write_text(text, encoding="utf-8")
    profile = load_profile(tmp_path / "local.toml")
    out = write_template(tmp_path / "t.xlsx", projects=1, year=2024, profile=profile)
    wb = load_workbook(out)
    ws = wb["项目1"]
    assert ws["G9"].value == 20
    grade_formulas = [c.value for row in ws.iter_rows() for c in row
                      if isinstance(c.value, str) and c.value.startswith("=IF(") and '"优"' in c.value]
    assert len(grade_formulas) == 1 and ">=85," in grade_formulas[0] and ">=70," in grade_formulas[0]
    guide = " ".join(str(c.value) for row in wb["填报说明"].iter_rows() for c in row if c.value)
    assert "85分（含）以上为优" in guide and "产出指标40分" in guide and "20分 × 执行率" in guide
    sheet_text = " ".join(str(c.value) for row in ws.iter_rows() for c in row if isinstance(c.value, str))
    assert "通常产出指标40分" in sheet_text and "产出指标50分" not in sheet_text


def test_write_prefilled_never_overwrites_departments_with_one_safe_name(tmp_path):
    csv = tmp_path / "b.csv"
    csv.write_text("单位编码,项目编码,项目名称,资金来源,年初预算数,全年预算数,全年执行数\n"
                   "D/1,P1,项目一,当年财政拨款,1,1,1\nD:1,P2,项目二,当年财政拨款,2,2,2\n", encoding="utf-8")
    paths = write_prefilled(read_budget_csv(csv), tmp_path / "out", year=2023)
    assert len(set(paths)) == 2 and all(p.is_file() for p in paths)
    assert sorted(p.name for p in paths) == ["D_1-自评填报表-2.xlsx", "D_1-自评填报表.xlsx"]
