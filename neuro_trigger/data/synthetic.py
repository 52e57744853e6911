"""A toy Belle II CDC that writes neuroresults files (SPEC section 9), marked `Experiment` = 0.

Deterministic for a seed and vectorised over tracks. What it models: an interaction-point
peak on a broad background in z, the stereo geometry that puts z into the hit phi, chamber
acceptance and superlayer inefficiency (worse for low-pt, strongly curling tracks), the five
experts from the stereo hit pattern, several tracks per event, duplicate NN tracks for one
reco track, and an "old network" column: a classical straight-line fit of z against radius
that assumes the nominal geometry and ignores curvature, clipped and quantised like the
hardware output. Rows carry the four trigger-track columns of current basf2 files (46-column
layout, SPEC 3a) in basf2's units: the 2D track's phi0 and the 3D track's theta in radians, its
charge / pT in 1/GeV and pT in GeV, each with a trigger-like resolution.
"""
import os
from pathlib import Path

import numpy as np

from neuro_trigger.constants import (EXPERT_MISSING_STEREO, N_SUPERLAYERS, RAW_MAX, RAW_MIN, RAW_SCALE, SPLIT_FILE_STEM,
                                     SPLITS, STEREO_SUPERLAYERS, TRIGGER_TRACK_COLUMNS, theta_to_scaled, z_to_scaled)
from neuro_trigger.data import io
from neuro_trigger.data.tracks import Tracks

GENERATOR_VERSION = 4  # 4: the 46-column layout

RADIUS_CM = np.array([19.8, 29.3, 40.2, 51.3, 62.0, 73.1, 83.8, 95.0, 105.7])
STEREO_ANGLE_RAD = np.array([0.0, 0.068, 0.0, -0.065, 0.0, 0.070, 0.0, -0.075, 0.0])  # nominal (design)
# the built chamber: wire sag and endplate misalignment change the effective stereo angles by a few
# percent; the old network was made for the nominal geometry, a network trained on data learns these
ACTUAL_STEREO_ANGLE_RAD = STEREO_ANGLE_RAD * np.array([1, 1.05, 1, 0.96, 1, 1.04, 1, 0.95, 1])
N_CELLS = np.array([160, 160, 192, 224, 256, 288, 320, 352, 384])
CELL_RAD = 2 * np.pi / N_CELLS
# one-sided relID windows in cells of the stereo superlayers, as in basf2; axial: [-1, 1]
RELID_WINDOW = np.array([[-1, 1], [-10, 1], [-1, 1], [-1, 10], [-1, 1], [-10.5, 1], [-1, 1], [-1, 11], [-1, 1]])
INEFFICIENCY = np.array([0.06, 0.04, 0.10, 0.07, 0.14, 0.10, 0.20, 0.13, 0.26])
# chamber z acceptance in cm, interpolated linearly in radius between SL0 and SL8
Z_MIN_CM = np.interp(RADIUS_CM, [RADIUS_CM[0], RADIUS_CM[-1]], [-30.0, -70.0])
Z_MAX_CM = np.interp(RADIUS_CM, [RADIUS_CM[0], RADIUS_CM[-1]], [55.0, 150.0])
CURVATURE_CM_PER_GEV = 222.0  # R = 222 cm * pT / GeV at 1.5 T

IP_FRACTION = 0.36
IP_SIGMA_CM = 0.5
RELID_SIGMA_CELLS = 0.10  # hit resolution
WRONG_HIT_FRACTION = 0.015  # hits taken from a neighbouring wire: the old network's tails
LR_UNKNOWN_FRACTION = 0.35
MAX_DRIFT_BINS = 256
RECO_SIGMA_Z_CM, RECO_SIGMA_THETA_DEG = 0.2, 0.2
DUPLICATE_FRACTION = 0.15  # reco tracks matched by 2-4 NN tracks
# resolution of the trigger's own track parameters (2D finder phi and 1/pT, 3D theta)
TRIGGER_PHI_SIGMA_RAD, TRIGGER_THETA_SIGMA_RAD, TRIGGER_INV_PT_RELATIVE_SIGMA = 0.01, 0.05, 0.10
STEREO = np.array(STEREO_SUPERLAYERS)


