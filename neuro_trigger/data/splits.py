"""The three splits of a data set (train/val/test = random1/random2/random3) and the embedded default.

The embedded data set is made by the synthetic generator on first use into the git-ignored
`data/` folder of the checkout (or `$NEURO_TRIGGER_DATA`) and reused after; it is built in a
temporary folder and renamed into place, so two processes starting at once never see half of it.
"""
import os
import shutil
import sys
import tempfile
from pathlib import Path

from neuro_trigger.atomic import current_umask
from neuro_trigger.constants import SPLIT_FILE_STEM, SPLITS
from neuro_trigger.data import synthetic, synthetic_3dh
from neuro_trigger.data.synthetic import write_synthetic
from neuro_trigger.errors import UserError

EMBEDDED_ROWS = {"train": 200_000, "val": 50_000, "test": 50_000}
EMBEDDED_SEED = 2026
EMBEDDED_3DH_ROWS = {"train": 100_000, "val": 25_000, "test": 25_000}
# the embedded data sets by the name a config's `data` gives: (folder, file stem, writer of the three splits)
EMBEDDED = {
    "synthetic": (f"synthetic_v{synthetic.GENERATOR_VERSION}_seed{EMBEDDED_SEED}", "neuroresults",
                  lambda folder: write_synthetic(folder, EMBEDDED_ROWS, EMBEDDED_SEED)),
    **{f"synthetic_3dh_{n}": (f"synthetic_3dh{n}_v{synthetic_3dh.GENERATOR_VERSION}_seed{EMBEDDED_SEED}", f"3dh{n}",
                              lambda folder, n=n: synthetic_3dh.write_synthetic(folder, EMBEDDED_3DH_ROWS,
                                                                                EMBEDDED_SEED, n))
       for n in (27, 126)},
}
REPO_ROOT = Path(__file__).resolve().parents[2]


def data_root() -> Path:
    return Path(os.environ.get("NEURO_TRIGGER_DATA") or REPO_ROOT / "data")


def embedded_files(name: str = "synthetic") -> dict[str, list[Path]]:
    """The files of an embedded synthetic data set (`EMBEDDED`), generated on first use."""
    folder_name, stem, write = EMBEDDED[name]
    folder = data_root() / folder_name
    files = {s: [folder / f"{stem}_{SPLIT_FILE_STEM[s]}.gz"] for s in SPLITS}
    if all(f[0].is_file() for f in files.values()):
        return files
    folder.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating the embedded {name.replace('_', ' ')} data set (once, ~10 s) into {folder} ...", file=sys.stderr,
          flush=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder.parent))
    try:
        staging.chmod(0o777 & ~current_umask())  # mkdtemp makes it 0700; the data set is for everyone
        write(staging)
        try:
            staging.rename(folder)
        except OSError:
            if not all(f[0].is_file() for f in files.values()):  # another process won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return files


def resolve_files(data: str | dict) -> dict[str, list[Path]]:
    """The files of each split named by a config's `data` entry (a name of `EMBEDDED` or {split: [files]})."""
    if isinstance(data, str) and data in EMBEDDED:
        return embedded_files(data)
    if not isinstance(data, dict) or set(data) != set(SPLITS):
        raise UserError(f"data: expected {' or '.join(map(repr, EMBEDDED))} or "
                        f"{{'train': [...], 'val': [...], 'test': [...]}}, got {data!r}")
    files = {}
    for split in SPLITS:
        entry = data[split]
        paths = [entry] if isinstance(entry, str) else entry
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise UserError(f"data.{split}: expected a file path or a list of file paths, got {entry!r}")
        files[split] = [Path(p).expanduser() for p in paths]
    return files


def shared_data_warning(data: dict[str, list[dict]]) -> str | None:
    """One line when two splits hold the same data (a content fingerprint of summary.json's `data` in both, e.g.
    one file given as train, val and test), else None: testing on training rows makes every verdict meaningless."""
    splits_of: dict[str, list[str]] = {}
    path_of: dict[str, str] = {}
    for split in SPLITS:
        for entry in data.get(split) or []:
            key = (entry.get("content_sha256") or entry.get("sha256")) if isinstance(entry, dict) else None
            if key and split not in splits_of.setdefault(key, []):
                splits_of[key].append(split)
                path_of.setdefault(key, entry.get("path", "?"))
    shared = next((key for key, splits in splits_of.items() if len(splits) > 1), None)
    if shared is None:
        return None
    splits = splits_of[shared]
    return (f"the {', '.join(splits[:-1])} and {splits[-1]} splits hold the same data ({path_of[shared]}): "
            "the figures of one are not independent of the other, and testing on training rows makes every "
            "verdict meaningless")
