"""The command line: a thin click layer over the library (the only module that knows click)."""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

import click

from . import __version__, cli_zh
from .evaluate import Evaluation, evaluate_paths
from .guard import Limits
from .model import SubmissionFormatError, submission_from_dict, submission_to_dict
from .profile import ProfileError, load_profile
from .score import round2

cli_zh.install()

SEVERITY_ZH = {"error": "错误", "warning": "警告"}
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_FAILURE = 0, 1, 2, 3


class OperatorError(click.ClickException):
    """Bad operator input (profile, config, paths): printed in Chinese, exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:
        click.echo(f"错误：{self.format_message()}", err=True)


def _profile(value: str | None):
    try:
        return load_profile(value)
    except ProfileError as exc:
        raise OperatorError(str(exc)) from exc


profile_option = click.option(
    "--profile", "profile_name", metavar="规则", default=None,
    help="评分规则：内置名称（national-2020 默认、twenty-eighty、sichuan）或 .toml 文件路径。",
)
jobs_option = click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None,
                           help="同时读取的文件数（默认为CPU核数）。")
json_option = click.option("--json", "as_json", is_flag=True, help="以 JSON 输出完整结果（与库函数的结果相同）。")
paths_argument = click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="perf-toolkit")
def cli() -> None:
    """预算绩效自评工具：下发标准填报表，读取、审核、评分各单位的填报结果。"""


# ------------------------------------------------------------------ template / export


@cli.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="输出的填报表（.xlsx）；与 --prefill 同用时为输出文件夹。")
@click.option("--fill", "fill", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="用填报数据 JSON（submission-v1）填好表格。")
@click.option("--prefill", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="财政局预算数据（CSV 或 xlsx），为每个单位生成一份预填了预算数的填报表。")
@click.option("--projects", type=click.IntRange(1, 200), default=3, show_default=True, help="空白项目表的张数。")
@click.option("--year", type=click.IntRange(2000, 2100), default=None, help="评价年度，如 2023。")
@profile_option
def template(output: Path, fill: Path | None, prefill: Path | None, projects: int, year: int | None,
             profile_name: str | None) -> None:
    """生成标准自评填报表。

    \b
    示例：
      perf-toolkit template -o 自评填报表.xlsx --year 2023
      perf-toolkit template --fill 单位.json -o 单位.xlsx
      perf-toolkit template --prefill 预算数据.csv --year 2023 -o 下发/
    """
    from .template import BudgetFileError, read_budget_csv, write_prefilled, write_template

    budget_weight = _profile(profile_name).budget_weight
    if fill and prefill:
        raise OperatorError("--fill 与 --prefill 不能同时使用。")
    if prefill:
        if year is None:
            raise OperatorError("使用 --prefill 时须用 --year 指定评价年度。")
        try:
            lines = read_budget_csv(prefill)
        except BudgetFileError as exc:
            raise OperatorError(str(exc)) from exc
        written = write_prefilled(lines, output, year=year, budget_weight=budget_weight)
        click.echo(f"已生成 {len(written)} 份预填填报表，保存在 {output}")
        return
    submission = None
    if fill:
        try:
            submission = submission_from_dict(json.loads(fill.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError, SubmissionFormatError) as exc:
            raise OperatorError(f"{fill} 不是有效的填报数据 JSON：{exc}") from exc
    write_template(output, submission, projects=projects, year=year, budget_weight=budget_weight)
    click.echo(f"已生成填报表：{output}")


@cli.command()
@click.argument("workbook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="输出的 JSON 文件；省略时输出到屏幕。")
def export(workbook: Path, output: Path | None) -> None:
    """把填报表导出为填报数据 JSON（submission-v1）。

    \b
    示例：
      perf-toolkit export 单位.xlsx -o 单位.json
    """
    from .fsutil import atomic_write
    from .read import read_workbook

    read = read_workbook(workbook)
    if read.sourced is None:
        messages = "；".join(f.message for f in read.findings)
        raise click.ClickException(f"无法读取 {workbook}：{messages}")
    text = json.dumps(submission_to_dict(read.sourced.submission), ensure_ascii=False, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    with atomic_write(output) as fh:
        fh.write(text.encode("utf-8"))
    click.echo(f"已导出：{output}", err=True)


# ------------------------------------------------------------------ check / score


def _evaluate(paths, profile_name, jobs) -> Evaluation:
    return evaluate_paths(paths, _profile(profile_name), limits=Limits(), jobs=jobs)


@cli.command()
@paths_argument
@json_option
@profile_option
@jobs_option
def check(paths: tuple[Path, ...], as_json: bool, profile_name: str | None, jobs: int | None) -> None:
    """审核填报表，列出每个问题及其所在的工作表和单元格。

    PATHS 可以是文件或文件夹（含子文件夹；自动跳过 Office 临时文件）。
    退出码：0 无错误，1 有文件存在错误，2 用法错误，3 工具故障。

    \b
    示例：
      perf-toolkit check 收件箱/
      perf-toolkit check 单位.xlsx --json > 审核结果.json
    """
    result = _evaluate(paths, profile_name, jobs)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_findings(result)
    sys.exit(EXIT_FINDINGS if result.has_errors else EXIT_OK)


@cli.command()
@paths_argument
@json_option
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="另存评分结果为 Excel 工作簿（.xlsx）。")
@profile_option
@jobs_option
def score(paths: tuple[Path, ...], as_json: bool, output: Path | None, profile_name: str | None,
          jobs: int | None) -> None:
    """按评分规则计算每个项目的执行率、各指标得分、总分和等级。

    \b
    示例：
      perf-toolkit score 收件箱/
      perf-toolkit score 单位.xlsx --json
      perf-toolkit score 收件箱/ -o 评分结果.xlsx --profile sichuan
    """
    result = _evaluate(paths, profile_name, jobs)
    if output is not None:
        from .scoresheet import write_scores

        write_scores(result, output)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_scores(result)
        if output is not None:
            click.echo(f"评分结果已保存：{output}")
    sys.exit(EXIT_FINDINGS if result.has_errors else EXIT_OK)


# ------------------------------------------------------------------ human output


def width(text: str) -> int:
    """Display width in a terminal: CJK characters count double."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, size: int) -> str:
    return text + " " * max(0, size - width(text))


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    sizes = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(pad(c, sizes[i]) for i, c in enumerate(r[:-1])) + "  " + r[-1] for r in rows]


