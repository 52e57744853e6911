"""Atomic file writes: write to a temporary file beside the target, then rename over it.

A kill at any moment leaves either the old file or the complete new one, never a truncated one.
The file gets the permissions an ordinary `open()` would give it (0666 less the umask), so that
colleagues sharing a `log/` folder can read it: `mkstemp` alone would make it 0600.

Only regular files are replaced. A symbolic link to a regular file keeps its link (the file it names is
replaced); a device, a pipe or a socket, or a link to one (`/dev/null`, `/dev/stdout`), is written through,
as `open()` would: renaming onto `/dev/null` as root would replace the device node with a file.
"""
import contextlib
import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it is renamed onto `target`.

    A target that is not a regular file (a device, a pipe) is yielded itself, to be written through."""
    target = Path(target)
    if writes_through(target):
        yield target
        return
    target = replaced_file(target)
    with _naming(target):
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    finally:
        os.close(fd)
    try:
        with _naming(target):
            yield Path(tmp)
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _naming(target: Path) -> Iterator[None]:
    """An OSError of writing the temporary file (a full disk names no file) names the target instead."""
    temporary_prefix = str(target.parent / f".{target.name}.")
    try:
        yield
    except OSError as e:
        if e.errno is None or not (e.filename is None or str(e.filename).startswith(temporary_prefix)):
            raise
        raise OSError(e.errno, e.strerror, str(target)) from None


def writes_through(target: Path) -> bool:
    """Whether `target` exists as something other than a regular file or a folder (following links), or is a
    link into /proc (`/dev/stdout` on a redirected file): written through, never replaced."""
    try:
        mode = os.stat(target).st_mode
    except OSError:  # absent (or unreachable: creating it then fails with its own error)
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)) or _links_into_proc(str(target))


def _links_into_proc(path: str) -> bool:
    """Whether a chain of symbolic links from `path` passes through /proc (`/dev/stdout` -> /proc/self/fd/1)."""
    for _ in range(40):  # the kernel's own limit of links followed
        if path.startswith("/proc/"):
            return True
        if not os.path.islink(path):
            return False
        path = os.path.join(os.path.dirname(path), os.readlink(path))
    return False


def replaced_file(target: Path) -> Path:
    """The regular file a rename must replace: the file a symbolic link names, so that the link stays."""
    return Path(os.path.realpath(target)) if target.is_symlink() else target


def current_umask() -> int:
    """The process umask, read without changing it (os.umask would race with other threads)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # no /proc (macOS): set and restore at once
    os.umask(mask)
    return mask


def write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8", errors="surrogateescape")  # whatever the locale (ASCII: no `±`)


def write_json(target: str | os.PathLike, data: Any) -> None:
    """Strict JSON: NaN and inf (e.g. a resolution of an empty bin) are written as null."""
    write_text(target, json.dumps(finite_json(data), indent=2, default=_to_builtin, allow_nan=False) + "\n")


def finite_json(value: Any) -> Any:
    """A copy of nested data with NaN and inf floats replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def _to_builtin(value: Any) -> Any:
    """JSON fallback for numpy scalars and arrays."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
