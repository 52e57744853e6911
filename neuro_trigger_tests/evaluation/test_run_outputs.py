"""Plots, report.html and compare on real (tiny) run folders."""
import json
import re
import shutil
import subprocess

import pytest

from neuro_trigger.data.splits import SPLITS, write_synthetic
from neuro_trigger.run import RunRequest, execute
from neuro_trigger_tests.conftest import run_module


def tiny_run(log_root, files, seed, description, **overrides):
    request = RunRequest("baseline_v2", production=True, description=description, log_root=log_root,
                         data_files={s: [str(files[s][0])] for s in SPLITS},
                         overrides={"epochs": 2, "experts": [0, 4], "seed": seed, **overrides})
    run_dir, code = execute(request)
    assert code == 0
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory, small_files):
    log_root = tmp_path_factory.mktemp("log")
    other_data = write_synthetic(tmp_path_factory.mktemp("other"), {"train": 3000, "val": 800, "test": 800}, seed=99)
    return {
        "a": tiny_run(log_root, small_files, 1, "seed one"),
        "b": tiny_run(log_root, small_files, 2, "seed two"),
        "c": tiny_run(log_root, small_files, 1, "softsign", act="softsign"),
        "d": tiny_run(log_root, other_data, 1, "other data"),
        "reweighted": tiny_run(log_root, small_files, 1, "reweighted", plot_every=1,
                               dist={"n_buckets": 5, "uniform": {"lower": -1.0, "upper": 1.0}}),
        "log_root": log_root,
    }


def test_png_plots_exist_per_expert_and_overall(runs):
    for folder in (runs["a"] / "plots", runs["a"] / "expert_0" / "plots"):
        names = {p.name for p in folder.glob("*.png")}
        assert {"z_reco_vs_pred.png", "z_pred_hist.png", "z_diff_hist.png", "z_resolution_vs_z.png"} <= names
    assert (runs["reweighted"] / "expert_4" / "plots" / "z_buckets.png").is_file()
    assert not (runs["a"] / "expert_4" / "plots" / "z_buckets.png").exists()


def test_plots_reach_tensorboard_and_the_mean_expert_stream(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(runs["reweighted"] / "expert_0" / "tb"), size_guidance={"images": 0})
    events.Reload()
    assert "val/z_reco_vs_pred" in events.Tags()["images"]
    assert [e.step for e in events.Images("val/z_reco_vs_pred")] == [0, 1]  # plot_every=1; the end adds no copy
    mean = EventAccumulator(str(runs["a"] / "mean_expert"))
    mean.Reload()
    assert {"val_loss", "train_loss", "val_loss_vs_old"} <= set(mean.Tags()["scalars"])
    assert [e.step for e in mean.Scalars("val_loss")] == [0, 1]


def test_report_is_self_contained_and_opens_with_the_verdict(runs):
    html = (runs["a"] / "report.html").read_text()
    assert html.index("Verdict") < html.index("Description") < html.index("Plots")
    assert "expert_0" in html and "overall" in html and "seed one" in html
    images = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert len(images) == len(list(runs["a"].glob("**/plots/*.png"))) and len(images) >= 12
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "<script" not in html and "http://" not in html and "https://" not in html
    summary = json.loads((runs["a"] / "summary.json").read_text())
    assert f"{summary['metrics']['test']['loss_vs_old']:.3f}" in html


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                    reason="headless Chromium is not installed")
def test_report_renders_in_a_browser(runs, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                    f"--screenshot={shot}", "--window-size=1200,2000", (runs["a"] / "report.html").as_uri()],
                   capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 20_000  # a blank page compresses to a few kB
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          f"--user-data-dir={tmp_path / 'profile2'}", "--dump-dom", (runs["a"] / "report.html").as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "Verdict against the old" in dom and dom.count("<img") >= 12


def test_compare_groups_seeds_shows_differences_and_flags_data(runs):
    result = run_module("-m", "neuro_trigger.compare", str(runs["log_root"] / "baseline_v2"), "--json")
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)
    rows = {row["description"]: row for row in table["rows"]}
    assert rows["seed one"]["count"] == 2 and sorted(rows["seed one"]["seeds"]) == [1, 2]  # a and b grouped
    assert rows["softsign"]["count"] == 1 and rows["softsign"]["hyperparameters"]["act"] == "softsign"
    assert "act" in table["differing_hyperparameters"] and "seed" not in table["differing_hyperparameters"]
    assert table["data_mismatch"] and rows["other data"]["data"] != rows["seed one"]["data"]
    losses = [row["loss_vs_old"] for row in table["rows"]]
    assert losses == sorted(losses)
    assert rows["seed one"]["loss_vs_old_std"] > 0


def test_compare_table_experts_plot_and_unfinished_runs(runs, tmp_path):
    broken = runs["log_root"] / "baseline_v2" / "version_99"
    broken.mkdir()
    (broken / "summary.json").write_text(json.dumps({"status": "running", "config_name": "baseline_v2"}))
    try:
        out = tmp_path / "overlay.png"
        result = run_module("-m", "neuro_trigger.compare", str(runs["a"]), str(runs["c"]), str(broken),
                            "--experts", "--split", "val", "--metric", "z_diff_std", "--plot", str(out))
        assert result.returncode == 0, result.stderr
        assert "expert_4" in result.stdout and "softsign" in result.stdout
        assert "not finished" in result.stdout and "version_99" in result.stdout and "running" in result.stdout
        assert out.is_file() and out.stat().st_size > 10_000
    finally:
        shutil.rmtree(broken)
    missing = run_module("-m", "neuro_trigger.compare", str(tmp_path / "nope"))
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")
