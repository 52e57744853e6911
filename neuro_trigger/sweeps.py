"""Named sweeps. Plain data, like configs.py: `python neuro_trigger/sweep.py NAME` runs one.

Keys: `config` (a name in configs.py), `grid` ({key: [values]}: every combination), `ranges`
({key: "log(a,b)" | "float(a,b)" | "int(a,b)" | "choice(a,b,...)"}: for random/TPE), `overrides`
({key: value}: the same in every trial), `seeds`, `method` (grid|random|tpe), `trials`, `metric`,
`direction`, `description`. Keys are dotted config keys (`expert_2.batch_size`); nothing is evaluated.
"""

sweeps = {
    "learning_rate_v2": {
        "description": "baseline_v2 learning rates, three seeds each.",
        "config": "baseline_v2",
        "grid": {"learning_rate": [0.005, 0.01, 0.02, 0.05]},
        "seeds": 3,
    },
    "activation_batch_v2": {
        "description": "Hardware-deployable tanh(x/2) against tanh, at three batch sizes of the small experts.",
        "config": "baseline_v2",
        "grid": {"act": ["tanh/2", "tanh"], "batch_size": [128, 512, 2048]},
        "seeds": 2,
    },
    "reweight_width_tpe": {
        "description": "TPE over the width of the reweighting distribution and the learning rate.",
        "config": "reweight_normal",
        "method": "tpe",
        "trials": 40,
        "ranges": {"dist.norm.std": "float(0.1,1.0)", "learning_rate": "log(1e-3,1e-1)"},
    },
}
