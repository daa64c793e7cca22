"""The package reads like the pipeline: no import circle, libraries kept in their stage, a public API."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import perf_toolkit

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "perf_toolkit"

#: Each third-party library and the only places that may import it.
LIBRARY_HOMES = {
    "click": ("perf_toolkit.cli",),
    "docxtpl": ("perf_toolkit.report",),
    "jinja2": ("perf_toolkit.report",),
    "lxml": ("perf_toolkit.report",),
    "xlsxwriter": ("perf_toolkit.summary",),
    "python_calamine": ("perf_toolkit.workbook",),
    "defusedxml": ("perf_toolkit.workbook",),
    # the operator's own tables (roster, budget figures) may come as .xlsx: fsutil reads them
    "openpyxl": ("perf_toolkit.workbook", "perf_toolkit.fsutil"),
    "pandas": ("perf_toolkit.check", "perf_toolkit.summary"),
    "numpy": ("perf_toolkit.check", "perf_toolkit.summary"),
    "orjson": ("perf_toolkit.model",),  # the check report's JSON, written by every stage that writes one
}

#: The pipeline's order: a module may import only from its own stage or an earlier one.
STAGES = ("perf_toolkit.workbook", "perf_toolkit.check", "perf_toolkit.report", "perf_toolkit.summary",
          "perf_toolkit.mail", "perf_toolkit.run", "perf_toolkit.cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str) -> list[tuple[str, str]]:
    """(module imported, name imported from it) for every import in a module, lazy ones included."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.append((full, "") if full in MODULES else (base, alias.name))
        elif isinstance(node, ast.Import):
            out.extend((alias.name, "") for alias in node.names)
    return out


def stage(name: str) -> int | None:
    return next((k for k, s in enumerate(STAGES) if name == s or name.startswith(s + ".")), None)


def test_package_import_graph_has_no_circle():
    # the package's __init__ is left out: its imports are lazy (PEP 562) or for type checkers only
    graph = {m: {t for t, _ in imports(m) if t in MODULES and t not in (m, "perf_toolkit")}
             for m in MODULES if m != "perf_toolkit"}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in graph[m]:
            assert state.get(n) != 1, "import circle: " + " → ".join(path[path.index(n):] + [m, n]) \
                if n in path else f"import circle through {m} → {n}"
            if n not in state:
                visit(n, path + [m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


def test_modules_import_only_earlier_stages_and_no_private_names():
    # the package's __init__ is the API over every stage, __main__ the entry point: both above the pipeline
    for m in set(MODULES) - {"perf_toolkit", "perf_toolkit.__main__"}:
        for target, name in imports(m):
            if not target.startswith("perf_toolkit"):
                continue
            assert not (name.startswith("_") and name != "__version__"), f"{m} imports private {target}.{name}"
            mine, theirs = stage(m), stage(target)
            if theirs is not None:
                assert mine is not None and theirs <= mine, f"{m} imports {target}, a later stage"


def test_third_party_libraries_stay_in_their_stage():
    for m in MODULES:
        for target, _ in imports(m):
            top = target.split(".")[0]
            if top in LIBRARY_HOMES:
                assert m.startswith(LIBRARY_HOMES[top]), f"{m} imports {top} (belongs in {LIBRARY_HOMES[top]})"


def test_public_api_lists_every_stage_and_import_stays_light():
    names = set(perf_toolkit.__all__)
    assert {"read_workbook", "evaluate_paths", "evaluate_submissions", "render_reports", "summarize", "rollup",
            "load_profile", "load_config", "write_template", "Evaluation", "ScoredProject", "ScoredIndicator",
            "FileResult", "Finding", "Submission", "FundSource", "FieldPath"} <= names
    for name in perf_toolkit.__all__:
        assert getattr(perf_toolkit, name) is not None, name
    # importing the package (as the CLI does first) loads none of the heavy stacks
    code = "import sys, perf_toolkit; print(sorted(m for m in ('pandas', 'docxtpl', 'openpyxl') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"


def test_readme_module_map_matches_the_tree():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("```\nperf_toolkit/"):]
    block = block[:block.index("```", 4)]
    listed, folder = set(), ""
    for line in block.splitlines()[2:]:
        m = re.match(r"^( +)(\S.*?)(?:\s{2,}|$)", line)
        names = [n.strip() for n in m[2].split(",")]
        if len(m[1]) == 2:  # a top-level entry; a folder's own files follow, indented
            folder = names[0] if names[0].endswith("/") else ""
            listed.update(names)
        else:
            listed.update(folder + n for n in names)
    actual = {str(p.relative_to(PACKAGE)).replace("__init__.py", "") for p in PACKAGE.rglob("*.py")
              if p.parent != PACKAGE or p.name != "__init__.py"}
    actual |= {"profiles/"}
    assert listed == actual


def test_scripts_beside_the_package_import_what_exists():
    """bench/, tools/ and examples/ scripts run outside pytest; their imports must follow the package."""
    import importlib.util

    for path in sorted([*ROOT.glob("bench/*.py"), *ROOT.glob("tools/*.py"), *ROOT.glob("examples/*.py")]):
        spec = importlib.util.spec_from_file_location(f"script_{path.stem}", path)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))  # main() runs only as __main__