def _draw_tracks(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Physics of n generated tracks: vertex, angle, transverse momentum, charge."""
    ip = rng.random(n) < IP_FRACTION
    background = -100.0 + 200.0 * rng.beta(1.6, 1.0, n)  # broad, skewed towards +z
    z0 = np.where(ip, rng.normal(0.0, IP_SIGMA_CM, n), background)
    cos_theta = rng.uniform(np.cos(np.radians(150.0)), np.cos(np.radians(17.0)), n)
    pt = 0.3 * (5.0 / 0.3) ** rng.random(n)  # GeV, falling spectrum
    charge = rng.choice(np.array([-1.0, 1.0]), n)
    phi = rng.uniform(-np.pi, np.pi, n)
    return {"z0": np.clip(z0, -100.0, 100.0), "theta": np.arccos(cos_theta), "pt": pt, "charge": charge, "phi": phi}


def _hit_pattern(rng: np.random.Generator, t: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per superlayer: arc length s, z at the superlayer, and whether a hit is found."""
    radius = CURVATURE_CM_PER_GEV * t["pt"][:, None]  # (T, 1) cm
    reachable = RADIUS_CM < 2 * radius
    half_turn = np.arcsin(np.minimum(RADIUS_CM / (2 * radius), 1.0))  # (T, 9)
    s = 2 * radius * half_turn
    z_at = t["z0"][:, None] + s / np.tan(t["theta"])[:, None]
    inside = (z_at > Z_MIN_CM) & (z_at < Z_MAX_CM)
    # large crossing angles (curling low-pt tracks) lose hits in the track segment finder
    inefficiency = INEFFICIENCY + 0.6 * (half_turn / (np.pi / 2)) ** 3
    found = rng.random(z_at.shape) > inefficiency
    return s, z_at, reachable & inside & found


def _expert(present: np.ndarray) -> np.ndarray:
    """Expert number from the stereo hit pattern, -1 where two or more stereo superlayers are missing."""
    stereo = present[:, STEREO]
    expert = np.full(len(present), -1, dtype=np.int64)
    for number, missing in EXPERT_MISSING_STEREO.items():
        wanted = np.ones(4, bool) if missing is None else np.array([sl != missing for sl in STEREO_SUPERLAYERS])
        expert[(stereo == wanted).all(axis=1)] = number
    return expert


def _cells_per_cm(stereo_angle: np.ndarray) -> np.ndarray:
    """Stereo phi shift per cm of z, in cell units (0 for axial superlayers)."""
    return -np.tan(stereo_angle) / (RADIUS_CM * CELL_RAD)


def _cells_of_z(z_cm: np.ndarray, stereo_angle: np.ndarray) -> np.ndarray:
    """relID in cells of a hit at z: measured from the backward chamber end, so that the chamber's
    z range falls inside the one-sided window (half a cell from its closed side)."""
    closed_side = np.where(stereo_angle > 0, RELID_WINDOW[:, 1] - 0.5, RELID_WINDOW[:, 0] + 0.5)
    return closed_side + _cells_per_cm(stereo_angle) * (z_cm - Z_MIN_CM)


def _inputs(rng: np.random.Generator, present: np.ndarray, z_at: np.ndarray, half_turn_sign: np.ndarray,
            half_turn: np.ndarray) -> np.ndarray:
    """The 27 scaled inputs of each row; zeros where a superlayer has no hit."""
    n = len(present)
    cells = _cells_of_z(z_at, ACTUAL_STEREO_ANGLE_RAD)
    cells = cells + rng.normal(0.0, RELID_SIGMA_CELLS, cells.shape)
    wrong = rng.random(cells.shape) < WRONG_HIT_FRACTION
    cells += wrong * rng.choice(np.array([-3, -2, -1, 1, 2, 3]), cells.shape)
    axial_noise = rng.normal(0.0, 0.15, cells.shape)
    lo, hi = RELID_WINDOW[:, 0], RELID_WINDOW[:, 1]
    rel_id = np.where(STEREO_ANGLE_RAD != 0, 2 * (np.clip(cells, lo, hi) - lo) / (hi - lo) - 1,
                      np.clip(axial_noise, -1, 1))
    fine = cells - np.round(cells)  # position inside the cell, drives the drift time
    drift_bins = np.minimum(np.abs(fine) * 2 * 0.9 * MAX_DRIFT_BINS + rng.normal(0, 4, cells.shape),
                            MAX_DRIFT_BINS - 1)
    left_right = np.where(rng.random(cells.shape) < LR_UNKNOWN_FRACTION, 0.0, np.sign(fine))
    drift = left_right * np.abs(drift_bins) / MAX_DRIFT_BINS
    alpha = half_turn_sign * half_turn / 2
    inputs = np.stack([rel_id, drift, alpha], axis=2) * present[:, :, None]  # (n, 9, 3)
    return inputs.reshape(n, 3 * N_SUPERLAYERS).astype(np.float32)


def old_network_estimate(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Classical z and theta: a straight-line fit of z against radius through the stereo hits.

    It assumes the nominal stereo angles and ignores track curvature and hit quality, so
    misalignment, low-pt and steep tracks, and wrong hits bias it; the result is clipped to [-1, 1] and quantised like the hardware network's
    output. Returns (scaled (N, 2), raw integers (N, 2)).
    """
    rel_id = inputs[:, 0::3].astype(np.float64)  # (N, 9)
    present = (inputs.reshape(len(inputs), N_SUPERLAYERS, 3) != 0).any(axis=2)[:, STEREO]
    lo, hi = RELID_WINDOW[STEREO, 0], RELID_WINDOW[STEREO, 1]
    cells = (rel_id[:, STEREO] + 1) / 2 * (hi - lo) + lo
    closed_side = _cells_of_z(Z_MIN_CM, STEREO_ANGLE_RAD)[STEREO]
    z_meas = Z_MIN_CM[STEREO] + (cells - closed_side) / _cells_per_cm(STEREO_ANGLE_RAD)[STEREO]
    w = present.astype(np.float64)
    r = RADIUS_CM[STEREO]
    sw, sr, sz = w.sum(1), (w * r).sum(1), (w * z_meas).sum(1)
    srr, srz = (w * r * r).sum(1), (w * r * z_meas).sum(1)
    slope = (sw * srz - sr * sz) / np.maximum(sw * srr - sr * sr, 1e-9)  # dz/dr = cot(theta)
    z0 = (sz - slope * sr) / np.maximum(sw, 1)
    theta = np.degrees(np.arctan2(1.0, slope))
    scaled = np.stack([z_to_scaled(z0), theta_to_scaled(theta)], axis=1)
    raw = np.clip(np.round(np.clip(scaled, -1, 1) * RAW_SCALE + 0.5), RAW_MIN, RAW_MAX).astype(np.int64)
    return (raw - 0.5) / RAW_SCALE, raw


def _trigger_track(rng: np.random.Generator, t: dict[str, np.ndarray], track_of_row: np.ndarray) -> np.ndarray:
    """(rows, 4): 2DPhi [rad, (-pi, pi]], 3DTheta [rad], 2DinvPt [charge/GeV], 2DPt [GeV], smeared per NN track."""
    n = len(track_of_row)
    phi = t["phi"][track_of_row] + rng.normal(0.0, TRIGGER_PHI_SIGMA_RAD, n)
    phi = np.pi - np.mod(np.pi - phi, 2 * np.pi)  # wrapped into (-pi, pi]
    theta = np.clip(t["theta"][track_of_row] + rng.normal(0.0, TRIGGER_THETA_SIGMA_RAD, n), 0.01, np.pi - 0.01)
    inv_pt = t["charge"][track_of_row] / t["pt"][track_of_row] * (1 + rng.normal(0.0, TRIGGER_INV_PT_RELATIVE_SIGMA, n))
    inv_pt = np.where(inv_pt == 0, 1e-6, inv_pt)
    return np.stack([phi, theta, inv_pt, 1 / np.abs(inv_pt)], axis=1)


def _number_tracks(event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Track index within its event and the event's number of rows, for rows sorted by event."""
    starts = np.flatnonzero(np.r_[True, event[1:] != event[:-1]])
    sizes = np.diff(np.r_[starts, len(event)])
    track = np.arange(len(event)) - np.repeat(starts, sizes)
    return track, np.repeat(sizes, sizes)


def generate(rows: int, seed: int = 0, run: int = 1) -> Tracks:
    """Exactly `rows` neuroresults rows of the toy detector, the same for the same (rows, seed, run)."""
    rng = np.random.default_rng([seed, run, GENERATOR_VERSION])
    n_tracks = int(rows * 1.0) + 100  # about one row per generated track after acceptance and duplicates
    while True:
        t = _draw_tracks(rng, n_tracks)
        s, z_at, present = _hit_pattern(rng, t)
        expert = _expert(present)
        keep = expert >= 0
        copies = np.where(rng.random(n_tracks) < DUPLICATE_FRACTION, rng.integers(2, 5, n_tracks), 1) * keep
        if copies.sum() >= rows:
            break
        n_tracks = int(n_tracks * 1.5 * rows / max(copies.sum(), 1)) + 100
    track_of_row = np.repeat(np.arange(n_tracks), copies)[:rows]
    per_event = 1 + rng.poisson(1.3, n_tracks)
    event_of_track = np.repeat(np.arange(n_tracks), per_event)[:n_tracks]
    event = event_of_track[track_of_row]

    half_turn = np.arcsin(np.minimum(RADIUS_CM / (2 * CURVATURE_CM_PER_GEV * t["pt"][:, None]), 1.0))
    inputs = _inputs(rng, present[track_of_row], z_at[track_of_row], t["charge"][track_of_row, None],
                     half_turn[track_of_row])
    old, old_raw = old_network_estimate(inputs)
    z_reco = t["z0"] + rng.normal(0, RECO_SIGMA_Z_CM, n_tracks)
    theta_reco = np.degrees(t["theta"]) + rng.normal(0, RECO_SIGMA_THETA_DEG, n_tracks)
    reco = np.stack([np.clip(z_to_scaled(z_reco), -1, 1), np.clip(theta_to_scaled(theta_reco), -1, 1)], axis=1)

    track_in_event, n_in_event = _number_tracks(event)
    ids = np.zeros((rows, 9), dtype=np.int64)
    ids[:, 1] = run
    ids[:, 3] = event
    ids[:, 4], ids[:, 5] = track_in_event, n_in_event
    ids[:, 6] = expert[track_of_row]
    ids[:, 7], ids[:, 8] = 27, 2
    return Tracks(ids=ids, inputs=inputs, reco=reco[track_of_row], old=old, old_raw=old_raw,
                  row=np.arange(rows, dtype=np.int64), trigger_track=_trigger_track(rng, t, track_of_row),
                  trigger_track_columns=tuple(TRIGGER_TRACK_COLUMNS))


def write_synthetic(folder: str | os.PathLike, rows: dict[str, int], seed: int,
                    suffix: str = ".gz") -> dict[str, list[Path]]:
    """Generate one synthetic data set into `folder`: neuroresults_random{1,2,3}<suffix>."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for run, split in enumerate(SPLITS, start=1):
        path = folder / f"neuroresults_{SPLIT_FILE_STEM[split]}{suffix}"
        io.write_file(path, generate(rows[split], seed=seed, run=run))
        files[split] = [path]
    return files


def main(argv: list[str] | None = None) -> int:
    """`python -m neuro_trigger.data.synthetic --out DIR --rows N [--seed S]`: a data set of the toy chamber."""
    import argparse

    from neuro_trigger.errors import user_input

    parser = argparse.ArgumentParser(prog="python -m neuro_trigger.data.synthetic", description=(
        "Write a synthetic data set (46-column neuroresults files, Experiment 0) as DIR/neuroresults_random1.gz "
        "(train, N rows), neuroresults_random2.gz and neuroresults_random3.gz (val and test, N/4 rows each)."))
    parser.add_argument("--out", required=True, help="folder to write into (created)")
    parser.add_argument("--rows", type=int, required=True, help="rows of the train file")
    parser.add_argument("--seed", type=int, default=1, help="random seed (the same seed gives the same files)")
    args = parser.parse_args(argv)
    if not 4 <= args.rows <= 100_000_000 or args.seed < 0:
        parser.error("--rows must be 4..100000000 and --seed >= 0")
    rows = {"train": args.rows, "val": args.rows // 4, "test": args.rows // 4}
    with user_input(f"--out {args.out}"):
        files = write_synthetic(args.out, rows, args.seed)
    for split, paths in files.items():
        print(f"{split}: {paths[0]} ({rows[split]} rows)")
    return 0


if __name__ == "__main__":
    import sys

    from neuro_trigger.errors import run_cli

    sys.exit(run_cli(main))
