"""The console's progress board: phases in order and an ETA for the whole run (issue 21)."""
import time

from rich.console import Console

from neuro_trigger.training.progress import EXPORT_PER_POST, POST_GUESS_S, ProgressBoard


def _render(board: ProgressBoard) -> str:
    console = Console(record=True, width=160, color_system=None)
    console.print(board.table())
    return console.export_text()


def test_eta_covers_evaluation_plots_and_export_not_only_training():
    """Bug (issue 21): the table said 'training 5/5 ETA 0:00' through about 16 s of evaluation, plots and export."""
    board = ProgressBoard([0, 1], {0: 5, 1: 5}, {0: 1000, 1: 1000}, concurrent=1)
    board.enter(0, "training")
    board.update(0, started=time.monotonic() - 2.0, first_epoch=0, epoch=5)  # 5 epochs in about 2 s
    board.enter(0, "evaluating")
    remaining = board.run_remaining_s()
    # expert 0's evaluation, then expert 1 (about 2 s of training and its evaluation), then the export
    assert remaining > 2.0 + (1 + EXPORT_PER_POST) * POST_GUESS_S
    text = _render(board)
    assert "evaluating" in text and "waiting" in text and "5/5" in text and "left" in text
    eta_of_expert_0 = next(line for line in text.splitlines() if "evaluating" in line).split()[-1]
    assert eta_of_expert_0 != "0:00"
    board.enter(0, "plots")
    board.enter(0, "finished")
    board.enter(1, "training")
    board.update(1, epoch=5)
    board.enter(1, "evaluating")
    board.enter(1, "finished")
    assert board.run_remaining_s() > 0  # all experts done: the export is still ahead


def test_an_expert_writes_one_line_per_phase(caplog):
    board = ProgressBoard([3], {3: 2}, {3: 100})
    with caplog.at_level("INFO", logger="neuro_trigger.progress"):
        for phase in ("training", "evaluating", "plots", "finished"):
            board.enter(3, phase, "details")
    assert [r.getMessage() for r in caplog.records] == [
        "expert 3 training: details", "expert 3 evaluating: details", "expert 3 plots: details",
        "expert 3 finished: details"]
