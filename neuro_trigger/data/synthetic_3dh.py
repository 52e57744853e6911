"""The toy chamber's tracks written as `CDCTrigger3DHNeuroData` writes them (SPEC-3DH 1.2, 2.1-2.3).

The same physics as `synthetic.py` (vertex, angle, momentum, acceptance, superlayer inefficiency), seen by the 3D
Hough finder: at most one hit per superlayer, its relative track-segment ID scaled by the fixed relevant-ID table
(not clipped), the drift time against the track's own fastest hit (T0) with the left/right sign, the crossing
angle in radians (not scaled), and for 126 inputs 11 hit-pattern bits per superlayer. Their meaning in basf2 is
unknown (SPEC-3DH O1); here the priority wire is always set and bits 1-5 / 6-10 favour the side the track passed
on, so that the pattern carries some of the left/right information a real one does.

Targets are z (cm), theta (rad) and the NNT / STT labels (from the IP, |z| <= 1 cm; and p >= 0.7 GeV), scaled
with `OUTPUT_SCALE` and clamped to [-1, 1]. TrackType is Real or Background for matched tracks; a fraction of
unrelated fakes (hits of no real track, target [0, the finder's theta, -1, -1]) is saved as
`saveFakeUnrelatedTracks` would.
"""
import os
from pathlib import Path

import numpy as np

from neuro_trigger.constants import N_SUPERLAYERS, SPLIT_FILE_STEM, SPLITS
from neuro_trigger.data import files_3dh
from neuro_trigger.data.families import HIT_PATTERN_BITS, THREE_DH, three_dh_header
from neuro_trigger.data.synthetic import (ACTUAL_STEREO_ANGLE_RAD, CURVATURE_CM_PER_GEV, LR_UNKNOWN_FRACTION,
                                          MAX_DRIFT_BINS, RADIUS_CM, RECO_SIGMA_THETA_DEG, RECO_SIGMA_Z_CM,
                                          RELID_SIGMA_CELLS, WRONG_HIT_FRACTION, _cells_of_z, _draw_tracks,
                                          _hit_pattern)
from neuro_trigger.data.tracks import Tracks

GENERATOR_VERSION = 1
# [z_min, z_max] cm, [theta_min, theta_max] degrees, [NNT], [STT]: outputScale of the data and of the network
OUTPUT_SCALE = (-100.0, 100.0, 10.0, 170.0, -1.0, 1.0, -1.0, 1.0)
# SPEC-3DH 1.2: relevant-ID table per superlayer -> relID = scale * (rel - offset)
RELID_SCALE = np.array([0.5, 0.25, 0.5, 0.25, 0.5, 0.125, 0.5, 0.125, 0.25])
RELID_OFFSET = np.array([0.0, -4.0, 0.0, 4.0, 0.0, -4.0, -0.5, 5.0, -0.5])
NNT_Z_CM, STT_P_GEV = 1.0, 0.7  # SPEC-3DH 2.2
FAKE_FRACTION = 0.05
REAL, BACKGROUND, UNRELATED_FAKE = 0, 1, 3


def scale_targets(targets: np.ndarray, output_scale=OUTPUT_SCALE) -> np.ndarray:
    """basf2's `scaleTarget` then the clamp (SPEC-3DH 2.2): [z cm, theta rad, NNT, STT] -> [-1, 1]."""
    lo = np.array(output_scale[0::2], dtype=np.float64)
    hi = np.array(output_scale[1::2], dtype=np.float64)
    lo[1], hi[1] = np.radians(lo[1]), np.radians(hi[1])
    return np.clip(2 * (targets - lo) / (hi - lo) - 1, -1.0, 1.0)


def _relative_ids(rng: np.random.Generator, z_at: np.ndarray, n: int) -> np.ndarray:
    """Scaled relIDs (n, 9): stereo superlayers follow z, axial ones scatter around 0; neither is clipped."""
    cells = _cells_of_z(z_at, ACTUAL_STEREO_ANGLE_RAD) + rng.normal(0.0, RELID_SIGMA_CELLS, (n, N_SUPERLAYERS))
    cells += (rng.random(cells.shape) < WRONG_HIT_FRACTION) * rng.choice(np.array([-2, -1, 1, 2]), cells.shape)
    axial = ACTUAL_STEREO_ANGLE_RAD == 0
    cells[:, axial] = rng.normal(0.0, 0.6, (n, int(axial.sum())))
    return RELID_SCALE * (cells - RELID_OFFSET)


