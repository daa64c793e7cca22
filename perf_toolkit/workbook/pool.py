"""A few long-lived, self-limiting worker processes for work that may crash or run away.

`guard.load_raw_many` parses untrusted spreadsheets here: python-calamine aborts
the whole process on some files, so parsing cannot share the caller's process,
and a fresh fork per file (~9 ms) costs more than parsing a typical workbook.
These workers are started once and then run one task at a time, sent over a pipe.

Each worker limits itself: its address space once (RLIMIT_AS), and before every
task its CPU time to what it has used so far plus the per-task budget (RLIMIT_CPU
counts from the fork, not per task). The parent gives the task a worker is on a
wall-clock deadline. A worker that dies (a signal, a Rust abort, SIGXCPU, an
exception escaping its loop) or overruns the deadline is killed; that task comes
back as a `Failure` value, and the task queued behind it goes to another worker.
A worker leaves by itself after `recycle_files` tasks, once its heap grew by
`recycle_rss` bytes, or when `retire(result)` says so, so that fragmentation and
whatever a parser leaks cannot build up over a batch. Kept free of guard's types.

Workers are forked where the system can (Linux, macOS) and spawned elsewhere (Windows): `work` and
`retire` are therefore module-level functions (or partials of them), pickled to each worker, and a
worker relies on nothing but what it imports. `PERF_TOOLKIT_START_METHOD=spawn` (or imap's
`start_method`) forces a start method, so the spawn path is tested on Linux too.
"""

from __future__ import annotations

import collections
import contextlib
import faulthandler
import gc
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

#: fork where it exists: no re-import in every worker, ~1 ms a worker. A worker's memory budget is on top of
#: the address space it starts with (a forked one inherits the parent's: 200 MB with pandas loaded, GBs in a
#: large round, which a fixed RLIMIT_AS would leave no room above). spawn elsewhere (Windows): a fresh
#: interpreter per worker (~0.3 s, once per worker, not per task). Without setrlimit (Windows) a worker
#: has no memory or CPU limit, only the parent's wall-clock deadline; a crash still costs only its task.
try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None

#: The environment variable that forces a start method ("fork", "spawn", "forkserver").
START_METHOD_ENV = "PERF_TOOLKIT_START_METHOD"


def choose_start_method(wanted: str | None = None) -> str | None:
    """The start method workers use: `wanted`, else the environment's, else fork where it exists, else spawn;
    None when this system has neither (tasks then run in the caller's process)."""
    available = multiprocessing.get_all_start_methods()
    wanted = (wanted or os.environ.get(START_METHOD_ENV, "")).strip().lower()
    if wanted:
        if wanted not in available:
            raise ValueError(f"环境变量 {START_METHOD_ENV}={wanted} 无效，本机可选：{'、'.join(available)}")
        return wanted
    return next((m for m in ("fork", "spawn") if m in available), None)


#: Whether tasks run in worker processes at all (tests set it False for the in-process path).
ISOLATED = bool(multiprocessing.get_all_start_methods())


def _never(result: Any) -> bool:
    """The default `retire`: a worker leaves only by task count or heap growth (module-level: picklable)."""
    return False


#: Tasks a worker holds at once: the one it is on and the next, so that it never waits while the
#: parent unpickles an answer and pre-checks the next file (~1 ms a file, 15% of a parse).
_DEPTH = 2


@dataclass(frozen=True)
class Task:
    """An item for `imap` to run as `work(arg)` in a worker; any other item passes through as it is."""

    arg: Any


@dataclass(frozen=True)
class Failure:
    """Why a task has no result: its worker died, ran out of CPU or wall-clock time, or none could start."""

    kind: str  # "died" | "cpu" | "wall" | "spawn"
    detail: str  # for the operator's log, e.g. "child exit code -6"


@dataclass(frozen=True)
class _Rules:
    """What the workers of one batch run, and how each limits and retires itself."""

    work: Callable[[Any], Any]
    memory_bytes: int  # what a worker may map beyond the address space it starts with
    cpu_seconds: int
    recycle_files: int
    recycle_rss: int
    retire: Callable[[Any], bool]


# ------------------------------------------------------------------ the worker (runs in the child)


