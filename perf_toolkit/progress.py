"""The stages of a long batch: how long each took, and what the operator sees while it runs.

`Progress` only records (stage, items, seconds, peak memory): the library's default, and what
`--quiet` and the benchmark use. `StreamProgress` also writes to a stream (stderr): on a
terminal one line per stage rewritten in place (done/total, rate, time left), otherwise one
plain line when a stage starts and one when it ends, so a log file stays readable.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None


def peak_rss_mib() -> tuple[float, float]:
    """Peak resident memory so far (MiB) of this process and of its largest finished child; 0 where unknown."""
    if resource is None:  # pragma: no cover - Windows
        return 0.0, 0.0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


@dataclass
class StageTime:
    """One finished stage."""

    name: str  # for people (Chinese)
    items: int  # files, documents … done in it
    seconds: float
    peak_rss_mib: float  # of this process, so far
    worker_rss_mib: float  # of the largest worker that has ended, so far


class Progress:
    """Times the stages of a batch (nothing shown); subclasses show them as they go."""

    def __init__(self) -> None:
        self.stages: list[StageTime] = []
        self._name, self._total, self._done, self._start = "", None, 0, 0.0

    @contextmanager
    def stage(self, name: str, total: int | None = None) -> Iterator[Progress]:
        """A stage of `total` items (None: unknown); call `advance` as items are done."""
        self._name, self._total, self._done, self._start = name, total, 0, time.perf_counter()
        self.started()
        try:
            yield self
        finally:
            own, workers = peak_rss_mib()
            items = self._done if self._done or self._total is None else self._total
            self.stages.append(StageTime(name, items, time.perf_counter() - self._start, own, workers))
            self.ended(self.stages[-1])

    def advance(self, count: int = 1) -> None:
        self._done += count
        self.updated()

    def total(self, total: int) -> None:
        """The stage's item count, once it is known."""
        self._total = total
        self.updated()

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages)

    # what a subclass shows
    def started(self) -> None:
        pass

    def updated(self) -> None:
        pass

    def ended(self, stage: StageTime) -> None:
        pass


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} 秒"
    minutes, rest = divmod(int(seconds + 0.5), 60)
    return f"{minutes} 分 {rest:02d} 秒" if minutes < 60 else f"{minutes // 60} 小时 {minutes % 60:02d} 分"


class StreamProgress(Progress):
    """Progress written to a stream: a live line on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO, *, live: bool | None = None, every: float = 0.2) -> None:
        super().__init__()
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.every, self._shown = every, 0.0

    def _write(self, text: str, *, end: str = "\n") -> None:
        self.stream.write(text + end)
        self.stream.flush()

    def started(self) -> None:
        if self.live:
            self._line(force=True)
        else:
            count = f"（共 {self._total} 项）" if self._total else ""
            self._write(f"[{self._name}] 开始{count}")

    def updated(self) -> None:
        if self.live:
            self._line()

    def _line(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._shown < self.every:
            return
        self._shown = now
        elapsed = now - self._start
        text = f"[{self._name}] {self._done}"
        if self._total:
            text += f"/{self._total}"
        if self._done and elapsed > 0:
            rate = self._done / elapsed
            text += f"，{rate:.1f} 项/秒"
            if self._total and self._total > self._done:
                text += f"，预计还需 {_duration((self._total - self._done) / rate)}"
        self._write("\r\x1b[2K" + text, end="")

    def ended(self, stage: StageTime) -> None:
        text = f"[{stage.name}] 完成"
        if stage.items:
            text += f" {stage.items} 项"
        text += f"，用时 {_duration(stage.seconds)}"
        self._write(("\r\x1b[2K" if self.live else "") + text)

    def summary(self) -> None:
        """The closing lines: the time of each stage and the whole."""
        parts = "，".join(f"{s.name} {_duration(s.seconds)}" for s in self.stages)
        self._write(f"用时合计 {_duration(self.seconds)}（{parts}）")
