"""The fixed-point twins of a network's metrics, named by rule (SPEC 10).

`evaluate` run on fixed-point predictions gives the same keys as in float; every key of the new
network becomes `<base>_fixed<suffix>` (loss_vs_old -> loss_fixed_vs_old, efficiency_ci ->
efficiency_fixed_ci). Old-network keys, `rows` and `z_cut_cm` are the same in both and not repeated.
"""
import numpy as np

from neuro_trigger.config import for_expert
from neuro_trigger.constants import theta_to_deg, z_to_cm
from neuro_trigger.data.families import CLASSIC, FAMILIES, THREE_DH
from neuro_trigger.evaluation import metrics_3dh
from neuro_trigger.evaluation.metrics import evaluate, evaluate_with_twin
from neuro_trigger.hardware.fixed_point import DEFAULT_PRECISION, FixedPointNetwork, Precision
from neuro_trigger.hardware.fixed_point_3dh import ONE as ONE_3DH

FIXED = "_fixed"
# paired new-vs-old figures first (their `_err`/`_ci` belong to the comparison), then plain uncertainties
SUFFIXES = ("_vs_old_err", "_vs_old_ci", "_vs_old", "_minus_old_err", "_minus_old", "_err", "_ci")
SHARED = ("rows", "z_cut_cm", "ip_rows", "background_rows")  # counts of tracks, the same for both


def is_old_network_key(key: str) -> bool:
    """A metric of the old network alone (z_diff_std_old, efficiency_old_ci), not a new-vs-old ratio."""
    key = key.replace("_vs_old", "").replace("_minus_old", "")
    return key.endswith("_old") or "_old_" in key


def fixed_name(key: str) -> str:
    """`key` with `_fixed` inserted after its base name and before the uncertainty / ratio suffixes."""
    for suffix in SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[:-len(suffix)] + FIXED + suffix
    return key + FIXED


def fixed_twins(fixed_metrics: dict) -> dict:
    """The new-network metrics of an `evaluate` result on fixed-point predictions, renamed to their twins."""
    return {fixed_name(k): v for k, v in fixed_metrics.items() if k not in SHARED and not is_old_network_key(k)}


def float_vs_fixed(pred: np.ndarray, fixed_pred: np.ndarray) -> dict:
    """Largest |float - fixed| prediction difference, z in cm and theta in degrees (NaN without rows)."""
    out = {}
    for column, (name, to_unit) in enumerate((("z_float_vs_fixed_max_cm", z_to_cm),
                                               ("theta_float_vs_fixed_max_deg", theta_to_deg))):
        if pred.shape[1] > column and len(pred):
            out[name] = float(np.max(np.abs(to_unit(pred[:, column]) - to_unit(fixed_pred[:, column]))))
        elif pred.shape[1] > column:
            out[name] = float("nan")
    return out


def fixed_point_metrics(fixed_pred: np.ndarray, pred: np.ndarray, reco: np.ndarray, reference: np.ndarray,
                        z_cut_cm: float, binned: bool = True) -> dict:
    """The `_fixed` twins of every new-network metric and the largest float-vs-fixed deviation of one split."""
    twins = fixed_twins(evaluate(fixed_pred, reco, reference, z_cut_cm, binned=binned))
    return {**twins, **float_vs_fixed(pred, fixed_pred)}


def evaluate_with_fixed(pred: np.ndarray, fixed_pred: np.ndarray | None, reco: np.ndarray, reference: np.ndarray,
                        z_cut_cm: float, errors: str = "all") -> dict:
    """`evaluate` of the float predictions with the `_fixed` twins of `fixed_pred` (where given) added: the
    same result as `evaluate` plus `fixed_point_metrics`, from one bootstrap shared by both (`errors`: which
    figures get bootstrap errors, `metrics.ERRORS`)."""
    metrics, fixed_metrics = evaluate_with_twin(pred, fixed_pred, reco, reference, z_cut_cm, errors=errors)
    if fixed_pred is not None:
        metrics.update({**fixed_twins(fixed_metrics), **float_vs_fixed(pred, fixed_pred)})
    return metrics


def twin_network(network, expert_config: dict):
    """The expert's network in its family's FPGA arithmetic, the classic one at its config's precision (None: not
    deployable)."""
    if FAMILIES[expert_config.get("family", CLASSIC.name)].fixed_point == THREE_DH.fixed_point:
        from neuro_trigger.hardware.deploy_3dh import fixed_point_network as fixed_point_3dh

        return fixed_point_3dh(network)
    from neuro_trigger.hardware.deploy import fixed_point_network  # torch: kept out of the evaluation workers

    return fixed_point_network(network, expert_config.get("precision", DEFAULT_PRECISION))


