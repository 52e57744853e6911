"""Lightning imported in a thread while a run reads its data.

Importing Lightning takes about 3 s of a run's start (torchmetrics, which imports scipy.signal and pyplot, and
torch._dynamo, which lightning_fabric imports for its wrappers: `python -X importtime`). Nothing needs it
before the experts train, so the run reads its data, builds its networks and claims its folder meanwhile.
"""
import importlib
import threading
from typing import Callable

# the modules of the engine that import Lightning
LIGHTNING_MODULES = ("neuro_trigger.training.experts", "neuro_trigger.training.copies",
                     "neuro_trigger.training.mean_expert")
_thread: threading.Thread | None = None


def import_in_background(done: Callable[[], None] = lambda: None) -> None:
    """Import LIGHTNING_MODULES in a thread, then call `done` (there too). A failed import is left to whoever
    imports the module next, which sees the error."""
    global _thread

    def work() -> None:
        try:
            for name in LIGHTNING_MODULES:
                importlib.import_module(name)
        except Exception:
            pass
        finally:
            done()
    _thread = threading.Thread(target=work, name="import_lightning", daemon=True)
    _thread.start()


def wait_for_imports() -> None:
    """Return once a background import (and its `done`) has ended; at once when there is none."""
    if _thread is not None:
        _thread.join()
