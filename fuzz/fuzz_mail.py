"""atheris target: arbitrary bytes through the mail stage's inbox parser, as an .eml, an .mbox or a .zip.

`read_sources` answers every source with arrivals and ignored items and raises nothing: a crash is any
exception escaping it, a source that yields no item at all, or an input slower than -timeout (a hang).
Run through `make fuzz`, or: python fuzz/fuzz_mail.py eml -max_total_time=60 CORPUS SEEDS
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["perf_toolkit"]):
    from perf_toolkit.mail.inbox import read_sources

from common import main, scratch


def source(suffix: str):
    def one(data: bytes) -> None:
        items = list(read_sources([scratch(suffix, data)]))
        assert items, "every source is listed at least once"
    return one


if __name__ == "__main__":
    main({"eml": (source(".eml"), False), "mbox": (source(".mbox"), False), "zip": (source(".zip"), True)})
