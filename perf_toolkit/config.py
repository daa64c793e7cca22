"""The campaign config: one evaluation round (perf.toml), and its roster of departments.

What is not in a department's workbook — the bureau's notice, the deadline, the
publishing portal, which departments must submit — lives here. Without a file nothing
is known: the year comes from the submissions and every other fact of the round is
printed as a visible placeholder (【待填写：…】), never borrowed from another round.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .fsutil import TableFileError, atomic_write, read_table


class ConfigError(Exception):
    """A config or roster the operator must fix (message in Chinese)."""


@dataclass(frozen=True)
class RosterEntry:
    code: str
    name: str
    contact: str = ""
    email: str = ""


#: The round's facts a document cites, with their names for a placeholder (【待填写：通知文号】).
FACTS = (("district", "区县名称"), ("bureau", "财政局名称"), ("notice_title", "通知标题"),
         ("notice_number", "通知文号"), ("portal", "公开网站"))


def placeholder(name: str) -> str:
    """The visible mark of a fact nobody gave: it must be filled in before the document is used."""
    return f"【待填写：{name}】"


@dataclass(frozen=True)
class MailSettings:
    """The round's mail accounts ([mail] in perf.toml); the password only ever comes from the environment."""

    imap: str = ""  # imap://USER@HOST[:PORT]/FOLDER or imaps://…: where departments' mails arrive
    smtp: str = ""  # smtp://USER@HOST:PORT or smtps://…: how feedback and reminders are sent
    starttls: bool = False  # upgrade a plain smtp:// connection with STARTTLS
    sender: str = ""  # From: of every mail the bureau sends ("from" in perf.toml)
    cc: tuple[str, ...] = ()  # copied on every mail sent
    receipts: bool = False  # also send "已通过审核" to departments whose submission has no findings


#: The environment variable holding the mail password (never a file, never the command line).
PASSWORD_ENV = "PERF_TOOLKIT_MAIL_PASSWORD"
#: The round's own database (manifest of received files, what was sent), in the output folder.
ROUND_DB = "round.sqlite"


@dataclass(frozen=True)
class Campaign:
    year: int | None = None  # None: taken from the submissions (see with_year_of)
    district: str = ""
    bureau: str = ""
    notice_title: str = ""
    notice_number: str = ""
    deadline: dt.date | None = None
    portal: str = ""
    profile: str = "national-2020"
    low_execution_rate: float = 0.9  # 结果应用: projects under this rate are listed
    roster_path: Path | None = None
    history_path: Path | None = None  # None: history.sqlite in the output folder
    output_dir: Path = Path("output")
    source: Path | None = None  # the file it was read from
    roster: tuple[RosterEntry, ...] = field(default=())
    mail: MailSettings = field(default_factory=MailSettings)

    def history_in(self, output_dir: Path) -> Path:
        """The history database: the configured one, else history.sqlite beside the round's outputs."""
        return self.history_path if self.history_path is not None else Path(output_dir) / "history.sqlite"

    def round_db_in(self, output_dir: Path) -> Path:
        """The round's database (received files, mails sent), beside the round's outputs."""
        return Path(output_dir) / ROUND_DB

    @property
    def expected_year(self) -> int | None:
        """The year submissions must be for, when the round's year was given."""
        return self.year

    def missing_facts(self) -> list[str]:
        """The names of the round's facts nobody gave (documents show them as placeholders)."""
        return [name for attr, name in FACTS if not getattr(self, attr).strip()]

    def fact(self, attr: str) -> str:
        """A fact of the round as a document prints it: as given, or its placeholder."""
        value = getattr(self, attr).strip()
        return value or placeholder(dict(FACTS)[attr])

    def with_year_of(self, years: Iterable[int | None]) -> Campaign:
        """The campaign with its year: as given, else the one year of the submissions.

        Submissions of several years with no year given is an operator error: a round is one year.
        """
        if self.year is not None:
            return self
        found = sorted({y for y in years if y is not None})
        if len(found) > 1:
            raise ConfigError(f"填报表的评价年度不止一个（{'、'.join(map(str, found))}），无法确定本轮的年度。"
                              "请用 --year 指定评价年度，或在 perf.toml 中设置 year。")
        return replace(self, year=found[0]) if found else self


DEFAULT = Campaign()

#: perf.toml keys → (Campaign attribute, type); paths are relative to the config file.
_KEYS = {
    "year": ("year", int),
    "district": ("district", str),
    "bureau": ("bureau", str),
    "notice_title": ("notice_title", str),
    "notice_number": ("notice_number", str),
    "deadline": ("deadline", dt.date),
    "portal": ("portal", str),
    "profile": ("profile", str),
    "low_execution_rate": ("low_execution_rate", float),
    "roster": ("roster_path", Path),
    "history": ("history_path", Path),
    "output": ("output_dir", Path),
}


