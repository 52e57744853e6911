"""The worker's share of the cores and how it finds a retried trial's run folder (issue 19: from the trial's
own `run_dir`, no scan of every summary.json)."""
import optuna

from neuro_trigger.sweeping import worker
from neuro_trigger.training.threads import usable_cores


def test_core_shares_cover_the_usable_cores_once_in_blocks_of_near_equal_size():
    cores = usable_cores()
    for workers in range(1, len(cores) + 3):
        shares = [worker.core_share(i, workers) for i in range(min(workers, len(cores)))]
        assert sorted(c for share in shares for c in share) == cores
        assert max(map(len, shares)) - min(map(len, shares)) <= 1 and min(map(len, shares)) >= 1


def _worker_with(study: optuna.Study) -> worker.Worker:
    runner = worker.Worker.__new__(worker.Worker)
    runner.study, runner.definition = study, None
    return runner


def test_a_retry_finds_its_run_folder_in_the_trial(tmp_path):
    """A trial stores its run folder as soon as its run claims it, so even a trial killed mid-run is found
    without reading any summary.json."""
    study = optuna.create_study()
    first = study.ask()
    first.set_user_attr("run_dir", str(tmp_path / "version_0"))
    study.tell(first, state=optuna.trial.TrialState.FAIL)
    never_started = study.ask()  # killed before its run claimed a folder
    study.tell(never_started, state=optuna.trial.TrialState.FAIL)
    assert _worker_with(study)._previous_run([first.number, never_started.number]) == tmp_path / "version_0"
    assert _worker_with(study)._previous_run([never_started.number]) is None
    assert _worker_with(study)._previous_run([]) is None


def test_run_list_holds_the_folders_the_trials_stored(tmp_path):
    study = optuna.create_study()
    for folder in ("a", "b", "a"):  # a retry that resumed its run folder names it again
        trial = study.ask()
        trial.set_user_attr("run_dir", folder)
        study.tell(trial, 1.0)
    study.ask()  # still running, no folder yet
    worker.write_run_list(tmp_path, study)
    assert (tmp_path / "runs.txt").read_text() == "a\nb\n"
