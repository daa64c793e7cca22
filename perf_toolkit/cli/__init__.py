"""The command line: a thin click layer over the library (the only module that knows click)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import __version__
from ..config import Campaign, ConfigError, load_config
from ..findings import SEVERITY_ZH
from ..fsutil import os_error_text
from ..numbers import known, money_grouped, number_or_none, percent, points, provisional, weight_text
from ..profile import ProfileError, load_profile
from ..text import display_width
from ..workbook.guard import Limits
from . import zh

if TYPE_CHECKING:  # the evaluation stack (pandas) is imported by the commands that need it
    from ..model import Evaluation

zh.install()

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_FAILURE = 0, 1, 2, 3


class OperatorError(click.ClickException):
    """Bad operator input (profile, config, paths): printed in Chinese, exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:
        click.echo(f"错误：{self.format_message()}", err=True)


def _profile(value: str | None, campaign: Campaign | None = None):
    """The rule profile: --profile wins over the config's, which wins over the default."""
    try:
        return load_profile(value or (campaign.profile if campaign else None))
    except ProfileError as exc:
        raise OperatorError(str(exc)) from exc


def _refuse_overlap(output: Path | None, inputs) -> None:
    """An output that is, or is inside, an input is refused before anything is read or written."""
    from ..fsutil import input_overlap, overlap_message

    clash = input_overlap(output, inputs) if output is not None else None
    if clash is not None:
        raise OperatorError(overlap_message(output, clash))


def _campaign(path: Path | None, year: int | None = None) -> Campaign:
    """The round's config; --year wins over its year. Without a file nothing of the round is known."""
    try:
        campaign = load_config(path)
    except ConfigError as exc:
        raise OperatorError(str(exc)) from exc
    return replace(campaign, year=year) if year is not None else campaign


def _round_year(campaign: Campaign, evaluation: Evaluation) -> Campaign:
    """The campaign with the round's year: given, else the submissions' one year (several: an error)."""
    try:
        return campaign.with_year_of(r.submission.year for r in evaluation.counted)
    except ConfigError as exc:
        raise OperatorError(str(exc)) from exc


def _warn_missing_facts(campaign: Campaign) -> None:
    """Once per command: which facts of the round documents will show as 【待填写】."""
    missing = campaign.missing_facts()
    if missing:
        where = f"配置文件 {campaign.source}" if campaign.source else "配置文件（--config perf.toml）"
        click.echo(f"注意：{where}中没有本轮的{'、'.join(missing)}，报告和汇总表中以“【待填写：…】”标出，"
                   "请补全配置后重新生成。", err=True)


profile_option = click.option(
    "--profile", "profile_name", metavar="规则", default=None,
    help="评分规则：内置名称（national-2020 默认、twenty-eighty、sichuan）或 .toml 文件路径。",
)
jobs_option = click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None, metavar="个数",
                           help="同时读取的文件数（默认为CPU核数）。")
json_option = click.option("--json", "as_json", is_flag=True, help="以 JSON 输出完整结果（与库函数的结果相同）。")
config_option = click.option(
    "--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="本轮自评的配置文件 perf.toml；省略时评价年度取自填报表，通知、财政局等在报告中标为【待填写】。",
)
year_option = click.option("--year", "round_year", type=click.IntRange(2000, 2100), default=None, metavar="年度",
                           help="本轮的评价年度，如 2023（优先于配置文件中的 year）。")
paths_argument = click.argument("paths", nargs=-1, required=True, metavar="路径...",
                                type=click.Path(exists=True, path_type=Path))


@click.group(cls=zh.Group, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--projects", type=click.IntRange(1, 200), default=None, metavar="张数",
              help="项目表的张数（空白表默认 3 张；--fill 时默认与项目数相同）。")
@click.option("--year", type=click.IntRange(2000, 2100), default=None, metavar="年度", help="评价年度，如 2023。")
@profile_option
@config_option
def template(output: Path, fill: Path | None, prefill: Path | None, projects: int | None, year: int | None,
             profile_name: str | None, config_path: Path | None) -> None:
    """生成标准自评填报表。

    \b
    示例：
      perf-toolkit template -o 自评填报表.xlsx --year 2023
      perf-toolkit template --fill 单位.json -o 单位.xlsx
      perf-toolkit template --prefill 预算数据.csv --year 2023 -o 下发/
    """
    from ..workbook.budget import BudgetFileError, read_budget_csv
    from ..workbook.template import WorkbookWriteError, write_from_json, write_prefilled, write_template

    campaign = _campaign(config_path)
    profile = _profile(profile_name, campaign)
    year = year or (campaign.year if config_path else None)
    if fill and prefill:
        raise OperatorError("--fill 与 --prefill 不能同时使用。")
    _refuse_overlap(output, [p for p in (fill, prefill) if p is not None])
    try:
        if prefill:
            if year is None:
                raise OperatorError("使用 --prefill 时须用 --year 指定评价年度。")
            written = write_prefilled(read_budget_csv(prefill), output, year=year, profile=profile)
            click.echo(f"已生成 {len(written)} 份预填填报表，保存在 {output}")
        elif fill:
            write_from_json(fill, output, projects=projects or 1, year=year, profile=profile)
            click.echo(f"已生成填报表：{output}")
        else:
            write_template(output, projects=projects or 3, year=year, profile=profile)
            click.echo(f"已生成填报表：{output}")
    except (WorkbookWriteError, BudgetFileError) as exc:
        raise OperatorError(str(exc)) from exc