def load_config(path: str | Path | None = None) -> Campaign:
    """The campaign from a perf.toml (with its roster loaded), or the defaults when path is None."""
    if path is None:
        return DEFAULT
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"找不到配置文件：{path}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"配置文件 {path} 格式有误：{exc}") from exc
    section = data.get("campaign", data)
    if not isinstance(section, dict):
        raise ConfigError(f"配置文件 {path} 中 campaign 应为设置表 [campaign]，现为{_kind_zh(section)}")
    unknown = sorted(set(section) - set(_KEYS) - ({"campaign", "mail"} if section is data else set()))
    if unknown:
        raise ConfigError(f"配置文件 {path} 中有无法识别的设置项：{'、'.join(unknown)}")
    values: dict = {"source": path}
    for key, (attr, kind) in _KEYS.items():
        if key in section:
            values[attr] = _typed_setting(section[key], key, kind, path)
    if "profile" in values and values["profile"].endswith(".toml"):  # a file, like every path here: beside the config
        p = Path(values["profile"])
        values["profile"] = str(p if p.is_absolute() else Path(os.path.normpath(path.parent / p)))
    values["mail"] = _mail_settings(data.get("mail", {}), path)
    campaign = replace(DEFAULT, **values)
    if campaign.year is not None and not 2000 <= campaign.year <= 2100:
        raise ConfigError(f"配置文件 {path} 中 year 的值“{campaign.year}”不正确，应为评价年度，如 2023")
    if not 0 < campaign.low_execution_rate <= 1:
        raise ConfigError(f"配置文件 {path} 中 low_execution_rate 应在 0 到 1 之间（0.9 即 90%）")
    if campaign.roster_path is not None:
        campaign = replace(campaign, roster=tuple(load_roster(campaign.roster_path)))
    return campaign


#: What each kind of setting is called in a message.
_KIND_ZH = {int: "整数", str: "文字（加英文引号）", float: "数字", Path: "路径（文字，加英文引号）",
            dt.date: "日期（如 2024-05-10，不加引号）", bool: "true 或 false", list: "列表（[…]）"}


def _kind_zh(value: object) -> str:
    """What a TOML value is, in Chinese (for "应为… 现为…")."""
    for kind, name in ((bool, "true/false"), (int, "整数"), (float, "小数"), (str, "文字"), (list, "列表"),
                       (dict, "设置表"), (dt.date, "日期")):
        if isinstance(value, kind):
            return f"{name}“{value}”" if kind not in (list, dict) else name
    return type(value).__name__


def _typed_setting(raw: object, key: str, kind: type, path: Path) -> object:
    """A setting of the expected TOML type, else a ConfigError naming the key and the type (never a str()
    of a list, never 2023.9 truncated to 2023)."""
    ok = {int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          dt.date: lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime)}.get(kind, lambda v: isinstance(v, str))
    if not ok(raw):
        raise ConfigError(f"配置文件 {path} 中 {key} 应为{_KIND_ZH[kind]}，现为{_kind_zh(raw)}")
    if kind is Path:
        p = Path(raw)
        return p if p.is_absolute() else Path(os.path.normpath(path.parent / p))
    return float(raw) if kind is float else raw


_MAIL_KEYS = {"imap": str, "smtp": str, "starttls": bool, "from": str, "cc": list, "receipts": bool}


def _mail_settings(section: object, path: Path) -> MailSettings:
    """The [mail] table: account URLs, sender, copies; a password here is refused (environment only)."""
    if not isinstance(section, dict):
        raise ConfigError(f"配置文件 {path} 中 [mail] 应为一个设置表")
    if "password" in section:
        raise ConfigError(f"配置文件 {path} 中不能写邮箱密码：请把密码放在环境变量 {PASSWORD_ENV} 中。")
    unknown = sorted(set(section) - set(_MAIL_KEYS))
    if unknown:
        raise ConfigError(f"配置文件 {path} 的 [mail] 中有无法识别的设置项：{'、'.join(unknown)}")
    for key, kind in _MAIL_KEYS.items():
        if key in section and not isinstance(section[key], kind):
            raise ConfigError(f"配置文件 {path} 中 [mail] 的 {key} 应为{_KIND_ZH[kind]}，现为{_kind_zh(section[key])}")
    cc = section.get("cc", [])
    if not all(isinstance(a, str) for a in cc):
        raise ConfigError(f"配置文件 {path} 中 [mail] 的 cc 应为邮箱地址的列表")
    return MailSettings(imap=section.get("imap", "").strip(), smtp=section.get("smtp", "").strip(),
                        starttls=section.get("starttls", False), sender=section.get("from", "").strip(),
                        cc=tuple(a.strip() for a in cc if a.strip()), receipts=section.get("receipts", False))


_ROSTER_COLUMNS = {"单位编码": "code", "单位名称": "name", "联系人": "contact", "电子邮箱": "email"}


