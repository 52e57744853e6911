"""Stopping a training between two optimizer steps when the run is asked to stop (Ctrl-C, SIGTERM)."""


class TrainingStopped(Exception):
    """Raised inside the Trainer to abandon the current epoch (nothing of it is validated or saved)."""
