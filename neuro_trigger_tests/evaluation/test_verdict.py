"""The verdict against the old network on constructed data and hand-made summaries (with and without
the fixed-point figures), and how the report and the console show it."""
import io

import numpy as np
import pytest
from rich.console import Console

from neuro_trigger.evaluation import report, verdict
from neuro_trigger.evaluation.metrics import evaluate


def tracks(n=6000, seed=2):
    """Reco targets with an interaction-point peak, and the old network's estimate (5 cm z, 4 deg-ish theta)."""
    rng = np.random.default_rng(seed)
    reco = np.stack([rng.uniform(-0.9, 0.9, n), rng.uniform(-0.8, 0.8, n)], axis=1)
    reco[: n // 3, 0] = rng.normal(0.0, 0.003, n // 3)
    old = reco + rng.normal(0.0, 0.05, (n, 2))
    return rng, reco, old


def by_key(v: verdict.Verdict) -> dict[str, str]:
    return {j.figure.key: j.verdict for j in v.judgements}


def test_clearly_better_clearly_worse_and_indistinguishable():
    rng, reco, old = tracks()
    better = evaluate(reco + rng.normal(0.0, 0.02, reco.shape), reco, old)
    worse = evaluate(reco + rng.normal(0.0, 0.12, reco.shape), reco, old)
    same = evaluate(old.copy(), reco, old)  # the old network itself: every comparison is exactly even
    judged = by_key(verdict.verdict_of(better, "expert 0"))
    for key in ("loss", "z_diff_std", "z_diff_std_trimmed", "theta_diff_std", "theta_diff_std_trimmed"):
        assert judged[key] == verdict.BETTER, key
    judged = by_key(verdict.verdict_of(worse, "expert 1"))
    for key in ("loss", "z_diff_std", "z_diff_std_trimmed", "theta_diff_std", "efficiency", "rejection"):
        assert judged[key] == verdict.WORSE, key
    assert set(by_key(verdict.verdict_of(same, "expert 2")).values()) == {verdict.SAME}


def test_the_same_spread_on_other_tracks_is_indistinguishable():
    rng, reco, old = tracks(n=2000)
    # the old network's errors dealt to other tracks: every spread is the same, only the pairing differs
    shuffled = evaluate(reco + (old - reco)[rng.permutation(len(reco))], reco, old)
    judged = by_key(verdict.verdict_of(shuffled, "expert 3"))
    for key in ("loss", "z_diff_std", "z_diff_std_trimmed", "theta_diff_std", "theta_diff_std_trimmed"):
        assert judged[key] == verdict.SAME, key


def test_classify_at_95_percent_by_hand():
    assert verdict.classify(0.95, 0.02, fraction=False) == verdict.BETTER  # 0.05 > 1.96 * 0.02
    assert verdict.classify(0.97, 0.02, fraction=False) == verdict.SAME  # 0.03 < 0.0392
    assert verdict.classify(1.05, 0.02, fraction=False) == verdict.WORSE
    assert verdict.classify(-0.05, 0.02, fraction=True) == verdict.WORSE  # efficiency 5 points lower
    assert verdict.classify(0.03, 0.02, fraction=True) == verdict.SAME
    assert verdict.classify(0.9, float("nan"), fraction=False) == verdict.UNKNOWN


def hand_made(**fixed) -> dict:
    """A summary's metrics as a script would see them; `fixed` adds fixed-point twins."""
    metrics = {
        "rows": 5000, "loss": 0.0100, "loss_err": 0.0002, "loss_old": 0.0120, "loss_old_err": 0.0003,
        "loss_vs_old": 0.833, "loss_vs_old_err": 0.01,
        "z_diff_std": 8.00, "z_diff_std_err": 0.10, "z_diff_std_old": 8.40, "z_diff_std_old_err": 0.11,
        "z_diff_std_vs_old": 0.952, "z_diff_std_vs_old_err": 0.008,
        "z_diff_std_trimmed": 5.48, "z_diff_std_trimmed_err": 0.09, "z_diff_std_trimmed_old": 4.63,
        "z_diff_std_trimmed_old_err": 0.08, "z_diff_std_trimmed_vs_old": 1.184, "z_diff_std_trimmed_vs_old_err": 0.02,
        "efficiency": 0.90, "efficiency_ci": [0.88, 0.92], "efficiency_old": 0.95, "efficiency_old_ci": [0.935, 0.962],
        "efficiency_minus_old": -0.05, "efficiency_minus_old_err": 0.008,
        "rejection": 0.993, "rejection_ci": [0.990, 0.995], "rejection_old": 0.993, "rejection_old_ci": [0.990, 0.995],
        "rejection_minus_old": 0.0, "rejection_minus_old_err": 0.001, "z_cut_cm": 15.0,
    }
    metrics.update(fixed)
    return metrics


def test_the_sentence_names_better_worse_and_the_numbers():
    sentence = verdict.verdict_of(hand_made(), "expert 4").sentence
    assert sentence == ("expert 4: better in loss and z std, worse in z trimmed std (5.48 ± 0.09 vs 4.63 ± 0.08 cm) "
                        "and IP efficiency (90.0 ± 1.0 vs 95.0 ± 0.7 %), "
                        "indistinguishable in background rejection.")


def test_a_skewed_ratio_is_judged_by_its_bootstrap_interval():
    # a loss ratio of 12 ± 6 whose replicas never come near 1: ±1.96 errors would call it indistinguishable
    skewed = hand_made(loss_vs_old=12.0, loss_vs_old_err=6.0, loss_vs_old_ci=[3.1, 28.0])
    v = verdict.verdict_of(skewed, "expert 1")
    assert by_key(v)["loss"] == verdict.WORSE and "loss (loss / old 12 ± 6, 95% 3.1-28)" in v.sentence
    inside = hand_made(z_diff_std_vs_old=0.952, z_diff_std_vs_old_err=0.008, z_diff_std_vs_old_ci=[0.90, 1.01])
    assert by_key(verdict.verdict_of(inside, "expert 1"))["z_diff_std"] == verdict.SAME


def test_rejection_equal_to_three_digits_is_not_painted_red():
    # regression: rejection 0.993 vs 0.993 was shown as worse
    judged = by_key(verdict.verdict_of(hand_made(), "overall"))
    assert judged["rejection"] == verdict.SAME


def test_without_paired_errors_the_verdict_falls_back_to_independent_ones():
    close = {"z_diff_std_old": 8.25, "z_diff_std_vs_old": 0.970, "z_diff_std_vs_old_err": 0.008}
    paired = {j.figure.key: j for j in verdict.verdict_of(hand_made(**close), "overall").judgements}
    assert paired["z_diff_std"].paired and paired["z_diff_std"].verdict == verdict.BETTER  # 0.03 > 1.96 * 0.008
    metrics = {k: v for k, v in hand_made(**close).items() if not k.endswith(("_vs_old_err", "_minus_old_err"))}
    judgements = {j.figure.key: j for j in verdict.verdict_of(metrics, "overall").judgements}
    assert not judgements["z_diff_std"].paired
    # 0.970 ± 0.970 * hypot(0.10 / 8.00, 0.11 / 8.25) = ± 0.0177: not significant at 95% without pairing
    assert judgements["z_diff_std"].comparison_err == pytest.approx(0.970 * np.hypot(0.10 / 8.00, 0.11 / 8.25))
    assert judgements["z_diff_std"].verdict == verdict.SAME
    assert judgements["efficiency"].verdict == verdict.WORSE  # -0.05 ± 0.0075 even unpaired


def test_old_summaries_without_errors_are_unknown_not_coloured():
    metrics = {"loss": 0.01, "loss_old": 0.02, "loss_vs_old": 0.5, "z_diff_std": 8.0, "z_diff_std_old": 9.0,
               "efficiency": 0.9, "efficiency_old": 0.95}
    v = verdict.verdict_of(metrics, "overall")
    assert {j.verdict for j in v.judgements} == {verdict.UNKNOWN}
    assert "no error known for loss, z std and IP efficiency" in v.sentence


FIXED = {"loss_fixed": 0.0130, "loss_fixed_err": 0.0003, "loss_fixed_vs_old": 1.083, "loss_fixed_vs_old_err": 0.012,
         "z_diff_std_fixed": 8.10, "z_diff_std_fixed_err": 0.10, "z_diff_std_fixed_vs_old": 0.964,
         "z_diff_std_fixed_vs_old_err": 0.008,
         "z_diff_std_trimmed_fixed": 5.50, "z_diff_std_trimmed_fixed_err": 0.09,
         "z_diff_std_trimmed_fixed_vs_old": 1.188, "z_diff_std_trimmed_fixed_vs_old_err": 0.02,
         "efficiency_fixed": 0.95, "efficiency_fixed_ci": [0.93, 0.965],
         "rejection_fixed": 0.992, "rejection_fixed_ci": [0.989, 0.994], "z_float_vs_fixed_max_cm": 0.37}


def test_fixed_point_figures_decide_the_verdict_of_a_deployable_network():
    v = verdict.verdict_of(hand_made(**FIXED), "expert 0")
    judged = by_key(v)
    assert v.fixed_point and v.sentence.startswith("expert 0 (fixed point): ")
    assert judged["loss"] == verdict.WORSE  # float: better (0.833), fixed point: worse (1.083 ± 0.012)
    assert judged["z_diff_std"] == verdict.BETTER
    assert judged["efficiency"] == verdict.SAME  # no paired fixed-point difference: judged from the intervals
    loss = next(j for j in v.judgements if j.figure.key == "loss")
    assert loss.float_twin.value == 0.0100 and loss.value == 0.0130 and loss.float_twin.verdict == verdict.BETTER


def summary(metrics: dict) -> dict:
    return {"config_name": "baseline_v2", "run_dir": "log/baseline_v2/version_3", "status": "finished",
            "experts": {"expert_4": {"metrics": {"test": metrics, "val": metrics}}, "expert_2": {"metrics": {}}},
            "metrics": {"test": metrics, "val": metrics}}


def test_report_opens_with_the_sentences_and_shows_values_with_errors():
    page = report.render(summary(hand_made()), [])
    assert page.index("expert 4: better in loss and z std") < page.index("<table")
    assert "overall: better in loss and z std" in page
    assert "5.48 ± 0.09" in page and "old 4.63 ± 0.08" in page and "0.833 ± 0.010" in page
    assert 'class="worse"' in page and 'class="better"' in page and 'class="indistinguishable"' in page
    assert "expert 2</td><td colspan" in page  # an expert without result is listed
    assert "float" not in page.split("<table")[1]  # no fixed-point columns without fixed-point figures


def test_report_shows_float_and_fixed_point_side_by_side():
    page = report.render(summary(hand_made(**FIXED)), [])
    table = page[page.index("<table"):]
    assert "float 8.00 ± 0.10" in table and "fixed 8.10 ± 0.10" in table and "float ratio 0.952 ± 0.008" in table
    assert "max |z float - z fixed| [cm]" in table and "<td>0.37</td>" in table
    assert "expert 4 (fixed point): " in page


def test_console_table_is_the_overall_verdict_and_fits_80_columns():
    out = io.StringIO()
    console = Console(file=out, width=80, color_system=None)
    console.print(verdict.rich_table(verdict.verdict_of(hand_made(), "overall")))
    console.print(verdict.rich_table(verdict.verdict_of(hand_made(**FIXED), "overall")))
    text = out.getvalue()
    assert "…" not in text and "fixed point against the old network" in text
    assert "overall: network against the old network" in text and "z std [cm]" in text
    for expected in ("5.48 ± 0.09", "4.63 ± 0.08", "1.184 ± 0.020", "-5.0 ± 0.8", "99.30 ± 0.13",
                     "worse", "better", "indistinguishable"):
        assert expected in text, expected
    assert max(len(line) for line in text.splitlines()) <= 80



def test_an_interrupted_runs_overall_verdict_is_labelled_partial():
    """Bug (issue 21): an interrupted run's 'overall' table covered only the finished experts and did not say so."""
    metrics = hand_made()
    interrupted = {"status": "interrupted", "experts_config": {f"expert_{x}": {} for x in range(5)},
                   "experts": {"expert_0": {"status": "finished", "metrics": {"test": metrics}},
                               "expert_1": {"status": "interrupted", "metrics": {"test": metrics}},
                               "expert_2": {"status": "interrupted", "metrics": {}}},
                   "metrics": {"test": metrics}}
    overall = verdict.run_verdicts(interrupted)[-1]
    assert overall.title == "overall (partial: experts 0, 1 of 5; expert 1 interrupted)"
    assert overall.sentence.startswith("overall (partial: experts 0, 1 of 5; expert 1 interrupted): ")
    out = io.StringIO()
    verdict.print_run_verdict(interrupted, console=Console(file=out, width=200))
    assert out.getvalue().lstrip().startswith("overall (partial: experts 0, 1 of 5; expert 1 interrupted): network")
    assert verdict.run_verdicts({**interrupted, "status": "finished"})[-1].title == "overall"
