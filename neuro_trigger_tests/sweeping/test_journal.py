"""A sweep's journal cut mid-line, and a journal the disk has no room for (issue 23 item 4, and its ENOSPC
class): detected in one line, repaired on request with every intact record kept, never appended to while
damaged, and a resumed sweep finishes the missing trials exactly once."""
import contextlib
import subprocess
import tempfile
from pathlib import Path

import optuna
import pytest

from neuro_trigger.sweeping import journal
from neuro_trigger_tests.sweeping.helpers import FAST, assert_each_point_finished_once, load_study, sweep

POINTS = [({"learning_rate": 0.01}, 42), ({"learning_rate": 0.02}, 42), ({"learning_rate": 0.04}, 42)]
NEWLINE = b"\n"
GRID = ["learning_rate=0.01,0.02,0.04", *FAST]


@pytest.fixture(scope="module")
def finished(tmp_path_factory, small_data_args) -> Path:
    """The log root of a finished three-trial sweep `cut`."""
    root = tmp_path_factory.mktemp("journal")
    done = sweep("baseline_v2", "-m", *GRID, *small_data_args, "--log-root", str(root), "--name", "cut")
    assert done.returncode == 0, done.stderr
    return root


def record_starts(data: bytes) -> list[int]:
    return [0] + [i + 1 for i, byte in enumerate(data[:-1]) if byte == ord("\n")]


def test_journal_cut_at_every_byte_of_its_last_record_is_refused_and_repaired(finished, tmp_path):
    data = (finished / "sweeps" / "cut" / journal.FILE).read_bytes()
    last, count = record_starts(data)[-1], data.count(b"\n")
    path = tmp_path / "sweeps" / "cut" / journal.FILE
    path.parent.mkdir(parents=True)
    probe = {"op_code": 2, "worker_id": "probe", "study_id": 0, "user_attr": {"probe": True}}
    for cut in range(last, len(data)):
        path.write_bytes(data[:cut])
        if cut == last:  # cut between two records: a whole, shorter journal
            journal.check(path)
            continue
        kept = data if cut == len(data) - 1 else data[:last]  # only the newline missing: the record is whole
        intact = kept.count(b"\n")
        with pytest.raises(journal.JournalError, match=f"; {intact} records are intact and nothing was written "
                                                       f"to it; keep them with: python neuro_trigger/sweep.py "
                                                       f"--repair cut"):
            journal.check(path)
        with pytest.raises(journal.JournalError, match="damaged"):  # an append after a partial record is refused
            journal.Backend(str(path)).append_logs([probe])
        assert path.read_bytes() == data[:cut]
        found, backup = journal.repair(path)
        assert backup.read_bytes() == data[:cut] and len(found.records) == kept.count(b"\n")
        assert path.read_bytes() == kept
        storage = journal.open_journal(path)
        study = optuna.load_study(study_name="cut", storage=storage)
        assert len(study.get_trials()) == 3 and kept.count(b"\n") in (count - 1, count)
        study.set_user_attr("after_repair", True)  # appends go on after the repair
        assert journal.scan(path.read_bytes()).whole
        backup.unlink()


def test_journal_line_glued_onto_a_partial_record_keeps_the_whole_one():
    """What Optuna's append after a cut made: the partial record dropped, the whole one after it kept."""
    whole = b'{"op_code":8,"worker_id":"w","trial_id":0,"user_attr":{"a":1}}'
    found = journal.scan(whole + b"\n" + b'{"op_code":8,"work' + whole + b"\n" + whole + b"\n")
    assert found.records == [whole + b"\n"] * 3 and found.problems == ["line 2 (byte 63) is not a whole record"]


def test_journal_cut_mid_line_is_refused_then_repaired_and_resumed_exactly_once(finished):
    """Two cuts through the CLI: inside the last record, and inside the first record after trial 0 finished
    (trials 1 and 2 are lost and run again)."""
    path = finished / "sweeps" / "cut" / journal.FILE
    data = path.read_bytes()
    starts = record_starts(data)
    after_first = next(s for s in starts if data[:s].count(b'"state":1,') == 1)
    for cut in (len(data) - 7, after_first + 40):
        path.write_bytes(data[:cut])
        for action in ("--resume", "--status"):
            refused = sweep(action, "cut", "--log-root", str(finished), timeout=300)
            assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
            assert f"error: {path}: the sweep journal is damaged (the last record is cut short" in refused.stderr
            assert f"records are intact and nothing was written to it; keep them with: python neuro_trigger/" \
                   f"sweep.py --repair cut --log-root {finished}" in refused.stderr
            assert path.read_bytes() == data[:cut]
        repaired = sweep("--repair", "cut", "--log-root", str(finished), timeout=300)
        assert repaired.returncode == 0, repaired.stderr
        assert f"kept {data[:cut].count(NEWLINE)} intact records" in repaired.stdout
        assert any(p.read_bytes() == data[:cut] for p in path.parent.glob(journal.FILE + ".damaged-*"))
        resumed = sweep("--resume", "cut", "--log-root", str(finished), timeout=600)
        assert resumed.returncode == 0, resumed.stderr
        assert_each_point_finished_once(load_study("cut", journal.open_journal(path)), POINTS)
        data = path.read_bytes()
    assert sweep("--repair", "cut", "--log-root", str(finished)).stdout.endswith("nothing to repair\n")