def _drift_times(rng: np.random.Generator, present: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Signed drift times t/256 against T0 = the fastest hit of the track (SPEC-3DH 1.2), and the true side."""
    priority_time = rng.integers(0, 300, (n, N_SUPERLAYERS))
    t0 = np.where(present, priority_time, 10 ** 6).min(axis=1, keepdims=True)
    t = np.clip(priority_time - t0, 0, MAX_DRIFT_BINS)
    side = rng.choice(np.array([-1.0, 1.0]), (n, N_SUPERLAYERS))
    known = rng.random((n, N_SUPERLAYERS)) >= LR_UNKNOWN_FRACTION
    return side * known * t / MAX_DRIFT_BINS, side


def _hit_patterns(rng: np.random.Generator, side: np.ndarray, n: int) -> np.ndarray:
    """(n, 9, 11) bits: bit 0 always, bits 1-5 more often on the track's left side, bits 6-10 on its right."""
    left = np.where(side[:, :, None] < 0, 0.7, 0.3)
    probability = np.concatenate([np.ones((n, N_SUPERLAYERS, 1)), np.repeat(left, 5, axis=2),
                                  np.repeat(1 - left, 5, axis=2)], axis=2)
    return (rng.random((n, N_SUPERLAYERS, HIT_PATTERN_BITS)) < probability).astype(np.float64)


def generate(rows: int, n_inputs: int, seed: int = 0, run: int = 1) -> Tracks:
    """Exactly `rows` rows of a 3DH file with `n_inputs` (27 or 126) inputs, the same for the same arguments."""
    if n_inputs not in THREE_DH.input_sizes:
        raise ValueError(f"3DH networks have 27 or 126 inputs, not {n_inputs}")
    rng = np.random.default_rng([seed, run, GENERATOR_VERSION, n_inputs])
    t = _draw_tracks(rng, 3 * rows + 100)
    _, z_at, present = _hit_pattern(rng, t)
    found = present.sum(axis=1) >= 4  # the finder needs hits in several superlayers
    t = {k: v[found][:rows] for k, v in t.items()}
    z_at, present = z_at[found][:rows], present[found][:rows]
    n = len(z_at)
    fake = rng.random(n) < FAKE_FRACTION
    rel_id = _relative_ids(rng, z_at, n)
    rel_id[fake] = rng.uniform(-1.0, 1.0, (int(fake.sum()), N_SUPERLAYERS))
    drift, side = _drift_times(rng, present, n)
    alpha = np.arcsin(np.minimum(RADIUS_CM / (2 * CURVATURE_CM_PER_GEV * t["pt"][:, None]), 1.0)) * t["charge"][:, None]
    features = [rel_id, drift, alpha]
    if n_inputs == 126:
        features += list(np.moveaxis(_hit_patterns(rng, side, n), 2, 0))
    inputs = np.stack(features, axis=2) * present[:, :, None]  # (n, 9, F): SL-major, zeros without a hit
    z = t["z0"] + rng.normal(0.0, RECO_SIGMA_Z_CM, n)
    theta = np.radians(np.degrees(t["theta"]) + rng.normal(0.0, RECO_SIGMA_THETA_DEG, n))
    momentum = t["pt"] / np.sin(t["theta"])
    nnt = np.where(np.abs(z) <= NNT_Z_CM, 1.0, -1.0)
    stt = np.where((nnt > 0) & (momentum >= STT_P_GEV), 1.0, -1.0)
    finder_theta = np.clip(t["theta"] + rng.normal(0.0, 0.05, n), 0.01, np.pi - 0.01)
    raw = np.stack([np.where(fake, 0.0, z), np.where(fake, finder_theta, theta),
                    np.where(fake, -1.0, nnt), np.where(fake, -1.0, stt)], axis=1)
    targets = scale_targets(raw)
    track_type = np.where(fake, UNRELATED_FAKE, np.where(nnt > 0, REAL, BACKGROUND))
    names = three_dh_header(n_inputs)
    columns = dict(zip(names[:n_inputs], inputs.reshape(n, n_inputs).astype(np.float32).T))
    columns.update(dict(zip(names[n_inputs:n_inputs + 4], targets.T)))
    columns[names[-1]] = track_type
    return files_3dh.tracks_of_columns(columns, n_inputs)


def write_synthetic(folder: str | os.PathLike, rows: dict[str, int], seed: int, n_inputs: int,
                    rows_per_member: int = files_3dh.ROWS_PER_MEMBER) -> dict[str, list[Path]]:
    """One synthetic 3DH data set in `folder`: 3dh<n_inputs>_random{1,2,3}.gz for train, val and test."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for run, split in enumerate(SPLITS, start=1):
        path = folder / f"3dh{n_inputs}_{SPLIT_FILE_STEM[split]}.gz"
        files_3dh.write_file(path, generate(rows[split], n_inputs, seed=seed, run=run), rows_per_member)
        files[split] = [path]
    return files


def main(argv: list[str] | None = None) -> int:
    """`python -m neuro_trigger.data.synthetic_3dh --out DIR --rows N --inputs 27|126 [--seed S]`."""
    import argparse

    from neuro_trigger.errors import user_input

    parser = argparse.ArgumentParser(prog="python -m neuro_trigger.data.synthetic_3dh", description=(
        "Write a synthetic NeuroTrigger3DH data set as CDCTrigger3DHNeuroData writes it: DIR/3dh<inputs>_random1.gz "
        "(train, N rows), 3dh<inputs>_random2.gz and 3dh<inputs>_random3.gz (val and test, N/4 rows each), targets "
        f"scaled with outputScale {list(OUTPUT_SCALE)}."))
    parser.add_argument("--out", required=True, help="folder to write into (created)")
    parser.add_argument("--rows", type=int, required=True, help="rows of the train file")
    parser.add_argument("--inputs", type=int, choices=THREE_DH.input_sizes, default=27, help="27 or 126 inputs")
    parser.add_argument("--seed", type=int, default=1, help="random seed (the same seed gives the same files)")
    args = parser.parse_args(argv)
    if not 4 <= args.rows <= 100_000_000 or args.seed < 0:
        parser.error("--rows must be 4..100000000 and --seed >= 0")
    rows = {"train": args.rows, "val": args.rows // 4, "test": args.rows // 4}
    with user_input(f"--out {args.out}"):
        files = write_synthetic(args.out, rows, args.seed, args.inputs)
    for split, paths in files.items():
        print(f"{split}: {paths[0]} ({rows[split]} rows)")
    return 0


if __name__ == "__main__":
    import sys

    from neuro_trigger.errors import run_cli

    sys.exit(run_cli(main))