@cli.command()
@click.argument("workbook", metavar="填报表", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="输出的 JSON 文件；省略时输出到屏幕。")
@config_option
def export(workbook: Path, output: Path | None, config_path: Path | None) -> None:
    """把填报表导出为填报数据 JSON（submission-v1）。

    \b
    示例：
      perf-toolkit export 单位.xlsx -o 单位.json
    """
    from ..fsutil import atomic_write
    from ..workbook.read import ExportError, export_workbook

    _campaign(config_path)  # accepted like every command's; the export itself needs no campaign settings
    _refuse_overlap(output, [workbook])
    try:
        text = json.dumps(export_workbook(workbook), ensure_ascii=False, indent=2) + "\n"
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    if output is None:
        click.echo(text, nl=False)
        return
    with atomic_write(output) as fh:
        fh.write(text.encode("utf-8"))
    click.echo(f"已导出：{output}", err=True)


# ------------------------------------------------------------------ check / score


def _evaluate(paths, profile_name: str | None, campaign: Campaign, jobs: int | None) -> Evaluation:
    """Read, score and check, with the round's profile and year (the commands' common first step)."""
    from ..check.evaluate import evaluate_paths

    return evaluate_paths(paths, _profile(profile_name, campaign), limits=Limits(), jobs=jobs,
                          year=campaign.expected_year, roster=campaign.roster)


@cli.command()
@paths_argument
@json_option
@profile_option
@config_option
@year_option
@jobs_option
@click.option("--markup", "markup_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="文件夹", help="同时为每个有问题的填报表生成审核意见（标出问题的填报表副本），保存到该文件夹。")
def check(paths: tuple[Path, ...], as_json: bool, profile_name: str | None, config_path: Path | None,
          round_year: int | None,
          jobs: int | None, markup_dir: Path | None) -> None:
    """审核填报表，列出每个问题及其所在的工作表和单元格。

    路径可以是文件或文件夹（含子文件夹；自动跳过 Office 临时文件）。

    退出码：0 无错误，1 有文件存在错误，2 用法错误，3 工具故障。

    \b
    示例：
      perf-toolkit check 收件箱/
      perf-toolkit check 单位.xlsx --json > 审核结果.json
      perf-toolkit check 收件箱/ --markup 审核意见/
    """
    _refuse_overlap(markup_dir, paths)
    result = _evaluate(paths, profile_name, _campaign(config_path, round_year), jobs)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_findings(result)
    if markup_dir is not None:
        from ..workbook.markup import write_markups

        try:
            markups = write_markups(result, markup_dir, campaign=_campaign(config_path, round_year), jobs=jobs)
        except OSError as exc:
            raise OperatorError(f"无法写入审核意见文件夹 {markup_dir}：{os_error_text(exc)}") from exc
        _print_markups(markups, markup_dir, err=as_json)  # stdout stays pure JSON with --json
    sys.exit(EXIT_FINDINGS if result.has_errors else EXIT_OK)


@cli.command()
@paths_argument
@json_option
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="另存评分结果为 Excel 工作簿（.xlsx）。")
@profile_option
@config_option
@year_option
@jobs_option
def score(paths: tuple[Path, ...], as_json: bool, output: Path | None, profile_name: str | None,
          round_year: int | None,
          config_path: Path | None, jobs: int | None) -> None:
    """按评分规则计算每个项目的执行率、各指标得分、总分和等级。

    \b
    示例：
      perf-toolkit score 收件箱/
      perf-toolkit score 单位.xlsx --json
      perf-toolkit score 收件箱/ -o 评分结果.xlsx --profile sichuan
    """
    _refuse_overlap(output, paths)
    result = _evaluate(paths, profile_name, _campaign(config_path, round_year), jobs)
    if output is not None:
        from ..summary.scoresheet import write_scores

        write_scores(result, output)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_scores(result)
        if output is not None:
            click.echo(f"评分结果已保存：{output}")
    sys.exit(EXIT_FINDINGS if result.has_errors else EXIT_OK)


# ------------------------------------------------------------------ report


@cli.command()
@paths_argument
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="输出文件夹；省略时为配置中的输出文件夹（默认 output）。")
@click.option("--template", "report_template", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="自定义的报告模板（.docx，docxtpl 标记）；先检查其中的变量，有误则不生成任何文件。")
@click.option("--table-template", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="自定义的自评表模板（.docx）。")
@click.option("--pdf", is_flag=True, help="同时用 LibreOffice 转换为 PDF（需已安装 soffice 和中文字体）。")
@profile_option
@config_option
@year_option
@jobs_option
def report(paths: tuple[Path, ...], output: Path | None, report_template: Path | None,
           table_template: Path | None, pdf: bool, profile_name: str | None, config_path: Path | None,
           round_year: int | None, jobs: int | None) -> None:
    """为每个项目生成绩效自评报告和项目支出绩效自评表（Word，可选 PDF）。

    文件名为“单位名称-项目名称-绩效自评报告.docx”和“单位名称-项目名称-自评表.docx”。

    执行率、得分和等级与 perf-toolkit score 的结果一致；无法识别的数值在报告中标注“【需核实】”，请先用 perf-toolkit check 改正填报表。

    模板中可用的变量见 docs/report-context.md。

    \b
    示例：
      perf-toolkit report 收件箱/ -o output/
      perf-toolkit report 单位.xlsx --pdf --config perf.toml
      perf-toolkit report 收件箱/ --template 我的报告模板.docx
    """
    from ..report.render import (
        PdfError,
        ReportTemplateError,
        check_template,
        find_soffice,
        load_template,
        render_reports,
    )

    campaign = _campaign(config_path, round_year)
    _refuse_overlap(output or campaign.output_dir, paths)
    try:  # templates and soffice are checked before any file is read or written
        for custom in (report_template, table_template):
            if custom is not None:
                check_template(load_template(custom))
        if pdf:
            find_soffice()
    except (ReportTemplateError, PdfError) as exc:
        raise OperatorError(str(exc)) from exc
    result = _evaluate(paths, profile_name, campaign, jobs)
    campaign = _round_year(campaign, result)
    _warn_missing_facts(campaign)
    output = output or campaign.output_dir
    try:
        written = render_reports(result, output, campaign=campaign, report_template=report_template,
                                 table_template=table_template, pdf=pdf)
    except ReportTemplateError as exc:
        raise OperatorError(str(exc)) from exc
    except PdfError as exc:
        click.echo(f"错误：{exc}（Word 文档已生成，保存在 {output}）", err=True)
        sys.exit(EXIT_FAILURE)
    if not written:
        click.echo("没有可生成报告的项目。")
    else:
        kinds = "Word 和 PDF 文件" if pdf else "Word 文件"
        click.echo(f"已为 {len(written)} 个项目生成绩效自评报告和自评表（{kinds}），保存在 {output}：")
        for w in written:
            note = "；填报表有错误，报告中的数据请核实" if w.has_errors else ""
            total = provisional(known(points(w.total_score), w.total_score is not None), w.provisional)
            click.echo(f"  {w.report.name[:-len('-绩效自评报告.docx')]}（总分 {total}，"
                       f"等级 {w.grade}{note}）")
    for r in result.files:
        if r.sourced is None:
            click.echo(f"注意：{r.file} 无法读取，未生成报告。")
    _print_totals(result)
    sys.exit(EXIT_FINDINGS if result.has_errors else EXIT_OK)