@contextlib.contextmanager
def tiny_tmpfs(size: str):
    """A tmpfs of `size` (root only); the test is skipped where it cannot be mounted."""
    folder = Path(tempfile.mkdtemp(prefix="nt-full-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs to fill ({mounted.stderr.strip() or 'mount failed'}): needs root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        folder.rmdir()


def test_journal_enospc_ends_the_sweep_in_one_line_and_the_journal_stays_whole(tmp_path, small_data_args):
    """The journal alone lives on a one-page tmpfs, which the records of three trials overflow (about 4.7 kB).
    The write that does not fit is undone; the sweep says which file and why; once there is room, the
    resumed sweep finishes every trial exactly once."""
    with tiny_tmpfs("4k") as full:
        sweep_dir = tmp_path / "sweeps" / "full"
        sweep_dir.mkdir(parents=True)
        (sweep_dir / journal.FILE).symlink_to(full / journal.FILE)
        ended = sweep("baseline_v2", "-m", *GRID, *small_data_args, "--log-root", str(tmp_path), "--name", "full",
                      timeout=600)
        assert ended.returncode == 2, ended.stderr
        assert ended.stderr.strip().splitlines()[-1] == (
            f"error: {sweep_dir / journal.FILE}: cannot write the sweep journal (No space left on device); "
            f"the journal is kept as it was"), ended.stderr
        assert "Traceback" not in ended.stderr
        written = (full / journal.FILE).read_bytes()
        assert journal.scan(written).whole and 0 < len(written) <= 4096
        assert not (sweep_dir / (journal.FILE + ".lock")).exists()
        subprocess.run(["mount", "-o", "remount,size=1m", str(full)], check=True)
        resumed = sweep("--resume", "full", "--log-root", str(tmp_path), timeout=600)
        assert resumed.returncode == 0, resumed.stderr
        assert_each_point_finished_once(load_study("full", journal.open_journal(sweep_dir / journal.FILE)), POINTS)


@pytest.mark.parametrize("line", [b"{}", b'{"op_code":99}', b'{"op_code":0,"worker_id":"x","study_name":"a",'
                                                          b'"directions":"up"}'])
def test_journal_record_that_is_no_optuna_operation_is_refused_in_one_line(tmp_path, line):
    path = tmp_path / journal.FILE
    path.write_bytes(line + b"\n")
    with pytest.raises(journal.JournalError, match="holds a record that is not an Optuna operation"):
        journal.open_journal(path)


def test_journal_repair_on_a_full_disk_changes_nothing():
    """No half-written backup or journal: the repair that finds no room leaves the damaged journal as it was."""
    with tiny_tmpfs("8k") as full:
        path = full / journal.FILE
        study = optuna.create_study(study_name="s", storage=journal.open_journal(path))
        study.set_user_attr("a", "x" * 1000)
        damaged = path.read_bytes()[:-10]
        path.write_bytes(damaged)
        (full / "filler").write_bytes(b"0" * 4096)  # the journal keeps its page; none is left for a backup
        with pytest.raises(journal.JournalError, match=r"cannot repair the sweep journal \(No space left on device\); "
                                                       r"it was not changed"):
            journal.repair(path)
        assert path.read_bytes() == damaged and sorted(p.name for p in full.iterdir()) == ["filler", journal.FILE]


def test_journal_line_damaged_inside_is_refused_with_the_intact_count(tmp_path):
    path = tmp_path / journal.FILE
    study = optuna.create_study(study_name="s", storage=journal.open_journal(path))
    study.set_user_attr("a", 1)
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(lines[0][:20] + b"\n" + b"\n".join(lines[1:]))
    with pytest.raises(journal.JournalError, match=r"damaged \(line 1 \(byte 0\) is not a whole record\); 1 records"):
        journal.open_journal(path)
