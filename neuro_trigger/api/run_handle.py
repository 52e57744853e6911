"""`nt.Run`: one run folder from Python, through its record (`runs/record.py`) and the files it documents."""
from pathlib import Path
from typing import Iterable

from neuro_trigger.errors import UserError
from neuro_trigger.runs import record

FIXED_COLUMNS = ("PredZFix", "PredThetaFix")


class Run:
    """A run folder (`log/<config>/version_<n>`): its record, per-epoch history, predictions and networks."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.summary: record.Summary = record.read_summary(self.path, require=())

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status!r}, description={self.description!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and self.path.resolve() == other.path.resolve()

    def __hash__(self) -> int:
        return hash(self.path.resolve())

    @property
    def status(self) -> str:
        return self.summary.get("status", "unknown")

    @property
    def description(self) -> str:
        return self.summary.get("description", "")

    @property
    def config(self) -> dict:
        """The resolved config the run was made with (docs/configuration.md)."""
        return self.summary.get("config", {})

    @property
    def report_path(self) -> Path:
        return self.path / "report.html"

    def reload(self) -> "Run":
        """The record read again (a run still training rewrites it at every step)."""
        self.summary = record.read_summary(self.path, require=())
        return self

    def metrics(self, split: str = "test", expert: int | None = None) -> dict:
        """summary.json's metrics of `split`, of all experts together or of one expert."""
        if expert is None:
            return dict(self.summary.get("metrics", {}).get(split) or {})
        return dict(self.summary.get("experts", {}).get(f"expert_{expert}", {}).get("metrics", {}).get(split) or {})

    def history(self):
        """Per-epoch metrics of every expert (one row per expert and epoch), from the run's own CSV logs
        (`expert_<x>/csv/metrics.csv`, written by Lightning's CSVLogger)."""
        import pandas as pd

        frames = []
        for name in self.summary.get("experts") or self.summary.get("experts_config") or {}:
            path = self.path / name / "csv" / "metrics.csv"
            if not path.is_file():
                continue
            table = pd.read_csv(path)
            if "epoch" not in table or table.empty:
                continue
            per_epoch = table.groupby("epoch", sort=True).first().reset_index()  # train and val rows joined
            per_epoch.insert(0, "expert", int(name.split("_", 1)[1]))
            frames.append(per_epoch.drop(columns=[c for c in ("step",) if c in per_epoch]))
        if not frames:
            return pd.DataFrame(columns=["expert", "epoch"])
        return pd.concat(frames, ignore_index=True)

    def predictions(self, split: str = "test", fixed_point: bool = False):
        """The split's predictions file as a DataFrame: the input columns and PredZ, PredTheta (scaled),
        PredZ_cm, PredTheta_deg; with `fixed_point` also the FPGA arithmetic's PredZFix, PredThetaFix."""
        import pandas as pd

        from neuro_trigger.data import io
        from neuro_trigger.runs.export import predictions_file

        path = predictions_file(self.path, split)
        if not path.is_file():
            raise UserError(f"{self.path}: no predictions of split {split!r} ({path.name}; status {self.status!r})")
        table = pd.read_csv(path, sep=io.file_delimiter(path))  # CSV, or tab-separated from earlier releases
        present = [c for c in FIXED_COLUMNS if c in table]
        if fixed_point and not present:
            raise UserError(f"{self.path}: no fixed-point predictions (only deployable runs have them)")
        return table if fixed_point else table.drop(columns=present)

    def network(self, expert: int, seed: int | None = None):
        """The expert's network (a torch `nn.Module` in eval mode): the one the run kept (best checkpoint, else
        weights.json), or with `seed` the copy of that seed of a `--seeds` run (`weights_seed<s>.json`)."""
        from neuro_trigger.inference import load_networks

        if seed is None:
            _, networks = load_networks(self.path)
            if expert not in networks:
                raise UserError(f"{self.path}: no trained expert {expert} (has {sorted(networks)})")
            return networks[expert]
        from neuro_trigger import config as config_lib
        from neuro_trigger.models import build_network
        from neuro_trigger.runs import export, seeds

        path = self.path / seeds.weights_file(seed)
        if not path.is_file():
            known = sorted(int(p.stem.removeprefix("weights_seed")) for p in self.path.glob("weights_seed*.json"))
            raise UserError(f"{self.path}: no network of seed {seed} (seeds: {known or 'none, not a --seeds run'})")
        network = build_network(config_lib.for_expert(record.run_config(self.summary), expert))
        export.load_weights(network, export.read_weights(path), expert, str(path))
        return network.eval()

    def predict(self, files: str | Path | Iterable[str | Path], data_filter: str | None = None):
        """Apply the run's networks to neuroresults files as `python -m neuro_trigger.predict` does (each row to
        its expert, the run's own filter unless `data_filter`); a DataFrame of the rows with the predictions."""
        import numpy as np
        import pandas as pd

        from neuro_trigger.constants import ID_COLUMNS
        from neuro_trigger.data import io
        from neuro_trigger.data.filters import parse_filter
        from neuro_trigger.errors import user_input
        from neuro_trigger.inference import load_networks, predict
        from neuro_trigger.runs.export import prediction_columns

        paths = [str(files)] if isinstance(files, (str, Path)) else [str(f) for f in files]
        config, networks = load_networks(self.path)
        with user_input("filter"):
            chosen = parse_filter(data_filter if data_filter is not None else config["filter"])
        tracks = chosen.apply(io.read_files(paths))
        pred, used = predict(networks, tracks)
        columns = {name: tracks.ids[:, i] for i, name in enumerate(ID_COLUMNS)}
        columns.update({"RecoZ": tracks.reco[:, 0], "RecoTheta": tracks.reco[:, 1], "OldZ": tracks.old[:, 0],
                        "OldTheta": tracks.old[:, 1], "expert_used": np.asarray(used)})
        columns.update(prediction_columns(pred))
        return pd.DataFrame(columns)

    def compare(self, others: Iterable["Run | Path | str"] = (), split: str = "test", metric: str = "loss_vs_old",
                experts: bool = False):
        """This run and `others` as `python -m neuro_trigger.compare` shows them, one row per run with every
        compare column and its statistical error; the whole `compare --json` result is in `.attrs["compare"]`."""
        import pandas as pd

        from neuro_trigger.evaluation.comparison import compare

        paths = [self.path, *(o.path if isinstance(o, Run) else Path(o) for o in others)]
        result = compare(record.find_runs(paths), split, metric, experts)
        rows = []
        for entry in result["runs"]:
            for scope, metrics in (entry["metrics"] or {"overall": {}}).items():
                rows.append({"run": entry["run"], "scope": scope, "description": entry["description"],
                             "status": entry["status"], "seed": entry["seed"], "group": entry["group"],
                             "data": entry["data"], **metrics})
        frame = pd.DataFrame(rows)
        frame.attrs["compare"] = result
        return frame
