"""Batches of generated submissions for the summary, history and roll-up tests.

Each department is the bundled example with its own code, name, projects, money (some
amounts typed to the 元, i.e. four decimals of 万元) and indicators that are met, partly
met or badly missed, so a batch spans every grade and execution-rate band.
"""

from __future__ import annotations

import copy
import random
from decimal import Decimal

from builders import example_dict, indicator, standard_indicators

from perf_toolkit.config import Campaign, RosterEntry
from perf_toolkit.model import SourcedSubmission, submission_from_dict

#: Execution rates the generator draws from: one per band of the summary.
RATES = (1.0, 1.05, 0.95, 0.85, 0.7, 0.4, 0.0)


def _amount(rng: random.Random, low: float, high: float, fine: bool) -> float:
    """An amount in 万元: cents of 万元 (2 decimals) or 元 (4 decimals)."""
    places = 4 if fine else 2
    return round(rng.uniform(low, high), places)


def _indicators(quality: str) -> list[dict]:
    if quality == "good":
        return standard_indicators()
    if quality == "fair":  # one 20-point indicator half done: 80–90
        return standard_indicators(actual="45", deviation_note="受疫情影响，部分任务顺延。")
    if quality == "mid":  # two output indicators missed: 60–80
        inds = standard_indicators(actual="20", deviation_note="受疫情影响，部分任务顺延。")
        inds[1].update(actual="30", deviation_note="质量抽检未达标。")
        return inds
    # poor: most output indicators badly missed
    inds = standard_indicators(actual="10", deviation_note="项目实施滞后。")
    for ind in inds[1:4]:
        ind.update(actual="20", deviation_note="进度滞后。")
    inds[4] = indicator("社会效益", level1="效益指标", level2="社会效益指标", target="100", actual="30",
                        weight=30, note="效果未达预期。")
    return inds


def project(rng: random.Random, code: str, name: str, *, rate: float | None = None,
            quality: str | None = None) -> dict:
    """One project dict with generated funds and indicators."""
    fine = rng.random() < 0.4
    initial = _amount(rng, 5, 800, fine)
    adjusted = round(initial * rng.choice((1.0, 0.9, 1.1)), 4 if fine else 2)
    carry = _amount(rng, 0, 30, fine) if rng.random() < 0.3 else 0
    rate = rng.choice(RATES) if rate is None else rate
    executed = round((adjusted + carry) * rate, 4 if fine else 2)
    spent_carry = min(carry, executed)
    funds = [
        {"source": "当年财政拨款", "initial_budget": initial, "adjusted_budget": adjusted,
         "executed": round(executed - spent_carry, 6)},
        {"source": "上年结转资金", "initial_budget": 0, "adjusted_budget": carry, "executed": spent_carry},
        {"source": "其他资金", "initial_budget": 0, "adjusted_budget": 0, "executed": 0},
    ]
    return {
        "code": code, "name": name, "implementer": "", "budget_document": "", "funds": funds,
        "budget_note": "年中按实际需求调整预算，部分资金结转下年使用。",
        "goal": "完成年度工作任务。", "achievement": "基本完成年度工作任务。",
        "indicators": _indicators(quality or rng.choice(("good", "good", "fair", "mid", "poor"))),
        "deviation_reason": "部分指标受客观因素影响。", "improvement": "加强项目管理。",
        "result_use": "作为下年度预算安排的参考。", "disclosure": "按规定公开。", "other_notes": "无。",
    }


def department(n: int, *, year: int = 2023, projects: int = 2, seed: int = 0, **overrides) -> dict:
    """A submission dict for department number n (code D00n)."""
    rng = random.Random(seed * 1000 + n)
    data = example_dict()
    data["year"] = year
    data["department"]["code"] = f"D{n:03d}"
    data["department"]["name"] = f"测试区第{n}局"
    data["projects"] = [project(rng, f"P{n:03d}-{k + 1}", f"第{n}局项目{k + 1}") for k in range(projects)]
    data.update(overrides)
    return data


def batch(count: int, *, year: int = 2023, seed: int = 0, projects: int = 2) -> list[dict]:
    """Submission dicts for departments 1..count."""
    return [department(n, year=year, seed=seed, projects=projects) for n in range(1, count + 1)]


def sourced_batch(datas: list[dict], folder=None) -> list[SourcedSubmission]:
    """SourcedSubmissions named after their department (files need not exist)."""
    out = []
    for data in datas:
        name = f"{data['department']['code']}.xlsx"
        file = str(folder / name) if folder is not None else name
        out.append(SourcedSubmission(submission_from_dict(copy.deepcopy(data)), file=file))
    return out


def roster(count: int, extra: int = 0) -> tuple[RosterEntry, ...]:
    """A roster of departments 1..count plus `extra` more that never submit."""
    return tuple(RosterEntry(f"D{n:03d}", f"测试区第{n}局", f"联系人{n}", f"d{n}@example.gov.cn")
                 for n in range(1, count + extra + 1))


def campaign(count: int = 0, extra: int = 0, **changes) -> Campaign:
    return Campaign(roster=roster(count, extra) if count or extra else (), **changes)


def input_sum(datas: list[dict], column: str) -> Decimal:
    """The exact sum of one money column over every fund row of every project (the test's own arithmetic)."""
    total = Decimal(0)
    for data in datas:
        for p in data["projects"]:
            for f in p["funds"]:
                value = f[column]
                total += Decimal(str(value)) if value not in (None, "") else Decimal(0)
    return total