# ------------------------------------------------------------------ run


@cli.command()
@click.argument("sources", nargs=-1, metavar="[来源...]")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="输出文件夹；省略时为配置中的输出文件夹（默认 output）。")
@click.option("--pdf", is_flag=True, help="报告同时转换为 PDF（需已安装 LibreOffice 和中文字体）。")
@click.option("--no-history", is_flag=True, help="不读写历年结果数据库。")
@click.option("--send", is_flag=True, help="最后通过配置的发信服务器（[mail] smtp）发送反馈邮件；已发送过且内容没有变化的不再重发。")
@profile_option
@config_option
@year_option
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None, metavar="个数",
              help="同时工作的进程数：读取填报表、生成报告和审核意见（默认为CPU核数）；结果与进程数无关。")
@click.option("-q", "--quiet", is_flag=True, help="不在标准错误输出显示各阶段的进度和用时。")
def run(sources: tuple[str, ...], output: Path | None, pdf: bool, no_history: bool, send: bool,
        profile_name: str | None, config_path: Path | None, round_year: int | None, jobs: int | None,
        quiet: bool) -> None:
    """完成一轮自评：收取、审核、评分、生成每个项目的报告和自评表、生成全区汇总表。

    来源与 collect 相同：文件夹、填报表、邮件（.eml）、邮箱文件（.mbox）、Maildir、.zip 或 IMAP 邮箱文件夹；不给来源时读取 perf.toml 中 [mail] 的 imap。收到的填报表先原样保存到输出文件夹的 原件/，之后只读这些原件。

    输出文件夹中依次写入：原件/ 和 round.sqlite（收到的文件及其处理结果）、审核结果.json、自评报告/（每个项目的 Word 报告和自评表）、汇总.xlsx、审核意见/（标出问题的填报表副本）、反馈邮件/（发给各单位的审核意见和催报邮件草稿，--send 时直接发送）；本轮结果同时记入历年结果数据库。

    填报表中的错误不影响生成（报告中会标注），退出码 0 表示各项结果均已生成。

    \b
    示例：
      perf-toolkit run 收件箱/ --config perf.toml
      perf-toolkit run 收件箱/ -o 2023年度结果/ --pdf
    """
    from ..mail.store import CollectError
    from ..progress import Progress, StreamProgress
    from ..report.render import PdfError, find_soffice
    from ..run import FEEDBACK_DIR, MARKUP_DIR, REPORTS_DIR, RoundLocked, run_round
    from ..summary.history import HistoryError

    campaign = _campaign(config_path, round_year)
    profile = _profile(profile_name, campaign)
    _refuse_overlap(output or campaign.output_dir, _round_sources(campaign, sources))
    try:
        if pdf:
            find_soffice()
        progress = Progress() if quiet else StreamProgress(sys.stderr)
        result = run_round(_round_sources(campaign, sources), campaign, profile, output, pdf=pdf,
                           history=not no_history, jobs=jobs, progress=progress)
    except (RoundLocked, HistoryError, PdfError, ConfigError, CollectError) as exc:
        raise OperatorError(str(exc)) from exc
    if isinstance(progress, StreamProgress):
        progress.summary()
    evaluation, campaign = result.evaluation, result.campaign
    _warn_missing_facts(campaign)
    year = f"{campaign.year}年度" if campaign.year else ""
    click.echo(f"{campaign.fact('district')}{year}项目支出绩效自评（评分规则：{profile.title}）")
    click.echo("")
    click.echo("■ 收取")
    if result.collection is not None:
        _print_collection(result.collection, indent="  ", brief=True)
    else:
        click.echo(f"  没有给出来源，使用 {result.output} 中已收取的填报表。")
    click.echo("")
    click.echo("■ 审核")
    rows = [["文件", "单位", "错误", "警告"]]
    for r in evaluation.files:
        unit = (r.submission.department.name or "—") + _replaced(r) if r.submission else "（无法读取）"
        rows.append([Path(r.file).name, unit, str(r.errors), str(r.warnings)])
    for line in _table(rows):
        click.echo(line)
    for skipped in evaluation.skipped:
        click.echo(f"  已跳过 {Path(skipped.path).name}：{skipped.reason}")
    click.echo(f"  问题明细见 {result.report_json}，或运行 perf-toolkit check 查看。")
    click.echo("")
    click.echo("■ 评分")
    _score_table(evaluation, indent="  ")
    click.echo("")
    click.echo("■ 报告")
    kinds = "Word 和 PDF" if pdf else "Word"
    failed = [r for r in result.reports if r.failed]
    reused = sum(r.reused for r in result.reports)
    kept = f"（其中 {reused} 个项目的内容没有变化，沿用上次生成的文件）" if reused else ""
    click.echo(f"  已为 {len(result.reports) - len(failed)} 个项目生成绩效自评报告和自评表（{kinds}），"
               f"保存在 {result.output / REPORTS_DIR}/{kept}")
    for r in failed:
        click.echo(f"  未能生成 {r.department}“{r.project}”的报告：{r.failed}")
    click.echo("")
    click.echo("■ 汇总")
    _print_summary(result.frames, result.summary, result.history, result.earlier,
                   indent="  ")
    click.echo("")
    click.echo("■ 审核意见")
    _print_markups(result.markups, result.output / MARKUP_DIR, indent="  ")
    click.echo("")
    click.echo("■ 反馈邮件")
    _print_drafts(result.outgoing, result.drafts, result.output / FEEDBACK_DIR, campaign, indent="  ")
    if send and _send(result.outgoing, campaign, indent="  "):
        sys.exit(EXIT_FINDINGS)
    if failed:  # the rest is written; these projects' documents are not (the next run tries them again)
        sys.exit(EXIT_FAILURE)


