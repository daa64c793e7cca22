"""perf_toolkit: a budget performance self-evaluation round (预算绩效自评), from workbook to report."""

__version__ = "0.1.0"
