"""The mean-over-experts stream when experts stop at different epochs."""
import threading

import pytest

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from neuro_trigger.training.mean_expert import MeanExpertStream


def read_scalars(folder) -> dict[str, dict[int, float]]:
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: {e.step: e.value for e in events.Scalars(tag)} for tag in events.Tags()["scalars"]}


def test_mean_is_written_for_every_epoch_and_does_not_jump_when_experts_stop_early(tmp_path):
    """Bug: the mean jumped when an expert stopped (it was taken over the experts still reporting)."""
    stream = MeanExpertStream(tmp_path, [0, 1, 2])
    stops = {0: 3, 1: 10, 2: 6}  # expert 0 early-stops after 3 epochs, expert 2 after 6

    def expert(x: int) -> None:
        for epoch in range(stops[x]):
            stream.report(x, epoch, {"val_loss": float(x + epoch), "train_loss": 1.0})
        stream.finish(x)

    threads = [threading.Thread(target=expert, args=(x,)) for x in stops]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)  # no deadlock
    stream.close()
    scalars = read_scalars(tmp_path)
    assert sorted(scalars["val_loss"]) == list(range(10))  # no lost epoch
    assert scalars["val_loss"][0] == 1.0  # mean of 0, 1, 2
    assert scalars["val_loss"][4] == pytest.approx((2 + 5 + 6) / 3)  # expert 0's last value (2.0) carried forward
    assert scalars["val_loss"][8] == pytest.approx((2 + 9 + 7) / 3)  # expert 2's last value (7.0) carried too
    assert scalars["experts_training"][2] == 3 and scalars["experts_training"][4] == 2
    assert scalars["experts_training"][7] == 1


def test_an_expert_that_never_reports_does_not_block(tmp_path):
    stream = MeanExpertStream(tmp_path, [0, 1])
    stream.report(0, 0, {"val_loss": 2.0})
    assert stream.written == []  # still waiting for expert 1
    stream.finish(1)  # expert 1 failed before its first epoch
    assert stream.written == [0]
    stream.close()