# ------------------------------------------------------------------ human output


def _print_markups(markups, folder: Path, *, indent: str = "", err: bool = False) -> None:
    made = sum(m.path is not None for m in markups)
    click.echo(f"{indent}已为 {made} 个有问题的填报表生成审核意见，保存在 {folder}/，可直接发回各单位", err=err)
    for m in markups:
        if m.path is None and m.reason.startswith("无法生成"):
            click.echo(f"{indent}注意：{Path(m.file).name} {m.reason}", err=err)


def pad(text: str, size: int) -> str:
    return text + " " * max(0, size - display_width(text))


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    sizes = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [(indent + "  ".join(pad(c, sizes[i]) for i, c in enumerate(r[:-1])) + "  " + r[-1]).rstrip() for r in rows]


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
    d = result.counts()
    unreadable = d["files"] - d["readable"]
    line = f"合计：{d['files']} 个文件，{d['projects']} 个项目；错误 {d['errors']} 个，警告 {d['warnings']} 个"
    if unreadable:
        line += f"；{unreadable} 个文件无法读取"
    if d["skipped"]:
        line += f"；跳过 {d['skipped']} 个文件（{'、'.join(Path(k.path).name for k in result.skipped[:3])}"
        line += "等）" if d["skipped"] > 3 else "）"
    click.echo(line + "。")


def _replaced(r) -> str:
    """A mark for a file its department replaced with a newer one (it counts nowhere)."""
    return f"（已被 {Path(r.superseded_by).name} 替代）" if r.superseded_by else ""


def _out_of(p) -> str:
    """Beside a total whose weights do not add up to 100: what it is out of."""
    return f"（分值合计{weight_text(p.total_weight)}）" if p.weight_sum_wrong else ""


def _score_table(result: Evaluation, indent: str = "") -> None:
    rows = [["单位", "项目", "全年预算数(万元)", "全年执行数(万元)", "执行率", "预算执行得分", "指标得分", "总分",
             "等级"]]
    replaced = {r.file: _replaced(r) for r in result.files}
    for p in result.projects:  # a figure not known yet (a formula with no saved result) shows 待核实
        rows.append([(p.department.name or "—") + replaced[p.file], p.name or p.code or "—",
                     known(money_grouped(p.total.adjusted_budget), p.column_known("adjusted_budget")),
                     known(money_grouped(p.total.executed), p.column_known("executed")),
                     known(percent(p.execution_rate), p.rate_known), known(points(p.execution_score), p.rate_known),
                     known(points(p.indicator_score), p.indicator_score is not None),
                     provisional(known(points(p.total_score) + _out_of(p), p.scored), p.provisional),
                     provisional(p.grade, p.provisional)])
    if len(rows) > 1:
        for line in _table(rows, indent=indent):
            click.echo(line)
    else:
        click.echo(f"{indent}没有可评分的项目。")


def _print_scores(result: Evaluation) -> None:
    _score_table(result)
    for r in result.files:
        if r.errors:
            click.echo(f"注意：{r.file} 有 {r.errors} 个错误，得分可能不准确，请先运行 perf-toolkit check 查看。")
        elif r.sourced is None:
            click.echo(f"注意：{r.file} 无法读取，未评分。")
    _print_totals(result)


# ------------------------------------------------------------------ summary / rollup / init


