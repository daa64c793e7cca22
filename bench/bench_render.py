"""How much preparing the Word templates once saves against a plain docxtpl loop.

Run: python bench/bench_render.py [--reports 50] [--rounds 3]

Scores N generated projects (the bundled example with 6–15 indicators of varied
text) once, builds their contexts, then, in one run, writes every report:
  (a) plain docxtpl, per document: DocxTemplate(path) → render(autoescape=True) → save(file)
  (b) perf-toolkit: load_template() once (parse, patch, compile), then per document
      render from the compiled template into a new zip and write it (plainly, as (a));
      (b') the same written with atomic_write (temp file, fsync, rename) as render_reports does
Both render the same report template (自评报告模板.docx) with the same contexts
and write to files in a temp dir; (c) also times the 自评表 template through (b)
(plain docxtpl cannot render its `{% vm EXPR %}` merge tags). Figures are
per-document wall time, the median over rounds; template preparation is
included once in (b)'s round time.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docxtpl import DocxTemplate  # noqa: E402

from perf_toolkit.check.evaluate import evaluate_submissions  # noqa: E402
from perf_toolkit.fsutil import atomic_write  # noqa: E402
from perf_toolkit.model import SourcedSubmission, submission_from_dict  # noqa: E402
from perf_toolkit.report import render  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "workbook_templates" / "示例-退役军人事务局.json"


def contexts(n: int) -> list[dict]:
    """N report contexts: the example project with 6–15 indicators and varied names."""
    base = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    items = []
    for k in range(n):
        data = copy.deepcopy(base)
        project = data["projects"][0]
        data["department"]["code"] += f"-{k}"  # a department each (one twice is a resubmission)
        project["name"] = f"{project['name']}（第{k + 1}批）"
        extra = k % 10
        for j in range(extra):
            ind = copy.deepcopy(project["indicators"][j % 4])
            ind["name"] += f"（补充{j + 1}）"
            ind["actual"] = "95%" if j % 3 == 0 else ind["actual"]
            project["indicators"].append(ind)
        items.append(SourcedSubmission(submission_from_dict(data), file=f"单位{k}.json"))
    evaluation = evaluate_submissions(items)
    start = time.perf_counter()
    out = [render.build_context(p, evaluation.profile) for p in evaluation.projects]
    contexts.ms = (time.perf_counter() - start) * 1000 / n
    return out


def plain(template: Path, ctxs: list[dict], out: Path) -> None:
    for k, ctx in enumerate(ctxs):
        tpl = DocxTemplate(template)
        tpl.render(ctx, jinja_env=render._environment(), autoescape=True)
        tpl.save(out / f"plain-{k}.docx")


def prepared(template: Path, ctxs: list[dict], out: Path, tag: str, atomic: bool = False) -> None:
    render._CACHE.clear()  # count the one-off preparation in every round
    tpl = render.load_template(template)
    for k, ctx in enumerate(ctxs):
        data = tpl.render(ctx)
        path = out / f"{tag}-{k}.docx"
        if atomic:  # what render_reports does: temp file, fsync, rename
            with atomic_write(path) as fh:
                fh.write(data)
        else:  # as docxtpl's save: a plain write, so (a) and (b) differ only in rendering
            path.write_bytes(data)


def main() -> None:
    """Time both ways in one run and print per-document figures and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    report = render.template_path(render.REPORT_TEMPLATE)
    table = render.template_path(render.TABLE_TEMPLATE)
    ctxs = contexts(args.reports)
    context_ms = contexts.ms
    times: dict[str, list[float]] = {"plain": [], "prepared": [], "atomic": [], "table": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for _ in range(args.rounds):
            for name, run in (("plain", lambda: plain(report, ctxs, out)),
                              ("prepared", lambda: prepared(report, ctxs, out, "report")),
                              ("atomic", lambda: prepared(report, ctxs, out, "atomic", atomic=True)),
                              ("table", lambda: prepared(table, ctxs, out, "table"))):
                start = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - start) * 1000 / args.reports)
    a, b, b2, c = (statistics.median(times[k]) for k in ("plain", "prepared", "atomic", "table"))
    print(f"{args.reports} reports x {args.rounds} rounds (median of rounds, ms per document)")
    print(f"  build_context (score → context)          {context_ms:8.2f} ms")
    print(f"  (a) plain docxtpl load-render-save, 报告  {a:8.2f} ms")
    print(f"  (b) perf-toolkit prepared template, 报告  {b:8.2f} ms")
    print(f"  (b') = (b) written by atomic_write (fsync) {b2:8.2f} ms")
    print(f"  (c) perf-toolkit prepared template, 自评表 {c:8.2f} ms")
    print(f"  ratio (a)/(b): {a / b:.1f}x faster")


if __name__ == "__main__":
    main()
