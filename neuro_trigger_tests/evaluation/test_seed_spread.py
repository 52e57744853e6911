"""The spread over seeds is one computation: `compare` and summary.json `seeds` agree."""
import math
from pathlib import Path

import pytest

from neuro_trigger.evaluation.comparison import Run, compare
from neuro_trigger.runs.seeds import spread


def test_compare_and_summary_agree_on_the_std_over_seeds():
    """Regression: `compare` took the std over seeds with ddof 0 and summary.json with ddof 1, so the two
    disagreed for the same seeds."""
    values = [5.0, 5.5, 6.5]
    per_seed = [{"z_diff_std": v} for v in values]
    runs = [Run(Path(f"log/c/version_{k}"), {"status": "finished", "config_name": "c", "seed": k,
                                              "config": {"seed": k}, "metrics": {"test": m}})
            for k, m in enumerate(per_seed)]
    row = compare(runs)["rows"][0]
    assert row["count"] == 3
    assert row["z_diff_std_std"] == pytest.approx(spread(per_seed)["z_diff_std"]["std"])
    assert row["z_diff_std_std"] == pytest.approx(0.7637626, rel=1e-6)  # ddof 1


def test_one_seed_has_no_spread():
    run = Run(Path("log/c/version_0"), {"status": "finished", "config_name": "c",
                                        "metrics": {"test": {"z_diff_std": 5.0}}})
    row = compare([run])["rows"][0]
    assert spread([{"z_diff_std": 5.0}])["z_diff_std"]["std"] is None
    assert row["z_diff_std"] == 5.0 and math.isnan(row["z_diff_std_std"])