@cli.command()
@paths_argument
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="输出的汇总表（.xlsx）；省略时为配置中输出文件夹下的“汇总.xlsx”。")
@click.option("--history", "history_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="历年结果数据库（默认取配置中的 history，即 output/history.sqlite）。")
@click.option("--no-history", is_flag=True, help="不记录本轮结果，也不做历年对比。")
@profile_option
@config_option
@year_option
@jobs_option
def summary(paths: tuple[Path, ...], output: Path | None, history_path: Path | None, no_history: bool,
            profile_name: str | None, config_path: Path | None, round_year: int | None, jobs: int | None) -> None:
    """汇总各单位的填报表，生成全区绩效自评情况汇总表（Excel，含图表）。

    同一单位报送了多个文件时，以修改时间最新的一份为准，其余列为“被替代”。

    本轮结果记入历年结果数据库；库中有以前年度的结果时，汇总表增加历年对比。

    \b
    示例：
      perf-toolkit summary 收件箱/ --config perf.toml -o output/汇总.xlsx
    """
    from ..summary.consolidate import summarize
    from ..summary.history import HistoryError

    campaign = _campaign(config_path, round_year)
    _refuse_overlap(output or campaign.output_dir / "汇总.xlsx", paths)
    result = _evaluate(paths, profile_name, campaign, jobs)
    campaign = _round_year(campaign, result)
    _warn_missing_facts(campaign)
    output = output or campaign.output_dir / "汇总.xlsx"
    history_path = None if no_history else (history_path or campaign.history_in(output.parent))
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        frames, earlier = summarize(result, campaign, output, history_path=history_path)
    except HistoryError as exc:
        raise OperatorError(str(exc)) from exc
    _print_summary(frames, output, history_path, earlier)


def _print_summary(frames, output: Path, history_path: Path | None, earlier, indent: str = "") -> None:
    figures = dict(zip(frames["总览"]["指标"], frames["总览"].iloc[:, 1], strict=True))

    def n(label: str) -> int:
        value = figures.get(label)
        value = number_or_none(figures.get(label))
        return int(value) if value is not None else 0

    click.echo(f"{indent}已生成汇总表：{output}")
    expected = figures.get("应报送单位数")
    notes = dict(zip(frames["总览"]["指标"], frames["总览"]["说明"], strict=True))
    submitted = f"（{notes['已报送单位数']}）" if notes.get("已报送单位数") else ""
    line = f"  已报送 {n('已报送单位数')} 个单位{submitted}"
    if number_or_none(expected) is not None:
        line = f"  应报送 {int(expected)} 个单位，已报送 {n('已报送单位数')} 个{submitted}，未报送 {n('未报送单位数')} 个"
    missing = frames["未报送单位"]
    if len(missing):
        names = "、".join(str(x) for x in missing["单位名称"].head(8))
        line += f"（{names}{'等' if len(missing) > 8 else ''}）"
    click.echo(indent + line + "。")
    rate = figures.get("总体预算执行率")
    mean_text = points(figures.get("平均得分（简单平均）"))
    pending = f"（{notes['参评项目数']}）" if notes.get("参评项目数") else ""  # projects not scored, 待核实
    click.echo(f"{indent}  参评项目 {n('参评项目数')} 个{pending}；全年预算数 {money_grouped(figures.get('全年预算数合计（万元）'))} "
               f"万元，执行数 {money_grouped(figures.get('全年执行数合计（万元）'))} 万元，执行率 {percent(rate)}；"
               f"平均得分 {mean_text}。")
    click.echo(f"{indent}  错误 {n('错误数')} 个，警告 {n('警告数')} 个（见“问题清单”）；"
               f"列入结果应用的项目 {n('列入结果应用的项目数')} 个。")
    if history_path is not None:
        compared = f"，已与 {earlier.previous_year} 年度对比" if earlier is not None else ""
        click.echo(f"{indent}  本轮结果已记入 {history_path}{compared}。")


@cli.command()
@click.argument("summaries", nargs=-1, required=True, metavar="汇总表...",
                type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="输出的全市汇总表（.xlsx）。")
@click.option("--name", metavar="名称", default=None, help="汇总表上的名称，如“昆明市”（默认取配置中的 district，无配置时为“全市”）。")
@config_option
@jobs_option
def rollup(summaries: tuple[Path, ...], output: Path, name: str | None, config_path: Path | None,
           jobs: int | None) -> None:
    """把各区县用本工具生成的汇总表再汇总一级，生成全市汇总表（第一列为区县）。

    汇总表可以是文件或文件夹（读取其中的 .xlsx）。不是本工具汇总表、格式版本不符或年度不同的文件会逐个列出并跳过，其余照常汇总；有文件被跳过时退出码为 1。

    \b
    示例：
      perf-toolkit rollup 东川区汇总.xlsx 盘龙区汇总.xlsx -o 全市汇总.xlsx --name 昆明市
    """
    from ..summary.rollup import NothingToRollUp, rollup

    campaign = _campaign(config_path)
    _refuse_overlap(output, summaries)
    if config_path is None:
        campaign = replace(campaign, district="全市", bureau="")
    try:
        accepted, rejected = rollup(summaries, output, campaign, name=name, jobs=jobs, year=campaign.year)
    except NothingToRollUp as exc:
        raise OperatorError(str(exc)) from exc
    for file, reason in rejected:
        click.echo(f"已跳过 {file}：{reason}", err=True)
    click.echo(f"已生成全市汇总表：{output}（{len(accepted)} 个区县：{'、'.join(s.name for s in accepted)}）")
    sys.exit(EXIT_FINDINGS if rejected else EXIT_OK)


@cli.command()
@click.argument("folder", metavar="[文件夹]", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--year", type=click.IntRange(2000, 2100), default=None, metavar="年度", help="评价年度，如 2023。")
@click.option("--district", metavar="名称", default=None, help="区县名称，如“东川区”。")
@click.option("--bureau", metavar="名称", default=None, help="财政局全称，如“昆明市东川区财政局”。")
@config_option
def init(folder: Path, year: int | None, district: str | None, bureau: str | None,
         config_path: Path | None) -> None:
    """在文件夹中生成本轮自评的配置文件 perf.toml 和报送名单模板（已有的文件不覆盖）。

    用 --config 指定上一轮的配置时，沿用其设置和报送名单（再用 --year 改年度）。

    \b
    示例：
      perf-toolkit init 2023年度自评/ --year 2023 --district 东川区
      perf-toolkit init 2024年度自评/ --config 2023年度自评/perf.toml --year 2024
    """
    from ..config import CONFIG_FILE, ROSTER_FILE, init_folder, write_roster

    campaign = _campaign(config_path)
    if year is not None and year != campaign.year:  # a new round: last round's notice and deadline do not carry
        campaign = replace(campaign, year=year, notice_title="", notice_number="", deadline=None)
    if campaign.year is None and not (folder / CONFIG_FILE).exists():
        raise OperatorError("请用 --year 指定本轮的评价年度，如 --year 2023。")
    changes = {k: v for k, v in (("district", district), ("bureau", bureau)) if v is not None}
    campaign = replace(campaign, **changes)
    written, kept = init_folder(folder, campaign)
    if config_path is not None and folder / ROSTER_FILE in written and campaign.roster:
        write_roster(folder / ROSTER_FILE, campaign.roster, overwrite=True)
    for path in written:
        click.echo(f"已生成：{path}")
    for path in kept:
        click.echo(f"已存在，未覆盖：{path}")
    if folder / CONFIG_FILE in written:
        click.echo(f"请打开 {folder / CONFIG_FILE} 核对各项设置，并在 {folder / ROSTER_FILE} 中填写应报送单位。")


# ------------------------------------------------------------------ collect / history (the mail round: receiving)


def _round_output(campaign: Campaign, output: Path | None) -> Path:
    return output if output is not None else campaign.output_dir


def _source_text(origin: str, within: str, name: str = "") -> str:
    """Where an input came from, short: the source's file name and the way inside it (mail, zip)."""
    if "://" in origin:
        head = origin
    elif not within and name and Path(origin).name != name:  # a mail file itself (its body): the file
        return Path(origin).name
    elif not within:  # a workbook file itself: its folder
        return f"{Path(origin).parent.name or Path(origin).parent}/"
    else:
        head = Path(origin).name or origin
    inside = within.split(" › ")[:-1]
    return " › ".join([head, *(inside[1:] if inside[:1] == [head] else inside)])


@cli.command("collect")
@click.argument("sources", nargs=-1, metavar="[来源...]")
@config_option
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="本轮的输出文件夹（收到的原件保存在其中的 原件/，记录在 round.sqlite）；省略时为配置中的输出文件夹（默认 output）。")
def collect_command(sources: tuple[str, ...], config_path: Path | None, output: Path | None) -> None:
    """收取各单位报送的填报表，原样保存，并列出每份文件的处理结果。

    来源可以是文件夹（含子文件夹）、.xlsx/.xlsm 文件、邮件（.eml）、邮箱文件（.mbox）、Maildir 邮件文件夹、
    .zip 压缩包（含嵌套的和邮件附件中的），或 IMAP 邮箱文件夹 imap://用户名@服务器/文件夹（imaps:// 为加密连接，
    密码只从环境变量 PERF_TOOLKIT_MAIL_PASSWORD 读取）。不给来源时读取 perf.toml 中 [mail] 的 imap。

    每份填报表按内容识别单位，原样保存在输出文件夹的 原件/ 中；同一单位报送多份的，以邮件日期最新的一份为准。
    来源中的文件和邮件不会被改动；重复运行只收取新到的文件。

    \b
    示例：
      perf-toolkit collect 收件箱/ --config perf.toml
      perf-toolkit collect 导出的邮件.mbox 附件.zip -o output/
      perf-toolkit collect imaps://czj@mail.example.gov.cn/绩效自评 --config perf.toml
    """
    from ..mail.store import CollectError, collect, settings_sources
    from ..run import RoundLocked, output_lock

    campaign = _campaign(config_path)
    folder = _round_output(campaign, output)
    _refuse_overlap(folder, sources)
    try:
        with output_lock(folder):
            result = collect(settings_sources(campaign, sources), campaign, folder)
    except (CollectError, ConfigError, RoundLocked) as exc:
        raise OperatorError(str(exc)) from exc
    _print_collection(result)


def _print_collection(result, *, indent: str = "", brief: bool = False) -> None:
    """What a collect met: every input with its state (brief: only the new ones not simply received), the totals."""
    from ..mail.store import ACCEPTED, STATE_ZH, STATES, format_time

    rows = [["状态", "文件", "来源", "发件人", "邮件日期", "单位", "说明"]]
    for e in result.entries:
        if brief and (not e.new or (e.state == ACCEPTED and not e.findings)):
            continue  # brief: what this run brought that is not simply received
        note = e.reason if e.new else "此前已收取" + (f"；{e.reason}" if e.reason else "")
        rows.append([e.state_zh, e.name, _source_text(e.origin, e.within, e.name), e.sender or "—", format_time(e.mail_date),
                     e.dept_name or e.dept_code or "—", note])
    if len(rows) > 1:
        for line in _table(rows, indent=indent):
            click.echo(line)
    for e in result.changed:
        click.echo(f"{indent}此前收到的 {e.name}（{e.dept_name or e.dept_code}）现为“{e.state_zh}”：{e.reason}")
    for e in result.entries:
        for f in e.findings:
            click.echo(f"{indent}注意：{e.name}：{f.message}")
    counts = result.counts()
    parts = "，".join(f"{STATE_ZH[s]} {counts[s]}" for s in STATES)
    click.echo(f"{indent}合计：{len(result.entries)} 份（其中新收到 {len(result.new)} 份）：{parts}。")
    click.echo(f"{indent}原件保存在 {result.store}/，收取记录在 {result.db_path}。")


@cli.command("history")
@click.argument("code", metavar="单位编码")
@config_option
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="本轮的输出文件夹（collect 保存原件和 round.sqlite 的文件夹）；省略时为配置中的输出文件夹（默认 output）。")
def history_command(code: str, config_path: Path | None, output: Path | None) -> None:
    """列出一个单位本轮报送的各个版本，以及前后两版之间改动了哪些单元格。

    \b
    示例：
      perf-toolkit history DC-JYTYJ --config perf.toml
    """
    from ..mail.history import CompareError, changed_cells, versions
    from ..mail.store import DUPLICATE, REJECTED, format_time

    campaign = _campaign(config_path)
    db = campaign.round_db_in(_round_output(campaign, output))
    found = versions(db, code)
    if not found:
        raise OperatorError(f"本轮没有收到单位编码为“{code}”的填报表（收取记录：{db}）。请先运行 perf-toolkit collect。")
    name = next((v.dept_name for v in reversed(found) if v.dept_name), code)
    click.echo(f"{name}（{code}）本轮共收到 {len(found)} 份：")
    rows = [["序号", "日期", "发件人", "文件", "状态"]]
    for n, v in enumerate(found, start=1):
        when = format_time(v.mail_date) if v.mail_date else f"{format_time(v.arrived_at)}（收取时间）"
        state = v.state_zh + (f"（{v.reason}）" if v.state in (DUPLICATE, REJECTED) else "")
        rows.append([str(n), when, v.sender or "—", v.name, state])
    for line in _table(rows):
        click.echo(line)
    readable = [(n, v) for n, v in enumerate(found, start=1) if v.state not in (DUPLICATE, REJECTED)]
    for (a, old), (b, new) in zip(readable, readable[1:], strict=False):
        click.echo("")
        try:
            changes = changed_cells(old.stored, new.stored)
        except CompareError as exc:
            click.echo(f"■ 第{a}份 → 第{b}份：无法比较（{exc}）")
            continue
        if not changes:
            click.echo(f"■ 第{a}份 → 第{b}份：填报内容没有改动")
            continue
        click.echo(f"■ 第{a}份 → 第{b}份：改动了 {len(changes)} 个单元格")
        table = [["工作表", "单元格", "原内容", "新内容"]]
        for c in changes:
            table.append([c.sheet, c.cell, _shown_value(c.old), _shown_value(c.new)])
        for line in _table(table):
            click.echo(line)


