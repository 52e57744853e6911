"""Live progress of a run: its phases in order, every expert's epochs, and an ETA for the whole run.

Each expert thread reports through `ProgressCallback` and `ProgressBoard.enter` into a shared board; the main
thread shows the board as one rich table on a terminal. Elsewhere (a file, a CI log) each expert writes one line
per phase and the run one line per run phase (`announce`); the per-epoch lines go to the run's log files only.
"""
import logging
import threading
import time

import pytorch_lightning as pl
from rich.console import Console
from rich.live import Live
from rich.table import Table

# the run's phases as the console names them, in order; an expert goes through the middle three
PHASES = ("loading", "training", "evaluating", "plots", "export")
EXPERT_DONE = ("finished", "failed", "interrupted")
PHASE_LOGGER = "neuro_trigger.phase"  # one line per run phase: shown on a terminal too (logs.configure_console)
EPOCH_LOGGER = "neuro_trigger.progress.epochs"  # one line per epoch: the run's log files only
POST_GUESS_S = 4.0  # an expert's evaluation and plots before one was measured (5 experts, 2 cores: 3-7 s)
EXPORT_PER_POST = 2.0  # the run's export, last plots and report take about two experts' evaluation and plots

log = logging.getLogger("neuro_trigger.progress")
epoch_log = logging.getLogger(EPOCH_LOGGER)


def announce(phase: str, text: str) -> None:
    """One line for a phase of the whole run (`loading: ...`, `export: ...`), on the console and in app.log."""
    logging.getLogger(PHASE_LOGGER).info("%s: %s", phase, text)


def clock(seconds: float | None) -> str:
    """`m:ss`, `h:mm:ss` from 1 hour, `-` when unknown."""
    if seconds is None:
        return "-"
    seconds = max(0, int(round(seconds)))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"{minutes}:{seconds:02d}"


