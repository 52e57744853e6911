"""NeuroTrigger Trainer: trains the Belle II level-1 neural z-vertex trigger experts.

`import neuro_trigger as nt` gives the Python API (`nt.train`, `nt.runs`, `nt.Run`, `nt.sweep`, ...;
docs/python-api.md). It lives in `neuro_trigger/api/`, at the top of the layers, and is loaded on the first use of
one of its names, so that importing the package (as every module and CLI does) imports neither it nor pandas.
"""
import importlib
import os
import sys
import types

# numpy's OpenBLAS with one thread per call (unless the user chose otherwise), set before numpy is first
# imported: the bootstrap's products are small and memory-bound, the expert threads already use every core,
# and OpenBLAS's own threads on a busy 2-core machine made them up to 100x slower (bench/profile_run.py).
# torch uses its own threads (MKL / OpenMP, torch.set_num_threads) and is not affected.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

API = ("train", "resume", "runs", "Run", "sweep", "Sweep", "trials", "dataset", "sync", "UserError")


def _api(name: str):
    return getattr(importlib.import_module("neuro_trigger.api"), name)


class _Package(types.ModuleType):
    """The package, whose `runs` and `sweep` are the API's functions although the run folder's subpackage and
    the sweep CLI have those names too: importing `neuro_trigger.runs` or `neuro_trigger.sweep` would otherwise
    replace the attribute. Code reaches them by their full names (`from neuro_trigger.runs import record`,
    `importlib.import_module("neuro_trigger.sweep")`), which go through sys.modules, not this attribute."""

    # read: the API function; set (by the import system, on importing the submodule of that name): ignored
    runs = property(lambda self: _api("runs"), lambda self, subpackage: None)
    sweep = property(lambda self: _api("sweep"), lambda self, module: None)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    if name in API:
        return _api(name)
    raise AttributeError(f"module 'neuro_trigger' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *API})
