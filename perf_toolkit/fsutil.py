"""Atomic file output: a killed or failing save never destroys the previous good file."""

from __future__ import annotations

import csv
import errno
import io
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

try:  # file locks tell a live writer's temporary file from a killed one's (not on Windows)
    import fcntl
except ImportError:
    fcntl = None

#: Temporary files of atomic_write start so (a killed run's leftover is recognisably ours).
TEMP_PREFIX = ".perf-toolkit-"
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"[0-9a-f]{12}\.tmp")
#: A temporary file younger than this is never removed: its writer may be a moment away from locking it.
STALE_TEMP_SECONDS = 120
#: Where no lock says whether a writer is alive (Windows), a temporary file must be this old to be a leftover.
STALE_TEMP_SECONDS_UNLOCKED = 24 * 3600
_swept: set[str] = set()  # folders this process already cleaned


def remove_stale_temps(folder: str | os.PathLike[str], *, now: float | None = None) -> list[Path]:
    """Remove what a killed process left of atomic_write in `folder`: only our own temporary names, only old
    ones, and only those no live writer holds (each writer keeps an exclusive lock on its temporary file,
    which the system releases when the writer dies); a concurrent run's files stay. The paths removed."""
    now = time.time() if now is None else now
    removed = []
    with suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if not _TEMP_NAME.fullmatch(entry.name):
                continue
            with suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                age = now - st.st_mtime
                if not stat.S_ISREG(st.st_mode) or age < STALE_TEMP_SECONDS or (
                        fcntl is None and age < STALE_TEMP_SECONDS_UNLOCKED):
                    continue
                fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                try:
                    if fcntl is not None:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a live writer: BlockingIOError
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
                finally:
                    os.close(fd)
    return removed


def _hold(fd: int) -> int | None:
    """Lock our temporary file until it is renamed, so remove_stale_temps leaves it alone: the lock is taken
    through a second descriptor (closed by the caller after the rename), as closing the file would release it."""
    if fcntl is None:
        return None
    held = os.dup(fd)
    with suppress(OSError):
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return held


@contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces `path` only once it is completely written and synced."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)  # "-o 新文件夹/结果.xlsx" just works
    # a short temporary name of its own: a target name of up to 255 bytes still works (no ".name.…tmp" overflow)
    tmp = target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}.tmp")
    if str(target.parent) not in _swept:  # once a folder and process: what a killed run left here goes
        _swept.add(str(target.parent))
        remove_stale_temps(target.parent)
    # os.open with 0o666 lets the umask decide the final permissions, as a plain open() would.
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:  # name the file the caller asked for, not our temporary one
        raise OSError(exc.errno, exc.strerror, str(target)) from exc
    held = _hold(fd)
    try:
        with _Output(fd) as handle:
            yield handle
            if handle.failure is not None:  # a writer library swallowed it: never commit a part-written file
                raise handle.failure
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        failed = _write_failure(exc, tmp)
        if failed is not None:  # a full disk, a quota: name the file the caller asked for, not our temporary one
            raise OSError(failed.errno, failed.strerror, str(target)) from exc
        raise
    finally:
        if held is not None:
            os.close(held)
    try:  # make the rename itself durable; not every platform can open a directory
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


class _Output(io.RawIOBase):
    """The temporary file atomic_write yields. Its first failed write (a full disk) is kept in `failure`, so
    the file is never committed even if a writer library swallowed the error; and what a library does with
    it after that (a half-written zip closing itself when collected, after the file was closed) is ignored
    instead of printing an “Exception ignored” traceback at exit."""

    def __init__(self, fd: int):
        self._file = os.fdopen(fd, "wb", buffering=0)
        self.failure: OSError | None = None
        self._after = 0  # the position once closed

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._file.fileno()

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        if self.closed:
            self._after += len(view)
            return len(view)
        if self.failure is not None:
            return len(view)
        done = 0
        try:
            while done < len(view):
                done += self._file.write(view[done:]) or 0
        except OSError as exc:
            self.failure = exc
            raise
        return done

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if self.closed:  # a position that adds up for whoever still writes (a zip's end records)
            self._after = offset if whence == os.SEEK_SET else self._after + offset
            return self._after
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._after if self.closed else self._file.tell()

    def flush(self) -> None:
        pass  # unbuffered: every write went to the file

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._after = self._file.tell()
            self._file.close()
        finally:
            super().close()


