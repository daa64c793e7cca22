"""The campaign config (perf.toml), the roster, and `perf-toolkit init`."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from perf_toolkit.cli import cli
from perf_toolkit.config import (
    DEFAULT,
    Campaign,
    ConfigError,
    RosterEntry,
    example_config_text,
    init_folder,
    load_config,
    load_roster,
    write_example_config,
    write_roster,
)

ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_load_config_without_path_knows_nothing_of_any_round():
    campaign = load_config(None)
    assert campaign is DEFAULT
    assert (campaign.year, campaign.district, campaign.notice_number, campaign.roster) == (None, "", "", ())
    assert campaign.missing_facts() == ["区县名称", "财政局名称", "通知标题", "通知文号", "公开网站"]
    assert campaign.fact("notice_number") == "【待填写：通知文号】"


def test_campaign_year_comes_from_the_submissions_when_not_given():
    assert DEFAULT.with_year_of([2021, None, 2021]).year == 2021
    assert Campaign(year=2023).with_year_of([2020]).year == 2023  # given: the submissions' year is checked, not used
    assert DEFAULT.with_year_of([]).year is None
    with pytest.raises(ConfigError, match="2019、2020.*--year"):
        DEFAULT.with_year_of([2020, 2019])


def test_load_config_reads_values_and_paths_relative_to_the_file(tmp_path):
    folder = tmp_path / "round"
    folder.mkdir()
    write(folder / "名单.csv", "单位编码,单位名称,联系人,电子邮箱\nD001,甲局,张三,a@x.cn\nD002,乙局,,\n")
    path = write(folder / "perf.toml", """