def _file_title(r) -> str:
    if r.sourced is None:
        return f"■ {r.file}（无法读取）"
    sub = r.sourced.submission
    return f"■ {r.file}（{sub.department.name or '单位名称未填'}，{len(sub.projects)}个项目）"


def _print_findings(result: Evaluation) -> None:
    for r in result.files:
        click.echo(_file_title(r))
        if not r.findings:
            click.echo("  未发现问题。")
        else:
            rows = [["级别", "代码", "位置", "说明"]]
            for f in r.findings:
                where = f"{f.sheet}!{f.cell}" if f.sheet and f.cell else (f.sheet or "—")
                rows.append([SEVERITY_ZH[f.severity], f.code, where, f.message])
            for line in _table(rows):
                click.echo(line)
        click.echo("")
    _print_totals(result)


def _print_totals(result: Evaluation) -> None:
    d = result.to_dict()["summary"]
    unreadable = d["files"] - d["readable"]
    line = f"合计：{d['files']} 个文件，{d['projects']} 个项目；错误 {d['errors']} 个，警告 {d['warnings']} 个"
    if unreadable:
        line += f"；{unreadable} 个文件无法读取"
    if d["skipped"]:
        line += f"；跳过 {d['skipped']} 个文件（{'、'.join(Path(k.path).name for k in result.skipped[:3])}"
        line += "等）" if d["skipped"] > 3 else "）"
    click.echo(line + "。")


def _money(x) -> str:
    return f"{round2(x):,.2f}"


def _print_scores(result: Evaluation) -> None:
    proj = result.scores.projects
    rows = [["单位", "项目", "全年预算数(万元)", "全年执行数(万元)", "执行率", "预算执行得分", "指标得分", "总分",
             "等级"]]
    for row in proj.itertuples(index=False):
        rate = "—" if row.execution_rate != row.execution_rate else f"{round2(row.execution_rate * 100):.2f}%"
        rows.append([row.dept_name or "—", row.name or row.code or "—", _money(row.adjusted_budget),
                     _money(row.executed), rate, f"{round2(row.execution_score):.2f}",
                     f"{round2(row.indicator_score):.2f}", f"{row.total_display:.2f}", row.grade])
    if len(rows) > 1:
        for line in _table(rows, indent=""):
            click.echo(line)
    else:
        click.echo("没有可评分的项目。")
    for r in result.files:
        if r.errors:
            click.echo(f"注意：{r.file} 有 {r.errors} 个错误，得分可能不准确，请先运行 perf-toolkit check 查看。")
        elif r.sourced is None:
            click.echo(f"注意：{r.file} 无法读取，未评分。")
    _print_totals(result)


def main() -> None:
    """Entry point: click's own exit codes for usage (2), 3 for a failure of the tool itself."""
    try:
        cli.main(prog_name="perf-toolkit", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # a bug or an environment failure, never a department's data
        click.echo(f"工具内部错误：{type(exc).__name__}: {exc}", err=True)
        click.echo("请把以上信息和所用文件发给技术支持。", err=True)
        sys.exit(EXIT_FAILURE)


if __name__ == "__main__":
    main()
