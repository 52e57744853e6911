"""Plots, report.html and compare on real (tiny) run folders."""
import html as htmllib
import io
import json
import re
import shutil
import subprocess

import PIL.Image
import pytest

from neuro_trigger.data.splits import SPLITS, write_synthetic
from neuro_trigger.evaluation.metric_table import format_pm
from neuro_trigger.evaluation.verdict import summary_sentences
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
        assert {"z_reco_vs_pred.png", "z_pred_hist.png", "z_diff_hist.png", "z_resolution_vs_z.png",
                "efficiency_vs_z.png", "trigger_vs_cut.png", "z_resolution_vs_theta.png", "theta_reco_vs_pred.png",
                "theta_diff_hist.png"} <= names
        assert "z_resolution_vs_pt.png" in names  # the synthetic files have the 46-column layout, with 2DPt
    assert (runs["reweighted"] / "expert_4" / "plots" / "z_buckets.png").is_file()
    assert not (runs["a"] / "expert_4" / "plots" / "z_buckets.png").exists()


def test_plots_reach_tensorboard_and_the_mean_expert_stream(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(runs["reweighted"] / "expert_0" / "tb"), size_guidance={"images": 0})
    events.Reload()
    assert "val/z_reco_vs_pred" in events.Tags()["images"]
    assert [e.step for e in events.Images("val/z_reco_vs_pred")] == [0, 1]  # plot_every=1; the end adds no copy
    last = events.Images("val/z_reco_vs_pred")[-1]  # drawn in a worker process, written by the expert thread
    assert PIL.Image.open(io.BytesIO(last.encoded_image_string)).size == (last.width, last.height)
    mean = EventAccumulator(str(runs["a"] / "mean_expert"))
    mean.Reload()
    assert {"val_loss", "train_loss", "val_loss_vs_old"} <= set(mean.Tags()["scalars"])
    assert [e.step for e in mean.Scalars("val_loss")] == [0, 1]
    assert [e.value for e in mean.Scalars("experts_training")] == [2, 2]