def load_roster(path: str | Path) -> list[RosterEntry]:
    """Departments expected to submit, from CSV (UTF-8 or GB18030) or .xlsx."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"找不到报送名单：{path}")
    try:
        rows = read_table(path, "报送名单", max_rows=5000, max_cols=10)
    except TableFileError as exc:
        raise ConfigError(str(exc)) from exc
    rows = [[str(c or "").strip() for c in r] for r in rows if any(str(c or "").strip() for c in r)]
    if not rows:
        raise ConfigError(f"报送名单 {path} 是空的。")
    header = rows[0]
    missing = [h for h in ("单位编码", "单位名称") if h not in header]
    if missing:
        raise ConfigError(f"报送名单 {path} 缺少列：{'、'.join(missing)}（第一行须为表头）")
    index = {attr: header.index(h) for h, attr in _ROSTER_COLUMNS.items() if h in header}
    entries, seen = [], set()
    for n, row in enumerate(rows[1:], start=2):
        item = {attr: (row[i] if i < len(row) else "") for attr, i in index.items()}
        if not item["code"]:
            raise ConfigError(f"报送名单 {path} 第{n}行缺少单位编码。")
        if item["code"] in seen:
            raise ConfigError(f"报送名单 {path} 第{n}行的单位编码“{item['code']}”重复。")
        seen.add(item["code"])
        entries.append(RosterEntry(**item))
    return entries


EXAMPLE_CONFIG = """\
# perf-toolkit 绩效自评工作配置：一轮自评一个文件。
# 路径均相对于本文件所在的文件夹。

[campaign]
# 评价年度（被评价的预算年度）
year = {year}
# 区县名称（全市汇总时填市名）
district = {district}
# 组织评价的财政局全称
bureau = {bureau}
# 财政局通知的标题（报告开头引用，不含书名号）和文号
notice_title = {notice_title}
notice_number = {notice_number}
# 报送截止日期
deadline = {deadline}
# 自评结果公开的网站
portal = {portal}
# 评分规则：national-2020（默认）、twenty-eighty、sichuan，或自定义规则 .toml 文件的路径
profile = {profile}
# 结果应用：执行率低于此值的项目列入“结果应用”清单（0.9 即 90%）
low_execution_rate = {low_execution_rate}
# 应报送单位名单（CSV 或 xlsx），表头为：单位编码,单位名称,联系人,电子邮箱
roster = {roster}
# 历年结果数据库（汇总时自动记录，用于历年对比）
history = {history}
# 输出文件夹
output = {output}

[mail]
# 收件邮箱的文件夹（各单位把填报表发到这里），如 "imaps://用户名@邮件服务器/绩效自评"；
# 写上后 perf-toolkit collect / run 不给来源时从这里收取
# imap = ""
# 发信服务器（feedback --send、run --send 用），如 "smtps://用户名@邮件服务器:465"
# smtp = ""
# 发件人地址，抄送地址列表
# from = ""
# cc = []
# 审核通过的单位也发回执“已通过审核”
receipts = false
# 邮箱密码只从环境变量 PERF_TOOLKIT_MAIL_PASSWORD 读取，不要写在这里
"""

ROSTER_HEADER = tuple(_ROSTER_COLUMNS)
ROSTER_FILE = "报送名单.csv"
CONFIG_FILE = "perf.toml"


def example_config_text(campaign: Campaign, roster: str = ROSTER_FILE) -> str:
    """The annotated perf.toml text for a campaign; what it was not told is a placeholder to fill in."""
    deadline = campaign.deadline or dt.date(campaign.year + 1, 5, 10)
    texts = {attr: _toml_string(campaign.fact(attr)) for attr, _ in FACTS}
    return EXAMPLE_CONFIG.format(
        year=int(campaign.year), deadline=deadline.isoformat(), profile=_toml_string(campaign.profile), low_execution_rate=float(campaign.low_execution_rate),
        roster=_toml_string(roster), history=_toml_string("output/history.sqlite"),
        output=_toml_string("output"), **texts)


def _toml_string(text: object) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(str(text), ensure_ascii=False)


def write_example_config(path: str | Path, campaign: Campaign, *, overwrite: bool = False) -> Path:
    """Write an annotated perf.toml (for `perf-toolkit init`); an existing file is an error unless overwrite."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} 已存在，未覆盖。")
    with atomic_write(path) as fh:
        fh.write(example_config_text(campaign).encode("utf-8"))
    return path


def csv_cell(value: object) -> str:
    """A text for a CSV cell that a spreadsheet never runs as a formula (OWASP: prefix ')."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_roster(path: str | Path, entries: tuple[RosterEntry, ...] | list[RosterEntry] = (), *,
                 overwrite: bool = False) -> Path:
    """Write a roster CSV (UTF-8 with BOM, so Excel shows the Chinese); header only when no entries."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} 已存在，未覆盖。")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ROSTER_HEADER)
    for e in entries:
        writer.writerow([csv_cell(v) for v in (e.code, e.name, e.contact, e.email)])
    with atomic_write(path) as fh:
        fh.write(buffer.getvalue().encode("utf-8-sig"))
    return path


def init_folder(folder: str | Path, campaign: Campaign) -> tuple[list[Path], list[Path]]:
    """Write perf.toml and a roster template into `folder`, never overwriting; returns (written, kept)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written, kept = [], []
    for name, write in ((CONFIG_FILE, lambda p: write_example_config(p, campaign)),
                        (ROSTER_FILE, write_roster)):
        target = folder / name
        if target.exists():
            kept.append(target)
        else:
            written.append(write(target))
    return written, kept
