"""Live training progress of all experts at once.

Each expert thread reports through `ProgressCallback` into a shared `ProgressBoard`; the main
thread shows the board as one rich table on a terminal, or as plain log lines otherwise.
"""
import logging
import threading
import time

import pytorch_lightning as pl
from rich.console import Console
from rich.live import Live
from rich.table import Table

log = logging.getLogger("neuro_trigger.progress")


class ProgressBoard:
    """Thread-safe table of per-expert progress: epoch, losses, best val loss, ETA."""

    def __init__(self, experts: list[int], max_epochs: dict[int, int]):
        self.lock = threading.Lock()
        self.rows = {x: {"epoch": 0, "max_epochs": max_epochs[x], "train_loss": None, "val_loss": None,
                         "best_val_loss": None, "status": "waiting", "started": None} for x in experts}

    def update(self, expert: int, **fields) -> None:
        with self.lock:
            self.rows[expert].update(fields)

    def snapshot(self) -> dict[int, dict]:
        with self.lock:
            return {x: dict(row) for x, row in self.rows.items()}

    def table(self) -> Table:
        table = Table(title="NeuroTrigger experts", expand=False)
        for column in ("expert", "status", "epoch", "train loss", "val loss", "best val loss", "ETA"):
            table.add_column(column, justify="right")
        for expert, row in self.snapshot().items():
            table.add_row(str(expert), row["status"], f"{row['epoch']}/{row['max_epochs']}",
                          _fmt(row["train_loss"]), _fmt(row["val_loss"]), _fmt(row["best_val_loss"]), _eta(row))
        return table


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.5f}"


def _eta(row: dict) -> str:
    if row["status"] != "training" or not row["started"] or row["epoch"] == 0:
        return "-"
    per_epoch = (time.monotonic() - row["started"]) / row["epoch"]
    seconds = int(per_epoch * (row["max_epochs"] - row["epoch"]))
    return f"{seconds // 60}:{seconds % 60:02d}"


class ProgressCallback(pl.Callback):
    """Reports one expert's epochs to the board (and as a log line, for files and non-terminals)."""

    def __init__(self, board: ProgressBoard, expert: int):
        self.board, self.expert = board, expert

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.board.update(self.expert, status="training", started=time.monotonic())

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        metrics = trainer.callback_metrics
        val = metrics.get("val_loss")
        best = self.board.snapshot()[self.expert]["best_val_loss"]
        val = None if val is None else float(val)
        if val is not None and (best is None or val < best):
            best = val
        train = metrics.get("train_loss")
        train = None if train is None else float(train)
        self.board.update(self.expert, epoch=trainer.current_epoch + 1, train_loss=train, val_loss=val,
                          best_val_loss=best)
        log.info("epoch %d/%d train_loss %s val_loss %s best %s", trainer.current_epoch + 1, trainer.max_epochs,
                 _fmt(train), _fmt(val), _fmt(best))


def show_until_done(board: ProgressBoard, threads: list[threading.Thread], console: Console | None = None) -> None:
    """Block until all threads end, redrawing the board on a terminal."""
    console = console or Console(stderr=True)
    if not console.is_terminal:
        for thread in threads:
            thread.join()
        return
    with Live(board.table(), console=console, refresh_per_second=2) as live:
        while any(t.is_alive() for t in threads):
            time.sleep(0.5)
            live.update(board.table())
        live.update(board.table())