def _shown_value(value: object) -> str:
    text = "（空）" if value in (None, "") else str(value).replace("\n", " ")
    return text if len(text) <= 40 else text[:39] + "…"


# ------------------------------------------------------------------ status / feedback (the mail round)

sources_argument = click.argument("sources", nargs=-1, required=False, metavar="[来源...]")


def _round_sources(campaign: Campaign, sources: tuple[str, ...]) -> list[str]:
    """What to collect first: the sources given, else the round's IMAP folder, else nothing (the store as it is)."""
    return list(sources) or ([campaign.mail.imap] if campaign.mail.imap else [])


def _round_evaluation(sources: tuple[str, ...], profile_name: str | None, campaign: Campaign, jobs: int | None):
    """(collection or None, evaluation) of the round's store in the config's output folder, after collecting
    what `sources` hold; under the folder's lock."""
    from ..mail.store import CollectError
    from ..run import RoundLocked, evaluate_round, output_lock

    profile = _profile(profile_name, campaign)
    folder = campaign.output_dir
    _refuse_overlap(folder, sources)
    try:
        with output_lock(folder):
            return evaluate_round(_round_sources(campaign, sources), campaign, profile, folder, jobs=jobs)
    except (CollectError, ConfigError, RoundLocked) as exc:
        raise OperatorError(str(exc)) from exc