[campaign]
year = 2024
district = "西山区"
deadline = 2025-05-10
low_execution_rate = 0.85
roster = "名单.csv"
history = "db/history.sqlite"
output = "/abs/out"
""")
    c = load_config(path)
    assert (c.year, c.district, c.deadline, c.low_execution_rate) == (2024, "西山区", dt.date(2025, 5, 10), 0.85)
    assert c.roster_path == folder / "名单.csv"
    assert c.history_path == folder / "db" / "history.sqlite"
    assert c.output_dir == Path("/abs/out")
    assert c.roster == (RosterEntry("D001", "甲局", "张三", "a@x.cn"), RosterEntry("D002", "乙局", "", ""))
    assert c.bureau == DEFAULT.bureau  # unset keys keep the defaults


@pytest.mark.parametrize(("text", "message"), [
    ("year = 2023\ncolour = 1\n", "无法识别的设置项：colour"),
    ("year = 1899\n", "year"),
    ("year = \"二〇二三\"\n", "year"),
    ("low_execution_rate = 90\n", "low_execution_rate"),
    ("deadline = \"五月十日\"\n", "deadline"),
    ("year = \n", "格式有误"),
    ("[campaign]\nyear = 2023\n[mail]\npassword = \"x\"\n", "PERF_TOOLKIT_MAIL_PASSWORD"),
    ("[campaign]\nyear = 2023\n[mail]\nsmtp_host = \"x\"\n", "无法识别的设置项：smtp_host"),
    ("[campaign]\nyear = 2023\n[mail]\ncc = \"a@b.cn\"\n", "cc"),
    ("year = 2023\nmail = 5\n", "设置表"),
    ("[campaign]\nyear = 2023\nmail = 5\n", "无法识别的设置项：mail"),
])
def test_load_config_bad_values_are_config_errors(tmp_path, text, message):
    path = write(tmp_path / "perf.toml", text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_load_config_reads_the_mail_table(tmp_path):
    path = write(tmp_path / "perf.toml", '[campaign]\nyear = 2023\n[mail]\nimap = "imaps://jx@mail.gov.cn/绩效自评"\n'
                 'smtp = "smtp://jx@mail.gov.cn:25"\nstarttls = true\nfrom = "jx@mail.gov.cn"\n'
                 'cc = ["ke@mail.gov.cn", " "]\nreceipts = true\n')
    mail = load_config(path).mail
    assert (mail.imap, mail.smtp, mail.starttls, mail.sender, mail.cc, mail.receipts) == (
        "imaps://jx@mail.gov.cn/绩效自评", "smtp://jx@mail.gov.cn:25", True, "jx@mail.gov.cn", ("ke@mail.gov.cn",), True)
    assert load_config(write(tmp_path / "bare.toml", "year = 2023\n")).mail.smtp == ""


def test_load_config_missing_file_names_it(tmp_path):
    with pytest.raises(ConfigError, match="找不到配置文件"):
        load_config(tmp_path / "nope.toml")


def test_load_roster_gb18030_csv(tmp_path):
    path = write(tmp_path / "名单.csv", "单位编码,单位名称\nD001,东川区甲局\n", "gb18030")
    assert load_roster(path) == [RosterEntry("D001", "东川区甲局")]


def test_load_roster_xlsx_with_extra_columns(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["序号", "单位名称", "单位编码", "电子邮箱", "联系人"])
    ws.append([1, "甲局", "D001", "a@x.cn", "张三"])
    ws.append([None, None, None, None, None])
    ws.append([2, "乙局", "D002", None, None])
    wb.save(tmp_path / "名单.xlsx")
    assert load_roster(tmp_path / "名单.xlsx") == [RosterEntry("D001", "甲局", "张三", "a@x.cn"),
                                                 RosterEntry("D002", "乙局", "", "")]


@pytest.mark.parametrize(("text", "message"), [
    ("", "是空的"),
    ("编码,名称\nD1,甲\n", "缺少列"),
    ("单位编码,单位名称\nD1,甲\nD1,乙\n", "第3行的单位编码“D1”重复"),
    ("单位编码,单位名称\n,甲\n", "第2行缺少单位编码"),
])
def test_load_roster_problems_are_config_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_roster(write(tmp_path / "名单.csv", text))


def test_example_config_text_loads_back_with_awkward_names(tmp_path):
    campaign = replace(DEFAULT, district='东川"区"\\', bureau="财政局\n二科", year=2025, low_execution_rate=0.8)
    path = write(tmp_path / "perf.toml", example_config_text(campaign))
    data = tomllib.loads(path.read_text(encoding="utf-8"))["campaign"]
    assert data["district"] == campaign.district
    assert data["bureau"] == "财政局\n二科"
    assert data["deadline"] == dt.date(2026, 5, 10)
    write(tmp_path / "报送名单.csv", "单位编码,单位名称\n")
    loaded = load_config(path)
    assert (loaded.year, loaded.district, loaded.low_execution_rate, loaded.roster) == (2025, campaign.district, 0.8, ())


def test_write_example_config_refuses_to_overwrite(tmp_path):
    path = write(tmp_path / "perf.toml", "# mine\n")
    with pytest.raises(ConfigError, match="已存在"):
        write_example_config(path, Campaign(year=2024))
    assert path.read_text(encoding="utf-8") == "# mine\n"
    write_example_config(path, Campaign(year=2024), overwrite=True)
    assert "[campaign]" in path.read_text(encoding="utf-8")


def test_write_roster_keeps_formula_text_inert_and_reads_back(tmp_path):
    entries = [RosterEntry("D001", "=HYPERLINK(\"http://x\")", "+张三", "@a"), RosterEntry("D002", "乙局")]
    path = write_roster(tmp_path / "名单.csv", entries)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens it as UTF-8
    text = raw.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ",'+张三,'@a" in text
    assert load_roster(path)[1] == RosterEntry("D002", "乙局")


def test_init_folder_writes_both_files_and_keeps_existing(tmp_path):
    written, kept = init_folder(tmp_path / "2024", Campaign(year=2024))
    assert sorted(p.name for p in written) == ["perf.toml", "报送名单.csv"] and kept == []
    campaign = load_config(tmp_path / "2024" / "perf.toml")
    assert campaign.roster == () and campaign.history_path == tmp_path / "2024" / "output" / "history.sqlite"
    (tmp_path / "2024" / "perf.toml").write_text("# edited\n", encoding="utf-8")
    written, kept = init_folder(tmp_path / "2024", Campaign(year=2024))
    assert written == [] and len(kept) == 2
    assert (tmp_path / "2024" / "perf.toml").read_text(encoding="utf-8") == "# edited\n"


def test_init_command_writes_files_from_options(tmp_path):
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "轮次"), "--year", "2024", "--district", "西山区"])
    assert result.exit_code == 0, result.output
    assert "已生成" in result.output
    campaign = load_config(tmp_path / "轮次" / "perf.toml")
    assert (campaign.year, campaign.district) == (2024, "西山区")
    # what it was not told is a placeholder to fill in, never another district's notice
    assert (campaign.notice_title, campaign.notice_number, campaign.bureau, campaign.portal) == (
        "【待填写：通知标题】", "【待填写：通知文号】", "【待填写：财政局名称】", "【待填写：公开网站】")
    assert "东川" not in (tmp_path / "轮次" / "perf.toml").read_text(encoding="utf-8")
    again = CliRunner().invoke(cli, ["init", str(tmp_path / "轮次")])
    assert again.exit_code == 0 and again.output.count("已存在，未覆盖") == 2
    fresh = CliRunner().invoke(cli, ["init", str(tmp_path / "新轮次")])
    assert fresh.exit_code == 2 and "--year" in fresh.output


def test_init_command_from_last_years_config_copies_the_roster(tmp_path):
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "2024"), "--config", str(ROOT / "examples" / "perf.toml"),
                                      "--year", "2024"])
    assert result.exit_code == 0, result.output
    campaign = load_config(tmp_path / "2024" / "perf.toml")
    assert campaign.year == 2024
    # last round's notice and deadline belong to last round; the district and bureau carry over
    assert (campaign.notice_number, campaign.district) == ("【待填写：通知文号】", "东川区")
    assert [e.code for e in campaign.roster] == [e.code for e in load_config(ROOT / "examples" / "perf.toml").roster]


def test_bundled_example_config_lists_the_example_departments():
    campaign = load_config(ROOT / "examples" / "perf.toml")
    codes = [e.code for e in campaign.roster]
    assert codes[0] == "DC-TYJRSWJ" and len(codes) >= 4
    assert all(e.name and e.contact and e.email for e in campaign.roster)
    assert campaign.history_path.resolve() == (ROOT / "output" / "history.sqlite").resolve()