def point_figures(pred: np.ndarray, reco: np.ndarray, reference: np.ndarray, config: dict) -> dict:
    """The figures of one split without uncertainties, by the config's family (a packed seed's sub-result)."""
    if FAMILIES[config.get("family", CLASSIC.name)].fixed_point == THREE_DH.fixed_point:
        return metrics_3dh.evaluate_3dh(pred, reco, config["output_scale"], config["classification_cut"], False)
    return evaluate(pred, reco, reference, config["z_cut_cm"], binned=False, uncertainties=False)


def split_evaluation(expert_config: dict) -> tuple:
    """(the function evaluating one split with its fixed-point twin, its settings argument) of the config's
    family: `evaluate_split` with the z cut, or `metrics_3dh.evaluate_split_3dh` with outputScale and cut."""
    if FAMILIES[expert_config.get("family", CLASSIC.name)].fixed_point == THREE_DH.fixed_point:
        return evaluate_split_3dh, (expert_config["output_scale"], expert_config["classification_cut"])
    return evaluate_split, expert_config["z_cut_cm"]


def twin_predictions(networks: dict, config: dict, inputs: np.ndarray, expert_of_row: np.ndarray,
                     known: dict[int, tuple] | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(output nodes, predictions) of the run's networks in fixed point, each row by its expert's twin
    (`deploy.fixed_point_predictions`, `known` nodes reused); None when any network is not deployable."""
    from neuro_trigger.hardware.deploy import fixed_point_predictions

    precision_of = {x: for_expert(config, x).get("precision", DEFAULT_PRECISION) for x in networks}
    return fixed_point_predictions(networks, inputs, expert_of_row, precision_of, known)


def evaluate_split(pred: np.ndarray, fixed: FixedPointNetwork | None, inputs: np.ndarray, reco: np.ndarray,
                   reference: np.ndarray, z_cut_cm: float, errors: str = "all") -> tuple[dict, np.ndarray | None]:
    """(`evaluate_with_fixed` of one split, the fixed-point output node values (N, 2) or None), the fixed-point
    predictions computed here from `fixed` and the float `inputs`: one job of plain arrays for a worker process
    (evaluation/offload.py), so that neither the arithmetic nor the bootstrap holds the training threads' lock."""
    nodes = None if fixed is None else fixed.nodes(inputs)
    fixed_pred = None if nodes is None else nodes / float(Precision.of(fixed.precision).one)
    return evaluate_with_fixed(pred, fixed_pred, reco, reference, z_cut_cm, errors), nodes


def evaluate_split_3dh(pred: np.ndarray, fixed, inputs: np.ndarray, reco: np.ndarray, reference: np.ndarray,
                       settings: tuple, errors: str = "all") -> tuple[dict, np.ndarray | None]:
    """(figures of one split with their `_fixed` twins and the wrap count, the fixed-point output nodes or None):
    one job of plain arrays for a worker process, like `fixed_twins.evaluate_split`. `settings` is
    (output_scale, classification_cut); `reference` is the `compare_to` baseline's outputs, or NaN without one (3DH
    files carry no hardware prediction)."""
    output_scale, cut = settings
    metrics = metrics_3dh.evaluate_3dh(pred, reco, output_scale, cut, errors != "none", reference)
    if fixed is None:
        return metrics, None
    nodes, largest = fixed.run(inputs)
    fixed_pred = nodes / float(ONE_3DH)
    fixed_metrics = metrics_3dh.evaluate_3dh(fixed_pred, reco, output_scale, cut, errors != "none", reference)
    metrics.update(fixed_twins({k: v for k, v in fixed_metrics.items()
                                if k not in metrics_3dh.SHARED and not k.startswith("trivial_")}))
    metrics.update(metrics_3dh.wrap_figures(largest))
    deviation = np.abs(metrics_3dh.physics(pred, output_scale) - metrics_3dh.physics(fixed_pred, output_scale))
    metrics["z_float_vs_fixed_max_cm"] = float(deviation[:, 0].max(initial=0))
    metrics["theta_float_vs_fixed_max_deg"] = float(deviation[:, 1].max(initial=0))
    return metrics, nodes
