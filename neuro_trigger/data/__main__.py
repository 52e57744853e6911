"""Inspect neuroresults or 3DH files: `python -m neuro_trigger.data FILE [FILE ...] [--filter EXPR] [--json]`."""
import argparse
import json
import sys

import numpy as np

from neuro_trigger.constants import theta_to_deg, z_to_cm
from neuro_trigger.data import io
from neuro_trigger.data.families import THREE_DH_TARGETS, TRACK_TYPES
from neuro_trigger.data.filters import parse_filter
from neuro_trigger.data.tracks import Tracks
from neuro_trigger.errors import run_cli


def _summary(values: np.ndarray) -> dict[str, float]:
    q = np.percentile(values, [5, 50, 95])
    return {"mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()),
            "p5": float(q[0]), "median": float(q[1]), "p95": float(q[2]), "max": float(values.max())}


TRIGGER_TRACK_UNITS = {"2DPhi": "rad", "3DTheta": "rad", "2DinvPt": "1/GeV", "2DPt": "GeV"}


def describe(tracks: Tracks) -> dict:
    """Rows, rows per expert, z/theta summaries in physical units (cm, degrees) and the ranges of the
    optional trigger-track columns (basf2 units; `unknown_rows` counts NaN/inf, e.g. from a 42-column file)."""
    experts, counts = np.unique(tracks.expert, return_counts=True)
    info = {"rows": len(tracks), "family": tracks.family, "inputs": int(tracks.inputs.shape[1]),
            "experts": {str(int(e)): int(c) for e, c in zip(experts, counts)}}
    if tracks.family != "classic":  # 3DH: targets scaled with the data's own outputScale, no old network
        kinds, counts = np.unique(tracks.track_type, return_counts=True)
        info["track_types"] = {TRACK_TYPES[int(k)]: int(c) for k, c in zip(kinds, counts)}
        info["scaled_targets"] = {name: _summary(tracks.reco[:, i]) for i, name in enumerate(THREE_DH_TARGETS)
                                  if len(tracks)}
    elif len(tracks):
        z = z_to_cm(tracks.z_reco)
        info["z_reco_cm"] = _summary(z)
        info["theta_reco_deg"] = _summary(theta_to_deg(tracks.theta_reco))
        info["z_old_cm"] = _summary(z_to_cm(tracks.old[:, 0]))
        info["fraction_abs_z_below_5cm"] = float(np.mean(np.abs(z) < 5))
        info["fraction_abs_z_above_50cm"] = float(np.mean(np.abs(z) > 50))
    info["trigger_track_columns"] = list(tracks.trigger_track_columns)
    for name in tracks.trigger_track_columns:
        values = tracks.trigger_track_column(name)
        known = values[np.isfinite(values)]
        if len(known):
            info[name] = {**_summary(known), "unknown_rows": int(len(values) - len(known))}
    return info


def _print_table(info: dict) -> None:
    print(f"rows: {info['rows']} ({info['family']} layout, {info['inputs']} inputs)")
    for kind, count in info.get("track_types", {}).items():
        print(f"  TrackType {kind:>13}: {count:>10}")
    for name, s in info.get("scaled_targets", {}).items():
        print(f"{name:>22} (scaled): mean {s['mean']:7.3f} std {s['std']:6.3f}  [{s['min']:.3f}, {s['max']:.3f}]")
    for expert, count in info["experts"].items():
        print(f"  expert {expert:>2}: {count:>10}  ({count / max(info['rows'], 1):6.1%})")
    for key, unit in (("z_reco_cm", "cm"), ("theta_reco_deg", "deg"), ("z_old_cm", "cm")):
        if key in info:
            s = info[key]
            print(f"{key:>15}: mean {s['mean']:8.2f} std {s['std']:7.2f}  [{s['min']:.1f}, {s['max']:.1f}] {unit}")
    for name in info.get("trigger_track_columns", []):
        if name in info:
            s = info[name]
            unknown = f"  ({s['unknown_rows']} rows unknown)" if s["unknown_rows"] else ""
            print(f"{name:>15}: mean {s['mean']:8.3f} std {s['std']:7.3f}  [{s['min']:.3f}, {s['max']:.3f}] "
                  f"{TRIGGER_TRACK_UNITS[name]}{unknown}")
    if "fraction_abs_z_below_5cm" in info:
        print(f"|z_reco| < 5 cm: {info['fraction_abs_z_below_5cm']:.1%}   |z_reco| > 50 cm: "
              f"{info['fraction_abs_z_above_50cm']:.1%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neuro_trigger.data", description=__doc__)
    parser.add_argument("files", nargs="+", help="neuroresults files (.gz or plain), concatenated in order")
    parser.add_argument("--filter", default="IdentityFilter()", help="filter expression, e.g. 'DuplicateEventsFilter()'")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--no-cache", action="store_true", help="parse the files without the binary cache")
    args = parser.parse_args(argv)
    data_filter = parse_filter(args.filter)
    tracks = data_filter.apply(io.read_files(args.files, use_cache=not args.no_cache))
    info = describe(tracks)
    if args.json:
        print(json.dumps(info))
    else:
        _print_table(info)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
