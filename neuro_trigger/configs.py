"""Named training configs. Plain data: a config is a small diff on the one it `extends`.

Resolution (see `config.py`): parent chain, the config itself, `expert_x` for expert x, then
command-line `-m` overrides. Every key is documented in `neuro_trigger/config.py` (SCHEMA).
"""

configs = {
    "base": {
        "version": 1,
        "description": "Defaults every config inherits: hardware-sized network on the embedded synthetic data set.",
        "data": "synthetic",
        "family": "classic",
        "learning_rate": 1e-3,
        "batch_size": 2048,
        "weight_decay": 0.0,
        "in_size": 27,
        "out_size": 2,
        "hidden_sizes": None,
        "output_scale": None,
        "loss_weights": None,
        "classification_cut": 0.0,
        "workers": 5,
        "epochs": 100,
        "model": "BaselineModel",
        "loss": "MSELoss",
        "optim": "Adam",
        "act": "relu",
        "experts": [0, 1, 2, 3, 4],
        "compare_to": None,
        "load_pre_trained_weights": None,
        "filter": "IdentityFilter()",
        "dist": None,
        "seed": 42,
        "early_stopping_patience": 20,
        "compile": False,
        "plot_every": 50,
        "z_cut_cm": 15.0,
        "save_train_predictions": False,
        "precision": [12, 8, 8, 12, 10, 10],
        "quantization_aware": None,
        "preactivation_penalty": None,
        "pack": None,
        "tracking_uri": None,
    },
    "baseline_v1": {
        "extends": "base",
        "description": "First baseline: BaselineModel 27-81-2 with tanh activation, Adam.",
        "act": "tanh",
    },
    "baseline_v2": {
        "extends": "baseline_v1",
        "description": "The hardware network: BaselineModel 27-81-2 with tanh(x/2), as it runs on the FPGAs.",
        "act": "tanh/2",
        "learning_rate": 0.02,
        # the experts with few rows need more steps per epoch to converge in 100 epochs
        **{f"expert_{x}": {"batch_size": 512} for x in (1, 2, 3, 4)},
    },
    "baseline_v2_bn": {
        "extends": "baseline_v2",
        "description": "baseline_v2 with batch normalisation of the hidden layer.",
        "model": "BaselineModelBN",
    },
    "deep_v1": {
        "extends": "baseline_v2",
        "description": "A deeper network (3 hidden layers of 81) to see what the hardware size leaves on the table.",
        "model": "DeepModel",
        "act": "tanh",
    },
    "filtered_v1": {
        "extends": "baseline_v2",
        "description": "baseline_v2 on events with at most 2 reco tracks, one NN track per reco track.",
        "filter": "ConCatFilter([Max2EventsFilter(), DuplicateEventsFilter()])",
    },
    "reweight_normal": {
        "extends": "baseline_v2",
        "description": "baseline_v2 with z reweighted towards a broad normal distribution (feed-down suppression).",
        "dist": {"n_buckets": 11, "inf_bounds": True, "norm": {"mean": 0.0, "std": 0.4}},
    },
    "reweight_uniform": {
        "extends": "baseline_v2",
        "description": "baseline_v2 with z reweighted to a flat distribution over the whole chamber.",
        "dist": {"n_buckets": 11, "uniform": {"lower": -1.0, "upper": 1.0}},
    },
    "baseline_v2_small_batch": {
        "extends": "baseline_v2",
        "description": "baseline_v2 with even smaller batches for the two experts with the fewest rows.",
        "expert_2": {"batch_size": 128},
        "expert_3": {"batch_size": 128},
    },
    "3dh_27": {
        "extends": "base",
        "description": "NeuroTrigger3DH 27-64-4 (z, theta, NNT, STT) with tanh after every layer, on the embedded "
                       "synthetic 3DH data.",
        "family": "3dh",
        "data": "synthetic_3dh_27",
        "model": "NeuroTrigger3DH",
        "act": "tanh",
        "hidden_sizes": [64],
        "out_size": 4,
        "experts": [-1],
        # outputScale of the embedded data (data/synthetic_3dh.py): z [-100, 100] cm, theta [10, 170] deg, NNT, STT
        "output_scale": [-100.0, 100.0, 10.0, 170.0, -1.0, 1.0, -1.0, 1.0],
        # keep every pre-activation well inside the hardware's window, which wraps at |x| >= 32 (SPEC-3DH O8)
        "preactivation_penalty": {"limit": 20.0, "weight": 0.01},
        "batch_size": 256,
        "learning_rate": 2e-3,
        "epochs": 40,
        "early_stopping_patience": 8,
    },
    "3dh_126": {
        "extends": "3dh_27",
        "description": "NeuroTrigger3DH 126-64-4: 3dh_27 with each track segment's 11 hit-pattern bits as inputs.",
        "data": "synthetic_3dh_126",
        "in_size": 126,
    },
}