def _statm() -> list[int]:
    """/proc/self/statm in bytes: address space, resident, shared …; [] without /proc."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return [int(n) * os.sysconf("SC_PAGE_SIZE") for n in f.read().split()]
    except (OSError, ValueError):
        return []


def _heap() -> int:
    """Resident memory not shared with files, in bytes; 0 without /proc (then only the task count recycles)."""
    pages = _statm()
    return pages[1] - pages[2] if pages else 0


def _address_space() -> int:
    """The address space this process has mapped, in bytes; 0 without /proc (then the budget is the whole limit)."""
    pages = _statm()
    return pages[0] if pages else 0


def _cap(which: int, soft: int) -> None:
    """Set a soft limit, never above the hard one (which only root could raise again)."""
    hard = resource.getrlimit(which)[1]
    resource.setrlimit(which, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def _serve(conn, rules: _Rules) -> None:
    """A worker's life: limit itself, then answer each Task with (result, leaving) until it leaves or is stopped."""
    faulthandler.disable()  # a Rust abort prints a backtrace (and faulthandler a dump)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # the parent reports a failure in its own words instead
    os.close(devnull)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it then stops the workers
    # What a forked worker inherited is the parent's: never traversed by this worker's collections (a full one
    # would touch, and so copy, every page of a large parent's heap).
    gc.freeze()
    if resource is not None:
        # At the CPU limit, die (the default action). A handler inherited from the caller would only set a
        # flag that Python does not look at while Rust code runs, and the task would run on to the deadline.
        signal.signal(signal.SIGXCPU, signal.SIG_DFL)
        _cap(resource.RLIMIT_CORE, 0)  # an abort or SIGXCPU must not write a core file of the whole heap
        _cap(resource.RLIMIT_AS, _address_space() + rules.memory_bytes)
    base, served = _heap(), 0
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the parent is gone
            return
        if not isinstance(task, Task):  # None: stopped
            return
        if resource is not None:
            _cap(resource.RLIMIT_CPU, math.ceil(time.process_time()) + rules.cpu_seconds)
        result = rules.work(task.arg)
        served += 1
        leaving = (served >= rules.recycle_files or _heap() - base > rules.recycle_rss
                   or rules.retire(result))
        conn.send((result, leaving))
        if leaving:  # the task queued behind this one is the parent's to hand to another worker
            return


# ------------------------------------------------------------------ the parent's side


class _Worker:
    """A worker as the parent sees it: its pipe, the tasks sent and not answered (the first is running)."""

    def __init__(self, rules: _Rules, mp):
        self.conn, theirs = mp.Pipe()
        try:
            self.proc = mp.Process(target=_serve, args=(theirs, rules), daemon=True)
            self.proc.start()
        except BaseException:
            self.conn.close()
            raise
        finally:
            theirs.close()
        self.queue: collections.deque[tuple[int, Task]] = collections.deque()
        self.deadline = math.inf  # of the running task

    def give(self, index: int, task: Task, wall_seconds: float) -> None:
        """Send a task; OSError if the worker has gone."""
        self.conn.send(task)
        if not self.queue:
            self.deadline = time.monotonic() + wall_seconds
        self.queue.append((index, task))

    def end(self, *, polite: bool = False, grace: float = 0.0) -> int | None:
        """Stop the worker and reap it: ask it to stop (polite), wait `grace` seconds for it to die, or kill it."""
        if polite:
            # a stop message, not just closing the pipe: workers forked later may hold a copy of this end
            with contextlib.suppress(OSError):
                self.conn.send(None)
            grace = max(grace, 1.0)
        self.proc.join(grace)
        if self.proc.exitcode is None:
            self.proc.kill()
            self.proc.join()
        self.conn.close()
        return self.proc.exitcode


