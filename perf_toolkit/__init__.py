"""perf_toolkit: a budget performance self-evaluation round (预算绩效自评), from workbook to report.

The public API, one name per step of a round::

    import perf_toolkit as pt
    campaign = pt.load_config("examples/perf.toml")
    result = pt.evaluate_paths(["examples/inbox"], pt.load_profile(campaign.profile),
                               year=campaign.expected_year, roster=campaign.roster)
    for project in result.counted_projects:
        print(project.name, project.execution_rate, project.total_score, project.grade)
    pt.render_reports(result, "output/自评报告", campaign=campaign)
    pt.summarize(result, campaign, "output/汇总.xlsx")

Names are loaded on first use, so `import perf_toolkit` (and the CLI's start) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

#: public name → the module that defines it
_HOMES = {
    # the data model, on both sides of scoring
    "Submission": "model", "Department": "model", "Project": "model", "Indicator": "model", "Fund": "model",
    "SourcedSubmission": "model", "Finding": "model", "Location": "model", "FieldPath": "model",
    "FundSource": "model", "Amounts": "model", "ScoredProject": "model", "ScoredIndicator": "model",
    "FileResult": "model", "Evaluation": "model", "Skipped": "model",
    "submission_from_dict": "model", "submission_to_dict": "model",
    # rules and the round
    "load_profile": "profile", "Profile": "profile", "load_config": "config", "Campaign": "config",
    "RosterEntry": "config", "CATALOGUE": "findings",
    # workbook: the standard workbook out, departments' workbooks in, marked-up copies back
    "write_template": "workbook.template", "read_workbook": "workbook.read", "read_workbooks": "workbook.read",
    "export_workbook": "workbook.read", "write_markups": "workbook.markup",
    # check: read → score → check
    "evaluate_paths": "check.evaluate", "evaluate_submissions": "check.evaluate",
    "department_status": "check.status", "RoundStatus": "check.status",
    # report, summary, the whole round
    "render_reports": "report.render", "build_context": "report.context",
    "summarize": "summary.consolidate", "summary_frames": "summary.consolidate", "rollup": "summary.rollup",
    # the round by mail
    "collect": "mail.store", "current_files": "mail.store", "imap_messages": "mail.imap",
    "compose_feedback": "mail.feedback", "write_drafts": "mail.feedback", "send_all": "mail.send",
    "run_round": "run",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'perf_toolkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from .check.evaluate import evaluate_paths, evaluate_submissions  # noqa: F401
    from .check.status import RoundStatus, department_status  # noqa: F401
    from .config import Campaign, RosterEntry, load_config  # noqa: F401
    from .findings import CATALOGUE  # noqa: F401
    from .mail.feedback import compose_feedback, write_drafts  # noqa: F401
    from .mail.send import send_all  # noqa: F401
    from .model import (  # noqa: F401
        Amounts,
        Department,
        Evaluation,
        FieldPath,
        FileResult,
        Finding,
        Fund,
        FundSource,
        Indicator,
        Location,
        Project,
        ScoredIndicator,
        ScoredProject,
        Skipped,
        SourcedSubmission,
        Submission,
        submission_from_dict,
        submission_to_dict,
    )
    from .profile import Profile, load_profile  # noqa: F401
    from .report.context import build_context  # noqa: F401
    from .report.render import render_reports  # noqa: F401
    from .run import run_round  # noqa: F401
    from .summary.consolidate import summarize, summary_frames  # noqa: F401
    from .summary.rollup import rollup  # noqa: F401
    from .workbook.markup import write_markups  # noqa: F401
    from .workbook.read import export_workbook, read_workbook, read_workbooks  # noqa: F401
    from .workbook.template import write_template  # noqa: F401
