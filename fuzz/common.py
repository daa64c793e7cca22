"""What the atheris targets share: a scratch file per input, a zip-aware mutator, the libFuzzer entry.

Not part of the package or the test suite: `make fuzz` runs the targets for a bounded time (fuzz/run.py).
"""

from __future__ import annotations

import io
import os
import random
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import atheris

#: Where each input is written (fuzz/run.py gives a folder it removes afterwards: libFuzzer's exit skips atexit).
_SCRATCH = Path(os.environ.get("PERF_TOOLKIT_FUZZ_SCRATCH") or tempfile.mkdtemp(
    prefix="perf-toolkit-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))


def scratch(suffix: str, data: bytes) -> Path:
    """The input as a file (the public APIs read files); one name per suffix, rewritten for each input."""
    path = _SCRATCH / f"input{suffix}"
    path.write_bytes(data)
    return path


def _members(data: bytes) -> list[tuple[str, bytes]] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if len(zf.infolist()) > 200:
                return None
            return [(i.filename, zf.read(i)) for i in zf.infolist()]
    except Exception:  # not a zip, or one the mutations broke: mutate it as bytes
        return None


def zip_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    """Byte mutations of the whole file, or (mostly) of one member of a zip, re-packed with valid CRCs, so that
    mutations reach the XML parts and the reader's logic instead of stopping at the zip's checksums; also
    members dropped, renamed onto each other, or a member's XML element repeated."""
    rng = random.Random(seed)
    members = _members(data) if rng.random() < 0.85 else None
    if not members:
        return atheris.Mutate(data, max_size)
    k = rng.randrange(len(members))
    name, body = members[k]
    move = rng.random()
    if move < 0.7:
        members[k] = (name, atheris.Mutate(body, max(2 * len(body), 256)))
    elif move < 0.8 and len(members) > 1:
        del members[k]
    elif move < 0.9:
        members[k] = (rng.choice(members)[0], body)  # a duplicate name, or a part where another belongs
    else:
        start = body.find(b"<", rng.randrange(len(body) or 1))
        end = body.find(b">", start) + 1
        if start >= 0 and end > start:
            members[k] = (name, body[:end] + body[start:end] * rng.choice((2, 50, 3000)) + body[end:])
    out = io.BytesIO()
    try:
        with zipfile.ZipFile(out, "w", rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED))) as zo:
            for n, b in members:
                zo.writestr(n, b)
    except Exception:  # zipfile cannot write every member it reads (an empty name): plain mutations then
        return atheris.Mutate(data, max_size)
    mutated = out.getvalue()
    return mutated if len(mutated) <= max_size else atheris.Mutate(data, max_size)


def main(targets: dict[str, tuple[Callable[[bytes], None], bool]]) -> None:
    """`python fuzz/<script>.py FORMAT [libFuzzer flags] [corpus folders]`: FORMAT picks the target;
    the bool says whether its inputs are zips (and get the zip-aware mutator)."""
    if len(sys.argv) < 2 or sys.argv[1] not in targets:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(targets)}}} [libFuzzer flags] [corpus dirs]")
    target, zipped = targets[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target, custom_mutator=zip_mutator if zipped else None)
    atheris.Fuzz()