#: What the medium says when a write fails (a writer library may wrap it: xlsxwriter's FileCreateError).
_MEDIUM_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})


def _write_failure(exc: BaseException, tmp: Path) -> OSError | None:
    """The OSError of writing the temporary file behind `exc`, if that is what failed: one naming no file
    or the temporary one, or a medium error a library wrapped."""
    seen = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None and (
                seen.filename in (None, str(tmp)) if seen is exc else seen.errno in _MEDIUM_ERRORS
                and seen.filename is None):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


#: Plain words for the OS errors an operator meets (the CLI says them; strerror is English).
OS_ERRORS = {errno.ENOENT: "文件或文件夹不存在", errno.EACCES: "没有权限", errno.EPERM: "没有权限",
             errno.ENOSPC: "磁盘空间不足", errno.EDQUOT: "磁盘配额已用完", errno.EROFS: "磁盘只读",
             errno.EISDIR: "这是一个文件夹", errno.ENOTDIR: "路径中有一项不是文件夹", errno.EEXIST: "文件已存在",
             errno.ENAMETOOLONG: "文件名太长", errno.EFBIG: "文件太大", errno.EIO: "磁盘读写错误"}


def os_error_text(exc: OSError) -> str:
    """An OSError in Chinese: the file it names (if any), then what went wrong."""
    what = OS_ERRORS.get(exc.errno, exc.strerror or type(exc).__name__)
    return f"{path_text(str(exc.filename))}：{what}" if exc.filename else what


#: The bureau's roster or budget figures: a few hundred KB at most.
MAX_TABLE_BYTES = 50 * 2**20


class TableFileError(ValueError):
    """An operator's table file (roster, budget figures) that cannot be read; the message is Chinese."""


def read_table(path: str | os.PathLike[str], what: str, *, max_rows: int = 100_000,
               max_cols: int = 50) -> list[list[object]]:
    """The rows of a CSV (UTF-8 with or without BOM, or GB18030) or of an .xlsx's first sheet.

    These are the bureau's own files (roster, budget figures), read as they are; `what`
    names the file in messages (“报送名单”, “预算数据文件”).
    """
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
            try:
                ws = wb.worksheets[0]
                ws.reset_dimensions()
                return [list(r) for r in ws.iter_rows(max_row=max_rows, max_col=max_cols, values_only=True)]
            finally:
                wb.close()
        except Exception as exc:  # openpyxl raises many types for a damaged file
            raise TableFileError(f"{what} {path.name} 无法作为 xlsx 读取：{exc}") from exc
    try:
        data = read_bounded(path, MAX_TABLE_BYTES)
    except OSError as exc:
        raise TableFileError(f"无法读取{what} {path}：{exc.strerror}") from exc
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TableFileError(f"{what} {path.name} 的编码无法识别，请另存为 UTF-8 或 GB18030 编码的 CSV")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[object]] = []
    try:
        for row in reader:
            if len(rows) < max_rows:
                rows.append(list(row[:max_cols]))
    except csv.Error as exc:  # an unclosed quote would otherwise swallow every row after it
        raise TableFileError(f"{what} {path.name} 第{reader.line_num}行附近的引号或格式有误（{_csv_problem(exc)}），"
                             "请用 Excel 打开后另存为 CSV") from exc
    return rows


def _csv_problem(exc: Exception) -> str:
    text = str(exc)
    if "end of data" in text or "EOF" in text:
        return "引号没有闭合"
    if "field larger" in text:
        return "单元格内容过长"
    return "不是规范的 CSV"


