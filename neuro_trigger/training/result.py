"""What one expert's training and evaluation produced: `result.json`, and the predictions kept in memory."""
from dataclasses import dataclass, field


@dataclass
class ExpertResult:
    expert: int
    status: str  # finished | failed | interrupted
    error: str | None = None
    epochs: int = 0
    train_time_s: float = 0.0
    samples_per_s: float = 0.0
    best_val_loss: float | None = None
    evaluation_time_s: float = 0.0  # predicting and evaluating every split after training
    plot_time_s: float = 0.0  # TensorBoard plots during training (also inside train_time_s) and PNGs after it
    metrics: dict = field(default_factory=dict)  # split -> metrics
    predictions: dict = field(default_factory=dict)  # split -> (N, out_size) array, not written to JSON
    best_seed: int | None = None  # packed copies: the seed whose copy these metrics and predictions are
    copies: list = field(default_factory=list)  # packed copies: one summary each (seed, best val loss, ...)
    copy_predictions: list = field(default_factory=list)  # packed copies: split -> predictions, each; not in JSON

    def summary(self) -> dict:
        hidden = {"predictions", "copy_predictions"} | ({"best_seed", "copies"} if not self.copies else set())
        return {k: v for k, v in vars(self).items() if k not in hidden}