def test_every_expert_logs_against_the_epoch_like_the_mean_stream(runs):
    """Bug: experts logged against their global step (different for every expert) and mean_expert against
    the epoch, so on TensorBoard's default axis the mean curve was squashed into the left edge."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for expert in ("expert_0", "expert_4"):
        events = EventAccumulator(str(runs["a"] / expert / "tb"))
        events.Reload()
        for tag in ("val_loss", "train_loss", "val_loss_vs_old"):
            assert [e.step for e in events.Scalars(tag)] == [0, 1], (expert, tag)


def test_report_is_self_contained_and_opens_with_the_verdict(runs):
    html = (runs["a"] / "report.html").read_text()
    assert html.index("Verdict") < html.index("id='expert-0'") < html.index("Description")
    assert "expert_0" in html and "overall" in html and "seed one" in html
    images = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert len(images) == len(list(runs["a"].glob("**/plots/*.png"))) and len(images) >= 12
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "<script" not in html and "http://" not in html and "https://" not in html
    summary = json.loads((runs["a"] / "summary.json").read_text())
    test = summary["metrics"]["test"]
    sentences = summary_sentences(summary)
    # a deployable run is judged in the FPGA's fixed-point arithmetic, and says so
    assert [s.split(":")[0] for s in sentences] == [f"{scope} (fixed point)" for scope in
                                                    ("expert 0", "expert 4", "overall")]
    assert html.index("Verdict") < html.index(htmllib.escape(sentences[0])) < html.index("<table")
    assert htmllib.escape(sentences[-1]) in html
    assert f"{format_pm(test['z_diff_std'], test['z_diff_std_err'])}" in html
    assert f"ratio {format_pm(test['loss_vs_old'], test['loss_vs_old_err'])}" in html


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


def test_compare_lists_every_run_with_its_description_and_the_statistical_errors(runs):
    """Bug: two runs of one config were merged into one row that hid the second description, and the
    JSON had no list of runs a script could count."""
    result = run_module("-m", "neuro_trigger.compare", str(runs["a"]), str(runs["b"]), "--json")
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)
    assert len(table["runs"]) == 2 and {r["description"] for r in table["runs"]} == {"seed one", "seed two"}
    assert table["runs"][0]["group"] == table["runs"][1]["group"] == table["rows"][0]["group"]
    group = table["rows"][0]
    assert group["count"] == 2 and group["descriptions"] == [r["description"] for r in table["runs"]]
    errors = [r["metrics"]["overall"]["z_diff_std_err"] for r in table["runs"]]
    assert all(e > 0 for e in errors)
    assert group["z_diff_std_err"] == pytest.approx((errors[0] ** 2 + errors[1] ** 2) ** 0.5 / 2)
    values = [r["metrics"]["overall"]["z_diff_std"] for r in table["runs"]]
    assert group["z_diff_std"] == pytest.approx(sum(values) / 2)


def test_compare_shows_units_and_percent_and_its_json_stays_numeric(runs):
    """Bug (issue 21): compare showed no units, and fractions (0.9712) where the verdict and the report show %."""
    table = run_module("-m", "neuro_trigger.compare", str(runs["a"]), "--columns",
                       "z_diff_std_trimmed,efficiency,rejection_old,loss_vs_old")
    assert table.returncode == 0, table.stderr
    header = next(line for line in table.stdout.splitlines() if "description" in line)
    assert "z_diff_std_trimmed [cm]" in header and "efficiency [%]" in header and "rejection_old [%]" in header
    assert "loss_vs_old [" not in header  # a ratio has no unit
    metrics = json.loads(run_module("-m", "neuro_trigger.compare", str(runs["a"]), "--json").stdout)["runs"][0][
        "metrics"]["overall"]
    assert 0 < metrics["efficiency"] <= 1  # the JSON keeps the stored fraction
    row = next(line for line in table.stdout.splitlines() if runs["a"].name in line)
    shown = format_pm(100 * metrics["efficiency"], 100 * metrics["efficiency_err"])
    assert shown in row


def test_compare_table_fits_the_terminal_width(runs, monkeypatch):
    """Bug: compare printed a ~200-column table that wrapped into noise in a 100-column terminal."""
    monkeypatch.setenv("COLUMNS", "100")
    for extra in ([], ["--wide"], ["--experts", "--columns", "loss_vs_old,z_diff_std_fixed"]):
        result = run_module("-m", "neuro_trigger.compare", str(runs["log_root"] / "baseline_v2"), *extra)
        assert result.returncode == 0, result.stderr
        assert max(map(len, result.stdout.splitlines())) <= 100, extra
        if not extra:  # (in the wide table the cells are folded narrower than these words)
            assert "seed two" in result.stdout and "mean (2" in result.stdout
    bad = run_module("-m", "neuro_trigger.compare", str(runs["a"]), "--columns", "z_std")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --columns: unknown metric 'z_std'")


def test_compare_table_experts_plot_and_unfinished_runs(runs, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")  # wide enough that no cell is folded
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


def test_a_tiny_run_stores_errors_and_intervals_and_prints_its_verdict(small_data_args, tmp_path):
    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "tiny", "--log-root", str(tmp_path),
                        *small_data_args, "-m", "epochs=1", "experts=[0,4]")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "baseline_v2" / "version_0" / "summary.json").read_text())
    for metrics in (summary["metrics"]["test"], summary["experts"]["expert_4"]["metrics"]["val"]):
        for name in ("loss", "z_diff_std", "z_diff_std_trimmed", "theta_diff_std", "theta_diff_std_trimmed"):
            for key in (f"{name}_err", f"{name}_old_err", f"{name}_vs_old_err"):
                assert metrics[key] > 0, key
        for key in ("efficiency_ci", "efficiency_old_ci", "rejection_ci", "rejection_old_ci"):
            lo, hi = metrics[key]
            assert 0 <= lo <= metrics[key[:-3]] <= hi <= 1, key
        assert len(metrics["z_resolution_vs_z"]["new_err"]) == len(metrics["z_resolution_vs_z"]["counts"])
    lines = result.stdout.splitlines()
    assert "overall: fixed point against the old network (test split, 95%, paired)" in result.stdout
    assert "z std [cm]" in result.stdout and "theta trimmed std [deg]" in result.stdout
    assert [line.split(":")[0] for line in lines if line.startswith(("expert ", "overall"))] == \
        ["expert 0 (fixed point)", "expert 4 (fixed point)", "overall (fixed point)"]
    assert lines[-1].startswith("run folder: ")


def test_predict_shows_errors_and_the_verdict(runs, small_files):
    result = run_module("-m", "neuro_trigger.predict", str(runs["a"]), str(small_files["test"][0]), "--json",
                        "--fixed-point")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    summary = json.loads((runs["a"] / "summary.json").read_text())
    assert report["overall"]["z_diff_std_err"] > 0 and len(report["overall"]["efficiency_ci"]) == 2
    assert set(report["verdict"]) == {"expert_0", "expert_4", "overall"}
    assert report["verdict"]["overall"] == summary_sentences(summary)[-1]  # same data, same figures, same words
    text = run_module("-m", "neuro_trigger.predict", str(runs["a"]), str(small_files["test"][0]),
                      "--fixed-point").stdout
    assert report["verdict"]["expert_4"] in text.replace("\n", " ")
    assert format_pm(report["overall"]["z_diff_std"], report["overall"]["z_diff_std_err"]) in text
