"""A sweep's journal file (Optuna's JournalStorage, one JSON record per line) that is never lost.

A journal cut mid-line (disk full, a killed writer, an interrupted copy) ends in a partial record. Optuna's
reader skips it, but its next append glues a new record onto it, and from then on the journal cannot be read
at all. Here an append under the journal's lock refuses a journal that does not end with a whole record, a
write that fails (ENOSPC) is undone by cutting the file back to its last whole record, and `damage` and
`repair` tell the user how many records are intact and keep every one of them, after a backup.
"""
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock, JournalStorage

from neuro_trigger.errors import UserError, describe

FILE = "journal.log"
RECORD_START = b'{"op_code":'  # how Optuna writes every record; where a record glued onto a partial one begins


class JournalError(UserError):
    """The journal cannot be used or written; the message names the file and the cause, in one line."""


@dataclass
class Damage:
    """What a scan found: the records a repair keeps (each ending in a newline) and what is wrong."""
    records: list[bytes]
    problems: list[str]

    @property
    def whole(self) -> bool:
        return not self.problems


def _record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond any Optuna record
        return False


def scan(data: bytes) -> Damage:
    """Every intact record of a journal's bytes, and its problems: a last record cut short (dropped; kept when
    only its newline is missing), a line that is no record (dropped), or a whole record glued onto a partial
    one by an earlier append (the whole one kept)."""
    lines = data.split(b"\n")
    records, problems, offset = [], [], 0
    for number, line in enumerate(lines, start=1):
        last = number == len(lines)
        if last and not line:
            break
        if _record(line):
            records.append(line + b"\n")
            if last:
                problems.append(f"the last record has no line end (byte {offset + len(line)})")
        elif last:
            problems.append(f"the last record is cut short at byte {offset + len(line)} ({len(line)} bytes of it)")
        else:
            glued = line.rfind(RECORD_START)
            if glued > 0 and _record(line[glued:]):
                records.append(line[glued:] + b"\n")
            problems.append(f"line {number} (byte {offset}) is not a whole record")
        offset += len(line) + 1
    return Damage(records, problems)


def _locked(path: Path) -> JournalFileSymlinkLock:
    """Optuna's own lock of the journal (what its appends hold), taken; a failure names the lock file."""
    lock = JournalFileSymlinkLock(str(path))
    try:
        lock.acquire()
    except OSError as e:
        raise JournalError(f"{path}.lock: cannot take the sweep journal's lock ({describe(e)})") from None
    return lock


def read_locked(path: Path) -> bytes:
    """The journal's bytes, read while no process appends (an append in progress is not damage)."""
    lock = _locked(path)
    try:
        return path.read_bytes()
    except OSError as e:
        raise JournalError(f"{path}: cannot read the sweep journal ({describe(e)})") from None
    finally:
        lock.release()


def repair_command(path: Path) -> str:
    sweep_dir = path.parent
    return f"python neuro_trigger/sweep.py --repair {sweep_dir.name} --log-root {sweep_dir.parent.parent}"


def refusal(path: Path, found: Damage) -> str:
    """The one line that tells the user about a damaged journal and the repair."""
    return (f"{path}: the sweep journal is damaged ({found.problems[0]}"
            + (f", and {len(found.problems) - 1} more problem(s)" if len(found.problems) > 1 else "")
            + f"); {len(found.records)} records are intact and nothing was written to it; keep them with: "
            + repair_command(path) + " (it writes a backup first)")


def check(path: Path) -> None:
    """Refuse a journal that ends in a partial record (JournalError, one line); a missing or empty one is whole.
    Damage before its end makes Optuna's replay fail, and `open_journal` then says the same."""
    if path.is_file():
        data = read_locked(path)
        if data and not data.endswith(b"\n"):
            raise JournalError(refusal(path, scan(data)))


def repair(path: Path) -> tuple[Damage, Path] | None:
    """Keep every intact record of a damaged journal, after writing the damaged bytes to a backup beside it;
    (what was found, the backup), or None when the journal is whole. Holds the journal's lock throughout."""
    lock = _locked(path)
    try:
        data = path.read_bytes()
        found = scan(data)
        if found.whole:
            return None
        backup = _write_backup(path, data)
        repaired = path.with_name(f".{path.name}.repaired")
        _write_synced(repaired, b"".join(found.records))
        os.replace(repaired, path)
        return found, backup
    except OSError as e:
        raise JournalError(f"{path}: cannot repair the sweep journal ({describe(e)}); it was not changed") from None
    finally:
        lock.release()


def _write_backup(path: Path, data: bytes) -> Path:
    """The damaged bytes beside the journal, in a file of its own that nothing overwrites."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for number in range(1000):
        backup = path.with_name(f"{path.name}.damaged-{stamp}" + (f"-{number}" if number else ""))
        try:
            _write_synced(backup, data, exclusive=True)
            return backup
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.name}.damaged-{stamp}")


def _write_synced(path: Path, data: bytes, exclusive: bool = False) -> None:
    """`data` in `path`, on disk; a file that could not be written whole (a full disk) is removed."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o666)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    except OSError:
        path.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Backend(JournalFileBackend):
    """Optuna's journal file whose appends never follow a partial record and never leave one behind."""

    def append_logs(self, logs: list[dict]) -> None:
        path = Path(self._file_path)
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode()
        lock = _locked(path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND)
        except OSError as e:
            lock.release()
            raise JournalError(f"{path}: cannot open the sweep journal ({describe(e)})") from None
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                raise JournalError(refusal(path, scan(path.read_bytes())))
            try:
                _write_all(fd, text)
                os.fsync(fd)
            except OSError as e:  # e.g. ENOSPC after part of the record: cut the file back to its whole records
                try:
                    os.ftruncate(fd, size)
                    kept = "the journal is kept as it was"
                except OSError:
                    kept = f"its whole records are kept; repair it with: {repair_command(path)}"
                raise JournalError(f"{path}: cannot write the sweep journal ({describe(e)}); {kept}") from None
        finally:
            os.close(fd)
            lock.release()


def open_journal(path: Path) -> JournalStorage:
    """The study's storage in `path`, checked first: a damaged journal is refused, never appended to."""
    check(path)
    try:
        return JournalStorage(Backend(str(path)))
    except OSError as e:
        raise JournalError(f"{path}: cannot open the sweep journal ({describe(e)})") from None
    except (AssertionError, AttributeError, IndexError, KeyError, TypeError, ValueError) as e:  # Optuna's replay
        found = scan(read_locked(path))
        if not found.whole:  # a line inside the journal that is no whole record
            raise JournalError(refusal(path, found)) from None
        raise JournalError(f"{path}: holds a record that is not an Optuna operation ({type(e).__name__}: "
                           f"{describe(e)}); not a sweep journal, or edited by hand") from None