@cli.command()
@sources_argument
@profile_option
@config_option
@year_option
@jobs_option
def status(sources: tuple[str, ...], profile_name: str | None, config_path: Path | None, round_year: int | None,
           jobs: int | None) -> None:
    """列出报送名单中每个单位的报送情况：未报送、已报送-无法读取、已报送-有错误、已报送-有警告、已通过。

    每个单位一行，写明当前有效的文件、报送时间和错误、警告个数；不在报送名单中的单位另行列出。
    文件无法读取的单位算作已报送（须通知其重新报送），按文件名中的单位编码或单位名称认定是哪个单位。

    \b
    示例：
      perf-toolkit status 收件箱/ --config perf.toml
    """
    from ..check.status import STATES, department_status
    from ..mail.store import format_time

    campaign = _campaign(config_path, round_year)
    _, result = _round_evaluation(sources, profile_name, campaign, jobs)
    campaign = _round_year(campaign, result)
    state = department_status(result, campaign.roster)
    year = f"{campaign.year}年度" if campaign.year else ""
    click.echo(f"{campaign.fact('district')}{year}项目支出绩效自评报送情况")
    if not campaign.roster:
        click.echo("注意：没有配置报送名单（perf.toml 的 roster），无法列出未报送的单位；以下是收到的填报表中的单位。")

    def rows_of(departments) -> list[list[str]]:
        rows = [["单位编码", "单位名称", "状态", "报送文件", "报送时间", "错误", "警告", "说明"]]
        for d in departments:
            notes = [d.matched_by] if d.matched_by else []
            if d.newer_unreadable:
                notes.append(f"较新的文件 {Path(d.newer_unreadable).name} 无法读取")
            rows.append([d.code or "（未填）", d.name or "—", d.state, Path(d.file).name if d.file else "—",
                         format_time(d.submitted_at), str(d.errors) if d.submitted else "—",
                         str(d.warnings) if d.submitted else "—", "；".join(notes)])
        return rows

    if state.departments:
        for line in _table(rows_of(state.departments)):
            click.echo(line)
    counts = state.counts()
    if campaign.roster:
        listed = {s: sum(d.state == s for d in state.departments) for s in STATES}
        click.echo(f"合计：应报送 {len(state.departments)} 个单位；"
                   + "，".join(f"{s} {listed[s]} 个" for s in STATES) + "。")
    if state.unlisted:
        click.echo("")
        click.echo("不在报送名单中的单位：" if campaign.roster else "收到的单位：")
        for line in _table(rows_of(state.unlisted)):
            click.echo(line)
        if not campaign.roster:
            click.echo("合计：" + "，".join(f"{s} {counts[s]} 个" for s in STATES[1:]) + "。")
    if state.unidentified:
        click.echo("")
        click.echo("无法认定报送单位的文件（请人工核对）：")
        for u in state.unidentified:
            sender = f"，发件人 {u.sender}" if u.sender else ""
            click.echo(f"  {Path(u.file).name}（{format_time(u.submitted_at)}{sender}）：{u.reason}")
    for skipped in result.skipped:
        click.echo(f"已跳过 {Path(skipped.path).name}：{skipped.reason}")


@cli.command()
@sources_argument
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="文件夹",
              help="审核意见表和邮件草稿（.eml）的保存位置；省略时为配置中输出文件夹下的“反馈邮件”。")
@click.option("--send", is_flag=True,
              help="通过配置的发信服务器（[mail] smtp）直接发送；已发送过且内容没有变化的邮件不再重发。")