def irregular_reason(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> str | None:
    """Why `path` is not read as an input file (Chinese), None for a regular file.

    A named pipe or a device would block or never end (a FIFO named 单位.xlsx, a link to /dev/zero);
    a symbolic link found under `root` (an inbox folder) must not lead out of it.
    """
    path = Path(path)
    try:
        linked = stat.S_ISLNK(os.lstat(path).st_mode)
        if linked and root is not None:
            target, base = path.resolve(), Path(root).resolve()
            if target != base and base not in target.parents:
                return "是指向收件文件夹以外的快捷方式（符号链接），已跳过"
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "是指向不存在的文件的快捷方式（符号链接），已跳过"
    except OSError as exc:
        return f"无法读取（{exc.strerror or '读取失败'}）"
    except RuntimeError:  # a loop of links
        return "是循环的快捷方式（符号链接），已跳过"
    if stat.S_ISDIR(mode):
        return "这是一个文件夹"
    if not stat.S_ISREG(mode):
        return "不是普通文件（命名管道、设备或套接字），已跳过"
    return None


#: What `read_bounded` reads at a time from a file that grew after it was measured.
READ_BLOCK = 1 << 20


def read_bounded(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """A regular file's bytes, at most `max_bytes` (OSError EFBIG beyond): never blocks on a pipe, never
    reads a device without end, whatever the file became since it was listed."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "不是普通文件", str(path))
        # read(n) allocates n bytes first: asked for the cap, every file would cost the cap (a 1 GB commit
        # on Windows, where it may fail); the file's size, and a block at a time if it grew since
        want = min(info.st_size, max_bytes) + 1
        data = fh.read(want)
        if len(data) == want <= max_bytes:
            grown = bytearray(data)
            while len(grown) <= max_bytes and (block := fh.read(min(READ_BLOCK, max_bytes + 1 - len(grown)))):
                grown += block
            data = bytes(grown)
    if len(data) > max_bytes:
        raise OSError(errno.EFBIG, f"文件超过 {max_bytes / 2**20:.0f} MB 的上限", str(path))
    return data


def path_text(text: str) -> str:
    """A path or name read from the file system (or a message quoting one) as text that can be printed and
    stored: a name that was not UTF-8 (a zip unpacked on Chinese Windows leaves GBK bytes) comes with its
    bytes surrogate-escaped; each name part holding such bytes is read as GB18030, else what cannot be
    decoded is replaced."""
    if not _ESCAPED.search(text):
        return text
    return _NAME_PART.sub(lambda m: _decoded(m[0]) if _ESCAPED.search(m[0]) else m[0], text)


_ESCAPED = re.compile("[\udc80-\udcff]")
#: A name part: no separator, space or quotation mark (a message quotes a file “so”).
_NAME_PART = re.compile("[^/\\\\s“”‘’\"'：，。（）]+")


def _decoded(part: str) -> str:
    raw = part.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


def input_overlap(output: str | os.PathLike[str], inputs) -> Path | None:
    """The input that `output` is, or lies inside, or None. Writing there would overwrite a department's
    file or mix outputs into what the next run reads; links and `..` are resolved first."""
    out = Path(output).resolve()
    for given in inputs:
        if isinstance(given, str) and "://" in given:
            continue  # an imap:// folder, not a path
        inp = Path(given).resolve()
        if out == inp or inp in out.parents:
            return Path(given)
        if out.exists() and inp.exists() and os.path.samefile(out, inp):  # a hard link to the input
            return Path(given)
    return None


def overlap_message(output: str | os.PathLike[str], given: Path) -> str:
    """The Chinese refusal for an output that is, or is inside, the input `given`."""
    where = "就是" if Path(output).resolve() == Path(given).resolve() else "位于"
    return (f"输出位置 {output} {where}输入 {given}{'' if where == '就是' else ' 之中'}：为免覆盖报送的文件，"
            "也免得输出被当作报送文件读回，请另选一个不在输入中的输出位置。")
