"""The toy CDC: deterministic, in the real format, and realistic where the training depends on it."""
import numpy as np

from neuro_trigger.constants import AXIAL_SUPERLAYERS, EXPERT_MISSING_STEREO, STEREO_SUPERLAYERS, z_to_cm
from neuro_trigger.data import synthetic

TRACKS = synthetic.generate(40_000, seed=11)


def test_same_seed_same_data_other_seed_other_data():
    again = synthetic.generate(40_000, seed=11)
    for name, values in TRACKS.arrays().items():
        np.testing.assert_array_equal(getattr(again, name), values)
    assert not np.array_equal(synthetic.generate(1000, seed=12).inputs, TRACKS.inputs[:1000])


def test_marked_synthetic_and_well_formed():
    assert len(TRACKS) == 40_000
    assert (TRACKS.column("Experiment") == 0).all()
    assert (TRACKS.column("iNodes") == 27).all() and (TRACKS.column("oNodes") == 2).all()
    assert np.abs(TRACKS.inputs).max() <= 1 and np.abs(TRACKS.reco).max() <= 1
    np.testing.assert_array_equal(TRACKS.old, (TRACKS.old_raw - 0.5) / 4095.5)
    assert TRACKS.old_raw.min() >= -4095 and TRACKS.old_raw.max() <= 4096


def test_experts_follow_the_stereo_hit_pattern_and_missing_layers_are_zero():
    present = (TRACKS.inputs.reshape(-1, 9, 3) != 0).any(axis=2)
    assert set(np.unique(TRACKS.expert)) == {0, 1, 2, 3, 4}
    for expert, missing in EXPERT_MISSING_STEREO.items():
        rows = present[TRACKS.expert == expert]
        for sl in STEREO_SUPERLAYERS:
            assert rows[:, sl].all() == (sl != missing) and rows[:, sl].any() == (sl != missing)
    axial_missing = ~present[:, list(AXIAL_SUPERLAYERS)]
    assert 0.03 < axial_missing.mean() < 0.4


def test_z_is_an_ip_peak_on_a_broad_background():
    z = np.abs(z_to_cm(TRACKS.z_reco))
    assert 0.38 < np.mean(z < 5) < 0.55
    assert 0.15 < np.mean(z > 50) < 0.30


def test_events_hold_several_tracks_and_duplicate_nn_tracks():
    n_tracks = TRACKS.column("nTracks")
    assert (n_tracks > 1).mean() > 0.5
    # Track runs 0..nTracks-1 within each event
    assert (TRACKS.column("Track") < n_tracks).all()
    _, counts = np.unique(np.c_[TRACKS.event, TRACKS.reco], axis=0, return_counts=True)
    assert 0.02 < (counts > 1).mean() < 0.3


def test_outer_superlayers_are_lost_more_often_at_low_pt():
    present = (TRACKS.inputs.reshape(-1, 9, 3) != 0).any(axis=2)
    alpha = np.abs(TRACKS.inputs[:, 8 * 3 + 2])  # grows as pt falls
    curling = np.abs(TRACKS.inputs[:, 0 * 3 + 2]) > 0.06
    assert present[curling, 8].mean() < present[~curling & (alpha > 0), 8].mean()


def test_old_network_is_a_few_cm_at_the_ip_with_tails():
    z_reco, z_old = z_to_cm(TRACKS.z_reco), z_to_cm(TRACKS.old[:, 0])
    ip = np.abs(z_reco) < 1
    diff = np.sort(z_reco[ip] - z_old[ip])
    core = diff[int(0.05 * len(diff)):int(0.95 * len(diff))]
    assert 2 < core.std() < 8
    assert np.mean(np.abs(diff) > 20) > 0.005  # feed-down/up tails