class _Batch:
    """The workers of one `imap` call, the results not yet handed out, the tasks to hand out again."""

    def __init__(self, rules: _Rules, jobs: int, wall_seconds: float, mp):
        self.rules, self.jobs, self.wall_seconds, self.mp = rules, jobs, wall_seconds, mp
        self.workers: list[_Worker] = []
        self.done: dict[int, Any] = {}
        self.again: collections.deque[tuple[int, Task]] = collections.deque()  # queued on a worker that went

    def run(self, items: Iterable[Any]) -> Iterator[Any]:
        """The results in input order; an item is taken from `items` only when a worker has room for it."""
        items = iter(items)
        taken = emitted = 0
        more = True
        while True:
            while (self.again or more) and self._room():
                if self.again:
                    self._start(*self.again.popleft())
                    continue
                item = next(items, _END)
                if item is _END:
                    more = False
                elif isinstance(item, Task):
                    self._start(taken, item)
                    taken += 1
                else:
                    self.done[taken] = item
                    taken += 1
            if not more and not self.again:  # nothing left to hand out: an idle worker only holds memory
                for worker in [w for w in self.workers if not w.queue]:
                    self._drop(worker, polite=True)
            while emitted in self.done:
                yield self.done.pop(emitted)
                emitted += 1
            if not more and emitted == taken:
                return
            if any(w.queue for w in self.workers):
                self._collect()

    def close(self) -> None:
        """Kill every worker still there (the caller stopped early or something raised)."""
        while self.workers:
            self._drop(self.workers[-1])

    def _room(self) -> bool:
        return len(self.workers) < self.jobs or any(len(w.queue) < _DEPTH for w in self.workers)

    def _start(self, index: int, task: Task) -> None:
        """Give a task to an idle worker, else a new one, else one with room in its queue."""
        for _ in range(2):  # a worker may have died since it was last looked at: then one more try
            worker = next((w for w in self.workers if not w.queue), None)
            if worker is None and len(self.workers) < self.jobs:
                try:
                    worker = _Worker(self.rules, self.mp)
                except OSError as exc:  # cannot start one: the machine is out of processes or memory
                    self.done[index] = Failure("spawn", f"{type(exc).__name__}: {exc}")
                    return
                self.workers.append(worker)
            worker = worker or min(self.workers, key=lambda w: len(w.queue))
            try:
                worker.give(index, task, self.wall_seconds)
                return
            except OSError:  # it has gone, maybe leaving after an answer not read yet
                while worker in self.workers and worker.conn.poll() and self._receive(worker):
                    pass
                if worker in self.workers:
                    self._lose(worker, self._died(self._drop(worker, grace=1.0)))
        self.done[index] = Failure("died", "worker gone before the task reached it")

    def _collect(self) -> None:
        """Wait for the first answer, death or deadline among the workers, and settle what happened."""
        busy = [w for w in self.workers if w.queue]
        timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
        ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in self.workers],
                         None if timeout == math.inf else timeout))  # wall_seconds may be inf
        now = time.monotonic()
        for worker in list(self.workers):
            if not worker.queue:
                if worker.proc.sentinel in ready:  # died while idle: nothing was lost
                    self._drop(worker)
                continue
            if worker.conn in ready or worker.proc.sentinel in ready:
                # an answer (its last one if it is leaving), else it died on the task it was on
                if not (worker.conn.poll() and self._receive(worker)):
                    self._lose(worker, self._died(self._drop(worker, grace=1.0)))
            elif now >= worker.deadline:
                self._drop(worker)
                self._lose(worker, Failure("wall", f"wall-clock timeout after {self.wall_seconds:g} s"))

    def _receive(self, worker: _Worker) -> bool:
        """Take a worker's next answer; False when there is none (EOF or a message cut short: it is dying)."""
        if not worker.queue:
            return False
        try:
            result, leaving = worker.conn.recv()
        except Exception:
            return False
        index, _ = worker.queue.popleft()
        self.done[index] = result
        worker.deadline = time.monotonic() + self.wall_seconds if worker.queue else math.inf
        if leaving:
            self._drop(worker, grace=1.0)
            self.again.extend(worker.queue)
        return True

    def _lose(self, worker: _Worker, failure: Failure) -> None:
        """A worker that went: its running task failed, the tasks queued behind it go to another worker."""
        if worker.queue:
            index, _ = worker.queue.popleft()
            self.done[index] = failure
            self.again.extend(worker.queue)

    @staticmethod
    def _died(code: int | None) -> Failure:
        if resource is not None and code == -signal.SIGXCPU:
            return Failure("cpu", "RLIMIT_CPU")
        return Failure("died", f"child exit code {code}")

    def _drop(self, worker: _Worker, **how) -> int | None:
        self.workers.remove(worker)
        return worker.end(**how)


_END = object()


def imap(work: Callable[[Any], Any], items: Iterable[Any], *, jobs: int, memory_bytes: int, cpu_seconds: int,
         wall_seconds: float, recycle_files: int = 50, recycle_rss: int = 256 * 2**20,
         retire: Callable[[Any], bool] = _never, start_method: str | None = None) -> Iterator[Any]:
    """For each item in order: `work(arg)` run in one of up to `jobs` workers for a Task (or its Failure), else the item.

    `work` and `retire` must pickle (module-level functions or partials) where workers are spawned.
    """
    method = choose_start_method(start_method) if ISOLATED else None
    if method is None:  # no worker processes at all: in this process, without limits
        yield from (work(item.arg) if isinstance(item, Task) else item for item in items)
        return
    rules = _Rules(work, memory_bytes, cpu_seconds, recycle_files, recycle_rss, retire)
    batch = _Batch(rules, max(1, jobs), wall_seconds, multiprocessing.get_context(method))
    try:
        yield from batch.run(items)
    finally:  # the caller stopped early or something raised: no worker outlives the batch
        batch.close()
