"""atheris target: arbitrary bytes through the reader, as a workbook (xlsx) or as a submission JSON file (json).

A crash is an exception escaping `read_workbook` (which answers every file with a WorkbookRead) or
`evaluate_paths` (a JSON file that is no submission is a file-unreadable finding), or the checker and
scorer run on what was read; or an input slower than libFuzzer's -timeout (a hang).
Run through `make fuzz`, or: python fuzz/fuzz_reader.py xlsx -max_total_time=60 CORPUS SEEDS
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["perf_toolkit"]):
    from perf_toolkit.check.evaluate import evaluate_paths, evaluate_submissions
    from perf_toolkit.profile import load_profile
    from perf_toolkit.workbook.read import read_workbook

from common import main, scratch

PROFILE = load_profile()


def workbook(data: bytes) -> None:
    read = read_workbook(scratch(".xlsx", data), isolate=False)  # in-process: an exception is seen, not contained
    if read.sourced is not None:
        evaluate_submissions([read.sourced], PROFILE, year=2023)


def submission_json(data: bytes) -> None:
    evaluation = evaluate_paths([scratch(".json", data)], PROFILE, year=2023)
    assert len(evaluation.files) == 1, "a JSON file is one file result"


if __name__ == "__main__":
    main({"xlsx": (workbook, True), "json": (submission_json, False)})