@profile_option
@config_option
@year_option
@jobs_option
def feedback(sources: tuple[str, ...], output: Path | None, send: bool, profile_name: str | None,
             config_path: Path | None, round_year: int | None, jobs: int | None) -> None:
    """为每个单位生成反馈邮件：有问题的发审核意见（附标出问题的填报表），未报送的发催报通知，已通过的按配置发回执。

    不加 --send 时只生成邮件草稿（.eml，可用 Outlook、Foxmail 等打开后发送）；加 --send 时通过 [mail] smtp 发送，
    邮箱密码只从环境变量 PERF_TOOLKIT_MAIL_PASSWORD 读取。发送记录保存在输出文件夹的 round.sqlite 中，
    再次发送时只发送内容有变化的邮件。

    \b
    示例：
      perf-toolkit feedback 收件箱/ --config perf.toml
      perf-toolkit feedback 收件箱/ --config perf.toml --send
    """

    from ..mail.feedback import compose_feedback, write_drafts
    from ..run import FEEDBACK_DIR
    from ..workbook.markup import write_markups

    campaign = _campaign(config_path, round_year)
    _, result = _round_evaluation(sources, profile_name, campaign, jobs)
    campaign = _round_year(campaign, result)
    _warn_missing_facts(campaign)
    folder = output or campaign.output_dir / FEEDBACK_DIR
    owned = output is None  # our own folder: drafts and copies of departments that have since passed go
    try:
        markups = write_markups(result, folder, campaign=campaign, jobs=jobs, prune=owned)
        outgoing = compose_feedback(result, campaign, markups)
        drafts = write_drafts(outgoing, folder, prune=owned)
    except OSError as exc:
        raise OperatorError(f"无法写入文件夹 {folder}：{os_error_text(exc)}") from exc
    if campaign.deadline is None:
        click.echo("注意：配置中没有报送截止日期（deadline），邮件中以“【待填写：报送截止日期】”标出，请补全后重新生成。", err=True)
    _print_drafts(outgoing, drafts, folder, campaign)
    if send:
        sys.exit(EXIT_FINDINGS if _send(outgoing, campaign) else EXIT_OK)


def _print_drafts(outgoing, drafts: list[Path], folder: Path, campaign: Campaign, indent: str = "") -> None:
    """The .eml drafts written: to whom, what kind, what is attached; and the mails nobody can be sent."""
    from ..mail.feedback import KIND_ZH

    click.echo(f"{indent}已生成 {len(drafts)} 封邮件草稿，保存在 {folder}/（用 Outlook、Foxmail 等邮件程序打开后即可发送）：")
    rows = [["单位", "邮件", "收件人", "附件"]]
    rows += [[o.name or o.code, KIND_ZH[o.kind], "、".join(o.recipients), o.attachment.name if o.attachment else "—"]
             for o in outgoing if not o.reason]
    if len(rows) > 1:
        for line in _table(rows, indent=indent + "  "):
            click.echo(line)
    if not campaign.mail.sender:
        click.echo(f"{indent}注意：配置中没有发件人（[mail] from），草稿没有发件人，用邮件程序发送时由其填写。")
    for o in outgoing:
        if o.reason:
            click.echo(f"{indent}未生成邮件：{o.name or o.code}：{o.reason}")


def _send(outgoing, campaign: Campaign, indent: str = "") -> bool:
    """Deliver the round's mails through [mail] smtp (each version once); print what went; True if any failed."""
    from ..config import PASSWORD_ENV
    from ..mail.errors import MailError
    from ..mail.feedback import KIND_ZH
    from ..mail.rounddb import connect
    from ..mail.send import send_all

    db_path = campaign.round_db_in(campaign.output_dir)
    db = connect(db_path)
    try:
        report = send_all(outgoing, campaign.mail, os.environ.get(PASSWORD_ENV, ""), db)
    except MailError as exc:
        raise OperatorError(str(exc)) from exc
    finally:
        db.close()
    click.echo(f"{indent}已发送 {len(report.sent)} 封邮件：")
    for d in report.sent:
        click.echo(f"{indent}  {d.item.name or d.item.code}  {KIND_ZH[d.item.kind]}  → {'、'.join(d.recipients)}")
    resent = [(o, why) for o, why in report.skipped if not o.reason]
    if resent:
        click.echo(f"{indent}未重复发送 {len(resent)} 封（已发送过，内容没有变化）：")
        for o, _ in resent:
            click.echo(f"{indent}  {o.name or o.code}  {KIND_ZH[o.kind]}")
    if report.failed:
        click.echo(f"{indent}发送失败 {len(report.failed)} 处：")
        for _, why in report.failed:
            click.echo(f"{indent}  {why}")
    click.echo(f"{indent}发送记录保存在 {db_path}。")
    return bool(report.failed)



def _console_safe() -> None:
    """A Windows console in GBK (代码页 936) cannot show every character the tables use (› in a mail's
    place, a department's rare character): those print as "?" instead of ending the command."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and (stream.encoding or "").lower().replace("-", "") != "utf8":
            stream.reconfigure(errors="replace")


def main() -> None:
    """Entry point: click's own exit codes for usage (2), 3 for a failure of the tool itself."""
    _console_safe()
    try:
        cli.main(prog_name="perf-toolkit", standalone_mode=True)
    except SystemExit:
        raise
    except OSError as exc:  # an output the operator named cannot be written (no space, no permission…)
        click.echo(f"错误：无法读写文件 {os_error_text(exc)}", err=True)
        sys.exit(EXIT_USAGE)
    except Exception as exc:  # a bug or an environment failure, never a department's data
        click.echo(f"工具内部错误：{type(exc).__name__}: {exc}", err=True)
        click.echo("请把以上信息和所用文件发给技术支持。", err=True)
        sys.exit(EXIT_FAILURE)


if __name__ == "__main__":
    main()