class ProgressBoard:
    """Thread-safe table of per-expert progress (phase, epoch, losses, best val loss) and the run's remaining time.

    `rows`: training rows per expert and `concurrent`: experts trained at once, for the ETA of experts still
    waiting (their epochs are estimated from the seconds per row and epoch of those that started)."""

    def __init__(self, experts: list[int], max_epochs: dict[int, int], rows: dict[int, int] | None = None,
                 concurrent: int = 1):
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.concurrent = max(1, concurrent)
        self.post_seconds: list[float] = []  # measured evaluation + plots of the experts done
        self.rows = {x: {"epoch": 0, "first_epoch": 0, "max_epochs": max_epochs[x], "train_loss": None,
                         "val_loss": None, "best_val_loss": None, "status": "waiting", "started": None,
                         "post_started": None, "rows": (rows or {}).get(x, 0)} for x in experts}

    def update(self, expert: int, **fields) -> None:
        with self.lock:
            row = self.rows[expert]
            if fields.get("status") in EXPERT_DONE and row["post_started"] is not None and row["status"] not in EXPERT_DONE:
                self.post_seconds.append(time.monotonic() - row["post_started"])
            row.update(fields)

    def enter(self, expert: int, phase: str, text: str = "") -> None:
        """The expert enters `phase` (training, evaluating, plots, or one of EXPERT_DONE): one line for it."""
        now = time.monotonic()
        fields = {"status": phase}
        if phase == "training":
            fields["started"] = now
        elif phase == "evaluating":
            fields["post_started"] = now
        self.update(expert, **fields)
        log.info("expert %d %s%s", expert, phase, f": {text}" if text else "")

    def snapshot(self) -> dict[int, dict]:
        with self.lock:
            return {x: dict(row) for x, row in self.rows.items()}

    def _post_s(self) -> float:
        with self.lock:
            return sum(self.post_seconds) / len(self.post_seconds) if self.post_seconds else POST_GUESS_S

    def _seconds_per_row_epoch(self, rows: dict[int, dict], now: float) -> float | None:
        """Training seconds per row and epoch, over the experts that have trained an epoch in this session."""
        rates = [((r["post_started"] or now) - r["started"]) / ((r["epoch"] - r["first_epoch"]) * max(r["rows"], 1))
                 for r in rows.values() if r["started"] and r["epoch"] > r["first_epoch"]]
        return sum(rates) / len(rates) if rates else None

    def expert_remaining_s(self, row: dict, now: float, per_row_epoch: float | None) -> float | None:
        """Seconds until the expert is done (training left, then its evaluation and plots); None if unknown."""
        post = self._post_s()
        if row["status"] in EXPERT_DONE:
            return 0.0
        if row["status"] in ("evaluating", "plots"):
            return max(0.0, post - (now - row["post_started"])) if row["post_started"] else post
        left = row["max_epochs"] - row["epoch"]
        if row["status"] == "training" and row["started"] and row["epoch"] > row["first_epoch"]:
            return (now - row["started"]) / (row["epoch"] - row["first_epoch"]) * left + post
        if per_row_epoch is None:
            return None
        return per_row_epoch * max(row["rows"], 1) * left + post

    def run_remaining_s(self) -> float | None:
        """Seconds until the whole run ends: the experts on `concurrent` slots in their order, then the export,
        the last plots and the report; None until an epoch has been timed."""
        now = time.monotonic()
        rows = self.snapshot()
        per_row_epoch = self._seconds_per_row_epoch(rows, now)
        slots = [0.0] * self.concurrent
        running = [r for r in rows.values() if r["status"] not in ("waiting", *EXPERT_DONE)]
        waiting = [r for r in rows.values() if r["status"] == "waiting"]
        for row in running + waiting:
            left = self.expert_remaining_s(row, now, per_row_epoch)
            if left is None:
                return None
            slot = slots.index(min(slots))
            slots[slot] += left
        return max(slots) + EXPORT_PER_POST * self._post_s()

    def table(self) -> Table:
        remaining = self.run_remaining_s()
        elapsed = time.monotonic() - self.started
        left = "time left known after the first epoch" if remaining is None else f"about {clock(remaining)} left"
        table = Table(title="NeuroTrigger experts", expand=False,
                      caption=f"run: {clock(elapsed)} so far, {left} (training, evaluating, plots, export)")
        for column in ("expert", "phase", "epoch", "train loss", "val loss", "best val loss", "ETA"):
            table.add_column(column, justify="right")
        now = time.monotonic()
        rows = self.snapshot()
        per_row_epoch = self._seconds_per_row_epoch(rows, now)
        for expert, row in rows.items():
            eta = None if row["status"] in EXPERT_DONE else self.expert_remaining_s(row, now, per_row_epoch)
            table.add_row(str(expert), row["status"], f"{row['epoch']}/{row['max_epochs']}", _fmt(row["train_loss"]),
                          _fmt(row["val_loss"]), _fmt(row["best_val_loss"]), clock(eta))
        return table


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.5f}"


class ProgressCallback(pl.Callback):
    """Reports one expert's epochs to the board (and as a line of the run's log files)."""

    def __init__(self, board: ProgressBoard, expert: int):
        self.board, self.expert = board, expert

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.board.update(self.expert, started=time.monotonic(), epoch=trainer.current_epoch,
                          first_epoch=trainer.current_epoch)

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        metrics = module.epoch_metrics
        val = metrics.get("val_loss")
        best = self.board.snapshot()[self.expert]["best_val_loss"]
        val = None if val is None else float(val)
        if val is not None and (best is None or val < best):
            best = val
        train = metrics.get("train_loss")
        train = None if train is None else float(train)
        self.board.update(self.expert, epoch=trainer.current_epoch + 1, train_loss=train, val_loss=val,
                          best_val_loss=best)
        epoch_log.info("epoch %d/%d train_loss %s val_loss %s best %s", trainer.current_epoch + 1, trainer.max_epochs,
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
