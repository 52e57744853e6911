"""`--slurm KEY=VALUE,...`: submit the sweep's workers as one SLURM job array through submitit.

The array tasks share the study (journal file in the sweep folder on the shared filesystem, or the
PostgreSQL storage); the submitting command prints the job id and returns. `cluster=local` runs the
same array as local processes through submitit's local executor (to try a sweep without SLURM).
"""
import os
import re
from pathlib import Path

from neuro_trigger.errors import UserError
from neuro_trigger.sweeping import worker
from neuro_trigger.sweeping.named import did_you_mean
from neuro_trigger.sweeping.space import split_top_level

REPO_ROOT = Path(__file__).resolve().parents[2]
OPTIONS = {
    "partition": "SLURM partition", "time": "time limit per task in minutes or [D-]HH:MM[:SS]",
    "cpus": "cores per task", "mem": "memory per task, e.g. 8G or 8000M", "gpus": "GPUs per task",
    "account": "SLURM account", "qos": "SLURM quality of service", "cluster": "slurm (default) or local",
}


def _minutes(text: str) -> int:
    match = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d+)(?::(\d+))?", text)
    if text.isdigit():
        return int(text)
    if not match:
        raise UserError(f"--slurm time={text}: expected minutes or [D-]HH:MM[:SS]")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return days * 1440 + hours * 60 + minutes + (1 if seconds else 0)


def _gigabytes(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([GgMm]?)[Bb]?", text)
    if not match:
        raise UserError(f"--slurm mem={text}: expected e.g. 8G or 8000M")
    value = float(match.group(1)) / (1024 if match.group(2).lower() == "m" else 1)
    return max(1, round(value))


def parse_options(text: str) -> dict:
    """'partition=short,time=60,cpus=4,mem=8G' -> submitit parameters (plus 'cluster')."""
    options = {}
    for item in split_top_level(text):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise UserError(f"--slurm {item!r}: expected KEY=VALUE with KEY one of {', '.join(OPTIONS)}")
        if key not in OPTIONS:
            raise UserError(f"--slurm {key}: unknown option{did_you_mean(key, OPTIONS)}; known: {', '.join(OPTIONS)}")
        options[key] = value
    parameters: dict = {"cluster": options.pop("cluster", "slurm")}
    if parameters["cluster"] not in ("slurm", "local"):
        raise UserError(f"--slurm cluster={parameters['cluster']}: expected slurm or local")
    for key, value in options.items():
        if key in ("cpus", "gpus") and not value.isdigit():
            raise UserError(f"--slurm {key}={value}: expected a whole number")
    parameters["timeout_min"] = _minutes(options.get("time", "60"))
    if "cpus" in options:
        parameters["cpus_per_task"] = int(options["cpus"])
    if "gpus" in options:
        parameters["gpus_per_node"] = int(options["gpus"])
    if "mem" in options:
        parameters["mem_gb"] = _gigabytes(options["mem"])
    for key in ("partition", "account", "qos"):
        if key in options:
            parameters[f"slurm_{key}"] = options[key]
    return parameters


def submit(sweep_dir: Path, storage_url: str | None, tasks: int, parameters: dict, name: str) -> list[str]:
    """Submit `tasks` workers as one job array; returns the job ids (SLURM: `<array>_<task>`)."""
    import submitit

    # the tasks import neuro_trigger from this checkout (sbatch and the local executor pass the environment on)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    parameters = dict(parameters)
    executor = submitit.AutoExecutor(folder=sweep_dir / "slurm", cluster=parameters.pop("cluster"))
    extra = {"slurm_array_parallelism": tasks} if executor.cluster == "slurm" else {}
    try:
        executor.update_parameters(name=f"sweep-{name}", **parameters, **extra)
        jobs = executor.map_array(worker.serve, [str(sweep_dir)] * tasks, [storage_url] * tasks)
    except (NameError, ValueError) as e:
        raise UserError(f"--slurm: {str(e).splitlines()[0]}") from None
    except (OSError, RuntimeError, submitit.core.utils.FailedJobError) as e:  # sbatch missing or refusing
        raise UserError(f"--slurm: submission failed ({str(e).strip().splitlines()[0] if str(e).strip() else e})") \
            from None
    return [job.job_id for job in jobs]
