"""The README documents every command and every finding code; every profile ships valid."""

from __future__ import annotations

import re

from builders import ROOT

from perf_toolkit.cli import cli
from perf_toolkit.findings import CATALOGUE
from perf_toolkit.profile import builtin_profiles, load_profile

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_finding_code_with_its_severity():
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| (错误|警告) \|", README, flags=re.M))
    assert set(rows) == set(CATALOGUE)
    for code, entry in CATALOGUE.items():
        assert rows[code] == {"error": "错误", "warning": "警告"}[entry.severity], code


def test_readme_lists_every_command():
    listed = set(re.findall(r"^\| `([a-z]+)` \|", README, flags=re.M))
    assert set(cli.commands) <= listed


def test_quick_start_is_the_two_make_commands():
    quick = README.split("## 快速开始", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"^\$ (.+)$", quick, flags=re.M) == ["make reports", "make test"]


def test_every_message_template_is_chinese_and_every_code_has_a_title():
    for entry in CATALOGUE.values():
        assert re.search(r"[\u4e00-\u9fff]", entry.template) and entry.title, entry.code
        assert entry.severity in ("error", "warning") and re.fullmatch(r"[a-z]+(-[a-z]+)*", entry.code)


def test_builtin_profiles_load():
    assert builtin_profiles() == ["national-2020", "sichuan", "twenty-eighty"]
    for name in builtin_profiles():
        profile = load_profile(name)
        assert profile.name == name and profile.grades[0][0] == "优"


def test_readme_lists_every_report_variable():
    from perf_toolkit.report.context import CONTEXT_KEYS

    section = README.split("## 报告模板", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line.split("|")[2]]
    listed = {name for row in rows for name in re.findall(r"`([a-z_0-9]+)`", row.split("|")[2])}
    assert listed == set(CONTEXT_KEYS)
