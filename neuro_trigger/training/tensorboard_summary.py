"""The end of an expert's TensorBoard run: its test figures in float and fixed point (`test/<name>`), and its
entry in TensorBoard's HParams tab (the config's hyperparameters against those figures), so that runs and sweep
trials can be sorted and compared there by what they were trained with.
"""
import json
import math

from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.tensorboard.summary import hparams

from neuro_trigger.config import EXPERT_KEYS
from neuro_trigger.evaluation.fixed_twins import fixed_name, is_old_network_key
from neuro_trigger.evaluation.metric_table import SUMMARY, names

# config keys that say where or how a run was made, not what was trained
NOT_HYPERPARAMETERS = frozenset({"version", "description", "extends", "data", "experts", "compare_to", "workers",
                                 "plot_every", "save_train_predictions", *EXPERT_KEYS})


def hyperparameters(config: dict, expert: int) -> dict[str, float | str]:
    """The expert's hyperparameters as HParams values: numbers and names as they are, anything else (true,
    null, lists, dicts) as JSON text, so that every key is there in every run and sorts as it reads."""
    values: dict[str, float | str] = {"expert": expert}
    for key, value in config.items():
        if key not in NOT_HYPERPARAMETERS:
            plain = isinstance(value, (int, float, str)) and not isinstance(value, bool)
            values[key] = value if plain else json.dumps(value, sort_keys=True)
    return values


def final_figures(test_metrics: dict) -> dict[str, float]:
    """`test/<name>` -> value of the SUMMARY figures of the test split and of their fixed-point twins (those of a
    deployable network), where they exist and are finite."""
    floats = list(names(SUMMARY))
    twins = [fixed_name(name) for name in floats if "_fixed" not in name and not is_old_network_key(name)]
    return {f"test/{name}": float(test_metrics[name]) for name in dict.fromkeys(floats + twins)
            if isinstance(test_metrics.get(name), (int, float)) and math.isfinite(test_metrics[name])}


def write_final_summary(loggers: list, config: dict, expert: int, test_metrics: dict, epochs: int) -> None:
    """Write the test figures at step `epochs` (after the last epoch) and the HParams entry to the expert's
    TensorBoard logger among `loggers`, then close its writer (Lightning closed it at the end of training; the
    writer reopens its file for this)."""
    logger = next((lg for lg in loggers if isinstance(lg, TensorBoardLogger)), None)
    if logger is None:
        return
    figures = final_figures(test_metrics)
    writer = logger.experiment
    for tag, value in figures.items():
        writer.add_scalar(tag, value, global_step=epochs)
    file_writer = writer._get_file_writer()
    for summary in hparams(hyperparameters(config, expert), figures):
        file_writer.add_summary(summary)
    writer.close()
